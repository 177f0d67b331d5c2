//! [`RoomAdapter`] for rooms that speak the callcast room protocol.
//! Each publisher opens its own PeerConnection to us, so a peer id here is
//! the publisher's participant id.
//!
//! When the connection to the room drops, everyone in it is gone for us
//! (their offers went through the room, and a new join gives us a new id
//! they have never offered to): the adapter says so, reconnects with
//! backoff and joins again, and the roster it is given starts over.

use std::collections::HashMap;

use super::client::{self, RoomSender};
use crate::adapter::{
    AdapterError, AdapterFuture, AdapterIo, Backoff, Participant, RoomAdapter, RoomCommand,
    RoomEvent, Stream, Track, emit,
};
use crate::protocol::{ClientMessage, ParticipantInfo, Role, ServerMessage, TrackInfo};

/// Joins a callcast room as a hidden recorder.
#[derive(Debug, Clone)]
pub struct CallcastAdapter {
    pub url: String,
    pub room: String,
    pub display: String,
}

impl RoomAdapter for CallcastAdapter {
    fn kind(&self) -> &'static str {
        "callcast"
    }

    fn run(self: Box<Self>, io: AdapterIo) -> AdapterFuture {
        Box::pin(run(*self, io))
    }
}

async fn run(cfg: CallcastAdapter, mut io: AdapterIo) -> Result<(), AdapterError> {
    let mut translator = Translator::default();
    let mut backoff = Backoff::new();
    let mut ever_joined = false;
    loop {
        let mut joined = false;
        let error = match connection(&cfg, &mut io, &mut translator, &mut joined).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        ever_joined |= joined;
        // A room never reached, or that refuses us, is the caller's error.
        if !ever_joined {
            return Err(error);
        }
        if joined {
            backoff.reset();
        }
        tracing::warn!(url = %cfg.url, room = %cfg.room, %error, retry_in = ?backoff.next(), "callcast room connection lost; reconnecting");
        let mut batch = vec![RoomEvent::Disconnected {
            reason: error.to_string(),
        }];
        batch.extend(translator.forget_everyone());
        if !emit(&io.events, batch) || !backoff.wait(&mut io.commands, |_| {}).await {
            return Ok(());
        }
    }
}

/// One connection to the room, from join to its end: `Ok` once told to
/// leave (or nobody listens any more), else why it ended. `joined` says
/// whether it got as far as the room's welcome.
async fn connection(
    cfg: &CallcastAdapter,
    io: &mut AdapterIo,
    translator: &mut Translator,
    joined: &mut bool,
) -> Result<(), AdapterError> {
    let (mut tx, mut rx, welcome) =
        client::join(&cfg.url, &cfg.room, &cfg.display, Role::Recorder).await?;
    *joined = true;
    tracing::info!(url = %cfg.url, room = %cfg.room, self_id = %welcome.participant_id, "joined callcast room");
    let events = translator.welcome(&welcome.participant_id, welcome.participants);
    if !emit(&io.events, events) {
        return leave(tx).await;
    }
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Ok(Some(msg)) => {
                    if !emit(&io.events, translator.translate(msg)) {
                        return leave(tx).await;
                    }
                }
                Ok(None) => return Err(AdapterError::ConnectionLost("the room closed the connection".into())),
                Err(AdapterError::Protocol(e)) => tracing::warn!(error = %e, "ignoring a message from the room"),
                Err(e) => return Err(e),
            },
            cmd = io.commands.recv() => match cmd {
                None | Some(RoomCommand::Leave) => return leave(tx).await,
                Some(cmd) => {
                    if let Some(msg) = to_client(cmd) {
                        tx.send(&msg).await?;
                    }
                }
            },
        }
    }
}

async fn leave(mut tx: RoomSender) -> Result<(), AdapterError> {
    // Best effort: the room also treats a closed socket as leaving.
    let _ = tx.send(&ClientMessage::Leave {}).await;
    tx.close().await;
    Ok(())
}

/// The room message for a command; none for what this room has no use
/// for (publishers here send a single layer, so sizes do not matter).
fn to_client(cmd: RoomCommand) -> Option<ClientMessage> {
    Some(match cmd {
        RoomCommand::Subscribe { participant_id } => ClientMessage::Subscribe { participant_id },
        RoomCommand::Unsubscribe { participant_id } => {
            ClientMessage::Unsubscribe { participant_id }
        }
        RoomCommand::Answer { peer, sdp } => ClientMessage::Answer { to: peer, sdp },
        RoomCommand::LocalCandidate {
            peer,
            sdp_m_line_index,
            candidate,
        } => ClientMessage::Candidate {
            to: peer,
            sdp_m_line_index,
            candidate,
        },
        RoomCommand::Leave => ClientMessage::Leave {},
        RoomCommand::VideoSizes(_) => return None,
    })
}

