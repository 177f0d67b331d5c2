//! `backdrop`: the program's canvas colour as a video source that paints
//! one picture per negotiated format and pushes that same picture, its
//! memory shared, every frame.
//!
//! It stands in for `videotestsrc pattern=solid-color`, which copies its
//! cached picture into a fresh buffer every frame: a write of the whole
//! canvas (1.4 MB at 720p) that the compositor then reads again to copy
//! it onto its own canvas. Here only the compositor's copy is left.
//!
//! Formats are I420 and AYUV, what the compositor blends in; the colour is
//! converted for the negotiated colorimetry by GStreamer's own converter,
//! so it is the colour `videotestsrc` gave. Live (`is-live`) it runs on
//! the clock; `num-buffers` (from `GstBaseSrc`) ends it after that many.

mod imp;

use gst::glib;
use gst::prelude::*;

glib::wrapper! {
    pub struct Backdrop(ObjectSubclass<imp::Backdrop>)
        @extends gst_base::PushSrc, gst_base::BaseSrc, gst::Element, gst::Object;
}

/// The element's factory name.
pub const FACTORY: &str = "backdrop";

/// Registers the element with GStreamer, for `gst::ElementFactory::make`.
pub fn register() -> Result<(), glib::BoolError> {
    gst::Element::register(None, FACTORY, gst::Rank::NONE, Backdrop::static_type())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use gst_video::prelude::*;

    use super::*;
    use crate::media::launch_with_sink;

    /// Pulls `count` buffers, each with its caps, from `source ! caps !
    /// appsink`.
    fn pull(source: &str, caps: &str, count: usize) -> Vec<(gst::Buffer, gst::Caps)> {
        let (pipeline, sink) =
            launch_with_sink(&format!("{source} ! {caps} ! appsink name=sink sync=false"));
        pipeline.set_state(gst::State::Playing).unwrap();
        let samples = (0..count)
            .map(|_| {
                let sample = sink.pull_sample().unwrap();
                (
                    sample.buffer_owned().unwrap(),
                    sample.caps().unwrap().to_owned(),
                )
            })
            .collect();
        pipeline.set_state(gst::State::Null).unwrap();
        samples
    }

    /// Every pixel of a picture, as its components (one `Vec` per plane,
    /// padding left out).
    fn planes(buffer: &gst::BufferRef, caps: &gst::Caps) -> Vec<Vec<u8>> {
        let info = gst_video::VideoInfo::from_caps(caps).unwrap();
        let frame = gst_video::VideoFrameRef::from_buffer_ref_readable(buffer, &info).unwrap();
        (0..info.n_planes())
            .map(|p| {
                let stride = frame.plane_stride()[p as usize] as usize;
                let width = info.comp_width(p as u8) as usize * info.comp_pstride(p as u8) as usize;
                let rows = info.comp_height(p as u8) as usize;
                let data = frame.plane_data(p).unwrap();
                (0..rows)
                    .flat_map(|r| data[r * stride..r * stride + width].to_vec())
                    .collect()
            })
            .collect()
    }

    /// Asserts that `picture` (of `caps`) is, plane by plane and to within
    /// one, what `videotestsrc` paints in [`COLOUR`] with those caps.
    fn assert_videotestsrcs_colour(picture: &gst::BufferRef, caps: &gst::Caps) {
        let theirs = pull(
            &format!("videotestsrc pattern=solid-color foreground-color={COLOUR}"),
            &caps.to_string(),
            1,
        );
        let (ours, theirs) = (planes(picture, caps), planes(&theirs[0].0, &theirs[0].1));
        assert_eq!(ours.len(), theirs.len(), "{caps}");
        for (plane, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(a.len(), b.len(), "{caps}: plane {plane}");
            let worst = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max();
            assert!(
                worst.is_some_and(|w| w <= 1),
                "{caps}: plane {plane} differs by {worst:?}"
            );
        }
    }

    const CAPS_I420: &str = "video/x-raw,format=I420,width=320,height=180,framerate=20/1";
    const CAPS_AYUV: &str = "video/x-raw,format=AYUV,width=320,height=180,framerate=20/1";
    const COLOUR: u32 = 0xff10_141c;

    #[test]
    fn paints_the_colour_videotestsrc_paints() {
        for caps in [CAPS_I420, CAPS_AYUV] {
            let ours = pull(&format!("{FACTORY} color={COLOUR}"), caps, 1);
            assert_videotestsrcs_colour(&ours[0].0, &ours[0].1);
        }
    }

    #[test]
    fn every_frame_is_the_same_picture_on_the_frame_clock() {
        let frames = pull(&format!("{FACTORY} color={COLOUR}"), CAPS_I420, 3);
        let first = frames[0].0.peek_memory(0).map_readable().unwrap().as_ptr();
        for (n, (buffer, _)) in frames.iter().enumerate() {
            assert_eq!(
                buffer.peek_memory(0).map_readable().unwrap().as_ptr(),
                first,
                "frame {n} has memory of its own"
            );
            assert_eq!(
                buffer.pts(),
                Some(gst::ClockTime::from_mseconds(50 * n as u64))
            );
            assert_eq!(buffer.duration(), Some(gst::ClockTime::from_mseconds(50)));
        }
    }

    #[test]
    fn a_new_format_is_painted_and_the_clock_goes_on() {
        let (pipeline, sink) = launch_with_sink(&format!(
            "{FACTORY} color={COLOUR} ! capsfilter name=caps caps={CAPS_I420} \
             ! appsink name=sink sync=false max-buffers=1"
        ));
        pipeline.set_state(gst::State::Playing).unwrap();
        let before = sink.pull_sample().unwrap();
        let ayuv = gst::Caps::from_str(CAPS_AYUV).unwrap();
        pipeline
            .by_name("caps")
            .unwrap()
            .set_property("caps", &ayuv);
        let after = std::iter::repeat_with(|| sink.pull_sample().unwrap())
            .take(50)
            .find(|s| s.caps().unwrap().is_subset(&ayuv))
            .expect("AYUV within 50 frames");
        pipeline.set_state(gst::State::Null).unwrap();
        let (pts_before, pts_after) = (
            before.buffer().unwrap().pts(),
            after.buffer().unwrap().pts(),
        );
        assert!(pts_after > pts_before, "{pts_after:?} after {pts_before:?}");
        let frame = gst::ClockTime::from_mseconds(50);
        assert_eq!(
            pts_after.unwrap() % frame,
            gst::ClockTime::ZERO,
            "on the frame clock"
        );
        assert_videotestsrcs_colour(after.buffer().unwrap(), &ayuv);
    }

    #[test]
    fn live_it_reports_a_frame_of_latency_and_no_limit() {
        crate::media::init().unwrap();
        let pipeline = gst::parse::launch(&format!(
            "{FACTORY} name=src is-live=true ! {CAPS_I420} ! fakesink"
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let _ = pipeline.state(gst::ClockTime::from_seconds(5));
        let mut query = gst::query::Latency::new();
        let src = pipeline.by_name("src").unwrap().static_pad("src").unwrap();
        let answered = src.query(&mut query);
        pipeline.set_state(gst::State::Null).unwrap();
        assert!(answered);
        assert_eq!(
            query.result(),
            (
                true,
                gst::ClockTime::from_mseconds(50),
                gst::ClockTime::NONE
            )
        );
    }

    #[test]
    fn ends_after_num_buffers() {
        crate::media::init().unwrap();
        let pipeline = gst::parse::launch(&format!(
            "{FACTORY} num-buffers=5 ! {CAPS_I420} ! fakesink name=sink sync=false"
        ))
        .unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        let bus = pipeline.bus().unwrap();
        let end = bus
            .timed_pop_filtered(
                gst::ClockTime::from_seconds(10),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            )
            .unwrap();
        pipeline.set_state(gst::State::Null).unwrap();
        assert!(matches!(end.view(), gst::MessageView::Eos(_)), "{end:?}");
    }
}
