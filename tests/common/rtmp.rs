//! A real nginx with the RTMP module on a loopback port, run by the test:
//! it takes streams published to `live/<key>` and plays them back.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Nginx {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub port: u16,
}

fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Nginx {
    pub fn start() -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let port = free_tcp_port();
        let conf = format!(
            "load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;\n\
             daemon off;\nmaster_process off;\nworker_processes 1;\n\
             pid {dir}/nginx.pid;\nerror_log {dir}/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             rtmp {{\n  server {{\n    listen 127.0.0.1:{port};\n\
             \x20   application live {{ live on; record off; }}\n  }}\n}}\n",
            dir = dir.path().display()
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let mut nginx = Nginx {
            child: None,
            dir,
            port,
        };
        nginx.resume();
        nginx
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("nginx.conf")
    }

    /// Starts (again) on the same port; returns once it accepts.
    pub fn resume(&mut self) {
        assert!(self.child.is_none());
        let child = super::dies_with_test(&mut Command::new("nginx"))
            .arg("-c")
            .arg(self.conf())
            .arg("-p")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx runs (scripts/install-deps installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server: every connection drops at once.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server reading (SIGSTOP): connections stay open and
    /// back up, as a congested or hung ingest does.
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
    }

    pub fn thaw(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: i32) {
        let pid = self.child.as_ref().expect("nginx runs").id();
        // SAFETY: kill only sends a signal to our own child process.
        assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
    }

    pub fn url(&self, key: &str) -> String {
        format!("rtmp://127.0.0.1:{}/live/{key}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// Plays `key` for `seconds` into an FLV file (ffmpeg, stream copy).
    pub fn play(&self, key: &str, seconds: f64, out: &Path) -> Child {
        Command::new("ffmpeg")
            .args([
                "-nostdin",
                "-y",
                "-v",
                "error",
                "-rw_timeout",
                "10000000",
                "-i",
            ])
            .arg(self.url(key))
            .args(["-c", "copy", "-t"])
            .arg(format!("{seconds}"))
            .args(["-f", "flv"])
            .arg(out)
            .stdout(Stdio::null())
            .spawn()
            .expect("ffmpeg runs")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}
