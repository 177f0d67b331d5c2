//! Receiving: one receive-only webrtcbin per peer connection the SFU opens,
//! and a track bin for every track that arrives on it.
//!
//! Track bins are built inside webrtcbin's `pad-added`, on the streaming
//! thread, because the first packet follows the signal at once. Everything
//! else (offers, teardown) is called from a blocking context. All state sits
//! behind one lock that no blocking GStreamer call is ever made under,
//! except the ones `pad-added` needs to link a track.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use callcast_signalling::adapter::{PeerId, Stream, TrackKind, TrackSource};
use gst::prelude::*;
use tokio::sync::mpsc;

use super::layout::{Fit, Rect};
use super::program::Program;
use super::stats::shown::ShownCounts;
use super::track::TrackBin;
use super::webrtc;
use super::{MediaError, MediaEvent, element_safe};
use crate::config::IngestConfig;

/// What a track's thread is named after: `cam:p12`, `mic:p12`.
fn source_label(source: TrackSource) -> String {
    match source {
        TrackSource::Camera => "cam",
        TrackSource::Microphone => "mic",
        TrackSource::Screen => "screen",
    }
    .to_string()
}

/// Names a track across the session: whose, and which.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, schemars::JsonSchema,
)]
pub struct TrackKey {
    pub participant_id: String,
    pub track_id: String,
}

/// Where a video track that has no tile yet is kept: tiny and transparent,
/// so that neither the scaler nor the compositor spends anything on it.
const HIDDEN: Rect = Rect {
    x: 0,
    y: 0,
    width: 16,
    height: 16,
};

/// A track bin superseded by a newer one for the same track; hand it back
/// to [`Ingest::retire`] from a blocking context.
pub struct RetiredTrack(LinkedTrack);

impl std::fmt::Debug for RetiredTrack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RetiredTrack({})", self.0.bin.bin().name())
    }
}

#[derive(Clone)]
struct LinkedTrack {
    key: TrackKey,
    bin: TrackBin,
    /// The compositor or audiomixer pad the bin feeds.
    program_pad: gst::Pad,
    /// The webrtcbin pad feeding the bin.
    source: gst::Pad,
    /// When the bin last put out a frame: milliseconds since the ingest's
    /// epoch, plus one; 0 before the first.
    last_frame: Arc<AtomicU64>,
    /// Audio: the latest level (dBFS, the loudest channel) and when.
    level: Arc<Mutex<Option<(f64, Instant)>>>,
    /// Video: frames the bin put out.
    frames: Arc<AtomicU64>,
    ssrc: Option<u32>,
}

/// A webrtcbin pad whose media nobody uses, and the sink swallowing it.
struct Discard {
    pad: gst::Pad,
    sink: gst::Element,
}

struct Peer {
    webrtcbin: gst::Element,
    /// Sinks swallowing streams we cannot use (an unlinked pad would stop
    /// the whole connection).
    discards: Vec<Discard>,
    /// mid -> what the adapter said that m-line carries.
    streams: HashMap<String, Stream>,
    tracks: Vec<LinkedTrack>,
    connection: String,
}

#[derive(Default)]
struct State {
    peers: HashMap<PeerId, Peer>,
    tiles: HashMap<TrackKey, Placement>,
}

struct Inner {
    pipeline: gst::Pipeline,
    program: Arc<Program>,
    cfg: IngestConfig,
    events: mpsc::UnboundedSender<MediaEvent>,
    state: Mutex<State>,
    /// What frame times count from.
    epoch: Instant,
}

pub struct Ingest {
    inner: Arc<Inner>,
}

/// What the API shows of one peer connection.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
pub struct PeerStatus {
    pub peer: PeerId,
    pub connection: String,
    pub tracks: Vec<TrackKey>,
}

/// See [`Ingest::parts`].
#[derive(Default)]
pub struct IngestParts {
    pub peers: Vec<(PeerId, gst::Element)>,
    pub tracks: Vec<TrackParts>,
}

