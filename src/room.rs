//! Which room a session joins and how: the `room` object of the API and
//! of `callcast join`, checked before anything starts.

use callcast_signalling::RoomAdapter;
use callcast_signalling::callcast::CallcastAdapter;
use callcast_signalling::janus::JanusAdapter;
use callcast_signalling::janus::protocol::JanusId;
use serde::Deserialize;

use crate::session::RoomInfo;

/// Which signalling the room speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdapterKind {
    Janus,
    Callcast,
}

impl AdapterKind {
    pub fn name(self) -> &'static str {
        match self {
            AdapterKind::Janus => "janus",
            AdapterKind::Callcast => "callcast",
        }
    }
}

#[derive(Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomSpec {
    pub adapter: AdapterKind,
    /// `ws://` or `wss://`.
    pub url: String,
    /// A number or a name: Janus rooms are numbers unless they use string
    /// ids; other rooms take the text.
    pub room: JanusId,
    #[serde(default)]
    pub pin: Option<String>,
    /// Janus API token.
    #[serde(default)]
    pub token: Option<String>,
    /// The bot's display name in the room.
    #[serde(default = "default_display")]
    pub display: String,
}

/// Without the PIN and the token, so that it can be logged.
impl std::fmt::Debug for RoomSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoomSpec")
            .field("adapter", &self.adapter)
            .field("url", &self.url)
            .field("room", &self.room)
            .field("pin", &self.pin.as_ref().map(|_| "<set>"))
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("display", &self.display)
            .finish()
    }
}

fn default_display() -> String {
    "callcast".into()
}

impl RoomSpec {
    /// Checks what can be checked before connecting; the error names the
    /// field (relative to the room object) and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let rest = self
            .url
            .strip_prefix("ws://")
            .or_else(|| self.url.strip_prefix("wss://"))
            .ok_or(("url", "must start with ws:// or wss://".to_string()))?;
        let host = rest.split(['/', '?']).next().unwrap_or("");
        if host.is_empty() || host.contains('@') {
            return Err((
                "url",
                "must name a host, without credentials (use token)".into(),
            ));
        }
        if let JanusId::Str(s) = &self.room
            && (s.is_empty() || s.len() > 256)
        {
            return Err(("room", "must be 1 to 256 characters".into()));
        }
        if self.display.trim().is_empty() || self.display.len() > 128 {
            return Err(("display", "must be 1 to 128 characters".into()));
        }
        Ok(())
    }

    /// What the API shows: no PIN, no token.
    pub fn info(&self) -> RoomInfo {
        RoomInfo {
            adapter: self.adapter.name().into(),
            url: self.url.clone(),
            room: self.room.to_string(),
        }
    }

    pub fn adapter(&self) -> Box<dyn RoomAdapter> {
        match self.adapter {
            AdapterKind::Janus => Box::new(JanusAdapter {
                url: self.url.clone(),
                room: self.room.clone(),
                pin: self.pin.clone(),
                token: self.token.clone(),
                display: self.display.clone(),
            }),
            AdapterKind::Callcast => Box::new(CallcastAdapter {
                url: self.url.clone(),
                room: self.room.to_string(),
                display: self.display.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> RoomSpec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_api_shape_parses() {
        let s = spec(
            json!({"adapter": "janus", "url": "ws://sfu:8188", "room": 1234, "pin": "p", "token": "t"}),
        );
        assert_eq!(s.room, JanusId::Num(1234));
        assert_eq!(s.display, "callcast");
        assert!(s.validate().is_ok());
        let info = serde_json::to_string(&s.info()).unwrap();
        assert!(!info.contains("\"p\"") && !info.contains("\"t\""), "{info}");
        let debug = format!("{s:?}");
        assert!(
            !debug.contains("\"p\"") && !debug.contains("\"t\""),
            "{debug}"
        );
    }

    #[test]
    fn bad_rooms_name_the_field() {
        let s = spec(json!({"adapter": "janus", "url": "http://sfu", "room": 1}));
        assert_eq!(s.validate().unwrap_err().0, "url");
        let s = spec(json!({"adapter": "janus", "url": "ws://user:pw@sfu", "room": 1}));
        assert_eq!(s.validate().unwrap_err().0, "url");
        let s = spec(json!({"adapter": "callcast", "url": "ws://x", "room": ""}));
        assert_eq!(s.validate().unwrap_err().0, "room");
        assert!(
            serde_json::from_value::<RoomSpec>(
                json!({"adapter": "zoom", "url": "ws://x", "room": 1})
            )
            .is_err()
        );
    }
}
