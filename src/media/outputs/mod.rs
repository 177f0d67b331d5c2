//! Outputs: one bin per output, fed from the encoder tees.
//!
//! An output bin exposes ghost sink pads named `video` and/or `audio` and
//! owns everything behind them. The [`OutputManager`] only links and
//! unlinks bins: on removal it blocks the tee pads, sends EOS through the
//! bin so that it finalizes what it writes, then sets it to NULL. It tracks
//! each output's state from its sinks: live at the first buffer, stopped
//! when every sink saw EOS, failed on an error from inside the bin.

pub mod hls;
pub mod location;
pub mod record;
pub mod rtmp;
pub mod s3;
pub mod srt;
pub mod whep;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;
use serde::{Deserialize, Serialize};

use super::MediaError;
use super::encode::{Encoder, Feed};
use crate::config::{IceConfig, ProgramConfig, Secret};
use crate::journal::Journal;
use hls::{HlsOutput, HlsSettings, Variant};
use location::Names;
use record::{Context, RecordOutput};
use rtmp::{RtmpOutput, UrlStatus};
use s3::S3Config;
use srt::{SrtMode, SrtOutput};

/// An output as the API and the CLI describe it.
/// Only deserialized: it holds secrets (stream keys, passphrases) that
/// must never be written back out.
/// JSON: `{"kind": "record", ...}` (see [`crate::tagged`]).
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(remote = "Self", rename_all = "snake_case", deny_unknown_fields)]
// The schema describes the wire form, tagged by `kind`.
#[schemars(tag = "kind")]
pub enum OutputSpec {
    /// Fragmented MP4 to `file:///path.mp4` or `s3://bucket/key.mp4`;
    /// `{session}`, `{start}` and `{part}` in the location are filled in.
    Record {
        location: String,
        #[serde(default)]
        s3: Option<S3Config>,
        /// Starts a new part (file or object) at the first key frame after
        /// this many seconds.
        #[serde(default)]
        max_duration_s: Option<u32>,
    },
    /// FLV over RTMP to every URL at once; the list can change live.
    Rtmp { urls: Vec<String> },
    /// Multi-variant HLS to `file:///dir/` or `s3://bucket/prefix/`.
    Hls {
        location: String,
        #[serde(default)]
        s3: Option<S3Config>,
        variants: Vec<Variant>,
        #[serde(default = "default_segment_s")]
        segment_s: u32,
        /// Segments in a live playlist; 0 keeps all (VOD at the end).
        #[serde(default)]
        window: u32,
    },
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

impl<'de> Deserialize<'de> for OutputSpec {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        crate::tagged::deserialize(de, "kind", |d| OutputSpec::deserialize(d))
    }
}

fn default_srt_latency() -> u32 {
    120
}

fn default_segment_s() -> u32 {
    4
}

impl OutputSpec {
    /// A recording to a local file.
    pub fn record_file(path: &std::path::Path) -> Self {
        OutputSpec::Record {
            location: format!("file://{}", path.display()),
            s3: None,
            max_duration_s: None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            OutputSpec::Record { .. } => "record",
            OutputSpec::Hls { .. } => "hls",
            OutputSpec::Rtmp { .. } => "rtmp",
            OutputSpec::Srt { .. } => "srt",
        }
    }

