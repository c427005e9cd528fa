//! # BGP sessions out of packet captures (`evpnctl decode --pcap`)
//!
//! A capture file becomes the list of BGP messages each side sent, in the
//! order they completed on the wire:
//!
//! ```text
//! pcap / pcapng record ─> link layer ─> IPv4 / IPv6 ─> TCP segment (either port = 179)
//!   ─> per direction: bytes back in sequence order ─> cut at the BGP header's length
//!   ─> CapturedMessage { src, dst, ts, bytes }
//! ```
//!
//! Link layers: Ethernet (with 802.1Q tags), Linux cooked v1 and v2 (what
//! `tcpdump -i any` writes: v2 by default in tcpdump 4.99 with libpcap 1.10,
//! v1 with `-y LINUX_SLL` or older versions), raw IP, BSD loopback. The file formats and the
//! packet headers are parsed by the `pcap-file` and `etherparse` crates; this
//! module owns TCP reassembly and BGP framing (RFC 4271 §4.1: a 16-octet
//! all-ones marker, a 2-octet length covering the whole message, 19 to
//! 65535, and a type octet).
//!
//! It does not decode BGP: the bytes are returned as captured, and
//! evpn-proto decodes them with the capabilities the OPENs in the same
//! capture negotiated.
//!
//! What captures do to a TCP stream, and what happens here:
//! - retransmissions, and the same segment captured twice (`-i any` sees a
//!   packet on the bridge and on the port): bytes before the next expected
//!   sequence number are dropped and counted ([`Stats::duplicate_bytes`]);
//! - segments out of order: held until the hole before them fills;
//! - a capture that starts mid-connection (no SYN seen): the first segment
//!   fixes the sequence, and bytes before the first plausible BGP header are
//!   skipped ([`Stats::skipped_stream_bytes`]);
//! - a bad marker, an impossible length, a hole that never fills (a packet
//!   the capture dropped) or a stream cut inside a message: a [`StreamError`]
//!   for that direction, which then yields nothing more until a new SYN.
//!   Every other direction goes on; nothing here panics on file contents.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use etherparse::{EtherType, NetSlice, SlicedPacket, TransportSlice};
use pcap_file::pcap::PcapParser;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgParser};
use pcap_file::{DataLink, PcapError};

mod reassembly;
#[cfg(test)]
mod tests;

use reassembly::{HalfConnection, Segment};

/// The BGP port (RFC 4271 §8.2.1). Connections are matched on either end.
pub const BGP_PORT: u16 = 179;

/// One BGP message as one side sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedMessage {
    /// The sender.
    pub src: SocketAddr,
    /// The receiver.
    pub dst: SocketAddr,
    /// Capture time, since the Unix epoch, of the segment that completed the
    /// message (its last bytes, or the segment that filled a hole before it).
    pub ts: Duration,
    /// The whole message, marker and header included; at least 19 octets.
    pub bytes: Vec<u8>,
}

impl CapturedMessage {
    /// The header's type octet (RFC 4271 §4.1): 1 OPEN, 2 UPDATE,
    /// 3 NOTIFICATION, 4 KEEPALIVE, 5 ROUTE-REFRESH (RFC 2918).
    pub fn message_type(&self) -> u8 {
        self.bytes.get(18).copied().unwrap_or(0)
    }
}

/// A direction of a connection that could not be framed any further.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    /// The sender of the broken stream.
    pub src: SocketAddr,
    /// Its receiver.
    pub dst: SocketAddr,
    /// Capture time of the segment that showed the problem (for problems
    /// found at the end of the capture: of the direction's last segment).
    pub ts: Duration,
    /// Octets into the direction's stream (counted from the first byte
    /// captured) where the problem starts.
    pub offset: u64,
    /// What went wrong.
    pub kind: StreamErrorKind,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} -> {}: {} (stream offset {})",
            self.src, self.dst, self.kind, self.offset
        )
    }
}

impl std::error::Error for StreamError {}

