//! The benchmark's participants, in a process of their own so that their
//! CPU is not counted as callcast's: real WebRTC publishers replaying
//! pre-encoded clips on a shared schedule. `callcast bench` starts this
//! as `callcast bench-publish`; it joins `--participants` at once, one
//! more for each `join` line on its stdin, and says so with a line per
//! participant (`joined <participant id> <unix ns of the join request>`).
//! Closing its stdin makes everyone leave.

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
use crate::synth::{PALETTE, SynthSpec, SyntheticParticipant};

/// Distinct clips encoded (participants share them round robin): enough
/// to tell neighbours apart, few enough to encode in seconds.
const CLIPS: usize = 4;

#[derive(Debug, Clone)]
pub struct PublishOptions {
    pub room_url: String,
    pub room: String,
    /// Participants that join at once.
    pub participants: usize,
    /// Participants there will be in all: how many clips are worth encoding.
    pub total: usize,
    pub width: u32,
    pub height: u32,
    pub schedule: Schedule,
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
    let mut joiner = Joiner {
        opts: &opts,
        clips,
        pacer,
        participants: Vec::new(),
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
    for p in joiner.participants {
        p.leave().await;
    }
    Ok(())
}

struct Joiner<'a> {
    opts: &'a PublishOptions,
    clips: Vec<Arc<Clip>>,
    pacer: Pacer,
    participants: Vec<SyntheticParticipant>,
}

impl Joiner<'_> {
    async fn join_next(&mut self) -> anyhow::Result<()> {
        let i = self.participants.len();
        let spec = SynthSpec {
            width: self.opts.width,
            height: self.opts.height,
            fps: self.opts.schedule.fps,
            ..SynthSpec::demo(i)
        };
        let clip = self.clips[i % self.clips.len()].clone();
        let (video, audio) = self.pacer.player(clip)?;
        let (vssrc, assrc) = random_ssrcs();
        let chains = EncodedChains::replaying(video, audio, vssrc, assrc)?;
        let publisher = {
            let (name, ice) = (spec.name.clone(), IceConfig::loopback());
            spawn_blocking(move || Publisher::with_chains(&name, chains, &ice)).await??
        };
        let at = unix_ns(SystemTime::now());
        let p =
            SyntheticParticipant::join_with(&self.opts.room_url, &self.opts.room, spec, publisher)
                .await
                .with_context(|| format!("participant {i} joining"))?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "joined {} {at}", p.id())?;
        out.flush()?;
        self.participants.push(p);
        Ok(())
    }
}
