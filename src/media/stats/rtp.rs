//! What webrtcbin's `get-stats` says of the streams it receives.

use std::sync::mpsc;
use std::time::Duration;

use gst::prelude::*;
use serde::Serialize;

/// One received RTP stream (an `inbound-rtp` entry), by its SSRC.
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct InboundRtp {
    pub ssrc: u32,
    pub packets_received: u64,
    pub bytes_received: u64,
    /// Expected minus received: negative when duplicates came.
    pub packets_lost: i64,
    pub jitter_ms: f64,
    /// Feedback we sent the sender for this stream.
    pub nacks_sent: u64,
    pub plis_sent: u64,
    pub firs_sent: u64,
}

/// How long a `get-stats` may take before the figures are left out: the
/// promise is answered on webrtcbin's own thread, which may be busy.
const STATS_TIMEOUT: Duration = Duration::from_secs(1);

/// The inbound streams of `webrtcbin`; empty if it does not answer in
/// time. Blocks.
pub fn inbound(webrtcbin: &gst::Element) -> Vec<InboundRtp> {
    let (tx, rx) = mpsc::sync_channel(1);
    let promise = gst::Promise::with_change_func(move |reply| {
        let stats = reply.ok().flatten().map(|s| s.to_owned());
        let _ = tx.send(stats);
    });
    webrtcbin.emit_by_name::<()>("get-stats", &[&None::<gst::Pad>, &promise]);
    match rx.recv_timeout(STATS_TIMEOUT) {
        Ok(Some(stats)) => parse(&stats),
        _ => {
            promise.interrupt();
            Vec::new()
        }
    }
}

/// The `inbound-rtp` entries of a `get-stats` reply, whose fields are
/// one structure per statistics object.
pub fn parse(stats: &gst::StructureRef) -> Vec<InboundRtp> {
    let mut out: Vec<InboundRtp> = stats
        .iter()
        .filter_map(|(_, value)| value.get::<gst::Structure>().ok())
        .filter(|s| {
            s.get::<gst_webrtc::WebRTCStatsType>("type")
                .is_ok_and(|t| t == gst_webrtc::WebRTCStatsType::InboundRtp)
        })
        .filter_map(|s| {
            Some(InboundRtp {
                ssrc: s.get::<u32>("ssrc").ok()?,
                packets_received: unsigned(&s, "packets-received"),
                bytes_received: unsigned(&s, "bytes-received"),
                packets_lost: s
                    .get::<i64>("packets-lost")
                    .or_else(|_| s.get::<i32>("packets-lost").map(i64::from))
                    .unwrap_or(0),
                jitter_ms: s.get::<f64>("jitter").map_or(0.0, |j| j * 1000.0),
                nacks_sent: unsigned(&s, "nack-count"),
                plis_sent: unsigned(&s, "pli-count"),
                firs_sent: unsigned(&s, "fir-count"),
            })
        })
        .collect();
    out.sort_by_key(|s| s.ssrc);
    out
}

/// A counter that GStreamer versions give as guint or guint64.
fn unsigned(s: &gst::StructureRef, field: &str) -> u64 {
    s.get::<u64>(field)
        .or_else(|_| s.get::<u32>(field).map(u64::from))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inbound_entries_only() {
        crate::media::init().unwrap();
        let inbound = gst::Structure::builder("rtp-inbound-stream-stats_42")
            .field("type", gst_webrtc::WebRTCStatsType::InboundRtp)
            .field("ssrc", 42u32)
            .field("packets-received", 1000u64)
            .field("bytes-received", 123_456u64)
            .field("packets-lost", 7i64)
            .field("jitter", 0.004f64)
            .field("nack-count", 3u32)
            .field("pli-count", 2u32)
            .field("fir-count", 0u32)
            .build();
        let old_style = gst::Structure::builder("rtp-inbound-stream-stats_7")
            .field("type", gst_webrtc::WebRTCStatsType::InboundRtp)
            .field("ssrc", 7u32)
            .field("packets-lost", -1i32)
            .build();
        let transport = gst::Structure::builder("transport-stats_1")
            .field("type", gst_webrtc::WebRTCStatsType::Transport)
            .build();
        let reply = gst::Structure::builder("application/x-webrtc-stats")
            .field("rtp-inbound-stream-stats_42", inbound)
            .field("rtp-inbound-stream-stats_7", old_style)
            .field("transport-stats_1", transport)
            .build();
        let parsed = parse(&reply);
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].ssrc, 7);
        assert_eq!(parsed[0].packets_lost, -1);
        assert_eq!(
            parsed[1],
            InboundRtp {
                ssrc: 42,
                packets_received: 1000,
                bytes_received: 123_456,
                packets_lost: 7,
                jitter_ms: 4.0,
                nacks_sent: 3,
                plis_sent: 2,
                firs_sent: 0,
            }
        );
    }
}
