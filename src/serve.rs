//! `callcast serve`: the HTTP API alone; sessions come and go over it.
//! A signal stops every session (outputs finalized) before exit.
//!
//! The operator's settings come from a JSON file (`--config`, see
//! [`ServerConfig`]) and the environment: API tokens from
//! `CALLCAST_API_TOKEN` (comma-separated) and S3 keys from
//! `CALLCAST_S3_*`, never from the command line, where `ps` shows them.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::api::{ApiState, Auth, Destinations, HttpServer, stop_all};
use crate::config::{IceConfig, IngestConfig, Secret, ServerConfig};
use crate::journal::Journal;
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
    /// Where the journal of recordings being written is kept (see
    /// [`crate::journal`]); none: [`default_state_dir`].
    pub state_dir: Option<PathBuf>,
}

/// systemd's `$STATE_DIRECTORY`, else `$XDG_STATE_HOME/callcast`, else
/// `~/.local/state/callcast`.
pub fn default_state_dir() -> Option<PathBuf> {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dirs) = var("STATE_DIRECTORY") {
        return std::env::split_paths(&dirs).next();
    }
    var("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .map(|d| d.join("callcast"))
}

/// Opens the journal, and says which recordings earlier runs left cut
/// off. A state directory named by the operator must work; the default
/// one may be missing (a read-only home), and then recordings go on
/// without a journal.
fn open_journal(dir: Option<PathBuf>) -> anyhow::Result<Journal> {
    let (dir, named) = match dir {
        Some(dir) => (dir, true),
        None => match default_state_dir() {
            Some(dir) => (dir, false),
            None => {
                tracing::warn!(
                    "no state directory (set --state-dir): a recording cut off by a crash will not be reported on the next start"
                );
                return Ok(Journal::default());
            }
        },
    };
    let (journal, found) = match Journal::open(&dir) {
        Ok(opened) => opened,
        Err(e) if named => {
            return Err(e).with_context(|| format!("state directory {}", dir.display()));
        }
        Err(error) => {
            tracing::warn!(dir = %dir.display(), %error, "cannot use the state directory (set --state-dir): a recording cut off by a crash will not be reported on the next start");
            return Ok(Journal::default());
        }
    };
    for e in &found {
        tracing::warn!(
            id = %e.id,
            session = %e.session,
            output = %e.output,
            part = e.part,
            target = %e.target,
            started_at = %e.started_at,
            "a recording was cut off when an earlier run of the server stopped: {}",
            e.advice()
        );
    }
    let waiting = journal.interrupted().len();
    if waiting > 0 {
        tracing::warn!(
            count = waiting,
            "recordings cut off by earlier runs are listed at /v1/recordings/interrupted until dismissed"
        );
    }
    Ok(journal)
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
    let journal = open_journal(opts.state_dir)?;
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
        journal,
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
