//! Who may call the API.
//!
//! With API tokens configured (`CALLCAST_API_TOKEN`, comma-separated, or
//! `api.tokens` in the config file), every route but `/healthz` needs one:
//! `Authorization: Bearer <token>`, or HTTP Basic with the token as the
//! password, which is what a browser sends for the web page once asked.
//! Tokens are compared by their SHA-256 digests in constant time, against
//! every configured token, so neither timing nor length tells anything.
//!
//! A WHEP viewer gets a token of its own: short-lived, for one session,
//! valid only on that session's WHEP routes (`POST .../whep-token` hands
//! one out). It is an HMAC of the session and the expiry under a key
//! drawn at start, so nothing is stored and a restart revokes them all.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::ApiState;
use super::error::ApiError;
use crate::config::{ApiConfig, Secret};

type HmacSha256 = hmac::Hmac<Sha256>;

/// The API's credentials.
#[derive(Clone)]
pub struct Auth {
    /// SHA-256 of each API token.
    tokens: Vec<[u8; 32]>,
    /// Signs viewer tokens.
    viewer_key: [u8; 32],
    viewer_ttl: Duration,
}

impl Default for Auth {
    /// No tokens: the API is open (for a server on loopback).
    fn default() -> Self {
        let ttl = ApiConfig::default().viewer_token_ttl_s;
        Auth::new(&[], Duration::from_secs(ttl))
    }
}

/// A viewer token handed out for one session.
#[derive(serde::Serialize, schemars::JsonSchema)]
pub struct ViewerToken {
    /// `Authorization: Bearer <token>` on this session's WHEP routes.
    pub token: String,
    /// Seconds it stays valid.
    pub expires_in_s: u64,
}

impl Auth {
    pub fn new(tokens: &[Secret], viewer_ttl: Duration) -> Self {
        let mut viewer_key = [0u8; 32];
        getrandom::fill(&mut viewer_key).expect("the OS gives random bytes");
        Auth {
            tokens: tokens.iter().map(|t| digest(t.expose())).collect(),
            viewer_key,
            viewer_ttl,
        }
    }

