//! Where each tile goes: a pure function of the tiles to show, the layout
//! configuration and the canvas. No GStreamer here; the program applies the
//! rectangles to compositor pads and to each track's scaler, so the
//! compositor itself never scales.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
}

/// A tile's place on the canvas, in pixels. Sizes and offsets are even so
/// that I420 chroma planes line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

impl Rect {
    pub fn right(&self) -> i64 {
        self.x as i64 + self.width as i64
    }

    pub fn bottom(&self) -> i64 {
        self.y as i64 + self.height as i64
    }

    pub fn overlaps(&self, other: &Rect) -> bool {
        (self.x as i64) < other.right()
            && (other.x as i64) < self.right()
            && (self.y as i64) < other.bottom()
            && (other.y as i64) < self.bottom()
    }

    pub fn inside(&self, canvas: Canvas) -> bool {
        self.x >= 0
            && self.y >= 0
            && self.right() <= canvas.width as i64
            && self.bottom() <= canvas.height as i64
    }
}

/// A layout as the API takes it: `{"kind": "grid", ...options}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LayoutConfig {
    Grid(GridOptions),
}

impl LayoutConfig {
    /// Checks the options; the error names the field (relative to the
    /// layout object) and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        match self {
            LayoutConfig::Grid(o) => {
                if o.gap > 256 {
                    return Err(("gap", "at most 256 pixels".into()));
                }
                if o.padding > 256 {
                    return Err(("padding", "at most 256 pixels".into()));
                }
                let (w, h) = o.tile_aspect;
                if !(1..=64).contains(&w) || !(1..=64).contains(&h) {
                    return Err(("tile_aspect", "each side from 1 to 64".into()));
                }
                Ok(())
            }
        }
    }
}

