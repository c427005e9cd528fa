//! Kernel entries as evpnd writes them, and the projection of an [`Intent`]
//! onto them.
//!
//! One intent item becomes one or more kernel entries, the way FRR's zebra
//! writes them (see the crate docs): a remote MAC is a bridge FDB entry on the
//! VXLAN port *and* a VXLAN FDB entry with the remote VTEP; a router MAC is a
//! neighbour plus the same two FDB entries on the L3 VNI's devices. Entries
//! are keyed by VNI and address, never by ifindex, so a plan can be computed
//! and tested without a kernel.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use evpn_proto::{Mac, Vni};
use ipnetwork::IpNetwork;

use crate::model::{Change, Intent, L3Backend, L3Vni};

/// Identity of one kernel entry. Ordering is the apply order for adds: flood
/// lists, then VXLAN FDB (so the bridge never forwards to a VXLAN entry
/// without a destination), bridge FDB, neighbours, routes, rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Key {
    /// `00:00:00:00:00:00 dev <vxlan> dst VTEP self permanent`: one per
    /// remote VTEP, added with `NLM_F_APPEND` (RT-3 ingress replication).
    Flood { vni: Vni, vtep: IpAddr },
    /// `MAC dev <vxlan> dst VTEP self extern_learn` (NTF_SELF), or `nhid G`
    /// (an FDB nexthop group leading to VTEP) instead of `dst VTEP`.
    VxlanFdb { vni: Vni, mac: Mac },
    /// `MAC dev <vxlan> extern_learn master <bridge>` (NTF_MASTER): the
    /// bridge's entry pointing at the VXLAN port.
    BridgeFdb { vni: Vni, mac: Mac },
    /// `IP lladdr MAC dev <bridge> extern_learn NOARP proto <ours>`; on an L2
    /// VNI bridge for ARP/ND suppression, on an L3 VNI bridge for the
    /// router MAC of a remote VTEP.
    Neigh { vni: Vni, ip: IpAddr },
    /// A route in the table of an L3 VNI.
    Route { l3vni: Vni, prefix: IpNetwork },
    /// `unreachable default metric 4278198272` in an L3 VNI's table, as a VRF
    /// table has, so a miss never falls through to the main table.
    Unreachable { l3vni: Vni, v6: bool },
    /// `ip rule iif DEV lookup TABLE` (L3 backend B).
    Rule { l3vni: Vni, iif: String, v6: bool },
}

/// Value of one kernel entry: what a replace changes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Flood,
    /// `nexthop`: written as `nhid` of the VTEP's FDB nexthop group
    /// ([`L2Vni::fdb_nexthops`](crate::L2Vni::fdb_nexthops)).
    VxlanFdb {
        vtep: IpAddr,
        sticky: bool,
        nexthop: bool,
    },
    BridgeFdb {
        sticky: bool,
    },
    Neigh {
        mac: Mac,
    },
    Route(RouteVia),
    Unreachable,
    Rule {
        table: u32,
        priority: u32,
    },
}

/// Where a route in an IP-VRF goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RouteVia {
    /// `via VTEP dev <l3 bridge> onlink`; IPv6 prefixes over an IPv4 VTEP use
    /// the IPv4-mapped gateway `::ffff:VTEP`, as zebra does.
    Vtep(IpAddr),
    /// A copy of a member SVI's connected subnet (`dev SVI scope link`),
    /// which backend B needs because the kernel puts connected routes only in
    /// the main table.
    Connected(String),
}

impl Value {
    /// The VTEP of a VXLAN entry written as `nhid` of its FDB nexthop group.
    pub fn nexthop_vtep(&self) -> Option<IpAddr> {
        match self {
            Value::VxlanFdb {
                vtep,
                nexthop: true,
                ..
            } => Some(*vtep),
            _ => None,
        }
    }
}

