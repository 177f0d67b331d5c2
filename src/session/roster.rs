//! Who is in the call, in join order, with what they publish: built from
//! adapter events, without GStreamer, and the input the layout is cut from.

use std::collections::HashMap;
use std::time::Duration;

use callcast_signalling::adapter::{RoomEvent, Track, TrackKind, TrackSource};
use serde::Serialize;

use crate::media::ingest::TrackKey;
use crate::media::layout::{self, Camera, Scene};

/// How long a camera may send nothing before its tile shows the
/// placeholder.
pub const CAMERA_STALL: Duration = Duration::from_millis(1500);

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    pub id: String,
    pub display: String,
    pub talking: bool,
    pub tracks: Vec<RosterTrack>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RosterTrack {
    pub id: String,
    pub kind: TrackKind,
    pub source: TrackSource,
}

impl From<&Track> for RosterTrack {
    fn from(t: &Track) -> Self {
        RosterTrack {
            id: t.id.clone(),
            kind: t.kind,
            source: t.source,
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Roster {
    members: Vec<Member>,
}

impl Roster {
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// Applies an event; true when the set of tiles may have changed.
    pub fn apply(&mut self, event: &RoomEvent) -> bool {
        match event {
            RoomEvent::ParticipantJoined { participant } => {
                if let Some(m) = self.member_mut(&participant.id) {
                    m.display = participant.display.clone();
                    return false;
                }
                self.members.push(Member {
                    id: participant.id.clone(),
                    display: participant.display.clone(),
                    talking: false,
                    tracks: vec![],
                });
                true
            }
            RoomEvent::ParticipantLeft { participant_id } => {
                let before = self.members.len();
                self.members.retain(|m| m.id != *participant_id);
                self.members.len() != before
            }
            RoomEvent::TrackPublished {
                participant_id,
                track,
            } => match self.member_mut(participant_id) {
                Some(m) => {
                    m.tracks.retain(|t| t.id != track.id);
                    m.tracks.push(track.into());
                    true
                }
                None => false,
            },
            RoomEvent::TrackUnpublished {
                participant_id,
                track_id,
            } => match self.member_mut(participant_id) {
                Some(m) => {
                    m.tracks.retain(|t| t.id != *track_id);
                    true
                }
                None => false,
            },
            RoomEvent::Talking {
                participant_id,
                talking,
            } => {
                if let Some(m) = self.member_mut(participant_id) {
                    m.talking = *talking;
                }
                false
            }
            _ => false,
        }
    }

    /// What the layout is cut from: everyone in join order with their
    /// camera and screen share. `ages` says how long ago each video track
    /// put out its latest frame (missing: none yet). A camera shows while
    /// its frames come; one that has sent none yet, or none for
    /// [`CAMERA_STALL`] (muted, or its sender gone quiet), is off: a
    /// placeholder rather than a frozen picture. A screen share shows from
    /// its first frame on: a still screen may send nothing for a while.
    pub fn scene(&self, ages: &HashMap<TrackKey, Duration>) -> Scene<TrackKey> {
        let key = |m: &Member, t: &RosterTrack| TrackKey {
            participant_id: m.id.clone(),
            track_id: t.id.clone(),
        };
        let video = |m: &'_ Member, screen: bool| {
            m.tracks
                .iter()
                .find(|t| t.kind == TrackKind::Video && (t.source == TrackSource::Screen) == screen)
                .map(|t| key(m, t))
        };
        let camera = |m: &Member| match video(m, false) {
            None => Camera::None,
            Some(k) if ages.get(&k).is_some_and(|a| *a <= CAMERA_STALL) => Camera::On(k),
            Some(_) => Camera::Off,
        };
        Scene {
            members: self
                .members
                .iter()
                .map(|m| layout::Member {
                    id: m.id.clone(),
                    name: m.display.clone(),
                    camera: camera(m),
                    screen: video(m, true).filter(|k| ages.contains_key(k)),
                })
                .collect(),
            // The session's speaker tracker and pin decide these.
            speaker: None,
            pinned: None,
        }
    }

    fn member_mut(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcast_signalling::adapter::Participant;

    fn joined(id: &str) -> RoomEvent {
        RoomEvent::ParticipantJoined {
            participant: Participant {
                id: id.into(),
                display: id.to_uppercase(),
            },
        }
    }

    fn published(id: &str, track: &str, kind: TrackKind) -> RoomEvent {
        RoomEvent::TrackPublished {
            participant_id: id.into(),
            track: Track {
                id: track.into(),
                kind,
                source: if kind == TrackKind::Video {
                    TrackSource::Camera
                } else {
                    TrackSource::Microphone
                },
            },
        }
    }

    #[test]
    fn tiles_follow_join_order_and_video_tracks_only() {
        let mut r = Roster::default();
        for e in [
            joined("p1"),
            joined("p2"),
            published("p2", "cam", TrackKind::Video),
            published("p1", "mic", TrackKind::Audio),
            published("p1", "cam", TrackKind::Video),
        ] {
            r.apply(&e);
        }
        let scene = r.scene(&flowing(&[("p1", "cam"), ("p2", "cam")]));
        let cameras: Vec<_> = scene
            .members
            .iter()
            .map(|m| match &m.camera {
                Camera::On(k) => (m.id.as_str(), k.track_id.as_str()),
                _ => (m.id.as_str(), "-"),
            })
            .collect();
        assert_eq!(cameras, vec![("p1", "cam"), ("p2", "cam")]);
    }

    #[test]
    fn screen_shares_reach_the_scene() {
        let mut r = Roster::default();
        r.apply(&joined("p1"));
        r.apply(&joined("p2"));
        r.apply(&published("p2", "mic", TrackKind::Audio));
        r.apply(&RoomEvent::TrackPublished {
            participant_id: "p1".into(),
            track: Track {
                id: "screen".into(),
                kind: TrackKind::Video,
                source: TrackSource::Screen,
            },
        });
        r.apply(&RoomEvent::Talking {
            participant_id: "p2".into(),
            talking: true,
        });
        assert_eq!(r.scene(&flowing(&[])).members[0].screen, None);
        let scene = r.scene(&flowing(&[("p1", "screen")]));
        assert_eq!(scene.members[0].camera, Camera::None);
        assert_eq!(
            scene.members[0]
                .screen
                .as_ref()
                .map(|k| k.track_id.as_str()),
            Some("screen")
        );
        assert_eq!(scene.members[1].camera, Camera::None);
        assert!(r.members()[1].talking);
    }

    /// Video tracks that put out a frame just now.
    fn flowing(tracks: &[(&str, &str)]) -> HashMap<TrackKey, Duration> {
        tracks
            .iter()
            .map(|(p, t)| {
                let key = TrackKey {
                    participant_id: p.to_string(),
                    track_id: t.to_string(),
                };
                (key, Duration::ZERO)
            })
            .collect()
    }

    #[test]
    fn a_camera_without_frames_is_off() {
        let mut r = Roster::default();
        r.apply(&joined("p1"));
        r.apply(&published("p1", "cam", TrackKind::Video));
        let camera = |ages: &HashMap<TrackKey, Duration>| r.scene(ages).members[0].camera.clone();
        // Not arrived yet.
        assert_eq!(camera(&flowing(&[])), Camera::Off);
        let mut ages = flowing(&[("p1", "cam")]);
        assert!(matches!(camera(&ages), Camera::On(_)));
        // Quiet for longer than the stall: muted, or its sender is gone.
        for age in ages.values_mut() {
            *age = CAMERA_STALL + Duration::from_millis(1);
        }
        assert_eq!(camera(&ages), Camera::Off);
    }

    #[test]
    fn leaving_removes_the_member_and_its_tiles() {
        let mut r = Roster::default();
        r.apply(&joined("p1"));
        r.apply(&published("p1", "cam", TrackKind::Video));
        assert!(r.apply(&RoomEvent::ParticipantLeft {
            participant_id: "p1".into()
        }));
        assert!(r.scene(&flowing(&[])).members.is_empty());
        assert!(!r.apply(&RoomEvent::ParticipantLeft {
            participant_id: "p1".into()
        }));
    }

    #[test]
    fn duplicates_and_strangers_change_nothing() {
        let mut r = Roster::default();
        r.apply(&joined("p1"));
        assert!(
            !r.apply(&joined("p1")),
            "a repeated join is not a new member"
        );
        assert_eq!(r.members().len(), 1);
        assert!(!r.apply(&published("p9", "cam", TrackKind::Video)));
        r.apply(&published("p1", "cam", TrackKind::Video));
        r.apply(&published("p1", "cam", TrackKind::Video));
        assert_eq!(r.members()[0].tracks.len(), 1);
    }

    #[test]
    fn talking_is_tracked_without_a_relayout() {
        let mut r = Roster::default();
        r.apply(&joined("p1"));
        assert!(!r.apply(&RoomEvent::Talking {
            participant_id: "p1".into(),
            talking: true
        }));
        assert!(r.members()[0].talking);
    }
}
