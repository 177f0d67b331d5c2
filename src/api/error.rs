//! API errors: every one a status code and a JSON body
//! `{"error": {"code": "...", "message": "...", "field": "..."}}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("no session with id {0}")]
    SessionNotFound(String),
    #[error("no route for this path")]
    RouteNotFound,
    #[error("this method is not allowed here")]
    MethodNotAllowed,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Detail<'a>,
}

#[derive(Serialize)]
struct Detail<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::SessionNotFound(_) | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::SessionNotFound(_) => "session_not_found",
            ApiError::RouteNotFound => "route_not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
        }
    }

    fn field(&self) -> Option<&'static str> {
        match self {
            ApiError::SessionNotFound(_) => Some("id"),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Detail {
                code: self.code(),
                message: self.to_string(),
                field: self.field(),
            },
        };
        (self.status(), Json(body)).into_response()
    }
}