/// Why a direction stopped yielding messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamErrorKind {
    /// The 16 octets where a header should start are not all ones: the
    /// stream is desynchronised (or this is not BGP).
    #[error("bad BGP marker: stream desynchronised")]
    BadMarker,
    /// A header whose length field is below the 19-octet header itself.
    #[error("BGP length {0} is shorter than the header")]
    BadLength(u16),
    /// Data after a hole that the capture never filled (a dropped packet).
    #[error("{missing} octets never captured; {held} octets after them dropped")]
    Gap {
        /// Size of the hole.
        missing: u32,
        /// Octets held beyond it.
        held: usize,
    },
    /// The stream ends inside a message (the capture stopped, or the
    /// connection was cut).
    #[error("stream ends {0} octets into an incomplete message")]
    Truncated(usize),
    /// More out-of-order data than a hole can plausibly explain.
    #[error("over {0} octets of out-of-order data waiting for a hole")]
    ReorderLimit(usize),
}

/// Counters for what was read and what was set aside.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Packet records in the file.
    pub packets: u64,
    /// TCP segments of BGP connections (with or without payload).
    pub bgp_segments: u64,
    /// Records that are not TCP on the BGP port (other traffic, IP
    /// fragments, link types this reader does not know).
    pub skipped_packets: u64,
    /// Records whose headers do not parse (cut short by the snap length,
    /// inconsistent lengths), and a last record cut short by the end of the
    /// file.
    pub malformed_packets: u64,
    /// Payload octets already received: retransmissions and duplicates.
    pub duplicate_bytes: u64,
    /// Segments that arrived before the data preceding them.
    pub out_of_order_segments: u64,
    /// Octets before the first BGP header of a direction whose start was
    /// not captured.
    pub skipped_stream_bytes: u64,
    /// The file ends inside this record (1-based record number, as tshark
    /// numbers frames): the capture was cut short while being written.
    pub truncated_record: Option<u64>,
}

/// Everything read from one capture.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Capture {
    /// All directions' messages, in the order they completed.
    pub messages: Vec<CapturedMessage>,
    /// One entry per direction that stopped early.
    pub errors: Vec<StreamError>,
    /// What was read and set aside.
    pub stats: Stats,
}

/// Why a file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Neither a pcap nor a pcapng file, or a broken one.
    #[error("not a readable pcap or pcapng file: {0}")]
    Format(#[from] PcapError),
    /// A pcap file whose link type has no parser here.
    #[error("unsupported link type {0:?}")]
    UnsupportedLinkType(DataLink),
}

/// Reads a pcap or pcapng file and returns the BGP messages of every
/// connection on port 179 in it.
pub fn read_file(path: &Path) -> Result<Capture, ReadError> {
    let data = std::fs::read(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    read_bytes(&data)
}

/// [`read_file`] for a capture already in memory.
pub fn read_bytes(data: &[u8]) -> Result<Capture, ReadError> {
    read_bytes_with_port(data, BGP_PORT)
}

/// [`read_bytes`] for BGP on another TCP port (lab setups).
pub fn read_bytes_with_port(data: &[u8], port: u16) -> Result<Capture, ReadError> {
    let mut capture = Capture::default();
    let mut records = records(data, &mut capture.stats)?;
    // Reassembly follows sequence numbers, so the record order only decides
    // the output order: capture time, ties in file order (stable sort).
    records.sort_by_key(|r| r.ts);

    let mut index: HashMap<(SocketAddr, SocketAddr), usize> = HashMap::new();
    let mut halves: Vec<HalfConnection> = Vec::new();
    for record in &records {
        let packet = match slice_link(record.link, &record.data) {
            Ok(packet) => packet,
            Err(Skip::Malformed) => {
                capture.stats.malformed_packets += 1;
                continue;
            }
            Err(Skip::UnknownLink) => {
                capture.stats.skipped_packets += 1;
                continue;
            }
        };
        let Some((src, dst, segment)) = bgp_segment(&packet, port, record.ts) else {
            capture.stats.skipped_packets += 1;
            continue;
        };
        capture.stats.bgp_segments += 1;
        let i = *index.entry((src, dst)).or_insert_with(|| {
            halves.push(HalfConnection::new(src, dst));
            halves.len() - 1
        });
        if let Some(half) = halves.get_mut(i) {
            half.on_segment(&segment, &mut capture);
        }
    }
    for half in &mut halves {
        half.finish(&mut capture);
    }
    Ok(capture)
}

/// One packet record, whatever the file format.
struct Record<'a> {
    ts: Duration,
    link: DataLink,
    data: Cow<'a, [u8]>,
}

