//! Recording to a fragmented MP4 file.
//!
//! Fragmented so that a file cut off by a crash still plays up to its last
//! complete fragment; at a clean end the muxer rewrites the header with the
//! duration and appends a random-access index.

use std::path::{Path, PathBuf};

use gst::prelude::*;

use super::{OutputBin, add_sink_pad};
use crate::media::{MediaError, link_chain, make};

/// The longest a fragment runs (it is cut at the next key frame after).
const FRAGMENT: gst::ClockTime = gst::ClockTime::from_seconds(1);

/// The file a `file:///absolute/path.mp4` location names.
pub fn check_location(location: &str) -> Result<&Path, MediaError> {
    location
        .strip_prefix("file://")
        .map(Path::new)
        .filter(|p| p.is_absolute() && p.file_name().is_some())
        .ok_or_else(|| {
            MediaError::Output(format!(
                "{location:?} is not a file:///absolute/path.mp4 location"
            ))
        })
}

pub struct RecordOutput {
    bin: gst::Bin,
    path: PathBuf,
}

impl RecordOutput {
    /// Records to a `file:///absolute/path.mp4` location.
    pub fn to_location(name: &str, location: &str) -> Result<Self, MediaError> {
        Self::to_file(name, check_location(location)?)
    }

    /// Records to `path`, creating its directory. Fails at once if the file
    /// cannot be created, rather than once media flows.
    pub fn to_file(name: &str, path: &Path) -> Result<Self, MediaError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| MediaError::Output(format!("cannot create {}: {e}", dir.display())))?;
        }
        std::fs::File::create(path)
            .map_err(|e| MediaError::Output(format!("cannot write {}: {e}", path.display())))?;

        let bin = gst::Bin::builder().name(name).build();
        let mux = make("isofmp4mux", None)?;
        mux.set_property("fragment-duration", FRAGMENT.nseconds());
        // Key frames come from the shared encoder's own cadence; asking for
        // more would change every other output too.
        mux.set_property("send-force-keyunit", false);
        mux.set_property_from_str("header-update-mode", "rewrite");
        mux.set_property("write-mehd", true);
        mux.set_property("write-mfra", true);
        // The muxer fixes its streams at its first output: a stream whose
        // first buffer is late then is left out of the file for good. Live,
        // it waits only its latency for late inputs, so give the slower
        // encoder a second (a file sink does not sync, so nothing else
        // waits for it).
        mux.set_property("latency", gst::ClockTime::SECOND.nseconds());
        // A recording added mid-call still starts at 0.
        mux.set_property("offset-to-zero", true);
        let sink = make("filesink", None)?;
        sink.set_property("location", path.to_string_lossy().as_ref());
        // A file is written as fast as media arrives, and a sink added to a
        // running pipeline must not wait to preroll.
        sink.set_property("sync", false);
        sink.set_property("async", false);
        bin.add_many([&mux, &sink])
            .map_err(|_| MediaError::Link("record elements".into()))?;
        link_chain(&[&mux, &sink])?;

        for kind in ["video", "audio"] {
            let queue = make("queue", None)?;
            queue.set_property("max-size-buffers", 0u32);
            queue.set_property("max-size-bytes", 0u32);
            queue.set_property("max-size-time", (2 * gst::ClockTime::SECOND).nseconds());
            bin.add(&queue)
                .map_err(|_| MediaError::Link("record queue".into()))?;
            let mux_pad = mux
                .request_pad_simple("sink_%u")
                .ok_or_else(|| MediaError::Link("isofmp4mux pad".into()))?;
            queue
                .static_pad("src")
                .expect("queue src")
                .link(&mux_pad)
                .map_err(|e| MediaError::Link(format!("record {kind}: {e:?}")))?;
            add_sink_pad(&bin, kind, &queue.static_pad("sink").expect("queue sink"))?;
        }
        Ok(RecordOutput {
            bin,
            path: path.to_path_buf(),
        })
    }
}

impl OutputBin for RecordOutput {
    fn kind(&self) -> &'static str {
        "record"
    }

    fn bin(&self) -> &gst::Bin {
        &self.bin
    }

    fn target(&self) -> String {
        format!("file://{}", self.path.display())
    }
}
