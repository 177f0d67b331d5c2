//! Bilinear resampling of one 8-bit plane, reduced by less than two each
//! way or enlarged: the last step of a tile's scale, after any halvings.
//!
//! libyuv does this step too, but its horizontal filter
//! (`ScaleFilterCols_SSSE3`) fetches its pixel pairs two at a time with
//! scalar loads: at N = 4 (640x360 to 618x348) it was 95% of the scaling
//! and 7% of the offline run's CPU. Here a [`Columns`] plan, made once per
//! pair of widths, says for each run of eight output pixels where to load
//! sixteen source bytes and how to shuffle them into pairs, so that one
//! SSSE3 shuffle and one multiply-add make eight pixels.
//!
//! The SIMD path and the plain one do the same integer arithmetic and give
//! the same bytes: positions in 16.16 fixed point, pixel centres aligned;
//! rows blended in 256ths, columns in 128ths, both rounded.

/// The largest reduction across taken here: near two, eight output pixels
/// can span more than the sixteen bytes one load holds, and the plan's
/// runs would fall back to the plain path.
const MAX_RATIO: (usize, usize) = (7, 4);

/// Whether `from` pixels resample to `to` here (else libyuv does it):
/// less than two to one down each way (more would skip pixels), and not so
/// close to two across that the shuffle cannot reach.
pub fn handles(from: (usize, usize), to: (usize, usize)) -> bool {
    let (fw, fh) = from;
    let (tw, th) = to;
    tw > 0 && th > 0 && fw > 0 && fh > 0 && fw * MAX_RATIO.1 <= tw * MAX_RATIO.0 && fh < th * 2
}

/// Fixed-point source positions of `to` pixels across `from`, centres
/// aligned, clamped to the first and last pixel.
fn positions(from: usize, to: usize) -> impl Iterator<Item = u64> {
    let step = ((from as u64) << 16) / (to as u64).max(1);
    let last = (from as u64).saturating_sub(1) << 16;
    (0..to as u64).map(move |i| {
        let at = (step / 2 + i * step).saturating_sub(1 << 15);
        at.min(last)
    })
}

/// Where each output column of a row reads from.
pub struct Columns {
    from: usize,
    /// Per output pixel: the left source pixel, and the right one's weight
    /// in 128ths (0: the left pixel alone).
    taps: Vec<(usize, u8)>,
    /// Per whole run of eight output pixels, its shuffle, if its source
    /// fits one sixteen-byte load inside the row.
    runs: Vec<Option<Run>>,
    ssse3: bool,
}

#[derive(Clone, Copy)]
struct Run {
    /// The load's first byte in the row.
    at: usize,
    /// For output pixel j, bytes 2j and 2j+1: its two source pixels,
    /// counted from `at`.
    shuffle: [u8; 16],
    /// Their weights, summing to 128.
    weights: [i8; 16],
}

impl Columns {
    /// The plan for rows `from` pixels wide resampled to `to`.
    pub fn new(from: usize, to: usize) -> Columns {
        let taps: Vec<(usize, u8)> = positions(from, to)
            .map(|at| ((at >> 16) as usize, ((at >> 9) & 0x7f) as u8))
            .collect();
        let runs = taps
            .chunks_exact(8)
            .map(|run| {
                let at = run[0].0;
                let mut shuffle = [0u8; 16];
                let mut weights = [0i8; 16];
                for (j, &(left, f)) in run.iter().enumerate() {
                    let left = left - at;
                    let (right, wl, wr) = if f == 0 {
                        // A weight of 128 does not fit a signed byte: the
                        // same pixel twice, half each.
                        (left, 64, 64)
                    } else {
                        (left + 1, (128 - f) as i8, f as i8)
                    };
                    if right > 15 {
                        return None;
                    }
                    shuffle[2 * j] = left as u8;
                    shuffle[2 * j + 1] = right as u8;
                    weights[2 * j] = wl;
                    weights[2 * j + 1] = wr;
                }
                (at + 16 <= from).then_some(Run {
                    at,
                    shuffle,
                    weights,
                })
            })
            .collect();
        Columns {
            from,
            taps,
            runs,
            ssse3: has_ssse3(),
        }
    }