/// Turns room messages into adapter events, keeping the announced tracks so
/// that an offer's m-lines can be named.
#[derive(Debug, Default)]
pub(crate) struct Translator {
    tracks: HashMap<String, Vec<TrackInfo>>,
}

impl Translator {
    pub(crate) fn welcome(
        &mut self,
        self_id: &str,
        participants: Vec<ParticipantInfo>,
    ) -> Vec<RoomEvent> {
        let mut events = vec![RoomEvent::Joined {
            self_id: self_id.to_string(),
        }];
        for p in participants {
            events.extend(self.joined(p));
        }
        events
    }

    fn joined(&mut self, p: ParticipantInfo) -> Vec<RoomEvent> {
        let mut events = vec![RoomEvent::ParticipantJoined {
            participant: Participant {
                id: p.id.clone(),
                display: p.display,
            },
        }];
        // A room that announces someone twice keeps what it said first
        // (the tracks an offer may name), plus any track new this time.
        if self.tracks.contains_key(&p.id) {
            tracing::warn!(participant_id = %p.id, "the room announced a participant twice");
        }
        let known = self.tracks.entry(p.id.clone()).or_default();
        for t in p.tracks {
            if known.iter().any(|k| k.id == t.id) {
                continue;
            }
            events.push(RoomEvent::TrackPublished {
                participant_id: p.id.clone(),
                track: track(&t),
            });
            known.push(t);
        }
        events
    }

    /// Everyone leaves, as far as the session is concerned: the
    /// connection they came through is gone.
    pub(crate) fn forget_everyone(&mut self) -> Vec<RoomEvent> {
        let mut gone: Vec<String> = self.tracks.drain().map(|(id, _)| id).collect();
        gone.sort();
        gone.into_iter()
            .flat_map(|participant_id| {
                [
                    RoomEvent::PeerClosed {
                        peer: participant_id.clone(),
                    },
                    RoomEvent::ParticipantLeft { participant_id },
                ]
            })
            .collect()
    }

    pub(crate) fn translate(&mut self, msg: ServerMessage) -> Vec<RoomEvent> {
        match msg {
            ServerMessage::ParticipantJoined { participant } => self.joined(participant),
            ServerMessage::ParticipantLeft { participant_id, .. } => {
                self.tracks.remove(&participant_id);
                vec![
                    RoomEvent::PeerClosed {
                        peer: participant_id.clone(),
                    },
                    RoomEvent::ParticipantLeft { participant_id },
                ]
            }
            ServerMessage::TrackPublished {
                participant_id,
                track: info,
            } => {
                let Some(tracks) = self.tracks.get_mut(&participant_id) else {
                    tracing::warn!(%participant_id, "track from an unknown participant");
                    return vec![];
                };
                tracks.retain(|t| t.id != info.id);
                tracks.push(info.clone());
                vec![RoomEvent::TrackPublished {
                    participant_id,
                    track: track(&info),
                }]
            }
            ServerMessage::TrackUnpublished {
                participant_id,
                track_id,
            } => {
                if let Some(tracks) = self.tracks.get_mut(&participant_id) {
                    tracks.retain(|t| t.id != track_id);
                }
                vec![RoomEvent::TrackUnpublished {
                    participant_id,
                    track_id,
                }]
            }
            ServerMessage::Offer { from, sdp, tracks } => {
                let known = self.tracks.get(&from);
                let streams = tracks
                    .into_iter()
                    .filter_map(|mt| {
                        let info = known?.iter().find(|t| t.id == mt.track_id);
                        if info.is_none() {
                            tracing::warn!(participant_id = %from, track_id = %mt.track_id, "offer names an unannounced track");
                        }
                        Some(Stream {
                            mid: mt.mid,
                            participant_id: from.clone(),
                            track: track(info?),
                        })
                    })
                    .collect();
                vec![RoomEvent::Offer {
                    peer: from,
                    sdp,
                    streams,
                }]
            }
            ServerMessage::Candidate {
                from,
                sdp_m_line_index,
                candidate,
            } => vec![RoomEvent::RemoteCandidate {
                peer: from,
                sdp_m_line_index,
                candidate,
            }],
            ServerMessage::Talking {
                participant_id,
                talking,
            } => vec![RoomEvent::Talking {
                participant_id,
                talking,
            }],
            ServerMessage::Error { code, message } => {
                tracing::warn!(?code, %message, "the room reported an error");
                vec![]
            }
            other => {
                tracing::debug!(?other, "ignoring a message a recorder does not expect");
                vec![]
            }
        }
    }
}

