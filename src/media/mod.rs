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
