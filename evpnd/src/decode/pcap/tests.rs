//! Synthetic captures built here (each test states the wire event it
//! models), and the real captures in evpn-proto/tests/fixtures.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use etherparse::PacketBuilder;
use pcap_file::pcap::{PcapHeader, PcapPacket, PcapWriter};
use pcap_file::pcapng::blocks::enhanced_packet::EnhancedPacketBlock;
use pcap_file::pcapng::blocks::interface_description::{
    InterfaceDescriptionBlock, InterfaceDescriptionOption,
};
use pcap_file::pcapng::PcapNgWriter;
use pcap_file::DataLink;

use super::*;

// ---------------------------------------------------------------------------
// Building captures

const OPEN: u8 = 1;
const UPDATE: u8 = 2;
const NOTIFICATION: u8 = 3;
const KEEPALIVE: u8 = 4;
const ROUTE_REFRESH: u8 = 5;

/// A BGP message of `ty` with `body` octets after the header, each octet
/// of the body set to `fill` so tests can tell messages apart.
fn bgp(ty: u8, body: usize, fill: u8) -> Vec<u8> {
    let len = u16::try_from(19 + body).unwrap();
    let mut m = vec![0xff; 16];
    m.extend_from_slice(&len.to_be_bytes());
    m.push(ty);
    m.extend(std::iter::repeat_n(fill, body));
    m
}

fn keepalive() -> Vec<u8> {
    bgp(KEEPALIVE, 0, 0)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Leaf (client) and spine (port 179), IPv4 and IPv6.
fn leaf() -> SocketAddr {
    addr("10.0.0.11:40000")
}
fn spine() -> SocketAddr {
    addr("10.0.0.1:179")
}
fn leaf6() -> SocketAddr {
    addr("[fd00::11]:40000")
}
fn spine6() -> SocketAddr {
    addr("[fd00::1]:179")
}

/// One captured packet: time, direction, TCP sequence number, SYN, payload.
struct Pkt {
    ms: u64,
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    syn: bool,
    payload: Vec<u8>,
}

fn data(ms: u64, src: SocketAddr, dst: SocketAddr, seq: u32, payload: &[u8]) -> Pkt {
    Pkt {
        ms,
        src,
        dst,
        seq,
        syn: false,
        payload: payload.to_vec(),
    }
}

fn syn(ms: u64, src: SocketAddr, dst: SocketAddr, isn: u32) -> Pkt {
    Pkt {
        ms,
        src,
        dst,
        seq: isn,
        syn: true,
        payload: Vec::new(),
    }
}

/// IP + TCP headers and payload, as etherparse writes them.
fn ip_packet(p: &Pkt) -> Vec<u8> {
    let ip = match (p.src.ip(), p.dst.ip()) {
        (IpAddr::V4(s), IpAddr::V4(d)) => PacketBuilder::ipv4(s.octets(), d.octets(), 64),
        (IpAddr::V6(s), IpAddr::V6(d)) => PacketBuilder::ipv6(s.octets(), d.octets(), 64),
        _ => panic!("mixed address families"),
    };
    let mut tcp = ip.tcp(p.src.port(), p.dst.port(), p.seq, 65000).ack(1);
    if p.syn {
        tcp = tcp.syn();
    }
    let mut out = Vec::new();
    tcp.write(&mut out, &p.payload).unwrap();
    out
}

fn ether_type(ip: &[u8]) -> [u8; 2] {
    if ip[0] >> 4 == 6 {
        [0x86, 0xdd]
    } else {
        [0x08, 0x00]
    }
}

/// The link-layer header of `link` in front of an IP packet.
fn frame(link: DataLink, ip: Vec<u8>) -> Vec<u8> {
    let mut f = match link {
        DataLink::ETHERNET => {
            let mut h = vec![0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02];
            h.extend_from_slice(&ether_type(&ip));
            h
        }
        // packet type, ARPHRD_ETHER, address length, address (8), protocol
        DataLink::LINUX_SLL => {
            let mut h = vec![0, 4, 0, 1, 0, 6, 0x02, 0, 0, 0, 0, 0x02, 0, 0];
            h.extend_from_slice(&ether_type(&ip));
            h
        }
        // protocol, reserved, ifindex, ARPHRD_ETHER, packet type,
        // address length, address (8)
        DataLink::LINUX_SLL2 => {
            let mut h = ether_type(&ip).to_vec();
            h.extend_from_slice(&[0, 0, 0, 0, 0, 7, 0, 1, 4, 6]);
            h.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02, 0, 0]);
            h
        }
        DataLink::RAW => Vec::new(),
        other => panic!("no test framing for {other:?}"),
    };
    f.extend_from_slice(&ip);
    f
}

/// Ethernet with an 802.1Q tag (TPID 0x8100, VLAN 100) before the EtherType.
fn vlan_frame(ip: Vec<u8>) -> Vec<u8> {
    let mut f = vec![
        0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x81, 0x00, 0x00, 0x64,
    ];
    f.extend_from_slice(&ether_type(&ip));
    f.extend_from_slice(&ip);
    f
}

