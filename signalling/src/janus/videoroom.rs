//! VideoRoom plugin bodies (requests) and events, Janus 1.x (multistream).

use serde::Deserialize;
use serde_json::{Value, json};

use super::protocol::JanusId;

/// One stream a publisher sends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PublisherStream {
    /// `audio`, `video` or `data`.
    #[serde(rename = "type")]
    pub kind: String,
    pub mid: String,
    #[serde(default)]
    pub mindex: u32,
    #[serde(default)]
    pub codec: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub simulcast: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Publisher {
    pub id: JanusId,
    #[serde(default)]
    pub display: Option<String>,
    #[serde(default)]
    pub streams: Vec<PublisherStream>,
    #[serde(default)]
    pub talking: bool,
}

/// One m-line of the subscriber PeerConnection, as Janus describes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SubscriberStream {
    pub mid: String,
    #[serde(default)]
    pub mindex: u32,
    #[serde(rename = "type")]
    pub kind: String,
    /// False for an m-line Janus keeps but no longer feeds (recyclable).
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub feed_id: Option<JanusId>,
    #[serde(default)]
    pub feed_mid: Option<String>,
    #[serde(default)]
    pub feed_display: Option<String>,
    #[serde(default)]
    pub feed_description: Option<String>,
}

fn yes() -> bool {
    true
}

/// What a VideoRoom event says, for the events callcast follows.
#[derive(Debug, Clone, PartialEq)]
pub enum RoomUpdate {
    /// Our publisher handle joined: its id, and who is already publishing.
    Joined {
        id: JanusId,
        private_id: Option<u64>,
        publishers: Vec<Publisher>,
    },
    /// New or changed publishers (Janus sends the whole publisher).
    Publishers(Vec<Publisher>),
    Unpublished(JanusId),
    Leaving(JanusId),
    Kicked(JanusId),
    Talking {
        id: JanusId,
        talking: bool,
    },
    /// The subscriber handle's streams, after `join` or `update`; an offer
    /// comes with it.
    Streams(Vec<SubscriberStream>),
    /// A request failed.
    Error {
        code: i64,
        reason: String,
    },
    /// Anything else (configured, started, ...).
    Other,
}

impl RoomUpdate {
    /// Reads `plugindata.data` of a VideoRoom event.
    pub fn from_data(data: &Value) -> RoomUpdate {
        if let Some(code) = data.get("error_code").and_then(Value::as_i64) {
            return RoomUpdate::Error {
                code,
                reason: data
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            };
        }
        let id = |key: &str| data.get(key).and_then(|v| JanusId::deserialize(v).ok());
        let list = |key: &str| -> Option<Vec<Publisher>> {
            data.get(key)
                .and_then(|v| Vec::<Publisher>::deserialize(v).ok())
        };
        match data.get("videoroom").and_then(Value::as_str) {
            Some("joined") => match id("id") {
                Some(id) => RoomUpdate::Joined {
                    id,
                    private_id: data.get("private_id").and_then(Value::as_u64),
                    publishers: list("publishers").unwrap_or_default(),
                },
                None => RoomUpdate::Other,
            },
            Some("talking") | Some("stopped-talking") => match id("id") {
                Some(id) => RoomUpdate::Talking {
                    id,
                    talking: data["videoroom"] == "talking",
                },
                None => RoomUpdate::Other,
            },
            Some("attached") | Some("updated") => data
                .get("streams")
                .and_then(|v| Vec::<SubscriberStream>::deserialize(v).ok())
                .map_or(RoomUpdate::Other, RoomUpdate::Streams),
            Some("event") => {
                if let Some(p) = list("publishers") {
                    RoomUpdate::Publishers(p)
                } else if let Some(id) = id("unpublished") {
                    RoomUpdate::Unpublished(id)
                } else if let Some(id) = id("leaving") {
                    RoomUpdate::Leaving(id)
                } else if let Some(id) = id("kicked") {
                    RoomUpdate::Kicked(id)
                } else {
                    RoomUpdate::Other
                }
            }
            _ => RoomUpdate::Other,
        }
    }
}

/// Where and as whom the bot joins.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinParams {
    pub room: JanusId,
    pub display: String,
    pub pin: Option<String>,
}

/// A feed's stream to receive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub feed: JanusId,
    pub mid: String,
}

pub mod body {
    use super::*;

    /// Joins as a publisher that never publishes: the roster handle.
    pub fn join_publisher(p: &JoinParams) -> Value {
        let mut v =
            json!({"request": "join", "ptype": "publisher", "room": p.room, "display": p.display});
        if let Some(pin) = &p.pin {
            v["pin"] = json!(pin);
        }
        v
    }

    /// Joins as the subscriber of `streams`, in one PeerConnection.
    pub fn join_subscriber(p: &JoinParams, private_id: Option<u64>, streams: &[Want]) -> Value {
        let mut v = json!({
            "request": "join",
            "ptype": "subscriber",
            "room": p.room,
            "streams": wants(streams),
        });
        if let Some(pin) = &p.pin {
            v["pin"] = json!(pin);
        }
        if let Some(id) = private_id {
            v["private_id"] = json!(id);
        }
        v
    }

