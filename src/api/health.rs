//! What a running session looks like from outside: `/metrics` for
//! Prometheus, `/v1/sessions/{id}/stats` as JSON, and
//! `/v1/sessions/{id}/graph`, the live pipeline as DOT or SVG.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use tokio::io::AsyncWriteExt;

use super::ApiState;
use super::error::ApiError;
use super::extract::{Path, Query};
use super::prometheus::{CONTENT_TYPE, Exposition, Kind};
use crate::session::SessionStats;

pub async fn stats(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<SessionStats>, ApiError> {
    Ok(Json(state.session(id)?.stats().await))
}

pub async fn metrics(State(state): State<ApiState>) -> impl IntoResponse {
    let sessions = state.sessions.list();
    let mut stats = Vec::with_capacity(sessions.len());
    for s in sessions {
        stats.push(s.stats().await);
    }
    let process = crate::procstat::process_stats();
    let mut e = Exposition::default();
    e.add(
        "callcast_sessions",
        Kind::Gauge,
        "Sessions running.",
        &[],
        stats.len() as f64,
    );
    for s in &stats {
        session_metrics(&mut e, s);
    }
    e.add(
        "callcast_process_cpu_seconds_total",
        Kind::Counter,
        "CPU time (user and system) of the process.",
        &[],
        process.cpu_seconds,
    );
    e.add(
        "callcast_process_resident_memory_bytes",
        Kind::Gauge,
        "Resident memory of the process.",
        &[],
        process.rss_mb * 1024.0 * 1024.0,
    );
    for t in &process.threads {
        e.add(
            "callcast_thread_cpu_seconds_total",
            Kind::Counter,
            "CPU time of the live threads of each name (GStreamer names its streaming threads; callcast names each track's cam:<participant>, mic:<participant>).",
            &[("thread", &t.name)],
            t.cpu_seconds,
        );
    }
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], e.render())
}

