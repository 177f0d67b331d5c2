//! Churn (`make soak`, about 6 minutes): 200 participants join and leave a
//! recorded room over 5 minutes, about three at a time, beside one who
//! stays. The program never stalls and its timestamps only go forward;
//! once everyone has left, the server's GStreamer elements and pads are
//! back to their baseline, its threads and file descriptors too, and its
//! resident memory has grown by under 10 %.

mod common;

use std::time::{Duration, Instant};

use callcast::config::IceConfig;
use callcast::synth::{SynthSpec, SyntheticParticipant};
use common::*;
use serde_json::Value;

/// Joins (`CALLCAST_CHURN_JOINS` for a shorter or a longer look).
fn joins() -> usize {
    std::env::var("CALLCAST_CHURN_JOINS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}
const EVERY: Duration = Duration::from_millis(1500);
const STAY: Duration = Duration::from_millis(4500);
/// Joins and leaves before the baseline is taken, on the churn's own
/// schedule: the first ones grow pools that then stay (GStreamer's
/// threads, the allocator's arenas), sized by how many are in the room at
/// once, so a warm-up one at a time would leave that growth to the churn.
const WARM_UP: usize = 8;

/// What the server process holds, from /proc.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Footprint {
    elements: u64,
    pads: u64,
    threads: usize,
    fds: usize,
    rss_kb: u64,
    anon_kb: u64,
    file_kb: u64,
}

async fn footprint(http: &reqwest::Client, session: &str, pid: u32) -> Footprint {
    let (_, info) = send(http.get(session)).await;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb = |field: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    };
    let (rss_kb, anon_kb, file_kb) = (kb("VmRSS:"), kb("RssAnon:"), kb("RssFile:"));
    let count = |dir: &str| {
        std::fs::read_dir(format!("/proc/{pid}/{dir}"))
            .unwrap()
            .count()
    };
    Footprint {
        elements: info["pipeline"]["elements"].as_u64().unwrap(),
        pads: info["pipeline"]["pads"].as_u64().unwrap(),
        threads: count("task"),
        fds: count("fd"),
        rss_kb,
        anon_kb,
        file_kb,
    }
}

/// The server's pid: `pid`, or its child when a wrapper
/// (`CALLCAST_SERVE_WRAPPER`) started it.
fn server_pid(pid: u32) -> u32 {
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    match std::env::var("CALLCAST_SERVE_WRAPPER") {
        Ok(w) if !w.is_empty() => children
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
            .next()
            .unwrap_or(pid),
        _ => pid,
    }
}

fn spec(i: usize) -> SynthSpec {
    // Small pictures: the churners' encoders run in this process, beside
    // the server, on the same two cores.
    SynthSpec {
        width: 320,
        height: 180,
        ..SynthSpec::demo(2 + i % 6)
    }
}

/// One participant: joins at `at`, stays [`STAY`], leaves.
async fn churner(url: String, i: usize, at: Instant) {
    tokio::time::sleep_until(at.into()).await;
    let p = SyntheticParticipant::join(&url, "c", spec(i), IceConfig::loopback())
        .await
        .unwrap_or_else(|e| panic!("join {i}: {e}"));
    tokio::time::sleep(STAY).await;
    p.leave().await;
}

