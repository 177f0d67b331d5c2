//! Where each tile goes: a pure function of the scene (who is in the call
//! and what they show, who speaks, who is pinned), the layout
//! configuration and the canvas. No GStreamer here; the program applies
//! the tiles to compositor pads and to each track's scaler, so the
//! compositor itself never scales.
//!
//! - [`grid`]: rows and columns for a count and an area.
//! - [`strip`]: one featured tile and a filmstrip (speaker, presentation).
//! - [`custom`]: explicit slots.
//! - [`select`]: who gets a tile (include/exclude, name patterns).
//! - [`look`]: what a tile without a picture shows.
//! - [`motion`]: where a tile is while it moves to its new place.

pub mod custom;
pub mod grid;
pub mod look;
pub mod motion;
pub mod select;
pub mod strip;

use serde::{Deserialize, Serialize};

pub use custom::Slot;
pub use grid::grid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
}

/// A tile's place on the canvas, in pixels. Sizes and offsets are even so
/// that I420 chroma planes line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

impl Rect {
    pub fn right(&self) -> i64 {
        self.x as i64 + self.width as i64
    }

    pub fn bottom(&self) -> i64 {
        self.y as i64 + self.height as i64
    }

    pub fn overlaps(&self, other: &Rect) -> bool {
        (self.x as i64) < other.right()
            && (other.x as i64) < self.right()
            && (self.y as i64) < other.bottom()
            && (other.y as i64) < self.bottom()
    }

    pub fn inside(&self, canvas: Canvas) -> bool {
        self.x >= 0
            && self.y >= 0
            && self.right() <= canvas.width as i64
            && self.bottom() <= canvas.height as i64
    }
}

/// The layouts there are.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Everyone in rows and columns.
    #[default]
    Grid,
    /// The active speaker large, the others in a filmstrip.
    Speaker,
    /// The pinned participant, or the active speaker, alone.
    Single,
    /// A screen share large, cameras in a filmstrip.
    Presentation,
    /// Explicit slots.
    Custom,
}

/// How a picture fills a tile of another shape.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Fit {
    /// Scaled to fill the tile, the overflow cropped.
    #[default]
    Cover,
    /// Scaled to fit inside the tile, letterboxed.
    Contain,
}

/// Where a filmstrip runs.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Filmstrip {
    #[default]
    Bottom,
    /// Down the right-hand side.
    Side,
}

/// A layout as the API takes it: `{"kind": "speaker", ...options}`; every
/// option has a default, and one that does not apply to the kind is
/// refused rather than ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LayoutConfig {
    pub kind: Kind,
    pub fit: Fit,
    /// Pixels between tiles.
    pub gap: u32,
    /// Pixels kept free along the canvas edges.
    pub padding: u32,
    /// Tile shape as width:height; cameras send 16:9.
    pub tile_aspect: (u32, u32),
    /// Grid or filmstrip: at most this many tiles, the last one saying
    /// "+N" for the rest. Unset: up to 100, so that a room of thousands
    /// never asks for thousands of tiles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tiles: Option<u32>,
    /// Speaker and presentation: where the others go.
    pub filmstrip: Filmstrip,
    /// Switch to the presentation layout by itself while someone shares
    /// a screen (from any kind but custom).
    pub auto_presentation: bool,
    /// Only these participants (ids or display name patterns with `*`
    /// and `?`); everyone if empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Never these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Participants without video (audio only) get a tile with their
    /// initials too.
    pub audio_only: bool,
    /// How long the active speaker keeps the floor before another talker
    /// may take it, against flicker.
    pub speaker_hold_ms: u32,
    /// Each picture carries its participant's name.
    pub labels: bool,
    /// A border marks the active speaker's tile.
    pub highlight: bool,
    /// Tiles have rounded corners of this radius, in pixels (at most half
    /// a tile's shorter side); 0 keeps them square. Any radius makes the
    /// compositor blend with alpha for the rest of the session, which
    /// costs CPU.
    pub corner_radius: u32,
    /// How long tiles take to glide to a new place when the layout
    /// changes; 0 makes them jump.
    pub transition_ms: u32,
    /// Custom: the slots, drawn in order (later ones on top).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<Slot>,
}

