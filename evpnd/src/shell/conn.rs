//! BGP transport: listeners, outbound connects, and the per-connection reader
//! and writer tasks.
//!
//! The reader only splits the TCP stream into messages by the header's length
//! field ([`evpn_proto::message::frame_len`]) and forwards the raw bytes; the
//! core decodes them with the session's negotiated context. The writer owns
//! the write half behind a bounded queue; when the queue is full or one write
//! makes no progress for the send-hold time, the core is told
//! ([`Input::SendStalled`]) and decides.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::sockopt::{self, SocketFamily};
use super::Event;
use crate::core::io::{ConnId, Input, SocketOpts};

/// Largest BGP message (RFC 8654 extended messages); the read buffer never
/// grows much beyond this because the framer consumes whole messages.
const MAX_MESSAGE: usize = 65535;

/// Messages (or batches) queued per connection before the core hears
/// [`Input::SendStalled`].
pub const WRITER_QUEUE: usize = 4096;

/// Bytes queued for a connection above which the core is told
/// [`Input::WriteBlocked`] (it stops building UPDATEs for that peer; the
/// routes wait as ids in its pending set) ...
pub const WRITE_HIGH: usize = 2 << 20;
/// ... and below which, once blocked, [`Input::WriteReady`].
pub const WRITE_LOW: usize = 512 << 10;

/// Write-buffer accounting shared by the core task (adds) and the writer
/// task (subtracts once written).
#[derive(Debug, Default)]
pub struct WriteBudget {
    pub queued: AtomicUsize,
    pub blocked: AtomicBool,
}

impl WriteBudget {
    /// `len` more bytes queued; true if the core must now hear
    /// [`Input::WriteBlocked`]. The flag is set before the re-check, and
    /// the writer clears it after its subtraction, so a drain racing with
    /// this call is seen by one side or the other: never blocked forever.
    pub fn add(&self, len: usize) -> bool {
        let q = self.queued.fetch_add(len, SeqCst) + len;
        if q <= WRITE_HIGH || self.blocked.swap(true, SeqCst) {
            return false;
        }
        !(self.queued.load(SeqCst) <= WRITE_LOW && self.blocked.swap(false, SeqCst))
    }

    /// `len` bytes left the queue (written or dropped); true if the core
    /// must now hear [`Input::WriteReady`].
    pub fn done(&self, len: usize) -> bool {
        let left = self.queued.fetch_sub(len, SeqCst).saturating_sub(len);
        left <= WRITE_LOW && self.blocked.swap(false, SeqCst)
    }
}

/// What the core task sends to a writer task.
#[derive(Debug)]
pub enum WriterCmd {
    Send(Vec<u8>),
    /// Flush what is queued, then shut the connection down.
    Close,
}

/// Open a listening socket on `addr` with `SO_REUSEADDR` (and `IPV6_V6ONLY`
/// for IPv6, so an IPv4 and an IPv6 wildcard can both be bound).
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let sock = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| io::Error::new(e.kind(), format!("socket for {addr}: {e}")))?;
    sock.set_reuseaddr(true)
        .map_err(|e| io::Error::new(e.kind(), format!("SO_REUSEADDR on {addr}: {e}")))?;
    if addr.is_ipv6() {
        sockopt::set_v6only(sock.as_raw_fd())
            .map_err(|e| io::Error::new(e.kind(), format!("IPV6_V6ONLY on {addr}: {e}")))?;
    }
    sock.bind(addr)
        .map_err(|e| io::Error::new(e.kind(), format!("bind {addr}: {e}")))?;
    sock.listen(128)
        .map_err(|e| io::Error::new(e.kind(), format!("listen on {addr}: {e}")))
}

