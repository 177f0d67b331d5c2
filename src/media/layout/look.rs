//! What callcast draws itself: on a tile without a picture, initials on a
//! colour of the participant's own; the "+N" of the overflow tile; the
//! border that marks the active speaker.

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

/// The four edges (top, bottom, left, right) of a border drawn just
/// inside `tile`, so it never covers a neighbour: about 1/60 of the tile's
/// shorter side, at least 2 pixels, even (I420).
pub fn border(tile: Rect) -> [Rect; 4] {
    let b = ((tile.width.min(tile.height) / 60).max(2) + 1) & !1;
    let b = b.min((tile.width / 2) & !1).min((tile.height / 2) & !1);
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
    fn colours_are_stable_and_spread() {
        assert_eq!(colour("p-1"), colour("p-1"));
        let used: std::collections::HashSet<_> = (0..64)
            .map(|i| colour(&format!("participant-{i}")))
            .collect();
        assert_eq!(used.len(), COLOURS.len(), "{used:?}");
    }
}