impl Default for LayoutConfig {
    fn default() -> Self {
        LayoutConfig::Grid(GridOptions::default())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GridOptions {
    /// Pixels between tiles.
    pub gap: u32,
    /// Pixels kept free along the canvas edges.
    pub padding: u32,
    /// Tile shape as width:height; cameras send 16:9.
    pub tile_aspect: (u32, u32),
}

impl Default for GridOptions {
    fn default() -> Self {
        GridOptions {
            gap: 8,
            padding: 8,
            tile_aspect: (16, 9),
        }
    }
}

/// Places `tiles` on `canvas`; one rectangle per tile, in the same order.
pub fn compute<K: Clone>(config: &LayoutConfig, canvas: Canvas, tiles: &[K]) -> Vec<(K, Rect)> {
    let rects = match config {
        LayoutConfig::Grid(opts) => grid(tiles.len(), canvas, opts),
    };
    tiles.iter().cloned().zip(rects).collect()
}

/// Rows and columns that give the largest tiles of the given aspect; the
/// block of tiles is centred, and so is a last row that is not full.
pub fn grid(count: usize, canvas: Canvas, opts: &GridOptions) -> Vec<Rect> {
    if count == 0 {
        return vec![];
    }
    let (aw, ah) = (opts.tile_aspect.0.max(1), opts.tile_aspect.1.max(1));
    let avail_w = canvas.width.saturating_sub(2 * opts.padding);
    let avail_h = canvas.height.saturating_sub(2 * opts.padding);

    // (tile width, tile height, columns, rows); larger tiles win, then fewer
    // empty cells.
    let mut best: Option<(u32, u32, u32, u32)> = None;
    for cols in 1..=count as u32 {
        let rows = (count as u32).div_ceil(cols);
        let cell_w = avail_w.saturating_sub((cols - 1) * opts.gap) / cols;
        let cell_h = avail_h.saturating_sub((rows - 1) * opts.gap) / rows;
        let Some((w, h)) = fit(cell_w, cell_h, aw, ah) else {
            continue;
        };
        let better = match best {
            None => true,
            Some((bw, _, bc, br)) => w > bw || (w == bw && cols * rows < bc * br),
        };
        if better {
            best = Some((w, h, cols, rows));
        }
    }
    // Too many tiles for the canvas: the smallest tiles that exist, even if
    // they no longer fit without overlapping.
    let (w, h, cols, rows) = best.unwrap_or((2, 2, count as u32, 1));

    let block_h = rows * h + (rows - 1) * opts.gap;
    let y0 = even_floor(canvas.height.saturating_sub(block_h) / 2);
    (0..count as u32)
        .map(|i| {
            let (row, col) = (i / cols, i % cols);
            let in_row = (count as u32 - row * cols).min(cols);
            let row_w = in_row * w + (in_row - 1) * opts.gap;
            let x0 = even_floor(canvas.width.saturating_sub(row_w) / 2);
            Rect {
                x: (x0 + col * (w + opts.gap)) as i32,
                y: (y0 + row * (h + opts.gap)) as i32,
                width: w,
                height: h,
            }
        })
        .collect()
}

/// The largest even-sized rectangle of aspect `aw:ah` (within a pixel) that
/// fits in `cell_w` x `cell_h`.
fn fit(cell_w: u32, cell_h: u32, aw: u32, ah: u32) -> Option<(u32, u32)> {
    let mut h = even_floor(cell_h.min((cell_w as u64 * ah as u64 / aw as u64) as u32));
    while h >= 2 {
        let w = even_round(h as f64 * aw as f64 / ah as f64);
        if w >= 2 && w <= cell_w {
            return Some((w, h));
        }
        h -= 2;
    }
    None
}

fn even_floor(v: u32) -> u32 {
    v & !1
}

fn even_round(v: f64) -> u32 {
    ((v / 2.0).round() * 2.0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const HD: Canvas = Canvas {
        width: 1280,
        height: 720,
    };

    fn check(count: usize, canvas: Canvas, opts: &GridOptions) -> Vec<Rect> {
        let rects = grid(count, canvas, opts);
        assert_eq!(rects.len(), count);
        let (aw, ah) = opts.tile_aspect;
        for (i, r) in rects.iter().enumerate() {
            assert!(
                r.inside(canvas),
                "{count} tiles: tile {i} {r:?} leaves the canvas"
            );
            assert!(r.width > 0 && r.height > 0);
            assert_eq!(r.width % 2 + r.height % 2, 0, "even sizes: {r:?}");
            assert_eq!((r.x % 2, r.y % 2), (0, 0), "even offsets: {r:?}");
            let ideal_w = r.height as f64 * aw as f64 / ah as f64;
            assert!(
                (r.width as f64 - ideal_w).abs() <= 1.0,
                "{count} tiles: {r:?} is not {aw}:{ah} within a pixel"
            );
            for (j, other) in rects.iter().enumerate().skip(i + 1) {
                assert!(
                    !r.overlaps(other),
                    "{count} tiles: {i} {r:?} overlaps {j} {other:?}"
                );
            }
        }
        rects
    }

    #[test]
    fn grid_of_1_to_30_tiles_fits_without_overlap_and_keeps_aspect() {
        for count in 1..=30 {
            check(count, HD, &GridOptions::default());
            check(
                count,
                Canvas {
                    width: 1920,
                    height: 1080,
                },
                &GridOptions::default(),
            );
            check(
                count,
                Canvas {
                    width: 720,
                    height: 1280,
                },
                &GridOptions::default(),
            );
            check(
                count,
                HD,
                &GridOptions {
                    gap: 0,
                    padding: 0,
                    tile_aspect: (4, 3),
                },
            );
        }
    }

    #[test]
    fn one_tile_fills_the_canvas_less_padding() {
        let rects = check(1, HD, &GridOptions::default());
        assert_eq!(
            rects[0],
            Rect {
                x: 14,
                y: 8,
                width: 1252,
                height: 704
            }
        );
        let rects = check(
            1,
            HD,
            &GridOptions {
                gap: 0,
                padding: 0,
                tile_aspect: (16, 9),
            },
        );
        assert_eq!(
            rects[0],
            Rect {
                x: 0,
                y: 0,
                width: 1280,
                height: 720
            }
        );
    }

    #[test]
    fn counts_pick_the_expected_shapes() {
        let shape = |count| {
            let rects = grid(count, HD, &GridOptions::default());
            let mut ys: Vec<i32> = rects.iter().map(|r| r.y).collect();
            ys.dedup();
            let cols = rects.iter().filter(|r| r.y == rects[0].y).count();
            (cols, ys.len())
        };
        assert_eq!(shape(2), (2, 1));
        assert_eq!(shape(4), (2, 2));
        assert_eq!(shape(9), (3, 3));
        assert_eq!(shape(16), (4, 4));
        assert_eq!(shape(25), (5, 5));
    }

    #[test]
    fn a_short_last_row_is_centred() {
        let rects = grid(3, HD, &GridOptions::default());
        // Two on top, one centred below.
        assert_eq!(rects[0].y, rects[1].y);
        let centre = rects[2].x as i64 + rects[2].width as i64 / 2;
        assert!((centre - 640).abs() <= 2, "{rects:?}");
    }

    #[test]
    fn too_many_tiles_still_gives_one_rect_each() {
        let rects = grid(
            500,
            Canvas {
                width: 64,
                height: 36,
            },
            &GridOptions::default(),
        );
        assert_eq!(rects.len(), 500);
    }

    #[test]
    fn the_same_input_gives_the_same_layout() {
        let a = compute(&LayoutConfig::default(), HD, &["p1", "p2", "p3"]);
        let b = compute(&LayoutConfig::default(), HD, &["p1", "p2", "p3"]);
        assert_eq!(a, b);
        assert_eq!(a[1].0, "p2");
    }

    #[test]
    fn config_parses_from_the_api_shape() {
        let cfg: LayoutConfig = serde_json::from_str(r#"{"kind":"grid","gap":4}"#).unwrap();
        assert_eq!(
            cfg,
            LayoutConfig::Grid(GridOptions {
                gap: 4,
                ..GridOptions::default()
            })
        );
        assert!(serde_json::from_str::<LayoutConfig>(r#"{"kind":"grid","gapp":4}"#).is_err());
        assert!(serde_json::from_str::<LayoutConfig>(r#"{"kind":"mosaic"}"#).is_err());
    }
}
