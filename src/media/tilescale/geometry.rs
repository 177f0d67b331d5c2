//! Where a picture goes in its tile, and the sizes it passes through on
//! the way: pure arithmetic, no GStreamer.
//!
//! Offsets are even so that I420's half-size chroma planes line up with
//! the luma plane they belong to.

/// A width and height in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

/// A rectangle of a picture, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Area {
    pub fn whole(size: Size) -> Self {
        Area {
            x: 0,
            y: 0,
            width: size.width,
            height: size.height,
        }
    }

    pub fn size(&self) -> Size {
        Size {
            width: self.width,
            height: self.height,
        }
    }
}

/// What part of the source is shown (`from`) and where in the output it
/// goes (`to`); the rest of the output is border.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub from: Area,
    pub to: Area,
}

/// Places a `src` picture whose pixels are `par` (width:height) wide into
/// an output of `dst` square pixels: cropped to the output's shape if
/// `crop`, else whole and letterboxed.
pub fn place(src: Size, par: (u32, u32), dst: Size, crop: bool) -> Placement {
    let (par_n, par_d) = match par {
        (n, d) if n > 0 && d > 0 => (u64::from(n), u64::from(d)),
        _ => (1, 1),
    };
    let whole = Placement {
        from: Area::whole(src),
        to: Area::whole(dst),
    };
    if src.width == 0 || src.height == 0 || dst.width == 0 || dst.height == 0 {
        return whole;
    }
    let (sw, sh) = (u64::from(src.width), u64::from(src.height));
    let (dw, dh) = (u64::from(dst.width), u64::from(dst.height));
    // The source's display shape against the output's: sw·n/(sh·d) : dw/dh.
    let src_wide = sw * par_n * dh;
    let dst_wide = dw * sh * par_d;
    if src_wide == dst_wide {
        return whole;
    }
    if crop {
        let from = if src_wide > dst_wide {
            // Wider than the tile: keep the middle columns.
            let width = even_within(dw * sh * par_d / (dh * par_n), src.width);
            Area {
                x: even_down((src.width - width) / 2),
                y: 0,
                width,
                height: src.height,
            }
        } else {
            let height = even_within(dh * sw * par_n / (dw * par_d), src.height);
            Area {
                x: 0,
                y: even_down((src.height - height) / 2),
                width: src.width,
                height,
            }
        };
        Placement { from, to: whole.to }
    } else {
        let to = if src_wide > dst_wide {
            // Wider than the tile: full width, bands above and below.
            let height = even_within(dw * sh * par_d / (sw * par_n), dst.height);
            Area {
                x: 0,
                y: even_down((dst.height - height) / 2),
                width: dst.width,
                height,
            }
        } else {
            let width = even_within(dh * sw * par_n / (sh * par_d), dst.width);
            Area {
                x: even_down((dst.width - width) / 2),
                y: 0,
                width,
                height: dst.height,
            }
        };
        Placement {
            from: whole.from,
            to,
        }
    }
}

/// The sizes a picture is halved through on its way from `from` to `to`:
/// one halving for each time it is still at least twice the target both
/// ways. Each halving averages 2x2 pixels, so every source pixel counts
/// however small the tile; the last step, by less than two, interpolates
/// (as mipmaps do). Without the halvings, interpolating straight down by
/// more than two would skip pixels and alias fine detail (text on a
/// shared screen).
pub fn halvings(from: Size, to: Size) -> Vec<Size> {
    let mut sizes = Vec::new();
    let mut at = from;
    while to.width > 0 && to.height > 0 && at.width >= to.width * 2 && at.height >= to.height * 2 {
        at = Size {
            width: at.width / 2,
            height: at.height / 2,
        };
        sizes.push(at);
    }
    sizes
}

fn even_down(v: u32) -> u32 {
    v & !1
}

