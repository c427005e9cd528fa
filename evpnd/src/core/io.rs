//! The boundary of the sans-IO core: what the shell feeds in, what it takes out.
//!
//! The core never reads a clock, never touches a socket, never awaits. The
//! shell (tokio) turns socket events, timers, API requests and dataplane
//! reports into [`Input`]s with the current time, calls
//! [`Core::handle`](super::Core::handle), then drains
//! [`Core::poll_output`](super::Core::poll_output) and sleeps until
//! [`Core::poll_timeout`](super::Core::poll_timeout). Recorded inputs replay
//! exactly, which is how every scenario test runs.

use std::net::{IpAddr, SocketAddr};

/// Identifies one configured (or dynamically accepted) BGP neighbor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u32);

/// Identifies one TCP connection; a peer can have two during collision
/// detection (RFC 4271 §6.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Identifies an API request so the reply can be routed back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// Socket options the shell applies to a BGP connection or listener.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SocketOpts {
    /// TCP-MD5 key (RFC 2385), keyed on the peer address.
    pub md5_password: Option<String>,
    /// GTSM (RFC 5082): send with TTL 255 and accept only TTL ≥ 256 - hops.
    pub ttl_security_hops: Option<u8>,
    /// Local address to bind before connecting.
    pub source: Option<IpAddr>,
}

/// Everything that happens to the core.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// An outbound connection requested by [`Output::Connect`] succeeded.
    Connected {
        conn: ConnId,
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// An outbound connection attempt failed.
    ConnectFailed { conn: ConnId, error: String },
    /// A listener accepted a connection; the core finds the peer (configured
    /// or in a dynamic range) or answers [`Output::Close`].
    Accepted {
        conn: ConnId,
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// One complete BGP message (header included), split from the stream by
    /// its length field. The core decodes it with the session's negotiated context.
    Message { conn: ConnId, bytes: Vec<u8> },
    /// The stream was framed wrongly (bad marker/length), per the shell's framer.
    FramingError {
        conn: ConnId,
        code: u8,
        subcode: u8,
        data: Vec<u8>,
    },
    /// The connection closed or failed.
    Closed { conn: ConnId, error: Option<String> },
    /// The shell could not write to the connection for the send-hold time
    /// (RFC 9687) or the write buffer limit was reached.
    SendStalled { conn: ConnId },
    /// The connection's write buffer passed its high-water mark (the peer
    /// reads slowly): stop building UPDATEs for it. Keepalives and
    /// NOTIFICATIONs still go out.
    WriteBlocked { conn: ConnId },
    /// The write buffer drained below its low-water mark after
    /// [`Input::WriteBlocked`]: resume.
    WriteReady { conn: ConnId },
    /// An API request (already parsed JSON).
    Api {
        id: RequestId,
        request: serde_json::Value,
    },
}

/// Everything the core asks the world to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open a TCP connection.
    Connect {
        conn: ConnId,
        peer: PeerId,
        remote: SocketAddr,
        opts: SocketOpts,
    },
    /// Configure the listening sockets for a peer address (MD5 key, GTSM).
    ListenOpts { remote: IpAddr, opts: SocketOpts },
    /// Write bytes (one or more whole BGP messages) to a connection.
    Send { conn: ConnId, bytes: Vec<u8> },
    /// Close a connection after flushing what was sent before.
    Close { conn: ConnId },
    /// Reply to an API request.
    ApiReply {
        id: RequestId,
        reply: serde_json::Value,
    },
}
