//! Helpers for integration tests: run the real binary, inspect what it
//! wrote with ffprobe, and decode frames and audio with ffmpeg.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use callcast::media::layout::Rect;
use callcast::synth::PALETTE;

pub mod janus;
pub mod prometheus;
pub mod rtmp;
pub mod s3;
pub mod throttle;
pub mod whep;

/// Makes what `cmd` starts die with the thread that starts it (the
/// test's): a test killed midway, or one that panics past its cleanup,
/// leaves no server running. Every caller spawns from the test's own
/// thread, never from a pool thread that may end first.
pub fn dies_with_test(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe, and nothing else runs between
    // fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        })
    }
}

/// A running `callcast demo` or `join` whose stdout banner has been read.
pub struct Demo {
    pub child: Child,
    pub http: String,
    pub session_url: String,
    stdout: mpsc::Receiver<String>,
}

impl Demo {
    /// `callcast demo` with `participants`, recording to `record`, the API
    /// on a free port, and `extra` options; without a timeline in `extra`
    /// nobody leaves or joins.
    pub fn start(record: &Path, participants: usize, extra: &[&str]) -> Demo {
        Demo::spawn(Demo::command(record, participants, extra))
    }

    /// The command [`Demo::start`] runs, to add to.
    pub fn command(record: &Path, participants: usize, extra: &[&str]) -> Command {
        let mut args = vec![
            "--participants".to_string(),
            participants.to_string(),
            "--record".into(),
            record.to_str().unwrap().into(),
            "--http".into(),
            "127.0.0.1:0".into(),
        ];
        for opt in ["--leave-after", "--join-after"] {
            if !extra.contains(&opt) {
                args.extend([opt.to_string(), "0".into()]);
            }
        }
        args.extend(extra.iter().map(|a| a.to_string()));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_callcast"));
        cmd.arg("demo").args(&args);
        cmd
    }

