//! The callcast room protocol, version 1: JSON text frames over a websocket.
//! `PROTOCOL.md` beside this crate is the prose version of these types.

use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks. A client names the version it
/// speaks in `join`; the room refuses any other with `unsupported_version`.
pub const PROTOCOL_VERSION: u32 = 1;

/// What a member of a room does in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sends media; visible to everyone.
    Publisher,
    /// Receives media only (a recorder bot); hidden from the other members.
    Recorder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrackKind {
    Audio,
    Video,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TrackSource {
    Camera,
    Microphone,
    Screen,
}

/// A track a publisher announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackInfo {
    pub id: String,
    pub kind: TrackKind,
    pub source: TrackSource,
}

/// A visible member of a room, as the room describes it to others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParticipantInfo {
    pub id: String,
    pub display: String,
    #[serde(default)]
    pub tracks: Vec<TrackInfo>,
}

/// Which announced track an m-line of an offer carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MidTrack {
    pub mid: String,
    pub track_id: String,
}

/// Messages a client sends to the room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// First message on a connection.
    Join {
        protocol: u32,
        room: String,
        display: String,
        role: Role,
    },
    /// Announce a track (publishers only).
    Publish { track: TrackInfo },
    /// Withdraw a track (publishers only).
    Unpublish { track_id: String },
    /// Ask a publisher to offer its tracks to me.
    Subscribe { participant_id: String },
    /// Ask a publisher to stop sending to me.
    Unsubscribe { participant_id: String },
    /// An SDP offer for the member `to`; `tracks` maps its m-lines to tracks.
    Offer {
        to: String,
        sdp: String,
        #[serde(default)]
        tracks: Vec<MidTrack>,
    },
    /// An SDP answer for the member `to`.
    Answer { to: String, sdp: String },
    /// A trickled ICE candidate for the member `to`.
    Candidate {
        to: String,
        sdp_m_line_index: u32,
        candidate: String,
    },
    /// Whether this publisher is talking now.
    Talking { talking: bool },
    /// Leave the room; the room closes the connection afterwards.
    Leave {},
}

/// Why a member left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    Left,
    Disconnected,
}

/// Error codes the room sends in `error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    UnsupportedVersion,
    BadMessage,
    NotJoined,
    AlreadyJoined,
    UnknownParticipant,
    UnknownTrack,
    DuplicateTrack,
    NotAllowed,
}

/// Messages the room sends to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerMessage {
    /// Answer to `join`: who I am and who is already here (in join order).
    Welcome {
        protocol: u32,
        room: String,
        participant_id: String,
        participants: Vec<ParticipantInfo>,
    },
    ParticipantJoined {
        participant: ParticipantInfo,
    },
    ParticipantLeft {
        participant_id: String,
        reason: LeaveReason,
    },
    TrackPublished {
        participant_id: String,
        track: TrackInfo,
    },
    TrackUnpublished {
        participant_id: String,
        track_id: String,
    },
    /// To a publisher: the member `from` wants its tracks; send it an offer.
    Subscribe {
        from: String,
    },
    /// To a publisher: the member `from` no longer wants its tracks.
    Unsubscribe {
        from: String,
    },
    Offer {
        from: String,
        sdp: String,
        tracks: Vec<MidTrack>,
    },
    Answer {
        from: String,
        sdp: String,
    },
    Candidate {
        from: String,
        sdp_m_line_index: u32,
        candidate: String,
    },
    Talking {
        participant_id: String,
        talking: bool,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
}

impl ClientMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("protocol messages always serialize")
    }

    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

