//! The program: a compositor that blends tiles already scaled to size and an
//! audiomixer. Each has a permanent live input (the backdrop, silence), so
//! the program runs at its frame rate with nobody in the call and never
//! waits for a stalled participant.
//!
//! The compositor blends in I420, where a tile is opaque, until a layout
//! rounds corners; then, for the rest of the session, in AYUV, converted
//! back to I420 for the encoders. Blending with alpha costs CPU, so only
//! sessions that want it pay for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use gst::prelude::*;

use super::backdrop;
use super::layout::Rect;
use super::mover::{Mover, set_rect};
use super::stats::shown::{Shown, ShownCounts};
use super::track::{audio_caps, video_caps};
use super::{MediaError, capsfilter, link_chain, make};
use crate::config::ProgramConfig;

/// How the program runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// On the clock, whoever is there: a call.
    Live,
    /// As fast as its inputs allow, for this many frames, then ends: the
    /// offline benchmark.
    Offline { frames: u32 },
}

pub struct Program {
    compositor: gst::Element,
    audiomixer: gst::Element,
    /// The compositor's output format, then the canvas in I420.
    blend: gst::Element,
    video_out: gst::Element,
    audio_out: gst::Element,
    backdrop_caps: gst::Element,
    canvas: gst::Caps,
    /// Asked to blend with alpha / blending with alpha.
    alpha_asked: AtomicBool,
    alpha: Arc<AtomicBool>,
    mover: Mover,
    /// What the compositor did with each tile's frames.
    shown: Shown,
}

impl Program {
    /// Adds the program's elements to `pipeline`. `input_latency` is how long
    /// the aggregators wait for a late input: inputs join while running, so
    /// the latency they will report is not known when the pipeline starts.
    pub fn new(
        pipeline: &gst::Pipeline,
        cfg: &ProgramConfig,
        input_latency: gst::ClockTime,
        pace: Pace,
    ) -> Result<Self, MediaError> {
        let live = pace == Pace::Live;
        let compositor = live_aggregator("compositor", input_latency)?;
        let mut canvas = video_caps(cfg.width, cfg.height);
        canvas
            .make_mut()
            .set("framerate", gst::Fraction::new(cfg.fps as i32, 1));
        let blend = capsfilter(Some("program-blend"), &canvas)?;
        let convert = make("videoconvert", None)?;
        let video_out = capsfilter(Some("program-video"), &canvas)?;
        let audiomixer = live_aggregator("audiomixer", input_latency)?;
        let audio_out = capsfilter(Some("program-audio"), &audio_caps())?;

        // Permanent live inputs: the canvas colour and silence. Without one
        // the aggregators restart their timeline at the first real input
        // and emit a frame stamped 0 mid-stream.
        let backdrop = gst::ElementFactory::make(backdrop::FACTORY)
            .name("backdrop")
            .property("is-live", live)
            .property("color", 0xff00_0000 | (cfg.background & 0xff_ffff))
            .build()
            .map_err(|_| MediaError::MissingElement(backdrop::FACTORY))?;
        let backdrop_caps = capsfilter(None, &canvas)?;
        let silence = gst::ElementFactory::make("audiotestsrc")
            .name("silence")
            .property("is-live", live)
            .property_from_str("wave", "silence")
            .build()
            .map_err(|_| MediaError::MissingElement("audiotestsrc"))?;
        let silence_caps = capsfilter(None, &audio_caps())?;
        if let Pace::Offline { frames } = pace {
            backdrop.set_property("num-buffers", frames as i32);
            silence.set_property("num-buffers", 1i32);
        }

        pipeline
            .add_many([
                &compositor,
                &blend,
                &convert,
                &video_out,
                &audiomixer,
                &audio_out,
                &backdrop,
                &backdrop_caps,
                &silence,
                &silence_caps,
            ])
            .map_err(|_| MediaError::Link("program elements".into()))?;
        link_chain(&[
            &backdrop,
            &backdrop_caps,
            &compositor,
            &blend,
            &convert,
            &video_out,
        ])?;
        link_chain(&[&silence, &silence_caps, &audiomixer, &audio_out])?;
        if live {
            for out in [&video_out, &audio_out] {
                warn_on_eos(&out.static_pad("src").expect("capsfilter has src"));
            }
        }

        Ok(Program {
            audiomixer,
            blend,
            video_out,
            audio_out,
            backdrop_caps,
            canvas,
            alpha_asked: AtomicBool::new(false),
            alpha: Arc::new(AtomicBool::new(false)),
            mover: Mover::new(cfg.fps),
            shown: Shown::attach(&compositor),
            compositor,
        })
    }

    /// Whether the compositor blends with alpha: pictures with rounded
    /// corners (with alpha) are accepted only then.
    pub fn alpha(&self) -> bool {
        self.alpha.load(Ordering::Acquire)
    }

