//! Layout changes glide: when Alice goes from her grid tile to full frame,
//! her tile's right edge passes through several places in between over
//! about 300 ms, one way; with `transition_ms: 0` it jumps back. Checked
//! frame by frame in the recording.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// Where Alice's picture ends on the right in each frame: the rightmost
/// pixel of her colour on either row (the ball or her name may hide her
/// colour on one of them, not on both).
fn right_edges(mp4: &std::path::Path, ys: [u32; 2]) -> Vec<Option<i64>> {
    let [a, b] = ys.map(|y| rows(mp4, y));
    a.iter()
        .zip(&b)
        .map(|(a, b)| {
            let edge = |row: &Vec<[u8; 3]>| {
                row.iter()
                    .rposition(|p| palette_index(*p) == Some(0))
                    .map(|x| x as i64 + 1)
            };
            edge(a).max(edge(b))
        })
        .collect()
}

/// The runs of consecutive frames whose edge is strictly between `from`
/// and `to` (with a margin for the codec), as (first frame, edges).
fn passages(edges: &[Option<i64>], from: i64, to: i64) -> Vec<(usize, Vec<i64>)> {
    let (lo, hi) = (from.min(to) + 12, from.max(to) - 12);
    let mut runs: Vec<(usize, Vec<i64>)> = Vec::new();
    for (i, e) in edges.iter().enumerate() {
        match e {
            Some(e) if (lo..=hi).contains(e) => match runs.last_mut() {
                Some((start, run)) if *start + run.len() == i => run.push(*e),
                _ => runs.push((i, vec![*e])),
            },
            _ => {}
        }
    }
    runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiles_glide_to_their_new_place() {
    let rec = Recorded::start(
        &[("m", 0), ("m", 1)],
        json!({"kind": "grid", "labels": false, "highlight": false}),
    )
    .await;
    let (http, room, layout) = (&rec.http, &rec.room, &rec.layout);
    let alice = room.participant(0).id().to_string();
    let grid = rec.tiles(2, &|t| t["shows"] == "video").await;
    let tile_of = |l: &Value| {
        tile_rect(
            l["tiles"]
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["participant_id"] == alice.as_str())
                .unwrap_or_else(|| panic!("no tile for Alice in {l}")),
        )
    };
    let small = tile_of(&grid);
    tokio::time::sleep(Duration::from_secs(1)).await;

    let (status, _) = send(
        http.post(format!("{layout}/pin"))
            .json(&json!({"participant": alice})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, single) = send(
        http.put(layout)
            .json(&json!({"kind": "single", "labels": false, "highlight": false})),
    )
    .await;
    assert_eq!(status, 200, "{single}");
    let large = tile_of(&single);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let (status, back) =
        send(http.put(layout).json(
            &json!({"kind": "grid", "labels": false, "highlight": false, "transition_ms": 0}),
        ))
        .await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(tile_of(&back), small);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let done = rec.finish().await;

    // Rows inside both tiles, clear of the name in the picture's middle.
    let ys = [0.2, 0.75].map(|f| small.y as u32 + (small.height as f64 * f) as u32);
    let edges = right_edges(&done.mp4, ys);
    let (from, to) = (small.right(), large.right());
    let shown: Vec<String> = edges
        .iter()
        .map(|e| e.map_or("-".into(), |e| e.to_string()))
        .collect();
    let runs = passages(&edges, from, to);
    // Growing: one passage of several frames, one way, within half a
    // second; shrinking with no transition: no frame in between.
    assert_eq!(runs.len(), 1, "edges {from} -> {to}: {shown:?}");
    let (start, run) = &runs[0];
    eprintln!("right edge {from} -> {to} through {run:?} (frames {start}..)");
    assert!(
        run.len() >= 3 && run.len() <= 10,
        "{} frames in between: {shown:?}",
        run.len()
    );
    assert!(
        run.windows(2).all(|w| w[1] >= w[0] - 8),
        "not one way: {run:?}"
    );
    // Before: the grid tile; after: full frame; then the grid again.
    assert!(
        edges[start - 3..*start]
            .iter()
            .all(|e| e.is_some_and(|e| (e - from).abs() <= 12)),
        "{shown:?}"
    );
    let end = start + run.len();
    assert!(
        edges[end..end + 10]
            .iter()
            .all(|e| e.is_some_and(|e| (e - to).abs() <= 12)),
        "{shown:?}"
    );
    assert!(
        edges[edges.len() - 10..]
            .iter()
            .all(|e| e.is_some_and(|e| (e - from).abs() <= 12)),
        "{shown:?}"
    );
}
