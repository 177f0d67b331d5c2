//! Secrets never show: a session streams to nginx-rtmp under a stream key
//! (and a second URL with a token in its query), to an SRT caller with a
//! passphrase, records to S3 with the server's keys and writes HLS to S3
//! with keys of its own, and has an S3 output that fails on a wrong secret
//! key; the API wants a token. Everything is then read back: every GET
//! body (sessions, outputs, layout, stats, metrics, the pipeline graph in
//! DOT and SVG, the OpenAPI document), both event streams, the error
//! bodies, the answers of DELETE, and the server's whole log (JSON, debug
//! level) up to its exit. None of it holds any of the secrets.

mod common;

use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::s3::{S3, SECRET_KEY};
use common::*;
use serde_json::{Value, json};

const API_TOKEN: &str = "api-token-SECRET-4f1c9a7e2b";
const WRONG_TOKEN: &str = "wrong-token-SECRET-77aa11bb";
const STREAM_KEY: &str = "sk_live_SECRET_9d8c7b6a5f";
const QUERY_TOKEN: &str = "querytokenSECRET123456";
const PASSPHRASE: &str = "srt-pass-SECRET-0a1b2c3d";
const WRONG_S3_SECRET: &str = "wrong-s3-SECRET-key-5e6f7a8b";

/// ffmpeg calling an SRT listener with the passphrase, for `seconds`.
fn srt_caller(port: u16, seconds: u32) -> Child {
    Command::new("ffmpeg")
        .args(["-nostdin", "-y", "-v", "error", "-i"])
        .arg(format!(
            "srt://127.0.0.1:{port}?mode=caller&passphrase={PASSPHRASE}"
        ))
        .args(["-c", "copy", "-t", &seconds.to_string(), "-f", "null", "-"])
        .stdout(Stdio::null())
        .spawn()
        .expect("ffmpeg runs")
}

