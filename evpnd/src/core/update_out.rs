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
use super::idset::IdSet;
use super::io::PeerId;
use super::peer::{fam_idx, Peer};
use super::rib::{evpn_route, AttrId, AttrSet, RouteEntry, RouteId, RouteKey, Source, LOCAL};
use super::update_group::GroupId;
use super::Core;

/// Routes evaluated per update group per [`Core::flush_updates`]: UPDATEs
/// are built in bounded chunks (about 20 full messages for RT-2), so the
/// shell's write buffer bounds what is built ahead of a slow peer.
pub const FLUSH_CHUNK: usize = 2048;

/// Which members of an update group get a bucket of UPDATEs. Lists are
/// sorted peer ids, short: the source of a route, its originator, a
/// newcomer in its initial sync.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Audience {
    AllBut(Vec<u32>),
    Only(Vec<u32>),
}

impl Audience {
    fn includes(&self, m: u32) -> bool {
        match self {
            Audience::AllBut(l) => !l.contains(&m),
            Audience::Only(l) => l.contains(&m),
        }
    }
}

/// The audiences of one chunk, interned to small indexes (bucket keys).
#[derive(Default)]
struct Audiences {
    list: Vec<Audience>,
    all_but: FastMap<Vec<u32>, u32>,
    only: FastMap<Vec<u32>, u32>,
}

impl Audiences {
    fn intern(&mut self, all_but: bool, members: &[u32]) -> u32 {
        let map = if all_but {
            &mut self.all_but
        } else {
            &mut self.only
        };
        if let Some(&i) = map.get(members) {
            return i;
        }
        let i = self.list.len() as u32;
        map.insert(members.to_vec(), i);
        self.list.push(if all_but {
            Audience::AllBut(members.to_vec())
        } else {
            Audience::Only(members.to_vec())
        });
        i
    }

    fn get(&self, i: u32) -> &Audience {
        &self.list[i as usize]
    }

    /// The members left out of an `AllBut` audience.
    fn left_out(&self, i: u32) -> &[u32] {
        match self.get(i) {
            Audience::AllBut(l) => l,
            Audience::Only(_) => &[],
        }
    }
}

impl Core {
    /// Build the next chunk of UPDATEs for every update group with pending
    /// work none of whose members is write-blocked.
    pub(crate) fn flush_updates(&mut self) {
        if self.deferring {
            return;
        }
        // Chunks that produce nothing (e.g. routes not exported to that
        // group) must not end the round while work is left: go on until
        // something is queued or no ready group has work. Every pass takes
        // up to FLUSH_CHUNK routes from a group (or its EoRs), so the
        // passes are bounded by the pending work.
        let total: usize = self.groups.values().map(|g| g.pending.len()).sum();
        for _ in 0..=total / FLUSH_CHUNK + 1 {
            let before = self.out.len();
            let ready: Vec<GroupId> = self
                .groups
                .values()
                .filter(|g| {
                    let members = || g.members.iter().filter_map(|m| self.peers.get(m));
                    members().all(|p| {
                        p.state.is_established()
                            && p.write_blocked.is_none_or(|c| Some(c) != p.state.conn_id())
                    }) && (!g.pending.is_empty()
                        || members()
                            .any(|p| !p.eor_to_send.is_empty() || !p.eorr_to_send.is_empty()))
                })
                .map(|g| g.id)
                .collect();
            if ready.is_empty() {
                return;
            }
            for gid in ready {
                self.flush_group(gid);
            }
            if self.out.len() > before {
                return;
            }
        }
    }

    /// The members of the group excluded from route `e` exported as `out`
    /// (`reflected`: RFC 4456 applies): the best path's source, the
    /// originator of a reflected route. Sorted.
    fn excluded_members(
        &self,
        members: &[PeerId],
        source: Source,
        out: &AttrSet,
        reflected: bool,
    ) -> Vec<u32> {
        members
            .iter()
            .filter(|m| {
                m.0 == source
                    || (reflected
                        && out.attrs.originator_id.is_some()
                        && self
                            .peers
                            .get(m)
                            .is_some_and(|p| out.attrs.originator_id == Some(p.remote_id)))
            })
            .map(|m| m.0)
            .collect()
    }