/// The first four octets of a pcapng file: a Section Header Block's type.
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

fn records<'a>(data: &'a [u8], stats: &mut Stats) -> Result<Vec<Record<'a>>, ReadError> {
    if data.starts_with(&PCAPNG_MAGIC) {
        pcapng_records(data, stats)
    } else {
        pcap_records(data, stats)
    }
}

fn pcap_records<'a>(data: &'a [u8], stats: &mut Stats) -> Result<Vec<Record<'a>>, ReadError> {
    let (mut rest, parser) = PcapParser::new(data)?;
    let link = parser.header().datalink;
    if !link_supported(link) {
        return Err(ReadError::UnsupportedLinkType(link));
    }
    let mut out = Vec::new();
    while !rest.is_empty() {
        match parser.next_packet(rest) {
            Ok((next, packet)) => {
                rest = next;
                stats.packets += 1;
                out.push(Record {
                    ts: packet.timestamp,
                    link,
                    data: packet.data,
                });
            }
            // A capture killed while writing ends with a partial record.
            Err(PcapError::IncompleteBuffer) => {
                stats.malformed_packets += 1;
                stats.truncated_record = Some(stats.packets + 1);
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

fn pcapng_records<'a>(data: &'a [u8], stats: &mut Stats) -> Result<Vec<Record<'a>>, ReadError> {
    let (mut rest, mut parser) = PcapNgParser::new(data)?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let block = match parser.next_block(rest) {
            Ok((next, block)) => {
                rest = next;
                block
            }
            Err(PcapError::IncompleteBuffer) => {
                stats.malformed_packets += 1;
                stats.truncated_record = Some(stats.packets + 1);
                break;
            }
            Err(e) => return Err(e.into()),
        };
        // Interface Description Blocks and Section Header Blocks are kept
        // by the parser (`interfaces()` is per section).
        let (interface, raw_ts, data) = match block {
            Block::EnhancedPacket(epb) => (
                epb.interface_id,
                // pcap-file 2 stores the raw timestamp units as nanoseconds;
                // the interface's if_tsresol says what they are.
                Some(u64::try_from(epb.timestamp.as_nanos()).unwrap_or(u64::MAX)),
                epb.data,
            ),
            Block::Packet(pb) => (u32::from(pb.interface_id), Some(pb.timestamp), pb.data),
            // A Simple Packet Block has no timestamp and belongs to the
            // section's first interface (pcapng §4.4).
            Block::SimplePacket(spb) => (0, None, spb.data),
            _ => continue,
        };
        stats.packets += 1;
        let Some(idb) = parser.interfaces().get(interface as usize) else {
            stats.malformed_packets += 1;
            continue;
        };
        out.push(Record {
            ts: raw_ts.map_or(Duration::ZERO, |raw| pcapng_time(raw, &idb.options)),
            link: idb.linktype,
            data,
        });
    }
    Ok(out)
}

