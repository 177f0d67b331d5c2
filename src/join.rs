//! `callcast join`: one session in a real room, recorded until a signal or
//! `--duration`, with the HTTP API beside it.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;

use crate::config::IceConfig;
use crate::recording::RecordingSession;
use crate::room::RoomSpec;

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
    let rec = RecordingSession::start(
        "join",
        opts.http,
        opts.room.info(),
        opts.room.adapter(),
        opts.ice.clone(),
        &opts.record,
        &[],
    )
    .await?;
    let started = rec.started();
    let end = opts.duration.map(|d| started + d);
    tokio::pin!(shutdown);
    let mut check = tokio::time::interval(Duration::from_millis(250));
    let failure = loop {
        tokio::select! {
            _ = &mut shutdown => break None,
            _ = tokio::time::sleep_until(end.unwrap_or(started)), if end.is_some() => break None,
            _ = check.tick() => {
                if let Some(reason) = rec.session.room_failure() {
                    break Some(reason);
                }
            }
        }
    };
    if let Some(reason) = failure {
        let _ = rec.finish().await;
        bail!("the room connection failed: {reason}");
    }
    rec.finish().await
}
