//! Recording to S3 against a real S3 API with SigV4 auth (s3s-fs): a
//! recording stopped over the API is one complete object that plays for
//! as long as it ran; wrong credentials fail that output with a clear reason while the
//! session and its other outputs go on. Keys never come back.

mod common;

use std::time::{Duration, Instant};

use common::s3::{ACCESS_KEY, S3, SECRET_KEY};
use common::*;
use serde_json::{Value, json};

fn no_secret(body: &Value) {
    assert!(
        !body.to_string().contains(SECRET_KEY),
        "the secret came back: {body}"
    );
}

/// A recording of the participant, both streams, continuous, as long as
/// it ran since it was added (less its start: the first key frame and
/// fragment).
fn check_mp4(path: &std::path::Path, ran_s: f64) {
    assert_h264_aac(path);
    let end = assert_continuous_video(path, 0.2);
    let d = duration_s(path);
    assert!(
        // Audio may run up to a GOP ahead of the first key frame, or
        // behind the video's end, by the file's timestamps.
        end <= ran_s + 0.3 && end >= ran_s - 2.5 && (d - end).abs() <= 2.5,
        "{}: video to {end} s, {d} s in all, after running {ran_s} s",
        path.display()
    );
    assert_eq!(colour_at(path, d / 2.0), Some(0), "{}", path.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_to_s3_and_refused() {
    let s3 = S3::start(&["recordings"]);
    let serve = Serve::start();
    let http = reqwest::Client::new();
    let room = TestRoom::start(&[("r", 0)]).await;
    let dir = tempfile::tempdir().unwrap();
    let body = json!({"room": {"adapter": "callcast", "url": room.url(), "room": "r"}});
    let session = serve.create_session(&http, &body).await;
    let sid = session.rsplit('/').next().unwrap().to_string();
    let outputs = format!("{session}/outputs");

    // Bad S3 requests name the field.
    let bad = [
        (
            json!({"kind": "record", "location": "s3:///x.mp4"}),
            "location",
        ),
        (
            json!({"kind": "record", "location": "s3://recordings"}),
            "location",
        ),
        (
            json!({"kind": "record", "location": "s3://recordings/{nope}.mp4"}),
            "location",
        ),
        (
            json!({"kind": "record", "location": "s3://recordings/a.mp4", "s3": {"endpoint": "x"}}),
            "s3.endpoint",
        ),
        (
            json!({"kind": "record", "location": "s3://recordings/a.mp4", "s3": {"bucket": "x"}}),
            "s3.bucket",
        ),
    ];
    assert_rejected(&http, &outputs, &bad).await;

    // A local recording runs throughout.
    let local = dir.path().join("local.mp4");
    let (status, out) = send(
        http.post(&outputs)
            .json(&json!({"kind": "record", "location": format!("file://{}", local.display())})),
    )
    .await;
    assert_eq!(status, 201, "{out}");
    let local_url = format!("{outputs}/{}", out["id"].as_str().unwrap());

    // One object, named after the session and the start.
    let posted = Instant::now();
    let (status, whole) = send(http.post(&outputs).json(&json!({
        "kind": "record",
        "location": "s3://recordings/calls/{session}-{start}.mp4",
        "s3": s3.settings(SECRET_KEY),
    })))
    .await;
    assert_eq!(status, 201, "{whole}");
    no_secret(&whole);
    let target = whole["target"].as_str().unwrap().to_string();
    assert!(
        target.starts_with(&format!("s3://recordings/calls/{sid}-")),
        "{whole}"
    );
    let whole_url = format!("{outputs}/{}", whole["id"].as_str().unwrap());

    for u in [&local_url, &whole_url] {
        wait_for_output(&http, u, "live", Duration::from_secs(30), live).await;
    }
    // Wrong credentials: that output fails, with the reason.
    let (status, refused) = send(http.post(&outputs).json(&json!({
        "kind": "record",
        "location": "s3://recordings/refused.mp4",
        "s3": s3.settings("not-the-secret-key"),
    })))
    .await;
    assert_eq!(status, 201, "{refused}");
    let refused_url = format!("{outputs}/{}", refused["id"].as_str().unwrap());
    wait_for(
        "the refused output to fail",
        Duration::from_secs(20),
        async || send(http.get(&refused_url)).await.1["state"] == "failed",
    )
    .await;
    let (_, refused) = send(http.get(&refused_url)).await;
    let reason = refused["reason"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase();
    assert!(
        reason.contains("upload") || reason.contains("signature") || reason.contains("denied"),
        "{refused}"
    );
    no_secret(&refused);

    // ... and the others write on.
    let bytes = async || {
        let mut total = 0;
        for u in [&local_url, &whole_url] {
            total += send(http.get(u)).await.1["bytes"].as_u64().unwrap_or(0);
        }
        total
    };
    let before = bytes().await;
    wait_for(
        "the recordings to go on",
        Duration::from_secs(10),
        async || bytes().await > before,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await;

    let (status, stopped) = send(http.delete(&whole_url)).await;
    // Since it was added.
    let whole_s = posted.elapsed().as_secs_f64();
    assert_eq!(
        (status, stopped["state"].as_str()),
        (200, Some("stopped")),
        "{stopped}"
    );
    let (status, _) = send(http.delete(&refused_url)).await;
    assert_eq!(status, 200);

    // The session and the local recording went on throughout.
    let (_, local_status) = send(http.get(&local_url)).await;
    assert_eq!(local_status["state"], "live", "{local_status}");
    let (_, info) = send(http.get(&session)).await;
    assert_eq!(info["state"], "live", "{info}");
    let (status, _) = send(http.delete(&local_url)).await;
    assert_eq!(status, 200);

    let key = target.strip_prefix("s3://recordings/").unwrap();
    assert_eq!(s3.keys("recordings", "calls/"), [key.to_string()]);
    check_mp4(&s3.object_path("recordings", key), whole_s);
    assert!(s3.keys("recordings", "refused").is_empty());
    room.stop().await;
}

/// S3 settings from the server's configuration: the request names only
/// the location.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_to_s3_with_the_server_settings() {
    let s3 = S3::start(&["defaults"]);
    let endpoint = s3.endpoint();
    let serve = Serve::start_with(
        &["--s3-endpoint", &endpoint, "--s3-path-style"],
        &[
            ("CALLCAST_S3_ACCESS_KEY_ID", ACCESS_KEY),
            ("CALLCAST_S3_SECRET_ACCESS_KEY", SECRET_KEY),
        ],
    );
    let http = reqwest::Client::new();
    let room = TestRoom::start(&[("d", 0)]).await;
    let body = json!({
        "room": {"adapter": "callcast", "url": room.url(), "room": "d"},
        "outputs": [{"kind": "record", "location": "s3://defaults/{session}.mp4"}],
    });
    let session = serve.create_session(&http, &body).await;
    let sid = session.rsplit('/').next().unwrap().to_string();
    let output = format!("{session}/outputs/record-1");
    wait_for_output(&http, &output, "live", Duration::from_secs(20), live).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (status, stopped) = send(http.delete(&output)).await;
    assert_eq!(
        (status, stopped["state"].as_str()),
        (200, Some("stopped")),
        "{stopped}"
    );
    let key = format!("{sid}.mp4");
    assert_eq!(s3.keys("defaults", ""), std::slice::from_ref(&key));
    let path = s3.object_path("defaults", &key);
    assert_eq!(streams(&path).len(), 2);
    // The recording starts with the session, before the participant.
    assert_eq!(colour_at(&path, duration_s(&path) - 1.0), Some(0));
    room.stop().await;
}

/// The video's length: its last frame's time plus one frame.
fn video_s(path: &std::path::Path) -> f64 {
    assert_continuous_video(path, 0.2) + 0.05
}

/// Recordings split into parts of at most 4 s, to S3 and to a file: every
/// part is a complete file that starts with a picture (a key frame) and
/// with both streams, the parts in between last 4 s each, and together
/// they hold everything that was recorded. The S3 keys come from the
/// standard AWS environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_split_into_parts() {
    let s3 = S3::start(&["parts"]);
    let serve = Serve::start_with(
        &["--s3-endpoint", &s3.endpoint(), "--s3-path-style"],
        &[
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
        ],
    );
    let http = reqwest::Client::new();
    let room = TestRoom::start(&[("p", 0)]).await;
    let dir = tempfile::tempdir().unwrap();
    let body = json!({"room": {"adapter": "callcast", "url": room.url(), "room": "p"}});
    let session = serve.create_session(&http, &body).await;
    let sid = session.rsplit('/').next().unwrap().to_string();
    let outputs = format!("{session}/outputs");

    let bad = [
        (
            json!({"kind": "record", "location": "file:///x.mp4", "max_duration_s": 0}),
            "max_duration_s",
        ),
        (
            json!({"kind": "record", "location": "file:///x.mp4", "max_duration_s": "4"}),
            "max_duration_s",
        ),
        (
            json!({"kind": "hls", "location": "file:///hls/{part}/", "variants": [{"height": 360, "video_kbps": 600}]}),
            "location",
        ),
    ];
    assert_rejected(&http, &outputs, &bad).await;

    let file = dir.path().join("split.mp4");
    let specs = [
        json!({"kind": "record", "location": format!("file://{}", file.display()), "max_duration_s": 4}),
        json!({"kind": "record", "location": "s3://parts/{session}/{part}.mp4", "max_duration_s": 4}),
    ];
    let mut urls = Vec::new();
    for spec in specs {
        let (status, out) = send(http.post(&outputs).json(&spec)).await;
        assert_eq!(status, 201, "{out}");
        urls.push(format!("{outputs}/{}", out["id"].as_str().unwrap()));
    }
    for u in &urls {
        wait_for_output(&http, u, "live", Duration::from_secs(30), live).await;
    }
    let live = Instant::now();
    tokio::time::sleep(Duration::from_secs(15)).await;
    let mut lasts = Vec::new();
    for u in &urls {
        let (status, stopped) = send(http.delete(u)).await;
        assert_eq!(
            (status, stopped["state"].as_str()),
            (200, Some("stopped")),
            "{stopped}"
        );
        lasts.push(stopped["target"].as_str().unwrap().to_string());
    }
    let ran_s = live.elapsed().as_secs_f64();

    let files: Vec<_> = (1..)
        .map(|n| dir.path().join(format!("split-{n:03}.mp4")))
        .take_while(|p| p.exists())
        .collect();
    let keys = s3.keys("parts", "");
    let objects: Vec<_> = keys.iter().map(|k| s3.object_path("parts", k)).collect();
    assert_eq!(
        keys,
        (1..=keys.len())
            .map(|n| format!("{sid}/{n:03}.mp4"))
            .collect::<Vec<_>>()
    );
    assert!(
        lasts[0].ends_with(&format!("split-{:03}.mp4", files.len())),
        "{lasts:?}"
    );
    assert!(
        lasts[1].ends_with(&format!("{:03}.mp4", keys.len())),
        "{lasts:?}"
    );
    tokio::task::spawn_blocking(move || {
        for parts in [files, objects] {
            assert!((4..=5).contains(&parts.len()), "{parts:?}");
            let mut total = 0.0;
            for (i, part) in parts.iter().enumerate() {
                assert_h264_aac(part);
                let video = video_s(part);
                // The first part starts with the session, before the
                // participant.
                if i > 0 {
                    assert_eq!(colour_at(part, 0.05), Some(0), "{}", part.display());
                }
                let whole = duration_s(part);
                // Every frame is in one part or the next: 4 s of frames
                // exactly (80 at 20 fps), the audio within a buffer of it.
                if i > 0 && i + 1 < parts.len() {
                    assert!(
                        (video - 4.0).abs() < 0.001 && (whole - 4.0).abs() < 0.05,
                        "{}: video {video} s, {whole} s in all",
                        part.display()
                    );
                }
                eprintln!(
                    "{}: video {video:.3} s, {whole:.3} s in all",
                    part.display()
                );
                total += video;
            }
            // Everything since it went live, less the wait for the first
            // key frame and fragment.
            assert!(
                total <= ran_s + 0.3 && total >= ran_s - 2.5,
                "{parts:?}: {total} s of video in parts after {ran_s} s"
            );
        }
    })
    .await
    .unwrap();
    room.stop().await;
}
