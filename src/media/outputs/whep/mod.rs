//! A WHEP viewer: a sendonly webrtcbin answering the viewer's offer, fed
//! with the program's main H.264 (not encoded again) and the Opus
//! rendition every viewer shares. The manager links and removes it like
//! any output; a viewer whose connection fails shows as failed and the
//! session removes it.

pub mod offer;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use gst::prelude::*;

use super::{OutputBin, OutputState, add_sink_pad, entry_queue};
use crate::config::IceConfig;
use crate::media::encode::Feed;
use crate::media::{MediaError, link_chain, make, webrtc};
pub use offer::{Choice, OfferError};

/// The output kind viewers are listed as.
pub const KIND: &str = "whep";

/// How long ICE gathering may take before the answer goes out with the
/// candidates found so far.
const GATHER_TIMEOUT: Duration = Duration::from_secs(5);

pub struct WhepViewer {
    bin: gst::Bin,
    webrtcbin: gst::Element,
    /// The payloaders' src pads: where bytes are counted.
    pads: Vec<gst::Pad>,
    audio: bool,
    /// The viewer stopped sending RTCP (or said BYE): it is gone.
    gone: Arc<AtomicBool>,
}

/// A viewer's offer still to answer. Until it is, the payloaders' output
/// is held back: webrtcbin would match the offer against the caps of the
/// stream (x264's exact profile and level) instead of the codec
/// preferences, and refuse an offer that differs only there.
pub struct Pending {
    webrtcbin: gst::Element,
    held: Vec<(gst::Pad, gst::PadProbeId)>,
    gone: Arc<AtomicBool>,
}

impl WhepViewer {
    /// A viewer sending with the payload types `choice` took from its
    /// offer; once the manager runs it, [`Pending::answer`] answers.
    pub fn new(
        name: &str,
        choice: &Choice,
        ice: &IceConfig,
    ) -> Result<(Self, Pending), MediaError> {
        let bin = gst::Bin::builder().name(name).build();
        let webrtcbin = webrtc::new_webrtcbin(&format!("{name}-webrtc"), ice, 0)?;
        bin.add(&webrtcbin)
            .map_err(|_| MediaError::Link("viewer webrtcbin".into()))?;

        // No profile-level-id: the payloader would then refuse any other
        // profile than the one offered, and the program is what x264 made
        // of it (High, preferred by `offer::choose` when offered).
        let video_caps = gst::Caps::builder("application/x-rtp")
            .field("media", "video")
            .field("encoding-name", "H264")
            .field("clock-rate", 90_000i32)
            .field("payload", choice.video_pt as i32)
            .field("packetization-mode", "1")
            .field("level-asymmetry-allowed", "1")
            .build();
        let pay = make("rtph264pay", None)?;
        pay.set_property("pt", choice.video_pt as u32);
        // SPS/PPS before every key frame, so a viewer can start at any.
        pay.set_property("config-interval", -1i32);
        pay.set_property_from_str("aggregate-mode", "zero-latency");
        let mut pads = vec![send(&bin, &webrtcbin, "video", pay, &video_caps)?];
        if let Some(pt) = choice.audio_pt {
            let pay = make("rtpopuspay", None)?;
            pay.set_property("pt", pt as u32);
            let caps = gst::Caps::builder("application/x-rtp")
                .field("media", "audio")
                .field("encoding-name", "OPUS")
                .field("clock-rate", 48_000i32)
                .field("payload", pt as i32)
                .field("encoding-params", "2")
                .build();
            pads.push(send(&bin, &webrtcbin, "opus", pay, &caps)?);
        }
        // Held until the answer, then dropped until the viewer is
        // connected: it starts at the live edge, not with a burst of what
        // waited for its DTLS handshake.
        webrtc::send_once_connected(&webrtcbin, &bin.sink_pads(), || {});
        let held = pads
            .iter()
            .filter_map(|pad| {
                let id = pad.add_probe(gst::PadProbeType::BLOCK_DOWNSTREAM, |_, _| {
                    gst::PadProbeReturn::Ok
                })?;
                Some((pad.clone(), id))
            })
            .collect();
        let gone = Arc::new(AtomicBool::new(false));
        let pending = Pending {
            webrtcbin: webrtcbin.clone(),
            held,
            gone: gone.clone(),
        };
        Ok((
            WhepViewer {
                bin,
                webrtcbin,
                pads,
                audio: choice.audio_pt.is_some(),
                gone,
            },
            pending,
        ))
    }
}

/// queue ! payloader ! webrtcbin, the transceiver sendonly with `caps`;
/// the bin's pad `pad` feeds it. Returns the payloader's src pad.
fn send(
    bin: &gst::Bin,
    webrtcbin: &gst::Element,
    pad: &str,
    pay: gst::Element,
    caps: &gst::Caps,
) -> Result<gst::Pad, MediaError> {
    // A second at most: a viewer that cannot keep up loses frames, it
    // does not hold up the program.
    let queue = entry_queue(1)?;
    bin.add_many([&queue, &pay])
        .map_err(|_| MediaError::Link(format!("viewer {pad}")))?;
    link_chain(&[&queue, &pay])?;
    let sink = webrtcbin
        .request_pad_simple("sink_%u")
        .ok_or_else(|| MediaError::Link("webrtcbin sink pad".into()))?;
    let transceiver = sink.property::<gst_webrtc::WebRTCRTPTransceiver>("transceiver");
    transceiver.set_property("codec-preferences", caps);
    transceiver.set_direction(gst_webrtc::WebRTCRTPTransceiverDirection::Sendonly);
    let src = pay.static_pad("src").expect("payloaders have a src pad");
    src.link(&sink)
        .map_err(|e| MediaError::Link(format!("viewer {pad} to webrtcbin: {e:?}")))?;
    add_sink_pad(bin, pad, &queue.static_pad("sink").expect("queue sink"))?;
    Ok(src)
}

