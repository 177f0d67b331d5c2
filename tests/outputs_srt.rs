//! SRT output against a real SRT peer (ffmpeg's libsrt): callcast as caller
//! to a listener, then as listener for a caller, with encryption. The peer
//! receives H.264 and AAC in MPEG-TS that decodes to the participant.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const PASSPHRASE: &str = "srt-test-passphrase";

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How long each SRT peer records. Its video starts at the program's next
/// key frame (up to 2 s away) and must then span 3 s: with 5 s a slow start
/// left 2.9 s.
const CAPTURE_S: u32 = 6;

/// ffmpeg receiving `seconds` of SRT from `url` into `out`.
fn srt_peer(url: &str, out: &Path, seconds: u32) -> Child {
    Command::new("ffmpeg")
        .args([
            "-nostdin", "-y", "-v", "error", "-i", url, "-c", "copy", "-t",
        ])
        .arg(seconds.to_string())
        .args(["-f", "mpegts"])
        .arg(out)
        .stdout(Stdio::null())
        .spawn()
        .expect("ffmpeg runs")
}

fn wait_exit(child: &mut Child, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            assert!(status.success(), "ffmpeg failed: {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("the SRT peer did not finish in {timeout:?}");
}

fn check_ts(ts: &Path) {
    assert_h264_aac(ts);
    let last = video_pts(ts).into_iter().fold(0.0, f64::max) - video_pts(ts)[0];
    assert!(last >= 3.0, "{} carries {last} s", ts.display());
    assert_eq!(participants_at(ts, 2.0, 1), [Some(0)], "{}", ts.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn srt_as_caller_and_as_listener() {
    let serve = Serve::start();
    let http = reqwest::Client::new();
    let room = TestRoom::start(&[("s", 0)]).await;
    let dir = tempfile::tempdir().unwrap();
    let body = json!({"room": {"adapter": "callcast", "url": room.url(), "room": "s"}});
    let session = serve.create_session(&http, &body).await;
    let outputs = format!("{session}/outputs");

    // Bad SRT requests name the field.
    let bad = [
        (json!({"kind": "srt", "url": "udp://127.0.0.1:9"}), "url"),
        (
            json!({"kind": "srt", "url": "srt://127.0.0.1:9", "latency_ms": 1}),
            "latency_ms",
        ),
        (
            json!({"kind": "srt", "url": "srt://127.0.0.1:9", "passphrase": "short"}),
            "passphrase",
        ),
    ];
    assert_rejected(&http, &outputs, &bad).await;

    // callcast calls a listener.
    let port = free_udp_port();
    let caller_ts = dir.path().join("caller.ts");
    let mut peer = srt_peer(
        &format!("srt://127.0.0.1:{port}?mode=listener"),
        &caller_ts,
        CAPTURE_S,
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (status, out) = send(
        http.post(&outputs)
            .json(&json!({"kind": "srt", "url": format!("srt://127.0.0.1:{port}")})),
    )
    .await;
    assert_eq!(status, 201, "{out}");
    let caller_url = format!("{outputs}/{}", out["id"].as_str().unwrap());
    tokio::task::spawn_blocking(move || wait_exit(&mut peer, Duration::from_secs(20)))
        .await
        .unwrap();
    let (status, _) = send(http.delete(&caller_url)).await;
    assert_eq!(status, 200);

    // A caller dials callcast, encrypted.
    let port = free_udp_port();
    let body = json!({"kind": "srt", "url": format!("srt://127.0.0.1:{port}"), "mode": "listener", "passphrase": PASSPHRASE});
    let (status, out) = send(http.post(&outputs).json(&body)).await;
    assert_eq!(status, 201, "{out}");
    assert!(
        !out.to_string().contains(PASSPHRASE),
        "the passphrase shows: {out}"
    );
    let listener_ts = dir.path().join("listener.ts");
    let mut peer = srt_peer(
        &format!("srt://127.0.0.1:{port}?mode=caller&passphrase={PASSPHRASE}"),
        &listener_ts,
        CAPTURE_S,
    );
    tokio::task::spawn_blocking(move || wait_exit(&mut peer, Duration::from_secs(20)))
        .await
        .unwrap();
    let (_, info) = send(http.get(&session)).await;
    assert!(
        !info.to_string().contains(PASSPHRASE),
        "the passphrase shows: {info}"
    );

    let (status, _) = send(http.delete(&session)).await;
    assert_eq!(status, 200);
    tokio::task::spawn_blocking(move || {
        check_ts(&caller_ts);
        check_ts(&listener_ts);
    })
    .await
    .unwrap();
    room.stop().await;
}
