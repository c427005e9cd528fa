//! FDB nexthop groups: remote MACs that point at a kernel nexthop object
//! (`bridge fdb add MAC dev vxlanN self nhid G`) instead of carrying the
//! VTEP address themselves (`dst VTEP`).
//!
//! Why: the VXLAN driver gives every `dst` entry its own remote (`struct
//! vxlan_rdst`) with a per-CPU route cache (`dst_cache_init` →
//! `pcpu_alloc`, under a global lock). Measured here that allocation is a
//! third of the kernel time of programming a remote MAC, and on a many-core
//! leaf it costs `ncpus × 16` octets of kernel memory per MAC. An `nhid`
//! entry holds a pointer to a shared nexthop group: nothing per MAC, and
//! moving a MAC to another VTEP swaps that pointer.
//!
//! Per remote VTEP there are two objects, both with our protocol id and the
//! `fdb` flag: a nexthop `id N via VTEP fdb` and a group `id N+1 group N
//! fdb` (the VXLAN driver accepts only a group; measured: "Nexthop is not a
//! multipath group"). Ids come in pairs from [`BASE`] upwards, skipping ids
//! the kernel already uses; on start the pairs we own are read back, so a
//! restart keeps every entry's `nhid` valid.
//!
//! Kernel rules (6.18, measured): an existing `dst` entry cannot be replaced
//! by an `nhid` one (EOPNOTSUPP, "Cannot replace an existing non nexthop fdb
//! with a nexthop"), so a change of mode is a delete and an add; deleting a
//! group deletes every FDB entry that points at it, so a group is only
//! removed when no entry of ours uses it ([`FdbNexthops::unused`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use super::msg::CREATE_EXCL;
use super::socket::NlSocket;
use crate::model::ProtocolId;
use crate::report::FailReason;

pub const RTM_NEWNEXTHOP: u16 = 104;
pub const RTM_DELNEXTHOP: u16 = 105;
pub const RTM_GETNEXTHOP: u16 = 106;
const NHA_ID: u16 = 1;
const NHA_GROUP: u16 = 2;
const NHA_GATEWAY: u16 = 6;
const NHA_FDB: u16 = 11;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;

/// First nexthop id we allocate. Nexthop ids are one namespace per network
/// namespace shared with zebra (which counts up from 1) and operators:
/// starting high keeps out of their way; a clash is skipped anyway.
pub const BASE: u32 = 0x0E00_0000;
/// Most VTEP pairs tried above [`BASE`].
const SPAN: u32 = 1 << 20;

/// One nexthop object as dumped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NhRec {
    pub id: u32,
    pub protocol: u8,
    pub gateway: Option<IpAddr>,
    pub group: Vec<u32>,
    pub fdb: bool,
}

fn attr(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
    let len = 4 + value.len();
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize((out.len() + 3) & !3, 0);
}

fn header(family: u8, scope: u8, proto: ProtocolId) -> Vec<u8> {
    // struct nhmsg { family, scope, protocol, resvd; u32 flags }
    let mut p = vec![family, scope, proto.0, 0];
    p.extend_from_slice(&0u32.to_ne_bytes());
    p
}

/// `id ID via VTEP fdb proto P`.
pub fn nexthop_msg(id: u32, vtep: IpAddr, proto: ProtocolId) -> Vec<u8> {
    let (family, gw) = match vtep {
        IpAddr::V4(a) => (AF_INET, a.octets().to_vec()),
        IpAddr::V6(a) => (AF_INET6, a.octets().to_vec()),
    };
    // The kernel rejects any scope in the request ("Invalid values in
    // ancillary header"); it shows `scope link` itself.
    let mut p = header(family, 0, proto);
    attr(&mut p, NHA_ID, &id.to_ne_bytes());
    attr(&mut p, NHA_GATEWAY, &gw);
    attr(&mut p, NHA_FDB, &[]);
    p
}

/// `id ID group MEMBER fdb proto P`.
pub fn group_msg(id: u32, member: u32, proto: ProtocolId) -> Vec<u8> {
    let mut p = header(0, 0, proto);
    attr(&mut p, NHA_ID, &id.to_ne_bytes());
    // struct nexthop_grp { u32 id; u8 weight; u8 weight_high; u16 resvd2 }
    let mut g = member.to_ne_bytes().to_vec();
    g.extend_from_slice(&[0, 0, 0, 0]);
    attr(&mut p, NHA_GROUP, &g);
    attr(&mut p, NHA_FDB, &[]);
    p
}

/// The id [`probe`] uses: just below our range, so never one of our pairs.
pub const PROBE_ID: u32 = BASE - 1;

