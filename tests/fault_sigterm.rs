//! SIGTERM finalizes everything before exit: two sessions on one
//! `callcast serve`, recording to a file and to S3 (s3s-fs), writing HLS
//! and streaming to nginx-rtmp. After the signal the server exits by
//! itself, having written: both MP4 files and the S3 object whole and as
//! long as the run, the HLS playlists with `#EXT-X-ENDLIST`, and an RTMP
//! stream ended with `deleteStream` before the connection closed.
//!
//! A second SIGTERM exits at once: with the S3 store hung (SIGSTOP), the
//! upload's completion waits for it; the second signal ends the process
//! within a second, and the file recording beside it is already whole.
//! Between the two, a new session is refused (503).
//!
//! SIGKILL mid-recording: the fragmented MP4 on disk plays up to its last
//! whole fragment, with everyone in it. On S3, the parts already uploaded
//! are reported on the next start (log and API) with how to recover them,
//! and recovering them as told gives a recording that plays.

mod common;

use std::fs::File;
use std::time::{Duration, Instant};

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use callcast::media::outputs::s3::S3Config;
use common::s3::{self, S3, SECRET_KEY};
use common::*;
use serde_json::json;

fn sigterm(pid: u32) {
    // SAFETY: kill only sends a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTERM) }, 0);
}

/// Waits for the child to exit; its status and how long that took.
fn wait_exit(child: &mut std::process::Child, timeout: Duration) -> (i32, Duration) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code().unwrap_or(-1), start.elapsed());
        }
        assert!(start.elapsed() < timeout, "still running after {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn all_live(http: &reqwest::Client, session: &str, n: usize) {
    wait_for("every output live", Duration::from_secs(30), async || {
        let (_, info) = send(http.get(session)).await;
        info["outputs"]
            .as_array()
            .is_some_and(|o| o.len() == n && o.iter().all(live))
    })
    .await;
}

/// The playlist ends, and its segments add up to at least `min_s`.
fn assert_ended(playlist: &std::path::Path, min_s: f64) {
    let text = std::fs::read_to_string(playlist).unwrap();
    assert!(
        text.trim_end().ends_with("#EXT-X-ENDLIST"),
        "{}: {text}",
        playlist.display()
    );
    let total: f64 = text
        .lines()
        .filter_map(|l| l.strip_prefix("#EXTINF:"))
        .filter_map(|l| l.split(',').next()?.parse::<f64>().ok())
        .sum();
    assert!(total >= min_s, "{total} s of segments: {text}");
}