    /// Adds and removes streams on the subscriber PeerConnection; Janus
    /// answers with a new offer.
    /// Janus refuses an empty list, so an empty side is left out.
    pub fn update(subscribe: &[Want], unsubscribe: &[JanusId]) -> Value {
        let mut v = json!({"request": "update"});
        if !subscribe.is_empty() {
            v["subscribe"] = json!(wants(subscribe));
        }
        if !unsubscribe.is_empty() {
            let unsub: Vec<Value> = unsubscribe.iter().map(|f| json!({"feed": f})).collect();
            v["unsubscribe"] = json!(unsub);
        }
        v
    }

    /// Sent with our answer to a subscriber offer.
    pub fn start() -> Value {
        json!({"request": "start"})
    }

    /// Picks a simulcast layer for one subscribed m-line.
    pub fn substream(mid: &str, substream: u8) -> Value {
        json!({"request": "configure", "mid": mid, "substream": substream})
    }

    pub fn leave() -> Value {
        json!({"request": "leave"})
    }

    fn wants(streams: &[Want]) -> Vec<Value> {
        streams
            .iter()
            .map(|w| json!({"feed": w.feed, "mid": w.mid}))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_lists_the_publishers_and_their_streams() {
        let data = json!({
            "videoroom": "joined", "room": 1234, "id": 42, "private_id": 7,
            "publishers": [{"id": 9, "display": "Alice", "talking": false, "streams": [
                {"type": "audio", "mindex": 0, "mid": "0", "codec": "opus"},
                {"type": "video", "mindex": 1, "mid": "1", "codec": "vp8", "simulcast": true}
            ]}]
        });
        let RoomUpdate::Joined {
            id,
            private_id,
            publishers,
        } = RoomUpdate::from_data(&data)
        else {
            panic!("not joined");
        };
        assert_eq!((id, private_id), (JanusId::Num(42), Some(7)));
        assert_eq!(publishers[0].display.as_deref(), Some("Alice"));
        assert_eq!(publishers[0].streams[1].kind, "video");
        assert!(publishers[0].streams[1].simulcast);
    }

    #[test]
    fn room_events_are_told_apart() {
        let ev = |v: Value| RoomUpdate::from_data(&v);
        assert_eq!(
            ev(json!({"videoroom": "event", "room": 1, "unpublished": 9})),
            RoomUpdate::Unpublished(JanusId::Num(9))
        );
        assert_eq!(
            ev(json!({"videoroom": "event", "room": 1, "leaving": "abc"})),
            RoomUpdate::Leaving(JanusId::Str("abc".into()))
        );
        assert_eq!(
            ev(json!({"videoroom": "talking", "room": 1, "id": 9, "audio-level-dBov-avg": -20.5})),
            RoomUpdate::Talking {
                id: JanusId::Num(9),
                talking: true
            }
        );
        assert_eq!(
            ev(json!({"videoroom": "stopped-talking", "room": 1, "id": 9})),
            RoomUpdate::Talking {
                id: JanusId::Num(9),
                talking: false
            }
        );
        assert_eq!(
            ev(json!({"videoroom": "event", "error_code": 426, "error": "No such room (1)"})),
            RoomUpdate::Error {
                code: 426,
                reason: "No such room (1)".into()
            }
        );
        assert_eq!(
            ev(json!({"videoroom": "event", "configured": "ok"})),
            RoomUpdate::Other
        );
        assert!(matches!(
            ev(json!({"videoroom": "event", "publishers": [{"id": 3}]})),
            RoomUpdate::Publishers(p) if p[0].id == JanusId::Num(3) && p[0].streams.is_empty()
        ));
    }

    #[test]
    fn subscriber_streams_keep_inactive_m_lines() {
        let data = json!({"videoroom": "updated", "room": 1, "streams": [
            {"type": "video", "active": true, "mindex": 0, "mid": "0", "feed_id": 9, "feed_mid": "1", "feed_display": "Alice"},
            {"type": "audio", "active": false, "mindex": 1, "mid": "1"},
            {"type": "data", "mindex": 2, "mid": "2"}
        ]});
        let RoomUpdate::Streams(s) = RoomUpdate::from_data(&data) else {
            panic!("no streams");
        };
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].feed_id, Some(JanusId::Num(9)));
        assert!(!s[1].active && s[1].feed_id.is_none());
        assert!(s[2].active, "active is the default");
    }

    #[test]
    fn bodies_have_the_documented_shape() {
        let p = JoinParams {
            room: JanusId::Num(1234),
            display: "callcast".into(),
            pin: Some("secret".into()),
        };
        assert_eq!(
            body::join_publisher(&p),
            json!({"request": "join", "ptype": "publisher", "room": 1234, "display": "callcast", "pin": "secret"})
        );
        let want = [Want {
            feed: JanusId::Num(9),
            mid: "1".into(),
        }];
        assert_eq!(
            body::join_subscriber(&p, Some(7), &want),
            json!({"request": "join", "ptype": "subscriber", "room": 1234, "pin": "secret",
                   "private_id": 7, "streams": [{"feed": 9, "mid": "1"}]})
        );
        assert_eq!(
            body::update(&[], &[JanusId::Str("x".into())]),
            json!({"request": "update", "unsubscribe": [{"feed": "x"}]})
        );
    }
}
