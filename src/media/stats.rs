//! Figures read off the running pipeline.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gst::prelude::*;
use serde::Serialize;

/// How many elements and pads a pipeline holds, sub-bins included: flat
/// after a participant left means its track bins left nothing behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PipelineCounts {
    pub elements: usize,
    pub pads: usize,
}

pub fn pipeline_counts(bin: &gst::Bin) -> PipelineCounts {
    let mut counts = PipelineCounts {
        elements: 0,
        pads: bin.pads().len(),
    };
    for element in bin.iterate_recurse().into_iter().flatten() {
        counts.elements += 1;
        counts.pads += element.pads().len();
    }
    counts
}

/// Frames that passed a pad, and the timestamp of the last one.
#[derive(Debug, Default)]
pub struct FrameCounter {
    frames: AtomicU64,
    last_pts_ns: AtomicU64,
}

impl FrameCounter {
    /// Counts the buffers flowing out of `pad`.
    pub fn attach(pad: &gst::Pad) -> Arc<Self> {
        let counter = Arc::new(FrameCounter::default());
        let c = counter.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            if let Some(gst::PadProbeData::Buffer(buffer)) = &info.data {
                c.frames.fetch_add(1, Ordering::Relaxed);
                if let Some(pts) = buffer.pts() {
                    c.last_pts_ns.store(pts.nseconds(), Ordering::Relaxed);
                }
            }
            gst::PadProbeReturn::Ok
        });
        counter
    }

    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Running time of the last frame, in seconds.
    pub fn position_s(&self) -> f64 {
        self.last_pts_ns.load(Ordering::Relaxed) as f64 / 1e9
    }
}
