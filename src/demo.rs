//! `callcast demo`: the whole data path on one machine. An embedded room,
//! synthetic participants publishing over real WebRTC, a session recording
//! them, and the HTTP API to watch it.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use callcast_signalling::callcast::CallcastAdapter;
use callcast_signalling::room::RoomServer;
use tokio::time::sleep_until;

use crate::config::IceConfig;
use crate::recording::RecordingSession;
use crate::session::RoomInfo;
use crate::synth::{SynthSpec, SyntheticParticipant};

const ROOM: &str = "demo";

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub participants: usize,
    /// Stop by itself after this long; otherwise run until the shutdown
    /// future resolves.
    pub duration: Option<Duration>,
    pub record: PathBuf,
    pub http: SocketAddr,
    /// When the first participant leaves, counted from the start.
    pub leave_after: Option<Duration>,
    /// When a new participant joins, counted from the start.
    pub join_after: Option<Duration>,
}

/// Runs the demo until `duration` or `shutdown`, then finalizes the
/// recording. Fails if the recording could not be finished.
pub async fn run(opts: DemoOptions, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    crate::media::init()?;
    let room = RoomServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .context("starting the demo room")?;
    let adapter = CallcastAdapter {
        url: room.url(),
        room: ROOM.into(),
        display: "callcast recorder".into(),
    };
    let rec = RecordingSession::start(
        "demo",
        opts.http,
        RoomInfo {
            adapter: "callcast".into(),
            url: room.url(),
            room: ROOM.into(),
        },
        Box::new(adapter),
        IceConfig::loopback(),
        &opts.record,
        &[("room", room.url())],
    )
    .await?;
    let started = rec.started();

    let mut participants = Vec::new();
    for i in 0..opts.participants {
        participants.push(join(&room, i).await?);
    }
    let mut next_index = opts.participants;

    let at = |d: Option<Duration>| d.map(|d| started + d);
    let (mut leave_at, mut join_at) = (at(opts.leave_after), at(opts.join_after));
    let end_at = at(opts.duration);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = sleep_until(end_at.unwrap_or(started)), if end_at.is_some() => break,
            _ = sleep_until(leave_at.unwrap_or(started)), if leave_at.is_some() => {
                leave_at = None;
                if !participants.is_empty() {
                    let p: SyntheticParticipant = participants.remove(0);
                    tracing::info!(name = %p.spec().name, "demo: a participant leaves");
                    p.leave().await;
                }
            }
            _ = sleep_until(join_at.unwrap_or(started)), if join_at.is_some() => {
                join_at = None;
                tracing::info!("demo: a participant joins");
                participants.push(join(&room, next_index).await?);
                next_index += 1;
            }
        }
    }

    // The recording ends first, while everyone is still in it.
    let finished = rec.finish().await;
    for p in participants {
        p.leave().await;
    }
    room.shutdown().await;
    finished
}

async fn join(room: &RoomServer, index: usize) -> anyhow::Result<SyntheticParticipant> {
    let spec = SynthSpec::demo(index);
    let name = spec.name.clone();
    SyntheticParticipant::join(&room.url(), ROOM, spec, IceConfig::loopback())
        .await
        .with_context(|| format!("participant {name} joining"))
}
