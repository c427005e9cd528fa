//! Route tables: the interned attribute sets, the Loc-RIB (one entry per
//! route key holding every peer's path), and the per-peer indexes.
//!
//! Memory layout, chosen for a million EVPN MAC/IP routes:
//! - path attributes are interned ([`AttrTable`]): routes that share
//!   attributes (all MACs of one VNI from one VTEP) share one [`AttrSet`];
//!   a path is 12 octets (source, attribute id, flags);
//! - the Loc-RIB is an arena of [`RouteEntry`] indexed by [`RouteId`] plus a
//!   hash index from [`RouteKey`]; per-peer structures (Adj-RIB-In index,
//!   Adj-RIB-Out, pending work) hold 4-octet route ids, never keys;
//! - Adj-RIB-In is the set of route ids a peer has a path in: a peer going
//!   down costs O(its routes), never O(table).
//!
//! A route entry lives while it has a path or while some peer's Adj-RIB-Out
//! still holds it (a withdraw must be able to name the key), so a route id
//! is never reused under a peer that still refers to it.

use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr};

use hashbrown::{hash_table, HashTable};

use evpn_proto::attr::{NextHop, Origin};
use evpn_proto::evpn::{EthernetAd, EthernetSegment, Imet, IpPrefix, MacIp};
use evpn_proto::message::DecodeCxt;
use evpn_proto::{Esi, EvpnKey, EvpnRoute, Family, Ipv4Prefix, Ipv6Prefix, Label, PathAttrs};

use super::best_path::{self, Rank, Reason};
use super::hash::{FastMap, FastState};

/// Index of a route in the Loc-RIB arena.
pub type RouteId = u32;
/// Index of an interned attribute set.
pub type AttrId = u32;
/// Who a path came from: a peer id, or [`LOCAL`].
pub type Source = u32;
/// The source of locally originated routes (API, EVPN instances).
pub const LOCAL: Source = u32::MAX;

/// A route key: what BGP compares to decide "same route".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteKey {
    Evpn(EvpnKey),
    V4(Ipv4Prefix),
    V6(Ipv6Prefix),
}

impl RouteKey {
    pub fn family(&self) -> Family {
        match self {
            RouteKey::Evpn(_) => Family::Evpn,
            RouteKey::V4(_) => Family::Ipv4Unicast,
            RouteKey::V6(_) => Family::Ipv6Unicast,
        }
    }
}

impl std::fmt::Display for RouteKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteKey::Evpn(k) => write!(f, "{k}"),
            RouteKey::V4(p) => write!(f, "{p}"),
            RouteKey::V6(p) => write!(f, "{p}"),
        }
    }
}

/// The parts of an EVPN NLRI that are not in its key (RFC 7432 §7: ESI
/// and labels of RT-2, gateway IP of RT-5). Travels with the attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NlriExtra {
    pub esi: Esi,
    pub label1: Label,
    pub label2: Option<Label>,
    pub gateway: Option<IpAddr>,
}

impl NlriExtra {
    pub fn of(route: &EvpnRoute) -> NlriExtra {
        match route {
            EvpnRoute::MacIp(r) => NlriExtra {
                esi: r.esi,
                label1: r.label1,
                label2: r.label2,
                gateway: None,
            },
            EvpnRoute::IpPrefix(r) => NlriExtra {
                esi: r.esi,
                label1: r.label,
                label2: None,
                gateway: Some(r.gateway),
            },
            EvpnRoute::EthernetAd(r) => NlriExtra {
                label1: r.label,
                ..NlriExtra::default()
            },
            _ => NlriExtra::default(),
        }
    }
}