pub struct TrackParts {
    pub key: TrackKey,
    pub kind: TrackKind,
    pub peer: PeerId,
    pub ssrc: Option<u32>,
    /// Video frames the bin put out so far.
    pub frames: u64,
    /// Video: what the compositor did with them.
    pub shown: ShownCounts,
    pub bin: gst::Element,
    /// The leaky queue handing its frames to the program.
    pub queue: gst::Element,
}

impl Ingest {
    pub fn new(
        pipeline: &gst::Pipeline,
        program: Arc<Program>,
        cfg: IngestConfig,
        events: mpsc::UnboundedSender<MediaEvent>,
    ) -> Self {
        Ingest {
            inner: Arc::new(Inner {
                pipeline: pipeline.clone(),
                program,
                cfg,
                events,
                state: Mutex::new(State::default()),
                epoch: Instant::now(),
            }),
        }
    }

    /// Applies a remote offer on `peer` (creating its webrtcbin the first
    /// time) and returns the answer's SDP. Blocks.
    pub fn offer(&self, peer: &str, sdp: &str, streams: Vec<Stream>) -> Result<String, MediaError> {
        // Refused before anything changes: a garbled re-offer must not cost
        // a peer the tracks it is sending.
        let mids = callcast_signalling::sdp::check_offer(sdp)
            .map_err(|e| MediaError::Negotiation(format!("the offer {e}")))?;
        let sdp = webrtc::parse_sdp(sdp)?;
        let (streams, unknown): (Vec<_>, Vec<_>) =
            streams.into_iter().partition(|s| mids.contains(&s.mid));
        if !unknown.is_empty() {
            let unknown: Vec<_> = unknown.iter().map(|s| s.mid.as_str()).collect();
            tracing::warn!(%peer, ?unknown, "the room names mids the offer does not send on; ignoring them");
        }
        let streams: HashMap<String, Stream> =
            streams.into_iter().map(|s| (s.mid.clone(), s)).collect();
        let (existing, renamed) = {
            let mut state = self.inner.state.lock().unwrap();
            match state.peers.get_mut(peer) {
                Some(p) => {
                    p.streams = streams.clone();
                    let (keep, renamed) = std::mem::take(&mut p.tracks)
                        .into_iter()
                        .partition(|t| still_carried(t, peer, &streams));
                    p.tracks = keep;
                    let (revived, idle) = std::mem::take(&mut p.discards)
                        .into_iter()
                        .partition(|d| carried_by(&d.pad, &streams).is_some());
                    p.discards = idle;
                    (Some(p.webrtcbin.clone()), (renamed, revived))
                }
                None => (None, Default::default()),
            }
        };
        // A renegotiation that ends a stream, or gives its m-line to another
        // (Janus recycles them, SSRC and all): that track's bin goes, and
        // the pad feeds whatever the m-line carries now.
        let (renamed, revived) = renamed;
        for t in renamed {
            let source = t.source.clone();
            self.inner.replug(peer, &source, true, || {
                self.inner.detach(&t);
                self.inner.remove_track(t);
            });
        }
        for d in revived {
            self.inner.replug(peer, &d.pad.clone(), true, || {
                let _ = d.sink.set_state(gst::State::Null);
                let _ = self.inner.pipeline.remove(&d.sink);
            });
        }
        let webrtcbin = match existing {
            Some(w) => w,
            None => self.add_peer(peer, streams)?,
        };
        let offer =
            gst_webrtc::WebRTCSessionDescription::new(gst_webrtc::WebRTCSDPType::Offer, sdp);
        webrtc::set_remote_description(&webrtcbin, &offer)?;
        let answer = webrtc::create_description(&webrtcbin, gst_webrtc::WebRTCSDPType::Answer)?;
        webrtc::set_local_description(&webrtcbin, &answer)?;
        answer
            .sdp()
            .as_text()
            .map_err(|_| MediaError::Negotiation("the answer does not serialize".into()))
    }

