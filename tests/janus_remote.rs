//! 25 Janus remote publishers (plain RTP): callcast subscribes to all of
//! them in one PeerConnection and the grid shows 25 live tiles.

mod common;

use std::time::Duration;

use callcast::media::layout::{Canvas, LayoutConfig, grid};
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

    let args = net.join_args(&mp4, 12);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let join = Demo::spawn(net.callcast(&args));
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
