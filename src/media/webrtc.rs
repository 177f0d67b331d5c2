//! webrtcbin plumbing shared by the ingest (answers offers) and the synthetic
//! publishers (make offers). The calls here block on webrtcbin's promises:
//! call them from a blocking context, never from a tokio worker.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gst::prelude::*;
use gst_webrtc::prelude::*;

use crate::config::IceConfig;
use crate::media::{MediaError, rtcp};

/// A webrtcbin with bundling, jitter buffer depth and ICE addresses set.
pub fn new_webrtcbin(
    name: &str,
    ice: &IceConfig,
    latency_ms: u32,
) -> Result<gst::Element, MediaError> {
    let webrtc = gst::ElementFactory::make("webrtcbin")
        .name(name)
        .property_from_str("bundle-policy", "max-bundle")
        .property("latency", latency_ms)
        .build()
        .map_err(|_| MediaError::MissingElement("webrtcbin"))?;
    // Sender reports map RTP time to when a packet was captured, as a
    // browser's do. By default rtpsession maps the send time, which it
    // works out from the pipeline's latency event; a webrtcbin added to a
    // running pipeline may never get one (the synthetic publishers' did
    // not), and then its reports drift by the running time: no receiver
    // can sync lips. A receiver's rtpbin holds one of a participant's
    // streams back by at most MAX_SYNC_OFFSET to sync it with the other.
    if let Some(rtpbin) = rtpbin(&webrtc) {
        rtpbin.set_property("rtcp-sync-send-time", false);
        rtpbin.set_property(
            "max-ts-offset",
            crate::media::track::MAX_SYNC_OFFSET.nseconds() as i64,
        );
    }
    let agent = webrtc.property::<gst_webrtc::WebRTCICE>("ice-agent");
    disable_upnp(&agent);
    if !ice.local_addresses.is_empty() {
        for addr in &ice.local_addresses {
            if !agent.emit_add_local_ip_address(addr) {
                return Err(MediaError::Negotiation(format!(
                    "ICE cannot gather on {addr}"
                )));
            }
        }
    }
    Ok(webrtc)
}

/// The rtpbin inside `webrtcbin`, which webrtcbin makes when it is made.
fn rtpbin(webrtcbin: &gst::Element) -> Option<gst::Bin> {
    webrtcbin
        .downcast_ref::<gst::Bin>()?
        .by_name("rtpbin")?
        .downcast::<gst::Bin>()
        .ok()
}

/// Sets up the RTCP `webrtcbin` sends as a receiver (see [`rtcp`]): key
/// frame requests may go out every half second however many streams its
/// session carries, each led by a report block about the stream it is for,
/// which is how Janus tells which publisher to ask.
pub fn tune_receiver_rtcp(webrtcbin: &gst::Element) {
    let Some(rtpbin) = rtpbin(webrtcbin) else {
        tracing::warn!("webrtcbin has no rtpbin; its RTCP is left as rtpsession makes it");
        return;
    };
    // rtpbin adds an rtpsession element per session when the first
    // description is applied; everything is bundled into session 0.
    rtpbin.connect_element_added(|_, element| {
        if !element.has_property("internal-session") {
            return;
        }
        let session = element.property::<gst::glib::Object>("internal-session");
        // Emitted without the session's lock, so its properties can be set.
        session.connect("on-new-ssrc", false, |args| {
            if let Some(session) = args.first().and_then(|v| v.get::<gst::glib::Object>().ok()) {
                let sources = session.property::<u32>("num-sources");
                session.set_property("rtcp-fraction", rtcp::report_bandwidth(sources));
            }
            None
        });
        session.connect("on-sending-rtcp", false, |args| {
            if let Some(buffer) = args.get(1) {
                // SAFETY: rtpsession emits the signal with the one reference
                // to a buffer it is about to send, for handlers to change in
                // place; the value is only borrowed here.
                unsafe {
                    let ptr = gst::glib::gobject_ffi::g_value_get_boxed(
                        gst::glib::translate::ToGlibPtr::to_glib_none(buffer).0,
                    ) as *mut gst::ffi::GstBuffer;
                    if !ptr.is_null() {
                        lead_with_request(gst::BufferRef::from_mut_ptr(ptr));
                    }
                }
            }
            // Not a reason to send a packet rtpsession would suppress.
            Some(false.to_value())
        });
    });
}

fn lead_with_request(buffer: &mut gst::BufferRef) {
    let rewritten = match buffer.map_readable() {
        Ok(map) => rtcp::lead_with_request(&map),
        Err(_) => None,
    };
    if let Some(bytes) = rewritten {
        buffer.replace_all_memory(gst::Memory::from_mut_slice(bytes));
    }
}

/// Makes the process's DTLS certificate now, on a thread of its own.
///
/// Every webrtcbin in a process shares one generated certificate (an RSA
/// key), made by the first `dtlssrtpdec` created: 300-900 ms of CPU in a
/// busy process, which would otherwise delay the first participant's
/// answer (or offer). A session calls this when it starts, long before
/// anyone joins.
pub fn prepare_dtls_certificate() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("dtls-certificate".into())
            .spawn(|| {
                let started = std::time::Instant::now();
                // The element is dropped at once; the certificate stays
                // with the process.
                if gst::ElementFactory::make("dtlssrtpdec").build().is_ok() {
                    tracing::debug!(
                        ms = started.elapsed().as_millis() as u64,
                        "DTLS certificate ready"
                    );
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot prepare the DTLS certificate ahead");
        }
    });
}

