//! The journal of recordings being written, kept in a state directory so
//! that a recording cut off by a crash (SIGKILL, OOM kill, power loss) is
//! reported on the next start instead of being silently lost.
//!
//! Each run of the server has a directory `runs/<run>/` holding a lock
//! file, locked for as long as the run lives, and one JSON entry per
//! recording part being written; an entry goes once its part is written
//! whole (its upload completed). At start, a run whose lock is free is
//! dead: its entries move to `interrupted/`, where they stay, listed by
//! the API, until an operator dismisses them.
//!
//! A file cut off this way plays up to its last whole fragment. An S3
//! object cut off this way is an unfinished multipart upload: the parts
//! already sent stay in the store, invisible as an object, until someone
//! completes or aborts the upload. callcast reports these rather than
//! completing them: awss3sink does not say its upload id, and not every
//! store lists uploads to find it by.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ids::random_u64;

/// One recording part being written, or cut off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Entry {
    pub id: String,
    pub session: String,
    /// The output's id in its session.
    pub output: String,
    /// From 1; a recording without `max_duration_s` has one.
    pub part: u32,
    /// `file:///path` or `s3://bucket/key`.
    pub target: String,
    /// The S3 endpoint, without credentials; none for a file, or AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// When the part started (RFC 3339, UTC).
    pub started_at: String,
}

impl Entry {
    /// A new entry for part `part` of `output` in `session`, written to
    /// `target`.
    pub fn new(session: &str, output: &str, part: u32, target: String) -> Self {
        let started_at = time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        Entry {
            id: format!("{:016x}", random_u64()),
            session: session.into(),
            output: output.into(),
            part,
            target,
            endpoint: None,
            started_at,
        }
    }

    /// With the S3 endpoint `endpoint`, minus any user:password in it.
    pub fn at_endpoint(mut self, endpoint: Option<&str>) -> Self {
        self.endpoint = endpoint.map(without_userinfo);
        self
    }

    /// What is left of the part, and how to get it back.
    pub fn advice(&self) -> String {
        match self.target.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
                format!(
                    "an unfinished multipart upload: the parts sent stay in the store until the upload is completed or aborted. Find it with `aws s3api list-multipart-uploads --bucket {bucket} --prefix {key}`, list its parts with `list-parts`, then `complete-multipart-upload` (the object then plays up to its last whole fragment) or `abort-multipart-upload`"
                )
            }
            None => "a fragmented MP4 that plays up to its last whole fragment; its header has no duration".into(),
        }
    }
}

/// `scheme://user:pass@host/...` without `user:pass@`; the authority ends
/// where [`crate::api::destinations::host_of`] ends it.
fn without_userinfo(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) if !scheme.is_empty() => format!("{scheme}://{}", &rest[at + 1..]),
        Some(at) => rest[at + 1..].to_string(),
        None => url.to_string(),
    }
}

/// The journal of this run; off (a no-op) by default.
#[derive(Clone, Default)]
pub struct Journal(Option<Arc<Inner>>);

struct Inner {
    root: PathBuf,
    run: PathBuf,
    /// Locked while this run lives: how the next run tells it is gone.
    _lock: File,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(inner) => write!(f, "Journal({})", inner.root.display()),
            None => f.write_str("Journal(off)"),
        }
    }
}

