//! RTMP: FLV over rtmp2sink to any number of URLs.
//!
//! ```text
//! video ─ queue ─┐
//!                flvmux ─ tee ─┬─ link bin: queue ─ rtmp2sink (URL 1)
//! audio ─ queue ─┘             └─ link bin: queue ─ rtmp2sink (URL 2)
//! ```
//!
//! Each URL is a link bin of its own behind a contained ghost pad, so a
//! server that goes away fails only its link. The link's error is handled
//! here rather than failing the output: the link is rebuilt after a
//! backoff (a fresh rtmp2sink dials again) and shows `reconnecting` until
//! bytes flow again. A monitor thread owns those rebuilds and reads each
//! sink's byte counters; the bus handler only records the failure.

pub mod url;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use gst::prelude::*;
use serde::Serialize;

use super::{OutputBin, OutputState, add_sink_pad, entry_queue, probe_eos};
use crate::media::{MediaError, link_chain, make};
use url::LinkState;

/// How often the monitor looks at the links.
const TICK: Duration = Duration::from_millis(200);
/// How long a removed URL gets to send its last bytes and close.
const LINK_DRAIN: Duration = Duration::from_secs(2);

/// One URL as the API shows it: masked, with its connection state.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct UrlStatus {
    pub url: String,
    #[serde(flatten)]
    pub state: LinkState,
    /// Bytes sent to this URL over all its connections.
    pub bytes: u64,
}

/// A URL's elements while it is dialled.
struct Branch {
    bin: gst::Bin,
    sink: gst::Element,
    tee_pad: gst::Pad,
    /// Set when the sink saw EOS.
    ended: Arc<(Mutex<bool>, Condvar)>,
}

struct Link {
    id: u64,
    /// The full URL, stream key included: never logged or shown.
    url: String,
    branch: Option<Branch>,
    state: LinkState,
    retry_at: Option<Instant>,
    /// Bytes of earlier connections plus the current one's at last look.
    bytes_before: u64,
    bytes_now: u64,
}

impl Link {
    fn status(&self) -> UrlStatus {
        UrlStatus {
            url: url::redact(&self.url),
            state: self.state.clone(),
            bytes: self.bytes_before + self.bytes_now,
        }
    }
}

/// The links and what the monitor thread needs to rebuild them.
struct Links {
    bin: gst::Bin,
    tee: gst::Element,
    state: Mutex<Vec<Link>>,
    next_id: std::sync::atomic::AtomicU64,
    stop: AtomicBool,
    wake: (Mutex<()>, Condvar),
}

pub struct RtmpOutput {
    bin: gst::Bin,
    /// The mux's inputs, where the manager watches.
    inputs: Vec<gst::Pad>,
    links: Arc<Links>,
    monitor: Mutex<Option<JoinHandle<()>>>,
}

impl RtmpOutput {
    pub fn new(name: &str, urls: &[String]) -> Result<Self, MediaError> {
        check(urls).map_err(|(f, m)| MediaError::Output(format!("{f}: {m}")))?;
        let bin = gst::Bin::builder().name(name).build();
        let mux = make("flvmux", None)?;
        // Live FLV: no index or duration to rewrite at the end.
        mux.set_property("streamable", true);
        // Waits this long for the slower encoder before interleaving.
        mux.set_property("latency", (500 * gst::ClockTime::MSECOND).nseconds());
        let tee = make("tee", None)?;
        tee.set_property("allow-not-linked", true);
        let video_queue = entry_queue(2)?;
        let audio_queue = entry_queue(2)?;
        bin.add_many([&video_queue, &audio_queue, &mux, &tee])
            .map_err(|_| MediaError::Link("rtmp elements".into()))?;
        link_chain(&[&mux, &tee])?;
        for (queue, pad) in [(&video_queue, "video"), (&audio_queue, "audio")] {
            let mux_pad = mux
                .request_pad_simple(pad)
                .ok_or_else(|| MediaError::Link(format!("flvmux {pad} pad")))?;
            queue
                .static_pad("src")
                .expect("queue src")
                .link(&mux_pad)
                .map_err(|e| MediaError::Link(format!("rtmp {pad}: {e:?}")))?;
            add_sink_pad(&bin, pad, &queue.static_pad("sink").expect("queue sink"))?;
        }

        let links = Arc::new(Links {
            bin: bin.clone(),
            tee: tee.clone(),
            state: Mutex::new(Vec::new()),
            next_id: 0.into(),
            stop: AtomicBool::new(false),
            wake: (Mutex::new(()), Condvar::new()),
        });
        for u in urls {
            links.add(u)?;
        }
        let weak = Arc::downgrade(&links);
        let monitor = std::thread::Builder::new()
            .name(format!("rtmp-{name}"))
            .spawn(move || monitor(weak))
            .map_err(|e| MediaError::Output(format!("rtmp monitor: {e}")))?;
        Ok(RtmpOutput {
            bin,
            inputs: [&video_queue, &audio_queue]
                .map(|q| q.static_pad("src").expect("queue src"))
                .to_vec(),
            links,
            monitor: Mutex::new(Some(monitor)),
        })
    }

