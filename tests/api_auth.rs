//! Who gets in, and where outputs may go: `callcast serve` with API tokens
//! (from `CALLCAST_API_TOKEN` and the config file) and a destination
//! allowlist.
//!
//! - Every route of the OpenAPI document but `/healthz`, and the web page,
//!   answer 401 with the JSON error and both challenges, without a token
//!   or with a wrong one; any configured token opens them, as a bearer
//!   token or a Basic password.
//! - A viewer token (`POST .../whep-token`) plays that session over WHEP
//!   and ends its viewer, and nothing else: not another route, not
//!   another session, not after it expires.
//! - Outputs to hosts outside `outputs.allowed_destinations` are refused
//!   with 422 naming the field: on a new output, in a new session, in an
//!   RTMP URL list update.

mod common;

use std::time::Duration;

use common::whep::WhepPlayer;
use common::*;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use serde_json::{Value, json};

const TOKEN_A: &str = "token-a-0123456789abcdef";
const TOKEN_B: &str = "token-b-fedcba9876543210";
const FROM_FILE: &str = "token-file-5555555555555555";

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("callcast.json");
    let cfg = json!({
        "api": {"tokens": [FROM_FILE], "viewer_token_ttl_s": 4},
        // localhost resolves to 127.0.0.1 (and ::1 on some machines).
        "outputs": {"allowed_destinations": ["127.0.0.0/8", "::1"]},
    });
    std::fs::write(&path, cfg.to_string()).unwrap();
    path
}

