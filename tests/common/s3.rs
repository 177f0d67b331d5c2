//! A real S3 API with SigV4 authentication (s3s-fs) on a loopback port,
//! storing objects as files under a temporary directory.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "callcast-test-access";
pub const SECRET_KEY: &str = "callcast-test-secret-0123456789";

pub struct S3 {
    child: Child,
    root: tempfile::TempDir,
    pub port: u16,
    endpoint: String,
}

impl S3 {
    /// Starts s3s-fs with `buckets` created.
    pub fn start(buckets: &[&str]) -> S3 {
        let root = tempfile::tempdir().unwrap();
        for b in buckets {
            std::fs::create_dir(root.path().join(b)).unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = super::dies_with_test(&mut Command::new("s3s-fs"))
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("s3s-fs runs (scripts/install-deps installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "s3s-fs did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        S3 {
            child,
            root,
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Stops the server (SIGSTOP): requests hang, as with a store that
    /// stopped answering.
    pub fn freeze(&self) {
        self.signal(libc::SIGSTOP);
    }

    pub fn thaw(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill only sends a signal to our own child process.
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0);
    }

    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// The environment that makes this store `callcast serve`'s own:
    /// outputs that name no S3 settings write here with our keys.
    pub fn serve_env(&self) -> [(&'static str, &str); 4] {
        [
            ("CALLCAST_S3_ENDPOINT", &self.endpoint),
            ("CALLCAST_S3_PATH_STYLE", "true"),
            ("CALLCAST_S3_ACCESS_KEY_ID", ACCESS_KEY),
            ("CALLCAST_S3_SECRET_ACCESS_KEY", SECRET_KEY),
        ]
    }

    /// The `s3` object of an output, with our keys (or a wrong secret).
    pub fn settings(&self, secret: &str) -> serde_json::Value {
        serde_json::json!({
            "endpoint": self.endpoint(),
            "region": "us-east-1",
            "access_key_id": ACCESS_KEY,
            "secret_access_key": secret,
            "path_style": true,
        })
    }

    /// Where s3s-fs keeps `bucket/key`.
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.path().join(bucket).join(key)
    }

    /// The multipart uploads begun and not completed, each with the bytes
    /// of its parts. s3s-fs cannot list uploads (ListMultipartUploads),
    /// so this reads its files: `.upload_id-<id>.part-<n>` in its root.
    pub fn unfinished_uploads(&self) -> Vec<(String, u64)> {
        let mut uploads: std::collections::BTreeMap<String, u64> = Default::default();
        for entry in std::fs::read_dir(self.root.path()).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some((id, _)) = name
                .strip_prefix(".upload_id-")
                .and_then(|rest| rest.split_once(".part-"))
            {
                *uploads.entry(id.to_string()).or_default() += entry.metadata().unwrap().len();
            }
        }
        uploads.into_iter().collect()
    }

    /// Every object key in `bucket` under `prefix`, sorted.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let base = self.root.path().join(bucket);
        let mut keys = Vec::new();
        let mut dirs = vec![base.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else {
                    let key = path
                        .strip_prefix(&base)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    // s3s-fs keeps multipart uploads in progress and
                    // metadata beside the objects.
                    if key.starts_with(prefix)
                        && !key.contains(".upload")
                        && !key.ends_with(".metadata.json")
                    {
                        keys.push(key);
                    }
                }
            }
        }
        keys.sort();
        keys
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