/// Rebuild the NLRI from its key and extras.
pub fn evpn_route(key: &EvpnKey, x: &NlriExtra) -> EvpnRoute {
    match *key {
        EvpnKey::MacIp {
            rd,
            eth_tag,
            mac,
            ip,
        } => EvpnRoute::MacIp(MacIp {
            rd,
            esi: x.esi,
            eth_tag,
            mac,
            ip,
            label1: x.label1,
            label2: x.label2,
        }),
        EvpnKey::Imet {
            rd,
            eth_tag,
            originator,
        } => EvpnRoute::Imet(Imet {
            rd,
            eth_tag,
            originator,
        }),
        EvpnKey::IpPrefix {
            rd,
            eth_tag,
            prefix,
        } => EvpnRoute::IpPrefix(IpPrefix {
            rd,
            esi: x.esi,
            eth_tag,
            prefix,
            gateway: x.gateway.unwrap_or(if prefix.is_ipv4() {
                IpPrefix::NO_GATEWAY_V4
            } else {
                IpPrefix::NO_GATEWAY_V6
            }),
            label: x.label1,
        }),
        EvpnKey::EthernetAd { rd, esi, eth_tag } => EvpnRoute::EthernetAd(EthernetAd {
            rd,
            esi,
            eth_tag,
            label: x.label1,
        }),
        EvpnKey::EthernetSegment {
            rd,
            esi,
            originator,
        } => EvpnRoute::EthernetSegment(EthernetSegment {
            rd,
            esi,
            originator,
        }),
    }
}

/// One interned attribute set: the path attributes without MP_REACH,
/// MP_UNREACH and NEXT_HOP (the next hop is kept apart, normalised over
/// the families), the NLRI extras, and the values the decision process
/// reads, extracted once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrSet {
    pub attrs: PathAttrs,
    pub next_hop: Option<NextHop>,
    pub extra: NlriExtra,
    pub as_path_len: u32,
    pub neighbor_as: Option<u32>,
    pub mobility: Option<(u32, bool)>,
}

impl AttrSet {
    pub fn new(mut attrs: PathAttrs, next_hop: Option<NextHop>, extra: NlriExtra) -> AttrSet {
        attrs.mp_reach = None;
        attrs.mp_unreach = None;
        attrs.next_hop = None;
        let as_path_len = attrs
            .as_path
            .as_ref()
            .map_or(0, |p| u32::try_from(p.path_len()).unwrap_or(u32::MAX));
        let neighbor_as = attrs.as_path.as_ref().and_then(|p| p.first_as());
        let mobility = attrs.mac_mobility();
        AttrSet {
            attrs,
            next_hop,
            extra,
            as_path_len,
            neighbor_as,
            mobility,
        }
    }

    pub fn next_hop_addr(&self) -> Option<IpAddr> {
        self.next_hop.as_ref().and_then(|n| n.addr())
    }

    /// Bytes that identify the set (the interning key).
    fn fingerprint(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(96);
        let cx = DecodeCxt::default();
        self.attrs.encode(&cx, &mut out);
        out.push(0xfe);
        match &self.next_hop {
            None => out.push(0),
            Some(NextHop::V4(a)) => {
                out.push(4);
                out.extend_from_slice(&a.octets())
            }
            Some(NextHop::V6(a)) => {
                out.push(6);
                out.extend_from_slice(&a.octets())
            }
            Some(NextHop::V6LinkLocal { global, link_local }) => {
                out.push(32);
                out.extend_from_slice(&global.octets());
                out.extend_from_slice(&link_local.octets());
            }
            Some(NextHop::Raw(b)) => {
                out.push(1);
                out.push(u8::try_from(b.len()).unwrap_or(255));
                out.extend_from_slice(b);
            }
        }
        let x = &self.extra;
        out.extend_from_slice(&x.esi.0);
        out.extend_from_slice(&x.label1.raw().to_be_bytes());
        match x.label2 {
            Some(l) => out.extend_from_slice(&l.raw().to_be_bytes()),
            None => out.push(0),
        }
        match x.gateway {
            Some(IpAddr::V4(a)) => out.extend_from_slice(&a.octets()),
            Some(IpAddr::V6(a)) => out.extend_from_slice(&a.octets()),
            None => out.push(0),
        }
        out
    }
}

struct AttrSlot {
    set: AttrSet,
    fingerprint: Vec<u8>,
    refs: u32,
}

/// Interned attribute sets with reference counts.
#[derive(Default)]
pub struct AttrTable {
    slots: Vec<Option<AttrSlot>>,
    free: Vec<AttrId>,
    index: FastMap<Vec<u8>, AttrId>,
}

