//! The program rendition: encoded once (H.264 with x264, AAC) and tee'd to
//! every output. Outputs get H.264 as `avc`/`au` and raw AAC; an output that
//! needs Annex B converts in its own bin.

use gst::prelude::*;

use super::program::Program;
use super::{MediaError, capsfilter, link_chain, make};
use crate::config::ProgramConfig;

pub struct Encoder {
    video_in: gst::Element,
    audio_in: gst::Element,
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

        let video_in = queue("enc-video-queue")?;
        let x264 = make("x264enc", Some("enc-video"))?;
        x264.set_property_from_str("tune", "zerolatency");
        x264.set_property_from_str("speed-preset", &cfg.x264_preset);
        x264.set_property("bitrate", cfg.video_kbps);
        x264.set_property("key-int-max", cfg.fps * cfg.keyframe_interval_s);
        let h264parse = make("h264parse", None)?;
        let h264caps = capsfilter(
            None,
            &gst::Caps::builder("video/x-h264")
                .field("stream-format", "avc")
                .field("alignment", "au")
                .build(),
        )?;
        let video_tee = tee("video-tee")?;

        let audio_in = queue("enc-audio-queue")?;
        let convert = make("audioconvert", None)?;
        let aac = make("avenc_aac", Some("enc-audio"))?;
        aac.set_property("bitrate", (cfg.audio_kbps * 1000) as i32);
        let aacparse = make("aacparse", None)?;
        let audio_tee = tee("audio-tee")?;

        pipeline
            .add_many([
                &video_in, &x264, &h264parse, &h264caps, &video_tee, &audio_in, &convert, &aac,
                &aacparse, &audio_tee,
            ])
            .map_err(|_| MediaError::Link("encoder elements".into()))?;
        link_chain(&[&video_in, &x264, &h264parse, &h264caps, &video_tee])?;
        link_chain(&[&audio_in, &convert, &aac, &aacparse, &audio_tee])?;
        program
            .video_src()
            .link(&video_in.static_pad("sink").expect("queue sink"))
            .map_err(|e| MediaError::Link(format!("program video to encoder: {e:?}")))?;
        program
            .audio_src()
            .link(&audio_in.static_pad("sink").expect("queue sink"))
            .map_err(|e| MediaError::Link(format!("program audio to encoder: {e:?}")))?;

        Ok(Encoder {
            video_in,
            audio_in,
            video_tee,
            audio_tee,
        })
    }

    pub fn video_tee(&self) -> &gst::Element {
        &self.video_tee
    }

    pub fn audio_tee(&self) -> &gst::Element {
        &self.audio_tee
    }

    /// Ends the program: EOS enters both encoders, which flush what they
    /// hold, and flows through the tees into every output. The program's
    /// further frames are refused from then on. Does not wait: EOS queues
    /// behind the frame the program is pushing, which a stalled output can
    /// hold up indefinitely; callers bound the wait on the outputs instead.
    pub fn finish(&self) {
        for q in [&self.video_in, &self.audio_in] {
            let pad = q.static_pad("sink").expect("queue sink");
            std::thread::Builder::new()
                .name(format!("eos-{}", q.name()))
                .spawn(move || pad.send_event(gst::event::Eos::new()))
                .expect("threads can be spawned");
        }
    }
}
