//! Notices a program that stopped advancing, and says where it backs up.

use std::time::{Duration, Instant};

use super::{QueueStats, Stage};

/// How long the program may go without a frame before it counts as stalled.
pub const STALL_AFTER: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StallChange {
    /// No frame for `Duration`.
    Started(Duration),
    /// Frames again, after `Duration` without.
    Ended(Duration),
}

#[derive(Debug)]
pub struct StallDetector {
    frames: u64,
    /// When `frames` last changed.
    since: Instant,
    stalled: bool,
}

impl StallDetector {
    pub fn new(now: Instant) -> Self {
        StallDetector {
            frames: 0,
            since: now,
            stalled: false,
        }
    }

    /// Takes the program's frame count; says when a stall starts or ends.
    pub fn observe(&mut self, now: Instant, frames: u64) -> Option<StallChange> {
        let still = now.duration_since(self.since);
        if frames != self.frames {
            self.frames = frames;
            self.since = now;
            if std::mem::take(&mut self.stalled) {
                return Some(StallChange::Ended(still));
            }
            return None;
        }
        if !self.stalled && still > STALL_AFTER {
            self.stalled = true;
            return Some(StallChange::Started(still));
        }
        None
    }

    /// How long the program has been stalled, if it is.
    pub fn stalled_for(&self, now: Instant) -> Option<Duration> {
        self.stalled.then(|| now.duration_since(self.since))
    }
}

/// The full queues, downstream first, and the stage that drains the most
/// downstream of them: where the program backs up from.
pub fn backed_up(queues: &[QueueStats]) -> (Option<Stage>, Vec<&QueueStats>) {
    let mut full: Vec<&QueueStats> = queues.iter().filter(|q| q.is_full()).collect();
    full.sort_by(|a, b| b.stage.cmp(&a.stage).then_with(|| a.owner.cmp(&b.owner)));
    (full.first().map(|q| q.stage.drained_by()), full)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::stats::queues::QueueLevel;

    #[test]
    fn starts_once_and_ends_when_frames_come() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut d = StallDetector::new(t0);
        assert_eq!(d.observe(t0 + ms(1000), 20), None);
        assert_eq!(d.observe(t0 + ms(2000), 40), None);
        assert_eq!(d.observe(t0 + ms(3000), 40), None);
        assert_eq!(d.observe(t0 + ms(4000), 40), None);
        assert_eq!(
            d.observe(t0 + ms(4100), 40),
            Some(StallChange::Started(ms(2100)))
        );
        assert_eq!(d.stalled_for(t0 + ms(5000)), Some(ms(3000)));
        assert_eq!(d.observe(t0 + ms(5000), 40), None);
        assert_eq!(
            d.observe(t0 + ms(6000), 41),
            Some(StallChange::Ended(ms(4000)))
        );
        assert_eq!(d.stalled_for(t0 + ms(6000)), None);
    }

    fn queue(stage: Stage, owner: &str, fill: f64) -> QueueStats {
        QueueStats {
            stage,
            owner: owner.into(),
            name: format!("{owner}-queue"),
            fill,
            level: QueueLevel::default(),
        }
    }

    #[test]
    fn names_the_stage_after_the_last_full_queue() {
        let queues = [
            queue(Stage::Track, "p1/cam", 1.0),
            queue(Stage::Encode, "video", 0.95),
            queue(Stage::Output, "rtmp-1", 0.1),
            queue(Stage::Track, "p2/cam", 0.2),
        ];
        let (stage, full) = backed_up(&queues);
        assert_eq!(stage, Some(Stage::Encode));
        let owners: Vec<_> = full.iter().map(|q| q.owner.as_str()).collect();
        assert_eq!(owners, ["video", "p1/cam"]);
        // Only the tracks' queues: the compositor is behind.
        let (stage, _) = backed_up(&queues[..1]);
        assert_eq!(stage, Some(Stage::Program));
        assert_eq!(backed_up(&queues[2..]).0, None);
    }
}