/// Whether the kernel takes FDB nexthops (nexthop objects with the `fdb`
/// flag, Linux 5.8 and later): creates `id PROBE_ID via 192.0.2.1 fdb`
/// and deletes it again. EEXIST counts as yes (the kernel checks the
/// attributes before it looks the id up). The address is TEST-NET-1: an
/// FDB nexthop needs no route to its gateway.
pub async fn probe(sock: &mut NlSocket, proto: ProtocolId) -> Result<(), FailReason> {
    let gw = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    match sock
        .call_raw(
            RTM_NEWNEXTHOP,
            CREATE_EXCL,
            &nexthop_msg(PROBE_ID, gw, proto),
        )
        .await
    {
        Ok(()) => {
            // A leftover probe object is harmless (no entry uses it) and
            // the next probe meets it as EEXIST.
            let _ = sock.call_raw(RTM_DELNEXTHOP, 0, &del_msg(PROBE_ID)).await;
            Ok(())
        }
        Err(FailReason::Kernel(e)) if e.errno == libc::EEXIST => Ok(()),
        Err(e) => Err(e),
    }
}

/// Deletes nexthop `id`.
pub fn del_msg(id: u32) -> Vec<u8> {
    let mut p = header(0, 0, ProtocolId(0));
    attr(&mut p, NHA_ID, &id.to_ne_bytes());
    p
}

/// The dump request (all nexthops).
pub fn dump_msg() -> Vec<u8> {
    header(0, 0, ProtocolId(0))
}

/// Reads one RTM_NEWNEXTHOP payload (after the netlink header); `None` when
/// it is too short to be one.
pub fn parse(p: &[u8]) -> Option<NhRec> {
    if p.len() < 8 {
        return None;
    }
    let protocol = p[2];
    let mut rec = NhRec {
        id: 0,
        protocol,
        gateway: None,
        group: Vec::new(),
        fdb: false,
    };
    let mut at = 8;
    while at + 4 <= p.len() {
        let len = usize::from(u16::from_ne_bytes([p[at], p[at + 1]]));
        let kind = u16::from_ne_bytes([p[at + 2], p[at + 3]]) & 0x3fff;
        if len < 4 || at + len > p.len() {
            return None;
        }
        let v = &p[at + 4..at + len];
        match kind {
            NHA_ID if v.len() == 4 => rec.id = u32::from_ne_bytes([v[0], v[1], v[2], v[3]]),
            NHA_GATEWAY => rec.gateway = super::msg::ip_from_bytes(v),
            NHA_GROUP => {
                rec.group = v
                    .chunks_exact(8)
                    .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
            }
            NHA_FDB => rec.fdb = true,
            _ => {}
        }
        at += (len + 3) & !3;
    }
    (rec.id != 0).then_some(rec)
}

/// The ids of one remote VTEP's pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    pub nexthop: u32,
    pub group: u32,
}

/// The FDB nexthop groups we own, and how many of our FDB entries use each.
#[derive(Debug, Default, Clone)]
pub struct FdbNexthops {
    by_vtep: BTreeMap<IpAddr, Pair>,
    by_group: HashMap<u32, IpAddr>,
    /// Ids the kernel holds (ours and others'), so allocation skips them.
    taken: BTreeSet<u32>,
    /// FDB entries of ours per VTEP in nexthop mode.
    refs: HashMap<IpAddr, u64>,
    /// Ids of ours that are not a pair (left by a crash between the two
    /// creations, or by hand): deleted at the next collection.
    orphans: Vec<u32>,
}

impl FdbNexthops {
    /// The group id of `vtep`, if it has a pair.
    pub fn group(&self, vtep: &IpAddr) -> Option<u32> {
        self.by_vtep.get(vtep).map(|p| p.group)
    }

    /// The VTEP a group id of ours leads to.
    pub fn vtep_of(&self, group: u32) -> Option<IpAddr> {
        self.by_group.get(&group).copied()
    }

    /// Pairs owned, by VTEP (for reports and tests).
    pub fn pairs(&self) -> impl Iterator<Item = (&IpAddr, &Pair)> {
        self.by_vtep.iter()
    }

