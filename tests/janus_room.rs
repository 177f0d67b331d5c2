//! `callcast join` in a real Janus VideoRoom: WebRTC publishers come and go
//! and the recording follows, tile by tile, with continuous audio.

mod common;

use std::time::{Duration, Instant};

use callcast::synth::tone_hz;
use common::janus::JanusNet;
use common::*;

fn sleep_until(t: Instant) {
    std::thread::sleep(t.saturating_duration_since(Instant::now()));
}

#[test]
fn publishers_come_and_go_and_the_recording_follows() {
    let net = JanusNet::start();
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("janus.mp4");
    let alice = net.publishers(0, 1);
    let _bob = net.publishers(1, 1);
    let _carol = net.publishers(2, 1);

    let join = net.join(&mp4, 16);
    let started = Instant::now();
    sleep_until(started + Duration::from_secs(5));
    let _dave = net.publishers(3, 1);
    // Dave's publisher takes a second or two to start, join and connect,
    // and longer on a loaded machine: Alice stays until 10 s.
    sleep_until(started + Duration::from_secs(10));
    alice.leave();
    assert_eq!(
        join.wait(Duration::from_secs(40)),
        0,
        "callcast join exits 0"
    );

    let last = assert_continuous_video(&mp4, 0.2);
    assert!(last >= 14.0, "recording plays {last} s");

    assert_eq!(participants_at(&mp4, 4.0, 3), [Some(0), Some(1), Some(2)]);
    assert_eq!(
        participants_at(&mp4, 9.5, 4),
        [Some(0), Some(1), Some(2), Some(3)],
        "Dave joined at 5 s"
    );
    assert_eq!(
        participants_at(&mp4, -0.3, 3),
        [Some(1), Some(2), Some(3)],
        "Alice left at 10 s"
    );

    // Audio throughout, and at the end the three remaining tones but not
    // Alice's.
    let samples = audio_samples(&mp4);
    let rate = 48_000usize;
    // From 3 s: joining Janus, ICE and DTLS take a second or two.
    for (i, w) in samples[3 * rate..samples.len() - rate / 2]
        .chunks(rate / 4)
        .enumerate()
    {
        let level = rms(w);
        assert!(
            level > 0.01,
            "silence at {:.2} s (RMS {level})",
            3.0 + i as f64 / 4.0
        );
    }
    let end = &samples[samples.len() - 3 * rate..samples.len() - rate / 2];
    let power = |i: usize| tone_power(end, rate as f64, tone_hz(i));
    for i in 1..4 {
        assert!(
            power(i) > 100.0 * power(0),
            "tone {i} vs Alice's at the end"
        );
    }
}
