//! `tilescale`: a picture cropped (or letterboxed) to its tile's shape and
//! scaled to its tile's size, in one pass with no copy for the crop.
//!
//! Every video track goes through one, on its own thread, so that the
//! compositor only places pictures. It replaces `aspectratiocrop !
//! videoconvertscale`, whose scaling costs GStreamer 1.22 two to four
//! times what libyuv takes (see [`yuv`]); scaling was the largest single
//! part of callcast's overhead over decoding and encoding
//! (`BENCHMARKS.md`, "Scaling").
//!
//! I420 in and out, the size set by the `width` and `height` properties
//! (or [`TileScale::set_output`]) or else by the caps downstream; the
//! `crop` property chooses cropping (the default) or letterboxing.
//! Colours and formats are left to `videoconvert` around it.
//!
//! `geometry` is the pure part: where the picture goes and the sizes it
//! is halved through. `yuv` scales: libyuv halves, `bilinear` makes the
//! exact size.

pub mod bilinear;
pub mod geometry;
mod imp;
pub mod yuv;

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;

glib::wrapper! {
    pub struct TileScale(ObjectSubclass<imp::TileScale>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

impl TileScale {
    /// Scales to `width`x`height`, cropping (else letterboxing) to that
    /// shape: the size and the fit change together, and the new size is
    /// negotiated on the next picture. Nothing downstream needs to scale
    /// or to hold the size, so a change never meets an element that
    /// cannot follow it.
    pub fn set_output(&self, width: u32, height: u32, crop: bool) {
        self.imp().set_output(width, height, crop);
    }
}

/// The element's factory name.
pub const FACTORY: &str = "tilescale";

/// Registers the element with GStreamer, for `gst::ElementFactory::make`.
pub fn register() -> Result<(), glib::BoolError> {
    gst::Element::register(None, FACTORY, gst::Rank::NONE, TileScale::static_type())
}

#[cfg(test)]
mod tests {
    use gst_video::prelude::*;

    use super::*;
    use crate::media::launch_with_sink;

    /// Pushes one `width`x`height` I420 picture, black (Y 16) above row
    /// `black_rows` and white (Y 235) below, through `tilescale crop=crop`
    /// to 320x180, and returns the output's luma rows.
    fn through(width: u32, height: u32, black_rows: u32, crop: bool) -> Vec<Vec<u8>> {
        let (pipeline, sink) = launch_with_sink(&format!(
            "appsrc name=src format=time ! {FACTORY} name=scale crop={crop} \
             ! video/x-raw,width=320,height=180 ! appsink name=sink sync=false"
        ));
        let info = gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, width, height)
            .fps(gst::Fraction::new(20, 1))
            .build()
            .unwrap();
        let src = pipeline
            .by_name("src")
            .unwrap()
            .downcast::<gst_app::AppSrc>()
            .unwrap();
        src.set_caps(Some(&info.to_caps().unwrap()));
        let mut buffer = gst::Buffer::with_size(info.size()).unwrap();
        {
            let buffer = buffer.get_mut().unwrap();
            buffer.set_pts(gst::ClockTime::ZERO);
            let mut frame =
                gst_video::VideoFrameRef::from_buffer_ref_writable(buffer, &info).unwrap();
            let stride = frame.plane_stride()[0] as usize;
            let luma = frame.plane_data_mut(0).unwrap();
            for row in 0..height as usize {
                let value = if row < black_rows as usize { 16 } else { 235 };
                luma[row * stride..row * stride + width as usize].fill(value);
            }
            for plane in 1..3 {
                frame.plane_data_mut(plane).unwrap().fill(128);
            }
        }
        pipeline.set_state(gst::State::Playing).unwrap();
        src.push_buffer(buffer).unwrap();
        src.end_of_stream().unwrap();
        let sample = sink.pull_sample().unwrap();
        pipeline.set_state(gst::State::Null).unwrap();
        let caps = sample.caps().unwrap();
        let out = gst_video::VideoInfo::from_caps(caps).unwrap();
        assert_eq!((out.width(), out.height()), (320, 180));
        let frame =
            gst_video::VideoFrameRef::from_buffer_ref_readable(sample.buffer().unwrap(), &out)
                .unwrap();
        let stride = frame.plane_stride()[0] as usize;
        let luma = frame.plane_data(0).unwrap();
        (0..180)
            .map(|row| luma[row * stride..row * stride + 320].to_vec())
            .collect()
    }

    #[test]
    fn crops_a_taller_picture_to_its_middle() {
        // 640x480 into 16:9 keeps rows 60 to 420: the black top 60 rows go.
        let rows = through(640, 480, 60, true);
        assert!(rows.iter().flatten().all(|&y| y == 235), "all white");
    }

    #[test]
    fn letterboxes_a_taller_picture() {
        // Whole, 240 wide in 320: bands of 40 columns each side, and the
        // picture's black top (60 of 480 rows: 22 of 180) inside.
        let rows = through(640, 480, 60, false);
        for row in &rows {
            assert!(row[..38].iter().all(|&y| y == 16), "left band");
            assert!(row[282..].iter().all(|&y| y == 16), "right band");
        }
        assert!(
            rows[5][100..220].iter().all(|&y| y == 16),
            "the picture's top"
        );
        assert!(rows[100][100..220].iter().all(|&y| y == 235), "the picture");
    }

    #[test]
    fn the_same_size_passes_through() {
        let rows = through(320, 180, 0, true);
        assert!(rows.iter().flatten().all(|&y| y == 235));
    }
}
