//! Who the active speaker is, from talking/silent events, with hysteresis
//! so that the featured tile does not flicker: a speaker keeps the floor
//! for at least `hold` once they have it, and through silences until
//! someone else talks. Pure: time comes in as arguments.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct SpeakerTracker {
    hold: Duration,
    /// The speaker, and since when.
    current: Option<(String, Instant)>,
    /// Who talks now, and since when, in the order they started.
    talking: Vec<(String, Instant)>,
}

impl SpeakerTracker {
    pub fn new(hold: Duration) -> Self {
        SpeakerTracker {
            hold,
            current: None,
            talking: Vec::new(),
        }
    }

    pub fn set_hold(&mut self, hold: Duration) {
        self.hold = hold;
    }

    /// `id` started or stopped talking at `now`.
    pub fn talking(&mut self, id: &str, talking: bool, now: Instant) {
        let known = self.talking.iter().position(|(t, _)| t == id);
        match (talking, known) {
            (true, None) => self.talking.push((id.to_string(), now)),
            (false, Some(i)) => {
                self.talking.remove(i);
            }
            _ => {}
        }
    }

    /// `id` left the call.
    pub fn left(&mut self, id: &str) {
        self.talking.retain(|(t, _)| t != id);
        if self.current.as_ref().is_some_and(|(c, _)| c == id) {
            self.current = None;
        }
    }

    /// The speaker at `now`: the current one while they talk or hold the
    /// floor; else whoever has talked longest; else still the last one.
    pub fn speaker(&mut self, now: Instant) -> Option<&str> {
        let current_talks = self
            .current
            .as_ref()
            .is_some_and(|(c, _)| self.talking.iter().any(|(t, _)| t == c));
        let held = self
            .current
            .as_ref()
            .is_some_and(|(_, since)| now.duration_since(*since) < self.hold);
        if !current_talks
            && !held
            && let Some((next, _)) = self.talking.first()
        {
            self.current = Some((next.clone(), now));
        }
        self.current.as_ref().map(|(c, _)| c.as_str())
    }

    /// When [`speaker`](Self::speaker) may next give another answer without
    /// any new event: when the current speaker's hold ends, if someone
    /// else is waiting.
    pub fn next_change(&self) -> Option<Instant> {
        let (current, since) = self.current.as_ref()?;
        let waiting = self.talking.iter().any(|(t, _)| t != current);
        let current_talks = self.talking.iter().any(|(t, _)| t == current);
        (waiting && !current_talks).then_some(*since + self.hold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOLD: Duration = Duration::from_secs(2);

    #[test]
    fn the_first_talker_gets_the_floor_and_keeps_it_through_silence() {
        let t0 = Instant::now();
        let mut s = SpeakerTracker::new(HOLD);
        assert_eq!(s.speaker(t0), None);
        s.talking("a", true, t0);
        assert_eq!(s.speaker(t0), Some("a"));
        s.talking("a", false, t0 + Duration::from_secs(5));
        assert_eq!(s.speaker(t0 + Duration::from_secs(9)), Some("a"));
    }

    #[test]
    fn another_talker_takes_over_only_after_the_hold() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut s = SpeakerTracker::new(HOLD);
        s.talking("a", true, t0);
        assert_eq!(s.speaker(t0), Some("a"));
        // b talks while a does: a keeps it.
        s.talking("b", true, t0 + ms(100));
        assert_eq!(s.speaker(t0 + ms(3000)), Some("a"));
        // a stops at 3.5 s: a held since 0, so b takes over at once.
        s.talking("a", false, t0 + ms(3500));
        assert_eq!(s.speaker(t0 + ms(3500)), Some("b"));
        // a talks again briefly: b holds the floor 2 s.
        s.talking("b", false, t0 + ms(3600));
        s.talking("a", true, t0 + ms(3700));
        assert_eq!(s.speaker(t0 + ms(4000)), Some("b"));
        assert_eq!(s.next_change(), Some(t0 + ms(5500)));
        assert_eq!(s.speaker(t0 + ms(5500)), Some("a"));
        assert_eq!(s.next_change(), None);
    }

    #[test]
    fn a_speaker_who_leaves_gives_the_floor_up() {
        let t0 = Instant::now();
        let mut s = SpeakerTracker::new(HOLD);
        s.talking("a", true, t0);
        s.talking("b", true, t0);
        assert_eq!(s.speaker(t0), Some("a"));
        s.left("a");
        assert_eq!(s.speaker(t0), Some("b"));
        s.left("b");
        assert_eq!(s.speaker(t0), None);
    }
}
