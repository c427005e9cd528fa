//! Reading the kernel into a [`Snapshot`]: dumps of the FDB, neighbours,
//! routes and rules, filtered to the devices and tables of our VNIs, each
//! entry keyed by intent coordinates and classified by owner.
//!
//! Ownership marks (what makes an entry `Owner::Ours`):
//! - FDB entries: `NTF_EXT_LEARNED` (zebra's mark too), or a sticky entry
//!   listed in the ownership record; flood destinations: only the record;
//! - neighbours, routes, rules: our protocol id.
//!
//! Entries the kernel learned (bridge learning: no flags, dynamic state;
//! ARP/ND: REACHABLE/STALE/...) are `Owner::Learned`; anything static that is
//! not ours is `Owner::Foreign`.

use std::collections::BTreeMap;

use evpn_proto::Vni;
use rtnetlink::packet_route::neighbour::NeighbourFlags;
use rtnetlink::packet_route::route::RouteType;
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

use super::link::Links;
use super::msg::{self, FdbRec, NeighRec, RouteRec, RuleRec};
use super::nexthop::FdbNexthops;
use super::socket::NlSocket;
use crate::entry::{Key, RouteVia, Value};
use crate::model::ProtocolId;
use crate::observe::Nud;
use crate::plan::{Owner, Snapshot};
use crate::state::Record;

/// Where each VNI's entries live in the kernel.
#[derive(Debug, Clone, Default)]
pub struct DevMap {
    /// VXLAN ifindex → VNI.
    pub vxlan: BTreeMap<u32, Vni>,
    /// Bridge ifindex → VNI (the bridge whose neighbours and FDB we write).
    pub bridge: BTreeMap<u32, Vni>,
    /// Routing table → L3 VNI.
    pub table: BTreeMap<u32, Vni>,
    /// VNI → (bridge, vxlan) ifindex.
    pub by_vni: BTreeMap<Vni, (u32, u32)>,
    /// L3 VNI → table.
    pub table_of: BTreeMap<Vni, u32>,
    /// Single-VXLAN-device mode: VNI → VLAN, and back per bridge.
    pub svd_vlan: BTreeMap<Vni, u16>,
    pub svd_vni: BTreeMap<(u32, u16), Vni>,
    /// The external VXLAN device and the bridge of SVD mode.
    pub svd_vxlan: Option<u32>,
    pub svd_bridge: Option<u32>,
}

impl DevMap {
    /// Resolves the devices of every VNI named in the intent or in the
    /// ownership record (a VNI removed from the configuration still has our
    /// entries to clean up).
    pub fn build(
        links: &Links,
        names: &BTreeMap<Vni, (String, String)>,
        tables: &BTreeMap<u32, Vni>,
    ) -> DevMap {
        let mut m = DevMap::default();
        for (vni, (br, vx)) in names {
            let (Some(b), Some(x)) = (links.index(br), links.index(vx)) else {
                continue;
            };
            m.vxlan.insert(x, *vni);
            m.bridge.insert(b, *vni);
            m.by_vni.insert(*vni, (b, x));
        }
        for (t, vni) in tables {
            m.table.insert(*t, *vni);
            m.table_of.insert(*vni, *t);
        }
        m
    }

    /// Adds the VLAN ↔ VNI map of single-VXLAN-device mode.
    pub fn add_svd(
        &mut self,
        links: &Links,
        bridge: &str,
        vxlan: &str,
        vlans: &BTreeMap<Vni, u16>,
    ) {
        let (Some(b), Some(x)) = (links.index(bridge), links.index(vxlan)) else {
            return;
        };
        self.svd_vxlan = Some(x);
        self.svd_bridge = Some(b);
        for (vni, vlan) in vlans {
            self.svd_vlan.insert(*vni, *vlan);
            self.svd_vni.insert((b, *vlan), *vni);
            self.by_vni.insert(*vni, (b, x));
        }
    }

