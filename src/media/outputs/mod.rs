//! Outputs: one bin per output, fed from the encoder tees.
//!
//! An output bin exposes ghost sink pads named `video` and/or `audio` and
//! owns everything behind them. The [`OutputManager`] only links and
//! unlinks bins: on removal it blocks the tee pads, sends EOS through the
//! bin so that it finalizes what it writes, then sets it to NULL. It tracks
//! each output's state from its sinks: live at the first buffer, stopped
//! when every sink saw EOS, failed on an error from inside the bin.

pub mod record;
pub mod srt;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use serde::{Deserialize, Serialize};

use super::MediaError;
use crate::config::Secret;
use record::RecordOutput;
use srt::{SrtMode, SrtOutput};

/// An output as the API and the CLI describe it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum OutputSpec {
    /// Fragmented MP4; `location` is a `file://` URL.
    Record { location: String },
    /// MPEG-TS over SRT.
    Srt {
        /// `srt://host:port`.
        url: String,
        #[serde(default)]
        mode: SrtMode,
        #[serde(default = "default_srt_latency")]
        latency_ms: u32,
        /// Never shown back.
        #[serde(default, skip_serializing)]
        passphrase: Option<Secret>,
    },
}

fn default_srt_latency() -> u32 {
    120
}

impl OutputSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            OutputSpec::Record { .. } => "record",
            OutputSpec::Srt { .. } => "srt",
        }
    }

    /// The field that says where the output goes, to blame when it cannot
    /// be built.
    pub fn target_field(&self) -> &'static str {
        match self {
            OutputSpec::Record { .. } => "location",
            OutputSpec::Srt { .. } => "url",
        }
    }

    /// Checks what can be checked before building; the error names the
    /// field (relative to the output object) and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match self {
            OutputSpec::Record { location } => record::check_location(location)
                .map(|_| ())
                .map_err(|e| ("location", e.to_string())),
            OutputSpec::Srt {
                url,
                latency_ms,
                passphrase,
                ..
            } => srt::check(url, *latency_ms, passphrase.as_ref().map(Secret::expose)),
        }
    }

    /// Builds the output's bin, named `name`. Blocks (it may create files).
    pub fn build(&self, name: &str) -> Result<Box<dyn OutputBin>, MediaError> {
        match self {
            OutputSpec::Record { location } => {
                Ok(Box::new(RecordOutput::to_location(name, location)?))
            }
            OutputSpec::Srt {
                url,
                mode,
                latency_ms,
                passphrase,
            } => Ok(Box::new(SrtOutput::new(
                name,
                url,
                *mode,
                *latency_ms,
                passphrase.as_ref().map(Secret::expose),
            )?)),
        }
    }
}

/// Adds the ghost sink pad `name` (`video` or `audio`) to an output's bin.
/// Whatever goes wrong behind it stays behind it: a flow error (a sink
/// that failed, a branch still starting or already ended) is not returned
/// to the tee, so the encoders and every other output go on. The output
/// reports its failure on the bus, where the manager sees it.
pub fn add_sink_pad(bin: &gst::Bin, name: &str, target: &gst::Pad) -> Result<(), MediaError> {
    let ghost = gst::GhostPad::builder_with_target(target)
        .map_err(|_| MediaError::Link(format!("{}: {name} pad", bin.name())))?
        .name(name)
        .chain_function(|pad, parent, buffer| {
            contained(gst::ProxyPad::chain_default(pad, parent, buffer))
        })
        .chain_list_function(|pad, parent, list| {
            contained(gst::ProxyPad::chain_list_default(pad, parent, list))
        })
        .build();
    bin.add_pad(&ghost)
        .map_err(|_| MediaError::Link(format!("{}: {name} pad", bin.name())))
}

fn contained(
    ret: Result<gst::FlowSuccess, gst::FlowError>,
) -> Result<gst::FlowSuccess, gst::FlowError> {
    Ok(ret.unwrap_or(gst::FlowSuccess::Ok))
}

