//! What `callcast bench` reports, and the pure arithmetic behind it.

use crate::procstat::{Machine, ThreadLoad};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub participants: usize,
    /// Participants whose pictures were seen in the composite.
    pub participants_seen: usize,
    /// Length of the measured window.
    pub duration_s: f64,
    /// "640x360@20 VP8".
    pub input: String,
    /// "1280x720@20 H.264".
    pub output: String,
    /// Encoded program frames per second of wall-clock time.
    pub output_fps: f64,
    pub output_frames: u64,
    /// Gaps in the program's timestamps, in frames.
    pub output_frames_dropped: u64,
    /// Program frames stamped at or before the one before them.
    pub output_frames_duplicated: u64,
    /// Frames received whole that never reached the compositor.
    pub input_frames_dropped: u64,
    /// Frames received whole, all participants together.
    pub input_frames: u64,
    /// Whole-process CPU, median of one-second samples, in cores.
    pub cpu_cores: f64,
    pub cpu_cores_max: f64,
    /// The synthetic participants' process, on the same machine (not
    /// counted above), in cores over the window.
    pub publishers_cpu_cores: f64,
    pub rss_peak_mb: f64,
    /// From a participant's join request to the first composite frame
    /// showing its picture, for participants joining a running call one
    /// at a time: median and worst.
    pub join_to_first_frame_ms: f64,
    pub join_to_first_frame_ms_max: f64,
    /// The same, median and worst, for the participants that joined all
    /// together at the start.
    pub join_to_first_frame_ms_together: f64,
    pub join_to_first_frame_ms_together_max: f64,
    /// From a frame's capture to the composite frame showing it: median,
    /// 95th percentile, and how many tiles were read to get them.
    pub latency_ms: f64,
    pub latency_ms_p95: f64,
    pub latency_samples: usize,
    /// How far the encoded program runs behind the clock: median and worst
    /// (bounded and small means real time).
    pub output_lag_ms: f64,
    pub output_lag_ms_max: f64,
    /// The busiest threads of the process over the window.
    pub threads: Vec<ThreadLoad>,
    /// Threads of the same name together, busiest first.
    pub thread_groups: Vec<ThreadGroup>,
    /// Where it ran.
    pub machine: Machine,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ThreadGroup {
    pub name: String,
    pub threads: usize,
    pub cpu_cores: f64,
}

impl Report {
    /// The human table.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let mut row = |k: &str, v: String| out.push_str(&format!("  {k:<26} {v}\n"));
        row(
            "participants",
            format!("{} ({} seen)", self.participants, self.participants_seen),
        );
        row("input", self.input.clone());
        row("output", self.output.clone());
        row("window", format!("{:.1} s", self.duration_s));
        row(
            "output fps",
            format!("{:.2} ({} frames)", self.output_fps, self.output_frames),
        );
        row(
            "output dropped/duplicated",
            format!(
                "{} / {}",
                self.output_frames_dropped, self.output_frames_duplicated
            ),
        );
        row(
            "input frames dropped",
            format!("{} of {}", self.input_frames_dropped, self.input_frames),
        );
        row(
            "cpu",
            format!(
                "{:.2} cores median, {:.2} max",
                self.cpu_cores, self.cpu_cores_max
            ),
        );
        row(
            "participants' process",
            format!("{:.2} cores (not counted above)", self.publishers_cpu_cores),
        );
        row("peak rss", format!("{:.0} MB", self.rss_peak_mb));
        row(
            "join to first frame",
            format!(
                "{:.0} ms median, {:.0} ms worst (joining together: {:.0} ms median, {:.0} ms worst)",
                self.join_to_first_frame_ms,
                self.join_to_first_frame_ms_max,
                self.join_to_first_frame_ms_together,
                self.join_to_first_frame_ms_together_max
            ),
        );
        row(
            "capture to composite",
            format!(
                "{:.0} ms median, {:.0} ms p95 ({} samples)",
                self.latency_ms, self.latency_ms_p95, self.latency_samples
            ),
        );
        row(
            "output lag",
            format!(
                "{:.0} ms median, {:.0} ms worst",
                self.output_lag_ms, self.output_lag_ms_max
            ),
        );
        out.push_str("  busiest threads:\n");
        for t in &self.threads {
            out.push_str(&format!("    {:<20} {:.3} cores\n", t.name, t.cpu_cores));
        }
        out.push_str("  threads by name:\n");
        for g in &self.thread_groups {
            out.push_str(&format!(
                "    {:<20} {:.3} cores in {} threads\n",
                g.name, g.cpu_cores, g.threads
            ));
        }
        out
    }
}

/// `v` rounded to `digits` decimals, for a report that reads well.
pub fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// The `q`-quantile (0..=1) of `values`, by nearest rank; 0 for none.
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
    v[rank]
}

pub fn median(values: &[f64]) -> f64 {
    quantile(values, 0.5)
}

pub fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(0.0, f64::max)
}

/// Counts a stream of frame timestamps that should be `frame_ns` apart:
/// a gap counts the frames missing from it, a timestamp at or before the
/// last one a duplicate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Continuity {
    pub frames: u64,
    pub dropped: u64,
    pub duplicated: u64,
    last_pts: Option<u64>,
}

impl Continuity {
    pub fn feed(&mut self, pts_ns: u64, frame_ns: u64) {
        self.frames += 1;
        if let Some(last) = self.last_pts {
            if pts_ns <= last {
                self.duplicated += 1;
                return;
            }
            // Rounded, so that timestamps a little off their grid count as
            // on time.
            let periods = (pts_ns - last + frame_ns / 2) / frame_ns.max(1);
            self.dropped += periods.saturating_sub(1);
        }
        self.last_pts = Some(pts_ns);
    }

    /// Counts since `earlier`, a copy taken before.
    pub fn since(&self, earlier: &Continuity) -> Continuity {
        Continuity {
            frames: self.frames - earlier.frames,
            dropped: self.dropped - earlier.dropped,
            duplicated: self.duplicated - earlier.duplicated,
            last_pts: self.last_pts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let v = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(median(&v), 3.0);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 5.0);
        assert_eq!(quantile(&v, 0.95), 5.0);
        assert_eq!(median(&[]), 0.0);
        assert_eq!(max(&v), 5.0);
        assert_eq!(round(1.23456, 3), 1.235);
    }

    #[test]
    fn continuity_counts_gaps_and_repeats() {
        const F: u64 = 50_000_000;
        let mut c = Continuity::default();
        for pts in [0, F, 2 * F + 3_000_000, 5 * F, 5 * F, 6 * F - 1_000_000] {
            c.feed(pts, F);
        }
        assert_eq!((c.frames, c.dropped, c.duplicated), (6, 2, 1));
        let before = c.clone();
        c.feed(7 * F, F);
        let d = c.since(&before);
        assert_eq!((d.frames, d.dropped, d.duplicated), (1, 0, 0));
    }
}
