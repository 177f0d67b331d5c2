//! Who is talking, from callcast's own audio levels: for rooms whose SFU
//! sends no talking events. Hysteresis on both level and time, so that a
//! breath or a word's tail does not flip the state: talking starts above
//! [`START_DB`], and ends only after [`STOP_AFTER`] below [`STOP_DB`].
//! The speaker tracker's hold comes on top.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Louder than this starts talking (dBFS, RMS over 100 ms).
pub const START_DB: f64 = -40.0;
/// Quieter than this, for long enough, stops it.
pub const STOP_DB: f64 = -50.0;
pub const STOP_AFTER: Duration = Duration::from_millis(600);

#[derive(Debug, Default)]
pub struct VoiceDetector {
    /// Participants talking, with when they were last heard above
    /// [`STOP_DB`].
    talking: HashMap<String, Instant>,
}

impl VoiceDetector {
    /// Takes the current levels (participants missing are silent) and
    /// returns who started (`true`) or stopped (`false`) talking.
    pub fn update(&mut self, levels: &HashMap<String, f64>, now: Instant) -> Vec<(String, bool)> {
        let mut changes = Vec::new();
        for (id, db) in levels {
            match self.talking.get_mut(id) {
                Some(heard) if *db > STOP_DB => *heard = now,
                None if *db > START_DB => {
                    self.talking.insert(id.clone(), now);
                    changes.push((id.clone(), true));
                }
                _ => {}
            }
        }
        self.talking.retain(|id, heard| {
            let quiet = now.saturating_duration_since(*heard) >= STOP_AFTER;
            if quiet {
                changes.push((id.clone(), false));
            }
            !quiet
        });
        changes.sort();
        changes
    }
}

impl VoiceDetector {
    /// Forgets everyone: returns who was talking.
    pub fn clear(&mut self) -> Vec<String> {
        let mut ids: Vec<String> = self.talking.drain().map(|(id, _)| id).collect();
        ids.sort();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(l: &[(&str, f64)]) -> HashMap<String, f64> {
        l.iter().map(|(id, db)| (id.to_string(), *db)).collect()
    }

    #[test]
    fn talking_needs_a_loud_start_and_a_long_quiet_end() {
        let mut v = VoiceDetector::default();
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        // Between the thresholds: not loud enough to start.
        assert!(v.update(&levels(&[("a", -45.0)]), at(0)).is_empty());
        assert_eq!(
            v.update(&levels(&[("a", -20.0), ("b", -70.0)]), at(250)),
            [("a".to_string(), true)]
        );
        // Between the thresholds keeps it; a short silence too.
        assert!(v.update(&levels(&[("a", -45.0)]), at(500)).is_empty());
        assert!(v.update(&levels(&[("a", -80.0)]), at(750)).is_empty());
        assert!(v.update(&levels(&[]), at(1000)).is_empty());
        // Quiet for the whole stop time: stopped.
        assert_eq!(v.update(&levels(&[]), at(1100)), [("a".to_string(), false)]);
        assert!(v.update(&levels(&[]), at(2000)).is_empty());
    }
}