fn track(info: &TrackInfo) -> Track {
    Track {
        id: info.id.clone(),
        kind: info.kind,
        source: info.source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{LeaveReason, MidTrack, TrackKind, TrackSource};

    fn alice() -> ParticipantInfo {
        ParticipantInfo {
            id: "p1".into(),
            display: "Alice".into(),
            tracks: vec![
                TrackInfo {
                    id: "cam".into(),
                    kind: TrackKind::Video,
                    source: TrackSource::Camera,
                },
                TrackInfo {
                    id: "mic".into(),
                    kind: TrackKind::Audio,
                    source: TrackSource::Microphone,
                },
            ],
        }
    }

    #[test]
    fn a_lost_room_takes_everyone_with_it() {
        let mut t = Translator::default();
        t.welcome("p9", vec![alice()]);
        assert_eq!(
            t.forget_everyone(),
            [
                RoomEvent::PeerClosed { peer: "p1".into() },
                RoomEvent::ParticipantLeft {
                    participant_id: "p1".into()
                },
            ]
        );
        assert!(t.forget_everyone().is_empty());
        // Back in the room, Alice is new again: her tracks are announced.
        assert_eq!(t.welcome("p10", vec![alice()]).len(), 4);
    }

    #[test]
    fn welcome_announces_everyone_and_their_tracks() {
        let mut t = Translator::default();
        let events = t.welcome("p9", vec![alice()]);
        assert_eq!(events.len(), 4);
        assert_eq!(
            events[0],
            RoomEvent::Joined {
                self_id: "p9".into()
            }
        );
        assert!(
            matches!(&events[1], RoomEvent::ParticipantJoined { participant } if participant.display == "Alice")
        );
        assert!(
            matches!(&events[2], RoomEvent::TrackPublished { track, .. } if track.kind == TrackKind::Video)
        );
    }

    #[test]
    fn offers_name_their_streams() {
        let mut t = Translator::default();
        t.welcome("p9", vec![alice()]);
        let events = t.translate(ServerMessage::Offer {
            from: "p1".into(),
            sdp: "v=0".into(),
            tracks: vec![
                MidTrack {
                    mid: "video0".into(),
                    track_id: "cam".into(),
                },
                MidTrack {
                    mid: "audio1".into(),
                    track_id: "mic".into(),
                },
                MidTrack {
                    mid: "x".into(),
                    track_id: "nope".into(),
                },
            ],
        });
        let [RoomEvent::Offer { peer, streams, .. }] = events.as_slice() else {
            panic!("expected one offer, got {events:?}");
        };
        assert_eq!(peer, "p1");
        assert_eq!(streams.len(), 2, "the unannounced track is dropped");
        assert_eq!(streams[0].mid, "video0");
        assert_eq!(streams[0].track.source, TrackSource::Camera);
        assert_eq!(streams[1].track.kind, TrackKind::Audio);
    }

    #[test]
    fn a_leaving_participant_closes_its_peer() {
        let mut t = Translator::default();
        t.welcome("p9", vec![alice()]);
        let events = t.translate(ServerMessage::ParticipantLeft {
            participant_id: "p1".into(),
            reason: LeaveReason::Left,
        });
        assert_eq!(
            events,
            vec![
                RoomEvent::PeerClosed { peer: "p1".into() },
                RoomEvent::ParticipantLeft {
                    participant_id: "p1".into()
                }
            ]
        );
        // Its tracks are forgotten: a late offer names no streams.
        let events = t.translate(ServerMessage::Offer {
            from: "p1".into(),
            sdp: "v=0".into(),
            tracks: vec![MidTrack {
                mid: "video0".into(),
                track_id: "cam".into(),
            }],
        });
        assert!(matches!(&events[0], RoomEvent::Offer { streams, .. } if streams.is_empty()));
    }

    #[test]
    fn a_participant_announced_twice_keeps_its_tracks() {
        let mut t = Translator::default();
        t.welcome("p9", vec![alice()]);
        let mut again = alice();
        again.display = "Mallory".into();
        again.tracks.truncate(0);
        let events = t.translate(ServerMessage::ParticipantJoined { participant: again });
        assert!(matches!(&events[..], [RoomEvent::ParticipantJoined { .. }]));
        let events = t.translate(ServerMessage::Offer {
            from: "p1".into(),
            sdp: "v=0".into(),
            tracks: vec![MidTrack {
                mid: "video0".into(),
                track_id: "cam".into(),
            }],
        });
        assert!(matches!(&events[0], RoomEvent::Offer { streams, .. } if streams.len() == 1));
    }

    #[test]
    fn commands_become_addressed_messages() {
        assert_eq!(
            to_client(RoomCommand::Answer {
                peer: "p1".into(),
                sdp: "v=0".into()
            }),
            Some(ClientMessage::Answer {
                to: "p1".into(),
                sdp: "v=0".into()
            })
        );
        assert_eq!(
            to_client(RoomCommand::LocalCandidate {
                peer: "p1".into(),
                sdp_m_line_index: 1,
                candidate: "c".into()
            }),
            Some(ClientMessage::Candidate {
                to: "p1".into(),
                sdp_m_line_index: 1,
                candidate: "c".into()
            })
        );
        assert_eq!(to_client(RoomCommand::VideoSizes(vec![])), None);
    }
}
