//! A room that misbehaves: between callcast and a real room sits a proxy
//! that passes the real signalling through and slips in what a broken or
//! hostile SFU might send (frames that are not JSON or not the protocol,
//! offers whose SDP cannot connect, offers naming mids they do not carry,
//! candidates for m-lines that do not exist, a participant announced twice,
//! 10 000 joins and leaves). Through all of it the session stays live, logs
//! each refusal, keeps the real participants' pictures moving, and its
//! recording has no gap.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use callcast_signalling::protocol::{
    ClientMessage, MidTrack, ParticipantInfo, ServerMessage, TrackInfo, TrackKind, TrackSource,
};
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

const FLOOD: usize = 10_000;

/// Ids the proxy invents; what callcast says to them goes no further.
fn invented(id: &str) -> bool {
    id.starts_with("flood-") || id.starts_with("ghost")
}

/// A websocket proxy for one connection: callcast's, to the room.
struct Proxy {
    url: String,
    inject: mpsc::UnboundedSender<Message>,
    /// `subscribe`s callcast sent for the flood's participants.
    subscribes: Arc<AtomicUsize>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}", listener.local_addr().unwrap());
        let (inject, mut injected) = mpsc::unbounded_channel::<Message>();
        let subscribes = Arc::new(AtomicUsize::new(0));
        let counted = subscribes.clone();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let callcast = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let (room, _) = tokio_tungstenite::connect_async(upstream).await.unwrap();
            let (mut to_callcast, mut from_callcast) = callcast.split();
            let (mut to_room, mut from_room) = room.split();
            loop {
                tokio::select! {
                    Some(msg) = injected.recv() => {
                        if to_callcast.send(msg).await.is_err() { break; }
                    }
                    msg = from_room.next() => match msg {
                        Some(Ok(msg)) => if to_callcast.send(msg).await.is_err() { break; },
                        _ => break,
                    },
                    msg = from_callcast.next() => match msg {
                        Some(Ok(Message::Text(text))) => {
                            let to = match ClientMessage::from_json(&text) {
                                Ok(ClientMessage::Subscribe { participant_id }) => {
                                    if participant_id.starts_with("flood-") {
                                        counted.fetch_add(1, Ordering::Relaxed);
                                    }
                                    Some(participant_id)
                                }
                                Ok(ClientMessage::Unsubscribe { participant_id }) => Some(participant_id),
                                Ok(ClientMessage::Answer { to, .. } | ClientMessage::Candidate { to, .. }) => Some(to),
                                _ => None,
                            };
                            if !to.is_some_and(|to| invented(&to))
                                && to_room.send(Message::Text(text)).await.is_err()
                            {
                                break;
                            }
                        }
                        Some(Ok(msg)) => if to_room.send(msg).await.is_err() { break; },
                        _ => break,
                    },
                }
            }
        });
        Proxy {
            url,
            inject,
            subscribes,
        }
    }

    fn text(&self, text: impl Into<String>) {
        self.inject.send(Message::text(text.into())).unwrap();
    }

    fn send(&self, msg: &ServerMessage) {
        self.text(msg.to_json());
    }
}

fn camera() -> TrackInfo {
    TrackInfo {
        id: "cam".into(),
        kind: TrackKind::Video,
        source: TrackSource::Camera,
    }
}

fn joined(id: &str, display: &str, tracks: Vec<TrackInfo>) -> ServerMessage {
    ServerMessage::ParticipantJoined {
        participant: ParticipantInfo {
            id: id.into(),
            display: display.into(),
            tracks,
        },
    }
}

/// An offer that parses and names its mid, but whose transport is
/// `transport`.
fn offer_sdp(transport: &str) -> String {
    format!(
        "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE video0\r\n\
         m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n{transport}a=setup:actpass\r\n\
         a=mid:video0\r\na=sendonly\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n"
    )
}

const ICE: &str = "a=ice-ufrag:Kz1mAXfX\r\na=ice-pwd:ZCMiiMvCpyuQS9Ge9JrMnN1Gxp2cHVwS\r\n";
const DTLS: &str = "a=fingerprint:sha-256 E1:6D:85:96:53:74:BE:84:3E:F9:4D:67:C9:8F:71:2E:6C:26:3B:1B:02:52:0A:82:A8:1C:81:84:96:0F:CD:CB\r\n";