impl std::fmt::Debug for AttrTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AttrTable({} sets)", self.index.len())
    }
}

impl AttrTable {
    /// Intern `set` and take one reference to it.
    pub fn intern(&mut self, set: AttrSet) -> AttrId {
        let fp = set.fingerprint();
        if let Some(&id) = self.index.get(&fp) {
            self.add_ref(id);
            return id;
        }
        let slot = AttrSlot {
            set,
            fingerprint: fp.clone(),
            refs: 1,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(slot);
                id
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as AttrId
            }
        };
        self.index.insert(fp, id);
        id
    }

    pub fn add_ref(&mut self, id: AttrId) {
        if let Some(Some(s)) = self.slots.get_mut(id as usize) {
            s.refs += 1;
        }
    }

    pub fn release(&mut self, id: AttrId) {
        let Some(slot) = self.slots.get_mut(id as usize) else {
            return;
        };
        let Some(s) = slot else { return };
        s.refs -= 1;
        if s.refs == 0 {
            if let Some(s) = slot.take() {
                self.index.remove(&s.fingerprint);
            }
            self.free.push(id);
        }
    }

    /// The set behind a live id. Ids come only from [`AttrTable::intern`]
    /// and are released when the last path lets go, so a live path always
    /// finds its set; the fallback keeps a logic error from panicking.
    pub fn get(&self, id: AttrId) -> &AttrSet {
        static EMPTY: std::sync::OnceLock<AttrSet> = std::sync::OnceLock::new();
        match self.slots.get(id as usize) {
            Some(Some(s)) => &s.set,
            _ => {
                EMPTY.get_or_init(|| AttrSet::new(PathAttrs::default(), None, NlriExtra::default()))
            }
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// What the decision process needs to know about a path's source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceInfo {
    pub addr: IpAddr,
    pub bgp_id: Ipv4Addr,
    pub ebgp: bool,
}

/// One peer's path for a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path {
    pub source: Source,
    pub attrs: AttrId,
    /// Kept for a restarting peer (RFC 4724) or during an enhanced route
    /// refresh (RFC 7313) until re-advertised or swept.
    pub stale: bool,
}

/// The paths of one route, sorted by source. One path — nearly every
/// route of a leaf — is stored inline: no allocation per route.
#[derive(Debug, Clone, Default)]
pub enum Paths {
    #[default]
    Empty,
    One(Path),
    Many(Vec<Path>),
}

impl std::ops::Deref for Paths {
    type Target = [Path];
    fn deref(&self) -> &[Path] {
        match self {
            Paths::Empty => &[],
            Paths::One(p) => std::slice::from_ref(p),
            Paths::Many(v) => v,
        }
    }
}

impl std::ops::DerefMut for Paths {
    fn deref_mut(&mut self) -> &mut [Path] {
        match self {
            Paths::Empty => &mut [],
            Paths::One(p) => std::slice::from_mut(p),
            Paths::Many(v) => v,
        }
    }
}

impl Paths {
    /// Insert at `i` (0..=len), as `Vec::insert`; an `i` past the end appends.
    pub fn insert(&mut self, i: usize, p: Path) {
        *self = match std::mem::take(self) {
            Paths::Empty => Paths::One(p),
            Paths::One(q) => {
                let mut v = Vec::with_capacity(2);
                v.push(q);
                v.insert(i.min(1), p);
                Paths::Many(v)
            }
            Paths::Many(mut v) => {
                v.insert(i.min(v.len()), p);
                Paths::Many(v)
            }
        }
    }

    /// Remove the path at `i`; `None` if there is none.
    pub fn remove(&mut self, i: usize) -> Option<Path> {
        let (rest, p) = match std::mem::take(self) {
            Paths::One(q) if i == 0 => (Paths::Empty, Some(q)),
            Paths::Many(mut v) if i < v.len() => {
                let p = v.remove(i);
                match v.as_slice() {
                    [one] => (Paths::One(*one), Some(p)),
                    _ => (Paths::Many(v), Some(p)),
                }
            }
            other => (other, None),
        };
        *self = rest;
        p
    }
}

