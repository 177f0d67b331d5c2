//! SDP as text: its media sections and their attributes, and whether an
//! offer could ever be answered and connected. Pure and lenient about what
//! does not matter; strict about what a webrtcbin would otherwise wait on
//! for nothing (ICE credentials, a DTLS fingerprint) or misfile (mids).
//!
//! Offers come from the SFU, or from a browser over WHEP: both are checked
//! here before they touch any media state.

use std::collections::HashSet;

/// An offer longer than this is refused: a real one, even with a hundred
/// m-lines, is a few tens of KiB.
pub const MAX_SDP_BYTES: usize = 512 * 1024;
/// More media sections than this are refused (49 participants with audio,
/// video and a screen are 150).
pub const MAX_SECTIONS: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("is not an SDP offer (it needs v=0 and m= lines)")]
    NotSdp,
    #[error("is longer than {MAX_SDP_BYTES} bytes")]
    TooLong,
    /// GStreamer reads SDP as a C string: after a NUL it would see a
    /// different offer from the one checked here.
    #[error("has a control character on line {0} (only CR, LF and tab may appear)")]
    ControlCharacter(usize),
    #[error("has more than {MAX_SECTIONS} media sections")]
    TooManySections,
    /// Without them ICE never completes: the answer would wait for nothing.
    #[error("has no valid ICE credentials (a=ice-ufrag of 4+ and a=ice-pwd of 22+ ICE characters)")]
    NoIce,
    #[error("has no DTLS fingerprint (a=fingerprint:<hash> <hex:hex:...>)")]
    NoFingerprint,
    #[error("names mid {0:?} on two media sections")]
    DuplicateMid(String),
}

/// An SDP's session-level lines and its media sections.
#[derive(Debug)]
pub struct Sdp<'a> {
    pub session: Vec<&'a str>,
    pub sections: Vec<Section<'a>>,
}

/// One `m=` line and the lines after it.
#[derive(Debug)]
pub struct Section<'a> {
    /// `audio`, `video`, `application`, ...
    pub kind: &'a str,
    /// `0` for a section that is switched off.
    pub port: Option<u16>,
    /// Its payload types.
    pub pts: Vec<u8>,
    pub lines: Vec<&'a str>,
}

impl<'a> Sdp<'a> {
    pub fn parse(text: &'a str) -> Result<Self, SdpError> {
        if text.len() > MAX_SDP_BYTES {
            return Err(SdpError::TooLong);
        }
        if let Some(at) = text.find(|c: char| c.is_control() && !matches!(c, '\r' | '\n' | '\t')) {
            return Err(SdpError::ControlCharacter(
                text[..at].matches('\n').count() + 1,
            ));
        }
        let mut lines = text.lines().map(str::trim_end);
        if lines.next() != Some("v=0") {
            return Err(SdpError::NotSdp);
        }
        let mut session = Vec::new();
        let mut sections: Vec<Section> = Vec::new();
        for line in lines {
            if let Some(m) = line.strip_prefix("m=") {
                if sections.len() == MAX_SECTIONS {
                    return Err(SdpError::TooManySections);
                }
                // m=<kind> <port> <proto> <fmt>...
                let mut fields = m.split_whitespace();
                let kind = fields.next().unwrap_or("");
                let port = fields.next().and_then(|p| p.parse().ok());
                let pts = fields.skip(1).filter_map(|f| f.parse().ok()).collect();
                sections.push(Section {
                    kind,
                    port,
                    pts,
                    lines: Vec::new(),
                });
            } else if let Some(s) = sections.last_mut() {
                s.lines.push(line);
            } else {
                session.push(line);
            }
        }
        if sections.is_empty() {
            return Err(SdpError::NotSdp);
        }
        Ok(Sdp { session, sections })
    }

