//! A synthetic participant publishing into a Janus VideoRoom over WebRTC:
//! the same picture and tone as in the demo room, for tests and `loadgen`.

use std::sync::Arc;

use callcast_signalling::janus::publisher::JanusPublisher;
use callcast_signalling::janus::videoroom::JoinParams;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, spawn_blocking};

use super::SynthSpec;
use super::publisher::Publisher;
use crate::config::IceConfig;

/// The one PeerConnection a Janus publisher has.
const PEER: &str = "janus";

pub struct JanusParticipant {
    spec: SynthSpec,
    janus: JanusPublisher,
    publisher: Arc<Publisher>,
    trickle: JoinHandle<()>,
}

impl JanusParticipant {
    /// Starts the media, joins the room and publishes.
    pub async fn join(
        url: &str,
        token: Option<String>,
        params: JoinParams,
        spec: SynthSpec,
        ice: IceConfig,
    ) -> anyhow::Result<Self> {
        let publisher = {
            let spec = spec.clone();
            Arc::new(spawn_blocking(move || Publisher::start(&spec, &ice)).await??)
        };
        let params = JoinParams {
            display: spec.name.clone(),
            ..params
        };
        let (janus, mut remote) = JanusPublisher::join(url, token, &params).await?;

        let (local_tx, mut local) = mpsc::unbounded_channel::<(u32, String)>();
        let offer = {
            let p = publisher.clone();
            spawn_blocking(move || {
                p.offer_to(PEER, move |mline, candidate| {
                    let _ = local_tx.send((mline, candidate));
                })
            })
            .await??
        };
        let answer = janus.publish(offer.sdp, &[]).await?;
        {
            let p = publisher.clone();
            spawn_blocking(move || p.answer_from(PEER, &answer)).await??;
        }

        // Candidates both ways for as long as we publish.
        let p = publisher.clone();
        let trickler = janus.trickler();
        let trickle = tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some((mline, c)) = local.recv() => {
                        if trickler.trickle(mline, &c).is_err() {
                            break;
                        }
                    }
                    Some((mline, c)) = remote.recv() => p.add_candidate(PEER, mline, &c),
                    else => break,
                }
            }
        });
        tracing::info!(name = %spec.name, id = %janus.id(), "synthetic participant publishing to Janus");
        Ok(JanusParticipant {
            spec,
            janus,
            publisher,
            trickle,
        })
    }

    pub fn spec(&self) -> &SynthSpec {
        &self.spec
    }

    /// Leaves the room and stops the media.
    pub async fn leave(self) {
        self.trickle.abort();
        self.janus.leave().await;
        let p = self.publisher;
        let _ = spawn_blocking(move || p.stop()).await;
    }
}
