//! One direction of a TCP connection: payload put back in sequence order,
//! then cut into BGP messages at the header's length field.
//!
//! Sequence numbers are compared modulo 2^32 (RFC 9293 §3.4): `a` is before
//! `b` when `(a - b) as i32 < 0`, which holds while the two are less than
//! 2^31 apart — always, for data a capture holds in flight.

use std::net::SocketAddr;
use std::time::Duration;

use super::{Capture, CapturedMessage, StreamError, StreamErrorKind};

/// BGP header: marker (16), length (2), type (1). RFC 4271 §4.1.
const HEADER_LEN: usize = 19;
const MARKER: [u8; 16] = [0xff; 16];
/// Message types a resynchronising scan accepts as a real header:
/// OPEN, UPDATE, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH.
const KNOWN_TYPES: std::ops::RangeInclusive<u8> = 1..=5;

/// Out-of-order data held while a hole waits to be filled. Beyond this the
/// hole is taken as lost (the capture dropped the packet), not late.
pub(super) const REORDER_LIMIT: usize = 16 * 1024 * 1024;

/// The part of a TCP segment reassembly needs.
pub(super) struct Segment<'a> {
    pub ts: Duration,
    pub seq: u32,
    pub syn: bool,
    pub payload: &'a [u8],
}

/// One direction (sender → receiver) of a connection.
pub(super) struct HalfConnection {
    src: SocketAddr,
    dst: SocketAddr,
    /// Time of the last segment, for problems found at the end.
    last_ts: Duration,
    state: State,
}

enum State {
    /// Nothing seen yet.
    Idle,
    /// Bytes flowing.
    Open(Stream),
    /// A framing error was reported; nothing is read until a new SYN.
    Failed,
}

struct Stream {
    /// Initial sequence number, when the SYN was captured. A SYN with
    /// another ISN on the same addresses and ports is a new connection.
    isn: Option<u32>,
    /// Sequence number of the next payload octet expected.
    next_seq: u32,
    /// In-order octets not yet cut into messages: `buf[start..]`.
    buf: Vec<u8>,
    start: usize,
    /// Stream offset of `buf[start]`, counted from the first octet captured.
    offset: u64,
    /// The capture began mid-connection and no header has been found yet.
    seeking_header: bool,
    /// Segments beyond a hole: (sequence number, payload).
    held: Vec<(u32, Vec<u8>)>,
    held_len: usize,
}

/// `a - b` in sequence space: negative when `a` is before `b`.
fn seq_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

impl HalfConnection {
    pub(super) fn new(src: SocketAddr, dst: SocketAddr) -> Self {
        HalfConnection {
            src,
            dst,
            last_ts: Duration::ZERO,
            state: State::Idle,
        }
    }

    pub(super) fn on_segment(&mut self, segment: &Segment<'_>, out: &mut Capture) {
        self.last_ts = segment.ts;
        // The SYN occupies one sequence number; data starts after it.
        let data_seq = if segment.syn {
            let retransmitted = matches!(&self.state, State::Open(s) if s.isn == Some(segment.seq));
            if retransmitted {
                return;
            }
            // A new connection on the same addresses and ports: whatever
            // the previous one left unfinished is reported first.
            self.finish(out);
            let next = segment.seq.wrapping_add(1);
            self.state = State::Open(Stream::new(Some(segment.seq), next, false));
            next
        } else {
            if matches!(self.state, State::Idle) {
                // Capture started mid-connection: this segment fixes the
                // sequence, and the stream may start inside a message.
                self.state = State::Open(Stream::new(None, segment.seq, true));
            }
            segment.seq
        };
        let State::Open(stream) = &mut self.state else {
            return;
        };
        if segment.payload.is_empty() {
            return;
        }
        let result = stream
            .accept(data_seq, segment.payload, &mut out.stats)
            .and_then(|()| stream.cut(self.src, self.dst, segment.ts, out));
        if let Err((offset, kind)) = result {
            out.errors.push(StreamError {
                src: self.src,
                dst: self.dst,
                ts: segment.ts,
                offset,
                kind,
            });
            self.state = State::Failed;
        }
    }

    /// End of the connection or of the capture: a hole never filled, or a
    /// message never completed, is reported.
    pub(super) fn finish(&mut self, out: &mut Capture) {
        let State::Open(stream) = &mut self.state else {
            return;
        };
        let live = stream.live().len();
        let end = stream.offset + live as u64;
        let problem = if let Some(missing) = stream.hole() {
            Some((
                end,
                StreamErrorKind::Gap {
                    missing,
                    held: stream.held_len,
                },
            ))
        } else if stream.seeking_header {
            out.stats.skipped_stream_bytes += live as u64;
            None
        } else if live > 0 {
            Some((stream.offset, StreamErrorKind::Truncated(live)))
        } else {
            None
        };
        if let Some((offset, kind)) = problem {
            out.errors.push(StreamError {
                src: self.src,
                dst: self.dst,
                ts: self.last_ts,
                offset,
                kind,
            });
        }
        self.state = State::Idle;
    }
}

