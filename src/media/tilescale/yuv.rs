//! I420 pictures as plane views, and the scaler over them: libyuv's
//! halvings, then [`super::bilinear`]'s last step.
//!
//! libyuv is the scaler WebRTC scales its own frames with: SIMD row
//! functions for the CPU it runs on, chosen at run time. Scaling a
//! 640x360 picture to a 238x134 tile takes it 0.07 ms (halved first, see
//! [`super::geometry::halvings`]), where GStreamer 1.22's video converter
//! takes 0.26 ms, most of it in a horizontal filter orc leaves to plain C
//! (measured on the development machine, `BENCHMARKS.md`). Its last,
//! interpolating step is done by [`super::bilinear`] instead, to the same
//! bytes, with a faster horizontal filter.

use std::os::raw::c_int;

use super::bilinear::{self, Columns};
use super::geometry::{Area, Size, halvings};

// Averages every source pixel when reducing by two or more, interpolates
// otherwise (libyuv picks per call).
const FILTER_BOX: c_int = 3;

#[link(name = "yuv")]
unsafe extern "C" {
    #[allow(clippy::too_many_arguments)]
    fn I420Scale(
        src_y: *const u8,
        src_stride_y: c_int,
        src_u: *const u8,
        src_stride_u: c_int,
        src_v: *const u8,
        src_stride_v: c_int,
        src_width: c_int,
        src_height: c_int,
        dst_y: *mut u8,
        dst_stride_y: c_int,
        dst_u: *mut u8,
        dst_stride_u: c_int,
        dst_v: *mut u8,
        dst_stride_v: c_int,
        dst_width: c_int,
        dst_height: c_int,
        filtering: c_int,
    ) -> c_int;
}

/// A picture that does not fit the memory it is said to be in, or sizes
/// libyuv refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ScaleError(pub String);

/// An I420 picture: its size and its three planes (Y, U, V), each a slice
/// that starts at the picture's first pixel, with its stride. Made only
/// by [`Planes::new`], which checks that the planes hold the picture:
/// what makes handing them to libyuv sound.
pub struct Planes<'a> {
    size: Size,
    planes: [&'a [u8]; 3],
    strides: [usize; 3],
}

/// A picture to write into, checked the same way.
pub struct PlanesMut<'a> {
    size: Size,
    planes: [&'a mut [u8]; 3],
    strides: [usize; 3],
}

/// The size of plane `i` of a picture of `size`: chroma is half each way,
/// rounded up.
fn plane_size(size: Size, i: usize) -> (usize, usize) {
    let (w, h) = (size.width as usize, size.height as usize);
    if i == 0 {
        (w, h)
    } else {
        (w.div_ceil(2), h.div_ceil(2))
    }
}

/// Whether a plane `len` bytes long holds `rows` rows of `width` bytes,
/// `stride` apart.
fn holds(len: usize, stride: usize, (width, rows): (usize, usize)) -> bool {
    rows == 0 || (stride >= width && (rows - 1) * stride + width <= len)
}

/// The offset of `area`'s first pixel in plane `i`; `area` must be at
/// even offsets for chroma to line up.
fn offset(area: Area, stride: usize, i: usize) -> usize {
    let (x, y) = (area.x as usize, area.y as usize);
    if i == 0 {
        y * stride + x
    } else {
        (y / 2) * stride + x / 2
    }
}

fn check(size: Size, lens: [usize; 3], strides: [usize; 3]) -> Result<(), ScaleError> {
    for i in 0..3 {
        if !holds(lens[i], strides[i], plane_size(size, i)) {
            return Err(ScaleError(format!(
                "plane {i} of {}x{} does not fit {} bytes at stride {}",
                size.width, size.height, lens[i], strides[i]
            )));
        }
    }
    Ok(())
}

fn inside(area: Area, size: Size) -> Result<(), ScaleError> {
    if !area.x.is_multiple_of(2)
        || !area.y.is_multiple_of(2)
        || u64::from(area.x) + u64::from(area.width) > u64::from(size.width)
        || u64::from(area.y) + u64::from(area.height) > u64::from(size.height)
    {
        return Err(ScaleError(format!(
            "{area:?} is not an even-placed part of {}x{}",
            size.width, size.height
        )));
    }
    Ok(())
}

