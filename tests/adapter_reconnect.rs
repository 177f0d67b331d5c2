//! The callcast room goes away and comes back at the same address: the
//! session says `disconnected` meanwhile and records on without a gap,
//! then rejoins, and the people in the new room show.

mod common;

use std::time::Duration;

use common::*;
use serde_json::Value;

/// `n` tiles, each showing video.
fn showing(info: &Value, n: usize) -> bool {
    info["layout"]["tiles"]
        .as_array()
        .is_some_and(|t| t.len() == n && t.iter().all(|t| t["shows"] == "video"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_restart_leaves_no_gap_and_the_new_room_shows() {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = dir.path().join("restart.mp4");
    let room = TestRoom::start(&[("r", 0), ("r", 1)]).await;
    let addr = room.server.local_addr();
    let serve = Serve::start();
    let http = reqwest::Client::new();
    let session = serve
        .create_session(&http, &recording_of(&room.url(), "r", &mp4))
        .await;
    let info = async || send(http.get(&session)).await.1;
    wait_for("both in the picture", Duration::from_secs(30), async || {
        showing(&info().await, 2)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    room.stop().await;
    wait_for(
        "the session sees the room gone",
        Duration::from_secs(10),
        async || {
            let i = info().await;
            i["state"] == "disconnected" && i["roster"].as_array().is_some_and(Vec::is_empty)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let room = TestRoom::start_at(addr, &[("r", 2), ("r", 3)]).await;
    wait_for(
        "back, with the new room",
        Duration::from_secs(30),
        async || {
            let i = info().await;
            i["state"] == "live" && showing(&i, 2)
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let (status, _) = send(http.delete(&session)).await;
    assert_eq!(status, 200);
    room.stop().await;

    assert_h264_aac(&mp4);
    let length = assert_continuous_video(&mp4, 0.2);
    assert!(length > 8.0, "{length:.1} s");
    assert_eq!(participants_at(&mp4, -0.5, 2), [Some(2), Some(3)]);
}
