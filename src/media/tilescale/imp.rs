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
use super::yuv::{Planes, PlanesMut, Scratch, scale};

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
    settings: Mutex<Settings>,
    /// What scaling keeps from frame to frame.
    scratch: Mutex<Scratch>,
}

/// What the properties hold, under one lock so that a tile's size and fit
/// change together.
#[derive(Clone, Copy)]
struct Settings {
    /// Crop to the output's shape (else letterbox): the `crop` property.
    crop: bool,
    /// The output's size (`width`, `height`); 0 leaves it to the caps
    /// downstream.
    width: u32,
    height: u32,
}

impl Default for TileScale {
    fn default() -> Self {
        TileScale {
            settings: Mutex::new(Settings {
                crop: true,
                width: 0,
                height: 0,
            }),
            scratch: Mutex::new(Scratch::default()),
        }
    }
}

impl TileScale {
    /// Sets the output's size and fit at once; a new size is negotiated on
    /// the next picture.
    pub(super) fn set_output(&self, width: u32, height: u32, crop: bool) {
        let new = Settings {
            crop,
            width,
            height,
        };
        let old = std::mem::replace(&mut *self.settings.lock().unwrap(), new);
        if (old.width, old.height) != (width, height) {
            self.obj().reconfigure_src();
        }
    }

    /// The size set by the properties, if both are.
    fn size(&self) -> Option<(u32, u32)> {
        let s = *self.settings.lock().unwrap();
        (s.width > 0 && s.height > 0).then_some((s.width, s.height))
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
            let side = |name: &str, blurb: &str| {
                glib::ParamSpecUInt::builder(name)
                    .blurb(blurb)
                    .default_value(0)
                    .mutable_playing()
                    .build()
            };
            vec![
                glib::ParamSpecBoolean::builder("crop")
                    .nick("Crop")
                    .blurb("Fill the output, cropping what overflows (else letterbox)")
                    .default_value(true)
                    .mutable_playing()
                    .build(),
                side(
                    "width",
                    "The output's width (0: as the caps downstream say)",
                ),
                side(
                    "height",
                    "The output's height (0: as the caps downstream say)",
                ),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = *self.settings.lock().unwrap();
        match pspec.name() {
            "crop" => s.crop = value.get().expect("type checked upstream"),
            "width" => s.width = value.get().expect("type checked upstream"),
            "height" => s.height = value.get().expect("type checked upstream"),
            _ => unimplemented!("no property {}", pspec.name()),
        }
        self.set_output(s.width, s.height, s.crop);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = *self.settings.lock().unwrap();
        match pspec.name() {
            "crop" => s.crop.to_value(),
            "width" => s.width.to_value(),
            "height" => s.height.to_value(),
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

    /// Any size in. Out, the size the properties set if they do, else any
    /// size, the same size first (passthrough); everything else (format,
    /// colours, rate) passes unchanged.
    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let mut any_size = caps.clone();
        for s in any_size.make_mut().iter_mut() {
            s.remove_fields(["width", "height", "pixel-aspect-ratio"]);
        }
        let other = match self.size() {
            Some((width, height)) if direction == gst::PadDirection::Sink => {
                let mut sized = any_size;
                for s in sized.make_mut().iter_mut() {
                    s.set("width", width as i32);
                    s.set("height", height as i32);
                    s.set("pixel-aspect-ratio", gst::Fraction::new(1, 1));
                }
                sized
            }
            _ => {
                let mut both = caps.clone();
                both.merge(any_size);
                both
            }
        };
        Some(match filter {
            Some(filter) => filter.intersect_with_mode(&other, gst::CapsIntersectMode::First),
            None => other,
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
        let crop = self.settings.lock().unwrap().crop;
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
