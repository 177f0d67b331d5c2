//! Properties every layout keeps, over thousands of random scenes and
//! configurations from a seeded generator (the same cases every run):
//! tiles inside the canvas, no overlaps (except custom slots, which may
//! mean to), the tile aspect kept within a pixel, even sizes and offsets,
//! everyone selected shown (or counted in a "+N"), the same output for
//! the same input.

use super::*;

/// xorshift64*: small, seeded, good enough to pick cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const CANVASES: [Canvas; 4] = [
    Canvas {
        width: 1280,
        height: 720,
    },
    Canvas {
        width: 1920,
        height: 1080,
    },
    Canvas {
        width: 720,
        height: 1280,
    },
    Canvas {
        width: 640,
        height: 360,
    },
];

fn scene(rng: &mut Rng) -> Scene<String> {
    // Now and then a crowd, past the grid's default cap.
    let n = match rng.chance(10) {
        true => 100 + rng.below(60) as usize,
        false => rng.below(40) as usize,
    };
    let members: Vec<Member<String>> = (0..n)
        .map(|i| Member {
            id: format!("p{i}"),
            name: format!("Person {i}"),
            camera: match rng.below(10) {
                0 => Camera::None,
                1 => Camera::Off,
                _ => Camera::On(format!("p{i}/cam")),
            },
            screen: rng.chance(5).then(|| format!("p{i}/screen")),
        })
        .collect();
    let pick =
        |rng: &mut Rng| (n > 0 && rng.chance(70)).then(|| format!("p{}", rng.below(n as u64)));
    let speaker = pick(rng);
    let pinned = if rng.chance(30) { pick(rng) } else { None };
    Scene {
        members,
        speaker,
        pinned,
    }
}

fn config(rng: &mut Rng) -> LayoutConfig {
    let kind = [Kind::Grid, Kind::Speaker, Kind::Single, Kind::Presentation][rng.below(4) as usize];
    LayoutConfig {
        kind,
        fit: if rng.chance(50) {
            Fit::Cover
        } else {
            Fit::Contain
        },
        gap: rng.below(5) as u32 * 4,
        padding: rng.below(5) as u32 * 6,
        tile_aspect: [(16, 9), (4, 3), (1, 1), (9, 16)][rng.below(4) as usize],
        max_tiles: (kind != Kind::Single && rng.chance(40)).then(|| 1 + rng.below(12) as u32),
        filmstrip: if rng.chance(50) {
            Filmstrip::Bottom
        } else {
            Filmstrip::Side
        },
        auto_presentation: rng.chance(70),
        audio_only: rng.chance(30),
        ..LayoutConfig::default()
    }
}