impl Key {
    /// The L2 or L3 VNI whose devices hold this entry.
    pub fn vni(&self) -> Vni {
        match self {
            Key::Flood { vni, .. }
            | Key::VxlanFdb { vni, .. }
            | Key::BridgeFdb { vni, .. }
            | Key::Neigh { vni, .. } => *vni,
            Key::Route { l3vni, .. } | Key::Unreachable { l3vni, .. } | Key::Rule { l3vni, .. } => {
                *l3vni
            }
        }
    }

    /// Deletes run in the reverse of this order.
    pub(crate) fn stage(&self) -> u8 {
        match self {
            Key::Flood { .. } => 0,
            Key::VxlanFdb { .. } => 1,
            Key::BridgeFdb { .. } => 2,
            Key::Neigh { .. } => 3,
            Key::Unreachable { .. } => 4,
            Key::Route { .. } => 5,
            Key::Rule { .. } => 6,
        }
    }
}

/// Renders an entry the way `bridge fdb` / `ip neigh` / `ip route` would
/// name it; device names come from the caller (`None` → "vni N").
pub fn describe(key: &Key, value: Option<&Value>, dev: &dyn Fn(&Key) -> String) -> String {
    let on = dev(key);
    match (key, value) {
        (Key::Flood { vtep, .. }, _) => format!("flood 00:00:00:00:00:00 dst {vtep} on {on}"),
        (
            Key::VxlanFdb { mac, .. },
            Some(Value::VxlanFdb {
                vtep,
                sticky,
                nexthop,
            }),
        ) => {
            let via = if *nexthop { "nhid of" } else { "dst" };
            format!("fdb {mac} {via} {vtep} self{} on {on}", sticky_str(*sticky))
        }
        (Key::VxlanFdb { mac, .. }, _) => format!("fdb {mac} self on {on}"),
        (Key::BridgeFdb { mac, .. }, Some(Value::BridgeFdb { sticky })) => {
            format!("fdb {mac}{} master on {on}", sticky_str(*sticky))
        }
        (Key::BridgeFdb { mac, .. }, _) => format!("fdb {mac} master on {on}"),
        (Key::Neigh { ip, .. }, Some(Value::Neigh { mac })) => {
            format!("neigh {ip} lladdr {mac} on {on}")
        }
        (Key::Neigh { ip, .. }, _) => format!("neigh {ip} on {on}"),
        (Key::Route { prefix, .. }, Some(Value::Route(RouteVia::Vtep(v)))) => {
            format!("route {prefix} via {v} onlink in {on}")
        }
        (Key::Route { prefix, .. }, Some(Value::Route(RouteVia::Connected(d)))) => {
            format!("route {prefix} dev {d} in {on}")
        }
        (Key::Route { prefix, .. }, _) => format!("route {prefix} in {on}"),
        (Key::Unreachable { v6, .. }, _) => {
            format!(
                "route unreachable {} in {on}",
                if *v6 { "::/0" } else { "0.0.0.0/0" }
            )
        }
        (Key::Rule { iif, v6, .. }, Some(Value::Rule { table, priority })) => format!(
            "rule {}iif {iif} lookup {table} pref {priority}",
            if *v6 { "-6 " } else { "" }
        ),
        (Key::Rule { iif, v6, .. }, _) => {
            format!("rule {}iif {iif} for {on}", if *v6 { "-6 " } else { "" })
        }
    }
}

fn sticky_str(sticky: bool) -> &'static str {
    if sticky {
        " sticky static"
    } else {
        " extern_learn"
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&describe(self, None, &|k| format!("vni {}", k.vni())))
    }
}

/// The gateway written for a route to `vtep`: IPv6 routes over an IPv4
/// underlay use the IPv4-mapped address (zebra does the same), and the
/// router-MAC neighbour is installed for that address too.
pub fn gateway_for(prefix: &IpNetwork, vtep: IpAddr) -> IpAddr {
    match (prefix, vtep) {
        (IpNetwork::V6(_), IpAddr::V4(v4)) => IpAddr::V6(v4.to_ipv6_mapped()),
        _ => vtep,
    }
}

/// The desired kernel entries for an intent.
pub type Entries = BTreeMap<Key, Value>;