impl Pending {
    /// Answers `offer` on the running viewer and lets its media go;
    /// returns the answer with its ICE candidates (no trickle). Blocks
    /// while ICE gathers.
    pub fn answer(self, offer: &str) -> Result<String, MediaError> {
        let answer = negotiate(&self.webrtcbin, offer);
        for (pad, id) in self.held {
            pad.remove_probe(id);
        }
        if answer.is_ok() {
            watch_receiver(&self.webrtcbin, self.gone);
        }
        answer
    }
}

/// Sets `gone` when the viewer leaves without a word (a closed tab): its
/// RTCP source times out in the RTP session (a few RTCP intervals of
/// silence) or says BYE. libnice's ICE consent checks would notice
/// sooner, but webrtcbin does not turn them on.
fn watch_receiver(webrtcbin: &gst::Element, gone: Arc<AtomicBool>) {
    let Some(rtpbin) = webrtcbin
        .downcast_ref::<gst::Bin>()
        .and_then(|b| b.by_name("rtpbin"))
    else {
        return;
    };
    // Everything is bundled into session 0.
    let Some(session) =
        rtpbin.emit_by_name::<Option<gst::glib::Object>>("get-internal-session", &[&0u32])
    else {
        return;
    };
    for signal in ["on-timeout", "on-bye-ssrc"] {
        let gone = gone.clone();
        session.connect(signal, false, move |args| {
            let remote = args
                .get(1)
                .and_then(|v| v.get::<gst::glib::Object>().ok())
                .map(|source| source.property::<gst::Structure>("stats"))
                .is_some_and(|stats| !stats.get::<bool>("internal").unwrap_or(true));
            if remote {
                gone.store(true, Ordering::Relaxed);
            }
            None
        });
    }
}

fn negotiate(webrtcbin: &gst::Element, offer: &str) -> Result<String, MediaError> {
    let sdp = webrtc::parse_sdp(offer)?;
    let desc = gst_webrtc::WebRTCSessionDescription::new(gst_webrtc::WebRTCSDPType::Offer, sdp);
    webrtc::set_remote_description(webrtcbin, &desc)?;
    let (tx, rx) = mpsc::channel();
    let id = webrtcbin.connect_notify(Some("ice-gathering-state"), move |w, _| {
        let state = w.property::<gst_webrtc::WebRTCICEGatheringState>("ice-gathering-state");
        if state == gst_webrtc::WebRTCICEGatheringState::Complete {
            let _ = tx.send(());
        }
    });
    let answer = webrtc::create_description(webrtcbin, gst_webrtc::WebRTCSDPType::Answer)
        .and_then(|answer| webrtc::set_local_description(webrtcbin, &answer));
    let gathered = webrtcbin.property::<gst_webrtc::WebRTCICEGatheringState>("ice-gathering-state")
        == gst_webrtc::WebRTCICEGatheringState::Complete
        || rx.recv_timeout(GATHER_TIMEOUT).is_ok();
    webrtcbin.disconnect(id);
    answer?;
    if !gathered {
        tracing::warn!(viewer = %webrtcbin.name(), "ICE gathering did not complete; answering with the candidates so far");
    }
    let local = webrtcbin
        .property::<Option<gst_webrtc::WebRTCSessionDescription>>("local-description")
        .ok_or_else(|| MediaError::Negotiation("no local description".into()))?;
    local
        .sdp()
        .as_text()
        .map_err(|_| MediaError::Negotiation("the answer does not print".into()))
}

impl OutputBin for WhepViewer {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn bin(&self) -> &gst::Bin {
        &self.bin
    }

    fn target(&self) -> String {
        "WebRTC viewer".into()
    }

    fn finalizes(&self) -> bool {
        false
    }

    fn watched_pads(&self) -> Vec<gst::Pad> {
        self.pads.clone()
    }

    fn renditions(&self) -> Vec<(String, Feed)> {
        if self.audio {
            vec![("opus".into(), Feed::Opus)]
        } else {
            Vec::new()
        }
    }

    fn live_state(&self) -> Option<OutputState> {
        use gst_webrtc::WebRTCPeerConnectionState as S;
        if self.gone.load(Ordering::Relaxed) {
            return Some(OutputState::Failed {
                reason: "the viewer went away".into(),
            });
        }
        match self.webrtcbin.property::<S>("connection-state") {
            S::Failed | S::Closed => Some(OutputState::Failed {
                reason: "the viewer's connection ended".into(),
            }),
            S::Connected => None,
            _ => Some(OutputState::Starting),
        }
    }
}
