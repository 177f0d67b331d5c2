//! Outages of a destination, 30 s each (`make soak`: they run over a
//! minute, so `make test` leaves them out).
//!
//! - S3 stops answering (SIGSTOP) for 30 s during a recording: the upload
//!   waits and retries, the object is complete at the end, and it holds
//!   the same media as a local copy recorded beside it (duration and video
//!   frame count), without a gap. The local copy goes on untouched.
//! - One RTMP server is gone for 30 s: its URL shows `reconnecting`, then
//!   comes back `live` by itself and plays; the other URL (another server)
//!   and the recording go on untouched, without a gap.

mod common;

use std::time::{Duration, Instant};

use common::rtmp::Nginx;
use common::s3::S3;
use common::*;
use serde_json::{Value, json};

const OUTAGE: Duration = Duration::from_secs(30);

async fn output(http: &reqwest::Client, session: &str, i: usize) -> Value {
    let (_, info) = send(http.get(session)).await;
    info["outputs"][i].clone()
}

/// The output's bytes grow over `over`, and it stays live.
async fn assert_flowing(http: &reqwest::Client, session: &str, i: usize, over: Duration) {
    let before = output(http, session, i).await;
    tokio::time::sleep(over).await;
    let after = output(http, session, i).await;
    assert!(live(&after), "{after}");
    assert!(
        after["bytes"].as_u64() > before["bytes"].as_u64(),
        "output {i} stopped writing: {before} then {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: over a minute; make soak"]
async fn s3_gone_for_30_s_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let room = TestRoom::start(&[("o", 0), ("o", 1)]).await;
    let s3 = S3::start(&["rec"]);
    let serve = Serve::start_with(&[], &s3.serve_env());
    let http = reqwest::Client::new();
    let local = dir.path().join("local.mp4");
    let session = serve
        .create_session(
            &http,
            &json!({"room": {"adapter": "callcast", "url": room.url(), "room": "o"}, "outputs": [
                {"kind": "record", "location": format!("file://{}", local.display())},
                {"kind": "record", "location": "s3://rec/outage.mp4"},
            ]}),
        )
        .await;
    wait_for(
        "both recordings live",
        Duration::from_secs(30),
        async || {
            let (_, info) = send(http.get(&session)).await;
            info["outputs"]
                .as_array()
                .is_some_and(|o| o.iter().all(live))
        },
    )
    .await;
    // Past the first part (5 MB, about 16 s of media), so that the outage
    // hits uploads in flight.
    tokio::time::sleep(Duration::from_secs(20)).await;

    s3.freeze();
    let frozen = Instant::now();
    // The local copy goes on meanwhile.
    assert_flowing(&http, &session, 0, OUTAGE / 2).await;
    tokio::time::sleep(OUTAGE.saturating_sub(frozen.elapsed())).await;
    s3.thaw();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let s3_state = output(&http, &session, 1).await;
    assert!(
        live(&s3_state),
        "the S3 recording after the outage: {s3_state}"
    );

    let (status, stopped) = send(http.delete(&session)).await;
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["unfinished_outputs"], json!([]), "{stopped}");
    room.stop().await;

    let object = s3.object_path("rec", "outage.mp4");
    assert_h264_aac(&object);
    let (local_s, object_s) = (
        assert_continuous_video(&local, 0.5),
        assert_continuous_video(&object, 0.5),
    );
    let (local_frames, object_frames) = (video_pts(&local).len(), video_pts(&object).len());
    eprintln!(
        "local {local_s:.2} s, {local_frames} frames; S3 {object_s:.2} s, {object_frames} frames"
    );
    assert!(
        (local_s - object_s).abs() < 0.3,
        "S3 {object_s:.2} s against {local_s:.2} s"
    );
    assert!(
        local_frames.abs_diff(object_frames) <= 2,
        "S3 {object_frames} frames against {local_frames}"
    );
    assert!(object_s > 60.0, "{object_s:.1} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: over a minute; make soak"]
async fn rtmp_gone_for_30_s_comes_back_and_nothing_else_moves() {
    let dir = tempfile::tempdir().unwrap();
    let room = TestRoom::start(&[("r", 0)]).await;
    let mut gone = Nginx::start();
    let stays = Nginx::start();
    let serve = Serve::start();
    let http = reqwest::Client::new();
    let mp4 = dir.path().join("beside.mp4");
    let session = serve
        .create_session(
            &http,
            &json!({"room": {"adapter": "callcast", "url": room.url(), "room": "r"}, "outputs": [
                {"kind": "rtmp", "urls": [gone.url("key-a"), stays.url("key-b")]},
                {"kind": "record", "location": format!("file://{}", mp4.display())},
            ]}),
        )
        .await;
    let url_states = async || -> Vec<String> {
        let o = output(&http, &session, 0).await;
        o["urls"]
            .as_array()
            .map(|u| {
                u.iter()
                    .map(|u| u["state"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    wait_for("both URLs live", Duration::from_secs(30), async || {
        url_states().await == ["live", "live"]
    })
    .await;
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(5)).await;

    gone.stop();
    let down = Instant::now();
    wait_for(
        "the URL to show reconnecting",
        Duration::from_secs(10),
        async || url_states().await[0] == "reconnecting",
    )
    .await;
    // Meanwhile the other URL and the recording carry on.
    let other_bytes = |o: &Value| o["urls"][1]["bytes"].as_u64().unwrap_or(0);
    let before = output(&http, &session, 0).await;
    assert_flowing(&http, &session, 1, OUTAGE / 2).await;
    let during = output(&http, &session, 0).await;
    assert_eq!(during["urls"][1]["state"], "live", "{during}");
    assert!(other_bytes(&during) > other_bytes(&before), "{during}");
    tokio::time::sleep(OUTAGE.saturating_sub(down.elapsed())).await;

    gone.resume();
    let back = Instant::now();
    wait_for("the URL back live", Duration::from_secs(20), async || {
        url_states().await == ["live", "live"]
    })
    .await;
    eprintln!("back live {:?} after the server returned", back.elapsed());
    let flv = dir.path().join("again.flv");
    let mut player = gone.play("key-a", 3.0, &flv);
    let status = tokio::task::spawn_blocking(move || player.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "playing the returned URL: {status}");
    assert!(duration_s(&flv) > 2.0);

    let run_s = started.elapsed().as_secs_f64();
    let (status, stopped) = send(http.delete(&session)).await;
    assert_eq!(status, 200, "{stopped}");
    room.stop().await;
    let length = assert_continuous_video(&mp4, 0.5);
    assert!(length > run_s - 3.0, "{length:.1} s of a {run_s:.1} s run");
}
