//! `callcast bench`: N synthetic participants through the real WebRTC path
//! (embedded room, loopback ICE, DTLS/SRTP) into one session recording
//! the program, measured while it runs. With `--janus`, the same behind a
//! Janus VideoRoom (run in a network namespace by `scripts/bench-janus`):
//! the shape of a production call, where the SFU forwards everyone on one
//! PeerConnection.
//!
//! The participants run in a child process (see [`publishers`]), so the
//! figures are callcast's alone. They replay pre-encoded clips whose
//! frames carry their number ([`crate::synth::tag`]) on a wall-clock
//! schedule both processes know: reading the tags off the composite
//! gives the capture-to-composite latency and when each participant first
//! appeared, with no clock to synchronise.

pub mod offline;
pub mod publishers;
pub mod report;
pub mod watch;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use callcast_signalling::RoomAdapter;
use callcast_signalling::callcast::CallcastAdapter;
use callcast_signalling::janus::JanusAdapter;
use callcast_signalling::room::RoomServer;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use crate::config::{IceConfig, IngestConfig, ProgramConfig};
use crate::media::outputs::OutputSpec;
use crate::procstat;
use crate::session::{RoomInfo, Session, SessionConfig, Sessions};
use crate::synth::replay::{Schedule, unix_ns};
use report::{Report, max, median, quantile, round};
use watch::Watch;

const ROOM: &str = "bench";
/// Settling time between the last participant appearing and the window.
const SETTLE: Duration = Duration::from_secs(2);
/// The ten busiest threads are reported.
const TOP_THREADS: usize = 10;
/// Participants that join one at a time, into a running call, after the
/// others joined together: their join-to-first-frame is the headline one.
const LATE_JOINERS: usize = 3;

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub participants: usize,
    /// The measured window.
    pub duration: Duration,
    /// Participants' pictures: 16:9 at this height.
    pub input_height: u32,
    pub input_fps: u32,
    /// The program.
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Keep the recording here (default: a temporary file, deleted).
    pub record: Option<PathBuf>,
    /// Behind this Janus instead of the embedded room.
    pub janus: Option<JanusBench>,
}

/// Where `callcast bench-publish` reads the Janus room's secret.
const JANUS_SECRET_ENV: &str = "CALLCAST_BENCH_JANUS_SECRET";

/// A Janus VideoRoom to measure behind.
#[derive(Debug, Clone)]
pub struct JanusBench {
    /// `ws://host:8188`.
    pub url: String,
    pub room: String,
    /// The room's secret, for adding remote publishers.
    pub secret: String,
    /// The address callcast gathers ICE on and the publishers send from.
    pub address: String,
}

/// The room the participants join.
enum BenchRoom {
    Embedded(RoomServer),
    Janus(JanusBench),
}

impl BenchRoom {
    fn adapter(&self) -> Box<dyn RoomAdapter> {
        match self {
            BenchRoom::Embedded(server) => Box::new(CallcastAdapter {
                url: server.url(),
                room: ROOM.into(),
                display: "callcast bench".into(),
            }),
            BenchRoom::Janus(j) => Box::new(JanusAdapter {
                url: j.url.clone(),
                room: j.room.as_str().into(),
                pin: None,
                token: None,
                display: "callcast bench".into(),
            }),
        }
    }

    fn info(&self) -> RoomInfo {
        let (adapter, url, room) = match self {
            BenchRoom::Embedded(server) => ("callcast", server.url(), ROOM.to_string()),
            BenchRoom::Janus(j) => ("janus", j.url.clone(), j.room.clone()),
        };
        RoomInfo {
            adapter: adapter.into(),
            url,
            room,
        }
    }

    fn ice(&self) -> IceConfig {
        match self {
            BenchRoom::Embedded(_) => IceConfig::loopback(),
            BenchRoom::Janus(j) => IceConfig {
                local_addresses: vec![j.address.clone()],
            },
        }
    }

    /// `callcast bench-publish`'s arguments saying where to publish.
    fn publish_args(&self) -> Vec<String> {
        match self {
            BenchRoom::Embedded(server) => vec![
                "--room-url".into(),
                server.url(),
                "--room".into(),
                ROOM.into(),
            ],
            BenchRoom::Janus(j) => vec![
                "--room-url".into(),
                j.url.clone(),
                "--room".into(),
                j.room.clone(),
                "--ice-address".into(),
                j.address.clone(),
            ],
        }
    }

