//! What the fuzzers drive: each function takes arbitrary bytes, runs them
//! through a parser and the state machine behind it, and panics only when
//! an invariant breaks. `fuzz/` runs them under libFuzzer (`make fuzz`);
//! the tests below run them over mutated seeds, so CI covers them too.
//!
//! Inputs are lines: each line is one message, as a websocket frame would
//! carry it.

use std::collections::HashSet;

use crate::adapter::RoomEvent;
use crate::callcast::Translator;
use crate::janus::protocol::Incoming;
use crate::janus::roster::Roster;
use crate::janus::simulcast::Layers;
use crate::janus::videoroom::RoomUpdate;
use crate::protocol::{ClientMessage, ServerMessage};
use crate::room::state::Rooms;
use crate::sdp;

fn lines(data: &[u8]) -> impl Iterator<Item = &str> {
    data.split(|b| *b == b'\n')
        .filter_map(|l| std::str::from_utf8(l).ok())
}

/// Events an adapter emits keep to the session's expectations: tracks and
/// offers only for participants it announced, and an offer's streams all
/// the offering participant's own.
#[derive(Default)]
struct Expectations {
    present: HashSet<String>,
}

impl Expectations {
    fn check(&mut self, events: &[RoomEvent], one_peer_per_participant: bool) {
        for e in events {
            match e {
                RoomEvent::ParticipantJoined { participant } => {
                    self.present.insert(participant.id.clone());
                }
                RoomEvent::ParticipantLeft { participant_id } => {
                    self.present.remove(participant_id);
                }
                RoomEvent::TrackPublished { participant_id, .. } => assert!(
                    self.present.contains(participant_id),
                    "a track for {participant_id}, who was never announced"
                ),
                RoomEvent::Offer { peer, streams, .. } => {
                    for s in streams {
                        assert!(self.present.contains(&s.participant_id), "{e:?}");
                        if one_peer_per_participant {
                            assert_eq!(&s.participant_id, peer, "{e:?}");
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// The callcast room protocol: each line as a server message into the
/// recorder's translator, and as a client message into the room's rules
/// from one of four connections (the line's length picks which).
pub fn room_protocol(data: &[u8]) {
    let mut translator = Translator::default();
    let mut seen = Expectations::default();
    seen.check(&translator.welcome("p0", vec![]), true);
    let mut rooms = Rooms::default();
    let mut open: HashSet<u64> = (1..=4).collect();
    for line in lines(data) {
        if let Ok(msg) = ServerMessage::from_json(line) {
            assert_eq!(
                ServerMessage::from_json(&msg.to_json()).ok().as_ref(),
                Some(&msg)
            );
            seen.check(&translator.translate(msg), true);
        }
        // `close<n>` drops connection n; other lines come from the
        // connection their length picks.
        if let Some(n) = line.strip_prefix("close") {
            let conn = 1 + n.parse::<u64>().unwrap_or(0) % 4;
            let deliveries = rooms.disconnect(conn);
            open.remove(&conn);
            assert!(deliveries.iter().all(|d| open.contains(&d.to)));
            continue;
        }
        let conn = 1 + line.len() as u64 % 4;
        if let Ok(msg) = ClientMessage::from_json(line) {
            assert_eq!(
                ClientMessage::from_json(&msg.to_json()).ok().as_ref(),
                Some(&msg)
            );
            if !open.contains(&conn) {
                continue;
            }
            let outcome = rooms.handle(conn, msg);
            assert!(
                outcome.deliveries.iter().all(|d| open.contains(&d.to)),
                "a delivery to a closed connection"
            );
            if outcome.close {
                rooms.disconnect(conn);
                open.remove(&conn);
            }
        }
    }
}

/// The Janus protocol: each line as a message from Janus, its VideoRoom
/// events into the roster, its stream lists into what the adapter offers
/// the session and asks of simulcast.
pub fn janus_protocol(data: &[u8]) {
    let mut roster = Roster::default();
    let mut layers = Layers::default();
    let mut streams = Vec::new();
    let mut seen = Expectations::default();
    for line in lines(data) {
        let Ok(msg) = Incoming::parse(line) else {
            continue;
        };
        let Incoming::Event { data, .. } = msg else {
            continue;
        };
        let events = match RoomUpdate::from_data(&data) {
            RoomUpdate::Joined { publishers, .. } => roster.sync(publishers),
            RoomUpdate::Publishers(p) => roster.upsert(p),
            RoomUpdate::Unpublished(id) => roster.unpublish(&id),
            RoomUpdate::Leaving(id) | RoomUpdate::Kicked(id) => roster.remove(&id),
            RoomUpdate::Streams(s) => {
                streams = s;
                vec![RoomEvent::Offer {
                    peer: "janus".into(),
                    sdp: String::new(),
                    streams: roster.streams(&streams),
                }]
            }
            _ => vec![],
        };
        seen.check(&events, false);
        let _ = roster.wants();
        layers.set_sizes(
            roster
                .streams(&streams)
                .into_iter()
                .map(|s| crate::adapter::VideoSize {
                    participant_id: s.participant_id,
                    track_id: s.track.id,
                    width: line.len() as u32,
                    height: line.len() as u32 / 2,
                })
                .collect(),
        );
        for (_, substream) in layers.changes(&roster, &streams) {
            assert!(substream <= 2, "substream {substream}");
        }
    }
}

/// SDP offers: an offer callcast accepts has a transport that connects,
/// and the mids it returns are the sending sections'.
pub fn sdp(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = sdp::Sdp::parse(text);
    match sdp::check_offer(text) {
        Ok(mids) => {
            let parsed = parsed.expect("an accepted offer parses");
            assert!(
                parsed
                    .sections
                    .iter()
                    .any(|s| s.enabled() && parsed.check_transport(s).is_ok())
            );
            for mid in &mids {
                assert!(
                    parsed
                        .sections
                        .iter()
                        .any(|s| s.mid() == Some(mid.as_str()) && s.sends())
                );
            }
        }
        Err(_) => {
            if let Ok(parsed) = parsed {
                for s in &parsed.sections {
                    let _ = (s.encoding(96), s.fmtp(96, "profile-level-id"), s.receives());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Each target over seeds and their mutations: a few seconds of what
    //! `make fuzz` does for minutes, with a fixed random sequence.

    /// xorshift64*: deterministic, so a failure here repeats.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Bytes worth splicing in: JSON and SDP punctuation, numbers at the
    /// edges of their types, and names the parsers look for.
    const TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        "\"",
        ":",
        ",",
        "null",
        "true",
        "-1",
        "0",
        "4294967296",
        "18446744073709551616",
        "1e999",
        "\"\\u0000\"",
        "\n",
        "\r\n",
        "m=video 0 x 96",
        "a=mid:",
        "a=ice-ufrag:",
        "\"type\"",
        "\"id\"",
        "\"streams\"",
        "\"publishers\"",
        "\"participant_id\"",
        "\"tracks\"",
        "\"videoroom\"",
        "\"event\"",
        "\"janus\"",
    ];

    fn mutate(rng: &mut Rng, seeds: &[&str]) -> Vec<u8> {
        let mut out = seeds[rng.below(seeds.len())].as_bytes().to_vec();
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(out.len() + 1);
            match rng.below(5) {
                0 if !out.is_empty() => {
                    let end = (at + 1 + rng.below(16)).min(out.len());
                    out.drain(at.min(end)..end);
                }
                1 => {
                    let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                    out.splice(at..at, token.iter().copied());
                }
                2 if !out.is_empty() => {
                    let i = rng.below(out.len());
                    out[i] ^= 1 << rng.below(8);
                }
                3 => {
                    let other = seeds[rng.below(seeds.len())].as_bytes();
                    let from = rng.below(other.len());
                    let to = (from + rng.below(64)).min(other.len());
                    out.splice(at..at, other[from..to].iter().copied());
                }
                _ => {
                    let line = seeds[rng.below(seeds.len())].as_bytes();
                    out.push(b'\n');
                    out.extend_from_slice(line);
                }
            }
        }
        out
    }

    fn run(target: fn(&[u8]), seeds: &[&str]) {
        let cases: usize = std::env::var("CALLCAST_FUZZ_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(20_000);
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        target(seeds.join("\n").as_bytes());
        for _ in 0..cases {
            let input = mutate(&mut rng, seeds);
            let shown = String::from_utf8_lossy(&input).into_owned();
            if std::panic::catch_unwind(|| target(&input)).is_err() {
                panic!("input: {shown:?}");
            }
        }
    }

    const ROOM: &[&str] = &[
        r#"{"type":"join","protocol":1,"room":"r","display":"A","role":"publisher"}"#,
        r#"{"type":"join","protocol":1,"room":"r","display":"bot","role":"recorder"}"#,
        r#"{"type":"publish","track":{"id":"cam","kind":"video","source":"camera"}}"#,
        r#"{"type":"subscribe","participant_id":"p1"}"#,
        r#"{"type":"offer","to":"p2","sdp":"v=0","tracks":[{"mid":"0","track_id":"cam"}]}"#,
        r#"{"type":"candidate","to":"p1","sdp_m_line_index":0,"candidate":"c"}"#,
        r#"{"type":"participant_joined","participant":{"id":"p1","display":"A","tracks":[{"id":"cam","kind":"video","source":"camera"}]}}"#,
        r#"{"type":"track_published","participant_id":"p1","track":{"id":"mic","kind":"audio","source":"microphone"}}"#,
        r#"{"type":"offer","from":"p1","sdp":"v=0","tracks":[{"mid":"0","track_id":"cam"},{"mid":"1","track_id":"mic"}]}"#,
        r#"{"type":"participant_left","participant_id":"p1","reason":"left"}"#,
        r#"{"type":"talking","participant_id":"p1","talking":true}"#,
        r#"{"type":"unpublish","track_id":"cam"}"#,
        r#"{"type":"leave"}"#,
        "close1",
        "close2",
    ];

    const JANUS: &[&str] = &[
        r#"{"janus":"event","sender":1,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"joined","room":1234,"id":7,"private_id":9,"publishers":[{"id":5,"display":"Alice","streams":[{"type":"video","mid":"0","mindex":0,"simulcast":true},{"type":"audio","mid":"1","mindex":1}]}]}}}"#,
        r#"{"janus":"event","sender":1,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","room":1234,"publishers":[{"id":6,"display":"Bob","streams":[{"type":"video","mid":"0","description":"screen"}]}]}}}"#,
        r#"{"janus":"event","sender":2,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"updated","streams":[{"mid":"0","mindex":0,"type":"video","active":true,"feed_id":5,"feed_mid":"0","feed_display":"Alice"},{"mid":"1","type":"audio","feed_id":6,"feed_mid":"1"}]}},"jsep":{"type":"offer","sdp":"v=0"}}"#,
        r#"{"janus":"event","sender":1,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","room":1234,"unpublished":5}}}"#,
        r#"{"janus":"event","sender":1,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","room":1234,"leaving":6}}}"#,
        r#"{"janus":"event","sender":1,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"talking","room":1234,"id":5}}}"#,
        r#"{"janus":"trickle","sender":2,"candidate":{"sdpMLineIndex":4294967297,"candidate":"candidate:1 1 udp 1 10.0.0.1 5000 typ host"}}"#,
        r#"{"janus":"success","transaction":"t1","data":{"id":42}}"#,
        r#"{"janus":"error","transaction":"t2","error":{"code":458,"reason":"No such session"}}"#,
        r#"{"janus":"hangup","sender":2,"reason":"DTLS alert"}"#,
    ];

    const SDP: &[&str] = &[
        "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE video0 audio1\r\n\
         a=fingerprint:sha-256 E1:6D:85:96:53:74:BE:84:3E:F9:4D:67:C9:8F:71:2E:6C:26:3B:1B:02:52:0A:82:A8:1C:81:84:96:0F:CD:CB\r\n\
         m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 0.0.0.0\r\na=ice-ufrag:Kz1mAXfX\r\n\
         a=ice-pwd:ZCMiiMvCpyuQS9Ge9JrMnN1Gxp2cHVwS\r\na=mid:video0\r\na=sendonly\r\n\
         a=rtpmap:96 VP8/90000\r\na=rtpmap:97 H264/90000\r\na=fmtp:97 packetization-mode=1;profile-level-id=42e01f\r\n\
         m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:audio1\r\na=sendrecv\r\na=rtpmap:111 opus/48000/2\r\n\
         m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=inactive\r\n",
        "v=0\r\ns=-\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:data\r\n",
    ];

    /// Writes the seeds where `make fuzz` starts libFuzzer from
    /// (`$CALLCAST_FUZZ_SEEDS/<target>/`).
    #[test]
    #[ignore = "run by make fuzz"]
    fn write_fuzz_seeds() {
        // `make soak` runs every ignored test: nothing to do there.
        let Ok(dir) = std::env::var("CALLCAST_FUZZ_SEEDS") else {
            return;
        };
        let dir = std::path::PathBuf::from(dir);
        for (target, seeds) in [
            ("room_protocol", ROOM),
            ("janus_protocol", JANUS),
            ("sdp", SDP),
        ] {
            let dir = dir.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            for (i, seed) in seeds.iter().enumerate() {
                std::fs::write(dir.join(format!("seed-{i}")), seed).unwrap();
            }
            std::fs::write(dir.join("seed-all"), seeds.join("\n")).unwrap();
        }
    }

    #[test]
    fn room_protocol_survives_mutated_messages() {
        run(super::room_protocol, ROOM);
    }

    #[test]
    fn janus_protocol_survives_mutated_messages() {
        run(super::janus_protocol, JANUS);
    }

    #[test]
    fn sdp_checks_survive_mutated_offers() {
        run(super::sdp, SDP);
    }
}
