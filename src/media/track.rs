//! A track bin: one incoming RTP track turned into raw media the program can
//! blend or mix without further work.
//!
//! video: [depay] ! [parse] ! decode ! [to I420] ! crop and scale to its
//!        tile ! [to the program's colours] ! name ! round the corners
//!        ! queue
//! audio: depay ! decode (to F32 stereo: `opusfloatdec`) ! [convert !
//!        resample] ! level ! queue
//!
//! (The depayloader is there for RTP, which is every call; the offline
//! benchmark feeds VP8 from files without it.)
//!
//! The `level` says how loud the track is ten times a second (a bus
//! message), for finding the active speaker when the room does not say.
//!
//! Decoding and scaling run on the thread webrtcbin's jitter buffer pushes
//! from, which is the track's own; the queue at the end decouples it from
//! the compositor so that the compositor only blends. The queue leaks old
//! frames instead of blocking, so a slow program never backs up into
//! webrtcbin; it holds as much as lip sync may hold a stream back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use gst::prelude::*;

use super::corners::Corners;
use super::layout::{Fit, Rect, look};
use super::{MediaError, capsfilter, link_chain, make, opusfloatdec, tilescale};
use callcast_signalling::adapter::TrackKind;

/// Raw formats the program works in: what every track bin produces.
pub const VIDEO_FORMAT: &str = "I420";
pub const AUDIO_RATE: i32 = 48_000;
pub const AUDIO_CHANNELS: i32 = 2;

/// How often an audio track's loudness is measured.
const LEVEL_INTERVAL: gst::ClockTime = gst::ClockTime::from_mseconds(100);

/// The most a participant's camera or microphone may be held back to keep
/// lips in sync with the other (rtpbin's `max-ts-offset`, set in
/// [`webrtc::new_webrtcbin`](super::webrtc::new_webrtcbin)): a slow device,
/// as its sender reports tell. Larger offsets are taken for clocks out of
/// step and ignored.
pub const MAX_SYNC_OFFSET: gst::ClockTime = gst::ClockTime::from_mseconds(1000);

/// What a track's queue holds before it leaks: frames or sound held back
/// for lip sync arrive that much ahead of their turn and must all wait
/// (sized by count, a slow microphone cost its participant's tile most of
/// its frames), plus room for the jitter buffer's and decoder's unevenness.
const QUEUE_TIME: gst::ClockTime = gst::ClockTime::from_mseconds(MAX_SYNC_OFFSET.mseconds() + 300);

/// Elements that turn one codec's RTP payload into raw media.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeChain {
    pub kind: TrackKind,
    pub depay: &'static str,
    pub parse: Option<&'static str>,
    pub decoder: &'static str,
}

impl DecodeChain {
    /// The decoder, set up for a track bin.
    pub fn make_decoder(&self) -> Result<gst::Element, MediaError> {
        let decoder = make(self.decoder, None)?;
        // A broken frame costs a key frame request, not the track.
        if decoder.has_property("max-errors") {
            decoder.set_property("max-errors", -1i32);
        }
        // Every track decodes on its own thread already: the decoder's own
        // threads only add hand-offs (14% more CPU for 25 VP8 tracks at
        // 640x360, measured with gst-launch on 2 cores).
        if self.decoder == "vp8dec" {
            decoder.set_property("threads", 1u32);
        }
        Ok(decoder)
    }
}

/// The chain for an encoded (not RTP) stream of media type `media`: VP8
/// only, for now (the offline benchmark's files).
pub fn encoded_chain(media: &str) -> Option<DecodeChain> {
    match media {
        "video/x-vp8" => decode_chain("VP8"),
        _ => None,
    }
}