impl Default for LayoutConfig {
    fn default() -> Self {
        LayoutConfig {
            kind: Kind::Grid,
            fit: Fit::Cover,
            gap: 8,
            padding: 8,
            tile_aspect: (16, 9),
            max_tiles: None,
            filmstrip: Filmstrip::Bottom,
            auto_presentation: true,
            include: Vec::new(),
            exclude: Vec::new(),
            audio_only: false,
            speaker_hold_ms: 2000,
            labels: true,
            highlight: true,
            corner_radius: 0,
            transition_ms: 300,
            slots: Vec::new(),
        }
    }
}

/// The most tiles a grid or filmstrip may be asked for, and how many it
/// shows when not asked.
pub const MAX_TILES: u32 = 100;

/// The largest corner radius (half of a 720p canvas' height: a circle).
const MAX_CORNER_RADIUS: u32 = 360;

impl LayoutConfig {
    /// Checks the options; the error names the field (relative to the
    /// layout object) and why.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let err = |f: &str, m: &str| Err((f.to_string(), m.to_string()));
        if self.gap > 256 {
            return err("gap", "at most 256 pixels");
        }
        if self.padding > 256 {
            return err("padding", "at most 256 pixels");
        }
        let (w, h) = self.tile_aspect;
        if !(1..=64).contains(&w) || !(1..=64).contains(&h) {
            return err("tile_aspect", "each side from 1 to 64");
        }
        if self.speaker_hold_ms > 60_000 {
            return err("speaker_hold_ms", "at most 60000");
        }
        if self.corner_radius > MAX_CORNER_RADIUS {
            return err(
                "corner_radius",
                &format!("at most {MAX_CORNER_RADIUS} pixels"),
            );
        }
        if self.transition_ms > 2000 {
            return err("transition_ms", "at most 2000");
        }
        if let Some(n) = self.max_tiles {
            if !matches!(self.kind, Kind::Grid | Kind::Speaker | Kind::Presentation) {
                return err("max_tiles", "only for grid, speaker and presentation");
            }
            if !(1..=MAX_TILES).contains(&n) {
                return err("max_tiles", &format!("from 1 to {MAX_TILES}"));
            }
        }
        for (i, p) in self.include.iter().chain(&self.exclude).enumerate() {
            if p.is_empty() || p.len() > 256 {
                let (field, i) = if i < self.include.len() {
                    ("include", i)
                } else {
                    ("exclude", i - self.include.len())
                };
                return err(&format!("{field}[{i}]"), "from 1 to 256 characters");
            }
        }
        match self.kind {
            Kind::Custom => custom::validate(&self.slots),
            _ if !self.slots.is_empty() => err("slots", "only for a custom layout"),
            _ => Ok(()),
        }
    }
}

/// A participant's camera, as far as the layout cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Camera<K> {
    /// No video published: audio only.
    None,
    /// Published but muted, or not arrived yet: a placeholder shows.
    Off,
    /// Showing, as track `K`.
    On(K),
}

/// Someone in the call, in join order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member<K> {
    pub id: String,
    pub name: String,
    pub camera: Camera<K>,
    /// A screen share they publish.
    pub screen: Option<K>,
}

/// What the layout is cut from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scene<K> {
    /// In join order.
    pub members: Vec<Member<K>>,
    /// Who is speaking (held by the caller against flicker).
    pub speaker: Option<String>,
    /// Who is pinned.
    pub pinned: Option<String>,
}

impl<K> Default for Scene<K> {
    fn default() -> Self {
        Scene {
            members: Vec::new(),
            speaker: None,
            pinned: None,
        }
    }
}

/// What a tile shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "shows", rename_all = "snake_case")]
pub enum Content<K> {
    /// A video track.
    Video { track: K },
    /// A participant without a picture: their initials on a colour.
    Placeholder { participant: String, name: String },
    /// How many more there are than tiles.
    More { count: usize },
}

/// One tile of the layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tile<K> {
    #[serde(flatten)]
    pub content: Content<K>,
    /// The participant shown, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant: Option<String>,
    #[serde(flatten)]
    pub rect: Rect,
    pub fit: Fit,
    /// The active speaker's tile.
    pub highlight: bool,
}

