//! A websocket connection to a callcast room, speaking typed messages.
//! Used by the recorder adapter and by publishers (synthetic participants).

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::adapter::AdapterError;
use crate::protocol::{ClientMessage, PROTOCOL_VERSION, ParticipantInfo, Role, ServerMessage};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the room said in `welcome`.
#[derive(Debug, Clone)]
pub struct Welcome {
    pub participant_id: String,
    pub participants: Vec<ParticipantInfo>,
}

pub struct RoomSender {
    sink: SplitSink<Ws, Message>,
}

pub struct RoomReceiver {
    stream: SplitStream<Ws>,
}

/// Connects to `url`, joins `room` and waits for the welcome.
pub async fn join(
    url: &str,
    room: &str,
    display: &str,
    role: Role,
) -> Result<(RoomSender, RoomReceiver, Welcome), AdapterError> {
    let (ws, _) =
        tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| AdapterError::Connect {
                url: url.to_string(),
                reason: e.to_string(),
            })?;
    let (sink, stream) = ws.split();
    let mut tx = RoomSender { sink };
    let mut rx = RoomReceiver { stream };
    tx.send(&ClientMessage::Join {
        protocol: PROTOCOL_VERSION,
        room: room.to_string(),
        display: display.to_string(),
        role,
    })
    .await?;
    match rx.recv().await? {
        Some(ServerMessage::Welcome {
            protocol,
            participant_id,
            participants,
            ..
        }) if protocol == PROTOCOL_VERSION => Ok((
            tx,
            rx,
            Welcome {
                participant_id,
                participants,
            },
        )),
        Some(ServerMessage::Error { code, message }) => {
            Err(AdapterError::Refused(format!("{code:?}: {message}")))
        }
        Some(other) => Err(AdapterError::Protocol(format!(
            "expected welcome, got {other:?}"
        ))),
        None => Err(AdapterError::ConnectionLost("closed before welcome".into())),
    }
}

impl RoomSender {
    pub async fn send(&mut self, msg: &ClientMessage) -> Result<(), AdapterError> {
        self.sink
            .send(Message::text(msg.to_json()))
            .await
            .map_err(|e| AdapterError::ConnectionLost(e.to_string()))
    }

    /// Sends a close frame; errors are moot at this point.
    pub async fn close(mut self) {
        let _ = self.sink.close().await;
    }
}

impl RoomReceiver {
    /// The next message from the room; `Ok(None)` when the room closed the
    /// connection. A frame that does not parse is a protocol error.
    pub async fn recv(&mut self) -> Result<Option<ServerMessage>, AdapterError> {
        while let Some(frame) = self.stream.next().await {
            let frame = frame.map_err(|e| AdapterError::ConnectionLost(e.to_string()))?;
            match frame {
                Message::Text(text) => {
                    return ServerMessage::from_json(&text)
                        .map(Some)
                        .map_err(|e| AdapterError::Protocol(format!("bad message: {e}")));
                }
                Message::Close(_) => return Ok(None),
                // Pings are answered by tungstenite itself.
                _ => continue,
            }
        }
        Ok(None)
    }
}
