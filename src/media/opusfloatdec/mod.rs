//! `opusfloatdec`: Opus to the mixer's 48 kHz F32 stereo through libopus's
//! single-stream decoder.
//!
//! Every audio track goes through one. GStreamer's `opusdec` decodes
//! through libopus's multistream API, which works out its decoders' sizes
//! again for every packet, and libopus 1.3 detects the CPU each time: eight
//! `cpuid`s a packet, each a trap to the hypervisor in a VM (5.5 µs here).
//! That doubled the cost of a packet (51 µs against 26 µs), and a call of
//! 25 takes 1250 packets a second (`BENCHMARKS.md`, "Sound").
//!
//! WebRTC's Opus only: channel mapping family 0, mono or stereo (an Ogg
//! stream's header packets are skipped, its pre-skip is not applied).
//! Lost packets arrive as gaps and are concealed when the base class's
//! `plc` property is on: up to 120 ms by libopus, silence after.
//!
//! `libopus` holds the unsafe calls; `imp` the element.

mod imp;
pub mod libopus;

use gst::glib;
use gst::prelude::*;

glib::wrapper! {
    pub struct OpusFloatDec(ObjectSubclass<imp::OpusFloatDec>)
        @extends gst_audio::AudioDecoder, gst::Element, gst::Object;
}

/// The element's factory name.
pub const FACTORY: &str = "opusfloatdec";

