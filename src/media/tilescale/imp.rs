//! The `tilescale` element: GStreamer glue around [`super::geometry`] and
//! [`super::yuv`].

use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;

use super::geometry::{Size, place};
use super::yuv::{Planes, PlanesMut, scale};

/// Black in limited-range YUV: the letterbox's bands.
const BLACK: [u8; 3] = [16, 128, 128];

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "tilescale",
        gst::DebugColorFlags::empty(),
        Some("callcast's I420 crop and scale"),
    )
});

pub struct TileScale {
    /// Crop to the output's shape (else letterbox): the `crop` property.
    crop: Mutex<bool>,
    /// The halved pictures between the steps, kept from frame to frame.
    scratch: Mutex<Vec<u8>>,
}

impl Default for TileScale {
    fn default() -> Self {
        TileScale {
            crop: Mutex::new(true),
            scratch: Mutex::new(Vec::new()),
        }
    }
}

#[glib::object_subclass]
impl ObjectSubclass for TileScale {
    const NAME: &'static str = "CallcastTileScale";
    type Type = super::TileScale;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for TileScale {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecBoolean::builder("crop")
                    .nick("Crop")
                    .blurb("Fill the output, cropping what overflows (else letterbox)")
                    .default_value(true)
                    .mutable_playing()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if pspec.name() == "crop" {
            *self.crop.lock().unwrap() = value.get().expect("type checked upstream");
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "crop" => self.crop.lock().unwrap().to_value(),
            _ => unimplemented!("no property {}", pspec.name()),
        }
    }
}

impl GstObjectImpl for TileScale {}

impl ElementImpl for TileScale {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Tile scaler",
                "Filter/Converter/Video/Scaler",
                "Crops or letterboxes an I420 picture to its output's shape and scales it (libyuv)",
                "callcast",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst_video::VideoCapsBuilder::new()
                .format(gst_video::VideoFormat::I420)
                .build();
            [gst::PadDirection::Src, gst::PadDirection::Sink]
                .into_iter()
                .map(|direction| {
                    let name = if direction == gst::PadDirection::Src {
                        "src"
                    } else {
                        "sink"
                    };
                    gst::PadTemplate::new(name, direction, gst::PadPresence::Always, &caps)
                        .expect("valid template")
                })
                .collect()
        });
        TEMPLATES.as_ref()
    }
}

impl BaseTransformImpl for TileScale {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = true;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    /// Any size either way, the same size first (passthrough); everything
    /// else (format, colours, rate) passes unchanged.
    fn transform_caps(
        &self,
        _direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let mut any_size = caps.clone();
        for s in any_size.make_mut().iter_mut() {
            s.remove_fields(["width", "height", "pixel-aspect-ratio"]);
        }
        let mut both = caps.clone();
        both.merge(any_size);
        Some(match filter {
            Some(filter) => filter.intersect_with_mode(&both, gst::CapsIntersectMode::First),
            None => both,
        })
    }

    /// The input's own size if the other side takes it, else whatever it
    /// takes.
    fn fixate_caps(
        &self,
        _direction: gst::PadDirection,
        caps: &gst::Caps,
        othercaps: gst::Caps,
    ) -> gst::Caps {
        let same = othercaps.intersect(caps);
        let mut fixed = if same.is_empty() { othercaps } else { same };
        fixed.fixate();
        fixed
    }
}

impl VideoFilterImpl for TileScale {
    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let crop = *self.crop.lock().unwrap();
        let size = |info: &gst_video::VideoInfo| Size {
            width: info.width(),
            height: info.height(),
        };
        let (src_size, dst_size) = (size(inframe.info()), size(outframe.info()));
        let par = inframe.info().par();
        let placement = place(
            src_size,
            (par.numer().max(0) as u32, par.denom().max(0) as u32),
            dst_size,
            crop,
        );
        let fail = |e: super::yuv::ScaleError| {
            gst::element_imp_error!(self, gst::StreamError::Format, ["{}", e.0]);
            gst::FlowError::Error
        };

        let strides = |s: &[i32]| [0, 1, 2].map(|i| s[i].max(0) as usize);
        let in_strides = strides(inframe.plane_stride());
        let [y, u, v, _] = inframe.planes_data();
        let src = Planes::new(src_size, [y, u, v], in_strides)
            .and_then(|p| p.area(placement.from))
            .map_err(fail)?;
        let out_strides = strides(outframe.plane_stride());
        let [y, u, v, _] = outframe.planes_data_mut();
        let mut whole = PlanesMut::new(dst_size, [y, u, v], out_strides).map_err(fail)?;
        if placement.to.size() != dst_size {
            whole.fill(BLACK);
        }
        let mut dst = whole.area(placement.to).map_err(fail)?;
        scale(&src, &mut dst, &mut self.scratch.lock().unwrap()).map_err(fail)?;
        gst::trace!(CAT, imp = self, "{placement:?}");
        Ok(gst::FlowSuccess::Ok)
    }
}