    /// The field that says where the output goes, to blame when it cannot
    /// be built.
    pub fn target_field(&self) -> &'static str {
        match self {
            OutputSpec::Record { .. } | OutputSpec::Hls { .. } => "location",
            OutputSpec::Rtmp { .. } => "urls",
            OutputSpec::Srt { .. } => "url",
        }
    }

    /// The URLs this output connects to, with the field holding each:
    /// what a destination allowlist checks. (An S3 output without an
    /// endpoint of its own goes where the server's settings say.)
    pub fn destinations(&self) -> Vec<(String, String)> {
        match self {
            OutputSpec::Record { s3, .. } | OutputSpec::Hls { s3, .. } => s3
                .as_ref()
                .and_then(|s3| s3.endpoint.clone())
                .map(|e| ("s3.endpoint".to_string(), e))
                .into_iter()
                .collect(),
            OutputSpec::Rtmp { urls } => urls
                .iter()
                .enumerate()
                .map(|(i, u)| (format!("urls[{i}]"), u.clone()))
                .collect(),
            OutputSpec::Srt { url, .. } => vec![("url".into(), url.clone())],
        }
    }

    /// Checks what can be checked before building; the error names the
    /// field (relative to the output object) and why.
    pub fn validate(&self) -> Result<(), (String, String)> {
        match self {
            OutputSpec::Record {
                location,
                s3,
                max_duration_s,
            } => {
                check_place(location, s3.as_ref(), false)?;
                match max_duration_s {
                    Some(s) if !(1..=MAX_PART_S).contains(s) => Err((
                        "max_duration_s".into(),
                        format!("must be from 1 to {MAX_PART_S} seconds"),
                    )),
                    _ => Ok(()),
                }
            }
            OutputSpec::Hls {
                location,
                s3,
                variants,
                segment_s,
                window,
            } => {
                check_place(location, s3.as_ref(), true)?;
                hls::playlist::check(variants, *segment_s, *window)
            }
            OutputSpec::Rtmp { urls } => rtmp::check(urls),
            OutputSpec::Srt {
                url,
                latency_ms,
                passphrase,
                ..
            } => srt::check(url, *latency_ms, passphrase.as_ref().map(Secret::expose))
                .map_err(|(f, m)| (f.into(), m)),
        }
    }

    /// Builds the output's bin, named `name`. Blocks (it may create files).
    pub fn build(&self, name: &str, ctx: &BuildContext) -> Result<Box<dyn OutputBin>, MediaError> {
        let start = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day]T[hour][minute][second]Z"
            ))
            .unwrap_or_default();
        let names = Names {
            session: &ctx.session,
            start: &start,
            part: None,
        };
        match self {
            OutputSpec::Record {
                location,
                s3,
                max_duration_s,
            } => {
                let template = match max_duration_s {
                    Some(_) => location::with_part(location),
                    None => location.clone(),
                };
                let (session, start) = (ctx.session.clone(), start.clone());
                let locate_part = move |part| {
                    let names = Names {
                        session: &session,
                        start: &start,
                        part: Some(part),
                    };
                    locate(&template, names, false).map_err(|e| format!("location {e}"))
                };
                let s3 = ctx.s3_settings(s3.as_ref());
                let split = max_duration_s.map(|s| gst::ClockTime::from_seconds(s.into()));
                Ok(Box::new(RecordOutput::new(
                    name,
                    Box::new(locate_part),
                    Context {
                        s3,
                        journal: ctx.journal.clone(),
                        session: ctx.session.clone(),
                        output: name.to_string(),
                    },
                    split,
                )?))
            }
            OutputSpec::Hls {
                location,
                s3,
                variants,
                segment_s,
                window,
            } => {
                let (location, s3) = place(location, s3.as_ref(), names, true, ctx)?;
                let settings = HlsSettings {
                    variants,
                    segment_s: *segment_s,
                    window: *window,
                };
                Ok(Box::new(HlsOutput::new(
                    name,
                    &location,
                    &s3,
                    &settings,
                    &ctx.program,
                )?))
            }
            OutputSpec::Rtmp { urls } => Ok(Box::new(RtmpOutput::new(name, urls)?)),
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

/// A location template filled in with `names` and parsed.
fn locate(template: &str, names: Names, dir: bool) -> Result<location::Location, String> {
    location::expand(template, names).and_then(|l| location::parse(&l, dir))
}

/// Checks where a recording or HLS output writes: its location template
/// (a directory if `dir`) and its S3 settings.
fn check_place(location: &str, s3: Option<&S3Config>, dir: bool) -> Result<(), (String, String)> {
    // A recording (a file, not a directory) may name its part.
    let names = Names {
        part: (!dir).then_some(1),
        ..Names::EXAMPLE
    };
    locate(location, names, dir).map_err(|e| ("location".into(), e))?;
    match s3 {
        Some(s3) => s3.validate().map_err(|(f, m)| (format!("s3.{f}"), m)),
        None => Ok(()),
    }
}

/// Where a recording or HLS output writes, with the S3 settings it uses:
/// its own, filled in from the server's.
fn place(
    location: &str,
    s3: Option<&S3Config>,
    names: Names,
    dir: bool,
    ctx: &BuildContext,
) -> Result<(location::Location, S3Config), MediaError> {
    let location =
        locate(location, names, dir).map_err(|e| MediaError::Output(format!("location {e}")))?;
    Ok((location, ctx.s3_settings(s3)))
}

/// The longest part of a split recording: a day.
const MAX_PART_S: u32 = 24 * 3600;

/// How long an output that has not written a byte gets to end.
const UNSTARTED_DRAIN: Duration = Duration::from_secs(1);

/// What building an output needs from its session and server.
#[derive(Debug, Clone, Default)]
pub struct BuildContext {
    /// The session id, for `{session}` in locations.
    pub session: String,
    /// The server's S3 defaults.
    pub s3: S3Config,
    /// The program's size, rate and audio bitrate.
    pub program: ProgramConfig,
    /// Where WebRTC viewers gather ICE candidates.
    pub ice: IceConfig,
    /// Where recordings note the parts they are writing.
    pub journal: Journal,
}

impl BuildContext {
    /// An output's S3 settings, filled in from the server's.
    fn s3_settings(&self, own: Option<&S3Config>) -> S3Config {
        own.cloned().unwrap_or_default().or(&self.s3)
    }
}

/// The queue an output's input goes into: it holds `seconds` of media for
/// a slow sink (an upload, a congested link) and then drops the oldest, so
/// that one stalled output never holds up the encoders' tees and with them
/// every other output.
pub fn entry_queue(seconds: u64) -> Result<gst::Element, MediaError> {
    let queue = crate::media::make("queue", None)?;
    queue.set_property_from_str("leaky", "downstream");
    queue.set_property("max-size-buffers", 0u32);
    queue.set_property("max-size-bytes", 0u32);
    queue.set_property(
        "max-size-time",
        gst::ClockTime::from_seconds(seconds).nseconds(),
    );
    Ok(queue)
}

/// Makes the muxer fed by `src` take that input as not live. A muxer
/// with live inputs starts at a timeout, with whatever streams have caps
/// by then: an MP4 header or an MPEG-TS stream without the video that
/// came late (mpegtsmux even fails: "Could not create handler for
/// stream"). Not live, it waits for every input and takes buffers
/// strictly in timestamp order. Its sink does not sync to the clock, so
/// nothing waits on it.
pub fn not_live(src: &gst::Pad) {
    src.add_probe(
        gst::PadProbeType::QUERY_UPSTREAM | gst::PadProbeType::PULL,
        |_, info| {
            if let Some(gst::PadProbeData::Query(q)) = &mut info.data
                && let gst::QueryViewMut::Latency(l) = q.view_mut()
            {
                let (_, min, max) = l.result();
                l.set(false, min, max);
            }
            gst::PadProbeReturn::Ok
        },
    );
}

/// h264parse putting the parameter sets before every key frame (a viewer
/// may join, a segment must decode, at any of them) and caps for Annex B:
/// what MPEG-TS muxers take.
pub fn annexb_parser() -> Result<[gst::Element; 2], MediaError> {
    let parse = crate::media::make("h264parse", None)?;
    parse.set_property("config-interval", -1i32);
    let caps = crate::media::capsfilter(
        None,
        &gst::Caps::builder("video/x-h264")
            .field("stream-format", "byte-stream")
            .field("alignment", "au")
            .build(),
    )?;
    Ok([parse, caps])
}

/// Calls `ended` when EOS reaches `pad`, before its element handles it.
pub fn probe_eos(pad: &gst::Pad, ended: impl Fn() + Send + Sync + 'static) {
    pad.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        if let Some(gst::PadProbeData::Event(ev)) = &info.data
            && ev.type_() == gst::EventType::Eos
        {
            ended();
        }
        gst::PadProbeReturn::Ok
    });
}

