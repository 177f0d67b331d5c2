//! The one interface between a session and an SFU: events in, commands out.
//!
//! An adapter connects to a room as a hidden, receive-only participant and
//! translates the SFU's signalling into [`RoomEvent`]s; the session answers
//! with [`RoomCommand`]s. Adapters move SDP and JSON only; the media side
//! (webrtcbin) lives in the session.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::mpsc;

pub use crate::protocol::{TrackKind, TrackSource};

/// Names one PeerConnection the SFU opened towards us. The callcast room uses
/// one per publisher; Janus uses one for everything.
pub type PeerId = String;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    pub id: String,
    pub display: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    pub id: String,
    pub kind: TrackKind,
    pub source: TrackSource,
}

/// What an m-line of an offer carries: whose track, and which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    pub mid: String,
    pub participant_id: String,
    pub track: Track,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RoomEvent {
    /// We are in the room under this id.
    Joined {
        self_id: String,
    },
    ParticipantJoined {
        participant: Participant,
    },
    ParticipantLeft {
        participant_id: String,
    },
    TrackPublished {
        participant_id: String,
        track: Track,
    },
    TrackUnpublished {
        participant_id: String,
        track_id: String,
    },
    /// The SFU offers media on `peer`; answer with [`RoomCommand::Answer`].
    Offer {
        peer: PeerId,
        sdp: String,
        streams: Vec<Stream>,
    },
    RemoteCandidate {
        peer: PeerId,
        sdp_m_line_index: u32,
        candidate: String,
    },
    /// `peer` is gone for good: its media can be torn down.
    PeerClosed {
        peer: PeerId,
    },
    Talking {
        participant_id: String,
        talking: bool,
    },
    /// The connection to the room dropped; the adapter is reconnecting and
    /// will send `Joined` (and the roster) again.
    Disconnected {
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum RoomCommand {
    /// Receive this participant's tracks.
    Subscribe {
        participant_id: String,
    },
    Unsubscribe {
        participant_id: String,
    },
    Answer {
        peer: PeerId,
        sdp: String,
    },
    LocalCandidate {
        peer: PeerId,
        sdp_m_line_index: u32,
        candidate: String,
    },
    /// How big each video track is shown, so that an SFU with simulcast
    /// can send the layer that fits. Replaces the previous list.
    VideoSizes(Vec<VideoSize>),
    /// Leave the room; `run` returns once it has.
    Leave,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoSize {
    pub participant_id: String,
    pub track_id: String,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error("cannot connect to {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("the room refused us: {0}")]
    Refused(String),
    #[error("signalling connection lost: {0}")]
    ConnectionLost(String),
    #[error("protocol error: {0}")]
    Protocol(String),
}

/// The adapter's side of the channels a session gives it.
pub struct AdapterIo {
    pub events: mpsc::UnboundedSender<RoomEvent>,
    pub commands: mpsc::UnboundedReceiver<RoomCommand>,
}

pub type AdapterFuture = Pin<Box<dyn Future<Output = Result<(), AdapterError>> + Send>>;

/// Sends a batch of events in order; false once nobody listens.
pub(crate) fn emit(events: &mpsc::UnboundedSender<RoomEvent>, batch: Vec<RoomEvent>) -> bool {
    batch.into_iter().all(|e| events.send(e).is_ok())
}

/// How long an adapter that lost its room waits before it tries again:
/// doubling from half a second to ten, and back to half a second once a
/// connection got as far as joining.
pub(crate) struct Backoff(Duration);

impl Backoff {
    const FIRST: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(10);

    pub(crate) fn new() -> Self {
        Backoff(Self::FIRST)
    }

    pub(crate) fn reset(&mut self) {
        self.0 = Self::FIRST;
    }

    pub(crate) fn next(&self) -> Duration {
        self.0
    }

    /// Waits out the current delay, and doubles it. Commands that come
    /// meanwhile go to `other`; false if told to leave (or nobody is
    /// left to command us).
    pub(crate) async fn wait(
        &mut self,
        commands: &mut mpsc::UnboundedReceiver<RoomCommand>,
        mut other: impl FnMut(RoomCommand),
    ) -> bool {
        let sleep = tokio::time::sleep(self.0);
        tokio::pin!(sleep);
        self.0 = (self.0 * 2).min(Self::MAX);
        loop {
            tokio::select! {
                _ = &mut sleep => return true,
                cmd = commands.recv() => match cmd {
                    None | Some(RoomCommand::Leave) => return false,
                    Some(cmd) => other(cmd),
                },
            }
        }
    }
}

/// A way into a room on some SFU.
pub trait RoomAdapter: Send {
    /// Short name for logs and the API (`"callcast"`, `"janus"`).
    fn kind(&self) -> &'static str;

    /// Join the room and relay until [`RoomCommand::Leave`] (`Ok`) or until
    /// the room cannot be reached (`Err`). Dropping `io.events`' receiver
    /// also ends it.
    fn run(self: Box<Self>, io: AdapterIo) -> AdapterFuture;
}

/// Creates the channel pair for an adapter: the session keeps the returned
/// receiver and sender, the adapter gets [`AdapterIo`].
pub fn channels() -> (
    AdapterIo,
    mpsc::UnboundedReceiver<RoomEvent>,
    mpsc::UnboundedSender<RoomCommand>,
) {
    let (event_tx, event_rx) = mpsc::unbounded_channel();
    let (command_tx, command_rx) = mpsc::unbounded_channel();
    (
        AdapterIo {
            events: event_tx,
            commands: command_rx,
        },
        event_rx,
        command_tx,
    )
}