fn pcap_with(link: DataLink, frames: Vec<(u64, Vec<u8>)>) -> Vec<u8> {
    let header = PcapHeader {
        datalink: link,
        snaplen: 262_144,
        ..PcapHeader::default()
    };
    let mut w = PcapWriter::with_header(Vec::new(), header).unwrap();
    for (ms, f) in frames {
        let ts = Duration::from_millis(1_700_000_000_000 + ms);
        let len = u32::try_from(f.len()).unwrap();
        w.write_packet(&PcapPacket::new(ts, len, &f)).unwrap();
    }
    w.into_writer()
}

fn pcap(link: DataLink, pkts: &[Pkt]) -> Vec<u8> {
    pcap_with(
        link,
        pkts.iter()
            .map(|p| (p.ms, frame(link, ip_packet(p))))
            .collect(),
    )
}

fn read(link: DataLink, pkts: &[Pkt]) -> Capture {
    read_bytes(&pcap(link, pkts)).unwrap()
}

fn ts(ms: u64) -> Duration {
    Duration::from_millis(1_700_000_000_000 + ms)
}

/// (sender, type, first body octet) of each message: enough to tell which
/// synthetic message came out where.
fn summary(c: &Capture) -> Vec<(SocketAddr, u8, Option<u8>)> {
    c.messages
        .iter()
        .map(|m| (m.src, m.message_type(), m.bytes.get(19).copied()))
        .collect()
}

// ---------------------------------------------------------------------------
// Reassembly and framing

#[test]
fn message_split_across_three_segments_is_joined_at_the_last_one() {
    let update = bgp(UPDATE, 300, 0xa1);
    let (a, rest) = update.split_at(10); // inside the marker
    let (b, c) = rest.split_at(100);
    let capture = read(
        DataLink::ETHERNET,
        &[
            syn(0, leaf(), spine(), 1000),
            data(1, leaf(), spine(), 1001, a),
            data(2, leaf(), spine(), 1011, b),
            data(3, leaf(), spine(), 1111, c),
        ],
    );
    assert_eq!(
        capture.messages,
        vec![CapturedMessage {
            src: leaf(),
            dst: spine(),
            ts: ts(3),
            bytes: update.clone(),
        }]
    );
    assert!(capture.errors.is_empty());
    assert_eq!(capture.stats.bgp_segments, 4);
}

#[test]
fn several_messages_in_one_segment_are_all_cut_in_order() {
    let mut payload = bgp(OPEN, 20, 0x01);
    payload.extend(keepalive());
    payload.extend(bgp(UPDATE, 40, 0x02));
    payload.extend(bgp(UPDATE, 50, 0x03));
    // ... and the first 5 octets of a KEEPALIVE, finished by the next one.
    let ka = keepalive();
    payload.extend(&ka[..5]);
    let capture = read(
        DataLink::ETHERNET,
        &[
            syn(0, leaf(), spine(), 7),
            data(1, leaf(), spine(), 8, &payload),
            data(2, leaf(), spine(), 8 + payload.len() as u32, &ka[5..]),
        ],
    );
    assert_eq!(
        summary(&capture),
        vec![
            (leaf(), OPEN, Some(0x01)),
            (leaf(), KEEPALIVE, None),
            (leaf(), UPDATE, Some(0x02)),
            (leaf(), UPDATE, Some(0x03)),
            (leaf(), KEEPALIVE, None),
        ]
    );
    let times: Vec<_> = capture.messages.iter().map(|m| m.ts).collect();
    assert_eq!(times, vec![ts(1), ts(1), ts(1), ts(1), ts(2)]);
    assert!(capture.errors.is_empty());
}

#[test]
fn out_of_order_segments_wait_for_the_hole_before_them() {
    let m1 = bgp(UPDATE, 30, 0x11);
    let m2 = bgp(UPDATE, 30, 0x22);
    let m3 = bgp(UPDATE, 30, 0x33);
    let s1 = 101;
    let s2 = s1 + m1.len() as u32;
    let s3 = s2 + m2.len() as u32;
    // Arrival order: m3, m2, m1.
    let capture = read(
        DataLink::ETHERNET,
        &[
            syn(0, leaf(), spine(), 100),
            data(1, leaf(), spine(), s3, &m3),
            data(2, leaf(), spine(), s2, &m2),
            data(3, leaf(), spine(), s1, &m1),
        ],
    );
    assert_eq!(
        summary(&capture),
        vec![
            (leaf(), UPDATE, Some(0x11)),
            (leaf(), UPDATE, Some(0x22)),
            (leaf(), UPDATE, Some(0x33)),
        ]
    );
    // All three completed when the hole closed.
    assert!(capture.messages.iter().all(|m| m.ts == ts(3)));
    assert_eq!(capture.stats.out_of_order_segments, 2);
    assert!(capture.errors.is_empty());
}