/// Adds the ghost sink pad `name` (`video` or `audio`) to an output's bin.
/// Whatever goes wrong behind it stays behind it:
/// - a flow error (a sink that failed, a branch still starting or already
///   ended) is not returned to the tee, so the encoders and every other
///   output go on; the output reports its failure on the bus, where the
///   manager sees it;
/// - serialized queries (allocation, drain) are answered here: a queue
///   holds them until its output side has taken everything before them,
///   and the encoder's thread, which asks every branch in turn, would wait
///   that long too. An output that waits (a muxer for its other stream, a
///   slow upload) would stall the program;
/// - a key frame request (a WHEP viewer's PLI) goes no further: every
///   output shares the encoder, whose key frames come every
///   `keyframe_interval_s` for all alike (HLS cuts its segments on them).
///   A viewer starts at the next one.
pub fn add_sink_pad(bin: &gst::Bin, name: &str, target: &gst::Pad) -> Result<(), MediaError> {
    let ghost = crate::media::filtered_ghost_sink(target, contained)
        .map_err(|_| MediaError::Link(format!("{}: {name} pad", bin.name())))?
        .name(name)
        .query_function(|pad, parent, query| match query.view_mut() {
            // Encoded media in system memory: nothing to propose.
            gst::QueryViewMut::Allocation(_) | gst::QueryViewMut::Drain(_) => true,
            _ => gst::Pad::query_default(pad, parent, query),
        })
        .build();
    ghost.add_probe(gst::PadProbeType::EVENT_UPSTREAM, |_, info| {
        match info.event() {
            Some(event) if gst_video::ForceKeyUnitEvent::is(event) => {
                crate::media::drop_probed(info)
            }
            _ => gst::PadProbeReturn::Ok,
        }
    });
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

    /// Where the manager counts bytes and waits for EOS: by default every
    /// sink's pad. An output whose sinks come and go names a stable pad.
    fn watched_pads(&self) -> Vec<gst::Pad> {
        self.bin()
            .iterate_sinks()
            .into_iter()
            .flatten()
            .filter_map(|s| s.static_pad("sink"))
            .collect()
    }

    /// An error from inside the bin: true if the output deals with it
    /// itself (a reconnect), false to mark the output failed.
    fn handle_error(&self, _source: &gst::Object, _reason: &str) -> bool {
        false
    }

    /// The state while running, if the output knows better than "live at
    /// the first buffer" (a connection that is down).
    fn live_state(&self) -> Option<OutputState> {
        None
    }

    /// Sink pads other than `video` and `audio` that take another
    /// rendition of the program (HLS variants, Opus), by pad name.
    fn renditions(&self) -> Vec<(String, Feed)> {
        Vec::new()
    }

    /// A sink inside the bin posted EOS (for bins that forward messages).
    fn on_eos(&self, _source: &gst::Object) {}

    /// Whether it writes something that an EOS completes (a file, a
    /// playlist, a stream's end); a live viewer does not, and is cut off
    /// at once on removal.
    fn finalizes(&self) -> bool {
        true
    }

    /// Per-URL state, for outputs with several destinations.
    fn urls(&self) -> Option<Vec<UrlStatus>> {
        None
    }

    /// Changes the destination list live; `None` if the output has none.
    fn set_urls(&self, _urls: &[String]) -> Option<Result<(), MediaError>> {
        None
    }

    /// After EOS reached the watched pads and before the bin stops: lets
    /// the output finish what is behind them, within `timeout`.
    fn finish(&self, _timeout: Duration) {}
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum OutputState {
    Starting,
    Live,
    /// A destination went away; it is being dialled again.
    Reconnecting,
    Stopping,
    Stopped,
    Failed {
        reason: String,
    },
}

impl OutputState {
    /// The state's name, as the JSON's `state` says it.
    pub fn name(&self) -> &'static str {
        match self {
            OutputState::Starting => "starting",
            OutputState::Live => "live",
            OutputState::Reconnecting => "reconnecting",
            OutputState::Stopping => "stopping",
            OutputState::Stopped => "stopped",
            OutputState::Failed { .. } => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
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
    /// RTMP: each URL (masked) with its own state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urls: Option<Vec<UrlStatus>>,
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

    /// Sets `state` even over a failure.
    fn reset(&self, state: OutputState) {
        self.state.lock().unwrap().0 = state;
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
    /// Shared so that slow calls (finishing, changing URLs) run without
    /// the manager's lock, which the bus handler takes.
    output: Arc<dyn OutputBin>,
    /// (tee, tee src pad) pairs feeding this output.
    links: Vec<(gst::Element, gst::Pad)>,
    /// Renditions it holds.
    renditions: Vec<Feed>,
    progress: Arc<Progress>,
    /// Being removed: still listed (as stopping), so that errors it posts
    /// on its way out are its own, but no longer to be changed.
    removing: bool,
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
        let state = match self.progress.state() {
            s @ (OutputState::Starting | OutputState::Live) => {
                self.output.live_state().unwrap_or(s)
            }
            s => s,
        };
        OutputStatus {
            id: self.id.clone(),
            kind: self.output.kind(),
            target: self.output.target(),
            state,
            urls: self.output.urls(),
            bytes: self.progress.bytes.load(Ordering::Relaxed),
            bitrate_bps,
            uptime_s,
        }
    }
}

pub struct OutputManager {
    pipeline: gst::Pipeline,
    encoder: Arc<Encoder>,
    video_tee: gst::Element,
    audio_tee: gst::Element,
    outputs: Mutex<Vec<Attached>>,
}

impl OutputManager {
    pub fn new(pipeline: &gst::Pipeline, encoder: Arc<Encoder>) -> Self {
        OutputManager {
            pipeline: pipeline.clone(),
            video_tee: encoder.video_tee().clone(),
            audio_tee: encoder.audio_tee().clone(),
            encoder,
            outputs: Mutex::new(Vec::new()),
        }
    }

    /// Starts `output` and links it to the encoders. An output that will
    /// not start (a store that refuses our credentials) stays listed as
    /// failed, with the reason its elements gave; the program and the
    /// other outputs go on.
    pub fn add(&self, id: &str, output: Box<dyn OutputBin>) -> Result<(), MediaError> {
        let bin = output.bin().clone();
        let progress = watch_pads(&output.watched_pads());
        let kind = output.kind();
        let target = output.target();
        let renditions = output.renditions();
        // Listed first, so that an error it posts while starting is its own.
        self.outputs.lock().unwrap().push(Attached {
            id: id.to_string(),
            output: Arc::from(output),
            links: Vec::new(),
            renditions: Vec::new(),
            progress: progress.clone(),
            removing: false,
        });
        match self.start(id, &bin, &renditions) {
            Ok(links) => {
                tracing::info!(output = id, kind, %target, "output added");
                let mut outputs = self.outputs.lock().unwrap();
                if let Some(a) = outputs.iter_mut().find(|a| a.id == id) {
                    a.links = links;
                    a.renditions = renditions.into_iter().map(|(_, k)| k).collect();
                }
            }
            Err(e) => {
                tracing::warn!(output = id, kind, error = %e, "output failed to start");
                let mut guard = progress.state.lock().unwrap();
                if !matches!(guard.0, OutputState::Failed { .. }) {
                    guard.0 = OutputState::Failed {
                        reason: e.to_string(),
                    };
                }
            }
        }
        Ok(())
    }

    /// Runs the bin, then links it to the tees; undoes it all on failure.
    fn start(
        &self,
        id: &str,
        bin: &gst::Bin,
        renditions: &[(String, Feed)],
    ) -> Result<Vec<(gst::Element, gst::Pad)>, MediaError> {
        self.pipeline
            .add(bin)
            .map_err(|_| MediaError::Output(format!("output {id}: cannot add its bin")))?;
        // Running before it is linked: a tee pushing into a pad not yet
        // active would get FLUSHING back.
        if bin.sync_state_with_parent().is_err() {
            self.detach(bin, &[], &[]);
            return Err(MediaError::State(format!("output {id} would not start")));
        }
        let mut links = Vec::new();
        let mut feeds = vec![
            (self.video_tee.clone(), "video".to_string()),
            (self.audio_tee.clone(), "audio".to_string()),
        ];
        let mut acquired = Vec::new();
        for (pad, key) in renditions {
            match self.encoder.acquire(*key) {
                Ok(tee) => {
                    acquired.push(*key);
                    feeds.push((tee, pad.clone()));
                }
                Err(e) => {
                    self.detach(bin, &links, &acquired);
                    return Err(e);
                }
            }
        }
        for (tee, pad_name) in &feeds {
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
                    self.detach(bin, &links, &acquired);
                    return Err(e);
                }
            }
        }
        Ok(links)
    }

    /// Finalizes and removes one output while the program keeps running;
    /// returns its last status (failed if it had to be cut off after
    /// `timeout`).
    pub fn remove(&self, id: &str, timeout: Duration) -> Result<OutputStatus, MediaError> {
        let (output, links, renditions, progress) = {
            let mut outputs = self.outputs.lock().unwrap();
            let a = outputs
                .iter_mut()
                .find(|a| a.id == id && !a.removing)
                .ok_or_else(|| MediaError::Output(format!("no output {id}")))?;
            a.removing = true;
            (
                a.output.clone(),
                a.links.clone(),
                a.renditions.clone(),
                a.progress.clone(),
            )
        };
        let failed_before = matches!(progress.state(), OutputState::Failed { .. });
        progress.set(OutputState::Stopping);
        for (_, src) in &links {
            // Unlink at a buffer boundary, then end the branch.
            src.add_probe(gst::PadProbeType::BLOCK_DOWNSTREAM, |pad, _| {
                if let Some(peer) = pad.peer() {
                    let _ = pad.unlink(&peer);
                    peer.send_event(gst::event::Eos::new());
                }
                gst::PadProbeReturn::Remove
            });
        }
        // An output that has written nothing yet has nothing to finalize,
        // and some muxers (flvmux, mpegtsmux) never pass on an EOS that
        // came before any data: give it a moment only. A live viewer has
        // nothing to finalize at all.
        let wrote = progress.bytes.load(Ordering::Relaxed) > 0;
        let timeout = match (output.finalizes(), wrote) {
            (false, _) => Duration::ZERO,
            (true, true) => timeout,
            (true, false) => timeout.min(UNSTARTED_DRAIN),
        };
        let deadline = Instant::now() + timeout;
        let drained = progress.wait_done(timeout) || !wrote || !output.finalizes();
        if !drained {
            tracing::warn!(output = id, "output did not drain in time; cutting it off");
        }
        output.finish(deadline.saturating_duration_since(Instant::now()));
        self.detach(output.bin(), &links, &renditions);
        if !wrote && !failed_before {
            // Nothing written, nothing lost: an error while ending it is
            // part of the removal (mpegtsmux fails at an EOS on an input
            // that never got caps: "Could not create handler for stream").
            progress.reset(OutputState::Stopped);
        } else {
            progress.set(if drained {
                OutputState::Stopped
            } else {
                OutputState::Failed {
                    reason: "did not finish writing in time".into(),
                }
            });
        }
        let mut outputs = self.outputs.lock().unwrap();
        let pos = outputs
            .iter()
            .position(|a| a.id == id)
            .expect("only remove() unlists an output");
        Ok(outputs.remove(pos).status())
    }

    /// After the encoders got EOS: waits until every output has written its
    /// end. Returns the ids of outputs that did not finish in time.
    pub fn wait_drained(&self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        // Waited on without the lock: a streaming thread reporting an error
        // on its way to EOS needs it.
        let outputs: Vec<(String, Arc<dyn OutputBin>, Arc<Progress>)> = {
            let outputs = self.outputs.lock().unwrap();
            outputs
                .iter()
                .map(|a| (a.id.clone(), a.output.clone(), a.progress.clone()))
                .collect()
        };
        outputs
            .into_iter()
            .filter_map(|(id, output, progress)| {
                progress.set(OutputState::Stopping);
                let left = deadline.saturating_duration_since(Instant::now());
                let done = progress.wait_done(left);
                output.finish(deadline.saturating_duration_since(Instant::now()));
                progress.set(if done {
                    OutputState::Stopped
                } else {
                    OutputState::Failed {
                        reason: "did not finish writing in time".into(),
                    }
                });
                (!done).then_some(id)
            })
            .collect()
    }

    /// An error posted by `source`: if it lives inside an output, that
    /// output handles it (a reconnect) or is marked failed. The program
    /// and the other outputs go on.
    pub fn on_error(&self, source: &gst::Object, reason: &str) -> ErrorOwner {
        let outputs = self.outputs.lock().unwrap();
        let Some(owner) = outputs
            .iter()
            .find(|a| source.has_as_ancestor(a.output.bin()))
        else {
            return ErrorOwner::Program;
        };
        if owner.output.handle_error(source, reason) {
            return ErrorOwner::Recovering(owner.id.clone());
        }
        let mut guard = owner.progress.state.lock().unwrap();
        // The first error says why; later ones follow from it.
        if !matches!(guard.0, OutputState::Failed { .. }) {
            guard.0 = OutputState::Failed {
                reason: reason.to_string(),
            };
        }
        owner.progress.changed.notify_all();
        ErrorOwner::Failed(owner.id.clone())
    }

    /// Changes output `id`'s URL list live.
    /// Blocks while removed URLs close, without the manager's lock.
    pub fn set_urls(&self, id: &str, urls: &[String]) -> Result<OutputStatus, UpdateError> {
        let output = {
            let outputs = self.outputs.lock().unwrap();
            let a = outputs
                .iter()
                .find(|a| a.id == id && !a.removing)
                .ok_or(UpdateError::NotFound)?;
            a.output.clone()
        };
        match output.set_urls(urls) {
            None => Err(UpdateError::NotUpdatable(output.kind())),
            Some(Err(e)) => Err(UpdateError::Media(e)),
            Some(Ok(())) => self.status(id).ok_or(UpdateError::NotFound),
        }
    }

    /// Each output's id and bin, for the figures read off its elements.
    pub fn bins(&self) -> Vec<(String, gst::Bin)> {
        self.outputs
            .lock()
            .unwrap()
            .iter()
            .map(|a| (a.id.clone(), a.output.bin().clone()))
            .collect()
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

    fn detach(&self, bin: &gst::Bin, links: &[(gst::Element, gst::Pad)], renditions: &[Feed]) {
        for (tee, src) in links {
            tee.release_request_pad(src);
        }
        let _ = bin.set_state(gst::State::Null);
        let _ = self.pipeline.remove(bin);
        for key in renditions {
            self.encoder.release(*key);
        }
    }

    /// A sink posted EOS; its output may be waiting for it.
    pub fn on_eos(&self, source: &gst::Object) {
        let outputs = self.outputs.lock().unwrap();
        if let Some(a) = outputs
            .iter()
            .find(|a| source.has_as_ancestor(a.output.bin()))
        {
            a.output.on_eos(source);
        }
    }
}

/// Who owns an error posted on the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorOwner {
    /// Not an output: the program itself.
    Program,
    /// Output `id`, which is now failed.
    Failed(String),
    /// Output `id`, which recovers by itself (a URL redialled).
    Recovering(String),
}