/// Where [`project_item`] puts entries: a map (whole intents), or a list
/// (the incremental path, which diffs item by item).
pub trait Sink {
    fn put(&mut self, key: Key, value: Value);
}

impl Sink for Entries {
    fn put(&mut self, key: Key, value: Value) {
        self.insert(key, value);
    }
}

impl Sink for Vec<(Key, Value)> {
    fn put(&mut self, key: Key, value: Value) {
        self.push((key, value));
    }
}

/// One item of the intent: the unit of the incremental path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Item {
    RemoteMac(Vni, Mac),
    Flood(Vni, IpAddr),
    RemoteNeigh(Vni, IpAddr),
    RouterMac(Vni, IpAddr),
    Route(Vni, IpNetwork),
}

impl Item {
    /// The item a change touches.
    pub fn of(change: &Change) -> Item {
        match change {
            Change::RemoteMac { vni, mac, .. } => Item::RemoteMac(*vni, *mac),
            Change::Flood { vni, vtep, .. } => Item::Flood(*vni, *vtep),
            Change::RemoteNeigh { vni, ip, .. } => Item::RemoteNeigh(*vni, *ip),
            Change::RouterMac { l3vni, vtep, .. } => Item::RouterMac(*l3vni, *vtep),
            Change::Route { l3vni, prefix, .. } => Item::Route(*l3vni, *prefix),
        }
    }
}

/// The kernel entries of one intent item (empty when the item is absent or
/// its VNI is not configured).
pub fn project_item(intent: &Intent, item: &Item, out: &mut impl Sink) {
    match item {
        Item::RemoteMac(vni, mac) => {
            if let (Some(l2), Some(r)) = (
                intent.l2vnis.get(vni),
                intent.remote_macs.get(&(*vni, *mac)),
            ) {
                let nexthop = l2.fdb_nexthops && l2.vlan.is_none();
                remote_mac_entries(out, *vni, *mac, r.vtep, r.sticky, nexthop);
            }
        }
        Item::Flood(vni, vtep) => {
            if intent.l2vnis.contains_key(vni) && intent.flood.contains(&(*vni, *vtep)) {
                out.put(
                    Key::Flood {
                        vni: *vni,
                        vtep: *vtep,
                    },
                    Value::Flood,
                );
            }
        }
        Item::RemoteNeigh(vni, ip) => {
            if let (true, Some(mac)) = (
                intent.l2vnis.get(vni).is_some_and(|v| v.vlan.is_none()),
                intent.remote_neighs.get(&(*vni, *ip)),
            ) {
                out.put(
                    Key::Neigh { vni: *vni, ip: *ip },
                    Value::Neigh { mac: *mac },
                );
            }
        }
        Item::RouterMac(l3vni, vtep) => {
            if let (true, Some(mac)) = (
                intent.l3vnis.contains_key(l3vni),
                intent.router_macs.get(&(*l3vni, *vtep)),
            ) {
                // Router MAC: the remote VTEP's address resolves to its
                // router MAC on the L3 VNI bridge, and that MAC is reached
                // through the L3 VNI's VXLAN device (RFC 9135 §8.1).
                remote_mac_entries(out, *l3vni, *mac, *vtep, false, false);
                out.put(
                    Key::Neigh {
                        vni: *l3vni,
                        ip: *vtep,
                    },
                    Value::Neigh { mac: *mac },
                );
                if let IpAddr::V4(v4) = vtep {
                    out.put(
                        Key::Neigh {
                            vni: *l3vni,
                            ip: IpAddr::V6(v4.to_ipv6_mapped()),
                        },
                        Value::Neigh { mac: *mac },
                    );
                }
            }
        }
        Item::Route(l3vni, prefix) => {
            // A member SVI's own subnet stays connected: a remote RT-5 for
            // it (every leaf with the same anycast gateway advertises it
            // with `advertise_connected`) must not replace the connected
            // route, and its withdrawal must not delete it.
            if let (true, Some(vtep), false) = (
                intent.l3vnis.contains_key(l3vni),
                intent.routes.get(&(*l3vni, *prefix)),
                is_member_subnet(intent, *l3vni, prefix),
            ) {
                out.put(
                    Key::Route {
                        l3vni: *l3vni,
                        prefix: *prefix,
                    },
                    Value::Route(RouteVia::Vtep(gateway_for(prefix, *vtep))),
                );
            }
        }
    }
}

