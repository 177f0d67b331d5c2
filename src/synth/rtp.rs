//! Cheap synthetic participants for Janus: "remote publishers" fed with
//! plain RTP (no ICE, no DTLS), many per process. Janus advertises them
//! like any other publisher, so they load the subscriber side for real.
//!
//! Janus demultiplexes a remote publisher's one RTP port by SSRC: stream
//! `mindex` arrives with SSRC 1000 + 10 * mindex (+ the simulcast layer).
//! With simulcast, the three video layers are a quarter, half and full
//! size, each drawn in the next palette colour so that a viewer can tell
//! which layer it receives.

use std::time::Duration;

use anyhow::Context;
use callcast_signalling::adapter::AdapterError;
use callcast_signalling::janus::client::JanusClient;
use callcast_signalling::janus::protocol::JanusId;
use gst::prelude::*;
use serde_json::{Value, json};
use tokio::task::{JoinHandle, spawn_blocking};

use super::SynthSpec;
use super::feedback::relay_key_frame_requests;
use super::publisher::EncodedChains;
use crate::media::{MediaError, link_chain, make};

const VIDEO_SSRC: u32 = 1000;
const AUDIO_SSRC: u32 = 1010;
/// What the publishers' RTCP (their latch onto Janus's feedback) says it
/// comes from.
const FEEDBACK_SSRC: u32 = 1099;

/// Where and how to add remote publishers.
#[derive(Clone)]
pub struct RemoteRoom {
    pub url: String,
    pub token: Option<String>,
    pub room: JanusId,
    /// The room secret: adding remote publishers is an admin request.
    pub secret: Option<String>,
    /// Janus's address to bind the RTP port on (and ours to send to).
    pub iface: String,
    /// Send video in three simulcast layers.
    pub simulcast: bool,
    /// Drop every Nth video packet before it leaves: a lossy uplink, for
    /// watching how receivers recover.
    pub drop_every: Option<u32>,
}

pub struct RemotePublishers {
    client: JanusClient,
    session: u64,
    handle: u64,
    room: RemoteRoom,
    ids: Vec<JanusId>,
    pipeline: gst::Pipeline,
    keepalive: JoinHandle<()>,
    /// Each publisher's key frame request relay.
    feedback: Vec<JoinHandle<()>>,
}

impl RemotePublishers {
    /// Adds one remote publisher per spec and starts sending their media.
    pub async fn start(room: RemoteRoom, specs: Vec<SynthSpec>) -> anyhow::Result<Self> {
        let mut me = RemotePublishers::connect(room).await?;
        for spec in specs {
            let (simulcast, drop_every) = (me.room.simulcast, me.room.drop_every);
            let branches = {
                let spec = spec.clone();
                spawn_blocking(move || encoded_branches(&spec, simulcast, drop_every)).await??
            };
            me.publish(&spec.name, branches).await?;
        }
        Ok(me)
    }

