//! Who publishes what in a Janus room, as adapter events: the pure part of
//! the Janus adapter.
//!
//! A participant id is the feed id as text; a track id is the publisher's
//! own mid for that stream, which stays stable while the subscriber's
//! m-lines come and go (Janus recycles them).

use super::protocol::JanusId;
use super::videoroom::{Publisher, PublisherStream, SubscriberStream, Want};
use crate::adapter::{Participant, RoomEvent, Stream, Track, TrackKind, TrackSource};

#[derive(Debug, Default)]
pub struct Roster {
    /// In the order they were first seen.
    publishers: Vec<Publisher>,
}

impl Roster {
    /// The full list after a (re)join: whoever is gone leaves, whoever is
    /// new joins, and the rest are updated.
    pub fn sync(&mut self, publishers: Vec<Publisher>) -> Vec<RoomEvent> {
        let gone: Vec<JanusId> = self
            .publishers
            .iter()
            .filter(|p| !publishers.iter().any(|n| n.id == p.id))
            .map(|p| p.id.clone())
            .collect();
        let mut events: Vec<RoomEvent> = gone.iter().flat_map(|id| self.remove(id)).collect();
        events.extend(self.upsert(publishers));
        events
    }

    /// Publishers Janus announced, new or changed.
    pub fn upsert(&mut self, publishers: Vec<Publisher>) -> Vec<RoomEvent> {
        let mut events = Vec::new();
        for mut p in publishers {
            p.streams.retain(|s| wanted(s).is_some());
            let participant_id = p.id.to_string();
            match self.publishers.iter_mut().find(|known| known.id == p.id) {
                None => {
                    events.push(RoomEvent::ParticipantJoined {
                        participant: Participant {
                            id: participant_id.clone(),
                            display: display(&p),
                        },
                    });
                    events.extend(
                        tracks(&p)
                            .into_iter()
                            .map(|track| RoomEvent::TrackPublished {
                                participant_id: participant_id.clone(),
                                track,
                            }),
                    );
                    self.publishers.push(p);
                }
                Some(known) => {
                    let (old, new) = (tracks(known), tracks(&p));
                    events.extend(old.iter().filter(|t| !new.contains(t)).map(|t| {
                        RoomEvent::TrackUnpublished {
                            participant_id: participant_id.clone(),
                            track_id: t.id.clone(),
                        }
                    }));
                    events.extend(new.iter().filter(|t| !old.contains(t)).map(|t| {
                        RoomEvent::TrackPublished {
                            participant_id: participant_id.clone(),
                            track: t.clone(),
                        }
                    }));
                    // A publisher with nothing left is still in the room
                    // (`unpublished`, not `leaving`): keep it, trackless.
                    *known = p;
                }
            }
        }
        events
    }

    /// A publisher stopped publishing: its tracks go, it stays.
    pub fn unpublish(&mut self, id: &JanusId) -> Vec<RoomEvent> {
        let Some(p) = self.publishers.iter_mut().find(|p| &p.id == id) else {
            return vec![];
        };
        let participant_id = p.id.to_string();
        let events = tracks(p)
            .into_iter()
            .map(|t| RoomEvent::TrackUnpublished {
                participant_id: participant_id.clone(),
                track_id: t.id,
            })
            .collect();
        p.streams.clear();
        events
    }

    /// A publisher left the room (or was kicked).
    pub fn remove(&mut self, id: &JanusId) -> Vec<RoomEvent> {
        let Some(pos) = self.publishers.iter().position(|p| &p.id == id) else {
            return vec![];
        };
        let p = self.publishers.remove(pos);
        vec![RoomEvent::ParticipantLeft {
            participant_id: p.id.to_string(),
        }]
    }

    /// Whether a publisher sends this video stream in simulcast layers.
    pub fn is_simulcast(&self, feed: &JanusId, mid: &str) -> bool {
        self.publishers
            .iter()
            .find(|p| &p.id == feed)
            .and_then(|p| p.streams.iter().find(|s| s.mid == mid))
            .is_some_and(|s| s.simulcast)
    }

