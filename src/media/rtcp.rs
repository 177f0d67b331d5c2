//! The RTCP callcast sends as a receiver: how often, and how its key frame
//! requests are addressed. Both decide how fast a tile recovers from a lost
//! packet, or shows when its publisher joins, behind an SFU.
//!
//! **How often.** RFC 4585 lets a receiver send one early feedback packet
//! per RTCP interval, and rtpsession works that interval out by RFC 3550's
//! rule: 5% of the session bandwidth shared among its members. webrtcbin
//! leaves the bandwidth to be estimated, the estimate stays at its floor of
//! 64 kbit/s, and behind Janus (one session, two streams a participant) the
//! interval was 20-25 s at 49 participants: after one request, the next
//! waited that long. [`report_bandwidth`] sizes the RTCP bandwidth to the
//! number of streams so that the interval stays near half a second, as a
//! browser's. Regular reports keep rtpsession's 5 s minimum.
//!
//! **Addressed how.** Janus (1.1) hands each compound RTCP packet from a
//! subscriber to one stream: the one its sender SSRC belongs to, which is
//! never known for a receive-only peer, or else the one its first report
//! block describes. rtpsession's early feedback packets carry an RR with no
//! report blocks, so Janus dropped every PLI and FIR callcast sent early; in
//! a regular packet the request went to whichever stream the first block
//! happened to describe. [`lead_with_request`] rewrites a compound packet
//! holding a PLI or FIR so that its first report block names the stream the
//! request is for: that stream's own block, moved from wherever it was, or
//! an empty one when the packet has none (an early packet). The rest is
//! left as it was.

use std::time::Duration;

/// The RTCP interval callcast aims at: at most this long between key frame
/// requests for different streams.
pub const FEEDBACK_INTERVAL: Duration = Duration::from_millis(500);
/// rtpsession's starting guess at its packets' average size, in bytes.
const TYPICAL_PACKET: f64 = 100.0;

/// The RTCP bandwidth, in bits per second as rtpsession's absolute
/// `rtcp-fraction` takes it, that makes the interval [`FEEDBACK_INTERVAL`]
/// in a session of `sources` streams: RFC 3550's interval is the members
/// times the average packet, over the bandwidth.
pub fn report_bandwidth(sources: u32) -> f64 {
    let members = f64::from(sources) + 1.0;
    8.0 * TYPICAL_PACKET * members / FEEDBACK_INTERVAL.as_secs_f64()
}

const VERSION: u8 = 2;
const SR: u8 = 200;
pub(crate) const RR: u8 = 201;
/// Payload-specific feedback, and its key frame requests (RFC 4585,
/// RFC 5104).
pub(crate) const PSFB: u8 = 206;
pub(crate) const PLI: u8 = 1;
pub(crate) const FIR: u8 = 4;
/// A report block's size, and the most one SR or RR can hold.
const BLOCK: usize = 24;
const MAX_BLOCKS: u8 = 31;

/// One packet of a compound: its header fields and its bytes after the
/// 4-byte header.
#[derive(Debug, Clone)]
struct Packet {
    count: u8,
    kind: u8,
    body: Vec<u8>,
}

impl Packet {
    /// Where the report blocks start in `body`: after the sender's SSRC,
    /// and after the sender info in an SR.
    fn blocks_at(&self) -> Option<usize> {
        match self.kind {
            RR => Some(4),
            SR => Some(24),
            _ => None,
        }
    }

    fn block_ssrc(&self, i: usize) -> Option<u32> {
        be32(&self.body, self.blocks_at()? + i * BLOCK)
    }

    /// Takes out the report block about `ssrc`, if this packet has one.
    fn take_block(&mut self, ssrc: u32) -> Option<Vec<u8>> {
        let first = self.blocks_at()?;
        let i = (0..self.count as usize).find(|&i| self.block_ssrc(i) == Some(ssrc))?;
        let at = first + i * BLOCK;
        let block = self.body.drain(at..at + BLOCK).collect();
        self.count -= 1;
        Some(block)
    }

    fn write(&self, out: &mut Vec<u8>) {
        out.push(VERSION << 6 | self.count);
        out.push(self.kind);
        out.extend_from_slice(&((self.body.len() / 4) as u16).to_be_bytes());
        out.extend_from_slice(&self.body);
    }
}

