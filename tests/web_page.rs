//! The browser test page in real headless Chromium (Debian's `chromium`,
//! driven by `playwright-core` from `tests/web/page.mjs`) against
//! `callcast demo`: the page lists the session, opens it, plays the WHEP
//! preview (started from the keyboard) whose frame shows every
//! participant's colour in its tile and moves, with sound; adds a
//! recording and HLS and removes them from the page (a whole MP4, HLS
//! variants ended);
//! draws the charts and the pipeline graph; fits a phone's width; starts
//! a second session in the same room from its form and stops it.
//! The API wants a token (`CALLCAST_API_TOKEN`): the browser gives it as
//! a Basic password, as a user would when asked, and the preview plays
//! with a viewer token the page gets for it.
//! Screenshots are kept in `target/tmp/web-page/`.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const TOKEN: &str = "web-page-test-token-0123456789";

/// Runs the page script; returns its findings.
fn drive_page(base: &str, artifacts: &Path, record_to: &str, hls_to: &str) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web/page.mjs");
    let mut child = dies_with_test(&mut Command::new("node"))
        .arg(&script)
        .args([base, artifacts.to_str().unwrap(), record_to, hls_to, TOKEN])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node runs (scripts/install-deps installs it and playwright-core)");
    let deadline = Instant::now() + Duration::from_secs(240);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the page script did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = std::io::read_to_string(child.stdout.take().unwrap()).unwrap();
    let last = out.lines().last().unwrap_or("{}");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("findings ({e}): {out}"))
}

/// The room server the demo's session is in.
fn room_url(demo: &Demo) -> String {
    let (_, info) = get_json_with(&demo.session_url, Some(TOKEN));
    info["room"]["url"].as_str().unwrap().to_string()
}

#[test]
fn the_page_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-page");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let mut cmd = Demo::command(&dir.path().join("demo.mp4"), 3, &[]);
    cmd.env("CALLCAST_API_TOKEN", TOKEN);
    let demo = Demo::spawn(cmd);
    let (status, _) = get_json(&demo.session_url);
    assert_eq!(status, 401, "the API wants the token");
    let added = dir.path().join("from-the-page.mp4");
    let hls = dir.path().join("hls");

    let f = drive_page(
        &demo.http,
        &artifacts,
        &format!("file://{}", added.display()),
        &format!("file://{}/", hls.display()),
    );
    eprintln!("screenshots in {}", artifacts.display());
    assert_eq!(f["ok"], true, "{f}");
    assert!(f["page_errors"].is_null(), "script errors on the page: {f}");
    assert_eq!(f["sessions_listed"], 1, "{f}");
    assert_eq!(f["roster"], 3, "{f}");

    // The preview is the program, live: 1280x720, moving, every
    // participant's colour in its tile, with sound.
    let (width, height) = (
        f["video"]["width"].as_u64().unwrap() as usize,
        f["video"]["height"].as_u64().unwrap() as usize,
    );
    assert_eq!((width, height), (1280, 720), "{f}");
    assert!(f["video"]["advanced_s"].as_f64().unwrap() > 0.5, "{f}");
    assert!(f["video"]["changed_pixels"].as_u64().unwrap() > 500, "{f}");
    let frame = Frame {
        width,
        height,
        rgb: std::fs::read(artifacts.join("preview-frame.rgb")).unwrap(),
    };
    let (_, layout) = get_json_with(&format!("{}/layout", demo.session_url), Some(TOKEN));
    let mut colours: Vec<_> = layout["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| palette_index(frame.dominant(tile_rect(t))))
        .collect();
    colours.sort();
    assert_eq!(colours, [Some(0), Some(1), Some(2)], "tile colours");
    assert!(f["audio_rms"].as_f64().unwrap() > 0.01, "{f}");

    // The output added and removed from the page wrote a whole recording.
    assert_eq!(f["added_output"], "record-2", "{f}");
    assert_eq!(f["removed_output"], "record-2", "{f}");
    assert_eq!(
        f["outputs_left"],
        serde_json::json!(["record-1", "whep-1"]),
        "{f}"
    );
    assert_h264_aac(&added);
    assert!(duration_s(&added) > 2.0, "{}", duration_s(&added));
    // HLS too, with the page's default variants, finished.
    assert_eq!(f["added_hls"], "hls-3", "{f}");
    let index = std::fs::read_to_string(hls.join("index.m3u8")).unwrap();
    assert_eq!(index.matches("#EXT-X-STREAM-INF").count(), 2, "{index}");
    for variant in ["720p", "360p"] {
        let playlist = std::fs::read_to_string(hls.join(variant).join("playlist.m3u8")).unwrap();
        assert!(playlist.contains("#EXT-X-ENDLIST"), "{variant}: {playlist}");
    }

    // Charts, graph, phone width, screenshots.
    assert!(
        f["fps_text"].as_str().unwrap().starts_with("program "),
        "{f}"
    );
    assert!(f["queues_text"].as_str().unwrap().contains("track"), "{f}");
    assert!(f["graph_nodes"].as_u64().unwrap() > 30, "{f}");
    assert!(f["phone_overflow_px"].as_i64().unwrap() <= 0, "{f}");
    // A second session started and stopped from the page.
    assert_eq!(
        f["suggested_url"].as_str(),
        Some(room_url(&demo).as_str()),
        "{f}"
    );
    assert_eq!(f["second_session"].as_str().map(str::len), Some(16), "{f}");
    assert_eq!(f["sessions_after"], 1, "{f}");
    for shot in [
        "sessions.png",
        "session.png",
        "session-phone.png",
        "preview.png",
    ] {
        let len = std::fs::metadata(artifacts.join(shot)).unwrap().len();
        assert!(len > 10_000, "{shot}: {len} bytes");
    }
}