    /// Opens a Janus session for adding publishers, and a running
    /// pipeline (empty yet) to send their media from.
    pub async fn connect(room: RemoteRoom) -> anyhow::Result<Self> {
        crate::media::init()?;
        let (client, _events) = JanusClient::connect(&room.url, room.token.clone()).await?;
        let session = client.create().await?;
        let handle = client.attach(session).await?;
        let ka = client.clone();
        let keepalive = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(25));
            loop {
                tick.tick().await;
                if ka.keepalive(session).is_err() {
                    break;
                }
            }
        });
        let pipeline = gst::Pipeline::builder().name("remote-publishers").build();
        let playing = pipeline.clone();
        spawn_blocking(move || playing.set_state(gst::State::Playing))
            .await?
            .map_err(|_| MediaError::State("remote publishers would not start".into()))?;
        Ok(RemotePublishers {
            client,
            session,
            handle,
            room,
            ids: Vec::new(),
            pipeline,
            keepalive,
            feedback: Vec::new(),
        })
    }

    /// Adds a remote publisher named `name` sending what `branches` (each
    /// a chain of elements ending in an RTP payloader, with the SSRCs of
    /// [`encoded_branches`]) put out. Returns its id in the room.
    pub async fn publish(
        &mut self,
        name: &str,
        branches: Vec<Vec<gst::Element>>,
    ) -> anyhow::Result<JanusId> {
        let (id, host, port, rtcp_port) = self.add(name).await?;
        tracing::info!(%name, %id, %host, port, "remote publisher added");
        self.ids.push(id.clone());
        let tails: Vec<gst::Pad> = branches
            .iter()
            .filter_map(|b| b.last()?.static_pad("src"))
            .collect();
        // Subscribers' key frame requests come back this way, from as
        // soon as Janus knows where to send them: before the media flows.
        if let Some(rtcp) = rtcp_port
            && let Ok(ip) = host.parse::<std::net::IpAddr>()
        {
            let to = std::net::SocketAddr::new(ip, rtcp);
            let relay = relay_key_frame_requests(&self.room.iface, to, FEEDBACK_SSRC, tails)
                .await
                .context("RTCP feedback socket")?;
            self.feedback.push(relay);
        }
        let pipeline = self.pipeline.clone();
        spawn_blocking(move || send_to(&pipeline, branches, &host, port)).await??;
        Ok(id)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds a remote publisher: its id, and where its RTP goes (host,
    /// port) and its RTCP feedback comes from (port, if Janus gave one).
    async fn add(&self, name: &str) -> Result<(JanusId, String, i32, Option<u16>), AdapterError> {
        let mut body = json!({
            "request": "add_remote_publisher",
            "room": self.room.room,
            "display": name,
            "iface": self.room.iface,
            "port": 0,
            "streams": [
                {"type": "video", "mindex": 0, "mid": "0", "codec": "vp8", "simulcast": self.room.simulcast},
                {"type": "audio", "mindex": 1, "mid": "1", "codec": "opus"},
            ],
        });
        if let Some(secret) = &self.room.secret {
            body["secret"] = json!(secret);
        }
        let reply = self
            .client
            .message(self.session, self.handle, body, None)
            .await?;
        let d = &reply.data;
        let id = d
            .get("id")
            .and_then(|v| serde_json::from_value::<JanusId>(v.clone()).ok());
        let host = d.get("ip").and_then(Value::as_str);
        let port = d.get("port").and_then(Value::as_i64);
        let rtcp_port = d
            .get("rtcp_port")
            .and_then(Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .filter(|p| *p != 0);
        match (id, host, port) {
            (Some(id), Some(host), Some(port)) => {
                Ok((id, host.to_string(), port as i32, rtcp_port))
            }
            _ => Err(AdapterError::Protocol(format!(
                "add_remote_publisher answered {d}"
            ))),
        }
    }

    /// Removes every remote publisher and stops sending.
    pub async fn stop(self) {
        for id in &self.ids {
            let mut body =
                json!({"request": "remove_remote_publisher", "room": self.room.room, "id": id});
            if let Some(secret) = &self.room.secret {
                body["secret"] = json!(secret);
            }
            if let Err(e) = self
                .client
                .message(self.session, self.handle, body, None)
                .await
            {
                tracing::warn!(%id, error = %e, "cannot remove a remote publisher");
            }
        }
        self.client.destroy(self.session);
        let pipeline = self.pipeline.clone();
        let _ = spawn_blocking(move || pipeline.set_state(gst::State::Null)).await;
    }
}

/// Dropped without [`RemotePublishers::stop`] (a failed start, a panic),
/// the publishers stop sending and their tasks end; Janus drops them with
/// the session, once its keepalives stop.
impl Drop for RemotePublishers {
    fn drop(&mut self) {
        self.keepalive.abort();
        for relay in &self.feedback {
            relay.abort();
        }
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// Sends what `branches` put out from `pipeline` (running), every stream
/// to one UDP port.
fn send_to(
    pipeline: &gst::Pipeline,
    branches: Vec<Vec<gst::Element>>,
    host: &str,
    port: i32,
) -> Result<(), MediaError> {
    let funnel = make("funnel", None)?;
    let sink = gst::ElementFactory::make("udpsink")
        .property("host", host)
        .property("port", port)
        .property("sync", false)
        .property("async", false)
        .build()
        .map_err(|_| MediaError::MissingElement("udpsink"))?;
    // Started downstream first: a source pushing into a pad not yet
    // running gets FLUSHING back and stops for good.
    let mut start_order = vec![sink.clone(), funnel.clone()];
    pipeline
        .add_many([&funnel, &sink])
        .map_err(|_| MediaError::Link("remote publisher sink".into()))?;
    link_chain(&[&funnel, &sink])?;
    for chain in branches {
        let refs: Vec<&gst::Element> = chain.iter().collect();
        pipeline
            .add_many(refs.iter().copied())
            .map_err(|_| MediaError::Link("remote publisher elements".into()))?;
        link_chain(&refs)?;
        refs.last()
            .ok_or_else(|| MediaError::Link("an empty remote publisher chain".into()))?
            .link(&funnel)
            .map_err(|_| MediaError::Link("payloader to funnel".into()))?;
        start_order.extend(chain.into_iter().rev());
    }
    for element in &start_order {
        element
            .sync_state_with_parent()
            .map_err(|_| MediaError::State("a remote publisher would not start".into()))?;
    }
    Ok(())
}

/// `spec`'s picture and tone encoded live, as branches for
/// [`RemotePublishers::publish`]: with `simulcast`, three video layers (a
/// quarter, half and full size, each in the next palette colour); with
/// `drop_every`, every Nth packet of each video layer lost.
pub fn encoded_branches(
    spec: &SynthSpec,
    simulcast: bool,
    drop_every: Option<u32>,
) -> Result<Vec<Vec<gst::Element>>, MediaError> {
    let base = super::PALETTE
        .iter()
        .position(|c| *c == spec.colour)
        .unwrap_or(0);
    let layers: Vec<(SynthSpec, u32)> = if simulcast {
        (0..3u32)
            .map(|k| {
                let mut layer = spec.clone();
                layer.width = (spec.width >> (2 - k)) & !1;
                layer.height = (spec.height >> (2 - k)) & !1;
                layer.colour = super::PALETTE[(base + k as usize) % super::PALETTE.len()];
                (layer, VIDEO_SSRC + k)
            })
            .collect()
    } else {
        vec![(spec.clone(), VIDEO_SSRC)]
    };
    let mut branches = Vec::new();
    for (i, (layer, ssrc)) in layers.iter().enumerate() {
        let chains = EncodedChains::new(layer, *ssrc, AUDIO_SSRC)?;
        if let Some(n) = drop_every {
            drop_every_nth(&chains.video, n);
        }
        branches.push(chains.video);
        // One audio stream, with the first layer.
        if i == 0 {
            branches.push(chains.audio);
        }
    }
    Ok(branches)
}

/// Drops every `n`th packet out of the chain's last element (the caps
/// filter after its payloader).
fn drop_every_nth(chain: &[gst::Element], n: u32) {
    let Some(pad) = chain.last().and_then(|e| e.static_pad("src")) else {
        return;
    };
    let n = n.max(1);
    let sent = std::sync::atomic::AtomicU32::new(0);
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, info| {
        if sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % n == n - 1 {
            crate::media::drop_probed(info)
        } else {
            gst::PadProbeReturn::Ok
        }
    });
}

/// Pre-encoded frames from `video` and `audio` (a clip's players), as
/// branches for [`RemotePublishers::publish`].
pub fn replaying_branches(
    video: gst::Element,
    audio: gst::Element,
) -> Result<Vec<Vec<gst::Element>>, MediaError> {
    let chains = EncodedChains::replaying(video, audio, VIDEO_SSRC, AUDIO_SSRC)?;
    Ok(vec![chains.video, chains.audio])
}
