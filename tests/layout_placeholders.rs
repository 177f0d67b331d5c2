//! What callcast draws on the program besides the pictures: a participant
//! who mutes their camera gets a placeholder (their initials on their own
//! colour) instead of a frozen frame, and their picture back when they
//! unmute; a grid with fewer tiles than participants ends with a "+N"
//! tile; every picture carries its name; the active speaker's tile has a
//! border. Checked in the recording's pixels.

mod common;

use std::time::{Duration, Instant};

use callcast::media::layout::{Rect, look};
use common::*;
use serde_json::{Value, json};

/// How long each phase runs in the recording.
const PHASE: Duration = Duration::from_secs(3);

fn near(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (*x as i32 - y as i32).abs() < 30)
}

/// Share of the tile's central third that is near white: the text.
fn white_share(f: &Frame, r: Rect) -> f64 {
    let (mut white, mut all) = (0, 0);
    for y in (r.y as u32 + r.height / 3)..(r.y as u32 + 2 * r.height / 3) {
        for x in (r.x as u32 + r.width / 3)..(r.x as u32 + 2 * r.width / 3) {
            all += 1;
            if f.pixel(x as usize, y as usize).iter().all(|c| *c > 200) {
                white += 1;
            }
        }
    }
    white as f64 / all as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placeholders_stand_in_for_missing_pictures() {
    let rec = Recorded::start(&[("m", 0), ("m", 1), ("m", 2)], Value::Null).await;
    let (http, room, layout) = (&rec.http, &rec.room, &rec.layout);
    rec.tiles(3, &|t| t["shows"] == "video").await;
    let bob = room.participant(1).id().to_string();

    // Bob's camera stops sending: his tile turns into his placeholder.
    room.participant(1).mute_video(true);
    let muted = rec
        .tiles(3, &|t| {
            (t["participant_id"] == bob.as_str()) == (t["shows"] == "placeholder")
        })
        .await;
    let bob_tile = tile_rect(
        muted["tiles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["participant_id"] == bob.as_str())
            .unwrap(),
    );
    let muted_at = Instant::now();
    tokio::time::sleep(PHASE).await;

    // Two tiles for three: Alice, then "+2".
    let (status, more) = send(
        http.put(layout)
            .json(&json!({"kind": "grid", "max_tiles": 2})),
    )
    .await;
    assert_eq!(status, 200, "{more}");
    assert_eq!(more["tiles"][1]["shows"], "more", "{more}");
    assert_eq!(more["tiles"][1]["count"], 2, "{more}");
    let more_tile = tile_rect(&more["tiles"][1]);
    let more_at = Instant::now();
    tokio::time::sleep(PHASE).await;

    // Back to everyone; Bob unmutes and his picture returns.
    let (status, _) = send(http.put(layout).json(&json!({"kind": "grid"}))).await;
    assert_eq!(status, 200);
    room.participant(1).mute_video(false);
    rec.tiles(3, &|t| t["shows"] == "video").await;
    let alice = room.participant(0).id().to_string();
    room.participant(0).talk(true);
    let back = rec
        .tiles(3, &|t| {
            t["shows"] == "video"
                && (t["participant_id"] == alice.as_str()) == (t["highlight"] == true)
        })
        .await;
    let tile_of = |who: &str| {
        tile_rect(
            back["tiles"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["participant_id"] == who)
                .unwrap(),
        )
    };
    let (alice_tile, bob_back) = (tile_of(&alice), tile_of(&bob));
    let back_at = Instant::now();
    tokio::time::sleep(PHASE).await;

    let done = rec.finish().await;

    tokio::task::spawn_blocking(move || {
        let mp4 = &done.mp4;
        let end = duration_s(mp4);
        let mid = |at: Instant| phase_middle(end, done.stopped, at, PHASE);
        let f = frame_at(mp4, mid(muted_at));
        let colour = f.dominant(bob_tile);
        assert!(
            near(colour, look::colour(&bob)),
            "Bob's placeholder is {colour:?}, not {:?}",
            look::colour(&bob)
        );
        assert!(
            white_share(&f, bob_tile) > 0.02,
            "Bob's initials on his placeholder"
        );
        assert_eq!(
            participants_at(mp4, mid(muted_at), 3),
            [None, Some(0), Some(2)],
            "the others still show"
        );
        let f = frame_at(mp4, mid(more_at));
        let colour = f.dominant(more_tile);
        assert!(near(colour, look::MORE_COLOUR), "the +N tile is {colour:?}");
        assert!(white_share(&f, more_tile) > 0.02, "+2 written on it");
        assert_eq!(
            participants_at(mp4, mid(back_at), 3),
            [Some(0), Some(1), Some(2)],
            "Bob's picture back"
        );
        let f = frame_at(mp4, mid(back_at));
        // Alice speaks: a border along her tile's top edge.
        let top = Rect {
            x: alice_tile.x + alice_tile.width as i32 / 4,
            y: alice_tile.y,
            width: alice_tile.width / 2,
            height: 2,
        };
        let edge: Vec<[u8; 3]> = (0..16)
            .map(|i| f.pixel(top.x as usize + i * top.width as usize / 16, top.y as usize))
            .collect();
        assert!(
            edge.iter().all(|p| near(*p, look::HIGHLIGHT_COLOUR)),
            "the speaker's border: {edge:?}"
        );
        // Bob's name, on a shaded band at the bottom left of his picture:
        // darker pixels than anywhere in his pattern, and white letters.
        let band = Rect {
            x: bob_back.x,
            y: bob_back.y + (bob_back.height - bob_back.height / 12) as i32,
            width: bob_back.width / 3,
            height: bob_back.height / 12,
        };
        let (mut dark, mut white, mut all) = (0, 0, 0);
        for y in band.y..band.y + band.height as i32 {
            for x in band.x..band.x + band.width as i32 {
                let p = f.pixel(x as usize, y as usize);
                all += 1;
                dark += (p.iter().map(|c| *c as u32).sum::<u32>() < 120) as u32;
                white += p.iter().all(|c| *c > 200) as u32;
            }
        }
        assert!(
            dark * 10 > all && white * 100 > all,
            "Bob's label: {dark} dark and {white} white of {all} pixels"
        );
    })
    .await
    .unwrap();
}
