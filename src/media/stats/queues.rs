//! Every queue in a pipeline, its fill level and how often it overran.
//!
//! Queues come and go with participants and outputs, and webrtcbin adds
//! its own; the pipeline's `deep-element-added` finds them all, wherever
//! they are added. A leaky queue drops a buffer each time it overruns, so
//! its overrun count is the frames it dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use gst::glib;
use gst::prelude::*;
use serde::Serialize;

/// How full one queue is, against its limits (0 = no limit).
#[derive(Debug, Clone, Default, PartialEq, Serialize, schemars::JsonSchema)]
pub struct QueueLevel {
    pub buffers: u32,
    pub bytes: u32,
    pub time_ms: f64,
    pub max_buffers: u32,
    pub max_bytes: u32,
    pub max_time_ms: f64,
    /// Drops the oldest (or newest) buffer when full instead of blocking.
    pub leaky: bool,
    pub overruns: u64,
}

impl QueueLevel {
    /// How full, 0 to 1: the fullest of the limits it has.
    pub fn fill(&self) -> f64 {
        let part = |level: f64, max: f64| if max > 0.0 { level / max } else { 0.0 };
        part(self.buffers as f64, self.max_buffers as f64)
            .max(part(self.bytes as f64, self.max_bytes as f64))
            .max(part(self.time_ms, self.max_time_ms))
            .min(1.0)
    }
}

struct Watched {
    queue: glib::WeakRef<gst::Element>,
    overruns: Arc<AtomicU64>,
}

/// The queues of one pipeline, found as they are added.
#[derive(Clone, Default)]
pub struct QueueWatch {
    watched: Arc<Mutex<Vec<Watched>>>,
}

fn is_queue(element: &gst::Element) -> bool {
    element
        .factory()
        .is_some_and(|f| f.name().as_str() == "queue")
}

impl QueueWatch {
    /// Watches the queues `pipeline` holds and every one added later.
    pub fn attach(pipeline: &gst::Pipeline) -> Self {
        let watch = QueueWatch::default();
        let w = watch.clone();
        pipeline.connect_deep_element_added(move |_, _, element| w.find(element));
        watch.find(pipeline.upcast_ref());
        watch
    }

    /// `element`, or the queues inside it when it is a bin that arrived
    /// whole.
    fn find(&self, element: &gst::Element) {
        if is_queue(element) {
            self.watch(element);
        }
        if let Some(bin) = element.downcast_ref::<gst::Bin>() {
            for child in bin.iterate_recurse().into_iter().flatten() {
                if is_queue(&child) {
                    self.watch(&child);
                }
            }
        }
    }

    fn watch(&self, queue: &gst::Element) {
        let mut watched = self.watched.lock().unwrap();
        watched.retain(|w| w.queue.upgrade().is_some());
        if watched
            .iter()
            .any(|w| w.queue.upgrade().as_ref() == Some(queue))
        {
            return;
        }
        let overruns = Arc::new(AtomicU64::new(0));
        let counter = overruns.clone();
        queue.connect("overrun", false, move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
            None
        });
        watched.push(Watched {
            queue: queue.downgrade(),
            overruns,
        });
    }

    /// Every live queue with its level now.
    pub fn levels(&self) -> Vec<(gst::Element, QueueLevel)> {
        let queues: Vec<_> = {
            let watched = self.watched.lock().unwrap();
            watched
                .iter()
                .filter_map(|w| Some((w.queue.upgrade()?, w.overruns.load(Ordering::Relaxed))))
                .collect()
        };
        queues
            .into_iter()
            .map(|(q, overruns)| {
                let level = read_level(&q, overruns);
                (q, level)
            })
            .collect()
    }

    /// How often `queue` overran (dropped, if it is leaky).
    pub fn overruns(&self, queue: &gst::Element) -> u64 {
        let watched = self.watched.lock().unwrap();
        watched
            .iter()
            .find(|w| w.queue.upgrade().as_ref() == Some(queue))
            .map_or(0, |w| w.overruns.load(Ordering::Relaxed))
    }
}

fn read_level(q: &gst::Element, overruns: u64) -> QueueLevel {
    let ms = |ns: u64| ns as f64 / 1e6;
    QueueLevel {
        buffers: q.property("current-level-buffers"),
        bytes: q.property("current-level-bytes"),
        time_ms: ms(q.property("current-level-time")),
        max_buffers: q.property("max-size-buffers"),
        max_bytes: q.property("max-size-bytes"),
        max_time_ms: ms(q.property("max-size-time")),
        // An enum (GstQueueLeaky) whose 0 is "no".
        leaky: glib::EnumValue::from_value(&q.property_value("leaky"))
            .is_some_and(|(_, v)| v.value() != 0),
        overruns,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_is_the_fullest_limit() {
        let mut l = QueueLevel {
            buffers: 2,
            max_buffers: 3,
            time_ms: 500.0,
            max_time_ms: 1000.0,
            ..QueueLevel::default()
        };
        assert!((l.fill() - 2.0 / 3.0).abs() < 1e-9);
        l.max_buffers = 0;
        assert!((l.fill() - 0.5).abs() < 1e-9);
        l.time_ms = 1200.0;
        assert_eq!(l.fill(), 1.0);
        assert_eq!(QueueLevel::default().fill(), 0.0);
    }

    #[test]
    fn finds_queues_added_later_and_counts_overruns() {
        crate::media::init().unwrap();
        let pipeline = gst::Pipeline::new();
        let first = gst::ElementFactory::make("queue").build().unwrap();
        pipeline.add(&first).unwrap();
        let watch = QueueWatch::attach(&pipeline);
        let bin = gst::Bin::new();
        let inner = gst::ElementFactory::make("queue").build().unwrap();
        bin.add(&inner).unwrap();
        pipeline.add(&bin).unwrap();
        let late = gst::ElementFactory::make("queue").build().unwrap();
        bin.add(&late).unwrap();
        assert_eq!(watch.levels().len(), 3);
        late.emit_by_name::<()>("overrun", &[]);
        assert_eq!(watch.overruns(&late), 1);
        assert_eq!(watch.overruns(&inner), 0);
        bin.remove(&late).unwrap();
        drop(late);
        assert_eq!(watch.levels().len(), 2);
    }
}