    /// The VNI an FDB record belongs to in SVD mode, if it is on the SVD.
    fn svd_vni_of(&self, r: &FdbRec) -> Option<Vni> {
        if self.svd_vxlan == Some(r.ifindex) && r.master.is_none() {
            let v = Vni::new(r.src_vni?)?;
            return self.svd_vlan.contains_key(&v).then_some(v);
        }
        let vlan = r.vlan.filter(|v| *v != 0)?;
        self.svd_vni.get(&(r.master?, vlan)).copied()
    }
}

/// Classifies one FDB record into the snapshot.
pub fn classify_fdb(
    r: &FdbRec,
    devs: &DevMap,
    rec: &Record,
    nh: &FdbNexthops,
    snap: &mut Snapshot,
) {
    let svd = devs.svd_vni_of(r);
    let on_svd = devs.svd_vxlan == Some(r.ifindex) || r.vlan.is_some_and(|v| v != 0);
    if on_svd && svd.is_none() {
        // A VLAN or VNI of the single VXLAN device that is not ours.
        return;
    }
    let self_vni = svd.or_else(|| devs.vxlan.get(&r.ifindex).copied());
    if let (true, Some(vni)) = (r.is_self(), self_vni.as_ref()) {
        // The VXLAN device's own table.
        if let (Some(id), false) = (r.nh_id, r.mac.is_zero()) {
            // An `nhid` entry: ours when the group is one of our pairs.
            let key = Key::VxlanFdb {
                vni: *vni,
                mac: r.mac,
            };
            match nh.vtep_of(id) {
                Some(vtep) if r.ext_learned() || rec.sticky.contains(&(*vni, r.mac)) => {
                    let value = Value::VxlanFdb {
                        vtep,
                        sticky: r.sticky(),
                        nexthop: true,
                    };
                    snap.insert(key, Some(value), Owner::Ours);
                }
                _ => snap.insert(key, None, Owner::Foreign),
            }
            return;
        }
        let Some(dst) = r.dst else {
            // Multicast list entries (`self permanent` without dst).
            return;
        };
        if r.mac.is_zero() {
            let owner = if rec.flood.contains(&(*vni, dst)) {
                Owner::Ours
            } else {
                Owner::Foreign
            };
            snap.insert(
                Key::Flood {
                    vni: *vni,
                    vtep: dst,
                },
                Some(Value::Flood),
                owner,
            );
            return;
        }
        let sticky = r.sticky();
        let owner = if r.ext_learned() || (sticky && rec.sticky.contains(&(*vni, r.mac))) {
            Owner::Ours
        } else {
            Owner::Foreign
        };
        snap.insert(
            Key::VxlanFdb {
                vni: *vni,
                mac: r.mac,
            },
            Some(Value::VxlanFdb {
                vtep: dst,
                sticky,
                nexthop: false,
            }),
            owner,
        );
        return;
    }
    let Some(vni) = svd
        .as_ref()
        .or_else(|| r.master.and_then(|m| devs.bridge.get(&m)))
    else {
        return;
    };
    let key = Key::BridgeFdb {
        vni: *vni,
        mac: r.mac,
    };
    let on_vxlan = devs.by_vni.get(vni).is_some_and(|(_, vx)| *vx == r.ifindex);
    if on_vxlan && r.ext_learned() {
        snap.insert(key, Some(Value::BridgeFdb { sticky: false }), Owner::Ours);
    } else if on_vxlan && r.sticky() && rec.sticky.contains(&(*vni, r.mac)) {
        snap.insert(key, Some(Value::BridgeFdb { sticky: true }), Owner::Ours);
    } else if r.state.is_static() || r.sticky() || r.ext_learned() {
        // Local port addresses (permanent), operator entries (static),
        // another daemon's extern_learn entry on a host port.
        snap.insert(key, None, Owner::Foreign);
    } else {
        snap.insert(key, None, Owner::Learned);
    }
}

