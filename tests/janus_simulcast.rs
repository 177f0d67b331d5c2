//! Simulcast: callcast asks Janus for the layer that fits each tile. The
//! publisher draws its three layers in three colours, so the composite
//! shows which one arrives: the full layer while it has the whole canvas,
//! the quarter layer once it shares a 3x3 grid.

mod common;

use std::time::{Duration, Instant};

use common::janus::JanusNet;
use common::*;

#[test]
fn each_tile_gets_the_simulcast_layer_that_fits() {
    let net = JanusNet::start();
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("simulcast.mp4");
    // Layers in palette colours 0 (quarter), 1 (half) and 2 (full).
    let _alice = net.rtp_publishers(0, 1, &["--simulcast", "--size", "640x360"]);

    let join = net.join(&mp4, 16);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(6));
    // Four more (colours 5 to 8): five tiles make a 3x3 grid.
    let _others = net.rtp_publishers(5, 4, &["--size", "320x180"]);
    let joined_at = started.elapsed().as_secs_f64();
    assert_eq!(
        join.wait(Duration::from_secs(40)),
        0,
        "callcast join exits 0"
    );

    assert!(joined_at < 9.0, "the others joined only at {joined_at} s");
    assert_eq!(
        participants_at(&mp4, 4.5, 1),
        [Some(2)],
        "alone, Alice's full layer"
    );
    let last = video_pts(&mp4).into_iter().fold(0.0, f64::max);
    assert_eq!(
        participants_at(&mp4, last - 0.3, 5),
        [Some(0), Some(5), Some(6), Some(7), Some(8)],
        "in a 3x3 grid, Alice's quarter layer"
    );
}
