//! Renditions of the program, each encoded once and tee'd to every output
//! that asks for it: the main one (the canvas size, H.264 with x264, and
//! AAC) always runs; others (HLS variants: another height or bitrate; Opus
//! for WebRTC viewers) are made from the raw program while some output
//! uses them. Outputs get H.264 as `avc`/`au` and raw AAC; an output that
//! needs Annex B converts in its own bin.

use std::collections::HashMap;
use std::sync::Mutex;

use gst::prelude::*;

use super::program::Program;
use super::{MediaError, capsfilter, link_chain, make, tilescale};
use crate::config::ProgramConfig;

/// What libav's AAC encoder puts before the sound: 1024 samples at the
/// program's 48 kHz.
const AAC_PRIMING: gst::ClockTime =
    gst::ClockTime::from_nseconds(1024 * 1_000_000_000 / super::track::AUDIO_RATE as u64);

/// A video rendition: its height (the width follows the canvas aspect)
/// and bitrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RenditionKey {
    pub height: u32,
    pub video_kbps: u32,
}

impl RenditionKey {
    /// The width at this height for a `canvas_w` x `canvas_h` canvas, even.
    pub fn width(&self, canvas_w: u32, canvas_h: u32) -> u32 {
        let w = (self.height as u64 * canvas_w as u64 + canvas_h as u64 / 2) / canvas_h as u64;
        (w as u32 + 1) & !1
    }
}

/// What an output takes from the encoders besides the main rendition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Feed {
    Video(RenditionKey),
    /// The program's sound in Opus, for WebRTC.
    Opus,
}

impl Feed {
    fn name(&self) -> String {
        match self {
            Feed::Video(key) => format!("{}p{}k", key.height, key.video_kbps),
            Feed::Opus => "opus".into(),
        }
    }
}

/// An extra rendition and how many outputs use it.
struct Branch {
    elements: Vec<gst::Element>,
    tee: gst::Element,
    /// The raw program tee feeding it, and its pad.
    source: gst::Element,
    feed: gst::Pad,
    users: usize,
}

/// Opus for browsers: 48 kHz stereo.
const OPUS_BITRATE: i32 = 64_000;

pub struct Encoder {
    pipeline: gst::Pipeline,
    cfg: ProgramConfig,
    raw_tee: gst::Element,
    raw_audio_tee: gst::Element,
    extra: Mutex<HashMap<Feed, Branch>>,
    /// The main rendition's x264.
    video: gst::Element,
    video_tee: gst::Element,
    audio_tee: gst::Element,
}

impl Encoder {
    pub fn new(
        pipeline: &gst::Pipeline,
        program: &Program,
        cfg: &ProgramConfig,
    ) -> Result<Self, MediaError> {
        // A second of slack on each encoder so that a CPU spike delays frames
        // instead of dropping them.
        let queue = |name: &str| -> Result<gst::Element, MediaError> {
            let q = make("queue", Some(name))?;
            q.set_property("max-size-buffers", 0u32);
            q.set_property("max-size-bytes", 0u32);
            q.set_property("max-size-time", gst::ClockTime::SECOND.nseconds());
            Ok(q)
        };
        let tee = |name: &str| -> Result<gst::Element, MediaError> {
            let t = make("tee", Some(name))?;
            t.set_property("allow-not-linked", true);
            Ok(t)
        };

        let raw_tee = tee("program-video-tee")?;
        let raw_audio_tee = tee("program-audio-tee")?;
        let video_in = queue("enc-video-queue")?;
        let [x264, h264parse, h264caps] = h264_chain(cfg, cfg.video_kbps, Some("enc-video"))?;
        let video_tee = tee("video-tee")?;

        let audio_in = queue("enc-audio-queue")?;
        let convert = make("audioconvert", None)?;
        let aac = make("avenc_aac", Some("enc-audio"))?;
        aac.set_property("bitrate", (cfg.audio_kbps * 1000) as i32);
        // ffmpeg's `fast` coder takes half the CPU of its default
        // `twoloop` (60 s of stereo: 0.7 against 1.3 CPU s); at 96 kb/s and
        // more the two are hard to tell apart, below it the search pays.
        if cfg.audio_kbps >= 96 {
            aac.set_property_from_str("aac-coder", "fast");
        }
        wait_for_aac(&x264);
        let aacparse = make("aacparse", None)?;
        let audio_tee = tee("audio-tee")?;

        let video = [
            &raw_tee, &video_in, &x264, &h264parse, &h264caps, &video_tee,
        ];
        let audio = [
            &raw_audio_tee,
            &audio_in,
            &convert,
            &aac,
            &aacparse,
            &audio_tee,
        ];
        pipeline
            .add_many(video.iter().chain(audio.iter()).copied())
            .map_err(|_| MediaError::Link("encoder elements".into()))?;
        link_chain(&video)?;
        link_chain(&audio)?;
        program
            .video_src()
            .link(&raw_tee.static_pad("sink").expect("tee sink"))
            .map_err(|e| MediaError::Link(format!("program video to encoder: {e:?}")))?;
        program
            .audio_src()
            .link(&raw_audio_tee.static_pad("sink").expect("tee sink"))
            .map_err(|e| MediaError::Link(format!("program audio to encoder: {e:?}")))?;

        Ok(Encoder {
            pipeline: pipeline.clone(),
            cfg: cfg.clone(),
            raw_tee,
            raw_audio_tee,
            extra: Mutex::new(HashMap::new()),
            video: x264,
            video_tee,
            audio_tee,
        })
    }

