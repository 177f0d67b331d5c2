//! A frame's number drawn into its picture, as a row of light and dark
//! blocks across the top, that can be read back after VP8, scaling,
//! compositing and H.264. It is how the benchmark tells which captured
//! frame a tile of the composite shows, and so how late it is.
//!
//! The row is `CELLS` blocks an eighth of the picture high: a light
//! guard, the number's bits (most significant first), a dark guard. The
//! blocks are big enough to survive a 49-tile grid (a 320x180 picture
//! shown at 182x102); a block that reads neither clearly light nor
//! clearly dark makes the whole tag unreadable rather than wrong.

/// Bits in a tag: numbers run modulo `MODULUS`.
pub const BITS: u32 = 8;
pub const MODULUS: u64 = 1 << BITS;
const CELLS: u32 = BITS + 2;
const LIGHT: u8 = 235;
const DARK: u8 = 16;
/// Below or above these a block reads as dark or light; between, as
/// unreadable.
const DARK_BELOW: u32 = 90;
const LIGHT_ABOVE: u32 = 160;

/// The tag's band: the top eighth of a picture `height` high.
fn band_height(height: u32) -> u32 {
    (height / 8).max(2)
}

/// The light/dark pattern for `value`, guards included.
fn cells(value: u8) -> [bool; CELLS as usize] {
    let mut c = [false; CELLS as usize];
    c[0] = true;
    for bit in 0..BITS {
        c[1 + bit as usize] = value >> (BITS - 1 - bit) & 1 == 1;
    }
    c
}

/// Draws `value` into a luma plane `width` x `height` with rows `stride`
/// bytes apart.
pub fn stamp(luma: &mut [u8], stride: usize, width: u32, height: u32, value: u8) {
    let pattern = cells(value);
    for y in 0..band_height(height).min(height) as usize {
        let row = &mut luma[y * stride..y * stride + width as usize];
        for (x, px) in row.iter_mut().enumerate() {
            let cell = (x as u64 * CELLS as u64 / width as u64) as usize;
            *px = if pattern[cell] { LIGHT } else { DARK };
        }
    }
}

/// Reads the tag of a picture shown at `(x, y)`, `width` x `height`, with
/// `luma(x, y)` giving the brightness of a pixel of the whole image.
/// `None` when the picture carries no readable tag.
pub fn read(x: u32, y: u32, width: u32, height: u32, luma: impl Fn(u32, u32) -> u8) -> Option<u8> {
    if width < CELLS * 4 || height < 16 {
        return None;
    }
    let cy = y + band_height(height) / 2;
    let mut value = 0u8;
    for cell in 0..CELLS {
        let cx = x + (2 * cell + 1) * width / (2 * CELLS);
        // The mean of a small cross, away from the blocks' blurred edges.
        let sum: u32 = [(0, 0), (-2, 0), (2, 0), (0, -1), (0, 1)]
            .iter()
            .map(|(dx, dy)| {
                luma(cx.saturating_add_signed(*dx), cy.saturating_add_signed(*dy)) as u32
            })
            .sum();
        let mean = sum / 5;
        let light = if mean > LIGHT_ABOVE {
            true
        } else if mean < DARK_BELOW {
            false
        } else {
            return None;
        };
        match cell {
            0 if !light => return None,
            c if c == CELLS - 1 && light => return None,
            0 => {}
            c if c == CELLS - 1 => {}
            _ => value = value << 1 | light as u8,
        }
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture(w: u32, h: u32, value: u8) -> Vec<u8> {
        let mut luma = vec![128u8; (w * h) as usize];
        stamp(&mut luma, w as usize, w, h, value);
        luma
    }

    #[test]
    fn a_tag_reads_back() {
        for value in [0u8, 1, 77, 128, 255] {
            let luma = picture(640, 360, value);
            assert_eq!(
                read(0, 0, 640, 360, |x, y| luma[(y * 640 + x) as usize]),
                Some(value)
            );
        }
    }

    #[test]
    fn a_tag_reads_back_scaled_and_placed() {
        // Nearest-neighbour scaling of a 640x360 picture to a 182x102
        // tile at (300, 200) on a 1280x720 canvas.
        let src = picture(640, 360, 0b1010_0110);
        let (tx, ty, tw, th) = (300u32, 200u32, 182u32, 102u32);
        let canvas = |x: u32, y: u32| {
            if (tx..tx + tw).contains(&x) && (ty..ty + th).contains(&y) {
                let sx = (x - tx) * 640 / tw;
                let sy = (y - ty) * 360 / th;
                src[(sy * 640 + sx) as usize]
            } else {
                40
            }
        };
        assert_eq!(read(tx, ty, tw, th, canvas), Some(0b1010_0110));
    }

    #[test]
    fn a_picture_without_a_tag_reads_as_none() {
        assert_eq!(read(0, 0, 640, 360, |_, _| 128), None);
        assert_eq!(read(0, 0, 640, 360, |_, _| 250), None);
        assert_eq!(read(0, 0, 640, 360, |_, _| 10), None);
        // Too small to hold one.
        let luma = picture(640, 360, 3);
        assert_eq!(
            read(0, 0, 20, 10, |x, y| luma[(y * 640 + x) as usize]),
            None
        );
    }
}
