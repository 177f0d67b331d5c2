//! `callcast bench-offline`: callcast's media path without the network,
//! as fast as it goes, for `scripts/bench-vs-ffmpeg` to time against
//! ffmpeg and against the floor (decoding and encoding alone).
//!
//! Stages, each run in its own process so that its CPU time is its own:
//! - `composite`: N copies of a VP8 clip (IVF), each through callcast's
//!   own track bin (decode, scale to its grid tile), the program's
//!   compositor, and the program's x264 settings.
//! - `render`: the same without the encoder, writing the raw composite
//!   (I420) to a file: the encode stage's input.
//! - `decode`: the N decoders alone.
//! - `encode`: the program's encoder alone, on a raw composite.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use gst::prelude::*;

use crate::config::ProgramConfig;
use crate::media::encode::h264_chain;
use crate::media::layout::{Fit, LayoutConfig, Rect, grid::grid};
use crate::media::program::{Pace, Program};
use crate::media::track::{TrackBin, encoded_chain};
use crate::media::{link_chain, make};
use crate::procstat;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Composite,
    Render,
    Decode,
    Encode,
}

#[derive(Debug, Clone)]
pub struct OfflineOptions {
    pub stage: Stage,
    /// A VP8 clip in IVF (composite, render, decode).
    pub clip: PathBuf,
    pub participants: usize,
    /// Frames in the clip: the program makes as many.
    pub frames: u32,
    pub program: ProgramConfig,
    /// The raw composite: written by `render`, read by `encode`.
    pub raw: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct OfflineRun {
    pub output_s: f64,
    pub wall: Duration,
    pub cpu: Duration,
}

/// Where the grid puts `n` participants on the program's canvas.
pub fn tiles(n: usize, program: &ProgramConfig) -> Vec<Rect> {
    grid(n, program.canvas(), &LayoutConfig::default())
}

pub fn run(opts: &OfflineOptions) -> anyhow::Result<OfflineRun> {
    crate::media::init()?;
    let pipeline = gst::Pipeline::builder().name("offline").build();
    match opts.stage {
        Stage::Composite | Stage::Render => composite(&pipeline, opts)?,
        Stage::Decode => decode(&pipeline, opts)?,
        Stage::Encode => encode(&pipeline, opts)?,
    }
    let (cpu, started) = (procstat::process_cpu(), Instant::now());
    pipeline
        .set_state(gst::State::Playing)
        .context("the pipeline would not start")?;
    let bus = pipeline.bus().expect("pipelines have a bus");
    let end = bus.timed_pop_filtered(
        gst::ClockTime::NONE,
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    let run = OfflineRun {
        output_s: opts.frames as f64 / opts.program.fps as f64,
        wall: started.elapsed(),
        cpu: procstat::process_cpu() - cpu,
    };
    let _ = pipeline.set_state(gst::State::Null);
    if let Some(gst::MessageView::Error(e)) = end.as_ref().map(|m| m.view()) {
        bail!(
            "{}: {}",
            e.src()
                .map(|s| s.path_string().to_string())
                .unwrap_or_default(),
            e.error()
        );
    }
    Ok(run)
}

fn add(pipeline: &gst::Pipeline, elements: &[&gst::Element]) -> anyhow::Result<()> {
    pipeline
        .add_many(elements.iter().copied())
        .context("adding elements")?;
    link_chain(elements)?;
    Ok(())
}

/// filesrc ! ivfparse: the clip's VP8 frames.
fn clip_source(pipeline: &gst::Pipeline, clip: &PathBuf) -> anyhow::Result<gst::Element> {
    let src = gst::ElementFactory::make("filesrc")
        .property("location", clip)
        .build()?;
    let parse = make("ivfparse", None)?;
    add(pipeline, &[&src, &parse])?;
    Ok(parse)
}

fn null_sink() -> anyhow::Result<gst::Element> {
    Ok(gst::ElementFactory::make("fakesink")
        .property("sync", false)
        .build()?)
}

fn composite(pipeline: &gst::Pipeline, opts: &OfflineOptions) -> anyhow::Result<()> {
    let program = Program::new(
        pipeline,
        &opts.program,
        gst::ClockTime::ZERO,
        Pace::Offline {
            frames: opts.frames,
        },
    )?;
    let vp8 = gst::Caps::builder("video/x-vp8").build();
    for (i, tile) in tiles(opts.participants, &opts.program)
        .into_iter()
        .enumerate()
    {
        let src = clip_source(pipeline, &opts.clip)?;
        let bin = TrackBin::new(&format!("track-{i}"), &vp8, tile, Fit::Cover)?;
        bin.never_drop();
        bin.claim_thread(&format!("cam:{i}"));
        pipeline.add(bin.bin())?;
        src.static_pad("src")
            .expect("ivfparse has a src")
            .link(&bin.sink_pad())?;
        program.link_video(&bin.src_pad(), tile)?;
    }
    let audio_sink = null_sink()?;
    pipeline.add(&audio_sink)?;
    program
        .audio_src()
        .link(&audio_sink.static_pad("sink").expect("fakesink has a sink"))?;

    let video_sink = match (&opts.stage, &opts.raw) {
        (Stage::Render, Some(raw)) => {
            let sink = gst::ElementFactory::make("filesink")
                .property("location", raw)
                .build()?;
            pipeline.add(&sink)?;
            sink
        }
        (Stage::Render, None) => bail!("render writes to --raw"),
        _ => {
            // As in a session: a queue lets the compositor and x264 run
            // side by side.
            let queue = make("queue", None)?;
            let [x264, parse, caps] = h264_chain(&opts.program, opts.program.video_kbps, None)?;
            let sink = null_sink()?;
            add(pipeline, &[&queue, &x264, &parse, &caps, &sink])?;
            queue
        }
    };
    program
        .video_src()
        .link(&video_sink.static_pad("sink").expect("a sink pad"))?;
    Ok(())
}

fn decode(pipeline: &gst::Pipeline, opts: &OfflineOptions) -> anyhow::Result<()> {
    for _ in 0..opts.participants {
        let src = clip_source(pipeline, &opts.clip)?;
        let chain = encoded_chain("video/x-vp8").expect("VP8 decodes");
        let (dec, sink) = (chain.make_decoder()?, null_sink()?);
        add(pipeline, &[&dec, &sink])?;
        src.link(&dec)?;
    }
    Ok(())
}

fn encode(pipeline: &gst::Pipeline, opts: &OfflineOptions) -> anyhow::Result<()> {
    let raw = opts.raw.as_ref().context("encode reads --raw")?;
    let src = gst::ElementFactory::make("filesrc")
        .property("location", raw)
        .build()?;
    let p = &opts.program;
    let parse = gst::ElementFactory::make("rawvideoparse")
        .property("width", p.width as i32)
        .property("height", p.height as i32)
        .property_from_str("format", "i420")
        .property("framerate", gst::Fraction::new(p.fps as i32, 1))
        .build()?;
    parse.set_property("colorimetry", crate::media::track::COLORIMETRY);
    let [x264, h264parse, h264caps] = h264_chain(p, p.video_kbps, None)?;
    let sink = null_sink()?;
    add(
        pipeline,
        &[&src, &parse, &x264, &h264parse, &h264caps, &sink],
    )
}
