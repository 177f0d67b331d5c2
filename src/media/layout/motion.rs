//! Tiles glide to their new place instead of jumping: where a tile is at
//! each moment of its move.

use std::time::Duration;

use super::Rect;
use super::grid::even_round;

/// A tile's move from one rectangle to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Move {
    pub from: Rect,
    pub to: Rect,
    pub duration: Duration,
}

impl Move {
    /// Where the tile is `elapsed` into the move: eased in and out
    /// (smoothstep), so it starts and stops gently; `to` once it is over.
    /// Offsets and sizes stay even, as the program's tiles are.
    pub fn at(&self, elapsed: Duration) -> Rect {
        if self.is_over(elapsed) {
            return self.to;
        }
        let t = elapsed.as_secs_f64() / self.duration.as_secs_f64();
        let eased = t * t * (3.0 - 2.0 * t);
        let step = |a: f64, b: f64| even_round(a + (b - a) * eased);
        Rect {
            x: step(self.from.x.into(), self.to.x.into()) as i32,
            y: step(self.from.y.into(), self.to.y.into()) as i32,
            width: step(self.from.width.into(), self.to.width.into()).max(2) as u32,
            height: step(self.from.height.into(), self.to.height.into()).max(2) as u32,
        }
    }

    pub fn is_over(&self, elapsed: Duration) -> bool {
        elapsed >= self.duration
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FROM: Rect = Rect {
        x: 8,
        y: 186,
        width: 628,
        height: 348,
    };
    const TO: Rect = Rect {
        x: 8,
        y: 8,
        width: 1264,
        height: 704,
    };

    fn mv(ms: u64) -> Move {
        Move {
            from: FROM,
            to: TO,
            duration: Duration::from_millis(ms),
        }
    }

    #[test]
    fn starts_where_it_was_and_ends_where_it_goes() {
        let m = mv(300);
        assert_eq!(m.at(Duration::ZERO), FROM);
        assert_eq!(m.at(Duration::from_millis(300)), TO);
        assert_eq!(m.at(Duration::from_secs(5)), TO);
        assert!(m.is_over(Duration::from_millis(300)));
        assert!(!m.is_over(Duration::from_millis(299)));
    }

    #[test]
    fn halfway_is_the_middle() {
        let r = mv(300).at(Duration::from_millis(150));
        assert_eq!((r.y, r.width, r.height), (98, 946, 526));
    }

    #[test]
    fn every_edge_moves_one_way_and_stays_even() {
        let m = mv(300);
        let mut last = m.at(Duration::ZERO);
        for ms in 1..=300 {
            let r = m.at(Duration::from_millis(ms));
            assert!(r.y <= last.y && r.width >= last.width && r.height >= last.height);
            assert!(r.x % 2 == 0 && r.y % 2 == 0);
            assert!(r.width.is_multiple_of(2) && r.height.is_multiple_of(2));
            last = r;
        }
    }

    #[test]
    fn eases_in_and_out() {
        let m = mv(300);
        let width = |ms| m.at(Duration::from_millis(ms)).width as i64;
        // The first and last tenth cover less than the middle tenth.
        let first = width(30) - width(0);
        let middle = width(165) - width(135);
        let last = width(300) - width(270);
        assert!(first < middle && last < middle, "{first} {middle} {last}");
    }

    #[test]
    fn no_duration_jumps() {
        assert_eq!(mv(0).at(Duration::ZERO), TO);
    }
}
