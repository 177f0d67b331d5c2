//! How `callcast demo` ends without `--duration`: SIGTERM finalizes the
//! recording and exits 0; SIGKILL leaves a fragmented MP4 that still plays
//! up to its last fragment.

mod common;

use std::path::Path;
use std::time::Duration;

use callcast::media::layout::{Canvas, LayoutConfig, grid};
use common::*;

fn signal(demo: &Demo, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &demo.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Both participants' tiles in the frame `at_s` seconds in (negative: from
/// the end).
fn assert_both_tiles(mp4: &Path, at_s: f64) {
    let tiles = grid(
        2,
        Canvas {
            width: 1280,
            height: 720,
        },
        &LayoutConfig::default(),
    );
    let frame = frame_at(mp4, at_s);
    let colours: Vec<_> = tiles
        .iter()
        .map(|t| palette_index(frame.dominant(*t)))
        .collect();
    assert_eq!(colours, [Some(0), Some(1)], "frame at {at_s} s");
}

fn last_video_pts(mp4: &Path) -> f64 {
    video_pts(mp4).into_iter().fold(0.0, f64::max)
}

#[test]
fn sigterm_finalizes_the_recording_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("term.mp4");
    let demo = Demo::start(&mp4, 2, &[]);
    std::thread::sleep(Duration::from_secs(5));
    signal(&demo, "-TERM");
    assert_eq!(demo.wait(Duration::from_secs(30)), 0, "SIGTERM exits 0");

    let last = last_video_pts(&mp4);
    assert!(last >= 4.0, "recording plays {last} s");
    // Finalized: the header was rewritten with the full duration, and the
    // fragment index (mfra) closes the file.
    let header_s = duration_s(&mp4);
    assert!(
        (header_s - last).abs() < 0.5,
        "header says {header_s} s, media ends at {last} s"
    );
    let bytes = std::fs::read(&mp4).unwrap();
    assert_eq!(&bytes[bytes.len() - 12..bytes.len() - 8], b"mfro");
    assert_both_tiles(&mp4, -0.3);
}

#[test]
fn sigkill_leaves_a_file_that_plays_to_its_last_fragment() {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("kill.mp4");
    let mut demo = Demo::start(&mp4, 2, &[]);
    // Key frames (and so fragments) come every 2 s, and the muxer holds a
    // fragment 1 s for late inputs: after 8 s at least two are on disk.
    std::thread::sleep(Duration::from_secs(8));
    signal(&demo, "-KILL");
    let _ = demo.child.wait();

    // At most the fragment being made is lost.
    let last = last_video_pts(&mp4);
    assert!(
        last >= 3.5,
        "the killed recording plays {last} s ({} bytes: {:?})",
        std::fs::metadata(&mp4).map(|m| m.len()).unwrap_or(0),
        ffprobe_json(
            &mp4,
            &["-show_entries", "stream=codec_type,nb_frames,duration"]
        )
    );
    let mut kinds = streams(&mp4);
    kinds.sort();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert_both_tiles(&mp4, last - 0.5);
}
