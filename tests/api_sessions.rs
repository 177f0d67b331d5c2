//! `callcast serve`: sessions started and stopped over HTTP, several in one
//! process, bad requests refused with the field named, secrets never shown.

mod common;

use std::time::{Duration, Instant};

use callcast::synth::SynthSpec;
use common::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_created_and_stopped_over_http() {
    let serve = Serve::start();
    let http = reqwest::Client::new();
    let room = TestRoom::start(&[("a", 0), ("b", 1)]).await;
    let dir = tempfile::tempdir().unwrap();
    let sessions = format!("{}/v1/sessions", serve.url);

    // Bad requests: 4xx with the field named, and nothing started.
    let post = |body: String| {
        http.post(&sessions)
            .header("content-type", "application/json")
            .body(body)
    };
    let cases = [
        ("{", 400, None),
        (
            r#"{"room": {"adapter": "zoom", "url": "ws://x", "room": 1}}"#,
            422,
            Some("room.adapter"),
        ),
        (
            r#"{"room": {"adapter": "janus", "url": "ws://x", "room": 1, "colour": 1}}"#,
            422,
            Some("room.colour"),
        ),
        (
            r#"{"room": {"adapter": "janus", "url": "http://x", "room": 1}}"#,
            422,
            Some("room.url"),
        ),
        (
            r#"{"room": {"adapter": "janus", "url": "ws://x", "room": 1}, "layout": {"kind": "grid", "tile_aspect": [0, 9]}}"#,
            422,
            Some("layout.tile_aspect"),
        ),
        (
            r#"{"room": {"adapter": "janus", "url": "ws://x", "room": 1}, "outputs": [{"kind": "record", "location": "rel.mp4"}]}"#,
            422,
            Some("outputs[0].location"),
        ),
        (
            r#"{"room": {"adapter": "janus", "url": "ws://x", "room": 1}, "outputs": [{"kind": "record", "location": "file:///x.mp4", "max_duration_s": "4"}]}"#,
            422,
            Some("outputs[0].max_duration_s"),
        ),
        (
            r#"{"room": {"adapter": "janus", "url": "ws://x", "room": 1}, "outputs": [{"kind": "tape"}]}"#,
            422,
            Some("outputs[0].kind"),
        ),
    ];
    for (body, status, field) in cases {
        let (got, err) = send(post(body.into())).await;
        assert_eq!(got, status, "{body}: {err}");
        assert!(err["error"]["code"].is_string(), "{err}");
        if let Some(field) = field {
            assert_eq!(err["error"]["field"], field, "{body}: {err}");
        }
    }
    let (_, list) = send(http.get(&sessions)).await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 0);

    // Two sessions in one process, one per room.
    let mut created = Vec::new();
    for (room_name, who) in [("a", 0usize), ("b", 1)] {
        let mp4 = dir.path().join(format!("{room_name}.mp4"));
        let body = json!({
            "room": {"adapter": "callcast", "url": room.url(), "room": room_name, "pin": "s3cret-pin"},
            "layout": {"kind": "grid"},
            "outputs": [{"kind": "record", "location": format!("file://{}", mp4.display())}]
        });
        let resp = http.post(&sessions).json(&body).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 201);
        let location = resp.headers()["location"].to_str().unwrap().to_string();
        let info: Value = resp.json().await.unwrap();
        assert_eq!(
            location,
            format!("/v1/sessions/{}", info["id"].as_str().unwrap())
        );
        created.push((format!("{}{location}", serve.url), mp4, who));
    }
    let (_, list) = send(http.get(&sessions)).await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 2);

    // Each records its own room.
    for (url, _, who) in &created {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let (status, info) = send(http.get(url)).await;
            assert_eq!(status, 200);
            assert!(
                !info.to_string().contains("s3cret-pin"),
                "the PIN shows: {info}"
            );
            let roster = info["roster"].as_array().unwrap();
            let receiving = roster.len() == 1
                && roster[0]["tracks"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|t| t["receiving"] == true)
                && !roster[0]["tracks"].as_array().unwrap().is_empty();
            if receiving {
                assert_eq!(roster[0]["display"], SynthSpec::demo(*who).name);
                break;
            }
            assert!(Instant::now() < deadline, "not receiving: {info}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    for (url, mp4, who) in &created {
        let (status, stopped) = send(http.delete(url)).await;
        assert_eq!(status, 200, "{stopped}");
        assert_eq!(stopped["unfinished_outputs"], json!([]));
        let (status, _) = send(http.get(url)).await;
        assert_eq!(status, 404);
        // The recording is finished and shows its participant full frame.
        let mp4 = mp4.clone();
        let who = *who;
        tokio::task::spawn_blocking(move || {
            let mut kinds = streams(&mp4);
            kinds.sort();
            assert_eq!(kinds.len(), 2, "{kinds:?}");
            let frame = frame_at(&mp4, -0.3);
            let canvas = callcast::media::layout::Canvas {
                width: 1280,
                height: 720,
            };
            let tile = callcast::media::layout::grid(1, canvas, &Default::default())[0];
            assert_eq!(palette_index(frame.dominant(tile)), Some(who));
        })
        .await
        .unwrap();
    }
    let (status, err) = send(http.delete(&created[0].0)).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (404, Some("session_not_found"))
    );

    room.stop().await;
}
