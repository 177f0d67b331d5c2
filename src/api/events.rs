//! Server-sent events for the page: the sessions list every 2 s at
//! `/v1/events`, and one session's state and figures every second at
//! `/v1/sessions/{id}/events` until it ends.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde_json::json;

use super::ApiState;
use super::error::ApiError;
use super::extract::Path;

const LIST_EVERY: Duration = Duration::from_secs(2);
const SESSION_EVERY: Duration = Duration::from_secs(1);

fn update(data: &serde_json::Value) -> Event {
    Event::default().event("update").data(data.to_string())
}

pub async fn sessions(
    State(state): State<ApiState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let stream = futures_util::stream::unfold(true, move |first| {
        let state = state.clone();
        async move {
            if !first {
                tokio::time::sleep(LIST_EVERY).await;
            }
            let sessions: Vec<_> = state.sessions.list().iter().map(|s| s.summary()).collect();
            Some((Ok(update(&json!({ "sessions": sessions }))), false))
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

pub async fn session(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    state.session(id.clone())?;
    let stream = futures_util::stream::unfold(Some(true), move |next| {
        let (state, id) = (state.clone(), id.clone());
        async move {
            let first = next?;
            if !first {
                tokio::time::sleep(SESSION_EVERY).await;
            }
            match state.sessions.get(&id) {
                Some(s) => {
                    let data = json!({ "info": s.info(), "stats": s.stats().await });
                    Some((Ok(update(&data)), Some(false)))
                }
                // Said once; the stream then ends.
                None => Some((Ok(Event::default().event("gone").data(id)), None)),
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
