//! A screen share takes over: when someone starts sharing, the layout
//! switches to presentation by itself (the share large and letterboxed,
//! the cameras in the filmstrip), and back when the share ends. Checked in
//! the recording's pixels.

mod common;

use std::time::{Duration, Instant};

use callcast::config::IceConfig;
use callcast::media::layout::Rect;
use callcast::synth::{SynthSpec, SyntheticParticipant};
use common::*;
use serde_json::Value;

const PHASE: Duration = Duration::from_secs(3);

/// The middle half of `r`, clear of letterbox bars and labels.
fn middle(r: Rect) -> Rect {
    Rect {
        x: r.x + r.width as i32 / 4,
        y: r.y + r.height as i32 / 4,
        width: r.width / 2,
        height: r.height / 2,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screen_share_takes_over() {
    let rec = Recorded::start(&[("p", 0), ("p", 1)], Value::Null).await;
    let (http, room, layout) = (&rec.http, &rec.room, &rec.layout);
    let settled = async |what: &str, pred: &(dyn Fn(&Value) -> bool + Sync)| {
        wait_for(what, Duration::from_secs(20), async || {
            pred(&send(http.get(layout)).await.1)
        })
        .await;
        send(http.get(layout)).await.1
    };
    let pictures = |n: usize| {
        move |l: &Value| {
            l["tiles"]
                .as_array()
                .is_some_and(|t| t.len() == n && t.iter().all(|t| t["shows"] == "video"))
        }
    };
    settled("two cameras", &pictures(2)).await;
    let grid_at = Instant::now();
    tokio::time::sleep(PHASE).await;

    // Someone shares a screen (its own connection, colour 5).
    let spec = SynthSpec {
        screen: true,
        ..SynthSpec::demo(5)
    };
    let screen = SyntheticParticipant::join(&room.url(), "p", spec, IceConfig::loopback())
        .await
        .unwrap();
    let shared = settled("the presentation", &|l| {
        l["effective"] == "presentation" && pictures(3)(l)
    })
    .await;
    assert_eq!(shared["config"]["kind"], "grid", "{shared}");
    let tiles = shared["tiles"].as_array().unwrap();
    assert_eq!(tiles[0]["participant_id"], screen.id(), "{shared}");
    assert_eq!(tiles[0]["fit"], "contain", "a share is never cropped");
    let (big, strip) = (
        tile_rect(&tiles[0]),
        [tile_rect(&tiles[1]), tile_rect(&tiles[2])],
    );
    assert!(strip.iter().all(|r| r.width * 3 < big.width), "{shared}");
    let shared_at = Instant::now();
    tokio::time::sleep(PHASE).await;

    // The share ends: back to the grid.
    screen.leave().await;
    settled("the grid again", &|l| {
        l["effective"] == "grid" && pictures(2)(l)
    })
    .await;
    let back_at = Instant::now();
    tokio::time::sleep(PHASE).await;

    let done = rec.finish().await;

    tokio::task::spawn_blocking(move || {
        let mp4 = &done.mp4;
        let end = duration_s(mp4);
        let mid = |at: Instant| phase_middle(end, done.stopped, at, PHASE);
        assert_eq!(participants_at(mp4, mid(grid_at), 2), [Some(0), Some(1)]);
        let f = frame_at(mp4, mid(shared_at));
        assert_eq!(
            palette_index(f.dominant(middle(big))),
            Some(5),
            "the share, large"
        );
        let mut cameras: Vec<_> = strip
            .iter()
            .map(|r| palette_index(f.dominant(middle(*r))))
            .collect();
        cameras.sort();
        assert_eq!(cameras, [Some(0), Some(1)], "the cameras in the filmstrip");
        assert_eq!(participants_at(mp4, mid(back_at), 2), [Some(0), Some(1)]);
    })
    .await
    .unwrap();
}
