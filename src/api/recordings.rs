//! `/v1/recordings/interrupted`: recordings cut off by a crash of an
//! earlier run (see [`crate::journal`]), listed until an operator
//! dismisses them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;

use super::ApiState;
use super::error::ApiError;
use super::extract::Path;
use crate::journal::Entry;

#[derive(Serialize, schemars::JsonSchema)]
pub struct Interrupted {
    #[serde(flatten)]
    pub entry: Entry,
    /// What is left of it, and how to get it back.
    pub advice: String,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct InterruptedList {
    /// False when the server keeps no journal (no state directory): then
    /// nothing cut off is known.
    pub journal: bool,
    pub recordings: Vec<Interrupted>,
}

pub async fn list(State(state): State<ApiState>) -> Json<InterruptedList> {
    let recordings = state
        .journal
        .interrupted()
        .into_iter()
        .map(|entry| Interrupted {
            advice: entry.advice(),
            entry,
        })
        .collect();
    Json(InterruptedList {
        journal: state.journal.enabled(),
        recordings,
    })
}

pub async fn dismiss(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    match state.journal.dismiss(&id) {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(ApiError::RecordingNotFound(id)),
        Err(e) => Err(ApiError::Internal(format!("the journal: {e}"))),
    }
}