#[test]
fn retransmitted_and_overlapping_segments_yield_each_message_once() {
    let m1 = bgp(UPDATE, 40, 0x11);
    let m2 = bgp(UPDATE, 40, 0x22);
    let both: Vec<u8> = m1.iter().chain(&m2).copied().collect();
    let s1 = 501;
    let capture = read(
        DataLink::ETHERNET,
        &[
            syn(0, leaf(), spine(), 500),
            data(1, leaf(), spine(), s1, &m1),
            // The same segment again (a retransmission, or `-i any`
            // capturing it twice).
            data(2, leaf(), spine(), s1, &m1),
            // A retransmission that repacketised: m1 again plus m2.
            data(3, leaf(), spine(), s1, &both),
            data(4, leaf(), spine(), s1 + 10, &both[10..70]),
        ],
    );
    assert_eq!(
        summary(&capture),
        vec![(leaf(), UPDATE, Some(0x11)), (leaf(), UPDATE, Some(0x22))]
    );
    assert_eq!(capture.messages[1].ts, ts(3));
    assert_eq!(
        capture.stats.duplicate_bytes,
        (m1.len() + m1.len() + 60) as u64
    );
    assert!(capture.errors.is_empty());
}

#[test]
fn held_segment_captured_twice_is_kept_once() {
    let m1 = bgp(UPDATE, 10, 0x11);
    let m2 = bgp(UPDATE, 10, 0x22);
    let s2 = 2 + m1.len() as u32;
    let capture = read(
        DataLink::ETHERNET,
        &[
            syn(0, leaf(), spine(), 1),
            data(1, leaf(), spine(), s2, &m2),
            data(2, leaf(), spine(), s2, &m2),
            data(3, leaf(), spine(), 2, &m1),
        ],
    );
    assert_eq!(
        summary(&capture),
        vec![(leaf(), UPDATE, Some(0x11)), (leaf(), UPDATE, Some(0x22))]
    );
    assert_eq!(capture.stats.duplicate_bytes, m2.len() as u64);
}

#[test]
fn retransmitted_syn_does_not_reset_the_stream() {
    let open = bgp(OPEN, 10, 0x01);
    let capture = read(
        DataLink::ETHERNET,
        &[
            syn(0, leaf(), spine(), 9),
            syn(1, leaf(), spine(), 9),
            data(2, leaf(), spine(), 10, &open[..7]),
            syn(3, leaf(), spine(), 9),
            data(4, leaf(), spine(), 17, &open[7..]),
        ],
    );
    assert_eq!(summary(&capture), vec![(leaf(), OPEN, Some(0x01))]);
    assert!(capture.errors.is_empty());
}

#[test]
fn new_syn_on_the_same_ports_starts_a_new_connection() {
    // The first connection dies inside an UPDATE; the peer reconnects from
    // the same port with a new ISN and sends an OPEN.
    let update = bgp(UPDATE, 50, 0x11);
    let open = bgp(OPEN, 10, 0x01);
    let capture = read(
        DataLink::ETHERNET,
        &[
            syn(0, leaf(), spine(), 1000),
            data(1, leaf(), spine(), 1001, &update[..30]),
            syn(2, leaf(), spine(), 90_000),
            data(3, leaf(), spine(), 90_001, &open),
        ],
    );
    assert_eq!(summary(&capture), vec![(leaf(), OPEN, Some(0x01))]);
    assert_eq!(
        capture.errors,
        vec![StreamError {
            src: leaf(),
            dst: spine(),
            ts: ts(2),
            offset: 0,
            kind: StreamErrorKind::Truncated(30),
        }]
    );
}

#[test]
fn capture_starting_mid_message_skips_to_the_first_header() {
    // The capture missed the SYN and the first 25 octets of an UPDATE.
    let update = bgp(UPDATE, 60, 0x11);
    let mut first = update[25..].to_vec();
    first.extend(keepalive());
    let next = bgp(UPDATE, 20, 0x22);
    let seq = 77_777;
    let capture = read(
        DataLink::ETHERNET,
        &[
            data(0, leaf(), spine(), seq, &first),
            data(1, leaf(), spine(), seq + first.len() as u32, &next),
        ],
    );
    assert_eq!(
        summary(&capture),
        vec![(leaf(), KEEPALIVE, None), (leaf(), UPDATE, Some(0x22))]
    );
    assert_eq!(
        capture.stats.skipped_stream_bytes,
        (update.len() - 25) as u64
    );
    assert!(capture.errors.is_empty());
}

#[test]
fn capture_starting_mid_stream_with_a_header_split_across_segments() {
    // No SYN; the first segment ends 6 octets into a KEEPALIVE's marker.
    let junk = vec![0x42; 40];
    let ka = keepalive();
    let mut first = junk.clone();
    first.extend(&ka[..6]);
    let capture = read(
        DataLink::ETHERNET,
        &[
            data(0, leaf(), spine(), 5, &first),
            data(1, leaf(), spine(), 5 + first.len() as u32, &ka[6..]),
        ],
    );
    assert_eq!(summary(&capture), vec![(leaf(), KEEPALIVE, None)]);
    assert_eq!(capture.stats.skipped_stream_bytes, junk.len() as u64);
}

