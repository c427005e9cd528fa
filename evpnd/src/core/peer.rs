//! One BGP neighbor: its settings (from the config), its RFC 4271 FSM
//! state, and its per-peer route indexes.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use evpn_proto::message::{DecodeCxt, FamilySet};
use evpn_proto::Family;

use super::idset::IdSet;
use super::io::{ConnId, PeerId, SocketOpts};
use super::update_group::GroupId;
use crate::config::{Config, MaxPrefix, Neighbor};

/// Settings of one peer, resolved from its `[[neighbor]]` and the globals.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerConfig {
    pub address: IpAddr,
    pub port: u16,
    pub remote_as: u32,
    pub local_as: u32,
    pub passive: bool,
    pub families: FamilySet,
    /// Seconds; 0 disables the hold timer.
    pub hold_time: u16,
    pub keepalive: Option<u16>,
    pub connect_retry: u16,
    pub rr_client: bool,
    pub opts: SocketOpts,
    pub max_prefix: Option<MaxPrefix>,
    pub graceful_restart: bool,
    /// Created from a `range` (dynamic neighbor).
    pub dynamic: bool,
}

impl PeerConfig {
    pub fn from_neighbor(n: &Neighbor, address: IpAddr, config: &Config, dynamic: bool) -> Self {
        let g = &config.global;
        PeerConfig {
            address,
            port: n.port,
            remote_as: n.remote_as,
            local_as: n.local_as.unwrap_or(g.asn),
            passive: n.passive || dynamic,
            families: n.families.iter().map(|f| f.0).collect(),
            hold_time: n.hold_time.unwrap_or(g.hold_time),
            keepalive: n.keepalive.or(g.keepalive),
            connect_retry: n.connect_retry.unwrap_or(g.connect_retry).max(1),
            rr_client: n.route_reflector_client,
            opts: SocketOpts {
                md5_password: n.password.clone(),
                ttl_security_hops: n.ttl_security,
                source: n.source_address.map(|a| a.0),
            },
            max_prefix: n.max_prefix.clone(),
            graceful_restart: n.graceful_restart.unwrap_or(g.graceful_restart.enabled),
            dynamic,
        }
    }

    pub fn ibgp(&self) -> bool {
        self.remote_as == self.local_as
    }

    pub fn remote(&self) -> SocketAddr {
        SocketAddr::new(self.address, self.port)
    }
}

/// One TCP connection of a peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conn {
    pub id: ConnId,
    /// We initiated it (matters for collision resolution, RFC 4271 §6.8).
    pub outbound: bool,
    pub local: SocketAddr,
    pub remote: SocketAddr,
}

/// The peer's graceful-restart capability (RFC 4724 §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerGr {
    pub restart_time: u16,
    pub restarting: bool,
    pub families: FamilySet,
    pub forwarding: FamilySet,
    /// Both sides set the N bit (RFC 8538 §2): NOTIFICATIONs other than
    /// Hard Reset, and hold-timer expiry, keep the routes stale too.
    pub notification: bool,
}

/// What the two OPENs agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    pub cx: DecodeCxt,
    pub remote_id: Ipv4Addr,
    pub remote_as: u32,
    /// min(ours, theirs); 0 = no hold timer and no keepalives.
    pub hold: u16,
    pub keepalive: u16,
    pub families: FamilySet,
    pub route_refresh: bool,
    pub enhanced_route_refresh: bool,
    pub extended_next_hop: FamilySet,
    /// Set when both sides sent the GR capability.
    pub gr: Option<PeerGr>,
}

/// Why a peer sits in Idle (no automatic start until this is cleared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdleReason {
    /// Max-prefix exceeded; restarts when `MaxPrefixRestart` fires (if set).
    MaxPrefix,
    /// Administratively stopped (shutdown).
    AdminDown,
}

/// RFC 4271 §8.2.2 states; each carries only what is valid in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerState {
    Idle {
        why: IdleReason,
    },
    /// Waiting: for an incoming connection, and (unless passive) for the
    /// ConnectRetry timer to try outbound.
    Active,
    /// An outbound TCP connection is being set up.
    Connect {
        conn: ConnId,
    },
    OpenSent {
        conn: Conn,
    },
    OpenConfirm {
        conn: Conn,
        negotiated: Box<Negotiated>,
    },
    Established {
        conn: Conn,
        negotiated: Box<Negotiated>,
        since: Instant,
    },
}

impl PeerState {
    pub fn name(&self) -> &'static str {
        match self {
            PeerState::Idle { .. } => "idle",
            PeerState::Active => "active",
            PeerState::Connect { .. } => "connect",
            PeerState::OpenSent { .. } => "open-sent",
            PeerState::OpenConfirm { .. } => "open-confirm",
            PeerState::Established { .. } => "established",
        }
    }

    /// The connection the state is about, if it has one up.
    pub fn conn(&self) -> Option<&Conn> {
        match self {
            PeerState::OpenSent { conn }
            | PeerState::OpenConfirm { conn, .. }
            | PeerState::Established { conn, .. } => Some(conn),
            _ => None,
        }
    }

    pub fn conn_id(&self) -> Option<ConnId> {
        match self {
            PeerState::Connect { conn } => Some(*conn),
            s => s.conn().map(|c| c.id),
        }
    }

    pub fn negotiated(&self) -> Option<&Negotiated> {
        match self {
            PeerState::OpenConfirm { negotiated, .. }
            | PeerState::Established { negotiated, .. } => Some(negotiated),
            _ => None,
        }
    }

    pub fn is_established(&self) -> bool {
        matches!(self, PeerState::Established { .. })
    }
}

