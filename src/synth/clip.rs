//! A participant's picture and sound encoded once, up front, for
//! publishers that replay it: many participants then cost the sending
//! side almost nothing, which is what a benchmark of the receiving side
//! needs.
//!
//! The picture is the demo's moving ball on the participant's colour,
//! with each frame's number drawn in as a [`tag`](super::tag). Every
//! frame is encoded twice: in a normal stream (a key frame every two
//! seconds) and as a key frame of its own, so that a replaying publisher
//! can answer a receiver's key frame request at once, as a live encoder
//! would.

use std::sync::{Arc, Mutex};

use gst::prelude::*;
use gst_video::prelude::*;

use super::publisher::ball_pattern;
use super::tag;
use crate::media::{MediaError, capsfilter, link_chain, make};

/// Opus frames are 20 ms.
pub const AUDIO_FRAME: std::time::Duration = std::time::Duration::from_millis(20);

pub struct Clip {
    /// VP8 frames; frame `i` shows tag `i`.
    pub video: Vec<gst::Buffer>,
    /// The same frames, each a key frame.
    pub key_frames: Vec<gst::Buffer>,
    pub video_caps: gst::Caps,
    /// A second of Opus, in 20 ms frames, that loops without a click.
    pub audio: Vec<gst::Buffer>,
    pub audio_caps: gst::Caps,
    pub fps: u32,
}

/// What a clip looks and sounds like.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipSpec {
    pub colour: (u8, u8, u8),
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// A whole number of hertz, so that a second of it loops seamlessly.
    pub pitch_hz: u32,
}

impl ClipSpec {
    /// VP8 bits per second: 600 kb/s at 640x360, in proportion to the
    /// area (a 320x180 simulcast layer gets 150 kb/s).
    pub fn video_bitrate(&self) -> i32 {
        let area = (self.width * self.height) as u64;
        (600_000 * area / (640 * 360)).clamp(100_000, 4_000_000) as i32
    }
}

impl Clip {
    /// Encodes `tag::MODULUS` frames of picture and a second of sound.
    /// Blocks for about a second per 640x360 clip.
    pub fn encode(spec: &ClipSpec) -> Result<Self, MediaError> {
        crate::media::init()?;
        let frames = tag::MODULUS as usize;
        let pipeline = gst::Pipeline::builder().name("clip").build();
        let src = ball_pattern(spec.colour)?;
        src.set_property("num-buffers", frames as i32);
        let raw_caps = gst::Caps::builder("video/x-raw")
            .field("format", "I420")
            .field("width", spec.width as i32)
            .field("height", spec.height as i32)
            .field("framerate", gst::Fraction::new(spec.fps as i32, 1))
            .build();
        let raw = capsfilter(None, &raw_caps)?;
        stamp_tags(&raw, &raw_caps)?;
        let tee = make("tee", None)?;
        let normal = vp8enc(spec.video_bitrate(), spec.fps as i32 * 2)?;
        // Key frames only, at a rate that keeps them sharp.
        let keys = vp8enc(spec.video_bitrate() * 8, 1)?;
        let (nq, kq) = (make("queue", None)?, make("queue", None)?);
        let ((nsink, normal_out), (ksink, keys_out)) = (collector()?, collector()?);

        let audio = gst::ElementFactory::make("audiotestsrc")
            .property("num-buffers", (1000 / AUDIO_FRAME.as_millis()) as i32)
            .property("samplesperbuffer", 960i32)
            .property("freq", spec.pitch_hz as f64)
            .property("volume", 0.3f64)
            .build()
            .map_err(|_| MediaError::MissingElement("audiotestsrc"))?;
        let aconvert = make("audioconvert", None)?;
        let opus = gst::ElementFactory::make("opusenc")
            .property("bitrate", 48_000i32)
            .property_from_str("frame-size", "20")
            .build()
            .map_err(|_| MediaError::MissingElement("opusenc"))?;
        let (asink, audio_out) = collector()?;

        pipeline
            .add_many([
                &src, &raw, &tee, &nq, &normal, &nsink, &kq, &keys, &ksink, &audio, &aconvert,
                &opus, &asink,
            ])
            .map_err(|_| MediaError::Link("clip elements".into()))?;
        link_chain(&[&src, &raw, &tee, &nq, &normal, &nsink])?;
        link_chain(&[&tee, &kq, &keys, &ksink])?;
        link_chain(&[&audio, &aconvert, &opus, &asink])?;

        pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| MediaError::State("clip encoder would not start".into()))?;
        let bus = pipeline.bus().expect("pipelines have a bus");
        let done = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(120),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        let outcome = match done.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => Ok(()),
            Some(gst::MessageView::Error(e)) => {
                Err(MediaError::State(format!("encoding a clip: {}", e.error())))
            }
            _ => Err(MediaError::State("encoding a clip took too long".into())),
        };
        let clip = outcome.and_then(|_| {
            let (video, video_caps) = normal_out.take()?;
            let (key_frames, _) = keys_out.take()?;
            let (audio, audio_caps) = audio_out.take()?;
            if video.len() != frames || key_frames.len() != frames || audio.is_empty() {
                return Err(MediaError::State(format!(
                    "a clip came out with {} frames, {} key frames and {} sound frames",
                    video.len(),
                    key_frames.len(),
                    audio.len()
                )));
            }
            Ok(Clip {
                video,
                key_frames,
                video_caps,
                audio,
                audio_caps,
                fps: spec.fps,
            })
        });
        let _ = pipeline.set_state(gst::State::Null);
        clip
    }
}