/// The chain for an RTP `encoding-name`, if callcast can decode it.
pub fn decode_chain(encoding_name: &str) -> Option<DecodeChain> {
    let (kind, depay, parse, decoder) = match encoding_name.to_ascii_uppercase().as_str() {
        "VP8" => (TrackKind::Video, "rtpvp8depay", None, "vp8dec"),
        "VP9" => (TrackKind::Video, "rtpvp9depay", None, "vp9dec"),
        "H264" => (
            TrackKind::Video,
            "rtph264depay",
            Some("h264parse"),
            "avdec_h264",
        ),
        "OPUS" => (
            TrackKind::Audio,
            "rtpopusdepay",
            None,
            opusfloatdec::FACTORY,
        ),
        _ => return None,
    };
    Some(DecodeChain {
        kind,
        depay,
        parse,
        decoder,
    })
}

/// The colours every picture on the program is in: what the VP8
/// decoder gives. The compositor converts any input that differs, every
/// frame; a picture that comes otherwise is converted once, in its track
/// bin, at its tile's size, on its own thread.
pub const COLORIMETRY: &str = "bt601";
pub const CHROMA_SITE: &str = "jpeg";

pub fn video_caps(width: u32, height: u32) -> gst::Caps {
    gst::Caps::builder("video/x-raw")
        .field("format", VIDEO_FORMAT)
        .field("width", width as i32)
        .field("height", height as i32)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .field("colorimetry", COLORIMETRY)
        .field("chroma-site", CHROMA_SITE)
        .build()
}

pub fn audio_caps() -> gst::Caps {
    gst::Caps::builder("audio/x-raw")
        .field("format", "F32LE")
        .field("layout", "interleaved")
        .field("rate", AUDIO_RATE)
        .field("channels", AUDIO_CHANNELS)
        .build()
}

#[derive(Clone)]
pub struct TrackBin {
    bin: gst::Bin,
    kind: TrackKind,
    /// What sizes the picture to its tile (video only).
    sizing: Option<Sizing>,
    /// The last element, which hands frames to the program.
    queue: gst::Element,
}

/// The scaler, which sizes the picture to its tile, cropping to the
/// tile's shape ([`Fit::Cover`]) or letterboxing ([`Fit::Contain`]). Then
/// the participant's name, written at the tile's size, and the tile's
/// corners.
#[derive(Clone)]
struct Sizing {
    scale: tilescale::TileScale,
    label: gst::Element,
    /// The label's font, and whether the track's thread has yet to set
    /// it (see [`TrackBin::set_label`]).
    font: Arc<Mutex<(String, bool)>>,
    corners: Corners,
}

impl Sizing {
    fn set(&self, tile: Rect, fit: Fit) {
        self.scale
            .set_output(tile.width, tile.height, fit == Fit::Cover);
    }
}

