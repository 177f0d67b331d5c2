//! `/v1/sessions/{id}/outputs`: outputs added, watched and removed while
//! the session runs.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::error::{ApiError, parse_body};
use super::extract::{Body, Path};
use crate::media::outputs::{OutputSpec, OutputStatus, UpdateError, rtmp};

#[derive(Serialize, schemars::JsonSchema)]
pub struct OutputList {
    pub outputs: Vec<OutputStatus>,
}

pub async fn list(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<OutputList>, ApiError> {
    let s = state.session(id)?;
    Ok(Json(OutputList {
        outputs: s.media().outputs.statuses(),
    }))
}

pub async fn get(
    State(state): State<ApiState>,
    Path((id, oid)): Path<(String, String)>,
) -> Result<Json<OutputStatus>, ApiError> {
    let s = state.session(id)?;
    s.media()
        .outputs
        .status(&oid)
        .map(Json)
        .ok_or(ApiError::OutputNotFound(oid))
}

pub async fn create(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    let s = state.session(id.clone())?;
    let spec: OutputSpec = parse_body(&body)?;
    spec.validate().map_err(|(f, m)| ApiError::field(f, m))?;
    state.destinations.check(&spec, "").await?;
    let field = spec.target_field();
    let status = s
        .add_output(spec)
        .await
        .map_err(|e| ApiError::field(field, e.to_string()))?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/v1/sessions/{id}/outputs/{}", status.id),
        )],
        Json(status),
    ))
}

/// `PATCH`: what can change while an output runs.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputPatch {
    /// RTMP: the new URL list. URLs kept stay connected; new ones are
    /// dialled, missing ones closed.
    pub urls: Vec<String>,
}

pub async fn update(
    State(state): State<ApiState>,
    Path((id, oid)): Path<(String, String)>,
    Body(body): Body,
) -> Result<Json<OutputStatus>, ApiError> {
    let s = state.session(id)?;
    let patch: OutputPatch = parse_body(&body)?;
    rtmp::check(&patch.urls).map_err(|(f, m)| ApiError::field(f, m))?;
    for (i, url) in patch.urls.iter().enumerate() {
        state
            .destinations
            .check_url(url, &format!("urls[{i}]"))
            .await?;
    }
    let media = s.media().clone();
    let oid2 = oid.clone();
    let result = tokio::task::spawn_blocking(move || media.outputs.set_urls(&oid2, &patch.urls))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    match result {
        Ok(status) => Ok(Json(status)),
        Err(UpdateError::NotFound) => Err(ApiError::OutputNotFound(oid)),
        Err(e @ UpdateError::NotUpdatable(_)) => Err(ApiError::field("urls", e.to_string())),
        Err(UpdateError::Media(e)) => Err(ApiError::field("urls", e.to_string())),
    }
}

/// Finalizes the output (its file complete) and removes it.
pub async fn delete(
    State(state): State<ApiState>,
    Path((id, oid)): Path<(String, String)>,
) -> Result<Json<OutputStatus>, ApiError> {
    let s = state.session(id)?;
    s.remove_output(&oid)
        .await
        .map(Json)
        .ok_or(ApiError::OutputNotFound(oid))
}