    /// Its environment: the room secret, out of its command line.
    fn publish_env(&self) -> Vec<(&'static str, String)> {
        match self {
            BenchRoom::Embedded(_) => Vec::new(),
            BenchRoom::Janus(j) => vec![(JANUS_SECRET_ENV, j.secret.clone())],
        }
    }

    async fn shutdown(self) {
        if let BenchRoom::Embedded(server) = self {
            server.shutdown().await;
        }
    }
}

impl BenchOptions {
    pub fn input_width(&self) -> u32 {
        // 16:9, even.
        (self.input_height * 16 / 9 + 1) & !1
    }
}

/// Runs the benchmark and returns its report.
pub async fn run(opts: BenchOptions) -> anyhow::Result<Report> {
    crate::media::init()?;
    if opts.participants == 0 {
        bail!("--participants must be at least 1");
    }
    let room = match &opts.janus {
        Some(janus) => BenchRoom::Janus(janus.clone()),
        None => BenchRoom::Embedded(
            RoomServer::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                .await
                .context("starting the bench room")?,
        ),
    };
    // Without --record, the recording goes to a scratch folder, deleted.
    let (record, scratch) = match &opts.record {
        Some(p) => (crate::recording::absolute(p)?, None),
        None => {
            let dir = std::env::temp_dir().join(format!("callcast-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir)?;
            (dir.join("program.mp4"), Some(dir))
        }
    };
    let result = measure(&opts, &room, &record).await;
    room.shutdown().await;
    if let Some(dir) = scratch {
        let _ = std::fs::remove_dir_all(dir);
    }
    result
}

async fn measure(
    opts: &BenchOptions,
    room: &BenchRoom,
    record: &std::path::Path,
) -> anyhow::Result<Report> {
    let cfg = SessionConfig {
        program: ProgramConfig {
            width: opts.width,
            height: opts.height,
            fps: opts.fps,
            ..ProgramConfig::default()
        },
        ingest: IngestConfig {
            ice: room.ice(),
            ..IngestConfig::default()
        },
        outputs: vec![OutputSpec::record_file(record)],
        ..SessionConfig::default()
    };
    let session = Session::start(Sessions::new_id(), room.info(), room.adapter(), cfg)
        .await
        .context("starting the session")?;
    // Frames are sent from a whole second on, so both sides agree on it.
    let schedule = Schedule {
        epoch_ns: unix_ns(SystemTime::now()) / 1_000_000_000 * 1_000_000_000,
        fps: opts.input_fps,
    };
    let watch = match Watch::attach(session.media().pipeline(), schedule, opts.fps) {
        Ok(w) => w,
        Err(e) => {
            session.stop().await;
            return Err(e);
        }
    };

    let late = opts.participants.min(LATE_JOINERS);
    let measured = async {
        let mut publishers = Publishers::spawn(opts, room, schedule, opts.participants - late)?;
        let crowd = publishers.joined(opts.participants - late, &watch).await?;
        wait_until_seen(&watch, crowd.keys()).await;
        let mut late_joins = HashMap::new();
        for _ in 0..late {
            let joined = publishers.join_one(&watch).await?;
            wait_until_seen(&watch, joined.keys()).await;
            late_joins.extend(joined);
        }
        tokio::time::sleep(SETTLE).await;
        let window = sample_window(opts, &watch, publishers.child.id()).await;
        Ok::<_, anyhow::Error>((publishers, crowd, late_joins, window))
    }
    .await;
    // The recording ends first, while everyone is still in it.
    let stopped = session.stop().await;
    let (publishers, crowd, late_joins, window) = measured?;
    publishers.stop().await;
    if !stopped.unfinished_outputs.is_empty() {
        bail!(
            "the recording could not be finalized: {:?}",
            stopped.unfinished_outputs
        );
    }

    let first_seen = watch.first_seen();
    // From a participant's join request to its first composite frame.
    let took_ms = |id: &String, at: u64| {
        first_seen
            .get(id)
            .map(|seen| seen.saturating_sub(at) as f64 / 1e6)
    };
    let join_ms = |joins: &HashMap<String, u64>| -> Vec<f64> {
        joins
            .iter()
            .filter_map(|(id, at)| took_ms(id, *at))
            .collect()
    };
    let (late_ms, crowd_ms) = (join_ms(&late_joins), join_ms(&crowd));
    // Each participant's figure, for a closer look (`CALLCAST_LOG=debug`).
    let mut joins: Vec<_> = crowd.iter().chain(&late_joins).collect();
    joins.sort_by_key(|(_, at)| **at);
    for (id, at) in joins {
        let ms = took_ms(id, *at).map(f64::round);
        tracing::debug!(participant = %id, join_to_first_frame_ms = ?ms, "joined");
    }
    let latencies = watch.latencies_ms();
    let lags = watch.lags_ms();
    let secs = window.elapsed.as_secs_f64();
    Ok(Report {
        participants: opts.participants,
        participants_seen: first_seen.len(),
        duration_s: round(secs, 2),
        input: format!(
            "{}x{}@{} VP8",
            opts.input_width(),
            opts.input_height,
            opts.input_fps
        ),
        output: format!("{}x{}@{} H.264", opts.width, opts.height, opts.fps),
        output_fps: round(window.output.frames as f64 / secs, 2),
        output_frames: window.output.frames,
        output_frames_dropped: window.output.dropped,
        output_frames_duplicated: window.output.duplicated,
        input_frames_dropped: window.input_dropped,
        input_frames: window.input_frames,
        input_frames_skipped: window.steps.skipped,
        input_frames_repeated: window.steps.repeated,
        tile_steps: window.steps.steps,
        cpu_cores: round(median(&window.cpu), 3),
        cpu_cores_max: round(max(&window.cpu), 3),
        publishers_cpu_cores: round(window.publishers_cores, 3),
        rss_peak_mb: round(procstat::rss_peak_mb(), 1),
        join_to_first_frame_ms: round(median(&late_ms), 1),
        join_to_first_frame_ms_max: round(max(&late_ms), 1),
        join_to_first_frame_ms_together: round(median(&crowd_ms), 1),
        join_to_first_frame_ms_together_max: round(max(&crowd_ms), 1),
        latency_ms: round(median(&latencies), 1),
        latency_ms_p95: round(quantile(&latencies, 0.95), 1),
        latency_samples: latencies.len(),
        output_lag_ms: round(median(&lags), 1),
        output_lag_ms_max: round(max(&lags), 1),
        threads: window.threads,
        thread_groups: window.thread_groups,
        machine: procstat::machine(),
    })
}

/// The participants' process.
struct Publishers {
    child: Child,
    lines: tokio::io::Lines<tokio::io::BufReader<tokio::process::ChildStdout>>,
}

impl Publishers {
    /// Starts the publishers; `at_once` join straight away.
    fn spawn(
        opts: &BenchOptions,
        room: &BenchRoom,
        schedule: Schedule,
        at_once: usize,
    ) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("finding the callcast binary")?;
        let mut cmd = Command::new(exe);
        cmd.arg("bench-publish")
            .args(room.publish_args())
            // Set only behind Janus: the embedded room's publishers would
            // take an inherited one for a Janus room.
            .env_remove(JANUS_SECRET_ENV)
            .envs(room.publish_env())
            .args(["--participants", &at_once.to_string()])
            .args(["--total", &opts.participants.to_string()])
            .args(["--width", &opts.input_width().to_string()])
            .args(["--height", &opts.input_height.to_string()])
            .args(["--fps", &opts.input_fps.to_string()])
            .args(["--epoch-ns", &schedule.epoch_ns.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if std::env::var_os("CALLCAST_LOG").is_none() {
            cmd.env("CALLCAST_LOG", "warn");
        }
        let mut child = cmd.spawn().context("starting the publishers")?;
        let stdout = child.stdout.take().context("publishers' stdout")?;
        Ok(Publishers {
            child,
            lines: tokio::io::BufReader::new(stdout).lines(),
        })
    }

    /// Reads `count` join lines: each participant's id and when it asked
    /// to join. The watch expects them from then on.
    async fn joined(
        &mut self,
        count: usize,
        watch: &Watch,
    ) -> anyhow::Result<HashMap<String, u64>> {
        let mut joins = HashMap::new();
        // Clips are encoded first: seconds each on a small machine.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60 + 2 * count as u64);
        while joins.len() < count {
            let line = tokio::time::timeout_at(deadline, self.lines.next_line())
                .await
                .context("the publishers took too long to join")??;
            let Some(line) = line else {
                bail!("the publishers exited after {} joined", joins.len());
            };
            let mut words = line.split_whitespace();
            if let (Some("joined"), Some(id), Some(at)) = (words.next(), words.next(), words.next())
            {
                watch.expect(id);
                joins.insert(id.to_string(), at.parse().context("a join time")?);
            }
        }
        Ok(joins)
    }

    /// One more participant joins.
    async fn join_one(&mut self, watch: &Watch) -> anyhow::Result<HashMap<String, u64>> {
        let stdin = self.child.stdin.as_mut().context("publishers' stdin")?;
        stdin.write_all(b"join\n").await?;
        stdin.flush().await?;
        self.joined(1, watch).await
    }

    /// Everyone leaves; the process ends.
    async fn stop(mut self) {
        drop(self.child.stdin.take());
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Waits until these participants were seen in the composite, or gives
/// up after a while (the report then says how many were).
async fn wait_until_seen(watch: &Watch, participants: impl Iterator<Item = &String>) {
    let wanted: Vec<&String> = participants.collect();
    let deadline = Instant::now() + Duration::from_secs(15 + wanted.len() as u64 / 2);
    let missing = || {
        let seen = watch.first_seen();
        wanted.iter().filter(|p| !seen.contains_key(**p)).count()
    };
    while missing() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    if missing() > 0 {
        tracing::warn!(
            missing = missing(),
            "not every participant appeared in the composite"
        );
    }
}

/// What the measured window gave.
struct Window {
    elapsed: Duration,
    /// One-second process CPU samples, in cores.
    cpu: Vec<f64>,
    publishers_cores: f64,
    output: report::Continuity,
    input_frames: u64,
    input_dropped: u64,
    steps: report::TileSteps,
    threads: Vec<procstat::ThreadLoad>,
    thread_groups: Vec<report::ThreadGroup>,
}

async fn sample_window(opts: &BenchOptions, watch: &Watch, publishers: Option<u32>) -> Window {
    let publishers_cpu = || publishers.and_then(procstat::other_process_cpu);
    let publishers_before = publishers_cpu();
    let inputs = watch.count_inputs();
    let output = watch.output();
    let threads = procstat::threads();
    let start = Instant::now();
    watch.measure(true);
    let mut cpu = Vec::new();
    let (mut last_cpu, mut last_at) = (procstat::process_cpu(), start);
    while start.elapsed() < opts.duration {
        let next = (last_at + Duration::from_secs(1)).min(start + opts.duration);
        tokio::time::sleep_until(next.into()).await;
        let (now_cpu, now) = (procstat::process_cpu(), Instant::now());
        cpu.push((now_cpu - last_cpu).as_secs_f64() / (now - last_at).as_secs_f64());
        (last_cpu, last_at) = (now_cpu, now);
    }
    watch.measure(false);
    let elapsed = start.elapsed();
    let publishers_cores = match (publishers_before, publishers_cpu()) {
        (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64() / elapsed.as_secs_f64(),
        _ => 0.0,
    };
    let (mut input_frames, mut input_dropped) = (0, 0);
    for c in &inputs {
        let (received, dropped) = c.figures();
        input_frames += received;
        input_dropped += dropped;
    }
    let after = procstat::threads();
    let thread_groups = procstat::by_name(&threads, &after, elapsed, TOP_THREADS)
        .into_iter()
        .map(|(load, threads)| report::ThreadGroup {
            name: load.name,
            threads,
            cpu_cores: load.cpu_cores,
        })
        .collect();
    Window {
        elapsed,
        cpu,
        publishers_cores,
        output: watch.output().since(&output),
        input_frames,
        input_dropped,
        // Counted only while measuring.
        steps: watch.steps(),
        threads: procstat::busiest(&threads, &after, elapsed, TOP_THREADS),
        thread_groups,
    }
}
