//! What `callcast bench` reports, and the pure arithmetic behind it.

use std::collections::HashMap;

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
    /// Frames the composite never showed (dropped before the compositor
    /// or skipped by it), read from the tiles' tags, and composite frames
    /// that showed a tile's frame again because its next was late; out of
    /// `tile_steps` read (see [`TileSteps`]).
    pub input_frames_skipped: u64,
    pub input_frames_repeated: u64,
    pub tile_steps: u64,
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
            "tiles' frames in composite",
            format!(
                "{} skipped, {} repeated, in {} steps read",
                self.input_frames_skipped, self.input_frames_repeated, self.tile_steps
            ),
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

/// How the tiles' pictures follow one another in the composite, read
/// from their frames' tags on consecutive composite frames: a tile that
/// jumps over frames never showed them (whether its queue dropped them or
/// the compositor skipped them as late), and one that shows the same
/// frame again stood still for a frame because its next was late.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TileSteps {
    /// Steps read: a tile's tag on two consecutive composite frames.
    pub steps: u64,
    /// Frames jumped over, beyond what the rates explain.
    pub skipped: u64,
    /// Steps that showed the frame shown before, when the inputs run at
    /// least as fast as the program (else that is the rates).
    pub repeated: u64,
}

impl TileSteps {
    /// Counts a step whose tag advanced by `advance` (modulo the tags'
    /// range), for inputs at `input_fps` into a program at `fps`. An
    /// advance past half the range reads as a step back: a misread tag,
    /// not counted.
    pub fn feed(&mut self, advance: u64, input_fps: u32, fps: u32) {
        if advance >= crate::synth::tag::MODULUS / 2 {
            return;
        }
        self.steps += 1;
        // The most frames a step may advance by without skipping one.
        let most = u64::from(input_fps.div_ceil(fps.max(1)).max(1));
        self.skipped += advance.saturating_sub(most);
        if advance == 0 && input_fps >= fps {
            self.repeated += 1;
        }
    }
}

/// Each tile's tag as last read, from which [`TileSteps`] are counted.
#[derive(Debug, Default)]
pub struct TileTags {
    /// Per tile: the composite frame its tag was last read on, and the tag.
    last: HashMap<String, (u64, u8)>,
    input_fps: u32,
    fps: u32,
    pub steps: TileSteps,
}

impl TileTags {
    /// For inputs at `input_fps` into a program at `fps`.
    pub fn new(input_fps: u32, fps: u32) -> Self {
        TileTags {
            input_fps,
            fps,
            ..TileTags::default()
        }
    }

    /// `tile` read `tag` on composite frame `index`: a step, counted if
    /// `count`, when it was read on the frame before too.
    pub fn read(&mut self, tile: &str, index: u64, tag: u8, count: bool) {
        let before = self.last.insert(tile.to_string(), (index, tag));
        if let Some((at, was)) = before
            && count
            && at + 1 == index
        {
            self.steps
                .feed(u64::from(tag.wrapping_sub(was)), self.input_fps, self.fps);
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

    #[test]
    fn tile_steps_count_skips_and_repeats_beyond_the_rates() {
        let feed = |advances: &[u64], input_fps, fps| {
            let mut t = TileSteps::default();
            for &a in advances {
                t.feed(a, input_fps, fps);
            }
            (t.steps, t.skipped, t.repeated)
        };
        // Same rates: a late frame shows its predecessor twice, and is
        // then skipped for the one after it.
        assert_eq!(feed(&[1, 1, 0, 2, 1, 3], 30, 30), (6, 3, 1));
        // Inputs at 20 into 30: every third step repeats, by the rates.
        assert_eq!(feed(&[1, 0, 1, 1, 0, 1], 20, 30), (6, 0, 0));
        assert_eq!(feed(&[1, 0, 2], 20, 30), (3, 1, 0));
        // Inputs at 30 into 20: steps of one and two are the rates.
        assert_eq!(feed(&[2, 1, 2, 3], 30, 20), (4, 1, 0));
        // A tag read wrong reads as a step back: not a step.
        assert_eq!(feed(&[1, 200, 1], 30, 30), (2, 0, 0));
    }

    #[test]
    fn tile_tags_step_only_between_consecutive_frames() {
        let mut t = TileTags::new(20, 20);
        t.read("a", 0, 254, true);
        t.read("b", 0, 7, true);
        // Across the tags' wrap: one step each.
        t.read("a", 1, 255, true);
        t.read("a", 2, 0, true);
        // b unread on frame 1: no step from 0 to 2, though it jumped.
        t.read("b", 2, 10, true);
        t.read("b", 3, 12, true);
        // Not counting: read, not stepped.
        t.read("a", 3, 5, false);
        assert_eq!(
            t.steps,
            TileSteps {
                steps: 3,
                skipped: 1,
                repeated: 0
            }
        );
    }
}
