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
            keyframe_interval_s: 2,
            background: 0x10141c,
        }
    }
}

impl ProgramConfig {
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
