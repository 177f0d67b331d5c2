//! Cards: tiles callcast draws itself, for a participant without a picture
//! (camera off, muted, not arrived yet or stalled: their initials on their
//! colour) and for the overflow ("+N").
//!
//! A card is a live solid-colour source with the text on it, made at the
//! tile's size and linked to its own compositor pad; it lives while its
//! tile does. Cards are few and cheap: the text is a short string, and the
//! colour fill is a memset.

use std::collections::HashMap;
use std::sync::Mutex;

use gst::prelude::*;

use super::layout::Rect;
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
}

struct Card {
    bin: gst::Bin,
    source: gst::Element,
    text: gst::Element,
    pad: gst::Pad,
    spec: CardSpec,
}

pub struct Cards {
    pipeline: gst::Pipeline,
    fps: u32,
    cards: Mutex<HashMap<String, Card>>,
}

impl Cards {
    pub fn new(pipeline: &gst::Pipeline, fps: u32) -> Self {
        Cards {
            pipeline: pipeline.clone(),
            fps,
            cards: Mutex::new(HashMap::new()),
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
        for key in gone {
            if let Some(card) = cards.remove(&key) {
                self.remove(program, card);
            }
        }
        for spec in specs {
            // A new size means a new card: renegotiating a source that may
            // not have started yet races in textoverlay (1.22). The new
            // one glides from where the old one was.
            let mut was = None;
            if let Some(card) = cards.get(&spec.key)
                && (card.spec.rect.width, card.spec.rect.height)
                    != (spec.rect.width, spec.rect.height)
            {
                let card = cards.remove(&spec.key).expect("just found");
                was = Some(card.spec.rect);
                self.remove(program, card);
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
    }

    /// Makes the card for `spec`, its pad first at `at`.
    fn make(&self, program: &Program, spec: &CardSpec, at: Rect) -> Result<Card, MediaError> {
        let name = format!("card-{}", super::element_safe(&spec.key));
        let bin = gst::Bin::builder().name(&name).build();
        let source = gst::ElementFactory::make("videotestsrc")
            .property("is-live", true)
            .property_from_str("pattern", "solid-color")
            .build()
            .map_err(|_| MediaError::MissingElement("videotestsrc"))?;
        let caps = capsfilter(None, &card_caps(spec.rect, self.fps))?;
        let text = make("textoverlay", None)?;
        text.set_property_from_str("valignment", "center");
        text.set_property_from_str("halignment", "center");
        // Sized to the tile here, not by the overlay's own scaling.
        text.set_property("auto-resize", false);
        bin.add_many([&source, &caps, &text])
            .map_err(|_| MediaError::Link(format!("{name}: elements")))?;
        link_chain(&[&source, &caps, &text])?;
        let src = gst::GhostPad::with_target(&text.static_pad("src").expect("textoverlay src"))
            .map_err(|_| MediaError::Link(format!("{name}: ghost pad")))?;
        bin.add_pad(&src)
            .map_err(|_| MediaError::Link(format!("{name}: ghost pad")))?;

        // A live test source stamps its frames from 0: start them now, or
        // the compositor would drop every one as late.
        if let Some(now) = self.pipeline.current_running_time() {
            source.set_property("timestamp-offset", now.nseconds() as i64);
        }
        let card_spec = spec.clone();
        draw(&source, &text, &card_spec);
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
            source,
            text,
            pad,
            spec: card_spec,
        })
    }

    fn remove(&self, program: &Program, card: Card) {
        // Nothing more into the compositor pad while it goes.
        if let Some(src) = card.bin.static_pad("src") {
            src.add_probe(
                gst::PadProbeType::DATA_DOWNSTREAM | gst::PadProbeType::QUERY_DOWNSTREAM,
                |_, _| gst::PadProbeReturn::Drop,
            );
        }
        program.release(&card.pad);
        let _ = card.bin.set_state(gst::State::Null);
        let _ = self.pipeline.remove(&card.bin);
    }
}

impl Card {
    /// Moves or redraws the card (same size).
    fn update(&mut self, program: &Program, spec: &CardSpec) {
        if spec.rect != self.spec.rect {
            program.place(&self.pad, spec.rect);
        }
        if spec.z != self.spec.z {
            self.pad.set_property("zorder", spec.z);
        }
        if spec.text != self.spec.text || spec.colour != self.spec.colour {
            draw(&self.source, &self.text, spec);
        }
        self.spec = spec.clone();
    }
}

fn card_caps(rect: Rect, fps: u32) -> gst::Caps {
    let mut caps = video_caps(rect.width.max(2), rect.height.max(2));
    caps.make_mut()
        .set("framerate", gst::Fraction::new(fps as i32, 1));
    caps
}

/// The colour, and the text at about a third of the tile's height.
fn draw(source: &gst::Element, text: &gst::Element, spec: &CardSpec) {
    let [r, g, b] = spec.colour;
    source.set_property(
        "foreground-color",
        0xff00_0000u32 | (r as u32) << 16 | (g as u32) << 8 | b as u32,
    );
    text.set_property("text", &spec.text);
    text.set_property(
        "font-desc",
        format!("Sans Bold {}px", (spec.rect.height / 3).max(8)),
    );
}
