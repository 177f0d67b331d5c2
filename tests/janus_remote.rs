//! Janus remote publishers (plain RTP): callcast subscribes to all of them
//! in one PeerConnection. 25 fill the grid with live tiles; publishers on a
//! lossy uplink that make key frames only when asked keep moving, because
//! callcast's requests reach them through Janus.

mod common;

use std::time::Duration;

use callcast::media::layout::{Canvas, LayoutConfig, Rect, grid};
use callcast::synth::PALETTE;
use common::janus::JanusNet;
use common::*;

const N: usize = 25;

#[test]
fn twenty_five_remote_publishers_fill_the_grid() {
    let net = JanusNet::start();
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("remote.mp4");
    let _publishers = net.remote_publishers(N);

    let join = net.join(&mp4, 12);
    assert_eq!(
        join.wait(Duration::from_secs(40)),
        0,
        "callcast join exits 0"
    );

    let canvas = Canvas {
        width: 1280,
        height: 720,
    };
    let last = video_pts(&mp4).into_iter().fold(0.0, f64::max);
    let frame = frame_at(&mp4, last - 0.5);
    let mut seen: Vec<Option<usize>> = grid(N, canvas, &LayoutConfig::default())
        .into_iter()
        .map(|tile| palette_index(frame.dominant(tile)))
        .collect();
    seen.sort();
    // Participant i has palette colour i mod 12; tiles come in Janus's order.
    let mut expected: Vec<Option<usize>> = (0..N).map(|i| Some(i % PALETTE.len())).collect();
    expected.sort();
    assert_eq!(seen, expected, "every tile shows its participant");
    let earlier = frame_at(&mp4, last - 1.5);
    assert_ne!(frame.rgb, earlier.rgb, "the tiles move");
}

/// Longest a tile may stand still on a stream that keeps moving: a lost
/// packet costs a key frame request, which Janus passes on to a remote
/// publisher at most once a second. Unanswered, it would last until Janus's
/// own request every `fir_freq` (10 s in the test room).
const MAX_FREEZE_S: f64 = 2.5;

#[test]
fn a_lost_packet_is_asked_for_again_through_janus() {
    let net = JanusNet::start();
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("lossy.mp4");
    // Key frames only when asked (or every minute), and one video packet
    // in 30 lost: a loss every 3 s or so per publisher (a 320x180 frame is
    // about one packet).
    let _publishers = net.rtp_publishers(
        0,
        2,
        &[
            "--size",
            "320x180",
            "--key-frame-interval",
            "60",
            "--drop-every",
            "30",
        ],
    );

    let join = net.join(&mp4, 18);
    assert_eq!(
        join.wait(Duration::from_secs(40)),
        0,
        "callcast join exits 0"
    );

    const FPS: u32 = 10;
    const SCALE: u32 = 4;
    let canvas = Canvas {
        width: 1280,
        height: 720,
    };
    let frames = frames(
        &mp4,
        FPS,
        (canvas.width / SCALE) as usize,
        (canvas.height / SCALE) as usize,
    );
    // The first seconds hold the join.
    let watched = &frames[4 * FPS as usize..];
    assert!(
        watched.len() >= 12 * FPS as usize,
        "{} frames",
        frames.len()
    );
    for (i, tile) in grid(2, canvas, &LayoutConfig::default())
        .into_iter()
        .enumerate()
    {
        let tile = Rect {
            x: tile.x / SCALE as i32,
            y: tile.y / SCALE as i32,
            width: tile.width / SCALE,
            height: tile.height / SCALE,
        };
        let colours: Vec<Option<usize>> = watched
            .iter()
            .map(|f| palette_index(f.dominant(tile)))
            .collect();
        assert!(
            colours.iter().all(|c| c.is_some()),
            "tile {i} shows a participant throughout: {colours:?}"
        );
        let mut still = 0;
        let mut longest = 0;
        for pair in watched.windows(2) {
            still = if moved(&pair[0], &pair[1], tile) {
                0
            } else {
                still + 1
            };
            longest = longest.max(still);
        }
        let longest_s = longest as f64 / FPS as f64;
        eprintln!("tile {i}: longest still {longest_s} s");
        assert!(
            longest_s < MAX_FREEZE_S,
            "tile {i} stood still for {longest_s} s"
        );
    }
}

/// Whether the ball moved in `tile` between two frames: enough pixels
/// changed by more than coding noise.
fn moved(a: &Frame, b: &Frame, tile: Rect) -> bool {
    let mut changed = 0;
    for y in tile.y as usize..(tile.y as usize + tile.height as usize) {
        for x in tile.x as usize..(tile.x as usize + tile.width as usize) {
            let (p, q) = (a.pixel(x, y), b.pixel(x, y));
            if (0..3).any(|c| p[c].abs_diff(q[c]) > 40) {
                changed += 1;
            }
        }
    }
    changed > 20
}