impl<'a> Planes<'a> {
    pub fn new(size: Size, planes: [&'a [u8]; 3], strides: [usize; 3]) -> Result<Self, ScaleError> {
        check(size, planes.map(<[u8]>::len), strides)?;
        Ok(Planes {
            size,
            planes,
            strides,
        })
    }

    /// The part of the picture in `area` (at even offsets).
    pub fn area(&self, area: Area) -> Result<Planes<'a>, ScaleError> {
        inside(area, self.size)?;
        let planes: [&'a [u8]; 3] =
            std::array::from_fn(|i| &self.planes[i][offset(area, self.strides[i], i)..]);
        Planes::new(area.size(), planes, self.strides)
    }
}

impl<'a> PlanesMut<'a> {
    pub fn new(
        size: Size,
        planes: [&'a mut [u8]; 3],
        strides: [usize; 3],
    ) -> Result<Self, ScaleError> {
        check(size, planes.each_ref().map(|p| p.len()), strides)?;
        Ok(PlanesMut {
            size,
            planes,
            strides,
        })
    }

    /// The part of the picture in `area` (at even offsets), to write into.
    pub fn area(&mut self, area: Area) -> Result<PlanesMut<'_>, ScaleError> {
        inside(area, self.size)?;
        let strides = self.strides;
        let [y, u, v] = &mut self.planes;
        let planes = [
            &mut y[offset(area, strides[0], 0)..],
            &mut u[offset(area, strides[1], 1)..],
            &mut v[offset(area, strides[2], 2)..],
        ];
        PlanesMut::new(area.size(), planes, strides)
    }

    /// Paints the whole picture one colour.
    pub fn fill(&mut self, yuv: [u8; 3]) {
        for (i, value) in yuv.into_iter().enumerate() {
            let (width, rows) = plane_size(self.size, i);
            let stride = self.strides[i];
            for row in 0..rows {
                self.planes[i][row * stride..row * stride + width].fill(value);
            }
        }
    }
}

/// A contiguous I420 layout of `size` in `buf`: the planes one after the
/// other, rows packed.
fn packed(size: Size, buf: &mut [u8]) -> Result<PlanesMut<'_>, ScaleError> {
    let strides = [0, 1, 2].map(|i| plane_size(size, i).0);
    let lens = packed_lens(size);
    let (y, rest) = buf.split_at_mut(lens[0]);
    let (u, rest) = rest.split_at_mut(lens[1]);
    PlanesMut::new(size, [y, u, &mut rest[..lens[2]]], strides)
}

/// The bytes of each plane of a packed picture of `size`.
fn packed_lens(size: Size) -> [usize; 3] {
    [0, 1, 2].map(|i| {
        let (w, h) = plane_size(size, i);
        w * h
    })
}

fn packed_len(size: Size) -> usize {
    packed_lens(size).iter().sum()
}

/// What scaling keeps from frame to frame: the halved pictures between the
/// steps, a blended row, and the last step's column plans.
#[derive(Default)]
pub struct Scratch {
    halves: Vec<u8>,
    row: Vec<u8>,
    plans: Vec<Columns>,
}

/// Scales `src` to fill `dst`: halved first while it is at least twice
/// `dst` both ways (libyuv, every pixel averaged), in `scratch`, then
/// interpolated to the exact size ([`bilinear`], or libyuv for what it
/// does not take).
pub fn scale(src: &Planes, dst: &mut PlanesMut, scratch: &mut Scratch) -> Result<(), ScaleError> {
    let Scratch { halves, row, plans } = scratch;
    let steps = halvings(src.size, dst.size);
    let needed: usize = steps.iter().map(|s| packed_len(*s)).sum();
    if halves.len() < needed {
        halves.resize(needed, 0);
    }
    let mut from = Planes {
        size: src.size,
        planes: src.planes,
        strides: src.strides,
    };
    let mut rest = &mut halves[..];
    for step in steps {
        let (here, after) = std::mem::take(&mut rest).split_at_mut(packed_len(step));
        let mut to = packed(step, here)?;
        scale_once(&from, &mut to)?;
        from = Planes {
            size: step,
            planes: to.planes.map(|p| &*p),
            strides: to.strides,
        };
        rest = after;
    }
    if (0..3).all(|i| bilinear::handles(plane_size(from.size, i), plane_size(dst.size, i))) {
        interpolate(&from, dst, row, plans);
        Ok(())
    } else {
        scale_once(&from, dst)
    }
}

