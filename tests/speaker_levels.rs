//! In a room that does not say who talks, callcast finds the active
//! speaker from its own audio levels: the speaker layout features whoever
//! is heard, and follows when another takes over.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_speaker_is_whoever_is_heard() {
    let serve = Serve::start();
    let http = reqwest::Client::new();
    let room = TestRoom::start(&[("v", 0), ("v", 1), ("v", 2)]).await;
    let body = json!({
        "room": {"adapter": "callcast", "url": room.url(), "room": "v"},
        "layout": {"kind": "speaker", "speaker_hold_ms": 500},
    });
    let session = serve.create_session(&http, &body).await;
    let layout = format!("{session}/layout");
    let id = |i: usize| room.participant(i).id().to_string();
    // Nobody says they talk; only Carol's microphone sends sound.
    room.participant(0).mute_audio(true);
    room.participant(1).mute_audio(true);
    let featured = async |who: String| {
        wait_for(
            &format!("{who} featured and highlighted"),
            Duration::from_secs(15),
            async || {
                let tile = &send(http.get(&layout)).await.1["tiles"][0];
                tile["participant_id"] == who.as_str() && tile["highlight"] == true
            },
        )
        .await;
    };
    featured(id(2)).await;
    let (_, info) = send(http.get(&session)).await;
    let talking: Vec<bool> = (0..3)
        .map(|i| {
            info["roster"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["id"] == id(i).as_str())
                .unwrap()["talking"]
                .as_bool()
                .unwrap()
        })
        .collect();
    assert_eq!(talking, [false, false, true], "{info}");

    // Carol falls silent and Alice speaks: the floor moves to Alice.
    room.participant(2).mute_audio(true);
    room.participant(0).mute_audio(false);
    featured(id(0)).await;

    let (status, _) = send(http.delete(&session)).await;
    assert_eq!(status, 200);
    room.stop().await;
}