#[test]
fn every_layout_keeps_its_properties() {
    let mut rng = Rng(0x5eed_ca11_ca57);
    for case in 0..5000 {
        let scene = scene(&mut rng);
        let config = config(&mut rng);
        let canvas = CANVASES[rng.below(4) as usize];
        let tiles = compute(&config, canvas, &scene);
        let again = compute(&config, canvas, &scene);
        assert_eq!(tiles, again, "case {case}: not deterministic");
        let what = || format!("case {case}: {config:?} on {canvas:?} with {scene:?}\n-> {tiles:?}");

        let selected = select::members(&config, &scene);
        assert_eq!(tiles.is_empty(), selected.is_empty(), "{}", what());
        if selected.is_empty() {
            continue;
        }
        let (aw, ah) = config.tile_aspect;
        // Tiny canvases with many tiles fall back to overlapping 2x2
        // tiles; every size here has room.
        for (i, t) in tiles.iter().enumerate() {
            let r = t.rect;
            assert!(r.inside(canvas), "tile {i} outside: {}", what());
            assert!(r.width >= 2 && r.height >= 2, "tile {i} empty: {}", what());
            assert_eq!(
                (r.width % 2, r.height % 2, r.x % 2, r.y % 2),
                (0, 0, 0, 0),
                "tile {i} odd: {}",
                what()
            );
            let ideal_w = r.height as f64 * aw as f64 / ah as f64;
            assert!(
                (r.width as f64 - ideal_w).abs() <= 1.0 || r.width <= 2 || r.height <= 2,
                "tile {i} off aspect: {}",
                what()
            );
            for (j, o) in tiles.iter().enumerate().skip(i + 1) {
                assert!(
                    !r.overlaps(&o.rect),
                    "tiles {i} and {j} overlap: {}",
                    what()
                );
            }
        }
        // Highlighted: only the speaker's camera.
        for t in &tiles {
            if t.highlight {
                assert_eq!(t.participant, scene.speaker, "{}", what());
            }
        }
        let shown = |id: &str| tiles.iter().any(|t| t.participant.as_deref() == Some(id));
        let more: usize = tiles
            .iter()
            .map(|t| match t.content {
                Content::More { count } => count,
                _ => 0,
            })
            .sum();
        match effective_kind(&config, &scene) {
            Kind::Grid => {
                let cameras = selected
                    .iter()
                    .filter(|m| config.audio_only || m.camera != Camera::None)
                    .count();
                let items = cameras + selected.iter().filter(|m| m.screen.is_some()).count();
                assert_eq!(
                    tiles.len() - usize::from(more > 0) + more,
                    items,
                    "{}",
                    what()
                );
                let max = config.max_tiles.unwrap_or(MAX_TILES);
                assert!(tiles.len() <= max as usize, "{}", what());
            }
            Kind::Single => {
                assert_eq!(tiles.len(), 1, "{}", what());
                let want = scene
                    .pinned
                    .clone()
                    .filter(|p| selected.iter().any(|m| &m.id == p))
                    .or_else(|| {
                        scene
                            .speaker
                            .clone()
                            .filter(|s| selected.iter().any(|m| &m.id == s))
                    })
                    .unwrap_or_else(|| selected[0].id.clone());
                assert_eq!(tiles[0].participant.as_ref(), Some(&want), "{}", what());
            }
            Kind::Speaker | Kind::Presentation => {
                // The featured tile is the largest.
                let area = |t: &Tile<String>| t.rect.width as u64 * t.rect.height as u64;
                assert!(
                    tiles.iter().all(|t| area(t) <= area(&tiles[0])),
                    "{}",
                    what()
                );
                if more == 0 {
                    // Everyone with a camera tile (on a screen share only,
                    // one gets no camera tile).
                    let with_camera = selected
                        .iter()
                        .filter(|m| config.audio_only || m.camera != Camera::None);
                    for m in with_camera {
                        assert!(shown(&m.id), "{} missing: {}", m.id, what());
                    }
                }
            }
            Kind::Custom => unreachable!(),
        }
        // Screens are never cropped.
        for t in &tiles {
            if let Content::Video { track } = &t.content
                && track.ends_with("/screen")
            {
                assert_eq!(t.fit, Fit::Contain, "{}", what());
            }
        }
        // Muted or absent video: a placeholder, never nothing.
        for t in &tiles {
            if let Content::Placeholder { participant, .. } = &t.content {
                let m = selected.iter().find(|m| &m.id == participant).unwrap();
                assert!(!matches!(m.camera, Camera::On(_)), "{}", what());
            }
        }
    }
}

#[test]
fn a_screen_share_takes_over_when_asked() {
    let member = |i: usize, screen: bool| Member {
        id: format!("p{i}"),
        name: format!("P{i}"),
        camera: Camera::On(format!("p{i}/cam")),
        screen: screen.then(|| format!("p{i}/screen")),
    };
    let canvas = CANVASES[0];
    let scene = Scene {
        members: vec![member(0, false), member(1, true), member(2, false)],
        speaker: Some("p2".into()),
        pinned: None,
    };
    let tiles = compute(&LayoutConfig::default(), canvas, &scene);
    assert_eq!(
        tiles[0].content,
        Content::Video {
            track: "p1/screen".to_string()
        }
    );
    assert_eq!(tiles[0].fit, Fit::Contain);
    assert_eq!(tiles.len(), 4, "the share and three cameras");
    assert!(tiles[3].highlight, "p2 speaks: {tiles:?}");
    let off = LayoutConfig {
        auto_presentation: false,
        ..LayoutConfig::default()
    };
    assert_eq!(
        compute(&off, canvas, &scene).len(),
        4,
        "a grid of 3 + the share"
    );
    assert_eq!(effective_kind(&off, &scene), Kind::Grid);
}

