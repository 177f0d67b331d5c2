//! How long an encoder holds a frame: the wall-clock time between a raw
//! frame entering it and the encoded frame with the same running time
//! leaving it (x264enc moves timestamps by 1000 hours and its segment
//! with them, so running time is what matches). Live x264
//! (`zerolatency`) keeps frames in order, so a frame out matches the
//! oldest frames in.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use gst::prelude::*;

/// Frames in flight beyond which the oldest are forgotten (an encoder
/// that drops frames never answers for them).
const MAX_PENDING: usize = 64;

#[derive(Default)]
pub struct EncoderLatency {
    pending: Mutex<VecDeque<(gst::ClockTime, Instant)>>,
    frames: AtomicU64,
    /// Sum of every frame's latency, in microseconds.
    total_us: AtomicU64,
    /// The latest frame's, in microseconds.
    last_us: AtomicU64,
}

impl EncoderLatency {
    /// Times frames through `encoder` (its `sink` and `src` pads).
    pub fn attach(encoder: &gst::Element) -> Arc<Self> {
        let latency = Arc::new(EncoderLatency::default());
        let l = latency.clone();
        encoder
            .static_pad("sink")
            .expect("encoders have a sink pad")
            .add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                if let Some(pts) = running_time(pad, info) {
                    let mut pending = l.pending.lock().unwrap();
                    if pending.len() == MAX_PENDING {
                        pending.pop_front();
                    }
                    pending.push_back((pts, Instant::now()));
                }
                gst::PadProbeReturn::Ok
            });
        let l = latency.clone();
        encoder
            .static_pad("src")
            .expect("encoders have a src pad")
            .add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
                if let Some(pts) = running_time(pad, info) {
                    l.frame_out(pts, Instant::now());
                }
                gst::PadProbeReturn::Ok
            });
        latency
    }

    fn frame_out(&self, pts: gst::ClockTime, now: Instant) {
        let entered = {
            let mut pending = self.pending.lock().unwrap();
            let mut entered = None;
            while let Some(&(p, at)) = pending.front() {
                if p > pts {
                    break;
                }
                pending.pop_front();
                if p == pts {
                    entered = Some(at);
                }
            }
            entered
        };
        if let Some(at) = entered {
            let us = now.duration_since(at).as_micros() as u64;
            self.frames.fetch_add(1, Ordering::Relaxed);
            self.total_us.fetch_add(us, Ordering::Relaxed);
            self.last_us.store(us, Ordering::Relaxed);
        }
    }

    /// Frames timed so far, and their summed latency in seconds.
    pub fn totals(&self) -> (u64, f64) {
        (
            self.frames.load(Ordering::Relaxed),
            self.total_us.load(Ordering::Relaxed) as f64 / 1e6,
        )
    }

    /// The latest frame's latency, in milliseconds.
    pub fn last_ms(&self) -> f64 {
        self.last_us.load(Ordering::Relaxed) as f64 / 1e3
    }
}

/// The running time of the buffer passing `pad`.
fn running_time(pad: &gst::Pad, info: &gst::PadProbeInfo) -> Option<gst::ClockTime> {
    let pts = info.buffer()?.pts()?;
    let segment = pad.sticky_event::<gst::event::Segment>(0)?;
    segment
        .segment()
        .downcast_ref::<gst::ClockTime>()?
        .to_running_time(pts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn matches_frames_by_timestamp_and_skips_dropped_ones() {
        let l = EncoderLatency::default();
        let t0 = Instant::now();
        let ms = gst::ClockTime::from_mseconds;
        {
            let mut p = l.pending.lock().unwrap();
            p.push_back((ms(0), t0));
            p.push_back((ms(50), t0 + Duration::from_millis(50)));
            p.push_back((ms(100), t0 + Duration::from_millis(100)));
        }
        l.frame_out(ms(0), t0 + Duration::from_millis(10));
        // The encoder dropped 50 ms: 100 ms still matches.
        l.frame_out(ms(100), t0 + Duration::from_millis(130));
        let (frames, total) = l.totals();
        assert_eq!(frames, 2);
        assert!((total - 0.040).abs() < 1e-6, "{total}");
        assert!((l.last_ms() - 30.0).abs() < 1e-6);
        assert!(l.pending.lock().unwrap().is_empty());
    }
}
