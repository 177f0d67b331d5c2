//! Outputs over HTTP on a live session: every kind (a recording, an SRT
//! listener, HLS with a rendition of its own, RTMP to a server that is not
//! there) added and removed 20 times while a recording runs, which never
//! misses a frame, and nothing leaks.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .count()
}

fn record(path: &std::path::Path) -> Value {
    json!({"kind": "record", "location": format!("file://{}", path.display())})
}

/// The `i`th output of the churn, and whether it goes live by itself.
fn churn_output(i: usize, dir: &std::path::Path) -> (Value, bool) {
    match i % 4 {
        0 => (record(&dir.join(format!("extra-{i}.mp4"))), true),
        1 => {
            let port = std::net::UdpSocket::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let url = format!("srt://127.0.0.1:{port}");
            (json!({"kind": "srt", "url": url, "mode": "listener"}), true)
        }
        2 => (
            json!({"kind": "hls", "location": format!("file://{}/hls-{i}/", dir.display()),
                   "segment_s": 2,
                   "variants": [{"height": 720, "video_kbps": 2500}, {"height": 360, "video_kbps": 600}]}),
            true,
        ),
        // Nothing listens on port 9: it keeps reconnecting until removed.
        _ => (
            json!({"kind": "rtmp", "urls": ["rtmp://127.0.0.1:9/live/churn-key"]}),
            false,
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_come_and_go_without_touching_the_others() {
    let serve = Serve::start();
    let http = reqwest::Client::new();
    let room = TestRoom::start(&[("o", 0)]).await;
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("kept.mp4");

    // No speaker border: its cards would come and go with Alice's voice
    // and blur the element count this test compares.
    let body = json!({"room": {"adapter": "callcast", "url": room.url(), "room": "o"},
                      "layout": {"kind": "grid", "highlight": false},
                      "outputs": [record(&kept)]});
    let session = serve.create_session(&http, &body).await;
    let outputs = format!("{session}/outputs");
    // Both her tracks: her picture can show before her sound's bin is
    // linked (she starts with a key frame), and that bin would then join
    // after the baseline.
    wait_for(
        "Alice on the recording",
        Duration::from_secs(15),
        async || {
            let (_, info) = send(http.get(&session)).await;
            let tracks = info["roster"][0]["tracks"].as_array().cloned();
            tracks.is_some_and(|t| t.len() == 2 && t.iter().all(|t| t["receiving"] == true))
                && info["outputs"][0]["state"] == "live"
        },
    )
    .await;
    // Her picture on her tile: no card comes or goes after the baseline.
    wait_for("Alice's picture", Duration::from_secs(5), async || {
        let (_, layout) = send(http.get(format!("{session}/layout"))).await;
        layout["tiles"][0]["shows"] == "video"
    })
    .await;
    let (_, info) = send(http.get(&session)).await;
    let baseline = info["pipeline"].clone();
    let threads_before = threads(serve.child.id());

    // Bad requests name the field; unknown ids are 404.
    let (status, err) = send(
        http.post(&outputs)
            .json(&json!({"kind": "record", "location": "rel.mp4"})),
    )
    .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("location")),
        "{err}"
    );
    let (status, err) = send(
        http.post(&outputs)
            .json(&json!({"kind": "record", "location": "file:///x.mp4", "extra": 1})),
    )
    .await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("extra")),
        "{err}"
    );
    let (status, err) = send(http.post(&outputs).json(&json!({"kind": "ftp"}))).await;
    assert_eq!(status, 422, "{err}");
    let (status, err) = send(http.delete(format!("{outputs}/record-99"))).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("output_not_found"))
    );

    let mut threads_halfway = 0;
    for i in 0..20 {
        if i == 10 {
            threads_halfway = threads(serve.child.id());
        }
        let (spec, goes_live) = churn_output(i, dir.path());
        let resp = http.post(&outputs).json(&spec).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 201, "add {i}");
        let url = format!(
            "{}{}",
            serve.url,
            resp.headers()["location"].to_str().unwrap()
        );
        let added: Value = resp.json().await.unwrap();
        assert_eq!(added["kind"], spec["kind"]);
        // Every fifth one runs until it writes, and says so.
        if i % 5 == 4 && goes_live {
            wait_for_output(
                &http,
                &url,
                "the extra output live",
                Duration::from_secs(15),
                live,
            )
            .await;
        }
        let (status, last) = send(http.delete(&url)).await;
        assert_eq!(
            (status, last["state"].as_str()),
            (200, Some("stopped")),
            "remove {i}: {last}"
        );
        if i % 5 == 4 && i % 4 == 0 {
            let f = dir.path().join(format!("extra-{i}.mp4"));
            tokio::task::spawn_blocking(move || assert_eq!(streams(&f).len(), 2))
                .await
                .unwrap();
        }
    }
    let (_, list) = send(http.get(&outputs)).await;
    let list = list["outputs"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1, "{list:?}");
    assert!(
        list[0]["bitrate_bps"].as_u64().unwrap() > 100_000,
        "{list:?}"
    );
    assert!(list[0]["uptime_s"].as_f64().unwrap() > 5.0, "{list:?}");
    let (_, info) = send(http.get(&session)).await;
    assert_eq!(info["pipeline"], baseline, "elements or pads left behind");
    // Each output brings three or more threads: a leak would add 30 or more
    // over ten cycles. Pools (tokio's blocking threads, GStreamer's task
    // pool for five kinds of output) keep some, and fill at their own pace.
    let threads_after = threads(serve.child.id());
    eprintln!("threads: {threads_before} -> {threads_halfway} (10 cycles) -> {threads_after} (20)");
    assert!(
        threads_after <= threads_halfway + 12 && threads_after <= threads_before + 24,
        "threads {threads_before} -> {threads_halfway} (10 cycles) -> {threads_after} (20)"
    );

    let (status, _) = send(http.delete(&session)).await;
    assert_eq!(status, 200);
    tokio::task::spawn_blocking(move || {
        let last = assert_continuous_video(&kept, 0.2);
        assert!(last > 5.0, "kept recording plays {last} s");
    })
    .await
    .unwrap();
    room.stop().await;
}
