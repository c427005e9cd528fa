//! Loc-RIB → Adj-RIB-Out → UPDATE messages.
//!
//! Route changes only mark the route pending for each established peer;
//! [`Core::flush_updates`] runs when the shell polls for output and builds,
//! per peer, the withdrawals and the announcements grouped by outbound
//! attribute set, packed many NLRI per UPDATE up to 4096 octets
//! (STYLE rule 8). End-of-RIB follows the initial sync (RFC 4724 §2).
//!
//! Export rules:
//! - never back to the peer the best path came from;
//! - iBGP split horizon (RFC 4271 §9.2): an iBGP-learned route is not sent
//!   to iBGP peers — unless we reflect (RFC 4456 §6): from a client to all
//!   peers, from a non-client to clients; reflected routes get
//!   ORIGINATOR_ID (if absent) and our cluster id prepended to CLUSTER_LIST;
//! - eBGP: our AS prepended, LOCAL_PREF / ORIGINATOR_ID / CLUSTER_LIST
//!   removed, MED of another AS not passed on, next hop set to ourselves for
//!   unicast — the EVPN next hop (the VTEP) stays as it is;
//! - NO_ADVERTISE / NO_EXPORT communities (RFC 1997) are honoured.

use std::collections::BTreeMap;
use std::net::IpAddr;

use evpn_proto::attr::{AsPath, AsSegment, Community, NextHop, Origin, SegmentType};
use evpn_proto::message::pack::{
    pack_ipv4_reach, pack_ipv4_withdraw, pack_mp_reach, pack_mp_unreach,
};
use evpn_proto::message::{FamilySet, RefreshSubtype, RouteRefresh, Update};
use evpn_proto::{EvpnRoute, Family, Ipv4Prefix, Ipv6Prefix};
use tracing::warn;

use super::hash::FastMap;
use super::io::{ConnId, PeerId};
use super::peer::fam_idx;
use super::rib::{evpn_route, AttrId, AttrSet, RouteEntry, RouteId, RouteKey, Source, LOCAL};
use super::Core;

/// Routes evaluated per peer per [`Core::flush_updates`]: UPDATEs are built
/// in bounded chunks (about 20 full messages for RT-2), so the shell's
/// write buffer bounds what is built ahead of a slow peer.
pub const FLUSH_CHUNK: usize = 2048;

impl Core {
    /// Build the next chunk of UPDATEs for every peer with pending work
    /// whose connection is not write-blocked.
    pub(crate) fn flush_updates(&mut self) {
        if self.deferring {
            return;
        }
        // Chunks that produce nothing (e.g. routes not exported to that
        // peer) must not end the round while work is left: go on until
        // something is queued or no ready peer has work. Every pass takes
        // up to FLUSH_CHUNK routes from a peer (or its EoR), so the passes
        // are bounded by the pending work.
        let total: usize = self.peers.values().map(|p| p.pending.len()).sum();
        for _ in 0..=total / FLUSH_CHUNK + 1 {
            let before = self.out.len();
            let ready: Vec<PeerId> = self
                .peers
                .values()
                .filter(|p| {
                    p.state.is_established()
                        && p.write_blocked.is_none_or(|c| Some(c) != p.state.conn_id())
                        && (!p.pending.is_empty()
                            || !p.eor_to_send.is_empty()
                            || !p.eorr_to_send.is_empty())
                })
                .map(|p| p.id)
                .collect();
            if ready.is_empty() {
                return;
            }
            for pid in ready {
                self.flush_peer(pid);
            }
            if self.out.len() > before {
                return;
            }
        }
    }

    /// The shell's write buffer for `conn` is full / drained again.
    pub(crate) fn set_write_blocked(&mut self, conn: ConnId, blocked: bool) {
        let Some(pid) = self.conns.get(&conn).copied() else {
            return;
        };
        if let Some(p) = self.peers.get_mut(&pid) {
            if blocked {
                p.write_blocked = Some(conn);
            } else if p.write_blocked == Some(conn) {
                p.write_blocked = None;
            }
        }
    }

