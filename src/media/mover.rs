//! The mover: glides compositor pads to their new place over the layout's
//! transition instead of setting it at once. One thread per program wakes
//! twice a frame while something moves and sleeps otherwise; the
//! compositor reads a pad's place at each frame it makes.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use gst::prelude::*;

use super::layout::Rect;
use super::layout::motion::Move;

pub struct Mover {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    moving: Vec<Moving>,
    transition: Duration,
    stopped: bool,
}

struct Moving {
    pad: gst::Pad,
    path: Move,
    start: Instant,
}

impl Mover {
    /// `fps`: the program's frame rate, which the moves are stepped at.
    pub fn new(fps: u32) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        });
        let tick = Duration::from_secs(1) / (2 * fps.max(1));
        let worker = shared.clone();
        std::thread::Builder::new()
            .name("layout-mover".into())
            .spawn(move || worker.run(tick))
            .expect("threads can be spawned");
        Mover { shared }
    }

    /// How long a move takes from now on; zero makes tiles jump.
    pub fn set_transition(&self, transition: Duration) {
        self.shared.state.lock().unwrap().transition = transition;
    }

    /// Sends `pad` to `to`, gliding from where it is now (mid-move if it
    /// is moving).
    pub fn glide(&self, pad: &gst::Pad, to: Rect) {
        let mut state = self.shared.state.lock().unwrap();
        let now = Instant::now();
        let from = match state.moving.iter().position(|m| &m.pad == pad) {
            Some(i) => {
                let m = state.moving.swap_remove(i);
                m.path.at(now - m.start)
            }
            None => rect_of(pad),
        };
        let duration = state.transition;
        if from == to || duration.is_zero() {
            set_rect(pad, to);
            return;
        }
        state.moving.push(Moving {
            pad: pad.clone(),
            path: Move { from, to, duration },
            start: now,
        });
        self.shared.wake.notify_one();
    }

    /// Puts `pad` at `to` at once (a tile that appears, or hides).
    pub fn jump(&self, pad: &gst::Pad, to: Rect) {
        self.forget(pad);
        set_rect(pad, to);
    }

    /// Stops moving `pad` (it is going away).
    pub fn forget(&self, pad: &gst::Pad) {
        self.shared
            .state
            .lock()
            .unwrap()
            .moving
            .retain(|m| &m.pad != pad);
    }
}

impl Drop for Mover {
    fn drop(&mut self) {
        self.shared.state.lock().unwrap().stopped = true;
        self.shared.wake.notify_one();
    }
}

impl Shared {
    fn run(&self, tick: Duration) {
        let mut state = self.state.lock().unwrap();
        loop {
            while state.moving.is_empty() && !state.stopped {
                state = self.wake.wait(state).unwrap();
            }
            if state.stopped {
                return;
            }
            let now = Instant::now();
            state.moving.retain(|m| {
                let elapsed = now - m.start;
                set_rect(&m.pad, m.path.at(elapsed));
                !m.path.is_over(elapsed)
            });
            state = self.wake.wait_timeout(state, tick).unwrap().0;
        }
    }
}

/// Where a compositor pad is now.
fn rect_of(pad: &gst::Pad) -> Rect {
    Rect {
        x: pad.property("xpos"),
        y: pad.property("ypos"),
        width: pad.property::<i32>("width").max(0) as u32,
        height: pad.property::<i32>("height").max(0) as u32,
    }
}

/// Places a compositor pad. Its size matches what feeds it, so the
/// compositor scales only while a tile moves or a feed changes size.
pub fn set_rect(pad: &gst::Pad, rect: Rect) {
    pad.set_property("xpos", rect.x);
    pad.set_property("ypos", rect.y);
    pad.set_property("width", rect.width as i32);
    pad.set_property("height", rect.height as i32);
}
