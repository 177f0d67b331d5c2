//! RTCP feedback for a Janus remote publisher: Janus sends a remote
//! publisher's key frame requests (PLI, FIR) to whatever address last sent
//! a packet to the `rtcp_port` it gave for it. Without this, a subscriber
//! joining mid-call waits for the publisher's next periodic key frame.

use std::net::SocketAddr;
use std::time::Duration;

use gst::prelude::*;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use crate::media::rtcp::{self, RR};

/// How often the latch is renewed (Janus keeps the last sender).
const LATCH_EVERY: Duration = Duration::from_secs(5);

/// Whether a (compound) RTCP packet asks for a key frame.
pub fn asks_key_frame(packet: &[u8]) -> bool {
    rtcp::key_frame_request(packet).is_some()
}

/// An empty receiver report from `ssrc`: what latches Janus onto us.
fn receiver_report(ssrc: u32) -> [u8; 8] {
    let mut rr = [0x80, RR, 0, 1, 0, 0, 0, 0];
    rr[4..].copy_from_slice(&ssrc.to_be_bytes());
    rr
}

/// Latches onto Janus's RTCP port `to` from `local` and, at each request,
/// asks every one of `tails` (the publisher's branches' last pads) for a
/// key frame, until aborted. A sound branch lets the request pass.
pub async fn relay_key_frame_requests(
    local: &str,
    to: SocketAddr,
    ssrc: u32,
    tails: Vec<gst::Pad>,
) -> std::io::Result<JoinHandle<()>> {
    let socket = UdpSocket::bind((local, 0)).await?;
    socket.connect(to).await?;
    Ok(tokio::spawn(async move {
        let latch = receiver_report(ssrc);
        let mut tick = tokio::time::interval(LATCH_EVERY);
        let mut buf = [0u8; 1500];
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let _ = socket.send(&latch).await;
                }
                got = socket.recv(&mut buf) => match got {
                    Ok(n) if asks_key_frame(&buf[..n]) => {
                        for pad in &tails {
                            let event = gst_video::UpstreamForceKeyUnitEvent::builder()
                                .all_headers(true)
                                .build();
                            pad.send_event(event);
                        }
                    }
                    Ok(_) => {}
                    // Nobody at the port yet (ICMP unreachable): try later.
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtcp::PSFB;

    #[test]
    fn key_frame_requests_are_found_in_compound_packets() {
        let rr = receiver_report(7);
        let pli = [0x81, PSFB, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
        let fir = [
            0x84, PSFB, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0,
        ];
        // REMB is payload-specific feedback too, but not a request.
        let remb = [0x8f, PSFB, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0];
        assert!(asks_key_frame(&pli));
        assert!(asks_key_frame(&fir));
        assert!(asks_key_frame(&[&rr[..], &pli[..]].concat()));
        assert!(!asks_key_frame(&rr));
        assert!(!asks_key_frame(&remb));
        assert!(!asks_key_frame(&[&rr[..], &remb[..]].concat()));
        // Not RTCP, or cut short: no.
        assert!(!asks_key_frame(&[0x01, PSFB, 0, 2]));
        assert!(!asks_key_frame(&pli[..3]));
        assert!(!asks_key_frame(&[]));
    }
}
