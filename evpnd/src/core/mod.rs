//! The sans-IO core: all protocol state and decisions; time is passed in.
//!
//! [`Core`] owns the peers' FSMs, the RIBs and the timer table. The shell
//! feeds it [`Input`]s with the current time ([`Core::handle`]), fires
//! expired timers ([`Core::handle_timeout`]), drains [`Output`]s
//! ([`Core::poll_output`]) and sleeps until [`Core::poll_timeout`].
//!
//! Files:
//! - `session.rs` — RFC 4271 FSM: connections, OPEN, collision, timers,
//!   NOTIFICATIONs, session down (incl. the RFC 4724 helper side);
//! - `update_in.rs` — received UPDATEs → Adj-RIB-In / Loc-RIB, RFC 7606
//!   verdicts, loop detection, max-prefix, End-of-RIB, route refresh;
//! - `update_out.rs` — Loc-RIB → Adj-RIB-Out: export rules (iBGP split
//!   horizon, RFC 4456 reflection, eBGP rewrite), packing, End-of-RIB;
//! - `rib.rs`, `best_path.rs` — tables and the decision process;
//! - `evpn/` — the EVPN stage: MAC-VRFs and IP-VRFs, import by route
//!   target, local learning, MAC mobility and duplicate detection, the
//!   desired kernel state (see its module docs);
//! - `api_handler.rs` — the JSON API; `timer.rs` — the timer table.

pub mod api_handler;
pub mod best_path;
pub mod evpn;
pub mod hash;
pub mod idset;
pub mod io;
pub mod peer;
pub mod rib;
pub mod session;
pub mod timer;
pub mod update_group;
pub mod update_in;
pub mod update_out;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use evpn_proto::message::Notification;

use crate::config::{Config, GracefulRestartConfig};
use io::{ConnId, Input, Output, PeerId};
use peer::{Peer, PeerConfig};
use rib::{Rib, Source, SourceInfo, LOCAL};
use timer::{Rng, TimerKey, Timers};

/// Start-up facts the config does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CoreOptions {
    /// We restarted after a previous run (RFC 4724 §4.1): advertise the
    /// Restart State bit and defer our own advertisements until the peers'
    /// End-of-RIB (or the restart time).
    pub restarting: bool,
    /// The forwarding state survived the restart (kernel entries kept):
    /// the F bit per family.
    pub forwarding_preserved: bool,
}

/// What [`Core::reload`] changed, by peer address (or range).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReloadDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    /// Sessions reset because their settings changed.
    pub reset: Vec<String>,
    /// Settings changed without a reset (route-reflector client, max-prefix).
    pub updated: Vec<String>,
}

/// The BGP speaker.
#[derive(Debug)]
pub struct Core {
    config: Config,
    router_id: Ipv4Addr,
    asn: u32,
    cluster_id: Ipv4Addr,
    gr: GracefulRestartConfig,
    options: CoreOptions,
    peers: BTreeMap<PeerId, Peer>,
    by_addr: HashMap<IpAddr, PeerId>,
    conns: HashMap<ConnId, PeerId>,
    next_peer: u32,
    next_conn: u64,
    timers: Timers,
    rng: Rng,
    rib: Rib,
    /// Update groups (`update_group.rs`).
    groups: BTreeMap<update_group::GroupId, update_group::UpdateGroup>,
    next_group: u32,
    out: VecDeque<Output>,
    /// RFC 4724 §4.1 restarting speaker: our advertisements wait.
    deferring: bool,
    started: Instant,
    /// MAC-VRFs, IP-VRFs, mobility, the desired kernel state.
    evpn: evpn::Evpn,
}

impl Core {
    pub fn new(config: &Config, now: Instant, rng_seed: u64) -> Core {
        Core::with_options(config, now, rng_seed, CoreOptions::default())
    }