    /// Rebuilds the table from a dump: pairs of ours (protocol `proto`,
    /// `fdb` flag, a group whose single member is our nexthop). A nexthop of
    /// ours without its group, or a group of ours that is not a pair, is
    /// returned for deletion.
    pub fn adopt(&mut self, recs: &[NhRec], proto: ProtocolId) -> Vec<u32> {
        self.by_vtep.clear();
        self.by_group.clear();
        self.taken = recs.iter().map(|r| r.id).collect();
        let ours = |r: &&NhRec| r.protocol == proto.0 && r.fdb;
        let nexthops: HashMap<u32, IpAddr> = recs
            .iter()
            .filter(ours)
            .filter_map(|r| Some((r.id, r.gateway?)))
            .collect();
        let mut used = BTreeSet::new();
        let mut orphans = Vec::new();
        for g in recs.iter().filter(ours).filter(|r| !r.group.is_empty()) {
            let pair = match g.group.as_slice() {
                [m] => nexthops.get(m).map(|vtep| (*m, *vtep)),
                _ => None,
            };
            match pair {
                Some((nh, vtep)) if !self.by_vtep.contains_key(&vtep) => {
                    self.by_vtep.insert(
                        vtep,
                        Pair {
                            nexthop: nh,
                            group: g.id,
                        },
                    );
                    self.by_group.insert(g.id, vtep);
                    used.insert(nh);
                }
                _ => orphans.push(g.id),
            }
        }
        orphans.extend(nexthops.keys().filter(|id| !used.contains(id)).copied());
        self.orphans = orphans.clone();
        orphans
    }

    pub fn has_orphans(&self) -> bool {
        !self.orphans.is_empty()
    }

    /// Deletes the orphans and the pairs no entry of ours uses; returns a
    /// warning per failed delete.
    pub async fn collect(&mut self, sock: &mut NlSocket) -> Vec<String> {
        let mut warnings = Vec::new();
        // Groups before their members.
        let mut orphans = std::mem::take(&mut self.orphans);
        orphans.sort_by_key(|id| std::cmp::Reverse(*id));
        for id in orphans {
            match sock.call_raw(RTM_DELNEXTHOP, 0, &del_msg(id)).await {
                Ok(()) => {
                    self.taken.remove(&id);
                }
                Err(FailReason::Kernel(e)) if e.errno == libc::ENOENT => {}
                Err(e) => warnings.push(format!("delete nexthop id {id}: {e}")),
            }
        }
        for vtep in self.unused() {
            if let Err(e) = self.remove(sock, vtep).await {
                warnings.push(format!("delete FDB nexthop group of VTEP {vtep}: {e}"));
            }
        }
        warnings
    }

    /// Sets the use counts from the entries of ours found in the kernel.
    pub fn count_refs(&mut self, vteps: impl Iterator<Item = IpAddr>) {
        self.refs.clear();
        for v in vteps {
            *self.refs.entry(v).or_default() += 1;
        }
    }

    /// One more (or one less) FDB entry of ours uses `vtep`'s group.
    pub fn add_ref(&mut self, vtep: IpAddr, up: bool) {
        let r = self.refs.entry(vtep).or_default();
        if up {
            *r += 1;
        } else {
            *r = r.saturating_sub(1);
        }
    }

    /// Pairs no entry of ours uses.
    pub fn unused(&self) -> Vec<IpAddr> {
        self.by_vtep
            .keys()
            .filter(|v| self.refs.get(v).copied().unwrap_or(0) == 0)
            .copied()
            .collect()
    }

    /// The next free id pair at or above [`BASE`].
    fn free_pair(&self) -> Option<Pair> {
        (0..SPAN)
            .map(|k| BASE + 2 * k)
            .find(|id| !self.taken.contains(id) && !self.taken.contains(&(id + 1)))
            .map(|id| Pair {
                nexthop: id,
                group: id + 1,
            })
    }

    /// The group of `vtep`, creating its pair in the kernel when missing.
    pub async fn ensure(
        &mut self,
        sock: &mut NlSocket,
        vtep: IpAddr,
        proto: ProtocolId,
    ) -> Result<u32, FailReason> {
        if let Some(g) = self.group(&vtep) {
            return Ok(g);
        }
        // An id someone else took since our dump answers EEXIST: skip it.
        for _ in 0..16 {
            let pair = self
                .free_pair()
                .ok_or_else(|| FailReason::Io("no free nexthop id".into()))?;
            self.taken.insert(pair.nexthop);
            self.taken.insert(pair.group);
            match sock
                .call_raw(
                    RTM_NEWNEXTHOP,
                    CREATE_EXCL,
                    &nexthop_msg(pair.nexthop, vtep, proto),
                )
                .await
            {
                Err(FailReason::Kernel(e)) if e.errno == libc::EEXIST => continue,
                Err(e) => return Err(e),
                Ok(()) => {}
            }
            match sock
                .call_raw(
                    RTM_NEWNEXTHOP,
                    CREATE_EXCL,
                    &group_msg(pair.group, pair.nexthop, proto),
                )
                .await
            {
                Ok(()) => {
                    self.by_vtep.insert(vtep, pair);
                    self.by_group.insert(pair.group, vtep);
                    return Ok(pair.group);
                }
                Err(e) => {
                    let _ = sock
                        .call_raw(RTM_DELNEXTHOP, 0, &del_msg(pair.nexthop))
                        .await;
                    match e {
                        FailReason::Kernel(k) if k.errno == libc::EEXIST => continue,
                        e => return Err(e),
                    }
                }
            }
        }
        Err(FailReason::Io("nexthop ids keep clashing".into()))
    }

