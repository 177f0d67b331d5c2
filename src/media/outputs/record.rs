//! Recording: fragmented MP4 to a local file or to an S3 object, whole or
//! split into parts of a maximum duration.
//!
//! Fragmented so that a file cut off by a crash still plays up to its last
//! complete fragment. A local file gets its header rewritten at the end
//! with the duration; an S3 object is a multipart upload (awss3sink) that
//! cannot seek back, so it keeps the fragment-only header and relies on
//! the random-access index appended at the end.
//!
//! A part is a muxer and its sink behind the two entry queues. A split
//! recording starts the next part at the first key frame past the part's
//! duration: the video queue moves to the new muxer at that frame, the
//! audio queue at the first audio from the same instant, and the old part
//! gets its EOS and finishes (completing its upload) in the background.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;

use super::location::Location;
use super::s3::S3Config;
use super::{OutputBin, add_sink_pad, entry_queue, not_live, probe_eos};
use crate::journal::{Entry, Journal, Pending};
use crate::media::{MediaError, link_chain, make};

/// Seconds of media held while a disk write is slow.
const FILE_HOLD_S: u64 = 10;
/// Seconds held while a part upload waits for a store that stopped
/// answering: awss3sink retries a part 5 times with 15 s each, and
/// meanwhile the program keeps coming (about 20 MB a minute at the
/// default bitrate). A store back within a minute loses nothing.
const S3_HOLD_S: u64 = 90;

/// The longest a fragment runs (it is cut at the next key frame after).
const FRAGMENT: gst::ClockTime = gst::ClockTime::from_seconds(1);

/// How long a finished part may take to get its end, before it is
/// stopped as it is.
const PART_DRAIN: Duration = Duration::from_secs(60);

/// Where part `n` (from 1) goes.
pub type Locate = Box<dyn Fn(u32) -> Result<Location, String> + Send + Sync>;

/// What every part of a recording is written with.
pub struct Context {
    pub s3: S3Config,
    /// Where each part is noted while it is written.
    pub journal: Journal,
    pub session: String,
    /// The output's id.
    pub output: String,
}

pub struct RecordOutput {
    bin: gst::Bin,
    /// The entry queues' source pads, video then audio: what goes into
    /// the parts.
    inputs: Vec<gst::Pad>,
    parts: Arc<Parts>,
}

impl RecordOutput {
    /// Records to the locations `locate` gives, starting a new part every
    /// `split` if set. The first part's file or upload is created at once,
    /// so that an unwritable path fails now rather than once media flows.
    pub fn new(
        name: &str,
        locate: Locate,
        ctx: Context,
        split: Option<gst::ClockTime>,
    ) -> Result<Self, MediaError> {
        let bin = gst::Bin::builder().name(name).build();
        let location = locate(1).map_err(MediaError::Output)?;
        let hold = match location {
            Location::File(_) => FILE_HOLD_S,
            Location::S3 { .. } => S3_HOLD_S,
        };
        let first = Part::new(1, &location, &ctx)?;
        first.add_to(&bin, &ctx.journal)?;
        let mut inputs = Vec::new();
        for (kind, mux_pad) in [("video", &first.video), ("audio", &first.audio)] {
            let queue = entry_queue(hold)?;
            bin.add(&queue)
                .map_err(|_| MediaError::Link("record queue".into()))?;
            let src = queue.static_pad("src").expect("queue src");
            src.link(mux_pad)
                .map_err(|e| MediaError::Link(format!("record {kind}: {e:?}")))?;
            not_live(&src);
            if kind == "video" {
                gap_before_eos(&src);
            }
            add_sink_pad(&bin, kind, &queue.static_pad("sink").expect("queue sink"))?;
            inputs.push(src);
        }
        video_first(&inputs[0], &inputs[1]);
        let parts = Arc::new(Parts {
            bin: bin.downgrade(),
            locate,
            ctx,
            state: Mutex::new(PartsState {
                audio: first.audio.clone(),
                current: Arc::new(first),
                start: None,
                cut: None,
                closing: false,
                retiring: Vec::new(),
            }),
        });
        if let Some(split) = split {
            parts.watch(&inputs[0], &inputs[1], split);
        }
        Ok(RecordOutput { bin, inputs, parts })
    }
}

