//! What callcast draws itself on a tile without a picture: initials on a
//! colour of the participant's own, and the "+N" of the overflow tile.

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
    fn colours_are_stable_and_spread() {
        assert_eq!(colour("p-1"), colour("p-1"));
        let used: std::collections::HashSet<_> = (0..64)
            .map(|i| colour(&format!("participant-{i}")))
            .collect();
        assert_eq!(used.len(), COLOURS.len(), "{used:?}");
    }
}
