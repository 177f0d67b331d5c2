//! One call: the room adapter, the pipeline, and their lifecycle.
//!
//! A session's loop (a tokio task) is the only place that reacts to room
//! and media events, so their order is the order they happened in. The
//! loop never touches a GStreamer state itself: anything that may block
//! runs through `spawn_blocking`.

pub mod health;
mod registry;
pub mod roster;
pub mod speaker;
pub mod voice;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callcast_signalling::adapter::{
    self, RoomAdapter, RoomCommand, RoomEvent, TrackKind, TrackSource,
};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, spawn_blocking};

use crate::config::{IngestConfig, ProgramConfig};
use crate::journal::Journal;
use crate::media::cards::CardSpec;
use crate::media::ingest::{PeerStatus, TrackKey, VideoTile};
use crate::media::layout::{self, Canvas, Fit, LayoutConfig, Rect, look};
use crate::media::outputs::s3::S3Config;
use crate::media::outputs::whep::{self, WhepViewer};
use crate::media::outputs::{BuildContext, OutputSpec, OutputState, OutputStatus};
use crate::media::pipeline::ProgramStatus;
use crate::media::stats::PipelineCounts;
use crate::media::{MediaError, MediaEvent, SessionMedia};
pub use health::SessionStats;
pub use registry::Sessions;
use roster::Roster;
use speaker::SpeakerTracker;
use voice::VoiceDetector;

/// How long outputs get to write their end when a session stops.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an output removed over the API gets to write its end.
const OUTPUT_DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Most WHEP viewers one session serves at once.
pub const MAX_VIEWERS: usize = 8;

/// How long the adapter gets to say goodbye to the room.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Default)]
pub struct SessionConfig {
    pub program: ProgramConfig,
    pub ingest: IngestConfig,
    pub layout: LayoutConfig,
    pub outputs: Vec<OutputSpec>,
    /// The server's S3 defaults for outputs that write to S3.
    pub s3: S3Config,
    /// Where recordings being written are noted, for the next start.
    pub journal: Journal,
}

/// Which room a session is in, for the API.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct RoomInfo {
    pub adapter: String,
    pub url: String,
    pub room: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// The program runs; the adapter is joining.
    Joining,
    Live,
    /// The room is unreachable; the program and outputs go on.
    Disconnected,
    Stopping,
    Stopped,
}

