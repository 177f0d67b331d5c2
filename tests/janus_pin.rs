//! A room with a PIN: callcast joins with it, and without it `callcast join`
//! fails at once with the room's refusal instead of recording nothing.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use callcast::media::layout::{Canvas, LayoutConfig, grid};
use common::janus::{JanusNet, PIN, PINNED_ROOM};
use common::*;

#[test]
fn the_pin_lets_callcast_in_and_a_wrong_one_does_not() {
    let net = JanusNet::start();
    let dir = tempfile::tempdir().unwrap();

    // A wrong PIN: a clear failure, quickly.
    let wrong = dir.path().join("wrong.mp4");
    let mut args = net.join_args_in(PINNED_ROOM, &wrong, 30);
    args.extend(["--pin".into(), "guess".into()]);
    let started = Instant::now();
    let out = net
        .callcast(&args.iter().map(String::as_str).collect::<Vec<_>>())
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a wrong PIN must fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("room connection failed"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // The right PIN: Alice's tile.
    let _alice = net.loadgen_in(PINNED_ROOM, &["--pin", PIN, "--participants", "1"]);
    let mp4 = dir.path().join("pinned.mp4");
    let mut args = net.join_args_in(PINNED_ROOM, &mp4, 8);
    args.extend(["--pin".into(), PIN.into()]);
    let join = Demo::spawn(net.callcast(&args.iter().map(String::as_str).collect::<Vec<_>>()));
    assert_eq!(join.wait(Duration::from_secs(30)), 0);
    let canvas = Canvas {
        width: 1280,
        height: 720,
    };
    let tile = grid(1, canvas, &LayoutConfig::default())[0];
    let frame = frame_at(&mp4, 6.0);
    assert_eq!(palette_index(frame.dominant(tile)), Some(0));
}
