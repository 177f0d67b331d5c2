//! `/v1/sessions`: start, inspect and stop sessions.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::error::{ApiError, parse_body};
use super::extract::{Body, Path};
use crate::media::layout::LayoutConfig;
use crate::media::outputs::OutputSpec;
use crate::room::RoomSpec;
use crate::session::{Session, SessionConfig, SessionError, SessionInfo, SessionSummary, Sessions};

#[derive(Serialize, schemars::JsonSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionSummary>,
}

/// `POST /v1/sessions`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    pub room: RoomSpec,
    #[serde(default)]
    pub layout: LayoutConfig,
    #[serde(default)]
    pub outputs: Vec<OutputSpec>,
}

const SHUTTING_DOWN: &str = "the server is shutting down";

/// Most outputs one session takes.
const MAX_OUTPUTS: usize = 16;

impl CreateSession {
    fn validate(&self) -> Result<(), ApiError> {
        self.room
            .validate()
            .map_err(|(f, m)| ApiError::field(format!("room.{f}"), m))?;
        self.layout
            .validate()
            .map_err(|(f, m)| ApiError::field(format!("layout.{f}"), m))?;
        if self.outputs.len() > MAX_OUTPUTS {
            return Err(ApiError::field(
                "outputs",
                format!("at most {MAX_OUTPUTS} outputs"),
            ));
        }
        for (i, o) in self.outputs.iter().enumerate() {
            o.validate()
                .map_err(|(f, m)| ApiError::field(format!("outputs[{i}].{f}"), m))?;
        }
        Ok(())
    }
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct Stopped {
    pub id: String,
    /// Outputs that could not write their end in time.
    pub unfinished_outputs: Vec<String>,
}

pub async fn list(State(state): State<ApiState>) -> Json<SessionList> {
    Json(SessionList {
        sessions: state.sessions.list().iter().map(|s| s.summary()).collect(),
    })
}

pub async fn get(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<SessionInfo>, ApiError> {
    Ok(Json(state.session(id)?.info()))
}

pub async fn create(
    State(state): State<ApiState>,
    Body(body): Body,
) -> Result<impl IntoResponse, ApiError> {
    if state.sessions.is_closed() {
        return Err(ApiError::Unavailable(SHUTTING_DOWN));
    }
    let req: CreateSession = parse_body(&body)?;
    req.validate()?;
    for (i, o) in req.outputs.iter().enumerate() {
        state
            .destinations
            .check(o, &format!("outputs[{i}]."))
            .await?;
    }
    let id = Sessions::new_id();
    let cfg = SessionConfig {
        program: state.program.clone(),
        ingest: state.ingest.clone(),
        layout: req.layout,
        outputs: req.outputs,
        s3: state.s3.clone(),
        journal: state.journal.clone(),
    };
    let session = Session::start(id.clone(), req.room.info(), req.room.adapter(), cfg)
        .await
        .map_err(|e| match e {
            SessionError::Output { index, error, .. } => {
                ApiError::field(format!("outputs[{index}]"), error.to_string())
            }
            SessionError::Media(e) => ApiError::Internal(e.to_string()),
        })?;
    if let Err(late) = state.sessions.insert(session.clone()) {
        // The server began to shut down while this one started.
        late.stop().await;
        return Err(ApiError::Unavailable(SHUTTING_DOWN));
    }
    tracing::info!(session = %id, "session created over the API");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/v1/sessions/{id}"))],
        Json(session.info()),
    ))
}

/// Ends a session: it leaves the room and finalizes its outputs first.
pub async fn delete(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Stopped>, ApiError> {
    let session = state
        .sessions
        .remove(&id)
        .ok_or(ApiError::SessionNotFound(id.clone()))?;
    let report = session.stop().await;
    Ok(Json(Stopped {
        id,
        unfinished_outputs: report.unfinished_outputs,
    }))
}

/// Stops every session at once (server shutdown): each finalizes its
/// outputs in parallel, so the slowest one sets the time, not their sum.
/// Sessions asked for from now on are refused.
pub async fn stop_all(sessions: &Sessions) {
    let all = sessions.close();
    futures_util::future::join_all(all.iter().map(|s| s.stop())).await;
}