    /// Runs a `callcast` command that prints the session banner (`demo`,
    /// `join`) and reads the banner.
    pub fn spawn(mut cmd: Command) -> Demo {
        let mut child = dies_with_test(&mut cmd)
            .env("CALLCAST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("callcast starts");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut http = None;
        let mut session_url = None;
        while http.is_none() || session_url.is_none() {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the demo prints its banner");
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some("http"), Some(url)) => http = Some(url.to_string()),
                (Some("session"), Some(url)) => session_url = Some(url.to_string()),
                _ => {}
            }
        }
        Demo {
            child,
            http: http.unwrap(),
            session_url: session_url.unwrap(),
            stdout: rx,
        }
    }

    /// Waits for the demo to exit by itself; returns its exit code.
    pub fn wait(mut self, timeout: Duration) -> i32 {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while self.stdout.try_recv().is_ok() {}
                return status.code().unwrap_or(-1);
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the demo did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

pub fn ffprobe_json(path: &Path, args: &[&str]) -> serde_json::Value {
    let out = run(Command::new("ffprobe")
        .args(["-v", "error", "-of", "json"])
        .args(args)
        .arg(path));
    serde_json::from_slice(&out).expect("ffprobe prints JSON")
}

/// Runs a tool to the end and returns its stdout; panics with its stderr
/// if it fails.
fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("the tool runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// (codec_type, codec_name) of every stream.
pub fn streams(path: &Path) -> Vec<(String, String)> {
    let v = ffprobe_json(path, &["-show_entries", "stream=codec_type,codec_name"]);
    v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["codec_type"].as_str().unwrap().to_string(),
                s["codec_name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub fn duration_s(path: &Path) -> f64 {
    let v = ffprobe_json(path, &["-show_entries", "format=duration"]);
    v["format"]["duration"].as_str().unwrap().parse().unwrap()
}

/// Presentation times of every video packet, in file order.
pub fn video_pts(path: &Path) -> Vec<f64> {
    let v = ffprobe_json(
        path,
        &["-select_streams", "v:0", "-show_entries", "packet=pts_time"],
    );
    v["packets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["pts_time"].as_str().unwrap().parse().unwrap())
        .collect()
}

pub struct Frame {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

impl Frame {
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// The colour that covers most of `rect`: the per-channel median over
    /// a grid of points, so the ball, the name and the lines drawn on a
    /// participant's pattern do not count.
    pub fn dominant(&self, rect: Rect) -> [u8; 3] {
        let mut channels = [vec![], vec![], vec![]];
        for i in 0..16 {
            for j in 0..16 {
                let x = rect.x as usize + (rect.width as usize * (2 * i + 1)) / 32;
                let y = rect.y as usize + (rect.height as usize * (2 * j + 1)) / 32;
                let p = self.pixel(x, y);
                for c in 0..3 {
                    channels[c].push(p[c]);
                }
            }
        }
        channels.map(|mut v| {
            v.sort_unstable();
            v[v.len() / 2]
        })
    }
}

/// Decodes the frame shown at `at_s` seconds (negative: from the end).
pub fn frame_at(path: &Path, at_s: f64) -> Frame {
    let v = ffprobe_json(
        path,
        &[
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height",
        ],
    );
    let (Some(width), Some(height)) = (
        v["streams"][0]["width"].as_u64(),
        v["streams"][0]["height"].as_u64(),
    ) else {
        panic!(
            "no video stream in {} ({} bytes): {:?}",
            path.display(),
            std::fs::metadata(path).map(|m| m.len()).unwrap_or(0),
            streams(path)
        );
    };
    let (width, height) = (width as usize, height as usize);
    let seek = if at_s < 0.0 {
        vec!["-sseof".to_string(), format!("{at_s}")]
    } else {
        vec!["-ss".to_string(), format!("{at_s}")]
    };
    let out = run(Command::new("ffmpeg")
        .args(["-v", "error"])
        .args(&seek)
        .arg("-i")
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]));
    let size = width * height * 3;
    assert!(out.len() >= size, "no frame decoded at {at_s}");
    // With a seek from the end every remaining frame comes out: keep the last.
    let last = out.len() / size - 1;
    let rgb = if at_s < 0.0 {
        out[last * size..(last + 1) * size].to_vec()
    } else {
        out[..size].to_vec()
    };
    Frame { width, height, rgb }
}

/// Every frame of the recording's video, resampled to `fps` and scaled to
/// `width`x`height`.
pub fn frames(path: &Path, fps: u32, width: usize, height: usize) -> Vec<Frame> {
    let out = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-vf", &format!("fps={fps},scale={width}:{height}")])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]));
    out.chunks_exact(width * height * 3)
        .map(|rgb| Frame {
            width,
            height,
            rgb: rgb.to_vec(),
        })
        .collect()
}

/// The palette index closest to `rgb`, if it is close at all.
pub fn palette_index(rgb: [u8; 3]) -> Option<usize> {
    let dist = |c: &(u8, u8, u8)| {
        let d = |a: u8, b: u8| (a as i32 - b as i32).pow(2);
        d(rgb[0], c.0) + d(rgb[1], c.1) + d(rgb[2], c.2)
    };
    let (index, best) = PALETTE
        .iter()
        .enumerate()
        .min_by_key(|(_, c)| dist(c))
        .unwrap();
    (dist(best) < 50 * 50).then_some(index)
}

/// Mono 48 kHz samples of the whole audio track.
pub fn audio_samples(path: &Path) -> Vec<f32> {
    run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-vn", "-ac", "1", "-ar", "48000", "-f", "f32le", "-"]))
    .chunks_exact(4)
    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    .collect()
}

pub fn rms(samples: &[f32]) -> f64 {
    (samples.iter().map(|s| (*s as f64).powi(2)).sum::<f64>() / samples.len().max(1) as f64).sqrt()
}

/// Power of one frequency in `samples` (Goertzel), normalised by length.
pub fn tone_power(samples: &[f32], rate: f64, freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / rate;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = x as f64 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (samples.len() as f64).powi(2)
}

/// GETs `url` and parses the JSON body; returns (status, body).
pub fn get_json(url: &str) -> (u16, serde_json::Value) {
    get_json_with(url, None)
}

/// [`get_json`] with a bearer token.
pub fn get_json_with(url: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut req = reqwest::Client::new().get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.expect("the API answers");
        let status = resp.status().as_u16();
        let body = resp.json().await.expect("the API answers JSON");
        (status, body)
    })
}

/// The (local, remote) addresses of every TCP and UDP socket process `pid`
/// has open, read from /proc.
pub fn socket_addresses(pid: u32) -> Vec<(std::net::IpAddr, std::net::IpAddr)> {
    let inodes: std::collections::HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(
                link.strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let mut out = Vec::new();
    for table in ["tcp", "udp", "tcp6", "udp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 9 && inodes.contains(cols[9]) {
                out.push((proc_net_ip(cols[1]), proc_net_ip(cols[2])));
            }
        }
    }
    out
}