/// The last NOTIFICATION or why the session dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    pub sent: Option<bool>,
    pub code: u8,
    pub subcode: u8,
    pub data: Vec<u8>,
    pub reason: String,
}

/// Index of a family in per-family arrays.
pub fn fam_idx(f: Family) -> usize {
    match f {
        Family::Ipv4Unicast => 0,
        Family::Ipv6Unicast => 1,
        Family::Evpn => 2,
    }
}

/// Graceful-restart helper state for a peer whose routes we keep stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GrHelper {
    /// Families whose paths from this peer are stale, awaiting End-of-RIB.
    pub stale: FamilySet,
}

#[derive(Debug)]
pub struct Peer {
    pub id: PeerId,
    pub cfg: PeerConfig,
    pub state: PeerState,
    /// A second connection in OpenSent while the first one is being set up
    /// (RFC 4271 §6.8 collision detection resolves it at the first OPEN).
    pub second: Option<Conn>,
    /// An outbound connection still being set up after an inbound one took
    /// over as the primary; it becomes `second` (or the primary) if it
    /// connects, so both sides resolve the collision by the same rule.
    pub pending_connect: Option<ConnId>,
    /// Route ids in which this peer has a path (its Adj-RIB-In index).
    pub adj_in: IdSet,
    /// Paths received and kept, per family (for max-prefix and summaries).
    pub received: [u64; 3],
    /// The update group this established peer belongs to: it shares the
    /// group's pending set and Adj-RIB-Out (see `update_group.rs`).
    pub group: Option<GroupId>,
    /// Routes of the group's Adj-RIB-Out this peer does not have (its own,
    /// not yet sent, or to be sent again).
    pub excluded: IdSet,
    /// `excluded` per family.
    pub excluded_count: [u64; 3],
    /// The shell reported this connection's write buffer full
    /// ([`super::io::Input::WriteBlocked`]): no UPDATEs are built for it.
    pub write_blocked: Option<ConnId>,
    /// End-of-RIB to send once `pending` is flushed (initial sync).
    pub eor_to_send: FamilySet,
    /// Enhanced route refresh: EoRR to send once `pending` is flushed.
    pub eorr_to_send: FamilySet,
    pub eor_received: FamilySet,
    pub gr: GrHelper,
    /// Enhanced route refresh in progress from the peer (BoRR seen).
    pub refreshing: FamilySet,
    pub max_prefix_warned: FamilySet,
    pub last_error: Option<LastError>,
    pub last_change: Instant,
    pub connect_failures: u32,
    pub established_transitions: u64,
    pub messages_in: u64,
    pub messages_out: u64,
    pub updates_in: u64,
    pub updates_out: u64,
    /// ROUTE-REFRESH messages of any subtype.
    pub route_refresh_in: u64,
    pub route_refresh_out: u64,
    /// The BGP identifier learnt from the last OPEN (kept while GR-stale).
    pub remote_id: Ipv4Addr,
}

impl Peer {
    pub fn new(id: PeerId, cfg: PeerConfig, now: Instant) -> Peer {
        Peer {
            id,
            cfg,
            state: PeerState::Active,
            second: None,
            pending_connect: None,
            adj_in: IdSet::default(),
            received: [0; 3],
            group: None,
            excluded: IdSet::default(),
            excluded_count: [0; 3],
            write_blocked: None,
            eor_to_send: FamilySet::EMPTY,
            eorr_to_send: FamilySet::EMPTY,
            eor_received: FamilySet::EMPTY,
            gr: GrHelper::default(),
            refreshing: FamilySet::EMPTY,
            max_prefix_warned: FamilySet::EMPTY,
            last_error: None,
            last_change: now,
            connect_failures: 0,
            established_transitions: 0,
            messages_in: 0,
            messages_out: 0,
            updates_in: 0,
            updates_out: 0,
            route_refresh_in: 0,
            route_refresh_out: 0,
            remote_id: Ipv4Addr::UNSPECIFIED,
        }
    }

    /// Connect-retry delay: the configured time with RFC 4271 §10 jitter
    /// applied by the caller, doubled per consecutive failure up to 2^4
    /// times (and at most four minutes, the OpenSent hold time).
    pub fn connect_retry_base(&self) -> Duration {
        let base = Duration::from_secs(u64::from(self.cfg.connect_retry));
        let factor = 1u32 << self.connect_failures.min(4);
        (base * factor).min(Duration::from_secs(240).max(base))
    }

    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.state.negotiated()
    }

    pub fn established(&self) -> Option<(&Conn, &Negotiated)> {
        match &self.state {
            PeerState::Established {
                conn, negotiated, ..
            } => Some((conn, negotiated)),
            _ => None,
        }
    }
}