/// Is `prefix` the subnet of an anycast gateway address of an L2 VNI that
/// routes in `l3vni` (a connected route of the IP-VRF)?
pub fn is_member_subnet(intent: &Intent, l3vni: Vni, prefix: &IpNetwork) -> bool {
    intent
        .l2vnis
        .values()
        .filter(|l2| l2.l3vni == Some(l3vni))
        .flat_map(|l2| l2.gateway.iter().flat_map(|g| g.addrs.iter()))
        .any(|a| a.prefix() == prefix.prefix() && a.network() == prefix.network())
}

/// The per-VRF entries that follow from configuration rather than routes:
/// unreachable defaults, and for backend B the rules and connected copies.
fn project_l3vni_config(intent: &Intent, l3: &L3Vni, backend: L3Backend, out: &mut Entries) {
    let l3vni = l3.vni;
    out.insert(Key::Unreachable { l3vni, v6: false }, Value::Unreachable);
    out.insert(Key::Unreachable { l3vni, v6: true }, Value::Unreachable);
    if backend != L3Backend::TableRule {
        return;
    }
    let mut iifs = vec![l3.bridge.clone()];
    for l2 in intent.l2vnis.values().filter(|l2| l2.l3vni == Some(l3vni)) {
        iifs.push(l2.svi_name().to_string());
        for addr in l2.gateway.iter().flat_map(|g| g.addrs.iter()) {
            if let Ok(net) = IpNetwork::new(addr.network(), addr.prefix()) {
                out.insert(
                    Key::Route { l3vni, prefix: net },
                    Value::Route(RouteVia::Connected(l2.svi_name().to_string())),
                );
            }
        }
    }
    for iif in iifs {
        for v6 in [false, true] {
            out.insert(
                Key::Rule {
                    l3vni,
                    iif: iif.clone(),
                    v6,
                },
                Value::Rule {
                    table: l3.table,
                    priority: l3.rule_priority,
                },
            );
        }
    }
}

/// Projects the whole intent onto kernel entries. `backend` decides whether
/// rules and connected-route copies are part of an IP-VRF.
pub fn project(intent: &Intent, backend: L3Backend) -> Entries {
    let mut out = Entries::new();
    let items = intent
        .flood
        .iter()
        .map(|(v, t)| Item::Flood(*v, *t))
        .chain(
            intent
                .remote_macs
                .keys()
                .map(|(v, m)| Item::RemoteMac(*v, *m)),
        )
        .chain(
            intent
                .remote_neighs
                .keys()
                .map(|(v, i)| Item::RemoteNeigh(*v, *i)),
        )
        .chain(
            intent
                .router_macs
                .keys()
                .map(|(v, i)| Item::RouterMac(*v, *i)),
        )
        .chain(intent.routes.keys().map(|(v, p)| Item::Route(*v, *p)));
    for l3 in intent.l3vnis.values() {
        project_l3vni_config(intent, l3, backend, &mut out);
    }
    for item in items {
        project_item(intent, &item, &mut out);
    }
    out
}

fn remote_mac_entries(
    out: &mut impl Sink,
    vni: Vni,
    mac: Mac,
    vtep: IpAddr,
    sticky: bool,
    nexthop: bool,
) {
    out.put(
        Key::VxlanFdb { vni, mac },
        Value::VxlanFdb {
            vtep,
            sticky,
            nexthop,
        },
    );
    out.put(Key::BridgeFdb { vni, mac }, Value::BridgeFdb { sticky });
}

/// The unspecified address of a family, for default routes.
pub fn default_prefix(v6: bool) -> IpNetwork {
    if v6 {
        IpNetwork::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)
    } else {
        IpNetwork::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
    }
    .unwrap_or_else(|_| unreachable!("prefix length 0 is valid for both families"))
}