    fn flush_peer(&mut self, pid: PeerId) {
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        let pending = p.pending.pop_first_n(FLUSH_CHUNK);
        let more = !p.pending.is_empty();
        let mut announce: BTreeMap<(usize, AttrId), Vec<RouteId>> = BTreeMap::new();
        let mut withdraw: [Vec<RouteKey>; 3] = [Vec::new(), Vec::new(), Vec::new()];
        let mut dropped: Vec<RouteId> = Vec::new();
        // The outbound attributes depend only on the best path's source and
        // attribute set and the family (the target is fixed here): export
        // and intern once per distinct triple, not once per route. The memo
        // holds its own reference to each set until the end.
        let mut memo: FastMap<(Source, AttrId, usize), Option<AttrId>> = FastMap::default();
        for id in pending {
            let Some(e) = self.rib.get(id) else { continue };
            let fam = fam_idx(e.key.family());
            let want = match e.best_path() {
                None => None,
                Some(b) => match memo.get(&(b.source, b.attrs, fam)) {
                    Some(w) => {
                        if let Some(w) = *w {
                            self.rib.attrs.add_ref(w);
                        }
                        *w
                    }
                    None => {
                        let key = (b.source, b.attrs, fam);
                        let w = self.export(pid, e).map(|set| self.rib.attrs.intern(set));
                        if let Some(w) = w {
                            self.rib.attrs.add_ref(w);
                        }
                        memo.insert(key, w);
                        w
                    }
                },
            };
            let Some(p) = self.peers.get_mut(&pid) else {
                return;
            };
            let have = p.adj_out.get(id);
            match (have, want) {
                (Some(h), Some(w)) if h == w => self.rib.attrs.release(w),
                (have, Some(w)) => {
                    p.adj_out.insert(id, w);
                    match have {
                        Some(h) => self.rib.attrs.release(h),
                        None => {
                            p.advertised[fam] += 1;
                            self.rib.out_ref(id, true)
                        }
                    }
                    announce.entry((fam, w)).or_default().push(id);
                }
                (Some(h), None) => {
                    p.adj_out.remove(id);
                    p.advertised[fam] = p.advertised[fam].saturating_sub(1);
                    self.rib.attrs.release(h);
                    if let Some(e) = self.rib.get(id) {
                        withdraw[fam].push(e.key);
                    }
                    dropped.push(id);
                }
                (None, None) => {}
            }
        }
        // Every set announced below is held by the Adj-RIB-Out now.
        for w in memo.into_values().flatten() {
            self.rib.attrs.release(w);
        }
        let Some(p) = self.peers.get(&pid) else {
            return;
        };
        let Some((conn, neg)) = p.established() else {
            return;
        };
        let (conn, cx, families) = (conn.id, neg.cx, neg.families);
        let mut msgs: Vec<Vec<u8>> = Vec::new();
        // Withdrawals first: a route moving between attribute sets is
        // announced, never withdrawn, so the order cannot lose a route.
        for (i, keys) in withdraw.iter().enumerate() {
            if keys.is_empty() {
                continue;
            }
            let r = match i {
                0 => pack_ipv4_withdraw(&v4_keys(keys)),
                1 => pack_mp_unreach(Family::Ipv6Unicast, &v6_keys(keys)),
                _ => pack_mp_unreach(Family::Evpn, &evpn_keys(keys)),
            };
            match r {
                Ok(m) => msgs.extend(m),
                Err(e) => warn!(peer = pid.0, error = %e, "cannot pack withdrawals"),
            }
        }
        for id in dropped {
            self.rib.out_ref(id, false);
        }

        for ((fam, aid), ids) in announce {
            let set = self.rib.attrs.get(aid);
            let Some(nh) = set.next_hop.clone() else {
                continue;
            };
            let keys: Vec<RouteKey> = ids
                .iter()
                .filter_map(|id| self.rib.get(*id).map(|e| e.key))
                .collect();
            let r = match fam {
                0 => match nh {
                    NextHop::V4(a) => {
                        let mut attrs = set.attrs.clone();
                        attrs.next_hop = Some(a);
                        pack_ipv4_reach(&attrs, &v4_keys(&keys), &cx)
                    }
                    // RFC 8950: IPv4 NLRI with an IPv6 next hop in MP_REACH.
                    nh => pack_mp_reach(&set.attrs, Family::Ipv4Unicast, &nh, &v4_keys(&keys), &cx),
                },
                1 => pack_mp_reach(&set.attrs, Family::Ipv6Unicast, &nh, &v6_keys(&keys), &cx),
                _ => {
                    let routes: Vec<EvpnRoute> = keys
                        .iter()
                        .filter_map(|k| match k {
                            RouteKey::Evpn(k) => Some(evpn_route(k, &set.extra)),
                            _ => None,
                        })
                        .collect();
                    pack_mp_reach(&set.attrs, Family::Evpn, &nh, &routes, &cx)
                }
            };
            match r {
                Ok(m) => msgs.extend(m),
                Err(e) => warn!(peer = pid.0, error = %e, "cannot pack announcement"),
            }
        }
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        // End-of-RIB after the initial sync (RFC 4724 §2), EoRR after a
        // refresh (RFC 7313 §4) — once the last chunk is built.
        let mut eorr = Vec::new();
        if !more {
            for f in p.eor_to_send.intersection(families).iter() {
                msgs.push(Update::end_of_rib_marker(f).encode(&cx));
            }
            p.eor_to_send = FamilySet::EMPTY;
            p.route_refresh_out += p.eorr_to_send.iter().count() as u64;
            for f in p.eorr_to_send.iter() {
                eorr.push(
                    RouteRefresh {
                        afi: f.afi(),
                        safi: f.safi(),
                        subtype: RefreshSubtype::EoRR,
                    }
                    .encode(),
                );
            }
            p.eorr_to_send = FamilySet::EMPTY;
        }
        let updates = msgs.len() as u64;
        p.updates_out += updates;
        msgs.extend(eorr);
        if msgs.is_empty() {
            return;
        }
        let n = msgs.len() as u64;
        let bytes = msgs.concat();
        self.send(pid, conn, bytes, n);
    }

