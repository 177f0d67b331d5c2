//! Multi-variant HLS: one MPEG-TS media playlist per variant, each fed by
//! its own rendition (shared with any other output of the same height and
//! bitrate) and the shared audio, plus a multivariant playlist naming them
//! all. Written to a directory (hlssink3) or to S3 (awss3hlssink, which
//! uploads each segment and playlist as hlssink3 writes it).
//!
//! ```text
//! video_0 (720p rendition) ─ queue ─ h264parse ─┐
//! audio ─ queue ─ tee ─ queue ──────────────────┴─ hlssink3 / awss3hlssink  720p/
//!                   └── queue ──────────────────┬─ ...                      360p/
//! video_1 (360p rendition) ─ queue ─ h264parse ─┘
//! ```

pub mod playlist;

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;

use super::location::Location;
use super::s3::S3Config;
use super::{OutputBin, add_sink_pad, annexb_parser, entry_queue};
use crate::config::ProgramConfig;
use crate::media::encode::Feed;
use crate::media::{MediaError, link_chain, make};
pub use playlist::Variant;

/// The multivariant playlist's name.
pub const MULTIVARIANT: &str = "index.m3u8";

pub struct HlsOutput {
    bin: gst::Bin,
    target: String,
    variants: Vec<Variant>,
    /// Each variant's sink, and its pads the manager watches.
    sinks: Vec<gst::Element>,
    pads: Vec<gst::Pad>,
    /// Sinks that posted EOS: their last segment and playlist written.
    done: Arc<(Mutex<usize>, Condvar)>,
}

/// How an HLS output is set up.
pub struct HlsSettings<'a> {
    pub variants: &'a [Variant],
    pub segment_s: u32,
    /// Segments in a live playlist; 0 keeps them all (a full VOD
    /// playlist at the end).
    pub window: u32,
}

impl HlsOutput {
    pub fn new(
        name: &str,
        location: &Location,
        s3: &S3Config,
        settings: &HlsSettings,
        program: &ProgramConfig,
    ) -> Result<Self, MediaError> {
        let with_width: Vec<(Variant, u32)> = settings
            .variants
            .iter()
            .map(|v| (*v, v.key().width(program.width, program.height)))
            .collect();
        let text = playlist::multivariant(&with_width, program.audio_kbps, program.fps);
        let target = write_multivariant(location, s3, &text)?;

        let bin = gst::Bin::builder().name(name).build();
        // The sinks' EOS messages come up to the pipeline's handler, which
        // hands them back here: a sink's EOS means its playlist is final.
        bin.set_property("message-forward", true);
        let audio_queue = entry_queue(10)?;
        let audio_tee = make("tee", None)?;
        audio_tee.set_property("allow-not-linked", true);
        bin.add_many([&audio_queue, &audio_tee])
            .map_err(|_| MediaError::Link("hls audio".into()))?;
        link_chain(&[&audio_queue, &audio_tee])?;
        add_sink_pad(
            &bin,
            "audio",
            &audio_queue.static_pad("sink").expect("queue sink"),
        )?;

        let mut sinks = Vec::new();
        let mut pads = Vec::new();
        for (i, v) in settings.variants.iter().enumerate() {
            let sink = variant_sink(location, s3, v, settings)?;
            let video_queue = entry_queue(10)?;
            let [parse, annexb] = annexb_parser()?;
            let variant_audio = make("queue", None)?;
            bin.add_many([&video_queue, &parse, &annexb, &variant_audio, &sink])
                .map_err(|_| MediaError::Link("hls variant".into()))?;
            link_chain(&[&video_queue, &parse, &annexb])?;
            let video_pad = sink
                .request_pad_simple("video")
                .ok_or_else(|| MediaError::Link("hls video pad".into()))?;
            let audio_pad = sink
                .request_pad_simple("audio")
                .ok_or_else(|| MediaError::Link("hls audio pad".into()))?;
            annexb
                .static_pad("src")
                .expect("capsfilter src")
                .link(&video_pad)
                .map_err(|e| MediaError::Link(format!("hls video: {e:?}")))?;
            link_chain(&[&audio_tee, &variant_audio])?;
            variant_audio
                .static_pad("src")
                .expect("queue src")
                .link(&audio_pad)
                .map_err(|e| MediaError::Link(format!("hls audio: {e:?}")))?;
            add_sink_pad(
                &bin,
                &format!("video_{i}"),
                &video_queue.static_pad("sink").expect("queue sink"),
            )?;
            sinks.push(sink);
            pads.extend([video_pad, audio_pad]);
        }
        Ok(HlsOutput {
            bin,
            target,
            variants: settings.variants.to_vec(),
            sinks,
            pads,
            done: Arc::new((Mutex::new(0), Condvar::new())),
        })
    }
}