    /// Turns the compositor to blending with alpha, for good; `ready` is
    /// called (on a streaming thread) once it does, and only then may
    /// pictures with alpha come.
    pub fn use_alpha(&self, ready: impl FnOnce() + Send + 'static) {
        if self.alpha_asked.swap(true, Ordering::AcqRel) {
            return;
        }
        // The canvas, with alpha: what the compositor puts out, and what
        // the backdrop follows with once it does.
        let mut canvas = self.canvas.clone();
        canvas.make_mut().set("format", "AYUV");
        let backdrop = canvas.clone();
        let backdrop_caps = self.backdrop_caps.clone();
        let alpha = self.alpha.clone();
        let ready = std::sync::Mutex::new(Some(ready));
        let src = self
            .compositor
            .static_pad("src")
            .expect("aggregators have a src");
        src.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            let Some(gst::PadProbeData::Event(ev)) = &info.data else {
                return gst::PadProbeReturn::Ok;
            };
            let gst::EventView::Caps(c) = ev.view() else {
                return gst::PadProbeReturn::Ok;
            };
            let format = c
                .caps()
                .structure(0)
                .and_then(|s| s.get::<&str>("format").ok());
            if format != Some("AYUV") {
                return gst::PadProbeReturn::Ok;
            }
            // The backdrop follows, so the compositor need not convert
            // a whole canvas per frame.
            backdrop_caps.set_property("caps", &backdrop);
            alpha.store(true, Ordering::Release);
            if let Some(ready) = ready.lock().unwrap().take() {
                ready();
            }
            gst::PadProbeReturn::Remove
        });
        self.blend.set_property("caps", canvas);
        tracing::info!("the program blends with alpha from now on (rounded corners)");
    }

    /// The raw program video (after the canvas caps).
    pub fn video_src(&self) -> gst::Pad {
        self.video_out
            .static_pad("src")
            .expect("capsfilter has src")
    }

    pub fn audio_src(&self) -> gst::Pad {
        self.audio_out
            .static_pad("src")
            .expect("capsfilter has src")
    }

    /// Links a track bin's video to a new compositor pad placed at `rect`.
    pub fn link_video(&self, src: &gst::Pad, rect: Rect) -> Result<gst::Pad, MediaError> {
        let pad = self
            .compositor
            .request_pad_simple("sink_%u")
            .ok_or_else(|| MediaError::Link("no compositor pad".into()))?;
        set_rect(&pad, rect);
        answer_allocation(src, propose_video_pool);
        src.link(&pad)
            .map_err(|e| MediaError::Link(format!("track to compositor: {e:?}")))?;
        self.shown.watch(&pad);
        Ok(pad)
    }

    pub fn link_audio(&self, src: &gst::Pad) -> Result<gst::Pad, MediaError> {
        let pad = self
            .audiomixer
            .request_pad_simple("sink_%u")
            .ok_or_else(|| MediaError::Link("no audiomixer pad".into()))?;
        // The audiomixer proposes nothing.
        answer_allocation(src, |_| false);
        src.link(&pad)
            .map_err(|e| MediaError::Link(format!("track to audiomixer: {e:?}")))?;
        Ok(pad)
    }

    /// Glides a pad from [`Program::link_video`] to `rect` over the
    /// transition.
    pub fn place(&self, pad: &gst::Pad, rect: Rect) {
        self.mover.glide(pad, rect);
    }

    /// Puts a pad at `rect` at once.
    pub fn jump(&self, pad: &gst::Pad, rect: Rect) {
        self.mover.jump(pad, rect);
    }

    /// How long tiles take to reach a new place; zero makes them jump.
    pub fn set_transition(&self, transition: std::time::Duration) {
        self.mover.set_transition(transition);
    }

    /// The frames the compositor showed and passed over, of the tile on
    /// `pad` (from [`Program::link_video`]).
    pub fn shown(&self, pad: &gst::Pad) -> ShownCounts {
        self.shown.counts(pad)
    }

    /// Releases a pad from [`Program::link_video`] or [`Program::link_audio`].
    pub fn release(&self, pad: &gst::Pad) {
        self.mover.forget(pad);
        if let Some(parent) = pad.parent_element() {
            if let Some(peer) = pad.peer() {
                let _ = peer.unlink(pad);
            }
            parent.release_request_pad(pad);
        }
    }
}

/// Answers the allocation queries `src` sends to an aggregator on `src`'s
/// own thread, with `propose`, instead of letting them reach it.
///
/// An aggregator answers a serialized query on its own thread, holding no
/// reference to it, while the input's thread waits. Releasing the pad
/// meanwhile (a tile going) wakes that thread, which frees the query under
/// the aggregator: a use after free in GStreamer 1.22 that a crowd's churn
/// hit (segfaults in `gst_query_add_allocation_meta` on `compositor:src`).
/// Answered here, no query waits on the aggregator's thread.
fn answer_allocation(
    src: &gst::Pad,
    propose: impl Fn(&mut gst::query::Allocation) -> bool + Send + Sync + 'static,
) {
    src.add_probe(gst::PadProbeType::QUERY_DOWNSTREAM, move |_, info| {
        let Some(query) = info.query_mut() else {
            return gst::PadProbeReturn::Ok;
        };
        match query.view_mut() {
            gst::QueryViewMut::Allocation(q) => {
                if propose(q) {
                    gst::PadProbeReturn::Handled
                } else {
                    gst::PadProbeReturn::Drop
                }
            }
            _ => gst::PadProbeReturn::Ok,
        }
    });
}