#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("no such output")]
    NotFound,
    #[error("a {0} output has no URL list to change")]
    NotUpdatable(&'static str),
    #[error(transparent)]
    Media(MediaError),
}

/// Probes `pads` (sink pads): first buffer means live, EOS on all of them
/// means finished.
fn watch_pads(pads: &[gst::Pad]) -> Arc<Progress> {
    let progress = Arc::new(Progress {
        state: Mutex::new((OutputState::Starting, 0)),
        changed: Condvar::new(),
        sinks: pads.len(),
        bytes: AtomicU64::new(0),
        rate: Mutex::new(Rate::default()),
    });
    for pad in pads {
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use gst::prelude::*;

    use super::add_sink_pad;
    use crate::media::make;

    /// An output's key frame request stops at its sink pad; its other
    /// upstream events (here a reconfigure) still reach the encoder.
    #[test]
    fn key_frame_requests_stay_in_the_output() {
        crate::media::init().unwrap();
        // Live: paused, its pads are active and it sends nothing.
        let src = make("fakesrc", None).unwrap();
        src.set_property("is-live", true);
        let bin = gst::Bin::new();
        let queue = make("queue", None).unwrap();
        bin.add(&queue).unwrap();
        add_sink_pad(&bin, "video", &queue.static_pad("sink").unwrap()).unwrap();
        let pipeline = gst::Pipeline::new();
        pipeline.add_many([&src, bin.upcast_ref()]).unwrap();
        src.link(&bin).unwrap();

        let (requests, others) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (r, o) = (requests.clone(), others.clone());
        let src_pad = src.static_pad("src").unwrap();
        src_pad.add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
            let event = info.event().unwrap();
            if gst_video::ForceKeyUnitEvent::is(event) {
                r.fetch_add(1, Ordering::SeqCst);
            } else if event.type_() == gst::EventType::Reconfigure {
                o.fetch_add(1, Ordering::SeqCst);
            }
            gst::PadProbeReturn::Ok
        });

        pipeline.set_state(gst::State::Paused).unwrap();
        let inside = queue.static_pad("sink").unwrap();
        let request = gst_video::UpstreamForceKeyUnitEvent::builder()
            .all_headers(true)
            .build();
        let taken = inside.push_event(request);
        inside.push_event(gst::event::Reconfigure::new());
        assert_eq!(requests.load(Ordering::SeqCst), 0);
        assert_eq!(others.load(Ordering::SeqCst), 1);
        assert!(taken, "the request is taken, not refused");
        pipeline.set_state(gst::State::Null).unwrap();
    }
}