    /// The main rendition's video encoder.
    pub fn video_encoder(&self) -> &gst::Element {
        &self.video
    }

    pub fn video_tee(&self) -> &gst::Element {
        &self.video_tee
    }

    pub fn audio_tee(&self) -> &gst::Element {
        &self.audio_tee
    }

    /// The main rendition's key.
    pub fn main_key(&self) -> RenditionKey {
        RenditionKey {
            height: self.cfg.height,
            video_kbps: self.cfg.video_kbps,
        }
    }

    /// The tee carrying `feed`, started if no output used it yet.
    pub fn acquire(&self, feed: Feed) -> Result<gst::Element, MediaError> {
        if feed == Feed::Video(self.main_key()) {
            return Ok(self.video_tee.clone());
        }
        let mut extra = self.extra.lock().unwrap();
        if let Some(r) = extra.get_mut(&feed) {
            r.users += 1;
            return Ok(r.tee.clone());
        }
        let name = feed.name();
        let queue = make("queue", Some(&format!("enc-{name}-queue")))?;
        queue.set_property("max-size-buffers", 0u32);
        queue.set_property("max-size-bytes", 0u32);
        queue.set_property("max-size-time", gst::ClockTime::SECOND.nseconds());
        let tee = make("tee", Some(&format!("{name}-tee")))?;
        tee.set_property("allow-not-linked", true);
        let (source, elements) = match feed {
            Feed::Video(key) => {
                // The program is I420 already: libyuv halves and
                // interpolates for a smaller rendition, at a quarter of
                // what GStreamer's scaler takes (BENCHMARKS.md, "Scaling"),
                // and passes the full-size one through.
                let scale = make(tilescale::FACTORY, None)?;
                let size = capsfilter(
                    None,
                    &gst::Caps::builder("video/x-raw")
                        .field("width", key.width(self.cfg.width, self.cfg.height) as i32)
                        .field("height", key.height as i32)
                        .build(),
                )?;
                let [x264, parse, caps] = h264_chain(&self.cfg, key.video_kbps, None)?;
                wait_for_aac(&x264);
                (
                    &self.raw_tee,
                    vec![queue, scale, size, x264, parse, caps, tee.clone()],
                )
            }
            Feed::Opus => {
                let convert = make("audioconvert", None)?;
                let opus = make("opusenc", Some("enc-opus"))?;
                opus.set_property("bitrate", OPUS_BITRATE);
                (&self.raw_audio_tee, vec![queue, convert, opus, tee.clone()])
            }
        };
        self.pipeline
            .add_many(&elements)
            .map_err(|_| MediaError::Link(format!("rendition {name}")))?;
        let started = link_chain(&elements.iter().collect::<Vec<_>>()).and_then(|_| {
            for e in elements.iter().rev() {
                e.sync_state_with_parent()
                    .map_err(|_| MediaError::State(format!("rendition {name}")))?;
            }
            let pad = source
                .request_pad_simple("src_%u")
                .ok_or_else(|| MediaError::Link(format!("{}", source.name())))?;
            match pad.link(&elements[0].static_pad("sink").expect("queue sink")) {
                Ok(_) => Ok(pad),
                Err(e) => {
                    source.release_request_pad(&pad);
                    Err(MediaError::Link(format!("rendition {name}: {e:?}")))
                }
            }
        });
        match started {
            Ok(pad) => {
                tracing::info!(rendition = %name, "rendition started");
                extra.insert(
                    feed,
                    Branch {
                        elements,
                        tee: tee.clone(),
                        source: source.clone(),
                        feed: pad,
                        users: 1,
                    },
                );
                Ok(tee)
            }
            Err(e) => {
                for el in &elements {
                    let _ = el.set_state(gst::State::Null);
                    let _ = self.pipeline.remove(el);
                }
                Err(e)
            }
        }
    }

