//! Update groups: established peers of one export class share a pending
//! set, an Adj-RIB-Out and the packed UPDATE bytes (FRR's update groups,
//! BIRD's shared buckets).
//!
//! The export class is everything [`Core::export_class`] reads from the
//! target: iBGP or eBGP, route-reflector client or not, local AS, local
//! address (next-hop-self), families, RFC 8950 next hops, and the
//! negotiated [`DecodeCxt`] the UPDATEs are packed with. What differs per
//! member is *which* routes it gets, never how they look:
//! - a route is never sent back to the peer its best path came from, nor
//!   reflected to its originator (RFC 4456 §8);
//! - host routes go only to the core peers named for them.
//!
//! So the group keeps one Adj-RIB-Out — the routes as every member gets
//! them — and each member the set of those routes it does *not* have
//! (`Peer::excluded`): its own routes, and while it joins (initial sync)
//! or after a route refresh, everything it has not been sent yet. A member
//! has route r with attributes a ⇔ `adj_out[r] == a` and r is not in its
//! excluded set. UPDATEs are packed once per (family, attributes,
//! audience), where the audience is "every member but these few" or "only
//! these few".
//!
//! Write backpressure stays per peer: a group builds nothing while a member
//! is write-blocked. A member blocked for [`SPLIT_AFTER`] while the group
//! has work is split off into a group of its own (a copy of the group's
//! state), so it cannot stall the others for longer than that.

use std::time::{Duration, Instant};

use evpn_proto::message::{DecodeCxt, FamilySet};

use super::idset::{IdMap, IdSet};
use super::io::PeerId;
use super::peer::{fam_idx, Peer};
use super::rib::RouteId;
use super::timer::TimerKey;
use super::Core;

/// How long a write-blocked member may hold up its group's UPDATEs before
/// it is split off.
pub const SPLIT_AFTER: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(pub u32);

/// What the outbound attributes depend on, besides the route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportClass {
    pub ibgp: bool,
    pub rr_client: bool,
    pub local_as: u32,
    pub local_addr: std::net::IpAddr,
    pub families: FamilySet,
    pub extended_next_hop: FamilySet,
    pub cx: DecodeCxt,
}

#[derive(Debug)]
pub struct UpdateGroup {
    pub id: GroupId,
    pub class: ExportClass,
    /// Ascending.
    pub members: Vec<PeerId>,
    /// Routes as the members get them: route → interned outbound attributes.
    pub adj_out: IdMap,
    /// `adj_out` entries per family.
    pub advertised: [u64; 3],
    /// Routes whose advertisement must be re-evaluated; coalesced, one bit
    /// per route of the table.
    pub pending: IdSet,
}

impl Core {
    /// The export class of an established peer.
    pub(crate) fn export_class_of(p: &Peer) -> Option<ExportClass> {
        let (conn, neg) = p.established()?;
        Some(ExportClass {
            ibgp: p.cfg.ibgp(),
            rr_client: p.cfg.rr_client,
            local_as: p.cfg.local_as,
            local_addr: conn.local.ip(),
            families: neg.families,
            extended_next_hop: neg.extended_next_hop,
            cx: neg.cx,
        })
    }

    /// Session up: join a group of the peer's class (or start one). The
    /// peer has nothing yet: every route of the group's Adj-RIB-Out is
    /// excluded for it and every best route is re-evaluated — unchanged
    /// for the other members, so only the newcomer gets UPDATEs.
    pub(crate) fn join_group(&mut self, pid: PeerId) {
        self.leave_group(pid);
        let Some(class) = self.peers.get(&pid).and_then(Core::export_class_of) else {
            return;
        };
        let existing = self
            .groups
            .values()
            .find(|g| g.class == class)
            .map(|g| g.id);
        let gid = match existing {
            Some(gid) => gid,
            None => self.new_group(class),
        };
        let Some(g) = self.groups.get_mut(&gid) else {
            return;
        };
        let mut excluded = IdSet::default();
        let mut counts = [0u64; 3];
        if !g.adj_out.is_empty() {
            for id in g.adj_out.keys() {
                excluded.insert(id);
                if let Some(e) = self.rib.get(id) {
                    counts[fam_idx(e.key.family())] += 1;
                }
            }
        }
        if let Err(i) = g.members.binary_search(&pid) {
            g.members.insert(i, pid);
        }
        if let Some(p) = self.peers.get_mut(&pid) {
            p.group = Some(gid);
            p.excluded = excluded;
            p.excluded_count = counts;
        }
        self.requeue_group(gid, None);
    }

    fn new_group(&mut self, class: ExportClass) -> GroupId {
        let gid = GroupId(self.next_group);
        self.next_group += 1;
        self.groups.insert(
            gid,
            UpdateGroup {
                id: gid,
                class,
                members: Vec::new(),
                adj_out: IdMap::default(),
                advertised: [0; 3],
                pending: IdSet::default(),
            },
        );
        gid
    }

