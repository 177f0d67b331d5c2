//! Which simulcast layer to ask Janus for, per subscribed video: the
//! smallest that still fills the tile it is shown in.

use std::collections::HashMap;

use super::roster::Roster;
use super::videoroom::SubscriberStream;
use crate::adapter::VideoSize;

/// Janus's substreams, low to high, for a publisher sending the usual
/// three layers (a quarter, half and full resolution).
pub fn substream_for_height(height: u32) -> u8 {
    match height {
        0..270 => 0,
        270..540 => 1,
        _ => 2,
    }
}

/// The layers chosen so far and the sizes tiles are shown at.
#[derive(Debug, Default)]
pub struct Layers {
    sizes: Vec<VideoSize>,
    /// (subscriber mid, feed, feed mid) -> substream asked for. Keyed by the
    /// feed too, because Janus recycles m-lines.
    chosen: HashMap<(String, String, String), u8>,
}

impl Layers {
    pub fn set_sizes(&mut self, sizes: Vec<VideoSize>) {
        self.sizes = sizes;
    }

    /// `(mid, substream)` requests to send now.
    pub fn changes(&mut self, roster: &Roster, streams: &[SubscriberStream]) -> Vec<(String, u8)> {
        let mut out = Vec::new();
        for size in &self.sizes {
            let Some(s) = streams.iter().find(|s| {
                s.active
                    && s.feed_id
                        .as_ref()
                        .is_some_and(|f| f.to_string() == size.participant_id)
                    && s.feed_mid.as_deref() == Some(size.track_id.as_str())
            }) else {
                continue;
            };
            let feed = s.feed_id.as_ref().expect("matched above");
            if !roster.is_simulcast(feed, &size.track_id) {
                continue;
            }
            let want = substream_for_height(size.height);
            let key = (s.mid.clone(), feed.to_string(), size.track_id.clone());
            if self.chosen.get(&key) != Some(&want) {
                self.chosen.insert(key, want);
                out.push((s.mid.clone(), want));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn small_tiles_get_low_layers() {
        assert_eq!(substream_for_height(90), 0);
        assert_eq!(substream_for_height(229), 0);
        assert_eq!(substream_for_height(353), 1);
        assert_eq!(substream_for_height(704), 2);
    }

    #[test]
    fn a_layer_is_asked_for_once_and_again_when_the_tile_changes() {
        let mut roster = Roster::default();
        roster.upsert(vec![
            serde_json::from_value(json!({"id": 9, "display": "Alice", "streams": [
                {"type": "video", "mid": "v", "simulcast": true}, {"type": "audio", "mid": "a"}
            ]}))
            .unwrap(),
            serde_json::from_value(json!({"id": 3, "display": "Bob", "streams": [
                {"type": "video", "mid": "v"}
            ]}))
            .unwrap(),
        ]);
        let streams: Vec<SubscriberStream> = serde_json::from_value(json!([
            {"type": "video", "mid": "0", "feed_id": 9, "feed_mid": "v"},
            {"type": "video", "mid": "1", "feed_id": 3, "feed_mid": "v"}
        ]))
        .unwrap();
        let size = |p: &str, height| VideoSize {
            participant_id: p.into(),
            track_id: "v".into(),
            width: height * 16 / 9,
            height,
        };
        let mut layers = Layers::default();
        layers.set_sizes(vec![size("9", 704), size("3", 704)]);
        assert_eq!(
            layers.changes(&roster, &streams),
            vec![("0".to_string(), 2)]
        );
        assert!(layers.changes(&roster, &streams).is_empty());
        layers.set_sizes(vec![size("9", 229), size("3", 229)]);
        assert_eq!(
            layers.changes(&roster, &streams),
            vec![("0".to_string(), 0)]
        );
    }
}
