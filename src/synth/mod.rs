//! Synthetic participants: real WebRTC publishers with a recognisable
//! picture and sound, for the demo, tests, benchmarks and load generation.

pub mod clip;
mod feedback;
pub mod flash;
mod janus;
mod participant;
pub mod publisher;
pub mod replay;
pub mod rtp;
pub mod tag;

pub use janus::JanusParticipant;
pub use participant::SyntheticParticipant;

/// What a synthetic participant looks and sounds like.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpec {
    pub name: String,
    /// Background colour of its pattern, RGB.
    pub colour: (u8, u8, u8),
    /// Pitch of its tone.
    pub pitch_hz: f64,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Seconds between the encoder's own key frames; it also makes one
    /// whenever a receiver asks.
    pub key_frame_interval_s: u32,
    /// Publishes its picture as a screen share instead of a camera (as
    /// clients that share from a second connection do).
    pub screen: bool,
    /// Flashes white and beeps together once a second, silent otherwise
    /// ([`flash`]): the A/V sync tests' participant.
    pub flash: bool,
    /// How much later than its picture its sound leaves, in ms, stamped
    /// with the same capture time (negative: the picture leaves later): a
    /// microphone or camera slower than the other, which the receiver's
    /// lip sync has to wait for.
    pub sound_lag_ms: i32,
}

const NAMES: &[&str] = &[
    "Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Mallory",
    "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Uma", "Victor", "Walter",
];

/// Well separated colours, so that a decoded tile can be told apart from
/// its neighbours after H.264 and 4:2:0.
pub const PALETTE: &[(u8, u8, u8)] = &[
    (220, 40, 40),   // red
    (40, 180, 60),   // green
    (40, 80, 220),   // blue
    (230, 200, 40),  // yellow
    (200, 50, 200),  // magenta
    (40, 200, 210),  // cyan
    (240, 130, 30),  // orange
    (120, 60, 180),  // purple
    (250, 150, 180), // pink
    (160, 230, 60),  // lime
    (20, 120, 120),  // teal
    (130, 80, 40),   // brown
];

impl SynthSpec {
    /// The `index`-th participant of the demo: its own name, colour and
    /// pitch, 640x360 at 20 fps.
    pub fn demo(index: usize) -> Self {
        let name = match NAMES.get(index) {
            Some(n) => n.to_string(),
            None => format!("Guest {}", index + 1),
        };
        SynthSpec {
            name,
            colour: PALETTE[index % PALETTE.len()],
            pitch_hz: tone_hz(index),
            width: 640,
            height: 360,
            fps: 20,
            key_frame_interval_s: 2,
            screen: false,
            flash: false,
            sound_lag_ms: 0,
        }
    }
}

/// The tone of the `index`-th participant: 330 Hz, then 110 Hz apart, so
/// each can be found in the mix.
pub fn tone_hz(index: usize) -> f64 {
    330.0 + 110.0 * (index % 24) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_participants_differ() {
        let a = SynthSpec::demo(0);
        let b = SynthSpec::demo(1);
        assert_eq!(a.name, "Alice");
        assert_ne!(a.colour, b.colour);
        assert_ne!(a.pitch_hz, b.pitch_hz);
        assert_eq!(SynthSpec::demo(25).name, "Guest 26");
    }
}
