//! Bad input, generated: proptest mutates a valid request for every route
//! that takes a body (a field removed, replaced by any JSON value, an
//! unknown field added, several at once), sends bytes that are not JSON,
//! SDP offers with lines dropped or garbled, odd query strings, path
//! segments that do not decode, bodies over the limit and JSON nested past
//! the parser's depth, to a running `callcast serve` whose session is
//! recording.
//!
//! Every answer is a 2xx (a mutation that happens to be valid; what it
//! created is removed again) or a 4xx with the JSON error, naming the
//! field for 400, 413 and 422. No 5xx, no panic in the log, and the
//! recording made all along is whole at the end, as long as the run.
//!
//! `CALLCAST_FUZZ_CASES` sets the number of generated requests (default
//! 400).

mod common;

use std::fs::File;
use std::time::{Duration, Instant};

use common::whep::WhepPlayer;
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

/// A request the server gets.
#[derive(Debug, Clone)]
enum Request {
    /// `templates[route]` with `mutations` applied.
    Json {
        route: usize,
        mutations: Vec<Mutation>,
    },
    /// Raw bytes to `templates[route]`'s route, as JSON.
    Bytes { route: usize, body: Vec<u8> },
    /// The SDP offer with these lines garbled.
    Sdp { edits: Vec<(usize, Option<String>)> },
    /// A graph query string.
    Query(String),
    /// A session path segment, percent-encoded bytes.
    Segment { method: usize, bytes: Vec<u8> },
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, Value),
    Remove(usize),
    Add(usize, String, Value),
}

struct Route {
    method: reqwest::Method,
    path: String,
    body: Value,
}

/// Any JSON, with the values that break things most often weighted in.
fn any_json() -> impl Strategy<Value = Value> {
    let numbers = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop::sample::select(vec![
            json!(0),
            json!(-1),
            json!(1),
            json!(u32::MAX),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1e308),
            json!(0.5),
            json!(100000),
        ]),
    ];
    let strings = prop_oneof![
        ".{0,24}".prop_map(Value::from),
        prop::sample::select(vec![
            "",
            " ",
            "rtmp://",
            "rtmp://127.0.0.1/live",
            "srt://127.0.0.1:0",
            "s3://",
            "s3://bucket/../../x.mp4",
            "file://",
            "file:///",
            "file:///dev/null",
            "http://",
            "grid",
            "*",
            "\u{0}",
            "😀",
            "{session}{part}{start}{x}",
        ])
        .prop_map(Value::from),
        (1usize..70_000).prop_map(|n| Value::from("x".repeat(n))),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        numbers,
        strings,
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), any_json()).prop_map(|(at, v)| Mutation::Replace(at, v)),
        2 => any::<usize>().prop_map(Mutation::Remove),
        1 => (any::<usize>(), "[a-z_]{1,12}", any_json()).prop_map(|(at, k, v)| Mutation::Add(at, k, v)),
    ]
}

fn request(routes: usize, sdp_lines: usize) -> impl Strategy<Value = Request> {
    prop_oneof![
        12 => (0..routes, prop::collection::vec(mutation(), 1..4))
            .prop_map(|(route, mutations)| Request::Json { route, mutations }),
        2 => (0..routes, prop::collection::vec(any::<u8>(), 0..300))
            .prop_map(|(route, body)| Request::Bytes { route, body }),
        2 => prop::collection::vec((0..sdp_lines, prop::option::of(".{0,40}")), 1..5)
            .prop_map(|edits| Request::Sdp { edits }),
        1 => "[a-z=&%0-9.]{0,30}".prop_map(Request::Query),
        1 => (0..3usize, prop::collection::vec(any::<u8>(), 1..12))
            .prop_map(|(method, bytes)| Request::Segment { method, bytes }),
    ]
}

/// Every node of `v` (objects and arrays, and the leaves in them), as
/// JSON pointers, the root first.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                pointers(c, format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                pointers(c, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn mutate(mut body: Value, mutations: &[Mutation]) -> Value {
    for m in mutations {
        let mut all = Vec::new();
        pointers(&body, String::new(), &mut all);
        let pick = |at: usize| all[at % all.len()].clone();
        match m {
            Mutation::Replace(at, v) => {
                let p = pick(*at);
                *body.pointer_mut(&p).unwrap() = v.clone();
            }
            Mutation::Remove(at) => {
                let p = pick(*at);
                let Some((parent, key)) = p.rsplit_once('/') else {
                    continue;
                };
                match body.pointer_mut(parent) {
                    Some(Value::Object(m)) => {
                        m.remove(key);
                    }
                    Some(Value::Array(a)) => {
                        if let Ok(i) = key.parse::<usize>() {
                            a.remove(i);
                        }
                    }
                    _ => {}
                }
            }
            Mutation::Add(at, k, v) => match body.pointer_mut(&pick(*at)) {
                Some(Value::Object(m)) => {
                    m.insert(k.clone(), v.clone());
                }
                Some(Value::Array(a)) => a.push(v.clone()),
                _ => {}
            },
        }
    }
    body
}