/// One route of the Loc-RIB with all its paths.
#[derive(Debug, Clone)]
pub struct RouteEntry {
    pub key: RouteKey,
    /// At most one path per source, sorted by source.
    pub paths: Paths,
    /// Index into `paths` of the best path.
    pub best: Option<u16>,
    pub reason: Reason,
    /// Number of peers whose Adj-RIB-Out holds this route.
    pub out_refs: u32,
}

impl RouteEntry {
    pub fn best_path(&self) -> Option<&Path> {
        self.best.and_then(|i| self.paths.get(usize::from(i)))
    }

    pub fn path_of(&self, source: Source) -> Option<&Path> {
        self.paths
            .binary_search_by_key(&source, |p| p.source)
            .ok()
            .map(|i| &self.paths[i])
    }
}

/// The Loc-RIB: route arena plus key index.
#[derive(Debug, Default)]
pub struct Rib {
    entries: Vec<Option<RouteEntry>>,
    free: Vec<RouteId>,
    /// Route ids by key. The key lives once, in the arena entry: the table
    /// holds ids and hashes and compares through the arena (a map from key
    /// to id kept a second copy of every key, ~56 octets a route).
    index: HashTable<RouteId>,
    hasher: FastState,
    pub attrs: AttrTable,
    /// Per source, how many routes of each family have their best path
    /// from it (kept by [`Rib::reselect`], the only place best changes).
    best_by_source: FastMap<Source, [u64; 3]>,
}

/// What a path change did to the best path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BestChange {
    pub id: RouteId,
    /// The route's key: the entry may be freed right after a withdrawal,
    /// and the EVPN import still has to undo what the route contributed.
    pub key: Option<RouteKey>,
    /// The best path (source, attrs) before and after.
    pub old: Option<(Source, AttrId)>,
    pub new: Option<(Source, AttrId)>,
}

impl BestChange {
    pub fn changed(&self) -> bool {
        self.old != self.new
    }
}

/// The key of live route `id` in the arena.
fn key_at(entries: &[Option<RouteEntry>], id: RouteId) -> Option<&RouteKey> {
    entries
        .get(id as usize)
        .and_then(Option::as_ref)
        .map(|e| &e.key)
}

impl Rib {
    pub fn id_of(&self, key: &RouteKey) -> Option<RouteId> {
        let entries = &self.entries;
        self.index
            .find(self.hasher.hash_one(key), |&id| {
                key_at(entries, id) == Some(key)
            })
            .copied()
    }

    pub fn get(&self, id: RouteId) -> Option<&RouteEntry> {
        self.entries.get(id as usize).and_then(Option::as_ref)
    }

