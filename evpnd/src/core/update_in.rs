//! Received UPDATEs into the Adj-RIB-In and Loc-RIB.
//!
//! Order of work for one UPDATE (RFC 4271 §9, RFC 7606, RFC 4760):
//! 1. withdrawn routes and MP_UNREACH_NLRI are removed;
//! 2. End-of-RIB (RFC 4724 §2) ends a graceful restart or initial sync;
//! 3. the reachable NLRI are installed — unless the verdict is
//!    treat-as-withdraw, or the path loops (our AS in AS_PATH, RFC 4271
//!    §9.1.2; our router id as ORIGINATOR_ID or our cluster id in
//!    CLUSTER_LIST, RFC 4456 §8), in which case they are withdrawn;
//! 4. max-prefix is checked per family (RFC 4486 Cease/1).

use std::time::{Duration, Instant};

use evpn_proto::attr::{AsPath, MpNlri, NextHop};
use evpn_proto::error::code;
use evpn_proto::message::{
    FamilySet, Notification, RefreshSubtype, RouteRefresh, UpdateDecoded, Verdict,
};
use evpn_proto::{Family, PathAttrs};
use tracing::{debug, info, warn};

use super::io::PeerId;
use super::peer::{fam_idx, IdleReason, PeerState};
use super::rib::{AttrSet, BestChange, NlriExtra, RouteId, RouteKey, Source};
use super::timer::TimerKey;
use super::Core;

/// How long an enhanced route refresh may take before stale paths are
/// swept without the EoRR (RFC 7313 §4 leaves the value local).
const REFRESH_STALE: Duration = Duration::from_secs(360);

impl Core {
    pub(crate) fn on_update(&mut self, now: Instant, pid: PeerId, dec: UpdateDecoded) {
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        p.updates_in += 1;
        if !dec.errors.is_empty() {
            for e in &dec.errors {
                debug!(peer = pid.0, action = %e.action, code = e.code, subcode = e.subcode, reason = %e.reason, "UPDATE error handled");
            }
        }
        let update = dec.update;
        // 1. withdrawals
        for p in &update.withdrawn {
            self.withdraw(pid, RouteKey::V4(*p));
        }
        if let Some(un) = &update.attrs.mp_unreach {
            for key in nlri_keys(&un.withdrawn) {
                self.withdraw(pid, key);
            }
        }
        // 2. End-of-RIB
        if let Some(f) = update.end_of_rib() {
            self.on_end_of_rib(now, pid, f);
            return;
        }
        // 3. reachability
        let looped = self.loops(pid, &update.attrs);
        let withdraw_all = dec.verdict == Verdict::TreatAsWithdraw || looped.is_some();
        if let Some(why) = looped {
            debug!(peer = pid.0, why, "routes ignored (loop)");
        }
        let mut touched = FamilySet::EMPTY;
        if !update.nlri.is_empty() {
            touched.insert(Family::Ipv4Unicast);
            let nh = update.attrs.next_hop.map(NextHop::V4);
            if withdraw_all {
                for p in &update.nlri {
                    self.withdraw(pid, RouteKey::V4(*p));
                }
            } else {
                let id = self.rib.attrs.intern(AttrSet::new(
                    update.attrs.clone(),
                    nh,
                    NlriExtra::default(),
                ));
                for (i, p) in update.nlri.iter().enumerate() {
                    if i > 0 {
                        self.rib.attrs.add_ref(id);
                    }
                    self.install(pid, RouteKey::V4(*p), id);
                }
            }
        }
        if let Some(reach) = &update.attrs.mp_reach {
            if let Some(f) = reach.family() {
                touched.insert(f);
            }
            if withdraw_all {
                for key in nlri_keys(&reach.nlri) {
                    self.withdraw(pid, key);
                }
            } else {
                self.install_mp(pid, &update.attrs, &reach.next_hop, &reach.nlri);
            }
        }
        // 4. max-prefix
        for f in touched.iter() {
            if self.check_max_prefix(now, pid, f) {
                return;
            }
        }
    }

