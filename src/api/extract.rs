//! The extractors the handlers use: axum's, with their rejections turned
//! into the API's JSON errors naming what is wrong (axum answers them in
//! plain text).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// Most bytes a request body may hold (an SDP offer is a few kB).
pub const MAX_BODY: usize = 64 * 1024;

/// A request body, read whole up to [`MAX_BODY`]; over it, the API's 413.
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Bytes::from_request(req, state)
            .await
            .map(Body)
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(MAX_BODY),
                _ => ApiError::InvalidBody {
                    field: Some("body".into()),
                    message: e.body_text(),
                    malformed: true,
                },
            })
    }
}

/// Path parameters; one that does not decode (not UTF-8) names nothing
/// that exists: 404.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|_| ApiError::RouteNotFound)
    }
}

/// Query parameters; ones that do not parse are a 422 naming `query`.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|e| ApiError::field("query", e.body_text()))
    }
}
