//! `callcast loadgen`: synthetic participants publishing into a Janus room
//! over real WebRTC, each with its own colour, name and tone, until a
//! signal or `--duration`; then they leave.

use std::future::Future;
use std::time::Duration;

use anyhow::Context;
use callcast_signalling::janus::protocol::JanusId;
use callcast_signalling::janus::videoroom::JoinParams;

use crate::config::IceConfig;
use crate::room::RoomName;
use crate::synth::{JanusParticipant, SynthSpec};

#[derive(Debug, Clone)]
pub struct LoadgenOptions {
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
        room: match RoomName::from(opts.room.as_str()) {
            RoomName::Num(n) => JanusId::Num(n),
            RoomName::Str(s) => JanusId::Str(s),
        },
        display: String::new(),
        pin: opts.pin.clone(),
    };
    let mut publishers = Vec::new();
    for index in opts.first..opts.first + opts.participants {
        let spec = SynthSpec::demo(index);
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
    match opts.duration {
        Some(d) => tokio::select! {
            _ = shutdown => {}
            _ = tokio::time::sleep(d) => {}
        },
        None => shutdown.await,
    }
    for p in publishers {
        p.leave().await;
    }
    Ok(())
}
