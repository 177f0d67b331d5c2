//! `callcast demo` end to end: three synthetic participants over real
//! WebRTC, a recording checked with ffprobe and by decoding it, and the
//! HTTP API while it runs.

mod common;

use std::time::Duration;

use callcast::media::layout::{Canvas, LayoutConfig, grid};
use callcast::synth::{PALETTE, tone_hz};
use common::*;

#[test]
fn three_participants_are_recorded_with_their_colours_and_tones() {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("demo.mp4");
    let demo = Demo::start(&mp4, 3, &["--duration", "8"]);

    // While it runs: the API shows the session, its roster and its output.
    std::thread::sleep(Duration::from_secs(4));
    let (status, health) = get_json(&format!("{}/healthz", demo.http));
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, list) = get_json(&format!("{}/v1/sessions", demo.http));
    assert_eq!(status, 200);
    assert_eq!(list["sessions"].as_array().unwrap().len(), 1);
    let (status, session) = get_json(&demo.session_url);
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["state"], "live", "{session}");
    let roster = session["roster"].as_array().unwrap();
    let names: Vec<_> = roster
        .iter()
        .map(|p| p["display"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Alice", "Bob", "Carol"]);
    for p in roster {
        let tracks = p["tracks"].as_array().unwrap();
        assert_eq!(tracks.len(), 2, "{p}");
        assert!(tracks.iter().all(|t| t["receiving"] == true), "{p}");
    }
    assert_eq!(session["layout"]["config"]["kind"], "grid");
    assert_eq!(session["layout"]["tiles"].as_array().unwrap().len(), 3);
    let outputs = session["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 1);
    assert_eq!(outputs[0]["kind"], "record");
    assert_eq!(outputs[0]["state"], "live", "{session}");
    assert!(outputs[0]["bytes"].as_u64().unwrap() > 0);
    assert!(session["program"]["frames"].as_u64().unwrap() > 40);
    // Everything stays on loopback: ICE gathers on 127.0.0.1 only, and
    // nothing (UPnP discovery, say) opens a socket anywhere else.
    let sockets = socket_addresses(demo.child.id());
    assert!(sockets.iter().any(|(_, remote)| !remote.is_unspecified()));
    for (local, remote) in &sockets {
        assert!(
            local.is_loopback() && (remote.is_loopback() || remote.is_unspecified()),
            "a socket off loopback: {local} -> {remote}"
        );
    }
    let (status, missing) = get_json(&format!("{}/v1/sessions/nope", demo.http));
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["code"], "session_not_found");
    assert_eq!(missing["error"]["field"], "id");

    assert_eq!(demo.wait(Duration::from_secs(60)), 0, "the demo exits 0");

    // One H.264 and one AAC stream, at least 6 s long.
    let mut kinds = streams(&mp4);
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("audio".to_string(), "aac".to_string()),
            ("video".to_string(), "h264".to_string())
        ]
    );
    let duration = duration_s(&mp4);
    assert!(duration >= 6.0, "recording is {duration} s");

    // The middle frame: each grid cell shows its participant's colour, in
    // join order, and the frame is not frozen (the next second differs).
    let tiles = grid(
        3,
        Canvas {
            width: 1280,
            height: 720,
        },
        &LayoutConfig::default(),
    );
    let frame = frame_at(&mp4, duration / 2.0);
    for (i, tile) in tiles.iter().enumerate() {
        let colour = frame.dominant(*tile);
        assert_eq!(
            palette_index(colour),
            Some(i),
            "tile {i} shows {colour:?}, expected {:?}",
            PALETTE[i]
        );
    }
    let later = frame_at(&mp4, duration / 2.0 + 1.0);
    assert_ne!(frame.rgb, later.rgb, "the picture moves");

    // The audio is the three tones mixed.
    let samples = audio_samples(&mp4);
    let middle = &samples[samples.len() / 3..2 * samples.len() / 3];
    let level = rms(middle);
    assert!(level > 0.02, "audio RMS {level} is too quiet");
    for i in 0..3 {
        let on = tone_power(middle, 48_000.0, tone_hz(i));
        let off = tone_power(middle, 48_000.0, tone_hz(i) + 55.0);
        assert!(
            on > 100.0 * off,
            "tone {i} ({} Hz): {on} vs {off} beside it",
            tone_hz(i)
        );
    }
}
