//! A participant that flashes and beeps at the same instant, for the A/V
//! sync tests: once a [`PERIOD`], its picture turns white and its tone
//! sounds for [`FLASH`], silent in between. Both are cut from the same
//! capture timestamps (the pipeline's running time), so whatever separates
//! them in a recording came from the way there.
//!
//! The flashes start on the first video frame, so that each beep begins
//! exactly where a frame does.

use std::sync::{Arc, OnceLock};

use gst::prelude::*;
use gst_video::prelude::*;

/// Time from one flash to the next.
pub const PERIOD: gst::ClockTime = gst::ClockTime::from_mseconds(1000);
/// How long each lasts.
pub const FLASH: gst::ClockTime = gst::ClockTime::from_mseconds(120);

/// Luma and chroma of the flash (video range white).
const WHITE_Y: u8 = 235;
const NEUTRAL_UV: u8 = 128;

/// The timestamp of the first frame, which the flashes count from.
#[derive(Debug, Default)]
pub struct Flashes {
    first: OnceLock<gst::ClockTime>,
}

impl Flashes {
    pub fn new() -> Arc<Self> {
        Arc::new(Flashes::default())
    }

    /// Whether the picture flashes at `t` (a frame's timestamp); the first
    /// frame asked about starts the count.
    fn video_on(&self, t: gst::ClockTime) -> bool {
        on(*self.first.get_or_init(|| t), t)
    }

    /// Whether the tone sounds at `t`; silent until the first frame.
    fn audio_on(&self, t: gst::ClockTime) -> bool {
        self.first.get().is_some_and(|first| on(*first, t))
    }

    /// Turns frames white while flashing. `pad` must carry I420.
    pub fn paint(self: &Arc<Self>, pad: &gst::Pad) {
        let flashes = self.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
            let Some(buffer) = info.buffer_mut() else {
                return gst::PadProbeReturn::Ok;
            };
            let Some(pts) = buffer.pts() else {
                return gst::PadProbeReturn::Ok;
            };
            if !flashes.video_on(pts) {
                return gst::PadProbeReturn::Ok;
            }
            let Some(info) = pad
                .current_caps()
                .and_then(|c| gst_video::VideoInfo::from_caps(&c).ok())
            else {
                return gst::PadProbeReturn::Ok;
            };
            if let Ok(mut frame) =
                gst_video::VideoFrameRef::from_buffer_ref_writable(buffer.make_mut(), &info)
            {
                for plane in 0..frame.n_planes() {
                    if let Ok(data) = frame.plane_data_mut(plane) {
                        data.fill(if plane == 0 { WHITE_Y } else { NEUTRAL_UV });
                    }
                }
            }
            gst::PadProbeReturn::Ok
        });
    }

    /// Silences the sound between flashes, to the sample. `pad` must
    /// carry mono F32LE at `rate`.
    pub fn gate(self: &Arc<Self>, pad: &gst::Pad, rate: u32) {
        let flashes = self.clone();
        pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
            let Some(buffer) = info.buffer_mut() else {
                return gst::PadProbeReturn::Ok;
            };
            let Some(pts) = buffer.pts() else {
                return gst::PadProbeReturn::Ok;
            };
            let Ok(mut map) = buffer.make_mut().map_writable() else {
                return gst::PadProbeReturn::Ok;
            };
            for (i, sample) in map.as_mut_slice().chunks_exact_mut(4).enumerate() {
                let t = pts + gst::ClockTime::from_nseconds(i as u64 * 1_000_000_000 / rate as u64);
                if !flashes.audio_on(t) {
                    sample.copy_from_slice(&0f32.to_le_bytes());
                }
            }
            gst::PadProbeReturn::Ok
        });
    }
}

/// Flashing at `t`, counting from `first`.
fn on(first: gst::ClockTime, t: gst::ClockTime) -> bool {
    t >= first && (t - first).nseconds() % PERIOD.nseconds() < FLASH.nseconds()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> gst::ClockTime {
        gst::ClockTime::from_mseconds(v)
    }

    #[test]
    fn flashes_count_from_the_first_frame() {
        let f = Flashes::default();
        assert!(!f.audio_on(ms(500)), "silent before any frame");
        assert!(f.video_on(ms(500)));
        assert!(f.video_on(ms(600)) && !f.video_on(ms(620)));
        assert!(f.audio_on(ms(500)) && f.audio_on(ms(619)) && !f.audio_on(ms(620)));
        assert!(!f.audio_on(ms(499)), "nothing before the first frame");
        assert!(f.video_on(ms(1500)) && f.audio_on(ms(10_500)) && !f.audio_on(ms(10_499)));
    }
}