    /// One output fewer uses `feed`; the last one stops it.
    pub fn release(&self, feed: Feed) {
        let mut extra = self.extra.lock().unwrap();
        let Some(r) = extra.get_mut(&feed) else {
            return;
        };
        r.users -= 1;
        if r.users > 0 {
            return;
        }
        let r = extra.remove(&feed).expect("present");
        drop(extra);
        // Unlinked at a buffer boundary, the tee pad gets NOT_LINKED (which
        // the tee ignores) rather than FLUSHING (which would stop the
        // program) while the branch stops.
        let (tx, rx) = std::sync::mpsc::channel();
        r.feed
            .add_probe(gst::PadProbeType::BLOCK_DOWNSTREAM, move |pad, _| {
                if let Some(peer) = pad.peer() {
                    let _ = pad.unlink(&peer);
                }
                let _ = tx.send(());
                gst::PadProbeReturn::Remove
            });
        let _ = rx.recv_timeout(std::time::Duration::from_secs(1));
        r.source.release_request_pad(&r.feed);
        for el in &r.elements {
            let _ = el.set_state(gst::State::Null);
            let _ = self.pipeline.remove(el);
        }
        tracing::info!(rendition = %feed.name(), "rendition stopped");
    }

    /// Ends the program: EOS enters both encoders, which flush what they
    /// hold, and flows through the tees into every output. The program's
    /// further frames are refused from then on. Does not wait: EOS queues
    /// behind the frame the program is pushing, which a stalled output can
    /// hold up indefinitely; callers bound the wait on the outputs instead.
    pub fn finish(&self) {
        // Extra renditions end with the program: EOS on the raw tees
        // reaches them too.
        let pads = [
            self.raw_tee.static_pad("sink").expect("tee sink"),
            self.raw_audio_tee.static_pad("sink").expect("tee sink"),
        ];
        for pad in pads {
            let q = pad.parent_element().expect("pad in element");
            std::thread::Builder::new()
                .name(format!("eos-{}", q.name()))
                .spawn(move || pad.send_event(gst::event::Eos::new()))
                .expect("threads can be spawned");
        }
    }
}

/// AAC's first frame is priming: its sound comes out [`AAC_PRIMING`]
/// later than its timestamps say, and no output carries the priming for
/// players to skip. So every H.264 encoding that goes out beside the AAC
/// waits as long.
fn wait_for_aac(x264: &gst::Element) {
    x264.static_pad("src")
        .expect("x264 src")
        .set_offset(AAC_PRIMING.nseconds() as i64);
}

/// x264 (live settings) ! h264parse ! avc/au caps, at `kbps`.
pub fn h264_chain(
    cfg: &ProgramConfig,
    kbps: u32,
    name: Option<&str>,
) -> Result<[gst::Element; 3], MediaError> {
    let x264 = make("x264enc", name)?;
    x264.set_property_from_str("tune", "zerolatency");
    x264.set_property_from_str("speed-preset", &cfg.x264_preset);
    x264.set_property("bitrate", kbps);
    x264.set_property("key-int-max", cfg.fps * cfg.keyframe_interval_s);
    x264.set_property("threads", cfg.x264_threads);
    x264.set_property("trellis", cfg.x264_trellis());
    let parse = make("h264parse", None)?;
    let caps = capsfilter(
        None,
        &gst::Caps::builder("video/x-h264")
            .field("stream-format", "avc")
            .field("alignment", "au")
            .build(),
    )?;
    Ok([x264, parse, caps])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rendition_widths_follow_the_canvas_and_are_even() {
        let w = |h| {
            RenditionKey {
                height: h,
                video_kbps: 1,
            }
            .width(1280, 720)
        };
        assert_eq!([w(1080), w(720), w(360), w(270)], [1920, 1280, 640, 480]);
        assert_eq!(
            RenditionKey {
                height: 240,
                video_kbps: 1
            }
            .width(1000, 720),
            334
        );
    }
}
