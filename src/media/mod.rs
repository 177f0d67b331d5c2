//! The GStreamer side of a session.
//!
//! ```text
//! webrtcbin ─pad-added─> track bin (one per track) ─> compositor / audiomixer
//!   (ingest)               (track)                       (program)
//!                                                          │
//!                                 encoders, tee'd (encode) ┘
//!                                                          │
//!                                 output bins (outputs/) <─┘
//! ```
//!
//! `layout` is pure: rectangles from a roster. So is most of `rtcp`: how
//! often callcast reports as a receiver, and how it addresses key frame
//! requests (its glue is in `webrtc`).

pub mod backdrop;
pub mod cards;
pub mod corners;
pub mod encode;
pub mod ingest;
pub mod layout;
pub mod mover;
pub mod opusfloatdec;
pub mod outputs;
pub mod pipeline;
pub mod program;
pub mod rtcp;
pub mod stats;
pub mod tilescale;
pub mod track;
pub mod webrtc;

use std::sync::{Arc, OnceLock};

pub use pipeline::{MediaEvent, SessionMedia};

/// Everything that goes wrong on the media side.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MediaError {
    #[error("GStreamer element {0} is missing: run scripts/install-deps")]
    MissingElement(&'static str),
    #[error("GStreamer is unavailable: {0}")]
    Init(String),
    #[error("cannot link {0}")]
    Link(String),
    #[error("state change failed: {0}")]
    State(String),
    #[error("negotiation failed: {0}")]
    Negotiation(String),
    #[error("{0}")]
    Output(String),
}

/// Elements callcast cannot run without, checked once at start so that a
/// missing plugin is one clear error instead of a failure mid-call.
const REQUIRED_ELEMENTS: &[&str] = &[
    "webrtcbin",
    "nicesrc",
    "rtpvp8depay",
    "vp8dec",
    "rtpopusdepay",
    "opusenc",
    "videoconvert",
    "audioconvert",
    "audioresample",
    "compositor",
    "textoverlay",
    "level",
    "audiomixer",
    "x264enc",
    "h264parse",
    "avenc_aac",
    "aacparse",
    "isofmp4mux",
    "filesink",
    "splitmuxsink",
    "awss3sink",
    "awss3hlssink",
    "hlssink3",
    "flvmux",
    "rtmp2sink",
    "mpegtsmux",
    "srtsink",
    "queue",
    "tee",
    "roundedcorners",
];

/// Initialises GStreamer and registers the statically linked plugins.
/// Safe to call many times.
pub fn init() -> Result<(), MediaError> {
    static INIT: OnceLock<Result<(), MediaError>> = OnceLock::new();
    INIT.get_or_init(|| {
        gst::init().map_err(|e| MediaError::Init(e.to_string()))?;
        gstfmp4::plugin_register_static().map_err(|e| MediaError::Init(e.to_string()))?;
        gstaws::plugin_register_static().map_err(|e| MediaError::Init(e.to_string()))?;
        gsthlssink3::plugin_register_static().map_err(|e| MediaError::Init(e.to_string()))?;
        gstrsvideofx::plugin_register_static().map_err(|e| MediaError::Init(e.to_string()))?;
        backdrop::register().map_err(|e| MediaError::Init(e.to_string()))?;
        tilescale::register().map_err(|e| MediaError::Init(e.to_string()))?;
        opusfloatdec::register().map_err(|e| MediaError::Init(e.to_string()))?;
        for name in REQUIRED_ELEMENTS {
            if gst::ElementFactory::find(name).is_none() {
                return Err(MediaError::MissingElement(name));
            }
        }
        Ok(())
    })
    .clone()
}

/// Makes an element by factory name, naming the missing plugin on failure.
pub(crate) fn make(factory: &'static str, name: Option<&str>) -> Result<gst::Element, MediaError> {
    let mut builder = gst::ElementFactory::make(factory);
    if let Some(name) = name {
        builder = builder.name(name);
    }
    builder
        .build()
        .map_err(|_| MediaError::MissingElement(factory))
}

/// A capsfilter holding `caps`.
pub(crate) fn capsfilter(name: Option<&str>, caps: &gst::Caps) -> Result<gst::Element, MediaError> {
    let mut builder = gst::ElementFactory::make("capsfilter").property("caps", caps);
    if let Some(name) = name {
        builder = builder.name(name);
    }
    builder
        .build()
        .map_err(|_| MediaError::MissingElement("capsfilter"))
}

/// Element names allow most characters, but keep them readable in graphs
/// and thread names.
pub(crate) fn element_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Links a chain of elements, naming the pair that would not link.
pub(crate) fn link_chain(elements: &[&gst::Element]) -> Result<(), MediaError> {
    use gst::prelude::*;
    for pair in elements.windows(2) {
        pair[0]
            .link(pair[1])
            .map_err(|_| MediaError::Link(format!("{} to {}", pair[0].name(), pair[1].name())))?;
    }
    Ok(())
}