impl Journal {
    /// Opens the journal in `root` (created if missing) for this run, and
    /// moves the entries of runs that are gone to `interrupted/`. Returns
    /// the journal and the entries just found interrupted.
    pub fn open(root: &Path) -> io::Result<(Journal, Vec<Entry>)> {
        let runs = root.join("runs");
        let interrupted = root.join("interrupted");
        std::fs::create_dir_all(&runs)?;
        std::fs::create_dir_all(&interrupted)?;
        // Ours is made under a hidden name and locked before it shows, so
        // that a run starting beside us never sees it unlocked.
        let name = format!("{:016x}", random_u64());
        let staging = runs.join(format!(".{name}"));
        std::fs::create_dir(&staging)?;
        let lock = File::create(staging.join("lock"))?;
        lock.try_lock().map_err(io::Error::other)?;
        let run = runs.join(name);
        std::fs::rename(&staging, &run)?;

        let mut found = Vec::new();
        for dir in std::fs::read_dir(&runs)? {
            let dir = dir?;
            let hidden = dir.file_name().to_string_lossy().starts_with('.');
            let dir = dir.path();
            if hidden || dir == run || !dir.is_dir() || !is_dead(&dir) {
                continue;
            }
            // Another run starting now may be moving the same entries:
            // what it took is its to report.
            for (path, entry) in entries(&dir) {
                let Some(name) = path.file_name() else {
                    continue;
                };
                match std::fs::rename(&path, interrupted.join(name)) {
                    Ok(()) => found.push(entry),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
        }
        found.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        let inner = Inner {
            root: root.to_path_buf(),
            run,
            _lock: lock,
        };
        Ok((Journal(Some(Arc::new(inner))), found))
    }

    pub fn enabled(&self) -> bool {
        self.0.is_some()
    }

    /// Notes that `entry` is being written, until [`Pending::done`]. A
    /// failure to note it is logged: the recording goes on regardless.
    pub fn begin(&self, entry: Entry) -> Option<Pending> {
        let inner = self.0.as_ref()?;
        let path = inner.run.join(format!("{}.json", entry.id));
        match write_atomically(&path, &entry) {
            Ok(()) => Some(Pending { path }),
            Err(error) => {
                tracing::error!(target = %entry.target, %error, "cannot note a recording in the journal: a crash would not be reported");
                None
            }
        }
    }

    /// The recordings cut off by earlier runs and not yet dismissed,
    /// oldest first.
    pub fn interrupted(&self) -> Vec<Entry> {
        let Some(inner) = &self.0 else {
            return Vec::new();
        };
        let mut all: Vec<Entry> = entries(&inner.root.join("interrupted"))
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        all.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        all
    }

    /// Forgets interrupted recording `id` (the operator has dealt with
    /// it). False if there is none.
    pub fn dismiss(&self, id: &str) -> io::Result<bool> {
        let Some(inner) = &self.0 else {
            return Ok(false);
        };
        // Ids are ours (hex); anything else names no file of ours.
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return Ok(false);
        }
        match std::fs::remove_file(inner.root.join("interrupted").join(format!("{id}.json"))) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// A part being written: its entry stays in the journal until `done`.
#[derive(Debug)]
pub struct Pending {
    path: PathBuf,
}

impl Pending {
    /// The part is written whole.
    pub fn done(self) {
        if let Err(error) = std::fs::remove_file(&self.path)
            && error.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), %error, "cannot clear a journal entry");
        }
    }
}

/// A run is gone when nobody holds its lock (or it never made one).
fn is_dead(run: &Path) -> bool {
    match File::open(run.join("lock")) {
        Ok(lock) => lock.try_lock().is_ok(),
        Err(e) => e.kind() == io::ErrorKind::NotFound,
    }
}

/// The entries in `dir`; files that are not entries are left alone.
fn entries(dir: &Path) -> Vec<(PathBuf, Entry)> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read.flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let entry = serde_json::from_slice(&std::fs::read(&p).ok()?).ok()?;
            Some((p, entry))
        })
        .collect()
}

/// Writes `entry` to `path` whole or not at all: a crash mid-write must
/// not leave a half entry.
fn write_atomically(path: &Path, entry: &Entry) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(entry)?)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(part: u32) -> Entry {
        Entry::new("s1", "record-1", part, "s3://rec/s1/part.mp4".into())
            .at_endpoint(Some("http://user:pass@127.0.0.1:9000"))
    }

    #[test]
    fn a_dead_runs_entries_are_reported_and_a_finished_part_is_not() {
        let root = tempfile::tempdir().unwrap();
        let (first, found) = Journal::open(root.path()).unwrap();
        assert!(found.is_empty());
        let cut = first.begin(entry(1)).unwrap();
        first.begin(entry(2)).unwrap().done();

        // A second run beside a live one finds nothing.
        let (second, found) = Journal::open(root.path()).unwrap();
        assert!(found.is_empty());
        assert!(second.interrupted().is_empty());

        // The first run dies without finishing part 1.
        drop(cut);
        drop(first);
        let (third, found) = Journal::open(root.path()).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].part, 1);
        assert_eq!(third.interrupted(), found);
        // Reported once: the next run lists it but does not find it anew.
        drop(second);
        let (fourth, again) = Journal::open(root.path()).unwrap();
        assert!(again.is_empty());
        assert_eq!(fourth.interrupted().len(), 1);

        assert!(fourth.dismiss(&found[0].id).unwrap());
        assert!(!fourth.dismiss(&found[0].id).unwrap());
        assert!(!fourth.dismiss("../runs").unwrap());
        assert!(fourth.interrupted().is_empty());
    }

    #[test]
    fn entries_hold_no_credentials_and_say_how_to_recover() {
        let e = entry(1);
        assert_eq!(e.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert!(e.advice().contains("--bucket rec --prefix s1/part.mp4"));
        assert_eq!(
            without_userinfo("https://s3.example.com/x@y"),
            "https://s3.example.com/x@y"
        );
        let file = Entry::new("s1", "record-1", 1, "file:///tmp/a.mp4".into());
        assert!(file.advice().contains("last whole fragment"));
    }

    #[test]
    fn off_by_default() {
        let off = Journal::default();
        assert!(!off.enabled());
        assert!(off.begin(entry(1)).is_none());
        assert!(off.interrupted().is_empty());
    }
}
