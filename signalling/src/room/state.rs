//! The demo room's rules, without any I/O: who is in which room, what they
//! publish, who subscribes to whom, and which messages go where.

use std::collections::{BTreeSet, HashMap};

use crate::protocol::{
    ClientMessage, ErrorCode, LeaveReason, PROTOCOL_VERSION, ParticipantInfo, Role, ServerMessage,
    TrackInfo,
};

/// One websocket connection.
pub type ConnId = u64;

/// A message for one connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub to: ConnId,
    pub msg: ServerMessage,
}

/// What handling one client message produced.
#[derive(Debug, Default, PartialEq)]
pub struct Outcome {
    pub deliveries: Vec<Delivery>,
    /// Close the sender's connection after delivering.
    pub close: bool,
}

#[derive(Debug)]
struct Member {
    conn: ConnId,
    id: String,
    display: String,
    role: Role,
    tracks: Vec<TrackInfo>,
}

impl Member {
    fn info(&self) -> ParticipantInfo {
        ParticipantInfo {
            id: self.id.clone(),
            display: self.display.clone(),
            tracks: self.tracks.clone(),
        }
    }
}

#[derive(Debug, Default)]
struct Room {
    /// In join order.
    members: Vec<Member>,
    /// (subscriber id, publisher id)
    subscriptions: BTreeSet<(String, String)>,
}

impl Room {
    fn member(&self, id: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.id == id)
    }

    fn others(&self, except: ConnId) -> impl Iterator<Item = &Member> {
        self.members.iter().filter(move |m| m.conn != except)
    }
}

/// Every room of one server.
#[derive(Debug, Default)]
pub struct Rooms {
    rooms: HashMap<String, Room>,
    /// conn -> (room, participant id)
    joined: HashMap<ConnId, (String, String)>,
    next_participant: u64,
}

impl Rooms {
    /// The number of members in `room`, hidden ones included.
    pub fn members(&self, room: &str) -> usize {
        self.rooms.get(room).map_or(0, |r| r.members.len())
    }

    pub fn handle(&mut self, conn: ConnId, msg: ClientMessage) -> Outcome {
        if let ClientMessage::Join {
            protocol,
            room,
            display,
            role,
        } = msg
        {
            return self.join(conn, protocol, room, display, role);
        }
        let Some((room_name, self_id)) = self.joined.get(&conn).cloned() else {
            return refuse(conn, ErrorCode::NotJoined, "send join first");
        };
        if matches!(msg, ClientMessage::Leave {}) {
            let deliveries = self.remove(conn, LeaveReason::Left);
            return Outcome {
                deliveries,
                close: true,
            };
        }
        let room = self.rooms.get_mut(&room_name).expect("joined rooms exist");
        match room_rules(room, conn, &self_id, msg) {
            Ok(deliveries) => Outcome {
                deliveries,
                close: false,
            },
            Err((code, message)) => refuse(conn, code, message),
        }
    }

    /// The connection is gone without a `leave`.
    pub fn disconnect(&mut self, conn: ConnId) -> Vec<Delivery> {
        self.remove(conn, LeaveReason::Disconnected)
    }

    fn join(
        &mut self,
        conn: ConnId,
        protocol: u32,
        room_name: String,
        display: String,
        role: Role,
    ) -> Outcome {
        if protocol != PROTOCOL_VERSION {
            let mut out = refuse(
                conn,
                ErrorCode::UnsupportedVersion,
                format!("this room speaks protocol {PROTOCOL_VERSION}, not {protocol}"),
            );
            out.close = true;
            return out;
        }
        if self.joined.contains_key(&conn) {
            return refuse(
                conn,
                ErrorCode::AlreadyJoined,
                "this connection already joined",
            );
        }
        self.next_participant += 1;
        let id = format!("p{}", self.next_participant);
        let room = self.rooms.entry(room_name.clone()).or_default();
        let participants = room
            .members
            .iter()
            .filter(|m| m.role == Role::Publisher)
            .map(Member::info)
            .collect();
        let member = Member {
            conn,
            id: id.clone(),
            display,
            role,
            tracks: vec![],
        };
        let mut deliveries = vec![Delivery {
            to: conn,
            msg: ServerMessage::Welcome {
                protocol: PROTOCOL_VERSION,
                room: room_name.clone(),
                participant_id: id.clone(),
                participants,
            },
        }];
        if role == Role::Publisher {
            deliveries.extend(broadcast(
                room,
                conn,
                ServerMessage::ParticipantJoined {
                    participant: member.info(),
                },
            ));
        }
        room.members.push(member);
        self.joined.insert(conn, (room_name, id));
        Outcome {
            deliveries,
            close: false,
        }
    }

