//! `callcast serve`: the HTTP API alone; sessions come and go over it.
//! A signal stops every session (outputs finalized) before exit.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;

use crate::api::{ApiState, HttpServer, stop_all};
use crate::config::{IceConfig, IngestConfig};
use crate::session::Sessions;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub http: SocketAddr,
    /// Where sessions gather ICE candidates (empty: every interface).
    pub ice: IceConfig,
}

pub async fn run(opts: ServeOptions, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    crate::media::init()?;
    let sessions = Sessions::default();
    let state = ApiState {
        sessions: sessions.clone(),
        ingest: IngestConfig {
            ice: opts.ice,
            ..IngestConfig::default()
        },
    };
    let http = HttpServer::bind(opts.http, state)
        .await
        .with_context(|| format!("listening on {}", opts.http))?;
    println!("callcast serve");
    println!("  http     http://{}", http.local_addr());
    shutdown.await;
    stop_all(&sessions).await;
    http.shutdown().await;
    Ok(())
}
