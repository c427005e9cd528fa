//! The RFC 4271 §8 FSM of each peer: connections, OPEN and capability
//! negotiation, collision detection (§6.8), hold / keepalive /
//! connect-retry timers (§10), NOTIFICATIONs, and what happens to the
//! peer's routes when the session ends (flush, or keep them stale for a
//! graceful restart, RFC 4724 §4.2).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use evpn_proto::capability::Capability;
use evpn_proto::error::code;
use evpn_proto::message::{
    decode_message, keepalive, DecodeCxt, Decoded, FamilySet, Notification, Open,
};
use evpn_proto::{Afi, Family, Safi};
use tracing::{debug, info, warn};

use super::io::{ConnId, Output, PeerId};
use super::peer::{Conn, IdleReason, LastError, Negotiated, PeerConfig, PeerGr, PeerState};
use super::timer::TimerKey;
use super::Core;

/// RFC 4271 §8.2.2: the HoldTimer in OpenSent is "a large value"; four
/// minutes is the suggested one.
const OPEN_SENT_HOLD: Duration = Duration::from_secs(240);

/// How a session ended, for the routes and the next state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Down {
    /// TCP went away without a NOTIFICATION: a graceful restart may follow
    /// (RFC 4724 §4.2: the routes are kept stale).
    ConnectionLost,
    /// A NOTIFICATION other than Hard Reset was sent or received, or the
    /// hold timer expired: like [`Down::ConnectionLost`] when both sides set
    /// the N bit (RFC 8538 §4), else the routes are flushed.
    Notification,
    /// Cease / Hard Reset sent or received (RFC 8538 §3), or the session is
    /// stopped for good: the routes are flushed.
    HardReset,
}

/// RFC 8538 §5.1: the Cease subcodes sent as a Hard Reset when the N bit is
/// negotiated. Administrative Reset (4) is the operator's choice; the
/// others (Connection Rejected, Other Configuration Change, Collision
/// Resolution, Out of Resources, BFD Down) are graceful.
pub(crate) fn cease_is_hard(subcode: u8) -> bool {
    matches!(
        subcode,
        code::cease::MAX_PREFIX
            | code::cease::ADMIN_SHUTDOWN
            | code::cease::PEER_DECONFIGURED
            | code::cease::HARD_RESET
    )
}

impl Core {
    fn peer_of(&self, conn: ConnId) -> Option<PeerId> {
        self.conns.get(&conn).copied()
    }

