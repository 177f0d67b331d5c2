//! Rows and columns: the largest tiles of the configured aspect that fit a
//! count into an area, centred, a short last row centred too.

use super::{Canvas, Content, Item, LayoutConfig, Rect};

/// Places `items` in a grid over the canvas; past `max_tiles`, the last
/// tile says how many more there are.
pub(crate) fn place<K: Clone>(
    mut items: Vec<Item<K>>,
    canvas: Canvas,
    config: &LayoutConfig,
) -> Vec<(Item<K>, Rect)> {
    cap(
        &mut items,
        Some(config.max_tiles.unwrap_or(super::MAX_TILES)),
    );
    let rects = grid(items.len(), canvas, config);
    items.into_iter().zip(rects).collect()
}

/// Keeps at most `max` items, the last of them a "+N" for the rest.
pub(crate) fn cap<K>(items: &mut Vec<Item<K>>, max: Option<u32>) {
    let Some(max) = max.map(|m| m.max(1) as usize) else {
        return;
    };
    if items.len() > max {
        let more = items.len() - (max - 1);
        items.truncate(max - 1);
        items.push(Item {
            content: Content::More { count: more },
            participant: None,
            highlight: false,
            screen: false,
        });
    }
}

/// `count` tiles over the canvas less its padding.
pub fn grid(count: usize, canvas: Canvas, config: &LayoutConfig) -> Vec<Rect> {
    let area = inside_padding(canvas, config.padding);
    arrange(
        count,
        area,
        even_floor(config.gap),
        config.tile_aspect,
        Shape::Best,
    )
}

/// The canvas less `padding` (rounded down to even) on every side.
pub(crate) fn inside_padding(canvas: Canvas, padding: u32) -> Rect {
    let p = even_floor(padding);
    Rect {
        x: p as i32,
        y: p as i32,
        width: canvas.width.saturating_sub(2 * p),
        height: canvas.height.saturating_sub(2 * p),
    }
}

/// How tiles may be arranged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Whatever rows and columns give the largest tiles.
    Best,
    /// One row.
    Row,
    /// One column.
    Column,
}

/// `count` tiles of aspect `aspect` in `area`, `gap` apart, the block
/// centred. Larger tiles win, then fewer empty cells.
pub fn arrange(count: usize, area: Rect, gap: u32, aspect: (u32, u32), shape: Shape) -> Vec<Rect> {
    if count == 0 {
        return vec![];
    }
    let n = count as u32;
    let (aw, ah) = (aspect.0.max(1), aspect.1.max(1));
    let columns: Vec<u32> = match shape {
        Shape::Best => (1..=n).collect(),
        Shape::Row => vec![n],
        Shape::Column => vec![1],
    };
    // (tile width, tile height, columns, rows)
    let mut best: Option<(u32, u32, u32, u32)> = None;
    for cols in columns {
        let rows = n.div_ceil(cols);
        let cell_w = area.width.saturating_sub((cols - 1) * gap) / cols;
        let cell_h = area.height.saturating_sub((rows - 1) * gap) / rows;
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
    // Too many tiles for the area: the smallest tiles that exist, even if
    // they no longer fit without overlapping.
    let (w, h, cols, rows) = best.unwrap_or(match shape {
        Shape::Column => (2, 2, 1, n),
        _ => (2, 2, n, 1),
    });

    let block_h = rows * h + (rows - 1) * gap;
    let y0 = area.y as u32 + even_floor(area.height.saturating_sub(block_h) / 2);
    (0..n)
        .map(|i| {
            let (row, col) = (i / cols, i % cols);
            let in_row = (n - row * cols).min(cols);
            let row_w = in_row * w + (in_row - 1) * gap;
            let x0 = area.x as u32 + even_floor(area.width.saturating_sub(row_w) / 2);
            Rect {
                x: (x0 + col * (w + gap)) as i32,
                y: (y0 + row * (h + gap)) as i32,
                width: w,
                height: h,
            }
        })
        .collect()
}

/// The largest even-sized rectangle of aspect `aw:ah` (within a pixel) that
/// fits in `cell_w` x `cell_h`.
pub fn fit(cell_w: u32, cell_h: u32, aw: u32, ah: u32) -> Option<(u32, u32)> {
    let mut h = even_floor(cell_h.min((cell_w as u64 * ah as u64 / aw as u64) as u32));
    while h >= 2 {
        let w = even_round(h as f64 * aw as f64 / ah as f64) as u32;
        if w >= 2 && w <= cell_w {
            return Some((w, h));
        }
        h -= 2;
    }
    None
}

pub fn even_floor(v: u32) -> u32 {
    v & !1
}

/// The even number nearest `v`.
pub fn even_round(v: f64) -> i64 {
    ((v / 2.0).round() * 2.0) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const HD: Canvas = Canvas {
        width: 1280,
        height: 720,
    };

    fn check(count: usize, canvas: Canvas, opts: &LayoutConfig) -> Vec<Rect> {
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
            check(count, HD, &LayoutConfig::default());
            check(
                count,
                Canvas {
                    width: 1920,
                    height: 1080,
                },
                &LayoutConfig::default(),
            );
            check(
                count,
                Canvas {
                    width: 720,
                    height: 1280,
                },
                &LayoutConfig::default(),
            );
            check(
                count,
                HD,
                &LayoutConfig {
                    gap: 0,
                    padding: 0,
                    tile_aspect: (4, 3),
                    ..LayoutConfig::default()
                },
            );
        }
    }

    #[test]
    fn a_crowd_gets_at_most_the_default_cap() {
        let items = (0..10_000)
            .map(|i| Item::<String> {
                content: Content::Placeholder {
                    participant: i.to_string(),
                    name: String::new(),
                },
                participant: None,
                highlight: false,
                screen: false,
            })
            .collect();
        let placed = place(items, HD, &LayoutConfig::default());
        assert_eq!(placed.len(), crate::media::layout::MAX_TILES as usize);
        let (last, rect) = placed.last().unwrap();
        assert!(matches!(last.content, Content::More { count: 9_901 }));
        assert!(rect.width >= 100, "{rect:?}");
    }

    #[test]
    fn one_tile_fills_the_canvas_less_padding() {
        let rects = check(1, HD, &LayoutConfig::default());
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
            &LayoutConfig {
                gap: 0,
                padding: 0,
                ..LayoutConfig::default()
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
            let rects = grid(count, HD, &LayoutConfig::default());
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
        let rects = grid(3, HD, &LayoutConfig::default());
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
            &LayoutConfig::default(),
        );
        assert_eq!(rects.len(), 500);
    }
}
