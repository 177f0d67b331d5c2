//! callcast: joins a call on an SFU as a receive-only bot, composites every
//! participant, encodes the program once and fans it out to outputs.
//!
//! - [`session`]: one call, its adapter and its pipeline.
//! - [`media`]: the GStreamer side (ingest, tracks, layout, program,
//!   encoders, outputs).
//! - [`api`]: the HTTP API.
//! - [`synth`]: synthetic participants; [`demo`]: everything on one machine.
//! - [`join`]: `callcast join`, one session in a real room; [`loadgen`]:
//!   synthetic publishers for a Janus room; [`bench`]: `callcast bench`.

pub mod api;
pub mod bench;
pub mod config;
pub mod demo;
pub mod heap;
pub mod ids;
pub mod join;
pub mod journal;
pub mod loadgen;
pub mod media;
pub mod procstat;
pub mod recording;
pub mod room;
pub mod serve;
pub mod session;
pub mod synth;
pub mod tagged;