/// Splits a compound packet, or `None` when it is not well formed or uses
/// padding (which would have to stay on the last packet).
fn parse(bytes: &[u8]) -> Option<Vec<Packet>> {
    let mut packets = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let header = rest.get(..4)?;
        if header[0] >> 6 != VERSION || header[0] & 0x20 != 0 {
            return None;
        }
        let words = u16::from_be_bytes([header[2], header[3]]) as usize;
        let body = rest.get(4..4 + words * 4)?;
        let packet = Packet {
            count: header[0] & 0x1f,
            kind: header[1],
            body: body.to_vec(),
        };
        if let Some(first) = packet.blocks_at()
            && packet.body.len() < first + packet.count as usize * BLOCK
        {
            return None;
        }
        packets.push(packet);
        rest = &rest[4 + words * 4..];
    }
    Some(packets)
}

fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The stream the first PLI or FIR of a compound packet asks a key frame
/// of, read as far as the packet is RTCP.
pub fn key_frame_request(mut bytes: &[u8]) -> Option<u32> {
    while bytes.len() >= 4 {
        let (first, kind) = (bytes[0], bytes[1]);
        if first >> 6 != VERSION {
            return None;
        }
        match (kind, first & 0x1f) {
            // header, sender SSRC, media SSRC
            (PSFB, PLI) => return be32(bytes, 8),
            // header, sender SSRC, media SSRC (unused), then (SSRC, seq,
            // reserved) entries
            (PSFB, FIR) => return be32(bytes, 12),
            _ => {}
        }
        let len = (u16::from_be_bytes([bytes[2], bytes[3]]) as usize + 1) * 4;
        bytes = bytes.get(len..).unwrap_or_default();
    }
    None
}