    pub fn add_candidate(&self, peer: &str, sdp_m_line_index: u32, candidate: &str) {
        let webrtcbin = self
            .inner
            .state
            .lock()
            .unwrap()
            .peers
            .get(peer)
            .map(|p| p.webrtcbin.clone());
        match webrtcbin {
            Some(w) => webrtc::add_ice_candidate(&w, sdp_m_line_index, candidate),
            None => tracing::debug!(peer, "candidate for an unknown peer"),
        }
    }

    /// Tears down `peer`'s webrtcbin and every track it fed. Blocks.
    pub fn close_peer(&self, peer: &str) {
        let Some(p) = self.inner.state.lock().unwrap().peers.remove(peer) else {
            return;
        };
        // Cut the tracks off the program first: a track thread may be
        // waiting on the compositor (a serialized query, a full pad), and
        // webrtcbin cannot stop while its threads are inside a track bin.
        for t in &p.tracks {
            self.inner.detach(t);
        }
        let _ = p.webrtcbin.set_state(gst::State::Null);
        let _ = self.inner.pipeline.remove(&p.webrtcbin);
        for t in p.tracks {
            self.inner.remove_track(t);
        }
        for d in p.discards {
            let _ = d.sink.set_state(gst::State::Null);
            let _ = self.inner.pipeline.remove(&d.sink);
        }
        tracing::info!(peer, "peer closed");
    }

    /// Stops receiving tracks the room says are gone (their publisher left
    /// or unpublished them) without waiting for the SFU to renegotiate:
    /// their bins go and their pads are discarded. Blocks.
    pub fn drop_tracks(&self, gone: impl Fn(&TrackKey) -> bool) {
        let dropped: Vec<(PeerId, LinkedTrack)> = {
            let mut state = self.inner.state.lock().unwrap();
            state
                .peers
                .iter_mut()
                .flat_map(|(peer_id, p)| {
                    let (drop, keep) = std::mem::take(&mut p.tracks)
                        .into_iter()
                        .partition(|t| gone(&t.key));
                    p.tracks = keep;
                    drop.into_iter()
                        .map(move |t: LinkedTrack| (peer_id.clone(), t))
                })
                .collect()
        };
        for (peer, t) in dropped {
            let source = t.source.clone();
            self.inner.replug(&peer, &source, false, || {
                self.inner.detach(&t);
                self.inner.remove_track(t);
            });
        }
    }

    /// Removes a track bin that was replaced. Blocks.
    pub fn retire(&self, track: RetiredTrack) {
        self.inner.detach(&track.0);
        self.inner.remove_track(track.0);
    }

    /// Closes every peer. Blocks.
    pub fn close_all(&self) {
        let peers: Vec<PeerId> = self
            .inner
            .state
            .lock()
            .unwrap()
            .peers
            .keys()
            .cloned()
            .collect();
        for peer in peers {
            self.close_peer(&peer);
        }
    }

    /// Moves every video track to its tile; tracks not in `tiles` are
    /// hidden.
    pub fn set_tiles(&self, tiles: &[VideoTile]) {
        // Applied outside the lock: resizing sends a reconfigure event up
        // into webrtcbin, whose threads may be waiting for the lock.
        let moves: Vec<(LinkedTrack, Option<Placement>)> = {
            let mut state = self.inner.state.lock().unwrap();
            state.tiles = tiles
                .iter()
                .map(|t| {
                    let placement = Placement {
                        rect: t.rect,
                        fit: t.fit,
                        z: t.z,
                        label: t.label.clone(),
                        radius: t.radius,
                    };
                    (t.track.clone(), placement)
                })
                .collect();
            let State { peers, tiles } = &*state;
            peers
                .values()
                .flat_map(|p| &p.tracks)
                .filter(|t| t.bin.kind() == TrackKind::Video)
                .map(|t| (t.clone(), tiles.get(&t.key).cloned()))
                .collect()
        };
        for (track, tile) in moves {
            show(&self.inner.program, &track, tile);
        }
    }

