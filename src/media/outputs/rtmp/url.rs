//! RTMP URLs and the state of one URL's connection: pure rules, no
//! GStreamer.

use std::time::Duration;

use serde::Serialize;

/// Checks an `rtmp://` or `rtmps://` URL: a host, an application and a
/// stream key.
pub fn check(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("rtmp://")
        .or_else(|| url.strip_prefix("rtmps://"))
        .ok_or("must start with rtmp:// or rtmps://")?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces".into());
    }
    let (authority, path) = rest
        .split_once('/')
        .ok_or("must name an application and a stream: rtmp://host/app/stream")?;
    let host = match authority.rsplit_once(':') {
        Some((host, port)) => {
            port.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or("has a bad port")?;
            host
        }
        None => authority,
    };
    if host.is_empty() || host.contains('@') {
        return Err("must name a host (credentials go in the stream key)".into());
    }
    let path = path.split('?').next().unwrap_or("");
    match path.rsplit_once('/') {
        Some((app, stream)) if !app.is_empty() && !stream.is_empty() => Ok(()),
        _ => Err("must name an application and a stream: rtmp://host/app/stream".into()),
    }
}

/// The URL as it may be shown: the stream key (the last path segment) and
/// any query are masked but for the key's last three characters, enough
/// to tell keys apart.
pub fn redact(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, _)) => (base, "?…"),
        None => (url, ""),
    };
    match base.rsplit_once('/') {
        Some((head, key)) if !head.ends_with('/') => {
            let chars: Vec<char> = key.chars().collect();
            let tail: String = if chars.len() >= 10 {
                chars[chars.len() - 3..].iter().collect()
            } else {
                String::new()
            };
            format!("{head}/…{tail}{query}")
        }
        _ => format!("{base}{query}"),
    }
}

/// `text` (an error from the server or the sink) with `url` and its
/// stream key masked, should the server have echoed them.
pub fn scrub(text: &str, url: &str) -> String {
    let base = url.split('?').next().unwrap_or(url);
    let key = base.rsplit('/').next().unwrap_or("");
    let mut out = text.replace(url, &redact(url));
    if key.len() >= 4 {
        out = out.replace(key, "…");
    }
    out
}

/// How long to wait before the `attempt`th reconnection (1-based): half a
/// second, doubling up to ten.
pub fn backoff(attempt: u32) -> Duration {
    let ms = 500u64.saturating_mul(1 << attempt.saturating_sub(1).min(5));
    Duration::from_millis(ms.min(10_000))
}

/// One URL's connection, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LinkState {
    /// Dialling, not yet sending.
    Connecting,
    /// The server takes our stream.
    Live,
    /// Lost or refused; dialling again after a backoff.
    Reconnecting { attempt: u32, reason: String },
}

impl LinkState {
    /// The connection failed: the next attempt and how long to wait for it.
    pub fn failed(&self, reason: &str) -> (LinkState, Duration) {
        let attempt = match self {
            LinkState::Reconnecting { attempt, .. } => attempt + 1,
            _ => 1,
        };
        (
            LinkState::Reconnecting {
                attempt,
                reason: reason.to_string(),
            },
            backoff(attempt),
        )
    }

    /// Bytes went out since the last look.
    pub fn sending(&self) -> LinkState {
        LinkState::Live
    }
}

/// The output's state from its URLs': live while any URL is, reconnecting
/// while none is and some are retrying, connecting otherwise.
pub fn overall<'a>(links: impl IntoIterator<Item = &'a LinkState>) -> LinkState {
    let mut worst = LinkState::Connecting;
    for link in links {
        match link {
            LinkState::Live => return LinkState::Live,
            LinkState::Reconnecting { .. } => worst = link.clone(),
            LinkState::Connecting => {}
        }
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked() {
        assert!(check("rtmp://127.0.0.1:1935/live/key").is_ok());
        assert!(check("rtmps://live.example.com/app/stream?x=1").is_ok());
        assert!(check("rtmp://h/app/sub/key").is_ok());
        for bad in [
            "http://h/app/key",
            "rtmp://",
            "rtmp://h",
            "rtmp://h/app",
            "rtmp://h/app/",
            "rtmp:///app/key",
            "rtmp://h:0/app/key",
            "rtmp://h:99999/app/key",
            "rtmp://user:pw@h/app/key",
            "rtmp://h/app/ke y",
        ] {
            assert!(check(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn stream_keys_are_masked() {
        assert_eq!(
            redact("rtmp://h:1935/live/sk_live_0123456789abc"),
            "rtmp://h:1935/live/…abc"
        );
        assert_eq!(redact("rtmp://h/live/short"), "rtmp://h/live/…");
        assert_eq!(
            redact("rtmp://h/live/abcdefghijkl?token=secret"),
            "rtmp://h/live/…jkl?…"
        );
        assert!(!redact("rtmp://h/live/topsecretkey1").contains("topsecret"));
    }

    #[test]
    fn echoed_keys_are_scrubbed() {
        let url = "rtmp://h/live/topsecretkey1";
        assert_eq!(
            scrub(
                "publish of topsecretkey1 refused by rtmp://h/live/topsecretkey1",
                url
            ),
            "publish of … refused by rtmp://h/live/…ey1"
        );
    }

    #[test]
    fn backoff_doubles_up_to_ten_seconds() {
        let waits: Vec<u64> = (1..=8).map(|a| backoff(a).as_millis() as u64).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
    }

    #[test]
    fn failures_count_attempts_until_live() {
        let (s, wait) = LinkState::Connecting.failed("refused");
        assert_eq!(wait, backoff(1));
        let (s, wait) = s.failed("refused");
        assert_eq!(wait, backoff(2));
        assert!(matches!(s, LinkState::Reconnecting { attempt: 2, .. }));
        let s = s.sending();
        assert_eq!(
            s.failed("lost").0,
            LinkState::Reconnecting {
                attempt: 1,
                reason: "lost".into()
            }
        );
    }

    #[test]
    fn overall_state_prefers_live() {
        let r = LinkState::Reconnecting {
            attempt: 1,
            reason: "x".into(),
        };
        assert_eq!(overall([&r, &LinkState::Live]), LinkState::Live);
        assert_eq!(overall([&LinkState::Connecting, &r]), r);
        assert_eq!(overall([&LinkState::Connecting]), LinkState::Connecting);
    }
}
