//! One session's pipeline: ingest, program, encoders and outputs put
//! together, its bus, and how it ends.

use std::sync::{Arc, Weak};
use std::time::Duration;

use callcast_signalling::adapter::PeerId;
use gst::prelude::*;
use serde::Serialize;
use tokio::sync::mpsc;

use super::MediaError;
use super::cards::{CardSpec, Cards};
use super::encode::Encoder;
use super::ingest::{Ingest, RetiredTrack, TrackKey};
use super::outputs::{ErrorOwner, OutputManager};
use super::program::{Pace, Program};
use super::stats::{
    FrameCounter, Health, MediaStats, PipelineCounts, StallReport, pipeline_counts,
};
use crate::config::{IngestConfig, ProgramConfig};

/// What the media side tells the session; sent from GStreamer threads.
#[derive(Debug)]
pub enum MediaEvent {
    /// A local ICE candidate to signal to the SFU.
    LocalCandidate {
        peer: PeerId,
        sdp_m_line_index: u32,
        candidate: String,
    },
    /// Some element's latency changed: redistribute it (blocking).
    LatencyChanged,
    /// A track bin was replaced; remove it with `Ingest::retire` (blocking).
    TrackRetired(RetiredTrack),
    /// A video track put out its first frame, or its first after a pause:
    /// the layout can show it again.
    VideoFlowing(TrackKey),
    /// The program blends with alpha now: lay out again to round the
    /// corners.
    BlendingWithAlpha,
    /// An element failed; `output` names the output it belonged to.
    Error {
        element: String,
        message: String,
        output: Option<String>,
    },
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ProgramStatus {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Frames composited since the start.
    pub frames: u64,
    /// Running time of the latest frame, in seconds.
    pub position_s: f64,
}

pub struct SessionMedia {
    pipeline: gst::Pipeline,
    cfg: ProgramConfig,
    pub ingest: Ingest,
    pub outputs: OutputManager,
    program: Arc<Program>,
    cards: Cards,
    encoder: Arc<Encoder>,
    frames: Arc<FrameCounter>,
    health: Health,
    events: mpsc::UnboundedSender<MediaEvent>,
}

impl SessionMedia {
    /// Builds the pipeline and sets it playing: the program runs (black)
    /// before anyone joins. Blocks.
    pub fn start(
        name: &str,
        program_cfg: &ProgramConfig,
        ingest_cfg: &IngestConfig,
    ) -> Result<(Arc<Self>, mpsc::UnboundedReceiver<MediaEvent>), MediaError> {
        super::init()?;
        super::webrtc::prepare_dtls_certificate();
        let (events, events_rx) = mpsc::unbounded_channel();
        let pipeline = gst::Pipeline::builder().name(name).build();
        // Tiles may arrive as late as the jitter buffer lets them, plus a
        // frame of decoding.
        let input_latency = gst::ClockTime::from_mseconds(
            ingest_cfg.jitter_latency_ms as u64 + 1000 / program_cfg.fps.max(1) as u64,
        );
        let program = Arc::new(Program::new(
            &pipeline,
            program_cfg,
            input_latency,
            Pace::Live,
        )?);
        let encoder = Arc::new(Encoder::new(&pipeline, &program, program_cfg)?);
        let frames = FrameCounter::attach(&program.video_src());
        let x264 = encoder.video_encoder();
        let health = Health::attach(
            &pipeline,
            frames.clone(),
            x264,
            &x264.static_pad("src").expect("encoders have a src pad"),
        );
        let outputs = OutputManager::new(&pipeline, encoder.clone());
        let ingest = Ingest::new(
            &pipeline,
            program.clone(),
            ingest_cfg.clone(),
            events.clone(),
        );
        let media = Arc::new(SessionMedia {
            pipeline: pipeline.clone(),
            cfg: program_cfg.clone(),
            ingest,
            outputs,
            cards: Cards::new(&pipeline, program_cfg.fps),
            program,
            encoder,
            frames,
            health,
            events: events.clone(),
        });
        watch_bus(&pipeline, Arc::downgrade(&media), events);
        pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| MediaError::State("the pipeline would not start".into()))?;
        Ok((media, events_rx))
    }

    pub fn pipeline(&self) -> &gst::Pipeline {
        &self.pipeline
    }

    /// Draws exactly these cards (placeholders, "+N") on the program.
    pub fn set_cards(&self, cards: &[CardSpec]) {
        self.cards.set(&self.program, cards);
    }

    /// Whether pictures may have rounded corners: asks the program to
    /// blend with alpha the first time (a [`MediaEvent::BlendingWithAlpha`]
    /// says when it does).
    pub fn round_corners(&self) -> bool {
        if !self.program.alpha() {
            let events = self.events.clone();
            self.program.use_alpha(move || {
                let _ = events.send(MediaEvent::BlendingWithAlpha);
            });
        }
        self.program.alpha()
    }

    /// How long tiles take to glide to a new place.
    pub fn set_transition(&self, transition: std::time::Duration) {
        self.program.set_transition(transition);
    }

    /// Blocks.
    pub fn recalculate_latency(&self) {
        let _ = self.pipeline.recalculate_latency();
    }

    pub fn counts(&self) -> PipelineCounts {
        pipeline_counts(self.pipeline.upcast_ref())
    }