/// What an output kind provides to the manager.
pub trait OutputBin: Send + Sync {
    /// `"record"`, `"rtmp"`, ...
    fn kind(&self) -> &'static str;
    /// The bin, with sink pads `video` and/or `audio` from [`add_sink_pad`].
    fn bin(&self) -> &gst::Bin;
    /// Where it writes, for the API; never contains secrets.
    fn target(&self) -> String;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OutputState {
    Starting,
    Live,
    Stopping,
    Stopped,
    Failed { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct OutputStatus {
    pub id: String,
    pub kind: &'static str,
    pub target: String,
    #[serde(flatten)]
    pub state: OutputState,
    /// Bytes that reached the output's sinks.
    pub bytes: u64,
    /// Over the last second or so.
    pub bitrate_bps: u64,
    /// Since its first byte.
    pub uptime_s: f64,
}

/// State shared with the pad probes on an output's sinks.
struct Progress {
    state: Mutex<(OutputState, usize)>,
    changed: Condvar,
    sinks: usize,
    bytes: AtomicU64,
    rate: Mutex<Rate>,
}

/// Bytes per window of about a second, for the current bitrate.
#[derive(Default)]
struct Rate {
    live_since: Option<Instant>,
    window_start: Option<Instant>,
    window_bytes: u64,
    bps: u64,
}

impl Rate {
    fn add(&mut self, bytes: u64) {
        let now = Instant::now();
        self.live_since.get_or_insert(now);
        let start = *self.window_start.get_or_insert(now);
        self.window_bytes += bytes;
        let elapsed = now.duration_since(start).as_secs_f64();
        if elapsed >= 1.0 {
            self.bps = (self.window_bytes as f64 * 8.0 / elapsed) as u64;
            self.window_start = Some(now);
            self.window_bytes = 0;
        }
    }
}

impl Progress {
    fn set(&self, state: OutputState) {
        let mut guard = self.state.lock().unwrap();
        if !matches!(guard.0, OutputState::Failed { .. }) {
            guard.0 = state;
        }
        self.changed.notify_all();
    }

    fn state(&self) -> OutputState {
        self.state.lock().unwrap().0.clone()
    }

    /// Waits until every sink saw EOS or the output failed.
    fn wait_done(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut guard = self.state.lock().unwrap();
        loop {
            if guard.1 >= self.sinks || matches!(guard.0, OutputState::Failed { .. }) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            guard = self.changed.wait_timeout(guard, left).unwrap().0;
        }
    }
}

struct Attached {
    id: String,
    output: Box<dyn OutputBin>,
    /// (tee, tee src pad) pairs feeding this output.
    links: Vec<(gst::Element, gst::Pad)>,
    progress: Arc<Progress>,
}

impl Attached {
    fn status(&self) -> OutputStatus {
        let (bitrate_bps, uptime_s) = {
            let rate = self.progress.rate.lock().unwrap();
            let stale = rate
                .window_start
                .is_none_or(|t| t.elapsed() > Duration::from_secs(3));
            (
                if stale { 0 } else { rate.bps },
                rate.live_since.map_or(0.0, |t| t.elapsed().as_secs_f64()),
            )
        };
        OutputStatus {
            id: self.id.clone(),
            kind: self.output.kind(),
            target: self.output.target(),
            state: self.progress.state(),
            bytes: self.progress.bytes.load(Ordering::Relaxed),
            bitrate_bps,
            uptime_s,
        }
    }
}

pub struct OutputManager {
    pipeline: gst::Pipeline,
    video_tee: gst::Element,
    audio_tee: gst::Element,
    outputs: Mutex<Vec<Attached>>,
}

impl OutputManager {
    pub fn new(
        pipeline: &gst::Pipeline,
        video_tee: &gst::Element,
        audio_tee: &gst::Element,
    ) -> Self {
        OutputManager {
            pipeline: pipeline.clone(),
            video_tee: video_tee.clone(),
            audio_tee: audio_tee.clone(),
            outputs: Mutex::new(Vec::new()),
        }
    }

    /// Links `output` to the encoders and starts it.
    pub fn add(&self, id: &str, output: Box<dyn OutputBin>) -> Result<(), MediaError> {
        let bin = output.bin().clone();
        let progress = watch_sinks(&bin);
        self.pipeline
            .add(&bin)
            .map_err(|_| MediaError::Output(format!("output {id}: cannot add its bin")))?;
        // Running before it is linked: a tee pushing into a pad not yet
        // active would get FLUSHING back.
        if bin.sync_state_with_parent().is_err() {
            let _ = bin.set_state(gst::State::Null);
            let _ = self.pipeline.remove(&bin);
            return Err(MediaError::State(format!("output {id} would not start")));
        }
        let mut links = Vec::new();
        for (tee, pad_name) in [(&self.video_tee, "video"), (&self.audio_tee, "audio")] {
            let Some(sink) = bin.static_pad(pad_name) else {
                continue;
            };
            let linked = tee
                .request_pad_simple("src_%u")
                .ok_or_else(|| MediaError::Link(format!("output {id}: no tee pad")))
                .and_then(|src| match src.link(&sink) {
                    Ok(_) => Ok(src),
                    Err(e) => {
                        tee.release_request_pad(&src);
                        Err(MediaError::Link(format!("output {id} {pad_name}: {e:?}")))
                    }
                });
            match linked {
                Ok(src) => links.push((tee.clone(), src)),
                Err(e) => {
                    self.detach(&bin, &links);
                    return Err(e);
                }
            }
        }
        tracing::info!(output = id, kind = output.kind(), target = %output.target(), "output added");
        self.outputs.lock().unwrap().push(Attached {
            id: id.to_string(),
            output,
            links,
            progress,
        });
        Ok(())
    }

    /// Finalizes and removes one output while the program keeps running;
    /// returns its last status (failed if it had to be cut off after
    /// `timeout`).
    pub fn remove(&self, id: &str, timeout: Duration) -> Result<OutputStatus, MediaError> {
        let attached = {
            let mut outputs = self.outputs.lock().unwrap();
            let pos = outputs
                .iter()
                .position(|a| a.id == id)
                .ok_or_else(|| MediaError::Output(format!("no output {id}")))?;
            outputs.remove(pos)
        };
        attached.progress.set(OutputState::Stopping);
        for (_, src) in &attached.links {
            // Unlink at a buffer boundary, then end the branch.
            src.add_probe(gst::PadProbeType::BLOCK_DOWNSTREAM, |pad, _| {
                if let Some(peer) = pad.peer() {
                    let _ = pad.unlink(&peer);
                    peer.send_event(gst::event::Eos::new());
                }
                gst::PadProbeReturn::Remove
            });
        }
        let drained = attached.progress.wait_done(timeout);
        if !drained {
            tracing::warn!(output = id, "output did not drain in time; cutting it off");
        }
        self.detach(attached.output.bin(), &attached.links);
        attached.progress.set(if drained {
            OutputState::Stopped
        } else {
            OutputState::Failed {
                reason: "did not finish writing in time".into(),
            }
        });
        Ok(attached.status())
    }

    /// After the encoders got EOS: waits until every output has written its
    /// end. Returns the ids of outputs that did not finish in time.
    pub fn wait_drained(&self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let outputs = self.outputs.lock().unwrap();
        outputs
            .iter()
            .filter_map(|a| {
                a.progress.set(OutputState::Stopping);
                let left = deadline.saturating_duration_since(Instant::now());
                let done = a.progress.wait_done(left);
                a.progress.set(if done {
                    OutputState::Stopped
                } else {
                    OutputState::Failed {
                        reason: "did not finish writing in time".into(),
                    }
                });
                (!done).then(|| a.id.clone())
            })
            .collect()
    }

    /// If `source` lives inside an output, marks that output failed and
    /// returns its id. The program and the other outputs go on.
    pub fn fail_if_owned(&self, source: &gst::Object, reason: &str) -> Option<String> {
        let outputs = self.outputs.lock().unwrap();
        let owner = outputs
            .iter()
            .find(|a| source.has_as_ancestor(a.output.bin()))?;
        let mut guard = owner.progress.state.lock().unwrap();
        guard.0 = OutputState::Failed {
            reason: reason.to_string(),
        };
        owner.progress.changed.notify_all();
        Some(owner.id.clone())
    }

    pub fn statuses(&self) -> Vec<OutputStatus> {
        self.outputs
            .lock()
            .unwrap()
            .iter()
            .map(Attached::status)
            .collect()
    }

    pub fn status(&self, id: &str) -> Option<OutputStatus> {
        self.outputs
            .lock()
            .unwrap()
            .iter()
            .find(|a| a.id == id)
            .map(Attached::status)
    }

    fn detach(&self, bin: &gst::Bin, links: &[(gst::Element, gst::Pad)]) {
        for (tee, src) in links {
            tee.release_request_pad(src);
        }
        let _ = bin.set_state(gst::State::Null);
        let _ = self.pipeline.remove(bin);
    }
}

/// Probes every sink in `bin`: first buffer means live, EOS on all of them
/// means finished.
fn watch_sinks(bin: &gst::Bin) -> Arc<Progress> {
    let sinks: Vec<gst::Element> = bin.iterate_sinks().into_iter().flatten().collect();
    let progress = Arc::new(Progress {
        state: Mutex::new((OutputState::Starting, 0)),
        changed: Condvar::new(),
        sinks: sinks.len(),
        bytes: AtomicU64::new(0),
        rate: Mutex::new(Rate::default()),
    });
    for sink in sinks {
        let Some(pad) = sink.static_pad("sink") else {
            continue;
        };
        let p = progress.clone();
        pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
            move |_, info| {
                let size = match &info.data {
                    Some(gst::PadProbeData::Buffer(b)) => b.size(),
                    Some(gst::PadProbeData::BufferList(l)) => l.calculate_size(),
                    _ => 0,
                };
                p.rate.lock().unwrap().add(size as u64);
                if p.bytes.fetch_add(size as u64, Ordering::Relaxed) == 0 {
                    p.set(OutputState::Live);
                }
                gst::PadProbeReturn::Ok
            },
        );
        let p = progress.clone();
        pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
            if let Some(gst::PadProbeData::Event(ev)) = &info.data
                && ev.type_() == gst::EventType::Eos
            {
                let mut guard = p.state.lock().unwrap();
                guard.1 += 1;
                p.changed.notify_all();
            }
            gst::PadProbeReturn::Ok
        });
    }
    progress
}