/// Registers the element with GStreamer, for `gst::ElementFactory::make`.
pub fn register() -> Result<(), glib::BoolError> {
    gst::Element::register(None, FACTORY, gst::Rank::NONE, OpusFloatDec::static_type())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use gst_app::AppSink;

    use super::*;
    use crate::media::launch_with_sink;

    const PACKET: Duration = Duration::from_millis(20);
    const PACKET_SAMPLES: usize = 960;

    /// `count` 20 ms packets of a `freq` Hz sine in `channels`, from
    /// `opusenc`, stamped 20 ms apart from 0.
    fn encode(channels: u32, freq: f64, count: usize) -> Vec<gst::Buffer> {
        let (pipeline, sink) = launch_with_sink(&format!(
            "audiotestsrc freq={freq} samplesperbuffer={PACKET_SAMPLES} num-buffers={count} \
             ! audio/x-raw,rate=48000,channels={channels} ! opusenc frame-size=20 \
             ! appsink name=sink sync=false"
        ));
        pipeline.set_state(gst::State::Playing).unwrap();
        let mut packets = Vec::new();
        while let Ok(sample) = sink.pull_sample() {
            let buffer = sample.buffer().unwrap();
            if buffer.flags().contains(gst::BufferFlags::HEADER) {
                continue;
            }
            let mut buffer = buffer.copy();
            let pts = PACKET * packets.len() as u32;
            let b = buffer.make_mut();
            b.set_pts(gst::ClockTime::from_nseconds(pts.as_nanos() as u64));
            b.set_duration(gst::ClockTime::from_nseconds(PACKET.as_nanos() as u64));
            packets.push(buffer);
        }
        pipeline.set_state(gst::State::Null).unwrap();
        // The encoder's look-ahead comes out as one more packet at the end.
        assert!(packets.len() >= count, "{}", packets.len());
        packets.truncate(count);
        packets
    }

    enum Item {
        Packet(gst::Buffer),
        /// A gap of this many packets from this one on: what the jitter
        /// buffer sends for lost packets.
        Lost {
            first: usize,
            count: usize,
        },
    }

    /// Pushes `items` into `opusfloatdec plc=plc` and returns the left
    /// and right channels of what came out, laid out by timestamp.
    fn decode(channels: u32, items: Vec<Item>, plc: bool) -> (Vec<f32>, Vec<f32>) {
        crate::media::init().unwrap();
        let pipeline = gst::Pipeline::new();
        let dec = gst::ElementFactory::make(FACTORY)
            .property("plc", plc)
            .build()
            .unwrap();
        // This thread pushes the whole stream, EOS too, before it pulls.
        let sink = AppSink::builder().sync(false).wait_on_eos(false).build();
        pipeline.add_many([&dec, sink.upcast_ref()]).unwrap();
        dec.link(&sink).unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();

        let src = gst::Pad::builder(gst::PadDirection::Src).build();
        src.set_active(true).unwrap();
        src.link(&dec.static_pad("sink").unwrap()).unwrap();
        assert!(src.push_event(gst::event::StreamStart::new("opus")));
        let caps = gst::Caps::builder("audio/x-opus")
            .field("channel-mapping-family", 0i32)
            .field("channels", channels as i32)
            .field("rate", 48_000i32)
            .build();
        assert!(src.push_event(gst::event::Caps::new(&caps)));
        let segment = gst::FormattedSegment::<gst::ClockTime>::new();
        assert!(src.push_event(gst::event::Segment::new(&segment)));
        for item in items {
            match item {
                Item::Packet(buffer) => {
                    src.push(buffer).unwrap();
                }
                Item::Lost { first, count } => {
                    let at =
                        gst::ClockTime::from_nseconds((PACKET * first as u32).as_nanos() as u64);
                    let len =
                        gst::ClockTime::from_nseconds((PACKET * count as u32).as_nanos() as u64);
                    assert!(src.push_event(gst::event::Gap::builder(at).duration(len).build()));
                }
            }
        }
        assert!(src.push_event(gst::event::Eos::new()));

        // Each buffer's samples where its timestamp puts them; NaN where
        // none came.
        let (mut left, mut right) = (Vec::new(), Vec::new());
        while let Ok(sample) = sink.pull_sample() {
            let buffer = sample.buffer().unwrap();
            let start = (buffer.pts().unwrap().nseconds() as f64 * 48e-6).round() as usize;
            let map = buffer.map_readable().unwrap();
            let end = start + map.len() / 8;
            if left.len() < end {
                left.resize(end, f32::NAN);
                right.resize(end, f32::NAN);
            }
            for (i, frame) in (start..end).zip(map.chunks_exact(8)) {
                left[i] = f32::from_le_bytes(frame[..4].try_into().unwrap());
                right[i] = f32::from_le_bytes(frame[4..].try_into().unwrap());
            }
        }
        pipeline.set_state(gst::State::Null).unwrap();
        (left, right)
    }

    fn packets(buffers: Vec<gst::Buffer>) -> Vec<Item> {
        with_losses(buffers, &[])
    }

    /// `buffers` with each `(first, count)` run of packets lost: a gap
    /// in their place.
    fn with_losses(buffers: Vec<gst::Buffer>, losses: &[(usize, usize)]) -> Vec<Item> {
        let mut items = Vec::new();
        for (i, buffer) in buffers.into_iter().enumerate() {
            match losses
                .iter()
                .find(|(first, count)| (*first..first + count).contains(&i))
            {
                Some(&(first, count)) if first == i => items.push(Item::Lost { first, count }),
                Some(_) => {}
                None => items.push(Item::Packet(buffer)),
            }
        }
        items
    }

    fn whole(samples: &[f32]) -> bool {
        !samples.iter().any(|s| s.is_nan())
    }

    fn rms(samples: &[f32]) -> f32 {
        (samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32).sqrt()
    }

    /// Upward zero crossings per second: the pitch of a pure tone.
    fn pitch(samples: &[f32]) -> f64 {
        let ups = samples
            .windows(2)
            .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
            .count();
        ups as f64 * 48_000.0 / samples.len() as f64
    }

    fn at(packet: usize) -> usize {
        packet * PACKET_SAMPLES
    }

    #[test]
    fn decodes_a_tone_at_its_pitch_and_length() {
        let (left, right) = decode(2, packets(encode(2, 440.0, 50)), false);
        assert_eq!(left.len(), at(50));
        assert!(whole(&left));
        // Past the codec's start-up, the tone at its pitch and loudness.
        let steady = &left[at(5)..];
        assert!((pitch(steady) - 440.0).abs() < 3.0, "{}", pitch(steady));
        assert!(rms(steady) > 0.4, "{}", rms(steady));
        assert!((rms(&right[at(5)..]) - rms(steady)).abs() < 0.05);
    }

    #[test]
    fn decodes_mono_to_both_sides() {
        let (left, right) = decode(1, packets(encode(1, 1000.0, 25)), false);
        assert_eq!(left.len(), at(25));
        assert!(whole(&left));
        assert!((pitch(&left[at(5)..]) - 1000.0).abs() < 5.0);
        assert!(left == right);
    }

    #[test]
    fn conceals_a_short_loss_and_fills_a_long_one() {
        // 60 ms lost at 200 ms; 300 ms lost at 500 ms.
        let items = with_losses(encode(2, 440.0, 50), &[(10, 3), (25, 15)]);
        let (left, _) = decode(2, items, true);
        // The timeline is whole: every lost packet's time is filled.
        assert_eq!(left.len(), at(50));
        assert!(whole(&left));
        // A short loss is concealed with sound like what came before...
        assert!(
            rms(&left[at(10)..at(13)]) > 0.1,
            "{}",
            rms(&left[at(10)..at(13)])
        );
        // ...a long one for its first 120 ms, then silence.
        assert!(rms(&left[at(25)..at(27)]) > 0.1);
        assert!(left[at(31)..at(40)].iter().all(|s| *s == 0.0));
        assert!(rms(&left[at(45)..]) > 0.4);
    }

    #[test]
    fn leaves_gaps_to_the_mixer_without_plc() {
        let items = with_losses(encode(2, 440.0, 30), &[(10, 10)]);
        let (left, _) = decode(2, items, false);
        assert_eq!(left.len(), at(30));
        assert!(left[at(10)..at(20)].iter().all(|s| s.is_nan()));
        assert!(whole(&left[..at(10)]) && whole(&left[at(20)..]));
    }

    #[test]
    fn skips_a_broken_packet() {
        let mut items = packets(encode(2, 440.0, 20));
        // A "code 3" packet must say how many frames it holds: this one,
        // in packet 10's place, is cut before it does.
        let mut broken = gst::Buffer::from_slice([0x03u8]);
        let at_10 = gst::ClockTime::from_nseconds((PACKET * 10).as_nanos() as u64);
        broken.make_mut().set_pts(at_10);
        items[10] = Item::Packet(broken);
        let (left, _) = decode(2, items, false);
        assert_eq!(left.len(), at(20));
        assert!(left[at(10)..at(11)].iter().all(|s| s.is_nan()));
        assert!(whole(&left[at(11)..]));
        assert!(rms(&left[at(15)..]) > 0.4);
    }
}
