//! What callcast draws itself: on a tile without a picture, initials on a
//! colour of the participant's own; the "+N" of the overflow tile; the
//! border that marks the active speaker; and the tiles' rounded corners.

use super::Rect;

/// Up to two letters for `name`: the first letters of its first and last
/// words ("Ada Lovelace" -> "AL", "bob" -> "B"); "?" for a blank name.
pub fn initials(name: &str) -> String {
    let mut words = name.split_whitespace().filter_map(|w| w.chars().next());
    let first = words.next();
    let last = words.next_back();
    let letters: String = first
        .into_iter()
        .chain(last)
        .flat_map(char::to_uppercase)
        .collect();
    if letters.is_empty() {
        "?".into()
    } else {
        letters
    }
}

/// Placeholder backgrounds: mid-tones white initials read on, far from
/// the backdrop, the overflow tile and the synthetic participants'
/// colours (so a test can tell a placeholder from a picture).
const COLOURS: &[[u8; 3]] = &[
    [40, 40, 145],
    [175, 40, 115],
    [160, 145, 115],
    [145, 190, 175],
];

/// The placeholder colour of participant `id`: the same in every layout
/// and every session (FNV-1a of the id).
pub fn colour(id: &str) -> [u8; 3] {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    COLOURS[(hash % COLOURS.len() as u64) as usize]
}

/// The overflow tile's colour.
pub const MORE_COLOUR: [u8; 3] = [60, 60, 60];

/// The active speaker's border colour.
pub const HIGHLIGHT_COLOUR: [u8; 3] = [255, 196, 0];

/// How thick the speaker's border is on `tile`: about 1/60 of the tile's
/// shorter side, at least 2 pixels, even (I420), at most half the tile.
pub fn border_width(tile: Rect) -> u32 {
    let b = ((tile.width.min(tile.height) / 60).max(2) + 1) & !1;
    b.min((tile.width / 2) & !1).min((tile.height / 2) & !1)
}

/// The four edges (top, bottom, left, right) of a border drawn just
/// inside `tile`, so it never covers a neighbour.
pub fn border(tile: Rect) -> [Rect; 4] {
    let b = border_width(tile);
    let (x, y, w, h) = (tile.x, tile.y, tile.width, tile.height);
    [
        Rect {
            x,
            y,
            width: w,
            height: b,
        },
        Rect {
            x,
            y: y + (h - b) as i32,
            width: w,
            height: b,
        },
        Rect {
            x,
            y,
            width: b,
            height: h,
        },
        Rect {
            x: x + (w - b) as i32,
            y,
            width: b,
            height: h,
        },
    ]
}

/// The corner radius `tile` gets when the layout asks for `radius`: at
/// most half its shorter side (a pill, or a circle).
pub fn corner_radius(tile: Rect, radius: u32) -> u32 {
    radius.min(tile.width.min(tile.height) / 2)
}

/// How far a tile's name label keeps from its bottom-left corner: about
/// 1/40 of the tile's height, and far enough in for its box to clear a
/// rounded corner of `radius` (the arc passes the diagonal at
/// radius * (1 - 1/sqrt 2)).
pub fn label_pad(height: u32, radius: u32) -> u32 {
    (height / 40).max(2).max((radius * 3).div_ceil(10))
}

/// The speaker's border on a tile with rounded corners: the opacity
/// (0-255), row by row, of a ring `thickness` pixels wide just inside a
/// `width` x `height` rectangle whose corners have `radius`; the inner
/// edge follows the outer one. Edges are antialiased.
pub fn ring(width: u32, height: u32, radius: u32, thickness: u32) -> Vec<u8> {
    let (w, h) = (width as f32, height as f32);
    let whole = Rect {
        x: 0,
        y: 0,
        width,
        height,
    };
    let r = corner_radius(whole, radius) as f32;
    let t = thickness as f32;
    let inner = (w - 2.0 * t, h - 2.0 * t, (r - t).max(0.0));
    let mut mask = Vec::with_capacity((width * height) as usize);
    for y in 0..height {
        for x in 0..width {
            // From the pixel's centre, measured from the rectangle's.
            let (px, py) = (x as f32 + 0.5 - w / 2.0, y as f32 + 0.5 - h / 2.0);
            let outer = coverage(px, py, w, h, r);
            let hole = match inner.0 > 0.0 && inner.1 > 0.0 {
                true => coverage(px, py, inner.0, inner.1, inner.2),
                false => 0.0,
            };
            mask.push((outer * (1.0 - hole) * 255.0).round() as u8);
        }
    }
    mask
}