/// Holds the audio input until the first video buffer (or the end) has
/// passed the video input. A recording added mid-call gets its first
/// sound up to a frame before its first picture, and the manager shows an
/// output live at the first buffer on its inputs: stopped right then, the
/// recording would end before its video had caps, and the header the
/// muxer makes at the end would have no video track. Held here, live
/// means both streams are in. The muxer waits for both inputs anyway, so
/// nothing is late for it; the queue behind holds the sound meanwhile.
fn video_first(video: &gst::Pad, audio: &gst::Pad) {
    let Some(hold) = audio.add_probe(gst::PadProbeType::BLOCK_DOWNSTREAM, |_, _| {
        gst::PadProbeReturn::Ok
    }) else {
        return;
    };
    let held = Mutex::new(Some((audio.clone(), hold)));
    video.add_probe(
        gst::PadProbeType::BUFFER
            | gst::PadProbeType::BUFFER_LIST
            | gst::PadProbeType::EVENT_DOWNSTREAM,
        move |_, info| {
            let release = match &info.data {
                Some(gst::PadProbeData::Event(ev)) => ev.type_() == gst::EventType::Eos,
                _ => true,
            };
            if !release {
                return gst::PadProbeReturn::Ok;
            }
            if let Some((audio, hold)) = held.lock().unwrap().take() {
                audio.remove_probe(hold);
            }
            gst::PadProbeReturn::Remove
        },
    );
}

/// Marks the end of the video with a gap event just before its EOS.
/// isofmp4mux (0.14) sets one buffer per stream aside while it waits for
/// the other stream, and an EOS that comes meanwhile makes it close the
/// stream without that buffer: the recording's last frame. The gap is
/// then what is set aside (and dropped), not a frame.
fn gap_before_eos(src: &gst::Pad) {
    let end = Mutex::new(None);
    src.add_probe(
        gst::PadProbeType::BUFFER | gst::PadProbeType::EVENT_DOWNSTREAM,
        move |pad, info| {
            match &info.data {
                Some(gst::PadProbeData::Buffer(b)) => {
                    *end.lock().unwrap() = b.pts().map(|p| p + b.duration().unwrap_or_default());
                }
                Some(gst::PadProbeData::Event(ev)) if ev.type_() == gst::EventType::Eos => {
                    if let (Some(at), Some(peer)) = (*end.lock().unwrap(), pad.peer()) {
                        peer.send_event(gst::event::Gap::builder(at).build());
                    }
                }
                _ => {}
            }
            gst::PadProbeReturn::Ok
        },
    );
}