impl TrackBin {
    /// Builds the bin for a stream with caps `caps`: RTP as webrtcbin gives
    /// it, or an encoded stream (VP8 from a file, for the offline
    /// benchmark), which skips the depayloader. `tile` is the size to
    /// scale video to, filled as `fit` says.
    pub fn new(name: &str, caps: &gst::CapsRef, tile: Rect, fit: Fit) -> Result<Self, MediaError> {
        let structure = caps
            .structure(0)
            .ok_or_else(|| MediaError::Negotiation(format!("{name}: empty caps")))?;
        let (chain, depay) = if structure.name() == "application/x-rtp" {
            let encoding = structure.get::<&str>("encoding-name").map_err(|_| {
                MediaError::Negotiation(format!("{name}: RTP caps without encoding-name"))
            })?;
            let chain = decode_chain(encoding).ok_or_else(|| {
                MediaError::Negotiation(format!("{name}: cannot decode {encoding}"))
            })?;
            (chain, Some(make(chain.depay, None)?))
        } else {
            let chain = encoded_chain(structure.name()).ok_or_else(|| {
                MediaError::Negotiation(format!("{name}: cannot decode {}", structure.name()))
            })?;
            (chain, None)
        };

        let bin = gst::Bin::builder().name(name).build();
        let decoder = chain.make_decoder()?;
        let mut elements: Vec<gst::Element> = depay.iter().cloned().collect();
        if let Some(parse) = chain.parse {
            elements.push(make(parse, None)?);
        }
        elements.push(decoder.clone());

        let sizing = match chain.kind {
            TrackKind::Video => {
                // A lost packet costs a key frame request, not a smeared tile.
                if let Some(depay) = depay
                    .as_ref()
                    .filter(|d| d.has_property("request-keyframe"))
                {
                    depay.set_property("request-keyframe", true);
                    depay.set_property("wait-for-keyframe", true);
                }
                if let Some(depay) = &depay {
                    ask_with_pli(depay);
                }
                let label = make("textoverlay", None)?;
                label.set_property_from_str("valignment", "bottom");
                label.set_property_from_str("halignment", "left");
                label.set_property("shaded-background", true);
                label.set_property("auto-resize", false);
                label.set_property("silent", true);
                let font = Arc::new(Mutex::new((String::new(), false)));
                apply_font_between_frames(&label, font.clone());
                let sizing = Sizing {
                    scale: make(tilescale::FACTORY, None)?
                        .downcast()
                        .expect("tilescale makes a TileScale"),
                    label,
                    font,
                    corners: Corners::new()?,
                };
                sizing.set(tile, fit);
                // The scaler reads I420 only: a decoder that gives another
                // format is converted before it (VP8 needs no conversion).
                // The scaler holds the tile's size itself, rather than a
                // capsfilter after it: when the tile changes, an element
                // that cannot scale and meets a picture of the old size
                // under new caps fails negotiation, which stops the track
                // and its WebRTC peer. What follows takes any size; the
                // colours are fixed at the tile's size by `Corners`.
                elements.push(make("videoconvert", None)?);
                elements.push(sizing.scale.clone().upcast());
                elements.push(sizing.label.clone());
                elements.extend(sizing.corners.elements().map(Clone::clone));
                Some(sizing)
            }
            TrackKind::Audio => {
                if decoder.has_property("plc") {
                    decoder.set_property("plc", true);
                }
                elements.push(make("audioconvert", None)?);
                elements.push(make("audioresample", None)?);
                elements.push(capsfilter(None, &audio_caps())?);
                let level = make("level", None)?;
                level.set_property("interval", LEVEL_INTERVAL.nseconds());
                level.set_property("post-messages", true);
                elements.push(level);
                None
            }
        };

        // Named so that its thread says what it carries (`video-out:src`,
        // `audio-out:src`) in per-thread CPU figures.
        let queue = make(
            "queue",
            Some(match chain.kind {
                TrackKind::Video => "video-out",
                TrackKind::Audio => "audio-out",
            }),
        )?;
        queue.set_property_from_str("leaky", "downstream");
        queue.set_property("max-size-buffers", 0u32);
        queue.set_property("max-size-bytes", 0u32);
        queue.set_property("max-size-time", QUEUE_TIME.nseconds());
        elements.push(queue.clone());

        let refs: Vec<&gst::Element> = elements.iter().collect();
        bin.add_many(refs.iter().copied())
            .map_err(|_| MediaError::Link(format!("{name}: cannot add elements")))?;
        link_chain(&refs)?;

        let sink = shielded_sink(
            name,
            &elements[0]
                .static_pad("sink")
                .expect("the first has a sink"),
        )
        .map_err(|_| MediaError::Link(format!("{name}: sink ghost pad")))?;
        let src = gst::GhostPad::with_target(&queue.static_pad("src").expect("queues have a src"))
            .map_err(|_| MediaError::Link(format!("{name}: src ghost pad")))?;
        bin.add_pad(&sink)
            .and_then(|_| bin.add_pad(&src))
            .map_err(|_| MediaError::Link(format!("{name}: ghost pads")))?;

        Ok(TrackBin {
            bin,
            kind: chain.kind,
            sizing,
            queue,
        })
    }

    /// The leaky queue that hands frames to the program.
    pub fn queue(&self) -> &gst::Element {
        &self.queue
    }

