//! The stage a tile's picture ends with: `roundedcorners` and the format
//! it puts out.
//!
//! `roundedcorners` adds an alpha plane (A420) with the corners cut out;
//! with a radius of 0 it passes I420 through. Its format must not follow
//! the radius: the compositor refuses alpha while it blends in I420, and
//! a picture that switches format mid-stream fails negotiation and takes
//! its WebRTC peer down with it. So the format is fixed by a capsfilter
//! and changes only with the program's blend format, which turns to
//! alpha once, before any picture does (see `Program::use_alpha`). In A420
//! a radius of 0 is an opaque alpha plane, so radii change freely.

use gst::prelude::*;

use super::{MediaError, capsfilter, make};

#[derive(Clone)]
pub struct Corners {
    round: gst::Element,
    format: gst::Element,
}

impl Corners {
    /// Square corners in I420 until told otherwise.
    pub fn new() -> Result<Self, MediaError> {
        Ok(Corners {
            round: make("roundedcorners", None)?,
            format: capsfilter(None, &format_caps(false))?,
        })
    }

    /// The two elements, in stream order.
    pub fn elements(&self) -> [&gst::Element; 2] {
        [&self.round, &self.format]
    }

    /// Rounds the corners by `radius` if the program blends with `alpha`;
    /// without alpha the picture stays square (and I420).
    pub fn set(&self, alpha: bool, radius: u32) {
        // In an order where every step negotiates: A420 before a radius
        // (which allows only A420), a radius of 0 before I420.
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
        .field("format", if alpha { "A420" } else { "I420" })
        .build()
}