async fn only_bob(http: &reqwest::Client, session: &str) {
    wait_for(
        "Bob alone, his picture up",
        Duration::from_secs(30),
        async || {
            let (_, info) = send(http.get(session)).await;
            let tiles = info["layout"]["tiles"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            info["roster"].as_array().map(Vec::len) == Some(1)
                && info["peers"].as_array().map(Vec::len) == Some(1)
                && tiles.len() == 1
                && tiles[0]["shows"] == "video"
        },
    )
    .await;
    // Tracks that left are torn down off the event loop; let them finish.
    tokio::time::sleep(Duration::from_secs(3)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "six minutes: run by make soak"]
async fn two_hundred_joins_and_leaves_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("serve.log");
    let serve = Serve::start_logging(&[], &[], std::fs::File::create(&log_path).unwrap());
    let pid = server_pid(serve.child.id());
    // No idle connections: they would count among the server's fds.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let room = TestRoom::start(&[("c", 1)]).await;
    let mp4 = dir.path().join("churn.mp4");
    let session = serve
        .create_session(&http, &recording_of(&room.url(), "c", &mp4))
        .await;
    let started = Instant::now();
    only_bob(&http, &session).await;
    let cold = footprint(&http, &session, pid).await;
    let warm_at = Instant::now();
    let mut warm = tokio::task::JoinSet::new();
    for i in 0..WARM_UP {
        warm.spawn(churner(room.url(), i, warm_at + EVERY * i as u32));
    }
    warm.join_all().await;
    only_bob(&http, &session).await;
    let baseline = footprint(&http, &session, pid).await;

    let churn_at = Instant::now();
    let mut churners = tokio::task::JoinSet::new();
    for i in 0..joins() {
        churners.spawn(churner(room.url(), i, churn_at + EVERY * i as u32));
    }
    // Meanwhile: the session live, the program advancing, every 5 s.
    let mut samples: Vec<(f64, Footprint, usize)> = Vec::new();
    let (_, info) = send(http.get(&session)).await;
    let mut frames = (Instant::now(), info["program"]["frames"].as_u64().unwrap());
    let mut most = 0;
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    while !churners.is_empty() {
        tokio::select! {
            done = churners.join_next() => done.unwrap().expect("a churner failed"),
            _ = tick.tick() => {
                let (_, info) = send(http.get(&session)).await;
                assert_eq!(info["state"], "live", "{info}");
                let now = (Instant::now(), info["program"]["frames"].as_u64().unwrap());
                let fps = (now.1 - frames.1) as f64 / (now.0 - frames.0).as_secs_f64();
                assert!(fps > 16.0, "the program stalled: {fps:.1} fps over the last 5 s");
                frames = now;
                let present = info["roster"].as_array().unwrap().len();
                most = most.max(present);
                samples.push((churn_at.elapsed().as_secs_f64(), footprint(&http, &session, pid).await, present));
            }
        }
    }
    let churn_s = churn_at.elapsed().as_secs_f64();
    only_bob(&http, &session).await;
    let after = footprint(&http, &session, pid).await;
    let peak_rss = samples.iter().map(|s| s.1.rss_kb).max().unwrap_or(0);
    eprintln!(
        "{} joins and leaves in {churn_s:.0} s, up to {most} in the room\n\
         cold:     {cold:?}\nbaseline: {baseline:?}\nafter:    {after:?}\n\
         peak RSS {peak_rss} kB; RSS after/baseline {:.3}",
        joins(),
        after.rss_kb as f64 / baseline.rss_kb as f64
    );
    for (t, f, n) in &samples {
        eprintln!("  {t:6.1} s: {n} in the room, {f:?}");
    }
    assert!(
        most >= 3,
        "the churn never overlapped: at most {most} present"
    );
    assert_eq!(
        (after.elements, after.pads),
        (baseline.elements, baseline.pads),
        "elements or pads left behind"
    );
    // GStreamer keeps a few idle pool threads for a while.
    assert!(
        after.threads <= baseline.threads + 2,
        "threads: {baseline:?} then {after:?}"
    );
    assert!(
        after.fds <= baseline.fds,
        "file descriptors: {baseline:?} then {after:?}"
    );
    assert!(
        (after.rss_kb as f64) < baseline.rss_kb as f64 * 1.10,
        "RSS grew by 10 % or more: {baseline:?} then {after:?}"
    );

    let (status, body) = send(http.delete(&session)).await;
    assert_eq!(status, 200, "{body}");
    let recorded_s = started.elapsed().as_secs_f64();
    room.stop().await;
    // The recording covers the whole run, without a gap, forward only.
    let end = assert_continuous_video(&mp4, 0.5);
    assert!(end > recorded_s - 5.0, "{end} s recorded of {recorded_s} s");
    let audio: Value = ffprobe_json(
        &mp4,
        &["-select_streams", "a:0", "-show_entries", "stream=duration"],
    );
    let audio_s: f64 = audio["streams"][0]["duration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (audio_s - end).abs() < 1.0,
        "audio {audio_s} s, video {end} s"
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(!log.contains("panicked"), "a panic in the log");
}
