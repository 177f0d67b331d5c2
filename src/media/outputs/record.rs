//! Recording: fragmented MP4 to a local file or to an S3 object.
//!
//! Fragmented so that a file cut off by a crash still plays up to its last
//! complete fragment. A local file gets its header rewritten at the end
//! with the duration; an S3 object is a multipart upload (awss3sink) that
//! cannot seek back, so it keeps the fragment-only header and relies on
//! the random-access index appended at the end.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gst::prelude::*;

use super::location::Location;
use super::s3::S3Config;
use super::{OutputBin, add_sink_pad, entry_queue, probe_eos};
use crate::media::{MediaError, link_chain, make};

/// The longest a fragment runs (it is cut at the next key frame after).
const FRAGMENT: gst::ClockTime = gst::ClockTime::from_seconds(1);

pub struct RecordOutput {
    bin: gst::Bin,
    target: String,
    /// The element that writes (filesink or awss3sink).
    sink: gst::Element,
    /// The sink saw EOS.
    ended: Arc<AtomicBool>,
}

impl RecordOutput {
    /// Records to `file://` path or `s3://` object `location`. A file is
    /// created at once, so that an unwritable path fails now rather than
    /// once media flows.
    pub fn new(name: &str, location: &Location, s3: &S3Config) -> Result<Self, MediaError> {
        let (sink, target, seekable) = match location {
            Location::File(path) => {
                create_file(path)?;
                let sink = make("filesink", None)?;
                sink.set_property("location", path.to_string_lossy().as_ref());
                (sink, format!("file://{}", path.display()), true)
            }
            Location::S3 { bucket, key } => {
                let sink = make("awss3sink", None)?;
                sink.set_property("bucket", bucket);
                sink.set_property("key", key);
                s3.apply(&sink);
                (sink, format!("s3://{bucket}/{key}"), false)
            }
        };
        // Written as fast as media arrives, and a sink added to a running
        // pipeline must not wait to preroll.
        sink.set_property("sync", false);
        sink.set_property("async", false);

        let mux = make("isofmp4mux", None)?;
        mux.set_property("fragment-duration", FRAGMENT.nseconds());
        // Key frames come from the shared encoder's own cadence; asking for
        // more would change every other output too.
        mux.set_property("send-force-keyunit", false);
        mux.set_property_from_str(
            "header-update-mode",
            if seekable { "rewrite" } else { "none" },
        );
        mux.set_property("write-mehd", seekable);
        mux.set_property("write-mfra", true);
        // The muxer fixes its streams at its first output: a stream whose
        // first buffer is late then is left out of the file for good. Live,
        // it waits only its latency for late inputs, so give the slower
        // encoder a second (the sink does not sync, so nothing else waits).
        mux.set_property("latency", gst::ClockTime::SECOND.nseconds());
        // A recording added mid-call still starts at 0.
        mux.set_property("offset-to-zero", true);

        let bin = gst::Bin::builder().name(name).build();
        bin.add_many([&mux, &sink])
            .map_err(|_| MediaError::Link("record elements".into()))?;
        link_chain(&[&mux, &sink])?;
        for kind in ["video", "audio"] {
            // Room for a slow part upload.
            let queue = entry_queue(10)?;
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

        let ended = Arc::new(AtomicBool::new(false));
        let e = ended.clone();
        probe_eos(&sink.static_pad("sink").expect("sink pad"), move || {
            e.store(true, Ordering::SeqCst)
        });
        Ok(RecordOutput {
            bin,
            target,
            sink,
            ended,
        })
    }
}

/// Creates `path` and its directory.
fn create_file(path: &Path) -> Result<(), MediaError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| MediaError::Output(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::File::create(path)
        .map(|_| ())
        .map_err(|e| MediaError::Output(format!("cannot write {}: {e}", path.display())))
}

impl OutputBin for RecordOutput {
    fn kind(&self) -> &'static str {
        "record"
    }

    fn bin(&self) -> &gst::Bin {
        &self.bin
    }

    fn target(&self) -> String {
        self.target.clone()
    }

    /// The sink has seen EOS; it may still be completing its upload, in
    /// the EOS handler that holds its stream lock. Stopping it before that
    /// ends would abort the upload.
    fn finish(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.ended.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // A sink that never got its EOS may be stuck: do not wait on it.
        if self.ended.load(Ordering::SeqCst) {
            drop(
                self.sink
                    .static_pad("sink")
                    .expect("sink pad")
                    .stream_lock(),
            );
        }
    }
}