    /// The value of `a=<attr>:` in the section, else at the session level.
    pub fn value(&self, section: &Section<'a>, attr: &str) -> Option<&'a str> {
        section
            .value(attr)
            .or_else(|| find_value(&self.session, attr))
    }

    /// Whether the section's transport can connect: ICE credentials and a
    /// DTLS fingerprint, its own or the session's.
    pub fn check_transport(&self, section: &Section<'a>) -> Result<(), SdpError> {
        let ufrag = self.value(section, "ice-ufrag");
        let pwd = self.value(section, "ice-pwd");
        if !(ufrag.is_some_and(|u| ice_chars(u, 4)) && pwd.is_some_and(|p| ice_chars(p, 22))) {
            return Err(SdpError::NoIce);
        }
        if !self.value(section, "fingerprint").is_some_and(fingerprint) {
            return Err(SdpError::NoFingerprint);
        }
        Ok(())
    }
}

impl<'a> Section<'a> {
    /// The value of `a=<attr>:` in this section.
    pub fn value(&self, attr: &str) -> Option<&'a str> {
        find_value(&self.lines, attr)
    }

    pub fn mid(&self) -> Option<&'a str> {
        self.value("mid")
    }

    /// The value of `a=<attr>:<pt> <value>` for `pt`.
    pub fn attr(&self, attr: &str, pt: u8) -> Option<&'a str> {
        let prefix = format!("a={attr}:{pt} ");
        self.lines.iter().find_map(|l| l.strip_prefix(&prefix))
    }

    /// `a=rtpmap` of `pt`, lower case (`h264/90000`).
    pub fn encoding(&self, pt: u8) -> Option<String> {
        self.attr("rtpmap", pt).map(|e| e.to_ascii_lowercase())
    }

    /// `key` from `a=fmtp` of `pt`.
    pub fn fmtp(&self, pt: u8, key: &str) -> Option<&'a str> {
        self.attr("fmtp", pt)?.split(';').find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == key).then_some(v)
        })
    }

    /// The offerer receives on it (sendrecv when no direction is given).
    pub fn receives(&self) -> bool {
        !self
            .lines
            .iter()
            .any(|l| matches!(*l, "a=sendonly" | "a=inactive"))
    }

    /// The offerer sends on it.
    pub fn sends(&self) -> bool {
        !self
            .lines
            .iter()
            .any(|l| matches!(*l, "a=recvonly" | "a=inactive"))
    }

    /// Port 0 without `a=bundle-only`: a section switched off (or one an
    /// SFU keeps for later). With it, port 0 means "on the bundle's
    /// transport" (RFC 8843), as webrtcbin's max-bundle offers say.
    pub fn enabled(&self) -> bool {
        self.port != Some(0) || self.lines.contains(&"a=bundle-only")
    }
}

fn find_value<'a>(lines: &[&'a str], attr: &str) -> Option<&'a str> {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("a=")?.strip_prefix(attr)?.strip_prefix(':'))
}

/// RFC 8839's ice-char: letters, digits, `+` and `/`.
fn ice_chars(v: &str, min: usize) -> bool {
    (min..=256).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
}

/// `<hash function> XX:XX:...` (RFC 8122).
fn fingerprint(v: &str) -> bool {
    let Some((hash, hex)) = v.split_once(' ') else {
        return false;
    };
    !hash.is_empty()
        && hex
            .split(':')
            .all(|b| b.len() == 2 && b.chars().all(|c| c.is_ascii_hexdigit()))
        && hex.len() >= 20 * 3 - 1
}

