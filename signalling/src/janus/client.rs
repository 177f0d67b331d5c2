//! One websocket to Janus: requests matched to their replies by
//! transaction, everything else handed out as events.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::protocol::{Incoming, Jsep, SUBPROTOCOL, request};
use crate::adapter::AdapterError;

/// How long Janus gets to answer a request.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Incoming>>>>;

/// The sending half; cheap to clone. Dropping every clone closes the socket.
#[derive(Clone)]
pub struct JanusClient {
    out: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next: Arc<AtomicU64>,
    token: Option<String>,
}

/// The reply to a plugin request: the event's data and its SDP, if any.
#[derive(Debug, Clone)]
pub struct PluginReply {
    pub data: Value,
    pub jsep: Option<Jsep>,
}

impl JanusClient {
    /// Connects to `url` with the `janus-protocol` subprotocol. Events that
    /// answer no request arrive on the returned receiver, which ends when
    /// the connection does.
    pub async fn connect(
        url: &str,
        token: Option<String>,
    ) -> Result<(JanusClient, mpsc::UnboundedReceiver<Incoming>), AdapterError> {
        let connect_err = |reason: String| AdapterError::Connect {
            url: url.to_string(),
            reason,
        };
        let mut req = url
            .into_client_request()
            .map_err(|e| connect_err(e.to_string()))?;
        req.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(SUBPROTOCOL),
        );
        let (ws, _) = tokio_tungstenite::connect_async(req)
            .await
            .map_err(|e| connect_err(e.to_string()))?;
        let (mut sink, mut stream) = ws.split();

        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(msg) = out_rx.recv().await {
                if sink.send(msg).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });

        let pending: Pending = Arc::default();
        let (events, events_rx) = mpsc::unbounded_channel();
        let waiting = pending.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = stream.next().await {
                let text = match frame {
                    Message::Text(t) => t,
                    Message::Close(_) => break,
                    _ => continue,
                };
                let msg = match Incoming::parse(&text) {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "ignoring a frame from Janus");
                        continue;
                    }
                };
                if let Some(waiter) = reply_to(&waiting, &msg) {
                    let _ = waiter.send(msg);
                } else if !matches!(msg, Incoming::Ack { .. }) && events.send(msg).is_err() {
                    break;
                }
            }
            // Wake every waiter: their requests will not be answered.
            waiting.lock().unwrap().clear();
        });

        Ok((
            JanusClient {
                out,
                pending,
                next: Arc::new(AtomicU64::new(1)),
                token,
            },
            events_rx,
        ))
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn transaction(&self) -> String {
        format!("cc{}", self.next.fetch_add(1, Ordering::Relaxed))
    }

    fn send(&self, v: &Value) -> Result<(), AdapterError> {
        self.out
            .send(Message::text(v.to_string()))
            .map_err(|_| AdapterError::ConnectionLost("the Janus connection is closed".into()))
    }

    /// Sends a request built for transaction `t` and waits for its reply:
    /// `success`, the plugin `event`, or `error`.
    async fn call(&self, build: impl FnOnce(&str) -> Value) -> Result<Incoming, AdapterError> {
        let t = self.transaction();
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(t.clone(), tx);
        if let Err(e) = self.send(&build(&t)) {
            self.pending.lock().unwrap().remove(&t);
            return Err(e);
        }
        let reply = tokio::time::timeout(REPLY_TIMEOUT, rx).await;
        self.pending.lock().unwrap().remove(&t);
        match reply {
            Ok(Ok(Incoming::Error { code, reason, .. })) => Err(AdapterError::Refused(format!(
                "Janus error {code}: {reason}"
            ))),
            Ok(Ok(msg)) => Ok(msg),
            Ok(Err(_)) => Err(AdapterError::ConnectionLost(
                "Janus closed the connection".into(),
            )),
            Err(_) => Err(AdapterError::Protocol(format!(
                "Janus did not answer within {REPLY_TIMEOUT:?}"
            ))),
        }
    }

    /// `create`: a new Janus session; returns its id.
    pub async fn create(&self) -> Result<u64, AdapterError> {
        let token = self.token.clone();
        let reply = self.call(|t| request::create(t, token.as_deref())).await?;
        reply_id(reply)
    }

    /// `attach` to the VideoRoom plugin; returns the handle id.
    pub async fn attach(&self, session: u64) -> Result<u64, AdapterError> {
        let token = self.token.clone();
        let reply = self
            .call(|t| request::attach(t, session, token.as_deref()))
            .await?;
        reply_id(reply)
    }

    /// A plugin request on `handle`; returns the plugin's answer. A plugin
    /// error (`error_code` in the data) is an error here too.
    pub async fn message(
        &self,
        session: u64,
        handle: u64,
        body: Value,
        jsep: Option<&Jsep>,
    ) -> Result<PluginReply, AdapterError> {
        let token = self.token.clone();
        let reply = self
            .call(|t| request::message(t, session, handle, body, jsep, token.as_deref()))
            .await?;
        let (data, jsep) = match reply {
            Incoming::Event { data, jsep, .. } => (data, jsep),
            // Synchronous plugin requests answer with `success` and
            // `plugindata` in `data`'s place.
            Incoming::Success { data, .. } => (data, None),
            other => {
                return Err(AdapterError::Protocol(format!(
                    "unexpected reply {other:?}"
                )));
            }
        };
        if let Some(code) = data.get("error_code").and_then(Value::as_i64) {
            let reason = data.get("error").and_then(Value::as_str).unwrap_or("");
            return Err(AdapterError::Refused(format!(
                "VideoRoom error {code}: {reason}"
            )));
        }
        Ok(PluginReply { data, jsep })
    }

    /// Trickles a local candidate (or the end of them); not waited for.
    pub fn trickle(
        &self,
        session: u64,
        handle: u64,
        candidate: Option<(u32, &str)>,
    ) -> Result<(), AdapterError> {
        let t = self.transaction();
        self.send(&request::trickle(
            &t,
            session,
            handle,
            candidate,
            self.token.as_deref(),
        ))
    }

    /// Keeps `session` alive (Janus drops it after its session timeout).
    pub fn keepalive(&self, session: u64) -> Result<(), AdapterError> {
        let t = self.transaction();
        self.send(&request::keepalive(&t, session, self.token.as_deref()))
    }

    /// Ends `session` and every handle in it; not waited for.
    pub fn destroy(&self, session: u64) {
        let t = self.transaction();
        let _ = self.send(&request::destroy(&t, session, self.token.as_deref()));
    }
}

/// The waiter a message answers, if any. Acks are not answers: the plugin
/// event that follows is.
fn reply_to(pending: &Pending, msg: &Incoming) -> Option<oneshot::Sender<Incoming>> {
    let t = match msg {
        Incoming::Success { transaction, .. }
        | Incoming::Error { transaction, .. }
        | Incoming::Event { transaction, .. } => transaction.as_ref()?,
        _ => return None,
    };
    pending.lock().unwrap().remove(t)
}

fn reply_id(reply: Incoming) -> Result<u64, AdapterError> {
    match reply {
        Incoming::Success { data, .. } => data
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| AdapterError::Protocol("success without an id".into())),
        other => Err(AdapterError::Protocol(format!(
            "expected success, got {other:?}"
        ))),
    }
}