    fn get_mut(&mut self, id: RouteId) -> Option<&mut RouteEntry> {
        self.entries.get_mut(id as usize).and_then(Option::as_mut)
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Routes per family (IPv4, IPv6, EVPN) whose best path is from `source`.
    pub fn best_count(&self, source: Source) -> [u64; 3] {
        self.best_by_source
            .get(&source)
            .copied()
            .unwrap_or_default()
    }

    /// Every live route, in arena order.
    pub fn iter(&self) -> impl Iterator<Item = (RouteId, &RouteEntry)> {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i as RouteId, e)))
    }

    fn id_or_insert(&mut self, key: RouteKey) -> RouteId {
        // One probe of the index (the entry API), not a get and an insert.
        let (entries, hasher) = (&self.entries, &self.hasher);
        let slot = match self.index.entry(
            hasher.hash_one(key),
            |&id| key_at(entries, id) == Some(&key),
            |&id| key_at(entries, id).map_or(0, |k| hasher.hash_one(k)),
        ) {
            hash_table::Entry::Occupied(o) => return *o.get(),
            hash_table::Entry::Vacant(v) => v,
        };
        let e = RouteEntry {
            key,
            paths: Paths::Empty,
            best: None,
            reason: Reason::OnlyPath,
            out_refs: 0,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.entries[id as usize] = Some(e);
                id
            }
            None => {
                self.entries.push(Some(e));
                (self.entries.len() - 1) as RouteId
            }
        };
        slot.insert(id);
        id
    }

    /// Insert or replace `source`'s path; takes over the caller's reference
    /// to `attrs`. Returns the route id, whether the path is new for the
    /// source, and the best-path change (the caller supplies source info).
    pub fn upsert(
        &mut self,
        key: RouteKey,
        source: Source,
        attrs: AttrId,
        info: &dyn Fn(Source) -> SourceInfo,
    ) -> (RouteId, bool, BestChange) {
        let id = self.id_or_insert(key);
        let old = self.best_of(id);
        let mut released = None;
        let mut added = false;
        if let Some(e) = self.get_mut(id) {
            match e.paths.binary_search_by_key(&source, |p| p.source) {
                Ok(i) => {
                    released = Some(e.paths[i].attrs);
                    e.paths[i] = Path {
                        source,
                        attrs,
                        stale: false,
                    };
                }
                Err(i) => {
                    added = true;
                    e.paths.insert(
                        i,
                        Path {
                            source,
                            attrs,
                            stale: false,
                        },
                    )
                }
            }
        }
        if let Some(old) = released {
            self.attrs.release(old);
        }
        let change = self.reselect(id, old, info);
        (id, added, change)
    }

    /// Remove `source`'s path. `None` if it had none.
    pub fn remove(
        &mut self,
        id: RouteId,
        source: Source,
        info: &dyn Fn(Source) -> SourceInfo,
    ) -> Option<BestChange> {
        let old = self.best_of(id);
        let e = self.get_mut(id)?;
        let i = e.paths.binary_search_by_key(&source, |p| p.source).ok()?;
        let p = e.paths.remove(i)?;
        self.attrs.release(p.attrs);
        let change = self.reselect(id, old, info);
        self.free_if_unused(id);
        Some(change)
    }

    /// Mark `source`'s path stale; true if it had one.
    pub fn mark_stale(&mut self, id: RouteId, source: Source) -> bool {
        let Some(e) = self.get_mut(id) else {
            return false;
        };
        match e.paths.binary_search_by_key(&source, |p| p.source) {
            Ok(i) => {
                e.paths[i].stale = true;
                true
            }
            Err(_) => false,
        }
    }

    pub fn is_stale(&self, id: RouteId, source: Source) -> bool {
        self.get(id)
            .and_then(|e| e.path_of(source))
            .is_some_and(|p| p.stale)
    }

    /// A peer's Adj-RIB-Out took (`+1`) or dropped (`-1`) the route.
    pub fn out_ref(&mut self, id: RouteId, take: bool) {
        if let Some(e) = self.get_mut(id) {
            if take {
                e.out_refs += 1;
            } else {
                e.out_refs = e.out_refs.saturating_sub(1);
            }
        }
        if !take {
            self.free_if_unused(id);
        }
    }

    fn free_if_unused(&mut self, id: RouteId) {
        let unused = self
            .get(id)
            .is_some_and(|e| e.paths.is_empty() && e.out_refs == 0);
        if unused {
            if let Some(e) = self.entries[id as usize].take() {
                if let Ok(o) = self
                    .index
                    .find_entry(self.hasher.hash_one(e.key), |&x| x == id)
                {
                    o.remove();
                }
            }
            self.free.push(id);
        }
    }

    fn best_of(&self, id: RouteId) -> Option<(Source, AttrId)> {
        self.get(id)
            .and_then(RouteEntry::best_path)
            .map(|p| (p.source, p.attrs))
    }

    /// Run the decision process for one route; `old` is the best path
    /// before the change (taken before the paths were modified).
    fn reselect(
        &mut self,
        id: RouteId,
        old: Option<(Source, AttrId)>,
        info: &dyn Fn(Source) -> SourceInfo,
    ) -> BestChange {
        let Some(e) = self.entries.get(id as usize).and_then(Option::as_ref) else {
            return BestChange {
                id,
                key: None,
                old,
                new: None,
            };
        };
        let key = e.key;
        let is_mac_ip = matches!(e.key, RouteKey::Evpn(EvpnKey::MacIp { .. }));
        let (best, reason) = if e.paths.len() == 1 {
            (Some(0u16), Reason::OnlyPath)
        } else {
            let ranks: Vec<Rank> = e
                .paths
                .iter()
                .map(|p| rank(self.attrs.get(p.attrs), p, is_mac_ip, &info(p.source)))
                .collect();
            match best_path::select(&ranks) {
                Some((i, r)) => (u16::try_from(i).ok(), r),
                None => (None, Reason::OnlyPath),
            }
        };
        let new = best
            .and_then(|i| e.paths.get(usize::from(i)))
            .map(|p| (p.source, p.attrs));
        let fam = family_idx(e.key.family());
        if let Some(e) = self.get_mut(id) {
            e.best = best;
            e.reason = reason;
        }
        let (was, is) = (old.map(|o| o.0), new.map(|n| n.0));
        if was != is {
            if let Some(s) = was {
                if let Some(c) = self.best_by_source.get_mut(&s) {
                    c[fam] = c[fam].saturating_sub(1);
                }
            }
            if let Some(s) = is {
                self.best_by_source.entry(s).or_default()[fam] += 1;
            }
        }
        BestChange {
            id,
            key: Some(key),
            old,
            new,
        }
    }
}

