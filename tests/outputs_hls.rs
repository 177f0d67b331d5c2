//! Multi-variant HLS to a directory and to S3 (s3s-fs): the multivariant
//! playlist lists every variant with its resolution and bandwidth; each
//! media playlist's segments exist, decode at the variant's size with the
//! participant in them, and the playlist ends with ENDLIST after stop.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::s3::{S3, SECRET_KEY};
use common::*;
use serde_json::json;

fn check_hls(root: &Path) {
    let index = std::fs::read_to_string(root.join("index.m3u8")).unwrap();
    for (dir, res) in [
        ("720p", "RESOLUTION=1280x720"),
        ("360p", "RESOLUTION=640x360"),
    ] {
        let inf = index
            .lines()
            .zip(index.lines().skip(1))
            .find(|(_, uri)| *uri == format!("{dir}/playlist.m3u8"))
            .map(|(inf, _)| inf)
            .unwrap_or_else(|| panic!("{dir} missing from {index}"));
        assert!(inf.contains(res) && inf.contains("BANDWIDTH="), "{inf}");
        let media = std::fs::read_to_string(root.join(dir).join("playlist.m3u8")).unwrap();
        assert!(
            media.trim_end().ends_with("#EXT-X-ENDLIST"),
            "{dir}: {media}"
        );
        let segments: Vec<PathBuf> = media
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| root.join(dir).join(l))
            .collect();
        assert!(segments.len() >= 2, "{dir}: {media}");
        let total: f64 = media
            .lines()
            .filter_map(|l| l.strip_prefix("#EXTINF:"))
            .map(|l| {
                l.trim_end_matches(',')
                    .split(',')
                    .next()
                    .unwrap()
                    .parse::<f64>()
                    .unwrap()
            })
            .sum();
        assert!(total >= 4.0, "{dir}: {total} s in {media}");
        for seg in &segments {
            assert_h264_aac(seg);
        }
        let probe = ffprobe_json(
            &segments[0],
            &[
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=width,height",
            ],
        );
        let height = probe["streams"][0]["height"].as_u64().unwrap();
        assert_eq!(format!("{height}p"), dir, "{}", segments[0].display());
        let middle = segments[segments.len() / 2].clone();
        assert_eq!(colour_at(&middle, 0.0), Some(0), "{}", middle.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hls_to_a_directory_and_to_s3() {
    let s3 = S3::start(&["media"]);
    let serve = Serve::start();
    let http = reqwest::Client::new();
    let room = TestRoom::start(&[("h", 0)]).await;
    let dir = tempfile::tempdir().unwrap();
    let body = json!({"room": {"adapter": "callcast", "url": room.url(), "room": "h"}});
    let session = serve.create_session(&http, &body).await;
    let outputs = format!("{session}/outputs");
    let variants = json!([{"height": 720, "video_kbps": 2500}, {"height": 360, "video_kbps": 800}]);

    let bad = [
        (
            json!({"kind": "hls", "location": "file:///tmp/x.m3u8", "variants": variants}),
            "location",
        ),
        (
            json!({"kind": "hls", "location": "file:///tmp/x/", "variants": []}),
            "variants",
        ),
        (
            json!({"kind": "hls", "location": "file:///tmp/x/", "variants": [{"height": 7, "video_kbps": 800}]}),
            "variants[0].height",
        ),
        (
            json!({"kind": "hls", "location": "file:///tmp/x/", "variants": variants, "window": 1}),
            "window",
        ),
    ];
    assert_rejected(&http, &outputs, &bad).await;

    let local = dir.path().join("hls");
    let mut ids = Vec::new();
    for body in [
        json!({"kind": "hls", "location": format!("file://{}/", local.display()),
               "variants": variants, "segment_s": 2}),
        json!({"kind": "hls", "location": "s3://media/live/{session}/", "s3": s3.settings(SECRET_KEY),
               "variants": variants, "segment_s": 2}),
    ] {
        let (status, out) = send(http.post(&outputs).json(&body)).await;
        assert_eq!(status, 201, "{out}");
        assert!(!out.to_string().contains(SECRET_KEY), "{out}");
        ids.push(format!("{outputs}/{}", out["id"].as_str().unwrap()));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    for id in &ids {
        while send(http.get(id)).await.1["state"] != "live" {
            assert!(Instant::now() < deadline, "{id} not live");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(7)).await;
    for id in &ids {
        let (status, stopped) = send(http.delete(id)).await;
        assert_eq!(
            (status, stopped["state"].as_str()),
            (200, Some("stopped")),
            "{stopped}"
        );
    }
    check_hls(&local);
    let sid = session.rsplit('/').next().unwrap();
    check_hls(&s3.object_path("media", &format!("live/{sid}")));
    room.stop().await;
}