    /// The attributes to advertise `e`'s best path with to `pid`, or
    /// `None` if it must not be advertised there.
    fn export(&self, pid: PeerId, e: &RouteEntry) -> Option<AttrSet> {
        let best = e.best_path()?;
        let target = self.peers.get(&pid)?;
        let (conn, neg) = target.established()?;
        let family = e.key.family();
        if !neg.families.contains(family) || best.source == pid.0 {
            return None;
        }
        if best.source == LOCAL && !self.evpn_export_allowed(&e.key, target.cfg.address) {
            return None;
        }
        let source = (best.source != LOCAL)
            .then(|| self.peers.get(&PeerId(best.source)))
            .flatten();
        let a = self.rib.attrs.get(best.attrs);
        let communities = a.attrs.communities.as_deref().unwrap_or(&[]);
        if communities.contains(&Community::NO_ADVERTISE) {
            return None;
        }
        let to_ebgp = !target.cfg.ibgp();
        if to_ebgp && communities.contains(&Community::NO_EXPORT) {
            return None;
        }
        let mut reflect = false;
        if let Some(src) = source {
            if src.cfg.ibgp() && !to_ebgp {
                // RFC 4456 §6.
                if !src.cfg.rr_client && !target.cfg.rr_client {
                    return None;
                }
                reflect = true;
            }
        }
        let mut attrs = a.attrs.clone();
        if attrs.origin.is_none() {
            attrs.origin = Some(Origin::Igp);
        }
        let mut next_hop = a.next_hop.clone();
        if to_ebgp {
            prepend(&mut attrs.as_path, target.cfg.local_as);
            attrs.local_pref = None;
            attrs.originator_id = None;
            attrs.cluster_list = None;
            if source.is_some_and(|s| !s.cfg.ibgp()) {
                attrs.med = None;
            }
            if family != Family::Evpn {
                next_hop = Some(self.next_hop_self(family, conn.local.ip(), neg.extended_next_hop));
            }
        } else {
            attrs.as_path.get_or_insert_with(AsPath::default);
            attrs.local_pref.get_or_insert(100);
            if reflect {
                if let Some(src) = source {
                    if attrs.originator_id.is_none() {
                        attrs.originator_id = Some(src.remote_id);
                    }
                    // Do not reflect back to the originator.
                    if attrs.originator_id == Some(target.remote_id) {
                        return None;
                    }
                }
                let list = attrs.cluster_list.get_or_insert_with(Vec::new);
                list.insert(0, self.cluster_id);
            }
            if next_hop.is_none() {
                next_hop = Some(self.next_hop_self(family, conn.local.ip(), neg.extended_next_hop));
            }
        }
        // An IPv4 route with an IPv6 next hop needs RFC 8950 on the session.
        if family == Family::Ipv4Unicast
            && matches!(next_hop, Some(NextHop::V6(_) | NextHop::V6LinkLocal { .. }))
            && !neg.extended_next_hop.contains(Family::Ipv4Unicast)
        {
            return None;
        }
        Some(AttrSet::new(attrs, next_hop, a.extra))
    }