/// Classifies one neighbour record.
pub fn classify_neigh(r: &NeighRec, devs: &DevMap, proto: ProtocolId, snap: &mut Snapshot) {
    let Some(vni) = devs.bridge.get(&r.ifindex) else {
        return;
    };
    let key = Key::Neigh {
        vni: *vni,
        ip: r.ip,
    };
    if r.protocol == Some(proto.0) {
        let value = r.mac.map(|mac| Value::Neigh { mac });
        snap.insert(key, value, Owner::Ours);
    } else if r.state.is_static() || r.flags.contains(NeighbourFlags::ExtLearned) {
        // PERMANENT/NOARP, or another daemon's extern_learn entry.
        snap.insert(key, None, Owner::Foreign);
    } else if r.state.0 != 0 {
        snap.insert(key, None, Owner::Learned);
    }
}

/// Classifies one route record of one of our tables.
pub fn classify_route(
    r: &RouteRec,
    devs: &DevMap,
    links: &Links,
    proto: ProtocolId,
    snap: &mut Snapshot,
) {
    let Some(l3vni) = devs.table.get(&r.table) else {
        return;
    };
    let ours = r.protocol == proto.0;
    if r.kind == RouteType::Unreachable && r.prefix.prefix() == 0 {
        if ours {
            snap.insert(
                Key::Unreachable {
                    l3vni: *l3vni,
                    v6: r.prefix.is_ipv6(),
                },
                Some(Value::Unreachable),
                Owner::Ours,
            );
        }
        return;
    }
    if r.kind != RouteType::Unicast {
        // local/broadcast/multicast routes the kernel keeps in a VRF table.
        return;
    }
    let key = Key::Route {
        l3vni: *l3vni,
        prefix: r.prefix,
    };
    if !ours {
        snap.insert(key, None, Owner::Foreign);
        return;
    }
    let value = match (r.gateway, r.oif.and_then(|o| links.name(o))) {
        (Some(gw), _) => Some(Value::Route(RouteVia::Vtep(gw))),
        (None, Some(dev)) => Some(Value::Route(RouteVia::Connected(dev.to_string()))),
        (None, None) => None,
    };
    snap.insert(key, value, Owner::Ours);
}

/// Classifies one rule record (only ours are keyed; rules have no single
/// "slot" another rule could occupy).
pub fn classify_rule(r: &RuleRec, devs: &DevMap, proto: ProtocolId, snap: &mut Snapshot) {
    if r.protocol != proto.0 {
        return;
    }
    let (Some(iif), Some(l3vni)) = (&r.iif, devs.table.get(&r.table)) else {
        return;
    };
    snap.insert(
        Key::Rule {
            l3vni: *l3vni,
            iif: iif.clone(),
            v6: r.v6,
        },
        Some(Value::Rule {
            table: r.table,
            priority: r.priority,
        }),
        Owner::Ours,
    );
}

/// Dumps everything and builds the snapshot. Any failed dump fails the
/// whole snapshot: a partial view would make missing entries look absent.
pub async fn read(
    sock: &mut NlSocket,
    links: &Links,
    devs: &DevMap,
    rec: &Record,
    proto: ProtocolId,
    nh: &FdbNexthops,
) -> Result<Snapshot, String> {
    let mut snap = Snapshot::default();
    let fdb = sock
        .dump(
            "bridge fdb",
            msg::neigh_dump(AddressFamily::Bridge, 0),
            |m| match m {
                RouteNetlinkMessage::NewNeighbour(n) => msg::fdb_rec(&n).filter(|r| {
                    devs.vxlan.contains_key(&r.ifindex)
                        || devs.svd_vxlan == Some(r.ifindex)
                        || r.master.is_some_and(|m| {
                            devs.bridge.contains_key(&m) || devs.svd_bridge == Some(m)
                        })
                }),
                _ => None,
            },
        )
        .await?;
    for r in &fdb {
        classify_fdb(r, devs, rec, nh, &mut snap);
    }
    drop(fdb);
    for fam in [AddressFamily::Inet, AddressFamily::Inet6] {
        let neighs = sock
            .dump("neighbours", msg::neigh_dump(fam, 0), |m| match m {
                RouteNetlinkMessage::NewNeighbour(n) => {
                    msg::neigh_rec(&n).filter(|r| devs.bridge.contains_key(&r.ifindex))
                }
                _ => None,
            })
            .await?;
        for r in &neighs {
            classify_neigh(r, devs, proto, &mut snap);
        }
    }
    if !devs.table.is_empty() {
        for v6 in [false, true] {
            let routes = sock
                .dump("routes", msg::route_dump(v6), |m| match m {
                    RouteNetlinkMessage::NewRoute(r) => {
                        msg::route_rec(&r).filter(|r| devs.table.contains_key(&r.table))
                    }
                    _ => None,
                })
                .await?;
            for r in &routes {
                classify_route(r, devs, links, proto, &mut snap);
            }
            let rules = sock
                .dump("rules", msg::rule_dump(v6), |m| match m {
                    RouteNetlinkMessage::NewRule(r) => Some(msg::rule_rec(&r)),
                    _ => None,
                })
                .await?;
            for r in &rules {
                classify_rule(r, devs, proto, &mut snap);
            }
        }
    }
    Ok(snap)
}

