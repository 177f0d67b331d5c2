//! What a WHEP offer asks for: the payload types to send the program's
//! H.264 and Opus with. Pure text work on the SDP, unit-tested.

use callcast_signalling::sdp::{Sdp, SdpError};

/// The codecs chosen from an offer, by its payload types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub video_pt: u8,
    /// The offered `profile-level-id` of that payload type, if any.
    pub profile_level_id: Option<String>,
    /// Opus, if the offer has an audio section that takes it.
    pub audio_pt: Option<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    #[error("{0}")]
    Sdp(#[from] SdpError),
    #[error("has no video section that receives H.264 with packetization-mode=1")]
    NoH264,
}

/// Chooses the payload types: the first receiving video section's H.264
/// in packetization mode 1, High profile preferred (what x264 makes),
/// then constrained baseline, then any; Opus in the first receiving
/// audio section, if there is one.
pub fn choose(sdp: &str) -> Result<Choice, OfferError> {
    let sdp = Sdp::parse(sdp)?;
    let video = sdp
        .sections
        .iter()
        .find(|s| s.kind == "video" && s.receives())
        .ok_or(OfferError::NoH264)?;
    // Media is bundled on the first section's transport; check the video
    // section's, which Chromium and GStreamer repeat in every section.
    sdp.check_transport(video)?;
    let h264: Vec<u8> = video
        .pts
        .iter()
        .copied()
        .filter(|&pt| {
            video
                .encoding(pt)
                .is_some_and(|e| e.starts_with("h264/90000"))
                && video.fmtp(pt, "packetization-mode") == Some("1")
        })
        .collect();
    let profile = |pt: u8| {
        video
            .fmtp(pt, "profile-level-id")
            .map(str::to_ascii_lowercase)
    };
    let rank = |pt: u8| match profile(pt) {
        Some(p) if p.starts_with("64") => 0,
        Some(p) if p.starts_with("42e0") => 1,
        _ => 2,
    };
    let video_pt = h264
        .iter()
        .copied()
        .min_by_key(|&pt| rank(pt))
        .ok_or(OfferError::NoH264)?;
    let audio_pt = sdp
        .sections
        .iter()
        .filter(|s| s.kind == "audio" && s.receives())
        .take(1)
        .flat_map(|s| {
            s.pts
                .iter()
                .copied()
                .find(|&pt| s.encoding(pt).is_some_and(|e| e.starts_with("opus/48000")))
        })
        .next();
    Ok(Choice {
        video_pt,
        profile_level_id: profile(video_pt),
        audio_pt,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The media sections of a Chromium recvonly offer, trimmed.
    const CHROMIUM: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE 0 1\r\n\
        a=fingerprint:sha-256 E1:6D:85:96:53:74:BE:84:3E:F9:4D:67:C9:8F:71:2E:6C:26:3B:1B:02:52:0A:82:A8:1C:81:84:96:0F:CD:CB\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\na=recvonly\r\n\
        a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
        a=rtpmap:63 red/48000/2\r\na=rtpmap:9 G722/8000\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96 102 103 106 107 112\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\na=recvonly\r\n\
        a=ice-ufrag:KHVz\r\na=ice-pwd:p1aTD0WKekxWVHRBHeRPpgZ9\r\n\
        a=rtpmap:96 VP8/90000\r\n\
        a=rtpmap:102 H264/90000\r\na=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f\r\n\
        a=rtpmap:103 H264/90000\r\na=fmtp:103 level-asymmetry-allowed=1;packetization-mode=0;profile-level-id=42001f\r\n\
        a=rtpmap:106 H264/90000\r\na=fmtp:106 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n\
        a=rtpmap:107 rtx/90000\r\na=fmtp:107 apt=106\r\n\
        a=rtpmap:112 H264/90000\r\na=fmtp:112 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=64001f\r\n";

    #[test]
    fn picks_high_profile_h264_and_opus() {
        assert_eq!(
            choose(CHROMIUM),
            Ok(Choice {
                video_pt: 112,
                profile_level_id: Some("64001f".into()),
                audio_pt: Some(111),
            })
        );
        // Without High: constrained baseline before plain baseline.
        let no_high = CHROMIUM.replace("profile-level-id=64001f", "profile-level-id=4d001f");
        assert_eq!(choose(&no_high).unwrap().video_pt, 106);
    }

    #[test]
    fn video_only_and_bad_offers() {
        let video_only = CHROMIUM.replace("m=audio", "m=application");
        assert_eq!(choose(&video_only).unwrap().audio_pt, None);
        assert_eq!(choose("hello"), Err(SdpError::NotSdp.into()));
        assert_eq!(choose("v=0\r\ns=-\r\n"), Err(SdpError::NotSdp.into()));
        let vp8_only = CHROMIUM.replace("H264/90000", "VP9/90000");
        assert_eq!(choose(&vp8_only), Err(OfferError::NoH264));
        let sending = CHROMIUM.replace("a=mid:1\r\na=recvonly", "a=mid:1\r\na=sendonly");
        assert_eq!(choose(&sending), Err(OfferError::NoH264));
    }

    #[test]
    fn offers_need_ice_credentials_and_a_fingerprint() {
        // At the session level, the credentials count too.
        let moved = CHROMIUM
            .replace(
                "a=ice-ufrag:KHVz\r\na=ice-pwd:p1aTD0WKekxWVHRBHeRPpgZ9\r\n",
                "",
            )
            .replace(
                "t=0 0\r\n",
                "t=0 0\r\na=ice-ufrag:KHVz\r\na=ice-pwd:p1aTD0WKekxWVHRBHeRPpgZ9\r\n",
            );
        assert!(choose(&moved).is_ok());
        for (from, to) in [
            ("a=ice-pwd:p1aTD0WKekxWVHRBHeRPpgZ9\r\n", ""),
            ("a=ice-ufrag:KHVz\r\n", ""),
            ("a=ice-pwd:p1aTD0WKekxWVHRBHeRPpgZ9", "a=ice-pwd:short"),
            ("a=ice-ufrag:KHVz", "a=ice-ufrag:K\u{e9}Vz"),
        ] {
            assert_eq!(
                choose(&CHROMIUM.replace(from, to)),
                Err(SdpError::NoIce.into()),
                "{to}"
            );
        }
        for to in [
            "",
            "a=fingerprint:sha-256",
            "a=fingerprint:sha-256 E1:6D:zz",
        ] {
            let bad = CHROMIUM.replace(
                "a=fingerprint:sha-256 E1:6D:85:96:53:74:BE:84:3E:F9:4D:67:C9:8F:71:2E:6C:26:3B:1B:02:52:0A:82:A8:1C:81:84:96:0F:CD:CB",
                to,
            );
            assert_eq!(choose(&bad), Err(SdpError::NoFingerprint.into()), "{to}");
        }
    }
}