    pub fn bin(&self) -> &gst::Bin {
        &self.bin
    }

    /// Takes the thread that runs this track as its first buffer comes:
    /// webrtcbin gives each stream its own jitter buffer thread, which
    /// runs the whole bin up to its queue.
    ///
    /// - Names it `label` (the first 15 bytes: Linux's limit), so that
    ///   per-thread CPU (`top -H`, the benchmark) says whose decoding it
    ///   is; otherwise they would all be `rtpjitterbuffer`.
    /// - For video, lowers its priority ([`VIDEO_INPUT_NICE`]) below the
    ///   program's threads (compositor, mixer, encoders, outputs) and the
    ///   sound's. When the machine is short of CPU, the scheduler shares
    ///   it by thread: 49 video decoders at the encoder's priority starve
    ///   its few threads and the whole program falls behind; below it,
    ///   the decoders are the ones to lose frames (in their leaky queues).
    ///   Sound is cheap, and a gap in it is heard.
    pub fn claim_thread(&self, label: &str) {
        let name = thread_name(label);
        let nice = match self.kind {
            TrackKind::Video => VIDEO_INPUT_NICE,
            TrackKind::Audio => 0,
        };
        self.sink_pad()
            .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                // SAFETY: PR_SET_NAME reads a NUL-terminated string of at
                // most 16 bytes, which `name` is; setpriority on this
                // thread's own id changes this thread only (Linux keeps a
                // nice value per thread), and raising it needs no
                // privilege.
                unsafe {
                    libc::prctl(libc::PR_SET_NAME, name.as_ptr());
                    if nice != 0 {
                        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, nice);
                    }
                }
                gst::PadProbeReturn::Remove
            });
    }

    /// Makes the bin wait for the program instead of dropping frames when
    /// it falls behind: for inputs that are not live (files), where
    /// falling behind only means going slower.
    pub fn never_drop(&self) {
        self.queue.set_property_from_str("leaky", "no");
    }

    pub fn kind(&self) -> TrackKind {
        self.kind
    }

    pub fn sink_pad(&self) -> gst::Pad {
        self.bin.static_pad("sink").expect("track bins have a sink")
    }

    pub fn src_pad(&self) -> gst::Pad {
        self.bin.static_pad("src").expect("track bins have a src")
    }

    /// Writes `name` on the picture (nothing if empty), sized for a tile
    /// `height` pixels high whose corners have `radius`.
    pub fn set_label(&self, name: &str, height: u32, radius: u32) {
        let Some(sizing) = &self.sizing else {
            return;
        };
        let label = &sizing.label;
        let silent = name.is_empty() || height < 60;
        if label.property::<bool>("silent") != silent {
            label.set_property("silent", silent);
        }
        if silent {
            return;
        }
        let font = format!("Sans {}px", (height / 16).max(10));
        let pad = look::label_pad(height, radius) as i32;
        if label.property::<Option<String>>("text").as_deref() != Some(name) {
            label.set_property("text", name);
        }
        {
            let mut pending = sizing.font.lock().unwrap();
            if pending.0 != font {
                *pending = (font, true);
            }
        }
        if label.property::<i32>("xpad") != pad {
            label.set_property("xpad", pad);
            label.set_property("ypad", pad);
        }
    }

    /// Rounds the picture's corners by `radius` if the program blends
    /// with `alpha` (see [`Corners`]).
    pub fn set_corners(&self, alpha: bool, radius: u32) {
        if let Some(sizing) = &self.sizing {
            sizing.corners.set(alpha, radius);
        }
    }

    /// Sizes the picture to a new tile; the scaler renegotiates on the
    /// next frame.
    pub fn set_tile(&self, tile: Rect, fit: Fit) {
        if let Some(sizing) = &self.sizing {
            sizing.set(tile, fit);
        }
    }
}