/// Accept connections forever, handing each stream to the core task.
pub async fn accept_loop(
    listener: std::sync::Arc<TcpListener>,
    local: SocketAddr,
    events: mpsc::Sender<Event>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                if events
                    .send(Event::Accepted { stream, remote })
                    .await
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                warn!(listener = %local, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Apply the per-peer options to a socket that is connected or about to be.
pub fn apply_opts(
    fd: RawFd,
    family: SocketFamily,
    remote: SocketAddr,
    opts: &SocketOpts,
) -> io::Result<()> {
    if let Some(key) = &opts.md5_password {
        sockopt::set_md5_key(fd, family, remote.ip(), Some(key))?;
    }
    if opts.ttl_security_hops.is_some() {
        sockopt::set_gtsm(fd, family, opts.ttl_security_hops)?;
    }
    Ok(())
}

/// Connect to `remote` with the peer's options, within `timeout`.
pub async fn connect(
    remote: SocketAddr,
    opts: &SocketOpts,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let family = SocketFamily::of(&remote);
    let sock = match family {
        SocketFamily::V4 => TcpSocket::new_v4(),
        SocketFamily::V6 => TcpSocket::new_v6(),
    }
    .map_err(|e| io::Error::new(e.kind(), format!("socket for {remote}: {e}")))?;
    apply_opts(sock.as_raw_fd(), family, remote, opts)
        .map_err(|e| io::Error::new(e.kind(), format!("connect to {remote}: {e}")))?;
    if let Some(src) = opts.source {
        let local = SocketAddr::new(src, 0);
        sock.bind(local).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("bind {local} to connect to {remote}: {e}"),
            )
        })?;
    }
    match tokio::time::timeout(timeout, sock.connect(remote)).await {
        Ok(Ok(s)) => {
            // Failing to disable Nagle only costs latency.
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err(io::Error::new(
            e.kind(),
            format!("connect to {remote}: {e}"),
        )),
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("connect to {remote}: no answer within {timeout:?}"),
        )),
    }
}

/// Read, split into messages, forward. Ends at EOF, on an error, or when the
/// stream is framed wrongly (after telling the core).
pub async fn reader(conn: ConnId, mut rd: OwnedReadHalf, events: mpsc::Sender<Event>) {
    let mut buf: Vec<u8> = Vec::with_capacity(2 * MAX_MESSAGE);
    let mut chunk = vec![0u8; MAX_MESSAGE];
    loop {
        // Hand over every complete message already buffered; the consumed
        // prefix is dropped once per read, not once per message.
        let mut start = 0;
        loop {
            let rest = &buf[start..];
            match evpn_proto::message::frame_len(rest) {
                Ok(Some(n)) if n <= rest.len() => {
                    let bytes = rest[..n].to_vec();
                    start += n;
                    if events
                        .send(Event::Input(Input::Message { conn, bytes }))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
                Ok(_) => break,
                Err(e) => {
                    debug!(conn = conn.0, error = %e, "framing error");
                    let input = Input::FramingError {
                        conn,
                        code: e.code,
                        subcode: e.subcode,
                        data: e.data,
                    };
                    let _ = events.send(Event::Input(input)).await;
                    return;
                }
            }
        }
        buf.drain(..start);
        match rd.read(&mut chunk).await {
            Ok(0) => {
                let _ = events
                    .send(Event::Input(Input::Closed { conn, error: None }))
                    .await;
                return;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => {
                let input = Input::Closed {
                    conn,
                    error: Some(e.to_string()),
                };
                let _ = events.send(Event::Input(input)).await;
                return;
            }
        }
    }
}

/// Write queued bytes in order; on [`WriterCmd::Close`] flush and shut down.
/// A write that makes no progress for `send_hold` reports
/// [`Input::SendStalled`] once, then keeps trying until the core closes.
pub async fn writer(
    conn: ConnId,
    mut wr: OwnedWriteHalf,
    mut queue: mpsc::Receiver<WriterCmd>,
    events: mpsc::Sender<Event>,
    send_hold: Duration,
    budget: Arc<WriteBudget>,
) {
    let mut stalled_reported = false;
    while let Some(cmd) = queue.recv().await {
        match cmd {
            WriterCmd::Send(bytes) => {
                let mut write = std::pin::pin!(wr.write_all(&bytes));
                loop {
                    match tokio::time::timeout(send_hold, &mut write).await {
                        Ok(Ok(())) => {
                            if budget.done(bytes.len()) {
                                let _ = events.send(Event::Input(Input::WriteReady { conn })).await;
                            }
                            break;
                        }
                        Ok(Err(e)) => {
                            let input = Input::Closed {
                                conn,
                                error: Some(format!("write: {e}")),
                            };
                            let _ = events.send(Event::Input(input)).await;
                            return;
                        }
                        Err(_) if !stalled_reported => {
                            stalled_reported = true;
                            let _ = events.send(Event::Input(Input::SendStalled { conn })).await;
                        }
                        Err(_) => {}
                    }
                }
            }
            WriterCmd::Close => {
                // Best effort: the peer may already be gone.
                let _ = tokio::time::timeout(send_hold, wr.shutdown()).await;
                return;
            }
        }
    }
}