    /// Makes the URL list `urls`: new URLs are dialled, missing ones closed,
    /// the others left alone. Blocks while closing.
    pub fn set_urls(&self, urls: &[String]) -> Result<(), MediaError> {
        check(urls).map_err(|(f, m)| MediaError::Output(format!("{f}: {m}")))?;
        let gone: Vec<Link> = {
            let mut links = self.links.state.lock().unwrap();
            let (keep, gone) = std::mem::take(&mut *links)
                .into_iter()
                .partition(|l| urls.contains(&l.url));
            *links = keep;
            gone
        };
        for link in gone {
            tracing::info!(url = %url::redact(&link.url), "rtmp url removed");
            // Only a live connection has a stream to end cleanly.
            let drain = match link.state {
                LinkState::Live => LINK_DRAIN,
                _ => Duration::ZERO,
            };
            if let Some(branch) = link.branch {
                self.links.close(branch, drain);
            }
        }
        let known: Vec<String> = {
            let links = self.links.state.lock().unwrap();
            links.iter().map(|l| l.url.clone()).collect()
        };
        for u in urls.iter().filter(|u| !known.contains(u)) {
            tracing::info!(url = %url::redact(u), "rtmp url added");
            self.links.add(u)?;
        }
        Ok(())
    }

    pub fn urls(&self) -> Vec<UrlStatus> {
        self.links
            .state
            .lock()
            .unwrap()
            .iter()
            .map(Link::status)
            .collect()
    }

    fn stop_monitor(&self) {
        self.links.stop.store(true, Ordering::SeqCst);
        self.links.wake.1.notify_all();
        if let Some(handle) = self.monitor.lock().unwrap().take() {
            let _ = handle.join();
        }
    }
}

impl Drop for RtmpOutput {
    fn drop(&mut self) {
        self.stop_monitor();
    }
}

/// Checks an RTMP output's URL list; the error names the entry.
pub fn check(urls: &[String]) -> Result<(), (String, String)> {
    if urls.is_empty() {
        return Err(("urls".into(), "at least one URL".into()));
    }
    for (i, u) in urls.iter().enumerate() {
        url::check(u).map_err(|m| (format!("urls[{i}]"), m))?;
        if urls[..i].contains(u) {
            return Err((format!("urls[{i}]"), "listed twice".into()));
        }
    }
    Ok(())
}

