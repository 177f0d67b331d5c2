//! Layouts changed live over HTTP on a session with three participants
//! (Alice, Bob and Carol, each a colour), checked in the recording's
//! pixels: the grid, the speaker layout featuring whoever is pinned, a
//! custom slot picking a participant by name, a single participant; and
//! bad layouts refused with the field named.

mod common;

use std::time::{Duration, Instant};

use callcast::media::layout::Rect;
use common::*;
use serde_json::{Value, json};

/// How long each layout runs in the recording.
const PHASE: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layouts_change_live() {
    let rec = Recorded::start(&[("l", 0), ("l", 1), ("l", 2)], Value::Null).await;
    let (http, room, layout) = (&rec.http, &rec.room, &rec.layout);
    let pin = format!("{layout}/pin");
    rec.tiles(3, &|t| t["shows"] == "video").await;
    let (_, info) = send(http.get(&rec.session)).await;
    let id_of = |name: &str| -> String {
        info["roster"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["display"] == name)
            .unwrap_or_else(|| panic!("{name} not in {info}"))["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let bob = id_of("Bob");

    // Bad layouts and pins name the field; nothing changes.
    let bad = [
        (json!({"kind": "mosaic"}), "kind"),
        (json!({"kind": "grid", "gapp": 1}), "gapp"),
        (json!({"kind": "grid", "max_tiles": 0}), "max_tiles"),
        (json!({"kind": "single", "max_tiles": 4}), "max_tiles"),
        (json!({"kind": "custom"}), "slots"),
        (
            json!({"kind": "custom", "slots": [{"x": 0.5, "y": 0, "width": 0.7, "height": 1}]}),
            "slots[0].width",
        ),
        (json!({"kind": "speaker", "fit": "stretch"}), "fit"),
        (
            json!({"kind": "grid", "transition_ms": 60000}),
            "transition_ms",
        ),
        (
            json!({"kind": "grid", "corner_radius": 1000}),
            "corner_radius",
        ),
        (
            json!({"kind": "grid", "corner_radius": -4}),
            "corner_radius",
        ),
    ];
    for (body, field) in bad {
        let (status, err) = send(http.put(layout).json(&body)).await;
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (422, Some(field)),
            "{body}: {err}"
        );
    }
    let (status, err) = send(http.post(&pin).json(&json!({"participant": "nobody"}))).await;
    assert_eq!(
        (status, err["error"]["field"].as_str()),
        (422, Some("participant")),
        "{err}"
    );
    let (_, now) = send(http.get(layout)).await;
    assert_eq!(now["config"]["kind"], "grid", "{now}");

    // Each phase: (when it ended, what to check in its middle).
    let grid_at = Instant::now();
    tokio::time::sleep(PHASE).await;

    let (status, speaker) = send(http.put(layout).json(&json!({"kind": "speaker"}))).await;
    assert_eq!(status, 200, "{speaker}");
    let (status, pinned) = send(http.post(&pin).json(&json!({"participant": bob}))).await;
    assert_eq!(status, 200, "{pinned}");
    assert_eq!(
        (pinned["pinned"].as_str(), pinned["effective"].as_str()),
        (Some(bob.as_str()), Some("speaker"))
    );
    let featured = &pinned["tiles"][0];
    assert_eq!(featured["participant_id"], bob.as_str(), "{pinned}");
    let big = tile_rect(featured);
    let strip: Vec<Rect> = pinned["tiles"].as_array().unwrap()[1..]
        .iter()
        .map(tile_rect)
        .collect();
    assert_eq!(strip.len(), 2, "{pinned}");
    assert!(strip.iter().all(|r| r.width * 3 < big.width), "{pinned}");
    let speaker_at = Instant::now();
    tokio::time::sleep(PHASE).await;

    let custom = json!({"kind": "custom", "slots": [
        {"x": 0, "y": 0, "width": 1, "height": 1, "name": "car*"},
        {"x": 0.7, "y": 0.7, "width": 0.25, "height": 0.25, "name": "alice"},
    ]});
    let (status, slots) = send(http.put(layout).json(&custom)).await;
    assert_eq!(status, 200, "{slots}");
    let tiles = slots["tiles"].as_array().unwrap();
    assert_eq!(tiles.len(), 2, "{slots}");
    let (full, corner) = (tile_rect(&tiles[0]), tile_rect(&tiles[1]));
    assert_eq!((full.width, full.height), (1280, 720), "{slots}");
    let custom_at = Instant::now();
    tokio::time::sleep(PHASE).await;

    let (status, single) = send(
        http.put(layout)
            .json(&json!({"kind": "single", "padding": 0})),
    )
    .await;
    assert_eq!(status, 200, "{single}");
    assert_eq!(single["tiles"].as_array().unwrap().len(), 1, "{single}");
    assert_eq!(
        single["tiles"][0]["participant_id"],
        bob.as_str(),
        "pinned: {single}"
    );
    let single_at = Instant::now();
    tokio::time::sleep(PHASE).await;

    // Unpinned, the speaker layout follows whoever talks, holding the
    // floor half a second against flicker.
    let (status, unpinned) = send(http.post(&pin).json(&json!({"participant": null}))).await;
    assert_eq!(
        (status, unpinned["pinned"].is_null()),
        (200, true),
        "{unpinned}"
    );
    let speaker = json!({"kind": "speaker", "speaker_hold_ms": 500});
    let (status, _) = send(http.put(layout).json(&speaker)).await;
    assert_eq!(status, 200);
    let featured = async |who: &str| {
        let who = id_of(who);
        wait_for(
            &format!("{who} featured"),
            Duration::from_secs(5),
            async || send(http.get(layout)).await.1["tiles"][0]["participant_id"] == who.as_str(),
        )
        .await;
        Instant::now()
    };
    room.participant(2).talk(true);
    let carol_at = featured("Carol").await;
    tokio::time::sleep(PHASE).await;
    room.participant(2).talk(false);
    // Silence keeps the last speaker; the next talker takes over.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, now) = send(http.get(layout)).await;
    assert_eq!(
        now["tiles"][0]["participant_id"],
        id_of("Carol").as_str(),
        "{now}"
    );
    room.participant(0).talk(true);
    let alice_at = featured("Alice").await;
    tokio::time::sleep(PHASE).await;

    // The recording ends about when the session is told to stop.
    let done = rec.finish().await;

    tokio::task::spawn_blocking(move || {
        let mp4 = &done.mp4;
        let end = duration_s(mp4);
        let mid = |at: Instant| phase_middle(end, done.stopped, at, PHASE);
        assert_eq!(
            participants_at(mp4, mid(grid_at), 3),
            [Some(0), Some(1), Some(2)],
            "grid"
        );
        let f = frame_at(mp4, mid(speaker_at));
        assert_eq!(palette_index(f.dominant(big)), Some(1), "Bob featured");
        let mut others: Vec<_> = strip
            .iter()
            .map(|r| palette_index(f.dominant(*r)))
            .collect();
        others.sort();
        assert_eq!(others, [Some(0), Some(2)], "the filmstrip");
        let f = frame_at(mp4, mid(custom_at));
        let left = Rect { width: 640, ..full };
        assert_eq!(
            palette_index(f.dominant(left)),
            Some(2),
            "Carol in the full slot"
        );
        assert_eq!(
            palette_index(f.dominant(corner)),
            Some(0),
            "Alice in the corner"
        );
        let f = frame_at(mp4, mid(single_at));
        let all = Rect {
            x: 0,
            y: 0,
            width: 1280,
            height: 720,
        };
        assert_eq!(palette_index(f.dominant(all)), Some(1), "Bob alone");
        for (at, colour, who) in [(carol_at, 2, "Carol"), (alice_at, 0, "Alice")] {
            let f = frame_at(mp4, mid(at));
            assert_eq!(
                palette_index(f.dominant(big)),
                Some(colour),
                "{who} talking, featured"
            );
        }
    })
    .await
    .unwrap();
}