/// The first `update` of a server-sent event stream.
async fn first_event(http: &reqwest::Client, url: &str) -> String {
    let mut resp = http.get(url).bearer_auth(API_TOKEN).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{url}");
    let mut text = String::new();
    let read = async {
        while !text.contains("event: update") || !text.ends_with("\n\n") {
            match resp.chunk().await.unwrap() {
                Some(c) => text.push_str(&String::from_utf8_lossy(&c)),
                None => break,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an event within 10 s");
    text
}

fn assert_clean(what: &str, text: &str) {
    for secret in [
        API_TOKEN,
        WRONG_TOKEN,
        STREAM_KEY,
        QUERY_TOKEN,
        PASSPHRASE,
        SECRET_KEY,
        WRONG_S3_SECRET,
    ] {
        assert!(
            !text.contains(secret),
            "{what} shows the secret {secret}:\n{}",
            &text[text.find(secret).unwrap().saturating_sub(300)..]
                .chars()
                .take(700)
                .collect::<String>()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_appear_in_no_body_no_stream_and_no_log() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("serve.log");
    let room = TestRoom::start(&[("k", 0), ("k", 1)]).await;
    let nginx = common::rtmp::Nginx::start();
    let s3 = S3::start(&["rec", "hls"]);
    let mut serve = Serve::start_logging(
        &["--log-format", "json", "--stats-interval", "1"],
        &[
            [("CALLCAST_LOG", "debug"), ("CALLCAST_API_TOKEN", API_TOKEN)].as_slice(),
            &s3.serve_env(),
        ]
        .concat(),
        File::create(&log_path).unwrap(),
    );
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", serve.url);
    let srt_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let body = json!({
        "room": {"adapter": "callcast", "url": room.url(), "room": "k"},
        "outputs": [
            {"kind": "rtmp", "urls": [
                nginx.url(STREAM_KEY),
                format!("{}?token={QUERY_TOKEN}", nginx.url("second")),
            ]},
            {"kind": "srt", "url": format!("srt://127.0.0.1:{srt_port}"), "mode": "listener",
             "passphrase": PASSPHRASE},
            {"kind": "record", "location": "s3://rec/{session}.mp4"},
            {"kind": "hls", "location": "s3://hls/{session}/", "s3": s3.settings(SECRET_KEY),
             "variants": [{"height": 360, "video_kbps": 600}], "segment_s": 2},
            {"kind": "record", "location": "s3://rec/refused.mp4", "s3": s3.settings(WRONG_S3_SECRET)},
        ],
    });
    let resp = http
        .post(url("/v1/sessions"))
        .bearer_auth(API_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let session = url(resp.headers()["location"].to_str().unwrap());
    let mut bodies = vec![("POST /v1/sessions".to_string(), resp.text().await.unwrap())];
    let mut caller = srt_caller(srt_port, 6);

    // Every secret is in use: each output is live, but the wrong key's.
    let get = async |path: &str| {
        let resp = http.get(path).bearer_auth(API_TOKEN).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        resp.text().await.unwrap()
    };
    wait_for(
        "every output live, one failed",
        Duration::from_secs(30),
        async || {
            let info: Value = serde_json::from_str(&get(&session).await).unwrap();
            let outputs = info["outputs"].as_array().unwrap().clone();
            let rtmp_urls_live = outputs[0]["urls"]
                .as_array()
                .is_some_and(|u| u.iter().all(|u| u["state"] == "live"));
            rtmp_urls_live && outputs[1..4].iter().all(live) && outputs[4]["state"] == "failed"
        },
    )
    .await;
    let _ = tokio::task::spawn_blocking(move || caller.wait()).await;

    // Read everything back.
    let (_, info) = send(http.get(&session).bearer_auth(API_TOKEN)).await;
    let id = info["id"].as_str().unwrap().to_string();
    for path in [
        "/v1/sessions".to_string(),
        format!("/v1/sessions/{id}"),
        format!("/v1/sessions/{id}/outputs"),
        format!("/v1/sessions/{id}/outputs/rtmp-1"),
        format!("/v1/sessions/{id}/outputs/srt-2"),
        format!("/v1/sessions/{id}/outputs/record-5"),
        format!("/v1/sessions/{id}/layout"),
        format!("/v1/sessions/{id}/stats"),
        format!("/v1/sessions/{id}/graph"),
        format!("/v1/sessions/{id}/graph?format=svg"),
        "/metrics".to_string(),
        "/v1/openapi.json".to_string(),
    ] {
        bodies.push((format!("GET {path}"), get(&url(&path)).await));
    }
    bodies.push((
        "/v1/events".into(),
        first_event(&http, &url("/v1/events")).await,
    ));
    bodies.push((
        "session events".into(),
        first_event(&http, &format!("{session}/events")).await,
    ));
    // The failed output says why, without the key.
    let failed = &bodies
        .iter()
        .find(|(w, _)| w.ends_with("record-5"))
        .unwrap()
        .1;
    assert!(failed.contains("failed"), "{failed}");

    // Errors: a wrong token, bad URLs carrying the key, a refused update.
    let errors = [
        http.get(&session).bearer_auth(WRONG_TOKEN),
        http.post(format!("{session}/outputs"))
            .bearer_auth(API_TOKEN)
            .json(&json!({"kind": "rtmp", "urls": [format!("rtmp://127.0.0.1/live/{STREAM_KEY} x")]})),
        http.post(format!("{session}/outputs"))
            .bearer_auth(API_TOKEN)
            .json(&json!({"kind": "srt", "url": "srt://127.0.0.1:9", "passphrase": format!("{PASSPHRASE}{}", "x".repeat(80))})),
        http.patch(format!("{session}/outputs/record-5"))
            .bearer_auth(API_TOKEN)
            .json(&json!({"urls": [nginx.url(STREAM_KEY)]})),
        http.patch(format!("{session}/outputs/rtmp-1"))
            .bearer_auth(API_TOKEN)
            .json(&json!({"urls": [nginx.url(STREAM_KEY), nginx.url(STREAM_KEY)]})),
    ];
    for (i, req) in errors.into_iter().enumerate() {
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        assert!((400..500).contains(&status), "error {i}: {status}");
        bodies.push((format!("error {i} ({status})"), resp.text().await.unwrap()));
    }
    // A URL removed live, an output removed, the session stopped.
    let resp = http
        .patch(format!("{session}/outputs/rtmp-1"))
        .bearer_auth(API_TOKEN)
        .json(&json!({"urls": [nginx.url(STREAM_KEY)]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    bodies.push(("PATCH rtmp-1".into(), resp.text().await.unwrap()));
    for path in [format!("{session}/outputs/srt-2"), session.clone()] {
        let resp = http
            .delete(&path)
            .bearer_auth(API_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        bodies.push((format!("DELETE {path}"), resp.text().await.unwrap()));
    }
    for (what, text) in &bodies {
        assert!(!text.is_empty(), "{what} is empty");
        assert_clean(what, text);
    }

    // The log, to the end: SIGTERM, and the server exits.
    unsafe { libc::kill(serve.child.id() as i32, libc::SIGTERM) };
    let status = tokio::task::spawn_blocking(move || {
        let status = serve.child.wait().unwrap();
        (status, serve)
    })
    .await
    .unwrap()
    .0;
    assert!(status.success(), "{status}");
    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines = log.lines().count();
    assert!(lines > 50, "only {lines} log lines");
    assert!(
        log.contains("\"level\":\"DEBUG\""),
        "the log is at debug level"
    );
    assert!(
        log.contains("rtmp url removed") && log.contains("…"),
        "the log names the masked URL"
    );
    assert_clean("the server's log", &log);
    room.stop().await;
}