/// The last step, plane by plane, by [`bilinear`].
fn interpolate(src: &Planes, dst: &mut PlanesMut, row: &mut Vec<u8>, plans: &mut Vec<Columns>) {
    for i in 0..3 {
        let ((sw, sh), (dw, dh)) = (plane_size(src.size, i), plane_size(dst.size, i));
        // Luma's and chroma's plans; a new size replaces them.
        let plan = match plans.iter().position(|p| p.widths() == (sw, dw)) {
            Some(at) => at,
            None => {
                if plans.len() >= 2 {
                    plans.clear();
                }
                plans.push(Columns::new(sw, dw));
                plans.len() - 1
            }
        };
        let from = bilinear::Plane {
            data: src.planes[i],
            stride: src.strides[i],
            height: sh,
        };
        let to = bilinear::Plane {
            data: &mut *dst.planes[i],
            stride: dst.strides[i],
            height: dh,
        };
        bilinear::scale_plane(from, to, &plans[plan], row);
    }
}

fn scale_once(src: &Planes, dst: &mut PlanesMut) -> Result<(), ScaleError> {
    let int = |v: usize| {
        c_int::try_from(v).map_err(|_| ScaleError(format!("{v} is too large for libyuv")))
    };
    let [sy, su, sv] = src.planes;
    let [dy, du, dv] = &mut dst.planes;
    let strides = |s: [usize; 3]| -> Result<[c_int; 3], ScaleError> {
        Ok([int(s[0])?, int(s[1])?, int(s[2])?])
    };
    let (ss, ds) = (strides(src.strides)?, strides(dst.strides)?);
    let (sw, sh) = (
        int(src.size.width as usize)?,
        int(src.size.height as usize)?,
    );
    let (dw, dh) = (
        int(dst.size.width as usize)?,
        int(dst.size.height as usize)?,
    );
    // SAFETY: `Planes::new` and `PlanesMut::new` checked that every plane
    // holds its rows at its stride for the picture's size, which is all
    // libyuv reads and writes.
    let status = unsafe {
        I420Scale(
            sy.as_ptr(),
            ss[0],
            su.as_ptr(),
            ss[1],
            sv.as_ptr(),
            ss[2],
            sw,
            sh,
            dy.as_mut_ptr(),
            ds[0],
            du.as_mut_ptr(),
            ds[1],
            dv.as_mut_ptr(),
            ds[2],
            dw,
            dh,
            FILTER_BOX,
        )
    };
    if status != 0 {
        return Err(ScaleError(format!(
            "libyuv cannot scale {}x{} to {}x{}",
            src.size.width, src.size.height, dst.size.width, dst.size.height
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::tilescale::bilinear::tests::noise;

    fn size(width: u32, height: u32) -> Size {
        Size { width, height }
    }

    /// A packed picture of `size` filled by `f(plane, x, y)`.
    fn picture(size: Size, f: impl Fn(usize, usize, usize) -> u8) -> Vec<u8> {
        let mut buf = vec![0; packed_len(size)];
        let p = packed(size, &mut buf).unwrap();
        for i in 0..3 {
            let (w, h) = plane_size(size, i);
            for y in 0..h {
                for x in 0..w {
                    p.planes[i][y * p.strides[i] + x] = f(i, x, y);
                }
            }
        }
        buf
    }

    fn view(size: Size, buf: &[u8]) -> Planes<'_> {
        let (w, h) = plane_size(size, 1);
        let luma = (size.width * size.height) as usize;
        Planes::new(
            size,
            [&buf[..luma], &buf[luma..luma + w * h], &buf[luma + w * h..]],
            [size.width as usize, w, w],
        )
        .unwrap()
    }

    /// `src` scaled into a new packed picture of size `to`.
    fn scaled(src: &Planes, to: Size) -> Vec<u8> {
        let mut out = vec![0; packed_len(to)];
        scale(
            src,
            &mut packed(to, &mut out).unwrap(),
            &mut Scratch::default(),
        )
        .unwrap();
        out
    }

    #[test]
    fn the_last_step_gives_libyuvs_bytes() {
        // Noise, so that every tap and weight shows: scaled down, the
        // bilinear step matches libyuv's to the byte; up, libyuv's
        // edges differ, by one at most.
        let sizes = [
            (size(640, 360), size(618, 348), 0),
            (size(640, 360), size(406, 228), 0),
            (size(320, 180), size(302, 170), 0),
            (size(320, 180), size(238, 134), 0),
            (size(100, 60), size(64, 40), 0),
            // Odd sizes (chroma rounds up), a screen share's halved 1366x768.
            (size(641, 361), size(407, 229), 0),
            (size(683, 384), size(618, 348), 0),
            (size(320, 180), size(640, 360), 1),
        ];
        for (from, to, within) in sizes {
            let src = noise(packed_len(from), 12345);
            let src = view(from, &src);
            let (mut theirs, mut ours) = (vec![0; packed_len(to)], vec![0; packed_len(to)]);
            scale_once(&src, &mut packed(to, &mut theirs).unwrap()).unwrap();
            interpolate(
                &src,
                &mut packed(to, &mut ours).unwrap(),
                &mut Vec::new(),
                &mut Vec::new(),
            );
            let worst = theirs.iter().zip(&ours).map(|(a, b)| a.abs_diff(*b)).max();
            assert_eq!(
                worst.map(|w| w <= within),
                Some(true),
                "{from:?} to {to:?}: {worst:?}"
            );
        }
    }

    #[test]
    fn planes_must_fit_their_memory() {
        let buf = [0u8; 100];
        assert!(Planes::new(size(10, 10), [&buf[..], &buf[..25], &buf[..25]], [10, 5, 5]).is_ok());
        assert!(Planes::new(size(10, 10), [&buf[..99], &buf[..], &buf[..]], [10, 5, 5]).is_err());
        assert!(Planes::new(size(10, 10), [&buf[..], &buf[..], &buf[..]], [9, 5, 5]).is_err());
        // Odd sizes round chroma up: 5x5 luma has 3x3 chroma.
        assert!(Planes::new(size(5, 5), [&buf[..25], &buf[..8], &buf[..]], [5, 3, 3]).is_err());
    }

    #[test]
    fn areas_are_even_and_inside() {
        let buf = picture(size(8, 8), |_, _, _| 0);
        let p = view(size(8, 8), &buf);
        assert!(
            p.area(Area {
                x: 2,
                y: 2,
                width: 6,
                height: 6
            })
            .is_ok()
        );
        assert!(
            p.area(Area {
                x: 1,
                y: 2,
                width: 4,
                height: 4
            })
            .is_err()
        );
        assert!(
            p.area(Area {
                x: 4,
                y: 0,
                width: 6,
                height: 8
            })
            .is_err()
        );
    }

    #[test]
    fn a_flat_picture_stays_flat_at_any_size() {
        let src = picture(size(640, 360), |i, _, _| [90, 60, 200][i]);
        for to in [
            size(618, 348),
            size(238, 134),
            size(164, 92),
            size(1280, 720),
        ] {
            let out = scaled(&view(size(640, 360), &src), to);
            let luma = (to.width * to.height) as usize;
            assert!(out[..luma].iter().all(|&v| v == 90), "{to:?}");
            assert!(
                out[luma..luma + (out.len() - luma) / 2]
                    .iter()
                    .all(|&v| v == 60),
                "{to:?}"
            );
            assert!(
                out[luma + (out.len() - luma) / 2..]
                    .iter()
                    .all(|&v| v == 200),
                "{to:?}"
            );
        }
    }

    #[test]
    fn fine_detail_averages_instead_of_aliasing() {
        // One-pixel stripes, black and white: reduced by 2.7, every tile
        // pixel is grey. Skipping pixels would leave black and white bands.
        let src = picture(size(640, 360), |i, x, _| {
            if i > 0 {
                128
            } else if x % 2 == 0 {
                16
            } else {
                235
            }
        });
        let to = size(238, 134);
        let out = scaled(&view(size(640, 360), &src), to);
        let luma = &out[..(to.width * to.height) as usize];
        let (lo, hi) = (luma.iter().min().unwrap(), luma.iter().max().unwrap());
        assert!(*lo >= 110 && *hi <= 140, "luma from {lo} to {hi}");
    }

    #[test]
    fn scales_an_area_into_an_area() {
        // Left half red-ish, right half blue-ish; the right half scaled
        // into the bottom of a bordered picture.
        let src = picture(size(64, 32), |i, x, _| {
            let right = x >= if i == 0 { 32 } else { 16 };
            [[50, 100, 150], [200, 30, 220]][usize::from(right)][i]
        });
        let src = view(size(64, 32), &src);
        let right = src
            .area(Area {
                x: 32,
                y: 0,
                width: 32,
                height: 32,
            })
            .unwrap();
        let to = size(16, 32);
        let mut out = vec![0; packed_len(to)];
        let mut whole = packed(to, &mut out).unwrap();
        whole.fill([16, 128, 128]);
        let mut bottom = whole
            .area(Area {
                x: 0,
                y: 16,
                width: 16,
                height: 16,
            })
            .unwrap();
        scale(&right, &mut bottom, &mut Scratch::default()).unwrap();
        let luma = &out[..16 * 32];
        assert!(
            luma[..16 * 16].iter().all(|&v| v == 16),
            "the border is left"
        );
        assert!(
            luma[16 * 16..].iter().all(|&v| v == 200),
            "the right half is in"
        );
    }
}