/// Says so when a part's header (made once, at its first output) leaves
/// out a stream: isofmp4mux makes a track only for the inputs that have
/// caps by then, and the part then holds no media of the other kind.
fn warn_if_header_lacks_stream(
    mux: &gst::Element,
    inputs: [(&'static str, gst::Pad); 2],
    number: u32,
) {
    let name = mux.name();
    let src = mux.static_pad("src").expect("muxer src");
    src.add_probe(gst::PadProbeType::EVENT_DOWNSTREAM, move |_, info| {
        let Some(gst::PadProbeData::Event(ev)) = &info.data else {
            return gst::PadProbeReturn::Ok;
        };
        if ev.type_() != gst::EventType::Caps {
            return gst::PadProbeReturn::Ok;
        }
        for (kind, pad) in &inputs {
            if pad.current_caps().is_some() {
                continue;
            }
            // Stopped before its first frame of this kind: nothing lost.
            if pad.sticky_event::<gst::event::Eos>(0).is_some() {
                tracing::info!(part = number, stream = kind, mux = %name, "recording part ended before any media of this kind: no track for it");
            } else {
                tracing::error!(part = number, stream = kind, mux = %name, "recording part has no track for one stream: its input had no caps when the header was made");
            }
        }
        gst::PadProbeReturn::Remove
    });
}

/// One file or object being written: a muxer and its sink.
struct Part {
    /// From 1.
    number: u32,
    mux: gst::Element,
    sink: gst::Element,
    /// The muxer's inputs.
    video: gst::Pad,
    audio: gst::Pad,
    target: String,
    /// The sink saw EOS (it may still be completing its upload).
    ended: Arc<(Mutex<bool>, Condvar)>,
    /// What the journal is to say if the part is cut off.
    entry: Entry,
    /// Noted in the journal while being written.
    pending: Mutex<Option<Pending>>,
}

impl Part {
    fn new(number: u32, location: &Location, ctx: &Context) -> Result<Self, MediaError> {
        let s3 = &ctx.s3;
        let (sink, target, seekable) = match location {
            Location::File(path) => {
                create_file(path)?;
                let sink = make("filesink", Some(&format!("part{number}-sink")))?;
                sink.set_property("location", path.to_string_lossy().as_ref());
                (sink, format!("file://{}", path.display()), true)
            }
            Location::S3 { bucket, key } => {
                let sink = make("awss3sink", Some(&format!("part{number}-sink")))?;
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

        let mux = make("isofmp4mux", Some(&format!("part{number}-mux")))?;
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
        // A recording (or part) added mid-call still starts at 0.
        mux.set_property("offset-to-zero", true);
        let pad = || {
            mux.request_pad_simple("sink_%u")
                .ok_or_else(|| MediaError::Link("isofmp4mux pad".into()))
        };
        let (video, audio) = (pad()?, pad()?);
        warn_if_header_lacks_stream(
            &mux,
            [("video", video.clone()), ("audio", audio.clone())],
            number,
        );

        let ended = Arc::new((Mutex::new(false), Condvar::new()));
        let e = ended.clone();
        probe_eos(&sink.static_pad("sink").expect("sink pad"), move || {
            *e.0.lock().unwrap() = true;
            e.1.notify_all();
        });
        let endpoint = match location {
            Location::S3 { .. } => s3.endpoint.as_deref(),
            Location::File(_) => None,
        };
        let entry =
            Entry::new(&ctx.session, &ctx.output, number, target.clone()).at_endpoint(endpoint);
        Ok(Part {
            number,
            mux,
            sink,
            video,
            audio,
            target,
            ended,
            entry,
            pending: Mutex::new(None),
        })
    }

    /// Puts the part in `bin` and runs it (an upload is created now), and
    /// notes it in `journal` until it is written whole.
    fn add_to(&self, bin: &gst::Bin, journal: &Journal) -> Result<(), MediaError> {
        bin.add_many([&self.mux, &self.sink])
            .map_err(|_| MediaError::Link("record part".into()))?;
        link_chain(&[&self.mux, &self.sink])?;
        for e in [&self.sink, &self.mux] {
            e.sync_state_with_parent()
                .map_err(|_| MediaError::State(format!("recording to {}", self.target)))?;
        }
        *self.pending.lock().unwrap() = journal.begin(self.entry.clone());
        Ok(())
    }

    /// Waits until the sink has handled its EOS (a multipart upload is
    /// then complete), or `deadline` passes without EOS. True if done.
    fn wait_written(&self, deadline: Instant) -> bool {
        let (lock, cvar) = &*self.ended;
        let mut ended = lock.lock().unwrap();
        while !*ended {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            ended = cvar.wait_timeout(ended, left).unwrap().0;
        }
        drop(ended);
        // The EOS handler holds the stream lock until it returns.
        drop(
            self.sink
                .static_pad("sink")
                .expect("sink pad")
                .stream_lock(),
        );
        if let Some(pending) = self.pending.lock().unwrap().take() {
            pending.done();
        }
        true
    }

    /// Takes the part out of `bin`.
    fn remove_from(&self, bin: &gst::Bin) {
        for e in [&self.mux, &self.sink] {
            let _ = e.set_state(gst::State::Null);
            let _ = bin.remove(e);
        }
    }
}

/// The parts of one recording: state shared with the probes on its
/// inputs.
struct Parts {
    /// Weak: the probes holding this live on pads inside the bin.
    bin: gst::glib::WeakRef<gst::Bin>,
    locate: Locate,
    ctx: Context,
    state: Mutex<PartsState>,
}

struct PartsState {
    /// The newest part, where video goes.
    current: Arc<Part>,
    /// The muxer pad audio goes to: the previous part's until audio
    /// reaches the instant where the current one starts.
    audio: gst::Pad,
    /// Running time of the current part's first key frame.
    start: Option<gst::ClockTime>,
    /// Where the current part starts, while audio has yet to move there.
    cut: Option<gst::ClockTime>,
    /// The inputs ended or the output is stopping: no more parts.
    closing: bool,
    /// Earlier parts still finishing.
    retiring: Vec<Arc<Part>>,
}

impl Parts {
    /// Moves the inputs to a new part every `split`.
    fn watch(self: &Arc<Self>, video: &gst::Pad, audio: &gst::Pad, split: gst::ClockTime) {
        let parts = self.clone();
        video.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            if let Some(gst::PadProbeData::Buffer(b)) = &info.data
                && !b.flags().contains(gst::BufferFlags::DELTA_UNIT)
                && let Some(rt) = running_time(pad, b)
            {
                parts.on_key_frame(pad, b.pts(), rt, split);
            }
            gst::PadProbeReturn::Ok
        });
        let parts = self.clone();
        audio.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            if let Some(gst::PadProbeData::Buffer(b)) = &info.data
                && let Some(rt) = running_time(pad, b)
            {
                parts.on_audio(pad, rt);
            }
            gst::PadProbeReturn::Ok
        });
        let parts = self.clone();
        probe_eos(video, move || parts.close());
        // The recording ends while audio is still on the previous part:
        // the current one gets its audio EOS too.
        let parts = self.clone();
        probe_eos(audio, move || {
            let pending = {
                let mut state = parts.state.lock().unwrap();
                state.cut.take().map(|_| state.current.audio.clone())
            };
            if let Some(pad) = pending {
                pad.send_event(gst::event::Eos::new());
            }
        });
    }

    /// Video at a key frame with presentation time `pts`, running time
    /// `rt`: starts the next part here if the current one is long enough.
    fn on_key_frame(
        &self,
        pad: &gst::Pad,
        pts: Option<gst::ClockTime>,
        rt: gst::ClockTime,
        split: gst::ClockTime,
    ) {
        let number = {
            let mut state = self.state.lock().unwrap();
            match state.start {
                None => {
                    state.start = Some(rt);
                    return;
                }
                Some(start) if rt < start + split || state.closing || state.cut.is_some() => {
                    return;
                }
                Some(_) => state.current.number + 1,
            }
        };
        let Some(bin) = self.bin.upgrade() else {
            return;
        };
        // Made without the lock: creating an upload takes a round trip.
        let next = (self.locate)(number)
            .map_err(MediaError::Output)
            .and_then(|l| Part::new(number, &l, &self.ctx))
            .and_then(|p| match p.add_to(&bin, &self.ctx.journal) {
                Ok(()) => Ok(p),
                Err(e) => {
                    p.remove_from(&bin);
                    Err(e)
                }
            });
        let next = match next {
            Ok(next) => Arc::new(next),
            Err(e) => {
                // Keep writing the current part rather than lose media;
                // the output shows failed with the reason.
                let msg = format!("cannot start part {number}: {e}");
                tracing::warn!(output = %bin.name(), %msg, "recording part");
                let _ = bin.post_message(
                    gst::message::Error::builder(gst::ResourceError::OpenWrite, &msg)
                        .src(&bin)
                        .build(),
                );
                self.state.lock().unwrap().start = Some(rt);
                return;
            }
        };
        let old = {
            let mut state = self.state.lock().unwrap();
            let old = std::mem::replace(&mut state.current, next.clone());
            let _ = pad.unlink(&old.video);
            if let Err(e) = pad.link(&next.video) {
                tracing::error!(output = %bin.name(), error = ?e, "recording part: video link");
            }
            state.start = Some(rt);
            state.cut = Some(rt);
            state.retiring.retain(|p| !*p.ended.0.lock().unwrap());
            state.retiring.push(old.clone());
            old
        };
        // The old part's video ends where this frame starts; the gap keeps
        // its last frame (see `gap_before_eos`).
        if let Some(pts) = pts {
            old.video.send_event(gst::event::Gap::builder(pts).build());
        }
        old.video.send_event(gst::event::Eos::new());
        tracing::info!(output = %bin.name(), target = %next.target, "recording part started");
        retire(old, bin.downgrade());
    }

    /// Audio with running time `rt`: moves to the current part once it
    /// reaches the part's start. Audio that gets to a part's end before
    /// the video has found the key frame to cut at goes on into the old
    /// part: waiting would stall the muxer, which takes both inputs in
    /// timestamp order. The inputs thus stay within a buffer or two of
    /// each other, and a part's audio ends that close to its video.
    fn on_audio(&self, pad: &gst::Pad, rt: gst::ClockTime) {
        let mut state = self.state.lock().unwrap();
        let Some(cut) = state.cut.filter(|cut| rt >= *cut) else {
            return;
        };
        let next = state.current.audio.clone();
        let old = std::mem::replace(&mut state.audio, next.clone());
        state.cut = None;
        let _ = pad.unlink(&old);
        if let Err(e) = pad.link(&next) {
            tracing::error!(error = ?e, at = %cut, "recording part: audio link");
        }
        drop(state);
        old.send_event(gst::event::Eos::new());
    }

    /// No more parts from now on.
    fn close(&self) {
        self.state.lock().unwrap().closing = true;
    }
}

