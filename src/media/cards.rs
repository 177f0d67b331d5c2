//! Cards: tiles callcast draws itself, for a participant without a picture
//! (camera off, muted, not arrived yet or stalled: their initials on their
//! colour), for the overflow ("+N") and for the speaker's border.
//!
//! A card is a live solid-colour source with the text on it, made at the
//! tile's size and linked to its own compositor pad; it lives while its
//! tile does. Cards are few and cheap: the text is a short string, and the
//! colour fill is a memset. Their corners round like the pictures'.
//!
//! A ring card (the speaker's border around rounded corners) is the
//! colour with each frame's alpha stamped from [`look::ring`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use gst::prelude::*;

use super::corners::Corners;
use super::layout::{Rect, look};
use super::program::Program;
use super::track::video_caps;
use super::{MediaError, capsfilter, link_chain, make};

/// One card as the layout wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardSpec {
    /// Stable across layouts (a participant id, or "more"), so that a card
    /// that only moves is moved, not rebuilt.
    pub key: String,
    pub rect: Rect,
    /// Drawing order on the compositor.
    pub z: u32,
    pub text: String,
    pub colour: [u8; 3],
    /// Corner radius.
    pub radius: u32,
    /// Only a ring this many pixels wide along the edge, in the colour;
    /// the rest is transparent (needs the program to blend with alpha).
    pub ring: Option<u32>,
}

impl CardSpec {
    /// Whether a card drawn for `self` can show `other` by moving and
    /// redrawing its text: a new size or colour means a new card, and a
    /// ring is drawn once.
    ///
    /// The colour is never changed on a running source: videotestsrc 1.22.0
    /// drops its cached frame when a property is set, while its streaming
    /// thread may be copying from that frame without a lock (later
    /// releases take one). Under a crowd's churn that was a use after
    /// free: segfaults in `gst_video_frame_copy` and GSlice corruption.
    fn redraws_as(&self, other: &CardSpec) -> bool {
        let size = |s: &CardSpec| (s.rect.width, s.rect.height);
        let ring = |s: &CardSpec| s.ring.map(|t| (t, s.radius));
        size(self) == size(other) && self.colour == other.colour && ring(self) == ring(other)
    }
}

struct Card {
    bin: gst::Bin,
    /// What draws a text card; none for a ring.
    face: Option<Face>,
    pad: gst::Pad,
    spec: CardSpec,
}

struct Face {
    text: gst::Element,
    corners: Corners,
}

pub struct Cards {
    pipeline: gst::Pipeline,
    fps: u32,
    cards: Mutex<HashMap<String, Card>>,
    made: AtomicU64,
}

impl Cards {
    pub fn new(pipeline: &gst::Pipeline, fps: u32) -> Self {
        Cards {
            pipeline: pipeline.clone(),
            fps,
            cards: Mutex::new(HashMap::new()),
            made: AtomicU64::new(0),
        }
    }

    /// Shows exactly these cards: new ones are made, kept ones moved or
    /// redrawn, the others removed.
    pub fn set(&self, program: &Program, specs: &[CardSpec]) {
        let mut cards = self.cards.lock().unwrap();
        let gone: Vec<String> = cards
            .keys()
            .filter(|k| !specs.iter().any(|s| &s.key == *k))
            .cloned()
            .collect();
        let mut gone: Vec<Card> = gone.iter().filter_map(|k| cards.remove(k)).collect();
        for spec in specs {
            // A new size or colour means a new card (see
            // `CardSpec::redraws_as`): renegotiating a source that may not
            // have started yet races in textoverlay (1.22). The new one
            // glides from where the old one was.
            let mut was = None;
            if let Some(card) = cards.get(&spec.key)
                && !card.spec.redraws_as(spec)
            {
                let card = cards.remove(&spec.key).expect("just found");
                was = Some(card.spec.rect);
                self.remove(program, card);
            }
            // A card whose tile went can show a newcomer of its size and
            // colour (one of a few): it is redrawn rather than rebuilt, so
            // that a crowd coming and going makes and unmakes few elements.
            if !cards.contains_key(&spec.key)
                && was.is_none()
                && let Some(i) = gone.iter().position(|c| c.spec.redraws_as(spec))
            {
                cards.insert(spec.key.clone(), gone.swap_remove(i));
            }
            match cards.get_mut(&spec.key) {
                Some(card) => card.update(program, spec),
                None => match self.make(program, spec, was.unwrap_or(spec.rect)) {
                    Ok(card) => {
                        program.place(&card.pad, spec.rect);
                        cards.insert(spec.key.clone(), card);
                    }
                    Err(e) => tracing::warn!(card = %spec.key, error = %e, "cannot draw a card"),
                },
            }
        }
        for card in gone {
            self.remove(program, card);
        }
    }