    /// Install MP_REACH NLRI; NLRI sharing their extras share one set.
    fn install_mp(&mut self, pid: PeerId, attrs: &PathAttrs, nh: &NextHop, nlri: &MpNlri) {
        let nh = Some(nh.clone());
        match nlri {
            MpNlri::Ipv4(v) => {
                let id =
                    self.rib
                        .attrs
                        .intern(AttrSet::new(attrs.clone(), nh, NlriExtra::default()));
                for (i, p) in v.iter().enumerate() {
                    if i > 0 {
                        self.rib.attrs.add_ref(id);
                    }
                    self.install(pid, RouteKey::V4(*p), id);
                }
            }
            MpNlri::Ipv6(v) => {
                let id =
                    self.rib
                        .attrs
                        .intern(AttrSet::new(attrs.clone(), nh, NlriExtra::default()));
                for (i, p) in v.iter().enumerate() {
                    if i > 0 {
                        self.rib.attrs.add_ref(id);
                    }
                    self.install(pid, RouteKey::V6(*p), id);
                }
            }
            MpNlri::Evpn(routes) => {
                // The attribute set differs per extras (labels, ESI, GW);
                // NLRI of one UPDATE usually share them.
                let mut last: Option<(NlriExtra, u32)> = None;
                let base = AttrSet::new(attrs.clone(), nh, NlriExtra::default());
                for r in routes {
                    let Some(key) = r.key() else { continue };
                    let extra = NlriExtra::of(r);
                    let id = match last {
                        Some((x, id)) if x == extra => {
                            self.rib.attrs.add_ref(id);
                            id
                        }
                        _ => {
                            let mut set = base.clone();
                            set.extra = extra;
                            let id = self.rib.attrs.intern(set);
                            last = Some((extra, id));
                            id
                        }
                    };
                    self.install(pid, RouteKey::Evpn(key), id);
                }
            }
            MpNlri::Unknown(_) => {}
        }
    }

    /// Install one path (takes over a reference to `attrs`).
    pub(crate) fn install(&mut self, pid: PeerId, key: RouteKey, attrs: u32) {
        let source = pid.0;
        let (peers, router_id) = (&self.peers, self.router_id);
        let info = |s: Source| Core::source_info(peers, router_id, s);
        let (id, added, change) = self.rib.upsert(key, source, attrs, &info);
        if let Some(p) = self.peers.get_mut(&pid) {
            if added {
                p.adj_in.insert(id);
                p.received[fam_idx(key.family())] += 1;
            }
        }
        self.propagate(change);
    }

    /// Remove `pid`'s path for `key`, if any.
    pub(crate) fn withdraw(&mut self, pid: PeerId, key: RouteKey) {
        if let Some(id) = self.rib.id_of(&key) {
            self.withdraw_id(pid, id, key.family());
        }
    }

    fn withdraw_id(&mut self, pid: PeerId, id: RouteId, family: Family) {
        let (peers, router_id) = (&self.peers, self.router_id);
        let info = |s: Source| Core::source_info(peers, router_id, s);
        if let Some(change) = self.rib.remove(id, pid.0, &info) {
            if let Some(p) = self.peers.get_mut(&pid) {
                p.adj_in.remove(id);
                let n = &mut p.received[fam_idx(family)];
                *n = n.saturating_sub(1);
            }
            self.propagate(change);
        }
    }

    /// A best-path change: every established peer re-evaluates the route
    /// (coalesced: only marked here, built in `poll_output`).
    pub(crate) fn propagate(&mut self, change: BestChange) {
        if !change.changed() {
            return;
        }
        self.evpn_best_changed(&change);
        for g in self.groups.values_mut() {
            g.pending.insert(change.id);
        }
    }