    /// Whether any token is required at all.
    pub fn enabled(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// Whether `presented` is one of the API tokens.
    pub fn is_api_token(&self, presented: &str) -> bool {
        let d = digest(presented);
        // Every token is compared, a match or not.
        self.tokens
            .iter()
            .fold(subtle::Choice::from(0), |found, t| found | t.ct_eq(&d))
            .into()
    }

    /// A token for `session`'s WHEP routes, valid from `now` for the
    /// configured time.
    pub fn viewer_token(&self, session: &str, now: SystemTime) -> ViewerToken {
        let expiry = unix(now) + self.viewer_ttl.as_secs();
        let mac = self.viewer_mac(session, expiry).finalize().into_bytes();
        ViewerToken {
            token: format!("{expiry}.{}", URL_SAFE_NO_PAD.encode(mac)),
            expires_in_s: self.viewer_ttl.as_secs(),
        }
    }

    /// Whether `presented` is a viewer token for `session`, still valid.
    pub fn is_viewer_token(&self, session: &str, presented: &str, now: SystemTime) -> bool {
        let Some((expiry, mac)) = presented.split_once('.') else {
            return false;
        };
        let (Ok(expiry), Ok(mac)) = (expiry.parse::<u64>(), URL_SAFE_NO_PAD.decode(mac)) else {
            return false;
        };
        unix(now) < expiry && self.viewer_mac(session, expiry).verify_slice(&mac).is_ok()
    }

    fn viewer_mac(&self, session: &str, expiry: u64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.viewer_key).expect("any key length");
        // The zero bytes keep session and expiry apart.
        mac.update(b"callcast whep\0");
        mac.update(session.as_bytes());
        mac.update(b"\0");
        mac.update(expiry.to_string().as_bytes());
        mac
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The token a request presents: a bearer token, or a Basic password.
fn presented(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(rest.to_string())
    } else if scheme.eq_ignore_ascii_case("basic") {
        let pair = String::from_utf8(STANDARD.decode(rest).ok()?).ok()?;
        Some(pair.split_once(':')?.1.to_string())
    } else {
        None
    }
}

/// The session whose WHEP routes `path` is (`/v1/sessions/{id}/whep` or
/// `.../whep/{viewer}`): where a viewer token is good.
fn whep_session(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/v1/sessions/")?;
    let (id, rest) = rest.split_once('/')?;
    let viewer = rest.strip_prefix("whep")?;
    let ok = viewer.is_empty() || viewer.strip_prefix('/').is_some_and(|v| !v.contains('/'));
    ok.then_some(id)
}

/// Lets a request through if it carries a token good for its route.
pub async fn require_token(State(state): State<ApiState>, req: Request, next: Next) -> Response {
    let auth = &state.auth;
    let path = req.uri().path();
    if !auth.enabled() || path == "/healthz" {
        return next.run(req).await;
    }
    let token = presented(req.headers());
    let allowed = token.as_deref().is_some_and(|t| {
        auth.is_api_token(t)
            || whep_session(path).is_some_and(|s| auth.is_viewer_token(s, t, SystemTime::now()))
    });
    if allowed {
        return next.run(req).await;
    }
    let message = if token.is_some() {
        "the token is not valid here"
    } else {
        "a token is required: Authorization: Bearer <token>"
    };
    // API clients are told to bring a bearer token; a browser, which
    // knows no bearer scheme, asks its user and sends the token as a Basic
    // password from then on (the web page works that way).
    let mut resp = ApiError::Unauthorized(message).into_response();
    for challenge in [
        "Bearer realm=\"callcast\"",
        "Basic realm=\"callcast\", charset=\"UTF-8\"",
    ] {
        resp.headers_mut().append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(tokens: &[&str]) -> Auth {
        let tokens: Vec<Secret> = tokens.iter().map(|t| Secret::new(*t)).collect();
        Auth::new(&tokens, Duration::from_secs(60))
    }

    #[test]
    fn api_tokens_match_exactly() {
        let a = auth(&["alpha", "beta"]);
        assert!(a.enabled());
        assert!(a.is_api_token("alpha") && a.is_api_token("beta"));
        for wrong in ["", "alph", "alphaa", "ALPHA", "gamma"] {
            assert!(!a.is_api_token(wrong), "{wrong}");
        }
        assert!(!Auth::default().enabled());
        assert!(!Auth::default().is_api_token(""));
    }

    #[test]
    fn viewer_tokens_are_for_one_session_and_expire() {
        let a = auth(&["alpha"]);
        let now = SystemTime::now();
        let t = a.viewer_token("s1", now).token;
        assert!(a.is_viewer_token("s1", &t, now));
        assert!(a.is_viewer_token("s1", &t, now + Duration::from_secs(59)));
        assert!(!a.is_viewer_token("s1", &t, now + Duration::from_secs(61)));
        assert!(!a.is_viewer_token("s2", &t, now));
        // Another server (another key) does not take it, nor a longer life.
        assert!(!auth(&["alpha"]).is_viewer_token("s1", &t, now));
        let (expiry, mac) = t.split_once('.').unwrap();
        let later = format!("{}.{mac}", expiry.parse::<u64>().unwrap() + 3600);
        assert!(!a.is_viewer_token("s1", &later, now));
        for junk in ["", ".", "1.", "x.y", "99999999999.AAAA"] {
            assert!(!a.is_viewer_token("s1", junk, now), "{junk}");
        }
        // A viewer token is no API token.
        assert!(!a.is_api_token(&t));
    }

    #[test]
    fn bearer_and_basic_credentials_are_read() {
        let mut h = HeaderMap::new();
        assert_eq!(presented(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(presented(&h).as_deref(), Some("abc"));
        let basic = format!("Basic {}", STANDARD.encode("anyone:abc:def"));
        h.insert(header::AUTHORIZATION, basic.parse().unwrap());
        assert_eq!(presented(&h).as_deref(), Some("abc:def"));
        h.insert(header::AUTHORIZATION, "Digest abc".parse().unwrap());
        assert_eq!(presented(&h), None);
    }

    #[test]
    fn viewer_tokens_are_good_on_the_whep_routes_only() {
        assert_eq!(whep_session("/v1/sessions/s1/whep"), Some("s1"));
        assert_eq!(whep_session("/v1/sessions/s1/whep/viewer-1"), Some("s1"));
        for other in [
            "/v1/sessions/s1",
            "/v1/sessions/s1/whep-token",
            "/v1/sessions/s1/whep/v/x",
            "/v1/sessions/s1/outputs",
            "/metrics",
        ] {
            assert_eq!(whep_session(other), None, "{other}");
        }
    }
}