/// The compound packet rewritten so that its first report block is about
/// the stream its first key frame request names; `None` when it holds no
/// request, already starts that way, or is not a well-formed compound
/// starting with an SR or RR.
pub fn lead_with_request(bytes: &[u8]) -> Option<Vec<u8>> {
    let target = key_frame_request(bytes)?;
    let mut packets = parse(bytes)?;
    let reporter = be32(&packets.first()?.body, 0)?;
    packets.first()?.blocks_at()?;
    if packets[0].count > 0 && packets[0].block_ssrc(0) == Some(target) {
        return None;
    }
    let block = packets
        .iter_mut()
        .find_map(|p| p.take_block(target))
        .unwrap_or_else(|| {
            // No reception report yet (an early packet): an empty one, which
            // Janus reads as nothing lost and no round trip to measure.
            let mut empty = vec![0; BLOCK];
            empty[..4].copy_from_slice(&target.to_be_bytes());
            empty
        });
    let first = &mut packets[0];
    if first.kind == RR && first.count < MAX_BLOCKS {
        first.body.splice(4..4, block);
        first.count += 1;
    } else {
        let mut body = reporter.to_be_bytes().to_vec();
        body.extend_from_slice(&block);
        packets.insert(
            0,
            Packet {
                count: 1,
                kind: RR,
                body,
            },
        );
    }
    let mut out = Vec::with_capacity(bytes.len() + 4 + BLOCK);
    for p in &packets {
        p.write(&mut out);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: u32 = 0x1111_1111;

    fn block(ssrc: u32, fill: u8) -> Vec<u8> {
        let mut b = vec![fill; BLOCK];
        b[..4].copy_from_slice(&ssrc.to_be_bytes());
        b
    }

    fn packet(count: u8, kind: u8, body: Vec<u8>) -> Vec<u8> {
        let mut out = Vec::new();
        Packet { count, kind, body }.write(&mut out);
        out
    }

    fn rr(blocks: &[u32]) -> Vec<u8> {
        let mut body = ME.to_be_bytes().to_vec();
        for &s in blocks {
            body.extend(block(s, s as u8));
        }
        packet(blocks.len() as u8, RR, body)
    }

    fn sdes() -> Vec<u8> {
        // One chunk: SSRC, CNAME "cc", end, padding to a word.
        let mut body = ME.to_be_bytes().to_vec();
        body.extend([1, 2, b'c', b'c', 0, 0, 0, 0]);
        packet(1, 202, body)
    }

    fn pli(media: u32) -> Vec<u8> {
        let mut body = ME.to_be_bytes().to_vec();
        body.extend(media.to_be_bytes());
        packet(PLI, PSFB, body)
    }

    fn fir(media: u32) -> Vec<u8> {
        let mut body = ME.to_be_bytes().to_vec();
        body.extend(0u32.to_be_bytes());
        body.extend(media.to_be_bytes());
        body.extend([7, 0, 0, 0]);
        packet(FIR, PSFB, body)
    }

    /// The SSRCs of every report block, packet by packet, and each packet's
    /// type: what Janus and any other reader of the compound sees.
    fn reports(bytes: &[u8]) -> Vec<(u8, Vec<u32>)> {
        parse(bytes)
            .expect("well formed")
            .iter()
            .map(|p| {
                let blocks = (0..p.count as usize)
                    .filter_map(|i| p.block_ssrc(i))
                    .collect();
                (
                    p.kind,
                    if p.blocks_at().is_some() {
                        blocks
                    } else {
                        vec![]
                    },
                )
            })
            .collect()
    }

    #[test]
    fn an_early_pli_gets_an_empty_block_for_its_stream() {
        let early = [rr(&[]), sdes(), pli(0xAAAA_0001)].concat();
        let out = lead_with_request(&early).unwrap();
        assert_eq!(
            reports(&out),
            vec![(RR, vec![0xAAAA_0001]), (202, vec![]), (PSFB, vec![])]
        );
        // The block is empty but for its SSRC; the other packets are the
        // same bytes.
        assert_eq!(&out[8..12], &0xAAAA_0001u32.to_be_bytes());
        assert!(out[12..32].iter().all(|&b| b == 0));
        assert_eq!(&out[32..], &early[8..]);
    }

    #[test]
    fn a_regular_packet_moves_the_streams_own_block_first() {
        let regular = [rr(&[1, 2, 3]), sdes(), pli(3)].concat();
        let out = lead_with_request(&regular).unwrap();
        assert_eq!(out.len(), regular.len());
        assert_eq!(reports(&out)[0], (RR, vec![3, 1, 2]));
        // The block moved whole: its statistics came with it.
        let moved = parse(&out).unwrap()[0].body[4..4 + BLOCK].to_vec();
        assert_eq!(moved, block(3, 3));
    }

    #[test]
    fn a_block_in_a_later_rr_is_moved_to_the_front() {
        let full: Vec<u32> = (100..131).collect();
        let regular = [rr(&full), rr(&[7, 8]), sdes(), fir(8)].concat();
        let out = lead_with_request(&regular).unwrap();
        let r = reports(&out);
        // The first RR is full, so a one-block RR goes in front of it.
        assert_eq!(r[0], (RR, vec![8]));
        assert_eq!(r[1], (RR, full));
        assert_eq!(r[2], (RR, vec![7]));
        assert_eq!(r.len(), 5);
    }

    #[test]
    fn a_sender_report_keeps_its_sender_info() {
        let mut body = ME.to_be_bytes().to_vec();
        body.extend([9; 20]);
        body.extend(block(5, 5));
        let sr = packet(1, SR, body);
        let out = lead_with_request(&[sr.clone(), pli(6)].concat()).unwrap();
        assert_eq!(
            reports(&out),
            vec![(RR, vec![6]), (SR, vec![5]), (PSFB, vec![])]
        );
        assert_eq!(
            &out[4..8],
            &ME.to_be_bytes(),
            "the RR is from the same sender"
        );
        assert_eq!(&out[32..32 + sr.len()], &sr[..]);
    }

    #[test]
    fn packets_that_need_nothing_are_left_alone() {
        // No key frame request.
        assert_eq!(lead_with_request(&[rr(&[1]), sdes()].concat()), None);
        // Already led by the requested stream's block.
        assert_eq!(lead_with_request(&[rr(&[4, 1]), pli(4)].concat()), None);
        // Not a compound that starts with a report.
        assert_eq!(lead_with_request(&[sdes(), pli(4)].concat()), None);
        // Truncated, a wrong version, padding, a block count past the end.
        let good = [rr(&[1]), pli(4)].concat();
        assert_eq!(lead_with_request(&good[..good.len() - 2]), None);
        let mut v1 = good.clone();
        v1[0] = 1 << 6 | 1;
        assert_eq!(lead_with_request(&v1), None);
        let mut padded = good.clone();
        padded[0] |= 0x20;
        assert_eq!(lead_with_request(&padded), None);
        let mut overcount = good;
        overcount[0] = VERSION << 6 | 5;
        assert_eq!(lead_with_request(&overcount), None);
        assert_eq!(lead_with_request(&[]), None);
    }

    #[test]
    fn the_rtcp_bandwidth_grows_with_the_streams() {
        // One stream, the embedded room's audio or video alone: rtpsession's
        // own default, 5% of 64 kbit/s, which gives 2 members 0.5 s apart.
        assert_eq!(report_bandwidth(1), 3200.0);
        // 49 participants behind Janus: 99 members of 100 bytes, 0.5 s apart.
        assert_eq!(report_bandwidth(98), 99.0 * 800.0 * 2.0);
    }

    #[test]
    fn the_first_request_wins_when_there_are_several() {
        let out = lead_with_request(&[rr(&[1, 2]), sdes(), pli(2), pli(1)].concat()).unwrap();
        assert_eq!(reports(&out)[0], (RR, vec![2, 1]));
    }
}
