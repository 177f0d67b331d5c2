//! A running session's health, from outside: `/metrics` parses as
//! Prometheus text and carries every family with plausible figures;
//! `/stats` says the same as JSON; the graph comes as DOT and SVG; the
//! periodic stats event is JSON with `--log-format json`. Then two real
//! slow stages:
//! - an RTMP server that stops reading (SIGSTOP): that output's queues
//!   fill while the encoder's stay empty and the program runs on;
//! - an encoder starved of CPU (its threads in a cgroup with a 0.1%
//!   quota): the program stalls, the warning names the encode stage, the
//!   queues before it are full and the ones after it empty; given its CPU
//!   back, it runs again.

mod common;

use std::time::Duration;

use common::prometheus::{Scrape, parse};
use common::rtmp::Nginx;
use common::throttle::Throttle;
use common::*;
use serde_json::{Value, json};

const KEY: &str = "health-stream-key-0042";

async fn scrape(http: &reqwest::Client, serve: &Serve) -> Scrape {
    let resp = http
        .get(format!("{}/metrics", serve.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    assert!(!text.contains(KEY), "a stream key in the metrics");
    parse(&text)
}

/// The fullest queue of `stage` (and `owner`, if given).
fn fullest(m: &Scrape, session: &str, stage: &str, owner: Option<&str>) -> f64 {
    let mut labels = vec![("session", session), ("stage", stage)];
    if let Some(o) = owner {
        labels.push(("owner", o));
    }
    let found = m.find("callcast_queue_fill_ratio", &labels);
    assert!(!found.is_empty(), "no {stage} queue for {owner:?}");
    found.iter().map(|s| s.value).fold(0.0, f64::max)
}

/// Every JSON log line so far.
fn log_events(log: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_stats_graph_and_slow_stages() {
    let nginx = Nginx::start();
    let room = TestRoom::start(&[("h", 0), ("h", 1)]).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("serve.log");
    let serve = Serve::start_logging(
        &["--log-format", "json", "--stats-interval", "1"],
        &[],
        std::fs::File::create(&log).unwrap(),
    );
    let http = reqwest::Client::new();
    let body = json!({
        "room": {"adapter": "callcast", "url": room.url(), "room": "h"},
        "outputs": [{"kind": "rtmp", "urls": [nginx.url(KEY)]}],
    });
    let session_url = serve.create_session(&http, &body).await;
    let session = session_url.rsplit('/').next().unwrap().to_string();
    let stats_url = format!("{session_url}/stats");

    // Both cameras composited and the RTMP output live.
    wait_for(
        "both cameras and a live output",
        Duration::from_secs(30),
        async || {
            let (_, s) = send(http.get(&stats_url)).await;
            let cams = s["tracks"].as_array().map_or(0, |t| {
                t.iter()
                    .filter(|t| t["kind"] == "video" && t["fps"].as_f64().unwrap_or(0.0) > 15.0)
                    .count()
            });
            cams == 2
                && s["outputs"][0]["state"] == "live"
                && s["program"]["fps"].as_f64() > Some(15.0)
        },
    )
    .await;

    // /stats: the figures as JSON.
    let (status, stats) = send(http.get(&stats_url)).await;
    assert_eq!(status, 200);
    assert_eq!(stats["session"], session.as_str());
    assert!(!stats.to_string().contains(KEY));
    let tracks = stats["tracks"].as_array().unwrap();
    assert_eq!(tracks.len(), 4, "{stats}");
    for t in tracks {
        let rtp = &t["rtp"];
        assert!(rtp["packets_received"].as_u64() > Some(50), "{t}");
        assert!(rtp["jitter_ms"].as_f64().is_some(), "{t}");
    }
    // The cameras' frames are in the program, on time: over two seconds
    // (a joining track's first second can pass over a backlog).
    let video = |stats: &Value| -> Vec<(u64, u64)> {
        let tracks = stats["tracks"].as_array().unwrap().iter();
        tracks
            .filter(|t| t["kind"] == "video")
            .map(|t| (t["shown"].as_u64().unwrap(), t["skipped"].as_u64().unwrap()))
            .collect()
    };
    let before = video(&stats);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = video(&send(http.get(&stats_url)).await.1);
    assert_eq!(before.len(), 2, "{stats}");
    for ((shown0, skipped0), (shown1, skipped1)) in before.iter().zip(&after) {
        let (shown, skipped) = (shown1 - shown0, skipped1 - skipped0);
        assert!(
            shown >= 30 && skipped <= shown / 10,
            "{before:?} then {after:?}"
        );
    }
    let latency = stats["encoder"]["latency_ms"].as_f64().unwrap();
    assert!(
        latency > 0.0 && latency < 500.0,
        "encoder latency {latency} ms"
    );
    assert!(stats["process"]["threads"].as_array().unwrap().len() > 10);
    let (status, missing) = send(http.get(format!("{}/v1/sessions/nope/stats", serve.url))).await;
    assert_eq!(
        (status, &missing["error"]["code"]),
        (404, &json!("session_not_found"))
    );

    // /metrics: strict Prometheus text, every family, plausible values.
    let m = scrape(&http, &serve).await;
    let s = [("session", session.as_str())];
    assert_eq!(m.value("callcast_sessions", &[]), 1.0);
    let fps = m.value("callcast_program_fps", &s);
    assert!((15.0..=25.0).contains(&fps), "program fps {fps}");
    assert!(m.value("callcast_encoder_fps", &s) > 15.0);
    assert!(m.value("callcast_encoder_latency_seconds", &s) > 0.0);
    assert_eq!(m.value("callcast_program_stalled_seconds", &s), 0.0);
    assert!(m.value("callcast_encoder_timed_frames_total", &s) > 20.0);
    let cams = m.find("callcast_track_fps", &s);
    assert_eq!(cams.len(), 2, "{cams:?}");
    assert!(cams.iter().all(|c| c.value > 15.0), "{cams:?}");
    assert_eq!(m.find("callcast_track_frames_total", &s).len(), 2);
    for family in ["callcast_track_shown_total", "callcast_track_skipped_total"] {
        assert_eq!(m.find(family, &s).len(), 2, "{family}");
        assert_eq!(m.types[family], "counter");
    }
    assert!(
        m.find("callcast_track_shown_total", &s)
            .iter()
            .all(|c| c.value > 30.0)
    );
    for family in [
        "callcast_track_dropped_total",
        "callcast_rtp_packets_received_total",
        "callcast_rtp_bytes_received_total",
        "callcast_rtp_packets_lost",
        "callcast_rtp_jitter_seconds",
        "callcast_rtp_nacks_sent_total",
        "callcast_rtp_plis_sent_total",
    ] {
        assert!(m.find(family, &s).len() >= 4, "{family}");
    }
    assert_eq!(m.types["callcast_rtp_packets_received_total"], "counter");
    assert_eq!(m.types["callcast_queue_fill_ratio"], "gauge");
    assert!(
        m.find("callcast_rtp_packets_received_total", &s)
            .iter()
            .all(|p| p.value > 50.0)
    );
    for stage in ["receive", "track", "encode", "output"] {
        // A track's queue holds 3 frames: one can be full for a moment
        // while the compositor waits for its deadline.
        if stage != "track" {
            assert!(
                fullest(&m, &session, stage, None) < 0.9,
                "{stage} queues full at rest"
            );
        }
        for family in [
            "callcast_queue_buffers",
            "callcast_queue_bytes",
            "callcast_queue_seconds",
            "callcast_queue_overruns_total",
        ] {
            assert!(
                !m.find(family, &[("stage", stage)]).is_empty(),
                "{family} {stage}"
            );
        }
    }
    let rtmp = [("session", session.as_str()), ("output", "rtmp-1")];
    assert_eq!(
        m.find("callcast_output_state", &rtmp)[0].labels["state"],
        "live"
    );
    assert!(m.value("callcast_output_bitrate_bps", &rtmp) > 10_000.0);
    assert!(m.value("callcast_output_bytes_total", &rtmp) > 10_000.0);
    assert!(m.value("callcast_process_cpu_seconds_total", &[]) > 0.0);
    assert!(m.value("callcast_process_resident_memory_bytes", &[]) > 1e6);
    // Each track's own thread, named after it.
    let threads = m.find("callcast_thread_cpu_seconds_total", &[]);
    assert!(
        threads
            .iter()
            .filter(|t| t.labels["thread"].starts_with("cam:"))
            .count()
            == 2,
        "{threads:?}"
    );

    // The graph, as DOT and (Graphviz installed) SVG; bad asks are 422.
    let graph = format!("{session_url}/graph");
    let dot = http.get(&graph).send().await.unwrap();
    assert_eq!(dot.headers()["content-type"], "text/vnd.graphviz");
    let dot = dot.text().await.unwrap();
    assert!(dot.starts_with("digraph") && dot.contains("enc-video-queue"));
    assert!(!dot.contains(KEY), "a stream key in the graph");
    let svg = http
        .get(format!("{graph}?format=svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    let svg = svg.text().await.unwrap();
    assert!(svg.contains("<svg") && !svg.contains(KEY));
    for (query, field) in [("format=png", "format"), ("size=9", "size")] {
        let (status, err) = send(http.get(format!("{graph}?{query}"))).await;
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (422, Some(field)),
            "{err}"
        );
    }

    // A hung RTMP server: its output's queues fill (and drop the oldest),
    // the encoder's stay empty, the program runs on.
    nginx.freeze();
    wait_for(
        "the RTMP output's queues to fill",
        Duration::from_secs(60),
        async || {
            let m = scrape(&http, &serve).await;
            fullest(&m, &session, "output", Some("rtmp-1")) >= 0.9
        },
    )
    .await;
    let m = scrape(&http, &serve).await;
    assert!(fullest(&m, &session, "encode", None) < 0.5);
    assert!(m.value("callcast_program_fps", &s) > 15.0);
    assert_eq!(m.value("callcast_program_stalled_seconds", &s), 0.0);
    nginx.thaw();

    // An encoder starved of CPU stalls the program: the queues before it
    // fill, the ones after it empty, and the warning names its stage.
    let throttle = Throttle::threads(serve.child.id(), "enc-video-queue", 0.1);
    wait_for("the stall warning", Duration::from_secs(30), async || {
        log_events(&log).iter().any(|e| {
            e["fields"]["slow_stage"] == "encode"
                && e["level"] == "WARN"
                && e["fields"]["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("program stalled"))
        })
    })
    .await;
    let m = scrape(&http, &serve).await;
    assert!(m.value("callcast_program_stalled_seconds", &s) > 2.0);
    assert!(fullest(&m, &session, "encode", Some("video")) >= 0.9);
    assert!(fullest(&m, &session, "track", None) >= 0.9);
    assert!(fullest(&m, &session, "output", Some("rtmp-1")) < 0.1);
    let warning = log_events(&log)
        .into_iter()
        .find(|e| e["fields"]["slow_stage"] == "encode")
        .unwrap();
    assert!(
        warning["fields"]["full_queues"]
            .as_str()
            .is_some_and(|q| q.contains("encode:video enc-video-queue")),
        "{warning}"
    );
    throttle.release();
    wait_for(
        "the program to run again",
        Duration::from_secs(30),
        async || {
            let m = scrape(&http, &serve).await;
            m.value("callcast_program_stalled_seconds", &s) == 0.0
                && m.value("callcast_program_fps", &s) > 15.0
        },
    )
    .await;
    assert!(
        log_events(&log)
            .iter()
            .any(|e| e["fields"]["message"] == "program running again after a stall")
    );

    // The periodic event: JSON, its figures as fields and in full.
    let events: Vec<Value> = log_events(&log)
        .into_iter()
        .filter(|e| e["fields"]["message"] == "session stats")
        .collect();
    assert!(events.len() >= 5, "{} stats events", events.len());
    let last = &events.last().unwrap()["fields"];
    assert_eq!(last["session"], session.as_str());
    assert!(last["program_fps"].as_f64().is_some() && last["cpu_cores"].as_f64().is_some());
    let full: Value = serde_json::from_str(last["stats"].as_str().unwrap()).unwrap();
    assert_eq!(full["session"], session.as_str());
    assert_eq!(full["tracks"].as_array().unwrap().len(), 4);
    assert!(!std::fs::read_to_string(&log).unwrap().contains(KEY));

    let (status, _) = send(http.delete(&session_url)).await;
    assert_eq!(status, 200);
    room.stop().await;
}
