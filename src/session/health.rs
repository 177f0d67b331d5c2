//! Watches a session's health while it runs: every second it samples the
//! counters rates come from, looks for a stalled program (a warning
//! naming the stage it backs up from) and removes WHEP viewers whose
//! connection ended; every stats interval it logs the session's figures
//! as one structured event.

use std::sync::{OnceLock, Weak};
use std::time::{Duration, Instant};

use callcast_signalling::adapter::TrackKind;
use serde::Serialize;
use tokio::task::spawn_blocking;

use super::{Session, SessionState};
use crate::media::stats::stall::StallChange;
use crate::media::stats::{MediaStats, StallReport};
use crate::procstat::{self, ProcessStats};

/// How often the figures are logged unless configured.
pub const DEFAULT_STATS_INTERVAL: Duration = Duration::from_secs(10);
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

/// How sessions log their figures; set once at startup, like the log
/// format.
#[derive(Debug, Clone, Copy)]
pub struct StatsLog {
    /// How often (`None`: never).
    pub interval: Option<Duration>,
    /// Whether the event carries every figure as JSON in `stats`, beside
    /// the headline fields: for JSON logs, where a machine reads them; a
    /// person reading text logs gets the headline only.
    pub full: bool,
}

static STATS_LOG: OnceLock<StatsLog> = OnceLock::new();

pub fn configure(log: StatsLog) {
    let _ = STATS_LOG.set(log);
}

fn stats_log() -> StatsLog {
    *STATS_LOG.get_or_init(|| StatsLog {
        interval: Some(DEFAULT_STATS_INTERVAL),
        full: false,
    })
}

/// A session's figures: what `/v1/sessions/{id}/stats` answers and the
/// periodic event carries.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SessionStats {
    pub session: String,
    pub state: SessionState,
    #[serde(flatten)]
    pub media: MediaStats,
    /// The whole process (every session in it).
    pub process: ProcessStats,
}

pub(super) async fn watch(session: Weak<Session>) {
    let mut tick = tokio::time::interval(SAMPLE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let StatsLog { interval, full } = stats_log();
    let mut next_log = interval.map(|i| Instant::now() + i);
    let mut cpu_before = (procstat::process_cpu(), Instant::now());
    loop {
        tick.tick().await;
        let Some(s) = session.upgrade() else { return };
        if matches!(s.state(), SessionState::Stopping | SessionState::Stopped) {
            return;
        }
        let media = s.media.clone();
        if let Ok(Some(report)) = spawn_blocking(move || media.sample_health()).await {
            log_stall(s.id(), &report);
        }
        s.reap_viewers().await;
        if let (Some(at), Some(every)) = (next_log, interval)
            && Instant::now() >= at
        {
            next_log = Some(at + every);
            let stats = s.stats().await;
            let now = (procstat::process_cpu(), Instant::now());
            let cores = (now.0 - cpu_before.0).as_secs_f64() / (now.1 - cpu_before.1).as_secs_f64();
            cpu_before = now;
            log_stats(&stats, cores, full);
        }
    }
}

fn log_stall(session: &str, report: &StallReport) {
    let slow_stage = report.slow_stage.map_or("none", |s| s.as_str());
    let full_queues = report.full_queues.join(", ");
    match report.change {
        StallChange::Started(d) => tracing::warn!(
            session,
            stalled_s = d.as_secs_f64(),
            slow_stage,
            %full_queues,
            "program stalled: no composite frame for {:.1} s; it backs up from the {slow_stage} stage",
            d.as_secs_f64()
        ),
        StallChange::Ended(d) => tracing::info!(
            session,
            stalled_s = d.as_secs_f64(),
            "program running again after a stall"
        ),
    }
}

/// One event with the headline figures as fields, and, if `full`, all
/// of them as JSON in `stats`.
fn log_stats(stats: &SessionStats, cpu_cores: f64, full: bool) {
    let m = &stats.media;
    let input_fps_min = m
        .tracks
        .iter()
        .filter(|t| t.kind == TrackKind::Video)
        .map(|t| t.fps)
        .reduce(f64::min)
        .unwrap_or(0.0);
    let full_queues = m.queues.iter().filter(|q| q.is_full()).count();
    let live_outputs = m
        .outputs
        .iter()
        .filter(|o| matches!(o.state, crate::media::outputs::OutputState::Live))
        .count();
    tracing::info!(
        target: "callcast::stats",
        session = %stats.session,
        program_fps = m.program.fps,
        encoder_fps = m.encoder.fps,
        encoder_latency_ms = m.encoder.latency_ms,
        tracks = m.tracks.len(),
        input_fps_min,
        frames_dropped = m.tracks.iter().map(|t| t.dropped).sum::<u64>(),
        frames_skipped = m.tracks.iter().map(|t| t.shown.skipped).sum::<u64>(),
        packets_lost = m.tracks.iter().filter_map(|t| t.rtp.as_ref()).map(|r| r.packets_lost.max(0)).sum::<i64>(),
        queues_full = full_queues,
        outputs = m.outputs.len(),
        outputs_live = live_outputs,
        cpu_cores,
        rss_mb = stats.process.rss_mb,
        stats = full.then(|| serde_json::to_string(stats).unwrap_or_default()),
        "session stats"
    );
}
