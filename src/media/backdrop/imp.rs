//! The `backdrop` element's GStreamer glue.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{LazyLock, Mutex};

use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::base_src::CreateSuccess;
use gst_base::subclass::prelude::*;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "backdrop",
        gst::DebugColorFlags::empty(),
        Some("callcast's canvas colour"),
    )
});

/// Opaque black, as `videotestsrc`'s foreground colour defaults to white:
/// the program always sets it.
const DEFAULT_COLOR: u32 = 0xff00_0000;

#[derive(Default)]
pub struct Backdrop {
    /// The colour, 0xAARRGGBB: the `color` property.
    color: AtomicU32,
    state: Mutex<State>,
}

/// What the negotiated caps made, and where the timeline is.
#[derive(Default)]
struct State {
    /// The painted picture; every frame is a copy of it that shares its
    /// memory.
    picture: Option<gst::Buffer>,
    /// One frame at the negotiated rate.
    frame: gst::ClockTime,
    /// The timeline at the last change of caps, and frames since.
    since: gst::ClockTime,
    frames: u64,
    /// Frames pushed since the start, for the buffers' offsets.
    offset: u64,
}

impl State {
    fn pts(&self) -> gst::ClockTime {
        self.since + self.frame * self.frames
    }
}

#[glib::object_subclass]
impl ObjectSubclass for Backdrop {
    const NAME: &'static str = "CallcastBackdrop";
    type Type = super::Backdrop;
    type ParentType = gst_base::PushSrc;
}

impl ObjectImpl for Backdrop {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecUInt::builder("color")
                    .nick("Colour")
                    .blurb("The colour, as 0xAARRGGBB (taken at the next negotiation)")
                    .default_value(DEFAULT_COLOR)
                    .build(),
                glib::ParamSpecBoolean::builder("is-live")
                    .nick("Is live")
                    .blurb("Push on the clock, one picture per frame")
                    .default_value(false)
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn constructed(&self) {
        self.parent_constructed();
        self.color.store(DEFAULT_COLOR, Ordering::Relaxed);
        let obj = self.obj();
        obj.set_format(gst::Format::Time);
        obj.set_live(false);
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        match pspec.name() {
            "color" => self.color.store(
                value.get().expect("type checked upstream"),
                Ordering::Relaxed,
            ),
            "is-live" => self
                .obj()
                .set_live(value.get().expect("type checked upstream")),
            _ => unimplemented!("no property {}", pspec.name()),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "color" => self.color.load(Ordering::Relaxed).to_value(),
            "is-live" => self.obj().is_live().to_value(),
            _ => unimplemented!("no property {}", pspec.name()),
        }
    }
}

impl GstObjectImpl for Backdrop {}

