//! The benchmark's participants, in a process of their own so that their
//! CPU is not counted as callcast's, replaying pre-encoded clips on a
//! shared schedule: real WebRTC publishers in the embedded room, or, with
//! `--janus-secret`, Janus remote publishers fed with plain RTP (Janus then
//! forwards everyone to callcast on one PeerConnection, as an SFU does).
//! `callcast bench` starts this as `callcast bench-publish`; it joins
//! `--participants` at once, one more for each `join` line on its stdin,
//! and says so with a line per participant (`joined <participant id>
//! <unix ns of the join request>`). Closing its stdin makes everyone
//! leave.

use std::io::Write;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context;
use tokio::io::AsyncBufReadExt;
use tokio::task::spawn_blocking;

use crate::config::IceConfig;
use crate::synth::clip::{Clip, ClipSpec};
use crate::synth::publisher::{EncodedChains, Publisher, random_ssrcs};
use crate::synth::replay::{Pacer, Schedule, unix_ns};
use crate::synth::rtp::{RemotePublishers, RemoteRoom, replaying_branches};
use crate::synth::{PALETTE, SynthSpec, SyntheticParticipant};

/// Distinct clips encoded (participants share them round robin): enough
/// to tell neighbours apart, few enough to encode in seconds.
const CLIPS: usize = 4;

#[derive(Clone)]
pub struct PublishOptions {
    pub room: Room,
    /// Participants that join at once.
    pub participants: usize,
    /// Participants there will be in all: how many clips are worth encoding.
    pub total: usize,
    pub width: u32,
    pub height: u32,
    pub schedule: Schedule,
}

/// Where the participants publish.
#[derive(Clone)]
pub enum Room {
    /// The embedded room: `room` at `url`.
    Embedded { url: String, room: String },
    /// A Janus VideoRoom, as remote publishers.
    Janus(RemoteRoom),
}

/// The room and the participants who joined it.
enum Joined {
    Embedded {
        url: String,
        room: String,
        participants: Vec<SyntheticParticipant>,
    },
    Janus(RemotePublishers),
}

pub async fn run(opts: PublishOptions) -> anyhow::Result<()> {
    crate::media::init()?;
    // A browser has its certificate before its user joins.
    crate::media::webrtc::prepare_dtls_certificate();
    let mut clips = Vec::new();
    for i in 0..opts.total.clamp(1, CLIPS) {
        let spec = ClipSpec {
            colour: PALETTE[i % PALETTE.len()],
            width: opts.width,
            height: opts.height,
            fps: opts.schedule.fps,
            pitch_hz: crate::synth::tone_hz(i) as u32,
        };
        let clip = spawn_blocking(move || Clip::encode(&spec))
            .await?
            .context("encoding a clip")?;
        clips.push(Arc::new(clip));
    }
    let pacer = Pacer::start(opts.schedule);
    let joined = match &opts.room {
        Room::Embedded { url, room } => Joined::Embedded {
            url: url.clone(),
            room: room.clone(),
            participants: Vec::new(),
        },
        Room::Janus(room) => Joined::Janus(RemotePublishers::connect(room.clone()).await?),
    };
    let mut joiner = Joiner {
        opts: &opts,
        clips,
        pacer,
        count: 0,
        joined,
    };
    for _ in 0..opts.participants {
        joiner.join_next().await?;
    }
    let mut commands = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = commands.next_line().await {
        if line.trim() == "join" {
            joiner.join_next().await?;
        }
    }
    match joiner.joined {
        Joined::Embedded { participants, .. } => {
            for p in participants {
                p.leave().await;
            }
        }
        Joined::Janus(remote) => remote.stop().await,
    }
    Ok(())
}

struct Joiner<'a> {
    opts: &'a PublishOptions,
    clips: Vec<Arc<Clip>>,
    pacer: Pacer,
    count: usize,
    joined: Joined,
}

impl Joiner<'_> {
    async fn join_next(&mut self) -> anyhow::Result<()> {
        let i = self.count;
        let spec = SynthSpec {
            width: self.opts.width,
            height: self.opts.height,
            fps: self.opts.schedule.fps,
            ..SynthSpec::demo(i)
        };
        let clip = self.clips[i % self.clips.len()].clone();
        let (video, audio) = self.pacer.player(clip)?;
        let (at, id) = match &mut self.joined {
            Joined::Embedded {
                url,
                room,
                participants,
            } => {
                let (vssrc, assrc) = random_ssrcs();
                let chains = EncodedChains::replaying(video, audio, vssrc, assrc)?;
                let publisher = {
                    let (name, ice) = (spec.name.clone(), IceConfig::loopback());
                    spawn_blocking(move || Publisher::with_chains(&name, chains, &ice)).await??
                };
                let at = unix_ns(SystemTime::now());
                let p = SyntheticParticipant::join_with(url, room, spec, publisher)
                    .await
                    .with_context(|| format!("participant {i} joining"))?;
                let id = p.id().to_string();
                participants.push(p);
                (at, id)
            }
            Joined::Janus(remote) => {
                let branches = replaying_branches(video, audio)?;
                let at = unix_ns(SystemTime::now());
                let id = remote
                    .publish(&spec.name, branches)
                    .await
                    .with_context(|| format!("participant {i} publishing"))?;
                (at, id.to_string())
            }
        };
        self.count += 1;
        let mut out = std::io::stdout().lock();
        writeln!(out, "joined {id} {at}")?;
        out.flush()?;
        Ok(())
    }
}