impl Links {
    fn add(&self, url: &str) -> Result<(), MediaError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let branch = self.open(id, url)?;
        self.state.lock().unwrap().push(Link {
            id,
            url: url.to_string(),
            branch: Some(branch),
            state: LinkState::Connecting,
            retry_at: None,
            bytes_before: 0,
            bytes_now: 0,
        });
        Ok(())
    }

    /// Builds, starts and links a URL's branch.
    fn open(&self, id: u64, url: &str) -> Result<Branch, MediaError> {
        let bin = gst::Bin::builder().name(format!("url{id}")).build();
        let queue = make("queue", None)?;
        // A slow or stalled server loses its oldest media, never holds up
        // the others.
        queue.set_property_from_str("leaky", "downstream");
        queue.set_property("max-size-buffers", 0u32);
        queue.set_property("max-size-bytes", 0u32);
        queue.set_property("max-size-time", (2 * gst::ClockTime::SECOND).nseconds());
        let sink = gst::ElementFactory::make("rtmp2sink")
            .property("location", url)
            .property("async-connect", true)
            .property("sync", false)
            .property("async", false)
            .build()
            .map_err(|_| MediaError::MissingElement("rtmp2sink"))?;
        bin.add_many([&queue, &sink])
            .map_err(|_| MediaError::Link("rtmp link elements".into()))?;
        link_chain(&[&queue, &sink])?;
        add_sink_pad(&bin, "sink", &queue.static_pad("sink").expect("queue sink"))?;
        let ended = Arc::new((Mutex::new(false), Condvar::new()));
        let e = ended.clone();
        probe_eos(&sink.static_pad("sink").expect("sink pad"), move || {
            *e.0.lock().unwrap() = true;
            e.1.notify_all();
        });

        self.bin
            .add(&bin)
            .map_err(|_| MediaError::Link("rtmp link bin".into()))?;
        if bin.sync_state_with_parent().is_err() {
            let _ = bin.set_state(gst::State::Null);
            let _ = self.bin.remove(&bin);
            return Err(MediaError::State("rtmp link would not start".into()));
        }
        let tee_pad = self
            .tee
            .request_pad_simple("src_%u")
            .ok_or_else(|| MediaError::Link("rtmp tee pad".into()))?;
        if let Err(e) = tee_pad.link(&bin.static_pad("sink").expect("ghost pad")) {
            self.tee.release_request_pad(&tee_pad);
            let _ = bin.set_state(gst::State::Null);
            let _ = self.bin.remove(&bin);
            return Err(MediaError::Link(format!("rtmp link: {e:?}")));
        }
        Ok(Branch {
            bin,
            sink,
            tee_pad,
            ended,
        })
    }

    /// Unlinks a branch at a buffer boundary, lets it send what it holds
    /// and close (up to `drain`), then stops and removes it.
    fn close(&self, branch: Branch, drain: Duration) {
        let sent_eos = Arc::new(AtomicBool::new(false));
        let s = sent_eos.clone();
        branch
            .tee_pad
            .add_probe(gst::PadProbeType::BLOCK_DOWNSTREAM, move |pad, _| {
                if let Some(peer) = pad.peer() {
                    let _ = pad.unlink(&peer);
                    peer.send_event(gst::event::Eos::new());
                }
                s.store(true, Ordering::SeqCst);
                gst::PadProbeReturn::Remove
            });
        let deadline = Instant::now() + drain;
        let (lock, cvar) = &*branch.ended;
        let mut ended = lock.lock().unwrap();
        while !*ended && Instant::now() < deadline {
            ended = cvar.wait_timeout(ended, TICK).unwrap().0;
        }
        drop(ended);
        self.discard(branch);
    }

    /// Stops and removes a branch at once (its server is gone).
    fn discard(&self, branch: Branch) {
        self.tee.release_request_pad(&branch.tee_pad);
        let _ = branch.bin.set_state(gst::State::Null);
        let _ = self.bin.remove(&branch.bin);
    }

    /// A link's sink failed: record it; the monitor redials later. True if
    /// `source` belongs to one of the links.
    fn failed(&self, source: &gst::Object, reason: &str) -> bool {
        // The link is known by its bin's name, `url<id>`: its branch may
        // fail before the monitor has stored it.
        let mut child = source.clone();
        let id = loop {
            let Some(parent) = child.parent() else {
                return false;
            };
            if &parent == self.bin.upcast_ref::<gst::Object>() {
                break child
                    .name()
                    .strip_prefix("url")
                    .and_then(|n| n.parse::<u64>().ok());
            }
            child = parent;
        };
        // Not a link: the mux itself failed, and with it the output.
        let Some(id) = id else { return false };
        let mut links = self.state.lock().unwrap();
        let Some(link) = links.iter_mut().find(|l| l.id == id) else {
            // A link already removed; its error no longer matters.
            return true;
        };
        if link.retry_at.is_none() {
            let reason = url::scrub(reason, &link.url);
            let (state, wait) = link.state.failed(&reason);
            tracing::warn!(url = %url::redact(&link.url), %reason, retry_in_s = wait.as_secs_f32(), "rtmp url lost");
            link.state = state;
            link.retry_at = Some(Instant::now() + wait);
        }
        true
    }
}

/// Bytes the sink has sent over its current connection.
fn sent_bytes(sink: &gst::Element) -> u64 {
    let stats = sink.property::<gst::Structure>("stats");
    stats.get::<u64>("out-bytes-total").unwrap_or(0)
}

