//! `/v1/sessions`: what runs, and what each session is doing.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

use super::error::ApiError;
use crate::session::{SessionInfo, SessionSummary, Sessions};

#[derive(Serialize)]
pub struct SessionList {
    pub sessions: Vec<SessionSummary>,
}

pub async fn list(State(sessions): State<Sessions>) -> Json<SessionList> {
    Json(SessionList {
        sessions: sessions.list().iter().map(|s| s.summary()).collect(),
    })
}

pub async fn get(
    State(sessions): State<Sessions>,
    Path(id): Path<String>,
) -> Result<Json<SessionInfo>, ApiError> {
    let session = sessions.get(&id).ok_or(ApiError::SessionNotFound(id))?;
    Ok(Json(session.info()))
}