    pub fn widths(&self) -> (usize, usize) {
        (self.from, self.taps.len())
    }

    /// Resamples `src` (at least `from` bytes) into `dst` (at least `to`).
    pub fn filter(&self, src: &[u8], dst: &mut [u8]) {
        let (src, dst) = (&src[..self.from], &mut dst[..self.taps.len()]);
        #[cfg(target_arch = "x86_64")]
        if self.ssse3 {
            // SAFETY: the CPU has SSSE3 (checked when the plan was made),
            // and each run's load is inside `src` (`at + 16 <= from`) and
            // its eight pixels inside `dst` (whole runs of `to`).
            unsafe { ssse3::filter(self, src, dst) };
            return;
        }
        self.plain(src, dst, 0..dst.len());
    }

    /// Output pixels `range` the plain way.
    fn plain(&self, src: &[u8], dst: &mut [u8], range: std::ops::Range<usize>) {
        for i in range {
            let (left, f) = self.taps[i];
            dst[i] = if f == 0 {
                src[left]
            } else {
                let f = u16::from(f);
                ((u16::from(src[left]) * (128 - f) + u16::from(src[left + 1]) * f + 64) >> 7) as u8
            };
        }
    }
}

fn has_ssse3() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("ssse3")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod ssse3 {
    use std::arch::x86_64::*;

    use super::Columns;

    /// # Safety
    /// The CPU has SSSE3; `src` and `dst` are `columns`' widths long.
    #[target_feature(enable = "ssse3")]
    pub unsafe fn filter(columns: &Columns, src: &[u8], dst: &mut [u8]) {
        let round = _mm_set1_epi16(64);
        for (k, run) in columns.runs.iter().enumerate() {
            let out = 8 * k;
            let Some(run) = run else {
                columns.plain(src, dst, out..out + 8);
                continue;
            };
            // SAFETY: (the caller's) the sixteen bytes at `run.at` are in
            // `src`, the eight at `out` in `dst`; unaligned loads and
            // stores.
            unsafe {
                let bytes = _mm_loadu_si128(src.as_ptr().add(run.at).cast());
                let shuffle = _mm_loadu_si128(run.shuffle.as_ptr().cast());
                let weights = _mm_loadu_si128(run.weights.as_ptr().cast());
                let pairs = _mm_shuffle_epi8(bytes, shuffle);
                // 255 x 128 at most: no saturation.
                let sums = _mm_maddubs_epi16(pairs, weights);
                let pixels = _mm_srli_epi16(_mm_add_epi16(sums, round), 7);
                _mm_storel_epi64(
                    dst.as_mut_ptr().add(out).cast(),
                    _mm_packus_epi16(pixels, pixels),
                );
            }
        }
        let whole = columns.runs.len() * 8;
        columns.plain(src, dst, whole..dst.len());
    }
}

/// Blends row `top` (weight 256 - `f`) with `bottom` (`f`) into `out`.
fn blend_rows(top: &[u8], bottom: &[u8], f: u16, out: &mut [u8]) {
    for ((o, &a), &b) in out.iter_mut().zip(top).zip(bottom) {
        *o = ((u16::from(a) * (256 - f) + u16::from(b) * f + 128) >> 8) as u8;
    }
}

/// One plane's rows: its bytes from the first pixel, its stride, its
/// height (the width is the [`Columns`]' to say).
pub struct Plane<T> {
    pub data: T,
    pub stride: usize,
    pub height: usize,
}

