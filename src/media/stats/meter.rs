//! Per-second rates of counters sampled about once a second.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The span a rate is measured over: long enough to smooth a frame's
/// jitter, short enough to show a drop within seconds.
const WINDOW: Duration = Duration::from_secs(3);

#[derive(Debug, Default)]
pub struct Meter {
    series: HashMap<String, VecDeque<(Instant, u64)>>,
}

impl Meter {
    /// Takes one reading of every counter; counters left out are gone
    /// (a track that left) and forgotten.
    pub fn sample(&mut self, at: Instant, values: impl IntoIterator<Item = (String, u64)>) {
        let mut seen = HashMap::with_capacity(self.series.len());
        for (key, value) in values {
            let mut s = self.series.remove(&key).unwrap_or_default();
            // A counter that went back (a bin replaced) starts over.
            if s.back().is_some_and(|&(_, v)| v > value) {
                s.clear();
            }
            s.push_back((at, value));
            while s.len() > 2
                && s.get(1)
                    .is_some_and(|&(t, _)| at.duration_since(t) >= WINDOW)
            {
                s.pop_front();
            }
            seen.insert(key, s);
        }
        self.series = seen;
    }

    /// Per second over the window; 0 until two readings.
    pub fn rate(&self, key: &str) -> f64 {
        let Some(s) = self.series.get(key) else {
            return 0.0;
        };
        match (s.front(), s.back()) {
            (Some(&(t0, v0)), Some(&(t1, v1))) if t1 > t0 => {
                (v1 - v0) as f64 / t1.duration_since(t0).as_secs_f64()
            }
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_over_the_window_and_forgets_what_went() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut m = Meter::default();
        m.sample(t0, [("a".to_string(), 0), ("b".to_string(), 5)]);
        assert_eq!(m.rate("a"), 0.0);
        for i in 1..=10u64 {
            let a = if i <= 5 { i * 20 } else { 100 + (i - 5) * 10 };
            m.sample(t0 + s(i), [("a".to_string(), a), ("b".to_string(), 5)]);
        }
        // The last three seconds ran at 10 a second.
        assert!((m.rate("a") - 10.0).abs() < 1e-9, "{}", m.rate("a"));
        assert_eq!(m.rate("b"), 0.0);
        m.sample(t0 + s(11), [("a".to_string(), 3)]);
        assert_eq!(m.rate("a"), 0.0);
        assert!(!m.series.contains_key("b"));
        assert_eq!(m.rate("nothing"), 0.0);
    }
}
