//! A synthetic participant in a callcast room: joins as a publisher,
//! announces a camera (or a screen share) and a microphone, and offers
//! them to whoever subscribes.

use std::sync::Arc;

use callcast_signalling::adapter::AdapterError;
use callcast_signalling::callcast::client::{self, RoomReceiver, RoomSender};
use callcast_signalling::protocol::{
    ClientMessage, MidTrack, Role, ServerMessage, TrackInfo, TrackKind, TrackSource,
};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, spawn_blocking};

use super::SynthSpec;
use super::publisher::{AUDIO_TRACK, Publisher, VIDEO_TRACK};
use crate::config::IceConfig;

pub struct SyntheticParticipant {
    id: String,
    spec: SynthSpec,
    leave: Option<oneshot::Sender<()>>,
    publisher: Arc<Publisher>,
    /// Says "talking" or "silent" to the room.
    talk: mpsc::UnboundedSender<bool>,
    task: JoinHandle<()>,
}

/// A local candidate for one subscriber.
type Candidate = (String, u32, String);

impl SyntheticParticipant {
    /// Starts the media, joins `room` at `url` and publishes.
    pub async fn join(
        url: &str,
        room: &str,
        spec: SynthSpec,
        ice: IceConfig,
    ) -> anyhow::Result<Self> {
        let publisher = {
            let spec = spec.clone();
            spawn_blocking(move || Publisher::start(&spec, &ice)).await??
        };
        Self::join_with(url, room, spec, publisher).await
    }

    /// Joins `room` at `url` and publishes what `publisher` sends.
    pub async fn join_with(
        url: &str,
        room: &str,
        spec: SynthSpec,
        publisher: Publisher,
    ) -> anyhow::Result<Self> {
        let publisher = Arc::new(publisher);
        let (mut tx, rx, welcome) = client::join(url, room, &spec.name, Role::Publisher).await?;
        for (id, kind, source) in [
            (
                VIDEO_TRACK,
                TrackKind::Video,
                match spec.screen {
                    true => TrackSource::Screen,
                    false => TrackSource::Camera,
                },
            ),
            (AUDIO_TRACK, TrackKind::Audio, TrackSource::Microphone),
        ] {
            tx.send(&ClientMessage::Publish {
                track: TrackInfo {
                    id: id.into(),
                    kind,
                    source,
                },
            })
            .await?;
        }
        tracing::info!(name = %spec.name, id = %welcome.participant_id, "synthetic participant joined");
        let (leave, leave_rx) = oneshot::channel();
        let (talk, talk_rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(publisher.clone(), tx, rx, leave_rx, talk_rx));
        Ok(SyntheticParticipant {
            id: welcome.participant_id,
            spec,
            leave: Some(leave),
            publisher,
            talk,
            task,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn spec(&self) -> &SynthSpec {
        &self.spec
    }

    /// Tells the room this participant started or stopped talking, as a
    /// client with voice activity detection would.
    pub fn talk(&self, talking: bool) {
        let _ = self.talk.send(talking);
    }

    /// Mutes or unmutes the camera: while muted it sends no frames, and
    /// says nothing to the room (a recorder must notice by itself).
    pub fn mute_video(&self, muted: bool) {
        self.publisher.mute_video(muted);
    }

    /// Mutes or unmutes the microphone: while muted it sends nothing, and
    /// says nothing to the room.
    pub fn mute_audio(&self, muted: bool) {
        self.publisher.mute_audio(muted);
    }

    /// Leaves the room and stops the media.
    pub async fn leave(mut self) {
        if let Some(tx) = self.leave.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

async fn run(
    publisher: Arc<Publisher>,
    mut tx: RoomSender,
    mut rx: RoomReceiver,
    mut leave: oneshot::Receiver<()>,
    mut talk: mpsc::UnboundedReceiver<bool>,
) {
    let (cand_tx, mut cand_rx) = mpsc::unbounded_channel::<Candidate>();
    loop {
        tokio::select! {
            _ = &mut leave => {
                let _ = tx.send(&ClientMessage::Leave {}).await;
                tx.close().await;
                break;
            }
            Some(talking) = talk.recv() => {
                if tx.send(&ClientMessage::Talking { talking }).await.is_err() {
                    break;
                }
            }
            Some((to, sdp_m_line_index, candidate)) = cand_rx.recv() => {
                if tx.send(&ClientMessage::Candidate { to, sdp_m_line_index, candidate }).await.is_err() {
                    break;
                }
            }
            msg = rx.recv() => match msg {
                Ok(Some(msg)) => {
                    if let Err(e) = handle(&publisher, &mut tx, &cand_tx, msg).await {
                        tracing::warn!(error = %e, "synthetic participant: signalling failed");
                    }
                }
                Ok(None) | Err(AdapterError::ConnectionLost(_)) => break,
                Err(e) => tracing::warn!(error = %e, "synthetic participant: bad message"),
            },
        }
    }
    let _ = spawn_blocking(move || publisher.stop()).await;
}

async fn handle(
    publisher: &Arc<Publisher>,
    tx: &mut RoomSender,
    candidates: &mpsc::UnboundedSender<Candidate>,
    msg: ServerMessage,
) -> anyhow::Result<()> {
    match msg {
        ServerMessage::Subscribe { from } => {
            tracing::debug!(%from, "synthetic participant: subscribed to; offering");
            let p = publisher.clone();
            let cand_tx = candidates.clone();
            let peer = from.clone();
            let offer = spawn_blocking(move || {
                p.offer_to(&peer.clone(), move |mline, candidate| {
                    let _ = cand_tx.send((peer.clone(), mline, candidate));
                })
            })
            .await??;
            tx.send(&ClientMessage::Offer {
                to: from,
                sdp: offer.sdp,
                tracks: offer
                    .tracks
                    .into_iter()
                    .map(|(mid, track_id)| MidTrack { mid, track_id })
                    .collect(),
            })
            .await?;
        }
        ServerMessage::Answer { from, sdp } => {
            tracing::debug!(%from, "synthetic participant: answered");
            let p = publisher.clone();
            spawn_blocking(move || p.answer_from(&from, &sdp)).await??;
        }
        ServerMessage::Candidate {
            from,
            sdp_m_line_index,
            candidate,
        } => publisher.add_candidate(&from, sdp_m_line_index, &candidate),
        ServerMessage::Unsubscribe { from }
        | ServerMessage::ParticipantLeft {
            participant_id: from,
            ..
        } => {
            let p = publisher.clone();
            spawn_blocking(move || p.drop_peer(&from)).await?;
        }
        ServerMessage::Error { code, message } => {
            tracing::warn!(?code, %message, "the room refused a message");
        }
        _ => {}
    }
    Ok(())
}