/// Writes the multivariant playlist; returns the output's target.
fn write_multivariant(
    location: &Location,
    s3: &S3Config,
    text: &str,
) -> Result<String, MediaError> {
    match location {
        Location::File(dir) => {
            std::fs::create_dir_all(dir)
                .and_then(|_| std::fs::write(dir.join(MULTIVARIANT), text))
                .map_err(|e| MediaError::Output(format!("cannot write {}: {e}", dir.display())))?;
            Ok(format!("file://{}", dir.join(MULTIVARIANT).display()))
        }
        Location::S3 { bucket, key } => {
            let object = format!("{key}{MULTIVARIANT}");
            let handle = tokio::runtime::Handle::try_current()
                .map_err(|_| MediaError::Output("S3 needs the async runtime".into()))?;
            let (s3, bucket2, object2, body) = (
                s3.clone(),
                bucket.clone(),
                object.clone(),
                text.as_bytes().to_vec(),
            );
            handle
                .block_on(async move {
                    s3.client()
                        .await
                        .put_object()
                        .bucket(bucket2)
                        .key(object2)
                        .content_type("application/vnd.apple.mpegurl")
                        .body(body.into())
                        .send()
                        .await
                })
                .map_err(|e| {
                    MediaError::Output(format!(
                        "cannot write s3://{bucket}/{object}: {}",
                        aws_sdk_s3::error::DisplayErrorContext(e)
                    ))
                })?;
            Ok(format!("s3://{bucket}/{object}"))
        }
    }
}

/// The sink writing one variant's segments and media playlist.
fn variant_sink(
    location: &Location,
    s3: &S3Config,
    v: &Variant,
    settings: &HlsSettings,
) -> Result<gst::Element, MediaError> {
    let (sink, hlssink, dir) = match location {
        Location::File(dir) => {
            let dir = dir.join(v.dir());
            std::fs::create_dir_all(&dir)
                .map_err(|e| MediaError::Output(format!("cannot create {}: {e}", dir.display())))?;
            let sink = make("hlssink3", None)?;
            (sink.clone(), sink, format!("{}/", dir.display()))
        }
        Location::S3 { bucket, key } => {
            let sink = make("awss3hlssink", None)?;
            sink.set_property("bucket", bucket);
            sink.set_property("key-prefix", format!("{key}{}", v.dir()));
            s3.apply(&sink);
            let inner = sink.property::<gst::Element>("hlssink");
            (sink, inner, String::new())
        }
    };
    hlssink.set_property("location", format!("{dir}segment%05d.ts"));
    hlssink.set_property("playlist-location", format!("{dir}playlist.m3u8"));
    hlssink.set_property("target-duration", settings.segment_s);
    // Segments are cut at the encoder's own key frames: asking for more
    // would change the rendition for every other output sharing it.
    hlssink.set_property("send-keyframe-requests", false);
    if settings.window == 0 {
        hlssink.set_property_from_str("playlist-type", "event");
        hlssink.set_property("playlist-length", 0u32);
        hlssink.set_property("max-files", 0u32);
    } else {
        hlssink.set_property("playlist-length", settings.window);
        // Segments stay a little after leaving the playlist, for players
        // still fetching them.
        hlssink.set_property("max-files", settings.window + 2);
    }
    Ok(sink)
}

impl OutputBin for HlsOutput {
    fn kind(&self) -> &'static str {
        "hls"
    }

    fn bin(&self) -> &gst::Bin {
        &self.bin
    }

    fn target(&self) -> String {
        self.target.clone()
    }

    fn watched_pads(&self) -> Vec<gst::Pad> {
        self.pads.clone()
    }

    fn renditions(&self) -> Vec<(String, Feed)> {
        self.variants
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("video_{i}"), Feed::Video(v.key())))
            .collect()
    }

    fn on_eos(&self, source: &gst::Object) {
        if self
            .sinks
            .iter()
            .any(|s| s.upcast_ref::<gst::Object>() == source)
        {
            *self.done.0.lock().unwrap() += 1;
            self.done.1.notify_all();
        }
    }

    /// Waits for every variant's last segment; stopping then writes the
    /// final playlists (with `#EXT-X-ENDLIST`) and, for S3, blocks until
    /// every upload is done.
    fn finish(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.done;
        let mut done = lock.lock().unwrap();
        while *done < self.sinks.len() && Instant::now() < deadline {
            done = cvar
                .wait_timeout(done, Duration::from_millis(100))
                .unwrap()
                .0;
        }
    }
}