    /// Deletes `vtep`'s pair (group first: deleting it also deletes any
    /// FDB entry still pointing at it, so callers check [`Self::unused`]).
    pub async fn remove(&mut self, sock: &mut NlSocket, vtep: IpAddr) -> Result<(), FailReason> {
        let Some(pair) = self.by_vtep.get(&vtep).copied() else {
            return Ok(());
        };
        for id in [pair.group, pair.nexthop] {
            match sock.call_raw(RTM_DELNEXTHOP, 0, &del_msg(id)).await {
                Ok(()) => {}
                Err(FailReason::Kernel(e)) if e.errno == libc::ENOENT => {}
                Err(e) => return Err(e),
            }
            self.taken.remove(&id);
        }
        self.by_vtep.remove(&vtep);
        self.by_group.remove(&pair.group);
        self.refs.remove(&vtep);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: u32, proto: u8, gw: Option<&str>, group: &[u32]) -> NhRec {
        NhRec {
            id,
            protocol: proto,
            gateway: gw.map(|g| g.parse().unwrap()),
            group: group.to_vec(),
            fdb: true,
        }
    }

    #[test]
    fn messages_parse_back() {
        let p = ProtocolId::EVPND;
        let n = parse(&nexthop_msg(BASE, "10.0.0.2".parse().unwrap(), p)).unwrap();
        assert_eq!(n, rec(BASE, p.0, Some("10.0.0.2"), &[]));
        let g = parse(&group_msg(BASE + 1, BASE, p)).unwrap();
        assert_eq!(g, rec(BASE + 1, p.0, None, &[BASE]));
        let v6 = parse(&nexthop_msg(7, "fd00::2".parse().unwrap(), p)).unwrap();
        assert_eq!(v6.gateway, Some("fd00::2".parse().unwrap()));
        // Truncated attribute: not a record.
        let mut bad = nexthop_msg(9, "10.0.0.2".parse().unwrap(), p);
        bad.truncate(bad.len() - 6);
        assert_eq!(parse(&bad), None);
        assert_eq!(parse(&[0, 0, 0]), None);
    }

    #[test]
    fn adopt_keeps_our_pairs_and_returns_orphans() {
        let p = ProtocolId::EVPND;
        let mut t = FdbNexthops::default();
        let orphans = t.adopt(
            &[
                rec(100, p.0, Some("10.0.0.2"), &[]),
                rec(101, p.0, None, &[100]),
                // Our nexthop without a group: orphan.
                rec(102, p.0, Some("10.0.0.3"), &[]),
                // zebra's: not ours, but its ids are taken.
                rec(BASE, 11, Some("10.0.0.9"), &[]),
                // Our group of two members: not a pair of ours.
                rec(103, p.0, None, &[100, 102]),
            ],
            p,
        );
        assert_eq!(t.group(&"10.0.0.2".parse().unwrap()), Some(101));
        assert_eq!(t.vtep_of(101), Some("10.0.0.2".parse().unwrap()));
        let mut o = orphans;
        o.sort();
        assert_eq!(o, vec![102, 103]);
        // BASE is zebra's: the next pair starts above it.
        assert_eq!(
            t.free_pair(),
            Some(Pair {
                nexthop: BASE + 2,
                group: BASE + 3
            })
        );
    }

    #[test]
    fn refs_decide_what_is_unused() {
        let p = ProtocolId::EVPND;
        let mut t = FdbNexthops::default();
        t.adopt(
            &[
                rec(100, p.0, Some("10.0.0.2"), &[]),
                rec(101, p.0, None, &[100]),
                rec(104, p.0, Some("10.0.0.3"), &[]),
                rec(105, p.0, None, &[104]),
            ],
            p,
        );
        let a: IpAddr = "10.0.0.2".parse().unwrap();
        let b: IpAddr = "10.0.0.3".parse().unwrap();
        t.count_refs([a, a].into_iter());
        assert_eq!(t.unused(), vec![b]);
        t.add_ref(a, false);
        t.add_ref(b, true);
        assert!(t.unused().is_empty());
        t.add_ref(a, false);
        t.add_ref(a, false);
        assert_eq!(t.unused(), vec![a]);
    }
}