#[test]
fn bad_marker_stops_that_direction_only() {
    let mut broken = keepalive();
    broken[3] = 0x00;
    let open = bgp(OPEN, 10, 0x01);
    let capture = read(
        DataLink::ETHERNET,
        &[
            syn(0, leaf(), spine(), 100),
            syn(0, spine(), leaf(), 200),
            data(1, leaf(), spine(), 101, &open),
            data(2, leaf(), spine(), 101 + open.len() as u32, &broken),
            data(3, spine(), leaf(), 201, &open),
            // After the error, nothing more from the broken direction...
            data(
                4,
                leaf(),
                spine(),
                101 + open.len() as u32 + 19,
                &keepalive(),
            ),
            // ... but the other direction goes on.
            data(5, spine(), leaf(), 201 + open.len() as u32, &keepalive()),
        ],
    );
    assert_eq!(
        summary(&capture),
        vec![
            (leaf(), OPEN, Some(0x01)),
            (spine(), OPEN, Some(0x01)),
            (spine(), KEEPALIVE, None),
        ]
    );
    assert_eq!(
        capture.errors,
        vec![StreamError {
            src: leaf(),
            dst: spine(),
            ts: ts(2),
            offset: open.len() as u64,
            kind: StreamErrorKind::BadMarker,
        }]
    );
}

#[test]
fn length_shorter_than_the_header_is_an_error() {
    let mut broken = keepalive();
    broken[16..18].copy_from_slice(&18u16.to_be_bytes());
    let capture = read(
        DataLink::ETHERNET,
        &[
            syn(0, leaf(), spine(), 0),
            data(1, leaf(), spine(), 1, &broken),
        ],
    );
    assert!(capture.messages.is_empty());
    assert_eq!(capture.errors.len(), 1);
    assert_eq!(capture.errors[0].kind, StreamErrorKind::BadLength(18));
    assert_eq!(
        capture.errors[0].to_string(),
        "10.0.0.11:40000 -> 10.0.0.1:179: BGP length 18 is shorter than the header (stream offset 0)"
    );
}

#[test]
fn hole_never_filled_is_reported_as_a_gap() {
    // The capture dropped the segment carrying m2.
    let m1 = bgp(UPDATE, 10, 0x11);
    let m2 = bgp(UPDATE, 10, 0x22);
    let m3 = bgp(UPDATE, 10, 0x33);
    let s3 = 1 + (m1.len() + m2.len()) as u32;
    let capture = read(
        DataLink::ETHERNET,
        &[
            syn(0, leaf(), spine(), 0),
            data(1, leaf(), spine(), 1, &m1),
            data(3, leaf(), spine(), s3, &m3),
        ],
    );
    assert_eq!(summary(&capture), vec![(leaf(), UPDATE, Some(0x11))]);
    assert_eq!(
        capture.errors,
        vec![StreamError {
            src: leaf(),
            dst: spine(),
            ts: ts(3),
            offset: m1.len() as u64,
            kind: StreamErrorKind::Gap {
                missing: m2.len() as u32,
                held: m3.len(),
            },
        }]
    );
}

#[test]
fn message_cut_by_the_end_of_the_capture_is_reported_truncated() {
    let update = bgp(UPDATE, 100, 0x11);
    let capture = read(
        DataLink::ETHERNET,
        &[
            syn(0, leaf(), spine(), 0),
            data(1, leaf(), spine(), 1, &keepalive()),
            data(2, leaf(), spine(), 20, &update[..50]),
        ],
    );
    assert_eq!(summary(&capture), vec![(leaf(), KEEPALIVE, None)]);
    assert_eq!(
        capture.errors,
        vec![StreamError {
            src: leaf(),
            dst: spine(),
            ts: ts(2),
            offset: 19,
            kind: StreamErrorKind::Truncated(50),
        }]
    );
}

#[test]
fn sequence_numbers_wrap_around_zero() {
    let m1 = bgp(UPDATE, 30, 0x11);
    let m2 = bgp(UPDATE, 30, 0x22);
    let isn = u32::MAX - 20; // data starts 20 octets before the wrap
    let s1 = isn.wrapping_add(1);
    let s2 = s1.wrapping_add(m1.len() as u32);
    let capture = read(
        DataLink::ETHERNET,
        &[
            syn(0, leaf(), spine(), isn),
            // m2 (after the wrap) first, then m1 across the wrap.
            data(1, leaf(), spine(), s2, &m2),
            data(2, leaf(), spine(), s1, &m1),
            data(3, leaf(), spine(), s1, &m1[..10]),
        ],
    );
    assert_eq!(
        summary(&capture),
        vec![(leaf(), UPDATE, Some(0x11)), (leaf(), UPDATE, Some(0x22))]
    );
    assert_eq!(capture.stats.duplicate_bytes, 10);
    assert!(capture.errors.is_empty());
}