    pub fn with_options(
        config: &Config,
        now: Instant,
        rng_seed: u64,
        options: CoreOptions,
    ) -> Core {
        let g = &config.global;
        let mut core = Core {
            config: config.clone(),
            router_id: g.router_id.0,
            asn: g.asn,
            cluster_id: g.cluster_id.map_or(g.router_id.0, |c| c.0),
            gr: g.graceful_restart.clone(),
            options,
            peers: BTreeMap::new(),
            by_addr: HashMap::new(),
            conns: HashMap::new(),
            next_peer: 1,
            next_conn: 1,
            timers: Timers::default(),
            rng: Rng::new(rng_seed),
            rib: Rib::default(),
            groups: BTreeMap::new(),
            next_group: 1,
            out: VecDeque::new(),
            deferring: options.restarting && g.graceful_restart.enabled,
            started: now,
            evpn: evpn::Evpn::new(config, now),
        };
        if core.deferring {
            core.timers.set(
                TimerKey::SelectionDeferral,
                now + Duration::from_secs(u64::from(core.gr.restart_time)),
            );
        }
        for n in &config.neighbors {
            if let Some(addr) = n.address {
                let cfg = PeerConfig::from_neighbor(n, addr.0, config, false);
                core.add_peer(now, cfg);
            }
        }
        // A restarting speaker keeps the kernel's remote entries (RFC 4724
        // forwarding state) until the peers' End-of-RIB, then sweeps.
        core.evpn.set_keep_stale(core.deferring);
        core.evpn.start(1);
        core.evpn_run();
        core
    }

    /// Handle one input.
    pub fn handle(&mut self, now: Instant, input: Input) {
        self.evpn.set_now(now);
        match input {
            Input::Connected {
                conn,
                local,
                remote,
            } => self.on_connected(now, conn, local, remote),
            Input::ConnectFailed { conn, error } => self.on_connect_failed(now, conn, &error),
            Input::Accepted {
                conn,
                local,
                remote,
            } => self.on_accepted(now, conn, local, remote),
            Input::Message { conn, bytes } => self.on_message(now, conn, &bytes),
            Input::FramingError {
                conn,
                code,
                subcode,
                data,
            } => self.on_framing_error(now, conn, Notification::new(code, subcode, data)),
            Input::Closed { conn, error } => self.on_closed(now, conn, error.as_deref()),
            Input::SendStalled { conn } => self.on_send_stalled(now, conn),
            Input::WriteBlocked { conn } => self.set_write_blocked(now, conn, true),
            Input::WriteReady { conn } => self.set_write_blocked(now, conn, false),
            Input::Api { id, request } => {
                let reply = self.handle_api(now, request);
                self.out.push_back(Output::ApiReply { id, reply });
            }
            Input::Dataplane(ev) => self.on_dataplane(now, ev),
        }
        self.evpn_run();
    }

