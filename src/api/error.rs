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
    #[error("no output with id {0}")]
    OutputNotFound(String),
    #[error("no interrupted recording with id {0}")]
    RecordingNotFound(String),
    #[error("no route for this path")]
    RouteNotFound,
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    /// The body is not JSON (400), or JSON not of the request's shape:
    /// an unknown field or kind, a wrong type (422).
    #[error("{message}")]
    InvalidBody {
        field: Option<String>,
        message: String,
        malformed: bool,
    },
    /// Well-formed, but a value is not acceptable.
    #[error("{field}: {message}")]
    InvalidField { field: String, message: String },
    /// The body is not of the type the route takes.
    #[error("the body must be {0}")]
    UnsupportedMediaType(&'static str),
    #[error("{0}")]
    TooMany(String),
    /// No token, or not one good for this route.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The server cannot take it now (shutting down).
    #[error("{0}")]
    Unavailable(&'static str),
    /// The body is over the limit (bytes).
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct ErrorBody<'a> {
    error: Detail<'a>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Detail<'a> {
    code: &'a str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
}

impl ApiError {
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::InvalidField {
            field: field.into(),
            message: message.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::SessionNotFound(_)
            | ApiError::OutputNotFound(_)
            | ApiError::RecordingNotFound(_)
            | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::InvalidBody {
                malformed: true, ..
            } => StatusCode::BAD_REQUEST,
            ApiError::InvalidBody { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::InvalidField { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::SessionNotFound(_) => "session_not_found",
            ApiError::OutputNotFound(_) => "output_not_found",
            ApiError::RecordingNotFound(_) => "recording_not_found",
            ApiError::RouteNotFound => "route_not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::InvalidBody { .. } => "invalid_body",
            ApiError::InvalidField { .. } => "invalid_field",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::TooMany(_) => "too_many",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::TooLarge(_) => "too_large",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn field_name(&self) -> Option<String> {
        match self {
            ApiError::SessionNotFound(_) => Some("id".into()),
            ApiError::OutputNotFound(_) => Some("oid".into()),
            ApiError::RecordingNotFound(_) => Some("id".into()),
            ApiError::InvalidBody { field, .. } => field.clone(),
            ApiError::InvalidField { field, .. } => Some(field.clone()),
            ApiError::TooLarge(_) => Some("body".into()),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: Detail {
                code: self.code(),
                message: self.to_string(),
                field: self.field_name(),
            },
        };
        (self.status(), Json(body)).into_response()
    }
}

/// Parses a JSON body into `T`, naming the field at fault.
pub fn parse_body<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let mut message = e.inner().to_string();
        let malformed = !matches!(e.inner().classify(), serde_json::error::Category::Data);
        let mut path = e.path().to_string();
        // An error from inside a tagged object carries its own path.
        if let Some((inner, msg)) = crate::tagged::split(&message) {
            path = if path == "." {
                inner.to_string()
            } else {
                format!("{path}.{inner}")
            };
            message = msg.to_string();
        } else {
            path = crate::tagged::with_unknown_field(&path, &message);
        }
        // Where the parser gave up inside JSON that does not parse, the
        // path ends in `?`; at the top (not JSON at all, or the wrong type
        // of JSON) the body is to blame as a whole.
        let path = path.trim_end_matches('?').trim_end_matches('.');
        let field = if path.is_empty() { "body" } else { path }.to_string();
        ApiError::InvalidBody {
            field: Some(field),
            message,
            malformed,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Req {
        room: Inner,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        url: String,
    }

    #[test]
    fn body_errors_name_the_field() {
        let err = parse_body::<Req>(br#"{"room": {"url": 5}}"#).unwrap_err();
        assert_eq!(err.field_name().as_deref(), Some("room.url"));
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let err = parse_body::<Req>(br#"{"room": {"url": "x", "pin": 1}}"#).unwrap_err();
        assert_eq!(err.field_name().as_deref(), Some("room.pin"));
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let err = parse_body::<Req>(br#"{"room": {"url": "x"}, "x": 1}"#).unwrap_err();
        assert_eq!(err.field_name().as_deref(), Some("x"));
        let err = parse_body::<Req>(b"{").unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(err.field_name().as_deref(), Some("body"));
        let err = parse_body::<Req>(br#"{"room": {"url": "#).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(err.field_name().as_deref(), Some("room.url"));
        let err = parse_body::<Req>(b"[]").unwrap_err();
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.field_name().as_deref(), Some("body"));
    }
}