    /// Tracks whose media is linked into the program.
    pub fn receiving(&self) -> HashSet<TrackKey> {
        let state = self.inner.state.lock().unwrap();
        state
            .peers
            .values()
            .flat_map(|p| p.tracks.iter().map(|t| t.key.clone()))
            .collect()
    }

    /// How long ago each video track put out its latest frame; tracks
    /// that have not put one out yet are missing.
    pub fn video_ages(&self) -> HashMap<TrackKey, Duration> {
        let now = self.inner.epoch.elapsed().as_millis() as u64 + 1;
        let state = self.inner.state.lock().unwrap();
        state
            .peers
            .values()
            .flat_map(|p| &p.tracks)
            .filter(|t| t.bin.kind() == TrackKind::Video)
            .filter_map(|t| match t.last_frame.load(Ordering::Relaxed) {
                0 => None,
                at => Some((t.key.clone(), Duration::from_millis(now.saturating_sub(at)))),
            })
            .collect()
    }

    /// Notes the level the track bin `bin` measured (from its `level`
    /// element's message).
    pub fn note_level(&self, bin: &str, db: f64) {
        let state = self.inner.state.lock().unwrap();
        if let Some(t) = state
            .peers
            .values()
            .flat_map(|p| &p.tracks)
            .find(|t| t.bin.bin().name() == bin)
        {
            *t.level.lock().unwrap() = Some((db, Instant::now()));
        }
    }

    /// Each participant's loudest audio track now (dBFS), from levels
    /// measured in the last half second.
    pub fn audio_levels(&self) -> HashMap<String, f64> {
        let state = self.inner.state.lock().unwrap();
        let mut levels: HashMap<String, f64> = HashMap::new();
        for t in state.peers.values().flat_map(|p| &p.tracks) {
            if let Some((db, at)) = *t.level.lock().unwrap()
                && at.elapsed() < Duration::from_millis(500)
            {
                let l = levels.entry(t.key.participant_id.clone()).or_insert(db);
                *l = l.max(db);
            }
        }
        levels
    }

    /// The elements the session's figures are read from: each peer's
    /// webrtcbin and each track's bin, with its counters.
    pub fn parts(&self) -> IngestParts {
        let state = self.inner.state.lock().unwrap();
        let mut parts = IngestParts::default();
        for (id, p) in &state.peers {
            parts.peers.push((id.clone(), p.webrtcbin.clone()));
            for t in &p.tracks {
                parts.tracks.push(TrackParts {
                    key: t.key.clone(),
                    kind: t.bin.kind(),
                    peer: id.clone(),
                    ssrc: t.ssrc,
                    frames: t.frames.load(Ordering::Relaxed),
                    shown: self.inner.program.shown(&t.program_pad),
                    bin: t.bin.bin().clone().upcast(),
                    queue: t.bin.queue().clone(),
                });
            }
        }
        parts.peers.sort_by(|a, b| a.0.cmp(&b.0));
        parts.tracks.sort_by(|a, b| a.key.cmp(&b.key));
        parts
    }

    pub fn peers(&self) -> Vec<PeerStatus> {
        let state = self.inner.state.lock().unwrap();
        let mut peers: Vec<PeerStatus> = state
            .peers
            .iter()
            .map(|(id, p)| PeerStatus {
                peer: id.clone(),
                connection: p.connection.clone(),
                tracks: p.tracks.iter().map(|t| t.key.clone()).collect(),
            })
            .collect();
        peers.sort_by(|a, b| a.peer.cmp(&b.peer));
        peers
    }

