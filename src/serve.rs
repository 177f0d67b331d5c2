//! `callcast serve`: the HTTP API alone; sessions come and go over it.
//! A signal stops every session (outputs finalized) before exit.
//!
//! The operator's settings come from a JSON file (`--config`, see
//! [`ServerConfig`]) and the environment: API tokens from
//! `CALLCAST_API_TOKEN` (comma-separated) and S3 keys from
//! `CALLCAST_S3_*`, never from the command line, where `ps` shows them.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::api::{ApiState, Auth, Destinations, HttpServer, stop_all};
use crate::config::{IceConfig, IngestConfig, Secret, ServerConfig};
use crate::media::outputs::s3::S3Config;
use crate::session::Sessions;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub http: SocketAddr,
    /// Where sessions gather ICE candidates (empty: every interface).
    pub ice: IceConfig,
    /// S3 settings for outputs whose request leaves them out.
    pub s3: S3Config,
    pub config: ServerConfig,
}

/// Reads the config file, if any.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<ServerConfig> {
    let Some(path) = path else {
        return Ok(ServerConfig::default());
    };
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let de = &mut serde_json::Deserializer::from_slice(&text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let at = e.path().to_string();
        // serde's message may quote the value, and a token is a secret.
        let what = if at.starts_with("api.tokens") {
            "must be a list of strings".to_string()
        } else {
            e.inner().to_string()
        };
        anyhow::anyhow!("{}: {at}: {what}", path.display())
    })
}

/// The API's tokens: the config's and `CALLCAST_API_TOKEN`'s.
pub fn api_auth(config: &ServerConfig) -> anyhow::Result<Auth> {
    let mut tokens = config.api.tokens.clone();
    if let Ok(env) = std::env::var("CALLCAST_API_TOKEN") {
        tokens.extend(
            env.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(Secret::new),
        );
    }
    if tokens.iter().any(|t| t.expose().len() < 16) {
        anyhow::bail!("API tokens must be at least 16 characters");
    }
    let ttl = config.api.viewer_token_ttl_s;
    if !(1..=86_400).contains(&ttl) {
        anyhow::bail!("api.viewer_token_ttl_s must be from 1 to 86400");
    }
    Ok(Auth::new(&tokens, Duration::from_secs(ttl)))
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
    let auth = api_auth(&opts.config)?;
    let destinations = Destinations::parse(&opts.config.outputs.allowed_destinations)
        .map_err(|e| anyhow::anyhow!("outputs.allowed_destinations: {e}"))?;
    opts.config
        .program
        .validate()
        .map_err(|(field, m)| anyhow::anyhow!("program.{field} must be {m}"))?;
    if !auth.enabled() && !opts.http.ip().is_loopback() {
        tracing::warn!(
            addr = %opts.http,
            "the API is open to the network without a token: set CALLCAST_API_TOKEN"
        );
    }
    crate::media::init()?;
    let sessions = Sessions::default();
    let state = ApiState {
        sessions: sessions.clone(),
        ingest: IngestConfig {
            ice: opts.ice,
            ..IngestConfig::default()
        },
        s3: opts.s3,
        program: opts.config.program.clone(),
        auth,
        destinations,
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