fn offer(from: &str, sdp: String, mids: &[(&str, &str)]) -> ServerMessage {
    ServerMessage::Offer {
        from: from.into(),
        sdp,
        tracks: mids
            .iter()
            .map(|(mid, track_id)| MidTrack {
                mid: mid.to_string(),
                track_id: track_id.to_string(),
            })
            .collect(),
    }
}

/// Tiles and state, once they satisfy `pred`; panics with what the
/// session showed after `timeout`.
async fn layout_until(
    http: &reqwest::Client,
    session: &str,
    timeout: Duration,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let (_, l) = send(http.get(format!("{session}/layout"))).await;
        let tiles = l["tiles"].as_array().cloned().unwrap_or_default();
        if pred(&tiles) {
            return tiles;
        }
        assert!(
            Instant::now() < deadline,
            "timed out; the layout: {}",
            serde_json::to_string(&tiles)
                .unwrap()
                .chars()
                .take(2000)
                .collect::<String>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn assert_live(http: &reqwest::Client, session: &str, after: &str) {
    let (status, info) = send(http.get(session)).await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["state"], "live", "after {after}: {info}");
    let outputs = info["outputs"].as_array().unwrap();
    assert!(outputs.iter().all(live), "after {after}: {info}");
}

fn two_videos(tiles: &[Value]) -> bool {
    tiles.len() == 2 && tiles.iter().all(|t| t["shows"] == "video")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_room_cannot_stop_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("serve.log");
    let serve = Serve::start_logging(&[], &[], std::fs::File::create(&log_path).unwrap());
    let http = reqwest::Client::new();
    let room = TestRoom::start(&[("h", 0), ("h", 1)]).await;
    let proxy = Proxy::start(room.url()).await;
    let mp4 = dir.path().join("program.mp4");
    let session = serve
        .create_session(&http, &recording_of(&proxy.url, "h", &mp4))
        .await;
    layout_until(&http, &session, Duration::from_secs(20), two_videos).await;
    let alice = room.participant(0).id().to_string();

    // Frames that are not the protocol.
    for garbage in [
        "not json",
        "{}",
        "[1,2,3]",
        r#"{"type":"offer"}"#,
        r#"{"type":"participant_joined","participant":{"id":5}}"#,
        r#"{"type":"welcome","protocol":1,"room":"h","participant_id":"x","participants":[],"extra":1}"#,
        r#"{"type":"candidate","from":"nobody","sdp_m_line_index":"zero","candidate":1}"#,
    ] {
        proxy.text(garbage);
    }
    proxy
        .inject
        .send(Message::binary(vec![0u8, 159, 146, 150]))
        .unwrap();
    proxy.text(format!(
        r#"{{"type":"talking","participant_id":"{}","talking":true,"x":"{}"}}"#,
        alice,
        "A".repeat(100_000)
    ));

    // Offers that cannot be answered, for a participant who is here and
    // sending (its media must not suffer) and for one who is not.
    let bad_offers = [
        offer(&alice, "garbage".into(), &[("video0", "cam")]),
        offer(&alice, String::new(), &[]),
        offer(&alice, "v=0\r\n".into(), &[("video0", "cam")]),
        offer(&alice, offer_sdp(DTLS), &[("video0", "cam")]),
        offer(&alice, offer_sdp(ICE), &[("video0", "cam")]),
        offer(
            &alice,
            offer_sdp(&format!("{ICE}{DTLS}")).replace("a=sendonly", "a=mid:video0"),
            &[("video0", "cam")],
        ),
        offer("nobody", "garbage".into(), &[]),
    ];
    for o in &bad_offers {
        proxy.send(o);
    }
    // Candidates for m-lines and peers that do not exist.
    for (from, index, candidate) in [
        (
            alice.as_str(),
            99,
            "candidate:1 1 UDP 2122252543 127.0.0.1 9 typ host",
        ),
        (alice.as_str(), 0, "garbage"),
        (
            "nobody",
            0,
            "candidate:1 1 UDP 2122252543 127.0.0.1 9 typ host",
        ),
    ] {
        proxy.send(&ServerMessage::Candidate {
            from: from.into(),
            sdp_m_line_index: index,
            candidate: candidate.into(),
        });
    }
    // A participant announced twice, without the tracks it sends.
    proxy.send(&joined(&alice, "Mallory", vec![]));
    // A newcomer whose offer names mids it does not carry: its peer is
    // made for the mid that is there, the rest is ignored.
    proxy.send(&joined("ghost", "Ghost", vec![camera()]));
    proxy.send(&offer(
        "ghost",
        offer_sdp(&format!("{ICE}{DTLS}")),
        &[("video7", "cam"), ("nope", "cam")],
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_live(&http, &session, "garbage, bad offers and candidates").await;
    // Ghost has a tile (arriving, then a placeholder), the others their
    // pictures: Alice's re-offers changed nothing.
    layout_until(&http, &session, Duration::from_secs(10), |t| {
        t.len() == 3
            && t.iter()
                .filter(|t| t["participant_id"] != "ghost")
                .all(|t| t["shows"] == "video")
    })
    .await;
    proxy.send(&ServerMessage::ParticipantLeft {
        participant_id: "ghost".into(),
        reason: callcast_signalling::protocol::LeaveReason::Left,
    });
    layout_until(&http, &session, Duration::from_secs(10), two_videos).await;

    // 10 000 joins, each with a camera that never sends: the grid stops
    // at its cap, the two real pictures first.
    let flood_at = Instant::now();
    for i in 0..FLOOD {
        proxy.send(&joined(
            &format!("flood-{i}"),
            &format!("F{i}"),
            vec![camera()],
        ));
    }
    let tiles = layout_until(&http, &session, Duration::from_secs(60), |t| {
        t.last()
            .is_some_and(|l| l["shows"] == "more" && l["count"] == FLOOD + 2 - 99)
    })
    .await;
    let absorbed = flood_at.elapsed();
    assert_eq!(tiles.len(), 100);
    assert!(
        tiles[..2].iter().all(|t| t["shows"] == "video"),
        "{:?}",
        &tiles[..3]
    );
    wait_for(
        "a subscribe for each",
        Duration::from_secs(30),
        async || proxy.subscribes.load(Ordering::Relaxed) == FLOOD,
    )
    .await;
    assert_live(&http, &session, "10 000 joins").await;
    let leave_at = Instant::now();
    for i in 0..FLOOD {
        proxy.send(&ServerMessage::ParticipantLeft {
            participant_id: format!("flood-{i}"),
            reason: callcast_signalling::protocol::LeaveReason::Disconnected,
        });
    }
    layout_until(&http, &session, Duration::from_secs(60), two_videos).await;
    let left = leave_at.elapsed();
    eprintln!(
        "{FLOOD} joins laid out in {:.1} s, their leaves in {:.1} s",
        absorbed.as_secs_f64(),
        left.as_secs_f64()
    );
    assert_live(&http, &session, "10 000 leaves").await;
    // The real pictures run on for a moment before the end.
    let (_, info) = send(http.get(&session)).await;
    assert_eq!(info["roster"].as_array().unwrap().len(), 2, "{info}");
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (status, body) = send(http.delete(&session)).await;
    assert_eq!(status, 200, "{body}");
    room.stop().await;

    // No gap in the recording; at its end both pictures, and moving.
    let end = assert_continuous_video(&mp4, 0.5);
    assert_eq!(participants_at(&mp4, end - 0.5, 2), [Some(0), Some(1)]);
    let (a, b) = (frame_at(&mp4, end - 1.5), frame_at(&mp4, end - 0.5));
    assert_ne!(a.rgb, b.rgb, "the program is frozen");

    // Each refusal is in the log, with what was wrong.
    let log = std::fs::read_to_string(&log_path).unwrap();
    for said in [
        "ignoring a message from the room",
        "the offer is not an SDP offer",
        "the offer has no valid ICE credentials",
        "the offer has no DTLS fingerprint",
        "the room announced a participant twice",
        "the room names mids the offer does not send on",
    ] {
        assert!(log.contains(said), "the log does not say {said:?}");
    }
    assert!(!log.contains("panicked"), "a panic in the log");
}