#[test]
fn directions_interleave_in_the_order_messages_completed() {
    let open = bgp(OPEN, 10, 0x01);
    let capture = read(
        DataLink::ETHERNET,
        &[
            syn(0, leaf(), spine(), 10),
            syn(1, spine(), leaf(), 20),
            data(2, leaf(), spine(), 11, &open[..20]),
            data(3, spine(), leaf(), 21, &open),
            data(4, leaf(), spine(), 31, &open[20..]),
            data(5, spine(), leaf(), 21 + open.len() as u32, &keepalive()),
        ],
    );
    let order: Vec<_> = capture
        .messages
        .iter()
        .map(|m| (m.src, m.dst, m.message_type(), m.ts))
        .collect();
    assert_eq!(
        order,
        vec![
            (spine(), leaf(), OPEN, ts(3)),
            (leaf(), spine(), OPEN, ts(4)),
            (spine(), leaf(), KEEPALIVE, ts(5)),
        ]
    );
}

#[test]
fn records_out_of_time_order_in_the_file_are_taken_by_time() {
    let open = bgp(OPEN, 10, 0x01);
    let capture = read(
        DataLink::ETHERNET,
        &[
            data(5, spine(), leaf(), 21, &open),
            syn(1, spine(), leaf(), 20),
            syn(0, leaf(), spine(), 10),
            data(2, leaf(), spine(), 11, &open),
        ],
    );
    let order: Vec<_> = capture.messages.iter().map(|m| (m.src, m.ts)).collect();
    assert_eq!(order, vec![(leaf(), ts(2)), (spine(), ts(5))]);
}

#[test]
fn other_traffic_is_skipped() {
    let web = data(
        1,
        addr("10.0.0.11:40001"),
        addr("10.0.0.1:80"),
        1,
        b"GET / HTTP/1.1",
    );
    let mut frames = vec![(1, frame(DataLink::ETHERNET, ip_packet(&web)))];
    // An ARP frame, and a runt.
    let mut arp = vec![0xff; 6];
    arp.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 0x08, 0x06]);
    arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&[0; 20]);
    frames.push((2, arp));
    frames.push((3, vec![0x02, 0, 0]));
    let capture = read_bytes(&pcap_with(DataLink::ETHERNET, frames)).unwrap();
    assert!(capture.messages.is_empty());
    assert_eq!(capture.stats.packets, 3);
    assert_eq!(capture.stats.bgp_segments, 0);
    assert_eq!(
        capture.stats.skipped_packets + capture.stats.malformed_packets,
        3
    );
    assert_eq!(capture.stats.malformed_packets, 1);
}

#[test]
fn bgp_on_another_port_with_read_bytes_with_port() {
    let lab = addr("10.0.0.1:1179");
    let file = pcap(
        DataLink::ETHERNET,
        &[
            syn(0, leaf(), lab, 0),
            data(1, leaf(), lab, 1, &keepalive()),
        ],
    );
    assert!(read_bytes(&file).unwrap().messages.is_empty());
    assert_eq!(read_bytes_with_port(&file, 1179).unwrap().messages.len(), 1);
}

// ---------------------------------------------------------------------------
// Properties of the reassembler, fed segments directly

mod properties {
    use proptest::prelude::*;

    use super::super::reassembly::{HalfConnection, Segment};
    use super::*;

    /// Feeds (sequence number, payload) to one direction, SYN first.
    fn reassemble(isn: u32, segments: &[(u32, Vec<u8>)]) -> Capture {
        let mut out = Capture::default();
        let mut half = HalfConnection::new(leaf(), spine());
        let syn = Segment {
            ts: Duration::ZERO,
            seq: isn,
            syn: true,
            payload: &[],
        };
        half.on_segment(&syn, &mut out);
        for (i, (seq, payload)) in segments.iter().enumerate() {
            let segment = Segment {
                ts: Duration::from_millis(i as u64 + 1),
                seq: *seq,
                syn: false,
                payload,
            };
            half.on_segment(&segment, &mut out);
        }
        half.finish(&mut out);
        out
    }

    fn messages() -> impl Strategy<Value = Vec<Vec<u8>>> {
        prop::collection::vec(
            (1u8..=5, 0usize..300, any::<u8>()).prop_map(|(t, len, fill)| bgp(t, len, fill)),
            1..12,
        )
    }