    fn add_peer(
        &self,
        peer: &str,
        streams: HashMap<String, Stream>,
    ) -> Result<gst::Element, MediaError> {
        let inner = &self.inner;
        let webrtcbin = webrtc::new_webrtcbin(
            &format!("webrtc-{}", element_safe(peer)),
            &inner.cfg.ice,
            inner.cfg.jitter_latency_ms,
        )?;
        webrtc::tune_receiver_rtcp(&webrtcbin);

        let events = inner.events.clone();
        let peer_id = peer.to_string();
        webrtc::on_ice_candidate(&webrtcbin, move |sdp_m_line_index, candidate| {
            let _ = events.send(MediaEvent::LocalCandidate {
                peer: peer_id.clone(),
                sdp_m_line_index,
                candidate,
            });
        });

        let weak: Weak<Inner> = Arc::downgrade(inner);
        let peer_id = peer.to_string();
        webrtcbin.connect_pad_added(move |_, pad| {
            if pad.direction() != gst::PadDirection::Src {
                return;
            }
            let Some(inner) = weak.upgrade() else {
                return;
            };
            if let Err(e) = inner.link_track(&peer_id, pad) {
                tracing::warn!(peer = %peer_id, pad = %pad.name(), error = %e, "cannot receive track; discarding it");
                inner.discard(&peer_id, pad);
            }
        });

        let weak: Weak<Inner> = Arc::downgrade(inner);
        let peer_id = peer.to_string();
        webrtcbin.connect_notify(Some("connection-state"), move |webrtcbin, _| {
            let state =
                webrtcbin.property::<gst_webrtc::WebRTCPeerConnectionState>("connection-state");
            let name = format!("{state:?}").to_lowercase();
            tracing::info!(peer = %peer_id, state = %name, "peer connection");
            if let Some(inner) = weak.upgrade()
                && let Some(p) = inner.state.lock().unwrap().peers.get_mut(&peer_id)
            {
                p.connection = name;
            }
        });

        inner
            .pipeline
            .add(&webrtcbin)
            .map_err(|_| MediaError::Link(format!("peer {peer}: cannot add webrtcbin")))?;
        inner.state.lock().unwrap().peers.insert(
            peer.to_string(),
            Peer {
                webrtcbin: webrtcbin.clone(),
                streams,
                discards: Vec::new(),
                tracks: Vec::new(),
                connection: "new".into(),
            },
        );
        if webrtcbin.sync_state_with_parent().is_err() {
            self.close_peer(peer);
            return Err(MediaError::State(format!(
                "peer {peer}: webrtcbin would not start"
            )));
        }
        Ok(webrtcbin)
    }
}

impl Inner {
    /// Sends a pad's stream to a fakesink.
    fn discard(&self, peer_id: &str, pad: &gst::Pad) {
        let Ok(sink) = gst::ElementFactory::make("fakesink")
            .property("sync", false)
            .property("async", false)
            .build()
        else {
            return;
        };
        let mut state = self.state.lock().unwrap();
        let Some(peer) = state.peers.get_mut(peer_id) else {
            return;
        };
        if self.pipeline.add(&sink).is_ok() {
            let _ = sink.sync_state_with_parent();
            let _ = pad.link(&sink.static_pad("sink").expect("fakesink has a sink"));
            peer.discards.push(Discard {
                pad: pad.clone(),
                sink,
            });
        }
    }

    /// Unplugs a track bin from the program without an error: what still
    /// leaves the bin is dropped, and releasing the program pad wakes any
    /// track thread waiting on it.
    fn detach(&self, t: &LinkedTrack) {
        t.bin.src_pad().add_probe(
            gst::PadProbeType::DATA_DOWNSTREAM | gst::PadProbeType::QUERY_DOWNSTREAM,
            |_, info| crate::media::drop_probed(info),
        );
        self.program.release(&t.program_pad);
    }

