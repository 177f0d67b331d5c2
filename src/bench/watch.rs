//! The benchmark's probes on a session's pipeline: which participants the
//! composite shows and how late their frames are (read from the frames'
//! tags), the encoded program's continuity and lag, and the frames each
//! track received and handed on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use gst::prelude::*;
use gst_video::prelude::*;

use super::report::{Continuity, TileSteps, TileTags};
use crate::media::stats::FrameCounter;
use crate::synth::replay::{Schedule, unix_ns};
use crate::synth::tag;

/// The tiles' places are read off the compositor again when a pad comes,
/// goes, is linked or changes place, and at least this often.
const TILES_REFRESH: Duration = Duration::from_millis(250);

pub struct Watch {
    inner: Arc<Inner>,
    pipeline: gst::Pipeline,
}

struct Inner {
    schedule: Schedule,
    frame_ns: u64,
    compositor: gst::Element,
    /// Participant ids, as the room gave them.
    participants: Mutex<Vec<String>>,
    /// Unix time each participant was first seen in the composite.
    first_seen: Mutex<HashMap<String, u64>>,
    measuring: AtomicBool,
    latencies_ms: Mutex<Vec<f64>>,
    output: Mutex<Continuity>,
    lags_ms: Mutex<Vec<f64>>,
    /// Composite frames read so far.
    composites: AtomicU64,
    /// Per participant, its tag as last read; steps counted while
    /// measuring.
    tags: Mutex<TileTags>,
    tiles: Mutex<(Option<Instant>, Vec<Tile>)>,
    /// Set when the compositor's pads changed since the tiles were read.
    tiles_stale: Arc<AtomicBool>,
}

/// A participant's picture on the canvas.
#[derive(Debug, Clone)]
struct Tile {
    participant: String,
    x: u32,
    y: u32,
    width: u32,
    height: u32,
}

/// The frames one video track received whole and handed to the
/// compositor, counted from when [`Watch::count_inputs`] was called.
pub struct InputCounter {
    received: Arc<FrameCounter>,
    handed_on: Arc<FrameCounter>,
    queue: gst::Element,
}

impl InputCounter {
    /// (received, dropped): frames still queued are not dropped.
    pub fn figures(&self) -> (u64, u64) {
        let queued = self.queue.property::<u32>("current-level-buffers") as u64;
        let received = self.received.frames();
        let dropped = received.saturating_sub(self.handed_on.frames() + queued);
        (received, dropped)
    }
}