    /// Every audio and video stream of every publisher, to subscribe to.
    pub fn wants(&self) -> Vec<Want> {
        self.publishers
            .iter()
            .flat_map(|p| {
                p.streams.iter().map(|s| Want {
                    feed: p.id.clone(),
                    mid: s.mid.clone(),
                })
            })
            .collect()
    }

    /// Names the m-lines of the subscriber PeerConnection: Janus's own
    /// description of them (after `join` or `update`), joined with what the
    /// publishers announced. Inactive and data m-lines are left out.
    pub fn streams(&self, subscribed: &[SubscriberStream]) -> Vec<Stream> {
        subscribed
            .iter()
            .filter(|s| s.active)
            .filter_map(|s| {
                let feed = s.feed_id.as_ref()?;
                let feed_mid = s.feed_mid.as_ref()?;
                let p = self.publishers.iter().find(|p| &p.id == feed)?;
                let track = tracks(p).into_iter().find(|t| &t.id == feed_mid)?;
                Some(Stream {
                    mid: s.mid.clone(),
                    participant_id: feed.to_string(),
                    track,
                })
            })
            .collect()
    }
}

fn display(p: &Publisher) -> String {
    p.display.clone().unwrap_or_else(|| p.id.to_string())
}

fn wanted(s: &PublisherStream) -> Option<TrackKind> {
    if s.disabled {
        return None;
    }
    match s.kind.as_str() {
        "audio" => Some(TrackKind::Audio),
        "video" => Some(TrackKind::Video),
        _ => None,
    }
}

/// A publisher's tracks. A video stream is a screen share when its
/// description or the publisher's display says so, or when it is not the
/// publisher's first video stream (browsers add the share second).
fn tracks(p: &Publisher) -> Vec<Track> {
    let says_screen = |text: Option<&str>| {
        text.is_some_and(|t| {
            let t = t.to_ascii_lowercase();
            t.contains("screen") || t.contains("presentation")
        })
    };
    let mut videos = 0;
    p.streams
        .iter()
        .filter_map(|s| {
            let kind = wanted(s)?;
            let source = match kind {
                TrackKind::Audio => TrackSource::Microphone,
                TrackKind::Video => {
                    videos += 1;
                    if videos > 1
                        || says_screen(s.description.as_deref())
                        || says_screen(p.display.as_deref())
                    {
                        TrackSource::Screen
                    } else {
                        TrackSource::Camera
                    }
                }
            };
            Some(Track {
                id: s.mid.clone(),
                kind,
                source,
            })
        })
        .collect()
}