#[derive(Debug, thiserror::Error)]
pub enum ViewerError {
    #[error("the offer {0}")]
    Offer(#[from] whep::OfferError),
    #[error("this session has {MAX_VIEWERS} viewers already")]
    TooMany,
    #[error(transparent)]
    Media(#[from] MediaError),
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Media(#[from] MediaError),
    #[error("output {index} ({kind}): {error}")]
    Output {
        index: usize,
        kind: &'static str,
        error: MediaError,
    },
}

/// What the session keeps that the API reads.
struct Shared {
    state: SessionState,
    self_id: Option<String>,
    room_error: Option<String>,
    /// The adapter gave up (it reconnects by itself otherwise).
    adapter_ended: bool,
    roster: Roster,
    /// The layout asked for, and who is pinned.
    layout: LayoutConfig,
    pinned: Option<String>,
    /// The layout kind in effect (presentation while someone shares).
    effective: layout::Kind,
    /// Who has the floor, and who the layout shows as having it.
    speaker: SpeakerTracker,
    speaker_shown: Option<String>,
    /// The room says who talks; until it does, callcast listens itself.
    room_talks: bool,
    voice: VoiceDetector,
    /// The tiles in effect, in drawing order.
    tiles: Vec<layout::Tile<TrackKey>>,
    /// The video tracks the scene showed at the last layout (the others
    /// had no recent frames).
    shown: HashSet<TrackKey>,
}

pub struct Session {
    id: String,
    room: RoomInfo,
    canvas: Canvas,
    media: Arc<SessionMedia>,
    shared: Arc<Mutex<Shared>>,
    stop_tx: mpsc::UnboundedSender<oneshot::Sender<StopReport>>,
    /// Asks the event loop to lay the program out again; answered when done.
    relayout_tx: mpsc::UnboundedSender<oneshot::Sender<()>>,
    /// Numbers output ids (`record-3`) across the session's life.
    outputs_added: AtomicUsize,
    /// Numbers viewer ids (`whep-2`).
    viewers_added: AtomicUsize,
    build: BuildContext,
}

/// How a session ended.
#[derive(Debug, Clone, Serialize)]
pub struct StopReport {
    /// Outputs that could not write their end in time.
    pub unfinished_outputs: Vec<String>,
}

impl Session {
    /// Starts the pipeline and its outputs, then joins the room through
    /// `adapter`. The program runs from here on, whoever is in the room.
    pub async fn start(
        id: String,
        room: RoomInfo,
        adapter: Box<dyn RoomAdapter>,
        cfg: SessionConfig,
    ) -> Result<Arc<Session>, SessionError> {
        let (media, media_events) = {
            let (name, program, ingest) = (
                format!("session-{id}"),
                cfg.program.clone(),
                cfg.ingest.clone(),
            );
            spawn_blocking(move || SessionMedia::start(&name, &program, &ingest))
                .await
                .expect("pipeline start does not panic")?
        };
        let build = BuildContext {
            session: id.clone(),
            s3: cfg.s3.clone(),
            program: cfg.program.clone(),
            ice: cfg.ingest.ice.clone(),
            journal: cfg.journal.clone(),
        };
        for (index, spec) in cfg.outputs.iter().enumerate() {
            let output_id = format!("{}-{}", spec.kind(), index + 1);
            if let Err(error) = add_output(&media, output_id, spec.clone(), build.clone()).await {
                let m = media.clone();
                let _ = spawn_blocking(move || m.stop(Duration::from_secs(2))).await;
                let kind = spec.kind();
                return Err(SessionError::Output { index, kind, error });
            }
        }

        let (io, room_events, commands) = adapter::channels();
        tracing::info!(session = %id, adapter = adapter.kind(), url = %room.url, room = %room.room, "session starting");
        let adapter_task = tokio::spawn(adapter.run(io));
        let shared = Arc::new(Mutex::new(Shared {
            state: SessionState::Joining,
            self_id: None,
            room_error: None,
            adapter_ended: false,
            roster: Roster::default(),
            effective: cfg.layout.kind,
            speaker: SpeakerTracker::new(hold(&cfg.layout)),
            speaker_shown: None,
            layout: cfg.layout,
            pinned: None,
            tiles: Vec::new(),
            shown: HashSet::new(),
            room_talks: false,
            voice: VoiceDetector::default(),
        }));
        let (stop_tx, stop_rx) = mpsc::unbounded_channel();
        let (relayout_tx, relayout_rx) = mpsc::unbounded_channel();
        let session = Arc::new(Session {
            id: id.clone(),
            room,
            canvas: cfg.program.canvas(),
            media: media.clone(),
            shared: shared.clone(),
            stop_tx,
            relayout_tx,
            outputs_added: AtomicUsize::new(cfg.outputs.len()),
            viewers_added: AtomicUsize::new(0),
            build,
        });
        let event_loop = EventLoop {
            session: Arc::downgrade(&session),
            media,
            shared,
            canvas: cfg.program.canvas(),
            commands,
        };
        tokio::spawn(event_loop.run(
            room_events,
            media_events,
            adapter_task,
            stop_rx,
            relayout_rx,
        ));
        tokio::spawn(health::watch(Arc::downgrade(&session)));
        Ok(session)
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn media(&self) -> &Arc<SessionMedia> {
        &self.media
    }

    pub fn state(&self) -> SessionState {
        self.shared.lock().unwrap().state
    }

    /// Adds an output to the running program. Blocks a worker thread only
    /// through `spawn_blocking`.
    pub async fn add_output(&self, spec: OutputSpec) -> Result<OutputStatus, MediaError> {
        if matches!(self.state(), SessionState::Stopping | SessionState::Stopped) {
            return Err(MediaError::Output("the session is stopping".into()));
        }
        let n = self.outputs_added.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("{}-{n}", spec.kind());
        add_output(&self.media, id, spec, self.build.clone()).await
    }

    /// Finalizes and removes output `oid`; its last status, or `None` if
    /// there is no such output.
    pub async fn remove_output(&self, oid: &str) -> Option<OutputStatus> {
        let (media, oid) = (self.media.clone(), oid.to_string());
        spawn_blocking(move || media.outputs.remove(&oid, OUTPUT_DRAIN_TIMEOUT).ok())
            .await
            .ok()
            .flatten()
    }

    /// Adds a WHEP viewer for `offer`; returns its output id and the
    /// answer. Blocks a worker thread while ICE gathers.
    pub async fn add_viewer(&self, offer: String) -> Result<(String, String), ViewerError> {
        let choice = whep::offer::choose(&offer)?;
        let viewers = self
            .media
            .outputs
            .statuses()
            .iter()
            .filter(|o| o.kind == whep::KIND && !matches!(o.state, OutputState::Failed { .. }))
            .count();
        if viewers >= MAX_VIEWERS {
            return Err(ViewerError::TooMany);
        }
        let id = format!(
            "whep-{}",
            self.viewers_added.fetch_add(1, Ordering::Relaxed) + 1
        );
        let (media, ice) = (self.media.clone(), self.build.ice.clone());
        spawn_blocking(move || {
            let (viewer, pending) = WhepViewer::new(&id, &choice, &ice)?;
            media.outputs.add(&id, Box::new(viewer))?;
            let answer = match media.outputs.status(&id).map(|s| s.state) {
                Some(OutputState::Failed { reason }) => Err(MediaError::Output(reason)),
                _ => pending.answer(&offer),
            };
            match answer {
                Ok(answer) => {
                    tracing::info!(viewer = %id, "WHEP viewer added");
                    Ok((id, answer))
                }
                Err(e) => {
                    let _ = media.outputs.remove(&id, Duration::ZERO);
                    Err(e.into())
                }
            }
        })
        .await
        .expect("adding a viewer does not panic")
    }

    /// Removes viewers whose connection ended without a DELETE (a closed
    /// tab).
    pub async fn reap_viewers(&self) {
        let gone: Vec<String> = self
            .media
            .outputs
            .statuses()
            .into_iter()
            .filter(|o| o.kind == whep::KIND && matches!(o.state, OutputState::Failed { .. }))
            .map(|o| o.id)
            .collect();
        for id in gone {
            tracing::info!(viewer = %id, "WHEP viewer gone; removing it");
            self.remove_output(&id).await;
        }
    }

    /// Why the room adapter gave up for good, if it did.
    pub fn room_failure(&self) -> Option<String> {
        let shared = self.shared.lock().unwrap();
        shared
            .adapter_ended
            .then(|| shared.room_error.clone())
            .flatten()
    }

    /// Leaves the room, finalizes every output and stops the pipeline.
    /// Stopping twice is harmless.
    pub async fn stop(&self) -> StopReport {
        let (tx, rx) = oneshot::channel();
        if self.stop_tx.send(tx).is_err() {
            return StopReport {
                unfinished_outputs: vec![],
            };
        }
        rx.await.unwrap_or(StopReport {
            unfinished_outputs: vec![],
        })
    }

    /// The layout in use and where every tile is.
    pub fn layout_view(&self) -> LayoutView {
        self.layout_view_of(&self.shared.lock().unwrap())
    }

    fn layout_view_of(&self, shared: &Shared) -> LayoutView {
        LayoutView {
            config: shared.layout.clone(),
            effective: shared.effective,
            pinned: shared.pinned.clone(),
            canvas: self.canvas,
            tiles: {
                let framed = self.media.ingest.video_ages();
                shared
                    .tiles
                    .iter()
                    .map(|t| TileView::new(t, &framed))
                    .collect()
            },
        }
    }

    /// Changes the layout live (already validated); returns once the
    /// program shows it.
    pub async fn set_layout(&self, config: LayoutConfig) -> LayoutView {
        {
            let mut shared = self.shared.lock().unwrap();
            shared.speaker.set_hold(hold(&config));
            shared.layout = config;
        }
        self.relayout().await
    }

    /// Pins `participant` (features them in speaker and single layouts),
    /// or unpins with `None`.
    pub async fn pin(&self, participant: Option<String>) -> Result<LayoutView, PinError> {
        {
            let mut shared = self.shared.lock().unwrap();
            if let Some(p) = &participant
                && !shared.roster.members().iter().any(|m| &m.id == p)
            {
                return Err(PinError::NotInCall(p.clone()));
            }
            shared.pinned = participant;
        }
        Ok(self.relayout().await)
    }

    async fn relayout(&self) -> LayoutView {
        let (tx, rx) = oneshot::channel();
        if self.relayout_tx.send(tx).is_ok() {
            let _ = rx.await;
        }
        self.layout_view()
    }

    pub fn summary(&self) -> SessionSummary {
        let shared = self.shared.lock().unwrap();
        SessionSummary {
            id: self.id.clone(),
            state: shared.state,
            room: self.room.clone(),
            participants: shared.roster.members().len(),
            outputs: self.media.outputs.statuses().len(),
        }
    }

    /// The session's figures now (webrtcbin's statistics included).
    pub async fn stats(&self) -> SessionStats {
        let media = self.media.clone();
        let figures = spawn_blocking(move || media.stats())
            .await
            .expect("reading figures does not panic");
        SessionStats {
            session: self.id.clone(),
            state: self.state(),
            media: figures,
            process: crate::procstat::process_stats(),
        }
    }

    /// The live pipeline as Graphviz DOT.
    pub async fn graph(&self) -> String {
        let media = self.media.clone();
        spawn_blocking(move || media.graph())
            .await
            .expect("drawing the graph does not panic")
    }

    pub fn info(&self) -> SessionInfo {
        let receiving = self.media.ingest.receiving();
        let shared = self.shared.lock().unwrap();
        let roster = shared
            .roster
            .members()
            .iter()
            .map(|m| ParticipantView {
                id: m.id.clone(),
                display: m.display.clone(),
                talking: m.talking,
                tracks: m
                    .tracks
                    .iter()
                    .map(|t| TrackView {
                        id: t.id.clone(),
                        kind: t.kind,
                        source: t.source,
                        receiving: receiving.contains(&TrackKey {
                            participant_id: m.id.clone(),
                            track_id: t.id.clone(),
                        }),
                    })
                    .collect(),
            })
            .collect();
        SessionInfo {
            id: self.id.clone(),
            state: shared.state,
            room: self.room.clone(),
            self_id: shared.self_id.clone(),
            room_error: shared.room_error.clone(),
            roster,
            layout: self.layout_view_of(&shared),
            outputs: self.media.outputs.statuses(),
            program: self.media.program_status(),
            peers: self.media.ingest.peers(),
            pipeline: self.media.counts(),
        }
    }
}

/// Builds output `id` and links it to the program.
async fn add_output(
    media: &Arc<SessionMedia>,
    id: String,
    spec: OutputSpec,
    ctx: BuildContext,
) -> Result<OutputStatus, MediaError> {
    let m = media.clone();
    spawn_blocking(move || {
        let bin = spec.build(&id, &ctx)?;
        m.outputs.add(&id, bin)?;
        m.outputs
            .status(&id)
            .ok_or_else(|| MediaError::Output(format!("output {id} vanished")))
    })
    .await
    .expect("adding an output does not panic")
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SessionSummary {
    pub id: String,
    pub state: SessionState,
    pub room: RoomInfo,
    pub participants: usize,
    pub outputs: usize,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct SessionInfo {
    pub id: String,
    pub state: SessionState,
    pub room: RoomInfo,
    /// Our own id in the room, once joined.
    pub self_id: Option<String>,
    /// Why the room connection ended, if it did.
    pub room_error: Option<String>,
    pub roster: Vec<ParticipantView>,
    pub layout: LayoutView,
    pub outputs: Vec<OutputStatus>,
    pub program: ProgramStatus,
    pub peers: Vec<PeerStatus>,
    pub pipeline: PipelineCounts,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ParticipantView {
    pub id: String,
    pub display: String,
    pub talking: bool,
    pub tracks: Vec<TrackView>,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TrackView {
    pub id: String,
    pub kind: TrackKind,
    pub source: TrackSource,
    /// Its media reaches the program.
    pub receiving: bool,
}

#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct LayoutView {
    pub config: LayoutConfig,
    /// The kind in effect: `presentation` while someone shares, if the
    /// configuration says so.
    pub effective: layout::Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned: Option<String>,
    pub canvas: Canvas,
    pub tiles: Vec<TileView>,
}

/// How often the session looks for cameras that stopped sending.
const FLOW_CHECK: Duration = Duration::from_millis(250);
/// Room events applied before the program is laid out again.
const EVENT_BATCH: usize = 256;

/// A participant's display name, as the scene has it.
fn name_of(scene: &layout::Scene<TrackKey>, participant: &str) -> String {
    scene
        .members
        .iter()
        .find(|m| m.id == participant)
        .map(|m| m.name.clone())
        .unwrap_or_default()
}

/// The video tracks a scene shows.
fn shown(scene: &layout::Scene<TrackKey>) -> HashSet<TrackKey> {
    scene
        .members
        .iter()
        .flat_map(|m| {
            let camera = match &m.camera {
                layout::Camera::On(k) => Some(k.clone()),
                _ => None,
            };
            camera.into_iter().chain(m.screen.clone())
        })
        .collect()
}

fn hold(config: &LayoutConfig) -> Duration {
    Duration::from_millis(config.speaker_hold_ms.into())
}

/// Why a pin was refused.
#[derive(Debug, thiserror::Error)]
pub enum PinError {
    #[error("{0} is not in the call")]
    NotInCall(String),
}

/// A tile as the API shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct TileView {
    /// `video`, `arriving` (a picture whose first frame is still on its
    /// way: the tile is kept for it, empty, for a moment), `placeholder`
    /// (initials on a colour) or `more` (+N).
    pub shows: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track_id: Option<String>,
    /// `more`: how many participants it stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    #[serde(flatten)]
    pub rect: Rect,
    pub fit: Fit,
    pub highlight: bool,
}

impl TileView {
    /// `framed`: the video tracks that have put out a frame.
    fn new<V>(t: &layout::Tile<TrackKey>, framed: &HashMap<TrackKey, V>) -> Self {
        let (shows, track_id, count) = match &t.content {
            layout::Content::Video { track } => (
                match framed.contains_key(track) {
                    true => "video",
                    false => "arriving",
                },
                Some(track.track_id.clone()),
                None,
            ),
            layout::Content::Placeholder { .. } => ("placeholder", None, None),
            layout::Content::More { count } => ("more", None, Some(*count)),
        };
        TileView {
            shows,
            participant_id: t.participant.clone(),
            track_id,
            count,
            rect: t.rect,
            fit: t.fit,
            highlight: t.highlight,
        }
    }
}

struct EventLoop {
    session: std::sync::Weak<Session>,
    media: Arc<SessionMedia>,
    shared: Arc<Mutex<Shared>>,
    canvas: Canvas,
    commands: mpsc::UnboundedSender<RoomCommand>,
}

impl EventLoop {
    async fn run(
        self,
        mut room_events: mpsc::UnboundedReceiver<RoomEvent>,
        mut media_events: mpsc::UnboundedReceiver<MediaEvent>,
        mut adapter_task: JoinHandle<Result<(), adapter::AdapterError>>,
        mut stop_rx: mpsc::UnboundedReceiver<oneshot::Sender<StopReport>>,
        mut relayout_rx: mpsc::UnboundedReceiver<oneshot::Sender<()>>,
    ) {
        let mut adapter_running = true;
        // Cameras that stop sending have no event to say so.
        let mut flow_check = tokio::time::interval(FLOW_CHECK);
        flow_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let reply = loop {
            // A speaker's hold may end with no event to say so.
            let floor = self.shared.lock().unwrap().speaker.next_change();
            let floor_changes = async move {
                match floor {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = floor_changes => self.relayout(),
                _ = flow_check.tick() => self.check_flow(),
                Some(event) = room_events.recv() => {
                    // A burst (the roster after a rejoin, a flood of joins)
                    // is laid out once, after it; in batches, so that a
                    // flood does not hold off a stop.
                    let mut relayout = self.on_room_event(event).await;
                    for _ in 1..EVENT_BATCH {
                        match room_events.try_recv() {
                            Ok(event) => relayout |= self.on_room_event(event).await,
                            Err(_) => break,
                        }
                    }
                    if relayout {
                        self.relayout();
                    }
                }
                Some(event) = media_events.recv() => self.on_media_event(event).await,
                ended = &mut adapter_task, if adapter_running => {
                    adapter_running = false;
                    self.on_adapter_ended(ended);
                }
                Some(done) = relayout_rx.recv() => {
                    self.relayout();
                    let _ = done.send(());
                }
                reply = stop_rx.recv() => break reply,
            }
        };
        self.set_state(SessionState::Stopping);
        let _ = self.commands.send(RoomCommand::Leave);
        if adapter_running {
            let _ = tokio::time::timeout(LEAVE_TIMEOUT, &mut adapter_task).await;
        }
        adapter_task.abort();
        let media = self.media.clone();
        let unfinished = spawn_blocking(move || media.stop(DRAIN_TIMEOUT))
            .await
            .unwrap_or_default();
        self.set_state(SessionState::Stopped);
        let id = self
            .session
            .upgrade()
            .map(|s| s.id.clone())
            .unwrap_or_default();
        tracing::info!(session = %id, ?unfinished, "session stopped");
        if let Some(reply) = reply {
            let _ = reply.send(StopReport {
                unfinished_outputs: unfinished,
            });
        }
        // Later stop calls find the channel closed and return at once.
        stop_rx.close();
    }

    /// Applies one room event; true if the program needs laying out again.
    async fn on_room_event(&self, event: RoomEvent) -> bool {
        let (changed, relayout) = {
            let mut shared = self.shared.lock().unwrap();
            let changed = shared.roster.apply(&event);
            let now = Instant::now();
            match &event {
                RoomEvent::Talking {
                    participant_id,
                    talking,
                } => {
                    // The room's word replaces callcast's own listening.
                    if !shared.room_talks {
                        shared.room_talks = true;
                        for id in shared.voice.clear() {
                            shared.speaker.talking(&id, false, now);
                            if &id != participant_id {
                                shared.roster.apply(&RoomEvent::Talking {
                                    participant_id: id,
                                    talking: false,
                                });
                            }
                        }
                    }
                    shared.speaker.talking(participant_id, *talking, now)
                }
                RoomEvent::ParticipantLeft { participant_id } => {
                    shared.speaker.left(participant_id)
                }
                _ => {}
            }
            let speaker = shared.speaker.speaker(now).map(String::from);
            (changed, changed || speaker != shared.speaker_shown)
        };
        match event {
            RoomEvent::Joined { self_id } => {
                let mut shared = self.shared.lock().unwrap();
                shared.self_id = Some(self_id);
                shared.room_error = None;
                shared.state = SessionState::Live;
            }
            RoomEvent::Disconnected { reason } => {
                let mut shared = self.shared.lock().unwrap();
                shared.room_error = Some(reason);
                shared.state = SessionState::Disconnected;
            }
            // A recorder takes everyone, once: subscribing again would
            // have the publisher offer again, for nothing.
            RoomEvent::ParticipantJoined { participant } if changed => {
                let _ = self.commands.send(RoomCommand::Subscribe {
                    participant_id: participant.id,
                });
            }
            RoomEvent::ParticipantJoined { .. } => {}
            RoomEvent::Offer { peer, sdp, streams } => {
                tracing::debug!(%peer, "offered; answering");
                let media = self.media.clone();
                let p = peer.clone();
                let answered = spawn_blocking(move || media.ingest.offer(&p, &sdp, streams))
                    .await
                    .expect("answering does not panic");
                match answered {
                    Ok(sdp) => {
                        let _ = self.commands.send(RoomCommand::Answer { peer, sdp });
                    }
                    Err(e) => tracing::warn!(%peer, error = %e, "cannot answer offer"),
                }
            }
            RoomEvent::RemoteCandidate {
                peer,
                sdp_m_line_index,
                candidate,
            } => self
                .media
                .ingest
                .add_candidate(&peer, sdp_m_line_index, &candidate),
            RoomEvent::PeerClosed { peer } => {
                let media = self.media.clone();
                let _ = spawn_blocking(move || {
                    media.ingest.close_peer(&peer);
                    crate::heap::release_freed();
                })
                .await;
            }
            // The SFU may keep the m-lines (Janus renegotiates later, if
            // ever): stop receiving now, so no bin idles on a dead track.
            RoomEvent::ParticipantLeft { participant_id } => {
                {
                    let mut shared = self.shared.lock().unwrap();
                    if shared.pinned.as_ref() == Some(&participant_id) {
                        shared.pinned = None;
                    }
                }
                let media = self.media.clone();
                let _ = spawn_blocking(move || {
                    media
                        .ingest
                        .drop_tracks(|k| k.participant_id == participant_id)
                })
                .await;
            }
            RoomEvent::TrackUnpublished {
                participant_id,
                track_id,
            } => {
                let media = self.media.clone();
                let _ = spawn_blocking(move || {
                    media.ingest.drop_tracks(|k| {
                        k.participant_id == participant_id && k.track_id == track_id
                    })
                })
                .await;
            }
            RoomEvent::TrackPublished { .. } | RoomEvent::Talking { .. } => {}
        }
        relayout
    }

    async fn on_media_event(&self, event: MediaEvent) {
        match event {
            MediaEvent::LocalCandidate {
                peer,
                sdp_m_line_index,
                candidate,
            } => {
                let _ = self.commands.send(RoomCommand::LocalCandidate {
                    peer,
                    sdp_m_line_index,
                    candidate,
                });
            }
            MediaEvent::LatencyChanged => {
                let media = self.media.clone();
                let _ = spawn_blocking(move || media.recalculate_latency()).await;
            }
            MediaEvent::TrackRetired(track) => {
                let media = self.media.clone();
                let _ = spawn_blocking(move || media.ingest.retire(track)).await;
            }
            MediaEvent::VideoFlowing(_) => self.check_flow(),
            MediaEvent::BlendingWithAlpha => self.relayout(),
            // Logged where it was posted; outputs already marked failed.
            MediaEvent::Error { .. } => {}
        }
    }

    fn on_adapter_ended(
        &self,
        ended: Result<Result<(), adapter::AdapterError>, tokio::task::JoinError>,
    ) {
        let error = match ended {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(e) => format!("adapter task failed: {e}"),
        };
        tracing::warn!(%error, "room connection ended; the program goes on");
        let mut shared = self.shared.lock().unwrap();
        shared.room_error = Some(error);
        shared.adapter_ended = true;
        shared.state = SessionState::Disconnected;
    }

    /// Lays the program out again if a camera started or stopped sending,
    /// or (in a room that does not say who talks) the audio levels give
    /// the floor to someone else.
    fn check_flow(&self) {
        let ages = self.media.ingest.video_ages();
        let levels = self.media.ingest.audio_levels();
        let changed = {
            let mut shared = self.shared.lock().unwrap();
            if !shared.room_talks {
                let now = Instant::now();
                for (participant_id, talking) in shared.voice.update(&levels, now) {
                    shared.speaker.talking(&participant_id, talking, now);
                    shared.roster.apply(&RoomEvent::Talking {
                        participant_id,
                        talking,
                    });
                }
            }
            let speaker = shared.speaker.speaker(Instant::now()).map(String::from);
            let scene = shared.roster.scene(&ages, Instant::now());
            shown(&scene) != shared.shown || speaker != shared.speaker_shown
        };
        if changed {
            self.relayout();
        }
    }

    fn relayout(&self) {
        let ages = self.media.ingest.video_ages();
        let (config, scene) = {
            let mut shared = self.shared.lock().unwrap();
            let mut scene = shared.roster.scene(&ages, Instant::now());
            shared.shown = shown(&scene);
            scene.pinned = shared.pinned.clone();
            scene.speaker = shared.speaker.speaker(Instant::now()).map(String::from);
            shared.speaker_shown = scene.speaker.clone();
            shared.effective = layout::effective_kind(&shared.layout, &scene);
            (shared.layout.clone(), scene)
        };
        let tiles = layout::compute(&config, self.canvas, &scene);
        // Corners round once the program blends with alpha (asked for
        // here the first time; it says when it does).
        let rounding = config.corner_radius > 0 && self.media.round_corners();
        let radius = |rect| look::corner_radius(rect, config.corner_radius);
        // Drawn in the layout's order: later tiles on top, the backdrop
        // at 0.
        let mut videos = Vec::new();
        let mut cards = Vec::new();
        for (t, z) in tiles.iter().zip(1..) {
            match &t.content {
                layout::Content::Video { track } => videos.push(VideoTile {
                    track: track.clone(),
                    rect: t.rect,
                    fit: t.fit,
                    z,
                    label: match config.labels {
                        true => name_of(&scene, &track.participant_id),
                        false => String::new(),
                    },
                    radius: radius(t.rect),
                }),
                layout::Content::Placeholder { participant, name } => cards.push(CardSpec {
                    key: participant.clone(),
                    rect: t.rect,
                    z,
                    text: look::initials(name),
                    colour: look::colour(participant),
                    radius: radius(t.rect),
                    ring: None,
                }),
                layout::Content::More { count } => cards.push(CardSpec {
                    key: "more".into(),
                    rect: t.rect,
                    z,
                    text: format!("+{count}"),
                    colour: look::MORE_COLOUR,
                    radius: radius(t.rect),
                    ring: None,
                }),
            }
        }
        // The active speaker's border, when there are others to tell them
        // from; on top of everything.
        if let Some(t) = tiles.iter().find(|t| t.highlight)
            && config.highlight
            && tiles.len() > 1
        {
            let z = tiles.len() as u32 + 1;
            if rounding && radius(t.rect) > 0 {
                // Around rounded corners: one ring, transparent inside.
                cards.push(CardSpec {
                    key: "highlight".into(),
                    rect: t.rect,
                    z,
                    text: String::new(),
                    colour: look::HIGHLIGHT_COLOUR,
                    radius: radius(t.rect),
                    ring: Some(look::border_width(t.rect)),
                });
            } else {
                for (rect, edge) in look::border(t.rect)
                    .into_iter()
                    .zip(["top", "bottom", "left", "right"])
                {
                    cards.push(CardSpec {
                        key: format!("highlight-{edge}"),
                        rect,
                        z,
                        text: String::new(),
                        colour: look::HIGHLIGHT_COLOUR,
                        radius: 0,
                        ring: None,
                    });
                }
            }
        }
        self.media
            .set_transition(Duration::from_millis(config.transition_ms.into()));
        self.media.ingest.set_tiles(&videos);
        self.media.set_cards(&cards);
        // An SFU with simulcast sends the layer that fits each tile.
        let sizes = videos
            .iter()
            .map(|v| adapter::VideoSize {
                participant_id: v.track.participant_id.clone(),
                track_id: v.track.track_id.clone(),
                width: v.rect.width,
                height: v.rect.height,
            })
            .collect();
        let _ = self.commands.send(RoomCommand::VideoSizes(sizes));
        self.shared.lock().unwrap().tiles = tiles;
    }

    fn set_state(&self, state: SessionState) {
        self.shared.lock().unwrap().state = state;
    }
}
