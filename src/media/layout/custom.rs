//! Custom layouts: explicit rectangles (as fractions of the canvas, so
//! that one layout serves every output size), each for a participant
//! named by id, by display name pattern or by join order, or for whoever
//! is left, in join order. Slots may overlap (picture in picture): later
//! ones are drawn on top.

use serde::{Deserialize, Serialize};

use super::grid::even_floor;
use super::select::names;
use super::{Canvas, Fit, Item, Member, Rect, Tile};

/// The most slots a layout takes.
const MAX_SLOTS: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Slot {
    /// Left edge, 0 to 1 of the canvas width.
    pub x: f64,
    /// Top edge, 0 to 1 of the canvas height.
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// This participant (by id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant: Option<String>,
    /// The first participant whose display name matches (`*`, `?`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The participant who joined `order`th (from 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<u32>,
    /// Overrides the layout's fit for this slot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<Fit>,
}

/// Checks the slots; the error names the field within the layout
/// (`slots`, `slots[2].width`) and why.
pub fn validate(slots: &[Slot]) -> Result<(), (String, String)> {
    if slots.is_empty() || slots.len() > MAX_SLOTS {
        return Err(("slots".into(), format!("from 1 to {MAX_SLOTS} slots")));
    }
    for (i, s) in slots.iter().enumerate() {
        let err = |field: &str, m: &str| {
            let dot = if field.is_empty() { "" } else { "." };
            Err((format!("slots[{i}]{dot}{field}"), m.to_string()))
        };
        for (field, v) in [("x", s.x), ("y", s.y)] {
            if !(0.0..1.0).contains(&v) {
                return err(field, "from 0 to below 1");
            }
        }
        for (field, v, start) in [("width", s.width, s.x), ("height", s.height, s.y)] {
            if !(v > 0.0 && start + v <= 1.0 + 1e-9) {
                return err(field, "above 0, the slot inside the canvas");
            }
        }
        let named = [s.participant.is_some(), s.name.is_some(), s.order.is_some()];
        if named.iter().filter(|n| **n).count() > 1 {
            return err("", "one of participant, name or order");
        }
        if s.order == Some(0) {
            return err("order", "counts from 1");
        }
        if s.name
            .as_ref()
            .is_some_and(|n| n.is_empty() || n.len() > 256)
        {
            return err("name", "from 1 to 256 characters");
        }
    }
    Ok(())
}

/// The slot's rectangle on `canvas`, even and inside it.
fn rect(slot: &Slot, canvas: Canvas) -> Rect {
    let span = |start: f64, len: f64, total: u32| {
        let a = even_floor((start * total as f64).round() as u32).min(total.saturating_sub(2));
        let b = even_floor(((start + len) * total as f64).round() as u32).min(total);
        (a, b.max(a + 2).min(total.max(2)))
    };
    let (x0, x1) = span(slot.x, slot.width, canvas.width);
    let (y0, y1) = span(slot.y, slot.height, canvas.height);
    Rect {
        x: x0 as i32,
        y: y0 as i32,
        width: x1 - x0,
        height: y1 - y0,
    }
}

/// Fills the slots: those that name someone first (and stay empty while
/// that someone is not there), then the open ones with whoever is left,
/// in join order. `cameras` are the members' tiles, in the order of
/// `members`. Tiles come in slot order.
pub(crate) fn place<K: Clone>(
    slots: &[Slot],
    members: &[&Member<K>],
    cameras: impl Iterator<Item = Item<K>>,
    canvas: Canvas,
    fit: Fit,
) -> Vec<Tile<K>> {
    let mut left: Vec<Option<Item<K>>> = cameras.map(Some).collect();
    let is_open = |s: &Slot| s.participant.is_none() && s.name.is_none() && s.order.is_none();
    let mut chosen: Vec<Option<Item<K>>> = Vec::with_capacity(slots.len());
    for s in slots {
        let free = |j: &usize| left[*j].is_some();
        let wanted = if let Some(id) = &s.participant {
            members.iter().position(|m| &m.id == id).filter(free)
        } else if let Some(pattern) = &s.name {
            (0..members.len())
                .filter(free)
                .find(|&j| names(pattern, members[j]))
        } else {
            s.order
                .map(|n| n as usize - 1)
                .filter(|&j| j < members.len())
                .filter(free)
        };
        chosen.push(wanted.and_then(|j| left[j].take()));
    }
    let mut rest = left.into_iter().flatten();
    for (s, c) in slots.iter().zip(chosen.iter_mut()) {
        if is_open(s) {
            *c = rest.next();
        }
    }
    slots
        .iter()
        .zip(chosen)
        .filter_map(|(s, c)| c.map(|item| item.place(rect(s, canvas), s.fit.unwrap_or(fit))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::layout::{Camera, Content};

    fn slot(x: f64, y: f64, w: f64, h: f64) -> Slot {
        Slot {
            x,
            y,
            width: w,
            height: h,
            participant: None,
            name: None,
            order: None,
            fit: None,
        }
    }

    #[test]
    fn slots_are_checked() {
        assert!(validate(&[slot(0.0, 0.0, 1.0, 1.0)]).is_ok());
        let field = |slots: &[Slot]| validate(slots).unwrap_err().0;
        assert_eq!(field(&[slot(0.5, 0.0, 0.6, 1.0)]), "slots[0].width");
        assert_eq!(field(&[slot(1.0, 0.0, 0.1, 1.0)]), "slots[0].x");
        let flat = slot(0.0, 0.0, 1.0, 0.0);
        assert_eq!(field(&[slot(0.0, 0.0, 1.0, 1.0), flat]), "slots[1].height");
        assert_eq!(field(&[]), "slots");
        let both = Slot {
            participant: Some("p1".into()),
            order: Some(1),
            ..slot(0.0, 0.0, 1.0, 1.0)
        };
        assert_eq!(field(&[both]), "slots[0]");
    }

    #[test]
    fn named_slots_first_then_join_order() {
        let member = |id: &str, name: &str| Member {
            id: id.into(),
            name: name.into(),
            camera: Camera::On(id.to_string()),
            screen: None,
        };
        let members = [
            member("p1", "Alice"),
            member("p2", "Bob"),
            member("p3", "Carol"),
        ];
        let refs: Vec<&Member<String>> = members.iter().collect();
        let items = || {
            members.iter().map(|m| Item {
                content: Content::Video {
                    track: m.id.clone(),
                },
                participant: Some(m.id.clone()),
                highlight: false,
                screen: false,
            })
        };
        let slots = [
            slot(0.0, 0.0, 1.0, 1.0),
            Slot {
                name: Some("car*".into()),
                ..slot(0.7, 0.7, 0.3, 0.3)
            },
            Slot {
                participant: Some("p9".into()),
                ..slot(0.0, 0.7, 0.3, 0.3)
            },
            slot(0.35, 0.7, 0.3, 0.3),
        ];
        let canvas = Canvas {
            width: 1280,
            height: 720,
        };
        let tiles = place(&slots, &refs, items(), canvas, Fit::Cover);
        let who: Vec<_> = tiles
            .iter()
            .map(|t| t.participant.clone().unwrap())
            .collect();
        // Carol has her slot; p9 is absent, so that slot stays empty.
        assert_eq!(who, ["p1", "p3", "p2"]);
        assert_eq!(
            tiles[0].rect,
            Rect {
                x: 0,
                y: 0,
                width: 1280,
                height: 720
            }
        );
        assert_eq!(
            tiles[1].rect,
            Rect {
                x: 896,
                y: 504,
                width: 384,
                height: 216
            }
        );
    }
}