    /// Why the path must be ignored, if it loops.
    fn loops(&self, pid: PeerId, attrs: &PathAttrs) -> Option<&'static str> {
        let p = self.peers.get(&pid)?;
        let local_as = p.cfg.local_as;
        if attrs
            .as_path
            .as_ref()
            .is_some_and(|a| as_path_has(a, local_as) || as_path_has(a, self.asn))
        {
            return Some("own AS in AS_PATH");
        }
        if p.cfg.ibgp() {
            if attrs.originator_id == Some(self.router_id) {
                return Some("ORIGINATOR_ID is our router id");
            }
            if attrs
                .cluster_list
                .as_ref()
                .is_some_and(|c| c.contains(&self.cluster_id))
            {
                return Some("our cluster id in CLUSTER_LIST");
            }
        }
        None
    }

    /// RFC 4486: Cease / Maximum Number of Prefixes Reached, data =
    /// AFI (2), SAFI (1), upper bound (4). True if the session went down.
    fn check_max_prefix(&mut self, now: Instant, pid: PeerId, f: Family) -> bool {
        let Some(p) = self.peers.get_mut(&pid) else {
            return false;
        };
        let Some(mp) = p.cfg.max_prefix.clone() else {
            return false;
        };
        let n = p.received[fam_idx(f)];
        if n <= u64::from(mp.limit) {
            return false;
        }
        if mp.warning_only {
            if !p.max_prefix_warned.contains(f) {
                p.max_prefix_warned.insert(f);
                warn!(peer = pid.0, family = %f, received = n, limit = mp.limit, "max-prefix exceeded (warning only)");
            }
            return false;
        }
        let mut data = Vec::with_capacity(7);
        data.extend_from_slice(&u16::from(f.afi()).to_be_bytes());
        data.push(u8::from(f.safi()));
        data.extend_from_slice(&mp.limit.to_be_bytes());
        let n = Notification::new(code::CEASE, code::cease::MAX_PREFIX, data);
        let reason = format!("{f}: {} routes, limit {}", p.received[fam_idx(f)], mp.limit);
        if p.state.conn_id().is_none() {
            return false;
        }
        warn!(peer = pid.0, %reason, "max-prefix exceeded");
        // RFC 8538 §5.1: a Hard Reset when the N bit was negotiated.
        self.end_session(now, pid, n, true, &reason, Some(IdleReason::MaxPrefix));
        if let Some(secs) = mp.restart {
            self.timers.set(
                TimerKey::MaxPrefixRestart(pid),
                now + Duration::from_secs(u64::from(secs)),
            );
        }
        true
    }

    fn on_end_of_rib(&mut self, now: Instant, pid: PeerId, f: Family) {
        debug!(peer = pid.0, family = %f, "End-of-RIB received");
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        p.eor_received.insert(f);
        if p.gr.stale.contains(f) {
            self.sweep_stale(now, pid, Some(f));
        }
        if self.deferring {
            self.check_deferral_done();
        }
    }

    /// ROUTE-REFRESH (RFC 2918) and its BoRR / EoRR forms (RFC 7313).
    pub(crate) fn on_route_refresh(&mut self, now: Instant, pid: PeerId, r: RouteRefresh) {
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        p.route_refresh_in += 1;
        // RFC 2918 §4 / RFC 7313 §5: an AFI/SAFI not negotiated, or an
        // unknown subtype, is ignored.
        let Some(f) = r.family() else { return };
        let Some((_, neg)) = p.established() else {
            return;
        };
        if !neg.families.contains(f) {
            return;
        }
        let gr = neg.gr.is_some();
        match r.subtype {
            RefreshSubtype::Request => {
                debug!(peer = pid.0, family = %f, "route refresh requested");
                self.send_family_again(pid, f);
            }
            RefreshSubtype::BoRR if gr && !p.eor_received.contains(f) => {
                // RFC 7313 §4: with graceful restart, a BoRR before the
                // peer's End-of-RIB for the family is ignored (its routes
                // are still being sent for the first time).
                warn!(peer = pid.0, family = %f, "BoRR before End-of-RIB ignored");
            }
            RefreshSubtype::BoRR => {
                info!(peer = pid.0, family = %f, "enhanced route refresh: BoRR received, routes stale");
                // RFC 7313 §4: mark the peer's routes of the family stale;
                // what is not re-advertised before EoRR is removed.
                let ids: Vec<RouteId> = p.adj_in.iter().collect();
                p.refreshing.insert(f);
                for id in ids {
                    if self.rib.get(id).is_some_and(|e| e.key.family() == f) {
                        self.rib.mark_stale(id, pid.0);
                    }
                }
                self.timers
                    .set(TimerKey::RefreshStale(pid), now + REFRESH_STALE);
            }
            RefreshSubtype::EoRR => {
                info!(peer = pid.0, family = %f, "enhanced route refresh: EoRR received");
                if p.refreshing.contains(f) {
                    p.refreshing.remove(f);
                    self.sweep_stale(now, pid, Some(f));
                    if self
                        .peers
                        .get(&pid)
                        .is_some_and(|p| p.refreshing.is_empty())
                    {
                        self.timers.cancel(TimerKey::RefreshStale(pid));
                    }
                }
            }
            RefreshSubtype::Unknown(_) => {}
        }
    }

    /// RFC 4724 §4.2 helper: the peer's session dropped; keep its routes of
    /// the families it listed, stale, for its Restart Time. Others go now.
    pub(crate) fn gr_helper_start(
        &mut self,
        now: Instant,
        pid: PeerId,
        families: FamilySet,
        restart_time: u16,
    ) {
        info!(
            peer = pid.0,
            restart_time, "graceful restart: keeping routes stale"
        );
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        let ids: Vec<RouteId> = p.adj_in.iter().collect();
        let mut stale = FamilySet::EMPTY;
        let mut flush = Vec::new();
        for id in ids {
            let Some(f) = self.rib.get(id).map(|e| e.key.family()) else {
                continue;
            };
            if families.contains(f) {
                self.rib.mark_stale(id, pid.0);
                stale.insert(f);
            } else {
                flush.push((id, f));
            }
        }
        for (id, f) in flush {
            self.withdraw_id(pid, id, f);
        }
        if let Some(p) = self.peers.get_mut(&pid) {
            p.gr.stale = stale;
        }
        if !stale.is_empty() {
            self.timers.set(
                TimerKey::GrRestart(pid),
                now + Duration::from_secs(u64::from(restart_time)),
            );
        }
    }

    /// Remove the peer's stale paths (of one family, or all).
    pub(crate) fn sweep_stale(&mut self, _now: Instant, pid: PeerId, family: Option<Family>) {
        let Some(p) = self.peers.get(&pid) else {
            return;
        };
        let victims: Vec<(RouteId, Family)> = p
            .adj_in
            .iter()
            .filter_map(|id| {
                let e = self.rib.get(id)?;
                let f = e.key.family();
                let matches = family.is_none_or(|x| x == f);
                (matches && e.path_of(pid.0).is_some_and(|p| p.stale)).then_some((id, f))
            })
            .collect();
        if !victims.is_empty() {
            info!(peer = pid.0, count = victims.len(), "sweeping stale routes");
        }
        for (id, f) in victims {
            self.withdraw_id(pid, id, f);
        }
        if let Some(p) = self.peers.get_mut(&pid) {
            match family {
                Some(f) => p.gr.stale.remove(f),
                None => p.gr.stale = FamilySet::EMPTY,
            }
            if p.gr.stale.is_empty() {
                self.timers.cancel(TimerKey::GrStale(pid));
                self.timers.cancel(TimerKey::GrRestart(pid));
            }
        }
    }

    /// Remove every path of a peer: O(its routes).
    pub(crate) fn flush_peer_routes(&mut self, _now: Instant, pid: PeerId) {
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        let ids: Vec<RouteId> = p.adj_in.drain();
        p.received = [0; 3];
        p.gr.stale = FamilySet::EMPTY;
        p.refreshing = FamilySet::EMPTY;
        p.max_prefix_warned = FamilySet::EMPTY;
        let (peers, router_id) = (&self.peers, self.router_id);
        let info = |s: Source| Core::source_info(peers, router_id, s);
        let mut changes = Vec::new();
        for id in ids {
            if let Some(c) = self.rib.remove(id, pid.0, &info) {
                changes.push(c);
            }
        }
        for c in changes {
            self.propagate(c);
        }
        self.timers.cancel(TimerKey::GrRestart(pid));
        self.timers.cancel(TimerKey::GrStale(pid));
    }

    /// Restarting speaker: deferral ends when every established GR peer
    /// sent End-of-RIB for all its families (RFC 4724 §4.1).
    pub(crate) fn check_deferral_done(&mut self) {
        let waiting = self.peers.values().any(|p| match &p.state {
            PeerState::Established { negotiated, .. } => {
                negotiated.gr.is_some()
                    && negotiated
                        .families
                        .iter()
                        .any(|f| !p.eor_received.contains(f))
            }
            _ => false,
        });
        let any_up = self.peers.values().any(|p| p.state.is_established());
        if any_up && !waiting {
            self.end_deferral();
        }
    }

    pub(crate) fn end_deferral(&mut self) {
        if self.deferring {
            info!("graceful restart: selection deferral over, advertising; sweeping stale kernel entries");
            self.deferring = false;
            self.timers.cancel(TimerKey::SelectionDeferral);
            self.evpn.set_keep_stale(false);
        }
    }
}

fn as_path_has(p: &AsPath, asn: u32) -> bool {
    p.segments.iter().any(|s| s.asns.contains(&asn))
}

/// Route keys of an NLRI list (unknown EVPN route types have none).
pub(crate) fn nlri_keys(n: &MpNlri) -> Vec<RouteKey> {
    match n {
        MpNlri::Ipv4(v) => v.iter().map(|p| RouteKey::V4(*p)).collect(),
        MpNlri::Ipv6(v) => v.iter().map(|p| RouteKey::V6(*p)).collect(),
        MpNlri::Evpn(v) => v
            .iter()
            .filter_map(|r| r.key().map(RouteKey::Evpn))
            .collect(),
        MpNlri::Unknown(_) => Vec::new(),
    }
}