    /// Our address as next hop for `family` on a session from `local`.
    fn next_hop_self(&self, family: Family, local: IpAddr, ext_nh: FamilySet) -> NextHop {
        match (family, local) {
            (Family::Ipv6Unicast, IpAddr::V6(a)) => NextHop::V6(a),
            (Family::Ipv6Unicast, IpAddr::V4(a)) => NextHop::V6(a.to_ipv6_mapped()),
            (_, IpAddr::V4(a)) => NextHop::V4(a),
            (Family::Ipv4Unicast, IpAddr::V6(a)) if ext_nh.contains(Family::Ipv4Unicast) => {
                NextHop::V6(a)
            }
            (_, IpAddr::V6(a)) => match a.to_ipv4_mapped() {
                Some(v4) => NextHop::V4(v4),
                None => NextHop::V4(self.router_id),
            },
        }
    }

    /// Re-evaluate every route for `pid` (session up, policy change).
    pub(crate) fn requeue_all(&mut self, pid: PeerId) {
        let ids: Vec<RouteId> = self
            .rib
            .iter()
            .filter(|(_, e)| e.best.is_some())
            .map(|(id, _)| id)
            .collect();
        if let Some(p) = self.peers.get_mut(&pid) {
            p.pending.extend(ids);
        }
    }

    /// Send the family's routes to `pid` again (RFC 2918 request, or
    /// `evpnctl clear bgp --soft out`): framed by BoRR now and EoRR after
    /// the last UPDATE when enhanced route refresh was negotiated (RFC 7313
    /// §4), so the peer drops what it does not get again.
    pub(crate) fn send_family_again(&mut self, pid: PeerId, f: Family) {
        let Some((conn, neg)) = self.peers.get(&pid).and_then(|p| p.established()) else {
            return;
        };
        if neg.enhanced_route_refresh {
            let conn = conn.id;
            let borr = RouteRefresh {
                afi: f.afi(),
                safi: f.safi(),
                subtype: RefreshSubtype::BoRR,
            };
            self.send(pid, conn, borr.encode(), 1);
            if let Some(p) = self.peers.get_mut(&pid) {
                p.route_refresh_out += 1;
                p.eorr_to_send.insert(f);
            }
        }
        self.resend_family(pid, f);
    }