/// How much of the pixel centred at (`px`, `py`) a `w` x `h` rectangle
/// with corner radius `r`, centred on the origin, covers: from its signed
/// distance, so the edge pixel is partly covered.
fn coverage(px: f32, py: f32, w: f32, h: f32, r: f32) -> f32 {
    let qx = px.abs() - (w / 2.0 - r);
    let qy = py.abs() - (h / 2.0 - r);
    let outside = qx.max(0.0).hypot(qy.max(0.0));
    let distance = outside + qx.max(qy).min(0.0) - r;
    (0.5 - distance).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_take_first_and_last_words() {
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("  grace  brewster murray hopper "), "GH");
        assert_eq!(initials("bob"), "B");
        assert_eq!(initials("élodie durand"), "ÉD");
        assert_eq!(initials(""), "?");
        assert_eq!(initials("   "), "?");
    }

    #[test]
    fn borders_stay_inside_the_tile() {
        for (w, h) in [(1280, 720), (426, 240), (160, 90), (8, 4), (2, 2)] {
            let tile = Rect {
                x: 10,
                y: 20,
                width: w,
                height: h,
            };
            let edges = border(tile);
            for e in edges {
                assert!(e.x >= tile.x && e.y >= tile.y, "{e:?} in {tile:?}");
                assert!(
                    e.right() <= tile.right() && e.bottom() <= tile.bottom(),
                    "{e:?} in {tile:?}"
                );
                assert!(e.width % 2 == 0 && e.height % 2 == 0, "{e:?}");
            }
            if w >= 120 && h >= 120 {
                assert!(
                    edges[0].height >= 2 && edges[0].height <= h / 30,
                    "{edges:?}"
                );
            }
        }
    }

    #[test]
    fn radii_fit_the_tile() {
        let tile = |width, height| Rect {
            x: 0,
            y: 0,
            width,
            height,
        };
        assert_eq!(corner_radius(tile(640, 360), 24), 24);
        assert_eq!(corner_radius(tile(640, 360), 300), 180);
        assert_eq!(corner_radius(tile(2, 2), 24), 1);
        assert_eq!(corner_radius(tile(640, 360), 0), 0);
    }

    #[test]
    fn labels_clear_the_corner() {
        assert_eq!(label_pad(360, 0), 9);
        assert_eq!(label_pad(40, 0), 2);
        // The label box's corner, `pad` in from both edges, lies inside
        // the rounded corner's arc.
        for radius in [8, 24, 60, 180] {
            let pad = label_pad(360, radius) as f32;
            let r = radius as f32;
            assert!((r - pad).hypot(r - pad) <= r, "radius {radius}: pad {pad}");
        }
    }

    /// The mask at (`x`, `y`).
    fn at(mask: &[u8], width: u32, x: u32, y: u32) -> u8 {
        mask[(y * width + x) as usize]
    }

    #[test]
    fn a_square_ring_is_a_frame() {
        let (w, h, t) = (40, 30, 4);
        let mask = ring(w, h, 0, t);
        assert_eq!(mask.len(), (w * h) as usize);
        for (x, y) in [
            (0, 0),
            (w - 1, h - 1),
            (20, 0),
            (20, t - 1),
            (0, 15),
            (t - 1, 15),
        ] {
            assert_eq!(at(&mask, w, x, y), 255, "({x}, {y}) is on the frame");
        }
        for (x, y) in [(t, t), (20, 15), (20, t), (w - t - 1, h - t - 1)] {
            assert_eq!(at(&mask, w, x, y), 0, "({x}, {y}) is inside");
        }
    }

    #[test]
    fn a_rounded_ring_follows_the_corners() {
        let (w, h, r, t) = (200, 100, 30, 4);
        let mask = ring(w, h, r, t);
        // Outside the arc at the corner, inside the hole, on the edges.
        assert_eq!(at(&mask, w, 0, 0), 0);
        assert_eq!(at(&mask, w, 3, 3), 0);
        assert_eq!(at(&mask, w, 100, 50), 0);
        assert_eq!(at(&mask, w, 100, 0), 255);
        assert_eq!(at(&mask, w, 0, 50), 255);
        // On the arc, half way round: the band runs through (r - r/sqrt 2).
        let d = (r as f32 * (1.0 - std::f32::consts::FRAC_1_SQRT_2) + 1.0) as u32;
        assert_eq!(at(&mask, w, d, d), 255);
        // Antialiased: some pixels are partly covered.
        assert!(mask.iter().any(|&a| a > 0 && a < 255));
        // Symmetric both ways.
        for y in 0..h {
            for x in 0..w {
                let a = at(&mask, w, x, y);
                assert_eq!(a, at(&mask, w, w - 1 - x, y), "({x}, {y})");
                assert_eq!(a, at(&mask, w, x, h - 1 - y), "({x}, {y})");
            }
        }
    }

    #[test]
    fn a_thick_ring_fills_the_shape() {
        let mask = ring(20, 10, 0, 6);
        assert!(mask.iter().all(|&a| a == 255));
    }

    #[test]
    fn colours_are_stable_and_spread() {
        assert_eq!(colour("p-1"), colour("p-1"));
        let used: std::collections::HashSet<_> = (0..64)
            .map(|i| colour(&format!("participant-{i}")))
            .collect();
        assert_eq!(used.len(), COLOURS.len(), "{used:?}");
    }
}