/// Decodes `HEX:PORT` from /proc/net/*: IPv4 as one little-endian word,
/// IPv6 as four.
fn proc_net_ip(field: &str) -> std::net::IpAddr {
    let hex = field.split(':').next().unwrap();
    let words: Vec<u32> = (0..hex.len() / 8)
        .map(|i| u32::from_str_radix(&hex[i * 8..i * 8 + 8], 16).unwrap())
        .collect();
    match words.as_slice() {
        [w] => std::net::Ipv4Addr::from(w.swap_bytes()).into(),
        ws => {
            let mut bytes = [0u8; 16];
            for (i, w) in ws.iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
            std::net::Ipv6Addr::from(bytes).into()
        }
    }
}

/// The participants (palette indices) whose colours fill the `n` cells of
/// the default grid on a 1280x720 program at `at_s`, sorted: SFUs do not
/// always list people in join order.
pub fn participants_at(mp4: &Path, at_s: f64, n: usize) -> Vec<Option<usize>> {
    use callcast::media::layout::{Canvas, LayoutConfig, grid};
    let canvas = Canvas {
        width: 1280,
        height: 720,
    };
    let frame = frame_at(mp4, at_s);
    let mut seen: Vec<_> = grid(n, canvas, &LayoutConfig::default())
        .into_iter()
        .map(|tile| palette_index(frame.dominant(tile)))
        .collect();
    seen.sort();
    seen
}

/// The participant colour filling most of the frame at `at_s` s of a
/// one-participant recording, decoded from the start (no seeking: exact
/// for any container, however indexed).
pub fn colour_at(path: &Path, at_s: f64) -> Option<usize> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args([
            "-ss",
            &format!("{at_s}"),
            "-frames:v",
            "1",
            "-vf",
            "scale=64:36",
        ])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    assert_eq!(
        out.stdout.len(),
        64 * 36 * 3,
        "{} at {at_s} s: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut counts = std::collections::HashMap::new();
    for px in out.stdout.chunks(3) {
        if let Some(i) = palette_index([px[0], px[1], px[2]]) {
            *counts.entry(i).or_insert(0) += 1;
        }
    }
    // Most of the frame, with the name label and moving bar aside.
    counts
        .into_iter()
        .find(|(_, n)| *n > 64 * 36 / 3)
        .map(|(i, _)| i)
}

/// Video PTS strictly increase and never jump more than `max_gap_s`;
/// returns the last one.
pub fn assert_continuous_video(mp4: &Path, max_gap_s: f64) -> f64 {
    let pts = video_pts(mp4);
    assert!(
        pts.windows(2).all(|w| w[1] > w[0]),
        "video PTS not monotonic"
    );
    let gap = pts.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
    assert!(gap <= max_gap_s, "a {gap} s gap in the video");
    pts.last().copied().unwrap_or(0.0)
}

/// A running `callcast serve` on a free port.
pub struct Serve {
    pub child: Child,
    pub url: String,
    /// The server's own state directory, unless the test names one.
    _state: Option<tempfile::TempDir>,
}

impl Serve {
    pub fn start() -> Serve {
        Serve::start_with(&[], &[])
    }

    /// With more options and environment variables.
    pub fn start_with(args: &[&str], envs: &[(&str, &str)]) -> Serve {
        Serve::start_logging(args, envs, Stdio::inherit())
    }

    /// With its log (stderr) going to `log`.
    pub fn start_logging(args: &[&str], envs: &[(&str, &str)], log: impl Into<Stdio>) -> Serve {
        // CALLCAST_SERVE_WRAPPER runs the server under a tool (`heaptrack`,
        // `valgrind --tool=massif`) to look into a test.
        let wrapper = std::env::var("CALLCAST_SERVE_WRAPPER").unwrap_or_default();
        let mut wrapper = wrapper.split_whitespace();
        let mut cmd = match wrapper.next() {
            Some(tool) => {
                let mut cmd = Command::new(tool);
                cmd.args(wrapper).arg(env!("CARGO_BIN_EXE_callcast"));
                cmd
            }
            None => Command::new(env!("CARGO_BIN_EXE_callcast")),
        };
        // A journal of its own, not the user's (~/.local/state/callcast).
        let state = (!args.contains(&"--state-dir")).then(|| tempfile::tempdir().unwrap());
        let state_args = state
            .iter()
            .flat_map(|d| ["--state-dir".as_ref(), d.path().as_os_str()]);
        let mut child = dies_with_test(&mut cmd)
            .args([
                "serve",
                "--http",
                "127.0.0.1:0",
                "--ice-address",
                "127.0.0.1",
            ])
            .args(args)
            .args(state_args)
            .env("CALLCAST_LOG", "info")
            // An S3 output without an endpoint or keys (the fuzzed API
            // makes some) would try AWS itself and the instance metadata
            // address; tests stay on loopback.
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines.next().expect("serve prints its banner").unwrap();
            if let Some(url) = line.trim().strip_prefix("http") {
                break url.trim().to_string();
            }
        };
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Serve {
            child,
            url,
            _state: state,
        }
    }
}

