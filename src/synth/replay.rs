//! Replaying [`Clip`]s as live sources: one pacing thread pushes every
//! participant's next frame into its `appsrc` on a shared wall-clock
//! schedule, so that whoever reads a frame's [`tag`](super::tag) knows
//! when it was "captured" without being told.
//!
//! Video frame `n` goes out at `epoch + n / fps` for every participant
//! (all in step, the worst case for a receiver), showing clip frame
//! `n mod MODULUS`. A receiver's key frame request is answered with the
//! key-frame variant of the next frame.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gst::prelude::*;

use super::clip::{AUDIO_FRAME, Clip};
use super::tag;
use crate::media::MediaError;

/// When frame `n` of a schedule goes out: pure arithmetic shared by the
/// sender and whoever measures how late it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Unix time of frame 0, in nanoseconds.
    pub epoch_ns: u64,
    pub fps: u32,
}

impl Schedule {
    pub fn period_ns(&self) -> u64 {
        1_000_000_000 / self.fps.max(1) as u64
    }

    /// Unix time frame `n` is sent at.
    pub fn send_time_ns(&self, n: u64) -> u64 {
        self.epoch_ns + n * 1_000_000_000 / self.fps.max(1) as u64
    }

    /// The first frame due at or after `now_ns`.
    pub fn next_frame(&self, now_ns: u64) -> u64 {
        let since = now_ns.saturating_sub(self.epoch_ns);
        since.div_ceil(self.period_ns())
    }

    /// When the latest frame tagged `tag` that was due by `at_ns` was
    /// sent; `None` if none was yet.
    pub fn sent_with_tag(&self, tag: u8, at_ns: u64) -> Option<u64> {
        if at_ns < self.epoch_ns {
            return None;
        }
        // The last frame due by `at_ns`, then back to one with this tag.
        let last = (at_ns - self.epoch_ns) * self.fps as u64 / 1_000_000_000;
        let back = (last % tag::MODULUS + tag::MODULUS - tag as u64) % tag::MODULUS;
        last.checked_sub(back).map(|n| self.send_time_ns(n))
    }
}

pub fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos() as u64
}

struct Player {
    clip: Arc<Clip>,
    video: gst_app::AppSrc,
    audio: gst_app::AppSrc,
    key_frame_wanted: Arc<AtomicBool>,
}

/// The pacing thread and the players it feeds.
pub struct Pacer {
    players: Arc<Mutex<Vec<Player>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Pacer {
    pub fn start(schedule: Schedule) -> Self {
        let players = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (players, stop) = (players.clone(), stop.clone());
            std::thread::Builder::new()
                .name("clip-pacer".into())
                .spawn(move || pace(schedule, &players, &stop))
                .expect("threads can be spawned")
        };
        Pacer {
            players,
            stop,
            thread: Some(thread),
        }
    }

    /// A new player of `clip`: its video and audio sources, for
    /// [`EncodedChains::replaying`](super::publisher::EncodedChains::replaying).
    pub fn player(&self, clip: Arc<Clip>) -> Result<(gst::Element, gst::Element), MediaError> {
        let video = appsrc(&clip.video_caps)?;
        let audio = appsrc(&clip.audio_caps)?;
        let key_frame_wanted = Arc::new(AtomicBool::new(false));
        {
            let wanted = key_frame_wanted.clone();
            video
                .static_pad("src")
                .expect("appsrc has a src")
                .add_probe(gst::PadProbeType::EVENT_UPSTREAM, move |_, info| {
                    if let Some(gst::PadProbeData::Event(ev)) = &info.data
                        && gst_video::UpstreamForceKeyUnitEvent::parse(ev).is_ok()
                    {
                        wanted.store(true, Ordering::Relaxed);
                    }
                    gst::PadProbeReturn::Ok
                });
        }
        self.players.lock().unwrap().push(Player {
            clip,
            video: video.clone(),
            audio: audio.clone(),
            key_frame_wanted,
        });
        Ok((video.upcast(), audio.upcast()))
    }
}