    pub(crate) fn send(&mut self, peer: PeerId, conn: ConnId, bytes: Vec<u8>, messages: u64) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.messages_out += messages;
        }
        self.out.push_back(Output::Send { conn, bytes });
    }

    /// Send a NOTIFICATION on `conn` and close it.
    fn notify_close(&mut self, peer: PeerId, conn: ConnId, n: &Notification, reason: &str) {
        info!(
            peer = peer.0,
            code = n.code,
            subcode = n.subcode,
            reason,
            "sending NOTIFICATION"
        );
        self.send(peer, conn, n.encode(), 1);
        self.out.push_back(Output::Close { conn });
        self.conns.remove(&conn);
    }

    fn close_conn(&mut self, conn: ConnId) {
        self.out.push_back(Output::Close { conn });
        self.conns.remove(&conn);
    }

    fn record_error(&mut self, peer: PeerId, sent: Option<bool>, n: &Notification, reason: &str) {
        if let Some(p) = self.peers.get_mut(&peer) {
            p.last_error = Some(LastError {
                sent,
                code: n.code,
                subcode: n.subcode,
                data: n.data.clone(),
                reason: reason.to_string(),
            });
        }
    }

    /// Send `n` on the session's connection and take the session down.
    /// A Cease that RFC 8538 §5.1 wants hard becomes a Hard Reset.
    pub(crate) fn fail_session(
        &mut self,
        now: Instant,
        peer: PeerId,
        n: Notification,
        reason: &str,
    ) {
        let hard = n.code == code::CEASE && cease_is_hard(n.subcode);
        self.end_session(now, peer, n, hard, reason, None);
    }

    /// Send `n` (wrapped in a Hard Reset if `hard` and the N bit was
    /// negotiated, RFC 8538 §3) and take the session down; `idle` as for
    /// [`Core::session_down`].
    pub(crate) fn end_session(
        &mut self,
        now: Instant,
        peer: PeerId,
        n: Notification,
        hard: bool,
        reason: &str,
        idle: Option<IdleReason>,
    ) {
        let Some(p) = self.peers.get(&peer) else {
            return;
        };
        let Some(conn) = p.state.conn_id() else {
            return;
        };
        let n_bit = p
            .negotiated()
            .and_then(|neg| neg.gr.as_ref())
            .is_some_and(|g| g.notification);
        let (n, how) = match (hard, n_bit) {
            (true, true) => (Notification::hard_reset(&n), Down::HardReset),
            (true, false) => (n, Down::HardReset),
            (false, _) => (n, Down::Notification),
        };
        self.record_error(peer, Some(true), &n, reason);
        self.notify_close(peer, conn, &n, reason);
        self.session_down(now, peer, how, idle);
    }

    // ---- connection events ----

    pub(crate) fn on_connected(
        &mut self,
        now: Instant,
        conn: ConnId,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        let Some(pid) = self.peer_of(conn) else {
            self.out.push_back(Output::Close { conn });
            return;
        };
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        let c = Conn {
            id: conn,
            outbound: true,
            local,
            remote,
        };
        let was_pending = p.pending_connect == Some(conn);
        if was_pending {
            p.pending_connect = None;
        }
        match &p.state {
            PeerState::Connect { conn: pending } if *pending == conn => {}
            PeerState::Active if was_pending => {
                self.timers.cancel(TimerKey::ConnectRetry(pid));
            }
            PeerState::OpenSent { .. } | PeerState::OpenConfirm { .. }
                if was_pending && p.second.is_none() =>
            {
                // A collision candidate, resolved at the first OPEN.
                p.second = Some(c);
                self.send_open(pid, conn);
                return;
            }
            _ => {
                self.close_conn(conn);
                return;
            }
        }
        p.state = PeerState::OpenSent { conn: c };
        p.last_change = now;
        self.send_open(pid, conn);
        self.timers.set(TimerKey::Hold(pid), now + OPEN_SENT_HOLD);
    }

    pub(crate) fn on_connect_failed(&mut self, now: Instant, conn: ConnId, error: &str) {
        let Some(pid) = self.peer_of(conn) else {
            return;
        };
        self.conns.remove(&conn);
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        if p.pending_connect == Some(conn) {
            p.pending_connect = None;
            return;
        }
        if p.state != (PeerState::Connect { conn }) {
            return;
        }
        debug!(peer = pid.0, error, "connect failed");
        p.connect_failures += 1;
        p.last_change = now;
        // A connection the peer opened meanwhile carries on.
        if let Some(second) = p.second.take() {
            p.state = PeerState::OpenSent { conn: second };
            return;
        }
        p.state = PeerState::Active;
        self.arm_connect_retry(now, pid);
    }

    fn arm_connect_retry(&mut self, now: Instant, pid: PeerId) {
        let Some(p) = self.peers.get(&pid) else {
            return;
        };
        if p.cfg.passive {
            return;
        }
        let base = p.connect_retry_base();
        let delay = self.rng.jitter(base);
        self.timers.set(TimerKey::ConnectRetry(pid), now + delay);
    }

    pub(crate) fn on_accepted(
        &mut self,
        now: Instant,
        conn: ConnId,
        local: SocketAddr,
        remote: SocketAddr,
    ) {
        let addr = normalise(remote.ip());
        let pid = match self.by_addr.get(&addr) {
            Some(&id) => id,
            None => match self.range_for(addr) {
                Some(n) => {
                    let cfg = PeerConfig::from_neighbor(&n, addr, &self.config, true);
                    info!(%addr, "dynamic neighbor");
                    self.add_peer(now, cfg)
                }
                None => {
                    debug!(%addr, "connection from an unknown address refused");
                    self.out.push_back(Output::Close { conn });
                    return;
                }
            },
        };
        let c = Conn {
            id: conn,
            outbound: false,
            local,
            remote,
        };
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        match &p.state {
            PeerState::Idle { .. } => {
                // RFC 4271 §8.2.2 Idle: "refuses all incoming BGP connections".
                self.out.push_back(Output::Close { conn });
            }
            PeerState::Active => {
                p.state = PeerState::OpenSent { conn: c };
                p.last_change = now;
                self.conns.insert(conn, pid);
                self.timers.cancel(TimerKey::ConnectRetry(pid));
                self.send_open(pid, conn);
                self.timers.set(TimerKey::Hold(pid), now + OPEN_SENT_HOLD);
            }
            PeerState::Connect { .. }
            | PeerState::OpenSent { .. }
            | PeerState::OpenConfirm { .. }
                if p.second.is_none() =>
            {
                // Collision candidate: resolved when the first OPEN arrives.
                p.second = Some(c);
                self.conns.insert(conn, pid);
                self.send_open(pid, conn);
            }
            PeerState::Established { .. } => {
                // RFC 4271 §6.8: a connection colliding with an Established
                // one is closed with Cease / Connection Collision Resolution.
                self.conns.insert(conn, pid);
                let n =
                    Notification::new(code::CEASE, code::cease::COLLISION_RESOLUTION, Vec::new());
                self.notify_close(pid, conn, &n, "session already established");
            }
            _ => {
                self.conns.insert(conn, pid);
                let n =
                    Notification::new(code::CEASE, code::cease::CONNECTION_REJECTED, Vec::new());
                self.notify_close(pid, conn, &n, "third connection");
            }
        }
    }

    pub(crate) fn on_closed(&mut self, now: Instant, conn: ConnId, error: Option<&str>) {
        let Some(pid) = self.peer_of(conn) else {
            return;
        };
        self.conns.remove(&conn);
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        if p.second.is_some_and(|c| c.id == conn) {
            p.second = None;
            return;
        }
        if p.state.conn_id() != Some(conn) {
            return;
        }
        debug!(peer = pid.0, error, "connection closed");
        if p.last_error.as_ref().is_none_or(|e| e.sent.is_some()) || p.state.is_established() {
            p.last_error = Some(LastError {
                sent: None,
                code: 0,
                subcode: 0,
                data: Vec::new(),
                reason: error.unwrap_or("connection closed by peer").to_string(),
            });
        }
        self.session_down(now, pid, Down::ConnectionLost, None);
    }

    pub(crate) fn on_send_stalled(&mut self, now: Instant, conn: ConnId) {
        let Some(pid) = self.peer_of(conn) else {
            return;
        };
        // RFC 9687: Send Hold Timer Expired [8,0].
        let n = Notification::new(code::SEND_HOLD_TIMER_EXPIRED, 0, Vec::new());
        if self.peers.get(&pid).and_then(|p| p.state.conn_id()) == Some(conn) {
            self.fail_session(now, pid, n, "send hold timer expired");
        } else {
            self.notify_close(pid, conn, &n, "send hold timer expired");
            if let Some(p) = self.peers.get_mut(&pid) {
                p.second = None;
            }
        }
    }

    pub(crate) fn on_framing_error(&mut self, now: Instant, conn: ConnId, n: Notification) {
        let Some(pid) = self.peer_of(conn) else {
            self.out.push_back(Output::Close { conn });
            return;
        };
        if self.peers.get(&pid).and_then(|p| p.state.conn_id()) == Some(conn) {
            self.fail_session(now, pid, n, "bad message header");
        } else {
            self.notify_close(pid, conn, &n, "bad message header");
            if let Some(p) = self.peers.get_mut(&pid) {
                p.second = None;
            }
        }
    }

    // ---- messages ----

    pub(crate) fn on_message(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        let Some(pid) = self.peer_of(conn) else {
            return;
        };
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        p.messages_in += 1;
        let is_second = p.second.is_some_and(|c| c.id == conn);
        let cx = p.negotiated().map_or_else(DecodeCxt::default, |n| n.cx);
        let decoded = match decode_message(bytes, &cx) {
            Ok(d) => d,
            Err(e) => {
                let n = Notification::from_error(&e);
                if bytes.get(18) == Some(&3) {
                    // A broken NOTIFICATION is never answered (RFC 4271 §6.4).
                    self.record_error(pid, Some(false), &n, &e.reason);
                    self.close_conn(conn);
                    if !is_second {
                        self.session_down(now, pid, Down::Notification, None);
                    }
                } else if is_second {
                    self.notify_close(pid, conn, &n, &e.reason);
                    if let Some(p) = self.peers.get_mut(&pid) {
                        p.second = None;
                    }
                } else {
                    self.fail_session(now, pid, n, &e.reason);
                }
                return;
            }
        };
        if let Decoded::Notification(n) = &decoded {
            let shown = n.hard_reset_cause().unwrap_or_else(|| n.clone());
            let mut reason = shown
                .shutdown_communication()
                .map(str::to_string)
                .unwrap_or_else(|| {
                    shown
                        .subcode_name()
                        .unwrap_or(shown.code_name())
                        .to_string()
                });
            if n.is_hard_reset() && shown != *n {
                reason = format!("hard reset: {reason}");
            }
            // RFC 8538 §4: a Hard Reset flushes; any other NOTIFICATION
            // keeps the routes stale when the N bit was negotiated.
            let how = if n.is_hard_reset() {
                Down::HardReset
            } else {
                Down::Notification
            };
            info!(peer = pid.0, code = n.code, subcode = n.subcode, %reason, "NOTIFICATION received");
            self.close_conn(conn);
            if is_second {
                if let Some(p) = self.peers.get_mut(&pid) {
                    p.second = None;
                }
            } else {
                self.record_error(pid, Some(false), n, &reason);
                self.session_down(now, pid, how, None);
            }
            return;
        }
        if let Decoded::Open(open) = decoded {
            self.on_open(now, pid, conn, open);
            return;
        }
        if is_second {
            // Only an OPEN is expected on a connection in OpenSent.
            let n = Notification::new(code::FSM, code::fsm::UNEXPECTED_IN_OPENSENT, Vec::new());
            self.notify_close(pid, conn, &n, "unexpected message in OpenSent");
            if let Some(p) = self.peers.get_mut(&pid) {
                p.second = None;
            }
            return;
        }
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        match (&p.state, decoded) {
            (PeerState::OpenConfirm { .. }, Decoded::Keepalive) => self.established(now, pid),
            (PeerState::Established { negotiated, .. }, msg) => {
                let hold = negotiated.hold;
                self.restart_hold(now, pid, hold);
                match msg {
                    Decoded::Keepalive => {}
                    Decoded::Update(u) => self.on_update(now, pid, u),
                    Decoded::RouteRefresh(r) => self.on_route_refresh(now, pid, r),
                    _ => {}
                }
            }
            (state, _) => {
                // RFC 6608: the subcode names the state.
                let sub = match state {
                    PeerState::OpenSent { .. } => code::fsm::UNEXPECTED_IN_OPENSENT,
                    PeerState::OpenConfirm { .. } => code::fsm::UNEXPECTED_IN_OPENCONFIRM,
                    _ => code::fsm::UNSPECIFIED,
                };
                let n = Notification::new(code::FSM, sub, Vec::new());
                self.fail_session(now, pid, n, "unexpected message");
            }
        }
    }

    fn restart_hold(&mut self, now: Instant, pid: PeerId, hold: u16) {
        if hold > 0 {
            self.timers.set(
                TimerKey::Hold(pid),
                now + Duration::from_secs(u64::from(hold)),
            );
        }
    }

    /// An OPEN on the primary or the second connection.
    fn on_open(&mut self, now: Instant, pid: PeerId, conn: ConnId, open: Open) {
        let Some(p) = self.peers.get(&pid) else {
            return;
        };
        let primary = p.state.conn_id();
        let on_second = p.second.is_some_and(|c| c.id == conn);
        // ---- collision detection (RFC 4271 §6.8) ----
        if on_second {
            match &p.state {
                PeerState::Established { .. } => {
                    let n = Notification::new(
                        code::CEASE,
                        code::cease::COLLISION_RESOLUTION,
                        Vec::new(),
                    );
                    self.notify_close(pid, conn, &n, "collision with an established session");
                    if let Some(p) = self.peers.get_mut(&pid) {
                        p.second = None;
                    }
                    return;
                }
                PeerState::Connect { conn: pending } => {
                    // Our outbound attempt is still pending: the inbound one
                    // carries on; the outbound, if it connects, becomes a
                    // collision candidate (never dropped unilaterally, or
                    // both sides could close the connection the other kept).
                    let pending = *pending;
                    if let Some(p) = self.peers.get_mut(&pid) {
                        p.pending_connect = Some(pending);
                    }
                    self.promote_second(pid);
                }
                PeerState::OpenSent { conn: first }
                | PeerState::OpenConfirm { conn: first, .. } => {
                    let first = *first;
                    let keep_second = self.collision_keeps(open.bgp_id, p.second, first);
                    if keep_second {
                        let n = Notification::new(
                            code::CEASE,
                            code::cease::COLLISION_RESOLUTION,
                            Vec::new(),
                        );
                        self.notify_close(pid, first.id, &n, "collision resolution");
                        self.promote_second(pid);
                    } else {
                        let n = Notification::new(
                            code::CEASE,
                            code::cease::COLLISION_RESOLUTION,
                            Vec::new(),
                        );
                        self.notify_close(pid, conn, &n, "collision resolution");
                        if let Some(p) = self.peers.get_mut(&pid) {
                            p.second = None;
                        }
                        // The first connection's OPEN is still to come (or
                        // came: OpenConfirm carries on).
                        return;
                    }
                }
                _ => {
                    self.promote_second(pid);
                }
            }
        } else if primary == Some(conn) {
            if let (Some(second), PeerState::OpenSent { conn: first }) = (p.second, &p.state) {
                let first = *first;
                let keep_second = self.collision_keeps(open.bgp_id, Some(second), first);
                let n =
                    Notification::new(code::CEASE, code::cease::COLLISION_RESOLUTION, Vec::new());
                if keep_second {
                    // Our first connection loses; wait for the OPEN on the second.
                    self.notify_close(pid, conn, &n, "collision resolution");
                    self.promote_second(pid);
                    return;
                }
                self.notify_close(pid, second.id, &n, "collision resolution");
                if let Some(p) = self.peers.get_mut(&pid) {
                    p.second = None;
                }
            }
        }
        let Some(p) = self.peers.get(&pid) else {
            return;
        };
        let PeerState::OpenSent { conn: c } = p.state.clone() else {
            // RFC 6608: OPEN in OpenConfirm / Established.
            let sub = match p.state {
                PeerState::OpenConfirm { .. } => code::fsm::UNEXPECTED_IN_OPENCONFIRM,
                PeerState::Established { .. } => code::fsm::UNEXPECTED_IN_ESTABLISHED,
                _ => code::fsm::UNSPECIFIED,
            };
            let n = Notification::new(code::FSM, sub, Vec::new());
            self.fail_session(now, pid, n, "unexpected OPEN");
            return;
        };
        // ---- OPEN checks (RFC 4271 §6.2, bgp-robustness §2.1) ----
        let ibgp = p.cfg.ibgp();
        if let Err(e) = open.validate(Some(p.cfg.remote_as), self.router_id, ibgp) {
            let n = Notification::from_error(&e);
            self.fail_session(now, pid, n, &e.reason);
            return;
        }
        let negotiated = self.negotiate(&p.cfg, &open, ibgp);
        let hold = negotiated.hold;
        let keepalive_secs = negotiated.keepalive;
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        p.remote_id = open.bgp_id;
        p.state = PeerState::OpenConfirm {
            conn: c,
            negotiated: Box::new(negotiated),
        };
        p.last_change = now;
        self.send(pid, c.id, keepalive(), 1);
        if hold > 0 {
            self.timers.set(
                TimerKey::Hold(pid),
                now + Duration::from_secs(u64::from(hold)),
            );
        } else {
            self.timers.cancel(TimerKey::Hold(pid));
        }
        if keepalive_secs > 0 {
            self.timers.set(
                TimerKey::Keepalive(pid),
                now + Duration::from_secs(u64::from(keepalive_secs)),
            );
        }
    }

    /// RFC 4271 §6.8: keep the connection opened by the speaker with the
    /// higher BGP identifier. True when `second` is the one to keep.
    fn collision_keeps(
        &self,
        remote_id: std::net::Ipv4Addr,
        second: Option<Conn>,
        first: Conn,
    ) -> bool {
        let keep_outbound = u32::from(self.router_id) > u32::from(remote_id);
        match second {
            Some(s) if s.outbound != first.outbound => s.outbound == keep_outbound,
            _ => false,
        }
    }

    fn promote_second(&mut self, pid: PeerId) {
        if let Some(p) = self.peers.get_mut(&pid) {
            if let Some(s) = p.second.take() {
                p.state = PeerState::OpenSent { conn: s };
            }
        }
    }

    fn send_open(&mut self, pid: PeerId, conn: ConnId) {
        let Some(p) = self.peers.get(&pid) else {
            return;
        };
        // Our forwarding state for this peer's routes survives a session
        // that ends while we run (a lost connection, or RFC 8538 NOTIFICATION
        // under GR): the F bit is set from the second session on, and after
        // a restart that kept the kernel state.
        let forwarding = self.options.forwarding_preserved || p.established_transitions > 0;
        let open = Open::new(
            p.cfg.local_as,
            p.cfg.hold_time,
            self.router_id,
            self.capabilities(&p.cfg, forwarding),
        );
        self.conns.insert(conn, pid);
        self.send(pid, conn, open.encode(), 1);
    }

    /// The capabilities we announce to a peer (RFC 5492).
    /// `forwarding`: the F bit of every family in the GR capability.
    fn capabilities(&self, cfg: &PeerConfig, forwarding: bool) -> Vec<Capability> {
        let mut caps: Vec<Capability> =
            cfg.families.iter().map(Capability::multiprotocol).collect();
        caps.push(Capability::RouteRefresh);
        caps.push(Capability::EnhancedRouteRefresh);
        caps.push(Capability::FourOctetAs(cfg.local_as));
        if cfg.families.contains(Family::Ipv4Unicast) {
            // RFC 8950: IPv4 unicast NLRI with an IPv6 next hop.
            caps.push(Capability::ExtendedNextHop(vec![(
                Afi::Ipv4,
                Safi::Unicast,
                Afi::Ipv6,
            )]));
        }
        if cfg.graceful_restart && self.gr.enabled {
            caps.push(Capability::GracefulRestart {
                restart_state: self.options.restarting,
                notification: self.gr.notification,
                restart_time: self.gr.restart_time.min(4095),
                families: cfg
                    .families
                    .iter()
                    .map(|f| (f.afi(), f.safi(), forwarding))
                    .collect(),
            });
        }
        caps
    }

    fn negotiate(&self, cfg: &PeerConfig, open: &Open, ibgp: bool) -> Negotiated {
        let ours = Open::new(
            cfg.local_as,
            cfg.hold_time,
            self.router_id,
            // Only the negotiated context is taken from our side here.
            self.capabilities(cfg, false),
        );
        let cx = DecodeCxt::negotiated(&ours, open, ibgp);
        let hold = cfg.hold_time.min(open.hold_time);
        let keepalive = if hold == 0 {
            0
        } else {
            cfg.keepalive
                .unwrap_or(hold / 3)
                .clamp(1, (hold / 3).max(1))
        };
        let theirs_has = |code: u8| open.has_capability(code);
        use evpn_proto::capability::cap_code;
        let mut extended_next_hop = FamilySet::EMPTY;
        for c in &open.capabilities {
            if let Capability::ExtendedNextHop(list) = c {
                if list.contains(&(Afi::Ipv4, Safi::Unicast, Afi::Ipv6))
                    && cfg.families.contains(Family::Ipv4Unicast)
                {
                    extended_next_hop.insert(Family::Ipv4Unicast);
                }
            }
        }
        let gr = if cfg.graceful_restart && self.gr.enabled {
            open.capabilities.iter().find_map(|c| match c {
                Capability::GracefulRestart {
                    restart_state,
                    notification,
                    restart_time,
                    families,
                } => {
                    let mut fams = FamilySet::EMPTY;
                    let mut fwd = FamilySet::EMPTY;
                    for (a, s, f) in families {
                        if let Some(fam) = Family::from_afi_safi(*a, *s) {
                            fams.insert(fam);
                            if *f {
                                fwd.insert(fam);
                            }
                        }
                    }
                    Some(PeerGr {
                        restart_time: *restart_time,
                        restarting: *restart_state,
                        families: fams,
                        forwarding: fwd,
                        notification: *notification && self.gr.notification,
                    })
                }
                _ => None,
            })
        } else {
            None
        };
        Negotiated {
            families: cx.families,
            cx,
            remote_id: open.bgp_id,
            remote_as: open.peer_as(),
            hold,
            keepalive,
            route_refresh: theirs_has(cap_code::ROUTE_REFRESH),
            enhanced_route_refresh: theirs_has(cap_code::ENHANCED_ROUTE_REFRESH),
            extended_next_hop,
            gr,
        }
    }

    /// OpenConfirm + KEEPALIVE → Established (RFC 4271 §8.2.2).
    fn established(&mut self, now: Instant, pid: PeerId) {
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        let PeerState::OpenConfirm { conn, negotiated } = p.state.clone() else {
            return;
        };
        info!(peer = pid.0, addr = %p.cfg.address, "established");
        let hold = negotiated.hold;
        let families = negotiated.families;
        let peer_gr = negotiated.gr.clone();
        p.state = PeerState::Established {
            conn,
            negotiated,
            since: now,
        };
        p.last_change = now;
        p.connect_failures = 0;
        p.established_transitions += 1;
        p.eor_received = FamilySet::EMPTY;
        p.eor_to_send = families;
        self.restart_hold(now, pid, hold);
        // RFC 4724 §4.2: the peer came back. Stale routes of families it did
        // not preserve forwarding for go now; the rest wait for its EoR.
        self.timers.cancel(TimerKey::GrRestart(pid));
        let stale = self
            .peers
            .get(&pid)
            .map_or(FamilySet::EMPTY, |p| p.gr.stale);
        if !stale.is_empty() {
            for f in stale.iter() {
                let kept = peer_gr
                    .as_ref()
                    .is_some_and(|g| g.families.contains(f) && g.forwarding.contains(f));
                if !kept {
                    self.sweep_stale(now, pid, Some(f));
                }
            }
            self.timers.set(
                TimerKey::GrStale(pid),
                now + Duration::from_secs(u64::from(self.gr.stale_routes_time)),
            );
        }
        // Initial sync: the peer joins its update group and every best
        // route is evaluated for it.
        self.join_group(pid);
    }

    /// Take the session down: timers, connection, routes, next state.
    /// `idle` puts the peer in Idle instead of Active.
    pub(crate) fn session_down(
        &mut self,
        now: Instant,
        pid: PeerId,
        how: Down,
        idle: Option<IdleReason>,
    ) {
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        let old = std::mem::replace(&mut p.state, PeerState::Active);
        p.last_change = now;
        if let Some(c) = old.conn_id() {
            self.conns.remove(&c);
        }
        self.timers.cancel(TimerKey::Hold(pid));
        self.timers.cancel(TimerKey::Keepalive(pid));
        self.timers.cancel(TimerKey::RefreshStale(pid));
        if let PeerState::Established { negotiated, .. } = &old {
            info!(peer = pid.0, ?how, "session down");
            let gr = negotiated.gr.as_ref().filter(|g| match how {
                Down::ConnectionLost => true,
                Down::Notification => g.notification,
                Down::HardReset => false,
            });
            match gr {
                Some(g) => self.gr_helper_start(now, pid, g.families, g.restart_time),
                None => self.flush_peer_routes(now, pid),
            }
            self.clear_adj_out(pid);
        }
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        match idle {
            Some(why) => p.state = PeerState::Idle { why },
            None => {
                p.state = match p.second.take() {
                    // A colliding connection waiting in OpenSent carries on.
                    Some(s) => PeerState::OpenSent { conn: s },
                    None => PeerState::Active,
                };
                if p.state == PeerState::Active {
                    if !old.is_established() && !matches!(old, PeerState::Active) {
                        p.connect_failures += 1;
                    }
                    self.arm_connect_retry(now, pid);
                }
            }
        }
        self.maybe_forget_dynamic(pid);
    }

    /// A dynamic neighbor with no session and no stale routes is removed.
    pub(crate) fn maybe_forget_dynamic(&mut self, pid: PeerId) {
        let Some(p) = self.peers.get(&pid) else {
            return;
        };
        if p.cfg.dynamic
            && matches!(p.state, PeerState::Active)
            && p.adj_in.is_empty()
            && p.second.is_none()
        {
            let addr = p.cfg.address;
            self.peers.remove(&pid);
            self.by_addr.remove(&addr);
            self.timers.cancel_peer(pid);
        }
    }

    // ---- timers ----

    pub(crate) fn on_timer(&mut self, now: Instant, key: TimerKey) {
        match key {
            TimerKey::ConnectRetry(pid) => self.connect(now, pid),
            TimerKey::Hold(pid) => {
                let n = Notification::new(code::HOLD_TIMER_EXPIRED, 0, Vec::new());
                self.fail_session(now, pid, n, "hold timer expired");
            }
            TimerKey::Keepalive(pid) => {
                let Some(p) = self.peers.get(&pid) else {
                    return;
                };
                if let (Some(c), Some(n)) = (p.state.conn(), p.negotiated()) {
                    let (c, ka) = (c.id, n.keepalive);
                    self.send(pid, c, keepalive(), 1);
                    if ka > 0 {
                        self.timers.set(
                            TimerKey::Keepalive(pid),
                            now + Duration::from_secs(u64::from(ka)),
                        );
                    }
                }
            }
            TimerKey::MaxPrefixRestart(pid) => {
                if let Some(p) = self.peers.get_mut(&pid) {
                    if matches!(
                        p.state,
                        PeerState::Idle {
                            why: IdleReason::MaxPrefix
                        }
                    ) {
                        p.state = PeerState::Active;
                        p.last_change = now;
                        if !p.cfg.passive {
                            self.connect(now, pid);
                        }
                    }
                }
            }
            TimerKey::GrRestart(pid) | TimerKey::GrStale(pid) => {
                warn!(peer = pid.0, "graceful restart: stale routes timed out");
                self.sweep_stale(now, pid, None);
                self.maybe_forget_dynamic(pid);
            }
            TimerKey::RefreshStale(pid) => {
                let fams = self
                    .peers
                    .get(&pid)
                    .map_or(FamilySet::EMPTY, |p| p.refreshing);
                for f in fams.iter() {
                    self.sweep_stale(now, pid, Some(f));
                }
                if let Some(p) = self.peers.get_mut(&pid) {
                    p.refreshing = FamilySet::EMPTY;
                }
            }
            TimerKey::WriteStall(pid) => self.on_write_stall(now, pid),
            TimerKey::SelectionDeferral => self.end_deferral(),
            TimerKey::DadUnfreeze(vni, mac) => self.on_dad_timer(now, vni, mac),
        }
    }

    /// ConnectRetry expired in Active: open an outbound connection.
    fn connect(&mut self, now: Instant, pid: PeerId) {
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        if p.cfg.passive || !matches!(p.state, PeerState::Active) {
            return;
        }
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        p.state = PeerState::Connect { conn };
        p.last_change = now;
        let (remote, opts) = (p.cfg.remote(), p.cfg.opts.clone());
        self.conns.insert(conn, pid);
        self.out.push_back(Output::Connect {
            conn,
            peer: pid,
            remote,
            opts,
        });
        // If the connect hangs, the shell reports ConnectFailed; a retry is
        // armed anyway so a lost report cannot stall the peer.
        let base = self
            .peers
            .get(&pid)
            .map_or(Duration::from_secs(30), |p| p.connect_retry_base());
        let delay = self.rng.jitter(base);
        self.timers.set(TimerKey::ConnectRetry(pid), now + delay);
    }

    // ---- administrative ----

    /// Cease / Administrative Shutdown (RFC 4486 subcode 2, a Hard Reset
    /// under RFC 8538), then Idle.
    pub(crate) fn admin_down(&mut self, now: Instant, pid: PeerId) {
        self.stop_peer(
            now,
            pid,
            code::cease::ADMIN_SHUTDOWN,
            Some(IdleReason::AdminDown),
        );
    }

    /// Operator reset (`evpnctl clear bgp`): Cease / Administrative Reset,
    /// as a Hard Reset unless `graceful` (RFC 8538 §5.1 leaves the choice
    /// to the operator); then the session starts again. A graceful reset
    /// with the N bit negotiated keeps the routes on both sides stale until
    /// End-of-RIB. False if there is no such peer.
    pub(crate) fn clear_peer(&mut self, now: Instant, pid: PeerId, graceful: bool) -> bool {
        if !self.peers.contains_key(&pid) {
            return false;
        }
        self.stop_peer_with(now, pid, code::cease::ADMIN_RESET, !graceful, None);
        self.arm_connect_retry(now, pid);
        true
    }

    /// Stop with Cease / `subcode`, hard as RFC 8538 §5.1 suggests.
    fn stop_peer(&mut self, now: Instant, pid: PeerId, subcode: u8, idle: Option<IdleReason>) {
        self.stop_peer_with(now, pid, subcode, cease_is_hard(subcode), idle);
    }

    fn stop_peer_with(
        &mut self,
        now: Instant,
        pid: PeerId,
        subcode: u8,
        hard: bool,
        idle: Option<IdleReason>,
    ) {
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        let n = Notification::new(code::CEASE, subcode, Vec::new());
        if let Some(s) = p.second.take() {
            // Still in OpenSent: nothing negotiated, so never a Hard Reset.
            self.notify_close(pid, s.id, &n, "stopped");
        }
        let Some(p) = self.peers.get(&pid) else {
            return;
        };
        match p.state.clone() {
            PeerState::Connect { conn } => {
                self.close_conn(conn);
                self.session_down(now, pid, Down::HardReset, idle);
            }
            s if s.conn().is_some() => self.end_session(now, pid, n, hard, "stopped", idle),
            _ => {
                if let (Some(p), Some(why)) = (self.peers.get_mut(&pid), idle) {
                    p.state = PeerState::Idle { why };
                }
            }
        }
        self.timers.cancel(TimerKey::ConnectRetry(pid));
    }

    /// Peer de-configured (Cease/3): stop, flush, forget.
    pub(crate) fn remove_peer(&mut self, now: Instant, pid: PeerId, subcode: u8) {
        self.stop_peer(now, pid, subcode, Some(IdleReason::AdminDown));
        self.flush_peer_routes(now, pid);
        self.clear_adj_out(pid);
        self.timers.cancel_peer(pid);
        if let Some(p) = self.peers.remove(&pid) {
            self.by_addr.remove(&p.cfg.address);
        }
    }

    /// Settings changed: Cease/6 (other configuration change) and restart.
    pub(crate) fn reset_peer(&mut self, now: Instant, pid: PeerId, cfg: PeerConfig) {
        self.stop_peer(
            now,
            pid,
            code::cease::OTHER_CONFIG_CHANGE,
            Some(IdleReason::AdminDown),
        );
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        let passive = cfg.passive;
        p.cfg = cfg;
        p.state = PeerState::Active;
        if !passive {
            self.timers.set(TimerKey::ConnectRetry(pid), now);
        }
    }
}

/// IPv4-mapped IPv6 peers (a dual-stack listener) are IPv4 peers.
fn normalise(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}