    /// Gives a webrtcbin pad a new destination: `unplug` removes the old
    /// one, then the pad feeds a track bin for what its m-line carries now
    /// (if `relink`), or a discard sink. The pad drops its media
    /// meanwhile, so it is never pushed into an unlinked pad (which would
    /// stop the peer).
    fn replug(&self, peer_id: &str, pad: &gst::Pad, relink: bool, unplug: impl FnOnce()) {
        let probe = pad.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
            |_, info| crate::media::drop_probed(info),
        );
        unplug();
        let carried = relink && {
            let state = self.state.lock().unwrap();
            state
                .peers
                .get(peer_id)
                .is_some_and(|p| carried_by(pad, &p.streams).is_some())
        };
        let linked = if carried {
            self.link_track(peer_id, pad)
        } else if relink {
            Err(MediaError::Negotiation(
                "its m-line carries nothing now".into(),
            ))
        } else {
            Err(MediaError::Negotiation("the room says it is gone".into()))
        };
        if let Err(e) = linked {
            tracing::info!(peer = peer_id, pad = %pad.name(), reason = %e, "discarding a stream");
            self.discard(peer_id, pad);
        }
        if let Some(probe) = probe {
            pad.remove_probe(probe);
        }
    }

    /// Stops and removes a track bin already detached. Blocks.
    fn remove_track(&self, t: LinkedTrack) {
        let _ = t.bin.bin().set_state(gst::State::Null);
        let _ = self.pipeline.remove(t.bin.bin());
        tracing::info!(participant = %t.key.participant_id, track = %t.key.track_id, bin = %t.bin.bin().name(), "track removed");
    }

    /// Builds and links the track bin for a new webrtcbin src pad.
    fn link_track(&self, peer_id: &str, pad: &gst::Pad) -> Result<(), MediaError> {
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let mid = webrtc::pad_mid(pad).unwrap_or_else(|| pad.name().to_string());
        tracing::debug!(peer = peer_id, pad = %pad.name(), %mid, %caps, "webrtcbin pad added");

        let structure = caps.structure(0);
        let media = structure.and_then(|s| s.get::<&str>("media").ok());
        let ssrc = structure.and_then(|s| s.get::<u32>("ssrc").ok());

        // The lock is not held while the bin is built and linked: a crowd
        // joining at once builds its tracks side by side, each on its own
        // streaming thread, instead of one after another.
        let (key, source, placed) = {
            let state = self.state.lock().unwrap();
            let peer = state
                .peers
                .get(peer_id)
                .ok_or_else(|| MediaError::Negotiation("the peer is gone".into()))?;
            let (key, source) = match stream_for_pad(&peer.streams, &mid, media) {
                Some(s) => (
                    TrackKey {
                        participant_id: s.participant_id.clone(),
                        track_id: s.track.id.clone(),
                    },
                    source_label(s.track.source),
                ),
                // The adapter did not name this stream: still receive it.
                None => (
                    TrackKey {
                        participant_id: peer_id.to_string(),
                        track_id: format!("{mid}-{}", media.unwrap_or("unknown")),
                    },
                    media.unwrap_or("track").to_string(),
                ),
            };
            let placed = state.tiles.get(&key).cloned();
            (key, source, placed)
        };
        let name = format!(
            "track-{}-{}-{}",
            element_safe(&key.participant_id),
            element_safe(&key.track_id),
            ssrc.map_or_else(|| pad.name().to_string(), |s| s.to_string()),
        );
        let tile = placed.as_ref().map(|p| p.rect);
        let fit = placed.as_ref().map_or(Fit::Contain, |p| p.fit);
        let bin = TrackBin::new(&name, &caps, tile.unwrap_or(HIDDEN), fit)?;
        // Named for what it carries rather than the track's id, which is
        // only an m-line number behind Janus.
        bin.claim_thread(&format!("{source}:{}", key.participant_id));
        self.pipeline
            .add(bin.bin())
            .map_err(|_| MediaError::Link(format!("{name}: cannot add")))?;
        let linked = (|| {
            let program_pad = match bin.kind() {
                TrackKind::Video => self
                    .program
                    .link_video(&bin.src_pad(), tile.unwrap_or(HIDDEN))?,
                TrackKind::Audio => self.program.link_audio(&bin.src_pad())?,
            };
            bin.bin()
                .sync_state_with_parent()
                .map_err(|_| MediaError::State(format!("{name} would not start")))?;
            pad.link(&bin.sink_pad())
                .map_err(|e| MediaError::Link(format!("{name}: {e:?}")))?;
            Ok(program_pad)
        })();
        let program_pad = match linked {
            Ok(p) => p,
            Err(e) => {
                let _ = bin.bin().set_state(gst::State::Null);
                let _ = self.pipeline.remove(bin.bin());
                return Err(e);
            }
        };
        let track = LinkedTrack {
            key,
            bin,
            program_pad,
            source: pad.clone(),
            last_frame: Arc::new(AtomicU64::new(0)),
            level: Arc::new(Mutex::new(None)),
            frames: Arc::new(AtomicU64::new(0)),
            ssrc,
        };
        if track.bin.kind() == TrackKind::Video {
            self.watch_frames(&track);
        }
        let mut state = self.state.lock().unwrap();
        let State { peers, tiles } = &mut *state;
        // The peer may have left (or left and come back on a new
        // webrtcbin) while the bin was built.
        let webrtcbin = pad.parent_element();
        let Some(peer) = peers
            .get_mut(peer_id)
            .filter(|p| webrtcbin.as_ref() == Some(&p.webrtcbin))
        else {
            drop(state);
            self.detach(&track);
            self.remove_track(track);
            return Err(MediaError::Negotiation("the peer is gone".into()));
        };
        if track.bin.kind() == TrackKind::Video {
            // Where the layout puts it now: it may have changed meanwhile.
            show(&self.program, &track, tiles.get(&track.key).cloned());
        }
        tracing::info!(peer = peer_id, participant = %track.key.participant_id, track = %track.key.track_id, %mid, ?ssrc, "track linked");
        // The same track on a new SSRC (the sender restarted it): the old
        // bin gets no more data and goes, off this streaming thread.
        if let Some(pos) = peer.tracks.iter().position(|t| t.key == track.key) {
            let old = peer.tracks.remove(pos);
            let _ = self
                .events
                .send(MediaEvent::TrackRetired(RetiredTrack(old)));
        }
        peer.tracks.push(track);
        Ok(())
    }
}

