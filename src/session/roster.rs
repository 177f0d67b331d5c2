//! Who is in the call, in join order, with what they publish: built from
//! adapter events, without GStreamer, and the input the layout is cut from.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use callcast_signalling::adapter::{RoomEvent, Track, TrackKind, TrackSource};
use serde::Serialize;

use crate::media::ingest::TrackKey;
use crate::media::layout::{self, Camera, Scene};

/// How long a camera may send nothing before its tile shows the
/// placeholder.
pub const CAMERA_STALL: Duration = Duration::from_millis(1500);

/// How long a newly published camera has for its first frame before its
/// tile shows the placeholder: most arrive within it, so a join does not
/// flash a placeholder first.
pub const ARRIVAL_GRACE: Duration = Duration::from_secs(1);

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
    /// When it was published.
    #[serde(skip)]
    pub since: Instant,
}

impl From<&Track> for RosterTrack {
    fn from(t: &Track) -> Self {
        RosterTrack {
            id: t.id.clone(),
            kind: t.kind,
            source: t.source,
            since: Instant::now(),
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
    /// placeholder rather than a frozen picture; one just published has
    /// [`ARRIVAL_GRACE`] to send its first. A screen share shows from its
    /// first frame on: a still screen may send nothing for a while.
    pub fn scene(&self, ages: &HashMap<TrackKey, Duration>, now: Instant) -> Scene<TrackKey> {
        let key = |m: &Member, t: &RosterTrack| TrackKey {
            participant_id: m.id.clone(),
            track_id: t.id.clone(),
        };
        fn video_track(m: &Member, screen: bool) -> Option<&RosterTrack> {
            m.tracks
                .iter()
                .find(|t| t.kind == TrackKind::Video && (t.source == TrackSource::Screen) == screen)
        }
        let video = |m: &Member, screen: bool| video_track(m, screen).map(|t| key(m, t));
        let camera = |m: &Member| match video_track(m, false) {
            None => Camera::None,
            Some(t) => {
                let k = key(m, t);
                let fresh = match ages.get(&k) {
                    Some(age) => *age <= CAMERA_STALL,
                    None => now.saturating_duration_since(t.since) < ARRIVAL_GRACE,
                };
                if fresh { Camera::On(k) } else { Camera::Off }
            }
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
        let scene = r.scene(&flowing(&[("p1", "cam"), ("p2", "cam")]), Instant::now());
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
        let now = Instant::now();
        assert_eq!(r.scene(&flowing(&[]), now).members[0].screen, None);
        let scene = r.scene(&flowing(&[("p1", "screen")]), now);
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
        let since = r.members()[0].tracks[0].since;
        let camera = |ages: &HashMap<TrackKey, Duration>, after: Duration| {
            r.scene(ages, since + after).members[0].camera.clone()
        };
        // Not arrived yet: in its grace, then a placeholder.
        assert!(matches!(
            camera(&flowing(&[]), Duration::ZERO),
            Camera::On(_)
        ));
        assert_eq!(camera(&flowing(&[]), ARRIVAL_GRACE), Camera::Off);
        let mut ages = flowing(&[("p1", "cam")]);
        assert!(matches!(camera(&ages, ARRIVAL_GRACE), Camera::On(_)));
        // Quiet for longer than the stall: muted, or its sender is gone.
        for age in ages.values_mut() {
            *age = CAMERA_STALL + Duration::from_millis(1);
        }
        assert_eq!(camera(&ages, ARRIVAL_GRACE), Camera::Off);
    }

    #[test]
    fn leaving_removes_the_member_and_its_tiles() {
        let mut r = Roster::default();
        r.apply(&joined("p1"));
        r.apply(&published("p1", "cam", TrackKind::Video));
        assert!(r.apply(&RoomEvent::ParticipantLeft {
            participant_id: "p1".into()
        }));
        assert!(r.scene(&flowing(&[]), Instant::now()).members.is_empty());
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