/// Which neighbour state bits mean "usable" for a local learn.
pub fn usable(state: Nud) -> bool {
    state.0 & (Nud::REACHABLE.0 | Nud::STALE.0 | Nud::DELAY.0 | Nud::PROBE.0) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use evpn_proto::Mac;

    fn devs() -> DevMap {
        let mut d = DevMap::default();
        let v = Vni::new(100).unwrap();
        d.vxlan.insert(5, v);
        d.bridge.insert(4, v);
        d.by_vni.insert(v, (4, 5));
        d
    }

    fn rec(
        ifindex: u32,
        flags: NeighbourFlags,
        state: u16,
        master: Option<u32>,
        dst: Option<&str>,
    ) -> FdbRec {
        FdbRec {
            ifindex,
            mac: Mac([2, 0, 0, 0, 0, 1]),
            dst: dst.map(|d| d.parse().unwrap()),
            nh_id: None,
            flags,
            state: Nud(state),
            master,
            vlan: None,
            src_vni: None,
        }
    }

    fn owner_of(r: FdbRec, record: &Record) -> Option<(Owner, Option<Value>)> {
        let mut s = Snapshot::default();
        classify_fdb(&r, &devs(), record, &FdbNexthops::default(), &mut s);
        s.entries.into_values().next().map(|x| (x.owner, x.value))
    }

    #[test]
    fn fdb_classification_follows_zebra_marks() {
        let none = Record::default();
        // Our vxlan self entry.
        let r = rec(
            5,
            NeighbourFlags::Own | NeighbourFlags::ExtLearned,
            2,
            None,
            Some("10.0.0.2"),
        );
        assert_eq!(
            owner_of(r, &none),
            Some((
                Owner::Ours,
                Some(Value::VxlanFdb {
                    vtep: "10.0.0.2".parse().unwrap(),
                    sticky: false,
                    nexthop: false
                })
            ))
        );
        // Our bridge entry on the vxlan port.
        let r = rec(5, NeighbourFlags::ExtLearned, 2, Some(4), None);
        assert_eq!(owner_of(r, &none).unwrap().0, Owner::Ours);
        // A host MAC learned on port 6.
        let r = rec(6, NeighbourFlags::empty(), 2, Some(4), None);
        assert_eq!(owner_of(r, &none).unwrap().0, Owner::Learned);
        // An operator's static entry on a host port.
        let r = rec(6, NeighbourFlags::empty(), 0x40, Some(4), None);
        assert_eq!(owner_of(r, &none).unwrap().0, Owner::Foreign);
        // A sticky vxlan entry: ours only if recorded.
        let r = rec(
            5,
            NeighbourFlags::Own | NeighbourFlags::Sticky,
            0x42,
            None,
            Some("10.0.0.2"),
        );
        assert_eq!(owner_of(r.clone(), &none).unwrap().0, Owner::Foreign);
        let mut recd = Record::default();
        recd.sticky
            .insert((Vni::new(100).unwrap(), Mac([2, 0, 0, 0, 0, 1])));
        assert_eq!(owner_of(r, &recd).unwrap().0, Owner::Ours);
        // Multicast list entry without dst: ignored.
        let r = rec(5, NeighbourFlags::Own, 0x80, None, None);
        assert_eq!(owner_of(r, &none), None);
    }
}