/// What the 1.22 compositor proposes to an input: a video buffer pool for
/// its caps, and video metas.
fn propose_video_pool(query: &mut gst::query::Allocation) -> bool {
    let Some(caps) = query.get().0.map(|c| c.to_owned()) else {
        return false;
    };
    let Ok(info) = gst_video::VideoInfo::from_caps(&caps) else {
        return false;
    };
    let size = info.size() as u32;
    let pool = gst_video::VideoBufferPool::new();
    let mut config = pool.config();
    config.set_params(Some(&caps), size, 0, 0);
    if pool.set_config(config).is_err() {
        return false;
    }
    query.add_allocation_pool(Some(&pool), size, 0, 0);
    query.add_allocation_meta::<gst_video::VideoMeta>(None);
    true
}

/// A compositor or audiomixer that gives inputs `input_latency` to arrive
/// and never waits for an input that has sent nothing yet.
///
/// Its timeline starts at its first buffer (the backdrop's or the
/// silence's): until then it waits for data, not for the clock. Waiting
/// for the clock, it can time out before the pipeline has set its base
/// time, with every input still inactive, and GStreamer 1.22 then ends the
/// stream (EOS at start: every output without that kind of media).
fn live_aggregator(
    factory: &'static str,
    input_latency: gst::ClockTime,
) -> Result<gst::Element, MediaError> {
    let aggregator = gst::ElementFactory::make(factory)
        .name(factory)
        .property("ignore-inactive-pads", true)
        .property("min-upstream-latency", input_latency.nseconds())
        .build()
        .map_err(|_| MediaError::MissingElement(factory))?;
    aggregator.set_property_from_str("start-time-selection", "first");
    Ok(aggregator)
}

/// The program ends only when callcast ends it, after the compositor and
/// the mixer (at the encoders, which then refuse more and the aggregators
/// end too): an end coming out of them before is a fault that leaves every
/// output without that media, and is said loudly.
fn warn_on_eos(pad: &gst::Pad) {
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, |pad, info| {
        if let Some(gst::PadProbeData::Event(ev)) = &info.data
            && ev.type_() == gst::EventType::Eos
            && pad
                .peer()
                .is_some_and(|peer| !peer.pad_flags().contains(gst::PadFlags::EOS))
        {
            tracing::error!(pad = %pad.path_string(), "the program ended by itself");
        }
        gst::PadProbeReturn::Ok
    });
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    /// An input linked to a fresh `factory` pad the way the program links
    /// one, and how many allocation queries reached that pad. The element
    /// is returned to be kept: dropped, it would unlink its pads.
    fn linked_input(
        factory: &'static str,
        propose: impl Fn(&mut gst::query::Allocation) -> bool + Send + Sync + 'static,
    ) -> (gst::Element, gst::Pad, Arc<AtomicUsize>) {
        crate::media::init().unwrap();
        let aggregator = make(factory, None).unwrap();
        let sink = aggregator.request_pad_simple("sink_%u").unwrap();
        let reached = Arc::new(AtomicUsize::new(0));
        let count = reached.clone();
        // Counted, and stopped there: the aggregator is not running, and
        // would hold the query, and the test, forever.
        sink.add_probe(gst::PadProbeType::QUERY_DOWNSTREAM, move |_, info| {
            if let Some(gst::QueryView::Allocation(_)) = info.query().map(|q| q.view()) {
                count.fetch_add(1, Ordering::Relaxed);
                return gst::PadProbeReturn::Drop;
            }
            gst::PadProbeReturn::Ok
        });
        let src = gst::Pad::builder(gst::PadDirection::Src).build();
        answer_allocation(&src, propose);
        src.link(&sink).unwrap();
        (aggregator, src, reached)
    }

    #[test]
    fn a_tile_gets_its_pool_without_asking_the_compositor() {
        let (_compositor, src, reached) = linked_input("compositor", propose_video_pool);
        let caps = video_caps(320, 180);
        let mut query = gst::query::Allocation::new(Some(&caps), true);
        assert!(src.peer_query(&mut query));
        assert_eq!(reached.load(Ordering::Relaxed), 0);
        let (pool, size, _, _) = query.allocation_pools().next().unwrap();
        assert!(pool.is_some_and(|p| p.is::<gst_video::VideoBufferPool>()));
        assert_eq!(size, 320 * 180 * 3 / 2);
        assert!(
            query
                .find_allocation_meta::<gst_video::VideoMeta>()
                .is_some()
        );
    }

    #[test]
    fn a_sound_is_refused_an_allocation_as_the_mixer_would() {
        let (_mixer, src, reached) = linked_input("audiomixer", |_| false);
        let mut query = gst::query::Allocation::new(Some(&audio_caps()), true);
        assert!(!src.peer_query(&mut query));
        assert_eq!(reached.load(Ordering::Relaxed), 0);
    }
}
