//! RTMP output against a real nginx-rtmp: two URLs at once, one removed
//! live while the other plays on without a gap, then the server killed
//! for 5 s: the URL shows `reconnecting`, comes back `live` by itself and
//! plays again. Stream keys never come back in a response.

mod common;

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use common::rtmp::Nginx;
use common::*;
use serde_json::{Value, json};

const KEY_A: &str = "alpha-stream-key-0001";
const KEY_B: &str = "bravo-stream-key-0002";

async fn finish(mut child: Child, timeout: Duration) {
    tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "ffmpeg failed: {status}");
                return;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("the RTMP player did not finish in {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap();
}

fn no_keys(body: &Value) {
    let text = body.to_string();
    for key in [KEY_A, KEY_B] {
        assert!(!text.contains(key), "a stream key came back: {text}");
    }
}

fn check_flv(flv: &Path, min_s: f64) {
    assert_h264_aac(flv);
    let pts = video_pts(flv);
    let span = pts.last().unwrap() - pts[0];
    assert!(span >= min_s, "{} carries {span} s", flv.display());
    let middle = pts[0] + span / 2.0;
    assert_eq!(
        participants_at(flv, middle, 1),
        [Some(0)],
        "{} at {middle} s",
        flv.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtmp_to_two_urls_with_live_changes_and_reconnect() {
    let mut nginx = Nginx::start();
    let serve = Serve::start();
    let http = reqwest::Client::new();
    let room = TestRoom::start(&[("r", 0)]).await;
    let dir = tempfile::tempdir().unwrap();
    let body = json!({"room": {"adapter": "callcast", "url": room.url(), "room": "r"}});
    let session = serve.create_session(&http, &body).await;
    let outputs = format!("{session}/outputs");

    // Bad lists name the entry at fault.
    let bad = [
        (json!({"kind": "rtmp", "urls": []}), "urls"),
        (
            json!({"kind": "rtmp", "urls": [nginx.url(KEY_A), "http://x/live/k"]}),
            "urls[1]",
        ),
        (json!({"kind": "rtmp", "urls": ["rtmp://h/app"]}), "urls[0]"),
        (json!({"kind": "rtmp", "url": nginx.url(KEY_A)}), "url"),
    ];
    for err in assert_rejected(&http, &outputs, &bad).await {
        no_keys(&err);
    }

    let (status, out) = send(
        http.post(&outputs)
            .json(&json!({"kind": "rtmp", "urls": [nginx.url(KEY_A), nginx.url(KEY_B)]})),
    )
    .await;
    assert_eq!(status, 201, "{out}");
    no_keys(&out);
    let output = format!("{outputs}/{}", out["id"].as_str().unwrap());
    let status_of = async || send(http.get(&output)).await.1;
    wait_for("both URLs live", Duration::from_secs(20), async || {
        let o = status_of().await;
        no_keys(&o);
        o["state"] == "live"
            && o["urls"].as_array().is_some_and(|u| {
                u.len() == 2
                    && u.iter()
                        .all(|u| u["state"] == "live" && u["bytes"].as_u64() > Some(0))
            })
    })
    .await;
    let o = status_of().await;
    assert!(
        o["urls"][0]["url"]
            .as_str()
            .unwrap()
            .ends_with("/live/…001"),
        "{o}"
    );

    // Both play; B is removed while A is being watched.
    let b_flv = dir.path().join("b.flv");
    let b = nginx.play(KEY_B, 4.0, &b_flv);
    let a_flv = dir.path().join("a.flv");
    let a = nginx.play(KEY_A, 8.0, &a_flv);
    finish(b, Duration::from_secs(20)).await;
    check_flv(&b_flv, 1.5);
    let (status, patched) = send(
        http.patch(&output)
            .json(&json!({"urls": [nginx.url(KEY_A)]})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    no_keys(&patched);
    assert_eq!(patched["urls"].as_array().unwrap().len(), 1, "{patched}");
    assert_eq!(patched["urls"][0]["state"], "live", "{patched}");
    finish(a, Duration::from_secs(30)).await;
    check_flv(&a_flv, 5.5);
    assert_continuous_video(&a_flv, 0.2);

    // A PATCH that is not a URL list, or to an output without one.
    let (status, err) = send(http.patch(&output).json(&json!({"urls": ["x"]}))).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("urls[0]")),
        "{err}"
    );
    let (status, err) = send(http.patch(&output).json(&json!({"location": "x"}))).await;
    assert_eq!(status, 422, "{err}");

    // The server goes away for 5 s.
    nginx.stop();
    let down = Instant::now();
    wait_for(
        "the URL to show reconnecting",
        Duration::from_secs(10),
        async || {
            let o = status_of().await;
            o["urls"][0]["state"] == "reconnecting" && o["state"] == "reconnecting"
        },
    )
    .await;
    let o = status_of().await;
    assert!(o["urls"][0]["reason"].is_string(), "{o}");
    no_keys(&o);
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(down.elapsed())).await;
    nginx.resume();
    wait_for(
        "the URL to come back live",
        Duration::from_secs(30),
        async || {
            let o = status_of().await;
            o["urls"][0]["state"] == "live" && o["state"] == "live"
        },
    )
    .await;
    let again = dir.path().join("again.flv");
    finish(nginx.play(KEY_A, 5.0, &again), Duration::from_secs(20)).await;
    check_flv(&again, 2.5);

    let (status, stopped) = send(http.delete(&output)).await;
    assert_eq!(
        (status, stopped["state"].as_str()),
        (200, Some("stopped")),
        "{stopped}"
    );
    no_keys(&stopped);
    let (_, info) = send(http.get(&session)).await;
    assert_eq!(info["state"], "live", "{info}");
    room.stop().await;
}
