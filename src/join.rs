//! `callcast join`: one session in a real room, recorded until a signal or
//! `--duration`, with the HTTP API beside it.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::api::HttpServer;
use crate::config::{IceConfig, IngestConfig};
use crate::media::outputs::OutputSpec;
use crate::room::RoomSpec;
use crate::session::{Session, SessionConfig, Sessions};

#[derive(Debug, Clone)]
pub struct JoinOptions {
    pub room: RoomSpec,
    pub record: PathBuf,
    pub duration: Option<Duration>,
    pub http: SocketAddr,
    pub ice: IceConfig,
}

/// Records the room until `duration` or `shutdown`; fails if the room
/// refuses us or the recording cannot be finished.
pub async fn run(opts: JoinOptions, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    crate::media::init()?;
    if let Err((field, message)) = opts.room.validate() {
        bail!("--{field}: {message}");
    }
    let record = crate::demo::absolute(&opts.record)?;
    let sessions = Sessions::default();
    let http = HttpServer::bind(opts.http, sessions.clone())
        .await
        .with_context(|| format!("listening on {}", opts.http))?;
    let cfg = SessionConfig {
        ingest: IngestConfig {
            ice: opts.ice.clone(),
            ..IngestConfig::default()
        },
        outputs: vec![OutputSpec::Record {
            location: format!("file://{}", record.display()),
        }],
        ..SessionConfig::default()
    };
    let session = Session::start(
        Sessions::new_id(),
        opts.room.info(),
        opts.room.adapter(),
        cfg,
    )
    .await
    .context("starting the session")?;
    sessions.insert(session.clone());
    println!("callcast join");
    println!("  http     http://{}", http.local_addr());
    println!(
        "  session  http://{}/v1/sessions/{}",
        http.local_addr(),
        session.id()
    );
    println!("  record   {}", record.display());

    let started = tokio::time::Instant::now();
    let end = opts.duration.map(|d| started + d);
    tokio::pin!(shutdown);
    let mut check = tokio::time::interval(Duration::from_millis(250));
    let failure = loop {
        tokio::select! {
            _ = &mut shutdown => break None,
            _ = tokio::time::sleep_until(end.unwrap_or(started)), if end.is_some() => break None,
            _ = check.tick() => {
                if let Some(reason) = session.room_failure() {
                    break Some(reason);
                }
            }
        }
    };
    let report = session.stop().await;
    http.shutdown().await;
    if let Some(reason) = failure {
        bail!("the room connection failed: {reason}");
    }
    if !report.unfinished_outputs.is_empty() {
        bail!(
            "outputs could not be finalized: {:?}",
            report.unfinished_outputs
        );
    }
    println!(
        "recorded {:.1} s to {}",
        started.elapsed().as_secs_f64(),
        record.display()
    );
    Ok(())
}