/// The bin's sink, which keeps a failed negotiation inside the track. A
/// picture that meets caps it cannot take (a resize racing a frame, a
/// decoder changing format) returns `not-negotiated` upstream; into
/// webrtcbin that stops the jitter buffer and then the peer's connection,
/// with every other track of the participant. The element that failed
/// retries on its next buffer, so the buffer is dropped instead and the
/// track goes on.
fn shielded_sink(track: &str, target: &gst::Pad) -> Result<gst::GhostPad, gst::glib::BoolError> {
    let track = track.to_string();
    let failing = AtomicBool::new(false);
    let shield = move |result: Result<gst::FlowSuccess, gst::FlowError>| match result {
        Err(gst::FlowError::NotNegotiated) => {
            if !failing.swap(true, Ordering::Relaxed) {
                tracing::warn!(%track, "not negotiated: dropping buffers until it is");
            }
            Ok(gst::FlowSuccess::Ok)
        }
        other => {
            if other.is_ok() && failing.swap(false, Ordering::Relaxed) {
                tracing::info!(%track, "negotiated again");
            }
            other
        }
    };
    Ok(super::filtered_ghost_sink(target, shield)?
        .name("sink")
        .build())
}

/// Makes every key frame request leaving the track a PLI. Depayloaders and
/// decoders ask for "all headers", which rtpsession sends as an RFC 5104
/// FIR where the stream offers one; Janus 1.1 acts on PLI only (it takes
/// FIR for RFC 2032's older packet type) and ignored every request. A PLI
/// is also what browsers send when they need a picture.
fn ask_with_pli(depay: &gst::Element) {
    let Some(sink) = depay.static_pad("sink") else {
        return;
    };
    sink.add_probe(gst::PadProbeType::EVENT_UPSTREAM, |_, info| {
        let Some(gst::PadProbeData::Event(event)) = &info.data else {
            return gst::PadProbeReturn::Ok;
        };
        if let Ok(request) = gst_video::UpstreamForceKeyUnitEvent::parse(event)
            && request.all_headers
        {
            let pli = gst_video::UpstreamForceKeyUnitEvent::builder()
                .running_time(request.running_time)
                .all_headers(false)
                .count(request.count)
                .seqnum(event.seqnum())
                .build();
            info.data = Some(gst::PadProbeData::Event(pli));
        }
        gst::PadProbeReturn::Ok
    });
}

/// The nice value of a video track's thread: the program's threads keep
/// 0, so each weighs about three times as much with the scheduler.
const VIDEO_INPUT_NICE: i32 = 5;

/// `label` cut to a thread name: at most 15 bytes on a character
/// boundary, without NULs, NUL-terminated.
fn thread_name(label: &str) -> std::ffi::CString {
    let bytes: Vec<u8> = label.as_bytes()[..label.floor_char_boundary(15)]
        .iter()
        .copied()
        .filter(|b| *b != 0)
        .collect();
    std::ffi::CString::new(bytes).expect("no NULs left")
}