fn session_metrics(e: &mut Exposition, s: &SessionStats) {
    let session = s.session.as_str();
    let m = &s.media;
    let l = [("session", session)];
    e.add(
        "callcast_program_frames_total",
        Kind::Counter,
        "Composite frames made.",
        &l,
        m.program.frames as f64,
    );
    e.add(
        "callcast_program_fps",
        Kind::Gauge,
        "Composite frames per second over the last seconds.",
        &l,
        m.program.fps,
    );
    e.add(
        "callcast_program_stalled_seconds",
        Kind::Gauge,
        "How long the program has made no frame, once past 2 s; 0 while it runs.",
        &l,
        m.program.stalled_s.unwrap_or(0.0),
    );
    e.add(
        "callcast_encoder_frames_total",
        Kind::Counter,
        "Video frames the main encoder put out.",
        &l,
        m.encoder.frames as f64,
    );
    e.add(
        "callcast_encoder_fps",
        Kind::Gauge,
        "Encoded video frames per second over the last seconds.",
        &l,
        m.encoder.fps,
    );
    e.add(
        "callcast_encoder_latency_seconds",
        Kind::Gauge,
        "Time the latest frame spent in the video encoder.",
        &l,
        m.encoder.latency_ms / 1e3,
    );
    e.add(
        "callcast_encoder_latency_seconds_total",
        Kind::Counter,
        "Summed time frames spent in the video encoder (divide by callcast_encoder_timed_frames_total).",
        &l,
        m.encoder.latency_seconds_total,
    );
    e.add(
        "callcast_encoder_timed_frames_total",
        Kind::Counter,
        "Frames timed through the video encoder.",
        &l,
        m.encoder.latency_frames as f64,
    );
    for t in &m.tracks {
        let kind = match t.kind {
            callcast_signalling::adapter::TrackKind::Audio => "audio",
            callcast_signalling::adapter::TrackKind::Video => "video",
        };
        let l = [
            ("session", session),
            ("participant", t.participant.as_str()),
            ("track", t.track.as_str()),
            ("kind", kind),
        ];
        if t.kind == callcast_signalling::adapter::TrackKind::Video {
            e.add(
                "callcast_track_frames_total",
                Kind::Counter,
                "Video frames a track handed to the compositor.",
                &l,
                t.frames as f64,
            );
            e.add(
                "callcast_track_fps",
                Kind::Gauge,
                "Video frames per second a track hands to the compositor.",
                &l,
                t.fps,
            );
            e.add(
                "callcast_track_shown_total",
                Kind::Counter,
                "Video frames of a track the compositor put in the program.",
                &l,
                t.shown.shown as f64,
            );
            e.add(
                "callcast_track_skipped_total",
                Kind::Counter,
                "Video frames of a track the compositor passed over: late for their turn, or beyond the program's frame rate.",
                &l,
                t.shown.skipped as f64,
            );
        }
        e.add(
            "callcast_track_dropped_total",
            Kind::Counter,
            "Frames (or audio buffers) a track's queue dropped because the program fell behind.",
            &l,
            t.dropped as f64,
        );
        let Some(r) = &t.rtp else { continue };
        for (name, help, kind, value) in [
            (
                "callcast_rtp_packets_received_total",
                "RTP packets received.",
                Kind::Counter,
                r.packets_received as f64,
            ),
            (
                "callcast_rtp_bytes_received_total",
                "RTP bytes received.",
                Kind::Counter,
                r.bytes_received as f64,
            ),
            (
                "callcast_rtp_packets_lost",
                "RTP packets lost so far (expected minus received; duplicates can make it fall).",
                Kind::Gauge,
                r.packets_lost as f64,
            ),
            (
                "callcast_rtp_jitter_seconds",
                "Interarrival jitter of the RTP stream.",
                Kind::Gauge,
                r.jitter_ms / 1e3,
            ),
            (
                "callcast_rtp_nacks_sent_total",
                "NACKs sent to the sender.",
                Kind::Counter,
                r.nacks_sent as f64,
            ),
            (
                "callcast_rtp_plis_sent_total",
                "Picture loss indications (key frame requests) sent to the sender.",
                Kind::Counter,
                r.plis_sent as f64,
            ),
            (
                "callcast_rtp_firs_sent_total",
                "Full intra requests sent to the sender.",
                Kind::Counter,
                r.firs_sent as f64,
            ),
        ] {
            e.add(name, kind, help, &l, value);
        }
    }
    for q in &m.queues {
        let l = [
            ("session", session),
            ("stage", q.stage.as_str()),
            ("owner", q.owner.as_str()),
            ("queue", q.name.as_str()),
        ];
        for (name, help, kind, value) in [
            (
                "callcast_queue_buffers",
                "Buffers in a queue.",
                Kind::Gauge,
                q.level.buffers as f64,
            ),
            (
                "callcast_queue_bytes",
                "Bytes in a queue.",
                Kind::Gauge,
                q.level.bytes as f64,
            ),
            (
                "callcast_queue_seconds",
                "Media time in a queue.",
                Kind::Gauge,
                q.level.time_ms / 1e3,
            ),
            (
                "callcast_queue_fill_ratio",
                "How full a queue is against the nearest of its limits, 0 to 1: full queues sit before the slow stage.",
                Kind::Gauge,
                q.fill,
            ),
            (
                "callcast_queue_overruns_total",
                "Times a queue was full (a leaky one dropped a buffer each time).",
                Kind::Counter,
                q.level.overruns as f64,
            ),
        ] {
            e.add(name, kind, help, &l, value);
        }
    }
    for o in &m.outputs {
        let l = [
            ("session", session),
            ("output", o.id.as_str()),
            ("kind", o.kind),
        ];
        let state = [
            ("session", session),
            ("output", o.id.as_str()),
            ("kind", o.kind),
            ("state", o.state.name()),
        ];
        e.add(
            "callcast_output_state",
            Kind::Gauge,
            "An output's state, as the label (the value is always 1).",
            &state,
            1.0,
        );
        e.add(
            "callcast_output_bytes_total",
            Kind::Counter,
            "Bytes that reached an output's sinks.",
            &l,
            o.bytes as f64,
        );
        e.add(
            "callcast_output_bitrate_bps",
            Kind::Gauge,
            "An output's bitrate over the last second.",
            &l,
            o.bitrate_bps as f64,
        );
    }
}

/// How long Graphviz may take to draw a pipeline.
const DOT_TIMEOUT: Duration = Duration::from_secs(20);

/// `?format=dot` (the default) or `?format=svg` (needs Graphviz).
pub async fn graph(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(unknown) = query.keys().find(|k| k.as_str() != "format") {
        let field = if unknown.is_empty() { "query" } else { unknown };
        return Err(ApiError::field(field, "unknown query parameter"));
    }
    let svg = match query.get("format").map(String::as_str) {
        None | Some("dot") => false,
        Some("svg") => true,
        Some(_) => return Err(ApiError::field("format", "must be dot or svg")),
    };
    let dot = state.session(id)?.graph().await;
    if !svg {
        return Ok((
            [(header::CONTENT_TYPE, "text/vnd.graphviz")],
            dot.into_bytes(),
        ));
    }
    let drawn = tokio::time::timeout(DOT_TIMEOUT, to_svg(dot))
        .await
        .map_err(|_| ApiError::Internal("Graphviz took too long".into()))?;
    match drawn {
        Ok(svg) => Ok(([(header::CONTENT_TYPE, "image/svg+xml")], svg)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ApiError::field(
            "format",
            "svg needs Graphviz (dot), which is not installed here; ask for format=dot",
        )),
        Err(e) => Err(ApiError::Internal(format!("Graphviz: {e}"))),
    }
}

async fn to_svg(dot: String) -> std::io::Result<Vec<u8>> {
    let mut child = tokio::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdin = child.stdin.take().expect("piped");
    let writer = tokio::spawn(async move {
        let _ = stdin.write_all(dot.as_bytes()).await;
    });
    let out = child.wait_with_output().await?;
    let _ = writer.await;
    if !out.status.success() {
        return Err(std::io::Error::other(format!(
            "dot exited with {}",
            out.status
        )));
    }
    Ok(out.stdout)
}
