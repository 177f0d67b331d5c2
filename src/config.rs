//! Settings with their defaults. Everything here is plain data, read from
//! the CLI now and from JSON bodies and config files later.

use serde::{Deserialize, Serialize};

use crate::media::layout::Canvas;

/// The composite every output is cut from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProgramConfig {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub video_kbps: u32,
    pub audio_kbps: u32,
    /// x264 `speed-preset` name (`ultrafast` .. `veryslow`).
    pub x264_preset: String,
    /// x264's threads per encoder; 0 (the default) lets x264 choose (with
    /// `zerolatency`, slices of each frame on a thread per core). One
    /// thread took 0.01-0.03 core less at 25 participants, within the
    /// runs' spread, and gets a single thread's share of a machine that
    /// is short of CPU (BENCHMARKS.md, "Encoder settings and priorities").
    pub x264_threads: u32,
    /// Seconds between key frames.
    pub keyframe_interval_s: u32,
    /// Canvas colour behind the tiles, 0xRRGGBB.
    pub background: u32,
}

impl Default for ProgramConfig {
    fn default() -> Self {
        ProgramConfig {
            width: 1280,
            height: 720,
            fps: 20,
            video_kbps: 2500,
            audio_kbps: 128,
            x264_preset: "veryfast".into(),
            x264_threads: 0,
            keyframe_interval_s: 2,
            background: 0x10141c,
        }
    }
}

impl ProgramConfig {
    /// The error names the field, relative to the `program` object.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let even = |v: u32, max: u32| v.is_multiple_of(2) && (64..=max).contains(&v);
        if !even(self.width, 3840) {
            return Err(("width", "an even number from 64 to 3840".into()));
        }
        if !even(self.height, 2160) {
            return Err(("height", "an even number from 64 to 2160".into()));
        }
        if !(1..=60).contains(&self.fps) {
            return Err(("fps", "from 1 to 60".into()));
        }
        if !(100..=50_000).contains(&self.video_kbps) {
            return Err(("video_kbps", "from 100 to 50000".into()));
        }
        if !(16..=512).contains(&self.audio_kbps) {
            return Err(("audio_kbps", "from 16 to 512".into()));
        }
        const PRESETS: [&str; 10] = [
            "ultrafast",
            "superfast",
            "veryfast",
            "faster",
            "fast",
            "medium",
            "slow",
            "slower",
            "veryslow",
            "placebo",
        ];
        if !PRESETS.contains(&self.x264_preset.as_str()) {
            return Err(("x264_preset", format!("one of {}", PRESETS.join(", "))));
        }
        if self.x264_threads > 16 {
            return Err(("x264_threads", "from 0 (x264 chooses) to 16".into()));
        }
        if !(1..=60).contains(&self.keyframe_interval_s) {
            return Err(("keyframe_interval_s", "from 1 to 60".into()));
        }
        if self.background > 0xff_ffff {
            return Err(("background", "a colour 0xRRGGBB".into()));
        }
        Ok(())
    }

    /// Whether x264's own preset of that name quantises with trellis: the
    /// fast three do not. `x264enc` turns trellis on whatever the preset
    /// (its own default), which costs `veryfast` about 12% more CPU than
    /// the preset as x264 and ffmpeg define it.
    pub fn x264_trellis(&self) -> bool {
        !matches!(
            self.x264_preset.as_str(),
            "ultrafast" | "superfast" | "veryfast"
        )
    }

    pub fn canvas(&self) -> Canvas {
        Canvas {
            width: self.width,
            height: self.height,
        }
    }
}

/// How incoming WebRTC media is received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestConfig {
    /// Jitter buffer depth; also how late a tile may arrive at the compositor.
    pub jitter_latency_ms: u32,
    pub ice: IceConfig,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            jitter_latency_ms: 100,
            ice: IceConfig::default(),
        }
    }
}

/// Where ICE gathers host candidates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IceConfig {
    /// Local addresses to gather on; empty means every interface.
    pub local_addresses: Vec<String>,
}

impl IceConfig {
    /// Loopback only: the demo room and tests on one machine.
    pub fn loopback() -> Self {
        IceConfig {
            local_addresses: vec!["127.0.0.1".into()],
        }
    }
}

/// A passphrase, key or token: deserialized like a string, never printed.
#[derive(Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// `callcast serve --config FILE` (JSON): what the operator sets once.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub api: ApiConfig,
    pub outputs: OutputPolicyConfig,
    /// The program every session composites and encodes.
    pub program: ProgramConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Bearer tokens, any of which opens the API (with those of
    /// `CALLCAST_API_TOKEN`); none leaves it open.
    pub tokens: Vec<Secret>,
    /// How long a WHEP viewer token lasts.
    pub viewer_token_ttl_s: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            tokens: Vec::new(),
            viewer_token_ttl_s: 600,
        }
    }
}

/// Where outputs may send to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputPolicyConfig {
    /// Networks (`10.0.0.0/8`, an address), host names
    /// (`live.example.com`) and domains (`*.example.com`) that RTMP, SRT
    /// and S3 endpoints may name; empty allows any.
    pub allowed_destinations: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_settings_are_checked_field_by_field() {
        assert!(ProgramConfig::default().validate().is_ok());
        let bad = |f: fn(&mut ProgramConfig)| {
            let mut p = ProgramConfig::default();
            f(&mut p);
            p.validate().unwrap_err().0
        };
        assert_eq!(bad(|p| p.width = 1281), "width");
        assert_eq!(bad(|p| p.height = 0), "height");
        assert_eq!(bad(|p| p.fps = 61), "fps");
        assert_eq!(bad(|p| p.video_kbps = 10), "video_kbps");
        assert_eq!(bad(|p| p.x264_preset = "quick".into()), "x264_preset");
        assert_eq!(bad(|p| p.x264_threads = 17), "x264_threads");
        assert_eq!(bad(|p| p.background = 0x1_000_000), "background");
        let cfg: ServerConfig = serde_json::from_str(r#"{"program":{"fps":50}}"#).unwrap();
        assert_eq!((cfg.program.fps, cfg.program.width), (50, 1280));
    }

    #[test]
    fn trellis_follows_x264s_presets() {
        let with = |preset: &str| {
            ProgramConfig {
                x264_preset: preset.into(),
                ..ProgramConfig::default()
            }
            .x264_trellis()
        };
        assert!(!with("veryfast") && !with("ultrafast"));
        assert!(with("faster") && with("medium") && with("veryslow"));
    }
}