    /// Session down: the peer leaves its group, O(its excluded routes); the
    /// last member takes the group's Adj-RIB-Out with it.
    pub(crate) fn leave_group(&mut self, pid: PeerId) {
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        p.excluded = IdSet::default();
        p.excluded_count = [0; 3];
        self.timers.cancel(TimerKey::WriteStall(pid));
        let Some(gid) = p.group.take() else {
            return;
        };
        let Some(g) = self.groups.get_mut(&gid) else {
            return;
        };
        g.members.retain(|m| *m != pid);
        if !g.members.is_empty() {
            return;
        }
        if let Some(g) = self.groups.remove(&gid) {
            for (id, a) in g.adj_out.iter() {
                self.rib.attrs.release(a);
                self.rib.out_ref(id, false);
            }
        }
    }

    /// Put every best route (of `family`, or all) in the group's pending
    /// set.
    pub(crate) fn requeue_group(&mut self, gid: GroupId, family: Option<evpn_proto::Family>) {
        let ids: Vec<RouteId> = self
            .rib
            .iter()
            .filter(|(_, e)| e.best.is_some() && family.is_none_or(|f| e.key.family() == f))
            .map(|(id, _)| id)
            .collect();
        if let Some(g) = self.groups.get_mut(&gid) {
            g.pending.extend(ids);
        }
    }

    /// Move `pid` into a group of its own with the same state (a copy of
    /// the group's Adj-RIB-Out and pending set; its excluded set is
    /// relative to that copy, so it stays as it is). O(the group's routes).
    pub(crate) fn split_off(&mut self, pid: PeerId) -> Option<GroupId> {
        let gid = self.peers.get(&pid)?.group?;
        let g = self.groups.get(&gid)?;
        if g.members.len() < 2 {
            return Some(gid);
        }
        let (class, adj_out, advertised, pending) =
            (g.class, g.adj_out.clone(), g.advertised, g.pending.clone());
        for (id, a) in adj_out.iter() {
            self.rib.attrs.add_ref(a);
            self.rib.out_ref(id, true);
        }
        if let Some(g) = self.groups.get_mut(&gid) {
            g.members.retain(|m| *m != pid);
        }
        let new = self.new_group(class);
        if let Some(g) = self.groups.get_mut(&new) {
            g.members = vec![pid];
            g.adj_out = adj_out;
            g.advertised = advertised;
            g.pending = pending;
        }
        if let Some(p) = self.peers.get_mut(&pid) {
            p.group = Some(new);
        }
        Some(new)
    }

    /// The shell's write buffer for `conn` is full / drained again. A
    /// member blocked while its group has work is split off after
    /// [`SPLIT_AFTER`].
    pub(crate) fn set_write_blocked(
        &mut self,
        now: Instant,
        conn: super::io::ConnId,
        blocked: bool,
    ) {
        let Some(pid) = self.conns.get(&conn).copied() else {
            return;
        };
        let Some(p) = self.peers.get_mut(&pid) else {
            return;
        };
        if blocked {
            p.write_blocked = Some(conn);
            // Armed even when alone in its group: a newcomer may join it.
            self.timers
                .set(TimerKey::WriteStall(pid), now + SPLIT_AFTER);
        } else if p.write_blocked == Some(conn) {
            p.write_blocked = None;
            self.timers.cancel(TimerKey::WriteStall(pid));
        }
    }

    /// [`TimerKey::WriteStall`]: still blocked, and the group has work the
    /// others could take: split. Still blocked but nothing held up: look
    /// again later (work may come, or a member may join).
    pub(crate) fn on_write_stall(&mut self, now: Instant, pid: PeerId) {
        let Some(p) = self.peers.get(&pid) else {
            return;
        };
        if p.write_blocked.is_none() || p.write_blocked != p.state.conn_id() {
            return;
        }
        let busy = p.group.and_then(|g| self.groups.get(&g)).is_some_and(|g| {
            g.members.len() > 1
                && (!g.pending.is_empty()
                    || g.members.iter().filter_map(|m| self.peers.get(m)).any(|m| {
                        m.id != pid && !(m.eor_to_send.is_empty() && m.eorr_to_send.is_empty())
                    }))
        });
        if !busy {
            self.timers
                .set(TimerKey::WriteStall(pid), now + SPLIT_AFTER);
            return;
        }
        {
            tracing::info!(
                peer = pid.0,
                "write-blocked: leaving its update group so the others go on"
            );
            self.split_off(pid);
        }
    }

    /// Does `pid` have route `id` advertised, and with which attributes?
    pub(crate) fn advertised_to(&self, pid: PeerId, id: RouteId) -> Option<u32> {
        let p = self.peers.get(&pid)?;
        let g = self.groups.get(&p.group?)?;
        if p.excluded.contains(id) {
            return None;
        }
        g.adj_out.get(id)
    }

    /// Routes advertised to `pid`, per family.
    pub(crate) fn advertised_counts(&self, p: &Peer) -> [u64; 3] {
        let Some(g) = p.group.and_then(|g| self.groups.get(&g)) else {
            return [0; 3];
        };
        let mut out = g.advertised;
        for (o, x) in out.iter_mut().zip(p.excluded_count) {
            *o = o.saturating_sub(x);
        }
        out
    }
}