    proptest! {
        /// However the stream is cut, reordered, duplicated and partly
        /// retransmitted, and wherever the sequence space wraps, every
        /// message comes out once, whole and in order.
        #[test]
        fn any_segmentation_order_and_duplication_yields_the_stream(
            msgs in messages(),
            isn in any::<u32>(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
            dups in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>()), 0..6),
            shuffle_seed in any::<u64>(),
        ) {
            let stream: Vec<u8> = msgs.concat();
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len())).collect();
            points.extend([0, stream.len()]);
            points.sort_unstable();
            points.dedup();
            let base = isn.wrapping_add(1);
            let at = |off: usize| base.wrapping_add(off as u32);
            let mut segments: Vec<(u32, Vec<u8>)> = points
                .windows(2)
                .map(|w| (at(w[0]), stream[w[0]..w[1]].to_vec()))
                .collect();
            // Retransmissions of arbitrary ranges, possibly spanning segments.
            for (a, b) in &dups {
                let (x, y) = (a.index(stream.len()), b.index(stream.len()));
                let (lo, hi) = (x.min(y), x.max(y) + 1);
                segments.push((at(lo), stream[lo..hi].to_vec()));
            }
            // A deterministic shuffle from the seed (xorshift).
            let mut state = shuffle_seed | 1;
            for i in (1..segments.len()).rev() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                segments.swap(i, (state % (i as u64 + 1)) as usize);
            }
            let out = reassemble(isn, &segments);
            prop_assert!(out.errors.is_empty(), "{:?}", out.errors);
            let got: Vec<Vec<u8>> = out.messages.into_iter().map(|m| m.bytes).collect();
            prop_assert_eq!(got, msgs);
        }

        /// Arbitrary payloads at arbitrary sequence numbers never panic, and
        /// every message that comes out is a framed BGP message.
        #[test]
        fn arbitrary_segments_never_panic(
            isn in any::<u32>(),
            segments in prop::collection::vec(
                (any::<u16>(), prop::collection::vec(
                    prop_oneof![Just(0xffu8), any::<u8>()], 0..200)),
                0..30),
        ) {
            let segments: Vec<(u32, Vec<u8>)> = segments
                .into_iter()
                .map(|(off, p)| (isn.wrapping_add(u32::from(off)), p))
                .collect();
            let out = reassemble(isn, &segments);
            for m in &out.messages {
                prop_assert!(m.bytes.len() >= 19);
                prop_assert_eq!(&m.bytes[..16], &[0xff; 16][..]);
                let len = usize::from(u16::from_be_bytes([m.bytes[16], m.bytes[17]]));
                prop_assert_eq!(len, m.bytes.len());
            }
            prop_assert!(out.errors.len() <= 1);
        }

        /// Arbitrary file contents, and arbitrary bytes behind a valid pcap
        /// header, are errors or skipped records, never panics.
        #[test]
        fn arbitrary_files_never_panic(
            bytes in prop::collection::vec(any::<u8>(), 0..400),
            link in prop::sample::select(vec![
                DataLink::ETHERNET, DataLink::LINUX_SLL, DataLink::LINUX_SLL2,
                DataLink::RAW, DataLink::NULL,
            ]),
        ) {
            let _ = read_bytes(&bytes);
            let file = pcap_with(link, vec![(0, bytes.clone())]);
            let capture = read_bytes(&file).unwrap();
            prop_assert_eq!(capture.stats.packets, 1);
        }
    }
}

// ---------------------------------------------------------------------------
// Link types and file formats

/// The same short session (OPENs both ways, a KEEPALIVE split across two
/// segments) over IPv4 and IPv6, for one link type.
fn session(link: DataLink, client: SocketAddr, server: SocketAddr) -> Capture {
    let open = bgp(OPEN, 10, 0x01);
    let ka = keepalive();
    read(
        link,
        &[
            syn(0, client, server, 1),
            syn(1, server, client, 500),
            data(2, client, server, 2, &open),
            data(3, server, client, 501, &open),
            data(4, client, server, 2 + open.len() as u32, &ka[..9]),
            data(5, client, server, 11 + open.len() as u32, &ka[9..]),
        ],
    )
}

#[test]
fn ethernet_linux_cooked_v1_v2_and_raw_ip_over_ipv4_and_ipv6() {
    for link in [
        DataLink::ETHERNET,
        DataLink::LINUX_SLL,
        DataLink::LINUX_SLL2,
        DataLink::RAW,
    ] {
        for (client, server) in [(leaf(), spine()), (leaf6(), spine6())] {
            let capture = session(link, client, server);
            assert_eq!(
                capture
                    .messages
                    .iter()
                    .map(|m| (m.src, m.dst, m.message_type()))
                    .collect::<Vec<_>>(),
                vec![
                    (client, server, OPEN),
                    (server, client, OPEN),
                    (client, server, KEEPALIVE),
                ],
                "{link:?} {client}"
            );
            assert!(capture.errors.is_empty(), "{link:?}");
            assert_eq!(capture.stats.bgp_segments, 6, "{link:?}");
        }
    }
}

#[test]
fn ethernet_with_an_802_1q_tag() {
    let p = syn(0, leaf(), spine(), 0);
    let k = data(1, leaf(), spine(), 1, &keepalive());
    let file = pcap_with(
        DataLink::ETHERNET,
        vec![
            (0, vlan_frame(ip_packet(&p))),
            (1, vlan_frame(ip_packet(&k))),
        ],
    );
    let capture = read_bytes(&file).unwrap();
    assert_eq!(summary(&capture), vec![(leaf(), KEEPALIVE, None)]);
}