    /// `evpnctl clear bgp PEER --soft in`: ask for the peer's routes of
    /// every negotiated family (RFC 2918).
    pub(crate) fn refresh_in(&mut self, pid: PeerId) -> Result<(), &'static str> {
        let p = self.peers.get(&pid).ok_or("no such neighbor")?;
        let (conn, neg) = p.established().ok_or("session not established")?;
        if !neg.route_refresh && !neg.enhanced_route_refresh {
            return Err("the peer does not support route refresh");
        }
        let (conn, families) = (conn.id, neg.families);
        for f in families.iter() {
            self.send(pid, conn, RouteRefresh::request(f).encode(), 1);
            if let Some(p) = self.peers.get_mut(&pid) {
                p.route_refresh_out += 1;
            }
        }
        Ok(())
    }

    /// `evpnctl clear bgp PEER --soft out`: send every negotiated family
    /// again.
    pub(crate) fn refresh_out(&mut self, pid: PeerId) -> Result<(), &'static str> {
        let p = self.peers.get(&pid).ok_or("no such neighbor")?;
        let (_, neg) = p.established().ok_or("session not established")?;
        for f in neg.families.iter() {
            self.send_family_again(pid, f);
        }
        Ok(())
    }

    /// Route refresh: forget what was sent for the family and send it again.
    pub(crate) fn resend_family(&mut self, pid: PeerId, f: Family) {
        let Some(p) = self.peers.get(&pid) else {
            return;
        };
        // A route still pending whose withdrawal is owed keeps its entry,
        // so the withdrawal goes out (a plain refresh has no EoRR to clean
        // up after it); every other advertised route is sent again.
        let ids: Vec<(RouteId, AttrId)> = p
            .adj_out
            .iter()
            .filter(|(id, _)| {
                self.rib.get(*id).is_some_and(|e| {
                    e.key.family() == f
                        && !(p.pending.contains(*id) && self.export(pid, e).is_none())
                })
            })
            .collect();
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        for (id, _) in &ids {
            p.adj_out.remove(*id);
        }
        p.advertised[fam_idx(f)] = p.advertised[fam_idx(f)].saturating_sub(ids.len() as u64);
        for (id, a) in ids {
            self.rib.attrs.release(a);
            self.rib.out_ref(id, false);
        }
        let all: Vec<RouteId> = self
            .rib
            .iter()
            .filter(|(_, e)| e.best.is_some() && e.key.family() == f)
            .map(|(id, _)| id)
            .collect();
        if let Some(p) = self.peers.get_mut(&pid) {
            p.pending.extend(all);
        }
    }

    /// The session is gone: nothing is advertised any more.
    pub(crate) fn clear_adj_out(&mut self, pid: PeerId) {
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        let out: Vec<(RouteId, AttrId)> = p.adj_out.drain();
        p.advertised = [0; 3];
        p.pending.clear();
        p.eor_to_send = FamilySet::EMPTY;
        p.eorr_to_send = FamilySet::EMPTY;
        for (id, a) in out {
            self.rib.attrs.release(a);
            self.rib.out_ref(id, false);
        }
    }
}

fn prepend(path: &mut Option<AsPath>, asn: u32) {
    let p = path.get_or_insert_with(AsPath::default);
    match p.segments.first_mut() {
        Some(s) if s.kind == SegmentType::Sequence && s.asns.len() < 255 => s.asns.insert(0, asn),
        _ => p.segments.insert(
            0,
            AsSegment {
                kind: SegmentType::Sequence,
                asns: vec![asn],
            },
        ),
    }
}

fn v4_keys(keys: &[RouteKey]) -> Vec<Ipv4Prefix> {
    keys.iter()
        .filter_map(|k| match k {
            RouteKey::V4(p) => Some(*p),
            _ => None,
        })
        .collect()
}

fn v6_keys(keys: &[RouteKey]) -> Vec<Ipv6Prefix> {
    keys.iter()
        .filter_map(|k| match k {
            RouteKey::V6(p) => Some(*p),
            _ => None,
        })
        .collect()
}

/// Withdrawals carry the NLRI with zero labels (RFC 7432 §7: the key
/// fields identify the route; the rest is ignored on withdraw).
fn evpn_keys(keys: &[RouteKey]) -> Vec<EvpnRoute> {
    keys.iter()
        .filter_map(|k| match k {
            RouteKey::Evpn(k) => Some(evpn_route(k, &Default::default())),
            _ => None,
        })
        .collect()
}