fn vp8enc(bitrate: i32, keyframe_max_dist: i32) -> Result<gst::Element, MediaError> {
    // The live settings of a real-time sender.
    gst::ElementFactory::make("vp8enc")
        .property("deadline", 1i64)
        .property("cpu-used", 8i32)
        .property("target-bitrate", bitrate)
        .property("keyframe-max-dist", keyframe_max_dist)
        .property("threads", 1i32)
        .property_from_str("end-usage", "cbr")
        .property_from_str("error-resilient", "default")
        .build()
        .map_err(|_| MediaError::MissingElement("vp8enc"))
}

/// An appsink that keeps everything it gets, stripped of timestamps (a
/// player stamps them anew), for [`Collected::take`] after the end.
/// (Samples must be taken as they come: an appsink holds back its end
/// until its queue is empty.)
fn collector() -> Result<(gst::Element, Collected), MediaError> {
    let collected = Collected::default();
    let into = collected.clone();
    let sink = gst_app::AppSink::builder()
        .sync(false)
        .callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |sink| {
                    let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
                    let mut c = into.0.lock().unwrap();
                    if c.1.is_none() {
                        c.1 = sample.caps_owned();
                    }
                    if let Some(mut buffer) = sample.buffer_owned() {
                        let b = buffer.make_mut();
                        b.set_pts(gst::ClockTime::NONE);
                        b.set_dts(gst::ClockTime::NONE);
                        c.0.push(buffer);
                    }
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        )
        .build();
    Ok((sink.upcast(), collected))
}

#[derive(Clone, Default)]
struct Collected(Arc<Mutex<(Vec<gst::Buffer>, Option<gst::Caps>)>>);

impl Collected {
    fn take(&self) -> Result<(Vec<gst::Buffer>, gst::Caps), MediaError> {
        let (buffers, caps) = std::mem::take(&mut *self.0.lock().unwrap());
        let caps = caps.ok_or_else(|| MediaError::State("a clip stream came out empty".into()))?;
        Ok((buffers, caps))
    }
}

/// Draws each raw frame's number into it as it leaves `raw`.
fn stamp_tags(raw: &gst::Element, caps: &gst::Caps) -> Result<(), MediaError> {
    let info = gst_video::VideoInfo::from_caps(caps)
        .map_err(|_| MediaError::Negotiation("clip caps".into()))?;
    let index = std::sync::atomic::AtomicU64::new(0);
    raw.static_pad("src")
        .expect("capsfilter has a src")
        .add_probe(gst::PadProbeType::BUFFER, move |_, info_| {
            if let Some(buffer) = info_.buffer_mut() {
                let buffer = buffer.make_mut();
                let n = index.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if let Ok(mut frame) =
                    gst_video::VideoFrameRef::from_buffer_ref_writable(buffer, &info)
                {
                    let stride = frame.plane_stride()[0] as usize;
                    let (w, h) = (frame.width(), frame.height());
                    if let Ok(luma) = frame.plane_data_mut(0) {
                        tag::stamp(luma, stride, w, h, (n % tag::MODULUS) as u8);
                    }
                }
            }
            gst::PadProbeReturn::Ok
        });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitrate_follows_the_area() {
        let spec = |width, height| ClipSpec {
            colour: (0, 0, 0),
            width,
            height,
            fps: 20,
            pitch_hz: 440,
        };
        assert_eq!(spec(640, 360).video_bitrate(), 600_000);
        assert_eq!(spec(320, 180).video_bitrate(), 150_000);
        assert_eq!(spec(16, 16).video_bitrate(), 100_000);
    }
}
