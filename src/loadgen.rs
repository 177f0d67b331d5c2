//! `callcast loadgen`: synthetic participants publishing into a Janus room
//! over real WebRTC, each with its own colour, name and tone, until a
//! signal or `--duration`; then they leave.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use callcast_signalling::janus::protocol::JanusId;
use callcast_signalling::janus::videoroom::JoinParams;

use crate::config::IceConfig;
use crate::synth::rtp::{RemotePublishers, RemoteRoom};
use crate::synth::{JanusParticipant, SynthSpec};

/// How the synthetic participants publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Real WebRTC publishers (a webrtcbin each: ICE, DTLS, SRTP).
    Webrtc,
    /// Janus remote publishers fed with plain RTP: cheap, many per process.
    Rtp,
}

#[derive(Clone)]
pub struct LoadgenOptions {
    pub mode: Mode,
    /// The room secret (remote publishers need it).
    pub secret: Option<String>,
    /// Picture size and rate, if not the demo's 640x360 at 20 fps.
    pub size: Option<(u32, u32)>,
    pub fps: Option<u32>,
    /// Send video in three simulcast layers (rtp mode).
    pub simulcast: bool,
    /// Seconds between each publisher's own key frames, if not 2.
    pub key_frame_interval: Option<u32>,
    /// Drop every Nth video packet (rtp mode).
    pub drop_every: Option<u32>,
    pub janus: String,
    pub room: String,
    pub pin: Option<String>,
    pub token: Option<String>,
    pub participants: usize,
    /// Index of the first participant (its name, colour and tone).
    pub first: usize,
    pub duration: Option<Duration>,
    pub ice: IceConfig,
}

pub async fn run(opts: LoadgenOptions, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    crate::media::init()?;
    let params = JoinParams {
        room: JanusId::from(opts.room.as_str()),
        display: String::new(),
        pin: opts.pin.clone(),
    };
    let specs: Vec<SynthSpec> = (opts.first..opts.first + opts.participants)
        .map(|i| {
            let mut spec = SynthSpec::demo(i);
            if let Some((w, h)) = opts.size {
                (spec.width, spec.height) = (w, h);
            }
            if let Some(fps) = opts.fps {
                spec.fps = fps;
            }
            if let Some(s) = opts.key_frame_interval {
                spec.key_frame_interval_s = s;
            }
            spec
        })
        .collect();
    match opts.mode {
        Mode::Webrtc => {
            let mut publishers = Vec::new();
            for spec in specs {
                let name = spec.name.clone();
                let p = JanusParticipant::join(
                    &opts.janus,
                    opts.token.clone(),
                    params.clone(),
                    spec,
                    opts.ice.clone(),
                )
                .await
                .with_context(|| format!("participant {name} joining"))?;
                println!("published {name}");
                publishers.push(p);
            }
            println!("loadgen: {} publishing", publishers.len());
            wait(opts.duration, shutdown).await;
            for p in publishers {
                p.leave().await;
            }
        }
        Mode::Rtp => {
            let iface = opts
                .ice
                .local_addresses
                .first()
                .cloned()
                .or_else(|| url_host(&opts.janus))
                .context("no address for the RTP port: pass --ice-address")?;
            let remote = RemotePublishers::start(
                RemoteRoom {
                    url: opts.janus.clone(),
                    token: opts.token.clone(),
                    room: params.room.clone(),
                    secret: opts.secret.clone(),
                    iface,
                    simulcast: opts.simulcast,
                    drop_every: opts.drop_every,
                },
                specs,
            )
            .await
            .context("adding remote publishers")?;
            println!("loadgen: {} publishing", remote.len());
            wait(opts.duration, shutdown).await;
            remote.stop().await;
        }
    }
    Ok(())
}

async fn wait(duration: Option<Duration>, shutdown: impl Future<Output = ()>) {
    match duration {
        Some(d) => tokio::select! {
            _ = shutdown => {}
            _ = tokio::time::sleep(d) => {}
        },
        None => shutdown.await,
    }
}

/// `host` of `ws://host:port/...`.
fn url_host(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let host = rest.split(['/', ':']).next()?;
    (!host.is_empty()).then(|| host.to_string())
}