/// Stops a part that has been replaced once it has written its end.
fn retire(part: Arc<Part>, bin: gst::glib::WeakRef<gst::Bin>) {
    let spawned = std::thread::Builder::new()
        .name("record-part-end".into())
        .spawn(move || {
            if !part.wait_written(Instant::now() + PART_DRAIN) {
                tracing::warn!(target = %part.target, "recording part did not end in time; stopping it");
            }
            if let Some(bin) = bin.upgrade() {
                part.remove_from(&bin);
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start a thread to end a recording part");
    }
}

/// A buffer's presentation time as running time on `pad`.
fn running_time(pad: &gst::Pad, buffer: &gst::BufferRef) -> Option<gst::ClockTime> {
    let pts = buffer.pts()?;
    let segment = pad.sticky_event::<gst::event::Segment>(0)?;
    segment
        .segment()
        .downcast_ref::<gst::ClockTime>()?
        .to_running_time(pts)
}

/// Creates `path` and its directory.
fn create_file(path: &std::path::Path) -> Result<(), MediaError> {
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

    /// Where the current part goes.
    fn target(&self) -> String {
        self.parts.state.lock().unwrap().current.target.clone()
    }

    /// The muxer's inputs: the parts behind them change.
    fn watched_pads(&self) -> Vec<gst::Pad> {
        self.inputs.clone()
    }

    /// EOS has gone into the muxers; waits until every part still open has
    /// written its end (its upload is complete). Stopping a sink before
    /// that would abort its upload.
    fn finish(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        self.parts.close();
        let open: Vec<Arc<Part>> = {
            let state = self.parts.state.lock().unwrap();
            let mut open = state.retiring.clone();
            open.push(state.current.clone());
            open
        };
        for part in open {
            part.wait_written(deadline);
        }
    }
}

impl Drop for RecordOutput {
    fn drop(&mut self) {
        self.parts.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::init;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    /// The `trak` boxes in the `moov` box of an MP4 file.
    fn tracks(mp4: &[u8]) -> usize {
        fn boxes(data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
            let mut rest = data;
            std::iter::from_fn(move || {
                let size = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
                let kind = rest.get(4..8)?;
                let body = rest.get(8..size)?;
                rest = &rest[size..];
                Some((kind, body))
            })
        }
        boxes(mp4)
            .filter(|(kind, _)| *kind == b"moov")
            .flat_map(|(_, moov)| boxes(moov).filter(|(kind, _)| *kind == b"trak"))
            .count()
    }

    /// A recording to a file in its own directory, fed by live test
    /// sources whose picture is held back until `show_picture`.
    struct Rig {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        record: RecordOutput,
        pipeline: gst::Pipeline,
        video: gst::Pad,
        held: Option<gst::PadProbeId>,
        /// Sound buffers that came to the recording, and that went in.
        sound_in: Arc<AtomicUsize>,
        sound_out: Arc<AtomicUsize>,
        /// Some sound went in before the muxer had the picture's caps.
        sound_before_caps: Arc<AtomicBool>,
    }

    impl Rig {
        fn start() -> Rig {
            init().unwrap();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("late-video.mp4");
            let target = path.clone();
            let ctx = Context {
                s3: S3Config::default(),
                journal: Journal::default(),
                session: "s".into(),
                output: "record-1".into(),
            };
            let locate: Locate = Box::new(move |_| Ok(Location::File(target.clone())));
            let record = RecordOutput::new("rec", locate, ctx, None).unwrap();
            let pipeline = gst::Pipeline::new();
            pipeline.add(&record.bin).unwrap();
            let chain = |desc: &str, pad: &str| {
                let src = gst::parse::bin_from_description(desc, true).unwrap();
                pipeline.add(&src).unwrap();
                let src = src.static_pad("src").unwrap();
                src.link(&record.bin.static_pad(pad).unwrap()).unwrap();
                src
            };
            chain(
                "audiotestsrc is-live=true ! audioconvert ! avenc_aac ! aacparse",
                "audio",
            );
            let video = chain(
                "videotestsrc is-live=true ! video/x-raw,width=320,height=180,framerate=20/1 \
                 ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=20 ! h264parse",
                "video",
            );
            // The picture comes late, as it does to a recording added
            // between two frames.
            let held = video
                .add_probe(gst::PadProbeType::BLOCK_DOWNSTREAM, |_, _| {
                    gst::PadProbeReturn::Ok
                })
                .unwrap();
            let sound_in = Arc::new(AtomicUsize::new(0));
            let counted = sound_in.clone();
            record.bin.static_pad("audio").unwrap().add_probe(
                gst::PadProbeType::BUFFER,
                move |_, _| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    gst::PadProbeReturn::Ok
                },
            );
            let sound_out = Arc::new(AtomicUsize::new(0));
            let sound_before_caps = Arc::new(AtomicBool::new(false));
            let (out, early) = (sound_out.clone(), sound_before_caps.clone());
            let video_mux_pad = record.inputs[0].peer().unwrap();
            record.inputs[1].add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                if out.fetch_add(1, Ordering::SeqCst) == 0 && video_mux_pad.current_caps().is_none()
                {
                    early.store(true, Ordering::SeqCst);
                }
                gst::PadProbeReturn::Ok
            });
            pipeline.set_state(gst::State::Playing).unwrap();
            let rig = Rig {
                _dir: dir,
                path,
                record,
                pipeline,
                video,
                held: Some(held),
                sound_in,
                sound_out,
                sound_before_caps,
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while rig.sound_in.load(Ordering::SeqCst) < 20 {
                assert!(Instant::now() < deadline, "no sound came");
                std::thread::sleep(Duration::from_millis(10));
            }
            rig
        }

        fn show_picture(&mut self) {
            if let Some(held) = self.held.take() {
                self.video.remove_probe(held);
            }
        }

        /// Ends both inputs as the output manager does (unlinked, then
        /// EOS), lets the recording write its end, and returns its tracks.
        fn stop(self) -> usize {
            for name in ["video", "audio"] {
                let pad = self.record.bin.static_pad(name).unwrap();
                if let Some(peer) = pad.peer() {
                    peer.unlink(&pad).unwrap();
                }
                pad.send_event(gst::event::Eos::new());
            }
            let part = self.record.parts.state.lock().unwrap().current.clone();
            let written = part.wait_written(Instant::now() + Duration::from_secs(10));
            self.pipeline.set_state(gst::State::Null).unwrap();
            assert!(written, "the recording did not end");
            tracks(&std::fs::read(&self.path).unwrap())
        }
    }

    #[test]
    fn sound_waits_for_the_first_picture() {
        let mut rig = Rig::start();
        assert_eq!(
            rig.sound_out.load(Ordering::SeqCst),
            0,
            "sound went in first"
        );
        rig.show_picture();
        std::thread::sleep(Duration::from_millis(1000));
        assert!(rig.sound_out.load(Ordering::SeqCst) > 0, "no sound went in");
        assert!(!rig.sound_before_caps.load(Ordering::SeqCst));
        assert_eq!(rig.stop(), 2);
    }

    /// Stopped before its first picture, a recording still ends, with
    /// the sound it got.
    #[test]
    fn stopped_before_any_picture_it_ends_with_its_sound() {
        let rig = Rig::start();
        assert_eq!(rig.stop(), 1);
    }
}
