//! Starves chosen threads of another process of CPU, through a cgroup's
//! CPU quota: a real slow stage, not a simulated one. Threads can be
//! placed one by one in cgroup v1 (their ids go in `tasks`), or in a
//! threaded cgroup v2 subtree.

use std::path::{Path, PathBuf};

pub struct Throttle {
    dir: PathBuf,
    /// Where the threads go back to.
    home: PathBuf,
    tids: Vec<u32>,
    pid: u32,
    v1: bool,
}

/// The ids of `pid`'s threads named `name`.
pub fn threads_named(pid: u32, name: &str) -> Vec<u32> {
    let mut tids = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .flatten()
    {
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            tids.push(entry.file_name().to_string_lossy().parse().unwrap());
        }
    }
    tids
}

fn write(path: &Path, value: &str) {
    std::fs::write(path, value)
        .unwrap_or_else(|e| panic!("writing {value} to {}: {e}", path.display()));
}

impl Throttle {
    /// Limits `pid`'s threads named `name` together to `percent` of one
    /// CPU. Needs root.
    pub fn threads(pid: u32, name: &str, percent: f64) -> Throttle {
        let tids = threads_named(pid, name);
        assert!(!tids.is_empty(), "no thread of {pid} is named {name}");
        let label = format!("callcast-test-{}-{pid}", std::process::id());
        let period = 1_000_000u64;
        let quota = ((period as f64) * percent / 100.0).max(1000.0) as u64;
        let v1 = Path::new("/sys/fs/cgroup/cpu/cpu.cfs_quota_us").exists();
        let (home, dir) = if v1 {
            let home = PathBuf::from("/sys/fs/cgroup/cpu");
            let dir = home.join(&label);
            std::fs::create_dir_all(&dir).unwrap();
            write(&dir.join("cpu.cfs_period_us"), &period.to_string());
            write(&dir.join("cpu.cfs_quota_us"), &quota.to_string());
            for tid in &tids {
                write(&dir.join("tasks"), &tid.to_string());
            }
            (home, dir)
        } else {
            // cgroup v2: the process moves into a domain of its own whose
            // child is threaded; only the chosen threads go in the child.
            let root = PathBuf::from("/sys/fs/cgroup");
            assert!(
                root.join("cgroup.controllers").exists(),
                "neither cgroup v1's cpu controller nor cgroup v2 is mounted"
            );
            write(&root.join("cgroup.subtree_control"), "+cpu");
            let home = root.join(&label);
            std::fs::create_dir_all(&home).unwrap();
            write(&home.join("cgroup.procs"), &pid.to_string());
            let dir = home.join("slow");
            std::fs::create_dir_all(&dir).unwrap();
            write(&dir.join("cgroup.type"), "threaded");
            write(&home.join("cgroup.subtree_control"), "+cpu");
            write(&dir.join("cpu.max"), &format!("{quota} {period}"));
            for tid in &tids {
                write(&dir.join("cgroup.threads"), &tid.to_string());
            }
            (home, dir)
        };
        Throttle {
            dir,
            home,
            tids,
            pid,
            v1,
        }
    }

    /// Gives the threads their CPU back (also when dropped).
    pub fn release(self) {}
}

impl Drop for Throttle {
    fn drop(&mut self) {
        // A thread that ended meanwhile cannot move: ignore errors.
        if self.v1 {
            for tid in &self.tids {
                let _ = std::fs::write(self.home.join("tasks"), tid.to_string());
            }
            let _ = std::fs::remove_dir(&self.dir);
        } else {
            for tid in &self.tids {
                let _ = std::fs::write(self.home.join("cgroup.threads"), tid.to_string());
            }
            let _ = std::fs::remove_dir(&self.dir);
            let _ = std::fs::write("/sys/fs/cgroup/cgroup.procs", self.pid.to_string());
            let _ = std::fs::remove_dir(&self.home);
        }
    }
}
