//! `callcast serve`: the HTTP API alone; sessions come and go over it.
//! A signal stops every session (outputs finalized) before exit.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;

use crate::api::{ApiState, HttpServer, stop_all};
use crate::config::{IceConfig, IngestConfig};
use crate::media::outputs::s3::S3Config;
use crate::session::Sessions;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub http: SocketAddr,
    /// Where sessions gather ICE candidates (empty: every interface).
    pub ice: IceConfig,
    /// S3 settings for outputs whose request leaves them out.
    pub s3: S3Config,
}

/// The server's S3 defaults: endpoint and region from the options, keys
/// from `CALLCAST_S3_ACCESS_KEY_ID` and `CALLCAST_S3_SECRET_ACCESS_KEY`
/// (never on the command line, where `ps` shows them).
pub fn s3_defaults(
    endpoint: Option<String>,
    region: Option<String>,
    path_style: bool,
) -> anyhow::Result<S3Config> {
    let key = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let json = serde_json::json!({
        "endpoint": endpoint,
        "region": region,
        "access_key_id": key("CALLCAST_S3_ACCESS_KEY_ID"),
        "secret_access_key": key("CALLCAST_S3_SECRET_ACCESS_KEY"),
        "path_style": path_style,
    });
    let cfg: S3Config = serde_json::from_value(json).context("S3 settings")?;
    cfg.validate()
        .map_err(|(field, m)| anyhow::anyhow!("S3 settings: {field} {m}"))?;
    Ok(cfg)
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
        s3: opts.s3,
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