    pub fn program_status(&self) -> ProgramStatus {
        ProgramStatus {
            width: self.cfg.width,
            height: self.cfg.height,
            fps: self.cfg.fps,
            frames: self.frames.frames(),
            position_s: self.frames.position_s(),
        }
    }

    /// Takes a reading of the counters the rates come from (about once
    /// a second); says when the program stalls or comes back.
    pub fn sample_health(&self) -> Option<StallReport> {
        self.health
            .sample(&self.ingest.parts(), &self.outputs.bins())
    }

    /// The session's figures now. Blocks (webrtcbin's statistics).
    pub fn stats(&self) -> MediaStats {
        self.health.snapshot(
            &self.ingest.parts(),
            &self.outputs.bins(),
            self.outputs.statuses(),
        )
    }

    /// The pipeline as Graphviz DOT: elements, pads, caps and states.
    /// Not element properties: sinks hold stream keys, passphrases and
    /// S3 keys in theirs.
    pub fn graph(&self) -> String {
        use gst::DebugGraphDetails as D;
        self.pipeline
            .debug_to_dot_data(D::MEDIA_TYPE | D::CAPS_DETAILS | D::STATES)
            .to_string()
    }

    /// Ends the program and finalizes every output, waiting at most
    /// `timeout` for them; then stops everything. Returns the outputs that
    /// could not finish. Blocks.
    pub fn stop(&self, timeout: Duration) -> Vec<String> {
        self.encoder.finish();
        let unfinished = self.outputs.wait_drained(timeout);
        let _ = self.pipeline.set_state(gst::State::Null);
        unfinished
    }
}

impl Drop for SessionMedia {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
        if let Some(bus) = self.pipeline.bus() {
            bus.unset_sync_handler();
        }
    }
}

/// An error's message with the first line of its element's detail (the
/// debug text after its source location), which says what went wrong:
/// "Could not open resource for writing: Failed to create multipart
/// upload: ... (SignatureDoesNotMatch)".
fn reason(message: &str, debug: Option<impl AsRef<str>>) -> String {
    let detail = debug.as_ref().and_then(|d| {
        let line = d.as_ref().split_once('\n')?.1.lines().next()?;
        let short: String = line.chars().take(120).collect();
        (!short.is_empty()).then_some(short)
    });
    match detail {
        Some(d) => format!("{}: {d}", message.trim_end_matches('.')),
        None => message.to_string(),
    }
}

/// Handles bus messages where they are posted: logging and output state
/// right away, anything that blocks handed to the session as an event.
fn watch_bus(
    pipeline: &gst::Pipeline,
    media: Weak<SessionMedia>,
    events: mpsc::UnboundedSender<MediaEvent>,
) {
    let bus = pipeline.bus().expect("pipelines have a bus");
    bus.set_sync_handler(move |_, msg| {
        use gst::MessageView;
        match msg.view() {
            MessageView::Error(err) => {
                let element = msg
                    .src()
                    .map(|s| s.path_string().to_string())
                    .unwrap_or_default();
                let message = err.error().to_string();
                let owner = match (msg.src(), media.upgrade()) {
                    (Some(src), Some(m)) => m.outputs.on_error(src, &reason(&message, err.debug())),
                    _ => ErrorOwner::Program,
                };
                let output = match owner {
                    ErrorOwner::Program => None,
                    ErrorOwner::Failed(id) => Some(id),
                    // Logged by the output, which retries; its debug text
                    // can name the destination, secrets included.
                    ErrorOwner::Recovering(_) => return gst::BusSyncReply::Drop,
                };
                tracing::error!(%element, %message, debug = ?err.debug(), ?output, "pipeline error");
                let _ = events.send(MediaEvent::Error {
                    element,
                    message,
                    output,
                });
            }
            // An audio track's loudness: the level element in its bin.
            MessageView::Element(e) if e.structure().is_some_and(|s| s.name() == "level") => {
                let bin = msg.src().and_then(|s| s.parent());
                let rms = e.structure().and_then(|s| s.get::<gst::glib::ValueArray>("rms").ok());
                if let (Some(bin), Some(rms), Some(m)) = (bin, rms, media.upgrade()) {
                    let loudest = rms
                        .iter()
                        .filter_map(|v| v.get::<f64>().ok())
                        .fold(f64::NEG_INFINITY, f64::max);
                    m.ingest.note_level(&bin.name(), loudest);
                }
                return gst::BusSyncReply::Drop;
            }
            // Bins that forward their children's messages (HLS) do so to
            // say when a sink has written its end.
            MessageView::Element(e)
                if e.structure().is_some_and(|s| s.name() == "GstBinForwarded") =>
            {
                if let Ok(inner) = e.structure().unwrap().get::<gst::Message>("message")
                    && inner.type_() == gst::MessageType::Eos
                    && let (Some(src), Some(m)) = (inner.src(), media.upgrade())
                {
                    m.outputs.on_eos(src);
                }
            }
            MessageView::Warning(w) => {
                let element = msg.src().map(|s| s.path_string().to_string());
                tracing::warn!(element = ?element, message = %w.error(), debug = ?w.debug(), "pipeline warning");
            }
            MessageView::Latency(_) => {
                let _ = events.send(MediaEvent::LatencyChanged);
            }
            _ => {}
        }
        gst::BusSyncReply::Drop
    });
}
