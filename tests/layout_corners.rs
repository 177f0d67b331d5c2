//! Rounded corners, switched on and off live: with `corner_radius` the
//! corners of every tile (pictures and placeholders) show the canvas
//! behind them, the edges between stay the picture's, and the active
//! speaker's border follows the curve; at 0 the corners are square
//! again. Checked in the recording's pixels.

mod common;

use std::time::{Duration, Instant};

use callcast::media::layout::{Rect, look};
use common::*;
use serde_json::json;

/// How long each phase runs in the recording.
const PHASE: Duration = Duration::from_secs(3);

/// The canvas colour (`ProgramConfig::background`).
const BACKGROUND: [u8; 3] = [0x10, 0x14, 0x1c];

const RADIUS: u32 = 40;

fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (*x as i32 - y as i32).abs() < 32)
}

/// A small patch `dx`, `dy` in from the tile's top left corner.
fn patch(tile: Rect, dx: u32, dy: u32) -> Rect {
    Rect {
        x: tile.x + dx as i32,
        y: tile.y + dy as i32,
        width: 4,
        height: 4,
    }
}

/// The patches where a tile's corners are cut (well outside a 40 pixel
/// arc), top left and top right.
fn corners(tile: Rect) -> [Rect; 2] {
    [patch(tile, 1, 1), patch(tile, tile.width - 5, 1)]
}

/// A patch on the top edge, half way along, inside a speaker's border.
fn top_middle(tile: Rect) -> Rect {
    patch(tile, tile.width / 2, 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corners_round_and_square_again_live() {
    let rec = Recorded::start(
        &[("m", 0), ("m", 1), ("m", 2)],
        json!({"kind": "grid", "highlight": false}),
    )
    .await;
    let (http, room, layout) = (&rec.http, &rec.room, &rec.layout);
    let grid = rec.tiles(3, &|t| t["shows"] == "video").await;
    let [alice, bob, carol] = [0, 1, 2].map(|i| room.participant(i).id().to_string());
    let tile_of = |who: &str| {
        tile_rect(
            grid["tiles"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["participant_id"] == who)
                .unwrap(),
        )
    };
    let (alice_tile, bob_tile, carol_tile) = (tile_of(&alice), tile_of(&bob), tile_of(&carol));
    let square_at = Instant::now();
    tokio::time::sleep(PHASE).await;

    // Rounded, live; Alice speaks and Bob's camera goes off.
    room.participant(1).mute_video(true);
    room.participant(0).talk(true);
    let (status, l) = send(
        http.put(layout)
            .json(&json!({"kind": "grid", "corner_radius": RADIUS})),
    )
    .await;
    assert_eq!(
        (status, &l["config"]["corner_radius"]),
        (200, &json!(RADIUS)),
        "{l}"
    );
    rec.tiles(3, &|t| {
        (t["participant_id"] == bob.as_str()) == (t["shows"] == "placeholder")
            && (t["participant_id"] == alice.as_str()) == (t["highlight"] == true)
    })
    .await;
    let round_at = Instant::now();
    tokio::time::sleep(PHASE).await;

    // Square again (the program keeps blending with alpha).
    let (status, _) = send(
        http.put(layout)
            .json(&json!({"kind": "grid", "highlight": false})),
    )
    .await;
    assert_eq!(status, 200);
    let square_again_at = Instant::now();
    tokio::time::sleep(PHASE).await;

    let done = rec.finish().await;

    tokio::task::spawn_blocking(move || {
        let mp4 = &done.mp4;
        assert_continuous_video(mp4, 0.5);
        let end = duration_s(mp4);
        let mid = |at: Instant| phase_middle(end, done.stopped, at, PHASE);
        let colour = |i: usize| {
            let (r, g, b) = callcast::synth::PALETTE[i];
            [r, g, b]
        };
        let check = |f: &Frame, what: &str, at: Rect, want: [u8; 3]| {
            let got = f.dominant(at);
            assert!(near(got, want), "{what} at {at:?}: {got:?}, not {want:?}");
        };

        let f = frame_at(mp4, mid(square_at));
        for (tile, i) in [(alice_tile, 0), (bob_tile, 1), (carol_tile, 2)] {
            for c in corners(tile) {
                check(&f, "a square corner", c, colour(i));
            }
        }

        let f = frame_at(mp4, mid(round_at));
        for tile in [alice_tile, bob_tile, carol_tile] {
            for c in corners(tile) {
                check(&f, "a rounded corner", c, BACKGROUND);
            }
        }
        check(&f, "Carol's top edge", top_middle(carol_tile), colour(2));
        let placeholder = look::colour(&bob);
        check(
            &f,
            "Bob's placeholder",
            patch(bob_tile, bob_tile.width / 2, 8),
            placeholder,
        );
        // Alice's border: along the top edge, and round the corner where
        // the arc crosses the diagonal (the ring is 6 pixels wide there:
        // 34 to 40 from the arc's centre).
        let b = look::border_width(alice_tile);
        assert_eq!(b, 6, "{alice_tile:?}");
        check(
            &f,
            "Alice's border",
            top_middle(alice_tile),
            look::HIGHLIGHT_COLOUR,
        );
        let d = (RADIUS as f64 - 37.0 / std::f64::consts::SQRT_2) as u32;
        let on_arc = Rect {
            width: 2,
            height: 2,
            ..patch(alice_tile, d - 1, d - 1)
        };
        check(
            &f,
            "Alice's border on the arc",
            on_arc,
            look::HIGHLIGHT_COLOUR,
        );
        check(
            &f,
            "inside Alice's border",
            patch(alice_tile, 24, 24),
            colour(0),
        );

        let f = frame_at(mp4, mid(square_again_at));
        for c in corners(carol_tile) {
            check(&f, "a corner squared again", c, colour(2));
        }
    })
    .await
    .unwrap();
}
