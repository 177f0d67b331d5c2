//! The WHEP preview: a WebRTC player posts its offer, gets an answer, and
//! decodes the live program (both participants' colours in their tiles,
//! moving, with their sound) over real ICE, DTLS and SRTP. Two viewers
//! share the one H.264 encode and one Opus encode; DELETE ends a viewer;
//! bad offers are refused with the field named.

mod common;

use std::time::Duration;

use callcast::media::layout::{Canvas, LayoutConfig, grid};
use common::whep::WhepPlayer;
use common::*;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use serde_json::json;

/// Posts `offer`; returns the status, headers and body.
async fn post_offer(
    http: &reqwest::Client,
    url: &str,
    content_type: &str,
    offer: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let resp = http
        .post(url)
        .header(CONTENT_TYPE, content_type)
        .body(offer.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

/// The participants' colours in the 2-tile grid of `frame`, sorted.
fn colours(frame: &Frame) -> Vec<Option<usize>> {
    let canvas = Canvas {
        width: frame.width as u32,
        height: frame.height as u32,
    };
    let mut seen: Vec<_> = grid(2, canvas, &LayoutConfig::default())
        .into_iter()
        .map(|tile| palette_index(frame.dominant(tile)))
        .collect();
    seen.sort();
    seen
}

fn count(dot: &str, what: &str) -> usize {
    dot.matches(what).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whep_viewers_watch_the_program() {
    let room = TestRoom::start(&[("w", 0), ("w", 1)]).await;
    let serve = Serve::start();
    let http = reqwest::Client::new();
    let body = json!({"room": {"adapter": "callcast", "url": room.url(), "room": "w"}});
    let session = serve.create_session(&http, &body).await;
    let whep = format!("{session}/whep");
    wait_for(
        "both participants on the program",
        Duration::from_secs(20),
        async || {
            let (_, info) = send(http.get(&session)).await;
            info["roster"].as_array().is_some_and(|r| r.len() == 2)
                && info["layout"]["tiles"]
                    .as_array()
                    .is_some_and(|t| t.len() == 2)
        },
    )
    .await;

    // Offers that cannot be answered: the type, the text, the codecs.
    let (player, offer) = tokio::task::spawn_blocking(|| WhepPlayer::new(true))
        .await
        .unwrap();
    let (status, _, err) = post_offer(&http, &whep, "application/json", &offer).await;
    assert_eq!(status, 415, "{err}");
    assert!(err.contains("unsupported_media_type"), "{err}");
    let (status, _, err) = post_offer(&http, &whep, "application/sdp", "hello").await;
    assert_eq!(status, 422, "{err}");
    let err: serde_json::Value = serde_json::from_str(&err).unwrap();
    assert_eq!(err["error"]["field"], "sdp", "{err}");
    let vp8_only = offer.replace("H264", "VP8");
    let (status, _, err) = post_offer(&http, &whep, "application/sdp", &vp8_only).await;
    assert_eq!(status, 422, "{err}");
    assert!(err.contains("H.264"), "{err}");
    let (status, _, _) = post_offer(
        &http,
        &format!("{}/v1/sessions/nope/whep", serve.url),
        "application/sdp",
        &offer,
    )
    .await;
    assert_eq!(status, 404);

    // A real viewer.
    let (status, headers, answer) = post_offer(&http, &whep, "application/sdp", &offer).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(headers[CONTENT_TYPE], "application/sdp");
    let location = headers[LOCATION].to_str().unwrap().to_string();
    assert!(location.starts_with("/v1/sessions/") && location.contains("/whep/"));
    assert!(
        answer.contains("a=candidate:"),
        "no candidates in the answer: {answer}"
    );
    player.answer(&answer);
    wait_for("decoded frames", Duration::from_secs(20), async || {
        player.frames() >= 20
    })
    .await;

    // The program itself: both colours in their tiles, and moving.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let first = player.latest().expect("a frame");
    assert_eq!((first.width, first.height), (1280, 720));
    assert_eq!(colours(&first), [Some(0), Some(1)]);
    let before = player.frames();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rate = player.frames() - before;
    assert!((12..=28).contains(&rate), "{rate} frames in a second");
    let second = player.latest().expect("a frame");
    let changed = first
        .rgb
        .chunks(3)
        .zip(second.rgb.chunks(3))
        .filter(|(a, b)| a.iter().zip(b.iter()).any(|(x, y)| x.abs_diff(*y) > 40))
        .count();
    assert!(
        changed > 500,
        "the picture did not move ({changed} pixels changed)"
    );
    // Their sound, decoded from Opus.
    let samples = player.samples.lock().unwrap().clone();
    assert!(samples.len() > 48_000, "{} samples", samples.len());
    let tail = &samples[samples.len() - 24_000..];
    assert!(rms(tail) > 0.01, "silent: rms {}", rms(tail));

    // Listed as an output, live.
    let (_, outputs) = send(http.get(format!("{session}/outputs"))).await;
    let viewer = outputs["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "whep")
        .cloned()
        .expect("the viewer is listed");
    assert!(live(&viewer), "{viewer}");

    // A second viewer: still one H.264 encoder and one Opus encoder.
    let (second_player, offer2) = tokio::task::spawn_blocking(|| WhepPlayer::new(true))
        .await
        .unwrap();
    let (status, headers2, answer2) = post_offer(&http, &whep, "application/sdp", &offer2).await;
    assert_eq!(status, 201, "{answer2}");
    second_player.answer(&answer2);
    wait_for(
        "the second viewer's frames",
        Duration::from_secs(20),
        async || second_player.frames() >= 20,
    )
    .await;
    let dot = http
        .get(format!("{session}/graph"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(count(&dot, "GstX264Enc"), 1, "H.264 encoders");
    assert_eq!(count(&dot, "GstOpusEnc"), 1, "Opus encoders");
    assert_eq!(
        count(&dot, "GstWebRTCBin"),
        2 + 2,
        "two participants, two viewers"
    );

    // DELETE ends a viewer; the other plays on.
    let resource = format!("{}{location}", serve.url);
    let resp = http.delete(&resource).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp = http.delete(&resource).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let (_, outputs) = send(http.get(format!("{session}/outputs"))).await;
    let left: Vec<_> = outputs["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "whep")
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect();
    let second_id = headers2[LOCATION]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(left, [second_id]);
    let before = second_player.frames();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        second_player.frames() > before + 10,
        "the other viewer stopped"
    );
    drop(player);

    // A viewer that goes away without a DELETE (a closed tab) is removed.
    let gone_at = std::time::Instant::now();
    drop(second_player);
    wait_for(
        "the vanished viewer to be removed",
        Duration::from_secs(60),
        async || {
            let (_, outputs) = send(http.get(format!("{session}/outputs"))).await;
            outputs["outputs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|o| o["kind"] != "whep")
        },
    )
    .await;
    eprintln!("vanished viewer removed after {:?}", gone_at.elapsed());

    let (status, _) = send(http.delete(&session)).await;
    assert_eq!(status, 200);
    room.stop().await;
}