/// An Enhanced Packet Block timestamp in seconds since the epoch: `raw`
/// units of the interface's `if_tsresol` (10^-n s, or 2^-n s when the top bit
/// is set; 10^-6 when absent), plus `if_tsoffset` seconds (pcapng §4.2).
fn pcapng_time(raw: u64, options: &[InterfaceDescriptionOption<'_>]) -> Duration {
    let mut resolution = 6u8;
    let mut offset = 0u64;
    for option in options {
        match option {
            InterfaceDescriptionOption::IfTsResol(r) => resolution = *r,
            InterfaceDescriptionOption::IfTsOffset(s) => offset = *s,
            _ => {}
        }
    }
    let units = u128::from(raw);
    let nanos = if resolution & 0x80 == 0 {
        let exp = u32::from(resolution);
        if exp <= 9 {
            units * 10u128.pow(9 - exp)
        } else {
            10u128.checked_pow(exp - 9).map_or(0, |div| units / div)
        }
    } else {
        (units * 1_000_000_000) >> u32::from(resolution & 0x7f)
    };
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    let subsec = u32::try_from(nanos % 1_000_000_000).unwrap_or(0);
    Duration::from_secs(offset).saturating_add(Duration::new(secs, subsec))
}

fn link_supported(link: DataLink) -> bool {
    matches!(
        link,
        DataLink::ETHERNET
            | DataLink::LINUX_SLL
            | DataLink::LINUX_SLL2
            | DataLink::RAW
            | DataLink::IPV4
            | DataLink::IPV6
            | DataLink::NULL
            | DataLink::LOOP
    )
}

/// Why a record yields no segment.
enum Skip {
    /// Headers that do not parse.
    Malformed,
    /// A link type without a parser here (pcapng interfaces may mix them).
    UnknownLink,
}

/// LINKTYPE_LINUX_SLL2 header: protocol type (2), reserved (2), interface
/// index (4), ARPHRD type (2), packet type (1), address length (1),
/// address (8). The protocol type is an EtherType.
const SLL2_HEADER_LEN: usize = 20;

/// LINKTYPE_NULL / LINKTYPE_LOOP: a 4-octet address family (host or network
/// byte order), then the IP packet, whose version nibble says the rest.
const LOOPBACK_HEADER_LEN: usize = 4;

fn slice_link(link: DataLink, data: &[u8]) -> Result<SlicedPacket<'_>, Skip> {
    let sliced = match link {
        DataLink::ETHERNET => SlicedPacket::from_ethernet(data),
        DataLink::LINUX_SLL => SlicedPacket::from_linux_sll(data),
        DataLink::LINUX_SLL2 => {
            let (header, rest) = data
                .split_at_checked(SLL2_HEADER_LEN)
                .ok_or(Skip::Malformed)?;
            let protocol = header.first_chunk::<2>().ok_or(Skip::Malformed)?;
            SlicedPacket::from_ether_type(EtherType(u16::from_be_bytes(*protocol)), rest)
        }
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => SlicedPacket::from_ip(data),
        DataLink::NULL | DataLink::LOOP => {
            SlicedPacket::from_ip(data.get(LOOPBACK_HEADER_LEN..).ok_or(Skip::Malformed)?)
        }
        _ => return Err(Skip::UnknownLink),
    };
    sliced.map_err(|_| Skip::Malformed)
}

/// The TCP segment in `packet` if either port is `port`.
fn bgp_segment<'a>(
    packet: &SlicedPacket<'a>,
    port: u16,
    ts: Duration,
) -> Option<(SocketAddr, SocketAddr, Segment<'a>)> {
    let (src_ip, dst_ip) = match packet.net.as_ref()? {
        // A fragment carries no TCP header of its own; BGP speakers set DF
        // and fragments do not happen on a session in practice.
        NetSlice::Ipv4(ip) if !ip.is_payload_fragmented() => (
            IpAddr::V4(ip.header().source_addr()),
            IpAddr::V4(ip.header().destination_addr()),
        ),
        NetSlice::Ipv6(ip) if !ip.is_payload_fragmented() => (
            IpAddr::V6(ip.header().source_addr()),
            IpAddr::V6(ip.header().destination_addr()),
        ),
        _ => return None,
    };
    let TransportSlice::Tcp(tcp) = packet.transport.as_ref()? else {
        return None;
    };
    if tcp.source_port() != port && tcp.destination_port() != port {
        return None;
    }
    Some((
        SocketAddr::new(src_ip, tcp.source_port()),
        SocketAddr::new(dst_ip, tcp.destination_port()),
        Segment {
            ts,
            seq: tcp.sequence_number(),
            syn: tcp.syn(),
            payload: tcp.payload(),
        },
    ))
}
