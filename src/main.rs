//! The `callcast` command line.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use callcast::config::IceConfig;
use callcast::room::{AdapterKind, RoomSpec};
use callcast_signalling::janus::protocol::JanusId;
use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "callcast",
    version,
    about = "Record and live-stream video calls"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Seconds between each session's logged figures (a structured
    /// "session stats" event, with every figure as JSON in JSON logs); 0
    /// never.
    #[arg(
        long,
        global = true,
        env = "CALLCAST_STATS_INTERVAL",
        default_value_t = 10.0
    )]
    stats_interval: f64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run everything on this machine: a demo room, synthetic participants
    /// publishing over WebRTC, and a session recording them.
    Demo {
        /// Participants at the start.
        #[arg(long, default_value_t = 4)]
        participants: usize,
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long)]
        duration: Option<f64>,
        /// Where to record (default: recordings/demo-<timestamp>.mp4).
        #[arg(long)]
        record: Option<PathBuf>,
        /// Address of the HTTP API.
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: SocketAddr,
        /// Seconds until the first participant leaves; 0 never.
        #[arg(long, default_value_t = 10.0)]
        leave_after: f64,
        /// Seconds until a new participant joins; 0 never.
        #[arg(long, default_value_t = 15.0)]
        join_after: f64,
    },
    /// Serve the HTTP API: sessions are started and stopped over it.
    Serve {
        /// Address of the HTTP API.
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: SocketAddr,
        /// Gather ICE candidates only on these local addresses (repeat the
        /// option for several; default: every interface).
        #[arg(long = "ice-address")]
        ice_addresses: Vec<String>,
        /// S3 endpoint for outputs that write to S3 and name none (AWS by
        /// default). Keys come from CALLCAST_S3_ACCESS_KEY_ID and
        /// CALLCAST_S3_SECRET_ACCESS_KEY, else the standard AWS variables.
        #[arg(long, env = "CALLCAST_S3_ENDPOINT")]
        s3_endpoint: Option<String>,
        /// S3 region for those outputs.
        #[arg(long, env = "CALLCAST_S3_REGION")]
        s3_region: Option<String>,
        /// Path-style S3 addressing (most S3-compatible stores want it).
        #[arg(long, env = "CALLCAST_S3_PATH_STYLE")]
        s3_path_style: bool,
        /// Settings file (JSON): API tokens, viewer token life, allowed
        /// output destinations. API tokens also come from
        /// CALLCAST_API_TOKEN (comma-separated); with any, every route but
        /// /healthz needs one.
        #[arg(long, env = "CALLCAST_CONFIG")]
        config: Option<PathBuf>,
        /// Where the journal of recordings being written is kept, so that
        /// one cut off by a crash is reported on the next start (default:
        /// $STATE_DIRECTORY, else $XDG_STATE_HOME/callcast, else
        /// ~/.local/state/callcast).
        #[arg(long, env = "CALLCAST_STATE_DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Join a room as a hidden bot and record it.
    Join {
        /// Which signalling the room speaks.
        #[arg(long, value_enum, default_value_t = Adapter::Janus)]
        adapter: Adapter,
        /// Where the room is: ws://host:8188 for Janus.
        #[arg(long)]
        url: String,
        /// The room (a Janus room number, or a name).
        #[arg(long)]
        room: String,
        /// The room's PIN, if it has one.
        #[arg(long)]
        pin: Option<String>,
        /// Janus API token, if Janus requires one (or CALLCAST_JANUS_TOKEN).
        #[arg(long, env = "CALLCAST_JANUS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// The bot's display name in the room.
        #[arg(long, default_value = "callcast")]
        display: String,
        /// Where to record (default: recordings/<room>-<timestamp>.mp4).
        #[arg(long)]
        record: Option<PathBuf>,
        /// Stop after this many seconds (default: until Ctrl-C or SIGTERM).
        #[arg(long)]
        duration: Option<f64>,
        /// Address of the HTTP API.
        #[arg(long, default_value = "127.0.0.1:8080")]
        http: SocketAddr,
        /// Gather ICE candidates only on these local addresses (repeat the
        /// option for several; default: every interface).
        #[arg(long = "ice-address")]
        ice_addresses: Vec<String>,
    },
    /// Publish synthetic participants (moving pattern, name, tone) into a
    /// Janus room over WebRTC, for load and tests.
    Loadgen {
        /// Janus websocket URL: ws://host:8188.
        #[arg(long)]
        janus: String,
        #[arg(long)]
        room: String,
        #[arg(long)]
        pin: Option<String>,
        #[arg(long, env = "CALLCAST_JANUS_TOKEN", hide_env_values = true)]
        token: Option<String>,
        #[arg(long, default_value_t = 4)]
        participants: usize,
        /// Index of the first participant: its name, colour and tone.
        #[arg(long, default_value_t = 0)]
        first: usize,
        /// Leave after this many seconds (default: until Ctrl-C or SIGTERM).
        #[arg(long)]
        duration: Option<f64>,
        /// Gather ICE on these addresses (webrtc), or bind Janus's RTP port
        /// on the first (rtp).
        #[arg(long = "ice-address")]
        ice_addresses: Vec<String>,
        /// webrtc: real WebRTC publishers; rtp: Janus remote publishers fed
        /// with plain RTP (cheap; needs the room secret).
        #[arg(long, value_enum, default_value_t = LoadgenMode::Webrtc)]
        mode: LoadgenMode,
        /// The room secret (for --mode rtp).
        #[arg(long, env = "CALLCAST_ROOM_SECRET", hide_env_values = true)]
        secret: Option<String>,
        /// Picture size, WIDTHxHEIGHT (default 640x360).
        #[arg(long, value_parser = parse_size)]
        size: Option<(u32, u32)>,
        /// Frames per second (default 20).
        #[arg(long)]
        fps: Option<u32>,
        /// Send video in three simulcast layers, each in the next palette
        /// colour (rtp mode).
        #[arg(long)]
        simulcast: bool,
        /// Seconds between each publisher's own key frames (default 2;
        /// they also send one whenever asked).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        key_frame_interval: Option<u32>,
        /// Drop every Nth video packet, a lossy uplink (rtp mode).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        drop_every: Option<u32>,
    },
    /// Measure: N synthetic participants over real WebRTC into one
    /// session recording the program; prints a table (and JSON).
    Bench {
        #[arg(long, default_value_t = 4)]
        participants: usize,
        /// Seconds measured, after everyone appeared.
        #[arg(long, default_value_t = 20.0)]
        duration: f64,
        /// Participants' picture height (16:9).
        #[arg(long, default_value_t = 360, value_parser = clap::value_parser!(u32).range(90..=1080))]
        input_height: u32,
        /// Participants' frame rate (default: the program's).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=60))]
        input_fps: Option<u32>,
        /// The program's frame rate.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=60))]
        fps: u32,
        /// The program's size, WIDTHxHEIGHT.
        #[arg(long, value_parser = parse_size, default_value = "1280x720")]
        output: (u32, u32),
        /// Also write the report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// Keep the recording here (default: deleted).
        #[arg(long)]
        record: Option<PathBuf>,
        /// Measure behind this Janus (`ws://host:8188`) instead of the
        /// embedded room: the participants are remote publishers fed with
        /// plain RTP, and callcast receives them all on one PeerConnection.
        /// See scripts/bench-janus.
        #[arg(long, requires_all = ["janus_room", "janus_secret", "ice_address"])]
        janus: Option<String>,
        /// The VideoRoom (with --janus).
        #[arg(long)]
        janus_room: Option<String>,
        /// Its secret: adding remote publishers is an admin request. Best
        /// given in CALLCAST_BENCH_JANUS_SECRET, out of `ps`'s sight.
        #[arg(long, env = "CALLCAST_BENCH_JANUS_SECRET", hide_env_values = true)]
        janus_secret: Option<String>,
        /// The address callcast and the publishers use (with --janus).
        #[arg(long)]
        ice_address: Option<String>,
    },
    /// callcast's media path on files, as fast as it goes (one stage of
    /// it, or all): what scripts/bench-vs-ffmpeg times.
    BenchOffline {
        #[arg(long, value_enum, default_value_t = OfflineStage::Composite)]
        stage: OfflineStage,
        /// A VP8 clip in IVF.
        #[arg(long)]
        clip: Option<PathBuf>,
        #[arg(long, default_value_t = 4)]
        participants: usize,
        /// Frames in the clip.
        #[arg(long, default_value_t = 400)]
        frames: u32,
        #[arg(long, value_parser = parse_size, default_value = "1280x720")]
        output: (u32, u32),
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=60))]
        fps: u32,
        /// The raw composite (I420): written by render, read by encode.
        #[arg(long)]
        raw: Option<PathBuf>,
        /// Print the grid's tiles (x,y,width,height per line) and exit.
        #[arg(long)]
        print_tiles: bool,
    },
    /// The benchmark's participants, run by `callcast bench`.
    #[command(hide = true)]
    BenchPublish {
        /// The embedded room's URL, or (with --janus-secret) Janus's.
        #[arg(long)]
        room_url: String,
        #[arg(long)]
        room: String,
        /// Publish into a Janus VideoRoom with this room secret, as remote
        /// publishers sending RTP from and to --ice-address. `bench`
        /// passes it in the environment: a command line is visible to
        /// every user.
        #[arg(
            long,
            env = "CALLCAST_BENCH_JANUS_SECRET",
            hide_env_values = true,
            requires = "ice_address"
        )]
        janus_secret: Option<String>,
        #[arg(long)]
        ice_address: Option<String>,
        #[arg(long)]
        participants: usize,
        #[arg(long)]
        total: usize,
        #[arg(long)]
        width: u32,
        #[arg(long)]
        height: u32,
        #[arg(long)]
        fps: u32,
        #[arg(long)]
        epoch_ns: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum OfflineStage {
    Composite,
    Render,
    Decode,
    Encode,
}

