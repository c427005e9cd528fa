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

use evpn_proto::{Mac, Vni};
use netlink_glue::{Change, Intent, Observation, Report};

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
    /// Something the dataplane reports: a kernel observation or the result
    /// of a request. See [`DataplaneEvent`].
    Dataplane(DataplaneEvent),
}

/// What the dataplane tells the core. The shell forwards
/// `netlink_glue::Observations` one by one as [`DataplaneEvent::Observed`]
/// and every [`Report`] of `Dataplane::reconcile`/`apply` as
/// [`DataplaneEvent::Applied`].
#[derive(Debug, Clone, PartialEq)]
pub enum DataplaneEvent {
    /// A kernel event, unchanged: local MAC learned/moved/aged on a bridge
    /// port, ARP/ND entry on an SVI, link and address changes, overrun and
    /// the full local state after a re-dump.
    Observed(Observation),
    /// The result of a [`DataplaneRequest::Reconcile`] or
    /// [`DataplaneRequest::Apply`] with the generation it answers. The core
    /// keeps the counters for `evpnctl show evpn vni`; it never assumes a
    /// write succeeded, and asks for a full reconcile after a failure.
    Applied(Report),
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
    /// Something for the dataplane (the kernel through netlink-glue).
    Dataplane(DataplaneRequest),
}

/// What the core asks of the dataplane, in order: the shell executes the
/// requests one after the other, in the order they were polled, because a
/// [`DataplaneRequest::PurgeLocal`] must happen before the
/// [`DataplaneRequest::Apply`] that follows it, and a probe after the
/// change that removed the remote neighbour entry it would otherwise hit.
#[derive(Debug, Clone, PartialEq)]
pub enum DataplaneRequest {
    /// Make the kernel match the whole desired state (`Dataplane::reconcile`).
    /// Sent once after `Core::new`, after every `Core::reload`, after an
    /// [`Observation::Overrun`] and after a failed apply.
    Reconcile(Intent),
    /// Incremental changes on top of the last intent (`Dataplane::apply`),
    /// coalesced per `poll_output` round; the generation grows by one per
    /// batch and per reconcile.
    Apply {
        generation: u64,
        changes: Vec<Change>,
    },
    /// Delete the *local* (kernel-learned) entries of a host that moved
    /// away (RFC 7432 §15: a remote route with a higher sequence number won
    /// over ours): the bridge FDB entry of `mac` on `bridge` (on a host port,
    /// not the VXLAN port) and the ARP/ND entries of `ips` on `svi`. Entries
    /// we wrote (`extern_learn`, our protocol id) are not touched; an entry
    /// that is already gone is not an error.
    PurgeLocal {
        vni: Vni,
        bridge: String,
        svi: String,
        mac: Mac,
        ips: Vec<IpAddr>,
    },
    /// Resolve `ip` on the SVI `dev` now: an ARP request (IPv4) or a
    /// Neighbor Solicitation (IPv6) from the anycast gateway address `from`
    /// and MAC `from_mac`. Used when a migrated VM announced itself with RARP
    /// (no IP): the answer creates a local neighbour entry, which the core
    /// then advertises as MAC+IP.
    Probe {
        vni: Vni,
        dev: String,
        ip: IpAddr,
        /// Where the host is expected (the MAC its routes carried).
        mac: Mac,
        from: IpAddr,
        from_mac: Mac,
    },
    /// Announce `ip` at `mac` on `dev`: a gratuitous ARP (IPv4) or an
    /// unsolicited Neighbor Advertisement (IPv6); sent for the anycast
    /// gateway addresses when a VNI comes up.
    Announce {
        vni: Vni,
        dev: String,
        ip: IpAddr,
        mac: Mac,
    },
}
