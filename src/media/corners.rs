//! The stage a tile's picture ends with: `roundedcorners`, then the
//! compositor's own format.
//!
//! `roundedcorners` adds an alpha plane (A420) with the corners cut out;
//! with a radius of 0 it passes I420 through. What leaves the stage must
//! not follow the radius: the compositor refuses alpha while it blends in
//! I420, and a picture it refuses mid-stream fails negotiation and takes
//! its WebRTC peer down with it. So a capsfilter fixes the format, and it
//! changes only with the program's blend format, which turns to alpha
//! once, before any picture does (see `Program::use_alpha`): I420 before,
//! AYUV after (a radius of 0 is then opaque), so radii change freely.
//!
//! The conversion to AYUV happens here, on the track's own thread and
//! into a buffer pool, rather than in the compositor, which would
//! convert every picture on its one thread into freshly allocated
//! memory.

use gst::prelude::*;

use super::track::{CHROMA_SITE, COLORIMETRY};
use super::{MediaError, capsfilter, make};

#[derive(Clone)]
pub struct Corners {
    round: gst::Element,
    convert: gst::Element,
    format: gst::Element,
}

impl Corners {
    /// Square corners in I420 until told otherwise.
    pub fn new() -> Result<Self, MediaError> {
        Ok(Corners {
            round: make("roundedcorners", None)?,
            convert: make("videoconvert", None)?,
            format: capsfilter(None, &format_caps(false))?,
        })
    }

    /// The elements, in stream order.
    pub fn elements(&self) -> [&gst::Element; 3] {
        [&self.round, &self.convert, &self.format]
    }

    /// The last of them: where the picture leaves the stage.
    pub fn output(&self) -> &gst::Element {
        &self.format
    }

    /// Rounds the corners by `radius` if the program blends with `alpha`;
    /// without alpha the picture stays square (and I420).
    pub fn set(&self, alpha: bool, radius: u32) {
        // In an order where every step negotiates: AYUV before a radius
        // (which allows only A420 out of `roundedcorners`), a radius of 0
        // before I420.
        let radius = if alpha { radius } else { 0 };
        let caps = format_caps(alpha);
        let set_caps = || {
            if self.format.property::<gst::Caps>("caps") != caps {
                self.format.set_property("caps", &caps);
            }
        };
        if alpha {
            set_caps();
        }
        if self.round.property::<u32>("border-radius-px") != radius {
            self.round.set_property("border-radius-px", radius);
        }
        if !alpha {
            set_caps();
        }
    }
}

fn format_caps(alpha: bool) -> gst::Caps {
    gst::Caps::builder("video/x-raw")
        .field("format", if alpha { "AYUV" } else { "I420" })
        .field("colorimetry", COLORIMETRY)
        .field("chroma-site", CHROMA_SITE)
        .build()
}
