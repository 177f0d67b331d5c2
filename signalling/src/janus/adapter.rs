//! [`RoomAdapter`] for a Janus VideoRoom.
//!
//! Two handles in one Janus session: a publisher handle that joins without
//! publishing (it hears who comes, goes and talks), and one subscriber
//! handle that receives every audio and video stream of every publisher in
//! a single PeerConnection. Janus makes the offers; every change to the
//! subscription is a renegotiation, one at a time.
//!
//! When the connection drops or Janus restarts, the adapter says so,
//! closes the peer, reconnects with backoff, rejoins, resyncs the roster
//! and subscribes again; the session's program runs on meanwhile.

use std::time::Duration;

use tokio::sync::mpsc;

use super::client::{JanusClient, PluginReply};
use super::protocol::{Incoming, JanusId, Jsep};
use super::roster::{self, Roster};
use super::simulcast::Layers;
use super::videoroom::{JoinParams, RoomUpdate, SubscriberStream, body};
use crate::adapter::{
    AdapterError, AdapterFuture, AdapterIo, Backoff, PeerId, RoomAdapter, RoomCommand, RoomEvent,
    VideoSize, emit,
};

/// Janus drops a session that is silent for its `session_timeout` (60 s by
/// default).
const KEEPALIVE: Duration = Duration::from_secs(25);

/// Joins a Janus VideoRoom as a hidden recorder.
#[derive(Clone)]
pub struct JanusAdapter {
    /// `ws://host:8188` (or `wss://`).
    pub url: String,
    pub room: JanusId,
    pub pin: Option<String>,
    /// Janus API token, when Janus requires one.
    pub token: Option<String>,
    /// The bot's display name in the room.
    pub display: String,
}

/// Without the PIN and the token, so that it can be logged.
impl std::fmt::Debug for JanusAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JanusAdapter")
            .field("url", &self.url)
            .field("room", &self.room)
            .field("pin", &self.pin.as_ref().map(|_| "<set>"))
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("display", &self.display)
            .finish()
    }
}

impl RoomAdapter for JanusAdapter {
    fn kind(&self) -> &'static str {
        "janus"
    }

    fn run(self: Box<Self>, io: AdapterIo) -> AdapterFuture {
        Box::pin(run(*self, io))
    }
}

enum Ended {
    /// We were told to leave, or nobody listens any more.
    Left,
    Lost(AdapterError),
}

async fn run(cfg: JanusAdapter, mut io: AdapterIo) -> Result<(), AdapterError> {
    let mut roster = Roster::default();
    let mut peers = 0u32;
    // The tile sizes last heard of: a new connection asks for layers by them.
    let mut sizes: Vec<VideoSize> = Vec::new();
    let mut backoff = Backoff::new();
    let mut ever_joined = false;
    loop {
        let mut conn = Connection {
            cfg: &cfg,
            io: &mut io,
            roster: &mut roster,
            peers: &mut peers,
            sizes: &mut sizes,
            joined: false,
            peer: None,
        };
        let ended = conn.run().await;
        let (joined, peer) = (conn.joined, conn.peer.take());
        ever_joined |= joined;
        let error = match ended {
            Ended::Left => return Ok(()),
            Ended::Lost(e) => e,
        };
        // A room that refuses us outright will not change its mind.
        if !ever_joined && matches!(error, AdapterError::Refused(_)) {
            return Err(error);
        }
        if joined {
            backoff.reset();
        }
        tracing::warn!(url = %cfg.url, room = %cfg.room, error = %error, retry_in = ?backoff.next(), "Janus connection lost; reconnecting");
        let mut batch = vec![RoomEvent::Disconnected {
            reason: error.to_string(),
        }];
        batch.extend(peer.map(|peer| RoomEvent::PeerClosed { peer }));
        if !emit(&io.events, batch) {
            return Ok(());
        }
        // Tile sizes still count; the rest was for the peer that is gone.
        let keep_sizes = |cmd| {
            if let RoomCommand::VideoSizes(new) = cmd {
                sizes = new;
            }
        };
        if !backoff.wait(&mut io.commands, keep_sizes).await {
            return Ok(());
        }
    }
}

/// One Janus session, from connect to its end.
struct Connection<'a> {
    cfg: &'a JanusAdapter,
    io: &'a mut AdapterIo,
    roster: &'a mut Roster,
    peers: &'a mut u32,
    sizes: &'a mut Vec<VideoSize>,
    joined: bool,
    /// The subscriber PeerConnection, once Janus offered it.
    peer: Option<PeerId>,
}

/// The subscriber handle's negotiation state.
struct Subscriber {
    handle: u64,
    joined: bool,
    /// An offer is out and its answer not yet sent.
    negotiating: bool,
    /// Janus's latest description of the m-lines.
    streams: Vec<SubscriberStream>,
    /// Simulcast layers asked for.
    layers: Layers,
}

