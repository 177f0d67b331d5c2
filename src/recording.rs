//! One session recording one room to a file, with the HTTP API beside it:
//! what `callcast demo` and `callcast join` share.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use callcast_signalling::RoomAdapter;
use tokio::time::Instant;

use crate::api::{ApiState, HttpServer};
use crate::config::{IceConfig, IngestConfig, ServerConfig};
use crate::media::outputs::OutputSpec;
use crate::session::{RoomInfo, Session, SessionConfig, Sessions};

pub struct RecordingSession {
    pub session: Arc<Session>,
    http: HttpServer,
    record: PathBuf,
    started: Instant,
}

impl RecordingSession {
    /// Starts the API on `http` and a session recording `room` to `record`,
    /// then prints the banner (`command`, the API, the session, the file,
    /// and `extra` lines) that scripts and tests read.
    pub async fn start(
        command: &str,
        http: SocketAddr,
        room: RoomInfo,
        adapter: Box<dyn RoomAdapter>,
        ice: IceConfig,
        record: &Path,
        extra: &[(&str, String)],
    ) -> anyhow::Result<Self> {
        let record = absolute(record)?;
        let sessions = Sessions::default();
        // The demo's and join's API take CALLCAST_API_TOKEN as serve does.
        let state = ApiState {
            sessions: sessions.clone(),
            auth: crate::serve::api_auth(&ServerConfig::default())?,
            ..ApiState::default()
        };
        let http = HttpServer::bind(http, state)
            .await
            .with_context(|| format!("listening on {http}"))?;
        let cfg = SessionConfig {
            ingest: IngestConfig {
                ice,
                ..IngestConfig::default()
            },
            outputs: vec![OutputSpec::record_file(&record)],
            ..SessionConfig::default()
        };
        let session = Session::start(Sessions::new_id(), room, adapter, cfg)
            .await
            .context("starting the session")?;
        // A registry of our own, just made: open.
        let _ = sessions.insert(session.clone());

        let api = http.local_addr();
        println!("callcast {command}");
        println!("  http     http://{api}");
        println!("  session  http://{api}/v1/sessions/{}", session.id());
        for (name, value) in extra {
            println!("  {name:<8} {value}");
        }
        println!("  record   {}", record.display());
        Ok(RecordingSession {
            session,
            http,
            record,
            started: Instant::now(),
        })
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    /// Stops the session, finalizing the recording, and the API. Fails if
    /// the recording could not be finished.
    pub async fn finish(self) -> anyhow::Result<()> {
        let report = self.session.stop().await;
        self.http.shutdown().await;
        if !report.unfinished_outputs.is_empty() {
            bail!(
                "outputs could not be finalized: {:?}",
                report.unfinished_outputs
            );
        }
        println!(
            "recorded {:.1} s to {}",
            self.started.elapsed().as_secs_f64(),
            self.record.display()
        );
        Ok(())
    }
}

/// `path` from the current directory, so that the API shows where it is.
pub fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    Ok(if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    })
}
