//! The media side of a synthetic participant: a moving pattern in its own
//! colour with its name on it (VP8) and a tone at its own pitch (Opus),
//! encoded once and sent to each subscriber over its own webrtcbin.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use gst::prelude::*;
use gst_webrtc::WebRTCRTPTransceiverDirection;

use super::SynthSpec;
use super::flash::Flashes;
use crate::config::IceConfig;
use crate::media::{MediaError, capsfilter, link_chain, make, webrtc};

/// Track ids as announced in the room.
pub const VIDEO_TRACK: &str = "cam";
pub const AUDIO_TRACK: &str = "mic";

const VIDEO_PT: i32 = 96;
const AUDIO_PT: i32 = 111;

/// RTP caps with a fixed SSRC. As codec preferences they make webrtcbin
/// write `a=ssrc` lines into the offer, which is how the receiver maps
/// bundled streams to m-lines; without them a receiving webrtcbin 1.22
/// puts every stream it cannot place on the first m-line.
fn rtp_caps(media: &str, encoding: &str, clock_rate: i32, pt: i32, ssrc: u32) -> gst::Caps {
    gst::Caps::builder("application/x-rtp")
        .field("media", media)
        .field("encoding-name", encoding)
        .field("clock-rate", clock_rate)
        .field("payload", pt)
        .field("ssrc", ssrc)
        .build()
}

/// One subscriber's branch: a webrtcbin fed from the tees.
struct Branch {
    webrtcbin: gst::Element,
    /// (tee pad, queue) per track.
    feeds: Vec<(gst::Pad, gst::Element)>,
}

pub struct Publisher {
    pipeline: gst::Pipeline,
    /// (tee, RTP caps) for video, then audio.
    tees: [(gst::Element, gst::Caps); 2],
    ice: IceConfig,
    branches: Mutex<HashMap<String, Branch>>,
    /// Shut, the camera sends nothing, as a client with its camera muted.
    /// Before the encoder, so that the stream resumes where it stopped.
    camera_valve: gst::Element,
    /// The same for the microphone.
    microphone_valve: gst::Element,
}

/// A new subscriber's offer: its SDP and which m-line carries which track.
pub struct Offer {
    pub sdp: String,
    /// (mid, track id)
    pub tracks: Vec<(String, String)>,
}

impl Publisher {
    /// Starts encoding; nothing is sent until a subscriber asks. Blocks.
    pub fn start(spec: &SynthSpec, ice: &IceConfig) -> Result<Self, MediaError> {
        crate::media::init()?;
        let (video_ssrc, audio_ssrc) = random_ssrcs();
        let chains = EncodedChains::new(spec, video_ssrc, audio_ssrc)?;
        Self::with_chains(&spec.name, chains, ice)
    }