#[derive(Clone, Copy, ValueEnum)]
enum LoadgenMode {
    Webrtc,
    Rtp,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once('x').ok_or("expected WIDTHxHEIGHT")?;
    let w: u32 = w.parse().map_err(|_| "bad width")?;
    let h: u32 = h.parse().map_err(|_| "bad height")?;
    if !(16..=3840).contains(&w) || !(16..=2160).contains(&h) {
        return Err("size out of range (16x16 to 3840x2160)".into());
    }
    Ok((w & !1, h & !1))
}

#[derive(Clone, Copy, ValueEnum)]
enum Adapter {
    Janus,
    Callcast,
}

fn main() -> ExitCode {
    callcast::heap::limit_arenas();
    let cli = Cli::parse();
    init_logging(cli.log_format);
    callcast::session::health::configure(callcast::session::health::StatsLog {
        interval: seconds(Some(cli.stats_interval)),
        full: matches!(cli.log_format, LogFormat::Json),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tokio")
        .build()
        .expect("the tokio runtime starts");
    let result = runtime.block_on(async {
        match cli.command {
            Command::Demo {
                participants,
                duration,
                record,
                http,
                leave_after,
                join_after,
            } => {
                let opts = callcast::demo::DemoOptions {
                    participants,
                    duration: seconds(duration),
                    record: record.unwrap_or_else(|| default_recording("demo")),
                    http,
                    leave_after: seconds(Some(leave_after)),
                    join_after: seconds(Some(join_after)),
                };
                callcast::demo::run(opts, shutdown_signal()).await
            }
            Command::Join {
                adapter,
                url,
                room,
                pin,
                token,
                display,
                record,
                duration,
                http,
                ice_addresses,
            } => {
                let record = record.unwrap_or_else(|| default_recording(&safe_name(&room)));
                let opts = callcast::join::JoinOptions {
                    room: RoomSpec {
                        adapter: match adapter {
                            Adapter::Janus => AdapterKind::Janus,
                            Adapter::Callcast => AdapterKind::Callcast,
                        },
                        url,
                        room: JanusId::from(room.as_str()),
                        pin,
                        token,
                        display,
                    },
                    record,
                    duration: seconds(duration),
                    http,
                    ice: IceConfig {
                        local_addresses: ice_addresses,
                    },
                };
                callcast::join::run(opts, shutdown_signal()).await
            }
            Command::Serve {
                http,
                ice_addresses,
                s3_endpoint,
                s3_region,
                s3_path_style,
                config,
                state_dir,
            } => {
                let s3 = callcast::serve::s3_defaults(s3_endpoint, s3_region, s3_path_style)?;
                let config = callcast::serve::load_config(config.as_deref())?;
                let opts = callcast::serve::ServeOptions {
                    http,
                    ice: IceConfig {
                        local_addresses: ice_addresses,
                    },
                    s3,
                    config,
                    state_dir,
                };
                callcast::serve::run(opts, shutdown_signal()).await
            }
            Command::Loadgen {
                janus,
                room,
                pin,
                token,
                participants,
                first,
                duration,
                ice_addresses,
                mode,
                secret,
                size,
                fps,
                simulcast,
                key_frame_interval,
                drop_every,
            } => {
                let opts = callcast::loadgen::LoadgenOptions {
                    mode: match mode {
                        LoadgenMode::Webrtc => callcast::loadgen::Mode::Webrtc,
                        LoadgenMode::Rtp => callcast::loadgen::Mode::Rtp,
                    },
                    secret,
                    size,
                    fps,
                    simulcast,
                    key_frame_interval,
                    drop_every,
                    janus,
                    room,
                    pin,
                    token,
                    participants,
                    first,
                    duration: seconds(duration),
                    ice: IceConfig {
                        local_addresses: ice_addresses,
                    },
                };
                callcast::loadgen::run(opts, shutdown_signal()).await
            }
            Command::Bench {
                participants,
                duration,
                input_height,
                input_fps,
                fps,
                output,
                json,
                record,
                janus,
                janus_room,
                janus_secret,
                ice_address,
            } => {
                let janus = match (janus, janus_room, janus_secret, ice_address) {
                    (Some(url), Some(room), Some(secret), Some(address)) => {
                        Some(callcast::bench::JanusBench {
                            url,
                            room,
                            secret,
                            address,
                        })
                    }
                    _ => None,
                };
                let opts = callcast::bench::BenchOptions {
                    participants,
                    duration: seconds(Some(duration)).unwrap_or(Duration::from_secs(1)),
                    input_height: input_height & !1,
                    input_fps: input_fps.unwrap_or(fps),
                    width: output.0,
                    height: output.1,
                    fps,
                    record,
                    janus,
                };
                let report = callcast::bench::run(opts).await?;
                println!("callcast bench\n{}", report.table());
                if let Some(path) = json {
                    std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
                }
                Ok(())
            }
            Command::BenchOffline {
                stage,
                clip,
                participants,
                frames,
                output,
                fps,
                raw,
                print_tiles,
            } => {
                use callcast::bench::offline::{self, OfflineOptions, Stage};
                let program = callcast::config::ProgramConfig {
                    width: output.0,
                    height: output.1,
                    fps,
                    ..Default::default()
                };
                if print_tiles {
                    // A reader that stops early (`| head`) is not an error.
                    let mut out = std::io::stdout().lock();
                    for t in offline::tiles(participants, &program) {
                        let line = writeln!(out, "{},{},{},{}", t.x, t.y, t.width, t.height);
                        if line.is_err() {
                            break;
                        }
                    }
                    return Ok(());
                }
                let opts = OfflineOptions {
                    stage: match stage {
                        OfflineStage::Composite => Stage::Composite,
                        OfflineStage::Render => Stage::Render,
                        OfflineStage::Decode => Stage::Decode,
                        OfflineStage::Encode => Stage::Encode,
                    },
                    clip: clip.unwrap_or_default(),
                    participants,
                    frames,
                    program,
                    raw,
                };
                let run = tokio::task::spawn_blocking(move || offline::run(&opts)).await??;
                println!(
                    "output_s {:.3} wall_s {:.3} cpu_s {:.3}",
                    run.output_s,
                    run.wall.as_secs_f64(),
                    run.cpu.as_secs_f64()
                );
                Ok(())
            }
            Command::BenchPublish {
                room_url,
                room,
                janus_secret,
                ice_address,
                participants,
                total,
                width,
                height,
                fps,
                epoch_ns,
            } => {
                use callcast::bench::publishers::Room;
                let room = match (janus_secret, ice_address) {
                    (Some(secret), Some(iface)) => Room::Janus(callcast::synth::rtp::RemoteRoom {
                        url: room_url,
                        token: None,
                        room: room.as_str().into(),
                        secret: Some(secret),
                        iface,
                        simulcast: false,
                        drop_every: None,
                    }),
                    _ => Room::Embedded {
                        url: room_url,
                        room,
                    },
                };
                let opts = callcast::bench::publishers::PublishOptions {
                    room,
                    participants,
                    total,
                    width,
                    height,
                    schedule: callcast::synth::replay::Schedule { epoch_ns, fps },
                };
                callcast::bench::publishers::run(opts).await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("callcast: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Positive seconds as a duration; zero, negative or absent as none.
fn seconds(s: Option<f64>) -> Option<Duration> {
    s.filter(|s| *s > 0.0 && s.is_finite())
        .map(Duration::from_secs_f64)
}

/// Keeps a room name usable in a file name.
fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn default_recording(prefix: &str) -> PathBuf {
    let stamp = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year][month][day]-[hour][minute][second]"
        ))
        .unwrap_or_else(|_| "now".into());
    PathBuf::from(format!("recordings/{prefix}-{stamp}.mp4"))
}

/// Resolves on Ctrl-C or SIGTERM; a second one exits at once.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM can be handled");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("stopping: finalizing outputs (signal again to exit at once)");
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        eprintln!("callcast: exiting without finalizing");
        std::process::exit(130);
    });
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("CALLCAST_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