fn family_idx(f: Family) -> usize {
    super::peer::fam_idx(f)
}

/// The decision-process view of one path.
pub fn rank(a: &AttrSet, p: &Path, is_mac_ip: bool, src: &SourceInfo) -> Rank {
    Rank {
        mobility: is_mac_ip.then(|| a.mobility.unwrap_or((0, false))),
        next_hop: a.next_hop_addr(),
        local_pref: a.attrs.local_pref.unwrap_or(100),
        local: p.source == LOCAL,
        as_path_len: a.as_path_len,
        origin: match a.attrs.origin {
            Some(Origin::Igp) | None => 0,
            Some(Origin::Egp) => 1,
            Some(Origin::Incomplete) => 2,
        },
        med: a.attrs.med.unwrap_or(0),
        neighbor_as: a.neighbor_as,
        ebgp: src.ebgp,
        router_id: a.attrs.originator_id.unwrap_or(src.bgp_id),
        cluster_list_len: a
            .attrs
            .cluster_list
            .as_ref()
            .map_or(0, |c| u32::try_from(c.len()).unwrap_or(u32::MAX)),
        peer_addr: src.addr,
        stale: p.stale,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn info(s: Source) -> SourceInfo {
        SourceInfo {
            addr: IpAddr::V4(Ipv4Addr::from(s)),
            bgp_id: Ipv4Addr::from(s),
            ebgp: false,
        }
    }

    fn key(k: u8) -> RouteKey {
        RouteKey::V4(Ipv4Prefix::host(Ipv4Addr::new(10, 0, 0, k)))
    }

    proptest! {
        /// The id index (ids hashed through the arena) against a model:
        /// after every upsert and remove, each key's id is found exactly
        /// when some source has a path for it, the id's entry holds that
        /// key, and freed ids are reused without confusing the index.
        #[test]
        fn the_index_finds_every_live_route_and_no_other(
            ops in proptest::collection::vec((any::<bool>(), 0u8..40, 1u32..4), 1..400)
        ) {
            let mut rib = Rib::default();
            let mut model: BTreeMap<u8, Vec<Source>> = BTreeMap::new();
            for (add, k, src) in ops {
                if add {
                    let a = rib.attrs.intern(AttrSet::new(
                        PathAttrs::default(),
                        None,
                        NlriExtra::default(),
                    ));
                    rib.upsert(key(k), src, a, &info);
                    let s = model.entry(k).or_default();
                    if !s.contains(&src) {
                        s.push(src);
                    }
                } else if let Some(id) = rib.id_of(&key(k)) {
                    rib.remove(id, src, &info);
                    if let Some(s) = model.get_mut(&k) {
                        s.retain(|x| *x != src);
                        if s.is_empty() {
                            model.remove(&k);
                        }
                    }
                }
                prop_assert_eq!(rib.len(), model.len());
                for k in 0u8..40 {
                    let id = rib.id_of(&key(k));
                    prop_assert_eq!(id.is_some(), model.contains_key(&k), "key {}", k);
                    if let Some(id) = id {
                        prop_assert_eq!(rib.get(id).map(|e| e.key), Some(key(k)));
                    }
                }
            }
        }
    }
}
