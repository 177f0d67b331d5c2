//! Which of a tile's frames the compositor put in the program, and which
//! it passed over.
//!
//! A track's leaky queue counts what it drops when the program falls
//! behind, but a live compositor drops frames too: one that comes after
//! its turn's deadline is shown never, the tile showing its previous
//! frame again meanwhile. Under CPU pressure that is where a tile loses
//! its frames (in a benchmark run beside busy loops, 4% of the tiles'
//! frames went so, none through the queues), so the figures count it:
//! each compositor pad logs the frames entering it, and at each composite
//! frame the compositor says which frame it took from each pad
//! (`samples-selected`); the frames before that one were passed over.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use gst::prelude::*;
use gst_base::prelude::*;
use serde::Serialize;

/// A tile's frames in the program so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ShownCounts {
    /// Frames the compositor put in the program.
    pub shown: u64,
    /// Frames it passed over: late for their turn, or more than the
    /// program's frame rate takes.
    pub skipped: u64,
}

/// More frames than this waiting in a pad means the compositor is not
/// taking from it (it would not hold a second's worth): the oldest are
/// forgotten, uncounted.
const MOST_WAITING: usize = 128;

/// One pad's frames, by timestamp, from entering to being taken or
/// passed over.
#[derive(Debug, Default)]
struct PadLog {
    waiting: VecDeque<gst::ClockTime>,
    counts: ShownCounts,
}

impl PadLog {
    fn entered(&mut self, pts: gst::ClockTime) {
        if self.waiting.len() == MOST_WAITING {
            self.waiting.pop_front();
        }
        self.waiting.push_back(pts);
    }

    /// The compositor took the frame stamped `pts` for a composite frame.
    /// The same frame taken again (the next one not there yet) counts
    /// once.
    fn selected(&mut self, pts: gst::ClockTime) {
        while let Some(&first) = self.waiting.front() {
            if first > pts {
                break;
            }
            self.waiting.pop_front();
            if first == pts {
                self.counts.shown += 1;
            } else {
                self.counts.skipped += 1;
            }
        }
    }

    /// A flush or a new segment empties the pad uncounted.
    fn flushed(&mut self) {
        self.waiting.clear();
    }
}

type Logs = Arc<Mutex<HashMap<gst::Pad, Arc<Mutex<PadLog>>>>>;

/// The shown and skipped frames of a compositor's watched pads.
pub struct Shown {
    logs: Logs,
}

impl Shown {
    /// Asks `compositor` to say which frames it takes, and counts them for
    /// the pads given to [`Shown::watch`].
    pub fn attach(compositor: &gst::Element) -> Self {
        let logs: Logs = Arc::default();
        let aggregator = compositor
            .clone()
            .downcast::<gst_base::Aggregator>()
            .expect("the compositor is an aggregator");
        aggregator.set_emit_signals(true);
        let watched = logs.clone();
        // On the compositor's own thread, once per composite frame.
        aggregator.connect_samples_selected(move |agg, _, _, _, _, _| {
            let logs = watched.lock().unwrap();
            for (pad, log) in logs.iter() {
                let Some(pad) = pad.downcast_ref::<gst_base::AggregatorPad>() else {
                    continue;
                };
                let pts = agg
                    .peek_next_sample(pad)
                    .and_then(|s| s.buffer().and_then(|b| b.pts()));
                if let Some(pts) = pts {
                    log.lock().unwrap().selected(pts);
                }
            }
        });
        // Released pads are forgotten, however they go.
        let watched = logs.clone();
        compositor.connect_pad_removed(move |_, pad| {
            watched.lock().unwrap().remove(pad);
        });
        Shown { logs }
    }

    /// Counts the frames entering `pad`, one of the compositor's, until it
    /// is released.
    pub fn watch(&self, pad: &gst::Pad) {
        let log = Arc::new(Mutex::new(PadLog::default()));
        let logged = log.clone();
        pad.add_probe(
            gst::PadProbeType::BUFFER
                | gst::PadProbeType::EVENT_DOWNSTREAM
                | gst::PadProbeType::EVENT_FLUSH,
            move |_, info| {
                match &info.data {
                    Some(gst::PadProbeData::Buffer(b)) => {
                        if let Some(pts) = b.pts() {
                            logged.lock().unwrap().entered(pts);
                        }
                    }
                    // A new timeline: what waits will not be taken.
                    Some(gst::PadProbeData::Event(e))
                        if matches!(
                            e.type_(),
                            gst::EventType::FlushStop | gst::EventType::Segment
                        ) =>
                    {
                        logged.lock().unwrap().flushed();
                    }
                    _ => {}
                }
                gst::PadProbeReturn::Ok
            },
        );
        self.logs.lock().unwrap().insert(pad.clone(), log);
    }

    /// `pad`'s counts; zero for a pad not watched.
    pub fn counts(&self, pad: &gst::Pad) -> ShownCounts {
        self.logs
            .lock()
            .unwrap()
            .get(pad)
            .map(|log| log.lock().unwrap().counts)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> gst::ClockTime {
        gst::ClockTime::from_mseconds(v)
    }

    #[test]
    fn frames_before_the_one_taken_were_passed_over() {
        let mut log = PadLog::default();
        for t in [0, 50, 100, 150, 200] {
            log.entered(ms(t));
        }
        log.selected(ms(0));
        // Taken again while the next is not there: once.
        log.selected(ms(0));
        // 50 came too late for its turn: 100 is taken over it.
        log.selected(ms(100));
        assert_eq!(
            log.counts,
            ShownCounts {
                shown: 2,
                skipped: 1
            }
        );
        // What waits is neither, yet.
        assert_eq!(log.waiting, [ms(150), ms(200)]);
        log.flushed();
        log.selected(ms(200));
        assert_eq!(log.counts.shown + log.counts.skipped, 3);
    }

    #[test]
    fn a_pad_nobody_takes_from_stays_bounded() {
        let mut log = PadLog::default();
        for t in 0..1000 {
            log.entered(ms(t));
        }
        assert_eq!(log.waiting.len(), MOST_WAITING);
    }

    /// A real compositor at 10 fps fed 30 fps: it takes one frame in
    /// three, and passes over the rest.
    #[test]
    fn a_compositor_slower_than_its_input_passes_frames_over() {
        crate::media::init().unwrap();
        let pipeline = gst::parse::launch(
            "videotestsrc num-buffers=60 ! video/x-raw,width=64,height=36,framerate=30/1 \
             ! compositor name=c ! video/x-raw,framerate=10/1 ! fakesink name=sink",
        )
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let compositor = pipeline.by_name("c").unwrap();
        let shown = Shown::attach(&compositor);
        let pad = compositor.sink_pads().remove(0);
        shown.watch(&pad);
        pipeline.set_state(gst::State::Playing).unwrap();
        let bus = pipeline.bus().unwrap();
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(10),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        pipeline.set_state(gst::State::Null).unwrap();
        assert_eq!(msg.map(|m| m.type_()), Some(gst::MessageType::Eos));
        let c = shown.counts(&pad);
        // 2 s of input: 20 composite frames, each from its own input frame.
        assert!((19..=21).contains(&c.shown), "{c:?}");
        assert!((38..=41).contains(&c.skipped), "{c:?}");
        compositor.release_request_pad(&pad);
        assert_eq!(shown.counts(&pad), ShownCounts::default());
    }
}
