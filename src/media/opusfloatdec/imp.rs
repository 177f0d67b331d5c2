//! The `opusfloatdec` element: GStreamer glue around [`super::libopus`].

use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_audio::prelude::*;
use gst_audio::subclass::prelude::*;

use super::libopus::{CHANNELS, CONCEAL_STEP, Decoder, MAX_FRAME, RATE, packet_samples};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "opusfloatdec",
        gst::DebugColorFlags::empty(),
        Some("callcast's single-stream Opus decoder"),
    )
});

#[derive(Default)]
pub struct OpusFloatDec {
    state: Mutex<Option<State>>,
}

struct State {
    decoder: Decoder,
    /// Decoded samples before they are copied into a buffer, kept from
    /// packet to packet.
    pcm: Vec<f32>,
}

#[glib::object_subclass]
impl ObjectSubclass for OpusFloatDec {
    const NAME: &'static str = "CallcastOpusFloatDec";
    type Type = super::OpusFloatDec;
    type ParentType = gst_audio::AudioDecoder;
}

impl ObjectImpl for OpusFloatDec {}

impl GstObjectImpl for OpusFloatDec {}

impl ElementImpl for OpusFloatDec {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Opus decoder (single stream, float)",
                "Codec/Decoder/Audio",
                "Decodes a mono or stereo Opus stream to 48 kHz F32 stereo \
                 through libopus's single-stream API",
                "callcast",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let sink = gst::Caps::builder("audio/x-opus")
                .field("channel-mapping-family", 0i32)
                .build();
            let src = gst_audio::AudioCapsBuilder::new_interleaved()
                .format(gst_audio::AudioFormat::F32le)
                .rate(RATE as i32)
                .channels(CHANNELS as i32)
                .build();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &sink,
                )
                .expect("sink template"),
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &src,
                )
                .expect("src template"),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl AudioDecoderImpl for OpusFloatDec {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let decoder =
            Decoder::new().map_err(|e| gst::error_msg!(gst::LibraryError::Init, ["{e}"]))?;
        *self.state.lock().unwrap() = Some(State {
            decoder,
            pcm: vec![0.0; MAX_FRAME * CHANNELS],
        });
        // Lost packets come as gaps, concealed when the base class's `plc`
        // property is on. (Said here: the base class forgets it on every
        // start.)
        self.obj().set_plc_aware(true);
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = None;
        Ok(())
    }

    /// Any channel count in: the default would offer upstream only what
    /// the source pad gives (stereo) and refuse a mono stream.
    fn caps(&self, filter: Option<&gst::Caps>) -> gst::Caps {
        let caps = self.obj().sink_pad().pad_template_caps();
        match filter {
            Some(filter) => filter.intersect_with_mode(&caps, gst::CapsIntersectMode::First),
            None => caps,
        }
    }

    fn set_format(&self, _caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info =
            gst_audio::AudioInfo::builder(gst_audio::AudioFormat::F32le, RATE, CHANNELS as u32)
                .build()
                .map_err(|e| gst::loggable_error!(CAT, "output format: {e}"))?;
        self.obj()
            .set_output_format(&info)
            .map_err(|e| gst::loggable_error!(CAT, "output format: {e:?}"))
    }

    fn handle_frame(
        &self,
        buffer: Option<&gst::Buffer>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        // No buffer: drain. Nothing is held back between packets.
        let Some(buffer) = buffer else {
            return Ok(gst::FlowSuccess::Ok);
        };
        let obj = self.obj();
        let mut guard = self.state.lock().unwrap();
        let state = guard.as_mut().ok_or(gst::FlowError::NotNegotiated)?;

        // Samples per channel the output covers, of which the first
        // `decoded` are in `state.pcm` and the rest silence.
        let (samples, decoded) = if buffer.size() == 0 {
            // A gap the base class asks to be concealed.
            let samples = buffer.duration().map_or(0, |d| {
                (u128::from(d.nseconds()) * u128::from(RATE) / 1_000_000_000) as usize
            });
            if samples == 0 {
                drop(guard);
                return obj.finish_frame(None, 1);
            }
            (samples, conceal(state, samples))
        } else {
            let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
            if map.starts_with(b"OpusHead") || map.starts_with(b"OpusTags") {
                // Ogg-style headers (from opusenc): nothing to play.
                drop(guard);
                return obj.finish_frame(None, 1);
            }
            match packet_samples(&map).and_then(|n| {
                let n = state.decoder.decode(&map, &mut state.pcm[..n * CHANNELS])?;
                Ok(n)
            }) {
                Ok(n) => (n, n),
                Err(e) => {
                    drop(guard);
                    gst_audio::audio_decoder_error!(
                        obj,
                        1,
                        gst::StreamError::Decode,
                        ["packet of {} bytes skipped: {e}", map.len()]
                    )?;
                    return obj.finish_frame(None, 1);
                }
            }
        };

        let mut out = obj.allocate_output_buffer(samples * CHANNELS * 4);
        {
            let out = out.get_mut().ok_or(gst::FlowError::Error)?;
            let mut map = out.map_writable().map_err(|_| gst::FlowError::Error)?;
            let (head, silence) = map.split_at_mut(decoded * CHANNELS * 4);
            for (bytes, sample) in head.chunks_exact_mut(4).zip(&state.pcm) {
                bytes.copy_from_slice(&sample.to_le_bytes());
            }
            silence.fill(0);
        }
        drop(guard);
        obj.finish_frame(Some(out), 1)
    }

    fn flush(&self, _hard: bool) {
        if let Some(state) = self.state.lock().unwrap().as_mut() {
            state.decoder.reset();
        }
    }
}

/// Conceals the start of a gap of `samples`: libopus's concealment for
/// up to 120 ms, silence after it (as `opusdec`), so that the timeline
/// stays whole. Returns the samples per channel concealed into
/// `state.pcm`.
fn conceal(state: &mut State, samples: usize) -> usize {
    let concealed = samples.min(MAX_FRAME) / CONCEAL_STEP * CONCEAL_STEP;
    if concealed == 0 {
        return 0;
    }
    state
        .decoder
        .conceal(&mut state.pcm[..concealed * CHANNELS])
        .unwrap_or_else(|e| {
            gst::warning!(CAT, "concealment failed, silence instead: {e}");
            0
        })
}