/// Resamples `src` to `dst`, `columns` across; `row` holds a blended
/// source row between calls. The caller has checked that the planes hold
/// their rows.
pub fn scale_plane(src: Plane<&[u8]>, dst: Plane<&mut [u8]>, columns: &Columns, row: &mut Vec<u8>) {
    let (width, to_width) = columns.widths();
    let (stride, out_stride) = (src.stride, dst.stride);
    row.resize(width, 0);
    for (y, at) in positions(src.height, dst.height).enumerate() {
        let (top, f) = ((at >> 16) as usize, ((at >> 8) & 0xff) as u16);
        let line = &src.data[top * stride..top * stride + width];
        let line = if f == 0 {
            line
        } else {
            let next = &src.data[(top + 1) * stride..(top + 1) * stride + width];
            blend_rows(line, next, f, row);
            &row[..]
        };
        columns.filter(
            line,
            &mut dst.data[y * out_stride..y * out_stride + to_width],
        );
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn plane<T>(data: T, stride: usize, height: usize) -> Plane<T> {
        Plane {
            data,
            stride,
            height,
        }
    }

    /// `n` pseudo-random bytes (xorshift).
    pub(in crate::media::tilescale) fn noise(n: usize, seed: u32) -> Vec<u8> {
        let mut s = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                s as u8
            })
            .collect()
    }

    #[test]
    fn the_fast_path_gives_the_plain_paths_bytes() {
        // Every width pair callcast's tiles meet, and awkward ones.
        for (from, to) in [
            (640, 618),
            (320, 309),
            (640, 406),
            (320, 203),
            (320, 302),
            (160, 151),
            (320, 238),
            (160, 119),
            (320, 196),
            (640, 640),
            (100, 60),
            (17, 16),
            (640, 1280),
            (37, 90),
        ] {
            let columns = Columns::new(from, to);
            let src = noise(from, from as u32 * 31 + to as u32);
            let mut fast = vec![0; to];
            columns.filter(&src, &mut fast);
            let mut plain = vec![0; to];
            columns.plain(&src, &mut plain, 0..to);
            assert_eq!(fast, plain, "{from} to {to}");
            if handles((from, 1), (to, 1)) {
                // Only the runs whose load would pass the row's end are
                // left to the plain path.
                for (k, run) in columns.runs.iter().enumerate() {
                    let at = columns.taps[8 * k].0;
                    assert!(run.is_some() || at + 16 > from, "{from} to {to}: run {k}");
                }
            }
        }
    }

    #[test]
    fn a_ramp_stays_a_ramp() {
        // 0..=255 scaled to 200 pixels: output pixel i sits at 256/200
        // (i + 1/2) - 1/2, and a ramp interpolates to itself, to rounding.
        let src: Vec<u8> = (0..256).map(|x| x as u8).collect();
        let columns = Columns::new(256, 200);
        let mut out = vec![0; 200];
        columns.filter(&src, &mut out);
        for (i, &v) in out.iter().enumerate() {
            let want = (256.0 / 200.0 * (i as f64 + 0.5) - 0.5).clamp(0.0, 255.0);
            assert!(
                (v as f64 - want).abs() <= 1.0,
                "pixel {i}: {v}, want {want:.1}"
            );
        }
    }

    #[test]
    fn same_size_is_a_copy() {
        let src = noise(640 * 4, 7);
        let columns = Columns::new(640, 640);
        let mut dst = vec![0; 640 * 4];
        let mut row = Vec::new();
        scale_plane(
            plane(&src, 640, 4),
            plane(&mut dst, 640, 4),
            &columns,
            &mut row,
        );
        assert_eq!(dst, src);
    }

    #[test]
    fn rows_blend_by_position() {
        // Two rows, 0 and 200, stretched to four: the middle two are
        // between them, the outer two at them (clamped at the edges).
        let src = [vec![0u8; 16], vec![200u8; 16]].concat();
        let columns = Columns::new(16, 16);
        let mut dst = vec![0; 16 * 4];
        let mut row = Vec::new();
        scale_plane(
            plane(&src, 16, 2),
            plane(&mut dst, 16, 4),
            &columns,
            &mut row,
        );
        let firsts: Vec<u8> = dst.chunks(16).map(|r| r[0]).collect();
        assert_eq!(firsts, [0, 50, 150, 200]);
    }

    #[test]
    fn what_it_takes() {
        assert!(handles((640, 360), (618, 348)));
        assert!(handles((640, 360), (406, 228)));
        assert!(handles((320, 180), (1280, 720)));
        assert!(!handles((320, 180), (164, 92)), "nearly two across: libyuv");
        assert!(!handles((640, 360), (320, 300)), "two across");
        assert!(!handles((640, 360), (600, 180)), "two down");
    }
}