impl Stream {
    fn new(isn: Option<u32>, next_seq: u32, seeking_header: bool) -> Self {
        Stream {
            isn,
            next_seq,
            buf: Vec::new(),
            start: 0,
            offset: 0,
            seeking_header,
            held: Vec::new(),
            held_len: 0,
        }
    }

    fn live(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// Size of the hole before the earliest held segment, if any is held.
    fn hole(&self) -> Option<u32> {
        self.held
            .iter()
            .map(|(seq, _)| seq.wrapping_sub(self.next_seq))
            .min()
    }

    /// Takes a segment's payload that starts at sequence number `seq`.
    fn accept(
        &mut self,
        seq: u32,
        payload: &[u8],
        stats: &mut super::Stats,
    ) -> Result<(), (u64, StreamErrorKind)> {
        if seq_diff(seq, self.next_seq) > 0 {
            // Beyond a hole: hold it, unless an equal copy is already held.
            stats.out_of_order_segments += 1;
            if self
                .held
                .iter()
                .any(|(s, data)| *s == seq && data.len() >= payload.len())
            {
                stats.duplicate_bytes += payload.len() as u64;
            } else {
                self.held.push((seq, payload.to_vec()));
                self.held_len += payload.len();
            }
            if self.held_len > REORDER_LIMIT {
                let end = self.offset + self.live().len() as u64;
                return Err((end, StreamErrorKind::ReorderLimit(REORDER_LIMIT)));
            }
            return Ok(());
        }
        self.append(seq, payload, stats);
        // The new data may have filled the hole before held segments.
        while let Some(i) = self
            .held
            .iter()
            .position(|(s, _)| seq_diff(*s, self.next_seq) <= 0)
        {
            let (s, data) = self.held.swap_remove(i);
            self.held_len -= data.len();
            self.append(s, &data, stats);
        }
        Ok(())
    }

    /// Appends the part of `payload` (starting at `seq`, which is not after
    /// `next_seq`) that was not received yet.
    fn append(&mut self, seq: u32, payload: &[u8], stats: &mut super::Stats) {
        let already = seq_diff(seq, self.next_seq).unsigned_abs() as usize;
        let Some(new) = payload.get(already..).filter(|new| !new.is_empty()) else {
            stats.duplicate_bytes += payload.len() as u64;
            return;
        };
        stats.duplicate_bytes += already as u64;
        self.buf.extend_from_slice(new);
        // A TCP payload is under 2^32 octets; the cast cannot truncate.
        self.next_seq = self.next_seq.wrapping_add(new.len() as u32);
    }

    /// Cuts every complete message off the front of the stream.
    fn cut(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        ts: Duration,
        out: &mut Capture,
    ) -> Result<(), (u64, StreamErrorKind)> {
        if self.seeking_header {
            let live = self.live();
            match find_header(live) {
                Some(at) => {
                    self.consume(at);
                    out.stats.skipped_stream_bytes += at as u64;
                    self.seeking_header = false;
                }
                None => {
                    // A header may still begin in the last 18 octets.
                    let skip = live.len().saturating_sub(HEADER_LEN - 1);
                    self.consume(skip);
                    out.stats.skipped_stream_bytes += skip as u64;
                    self.compact();
                    return Ok(());
                }
            }
        }
        loop {
            let live = self.live();
            let Some(header) = live.first_chunk::<HEADER_LEN>() else {
                break;
            };
            if header[..16] != MARKER {
                return Err((self.offset, StreamErrorKind::BadMarker));
            }
            let len = u16::from_be_bytes([header[16], header[17]]);
            if usize::from(len) < HEADER_LEN {
                return Err((self.offset, StreamErrorKind::BadLength(len)));
            }
            let Some(message) = live.get(..usize::from(len)) else {
                break;
            };
            out.messages.push(CapturedMessage {
                src,
                dst,
                ts,
                bytes: message.to_vec(),
            });
            self.consume(usize::from(len));
        }
        self.compact();
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Drops consumed octets once they are at least half the buffer, so
    /// cutting many messages out of one segment stays linear.
    fn compact(&mut self) {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.start = 0;
        }
    }
}

/// Where the first plausible BGP header starts in `data`: the marker, a
/// length of at least 19 and a known type. Used only to find the first
/// message boundary of a stream whose beginning was not captured.
fn find_header(data: &[u8]) -> Option<usize> {
    data.windows(HEADER_LEN).position(|w| {
        w[..16] == MARKER
            && usize::from(u16::from_be_bytes([w[16], w[17]])) >= HEADER_LEN
            && KNOWN_TYPES.contains(&w[18])
    })
}