#[test]
fn unsupported_link_type_is_an_error_not_a_panic() {
    let file = pcap_with(DataLink::IEEE802_11, vec![(0, vec![1, 2, 3])]);
    assert!(matches!(
        read_bytes(&file),
        Err(ReadError::UnsupportedLinkType(DataLink::IEEE802_11))
    ));
}

#[test]
fn garbage_and_truncated_files_do_not_panic() {
    assert!(matches!(read_bytes(b""), Err(ReadError::Format(_))));
    assert!(matches!(
        read_bytes(b"not a pcap file at all"),
        Err(ReadError::Format(_))
    ));
    // A capture killed mid-record keeps the records before it.
    let mut file = pcap(
        DataLink::ETHERNET,
        &[
            syn(0, leaf(), spine(), 0),
            data(1, leaf(), spine(), 1, &keepalive()),
            data(2, leaf(), spine(), 20, &keepalive()),
        ],
    );
    file.truncate(file.len() - 30);
    let capture = read_bytes(&file).unwrap();
    assert_eq!(capture.messages.len(), 1);
    assert_eq!(capture.stats.packets, 2);
    assert_eq!(capture.stats.malformed_packets, 1);
    assert_eq!(capture.stats.truncated_record, Some(3));
    // Every prefix of a valid file reads or fails cleanly.
    let file = session_file();
    for n in 0..file.len() {
        let _ = read_bytes(&file[..n]);
    }
}

fn session_file() -> Vec<u8> {
    let open = bgp(OPEN, 10, 0x01);
    pcap(
        DataLink::LINUX_SLL2,
        &[
            syn(0, leaf6(), spine6(), 1),
            data(1, leaf6(), spine6(), 2, &open),
        ],
    )
}

/// A pcapng file with one interface of `link` and `options`, and one
/// Enhanced Packet Block per frame with the raw timestamp `units`.
fn pcapng(
    link: DataLink,
    options: Vec<InterfaceDescriptionOption<'static>>,
    frames: Vec<(u64, Vec<u8>)>,
) -> Vec<u8> {
    let mut w = PcapNgWriter::new(Vec::new()).unwrap();
    w.write_pcapng_block(InterfaceDescriptionBlock {
        linktype: link,
        snaplen: 0,
        options,
    })
    .unwrap();
    for (units, f) in frames {
        w.write_pcapng_block(EnhancedPacketBlock {
            interface_id: 0,
            // pcap-file writes `as_nanos()` as the raw unit count.
            timestamp: Duration::from_nanos(units),
            original_len: u32::try_from(f.len()).unwrap(),
            data: f.into(),
            options: vec![],
        })
        .unwrap();
    }
    w.into_inner()
}

#[test]
fn pcapng_timestamps_follow_the_interface_resolution() {
    let s = syn(0, leaf(), spine(), 0);
    let k = data(0, leaf(), spine(), 1, &keepalive());
    let frames = |t: u64| {
        vec![
            (t, frame(DataLink::ETHERNET, ip_packet(&s))),
            (t, frame(DataLink::ETHERNET, ip_packet(&k))),
        ]
    };
    let expected = Duration::new(1_700_000_000, 123_456_000);
    // No if_tsresol: microseconds (what tshark and dumpcap write).
    let file = pcapng(DataLink::ETHERNET, vec![], frames(1_700_000_000_123_456));
    let capture = read_bytes(&file).unwrap();
    assert_eq!(summary(&capture), vec![(leaf(), KEEPALIVE, None)]);
    assert_eq!(capture.messages[0].ts, expected);
    // if_tsresol 9: nanoseconds.
    let file = pcapng(
        DataLink::ETHERNET,
        vec![InterfaceDescriptionOption::IfTsResol(9)],
        frames(1_700_000_000_123_456_000),
    );
    assert_eq!(read_bytes(&file).unwrap().messages[0].ts, expected);
    // if_tsresol 0x80|10: 2^-10 s units, with an offset of 1000 s.
    let file = pcapng(
        DataLink::ETHERNET,
        vec![
            InterfaceDescriptionOption::IfTsResol(0x80 | 10),
            InterfaceDescriptionOption::IfTsOffset(1000),
        ],
        frames(5 * 1024 + 512),
    );
    assert_eq!(
        read_bytes(&file).unwrap().messages[0].ts,
        Duration::from_millis(1_005_500)
    );
}

#[test]
fn pcapng_with_linux_cooked_v2_over_ipv6() {
    let open = bgp(OPEN, 10, 0x01);
    let pkts = [
        syn(0, leaf6(), spine6(), 1),
        data(1, leaf6(), spine6(), 2, &open),
    ];
    let frames = pkts
        .iter()
        .map(|p| (p.ms, frame(DataLink::LINUX_SLL2, ip_packet(p))))
        .collect();
    let capture = read_bytes(&pcapng(DataLink::LINUX_SLL2, vec![], frames)).unwrap();
    assert_eq!(summary(&capture), vec![(leaf6(), OPEN, Some(0x01))]);
}