impl Watch {
    /// Watches the session pipeline `pipeline`, whose participants send
    /// on `schedule` and whose program runs at `fps`.
    pub fn attach(pipeline: &gst::Pipeline, schedule: Schedule, fps: u32) -> anyhow::Result<Self> {
        let by_name = |name: &str| {
            pipeline
                .by_name(name)
                .with_context(|| format!("the session pipeline has no {name}"))
        };
        let compositor = by_name("compositor")?;
        let program = by_name("program-video")?;
        let encoded = by_name("video-tee")?;
        let inner = Arc::new(Inner {
            schedule,
            frame_ns: 1_000_000_000 / fps.max(1) as u64,
            compositor,
            participants: Mutex::new(Vec::new()),
            first_seen: Mutex::new(HashMap::new()),
            measuring: AtomicBool::new(false),
            latencies_ms: Mutex::new(Vec::new()),
            output: Mutex::new(Continuity::default()),
            lags_ms: Mutex::new(Vec::new()),
            composites: AtomicU64::new(0),
            tags: Mutex::new(TileTags::new(schedule.fps, fps)),
            tiles: Mutex::new((None, Vec::new())),
            tiles_stale: Arc::new(AtomicBool::new(true)),
        });
        mark_stale_on_change(&inner.compositor, &inner.tiles_stale);
        {
            let inner = inner.clone();
            // The frame layout, read from the caps once per change rather
            // than once per frame.
            let video = Arc::new(Mutex::new(None));
            let src = program.static_pad("src").expect("capsfilter has a src");
            let probed = video.clone();
            src.add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
                move |_, info| {
                    match &info.data {
                        Some(gst::PadProbeData::Event(ev)) => {
                            if let gst::EventView::Caps(c) = ev.view() {
                                *probed.lock().unwrap() =
                                    gst_video::VideoInfo::from_caps(c.caps()).ok();
                            }
                        }
                        Some(gst::PadProbeData::Buffer(buffer)) => {
                            if let Some(video) = probed.lock().unwrap().as_ref() {
                                inner.read_composite(video, buffer);
                            }
                        }
                        _ => {}
                    }
                    gst::PadProbeReturn::Ok
                },
            );
            // The program may be running already, its caps sent before
            // the probe was there.
            let mut video = video.lock().unwrap();
            if video.is_none() {
                *video = src
                    .current_caps()
                    .and_then(|c| gst_video::VideoInfo::from_caps(&c).ok());
            }
        }
        {
            let inner = inner.clone();
            let pipeline = pipeline.clone();
            // x264 shifts its timestamps by 1000 hours: the segment
            // turns them back into running time.
            let segment = Mutex::new(gst::FormattedSegment::<gst::ClockTime>::new());
            encoded
                .static_pad("sink")
                .expect("tee has a sink")
                .add_probe(
                    gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
                    move |_, info| match &info.data {
                        Some(gst::PadProbeData::Event(ev)) => {
                            if let gst::EventView::Segment(s) = ev.view()
                                && let Ok(s) = s.segment().clone().downcast::<gst::ClockTime>()
                            {
                                *segment.lock().unwrap() = s;
                            }
                            gst::PadProbeReturn::Ok
                        }
                        Some(gst::PadProbeData::Buffer(b)) => {
                            let running = b
                                .pts()
                                .and_then(|pts| segment.lock().unwrap().to_running_time(pts));
                            if let Some(running) = running {
                                inner.count_output(&pipeline, running);
                            }
                            gst::PadProbeReturn::Ok
                        }
                        _ => gst::PadProbeReturn::Ok,
                    },
                );
        }
        Ok(Watch {
            inner,
            pipeline: pipeline.clone(),
        })
    }

    /// A participant the composite should show.
    pub fn expect(&self, participant: &str) {
        self.inner
            .participants
            .lock()
            .unwrap()
            .push(participant.to_string());
        self.inner.tiles_stale.store(true, Ordering::Release);
    }

    /// Unix time each participant was first seen in the composite.
    pub fn first_seen(&self) -> HashMap<String, u64> {
        self.inner.first_seen.lock().unwrap().clone()
    }

    /// Starts or stops collecting latency and lag samples.
    pub fn measure(&self, on: bool) {
        self.inner.measuring.store(on, Ordering::Release);
    }

    pub fn output(&self) -> Continuity {
        self.inner.output.lock().unwrap().clone()
    }

    pub fn steps(&self) -> TileSteps {
        self.inner.tags.lock().unwrap().steps
    }

    pub fn latencies_ms(&self) -> Vec<f64> {
        self.inner.latencies_ms.lock().unwrap().clone()
    }

    pub fn lags_ms(&self) -> Vec<f64> {
        self.inner.lags_ms.lock().unwrap().clone()
    }

    /// Starts counting every video track's frames.
    pub fn count_inputs(&self) -> Vec<InputCounter> {
        let mut counters = Vec::new();
        for element in self.pipeline.children() {
            let Ok(bin) = element.downcast::<gst::Bin>() else {
                continue;
            };
            if !bin.name().starts_with("track-") {
                continue;
            }
            let Some(src) = bin.static_pad("src") else {
                continue;
            };
            let video = src
                .current_caps()
                .and_then(|c| c.structure(0).map(|s| s.name().starts_with("video/")))
                .unwrap_or(false);
            if !video {
                continue;
            }
            let elements: Vec<gst::Element> =
                bin.iterate_elements().into_iter().flatten().collect();
            let is = |e: &gst::Element, what: &str| {
                e.factory()
                    .is_some_and(|f| f.metadata("klass").is_some_and(|k| k.contains(what)))
            };
            let depay = elements.iter().find(|e| is(e, "Depayloader"));
            let queue = elements
                .iter()
                .find(|e| e.factory().is_some_and(|f| f.name() == "queue"));
            let (Some(depay), Some(queue)) = (depay, queue) else {
                continue;
            };
            counters.push(InputCounter {
                received: FrameCounter::attach(&depay.static_pad("src").expect("depay src")),
                handed_on: FrameCounter::attach(&src),
                queue: queue.clone(),
            });
        }
        counters
    }
}

