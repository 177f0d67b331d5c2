//! The Janus websocket API (`janus-protocol` subprotocol) and the VideoRoom
//! plugin's messages, as far as a receive-only bot needs them.
//!
//! Parsing is lenient where Janus is: unknown fields are ignored and a
//! message callcast does not use parses as `Other`, so that a newer Janus
//! never breaks a session. Ids stay in the form Janus sent them (a number,
//! or a string with `string_ids`), so they go back the same way.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const SUBPROTOCOL: &str = "janus-protocol";
pub const VIDEOROOM: &str = "janus.plugin.videoroom";

/// A publisher (feed) or room id: a number, or a string when the room
/// uses `string_ids`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum JanusId {
    Num(u64),
    Str(String),
}

impl From<&str> for JanusId {
    /// A number if it reads as one.
    fn from(s: &str) -> Self {
        s.parse()
            .map(JanusId::Num)
            .unwrap_or_else(|_| JanusId::Str(s.to_string()))
    }
}

impl std::fmt::Display for JanusId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JanusId::Num(n) => write!(f, "{n}"),
            JanusId::Str(s) => f.write_str(s),
        }
    }
}

/// An SDP as Janus carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jsep {
    #[serde(rename = "type")]
    pub kind: String,
    pub sdp: String,
}

/// A message from Janus, by its `janus` field.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// Reply to `create`/`attach` (`data.id`) or to a synchronous request.
    Success {
        transaction: Option<String>,
        data: Value,
    },
    Ack {
        transaction: Option<String>,
    },
    /// A plugin event; `transaction` is set when it answers a request.
    Event {
        transaction: Option<String>,
        sender: Option<u64>,
        data: Value,
        jsep: Option<Jsep>,
    },
    Error {
        transaction: Option<String>,
        code: i64,
        reason: String,
    },
    /// A candidate Janus trickles (rare: Janus usually puts its candidates
    /// in the SDP). `None` is end-of-candidates.
    Trickle {
        sender: Option<u64>,
        candidate: Option<(u32, String)>,
    },
    WebrtcUp {
        sender: Option<u64>,
    },
    Hangup {
        sender: Option<u64>,
        reason: String,
    },
    /// The handle is gone.
    Detached {
        sender: Option<u64>,
    },
    /// The session timed out on the server (missed keepalives).
    Timeout,
    Other(String),
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[error("not a Janus message: {0}")]
pub struct ParseError(String);