// ---------------------------------------------------------------------------
// Real captures (evpn-proto/tests/fixtures/README.md says how they were made
// and what is in them; the counts here are tshark's for the same files).

fn fixture(name: &str) -> Capture {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "evpn-proto",
        "tests",
        "fixtures",
        name,
    ]
    .iter()
    .collect();
    read_file(&path).unwrap()
}

type Counts = BTreeMap<(String, String), BTreeMap<u8, usize>>;

/// Messages per direction and type.
fn counts(c: &Capture) -> Counts {
    let mut out = Counts::new();
    for m in &c.messages {
        *out.entry((m.src.to_string(), m.dst.to_string()))
            .or_default()
            .entry(m.message_type())
            .or_default() += 1;
    }
    out
}

/// (sender, receiver, [(message type, count)]).
type Row<'a> = (&'a str, &'a str, &'a [(u8, usize)]);

fn expect(rows: &[Row<'_>]) -> Counts {
    rows.iter()
        .map(|(src, dst, types)| {
            (
                (src.to_string(), dst.to_string()),
                types.iter().copied().collect(),
            )
        })
        .collect()
}

/// Every direction starts with its OPEN, nothing is left over, and the
/// side that shut the session down ends with its NOTIFICATION.
fn assert_clean_session(c: &Capture, closer: &str) {
    assert!(c.errors.is_empty(), "{:?}", c.errors);
    assert_eq!(c.stats.duplicate_bytes, 0);
    assert_eq!(c.stats.skipped_stream_bytes, 0);
    assert_eq!(c.stats.malformed_packets, 0);
    let mut firsts = BTreeMap::new();
    for m in &c.messages {
        firsts.entry(m.src).or_insert(m.message_type());
    }
    assert!(firsts.values().all(|t| *t == OPEN), "{firsts:?}");
    let last = c.messages.last().unwrap();
    assert_eq!(
        (last.src.to_string(), last.message_type()),
        (closer.to_string(), NOTIFICATION)
    );
}

#[test]
fn fixture_frr_gobgp_evpn_has_every_message_of_both_directions() {
    let c = fixture("frr-gobgp-evpn.pcap");
    let frr = "10.99.0.1:34600";
    let gobgp = "10.99.0.2:179";
    assert_eq!(
        counts(&c),
        expect(&[
            (
                frr,
                gobgp,
                &[
                    (OPEN, 1),
                    (UPDATE, 13),
                    (NOTIFICATION, 1),
                    (KEEPALIVE, 8),
                    (ROUTE_REFRESH, 1),
                ],
            ),
            (gobgp, frr, &[(OPEN, 1), (UPDATE, 30), (KEEPALIVE, 8)]),
        ])
    );
    assert_clean_session(&c, frr);
    // FRR's first UPDATEs (its whole table and three End-of-RIBs) came in
    // one segment: ten messages completed at the same instant.
    let first_update = c
        .messages
        .iter()
        .position(|m| m.src.to_string() == frr && m.message_type() == UPDATE)
        .unwrap();
    let burst = c.messages[first_update..]
        .iter()
        .take_while(|m| m.ts == c.messages[first_update].ts)
        .count();
    assert_eq!(burst, 10);
}

#[test]
fn fixture_frr_frr_evpn_over_ipv6_and_linux_cooked_v2() {
    let c = fixture("frr-frr-evpn.pcap");
    let leaf1 = "[fd00:98::1]:40682";
    let leaf2 = "[fd00:98::2]:179";
    assert_eq!(
        counts(&c),
        expect(&[
            (
                leaf1,
                leaf2,
                &[
                    (OPEN, 1),
                    (UPDATE, 13),
                    (NOTIFICATION, 1),
                    (KEEPALIVE, 4),
                    (ROUTE_REFRESH, 1),
                ],
            ),
            (
                leaf2,
                leaf1,
                &[(OPEN, 1), (UPDATE, 6), (KEEPALIVE, 4), (ROUTE_REFRESH, 2)],
            ),
        ])
    );
    assert_clean_session(&c, leaf1);
}

#[test]
fn fixture_gobgp_ebgp_2byte_over_linux_cooked_v1() {
    let c = fixture("gobgp-ebgp-2byte.pcap");
    let frr = "10.97.0.1:60512";
    let gobgp = "10.97.0.2:179";
    assert_eq!(
        counts(&c),
        expect(&[
            (
                frr,
                gobgp,
                &[(OPEN, 1), (UPDATE, 6), (NOTIFICATION, 1), (KEEPALIVE, 3)],
            ),
            (gobgp, frr, &[(OPEN, 1), (UPDATE, 3), (KEEPALIVE, 3)]),
        ])
    );
    assert_clean_session(&c, frr);
    // FRR's OPEN carries no optional parameters at all.
    let open = c
        .messages
        .iter()
        .find(|m| m.src.to_string() == frr)
        .unwrap();
    assert_eq!(open.bytes.len(), 29);
}