/// Watches byte counters and redials failed links, until the output goes.
fn monitor(links: Weak<Links>) {
    let mut last_sent: HashMap<u64, u64> = HashMap::new();
    loop {
        let Some(links) = links.upgrade() else { return };
        {
            let guard = links.wake.0.lock().unwrap();
            if links.stop.load(Ordering::SeqCst) {
                return;
            }
            let _ = links.wake.1.wait_timeout(guard, TICK).unwrap();
        }
        if links.stop.load(Ordering::SeqCst) {
            return;
        }
        // Counters first, then the links due a redial, taken out of the
        // list: state changes happen without the lock, which the
        // streaming threads' error path takes.
        let mut due = Vec::new();
        {
            let mut state = links.state.lock().unwrap();
            for link in state.iter_mut() {
                if let (Some(branch), None) = (&link.branch, link.retry_at) {
                    let sent = sent_bytes(&branch.sink);
                    let last = last_sent.insert(link.id, sent).unwrap_or(0);
                    link.bytes_now = sent;
                    if sent > last && link.state != LinkState::Live {
                        tracing::info!(url = %url::redact(&link.url), "rtmp url live");
                        link.state = link.state.sending();
                    }
                }
                if link.retry_at.is_some_and(|t| t <= Instant::now()) {
                    link.retry_at = None;
                    link.bytes_before += link.bytes_now;
                    link.bytes_now = 0;
                    last_sent.remove(&link.id);
                    due.push((link.id, link.url.clone(), link.branch.take()));
                }
            }
        }
        for (id, u, old) in due {
            if let Some(old) = old {
                links.discard(old);
            }
            let reopened = links.open(id, &u);
            let mut state = links.state.lock().unwrap();
            match (reopened, state.iter_mut().find(|l| l.id == id)) {
                (Ok(branch), Some(link)) => link.branch = Some(branch),
                // Removed from the list meanwhile.
                (Ok(branch), None) => {
                    drop(state);
                    links.discard(branch);
                }
                (Err(e), Some(link)) => {
                    let (s, wait) = link.state.failed(&e.to_string());
                    link.state = s;
                    link.retry_at = Some(Instant::now() + wait);
                }
                (Err(_), None) => {}
            }
        }
    }
}

impl OutputBin for RtmpOutput {
    fn kind(&self) -> &'static str {
        "rtmp"
    }

    fn bin(&self) -> &gst::Bin {
        &self.bin
    }

    fn target(&self) -> String {
        let links = self.links.state.lock().unwrap();
        links
            .iter()
            .map(|l| url::redact(&l.url))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The mux's inputs: links come and go, and flvmux (1.22) never ends
    /// a stream that got EOS before any data.
    fn watched_pads(&self) -> Vec<gst::Pad> {
        self.inputs.clone()
    }

    fn handle_error(&self, source: &gst::Object, reason: &str) -> bool {
        self.links.failed(source, reason)
    }

    fn live_state(&self) -> Option<OutputState> {
        let links = self.links.state.lock().unwrap();
        Some(match url::overall(links.iter().map(|l| &l.state)) {
            LinkState::Live => OutputState::Live,
            LinkState::Connecting => OutputState::Starting,
            LinkState::Reconnecting { .. } => OutputState::Reconnecting,
        })
    }

    fn urls(&self) -> Option<Vec<UrlStatus>> {
        Some(RtmpOutput::urls(self))
    }

    fn set_urls(&self, urls: &[String]) -> Option<Result<(), MediaError>> {
        Some(RtmpOutput::set_urls(self, urls))
    }

    /// Waits for every link to send its end, then stops redialling.
    fn finish(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let ends: Vec<_> = {
            let links = self.links.state.lock().unwrap();
            links
                .iter()
                .filter(|l| l.state == LinkState::Live)
                .filter_map(|l| l.branch.as_ref().map(|b| b.ended.clone()))
                .collect()
        };
        for ended in ends {
            let (lock, cvar) = &*ended;
            let mut done = lock.lock().unwrap();
            while !*done && Instant::now() < deadline {
                done = cvar.wait_timeout(done, TICK).unwrap().0;
            }
        }
        self.stop_monitor();
    }
}