    /// Fire every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.evpn.set_now(now);
        while let Some(key) = self.timers.pop_expired(now) {
            self.on_timer(now, key);
        }
        self.evpn_run();
    }

    /// The next thing to do. UPDATEs are built here, when the shell is
    /// ready to take them (coalescing: route changes only mark work).
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.out.is_empty() {
            self.flush_updates();
        }
        self.out.pop_front()
    }

    /// When [`Core::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Graceful stop: Cease / Administrative Shutdown to every session.
    pub fn shutdown(&mut self, now: Instant) {
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            self.admin_down(now, id);
        }
    }

    fn add_peer(&mut self, now: Instant, cfg: PeerConfig) -> PeerId {
        let id = PeerId(self.next_peer);
        self.next_peer += 1;
        if cfg.opts.md5_password.is_some() || cfg.opts.ttl_security_hops.is_some() {
            self.out.push_back(Output::ListenOpts {
                remote: cfg.address,
                opts: cfg.opts.clone(),
            });
        }
        self.by_addr.insert(cfg.address, id);
        let passive = cfg.passive;
        self.peers.insert(id, Peer::new(id, cfg, now));
        if !passive {
            // RFC 4271 §8.1.1 ManualStart: connect at once.
            self.timers.set(TimerKey::ConnectRetry(id), now);
        }
        id
    }

    /// Decision-process facts about a path source.
    fn source_info(peers: &BTreeMap<PeerId, Peer>, router_id: Ipv4Addr, s: Source) -> SourceInfo {
        if s == LOCAL {
            return SourceInfo {
                addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                bgp_id: router_id,
                ebgp: false,
            };
        }
        match peers.get(&PeerId(s)) {
            Some(p) => SourceInfo {
                addr: p.cfg.address,
                bgp_id: p.remote_id,
                ebgp: !p.cfg.ibgp(),
            },
            None => SourceInfo {
                addr: IpAddr::V4(Ipv4Addr::BROADCAST),
                bgp_id: Ipv4Addr::BROADCAST,
                ebgp: false,
            },
        }
    }

    /// Apply a new configuration: removed peers get Cease/3 (peer
    /// de-configured), peers whose session settings changed Cease/6 (other
    /// configuration change), new peers start.
    pub fn reload(&mut self, now: Instant, config: &Config) -> ReloadDiff {
        let mut diff = ReloadDiff::default();
        let global_changed = config.global.router_id != self.config.global.router_id
            || config.global.asn != self.config.global.asn
            || config.global.cluster_id != self.config.global.cluster_id;
        self.config = config.clone();
        self.gr = config.global.graceful_restart.clone();
        if global_changed {
            self.router_id = config.global.router_id.0;
            self.asn = config.global.asn;
            self.cluster_id = config.global.cluster_id.map_or(self.router_id, |c| c.0);
        }
        // Desired static peers by address; dynamic peers by their range.
        let mut want: HashMap<IpAddr, PeerConfig> = HashMap::new();
        for n in &config.neighbors {
            if let Some(a) = n.address {
                want.insert(a.0, PeerConfig::from_neighbor(n, a.0, config, false));
            }
        }
        let ids: Vec<PeerId> = self.peers.keys().copied().collect();
        for id in ids {
            let Some(p) = self.peers.get(&id) else {
                continue;
            };
            let addr = p.cfg.address;
            let new_cfg = if p.cfg.dynamic {
                self.range_for(addr)
                    .map(|n| PeerConfig::from_neighbor(&n, addr, config, true))
            } else {
                want.remove(&addr)
            };
            match new_cfg {
                None => {
                    diff.removed.push(addr.to_string());
                    self.remove_peer(now, id, evpn_proto::error::code::cease::PEER_DECONFIGURED);
                }
                Some(cfg) if cfg == p.cfg && !global_changed => {}
                Some(cfg) => {
                    let mut soft = cfg.clone();
                    soft.rr_client = p.cfg.rr_client;
                    soft.max_prefix = p.cfg.max_prefix.clone();
                    if soft == p.cfg && !global_changed {
                        diff.updated.push(addr.to_string());
                        if let Some(p) = self.peers.get_mut(&id) {
                            p.cfg = cfg;
                        }
                        // Export rules may differ (reflection to a client):
                        // a new class, so a group of its own.
                        self.regroup(id);
                    } else {
                        diff.reset.push(addr.to_string());
                        self.reset_peer(now, id, cfg);
                    }
                }
            }
        }
        let mut added: Vec<PeerConfig> = want.into_values().collect();
        added.sort_by_key(|c| c.address);
        for cfg in added {
            diff.added.push(cfg.address.to_string());
            self.add_peer(now, cfg);
        }
        self.evpn_reload(now, config);
        diff
    }

    /// The `[[neighbor]]` with a `range` containing `addr`.
    fn range_for(&self, addr: IpAddr) -> Option<crate::config::Neighbor> {
        self.config
            .neighbors
            .iter()
            .find(|n| n.address.is_none() && n.range.is_some_and(|r| r.0.contains(addr)))
            .cloned()
    }

    /// Time since the core started (for uptimes of never-up peers).
    fn since_start(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.started)
    }

    /// Number of Loc-RIB routes (all families).
    pub fn loc_rib_len(&self) -> usize {
        self.rib.len()
    }

    /// Number of distinct interned attribute sets.
    pub fn attr_sets(&self) -> usize {
        self.rib.attrs.len()
    }

    /// The FSM state name of the peer at `addr`.
    pub fn peer_state(&self, addr: IpAddr) -> Option<&'static str> {
        let id = self.by_addr.get(&addr)?;
        self.peers.get(id).map(|p| p.state.name())
    }
}