    /// Makes the card for `spec`, its pad first at `at`.
    fn make(&self, program: &Program, spec: &CardSpec, at: Rect) -> Result<Card, MediaError> {
        // Numbered: a recycled card keeps the name it was made with.
        let n = self.made.fetch_add(1, Ordering::Relaxed);
        let name = format!("card-{}-{n}", super::element_safe(&spec.key));
        let bin = gst::Bin::builder().name(&name).build();
        let (face, out) = match spec.ring {
            None => {
                let face = self.face(&bin, &name, spec)?;
                face.draw(spec, program.alpha());
                let out = face.corners.output().clone();
                (Some(face), out)
            }
            Some(thickness) => (None, self.ring(&bin, &name, spec, thickness)?),
        };
        let src = gst::GhostPad::with_target(&out.static_pad("src").expect("card output src"))
            .map_err(|_| MediaError::Link(format!("{name}: ghost pad")))?;
        bin.add_pad(&src)
            .map_err(|_| MediaError::Link(format!("{name}: ghost pad")))?;

        self.pipeline
            .add(&bin)
            .map_err(|_| MediaError::Link(format!("{name}: cannot add")))?;
        let pad = match program.link_video(src.upcast_ref(), at) {
            Ok(pad) => pad,
            Err(e) => {
                let _ = self.pipeline.remove(&bin);
                return Err(e);
            }
        };
        pad.set_property("zorder", spec.z);
        if bin.sync_state_with_parent().is_err() {
            program.release(&pad);
            let _ = bin.set_state(gst::State::Null);
            let _ = self.pipeline.remove(&bin);
            return Err(MediaError::State(format!("{name} would not start")));
        }
        Ok(Card {
            bin,
            face,
            pad,
            spec: spec.clone(),
        })
    }

    /// A text card's elements: colour ! size ! text ! corners.
    fn face(&self, bin: &gst::Bin, name: &str, spec: &CardSpec) -> Result<Face, MediaError> {
        let source = self.solid_source(spec.colour)?;
        let caps = capsfilter(None, &card_caps(spec.rect, self.fps))?;
        let text = make("textoverlay", None)?;
        text.set_property_from_str("valignment", "center");
        text.set_property_from_str("halignment", "center");
        // Sized to the tile here, not by the overlay's own scaling.
        text.set_property("auto-resize", false);
        let corners = Corners::new()?;
        let [round, convert, format] = corners.elements();
        bin.add_many([&source, &caps, &text, round, convert, format])
            .map_err(|_| MediaError::Link(format!("{name}: elements")))?;
        link_chain(&[&source, &caps, &text, round, convert, format])?;
        Ok(Face { text, corners })
    }

    /// A ring card's elements: the colour in the compositor's own format
    /// (so that it need not convert it every frame), each frame's alpha
    /// stamped from the ring's mask.
    fn ring(
        &self,
        bin: &gst::Bin,
        name: &str,
        spec: &CardSpec,
        thickness: u32,
    ) -> Result<gst::Element, MediaError> {
        let source = self.solid_source(spec.colour)?;
        let (w, h) = (spec.rect.width.max(2), spec.rect.height.max(2));
        let mut caps = card_caps(spec.rect, self.fps);
        caps.make_mut().set("format", "AYUV");
        let format = capsfilter(None, &caps)?;
        let mask = look::ring(w, h, spec.radius, thickness);
        format.static_pad("src").expect("capsfilter src").add_probe(
            gst::PadProbeType::BUFFER,
            move |_, info| {
                if let Some(buffer) = info.buffer_mut() {
                    stamp_alpha(buffer.make_mut(), &mask);
                }
                gst::PadProbeReturn::Ok
            },
        );
        bin.add_many([&source, &format])
            .map_err(|_| MediaError::Link(format!("{name}: elements")))?;
        link_chain(&[&source, &format])?;
        Ok(format)
    }