    fn remove(&mut self, conn: ConnId, reason: LeaveReason) -> Vec<Delivery> {
        let Some((room_name, id)) = self.joined.remove(&conn) else {
            return vec![];
        };
        let room = self.rooms.get_mut(&room_name).expect("joined rooms exist");
        let Some(pos) = room.members.iter().position(|m| m.conn == conn) else {
            return vec![];
        };
        let member = room.members.remove(pos);
        let mut deliveries = Vec::new();
        if member.role == Role::Publisher {
            deliveries.extend(broadcast(
                room,
                conn,
                ServerMessage::ParticipantLeft {
                    participant_id: id.clone(),
                    reason,
                },
            ));
        }
        // Publishers this member subscribed to stop sending to it.
        for (_, publisher) in room.subscriptions.iter().filter(|(s, _)| *s == id) {
            if let Some(p) = room.member(publisher) {
                deliveries.push(Delivery {
                    to: p.conn,
                    msg: ServerMessage::Unsubscribe { from: id.clone() },
                });
            }
        }
        room.subscriptions.retain(|(s, p)| *s != id && *p != id);
        if room.members.is_empty() {
            self.rooms.remove(&room_name);
        }
        deliveries
    }
}

type Refusal = (ErrorCode, String);

/// Messages of a member already in `room`.
fn room_rules(
    room: &mut Room,
    conn: ConnId,
    self_id: &str,
    msg: ClientMessage,
) -> Result<Vec<Delivery>, Refusal> {
    let role = room.member(self_id).map(|m| m.role).expect("member exists");
    let publisher_only = || {
        if role == Role::Publisher {
            Ok(())
        } else {
            Err((ErrorCode::NotAllowed, "only publishers may do this".into()))
        }
    };
    match msg {
        ClientMessage::Publish { track } => {
            publisher_only()?;
            let me = room
                .members
                .iter_mut()
                .find(|m| m.conn == conn)
                .expect("member exists");
            if me.tracks.iter().any(|t| t.id == track.id) {
                return Err((
                    ErrorCode::DuplicateTrack,
                    format!("track {} is already published", track.id),
                ));
            }
            me.tracks.push(track.clone());
            Ok(broadcast(
                room,
                conn,
                ServerMessage::TrackPublished {
                    participant_id: self_id.to_string(),
                    track,
                },
            ))
        }
        ClientMessage::Unpublish { track_id } => {
            publisher_only()?;
            let me = room
                .members
                .iter_mut()
                .find(|m| m.conn == conn)
                .expect("member exists");
            let before = me.tracks.len();
            me.tracks.retain(|t| t.id != track_id);
            if me.tracks.len() == before {
                return Err((
                    ErrorCode::UnknownTrack,
                    format!("no track {track_id} is published"),
                ));
            }
            Ok(broadcast(
                room,
                conn,
                ServerMessage::TrackUnpublished {
                    participant_id: self_id.to_string(),
                    track_id,
                },
            ))
        }
        ClientMessage::Subscribe { participant_id } => {
            let target = publisher(room, &participant_id)?;
            room.subscriptions
                .insert((self_id.to_string(), participant_id));
            Ok(vec![Delivery {
                to: target,
                msg: ServerMessage::Subscribe {
                    from: self_id.to_string(),
                },
            }])
        }
        ClientMessage::Unsubscribe { participant_id } => {
            let target = publisher(room, &participant_id)?;
            room.subscriptions
                .remove(&(self_id.to_string(), participant_id));
            Ok(vec![Delivery {
                to: target,
                msg: ServerMessage::Unsubscribe {
                    from: self_id.to_string(),
                },
            }])
        }
        ClientMessage::Offer { to, sdp, tracks } => relay(
            room,
            &to,
            ServerMessage::Offer {
                from: self_id.to_string(),
                sdp,
                tracks,
            },
        ),
        ClientMessage::Answer { to, sdp } => relay(
            room,
            &to,
            ServerMessage::Answer {
                from: self_id.to_string(),
                sdp,
            },
        ),
        ClientMessage::Candidate {
            to,
            sdp_m_line_index,
            candidate,
        } => relay(
            room,
            &to,
            ServerMessage::Candidate {
                from: self_id.to_string(),
                sdp_m_line_index,
                candidate,
            },
        ),
        ClientMessage::Talking { talking } => {
            publisher_only()?;
            Ok(broadcast(
                room,
                conn,
                ServerMessage::Talking {
                    participant_id: self_id.to_string(),
                    talking,
                },
            ))
        }
        ClientMessage::Join { .. } | ClientMessage::Leave {} => {
            unreachable!("handled by Rooms::handle")
        }
    }
}

