//! A real Janus for a test: its own network namespace (Janus never gathers
//! loopback candidates) with a veth pair as its network, a config written
//! for the test, and helpers to run `callcast` inside the namespace.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Janus's address inside the namespace; callcast and the publishers
/// gather ICE on it too.
pub const ADDR: &str = "10.203.0.1";
pub const ROOM: &str = "1234";
pub const ROOM_SECRET: &str = "test-room-secret";
/// A second room that needs a PIN.
pub const PINNED_ROOM: &str = "4321";
pub const PIN: &str = "let-me-in";

pub struct JanusNet {
    pub ns: String,
    dir: tempfile::TempDir,
    janus: Option<Child>,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {}: {} (Janus tests need root for network namespaces)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl JanusNet {
    /// Creates the namespace and starts Janus in it.
    pub fn start() -> JanusNet {
        JanusNet::start_with("")
    }

    /// Janus requiring HMAC-signed API tokens made with `secret`.
    pub fn start_with_token_auth(secret: &str) -> JanusNet {
        JanusNet::start_with(&format!(
            "token_auth = true\n    token_auth_secret = \"{secret}\""
        ))
    }

    /// `general` is added to the general section of janus.jcfg.
    fn start_with(general: &str) -> JanusNet {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let ns = format!(
            "cc-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        ip(&["netns", "add", &ns]);
        let net = JanusNet {
            ns: ns.clone(),
            dir: tempfile::tempdir().unwrap(),
            janus: None,
        };
        for args in [
            vec!["link", "set", "lo", "up"],
            vec![
                "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
            ],
            vec!["addr", "add", "10.203.0.1/24", "dev", "veth0"],
            vec!["addr", "add", "10.203.0.2/24", "dev", "veth1"],
            vec!["link", "set", "veth0", "up"],
            vec!["link", "set", "veth1", "up"],
            vec![
                "route",
                "add",
                "default",
                "via",
                "10.203.0.2",
                "dev",
                "veth0",
            ],
        ] {
            let mut full = vec!["-n", ns.as_str()];
            full.extend(args);
            ip(&full);
        }
        write_config(net.dir.path(), general);
        let mut net = net;
        net.start_janus();
        net
    }

    pub fn url(&self) -> String {
        format!("ws://{ADDR}:8188")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// (Re)starts Janus and waits until its websocket port answers.
    pub fn start_janus(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("janus.log"))
            .unwrap();
        let child = self
            .command("janus")
            .arg("-F")
            .arg(self.dir.path())
            .arg("-C")
            .arg(self.dir.path().join("janus.jcfg"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("janus starts (is the janus package installed?)");
        self.janus = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let up = self
                .command("bash")
                .args(["-c", &format!("exec 3<>/dev/tcp/{ADDR}/8188")])
                .stderr(Stdio::null())
                .status()
                .unwrap()
                .success();
            if up {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "Janus did not start: see {}",
                self.dir.path().join("janus.log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills Janus at once (SIGKILL).
    pub fn kill_janus(&mut self) {
        if let Some(mut j) = self.janus.take() {
            let _ = j.kill();
            let _ = j.wait();
        }
    }

    /// `program` run inside the namespace.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("ip");
        super::dies_with_test(&mut cmd)
            .args(["netns", "exec", &self.ns])
            .arg(program);
        cmd
    }

    /// `callcast <args>` inside the namespace.
    pub fn callcast(&self, args: &[&str]) -> Command {
        let mut cmd = self.command(env!("CARGO_BIN_EXE_callcast"));
        cmd.args(args);
        cmd
    }

    /// Starts `callcast join` recording the test room to `record` for
    /// `duration_s`.
    pub fn join(&self, record: &Path, duration_s: u32) -> super::Demo {
        let args = self.join_args(record, duration_s);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        super::Demo::spawn(self.callcast(&args))
    }

    /// `callcast join` recording the test room to `record`.
    pub fn join_args(&self, record: &Path, duration_s: u32) -> Vec<String> {
        self.join_args_in(ROOM, record, duration_s)
    }

    pub fn join_args_in(&self, room: &str, record: &Path, duration_s: u32) -> Vec<String> {
        [
            "join",
            "--url",
            &self.url(),
            "--room",
            room,
            "--ice-address",
            ADDR,
            "--http",
            "127.0.0.1:0",
            "--record",
            record.to_str().unwrap(),
            "--duration",
            &duration_s.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    /// Publishes `count` synthetic participants starting at `first` (their
    /// names, colours and tones) over WebRTC and waits until they publish.
    pub fn publishers(&self, first: usize, count: usize) -> Publishers {
        self.loadgen(&[
            "--participants",
            &count.to_string(),
            "--first",
            &first.to_string(),
        ])
    }

    /// `count` remote publishers fed with plain RTP, small and slow to keep
    /// the machine free for callcast.
    pub fn remote_publishers(&self, count: usize) -> Publishers {
        self.rtp_publishers(0, count, &["--size", "320x180"])
    }

    /// Remote publishers from index `first`, at 10 fps, with `extra`
    /// loadgen options.
    pub fn rtp_publishers(&self, first: usize, count: usize, extra: &[&str]) -> Publishers {
        let (first, count) = (first.to_string(), count.to_string());
        let mut args = vec![
            "--mode",
            "rtp",
            "--secret",
            ROOM_SECRET,
            "--participants",
            &count,
            "--first",
            &first,
            "--fps",
            "10",
        ];
        args.extend(extra);
        self.loadgen(&args)
    }

    fn loadgen(&self, extra: &[&str]) -> Publishers {
        self.loadgen_in(ROOM, extra)
    }

    /// `callcast loadgen` into `room` with `extra` options; waits until
    /// its participants publish.
    pub fn loadgen_in(&self, room: &str, extra: &[&str]) -> Publishers {
        self.loadgen_with(room, extra, &[])
    }

    /// `callcast loadgen` with extra environment variables.
    pub fn loadgen_with(&self, room: &str, extra: &[&str], env: &[(&str, &str)]) -> Publishers {
        let url = self.url();
        let mut args = vec![
            "loadgen",
            "--janus",
            &url,
            "--room",
            room,
            "--ice-address",
            ADDR,
        ];
        args.extend(extra);
        let mut child = self
            .callcast(&args)
            .envs(env.iter().copied())
            .env("CALLCAST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("callcast loadgen starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        loop {
            match lines.next() {
                Some(Ok(line)) if line.starts_with("loadgen:") => break,
                Some(Ok(_)) => continue,
                _ => panic!("loadgen exited before publishing"),
            }
        }
        // Keep draining so the process never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.map_while(Result::ok) {});
        Publishers { child }
    }
}

impl Drop for JanusNet {
    fn drop(&mut self) {
        self.kill_janus();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// A `callcast loadgen` process.
pub struct Publishers {
    child: Child,
}

impl Publishers {
    /// They leave the room (SIGTERM) and exit.
    pub fn leave(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Publishers {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_config(dir: &Path, general: &str) {
    // The configuration scripts/bench-janus uses too, filled in.
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/janus");
    let read = |name: &str| std::fs::read_to_string(conf.join(name)).unwrap();
    let lib = janus_lib_dir();
    let general = format!("debug_level = 4\n    session_timeout = 60\n    {general}");
    std::fs::write(
        dir.join("janus.jcfg"),
        read("janus.jcfg")
            .replace("@DIR@", &dir.display().to_string())
            .replace("@LIB@", &lib.display().to_string())
            .replace("@GENERAL@", &general),
    )
    .unwrap();
    std::fs::write(
        dir.join("janus.transport.websockets.jcfg"),
        read("janus.transport.websockets.jcfg").replace("@ADDR@", ADDR),
    )
    .unwrap();
    std::fs::write(
        dir.join("janus.plugin.videoroom.jcfg"),
        format!(
            "general: {{ }}\nroom-{ROOM}: {{ description = \"callcast test\" secret = \"{ROOM_SECRET}\" publishers = 60 bitrate = 512000 fir_freq = 10 audiolevel_event = true audio_active_packets = 50 audio_level_average = 40 }}\nroom-{PINNED_ROOM}: {{ description = \"pinned\" pin = \"{PIN}\" secret = \"{ROOM_SECRET}\" publishers = 6 }}\n"
        ),
    )
    .unwrap();
}

/// Where Debian puts Janus's plugins: /usr/lib/<multiarch>/janus.
fn janus_lib_dir() -> PathBuf {
    std::fs::read_dir("/usr/lib")
        .unwrap()
        .filter_map(|e| Some(e.ok()?.path().join("janus")))
        .find(|p| p.join("plugins").is_dir())
        .expect("Janus's plugins are installed (apt package janus)")
}
