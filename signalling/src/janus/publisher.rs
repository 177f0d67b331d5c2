//! Publishing into a Janus VideoRoom, for load generators and tests: join
//! as a publisher, send an offer, get Janus's answer. The media is the
//! caller's (a webrtcbin); this only moves SDP and candidates.

use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::client::JanusClient;
use super::protocol::{Incoming, JanusId, Jsep};
use super::videoroom::{JoinParams, RoomUpdate, body};
use crate::adapter::AdapterError;

pub struct JanusPublisher {
    client: JanusClient,
    session: u64,
    handle: u64,
    id: JanusId,
    keepalive: JoinHandle<()>,
}

impl JanusPublisher {
    /// Connects and joins `params.room` as a publisher. Candidates Janus
    /// trickles arrive on the returned receiver as (m-line, candidate).
    pub async fn join(
        url: &str,
        token: Option<String>,
        params: &JoinParams,
    ) -> Result<(Self, mpsc::UnboundedReceiver<(u32, String)>), AdapterError> {
        let (client, mut incoming) = JanusClient::connect(url, token).await?;
        let session = client.create().await?;
        let handle = client.attach(session).await?;
        let reply = client
            .message(session, handle, body::join_publisher(params), None)
            .await?;
        let RoomUpdate::Joined { id, .. } = RoomUpdate::from_data(&reply.data) else {
            return Err(AdapterError::Protocol(format!(
                "expected joined, got {}",
                reply.data
            )));
        };
        let (cand_tx, cand_rx) = mpsc::unbounded_channel();
        let ka = client.clone();
        let keepalive = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(25));
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        if ka.keepalive(session).is_err() {
                            break;
                        }
                    }
                    msg = incoming.recv() => match msg {
                        Some(Incoming::Trickle { sender, candidate: Some(c) }) if sender == Some(handle) => {
                            let _ = cand_tx.send(c);
                        }
                        Some(_) => {}
                        None => break,
                    },
                }
            }
        });
        Ok((
            JanusPublisher {
                client,
                session,
                handle,
                id,
                keepalive,
            },
            cand_rx,
        ))
    }

    /// Our feed id in the room.
    pub fn id(&self) -> &JanusId {
        &self.id
    }

    /// Publishes with `offer` (audio and video); returns Janus's answer.
    /// `descriptions` names streams by mid (a screen share, say).
    pub async fn publish(
        &self,
        offer: String,
        descriptions: &[(String, String)],
    ) -> Result<String, AdapterError> {
        let mut request = json!({"request": "publish"});
        if !descriptions.is_empty() {
            request["descriptions"] = descriptions
                .iter()
                .map(|(mid, d)| json!({"mid": mid, "description": d}))
                .collect();
        }
        let jsep = Jsep {
            kind: "offer".into(),
            sdp: offer,
        };
        let reply = self
            .client
            .message(self.session, self.handle, request, Some(&jsep))
            .await?;
        reply
            .jsep
            .filter(|j| j.kind == "answer")
            .map(|j| j.sdp)
            .ok_or_else(|| {
                AdapterError::Protocol(format!("publish without an answer: {}", reply.data))
            })
    }

    /// What sends our local candidates, for a task of their own.
    pub fn trickler(&self) -> Trickler {
        Trickler {
            client: self.client.clone(),
            session: self.session,
            handle: self.handle,
        }
    }

    /// Leaves the room and ends the Janus session.
    pub async fn leave(self) {
        let _ = self
            .client
            .message(self.session, self.handle, body::leave(), None)
            .await;
        self.client.destroy(self.session);
        self.keepalive.abort();
    }
}

/// Trickles local candidates to the publisher's handle.
#[derive(Clone)]
pub struct Trickler {
    client: JanusClient,
    session: u64,
    handle: u64,
}

impl Trickler {
    pub fn trickle(&self, sdp_m_line_index: u32, candidate: &str) -> Result<(), AdapterError> {
        self.client.trickle(
            self.session,
            self.handle,
            Some((sdp_m_line_index, candidate)),
        )
    }
}
