//! A participant leaves and another joins mid-recording: the layout
//! re-flows and the recording never stalls.

mod common;

use std::time::Duration;

use callcast::media::layout::{Canvas, LayoutConfig, grid};
use common::*;

const CANVAS: Canvas = Canvas {
    width: 1280,
    height: 720,
};

/// Palette indices shown by the tiles of an `n`-tile grid.
fn tile_colours(frame: &Frame, n: usize) -> Vec<Option<usize>> {
    grid(n, CANVAS, &LayoutConfig::default())
        .into_iter()
        .map(|tile| palette_index(frame.dominant(tile)))
        .collect()
}

#[test]
fn leave_and_join_reflow_without_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("churn.mp4");
    let demo = Demo::start(
        &mp4,
        2,
        &[
            "--leave-after",
            "4",
            "--join-after",
            "7",
            "--duration",
            "12",
        ],
    );
    // Between the leave and the join the API shows Bob alone.
    std::thread::sleep(Duration::from_secs(6));
    let (_, session) = get_json(&demo.session_url);
    let names: Vec<_> = session["roster"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["display"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["Bob"], "{session}");
    assert_eq!(session["peers"].as_array().unwrap().len(), 1, "{session}");
    assert_eq!(demo.wait(Duration::from_secs(60)), 0);

    // Timestamps only move forward, with no hole over 200 ms.
    let pts = video_pts(&mp4);
    assert!(pts.len() > 200, "{} frames", pts.len());
    let worst = pts.windows(2).map(|w| w[1] - w[0]).fold(f64::MIN, f64::max);
    assert!(
        pts.windows(2).all(|w| w[1] > w[0]),
        "timestamps go backwards"
    );
    assert!(worst <= 0.2, "largest gap between frames: {worst} s");
    assert!(duration_s(&mp4) >= 10.0);

    // Alice (0) and Bob (1); then Bob alone, full size; then Bob and Carol (2).
    assert_eq!(tile_colours(&frame_at(&mp4, 2.5), 2), [Some(0), Some(1)]);
    assert_eq!(tile_colours(&frame_at(&mp4, 5.5), 1), [Some(1)]);
    let last = frame_at(&mp4, -0.5);
    assert_eq!(
        tile_colours(&last, 2),
        [Some(1), Some(2)],
        "the final frame shows the new roster"
    );
}