#[test]
fn speaker_layout_follows_the_speaker_and_the_pin() {
    let scene = |speaker: &str, pinned: Option<&str>| Scene {
        members: (0..4)
            .map(|i| Member {
                id: format!("p{i}"),
                name: format!("P{i}"),
                camera: Camera::On(i),
                screen: None,
            })
            .collect(),
        speaker: Some(speaker.into()),
        pinned: pinned.map(Into::into),
    };
    let config = LayoutConfig {
        kind: Kind::Speaker,
        ..LayoutConfig::default()
    };
    let canvas = CANVASES[0];
    let big = |s: &Scene<i32>| compute(&config, canvas, s)[0].participant.clone().unwrap();
    assert_eq!(big(&scene("p2", None)), "p2");
    assert_eq!(big(&scene("p3", None)), "p3");
    assert_eq!(big(&scene("p3", Some("p1"))), "p1");
    let tiles = compute(&config, canvas, &scene("p2", None));
    // Filmstrip along the bottom: the others side by side below.
    assert!(
        tiles[1..]
            .iter()
            .all(|t| t.rect.y > tiles[0].rect.bottom() as i32 - 1)
    );
}

#[test]
fn grid_overflow_says_how_many_more() {
    let scene = Scene {
        members: (0..10)
            .map(|i| Member {
                id: format!("p{i}"),
                name: format!("P{i}"),
                camera: Camera::On(i),
                screen: None,
            })
            .collect(),
        ..Scene::default()
    };
    let config = LayoutConfig {
        max_tiles: Some(4),
        ..LayoutConfig::default()
    };
    let tiles = compute(&config, CANVASES[0], &scene);
    assert_eq!(tiles.len(), 4);
    assert_eq!(tiles[3].content, Content::More { count: 7 });
}

#[test]
fn a_speaker_without_a_camera_leaves_nobody_out() {
    // p1 talks but only shares a screen: featured as a placeholder, and
    // the strip still holds everyone else (it once dropped p2 instead).
    let scene = Scene {
        members: (0..4)
            .map(|i| Member {
                id: format!("p{i}"),
                name: format!("P{i}"),
                camera: if i == 1 { Camera::None } else { Camera::On(i) },
                screen: (i == 1).then_some(9),
            })
            .collect(),
        speaker: Some("p1".into()),
        ..Scene::default()
    };
    let config = LayoutConfig {
        kind: Kind::Speaker,
        ..LayoutConfig::default()
    };
    let shown: Vec<_> = compute(&config, CANVASES[0], &scene)
        .into_iter()
        .map(|t| t.participant.unwrap())
        .collect();
    assert_eq!(shown, ["p1", "p0", "p2", "p3"]);
}

#[test]
fn configs_parse_from_the_api_shape_and_are_checked() {
    let cfg: LayoutConfig =
        serde_json::from_str(r#"{"kind":"speaker","filmstrip":"side","gap":4}"#).unwrap();
    assert_eq!(
        (cfg.kind, cfg.filmstrip, cfg.gap),
        (Kind::Speaker, Filmstrip::Side, 4)
    );
    assert!(cfg.validate().is_ok());
    assert!(serde_json::from_str::<LayoutConfig>(r#"{"kind":"grid","gapp":4}"#).is_err());
    assert!(serde_json::from_str::<LayoutConfig>(r#"{"kind":"mosaic"}"#).is_err());
    let field = |json: &str| {
        serde_json::from_str::<LayoutConfig>(json)
            .unwrap()
            .validate()
            .unwrap_err()
            .0
    };
    assert_eq!(field(r#"{"kind":"single","max_tiles":3}"#), "max_tiles");
    assert_eq!(field(r#"{"kind":"custom"}"#), "slots");
    assert_eq!(
        field(r#"{"kind":"custom","slots":[{"x":0,"y":0,"width":2,"height":1}]}"#),
        "slots[0].width"
    );
    assert_eq!(
        field(r#"{"slots":[{"x":0,"y":0,"width":1,"height":1}]}"#),
        "slots"
    );
    assert_eq!(field(r#"{"exclude":[""]}"#), "exclude[0]");
}
