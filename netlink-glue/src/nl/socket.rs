//! A NETLINK_ROUTE request socket with our own sequence numbers: batched
//! writes with many requests in flight and one ack per request, dumps, and
//! single calls.
//!
//! netlink-proto's `Connection` is not used for writes: it hides sequence
//! numbers (so a batch error cannot be tied to its object), buffers dumps in
//! an unbounded channel, and reports decode failures only through `log`.
//! Here every request carries `NLM_F_ACK`, the ack's sequence number maps the
//! result to its request, and undecodable dump messages fail the dump.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use rtnetlink::packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use tokio::io::unix::AsyncFd;

use crate::report::{FailReason, KernelError};

const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_OVERRUN: u16 = 4;
/// Set on an ack when `NETLINK_CAP_ACK` trimmed the echoed request.
const NLM_F_CAPPED: u16 = 0x100;
/// Set on an ack that carries extended-ack TLVs.
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;
const SOL_NETLINK: libc::c_int = 270;
const NETLINK_EXT_ACK: libc::c_int = 11;
const NETLINK_CAP_ACK: libc::c_int = 10;
const NETLINK_GET_STRICT_CHK: libc::c_int = 12;

/// Largest datagram we send. The kernel rejects a sendmsg larger than the
/// socket's send buffer; 32 KiB is well inside the default 208 KiB.
const MAX_DATAGRAM: usize = 32 * 1024;
/// Receive buffer: large enough for a full dump datagram (the kernel uses up
/// to 32 KiB for big link messages) many times over.
const RECV_BUF: usize = 64 * 1024;
/// Requests in flight (sent, not yet confirmed). The kernel processes a
/// sendmsg synchronously and queues the answers on our socket; if they
/// overflow SO_RCVBUF they are dropped (ENOBUFS). With CAP_ACK an answer
/// costs well under 1 KiB of buffer, so even if every one of 2048 requests
/// in flight failed, the errors fit a 4 MiB buffer.
const WINDOW: usize = 2048;
/// How long a batch may go without any ack before the rest is "no ack".
const ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// Retries of a dump the kernel marked inconsistent (NLM_F_DUMP_INTR).
const DUMP_RETRIES: usize = 5;

/// Default receive buffer of request and monitor sockets (8 MiB).
pub const DEFAULT_RCVBUF: usize = 8 * 1024 * 1024;

/// A request socket bound to the network namespace of the thread that
/// opened it.
#[derive(Debug)]
pub struct NlSocket {
    fd: AsyncFd<Socket>,
    seq: u32,
    rbuf: Vec<u8>,
}

