//! `/v1/sessions/{id}/layout`: the layout read and changed live, and who
//! is pinned.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::ApiState;
use super::error::{ApiError, parse_body};
use super::extract::{Body, Path};
use crate::media::layout::LayoutConfig;
use crate::session::{LayoutView, PinError};

pub async fn get(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<LayoutView>, ApiError> {
    Ok(Json(state.session(id)?.layout_view()))
}

/// `PUT`: a whole layout object, as a session takes at creation; the
/// program shows it when this returns.
pub async fn put(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Json<LayoutView>, ApiError> {
    let s = state.session(id)?;
    let config: LayoutConfig = parse_body(&body)?;
    config.validate().map_err(|(f, m)| ApiError::field(f, m))?;
    Ok(Json(s.set_layout(config).await))
}

/// `POST .../layout/pin`: `{"participant": "p2"}`, or `null` to unpin.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    pub participant: Option<String>,
}

pub async fn pin(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Json<LayoutView>, ApiError> {
    let s = state.session(id)?;
    let Pin { participant } = parse_body(&body)?;
    s.pin(participant)
        .await
        .map(Json)
        .map_err(|e @ PinError::NotInCall(_)| ApiError::field("participant", e.to_string()))
}