    /// A live solid `colour` whose frames start now.
    fn solid_source(&self, colour: [u8; 3]) -> Result<gst::Element, MediaError> {
        let source = gst::ElementFactory::make("videotestsrc")
            .property("is-live", true)
            .property_from_str("pattern", "solid-color")
            .property("foreground-color", argb(colour))
            .build()
            .map_err(|_| MediaError::MissingElement("videotestsrc"))?;
        // A live test source stamps its frames from 0: start them now, or
        // the compositor would drop every one as late.
        if let Some(now) = self.pipeline.current_running_time() {
            source.set_property("timestamp-offset", now.nseconds() as i64);
        }
        Ok(source)
    }

    fn remove(&self, program: &Program, card: Card) {
        // Nothing more into the compositor pad while it goes.
        if let Some(src) = card.bin.static_pad("src") {
            src.add_probe(
                gst::PadProbeType::DATA_DOWNSTREAM | gst::PadProbeType::QUERY_DOWNSTREAM,
                |_, info| crate::media::drop_probed(info),
            );
        }
        program.release(&card.pad);
        let _ = card.bin.set_state(gst::State::Null);
        let _ = self.pipeline.remove(&card.bin);
    }
}

impl Card {
    /// Moves or redraws the card (see [`CardSpec::redraws_as`]).
    fn update(&mut self, program: &Program, spec: &CardSpec) {
        if spec.rect != self.spec.rect {
            program.place(&self.pad, spec.rect);
        }
        if spec.z != self.spec.z {
            self.pad.set_property("zorder", spec.z);
        }
        if let Some(face) = &self.face {
            face.draw(spec, program.alpha());
        }
        self.spec = spec.clone();
    }
}

impl Face {
    /// The text at about a third of the tile's height, the corners; only
    /// what changed. The colour is the source's, set when it was made.
    fn draw(&self, spec: &CardSpec, alpha: bool) {
        if self.text.property::<Option<String>>("text").as_deref() != Some(spec.text.as_str()) {
            self.text.set_property("text", &spec.text);
        }
        let font = format!("Sans Bold {}px", (spec.rect.height / 3).max(8));
        if self.text.property::<Option<String>>("font-desc").as_deref() != Some(font.as_str()) {
            self.text.set_property("font-desc", font);
        }
        self.corners.set(alpha, spec.radius);
    }
}

fn card_caps(rect: Rect, fps: u32) -> gst::Caps {
    let mut caps = video_caps(rect.width.max(2), rect.height.max(2));
    caps.make_mut()
        .set("framerate", gst::Fraction::new(fps as i32, 1));
    caps
}

fn argb([r, g, b]: [u8; 3]) -> u32 {
    0xff00_0000u32 | (r as u32) << 16 | (g as u32) << 8 | b as u32
}

/// Sets the alpha of each AYUV pixel (its first byte) from `mask`.
fn stamp_alpha(buffer: &mut gst::BufferRef, mask: &[u8]) {
    let Ok(mut map) = buffer.map_writable() else {
        return;
    };
    // AYUV rows have no padding: 4 bytes a pixel is always aligned.
    for (pixel, &a) in map.as_mut_slice().chunks_exact_mut(4).zip(mask) {
        pixel[0] = a;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(width: u32, colour: [u8; 3], text: &str) -> CardSpec {
        CardSpec {
            key: text.to_string(),
            rect: Rect {
                x: 0,
                y: 0,
                width,
                height: width / 2,
            },
            z: 1,
            text: text.to_string(),
            colour,
            radius: 8,
            ring: None,
        }
    }

    #[test]
    fn a_card_is_redrawn_only_with_its_size_and_colour() {
        let card = spec(160, [40, 40, 145], "AB");
        // Another name, another place, another corner: the text and the
        // pad change, the source does not.
        let mut other = spec(160, [40, 40, 145], "CD");
        other.rect.x = 320;
        other.radius = 0;
        assert!(card.redraws_as(&other));
        // Another colour would be set on a running source: a new card.
        assert!(!card.redraws_as(&spec(160, [175, 40, 115], "AB")));
        assert!(!card.redraws_as(&spec(200, [40, 40, 145], "AB")));
    }

    #[test]
    fn a_ring_is_drawn_once() {
        let ring = |thickness, radius| CardSpec {
            ring: Some(thickness),
            radius,
            ..spec(160, [255, 196, 0], "")
        };
        assert!(ring(3, 8).redraws_as(&ring(3, 8)));
        assert!(!ring(3, 8).redraws_as(&ring(4, 8)));
        assert!(!ring(3, 8).redraws_as(&ring(3, 0)));
    }
}