impl Connection<'_> {
    async fn run(&mut self) -> Ended {
        let (client, mut incoming) =
            match JanusClient::connect(&self.cfg.url, self.cfg.token.clone()).await {
                Ok(c) => c,
                Err(e) => return Ended::Lost(e),
            };
        let session = match client.create().await {
            Ok(s) => s,
            Err(e) => return Ended::Lost(e),
        };
        let result = self.joined_session(&client, &mut incoming, session).await;
        // Best effort: frees the handles at once instead of at the timeout.
        client.destroy(session);
        match result {
            Ok(()) => Ended::Left,
            Err(e) => Ended::Lost(e),
        }
    }

    async fn joined_session(
        &mut self,
        client: &JanusClient,
        incoming: &mut mpsc::UnboundedReceiver<Incoming>,
        session: u64,
    ) -> Result<(), AdapterError> {
        let params = JoinParams {
            room: self.cfg.room.clone(),
            display: self.cfg.display.clone(),
            pin: self.cfg.pin.clone(),
        };
        let roster_handle = client.attach(session).await?;
        let reply = client
            .message(session, roster_handle, body::join_publisher(&params), None)
            .await?;
        let RoomUpdate::Joined {
            id,
            private_id,
            publishers,
        } = RoomUpdate::from_data(&reply.data)
        else {
            return Err(AdapterError::Protocol(format!(
                "expected joined, got {}",
                reply.data
            )));
        };
        self.joined = true;
        tracing::info!(url = %self.cfg.url, room = %self.cfg.room, self_id = %id, publishers = publishers.len(), "joined Janus room");
        let mut batch = vec![RoomEvent::Joined {
            self_id: id.to_string(),
        }];
        batch.extend(self.roster.sync(publishers));
        if !emit(&self.io.events, batch) {
            return Ok(());
        }

        let mut sub = Subscriber {
            handle: client.attach(session).await?,
            joined: false,
            negotiating: false,
            streams: Vec::new(),
            layers: Layers::default(),
        };
        sub.layers.set_sizes(self.sizes.clone());
        self.reconcile(client, session, &params, private_id, &mut sub)
            .await?;

        let mut keepalive = tokio::time::interval(KEEPALIVE);
        keepalive.tick().await;
        loop {
            tokio::select! {
                _ = keepalive.tick() => client.keepalive(session)?,
                msg = incoming.recv() => {
                    let msg = msg.ok_or_else(|| AdapterError::ConnectionLost("Janus closed the connection".into()))?;
                    if !self.on_incoming(msg, roster_handle, &id, &mut sub)? {
                        return Ok(());
                    }
                    self.reconcile(client, session, &params, private_id, &mut sub).await?;
                }
                cmd = self.io.commands.recv() => match cmd {
                    None | Some(RoomCommand::Leave) => {
                        let _ = client.message(session, roster_handle, body::leave(), None).await;
                        return Ok(());
                    }
                    Some(RoomCommand::Answer { peer, sdp }) if Some(&peer) == self.peer.as_ref() => {
                        let jsep = Jsep { kind: "answer".into(), sdp };
                        client.message(session, sub.handle, body::start(), Some(&jsep)).await?;
                        sub.negotiating = false;
                        self.reconcile(client, session, &params, private_id, &mut sub).await?;
                        self.apply_layers(client, session, &mut sub).await?;
                    }
                    Some(RoomCommand::VideoSizes(sizes)) => {
                        self.sizes.clone_from(&sizes);
                        sub.layers.set_sizes(sizes);
                        self.apply_layers(client, session, &mut sub).await?;
                    }
                    Some(RoomCommand::LocalCandidate { peer, sdp_m_line_index, candidate }) if Some(&peer) == self.peer.as_ref() => {
                        client.trickle(session, sub.handle, Some((sdp_m_line_index, &candidate)))?;
                    }
                    // Everyone's streams are taken; stale peers are ignored.
                    Some(_) => {}
                },
            }
        }
    }

    /// Handles one message from Janus; false when nobody listens any more.
    fn on_incoming(
        &mut self,
        msg: Incoming,
        roster_handle: u64,
        self_id: &JanusId,
        sub: &mut Subscriber,
    ) -> Result<bool, AdapterError> {
        let events = match msg {
            Incoming::Event { sender, data, .. } if sender == Some(roster_handle) => {
                match RoomUpdate::from_data(&data) {
                    RoomUpdate::Publishers(p) => self.roster.upsert(p),
                    RoomUpdate::Unpublished(id) => self.roster.unpublish(&id),
                    RoomUpdate::Leaving(id) => self.roster.remove(&id),
                    RoomUpdate::Kicked(id) if &id == self_id => {
                        return Err(AdapterError::Refused("kicked from the room".into()));
                    }
                    RoomUpdate::Kicked(id) => self.roster.remove(&id),
                    RoomUpdate::Talking { id, talking } => vec![RoomEvent::Talking {
                        participant_id: id.to_string(),
                        talking,
                    }],
                    RoomUpdate::Error { code, reason } => {
                        tracing::warn!(code, %reason, "VideoRoom error");
                        vec![]
                    }
                    _ => vec![],
                }
            }
            Incoming::Event {
                sender, data, jsep, ..
            } if sender == Some(sub.handle) => {
                self.subscriber_update(sub, PluginReply { data, jsep })
            }
            Incoming::Trickle {
                sender,
                candidate: Some((sdp_m_line_index, candidate)),
            } if sender == Some(sub.handle) => match &self.peer {
                Some(peer) => vec![RoomEvent::RemoteCandidate {
                    peer: peer.clone(),
                    sdp_m_line_index,
                    candidate,
                }],
                None => vec![],
            },
            Incoming::WebrtcUp { sender } if sender == Some(sub.handle) => {
                tracing::info!(peer = ?self.peer, "Janus: subscriber PeerConnection up");
                vec![]
            }
            Incoming::Hangup { sender, reason } if sender == Some(sub.handle) => {
                return Err(AdapterError::ConnectionLost(format!(
                    "Janus hung up the subscriber PeerConnection: {reason}"
                )));
            }
            Incoming::Detached { sender }
                if sender == Some(sub.handle) || sender == Some(roster_handle) =>
            {
                return Err(AdapterError::ConnectionLost(
                    "Janus detached a handle".into(),
                ));
            }
            Incoming::Timeout => {
                return Err(AdapterError::ConnectionLost(
                    "the Janus session timed out".into(),
                ));
            }
            _ => vec![],
        };
        Ok(emit(&self.io.events, events))
    }

    /// Janus described the subscriber's m-lines, with an offer when they
    /// changed: the session answers it.
    fn subscriber_update(&mut self, sub: &mut Subscriber, reply: PluginReply) -> Vec<RoomEvent> {
        if let RoomUpdate::Streams(streams) = RoomUpdate::from_data(&reply.data) {
            sub.streams = streams;
        }
        let Some(jsep) = reply.jsep.filter(|j| j.kind == "offer") else {
            return vec![];
        };
        let peer = self
            .peer
            .get_or_insert_with(|| {
                *self.peers += 1;
                format!("janus-{}", self.peers)
            })
            .clone();
        sub.negotiating = true;
        tracing::info!(%peer, m_lines = sub.streams.len(), "Janus offers the subscription");
        vec![RoomEvent::Offer {
            peer,
            sdp: jsep.sdp,
            streams: self.roster.streams(&sub.streams),
        }]
    }

    /// Asks for the simulcast layer each tile needs, once the m-lines are
    /// settled.
    async fn apply_layers(
        &mut self,
        client: &JanusClient,
        session: u64,
        sub: &mut Subscriber,
    ) -> Result<(), AdapterError> {
        if sub.negotiating {
            return Ok(());
        }
        for (mid, substream) in sub.layers.changes(self.roster, &sub.streams) {
            tracing::debug!(%mid, substream, "asking Janus for a simulcast layer");
            match client
                .message(session, sub.handle, body::substream(&mid, substream), None)
                .await
            {
                Ok(_) => {}
                Err(AdapterError::Refused(reason)) => {
                    tracing::warn!(%mid, %reason, "Janus refused a simulcast layer");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Subscribes to whatever is published and not yet received, unless a
    /// negotiation is under way (Janus takes one at a time).
    async fn reconcile(
        &mut self,
        client: &JanusClient,
        session: u64,
        params: &JoinParams,
        private_id: Option<u64>,
        sub: &mut Subscriber,
    ) -> Result<(), AdapterError> {
        if sub.negotiating {
            return Ok(());
        }
        let wants = self.roster.wants();
        let have = roster::subscribed(&sub.streams);
        let add: Vec<_> = wants.into_iter().filter(|w| !have.contains(w)).collect();
        if add.is_empty() {
            return Ok(());
        }
        let request = if sub.joined {
            body::update(&add, &[])
        } else {
            body::join_subscriber(params, private_id, &add)
        };
        match client.message(session, sub.handle, request, None).await {
            Ok(reply) => {
                sub.joined = true;
                let events = self.subscriber_update(sub, reply);
                emit(&self.io.events, events);
                Ok(())
            }
            // A feed that went away in the meantime: the next event says so.
            Err(AdapterError::Refused(reason)) => {
                tracing::warn!(%reason, "Janus refused a subscription");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}