/// The recording is whole: H.264 and AAC, continuous, about `run_s` long.
fn assert_whole(mp4: &std::path::Path, run_s: f64) {
    assert_h264_aac(mp4);
    let length = assert_continuous_video(mp4, 0.5);
    assert!(
        length > run_s - 3.0 && length < run_s + 3.0,
        "{}: {length:.1} s of a {run_s:.1} s run",
        mp4.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finalizes_every_output_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let room = TestRoom::start(&[("t", 0), ("t", 1)]).await;
    let nginx = common::rtmp::Nginx::start();
    let s3 = S3::start(&["rec"]);
    let log_path = dir.path().join("serve.log");
    let mut serve = Serve::start_logging(&[], &s3.serve_env(), File::create(&log_path).unwrap());
    let http = reqwest::Client::new();
    let room_spec = json!({"adapter": "callcast", "url": room.url(), "room": "t"});
    let (a_mp4, b_mp4, hls) = (
        dir.path().join("a.mp4"),
        dir.path().join("b.mp4"),
        dir.path().join("hls"),
    );
    let a = serve
        .create_session(
            &http,
            &json!({"room": room_spec, "outputs": [
                {"kind": "record", "location": format!("file://{}", a_mp4.display())},
                {"kind": "record", "location": "s3://rec/a.mp4"},
                {"kind": "hls", "location": format!("file://{}/", hls.display()), "segment_s": 2,
                 "variants": [{"height": 360, "video_kbps": 600}]},
                {"kind": "rtmp", "urls": [nginx.url("a")]},
            ]}),
        )
        .await;
    let b = serve
        .create_session(
            &http,
            &json!({"room": room_spec, "outputs": [
                {"kind": "record", "location": format!("file://{}", b_mp4.display())},
            ]}),
        )
        .await;
    all_live(&http, &a, 4).await;
    all_live(&http, &b, 1).await;
    let live_since = Instant::now();
    tokio::time::sleep(Duration::from_secs(6)).await;

    sigterm(serve.child.id());
    let run_s = live_since.elapsed().as_secs_f64();
    let (code, took) = tokio::task::spawn_blocking(move || {
        let r = wait_exit(&mut serve.child, Duration::from_secs(30));
        (r, serve)
    })
    .await
    .unwrap()
    .0;
    assert_eq!(code, 0, "exit status");
    eprintln!("finalized and exited {took:?} after SIGTERM");

    let s3_mp4 = s3.object_path("rec", "a.mp4");
    for mp4 in [&a_mp4, &b_mp4, &s3_mp4] {
        assert_whole(mp4, run_s);
    }
    assert_ended(&hls.join("360p/playlist.m3u8"), run_s - 6.0);
    assert!(std::fs::read_to_string(hls.join("index.m3u8")).is_ok());
    // The RTMP stream was ended (deleteStream) before its connection
    // closed, not dropped.
    // Connection *1 is the helper's own check that nginx accepts.
    let log = nginx.log();
    let publisher: Vec<&str> = log.lines().filter(|l| l.contains(" *2 ")).collect();
    let at = |what: &str| publisher.iter().position(|l| l.contains(what));
    let ended = at("deleteStream").expect("deleteStream in nginx's log");
    let closed = at("disconnect").expect("disconnect in nginx's log");
    assert!(
        ended < closed,
        "the RTMP connection dropped before the stream ended:\n{log}"
    );
    let ours = std::fs::read_to_string(&log_path).unwrap();
    assert!(ours.contains("finalizing outputs"), "{ours}");
    room.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigterm_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let room = TestRoom::start(&[("u", 0)]).await;
    let s3 = S3::start(&["rec"]);
    let mut serve = Serve::start();
    let http = reqwest::Client::new();
    let mp4 = dir.path().join("kept.mp4");
    let session = serve
        .create_session(
            &http,
            &json!({"room": {"adapter": "callcast", "url": room.url(), "room": "u"}, "outputs": [
                {"kind": "record", "location": format!("file://{}", mp4.display())},
                {"kind": "record", "location": "s3://rec/hung.mp4", "s3": s3.settings(SECRET_KEY)},
            ]}),
        )
        .await;
    all_live(&http, &session, 2).await;
    let live_since = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // The store stops answering: the upload's last part and its
    // completion wait for it.
    s3.freeze();

    let pid = serve.child.id();
    sigterm(pid);
    let run_s = live_since.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert!(
        serve.child.try_wait().unwrap().is_none(),
        "still finalizing: the hung store holds it up"
    );
    // Meanwhile no new session gets in.
    let (status, body) = send(
        http.post(format!("{}/v1/sessions", serve.url))
            .json(&json!({"room": {"adapter": "callcast", "url": room.url(), "room": "u"}})),
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    sigterm(pid);
    let (code, took) = wait_exit(&mut serve.child, Duration::from_secs(5));
    assert!(
        took < Duration::from_secs(1),
        "exited {took:?} after the second signal"
    );
    assert_ne!(code, 0, "an exit without finalizing is not a success");
    s3.thaw();
    // The recording beside it had been finished.
    assert_whole(&mp4, run_s);
    room.stop().await;
}

/// SIGKILL mid-recording: nothing is finalized, yet the fragmented MP4
/// on disk plays up to its last whole fragment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_leaves_a_playable_recording() {
    let dir = tempfile::tempdir().unwrap();
    let room = TestRoom::start(&[("v", 0), ("v", 1)]).await;
    let mut serve = Serve::start();
    let http = reqwest::Client::new();
    let mp4 = dir.path().join("killed.mp4");
    let session = serve
        .create_session(
            &http,
            &json!({"room": {"adapter": "callcast", "url": room.url(), "room": "v"}, "outputs": [
                {"kind": "record", "location": format!("file://{}", mp4.display())},
            ]}),
        )
        .await;
    all_live(&http, &session, 1).await;
    let live_since = Instant::now();
    tokio::time::sleep(Duration::from_secs(6)).await;
    serve.child.kill().unwrap();
    let run_s = live_since.elapsed().as_secs_f64();
    let _ = serve.child.wait();

    assert_h264_aac(&mp4);
    let length = assert_continuous_video(&mp4, 0.5);
    // Up to the last whole fragment: fragments are cut at key frames,
    // every 2 s.
    assert!(
        length > run_s - 3.5 && length <= run_s + 0.5,
        "{length:.1} s of a {run_s:.1} s run"
    );
    // Both participants are in the last second that was written.
    assert_eq!(
        participants_at(&mp4, length - 1.0, 2)
            .into_iter()
            .flatten()
            .count(),
        2
    );
    room.stop().await;
}

/// SIGKILL while recording to S3, past the first 5 MB part: the next start
/// reports the cut-off recording (log and `/v1/recordings/interrupted`)
/// until dismissed, and the parts it names complete into a recording that
/// plays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_on_s3_is_reported_on_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let state_arg = state.to_str().unwrap();
    let s3 = S3::start(&["rec"]);
    let room = TestRoom::start(&[("v", 0), ("v", 1)]).await;
    let args = ["--state-dir", state_arg];
    let mut serve = Serve::start_with(&args, &s3.serve_env());
    let http = reqwest::Client::new();
    let interrupted = |serve: &Serve| format!("{}/v1/recordings/interrupted", serve.url);

    let session = serve
        .create_session(
            &http,
            &json!({"room": {"adapter": "callcast", "url": room.url(), "room": "v"}, "outputs": [
                {"kind": "record", "location": "s3://rec/{session}.mp4"},
            ]}),
        )
        .await;
    let sid = session.rsplit('/').next().unwrap().to_string();
    all_live(&http, &session, 1).await;
    let (status, list) = send(http.get(interrupted(&serve))).await;
    assert_eq!(status, 200);
    assert_eq!(list, json!({"journal": true, "recordings": []}));
    wait_for("a part uploaded", Duration::from_secs(60), async || {
        s3.unfinished_uploads().iter().any(|u| u.1 >= 5 << 20)
    })
    .await;
    serve.child.kill().unwrap();
    let _ = serve.child.wait();
    let uploads = s3.unfinished_uploads();
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    assert!(s3.keys("rec", "").is_empty(), "no object yet");

    // The next start says so, in its log and over the API.
    let log_path = dir.path().join("next.log");
    let next = Serve::start_logging(&args, &s3.serve_env(), File::create(&log_path).unwrap());
    let (_, list) = send(http.get(interrupted(&next))).await;
    let cut = &list["recordings"][0];
    assert_eq!(list["recordings"].as_array().unwrap().len(), 1, "{list}");
    let key = format!("{sid}.mp4");
    assert_eq!(cut["target"], format!("s3://rec/{key}"));
    assert_eq!(cut["endpoint"], s3.endpoint());
    assert_eq!(
        (cut["session"].as_str(), cut["part"].as_u64()),
        (Some(sid.as_str()), Some(1))
    );
    let advice = cut["advice"].as_str().unwrap();
    assert!(
        advice.contains(&format!("--bucket rec --prefix {key}")),
        "{advice}"
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        log.contains("a recording was cut off") && log.contains(&format!("s3://rec/{key}")),
        "{log}"
    );
    // No key of the store's in the journal.
    for file in walk(&state) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            !text.contains(SECRET_KEY) && !text.contains(s3::ACCESS_KEY),
            "{}",
            file.display()
        );
    }

    // Recovered as the advice says: the parts listed, then completed.
    let client = serde_json::from_value::<S3Config>(s3.settings(SECRET_KEY))
        .unwrap()
        .client()
        .await;
    let upload = &uploads[0].0;
    let parts = client
        .list_parts()
        .bucket("rec")
        .key(&key)
        .upload_id(upload)
        .send()
        .await
        .unwrap();
    let parts: Vec<CompletedPart> = parts
        .parts()
        .iter()
        .map(|p| {
            CompletedPart::builder()
                .set_part_number(p.part_number())
                .build()
        })
        .collect();
    assert!(!parts.is_empty());
    client
        .complete_multipart_upload()
        .bucket("rec")
        .key(&key)
        .upload_id(upload)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mp4 = s3.object_path("rec", &key);
    assert_h264_aac(&mp4);
    let length = assert_continuous_video(&mp4, 0.5);
    eprintln!(
        "recovered: {} bytes in the parts uploaded, {length:.1} s of media",
        uploads[0].1
    );
    assert!(length >= 3.0, "the parts hold {length:.1} s");

    // Dismissed, it is gone.
    let dismiss = format!("{}/{}", interrupted(&next), cut["id"].as_str().unwrap());
    let resp = http.delete(&dismiss).send().await.unwrap();
    assert_eq!(resp.status(), 204);
    let (status, body) = send(http.delete(&dismiss)).await;
    assert_eq!((status, &body["error"]["field"]), (404, &json!("id")));
    let (_, list) = send(http.get(interrupted(&next))).await;
    assert_eq!(list["recordings"], json!([]));
    room.stop().await;
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p)
            } else {
                files.push(p)
            }
        }
    }
    files
}
