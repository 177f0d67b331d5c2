//! One featured tile (the speaker, a screen share) over most of the
//! canvas, and the others in a filmstrip along the bottom or the side.

use super::grid::{Shape, arrange, cap, even_floor, inside_padding};
use super::{Canvas, Filmstrip, Fit, Item, LayoutConfig, Rect, Tile};

/// The filmstrip's share of the canvas (of its height at the bottom, of
/// its width at the side).
const STRIP_SHARE: u32 = 5;

/// `main` large, `others` in the filmstrip (capped at `max_tiles`);
/// `main` comes first.
pub(crate) fn place<K: Clone>(
    main: Item<K>,
    mut others: Vec<Item<K>>,
    canvas: Canvas,
    config: &LayoutConfig,
    fit: Fit,
) -> Vec<Tile<K>> {
    let gap = even_floor(config.gap);
    let area = inside_padding(canvas, config.padding);
    let aspect = config.tile_aspect;
    if others.is_empty() {
        let rect = arrange(1, area, gap, aspect, Shape::Best)[0];
        return vec![main.place(rect, fit)];
    }
    let (main_area, strip_area, shape) = match config.filmstrip {
        Filmstrip::Bottom => {
            let s = even_floor(area.height / STRIP_SHARE).max(2);
            let main_h = area.height.saturating_sub(s + gap);
            (
                Rect {
                    height: main_h,
                    ..area
                },
                Rect {
                    y: area.y + (main_h + gap) as i32,
                    height: s,
                    ..area
                },
                Shape::Row,
            )
        }
        Filmstrip::Side => {
            let s = even_floor(area.width / STRIP_SHARE).max(2);
            let main_w = area.width.saturating_sub(s + gap);
            (
                Rect {
                    width: main_w,
                    ..area
                },
                Rect {
                    x: area.x + (main_w + gap) as i32,
                    width: s,
                    ..area
                },
                Shape::Column,
            )
        }
    };
    // No tile in the strip narrower than half its thickness: past what
    // fits so, the last tile counts the rest.
    let (aw, ah) = (aspect.0.max(1) as f64, aspect.1.max(1) as f64);
    let room = match shape {
        Shape::Column => {
            let h = (strip_area.width as f64 / 2.0 * ah / aw).max(2.0);
            (strip_area.height + gap) as f64 / (h + gap as f64)
        }
        _ => {
            let w = (strip_area.height as f64 / 2.0 * aw / ah).max(2.0);
            (strip_area.width + gap) as f64 / (w + gap as f64)
        }
    };
    let fits = (room.floor() as u32).max(1);
    cap(
        &mut others,
        Some(config.max_tiles.map_or(fits, |m| m.min(fits))),
    );
    let main_rect = arrange(1, main_area, gap, aspect, Shape::Best)[0];
    let strip = arrange(others.len(), strip_area, gap, aspect, shape);
    std::iter::once(main.place(main_rect, fit))
        .chain(others.into_iter().zip(strip).map(|(o, r)| o.place(r, fit)))
        .collect()
}
