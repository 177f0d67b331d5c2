//! Janus dies mid-session and comes back: the recording runs on without a
//! gap, and callcast rejoins and shows the room again.

mod common;

use std::time::{Duration, Instant};

use common::janus::JanusNet;
use common::*;

#[test]
fn a_janus_restart_leaves_no_gap_and_the_tiles_come_back() {
    let mut net = JanusNet::start();
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("restart.mp4");
    let before = net.publishers(0, 2);

    let join = net.join(&mp4, 17);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(5));

    net.kill_janus();
    drop(before);
    net.start_janus();
    // Other people in the room after the restart.
    let _after = net.publishers(2, 2);
    let back_by = started.elapsed().as_secs_f64();

    assert_eq!(
        join.wait(Duration::from_secs(40)),
        0,
        "callcast join exits 0"
    );
    // No gap across the restart.
    let last = assert_continuous_video(&mp4, 0.2);
    assert!(last >= 14.0, "recording plays {last} s");

    assert_eq!(participants_at(&mp4, 3.5, 2), [Some(0), Some(1)]);
    assert!(back_by < 13.0, "publishers were back only at {back_by} s");
    assert_eq!(
        participants_at(&mp4, -0.3, 2),
        [Some(2), Some(3)],
        "after the rejoin the new room shows"
    );
}