/// Checks an SFU's offer to a receive-only bot and returns the mids of
/// the sections it sends on: an offer is refused if none of its enabled
/// sections can connect, or if two sections share a mid (which would
/// file one participant's media under another's name).
pub fn check_offer(text: &str) -> Result<HashSet<String>, SdpError> {
    let sdp = Sdp::parse(text)?;
    let mut mids = HashSet::new();
    // Bundled: one section that connects carries them all; when none
    // does, the first one's reason is reported.
    let mut transport: Option<Result<(), SdpError>> = None;
    for section in &sdp.sections {
        if let Some(mid) = section.mid()
            && !mids.insert(mid.to_string())
        {
            return Err(SdpError::DuplicateMid(mid.to_string()));
        }
        if section.enabled() && !matches!(transport, Some(Ok(()))) {
            let checked = sdp.check_transport(section);
            if transport.is_none() || checked.is_ok() {
                transport = Some(checked);
            }
        }
    }
    transport.unwrap_or(Err(SdpError::NotSdp))?;
    let sending = sdp
        .sections
        .iter()
        .filter(|s| s.enabled() && s.sends())
        .filter_map(|s| s.mid().map(String::from))
        .collect();
    Ok(sending)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a GStreamer publisher offers, trimmed.
    const OFFER: &str = "v=0\r\no=- 1 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n\
        a=group:BUNDLE video0 audio1\r\n\
        m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\n\
        a=setup:actpass\r\na=ice-ufrag:Kz1mAXfXyn0EDKjmRk1SuGkM84wnUVPf\r\n\
        a=ice-pwd:ZCMiiMvCpyuQS9Ge9JrMnN1Gxp2cHVwS\r\na=mid:video0\r\na=sendonly\r\n\
        a=rtpmap:96 VP8/90000\r\n\
        a=fingerprint:sha-256 E1:6D:85:96:53:74:BE:84:3E:F9:4D:67:C9:8F:71:2E:6C:26:3B:1B:02:52:0A:82:A8:1C:81:84:96:0F:CD:CB\r\n\
        m=audio 9 UDP/TLS/RTP/SAVPF 97\r\nc=IN IP4 0.0.0.0\r\na=mid:audio1\r\na=sendonly\r\n\
        a=rtpmap:97 OPUS/48000/2\r\n\
        m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:old\r\na=inactive\r\n";

    #[test]
    fn an_offer_gives_the_mids_it_sends_on() {
        let mids = check_offer(OFFER).unwrap();
        let mut mids: Vec<_> = mids.into_iter().collect();
        mids.sort();
        assert_eq!(mids, ["audio1", "video0"]);
    }

    #[test]
    fn offers_that_cannot_connect_are_refused() {
        assert_eq!(check_offer(""), Err(SdpError::NotSdp));
        assert_eq!(check_offer("v=0\r\ns=-\r\n"), Err(SdpError::NotSdp));
        assert_eq!(check_offer("{\"sdp\":1}"), Err(SdpError::NotSdp));
        let no_ice = OFFER.replace("a=ice-pwd:", "a=ice-pwx:");
        assert_eq!(check_offer(&no_ice), Err(SdpError::NoIce));
        let no_dtls = OFFER.replace("a=fingerprint:sha-256 E1", "a=fingerprint:sha-256 Z1");
        assert_eq!(check_offer(&no_dtls), Err(SdpError::NoFingerprint));
        let twice = OFFER.replace("a=mid:audio1", "a=mid:video0");
        assert_eq!(
            check_offer(&twice),
            Err(SdpError::DuplicateMid("video0".into()))
        );
        let huge = format!("{OFFER}{}", "a=x\r\n".repeat(MAX_SDP_BYTES / 5));
        assert_eq!(check_offer(&huge), Err(SdpError::TooLong));
        let many = format!("{OFFER}{}", "m=video 0 RTP/AVP 96\r\n".repeat(MAX_SECTIONS));
        assert_eq!(check_offer(&many), Err(SdpError::TooManySections));
        let nul = OFFER.replace("t=0 0", "t=0\u{0} 0");
        assert_eq!(check_offer(&nul), Err(SdpError::ControlCharacter(4)));
        let escape = OFFER.replace("s=-", "s=\u{1b}[2J");
        assert_eq!(check_offer(&escape), Err(SdpError::ControlCharacter(3)));
    }

    #[test]
    fn attributes_are_read_from_the_section_then_the_session() {
        let sdp = Sdp::parse(OFFER).unwrap();
        let [video, audio, old] = &sdp.sections[..] else {
            panic!("three sections");
        };
        assert_eq!(video.encoding(96).as_deref(), Some("vp8/90000"));
        assert_eq!(audio.value("ice-ufrag"), None);
        assert!(sdp.check_transport(video).is_ok());
        assert_eq!(sdp.check_transport(audio), Err(SdpError::NoIce));
        assert!(!old.enabled() && !old.sends() && video.sends() && !video.receives());
        // Port 0 on the bundle's transport is on.
        let bundled = OFFER.replace("m=audio 9", "m=audio 0");
        let bundled = bundled.replace("a=mid:audio1", "a=mid:audio1\r\na=bundle-only");
        let mids = check_offer(&bundled).unwrap();
        assert!(mids.contains("audio1"), "{mids:?}");
        // "a=mid-foo:x" is not "a=mid:".
        let odd = OFFER.replace("a=mid:video0", "a=midx:video0");
        assert_eq!(Sdp::parse(&odd).unwrap().sections[0].mid(), None);
    }
}