/// One thing that wants a tile, before it has a place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item<K> {
    pub content: Content<K>,
    pub participant: Option<String>,
    pub highlight: bool,
    /// A screen share: never cropped, whatever the layout's fit.
    pub screen: bool,
}

impl<K> Item<K> {
    fn place(self, rect: Rect, fit: Fit) -> Tile<K> {
        Tile {
            content: self.content,
            participant: self.participant,
            rect,
            fit: if self.screen { Fit::Contain } else { fit },
            highlight: self.highlight,
        }
    }
}

/// The layout kind in effect: presentation while someone shares, if the
/// configuration asks for it.
pub fn effective_kind<K>(config: &LayoutConfig, scene: &Scene<K>) -> Kind {
    let sharing = scene.members.iter().any(|m| m.screen.is_some());
    if sharing && config.auto_presentation && config.kind != Kind::Custom {
        Kind::Presentation
    } else {
        config.kind
    }
}

/// Places the scene on `canvas`. Deterministic: the same input gives the
/// same tiles, in drawing order (later ones on top).
pub fn compute<K: Clone + PartialEq>(
    config: &LayoutConfig,
    canvas: Canvas,
    scene: &Scene<K>,
) -> Vec<Tile<K>> {
    let members = select::members(config, scene);
    let speaker = scene.speaker.as_deref();
    let camera = |m: &Member<K>| Item {
        content: match &m.camera {
            Camera::On(k) => Content::Video { track: k.clone() },
            Camera::Off | Camera::None => Content::Placeholder {
                participant: m.id.clone(),
                name: m.name.clone(),
            },
        },
        participant: Some(m.id.clone()),
        highlight: speaker == Some(m.id.as_str()),
        screen: false,
    };
    // The one to feature: pinned, else speaking, else the first to join.
    let featured = scene
        .pinned
        .as_deref()
        .and_then(|p| members.iter().position(|m| m.id == p))
        .or_else(|| speaker.and_then(|s| members.iter().position(|m| m.id == s)))
        .unwrap_or(0);
    // Someone on the call only through a screen share gets no camera
    // tile, unless audio-only participants get one.
    let cameras = || {
        members
            .iter()
            .filter(|m| config.audio_only || !matches!(m.camera, Camera::None))
            .map(|m| camera(m))
    };
    let screens = || {
        members.iter().filter_map(|m| {
            m.screen.as_ref().map(|k| Item {
                content: Content::Video { track: k.clone() },
                participant: Some(m.id.clone()),
                highlight: false,
                screen: true,
            })
        })
    };
    let fit = config.fit;
    let mut shares: Vec<Item<K>> = screens().collect();
    let kind = match effective_kind(config, scene) {
        // Nobody shares: the speaker layout until someone does.
        Kind::Presentation if shares.is_empty() => Kind::Speaker,
        kind => kind,
    };
    match kind {
        _ if members.is_empty() => Vec::new(),
        Kind::Grid => {
            let items: Vec<Item<K>> = cameras().chain(shares).collect();
            grid::place(items, canvas, config)
                .into_iter()
                .map(|(item, rect)| item.place(rect, fit))
                .collect()
        }
        Kind::Single => {
            let rect = grid::grid(1, canvas, config)[0];
            vec![camera(members[featured]).place(rect, fit)]
        }
        Kind::Speaker => {
            // By member, not by camera tile: a featured speaker with no
            // camera has none to leave out.
            let others = members
                .iter()
                .enumerate()
                .filter(|(i, m)| {
                    *i != featured && (config.audio_only || !matches!(m.camera, Camera::None))
                })
                .map(|(_, m)| camera(m))
                .collect();
            strip::place(camera(members[featured]), others, canvas, config, fit)
        }
        Kind::Presentation => {
            // The first share in join order is the one shown, other
            // shares go to the filmstrip.
            let main = shares.remove(0);
            let others = cameras().chain(shares).collect();
            strip::place(main, others, canvas, config, fit)
        }
        Kind::Custom => custom::place(&config.slots, &members, cameras(), canvas, fit),
    }
}

#[cfg(test)]
mod properties;