impl Serve {
    /// Starts a session with `body`; returns its absolute URL.
    pub async fn create_session(&self, http: &reqwest::Client, body: &serde_json::Value) -> String {
        let resp = http
            .post(format!("{}/v1/sessions", self.url))
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 201);
        format!(
            "{}{}",
            self.url,
            resp.headers()["location"].to_str().unwrap()
        )
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// Sends an API request; returns the status and the JSON body (null if
/// there is none).
pub async fn send(req: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(serde_json::Value::Null))
}

/// `path` holds one H.264 video and one AAC audio stream.
pub fn assert_h264_aac(path: &Path) {
    let mut kinds = streams(path);
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("audio".to_string(), "aac".to_string()),
            ("video".to_string(), "h264".to_string())
        ],
        "{}",
        path.display()
    );
}

/// Polls `check` until it holds; fails the test after `timeout`.
pub async fn wait_for(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls output `url` (`.../sessions/{id}/outputs/{oid}`) until `check`
/// holds for it; fails the test after `timeout` with its last state and
/// its session's (every output's bytes tell a stalled program from a
/// stalled output).
pub async fn wait_for_output(
    http: &reqwest::Client,
    url: &str,
    what: &str,
    timeout: Duration,
    check: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let (_, output) = send(http.get(url)).await;
        if check(&output) {
            return output;
        }
        if std::time::Instant::now() >= deadline {
            let session = url.rsplit_once("/outputs/").map_or(url, |(s, _)| s);
            let (_, info) = send(http.get(session)).await;
            panic!("timed out waiting for {what}: {output}\nsession: {info}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The output is live and has written.
pub fn live(output: &serde_json::Value) -> bool {
    output["state"] == "live" && output["bytes"].as_u64().unwrap_or(0) > 0
}

/// POSTs each bad body to `url`: every one is a 422 naming its field.
/// Returns the error bodies.
pub async fn assert_rejected(
    http: &reqwest::Client,
    url: &str,
    cases: &[(serde_json::Value, &str)],
) -> Vec<serde_json::Value> {
    let mut errors = Vec::new();
    for (bad, field) in cases {
        let (status, err) = send(http.post(url).json(bad)).await;
        assert_eq!(
            (status, err["error"]["field"].as_str()),
            (422, Some(*field)),
            "{bad}: {err}"
        );
        errors.push(err);
    }
    errors
}

/// A demo room server with synthetic participants in it, for sessions
/// started over the API.
pub struct TestRoom {
    pub server: callcast_signalling::room::RoomServer,
    participants: Vec<callcast::synth::SyntheticParticipant>,
}

impl TestRoom {
    /// `people`: (room name, participant index) for each participant.
    pub async fn start(people: &[(&str, usize)]) -> TestRoom {
        TestRoom::start_at("127.0.0.1:0".parse().unwrap(), people).await
    }

    /// On `addr` (a room coming back where it was).
    pub async fn start_at(addr: std::net::SocketAddr, people: &[(&str, usize)]) -> TestRoom {
        callcast::media::init().unwrap();
        // The room and its participants run in the test process: their
        // warnings show with the test's output when it fails.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "info".into()),
            )
            .try_init();
        let server = callcast_signalling::room::RoomServer::bind(addr)
            .await
            .unwrap();
        let mut participants = Vec::new();
        for (room, index) in people {
            participants.push(
                callcast::synth::SyntheticParticipant::join(
                    &server.url(),
                    room,
                    callcast::synth::SynthSpec::demo(*index),
                    callcast::config::IceConfig::loopback(),
                )
                .await
                .unwrap(),
            );
        }
        TestRoom {
            server,
            participants,
        }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    /// The `i`th participant started.
    pub fn participant(&self, i: usize) -> &callcast::synth::SyntheticParticipant {
        &self.participants[i]
    }

    pub async fn stop(self) {
        for p in self.participants {
            p.leave().await;
        }
        self.server.shutdown().await;
    }
}

/// The body of a session that joins `room` of the callcast room server at
/// `url` and records it to `mp4`.
pub fn recording_of(url: &str, room: &str, mp4: &Path) -> serde_json::Value {
    serde_json::json!({
        "room": {"adapter": "callcast", "url": url, "room": room},
        "outputs": [{"kind": "record", "location": format!("file://{}", mp4.display())}],
    })
}

/// A session that records a room of synthetic participants to a file:
/// what the rendered-frame tests start from.
pub struct Recorded {
    pub serve: Serve,
    pub http: reqwest::Client,
    pub room: TestRoom,
    /// The session's URL, and its layout's.
    pub session: String,
    pub layout: String,
    mp4: std::path::PathBuf,
    dir: tempfile::TempDir,
}

/// A recording once its session has ended.
pub struct Finished {
    pub mp4: std::path::PathBuf,
    /// When the session was told to stop: about where the recording ends.
    pub stopped: Instant,
    _dir: tempfile::TempDir,
}

impl Recorded {
    /// `people` as for [`TestRoom::start`] (all in one room); the session
    /// lays them out as `layout` says (`Value::Null`: the default).
    pub async fn start(people: &[(&str, usize)], layout: serde_json::Value) -> Recorded {
        let serve = Serve::start();
        let http = reqwest::Client::new();
        let room = TestRoom::start(people).await;
        let dir = tempfile::tempdir().unwrap();
        let mp4 = dir.path().join("program.mp4");
        let mut body = recording_of(&room.url(), people[0].0, &mp4);
        if !layout.is_null() {
            body["layout"] = layout;
        }
        let session = serve.create_session(&http, &body).await;
        let layout = format!("{session}/layout");
        Recorded {
            serve,
            http,
            room,
            session,
            layout,
            mp4,
            dir,
        }
    }

    /// Waits for `n` tiles that all satisfy `pred` and returns the layout;
    /// on timeout, says what the session showed instead.
    pub async fn tiles(
        &self,
        n: usize,
        pred: &(dyn Fn(&serde_json::Value) -> bool + Sync),
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, l) = send(self.http.get(&self.layout)).await;
            if l["tiles"]
                .as_array()
                .is_some_and(|t| t.len() == n && t.iter().all(pred))
            {
                return l;
            }
            if Instant::now() > deadline {
                let (_, info) = send(self.http.get(&self.session)).await;
                panic!("timed out waiting for the tiles: {l}\nsession: {info}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ends the session, then the room.
    pub async fn finish(self) -> Finished {
        let stopped = Instant::now();
        let (status, body) = send(self.http.delete(&self.session)).await;
        assert_eq!(status, 200, "{body}");
        self.room.stop().await;
        Finished {
            mp4: self.mp4,
            stopped,
            _dir: self.dir,
        }
    }
}

/// Row `y` of every frame of the recording's video, in order. (Cut two
/// rows high from an even one: 4:2:0 cannot be cut thinner.)
pub fn rows(path: &Path, y: u32) -> Vec<Vec<[u8; 3]>> {
    let (top, skip) = (y & !1, (y & 1) as usize);
    let v = ffprobe_json(
        path,
        &["-select_streams", "v:0", "-show_entries", "stream=width"],
    );
    let width = v["streams"][0]["width"].as_u64().expect("a video stream") as usize;
    let out = run(Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-vf", &format!("crop={width}:2:0:{top}")])
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]));
    out.chunks_exact(width * 3 * 2)
        .map(|pair| {
            pair[skip * width * 3..(skip + 1) * width * 3]
                .chunks_exact(3)
                .map(|p| [p[0], p[1], p[2]])
                .collect()
        })
        .collect()
}

/// A tile's rectangle as `GET .../layout` gives it.
pub fn tile_rect(tile: &serde_json::Value) -> Rect {
    let n = |k: &str| {
        tile[k]
            .as_i64()
            .unwrap_or_else(|| panic!("no {k} in {tile}"))
    };
    Rect {
        x: n("x") as i32,
        y: n("y") as i32,
        width: n("width") as u32,
        height: n("height") as u32,
    }
}

/// Where in a recording (seconds from its start) the middle of a phase
/// falls that began at `at` and lasted `phase`, given the recording's
/// length `end_s` and that it ended about when the session was told to
/// stop at `stopped`.
pub fn phase_middle(end_s: f64, stopped: Instant, at: Instant, phase: Duration) -> f64 {
    end_s - (stopped - at - phase / 2).as_secs_f64()
}
