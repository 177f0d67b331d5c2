//! A WHEP player in the test process: a recvonly webrtcbin that offers
//! H.264 and Opus, posts its offer, and decodes what comes back into RGB
//! frames and mono samples the test can look at.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callcast::config::IceConfig;
use callcast::media::webrtc;
use gst::prelude::*;
use gst_video::prelude::*;

use super::Frame;

pub struct WhepPlayer {
    pipeline: gst::Pipeline,
    webrtcbin: gst::Element,
    pub frames: Arc<AtomicU64>,
    latest: Arc<Mutex<Option<Frame>>>,
    pub samples: Arc<Mutex<Vec<f32>>>,
}

impl WhepPlayer {
    /// Builds the player and its offer (ICE gathered).
    pub fn new(audio: bool) -> (WhepPlayer, String) {
        callcast::media::init().unwrap();
        let pipeline = gst::Pipeline::new();
        let webrtcbin = webrtc::new_webrtcbin("player", &IceConfig::loopback(), 100).unwrap();
        pipeline.add(&webrtcbin).unwrap();
        let video = gst::Caps::builder("application/x-rtp")
            .field("media", "video")
            .field("encoding-name", "H264")
            .field("clock-rate", 90_000i32)
            .field("payload", 102i32)
            .field("packetization-mode", "1")
            .field("profile-level-id", "42e01f")
            .build();
        let mut kinds = vec![video];
        if audio {
            kinds.push(
                gst::Caps::builder("application/x-rtp")
                    .field("media", "audio")
                    .field("encoding-name", "OPUS")
                    .field("clock-rate", 48_000i32)
                    .field("payload", 111i32)
                    .field("encoding-params", "2")
                    .build(),
            );
        }
        for caps in kinds {
            webrtcbin.emit_by_name::<gst_webrtc::WebRTCRTPTransceiver>(
                "add-transceiver",
                &[&gst_webrtc::WebRTCRTPTransceiverDirection::Recvonly, &caps],
            );
        }
        let player = WhepPlayer {
            pipeline: pipeline.clone(),
            webrtcbin: webrtcbin.clone(),
            frames: Arc::new(AtomicU64::new(0)),
            latest: Arc::new(Mutex::new(None)),
            samples: Arc::new(Mutex::new(Vec::new())),
        };
        let (frames, latest, samples) = (
            player.frames.clone(),
            player.latest.clone(),
            player.samples.clone(),
        );
        let bin = pipeline.clone();
        webrtcbin.connect_pad_added(move |_, pad| {
            let decode = gst::ElementFactory::make("decodebin").build().unwrap();
            bin.add(&decode).unwrap();
            decode.sync_state_with_parent().unwrap();
            pad.link(&decode.static_pad("sink").unwrap()).unwrap();
            let (bin, frames, latest, samples) =
                (bin.clone(), frames.clone(), latest.clone(), samples.clone());
            decode.connect_pad_added(move |_, pad| {
                let caps = pad.current_caps().unwrap();
                let video = caps.structure(0).unwrap().name().starts_with("video/");
                let chain = if video {
                    video_sink(frames.clone(), latest.clone())
                } else {
                    audio_sink(samples.clone())
                };
                bin.add_many(&chain).unwrap();
                gst::Element::link_many(&chain).unwrap();
                for e in &chain {
                    e.sync_state_with_parent().unwrap();
                }
                pad.link(&chain[0].static_pad("sink").unwrap()).unwrap();
            });
        });
        pipeline.set_state(gst::State::Playing).unwrap();
        let offer =
            webrtc::create_description(&webrtcbin, gst_webrtc::WebRTCSDPType::Offer).unwrap();
        webrtc::set_local_description(&webrtcbin, &offer).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while webrtcbin.property::<gst_webrtc::WebRTCICEGatheringState>("ice-gathering-state")
            != gst_webrtc::WebRTCICEGatheringState::Complete
        {
            assert!(Instant::now() < deadline, "ICE gathering did not complete");
            std::thread::sleep(Duration::from_millis(20));
        }
        let sdp = webrtcbin
            .property::<gst_webrtc::WebRTCSessionDescription>("local-description")
            .sdp()
            .as_text()
            .unwrap();
        (player, sdp)
    }

    /// Applies the server's answer.
    pub fn answer(&self, sdp: &str) {
        let answer = gst_webrtc::WebRTCSessionDescription::new(
            gst_webrtc::WebRTCSDPType::Answer,
            webrtc::parse_sdp(sdp).unwrap(),
        );
        webrtc::set_remote_description(&self.webrtcbin, &answer).unwrap();
    }

    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// The latest decoded picture.
    pub fn latest(&self) -> Option<Frame> {
        self.latest.lock().unwrap().take()
    }
}

impl Drop for WhepPlayer {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// An appsink taking `caps` that hands every sample to `f`.
fn appsink(caps: gst::Caps, f: impl Fn(&gst::Sample) + Send + Sync + 'static) -> gst::Element {
    gst_app::AppSink::builder()
        .caps(&caps)
        .sync(false)
        .callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |s| {
                    f(&s.pull_sample().map_err(|_| gst::FlowError::Eos)?);
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        )
        .build()
        .upcast()
}

fn video_sink(frames: Arc<AtomicU64>, latest: Arc<Mutex<Option<Frame>>>) -> Vec<gst::Element> {
    let convert = gst::ElementFactory::make("videoconvert").build().unwrap();
    let caps = gst::Caps::builder("video/x-raw")
        .field("format", "RGB")
        .build();
    let sink = appsink(caps, move |sample| {
        let info = gst_video::VideoInfo::from_caps(sample.caps().unwrap()).unwrap();
        let frame =
            gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer().unwrap(), &info)
                .unwrap();
        let (w, h) = (info.width() as usize, info.height() as usize);
        let stride = frame.plane_stride()[0] as usize;
        let data = frame.plane_data(0).unwrap();
        let mut rgb = Vec::with_capacity(w * h * 3);
        for row in 0..h {
            rgb.extend_from_slice(&data[row * stride..row * stride + w * 3]);
        }
        *latest.lock().unwrap() = Some(Frame {
            width: w,
            height: h,
            rgb,
        });
        frames.fetch_add(1, Ordering::Relaxed);
    });
    vec![convert, sink]
}

fn audio_sink(samples: Arc<Mutex<Vec<f32>>>) -> Vec<gst::Element> {
    let convert = gst::ElementFactory::make("audioconvert").build().unwrap();
    let resample = gst::ElementFactory::make("audioresample").build().unwrap();
    let caps = gst::Caps::builder("audio/x-raw")
        .field("format", "F32LE")
        .field("channels", 1i32)
        .field("rate", 48_000i32)
        .field("layout", "interleaved")
        .build();
    let sink = appsink(caps, move |sample| {
        let map = sample.buffer().unwrap().map_readable().unwrap();
        samples.lock().unwrap().extend(
            map.chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
    });
    vec![convert, resample, sink]
}