/// Sets an int socket option; the kernel copies the value.
pub(crate) fn setsockopt_int(
    fd: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` lives across the call and its size is passed; the fd
    // is a valid open socket owned by the caller.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Raises SO_RCVBUF to `bytes`: SO_RCVBUFFORCE (needs CAP_NET_ADMIN) passes
/// `net.core.rmem_max`; without the capability fall back to the capped one.
pub(crate) fn set_rcvbuf(fd: &impl AsRawFd, bytes: usize) -> io::Result<()> {
    let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, v)
        .or_else(|_| setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, v))
}

/// Registers a netlink socket with the tokio reactor.
pub(crate) fn register(s: Socket) -> io::Result<AsyncFd<Socket>> {
    // SAFETY: `Socket` owns its fd, keeps it open until it is dropped, and
    // always returns the same fd from `as_raw_fd`; the AsyncFd owns the
    // Socket for its whole lifetime.
    unsafe { AsyncFd::register(s) }.map_err(io::Error::from)
}

/// Receives one datagram into `buf`; `Ok(None)` when it would block.
pub(crate) fn recv_nonblocking(fd: &impl AsRawFd, buf: &mut [u8]) -> io::Result<Option<usize>> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the call.
    let n = unsafe {
        libc::recv(
            fd.as_raw_fd(),
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.kind() {
            io::ErrorKind::WouldBlock => Ok(None),
            _ => Err(e),
        };
    }
    let n = n as usize;
    if n > buf.len() {
        return Err(io::Error::other(format!(
            "netlink datagram of {n} bytes truncated to {}",
            buf.len()
        )));
    }
    Ok(Some(n))
}

/// One control or data message inside a received datagram.
pub(crate) enum Part<'a> {
    /// NLMSG_ERROR: `errno == 0` is an ack.
    Ack {
        seq: u32,
        result: Result<(), KernelError>,
    },
    Done {
        seq: u32,
        code: i32,
    },
    Overrun,
    Data {
        seq: u32,
        flags: u16,
        bytes: &'a [u8],
    },
}

/// Splits a datagram into its messages.
pub(crate) fn parts(data: &[u8]) -> Result<Vec<Part<'_>>, String> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 16 <= data.len() {
        let buf = NetlinkBuffer::new_checked(&data[off..]).map_err(|e| e.to_string())?;
        let len = buf.length() as usize;
        if len < 16 || off + len > data.len() {
            return Err(format!("bad netlink length {len} at offset {off}"));
        }
        let bytes = &data[off..off + len];
        let seq = buf.sequence_number();
        let flags = buf.flags();
        match buf.message_type() {
            NLMSG_NOOP => {}
            NLMSG_ERROR => out.push(Part::Ack {
                seq,
                result: parse_error(flags, &bytes[16..]),
            }),
            NLMSG_DONE => {
                let code = bytes
                    .get(16..20)
                    .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                    .unwrap_or(0);
                out.push(Part::Done { seq, code });
            }
            NLMSG_OVERRUN => out.push(Part::Overrun),
            _ => out.push(Part::Data { seq, flags, bytes }),
        }
        off += (len + 3) & !3;
    }
    Ok(out)
}

/// `struct nlmsgerr` (errno, then the request header, trimmed with
/// CAP_ACK), then optional extended-ack TLVs.
fn parse_error(flags: u16, p: &[u8]) -> Result<(), KernelError> {
    let Some(code) = p
        .get(0..4)
        .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    else {
        return Err(KernelError::new(libc::EPROTO));
    };
    if code == 0 {
        return Ok(());
    }
    let mut err = KernelError::new(-code);
    if flags & NLM_F_ACK_TLVS != 0 {
        // Without CAP_ACK the whole request is echoed after its header.
        let echoed = if flags & NLM_F_CAPPED != 0 {
            16
        } else {
            p.get(4..8)
                .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
                .unwrap_or(16)
        };
        let mut off = 4 + ((echoed + 3) & !3);
        while off + 4 <= p.len() {
            let l = u16::from_ne_bytes([p[off], p[off + 1]]) as usize;
            let t = u16::from_ne_bytes([p[off + 2], p[off + 3]]);
            if l < 4 || off + l > p.len() {
                break;
            }
            if t == NLMSGERR_ATTR_MSG {
                let s = &p[off + 4..off + l];
                let s = s.split(|b| *b == 0).next().unwrap_or(s);
                err.message = Some(String::from_utf8_lossy(s).into_owned());
            }
            off += (l + 3) & !3;
        }
    }
    Err(err)
}

/// Appends one request, 4-byte aligned, to a datagram buffer.
fn push_request(buf: &mut Vec<u8>, msg: RouteNetlinkMessage, flags: u16, seq: u32) {
    push_unacked(buf, msg, flags | NLM_F_ACK, seq);
}

/// Appends one request without NLM_F_ACK: the kernel still answers an
/// NLMSG_ERROR if it fails, but sends nothing when it succeeds.
fn push_unacked(buf: &mut Vec<u8>, msg: RouteNetlinkMessage, flags: u16, seq: u32) {
    let mut m = NetlinkMessage::new(NetlinkHeader::default(), NetlinkPayload::InnerMessage(msg));
    m.header.flags = flags | NLM_F_REQUEST;
    m.header.sequence_number = seq;
    m.finalize();
    let len = m.buffer_len();
    let start = buf.len();
    buf.resize(start + ((len + 3) & !3), 0);
    m.serialize(&mut buf[start..start + len]);
}

/// Sets NLM_F_ACK on the message that starts at `at` (nlmsg_flags is the
/// u16 at offset 6 of the header).
fn set_ack(buf: &mut [u8], at: usize) {
    let f = u16::from_ne_bytes([buf[at + 6], buf[at + 7]]) | NLM_F_ACK;
    buf[at + 6..at + 8].copy_from_slice(&f.to_ne_bytes());
}

/// A batch of requests serialized into datagrams (each closed by one
/// request with `NLM_F_ACK`), ready for [`NlSocket::send_encoded`]. Pure
/// CPU work: it may run on another thread while the socket sends the
/// previous batch.
#[derive(Debug)]
pub struct Encoded {
    base: u32,
    count: usize,
    /// (first request, last request, bytes).
    dgrams: Vec<(usize, usize, Vec<u8>)>,
}

/// Serializes `count` requests numbered from `base` (see
/// [`NlSocket::reserve`]) into datagrams of at most [`MAX_DATAGRAM`] octets
/// and [`WINDOW`] requests.
pub fn encode(
    base: u32,
    count: usize,
    mut build: impl FnMut(usize) -> (RouteNetlinkMessage, u16),
) -> Encoded {
    let mut dgrams = Vec::new();
    let mut next = 0usize;
    while next < count {
        let first = next;
        let mut dgram = Vec::with_capacity(MAX_DATAGRAM + 1024);
        let mut last_at = 0;
        while next < count && dgram.len() < MAX_DATAGRAM && next - first < WINDOW {
            let (msg, flags) = build(next);
            last_at = dgram.len();
            push_unacked(&mut dgram, msg, flags, base.wrapping_add(next as u32));
            next += 1;
        }
        set_ack(&mut dgram, last_at);
        dgrams.push((first, next - 1, dgram));
    }
    Encoded {
        base,
        count,
        dgrams,
    }
}

impl NlSocket {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open(rcvbuf: usize) -> io::Result<NlSocket> {
        let mut s = Socket::new(NETLINK_ROUTE)?;
        s.bind_auto()?;
        s.connect(&SocketAddr::new(0, 0))?;
        s.set_non_blocking(true)?;
        set_rcvbuf(&s, rcvbuf)?;
        // Extended acks name the attribute the kernel disliked; capped acks
        // keep an error reply small (the request is not echoed back).
        setsockopt_int(&s, SOL_NETLINK, NETLINK_EXT_ACK, 1)?;
        setsockopt_int(&s, SOL_NETLINK, NETLINK_CAP_ACK, 1)?;
        // Strict checking makes the kernel honour dump filters (ifindex,
        // master) instead of silently ignoring them.
        setsockopt_int(&s, SOL_NETLINK, NETLINK_GET_STRICT_CHK, 1)?;
        Ok(NlSocket {
            fd: register(s)?,
            seq: 0,
            rbuf: vec![0; RECV_BUF],
        })
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1).max(1);
        self.seq
    }

    async fn send(&self, bytes: &[u8]) -> io::Result<()> {
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|s| s.get_ref().send(bytes, 0)) {
                Ok(r) => {
                    let n = r?;
                    if n != bytes.len() {
                        return Err(io::Error::other("short netlink send"));
                    }
                    return Ok(());
                }
                Err(_would_block) => continue,
            }
        }
    }

    /// Receives one datagram into the internal buffer; returns its length.
    async fn recv(&mut self) -> io::Result<usize> {
        let NlSocket { fd, rbuf, .. } = self;
        loop {
            let mut guard = fd.readable().await?;
            match recv_nonblocking(fd.get_ref(), rbuf)? {
                Some(n) => return Ok(n),
                None => guard.clear_ready(),
            }
        }
    }

    /// Sends `count` requests, built on demand by `build(i)`, packed into
    /// datagrams of up to 32 KiB with up to `WINDOW` (2048) requests in flight.
    /// Only the last request of a datagram asks for an ack: the kernel
    /// processes a datagram's requests in order and answers an error for
    /// each failing one whether or not it asked for an ack, so the ack (or
    /// error) of the last request closes the whole datagram, and every
    /// request of it without an error succeeded. That halves the messages
    /// the kernel queues back compared to an ack per request. A lost answer
    /// (receive buffer overflow) surfaces as ENOBUFS on the next receive, and
    /// then everything unconfirmed is reported as "no ack", never as done.
    /// Returns the failures by request index.
    pub async fn batch(
        &mut self,
        count: usize,
        build: impl FnMut(usize) -> (RouteNetlinkMessage, u16),
    ) -> Vec<(usize, FailReason)> {
        let base = self.reserve(count);
        self.send_encoded(encode(base, count, build)).await
    }

    /// Reserves `count` sequence numbers for one batch; returns the first.
    /// A batch never wraps: the counter restarts instead.
    pub fn reserve(&mut self, count: usize) -> u32 {
        if self.seq.checked_add(count as u32 + 1).is_none() {
            self.seq = 0;
        }
        let base = self.seq.wrapping_add(1);
        self.seq = self.seq.wrapping_add(count as u32);
        base
    }

    /// Sends a batch [`encode`]d with sequence numbers from [`Self::reserve`]
    /// and collects the answers (see [`Self::batch`]).
    pub async fn send_encoded(&mut self, enc: Encoded) -> Vec<(usize, FailReason)> {
        let Encoded {
            base,
            count,
            dgrams,
        } = enc;
        let mut failures = Vec::new();
        if count == 0 {
            return failures;
        }
        // Datagrams sent and not yet closed: (first, last) request index.
        let mut open: std::collections::VecDeque<(usize, usize)> =
            std::collections::VecDeque::new();
        // Requests below `done` are settled (succeeded or listed in failures).
        let mut done = 0usize;
        // Requests below `next` were sent.
        let mut next = 0usize;
        let mut d = 0usize;
        let mut send_err: Option<String> = None;
        loop {
            while send_err.is_none() && d < dgrams.len() && dgrams[d].1 + 1 - done <= WINDOW {
                let (first, last, bytes) = &dgrams[d];
                if let Err(e) = self.send(bytes).await {
                    // A failed sendmsg delivered nothing of this datagram.
                    send_err = Some(e.to_string());
                } else {
                    open.push_back((*first, *last));
                    next = last + 1;
                    d += 1;
                }
            }
            if open.is_empty() && (d == dgrams.len() || send_err.is_some()) {
                break;
            }
            let n = match tokio::time::timeout(ACK_TIMEOUT, self.recv()).await {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => {
                    // ENOBUFS: answers were dropped; what happened to the
                    // unconfirmed requests is unknown.
                    tracing::warn!(error = %e, "netlink batch receive failed");
                    break;
                }
                Err(_) => break,
            };
            let parts = match parts(&self.rbuf[..n]) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "undecodable netlink ack datagram");
                    continue;
                }
            };
            for p in parts {
                let Part::Ack { seq, result } = p else {
                    continue;
                };
                let i = seq.wrapping_sub(base) as usize;
                if i >= next || i < done {
                    continue;
                }
                if let Err(e) = result {
                    failures.push((i, FailReason::Kernel(e)));
                }
                // Answers arrive in request order: the answer to the last
                // request of the oldest open datagram closes it.
                while let Some(&(_, last)) = open.front() {
                    if last > i {
                        break;
                    }
                    open.pop_front();
                    done = last + 1;
                }
            }
        }
        let settled: std::collections::BTreeSet<usize> = failures.iter().map(|(i, _)| *i).collect();
        for (first, last) in open {
            for i in first..=last {
                if !settled.contains(&i) {
                    failures.push((i, FailReason::NoAck));
                }
            }
        }
        for i in next..count {
            let e = send_err.as_deref().unwrap_or("not sent");
            failures.push((i, FailReason::Io(e.to_string())));
        }
        // Answers still in flight from a failed batch carry sequence numbers
        // below the next batch's base and are ignored there.
        failures.sort_by_key(|(i, _)| *i);
        failures
    }

    /// One request; returns the messages the kernel answered before the ack
    /// (e.g. the route of an RTM_GETROUTE).
    pub async fn call(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> Result<Vec<RouteNetlinkMessage>, FailReason> {
        let seq = self.next_seq();
        let mut dgram = Vec::new();
        push_request(&mut dgram, msg, flags, seq);
        self.send(&dgram)
            .await
            .map_err(|e| FailReason::Io(e.to_string()))?;
        let mut out = Vec::new();
        loop {
            let n = match tokio::time::timeout(ACK_TIMEOUT, self.recv()).await {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(FailReason::Io(e.to_string())),
                Err(_) => return Err(FailReason::NoAck),
            };
            let parts = parts(&self.rbuf[..n]).map_err(FailReason::Io)?;
            for p in parts {
                match p {
                    Part::Ack { seq: s, result } if s == seq => {
                        return result.map(|()| out).map_err(FailReason::Kernel);
                    }
                    Part::Data { seq: s, bytes, .. } if s == seq => {
                        let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes)
                            .map_err(|e| FailReason::Io(format!("undecodable reply: {e}")))?;
                        if let NetlinkPayload::InnerMessage(m) = m.payload {
                            out.push(m);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// One request for a message type netlink-packet-route does not model
    /// (e.g. RTM_NEWTUNNEL for VXLAN VNI filters): raw payload after the
    /// netlink header; waits for the ack.
    pub async fn call_raw(
        &mut self,
        msg_type: u16,
        flags: u16,
        payload: &[u8],
    ) -> Result<(), FailReason> {
        let seq = self.next_seq();
        let len = 16 + payload.len();
        let mut dgram = Vec::with_capacity(len);
        dgram.extend_from_slice(&(len as u32).to_ne_bytes());
        dgram.extend_from_slice(&msg_type.to_ne_bytes());
        dgram.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        dgram.extend_from_slice(&seq.to_ne_bytes());
        dgram.extend_from_slice(&0u32.to_ne_bytes());
        dgram.extend_from_slice(payload);
        self.send(&dgram)
            .await
            .map_err(|e| FailReason::Io(e.to_string()))?;
        loop {
            let n = match tokio::time::timeout(ACK_TIMEOUT, self.recv()).await {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(FailReason::Io(e.to_string())),
                Err(_) => return Err(FailReason::NoAck),
            };
            for p in parts(&self.rbuf[..n]).map_err(FailReason::Io)? {
                if let Part::Ack { seq: s, result } = p {
                    if s == seq {
                        return result.map_err(FailReason::Kernel);
                    }
                }
            }
        }
    }

    /// A dump (`NLM_F_DUMP`): `keep` turns each message into a compact
    /// record (or drops it) as it arrives, so a 100k-entry dump never sits
    /// in memory as netlink messages. Retries from scratch when the kernel
    /// flags the dump as interrupted (NLM_F_DUMP_INTR); fails, rather than
    /// returning a partial result, on anything it cannot decode.
    pub async fn dump<T>(
        &mut self,
        what: &str,
        msg: RouteNetlinkMessage,
        mut keep: impl FnMut(RouteNetlinkMessage) -> Option<T>,
    ) -> Result<Vec<T>, String> {
        for _ in 0..DUMP_RETRIES {
            match self.dump_once(msg.clone(), &mut keep).await {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => continue,
                Err(e) => return Err(format!("{what}: {e}")),
            }
        }
        Err(format!("{what}: interrupted {DUMP_RETRIES} times"))
    }

    async fn dump_once<T>(
        &mut self,
        msg: RouteNetlinkMessage,
        keep: &mut impl FnMut(RouteNetlinkMessage) -> Option<T>,
    ) -> Result<Option<Vec<T>>, String> {
        let seq = self.next_seq();
        let mut dgram = Vec::new();
        push_request(&mut dgram, msg, NLM_F_DUMP, seq);
        self.dump_datagram(&dgram, seq, &mut |bytes| {
            let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes)
                .map_err(|e| format!("undecodable message in dump: {e}"))?;
            Ok(match m.payload {
                NetlinkPayload::InnerMessage(m) => keep(m),
                _ => None,
            })
        })
        .await
    }

    /// A dump of a message type netlink-packet-route does not model (e.g.
    /// RTM_GETNEXTHOP): `payload` follows the netlink header of the request;
    /// `keep` gets each answer's payload (after its netlink header).
    pub async fn dump_raw<T>(
        &mut self,
        what: &str,
        msg_type: u16,
        payload: &[u8],
        mut keep: impl FnMut(&[u8]) -> Option<T>,
    ) -> Result<Vec<T>, String> {
        for _ in 0..DUMP_RETRIES {
            let seq = self.next_seq();
            let len = 16 + payload.len();
            let mut dgram = Vec::with_capacity(len);
            dgram.extend_from_slice(&(len as u32).to_ne_bytes());
            dgram.extend_from_slice(&msg_type.to_ne_bytes());
            dgram.extend_from_slice(&(NLM_F_DUMP | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
            dgram.extend_from_slice(&seq.to_ne_bytes());
            dgram.extend_from_slice(&0u32.to_ne_bytes());
            dgram.extend_from_slice(payload);
            match self
                .dump_datagram(&dgram, seq, &mut |bytes| Ok(keep(&bytes[16..])))
                .await
            {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => continue,
                Err(e) => return Err(format!("{what}: {e}")),
            }
        }
        Err(format!("{what}: interrupted {DUMP_RETRIES} times"))
    }

    /// Sends a dump request and collects what `keep` makes of each answer
    /// message (whole message, header included); `None` when the kernel
    /// flagged the dump as interrupted.
    async fn dump_datagram<T>(
        &mut self,
        dgram: &[u8],
        seq: u32,
        keep: &mut impl FnMut(&[u8]) -> Result<Option<T>, String>,
    ) -> Result<Option<Vec<T>>, String> {
        self.send(dgram).await.map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let mut interrupted = false;
        loop {
            let n = match tokio::time::timeout(ACK_TIMEOUT, self.recv()).await {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(e.to_string()),
                Err(_) => return Err("no reply within 5 s".into()),
            };
            for p in parts(&self.rbuf[..n])? {
                match p {
                    Part::Done { seq: s, code } if s == seq => {
                        if code < 0 {
                            return Err(KernelError::new(-code).to_string());
                        }
                        return Ok((!interrupted).then_some(out));
                    }
                    Part::Ack { seq: s, result } if s == seq => {
                        // An error instead of a dump (or a stray ack).
                        result.map_err(|e| e.to_string())?;
                        return Ok((!interrupted).then_some(out));
                    }
                    Part::Data {
                        seq: s,
                        flags,
                        bytes,
                    } if s == seq => {
                        if flags & NLM_F_DUMP_INTR != 0 {
                            interrupted = true;
                        }
                        if let Some(t) = keep(bytes)? {
                            out.push(t);
                        }
                    }
                    Part::Overrun => return Err("overrun".into()),
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtnetlink::packet_route::link::LinkMessage;

    #[test]
    fn encode_numbers_requests_and_acks_only_the_last_of_each_datagram() {
        let n = 5000;
        let enc = encode(100, n, |_| {
            (RouteNetlinkMessage::GetLink(LinkMessage::default()), 0)
        });
        assert_eq!((enc.base, enc.count), (100, n));
        let mut expect_first = 0;
        for (first, last, bytes) in &enc.dgrams {
            assert_eq!(*first, expect_first);
            assert!(last - first < WINDOW);
            assert!(bytes.len() <= MAX_DATAGRAM + 1024);
            let mut off = 0;
            let mut i = *first;
            while off < bytes.len() {
                let b = NetlinkBuffer::new_checked(&bytes[off..]).unwrap();
                assert_eq!(b.sequence_number(), 100 + i as u32);
                assert_eq!(b.flags() & NLM_F_ACK != 0, i == *last, "request {i}");
                off += (b.length() as usize + 3) & !3;
                i += 1;
            }
            assert_eq!(i, last + 1);
            expect_first = last + 1;
        }
        assert_eq!(expect_first, n);
    }

    #[test]
    fn an_empty_batch_encodes_nothing() {
        let enc = encode(7, 0, |_| unreachable!("no request"));
        assert!(enc.dgrams.is_empty());
    }
}