/// What a pad probe returns to drop the item it was given.
///
/// gstreamer-rs takes a buffer, buffer list or event out of the probe's
/// info before calling the probe, and on `Drop` leaves the slot empty,
/// which GStreamer 1.22 then unrefs: a CRITICAL for each item dropped.
/// `Handled` (the probe consumed it) drops them cleanly. A query stays
/// with its caller: `Drop` refuses it.
pub fn drop_probed(info: &gst::PadProbeInfo) -> gst::PadProbeReturn {
    match info.data {
        Some(
            gst::PadProbeData::Buffer(_)
            | gst::PadProbeData::BufferList(_)
            | gst::PadProbeData::Event(_),
        ) => gst::PadProbeReturn::Handled,
        _ => gst::PadProbeReturn::Drop,
    }
}

/// A ghost sink pad onto `target` whose chain results, for buffers and
/// buffer lists alike, pass through `filter` on their way upstream: how a
/// bin keeps a flow error of its own from stopping what feeds it.
pub fn filtered_ghost_sink(
    target: &gst::Pad,
    filter: impl Fn(
        Result<gst::FlowSuccess, gst::FlowError>,
    ) -> Result<gst::FlowSuccess, gst::FlowError>
    + Send
    + Sync
    + 'static,
) -> Result<gst::PadBuilder<gst::GhostPad>, gst::glib::BoolError> {
    let filter = Arc::new(filter);
    let for_lists = filter.clone();
    Ok(gst::GhostPad::builder_with_target(target)?
        .chain_function(move |pad, parent, buffer| {
            filter(gst::ProxyPad::chain_default(pad, parent, buffer))
        })
        .chain_list_function(move |pad, parent, list| {
            for_lists(gst::ProxyPad::chain_list_default(pad, parent, list))
        }))
}

/// For element tests: `description` launched (GStreamer initialised
/// first), with its appsink named `sink`.
#[cfg(test)]
pub(crate) fn launch_with_sink(description: &str) -> (gst::Pipeline, gst_app::AppSink) {
    use gst::prelude::*;
    init().unwrap();
    let pipeline = gst::parse::launch(description)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    (pipeline, sink)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use gst::prelude::*;

    use super::*;

    #[test]
    fn dropped_buffers_lists_and_events_leave_no_critical() {
        init().unwrap();
        let criticals = Arc::new(AtomicUsize::new(0));
        let counted = criticals.clone();
        let handler = gst::glib::log_set_handler(
            Some("GStreamer"),
            gst::glib::LogLevels::LEVEL_CRITICAL,
            false,
            false,
            move |_, _, message| {
                if message.contains("mini_object") {
                    counted.fetch_add(1, Ordering::Relaxed);
                }
            },
        );
        let reached = Arc::new(AtomicUsize::new(0));
        let (on_buffer, on_list) = (reached.clone(), reached.clone());
        let sink = gst::Pad::builder(gst::PadDirection::Sink)
            .chain_function(move |_, _, _| {
                on_buffer.fetch_add(1, Ordering::Relaxed);
                Ok(gst::FlowSuccess::Ok)
            })
            .chain_list_function(move |_, _, _| {
                on_list.fetch_add(1, Ordering::Relaxed);
                Ok(gst::FlowSuccess::Ok)
            })
            .build();
        let src = gst::Pad::builder(gst::PadDirection::Src).build();
        src.link(&sink).unwrap();
        src.set_active(true).unwrap();
        sink.set_active(true).unwrap();
        // On the sink pad, as the senders' gates; on the source pad, as
        // the ingest's unplugging.
        for pad in [&sink, &src] {
            let id = pad
                .add_probe(
                    gst::PadProbeType::BUFFER
                        | gst::PadProbeType::BUFFER_LIST
                        | gst::PadProbeType::EVENT_DOWNSTREAM
                        | gst::PadProbeType::QUERY_DOWNSTREAM,
                    |_, info| drop_probed(info),
                )
                .unwrap();
            assert_eq!(src.push(gst::Buffer::new()), Ok(gst::FlowSuccess::Ok));
            let mut list = gst::BufferList::new();
            list.get_mut().unwrap().add(gst::Buffer::new());
            assert_eq!(src.push_list(list), Ok(gst::FlowSuccess::Ok));
            src.push_event(gst::event::CustomDownstream::new(
                gst::Structure::new_empty("callcast-test"),
            ));
            let mut query = gst::query::Caps::new(None);
            assert!(!src.peer_query(&mut query), "a dropped query is refused");
            pad.remove_probe(id);
        }
        gst::glib::log_remove_handler(Some("GStreamer"), handler);
        assert_eq!(reached.load(Ordering::Relaxed), 0);
        assert_eq!(criticals.load(Ordering::Relaxed), 0);
    }
}