    /// Starts a publisher sending `chains` (already encoded and
    /// payloaded media). Blocks.
    pub fn with_chains(
        name: &str,
        chains: EncodedChains,
        ice: &IceConfig,
    ) -> Result<Self, MediaError> {
        let pipeline = gst::Pipeline::builder()
            .name(format!("synth-{name}"))
            .build();
        let (vtee, atee) = (tee()?, tee()?);
        let mut video: Vec<&gst::Element> = chains.video.iter().collect();
        video.push(&vtee);
        let mut audio: Vec<&gst::Element> = chains.audio.iter().collect();
        audio.push(&atee);
        pipeline
            .add_many(video.iter().chain(audio.iter()).copied())
            .map_err(|_| MediaError::Link("publisher elements".into()))?;
        link_chain(&video)?;
        link_chain(&audio)?;
        log_faults(&pipeline, name);
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| MediaError::State("publisher would not start".into()))?;
        Ok(Publisher {
            pipeline,
            tees: [(vtee, chains.video_caps), (atee, chains.audio_caps)],
            ice: ice.clone(),
            branches: Mutex::new(HashMap::new()),
            camera_valve: chains.camera_valve,
            microphone_valve: chains.microphone_valve,
        })
    }

    /// Stops or resumes sending the camera's frames.
    pub fn mute_video(&self, muted: bool) {
        self.camera_valve.set_property("drop", muted);
    }

    /// Stops or resumes sending the microphone's sound.
    pub fn mute_audio(&self, muted: bool) {
        self.microphone_valve.set_property("drop", muted);
    }

    /// Opens a PeerConnection to `peer` and returns its offer. Local ICE
    /// candidates go to `on_candidate`. Blocks.
    pub fn offer_to<F>(&self, peer: &str, on_candidate: F) -> Result<Offer, MediaError>
    where
        F: Fn(u32, String) + Send + Sync + 'static,
    {
        self.drop_peer(peer);
        let webrtcbin = webrtc::new_webrtcbin(&format!("to-{peer}"), &self.ice, 50)?;
        webrtc::on_ice_candidate(&webrtcbin, on_candidate);
        self.pipeline
            .add(&webrtcbin)
            .map_err(|_| MediaError::Link("publisher webrtcbin".into()))?;
        let mut branch = Branch {
            webrtcbin: webrtcbin.clone(),
            feeds: Vec::new(),
        };
        let linked = (|| {
            // webrtcbin must be running before media reaches it: a first
            // push into its still-flushing pads would stop the feeding queue.
            let mut sinks = Vec::new();
            for (_, caps) in &self.tees {
                let sink = webrtcbin
                    .request_pad_simple("sink_%u")
                    .ok_or_else(|| MediaError::Link("webrtcbin sink pad".into()))?;
                let transceiver = sink.property::<gst_webrtc::WebRTCRTPTransceiver>("transceiver");
                transceiver.set_direction(WebRTCRTPTransceiverDirection::Sendonly);
                transceiver.set_codec_preferences(Some(caps));
                sinks.push(sink);
            }
            webrtcbin
                .sync_state_with_parent()
                .map_err(|_| MediaError::State("publisher webrtcbin".into()))?;
            for ((tee, _), sink) in self.tees.iter().zip(&sinks) {
                let queue = make("queue", None)?;
                // Never block the tee (and the other subscribers) on us.
                queue.set_property_from_str("leaky", "downstream");
                self.pipeline
                    .add(&queue)
                    .map_err(|_| MediaError::Link("publisher queue".into()))?;
                queue
                    .static_pad("src")
                    .expect("queue src")
                    .link(sink)
                    .map_err(|e| MediaError::Link(format!("queue to webrtcbin: {e:?}")))?;
                queue
                    .sync_state_with_parent()
                    .map_err(|_| MediaError::State("publisher queue".into()))?;
                let tee_pad = tee
                    .request_pad_simple("src_%u")
                    .ok_or_else(|| MediaError::Link("tee pad".into()))?;
                branch.feeds.push((tee_pad.clone(), queue.clone()));
                tee_pad
                    .link(&queue.static_pad("sink").expect("queue sink"))
                    .map_err(|e| MediaError::Link(format!("tee to queue: {e:?}")))?;
            }
            start_on_connection(&webrtcbin, &branch.feeds);
            wait_for_caps(&webrtcbin)?;
            let offer = webrtc::create_description(&webrtcbin, gst_webrtc::WebRTCSDPType::Offer)?;
            webrtc::set_local_description(&webrtcbin, &offer)?;
            let tracks = webrtc::sdp_mids(offer.sdp())
                .into_iter()
                .filter_map(|(mid, media)| match media.as_str() {
                    "video" => Some((mid, VIDEO_TRACK.to_string())),
                    "audio" => Some((mid, AUDIO_TRACK.to_string())),
                    _ => None,
                })
                .collect();
            let sdp = offer
                .sdp()
                .as_text()
                .map_err(|_| MediaError::Negotiation("offer does not serialize".into()))?;
            Ok(Offer { sdp, tracks })
        })();
        match linked {
            Ok(offer) => {
                self.branches
                    .lock()
                    .unwrap()
                    .insert(peer.to_string(), branch);
                Ok(offer)
            }
            Err(e) => {
                self.remove_branch(branch);
                Err(e)
            }
        }
    }

    /// Blocks.
    pub fn answer_from(&self, peer: &str, sdp: &str) -> Result<(), MediaError> {
        let webrtcbin = self.webrtcbin(peer)?;
        let answer = gst_webrtc::WebRTCSessionDescription::new(
            gst_webrtc::WebRTCSDPType::Answer,
            webrtc::parse_sdp(sdp)?,
        );
        webrtc::set_remote_description(&webrtcbin, &answer)
    }

    pub fn add_candidate(&self, peer: &str, sdp_m_line_index: u32, candidate: &str) {
        if let Ok(webrtcbin) = self.webrtcbin(peer) {
            webrtc::add_ice_candidate(&webrtcbin, sdp_m_line_index, candidate);
        }
    }

    /// Stops sending to `peer`. Blocks.
    pub fn drop_peer(&self, peer: &str) {
        let branch = self.branches.lock().unwrap().remove(peer);
        if let Some(branch) = branch {
            self.remove_branch(branch);
        }
    }

    /// Stops everything. Blocks.
    pub fn stop(&self) {
        let _ = self.pipeline.set_state(gst::State::Null);
        self.branches.lock().unwrap().clear();
    }

    fn webrtcbin(&self, peer: &str) -> Result<gst::Element, MediaError> {
        self.branches
            .lock()
            .unwrap()
            .get(peer)
            .map(|b| b.webrtcbin.clone())
            .ok_or_else(|| MediaError::Negotiation(format!("no connection to {peer}")))
    }

    fn remove_branch(&self, branch: Branch) {
        // webrtcbin first, so the leaky queues feeding it can stop at once.
        let _ = branch.webrtcbin.set_state(gst::State::Null);
        let _ = self.pipeline.remove(&branch.webrtcbin);
        for (tee_pad, queue) in branch.feeds {
            let _ = queue.set_state(gst::State::Null);
            if let Some(tee) = tee_pad.parent_element() {
                tee.release_request_pad(&tee_pad);
            }
            let _ = self.pipeline.remove(&queue);
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Sends nothing until `webrtcbin` connects, and then asks for a key
/// frame: a browser's encoder starts its stream with one, and without it
/// the receiver shows nothing until it has asked for one itself and been
/// heard.
fn start_on_connection(webrtcbin: &gst::Element, feeds: &[(gst::Pad, gst::Element)]) {
    let queues: Vec<gst::glib::WeakRef<gst::Element>> =
        feeds.iter().map(|(_, q)| q.downgrade()).collect();
    let sinks: Vec<gst::Pad> = feeds
        .iter()
        .map(|(_, q)| q.static_pad("sink").expect("queues have a sink"))
        .collect();
    webrtc::send_once_connected(webrtcbin, &sinks, move || {
        // Upstream, through the tee, to the encoder (or the player).
        for q in queues.iter().filter_map(|q| q.upgrade()) {
            q.send_event(
                gst_video::UpstreamForceKeyUnitEvent::builder()
                    .all_headers(true)
                    .build(),
            );
        }
    });
}

/// webrtcbin 1.22 connects a send pad when the answer is applied only if
/// caps already reached the pad; over loopback the answer can come back
/// before a branch's first buffer. So offer only once caps were sent into
/// every sink pad (the feeding pad keeps them; webrtcbin's does not until
/// it is connected).
fn wait_for_caps(webrtcbin: &gst::Element) -> Result<(), MediaError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let waiting: Vec<String> = webrtcbin
            .sink_pads()
            .iter()
            .filter(|p| p.peer().and_then(|peer| peer.current_caps()).is_none())
            .map(|p| p.name().to_string())
            .collect();
        if waiting.is_empty() {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err(MediaError::Negotiation(format!(
                "no media reached the publisher's webrtcbin on {} (muted before its first frame?)",
                waiting.join(", ")
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Says what goes wrong in a publisher's pipeline (nothing else reads its
/// bus, so nothing else piles up on it either).
fn log_faults(pipeline: &gst::Pipeline, name: &str) {
    let name = name.to_string();
    let bus = pipeline.bus().expect("pipelines have a bus");
    bus.set_sync_handler(move |_, msg| {
        let element = msg.src().map(|s| s.path_string().to_string());
        match msg.view() {
            gst::MessageView::Error(e) => {
                tracing::error!(participant = %name, ?element, error = %e.error(), debug = ?e.debug(), "synthetic participant: pipeline error");
            }
            gst::MessageView::Warning(w) => {
                tracing::warn!(participant = %name, ?element, warning = %w.error(), debug = ?w.debug(), "synthetic participant: pipeline warning");
            }
            _ => {}
        }
        gst::BusSyncReply::Drop
    });
}

/// A queue that holds RTP packets back by `lag` and leaves their
/// timestamps alone: they leave late, saying when they were captured,
/// and the sender reports map capture times, as a slow device's would.
fn holding_back(lag: Duration) -> Result<gst::Element, MediaError> {
    let queue = make("queue", Some("holding-back"))?;
    queue.set_property("min-threshold-time", lag.as_nanos() as u64);
    queue.set_property(
        "max-size-time",
        (lag + Duration::from_secs(1)).as_nanos() as u64,
    );
    queue.set_property("max-size-buffers", 0u32);
    queue.set_property("max-size-bytes", 0u32);
    Ok(queue)
}

fn tee() -> Result<gst::Element, MediaError> {
    let tee = make("tee", None)?;
    tee.set_property("allow-not-linked", true);
    Ok(tee)
}

/// A participant's picture and sound, encoded and payloaded: VP8 and Opus
/// RTP with fixed SSRCs, ready for a tee or a socket.
pub struct EncodedChains {
    /// Source to RTP capsfilter, in link order.
    pub video: Vec<gst::Element>,
    pub audio: Vec<gst::Element>,
    /// Drops the raw camera frames while set (in `video`).
    pub camera_valve: gst::Element,
    /// Drops the raw microphone sound while set (in `audio`).
    pub microphone_valve: gst::Element,
    pub video_caps: gst::Caps,
    pub audio_caps: gst::Caps,
}

impl EncodedChains {
    pub fn new(spec: &SynthSpec, video_ssrc: u32, audio_ssrc: u32) -> Result<Self, MediaError> {
        let video_src = ball_pattern(spec.colour)?;
        video_src.set_property("is-live", true);
        let mut caps = gst::Caps::builder("video/x-raw")
            .field("width", spec.width as i32)
            .field("height", spec.height as i32)
            .field("framerate", gst::Fraction::new(spec.fps as i32, 1));
        let flashes = spec.flash.then(Flashes::new);
        if flashes.is_some() {
            // What the flash paints.
            caps = caps.field("format", "I420");
        }
        let video_caps = capsfilter(None, &caps.build())?;
        if let Some(f) = &flashes {
            f.paint(&video_caps.static_pad("src").expect("capsfilter src"));
        }
        let label = gst::ElementFactory::make("textoverlay")
            .property("text", &spec.name)
            .property(
                "font-desc",
                format!("Sans Bold {}", (spec.height / 9).max(8)),
            )
            .property_from_str("valignment", "center")
            .property_from_str("halignment", "center")
            .build()
            .map_err(|_| MediaError::MissingElement("textoverlay"))?;
        let convert = make("videoconvert", None)?;
        let valve = muting_valve()?;
        let vp8 = gst::ElementFactory::make("vp8enc")
            .property("deadline", 1i64)
            .property("cpu-used", 8i32)
            .property("target-bitrate", 600_000i32)
            .property(
                "keyframe-max-dist",
                spec.fps
                    .saturating_mul(spec.key_frame_interval_s)
                    .min(i32::MAX as u32) as i32,
            )
            .property("threads", 1i32)
            .property_from_str("end-usage", "cbr")
            .property_from_str("error-resilient", "default")
            .build()
            .map_err(|_| MediaError::MissingElement("vp8enc"))?;
        let (vpay, vpay_caps, vcaps) = vp8_payloader(video_ssrc)?;

        let audio_src = gst::ElementFactory::make("audiotestsrc")
            .property("is-live", true)
            .property_from_str("wave", "sine")
            .property("freq", spec.pitch_hz)
            .property("volume", 0.3f64)
            .build()
            .map_err(|_| MediaError::MissingElement("audiotestsrc"))?;
        let mut audio = vec![audio_src];
        if let Some(f) = &flashes {
            // What the gate silences.
            let raw = capsfilter(
                None,
                &gst::Caps::builder("audio/x-raw")
                    .field("format", "F32LE")
                    .field("rate", 48_000i32)
                    .field("channels", 1i32)
                    .build(),
            )?;
            f.gate(&raw.static_pad("src").expect("capsfilter src"), 48_000);
            audio.push(raw);
        }
        let aconvert = make("audioconvert", None)?;
        let aresample = make("audioresample", None)?;
        let avalve = muting_valve()?;
        let opus = gst::ElementFactory::make("opusenc")
            .property("bitrate", 48_000i32)
            .build()
            .map_err(|_| MediaError::MissingElement("opusenc"))?;
        let (apay, apay_caps, acaps) = opus_payloader(audio_ssrc)?;

        let mut video = vec![
            video_src,
            video_caps,
            label,
            convert,
            valve.clone(),
            vp8,
            vpay,
            vpay_caps,
        ];
        let mut audio: Vec<gst::Element> = audio
            .into_iter()
            .chain([aconvert, aresample, avalve.clone(), opus, apay, apay_caps])
            .collect();
        let lag = Duration::from_millis(spec.sound_lag_ms.unsigned_abs() as u64);
        if !lag.is_zero() {
            let later = if spec.sound_lag_ms > 0 {
                &mut audio
            } else {
                &mut video
            };
            later.push(holding_back(lag)?);
        }
        Ok(EncodedChains {
            camera_valve: valve,
            video,
            microphone_valve: avalve,
            audio,
            video_caps: vcaps,
            audio_caps: acaps,
        })
    }

    /// Chains that send what `video` and `audio` (sources of VP8 and
    /// Opus frames, such as a clip's players) put out.
    pub fn replaying(
        video: gst::Element,
        audio: gst::Element,
        video_ssrc: u32,
        audio_ssrc: u32,
    ) -> Result<Self, MediaError> {
        let (valve, avalve) = (muting_valve()?, muting_valve()?);
        let (vpay, vpay_caps, video_caps) = vp8_payloader(video_ssrc)?;
        let (apay, apay_caps, audio_caps) = opus_payloader(audio_ssrc)?;
        Ok(EncodedChains {
            camera_valve: valve.clone(),
            video: vec![video, valve, vpay, vpay_caps],
            microphone_valve: avalve.clone(),
            audio: vec![audio, avalve, apay, apay_caps],
            video_caps,
            audio_caps,
        })
    }
}

/// The synthetic participants' picture: a white ball sweeping over
/// `colour` (RGB).
pub fn ball_pattern(colour: (u8, u8, u8)) -> Result<gst::Element, MediaError> {
    let (r, g, b) = colour;
    gst::ElementFactory::make("videotestsrc")
        .property_from_str("pattern", "ball")
        .property_from_str("motion", "sweep")
        .property(
            "background-color",
            0xff00_0000u32 | (r as u32) << 16 | (g as u32) << 8 | b as u32,
        )
        .property("foreground-color", 0xffff_ffffu32)
        .build()
        .map_err(|_| MediaError::MissingElement("videotestsrc"))
}

/// Two random SSRCs: video, audio.
pub fn random_ssrcs() -> (u32, u32) {
    let r = crate::ids::random_u64();
    (r as u32, (r >> 32) as u32)
}

/// rtpvp8pay and the caps it sends with, as an element and as caps.
fn vp8_payloader(ssrc: u32) -> Result<(gst::Element, gst::Element, gst::Caps), MediaError> {
    let pay = gst::ElementFactory::make("rtpvp8pay")
        .property("pt", VIDEO_PT as u32)
        .property("ssrc", ssrc)
        .property_from_str("picture-id-mode", "15-bit")
        .build()
        .map_err(|_| MediaError::MissingElement("rtpvp8pay"))?;
    let caps = rtp_caps("video", "VP8", 90_000, VIDEO_PT, ssrc);
    Ok((pay, capsfilter(None, &caps)?, caps))
}

/// rtpopuspay and the caps it sends with.
fn opus_payloader(ssrc: u32) -> Result<(gst::Element, gst::Element, gst::Caps), MediaError> {
    let pay = gst::ElementFactory::make("rtpopuspay")
        .property("pt", AUDIO_PT as u32)
        .property("ssrc", ssrc)
        .build()
        .map_err(|_| MediaError::MissingElement("rtpopuspay"))?;
    let caps = rtp_caps("audio", "OPUS", 48_000, AUDIO_PT, ssrc);
    Ok((pay, capsfilter(None, &caps)?, caps))
}

/// A valve that, shut, drops media but still passes caps on. (Shut before
/// the first frame has been encoded, the stream cannot be offered yet.)
fn muting_valve() -> Result<gst::Element, MediaError> {
    let valve = make("valve", None)?;
    valve.set_property_from_str("drop-mode", "forward-sticky-events");
    Ok(valve)
}