impl ElementImpl for Backdrop {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static METADATA: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Backdrop",
                "Source/Video",
                "One colour, painted once and pushed every frame without a copy",
                "callcast",
            )
        });
        Some(&*METADATA)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst_video::VideoCapsBuilder::new()
                .format_list([gst_video::VideoFormat::I420, gst_video::VideoFormat::Ayuv])
                .framerate_range(gst::Fraction::new(1, 1)..=gst::Fraction::new(i32::MAX, 1))
                .build();
            vec![
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &caps,
                )
                .expect("valid template"),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl BaseSrcImpl for Backdrop {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = State::default();
        Ok(())
    }

    fn is_seekable(&self) -> bool {
        false
    }

    /// The program's canvas comes fixed from the capsfilter after it; a
    /// bare backdrop takes 720p at 20 fps.
    fn fixate(&self, mut caps: gst::Caps) -> gst::Caps {
        caps.truncate();
        if let Some(s) = caps.make_mut().structure_mut(0) {
            s.fixate_field_nearest_int("width", 1280);
            s.fixate_field_nearest_int("height", 720);
            s.fixate_field_nearest_fraction("framerate", gst::Fraction::new(20, 1));
        }
        self.parent_fixate(caps)
    }

    /// Paints the picture for the new caps; the timeline goes on from the
    /// frame the old caps reached.
    fn set_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        let info = gst_video::VideoInfo::from_caps(caps)
            .map_err(|_| gst::loggable_error!(CAT, "not video caps: {caps}"))?;
        let fps = info.fps();
        let frame = gst::ClockTime::SECOND
            .mul_div_floor(fps.denom() as u64, fps.numer() as u64)
            .filter(|_| fps.numer() > 0)
            .ok_or_else(|| gst::loggable_error!(CAT, "no frame rate in {caps}"))?;
        let picture = paint(&info, self.color.load(Ordering::Relaxed))
            .map_err(|e| gst::loggable_error!(CAT, "painting {caps}: {e}"))?;
        let mut state = self.state.lock().unwrap();
        state.since = state.pts();
        state.frames = 0;
        state.frame = frame;
        state.picture = Some(picture);
        gst::debug!(CAT, imp = self, "painted {caps}");
        Ok(())
    }

    /// Live, the frame's span on the clock, for the base class to wait on.
    fn times(&self, buffer: &gst::BufferRef) -> (Option<gst::ClockTime>, Option<gst::ClockTime>) {
        if !self.obj().is_live() {
            return (None, None);
        }
        let start = buffer.pts();
        (start, start.opt_add(buffer.duration()))
    }

    /// Live, one frame of latency and no limit on how much may be added
    /// downstream (any picture can be made at any time), as
    /// `videotestsrc` reports: a finite maximum would cap the compositor's
    /// own latency below the inputs' allowance.
    fn query(&self, query: &mut gst::QueryRef) -> bool {
        if let gst::QueryViewMut::Latency(q) = query.view_mut() {
            let frame = self.state.lock().unwrap().frame;
            if frame > gst::ClockTime::ZERO {
                q.set(self.obj().is_live(), frame, gst::ClockTime::NONE);
                return true;
            }
        }
        BaseSrcImplExt::parent_query(self, query)
    }
}

impl PushSrcImpl for Backdrop {
    fn create(
        &self,
        _buffer: Option<&mut gst::BufferRef>,
    ) -> Result<CreateSuccess, gst::FlowError> {
        let mut state = self.state.lock().unwrap();
        let picture = state
            .picture
            .as_ref()
            .ok_or(gst::FlowError::NotNegotiated)?;
        // A copy of a buffer shares its memory: only the timestamps are new.
        let mut buffer = picture.copy();
        {
            let buffer = buffer.get_mut().expect("a fresh copy is writable");
            buffer.set_pts(state.pts());
            buffer.set_duration(state.frame);
            buffer.set_offset(state.offset);
            buffer.set_offset_end(state.offset + 1);
        }
        state.frames += 1;
        state.offset += 1;
        Ok(CreateSuccess::NewBuffer(buffer))
    }
}

/// A picture of `info` all one colour (0xAARRGGBB), converted from ARGB
/// by GStreamer's converter for `info`'s colorimetry.
fn paint(info: &gst_video::VideoInfo, argb: u32) -> Result<gst::Buffer, glib::BoolError> {
    let rgb =
        gst_video::VideoInfo::builder(gst_video::VideoFormat::Argb, info.width(), info.height())
            .fps(info.fps())
            .build()?;
    let mut source = gst::Buffer::with_size(rgb.size())
        .map_err(|_| glib::bool_error!("no memory for {} bytes", rgb.size()))?;
    {
        let source = source.get_mut().expect("a new buffer is writable");
        let mut frame = gst_video::VideoFrameRef::from_buffer_ref_writable(source, &rgb)?;
        let pixel = argb.to_be_bytes();
        for px in frame.plane_data_mut(0)?.chunks_exact_mut(4) {
            px.copy_from_slice(&pixel);
        }
    }
    let source = gst_video::VideoFrame::from_buffer_readable(source, &rgb)
        .map_err(|_| glib::bool_error!("mapping the ARGB picture"))?;
    let picture = gst::Buffer::with_size(info.size())
        .map_err(|_| glib::bool_error!("no memory for {} bytes", info.size()))?;
    let mut picture = gst_video::VideoFrame::from_buffer_writable(picture, info)
        .map_err(|_| glib::bool_error!("mapping the picture"))?;
    gst_video::VideoConverter::new(&rgb, info, None)?.frame(&source, &mut picture);
    Ok(picture.into_buffer())
}