    fn flush_group(&mut self, gid: GroupId) {
        // The group is taken out of the table while its chunk is built.
        let Some(mut g) = self.groups.remove(&gid) else {
            return;
        };
        let pending = g.pending.pop_first_n(FLUSH_CHUNK);
        let more = !g.pending.is_empty();
        let members = g.members.clone();
        let Some(&rep) = members.first() else {
            return;
        };
        // The members' excluded sets, taken out of the peer table for the
        // chunk (a bit test per member per route, no map lookups).
        let mut ex: Vec<(u32, IdSet, [u64; 3])> = members
            .iter()
            .map(|m| match self.peers.get_mut(m) {
                Some(p) => (
                    m.0,
                    std::mem::take(&mut p.excluded),
                    std::mem::take(&mut p.excluded_count),
                ),
                None => (m.0, IdSet::default(), [0; 3]),
            })
            .collect();
        let mut excl_new: Vec<u32> = Vec::new();
        let mut auds = Audiences::default();
        let mut announce: BTreeMap<(usize, AttrId, u32), Vec<RouteId>> = BTreeMap::new();
        let mut withdraw: BTreeMap<(usize, u32), Vec<RouteKey>> = BTreeMap::new();
        let mut dropped: Vec<RouteId> = Vec::new();
        // The outbound attributes depend only on the best path's source and
        // attribute set and the family (the export class is fixed here):
        // export and intern once per distinct triple, not once per route.
        // The memo holds its own reference to each set until the end.
        let mut memo: FastMap<(Source, AttrId, usize), Option<(AttrId, u32)>> = FastMap::default();
        let mut scratch: Vec<u32> = Vec::new();
        for id in pending {
            let Some(e) = self.rib.get(id) else { continue };
            let key = e.key;
            let fam = fam_idx(key.family());
            let best = e.best_path().map(|b| (b.source, b.attrs));
            let miss = match best {
                Some((src, a)) if !memo.contains_key(&(src, a, fam)) => Some(
                    self.peers
                        .get(&rep)
                        .and_then(|r| self.export_class(r, e))
                        .map(|(set, reflected)| {
                            let excl = self.excluded_members(&members, src, &set, reflected);
                            (set, excl)
                        }),
                ),
                _ => None,
            };
            if let (Some((src, a)), Some(exported)) = (best, miss) {
                // Nobody gets it: not in the Adj-RIB-Out.
                let w = exported
                    .filter(|(_, excl)| excl.len() < members.len())
                    .map(|(set, excl)| (self.rib.attrs.intern(set), auds.intern(true, &excl)));
                memo.insert((src, a, fam), w);
            }
            let mut want = best.and_then(|(src, a)| memo.get(&(src, a, fam)).copied().flatten());
            // Host routes go only to the core peers named for them.
            if let (Some((w, aud)), Some((LOCAL, _))) = (want, best) {
                if !matches!(key, RouteKey::Evpn(_)) {
                    scratch.clear();
                    scratch.extend_from_slice(auds.left_out(aud));
                    for m in &members {
                        let allowed = self
                            .peers
                            .get(m)
                            .is_some_and(|p| self.evpn_export_allowed(&key, p.cfg.address));
                        if !allowed && !scratch.contains(&m.0) {
                            scratch.push(m.0);
                        }
                    }
                    scratch.sort_unstable();
                    want =
                        (scratch.len() < members.len()).then(|| (w, auds.intern(true, &scratch)));
                }
            }
            let have = g.adj_out.get(id);
            let had = |x: &IdSet| have.is_some() && !x.contains(id);
            match want {
                Some((w, aud)) => {
                    self.rib.attrs.add_ref(w);
                    excl_new.clear();
                    excl_new.extend_from_slice(auds.left_out(aud));
                    if have != Some(w) {
                        announce.entry((fam, w, aud)).or_default().push(id);
                        // Members newly left out that had it: withdraw.
                        scratch.clear();
                        scratch.extend(
                            ex.iter()
                                .filter(|(m, x, _)| excl_new.contains(m) && had(x))
                                .map(|(m, _, _)| *m),
                        );
                        g.adj_out.insert(id, w);
                        match have {
                            Some(h) => self.rib.attrs.release(h),
                            None => {
                                g.advertised[fam] += 1;
                                self.rib.out_ref(id, true);
                            }
                        }
                    } else {
                        self.rib.attrs.release(w);
                        // Unchanged for the group; members newly let in (a
                        // newcomer, a refresh) get it, members newly left
                        // out lose it.
                        scratch.clear();
                        let mut gets: Vec<u32> = Vec::new();
                        for (m, x, _) in &ex {
                            match (had(x), excl_new.contains(m)) {
                                (false, false) => gets.push(*m),
                                (true, true) => scratch.push(*m),
                                _ => {}
                            }
                        }
                        if !gets.is_empty() {
                            let a = auds.intern(false, &gets);
                            announce.entry((fam, w, a)).or_default().push(id);
                        }
                    }
                    if !scratch.is_empty() {
                        let a = auds.intern(false, &scratch);
                        withdraw.entry((fam, a)).or_default().push(key);
                    }
                    // The members' excluded sets follow the new audience.
                    for (m, x, n) in &mut ex {
                        if excl_new.contains(m) {
                            if x.insert(id) {
                                n[fam] += 1;
                            }
                        } else if !x.is_empty() && x.remove(id) {
                            n[fam] = n[fam].saturating_sub(1);
                        }
                    }
                }
                None => {
                    let Some(h) = have else { continue };
                    scratch.clear();
                    for (m, x, n) in &mut ex {
                        if x.remove(id) {
                            n[fam] = n[fam].saturating_sub(1);
                            scratch.push(*m);
                        }
                    }
                    let a = auds.intern(true, &scratch);
                    withdraw.entry((fam, a)).or_default().push(key);
                    g.adj_out.remove(id);
                    g.advertised[fam] = g.advertised[fam].saturating_sub(1);
                    self.rib.attrs.release(h);
                    dropped.push(id);
                }
            }
        }
        for (m, x, n) in ex {
            if let Some(p) = self.peers.get_mut(&PeerId(m)) {
                p.excluded = x;
                p.excluded_count = n;
            }
        }
        // Every set announced below is held by the Adj-RIB-Out now.
        for (w, _) in memo.into_values().flatten() {
            self.rib.attrs.release(w);
        }
        let cx = g.class.cx;
        // Pack each bucket once: (audience, bytes, messages). Withdrawals
        // first: a route moving between attribute sets is announced, never
        // withdrawn, so the order cannot lose a route.
        let mut buckets: Vec<(u32, Vec<u8>, u64)> = Vec::new();
        for ((fam, aud), keys) in &withdraw {
            let r = match fam {
                0 => pack_ipv4_withdraw(&v4_keys(keys)),
                1 => pack_mp_unreach(Family::Ipv6Unicast, &v6_keys(keys)),
                _ => pack_mp_unreach(Family::Evpn, &evpn_keys(keys)),
            };
            match r {
                Ok(m) => buckets.push((*aud, m.concat(), m.len() as u64)),
                Err(e) => warn!(group = gid.0, error = %e, "cannot pack withdrawals"),
            }
        }
        for id in dropped {
            self.rib.out_ref(id, false);
        }
        for ((fam, aid, aud), ids) in announce {
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
                Ok(m) => buckets.push((aud, m.concat(), m.len() as u64)),
                Err(e) => warn!(group = gid.0, error = %e, "cannot pack announcement"),
            }
        }
        let families = g.class.families;
        self.groups.insert(gid, g);
        // Each member's share, in bucket order, then (after the last chunk)
        // its End-of-RIB (RFC 4724 §2) or EoRR (RFC 7313 §4).
        for m in members {
            let Some(p) = self.peers.get_mut(&m) else {
                continue;
            };
            let Some(conn) = p.state.conn_id() else {
                continue;
            };
            let mut bytes = Vec::new();
            let mut updates = 0u64;
            for (aud, b, n) in &buckets {
                if auds.get(*aud).includes(m.0) {
                    bytes.extend_from_slice(b);
                    updates += n;
                }
            }
            let mut refreshes = 0u64;
            if !more {
                for f in p.eor_to_send.intersection(families).iter() {
                    bytes.extend_from_slice(&Update::end_of_rib_marker(f).encode(&cx));
                    updates += 1;
                }
                p.eor_to_send = FamilySet::EMPTY;
                for f in p.eorr_to_send.iter() {
                    let eorr = RouteRefresh {
                        afi: f.afi(),
                        safi: f.safi(),
                        subtype: RefreshSubtype::EoRR,
                    };
                    bytes.extend_from_slice(&eorr.encode());
                    refreshes += 1;
                }
                p.eorr_to_send = FamilySet::EMPTY;
            }
            p.updates_out += updates;
            p.route_refresh_out += refreshes;
            if !bytes.is_empty() {
                self.send(m, conn, bytes, updates + refreshes);
            }
        }
    }

    /// The attributes to advertise `e`'s best path with to `pid`, or
    /// `None` if it must not be advertised there (the class rules and the
    /// per-peer ones).
    fn export(&self, pid: PeerId, e: &RouteEntry) -> Option<AttrSet> {
        let target = self.peers.get(&pid)?;
        let best = e.best_path()?;
        let (set, reflected) = self.export_class(target, e)?;
        if best.source == pid.0 || (reflected && set.attrs.originator_id == Some(target.remote_id))
        {
            return None;
        }
        if best.source == LOCAL && !self.evpn_export_allowed(&e.key, target.cfg.address) {
            return None;
        }
        Some(set)
    }

    /// The attributes every peer of `target`'s export class gets `e`'s
    /// best path with, and whether it is reflected (RFC 4456: then it is
    /// not sent to its originator); `None` if no peer of the class gets it.
    /// The per-peer rules (not back to the source, not to the originator,
    /// host routes to named peers) are the caller's.
    fn export_class(&self, target: &Peer, e: &RouteEntry) -> Option<(AttrSet, bool)> {
        let best = e.best_path()?;
        let (conn, neg) = target.established()?;
        let family = e.key.family();
        if !neg.families.contains(family) {
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
        Some((AttrSet::new(attrs, next_hop, a.extra), reflect))
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

    /// The peer's export class changed (reload: route-reflector client):
    /// it moves to a group of its own (with the state it has) and every
    /// route is re-evaluated for it.
    pub(crate) fn regroup(&mut self, pid: PeerId) {
        let Some(gid) = self.split_off(pid) else {
            return;
        };
        let class = self.peers.get(&pid).and_then(Core::export_class_of);
        if let (Some(g), Some(class)) = (self.groups.get_mut(&gid), class) {
            g.class = class;
        }
        self.requeue_group(gid, None);
    }

    /// Route refresh: send the family's routes to `pid` again — they are
    /// excluded for it (it "does not have them"), so re-evaluating them
    /// sends them to it alone.
    pub(crate) fn resend_family(&mut self, pid: PeerId, f: Family) {
        let Some(gid) = self.peers.get(&pid).and_then(|p| p.group) else {
            return;
        };
        let Some(g) = self.groups.get(&gid) else {
            return;
        };
        let Some(p) = self.peers.get(&pid) else {
            return;
        };
        // A route still pending whose withdrawal is owed to the peer stays
        // as it is, so the withdrawal goes out (a plain refresh has no EoRR
        // to clean up after it).
        let ids: Vec<RouteId> = g
            .adj_out
            .keys()
            .filter(|id| !p.excluded.contains(*id))
            .filter(|id| {
                self.rib.get(*id).is_some_and(|e| {
                    e.key.family() == f
                        && !(g.pending.contains(*id) && self.export(pid, e).is_none())
                })
            })
            .collect();
        if let Some(p) = self.peers.get_mut(&pid) {
            for id in ids {
                if p.excluded.insert(id) {
                    p.excluded_count[fam_idx(f)] += 1;
                }
            }
        }
        self.requeue_group(gid, Some(f));
    }

    /// The session is gone: nothing is advertised any more.
    pub(crate) fn clear_adj_out(&mut self, pid: PeerId) {
        if let Some(p) = self.peers.get_mut(&pid) {
            p.eor_to_send = FamilySet::EMPTY;
            p.eorr_to_send = FamilySet::EMPTY;
        }
        self.leave_group(pid);
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