impl Inner {
    /// Keeps `track.last_frame` current, and says when the track starts
    /// putting out frames, or starts again after a pause: the layout then
    /// shows it instead of its placeholder.
    fn watch_frames(&self, track: &LinkedTrack) {
        let last = track.last_frame.clone();
        let frames = track.frames.clone();
        let epoch = self.epoch;
        let events = self.events.clone();
        let key = track.key.clone();
        track
            .bin
            .src_pad()
            .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                frames.fetch_add(1, Ordering::Relaxed);
                let now = epoch.elapsed().as_millis() as u64 + 1;
                let before = last.swap(now, Ordering::Relaxed);
                if before == 0 || now - before > RESUMED_AFTER.as_millis() as u64 {
                    tracing::debug!(participant = %key.participant_id, track = %key.track_id, "video flowing");
                    let _ = events.send(MediaEvent::VideoFlowing(key.clone()));
                }
                gst::PadProbeReturn::Ok
            });
    }
}

/// A gap between frames after which the next one counts as a restart.
const RESUMED_AFTER: Duration = Duration::from_millis(500);

/// Whether a renegotiation leaves `t` where it was: its key still names
/// the stream on its pad's m-line. Tracks the adapter never named stay.
fn still_carried(t: &LinkedTrack, peer_id: &str, streams: &HashMap<String, Stream>) -> bool {
    t.key.participant_id == peer_id
        || carried_by(&t.source, streams).is_some_and(|s| {
            s.participant_id == t.key.participant_id && s.track.id == t.key.track_id
        })
}

/// The stream a webrtcbin pad's m-line carries, by its mid and media.
fn carried_by<'a>(pad: &gst::Pad, streams: &'a HashMap<String, Stream>) -> Option<&'a Stream> {
    let mid = webrtc::pad_mid(pad)?;
    let caps = pad.current_caps()?;
    let media = caps.structure(0)?.get::<&str>("media").ok()?;
    stream_for_pad(streams, &mid, Some(media))
}

