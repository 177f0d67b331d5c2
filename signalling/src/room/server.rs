//! The websocket side of the demo room: one task per connection, one task
//! that owns [`Rooms`] and applies every message in arrival order.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::state::{ConnId, Delivery, Rooms};
use crate::protocol::{ClientMessage, ErrorCode, ServerMessage};

/// Largest text frame the room accepts (SDP offers are a few KiB).
const MAX_MESSAGE_BYTES: usize = 256 * 1024;

enum Input {
    Connected(ConnId, mpsc::UnboundedSender<ServerMessage>),
    Message(ConnId, ClientMessage),
    BadFrame(ConnId, String),
    Disconnected(ConnId),
}

/// A running demo room server.
pub struct RoomServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RoomServer {
    /// Listens on `addr` (port 0 picks a free one).
    pub async fn bind(addr: SocketAddr) -> io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (shutdown, shutdown_rx) = oneshot::channel();
        let task = tokio::spawn(serve(listener, shutdown_rx));
        tracing::info!(%addr, "demo room listening");
        Ok(RoomServer {
            addr,
            shutdown: Some(shutdown),
            task,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL clients connect to.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Stops accepting and closes every connection.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for RoomServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, mut shutdown: oneshot::Receiver<()>) {
    let (input_tx, input_rx) = mpsc::unbounded_channel();
    let room = tokio::spawn(run_rooms(input_rx));
    let mut next_conn: ConnId = 0;
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    next_conn += 1;
                    connections.spawn(connection(next_conn, stream, peer, input_tx.clone()));
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
        }
    }
    connections.shutdown().await;
    drop(input_tx);
    let _ = room.await;
}

/// Owns the room state; the only place it changes.
async fn run_rooms(mut input: mpsc::UnboundedReceiver<Input>) {
    let mut rooms = Rooms::default();
    let mut outboxes: HashMap<ConnId, mpsc::UnboundedSender<ServerMessage>> = HashMap::new();
    let deliver = |outboxes: &HashMap<ConnId, mpsc::UnboundedSender<ServerMessage>>,
                   deliveries: Vec<Delivery>| {
        for d in deliveries {
            if let Some(tx) = outboxes.get(&d.to) {
                let _ = tx.send(d.msg);
            }
        }
    };
    while let Some(event) = input.recv().await {
        match event {
            Input::Connected(conn, tx) => {
                outboxes.insert(conn, tx);
            }
            Input::Message(conn, msg) => {
                let outcome = rooms.handle(conn, msg);
                deliver(&outboxes, outcome.deliveries);
                if outcome.close {
                    // Dropping the outbox ends the writer, which closes the socket.
                    outboxes.remove(&conn);
                }
            }
            Input::BadFrame(conn, error) => deliver(
                &outboxes,
                vec![Delivery {
                    to: conn,
                    msg: ServerMessage::error(ErrorCode::BadMessage, error),
                }],
            ),
            Input::Disconnected(conn) => {
                outboxes.remove(&conn);
                deliver(&outboxes, rooms.disconnect(conn));
            }
        }
    }
}

async fn connection(
    conn: ConnId,
    stream: TcpStream,
    peer: SocketAddr,
    input: mpsc::UnboundedSender<Input>,
) {
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_BYTES))
        .max_frame_size(Some(MAX_MESSAGE_BYTES));
    let ws = match tokio_tungstenite::accept_async_with_config(stream, Some(config)).await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!(%peer, error = %e, "websocket handshake failed");
            return;
        }
    };
    let (mut sink, mut frames) = ws.split();
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<ServerMessage>();
    if input.send(Input::Connected(conn, out_tx)).is_err() {
        return;
    }
    loop {
        tokio::select! {
            out = out_rx.recv() => match out {
                Some(msg) => {
                    if sink.send(Message::text(msg.to_json())).await.is_err() {
                        break;
                    }
                }
                None => {
                    let _ = sink.close().await;
                    break;
                }
            },
            frame = frames.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let event = match ClientMessage::from_json(&text) {
                        Ok(msg) => Input::Message(conn, msg),
                        Err(e) => Input::BadFrame(conn, e.to_string()),
                    };
                    if input.send(event).is_err() {
                        break;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let _ = input.send(Input::BadFrame(conn, "binary frames are not part of the protocol".into()));
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = input.send(Input::Disconnected(conn));
}
