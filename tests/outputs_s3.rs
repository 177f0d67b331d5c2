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
            // Inside the tagged output object serde knows the name only.
            "bucket",
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
        wait_for(&format!("{u} live"), Duration::from_secs(30), async || {
            send(http.get(u)).await.1["state"] == "live"
        })
        .await;
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
    wait_for("the recording live", Duration::from_secs(20), async || {
        send(http.get(&output)).await.1["state"] == "live"
    })
    .await;
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