/// The answer is a 2xx or the API's 4xx JSON error; returns what a 201
/// created, to remove.
async fn judge(resp: reqwest::Response, what: &str) -> Result<Option<String>, TestCaseError> {
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let text = resp.text().await.unwrap_or_default();
    prop_assert!(status < 500, "{what}: {status} {text}");
    if (200..300).contains(&status) {
        return Ok(if status == 201 { location } else { None });
    }
    let body: Value = serde_json::from_str(&text)
        .map_err(|e| TestCaseError::fail(format!("{what}: {status}, not JSON ({e}): {text}")))?;
    let error = &body["error"];
    prop_assert!(error["code"].is_string(), "{what}: {status} {body}");
    prop_assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: {body}"
    );
    if [400, 413, 422].contains(&status) {
        prop_assert!(
            error["field"]
                .as_str()
                .is_some_and(|f| !f.is_empty() && !f.contains('?')),
            "{what}: {status} names no field: {body}"
        );
    }
    Ok(None)
}

#[test]
fn bad_input_gets_a_4xx_naming_the_field_and_the_recording_survives() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("serve.log");
    let recording = dir.path().join("kept.mp4");
    let room = rt.block_on(TestRoom::start(&[("f", 0), ("f", 1)]));
    let serve = Serve::start_logging(&[], &[], File::create(&log_path).unwrap());
    let s3 = common::s3::S3::start(&["fuzz"]);
    let http = reqwest::Client::new();
    let started = Instant::now();
    let session =
        rt.block_on(serve.create_session(&http, &recording_of(&room.url(), "f", &recording)));
    let rtmp = rt.block_on(async {
        let (status, o) = send(
            http.post(format!("{session}/outputs"))
                .json(&json!({"kind": "rtmp", "urls": ["rtmp://127.0.0.1:9/live/k"]})),
        )
        .await;
        assert_eq!(status, 201, "{o}");
        format!("{session}/outputs/{}", o["id"].as_str().unwrap())
    });
    let (player, offer) = WhepPlayer::new(false);
    drop(player);
    let offer_lines: Vec<String> = offer.lines().map(String::from).collect();

    let file = |name: &str| format!("file://{}", dir.path().join(name).display());
    let routes = [
        Route {
            method: reqwest::Method::POST,
            path: format!("{}/v1/sessions", serve.url),
            body: json!({
                // Nobody listens there: a session that is made keeps
                // trying to join, and is stopped again.
                "room": {"adapter": "callcast", "url": "ws://127.0.0.1:9", "room": "r", "display": "bot"},
                "layout": {"kind": "grid", "gap": 8, "max_tiles": 9},
                "outputs": [{"kind": "record", "location": file("s-{session}.mp4"), "max_duration_s": 60}],
            }),
        },
        Route {
            method: reqwest::Method::PUT,
            path: format!("{session}/layout"),
            body: json!({
                "kind": "custom", "fit": "contain", "gap": 4, "padding": 4, "tile_aspect": [16, 9],
                "max_tiles": 4, "filmstrip": "side", "include": ["p*"], "exclude": ["*bot*"],
                "labels": true, "highlight": false, "corner_radius": 0, "transition_ms": 0,
                "speaker_hold_ms": 500,
                "slots": [{"x": 0, "y": 0, "width": 0.5, "height": 1}, {"x": 0.5, "y": 0, "width": 0.5, "height": 1, "name": "B*"}],
            }),
        },
        Route {
            method: reqwest::Method::POST,
            path: format!("{session}/layout/pin"),
            body: json!({"participant": "p1"}),
        },
        Route {
            method: reqwest::Method::POST,
            path: format!("{session}/outputs"),
            body: json!({"kind": "rtmp", "urls": ["rtmp://127.0.0.1:9/live/a", "rtmps://127.0.0.1:9/app/b?x=1"]}),
        },
        Route {
            method: reqwest::Method::POST,
            path: format!("{session}/outputs"),
            body: json!({"kind": "srt", "url": "srt://127.0.0.1:9", "mode": "caller", "latency_ms": 120, "passphrase": "0123456789abcdef"}),
        },
        Route {
            method: reqwest::Method::POST,
            path: format!("{session}/outputs"),
            body: json!({"kind": "record", "location": "s3://fuzz/{session}-{part}.mp4", "max_duration_s": 30,
                         "s3": s3.settings(common::s3::SECRET_KEY)}),
        },
        Route {
            method: reqwest::Method::POST,
            path: format!("{session}/outputs"),
            body: json!({"kind": "hls", "location": file("hls/"), "segment_s": 2, "window": 3,
                         "variants": [{"height": 360, "video_kbps": 800}]}),
        },
        Route {
            method: reqwest::Method::PATCH,
            path: rtmp.clone(),
            body: json!({"urls": ["rtmp://127.0.0.1:9/live/k", "rtmp://127.0.0.1:9/live/other"]}),
        },
    ];

    let cases = std::env::var("CALLCAST_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(400);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let counts = std::sync::Mutex::new(std::collections::BTreeMap::<u16, usize>::new());
    let result = runner.run(&request(routes.len(), offer_lines.len()), |req| {
        rt.block_on(async {
            let t0 = Instant::now();
            let what = format!("{req:?}");
            let what = &what[..what.floor_char_boundary(600)];
            let resp = match &req {
                Request::Json { route, mutations } => {
                    let r = &routes[*route];
                    http.request(r.method.clone(), &r.path)
                        .json(&mutate(r.body.clone(), mutations))
                        .send()
                        .await
                }
                Request::Bytes { route, body } => {
                    let r = &routes[*route];
                    http.request(r.method.clone(), &r.path)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                }
                Request::Sdp { edits } => {
                    let mut lines = offer_lines.clone();
                    for (i, edit) in edits {
                        match edit {
                            Some(text) => lines[*i] = text.clone(),
                            None => lines[*i].clear(),
                        }
                    }
                    http.post(format!("{session}/whep"))
                        .header("content-type", "application/sdp")
                        .body(lines.join("\r\n"))
                        .send()
                        .await
                }
                Request::Query(q) => http.get(format!("{session}/graph?{q}")).send().await,
                Request::Segment { method, bytes } => {
                    let seg: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
                    let m = [
                        reqwest::Method::GET,
                        reqwest::Method::DELETE,
                        reqwest::Method::POST,
                    ];
                    http.request(
                        m[*method].clone(),
                        format!("{}/v1/sessions/{seg}/outputs", serve.url),
                    )
                    .send()
                    .await
                }
            }
            .map_err(|e| TestCaseError::fail(format!("{what}: no answer: {e}")))?;
            *counts
                .lock()
                .unwrap()
                .entry(resp.status().as_u16())
                .or_default() += 1;
            if let Some(created) = judge(resp, what).await? {
                // Valid after all: remove what it made.
                let (status, body) = send(http.delete(format!("{}{created}", serve.url))).await;
                prop_assert!(status == 200, "removing {created}: {status} {body}");
            }
            if t0.elapsed() > Duration::from_secs(1) {
                eprintln!(
                    "slow answer ({:?}): {}",
                    t0.elapsed(),
                    &what[..what.floor_char_boundary(150)]
                );
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let statuses = counts.into_inner().unwrap();
    eprintln!("answers by status: {statuses:?}");
    assert!(statuses.keys().any(|s| *s == 422) && statuses.keys().any(|s| *s == 400));

    // The fixed cases: over the size limit, nested past the parser's depth.
    rt.block_on(async {
        let big = format!("{{\"urls\": [\"{}\"]}}", "x".repeat(100_000));
        let resp = http
            .patch(&rtmp)
            .header("content-type", "application/json")
            .body(big)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 413);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["field"], "body", "{body}");
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        let resp = http
            .post(format!("{}/v1/sessions", serve.url))
            .header("content-type", "application/json")
            .body(deep)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400);
        let big_sdp = "v=0\r\n".repeat(20_000);
        let resp = http
            .post(format!("{session}/whep"))
            .header("content-type", "application/sdp")
            .body(big_sdp)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 413);
    });

    // Still serving, still recording.
    let (status, info) = get_json(&session);
    assert_eq!(status, 200);
    let record = info["outputs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["kind"] == "record")
        .cloned()
        .unwrap();
    assert_eq!(record["state"], "live", "{record}");
    let ran = started.elapsed().as_secs_f64();
    let (status, stopped) = rt.block_on(send(http.delete(&session)));
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["unfinished_outputs"], json!([]));
    rt.block_on(room.stop());
    assert_h264_aac(&recording);
    let length = assert_continuous_video(&recording, 0.5);
    assert!(
        length > ran - 5.0,
        "the recording is {length:.1} s of a {ran:.1} s run"
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(!log.contains("panicked"), "a panic in the server's log");
    drop(serve);
}
