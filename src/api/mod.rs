//! The HTTP API (axum). Handlers only read session state or hand work to
//! sessions; nothing here blocks on GStreamer.

pub mod auth;
pub mod destinations;
mod error;
mod events;
mod extract;
mod health;
mod layout;
mod openapi;
mod outputs;
pub mod prometheus;
mod recordings;
mod sessions;
mod web;
mod whep;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use auth::Auth;
pub use destinations::Destinations;
pub use error::ApiError;
pub use sessions::stop_all;

use crate::config::{IngestConfig, ProgramConfig};
use crate::journal::Journal;
use crate::media::outputs::s3::S3Config;
use crate::session::{Session, Sessions};

/// What the handlers share: the sessions, and the defaults new sessions get.
#[derive(Clone, Default)]
pub struct ApiState {
    pub sessions: Sessions,
    pub ingest: IngestConfig,
    /// S3 settings for outputs whose request leaves them out.
    pub s3: S3Config,
    /// What every session's program is.
    pub program: ProgramConfig,
    /// Who may call the API.
    pub auth: Auth,
    /// Where outputs may send to.
    pub destinations: Destinations,
    /// Recordings being written, and those cut off by earlier runs.
    pub journal: Journal,
}

impl ApiState {
    /// Session `id`, or the API's 404 naming it.
    pub fn session(&self, id: String) -> Result<std::sync::Arc<Session>, ApiError> {
        self.sessions.get(&id).ok_or(ApiError::SessionNotFound(id))
    }
}

impl From<Sessions> for ApiState {
    fn from(sessions: Sessions) -> Self {
        ApiState {
            sessions,
            ..ApiState::default()
        }
    }
}

pub fn router(state: ApiState) -> Router {
    web::routes(Router::new())
        .route("/healthz", get(healthz))
        .route("/v1/openapi.json", get(openapi::serve))
        .route("/v1/events", get(events::sessions))
        .route("/v1/sessions/{id}/events", get(events::session))
        .route("/metrics", get(health::metrics))
        .route("/v1/sessions", get(sessions::list).post(sessions::create))
        .route(
            "/v1/sessions/{id}",
            get(sessions::get).delete(sessions::delete),
        )
        .route(
            "/v1/sessions/{id}/layout",
            get(layout::get).put(layout::put),
        )
        .route("/v1/sessions/{id}/stats", get(health::stats))
        .route("/v1/sessions/{id}/graph", get(health::graph))
        .route("/v1/sessions/{id}/layout/pin", post(layout::pin))
        .route("/v1/sessions/{id}/whep-token", post(whep::token))
        .route("/v1/sessions/{id}/whep", post(whep::create))
        .route("/v1/sessions/{id}/whep/{viewer}", delete(whep::delete))
        .route(
            "/v1/sessions/{id}/outputs",
            get(outputs::list).post(outputs::create),
        )
        .route(
            "/v1/sessions/{id}/outputs/{oid}",
            get(outputs::get)
                .patch(outputs::update)
                .delete(outputs::delete),
        )
        .route("/v1/recordings/interrupted", get(recordings::list))
        .route(
            "/v1/recordings/interrupted/{id}",
            delete(recordings::dismiss),
        )
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(extract::MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .with_state(state)
}

async fn healthz() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({"status": "ok"}))
}

/// A running HTTP server.
pub struct HttpServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl HttpServer {
    /// Binds `addr` (port 0 picks one) and serves the API.
    pub async fn bind(addr: SocketAddr, state: impl Into<ApiState>) -> std::io::Result<Self> {
        let state = state.into();
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (shutdown, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router(state))
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
        });
        tracing::info!(%addr, "HTTP API listening");
        Ok(HttpServer {
            addr,
            shutdown: Some(shutdown),
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Open keep-alive connections get a moment to finish.
        if tokio::time::timeout(std::time::Duration::from_secs(2), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}