impl Incoming {
    pub fn parse(text: &str) -> Result<Incoming, ParseError> {
        let v: Value = serde_json::from_str(text).map_err(|e| ParseError(e.to_string()))?;
        let kind = v
            .get("janus")
            .and_then(Value::as_str)
            .ok_or_else(|| ParseError("no \"janus\" field".into()))?;
        let transaction = v
            .get("transaction")
            .and_then(Value::as_str)
            .map(str::to_string);
        let sender = v.get("sender").and_then(Value::as_u64);
        Ok(match kind {
            // `data` for core requests, `plugindata.data` for synchronous
            // plugin requests.
            "success" => Incoming::Success {
                transaction,
                data: v
                    .get("data")
                    .or_else(|| v.pointer("/plugindata/data"))
                    .cloned()
                    .unwrap_or(Value::Null),
            },
            "ack" => Incoming::Ack { transaction },
            "event" => Incoming::Event {
                transaction,
                sender,
                data: v
                    .pointer("/plugindata/data")
                    .cloned()
                    .unwrap_or(Value::Null),
                jsep: v
                    .get("jsep")
                    .and_then(|j| serde_json::from_value(j.clone()).ok()),
            },
            "error" => Incoming::Error {
                transaction,
                code: v
                    .pointer("/error/code")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
                reason: v
                    .pointer("/error/reason")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error")
                    .to_string(),
            },
            "trickle" => {
                let c = v.get("candidate");
                let completed = c
                    .and_then(|c| c.get("completed"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let candidate = c.filter(|_| !completed).and_then(|c| {
                    Some((
                        u32::try_from(c.get("sdpMLineIndex")?.as_u64()?).ok()?,
                        c.get("candidate")?.as_str()?.to_string(),
                    ))
                });
                Incoming::Trickle { sender, candidate }
            }
            "webrtcup" => Incoming::WebrtcUp { sender },
            "hangup" => Incoming::Hangup {
                sender,
                reason: v
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            },
            "detached" => Incoming::Detached { sender },
            "timeout" => Incoming::Timeout,
            other => Incoming::Other(other.to_string()),
        })
    }
}

/// Requests to Janus itself. Each gets the caller's transaction id.
pub mod request {
    use super::*;

    pub fn create(transaction: &str, token: Option<&str>) -> Value {
        with_token(
            json!({"janus": "create", "transaction": transaction}),
            token,
        )
    }

    pub fn attach(transaction: &str, session: u64, token: Option<&str>) -> Value {
        with_token(
            json!({"janus": "attach", "transaction": transaction, "session_id": session, "plugin": VIDEOROOM}),
            token,
        )
    }

    pub fn keepalive(transaction: &str, session: u64, token: Option<&str>) -> Value {
        with_token(
            json!({"janus": "keepalive", "transaction": transaction, "session_id": session}),
            token,
        )
    }

    /// A plugin request, with an SDP when it carries one.
    pub fn message(
        transaction: &str,
        session: u64,
        handle: u64,
        body: Value,
        jsep: Option<&Jsep>,
        token: Option<&str>,
    ) -> Value {
        let mut v = json!({
            "janus": "message",
            "transaction": transaction,
            "session_id": session,
            "handle_id": handle,
            "body": body,
        });
        if let Some(jsep) = jsep {
            v["jsep"] = json!(jsep);
        }
        with_token(v, token)
    }

    /// A local ICE candidate; `None` says gathering is complete.
    pub fn trickle(
        transaction: &str,
        session: u64,
        handle: u64,
        candidate: Option<(u32, &str)>,
        token: Option<&str>,
    ) -> Value {
        let candidate = match candidate {
            Some((index, c)) => json!({"sdpMLineIndex": index, "candidate": c}),
            None => json!({"completed": true}),
        };
        with_token(
            json!({"janus": "trickle", "transaction": transaction, "session_id": session, "handle_id": handle, "candidate": candidate}),
            token,
        )
    }

    pub fn destroy(transaction: &str, session: u64, token: Option<&str>) -> Value {
        with_token(
            json!({"janus": "destroy", "transaction": transaction, "session_id": session}),
            token,
        )
    }

    fn with_token(mut v: Value, token: Option<&str>) -> Value {
        if let Some(token) = token {
            v["token"] = json!(token);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_matched_by_transaction() {
        let ok = Incoming::parse(
            r#"{"janus":"success","transaction":"t1","data":{"id":8114327419420045}}"#,
        )
        .unwrap();
        assert_eq!(
            ok,
            Incoming::Success {
                transaction: Some("t1".into()),
                data: json!({"id": 8114327419420045u64})
            }
        );
        let err = Incoming::parse(
            r#"{"janus":"error","transaction":"t2","error":{"code":403,"reason":"Unauthorized request (wrong or missing secret/token)"}}"#,
        )
        .unwrap();
        assert!(matches!(err, Incoming::Error { code: 403, .. }));
    }

    #[test]
    fn plugin_events_carry_data_and_jsep() {
        let text = r#"{"janus":"event","session_id":1,"transaction":"t3","sender":77,
            "plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"attached","room":1234}},
            "jsep":{"type":"offer","sdp":"v=0\r\n"}}"#;
        let Incoming::Event {
            transaction,
            sender,
            data,
            jsep,
        } = Incoming::parse(text).unwrap()
        else {
            panic!("not an event");
        };
        assert_eq!((transaction.as_deref(), sender), (Some("t3"), Some(77)));
        assert_eq!(data["videoroom"], "attached");
        assert_eq!(jsep.unwrap().kind, "offer");
    }

    #[test]
    fn trickles_hangups_and_unknown_messages() {
        assert_eq!(
            Incoming::parse(r#"{"janus":"trickle","sender":5,"candidate":{"sdpMLineIndex":0,"candidate":"candidate:1 1 udp 1 10.0.0.1 5000 typ host"}}"#).unwrap(),
            Incoming::Trickle {
                sender: Some(5),
                candidate: Some((0, "candidate:1 1 udp 1 10.0.0.1 5000 typ host".into()))
            }
        );
        assert_eq!(
            Incoming::parse(r#"{"janus":"trickle","sender":5,"candidate":{"completed":true}}"#)
                .unwrap(),
            Incoming::Trickle {
                sender: Some(5),
                candidate: None
            }
        );
        assert_eq!(
            Incoming::parse(r#"{"janus":"hangup","sender":5,"reason":"DTLS alert"}"#).unwrap(),
            Incoming::Hangup {
                sender: Some(5),
                reason: "DTLS alert".into()
            }
        );
        assert_eq!(
            Incoming::parse(r#"{"janus":"slowlink","sender":5,"uplink":false}"#).unwrap(),
            Incoming::Other("slowlink".into())
        );
        assert!(Incoming::parse("[]").is_err());
        assert!(Incoming::parse("{").is_err());
    }

    #[test]
    fn requests_name_session_handle_and_token() {
        assert_eq!(
            request::attach("t", 1, Some("tok")),
            json!({"janus": "attach", "transaction": "t", "session_id": 1, "plugin": VIDEOROOM, "token": "tok"})
        );
        let jsep = Jsep {
            kind: "answer".into(),
            sdp: "v=0".into(),
        };
        let m = request::message("t", 1, 2, json!({"request": "start"}), Some(&jsep), None);
        assert_eq!(m["handle_id"], 2);
        assert_eq!(m["jsep"], json!({"type": "answer", "sdp": "v=0"}));
        assert!(m.get("token").is_none());
        assert_eq!(
            request::trickle("t", 1, 2, None, None)["candidate"],
            json!({"completed": true})
        );
    }

    #[test]
    fn ids_keep_their_form() {
        let n: JanusId = serde_json::from_value(json!(1234)).unwrap();
        let s: JanusId = serde_json::from_value(json!("room-a")).unwrap();
        assert_eq!(serde_json::to_value(&n).unwrap(), json!(1234));
        assert_eq!(serde_json::to_value(&s).unwrap(), json!("room-a"));
        assert_eq!(format!("{n}/{s}"), "1234/room-a");
        assert_eq!(JanusId::from("1234"), n);
        assert_eq!(JanusId::from("room-a"), s);
    }
}