/// What an m-line list already carries, as subscriptions.
pub fn subscribed(streams: &[SubscriberStream]) -> Vec<Want> {
    streams
        .iter()
        .filter(|s| s.active)
        .filter_map(|s| {
            Some(Want {
                feed: s.feed_id.clone()?,
                mid: s.feed_mid.clone()?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn publisher(v: serde_json::Value) -> Publisher {
        serde_json::from_value(v).unwrap()
    }

    fn alice() -> Publisher {
        publisher(json!({"id": 9, "display": "Alice", "streams": [
            {"type": "audio", "mid": "0", "mindex": 0},
            {"type": "video", "mid": "1", "mindex": 1},
            {"type": "data", "mid": "2", "mindex": 2}
        ]}))
    }

    #[test]
    fn a_new_publisher_joins_with_its_audio_and_video() {
        let mut r = Roster::default();
        let events = r.upsert(vec![alice()]);
        assert_eq!(events.len(), 3, "{events:?}");
        assert!(
            matches!(&events[0], RoomEvent::ParticipantJoined { participant } if participant.display == "Alice" && participant.id == "9")
        );
        assert!(
            matches!(&events[2], RoomEvent::TrackPublished { track, .. } if track.kind == TrackKind::Video && track.source == TrackSource::Camera)
        );
        assert_eq!(
            r.wants(),
            vec![
                Want {
                    feed: JanusId::Num(9),
                    mid: "0".into()
                },
                Want {
                    feed: JanusId::Num(9),
                    mid: "1".into()
                }
            ]
        );
        // Announced again unchanged: nothing happens.
        assert!(r.upsert(vec![alice()]).is_empty());
    }

    #[test]
    fn a_second_video_or_a_screen_display_is_a_screen_share() {
        let p = publisher(json!({"id": 3, "display": "Bob", "streams": [
            {"type": "video", "mid": "0"}, {"type": "video", "mid": "1"}
        ]}));
        let t = tracks(&p);
        assert_eq!(
            (t[0].source, t[1].source),
            (TrackSource::Camera, TrackSource::Screen)
        );
        let p = publisher(
            json!({"id": 4, "display": "Bob (screen)", "streams": [{"type": "video", "mid": "0"}]}),
        );
        assert_eq!(tracks(&p)[0].source, TrackSource::Screen);
        let p = publisher(
            json!({"id": 5, "streams": [{"type": "video", "mid": "0", "description": "Screen share"}]}),
        );
        assert_eq!(tracks(&p)[0].source, TrackSource::Screen);
    }

    #[test]
    fn changes_to_a_publisher_are_track_events() {
        let mut r = Roster::default();
        r.upsert(vec![alice()]);
        let mut screen = alice();
        screen.streams.push(
            serde_json::from_value(json!({"type": "video", "mid": "3", "mindex": 3})).unwrap(),
        );
        let events = r.upsert(vec![screen]);
        assert!(
            matches!(&events[..], [RoomEvent::TrackPublished { track, .. }] if track.id == "3" && track.source == TrackSource::Screen)
        );
        let events = r.unpublish(&JanusId::Num(9));
        assert_eq!(events.len(), 3);
        assert!(r.wants().is_empty());
        assert_eq!(
            r.remove(&JanusId::Num(9)),
            vec![RoomEvent::ParticipantLeft {
                participant_id: "9".into()
            }]
        );
        assert!(r.remove(&JanusId::Num(9)).is_empty());
    }

    #[test]
    fn a_rejoin_resyncs_the_roster() {
        let mut r = Roster::default();
        r.upsert(vec![alice(), publisher(json!({"id": 3, "display": "Bob"}))]);
        let carol = publisher(json!({"id": 5, "display": "Carol"}));
        let events = r.sync(vec![alice(), carol]);
        assert_eq!(
            events,
            vec![
                RoomEvent::ParticipantLeft {
                    participant_id: "3".into()
                },
                RoomEvent::ParticipantJoined {
                    participant: Participant {
                        id: "5".into(),
                        display: "Carol".into()
                    }
                }
            ]
        );
    }

    #[test]
    fn subscriber_m_lines_are_named_by_feed_and_feed_mid() {
        let mut r = Roster::default();
        r.upsert(vec![alice()]);
        let subscribed: Vec<SubscriberStream> = serde_json::from_value(json!([
            {"type": "video", "mid": "0", "mindex": 0, "feed_id": 9, "feed_mid": "1"},
            {"type": "audio", "mid": "1", "mindex": 1, "feed_id": 9, "feed_mid": "0"},
            {"type": "video", "mid": "2", "mindex": 2, "active": false},
            {"type": "video", "mid": "3", "mindex": 3, "feed_id": 77, "feed_mid": "0"}
        ]))
        .unwrap();
        let streams = r.streams(&subscribed);
        assert_eq!(streams.len(), 2, "inactive and unknown feeds are left out");
        assert_eq!(
            (
                streams[0].mid.as_str(),
                streams[0].track.id.as_str(),
                streams[0].track.kind
            ),
            ("0", "1", TrackKind::Video)
        );
        assert_eq!(streams[1].track.kind, TrackKind::Audio);
        assert_eq!(super::subscribed(&subscribed).len(), 3);
    }
}
