//! WHEP (WebRTC-HTTP Egress Protocol): any WHEP player watches the
//! program. `POST /v1/sessions/{id}/whep` takes the viewer's SDP offer and
//! answers 201 with the SDP answer (ICE candidates included; no trickle)
//! and the viewer's resource in `Location`; `DELETE` on it ends the
//! viewer. With API tokens on, a player may use a viewer token instead
//! (`POST .../whep-token`): short-lived, good for this session's WHEP
//! routes only.

use std::time::SystemTime;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;

use super::ApiState;
use super::auth::ViewerToken;
use super::error::ApiError;
use super::extract::{Body, Path};
use crate::media::outputs::whep;
use crate::session::ViewerError;

const SDP: &str = "application/sdp";

pub async fn create(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    let sdp_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case(SDP))
        });
    if !sdp_body {
        return Err(ApiError::UnsupportedMediaType(SDP));
    }
    let offer = String::from_utf8(body.to_vec())
        .map_err(|_| ApiError::field("sdp", "the offer is not UTF-8 text"))?;
    let session = state.session(id.clone())?;
    let (viewer, answer) = session.add_viewer(offer).await.map_err(|e| match e {
        ViewerError::Offer(_) => ApiError::field("sdp", e.to_string()),
        ViewerError::TooMany => ApiError::TooMany(e.to_string()),
        ViewerError::Media(m) => ApiError::field("sdp", format!("cannot answer the offer: {m}")),
    })?;
    Ok((
        StatusCode::CREATED,
        [
            (header::CONTENT_TYPE, SDP.to_string()),
            (header::LOCATION, format!("/v1/sessions/{id}/whep/{viewer}")),
        ],
        answer,
    ))
}

/// A token for this session's WHEP routes only, short-lived: what a
/// player is given instead of an API token.
pub async fn token(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<ViewerToken>, ApiError> {
    state.session(id.clone())?;
    Ok(Json(state.auth.viewer_token(&id, SystemTime::now())))
}

pub async fn delete(
    State(state): State<ApiState>,
    Path((id, viewer)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let session = state.session(id)?;
    let is_viewer = session
        .media()
        .outputs
        .status(&viewer)
        .is_some_and(|o| o.kind == whep::KIND);
    if !is_viewer {
        return Err(ApiError::OutputNotFound(viewer));
    }
    session.remove_output(&viewer).await;
    Ok(StatusCode::OK)
}