/// A 401 with the API's JSON error and both challenges.
async fn assert_refused(req: reqwest::RequestBuilder, what: &str) {
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401, "{what}");
    let challenges: Vec<_> = resp
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        challenges.iter().any(|c| c.starts_with("Bearer "))
            && challenges.iter().any(|c| c.starts_with("Basic ")),
        "{what}: {challenges:?}"
    );
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized", "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_guard_every_route_and_outputs_go_only_where_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let room = TestRoom::start(&[("a", 0)]).await;
    let serve = Serve::start_with(
        &["--config", cfg.to_str().unwrap()],
        &[("CALLCAST_API_TOKEN", &format!("{TOKEN_A}, {TOKEN_B}"))],
    );
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", serve.url);

    // Open: liveness only.
    let (status, _) = send(http.get(url("/healthz"))).await;
    assert_eq!(status, 200);

    // Each configured token opens the API, as bearer or Basic password.
    for token in [TOKEN_A, TOKEN_B, FROM_FILE] {
        let (status, _) = send(http.get(url("/v1/sessions")).bearer_auth(token)).await;
        assert_eq!(status, 200, "{token}");
    }
    let resp = http
        .get(url("/"))
        .basic_auth("anyone", Some(TOKEN_B))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.text().await.unwrap().contains("<html"));

    let body = json!({"room": {"adapter": "callcast", "url": room.url(), "room": "a"}});
    let resp = http
        .post(url("/v1/sessions"))
        .bearer_auth(TOKEN_A)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let session_path = resp.headers()[LOCATION].to_str().unwrap().to_string();
    let id = session_path.rsplit('/').next().unwrap().to_string();
    let session = url(&session_path);

    // Every documented route but /healthz, and the page, want a token.
    let (_, doc) = send(http.get(url("/v1/openapi.json")).bearer_auth(TOKEN_A)).await;
    let mut routes = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{id}", &id)
            .replace("{oid}", "output-1")
            .replace("{viewer}", "viewer-1");
        for method in ops.as_object().unwrap().keys() {
            if path == "/healthz" {
                continue;
            }
            let m: reqwest::Method = method.to_uppercase().parse().unwrap();
            let what = format!("{method} {path}");
            assert_refused(http.request(m.clone(), url(&concrete)), &what).await;
            let wrong = http
                .request(m.clone(), url(&concrete))
                .bearer_auth("token-a-0123456789abcdeX");
            assert_refused(wrong, &format!("{what} with a wrong token")).await;
            let basic_wrong = http
                .request(m, url(&concrete))
                .basic_auth(TOKEN_A, Some("x"));
            assert_refused(basic_wrong, &format!("{what}, Basic, wrong password")).await;
            routes += 1;
        }
    }
    assert!(routes >= 20, "{routes} routes checked");
    for page in ["/", "/app.js", "/nothing-here"] {
        assert_refused(http.get(url(page)), page).await;
    }

    // A viewer token: for this session's WHEP routes only.
    assert_refused(http.post(format!("{session}/whep-token")), "whep-token").await;
    let (status, issued) = send(
        http.post(format!("{session}/whep-token"))
            .bearer_auth(TOKEN_A),
    )
    .await;
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["expires_in_s"], 4);
    let viewer_token = issued["token"].as_str().unwrap().to_string();
    let (status, _) = send(http.get(&session).bearer_auth(&viewer_token)).await;
    assert_eq!(status, 401, "a viewer token is no API token");
    let (status, _) = send(
        http.post(format!("{session}/whep-token"))
            .bearer_auth(&viewer_token),
    )
    .await;
    assert_eq!(status, 401, "a viewer token does not make more");
    wait_for(
        "the participant on the program",
        Duration::from_secs(20),
        async || {
            let (_, info) = send(http.get(&session).bearer_auth(TOKEN_A)).await;
            info["layout"]["tiles"]
                .as_array()
                .is_some_and(|t| t.len() == 1)
        },
    )
    .await;
    let (player, offer) = tokio::task::spawn_blocking(|| WhepPlayer::new(false))
        .await
        .unwrap();
    let post_offer = |path: String, token: &str| {
        http.post(path)
            .header(CONTENT_TYPE, "application/sdp")
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .body(offer.clone())
    };
    let (status, _) = send(post_offer(url("/v1/sessions/other/whep"), &viewer_token)).await;
    assert_eq!(status, 401, "a viewer token is for one session");
    let resp = post_offer(format!("{session}/whep"), &viewer_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let viewer = url(resp.headers()[LOCATION].to_str().unwrap());
    player.answer(&resp.text().await.unwrap());
    wait_for("decoded frames", Duration::from_secs(20), async || {
        player.frames() >= 10
    })
    .await;
    let frame = player.latest().unwrap();
    assert_eq!((frame.width, frame.height), (1280, 720));
    let (status, _) = send(http.delete(&viewer).bearer_auth(&viewer_token)).await;
    assert_eq!(status, 200);
    // Expired: 4 s after it was issued.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (status, body) = send(post_offer(format!("{session}/whep"), &viewer_token)).await;
    assert_eq!(status, 401, "an expired viewer token: {body}");

    // Destinations: only 127.0.0.0/8 and ::1.
    let outputs = format!("{session}/outputs");
    let refused = [
        (
            json!({"kind": "rtmp", "urls": ["rtmp://127.0.0.1:1/live/k", "rtmp://10.20.30.40/live/k"]}),
            "urls[1]",
        ),
        (json!({"kind": "srt", "url": "srt://192.0.2.1:9000"}), "url"),
        (
            json!({"kind": "srt", "url": "srt://[2001:db8::1]:9000"}),
            "url",
        ),
        (
            json!({"kind": "record", "location": "s3://recordings/k.mp4", "s3": {"endpoint": "http://192.0.2.7:9000"}}),
            "s3.endpoint",
        ),
        (
            json!({"kind": "hls", "location": "s3://recordings/p/", "s3": {"endpoint": "https://198.51.100.1"}, "variants": [{"height": 360, "video_kbps": 800}]}),
            "s3.endpoint",
        ),
    ];
    for (spec, field) in &refused {
        let (status, body) = send(http.post(&outputs).bearer_auth(TOKEN_A).json(spec)).await;
        assert_eq!(status, 422, "{spec}: {body}");
        assert_eq!(body["error"]["field"], *field, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("not an allowed destination"),
            "{body}"
        );
    }
    let in_session = json!({
        "room": {"adapter": "callcast", "url": room.url(), "room": "a"},
        "outputs": [{"kind": "srt", "url": "srt://203.0.113.9:9000"}],
    });
    let (status, body) = send(
        http.post(url("/v1/sessions"))
            .bearer_auth(TOKEN_A)
            .json(&in_session),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "outputs[0].url");

    // Allowed: an address in the network, a name resolving into it.
    let rtmp = json!({"kind": "rtmp", "urls": ["rtmp://127.0.0.1:9/live/k"]});
    let (status, created) = send(http.post(&outputs).bearer_auth(TOKEN_A).json(&rtmp)).await;
    assert_eq!(status, 201, "{created}");
    let output = format!("{outputs}/{}", created["id"].as_str().unwrap());
    let patch = json!({"urls": ["rtmp://localhost:9/live/k", "rtmp://10.0.0.1/live/k"]});
    let (status, body) = send(http.patch(&output).bearer_auth(TOKEN_A).json(&patch)).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["field"], "urls[1]");
    let patch = json!({"urls": ["rtmp://localhost:9/live/k"]});
    let (status, body) = send(http.patch(&output).bearer_auth(TOKEN_A).json(&patch)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = send(http.delete(&output).bearer_auth(TOKEN_A)).await;
    assert_eq!(status, 200);

    let (status, _) = send(http.delete(&session).bearer_auth(TOKEN_A)).await;
    assert_eq!(status, 200);
    room.stop().await;
}

/// Bad settings stop the server before it listens, naming what is wrong.
#[test]
fn bad_settings_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let run = |cfg: &Value, env: &[(&str, &str)]| {
        let path = dir.path().join("bad.json");
        std::fs::write(&path, cfg.to_string()).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_callcast"))
            .args(["serve", "--http", "127.0.0.1:0", "--config"])
            .arg(&path)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    let err = run(&json!({"api": {"tokenz": []}}), &[]);
    assert!(err.contains("tokenz"), "{err}");
    let err = run(&json!({"api": {"tokens": "misplaced-secret-value"}}), &[]);
    assert!(err.contains("api.tokens"), "{err}");
    assert!(
        !err.contains("misplaced-secret-value"),
        "the token is not shown: {err}"
    );
    let err = run(
        &json!({"outputs": {"allowed_destinations": ["10.0.0.0/33"]}}),
        &[],
    );
    assert!(err.contains("10.0.0.0/33"), "{err}");
    let err = run(&json!({}), &[("CALLCAST_API_TOKEN", "short-secret")]);
    assert!(err.contains("at least 16"), "{err}");
    assert!(
        !err.contains("short-secret"),
        "the token is not shown: {err}"
    );
}