/// The stream a new webrtcbin pad carries. Normally its transceiver's mid
/// names it; but webrtcbin puts a bundled stream whose SSRC the offer did
/// not announce on the first m-line, so when the pad's media disagrees
/// with that mid, the only stream of the pad's media is taken instead.
fn stream_for_pad<'a>(
    streams: &'a HashMap<String, Stream>,
    mid: &str,
    media: Option<&str>,
) -> Option<&'a Stream> {
    let kind = match media {
        Some("audio") => Some(TrackKind::Audio),
        Some("video") => Some(TrackKind::Video),
        _ => None,
    };
    match streams.get(mid) {
        Some(s) if kind.is_none_or(|k| k == s.track.kind) => Some(s),
        _ => {
            let mut of_kind = streams.values().filter(|s| Some(s.track.kind) == kind);
            match (of_kind.next(), of_kind.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        }
    }
}

/// A video track's tile, as the layout gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoTile {
    pub track: TrackKey,
    pub rect: Rect,
    pub fit: Fit,
    /// Drawing order on the compositor: higher on top, the backdrop at 0.
    pub z: u32,
    /// The name written on the picture; empty for none.
    pub label: String,
    /// The picture's corner radius.
    pub radius: u32,
}

/// Where a video track goes on the program.
#[derive(Debug, Clone)]
struct Placement {
    rect: Rect,
    fit: Fit,
    /// Drawing order: higher on top.
    z: u32,
    label: String,
    radius: u32,
}

/// Places a video track at its tile (gliding there from where it was, or
/// appearing there if it was hidden), or hides it.
fn show(program: &Program, track: &LinkedTrack, tile: Option<Placement>) {
    let pad = &track.program_pad;
    let Some(p) = tile else {
        set_visible(pad, false);
        track.bin.set_tile(HIDDEN, Fit::Contain);
        program.jump(pad, HIDDEN);
        return;
    };
    track.bin.set_tile(p.rect, p.fit);
    track.bin.set_label(&p.label, p.rect.height, p.radius);
    track.bin.set_corners(program.alpha(), p.radius);
    if pad.property::<f64>("alpha") > 0.0 {
        program.place(pad, p.rect);
    } else {
        program.jump(pad, p.rect);
    }
    pad.set_property("zorder", p.z);
    set_visible(pad, true);
}

/// The compositor skips pads with alpha 0 entirely.
fn set_visible(pad: &gst::Pad, visible: bool) {
    pad.set_property("alpha", if visible { 1.0f64 } else { 0.0 });
}

#[cfg(test)]
mod tests {
    use super::*;
    use callcast_signalling::adapter::{Track, TrackSource};

    fn streams() -> HashMap<String, Stream> {
        [
            ("video0", "cam", TrackKind::Video, TrackSource::Camera),
            ("audio1", "mic", TrackKind::Audio, TrackSource::Microphone),
        ]
        .into_iter()
        .map(|(mid, id, kind, source)| {
            (
                mid.to_string(),
                Stream {
                    mid: mid.into(),
                    participant_id: "p1".into(),
                    track: Track {
                        id: id.into(),
                        kind,
                        source,
                    },
                },
            )
        })
        .collect()
    }

    #[test]
    fn the_mid_names_the_stream() {
        let s = streams();
        assert_eq!(
            stream_for_pad(&s, "audio1", Some("audio"))
                .unwrap()
                .track
                .id,
            "mic"
        );
        assert_eq!(stream_for_pad(&s, "video0", None).unwrap().track.id, "cam");
    }

    #[test]
    fn a_stream_on_the_wrong_m_line_is_found_by_its_media() {
        let s = streams();
        assert_eq!(
            stream_for_pad(&s, "video0", Some("audio"))
                .unwrap()
                .track
                .id,
            "mic"
        );
        assert!(stream_for_pad(&s, "x", Some("application")).is_none());
        let mut two_cams = streams();
        let mut screen = two_cams["video0"].clone();
        screen.mid = "video2".into();
        screen.track.id = "screen".into();
        two_cams.insert("video2".into(), screen);
        two_cams.remove("audio1");
        assert!(
            stream_for_pad(&two_cams, "audio1", Some("video")).is_none(),
            "ambiguous: two video streams"
        );
    }
}