impl Drop for Pacer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn appsrc(caps: &gst::Caps) -> Result<gst_app::AppSrc, MediaError> {
    let src = gst_app::AppSrc::builder()
        .caps(caps)
        .is_live(true)
        .format(gst::Format::Time)
        .do_timestamp(true)
        // A second of frames at most: a stalled branch drops, never grows.
        .max_bytes(2_000_000)
        .leaky_type(gst_app::AppLeakyType::Downstream)
        .build();
    Ok(src)
}

fn pace(schedule: Schedule, players: &Mutex<Vec<Player>>, stop: &AtomicBool) {
    let audio = Schedule {
        epoch_ns: schedule.epoch_ns,
        fps: (1000 / AUDIO_FRAME.as_millis()) as u32,
    };
    let now = unix_ns(SystemTime::now());
    let (mut v, mut a) = (schedule.next_frame(now), audio.next_frame(now));
    while !stop.load(Ordering::Relaxed) {
        let (tv, ta) = (schedule.send_time_ns(v), audio.send_time_ns(a));
        let due = tv.min(ta);
        let now = unix_ns(SystemTime::now());
        if due > now {
            std::thread::sleep(Duration::from_nanos(due - now).min(Duration::from_millis(100)));
            continue;
        }
        let players = players.lock().unwrap();
        if tv <= ta {
            for p in players.iter() {
                let i = (v % p.clip.video.len() as u64) as usize;
                let frames = match p.key_frame_wanted.swap(false, Ordering::Relaxed) {
                    true => &p.clip.key_frames,
                    false => &p.clip.video,
                };
                if std::ptr::eq(frames, &p.clip.key_frames) {
                    tracing::debug!(src = %p.video.name(), frame = v, "a key frame, as asked");
                }
                push(&p.video, &frames[i], schedule.period_ns());
            }
            v += 1;
        } else {
            for p in players.iter() {
                let i = (a % p.clip.audio.len() as u64) as usize;
                push(&p.audio, &p.clip.audio[i], audio.period_ns());
            }
            a += 1;
        }
    }
}

/// Pushes a copy of `frame` (sharing its memory), stamped on arrival.
fn push(src: &gst_app::AppSrc, frame: &gst::Buffer, duration_ns: u64) {
    let mut buffer = frame.copy();
    buffer
        .make_mut()
        .set_duration(gst::ClockTime::from_nseconds(duration_ns));
    let _ = src.push_buffer(buffer);
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Schedule = Schedule {
        epoch_ns: 1_000_000_000_000,
        fps: 20,
    };

    #[test]
    fn frames_are_due_a_period_apart() {
        assert_eq!(S.send_time_ns(0), S.epoch_ns);
        assert_eq!(S.send_time_ns(3), S.epoch_ns + 150_000_000);
        assert_eq!(S.next_frame(S.epoch_ns), 0);
        assert_eq!(S.next_frame(S.epoch_ns + 1), 1);
        assert_eq!(S.next_frame(S.epoch_ns - 5), 0);
    }

    #[test]
    fn a_tag_maps_back_to_its_latest_send_time() {
        // Frame 300 (tag 44) was sent at epoch + 15 s; seen 120 ms later.
        let seen = S.send_time_ns(300) + 120_000_000;
        assert_eq!(S.sent_with_tag(44, seen), Some(S.send_time_ns(300)));
        // Tag 43 is frame 299, one period earlier.
        assert_eq!(S.sent_with_tag(43, seen), Some(S.send_time_ns(299)));
        // Frames 301 and 302 were due by then too.
        assert_eq!(S.sent_with_tag(45, seen), Some(S.send_time_ns(301)));
        // Tag 47 (frame 303) was not sent yet: the one before was frame 47.
        assert_eq!(S.sent_with_tag(47, seen), Some(S.send_time_ns(47)));
        // Before the first frame with that tag: none.
        assert_eq!(S.sent_with_tag(9, S.send_time_ns(3)), None);
        assert_eq!(S.sent_with_tag(0, S.epoch_ns - 1), None);
    }
}