/// Sets the label's font on the track's own thread, just before the
/// label draws the next frame. A font set from another thread changes
/// the label's pango layout while the track's thread may be drawing it:
/// a segfault in libpango was seen on a track's thread as a layout
/// change resized the labels.
fn apply_font_between_frames(label: &gst::Element, font: Arc<Mutex<(String, bool)>>) {
    let element = label.downgrade();
    label
        .static_pad("video_sink")
        .expect("textoverlay has a video sink")
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            let mut font = font.lock().unwrap();
            if font.1
                && let Some(label) = element.upgrade()
            {
                label.set_property("font-desc", &font.0);
                font.1 = false;
            }
            gst::PadProbeReturn::Ok
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_names_fit_linux() {
        assert_eq!(thread_name("cam:p12").to_bytes(), b"cam:p12");
        assert_eq!(
            thread_name("screen:7281916341234").to_bytes(),
            b"screen:72819163"
        );
        // Cut on a character boundary.
        assert_eq!(thread_name("cam:abcdefghijë").to_bytes(), b"cam:abcdefghij");
    }

    /// A depayloader's request for "all headers" leaves the track as a
    /// plain key frame request (a PLI); the rest of it is kept.
    #[test]
    fn key_frame_requests_leave_as_pli() {
        crate::media::init().unwrap();
        let depay = make("rtpvp8depay", None).unwrap();
        ask_with_pli(&depay);
        // What webrtcbin's side would receive, caught on a pad linked to
        // the depayloader.
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let upstream = gst::Pad::builder(gst::PadDirection::Src)
            .event_function(move |_, _, event| {
                log.lock().unwrap().push(event);
                true
            })
            .build();
        upstream.link(&depay.static_pad("sink").unwrap()).unwrap();
        upstream.set_active(true).unwrap();
        depay.set_state(gst::State::Paused).unwrap();
        let src = depay.static_pad("src").unwrap();
        for all_headers in [true, false] {
            let request = gst_video::UpstreamForceKeyUnitEvent::builder()
                .all_headers(all_headers)
                .count(3)
                .build();
            assert!(src.send_event(request));
        }
        let seen: Vec<_> = seen
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| gst_video::UpstreamForceKeyUnitEvent::parse(e).ok())
            .collect();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(
            seen.iter().all(|r| !r.all_headers && r.count == 3),
            "{seen:?}"
        );
        depay.set_state(gst::State::Null).unwrap();
    }

    /// Tiles resized while pictures stream as fast as the decoder goes:
    /// every resize must renegotiate, none may stop the track.
    #[test]
    fn resizing_mid_stream_never_fails_negotiation() {
        crate::media::init().unwrap();
        let pipeline = gst::parse::launch(
            "videotestsrc num-buffers=400 pattern=ball ! \
             video/x-raw,format=I420,width=320,height=180,framerate=20/1 ! \
             vp8enc deadline=1 cpu-used=16 name=enc",
        )
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let tile = |width, height| Rect {
            x: 0,
            y: 0,
            width,
            height,
        };
        let caps = gst::Caps::builder("video/x-vp8").build();
        let track = TrackBin::new("t", &caps, tile(160, 90), Fit::Cover).unwrap();
        track.never_drop();
        let sink = make("fakesink", None).unwrap();
        sink.set_property("sync", false);
        let seen = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
        let sizes_seen = seen.clone();
        sink.static_pad("sink").unwrap().add_probe(
            gst::PadProbeType::EVENT_DOWNSTREAM,
            move |_, info| {
                if let Some(gst::EventView::Caps(c)) = info.event().map(|e| e.view()) {
                    let s = c.caps().structure(0).unwrap();
                    let size = (
                        s.get::<i32>("width").unwrap(),
                        s.get::<i32>("height").unwrap(),
                    );
                    sizes_seen.lock().unwrap().insert(size);
                }
                gst::PadProbeReturn::Ok
            },
        );
        pipeline
            .add_many([track.bin().upcast_ref(), &sink])
            .unwrap();
        let enc = pipeline.by_name("enc").unwrap();
        enc.link(track.bin()).unwrap();
        track.bin().link(&sink).unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();

        let bus = pipeline.bus().unwrap();
        let sizes = [(160, 90), (640, 360), (212, 120), (96, 54)];
        let mut outcome = None;
        for i in 0.. {
            let (w, h) = sizes[i % sizes.len()];
            track.set_tile(
                tile(w, h),
                if i % 3 == 0 { Fit::Contain } else { Fit::Cover },
            );
            let wait = gst::ClockTime::from_mseconds(2);
            if let Some(msg) =
                bus.timed_pop_filtered(wait, &[gst::MessageType::Eos, gst::MessageType::Error])
            {
                outcome = Some(msg);
                break;
            }
        }
        pipeline.set_state(gst::State::Null).unwrap();
        match outcome.unwrap().view() {
            gst::MessageView::Eos(_) => {}
            other => panic!("{other:?}"),
        }
        let seen: Vec<_> = seen.lock().unwrap().iter().copied().collect();
        assert_eq!(seen, [(96, 54), (160, 90), (212, 120), (640, 360)]);
    }

    /// A negotiation that fails inside a track drops buffers instead of
    /// stopping the stream upstream, and the track recovers by itself.
    #[test]
    fn a_failed_negotiation_stays_inside_the_track() {
        crate::media::init().unwrap();
        let pipeline = gst::parse::launch(
            "videotestsrc is-live=true num-buffers=200 ! \
             video/x-raw,format=I420,width=320,height=180,framerate=200/1 ! \
             identity name=feed",
        )
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        // A bin like a track's: its converter cannot scale, so a gate
        // after it that asks for another size cannot be met.
        let bin = gst::Bin::new();
        let convert = make("videoconvert", None).unwrap();
        let gate = make("capsfilter", None).unwrap();
        let sink = make("fakesink", None).unwrap();
        sink.set_property("sync", false);
        bin.add_many([&convert, &gate, &sink]).unwrap();
        gst::Element::link_many([&convert, &gate, &sink]).unwrap();
        let ghost = shielded_sink("t", &convert.static_pad("sink").unwrap()).unwrap();
        bin.add_pad(&ghost).unwrap();
        // Upstream of a track is RTP, which has nothing to renegotiate;
        // here the source would try, and fail on its own.
        ghost.add_probe(gst::PadProbeType::EVENT_UPSTREAM, |_, info| {
            match info.event().map(|e| e.type_()) {
                Some(gst::EventType::Reconfigure) => crate::media::drop_probed(info),
                _ => gst::PadProbeReturn::Ok,
            }
        });
        pipeline.add(&bin).unwrap();
        pipeline.by_name("feed").unwrap().link(&bin).unwrap();

        let buffers = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = buffers.clone();
        sink.static_pad("sink")
            .unwrap()
            .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                count.fetch_add(1, Ordering::Relaxed);
                gst::PadProbeReturn::Ok
            });
        let wall = gst::Caps::builder("video/x-raw").field("width", 2).build();
        let bus = pipeline.bus().unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        // Closed after 20 frames; opened again once the converter has
        // failed (its warning); then the stream must reach its end.
        let mut closed = false;
        let mut after_reopening = None;
        let types = [
            gst::MessageType::Eos,
            gst::MessageType::Error,
            gst::MessageType::Warning,
        ];
        let outcome = loop {
            let wait = gst::ClockTime::from_mseconds(1);
            match bus.timed_pop_filtered(wait, &types) {
                Some(msg) if matches!(msg.view(), gst::MessageView::Warning(_)) => {
                    let failed = closed && after_reopening.is_none();
                    if failed {
                        gate.set_property("caps", gst::Caps::new_any());
                        after_reopening = Some(buffers.load(Ordering::Relaxed));
                    }
                }
                Some(msg) => break msg,
                None if !closed && buffers.load(Ordering::Relaxed) >= 20 => {
                    gate.set_property("caps", &wall);
                    closed = true;
                }
                None => {}
            }
        };
        pipeline.set_state(gst::State::Null).unwrap();
        assert!(
            matches!(outcome.view(), gst::MessageView::Eos(_)),
            "{outcome:?}"
        );
        let reopened_at = after_reopening.unwrap();
        assert!(
            buffers.load(Ordering::Relaxed) > reopened_at + 50,
            "frames flow again"
        );
    }

    #[test]
    fn known_codecs_have_chains() {
        let vp8 = decode_chain("VP8").unwrap();
        assert_eq!(
            (vp8.kind, vp8.depay, vp8.decoder),
            (TrackKind::Video, "rtpvp8depay", "vp8dec")
        );
        assert_eq!(decode_chain("h264").unwrap().parse, Some("h264parse"));
        assert_eq!(decode_chain("opus").unwrap().kind, TrackKind::Audio);
        assert!(decode_chain("PCMU").is_none());
    }
}