fn publisher(room: &Room, id: &str) -> Result<ConnId, Refusal> {
    match room.member(id) {
        Some(m) if m.role == Role::Publisher => Ok(m.conn),
        _ => Err((
            ErrorCode::UnknownParticipant,
            format!("no publisher {id} in this room"),
        )),
    }
}

fn relay(room: &Room, to: &str, msg: ServerMessage) -> Result<Vec<Delivery>, Refusal> {
    let target = room.member(to).ok_or_else(|| {
        (
            ErrorCode::UnknownParticipant,
            format!("no participant {to} in this room"),
        )
    })?;
    Ok(vec![Delivery {
        to: target.conn,
        msg,
    }])
}

fn broadcast(room: &Room, except: ConnId, msg: ServerMessage) -> Vec<Delivery> {
    room.others(except)
        .map(|m| Delivery {
            to: m.conn,
            msg: msg.clone(),
        })
        .collect()
}

fn refuse(conn: ConnId, code: ErrorCode, message: impl Into<String>) -> Outcome {
    Outcome {
        deliveries: vec![Delivery {
            to: conn,
            msg: ServerMessage::error(code, message),
        }],
        close: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{MidTrack, TrackKind, TrackSource};

    fn join(rooms: &mut Rooms, conn: ConnId, display: &str, role: Role) -> Outcome {
        rooms.handle(
            conn,
            ClientMessage::Join {
                protocol: PROTOCOL_VERSION,
                room: "demo".into(),
                display: display.into(),
                role,
            },
        )
    }

    fn error_code(delivery: &Delivery) -> Option<ErrorCode> {
        match delivery.msg {
            ServerMessage::Error { code, .. } => Some(code),
            _ => None,
        }
    }

    fn cam() -> TrackInfo {
        TrackInfo {
            id: "cam".into(),
            kind: TrackKind::Video,
            source: TrackSource::Camera,
        }
    }

    #[test]
    fn welcome_lists_publishers_in_join_order_and_hides_recorders() {
        let mut rooms = Rooms::default();
        join(&mut rooms, 1, "Alice", Role::Publisher);
        rooms.handle(1, ClientMessage::Publish { track: cam() });
        let out = join(&mut rooms, 2, "bot", Role::Recorder);
        assert_eq!(
            out.deliveries.len(),
            1,
            "a recorder's join is not broadcast"
        );
        let ServerMessage::Welcome {
            participant_id,
            participants,
            ..
        } = &out.deliveries[0].msg
        else {
            panic!("expected welcome");
        };
        assert_eq!(participant_id, "p2");
        assert_eq!(participants.len(), 1);
        assert_eq!(participants[0].tracks, vec![cam()]);

        let out = join(&mut rooms, 3, "Bob", Role::Publisher);
        let ServerMessage::Welcome { participants, .. } = &out.deliveries[0].msg else {
            panic!("expected welcome");
        };
        assert_eq!(participants.len(), 1, "the recorder stays hidden");
        let joined: Vec<_> = out.deliveries[1..].iter().map(|d| d.to).collect();
        assert_eq!(joined, vec![1, 2], "everyone else hears of Bob");
    }

    #[test]
    fn other_versions_are_refused_and_closed() {
        let mut rooms = Rooms::default();
        let out = rooms.handle(
            1,
            ClientMessage::Join {
                protocol: 99,
                room: "demo".into(),
                display: "x".into(),
                role: Role::Publisher,
            },
        );
        assert!(out.close);
        assert_eq!(
            error_code(&out.deliveries[0]),
            Some(ErrorCode::UnsupportedVersion)
        );
    }

    #[test]
    fn messages_before_join_are_refused() {
        let mut rooms = Rooms::default();
        let out = rooms.handle(1, ClientMessage::Talking { talking: true });
        assert_eq!(error_code(&out.deliveries[0]), Some(ErrorCode::NotJoined));
    }

    #[test]
    fn signalling_is_relayed_with_the_sender_named() {
        let mut rooms = Rooms::default();
        join(&mut rooms, 1, "Alice", Role::Publisher);
        join(&mut rooms, 2, "bot", Role::Recorder);
        let out = rooms.handle(
            2,
            ClientMessage::Subscribe {
                participant_id: "p1".into(),
            },
        );
        assert_eq!(
            out.deliveries,
            vec![Delivery {
                to: 1,
                msg: ServerMessage::Subscribe { from: "p2".into() }
            }]
        );
        let out = rooms.handle(
            1,
            ClientMessage::Offer {
                to: "p2".into(),
                sdp: "v=0".into(),
                tracks: vec![MidTrack {
                    mid: "video0".into(),
                    track_id: "cam".into(),
                }],
            },
        );
        assert_eq!(out.deliveries[0].to, 2);
        assert!(
            matches!(&out.deliveries[0].msg, ServerMessage::Offer { from, .. } if from == "p1")
        );
        let out = rooms.handle(
            2,
            ClientMessage::Candidate {
                to: "p9".into(),
                sdp_m_line_index: 0,
                candidate: "c".into(),
            },
        );
        assert_eq!(
            error_code(&out.deliveries[0]),
            Some(ErrorCode::UnknownParticipant)
        );
    }

    #[test]
    fn recorders_cannot_publish_and_tracks_are_unique() {
        let mut rooms = Rooms::default();
        join(&mut rooms, 1, "Alice", Role::Publisher);
        join(&mut rooms, 2, "bot", Role::Recorder);
        let out = rooms.handle(2, ClientMessage::Publish { track: cam() });
        assert_eq!(error_code(&out.deliveries[0]), Some(ErrorCode::NotAllowed));
        rooms.handle(1, ClientMessage::Publish { track: cam() });
        let out = rooms.handle(1, ClientMessage::Publish { track: cam() });
        assert_eq!(
            error_code(&out.deliveries[0]),
            Some(ErrorCode::DuplicateTrack)
        );
    }

    #[test]
    fn leaving_tells_the_others_and_the_publishers_subscribed_to() {
        let mut rooms = Rooms::default();
        join(&mut rooms, 1, "Alice", Role::Publisher);
        join(&mut rooms, 2, "bot", Role::Recorder);
        rooms.handle(
            2,
            ClientMessage::Subscribe {
                participant_id: "p1".into(),
            },
        );
        // The recorder goes: Alice stops sending to it.
        let deliveries = rooms.disconnect(2);
        assert_eq!(
            deliveries,
            vec![Delivery {
                to: 1,
                msg: ServerMessage::Unsubscribe { from: "p2".into() }
            }]
        );
        // A publisher goes: everyone hears it, and the room empties.
        join(&mut rooms, 3, "bot", Role::Recorder);
        let out = rooms.handle(1, ClientMessage::Leave {});
        assert!(out.close);
        assert_eq!(
            out.deliveries,
            vec![Delivery {
                to: 3,
                msg: ServerMessage::ParticipantLeft {
                    participant_id: "p1".into(),
                    reason: LeaveReason::Left
                }
            }]
        );
        rooms.disconnect(3);
        assert_eq!(rooms.members("demo"), 0);
        assert!(rooms.rooms.is_empty());
    }
}