/// libnice maps ports on UPnP gateways by default: it multicasts SSDP and
/// opens HTTP servers on every interface, whatever ICE gathers on. A
/// recorder never needs a home router's port mapping, so it is turned off.
fn disable_upnp(ice: &gst_webrtc::WebRTCICE) {
    // `agent` is the NiceAgent behind webrtcbin's libnice ICE implementation.
    if ice.has_property("agent") {
        let agent = ice.property::<gst::glib::Object>("agent");
        if agent.has_property("upnp") {
            agent.set_property("upnp", false);
        }
    }
}

pub fn parse_sdp(text: &str) -> Result<gst_sdp::SDPMessage, MediaError> {
    gst_sdp::SDPMessage::parse_buffer(text.as_bytes())
        .map_err(|_| MediaError::Negotiation("the SDP does not parse".into()))
}

/// Runs a webrtcbin action that takes a promise and waits for its reply.
fn call(
    webrtc: &gst::Element,
    action: &str,
    arg: &dyn ToValue,
) -> Result<Option<gst::Structure>, MediaError> {
    let promise = gst::Promise::new();
    webrtc.emit_by_name::<()>(action, &[arg, &promise]);
    match promise.wait() {
        gst::PromiseResult::Replied => {}
        other => {
            return Err(MediaError::Negotiation(format!(
                "{action} did not complete: {other:?}"
            )));
        }
    }
    let reply = promise.get_reply().map(|s| s.to_owned());
    if let Some(err) = reply
        .as_ref()
        .and_then(|r| r.get::<gst::glib::Error>("error").ok())
    {
        return Err(MediaError::Negotiation(format!("{action}: {err}")));
    }
    Ok(reply)
}

pub fn set_remote_description(
    webrtc: &gst::Element,
    desc: &gst_webrtc::WebRTCSessionDescription,
) -> Result<(), MediaError> {
    call(webrtc, "set-remote-description", desc).map(|_| ())
}

pub fn set_local_description(
    webrtc: &gst::Element,
    desc: &gst_webrtc::WebRTCSessionDescription,
) -> Result<(), MediaError> {
    call(webrtc, "set-local-description", desc).map(|_| ())
}

/// `create-offer` or `create-answer`.
pub fn create_description(
    webrtc: &gst::Element,
    kind: gst_webrtc::WebRTCSDPType,
) -> Result<gst_webrtc::WebRTCSessionDescription, MediaError> {
    let (action, field) = match kind {
        gst_webrtc::WebRTCSDPType::Offer => ("create-offer", "offer"),
        _ => ("create-answer", "answer"),
    };
    let reply = call(webrtc, action, &None::<gst::Structure>)?;
    reply
        .as_ref()
        .and_then(|r| r.get::<gst_webrtc::WebRTCSessionDescription>(field).ok())
        .ok_or_else(|| MediaError::Negotiation(format!("{action} gave no {field}")))
}

pub fn add_ice_candidate(webrtc: &gst::Element, sdp_m_line_index: u32, candidate: &str) {
    webrtc.emit_by_name::<()>("add-ice-candidate", &[&sdp_m_line_index, &candidate]);
}

/// Calls `f(m-line index, candidate)` for every local candidate webrtcbin
/// gathers. Called from webrtcbin's threads.
pub fn on_ice_candidate<F>(webrtc: &gst::Element, f: F)
where
    F: Fn(u32, String) + Send + Sync + 'static,
{
    webrtc.connect("on-ice-candidate", false, move |values| {
        let mline = values[1].get::<u32>().unwrap_or_default();
        if let Ok(candidate) = values[2].get::<String>() {
            f(mline, candidate);
        }
        None
    });
}

/// Lets no media through `pads` (upstream of `webrtcbin`, on a sender)
/// until the PeerConnection is up, then calls `on_connected`.
///
/// webrtcbin holds what reaches it before its DTLS handshake ends and
/// then sends it all at once, where a browser sends nothing before. A
/// burst at the start of a stream skews the receiver's jitter buffer,
/// whose timeline then runs fast over its first two seconds while it
/// settles (about 100 ms of frames passed over per camera, measured on
/// callcast's side), and a player would show stale media first. Dropped
/// rather than held, the stream starts at its live edge.
pub fn send_once_connected<F>(webrtcbin: &gst::Element, pads: &[gst::Pad], on_connected: F)
where
    F: Fn() + Send + Sync + 'static,
{
    let connected = Arc::new(AtomicBool::new(false));
    for pad in pads {
        let connected = connected.clone();
        pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
            move |_, info| {
                if connected.load(Ordering::Acquire) {
                    gst::PadProbeReturn::Remove
                } else {
                    crate::media::drop_probed(info)
                }
            },
        );
    }
    webrtcbin.connect_notify(Some("connection-state"), move |webrtcbin, _| {
        let state = webrtcbin.property::<gst_webrtc::WebRTCPeerConnectionState>("connection-state");
        if state == gst_webrtc::WebRTCPeerConnectionState::Connected
            && !connected.swap(true, Ordering::AcqRel)
        {
            on_connected();
        }
    });
}

/// The mid of the transceiver behind a webrtcbin pad.
pub fn pad_mid(pad: &gst::Pad) -> Option<String> {
    let transceiver = pad.property::<Option<gst_webrtc::WebRTCRTPTransceiver>>("transceiver")?;
    transceiver.mid().map(|m| m.to_string())
}

/// `(mid, media)` of every m-line, in order.
pub fn sdp_mids(sdp: &gst_sdp::SDPMessageRef) -> Vec<(String, String)> {
    sdp.medias()
        .filter_map(|m| {
            let mid = m.attribute_val("mid")?;
            Some((mid.to_string(), m.media()?.to_string()))
        })
        .collect()
}