impl ServerMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("protocol messages always serialize")
    }

    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMessage::Error {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn join_has_the_documented_shape() {
        let msg = ClientMessage::Join {
            protocol: PROTOCOL_VERSION,
            room: "demo".into(),
            display: "Alice".into(),
            role: Role::Publisher,
        };
        assert_eq!(
            serde_json::to_value(&msg).unwrap(),
            json!({"type": "join", "protocol": 1, "room": "demo", "display": "Alice", "role": "publisher"})
        );
    }

    #[test]
    fn every_client_message_round_trips() {
        let track = TrackInfo {
            id: "cam".into(),
            kind: TrackKind::Video,
            source: TrackSource::Camera,
        };
        let messages = vec![
            ClientMessage::Join {
                protocol: 1,
                room: "r".into(),
                display: "bot".into(),
                role: Role::Recorder,
            },
            ClientMessage::Publish { track },
            ClientMessage::Unpublish {
                track_id: "cam".into(),
            },
            ClientMessage::Subscribe {
                participant_id: "p1".into(),
            },
            ClientMessage::Unsubscribe {
                participant_id: "p1".into(),
            },
            ClientMessage::Offer {
                to: "p2".into(),
                sdp: "v=0\r\n".into(),
                tracks: vec![MidTrack {
                    mid: "video0".into(),
                    track_id: "cam".into(),
                }],
            },
            ClientMessage::Answer {
                to: "p1".into(),
                sdp: "v=0\r\n".into(),
            },
            ClientMessage::Candidate {
                to: "p1".into(),
                sdp_m_line_index: 0,
                candidate: "candidate:1 1 UDP 1 127.0.0.1 5000 typ host".into(),
            },
            ClientMessage::Talking { talking: true },
            ClientMessage::Leave {},
        ];
        for msg in messages {
            let back = ClientMessage::from_json(&msg.to_json()).unwrap();
            assert_eq!(back, msg);
        }
    }

    #[test]
    fn every_server_message_round_trips() {
        let participant = ParticipantInfo {
            id: "p1".into(),
            display: "Alice".into(),
            tracks: vec![TrackInfo {
                id: "mic".into(),
                kind: TrackKind::Audio,
                source: TrackSource::Microphone,
            }],
        };
        let messages = vec![
            ServerMessage::Welcome {
                protocol: 1,
                room: "r".into(),
                participant_id: "p2".into(),
                participants: vec![participant.clone()],
            },
            ServerMessage::ParticipantJoined { participant },
            ServerMessage::ParticipantLeft {
                participant_id: "p1".into(),
                reason: LeaveReason::Disconnected,
            },
            ServerMessage::TrackPublished {
                participant_id: "p1".into(),
                track: TrackInfo {
                    id: "screen".into(),
                    kind: TrackKind::Video,
                    source: TrackSource::Screen,
                },
            },
            ServerMessage::TrackUnpublished {
                participant_id: "p1".into(),
                track_id: "screen".into(),
            },
            ServerMessage::Subscribe { from: "p2".into() },
            ServerMessage::Unsubscribe { from: "p2".into() },
            ServerMessage::Offer {
                from: "p1".into(),
                sdp: "v=0\r\n".into(),
                tracks: vec![],
            },
            ServerMessage::Answer {
                from: "p2".into(),
                sdp: "v=0\r\n".into(),
            },
            ServerMessage::Candidate {
                from: "p2".into(),
                sdp_m_line_index: 1,
                candidate: "candidate:...".into(),
            },
            ServerMessage::Talking {
                participant_id: "p1".into(),
                talking: false,
            },
            ServerMessage::error(ErrorCode::NotJoined, "join first"),
        ];
        for msg in messages {
            let back = ServerMessage::from_json(&msg.to_json()).unwrap();
            assert_eq!(back, msg);
        }
    }

    #[test]
    fn unknown_types_and_fields_are_rejected() {
        assert!(ClientMessage::from_json(r#"{"type":"dance"}"#).is_err());
        assert!(ClientMessage::from_json(r#"{"type":"leave","extra":1}"#).is_err());
        assert!(ClientMessage::from_json(r#"{"type":"talking","talking":"yes"}"#).is_err());
        assert!(ClientMessage::from_json("not json").is_err());
    }

    #[test]
    fn offer_tracks_default_to_empty() {
        let msg = ClientMessage::from_json(r#"{"type":"offer","to":"p1","sdp":"v=0"}"#).unwrap();
        assert_eq!(
            msg,
            ClientMessage::Offer {
                to: "p1".into(),
                sdp: "v=0".into(),
                tracks: vec![]
            }
        );
    }
}
