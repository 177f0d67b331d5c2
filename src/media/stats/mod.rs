//! Figures read off the running pipeline: what `/metrics`, the stats
//! route and the periodic stats event show.
//!
//! [`Health`] owns the counters a session keeps for them; [`Health::sample`]
//! runs about once a second (rates, stall detection) and
//! [`Health::snapshot`] reads everything else when asked.

pub mod latency;
pub mod meter;
pub mod queues;
pub mod rtp;
pub mod shown;
pub mod stall;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use callcast_signalling::adapter::{PeerId, TrackKind};
use gst::prelude::*;
use serde::Serialize;

use super::ingest::IngestParts;
use super::outputs::OutputStatus;
use latency::EncoderLatency;
use meter::Meter;
use queues::{QueueLevel, QueueWatch};
use rtp::InboundRtp;
use shown::ShownCounts;
use stall::{StallChange, StallDetector};

/// Where in the pipeline a queue sits, in the order media flows.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Inside a peer connection's webrtcbin.
    Receive,
    /// A track bin's queue, before the compositor or mixer.
    Track,
    /// Between the compositor and the encoders' tees.
    Program,
    /// Before an encoder.
    Encode,
    /// An output's entry and inner queues.
    Output,
}

impl Stage {
    /// The stage whose element takes from a queue of this stage.
    pub fn drained_by(self) -> Stage {
        match self {
            Stage::Track => Stage::Program,
            s => s,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Receive => "receive",
            Stage::Track => "track",
            Stage::Program => "program",
            Stage::Encode => "encode",
            Stage::Output => "output",
        }
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct QueueStats {
    pub stage: Stage,
    /// Whose queue: the peer, `participant/track`, the encoder or the
    /// output id.
    pub owner: String,
    /// The element's name.
    pub name: String,
    /// 0 to 1: the fullest of its limits.
    pub fill: f64,
    #[serde(flatten)]
    pub level: QueueLevel,
}

/// A queue at least this full counts as full.
const FULL: f64 = 0.9;

impl QueueStats {
    pub fn is_full(&self) -> bool {
        self.fill >= FULL
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TrackStats {
    pub participant: String,
    pub track: String,
    pub kind: TrackKind,
    pub peer: PeerId,
    /// Video: frames handed to the compositor, and their rate.
    pub frames: u64,
    pub fps: f64,
    /// Frames its queue dropped because the program fell behind.
    pub dropped: u64,
    /// Video: frames the compositor put in the program, and frames it
    /// passed over (late for their turn, or beyond the program's rate).
    #[serde(flatten)]
    pub shown: ShownCounts,
    /// What webrtcbin says of its RTP stream, when it answered.
    pub rtp: Option<InboundRtp>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ProgramStats {
    /// Composite frames so far, and per second now.
    pub frames: u64,
    pub fps: f64,
    /// Seconds without a composite frame, when stalled.
    pub stalled_s: Option<f64>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct EncoderStats {
    /// Encoded video frames so far, and per second now.
    pub frames: u64,
    pub fps: f64,
    /// The latest frame's time in the video encoder.
    pub latency_ms: f64,
    /// Frames timed and their summed latency (for a mean over any span).
    pub latency_frames: u64,
    pub latency_seconds_total: f64,
}

/// One session's figures.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct MediaStats {
    pub program: ProgramStats,
    pub encoder: EncoderStats,
    pub tracks: Vec<TrackStats>,
    pub queues: Vec<QueueStats>,
    pub outputs: Vec<OutputStatus>,
}

/// What a stall looks like where it is noticed.
#[derive(Debug, Clone)]
pub struct StallReport {
    pub change: StallChange,
    /// The stage the program backs up from, and the full queues.
    pub slow_stage: Option<Stage>,
    pub full_queues: Vec<String>,
}

/// The counters a session keeps for its figures.
pub struct Health {
    pipeline: gst::Pipeline,
    queues: QueueWatch,
    composited: Arc<FrameCounter>,
    encoded: Arc<FrameCounter>,
    latency: Arc<EncoderLatency>,
    sampled: Mutex<(Meter, StallDetector)>,
}

const PROGRAM: &str = "program";
const ENCODED: &str = "encoded";

impl Health {
    /// `composite` is the program's video pad, `encoder` the video
    /// encoder and `encoded` the pad its frames leave the encoder by.
    pub fn attach(
        pipeline: &gst::Pipeline,
        composited: Arc<FrameCounter>,
        encoder: &gst::Element,
        encoded: &gst::Pad,
    ) -> Self {
        Health {
            pipeline: pipeline.clone(),
            queues: QueueWatch::attach(pipeline),
            composited,
            encoded: FrameCounter::attach(encoded),
            latency: EncoderLatency::attach(encoder),
            sampled: Mutex::new((Meter::default(), StallDetector::new(Instant::now()))),
        }
    }

    /// Takes a reading of the counters (about once a second): rates,
    /// and whether the program stalled or came back.
    pub fn sample(
        &self,
        ingest: &IngestParts,
        outputs: &[(String, gst::Bin)],
    ) -> Option<StallReport> {
        let now = Instant::now();
        let frames = self.composited.frames();
        let change = {
            let mut sampled = self.sampled.lock().unwrap();
            let (meter, stall) = &mut *sampled;
            let counters = [
                (PROGRAM.to_string(), frames),
                (ENCODED.to_string(), self.encoded.frames()),
            ];
            let tracks = ingest
                .tracks
                .iter()
                .map(|t| (track_key(&t.key.participant_id, &t.key.track_id), t.frames));
            meter.sample(now, counters.into_iter().chain(tracks));
            stall.observe(now, frames)?
        };
        let queues = self.queue_stats(ingest, outputs);
        let (slow_stage, full) = stall::backed_up(&queues);
        Some(StallReport {
            change,
            slow_stage,
            full_queues: full
                .iter()
                .map(|q| {
                    format!(
                        "{}:{} {} ({:.0}%)",
                        q.stage.as_str(),
                        q.owner,
                        q.name,
                        q.fill * 100.0
                    )
                })
                .collect(),
        })
    }

    /// Everything, read now. Blocks up to a second per peer connection
    /// that does not answer for its RTP figures.
    pub fn snapshot(
        &self,
        ingest: &IngestParts,
        outputs: &[(String, gst::Bin)],
        statuses: Vec<OutputStatus>,
    ) -> MediaStats {
        let rtp: HashMap<(PeerId, u32), InboundRtp> = ingest
            .peers
            .iter()
            .flat_map(|(peer, webrtcbin)| {
                rtp::inbound(webrtcbin)
                    .into_iter()
                    .map(move |s| ((peer.clone(), s.ssrc), s))
            })
            .collect();
        let sampled = self.sampled.lock().unwrap();
        let (meter, stall) = &*sampled;
        let tracks = ingest
            .tracks
            .iter()
            .map(|t| TrackStats {
                participant: t.key.participant_id.clone(),
                track: t.key.track_id.clone(),
                kind: t.kind,
                peer: t.peer.clone(),
                frames: t.frames,
                fps: meter.rate(&track_key(&t.key.participant_id, &t.key.track_id)),
                dropped: self.queues.overruns(&t.queue),
                shown: t.shown,
                rtp: t.ssrc.and_then(|s| rtp.get(&(t.peer.clone(), s)).cloned()),
            })
            .collect();
        let (latency_frames, latency_seconds_total) = self.latency.totals();
        MediaStats {
            program: ProgramStats {
                frames: self.composited.frames(),
                fps: meter.rate(PROGRAM),
                stalled_s: stall.stalled_for(Instant::now()).map(|d| d.as_secs_f64()),
            },
            encoder: EncoderStats {
                frames: self.encoded.frames(),
                fps: meter.rate(ENCODED),
                latency_ms: self.latency.last_ms(),
                latency_frames,
                latency_seconds_total,
            },
            tracks,
            queues: self.queue_stats(ingest, outputs),
            outputs: statuses,
        }
    }

    /// Every queue, labelled by the track, peer, encoder or output it
    /// belongs to (found by its ancestor directly in the pipeline).
    fn queue_stats(&self, ingest: &IngestParts, outputs: &[(String, gst::Bin)]) -> Vec<QueueStats> {
        let mut owners: HashMap<gst::Element, (Stage, String)> = HashMap::new();
        for (peer, webrtcbin) in &ingest.peers {
            owners.insert(webrtcbin.clone(), (Stage::Receive, peer.clone()));
        }
        for t in &ingest.tracks {
            owners.insert(
                t.bin.clone(),
                (
                    Stage::Track,
                    track_key(&t.key.participant_id, &t.key.track_id),
                ),
            );
        }
        for (id, bin) in outputs {
            owners.insert(bin.clone().upcast(), (Stage::Output, id.clone()));
        }
        let mut out: Vec<QueueStats> = self
            .queues
            .levels()
            .into_iter()
            .filter_map(|(queue, level)| {
                let top = top_level(&self.pipeline, &queue)?;
                let (stage, owner) = owners.get(&top).cloned().unwrap_or_else(|| {
                    let name = queue.name();
                    match name
                        .strip_prefix("enc-")
                        .and_then(|n| n.strip_suffix("-queue"))
                    {
                        Some(rendition) => (Stage::Encode, rendition.to_string()),
                        None => (Stage::Program, name.to_string()),
                    }
                });
                Some(QueueStats {
                    stage,
                    owner,
                    name: queue.name().to_string(),
                    fill: level.fill(),
                    level,
                })
            })
            .collect();
        out.sort_by(|a, b| (a.stage, &a.owner, &a.name).cmp(&(b.stage, &b.owner, &b.name)));
        out
    }
}

fn track_key(participant: &str, track: &str) -> String {
    format!("{participant}/{track}")
}

/// The ancestor of `element` (or itself) that sits directly in
/// `pipeline`; `None` once it has left the pipeline.
fn top_level(pipeline: &gst::Pipeline, element: &gst::Element) -> Option<gst::Element> {
    let mut e = element.clone();
    loop {
        let parent = e.parent()?;
        if parent == *pipeline.upcast_ref::<gst::Object>() {
            return Some(e);
        }
        e = parent.downcast().ok()?;
    }
}

/// How many elements and pads a pipeline holds, sub-bins included: flat
/// after a participant left means its track bins left nothing behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