/// `v` rounded to even, at least 2 and at most `limit` (which wins).
fn even_within(v: u64, limit: u32) -> u32 {
    let v = u32::try_from(v).unwrap_or(u32::MAX);
    (even_down(v.saturating_add(1)).max(2)).min(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(width: u32, height: u32) -> Size {
        Size { width, height }
    }

    fn area(x: u32, y: u32, width: u32, height: u32) -> Area {
        Area {
            x,
            y,
            width,
            height,
        }
    }

    #[test]
    fn same_shape_is_whole() {
        let p = place(size(640, 360), (1, 1), size(320, 180), true);
        assert_eq!(p.from, area(0, 0, 640, 360));
        assert_eq!(p.to, area(0, 0, 320, 180));
    }

    #[test]
    fn cover_keeps_the_middle() {
        // 16:9 into a square: the middle 360 columns.
        let p = place(size(640, 360), (1, 1), size(200, 200), true);
        assert_eq!(p.from, area(140, 0, 360, 360));
        assert_eq!(p.to, area(0, 0, 200, 200));
        // 4:3 into 16:9: the middle rows.
        let p = place(size(640, 480), (1, 1), size(320, 180), true);
        assert_eq!(p.from, area(0, 60, 640, 360));
    }

    #[test]
    fn contain_letterboxes() {
        // 16:9 into a square: bands above and below.
        let p = place(size(640, 360), (1, 1), size(200, 200), false);
        assert_eq!(p.from, area(0, 0, 640, 360));
        assert_eq!(p.to, area(0, 44, 200, 112));
        // A tall phone screen into 16:9: bands left and right.
        let p = place(size(720, 1280), (1, 1), size(320, 180), false);
        assert_eq!(p.to, area(108, 0, 102, 180));
    }

    #[test]
    fn pixel_aspect_counts() {
        // 480x360 of 4:3 pixels shows as 640x360: no crop for 16:9.
        let p = place(size(480, 360), (4, 3), size(320, 180), true);
        assert_eq!(p.from, area(0, 0, 480, 360));
        // A zero ratio (unknown) counts as square.
        let p = place(size(640, 360), (0, 1), size(320, 180), true);
        assert_eq!(p.from, area(0, 0, 640, 360));
    }

    #[test]
    fn offsets_are_even_and_inside() {
        for (sw, sh) in [(641, 359), (1280, 720), (33, 17), (2, 2), (1, 1)] {
            for (dw, dh) in [(238, 134), (164, 92), (618, 348), (2, 2), (100, 300)] {
                for crop in [true, false] {
                    let p = place(size(sw, sh), (1, 1), size(dw, dh), crop);
                    for (a, w, h) in [(p.from, sw, sh), (p.to, dw, dh)] {
                        assert_eq!(a.x % 2, 0, "{sw}x{sh} {dw}x{dh} {crop}: {p:?}");
                        assert_eq!(a.y % 2, 0, "{sw}x{sh} {dw}x{dh} {crop}: {p:?}");
                        assert!(a.width >= 1 && a.height >= 1, "{p:?}");
                        assert!(a.x + a.width <= w && a.y + a.height <= h, "{p:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn halves_while_twice_the_target() {
        assert_eq!(halvings(size(640, 360), size(618, 348)), vec![]);
        assert_eq!(
            halvings(size(640, 360), size(320, 180)),
            vec![size(320, 180)]
        );
        assert_eq!(
            halvings(size(640, 360), size(238, 134)),
            vec![size(320, 180)]
        );
        assert_eq!(
            halvings(size(1280, 720), size(164, 92)),
            vec![size(640, 360), size(320, 180)]
        );
        // Not both ways at twice: no halving (the crop made it so).
        assert_eq!(halvings(size(640, 100), size(200, 60)), vec![]);
        // Upscaling and empty targets: none.
        assert_eq!(halvings(size(320, 180), size(618, 348)), vec![]);
        assert_eq!(halvings(size(320, 180), size(0, 0)), vec![]);
    }
}