impl Inner {
    /// Counts an encoded program frame, stamped `running` (time).
    fn count_output(&self, pipeline: &gst::Pipeline, running: gst::ClockTime) {
        self.output
            .lock()
            .unwrap()
            .feed(running.nseconds(), self.frame_ns);
        if !self.measuring.load(Ordering::Acquire) {
            return;
        }
        if let Some(now) = pipeline.current_running_time() {
            let lag = now.nseconds() as f64 - running.nseconds() as f64;
            self.lags_ms.lock().unwrap().push(lag / 1e6);
        }
    }

    /// Reads every participant tile's tag off a composite frame.
    fn read_composite(&self, info: &gst_video::VideoInfo, buffer: &gst::BufferRef) {
        let now = unix_ns(SystemTime::now());
        let Ok(frame) = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, info) else {
            return;
        };
        let Ok(luma) = frame.plane_data(0) else {
            return;
        };
        let stride = frame.plane_stride()[0] as usize;
        let (w, h) = (frame.width(), frame.height());
        // Packed AYUV keeps its luma in the second byte of each pixel.
        let (step, offset) = match info.format() {
            gst_video::VideoFormat::Ayuv => (4, 1),
            _ => (1, 0),
        };
        let pixel = |x: u32, y: u32| -> u8 {
            if x >= w || y >= h {
                return 0;
            }
            luma.get(y as usize * stride + x as usize * step + offset)
                .copied()
                .unwrap_or(0)
        };
        let measuring = self.measuring.load(Ordering::Acquire);
        let index = self.composites.fetch_add(1, Ordering::Relaxed);
        for tile in self.tiles() {
            let Some(tag) = tag::read(tile.x, tile.y, tile.width, tile.height, pixel) else {
                continue;
            };
            self.tags
                .lock()
                .unwrap()
                .read(&tile.participant, index, tag, measuring);
            self.first_seen
                .lock()
                .unwrap()
                .entry(tile.participant.clone())
                .or_insert_with(|| {
                    tracing::debug!(participant = %tile.participant, "first seen in the composite");
                    now
                });
            if measuring && let Some(sent) = self.schedule.sent_with_tag(tag, now) {
                self.latencies_ms
                    .lock()
                    .unwrap()
                    .push((now - sent) as f64 / 1e6);
            }
        }
    }

    /// The visible participant tiles, as the compositor places them now.
    fn tiles(&self) -> Vec<Tile> {
        let mut cached = self.tiles.lock().unwrap();
        let stale = self.tiles_stale.swap(false, Ordering::AcqRel);
        if !stale && cached.0.is_some_and(|t| t.elapsed() < TILES_REFRESH) {
            return cached.1.clone();
        }
        let participants = self.participants.lock().unwrap().clone();
        let mut tiles = Vec::new();
        for pad in self.compositor.sink_pads() {
            let Some(bin) = pad.peer().and_then(|p| p.parent_element()) else {
                continue;
            };
            let name = bin.name();
            let Some(participant) = participants
                .iter()
                .find(|p| name.starts_with(&format!("track-{p}-")))
            else {
                continue;
            };
            let (width, height) = (pad.property::<i32>("width"), pad.property::<i32>("height"));
            if pad.property::<f64>("alpha") <= 0.0 || width <= 0 || height <= 0 {
                continue;
            }
            tiles.push(Tile {
                participant: participant.clone(),
                x: pad.property::<i32>("xpos").max(0) as u32,
                y: pad.property::<i32>("ypos").max(0) as u32,
                width: width as u32,
                height: height as u32,
            });
        }
        *cached = (Some(Instant::now()), tiles.clone());
        tiles
    }
}

/// Sets `stale` whenever a compositor pad comes, goes, is linked to a
/// track or changes place: a joiner's tile is read from its first frame
/// on, rather than up to [`TILES_REFRESH`] later (which the join figures
/// would count).
fn mark_stale_on_change(compositor: &gst::Element, stale: &Arc<AtomicBool>) {
    let mark = |stale: &Arc<AtomicBool>| {
        let stale = stale.clone();
        move || stale.store(true, Ordering::Release)
    };
    // Pad properties notify up to their element.
    let on_notify = mark(stale);
    compositor.connect_deep_notify(None, move |_, _, _| on_notify());
    let on_removed = mark(stale);
    compositor.connect_pad_removed(move |_, _| on_removed());
    let stale = stale.clone();
    compositor.connect_pad_added(move |_, pad| {
        stale.store(true, Ordering::Release);
        let on_linked = mark(&stale);
        pad.connect_linked(move |_, _| on_linked());
    });
}
