//! The desired kernel state, as evpnd's core publishes it: devices per VNI,
//! remote MACs, flood lists, remote neighbours, router MACs and IP-VRF routes.
//!
//! Everything here is intent, keyed the way the core thinks (VNI, MAC, VTEP,
//! prefix), never by ifindex. [`crate::plan`] projects it onto kernel entries
//! and diffs those against what the kernel holds.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use evpn_proto::{Mac, Vni};
use ipnetwork::IpNetwork;

/// The UDP port IANA assigned to VXLAN (RFC 7348 §5).
pub const VXLAN_PORT: u16 = 4789;

/// The IANA VRRP/anycast-gateway MAC evpnd uses by default (RFC 5798 §7.3).
pub const DEFAULT_GATEWAY_MAC: Mac = Mac([0x00, 0x00, 0x5e, 0x00, 0x01, 0x01]);

/// The protocol number stamped on every neighbour (`NDA_PROTOCOL`), route
/// (`rtm_protocol`) and rule (`FRA_PROTOCOL`) evpnd writes; it is how
/// reconciliation tells ours from the operator's and from other daemons'
/// (zebra uses 11, bird 12, `proto bgp` is 186; FRR's rt_protos.d claims
/// 186–198, e.g. 196 = its staticd).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolId(pub u8);

impl ProtocolId {
    /// Unassigned in iproute2's `rt_protos` and FRR's `rt_protos.d`;
    /// configurable for sites that use it.
    pub const EVPND: ProtocolId = ProtocolId(201);
}

impl Default for ProtocolId {
    fn default() -> Self {
        ProtocolId::EVPND
    }
}

/// Where the anycast gateway address and MAC live.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SviMode {
    /// On the bridge itself: the bridge's MAC becomes the gateway MAC. The
    /// simplest form; the bridge answers ARP for the gateway with its own MAC.
    #[default]
    Bridge,
    /// On a macvlan (mode private) stacked on the bridge, so the bridge keeps
    /// its own MAC. Needs `arp_ignore=1` on the bridge, or the bridge also
    /// answers ARP for the gateway address with its own MAC ("ARP flux").
    Macvlan { name: String },
}

/// The anycast gateway of one L2 VNI: the same IPs and MAC on every leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnycastGateway {
    pub mac: Mac,
    /// Gateway addresses with the subnet prefix length (`10.1.0.1/24`).
    pub addrs: Vec<IpNetwork>,
    pub svi: SviMode,
}

/// One L2 VNI (a MAC-VRF): a bridge and a VXLAN device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L2Vni {
    pub vni: Vni,
    pub bridge: String,
    pub vxlan: String,
    /// The local VTEP address (`local` of the VXLAN device), IPv4 or IPv6.
    pub local_vtep: IpAddr,
    pub dstport: u16,
    /// Explicit bridge MAC. Without one the bridge takes the lowest port MAC
    /// and changes it when ports come and go.
    pub bridge_mac: Option<Mac>,
    /// Overlay MTU set on the bridge and VXLAN device.
    pub mtu: Option<u32>,
    /// `neigh_suppress on` on the VXLAN port: the bridge answers ARP/ND from
    /// the remote neighbour entries instead of flooding them.
    pub arp_suppress: bool,
    /// Data-plane learning (flood and learn): the VXLAN device learns
    /// remote MAC → VTEP and the bridge learns MACs behind the VXLAN port.
    /// For VNIs without a control plane (static flood lists); with BGP
    /// remote MACs come from routes and learning stays off.
    pub learning: bool,
    /// Remote MACs point at a per-VTEP FDB nexthop group (`nhid`) instead
    /// of carrying `dst VTEP` each (see [`crate::nl::nexthop`]): no per-MAC
    /// route cache in the kernel, a third less kernel time per MAC, and a
    /// move only swaps a pointer. `bridge fdb` then shows `nhid G`, `ip
    /// nexthop` the VTEP. Not for single-VXLAN-device VNIs.
    pub fdb_nexthops: bool,
    pub gateway: Option<AnycastGateway>,
    /// The IP-VRF (by L3 VNI) this VNI routes in.
    pub l3vni: Option<Vni>,
    /// Single-VXLAN-device mode: this VNI is VLAN `vlan` of the shared
    /// [`Svd`] bridge and VXLAN device (`bridge`/`vxlan` name them). Remote
    /// MACs and flood lists are supported there; remote neighbours and the
    /// anycast gateway need a VLAN SVI, which this crate does not create yet.
    pub vlan: Option<u16>,
}

impl L2Vni {
    /// The conventional names `br<VNI>` / `vxlan<VNI>`, port 4789.
    pub fn new(vni: Vni, local_vtep: IpAddr) -> L2Vni {
        L2Vni {
            vni,
            bridge: format!("br{vni}"),
            vxlan: format!("vxlan{vni}"),
            local_vtep,
            dstport: VXLAN_PORT,
            bridge_mac: None,
            mtu: None,
            arp_suppress: true,
            learning: false,
            fdb_nexthops: false,
            gateway: None,
            l3vni: None,
            vlan: None,
        }
    }

    /// A VNI carried as `vlan` on the single VXLAN device `svd`.
    pub fn on_svd(vni: Vni, vlan: u16, svd: &Svd) -> L2Vni {
        L2Vni {
            bridge: svd.bridge.clone(),
            vxlan: svd.vxlan.clone(),
            dstport: svd.dstport,
            vlan: Some(vlan),
            ..L2Vni::new(vni, svd.local_vtep)
        }
    }

    /// The device that carries the gateway address and answers for the
    /// gateway MAC (the SVI).
    pub fn svi_name(&self) -> &str {
        match &self.gateway {
            Some(AnycastGateway {
                svi: SviMode::Macvlan { name },
                ..
            }) => name,
            _ => &self.bridge,
        }
    }
}

/// Single-VXLAN-device mode: one `external vnifilter` VXLAN device on one
/// VLAN-filtering bridge carries every VNI that has a `vlan` (VLAN ↔ VNI
/// through the port's `vlan_tunnel` mapping). Needs a kernel with bridge
/// VLAN filtering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Svd {
    pub bridge: String,
    pub vxlan: String,
    pub local_vtep: IpAddr,
    pub dstport: u16,
    pub bridge_mac: Option<Mac>,
}

/// How an IP-VRF is built in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L3Backend {
    /// A `vrf` device bound to the table; SVIs and the L3 VNI bridge are
    /// enslaved to it (production kernels).
    VrfDevice,
    /// A plain routing table plus `ip rule iif <svi> lookup <table>` per
    /// member interface (kernels without the vrf driver).
    TableRule,
}

impl fmt::Display for L3Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            L3Backend::VrfDevice => "vrf device",
            L3Backend::TableRule => "table + ip rule",
        })
    }
}

/// Backend selection: automatic (probe the kernel for the vrf driver) or forced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BackendChoice {
    #[default]
    Auto,
    Force(L3Backend),
}

/// One IP-VRF with its L3 VNI (symmetric IRB, RFC 9135): a bridge and VXLAN
/// device carrying routed traffic, a routing table, and either a VRF device
/// or rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L3Vni {
    pub vni: Vni,
    /// The VRF name (the vrf device's name with backend A).
    pub name: String,
    pub table: u32,
    pub bridge: String,
    pub vxlan: String,
    pub local_vtep: IpAddr,
    pub dstport: u16,
    /// Our router MAC (RFC 9135 §8.1): the L3 VNI bridge's MAC. Remote VTEPs
    /// send routed packets to it.
    pub router_mac: Mac,
    pub mtu: Option<u32>,
    /// Priority of the `ip rule`s of backend B.
    pub rule_priority: u32,
}

impl L3Vni {
    pub fn new(vni: Vni, name: &str, table: u32, local_vtep: IpAddr, router_mac: Mac) -> L3Vni {
        L3Vni {
            vni,
            name: name.to_string(),
            table,
            bridge: format!("br{vni}"),
            vxlan: format!("vxlan{vni}"),
            local_vtep,
            dstport: VXLAN_PORT,
            router_mac,
            mtu: None,
            rule_priority: 1000,
        }
    }
}

/// A MAC learned behind a remote VTEP (RT-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RemoteMac {
    pub vtep: IpAddr,
    /// RFC 7432 §15.2 sticky (or a default-gateway MAC): written `static
    /// sticky`, so the bridge never moves it to a local port.
    pub sticky: bool,
}

/// The whole desired state, published by the core with a generation number.
/// Reconciliation makes the kernel match it; the [`Report`](crate::Report)
/// carries the generation back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Intent {
    pub generation: u64,
    pub l2vnis: BTreeMap<Vni, L2Vni>,
    pub l3vnis: BTreeMap<Vni, L3Vni>,
    /// The single VXLAN device, when some L2 VNIs use that mode.
    pub svd: Option<Svd>,
    /// Remote MACs per L2 VNI.
    pub remote_macs: BTreeMap<(Vni, Mac), RemoteMac>,
    /// Ingress-replication flood list (RT-3): remote VTEPs per L2 VNI.
    pub flood: BTreeSet<(Vni, IpAddr)>,
    /// Remote MAC+IP (RT-2) per L2 VNI, for ARP/ND suppression.
    pub remote_neighs: BTreeMap<(Vni, IpAddr), Mac>,
    /// Router MAC of each remote VTEP per L3 VNI (RFC 9135 Router's MAC
    /// extended community).
    pub router_macs: BTreeMap<(Vni, IpAddr), Mac>,
    /// IP-VRF routes per L3 VNI: host /32 and /128 (RT-2 with L3 VNI) and
    /// RT-5 prefixes, each via a remote VTEP.
    pub routes: BTreeMap<(Vni, IpNetwork), IpAddr>,
    /// Graceful restart (RFC 4724 restarting speaker, forwarding state
    /// preserved): a reconcile of this intent adds and replaces but keeps
    /// the entries we own that it lacks (stale: the remote routes are not
    /// back yet). The next reconcile without the flag sweeps them.
    pub keep_stale: bool,
}

/// One incremental change to the [`Intent`], for the fast path: the daemon
/// pushes a single moved MAC without a full diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    RemoteMac {
        vni: Vni,
        mac: Mac,
        to: Option<RemoteMac>,
    },
    Flood {
        vni: Vni,
        vtep: IpAddr,
        present: bool,
    },
    RemoteNeigh {
        vni: Vni,
        ip: IpAddr,
        mac: Option<Mac>,
    },
    RouterMac {
        l3vni: Vni,
        vtep: IpAddr,
        mac: Option<Mac>,
    },
    Route {
        l3vni: Vni,
        prefix: IpNetwork,
        vtep: Option<IpAddr>,
    },
}

impl Intent {
    /// Applies one change; the generation is the caller's to bump.
    pub fn apply(&mut self, change: &Change) {
        match change {
            Change::RemoteMac { vni, mac, to } => match to {
                Some(r) => {
                    self.remote_macs.insert((*vni, *mac), *r);
                }
                None => {
                    self.remote_macs.remove(&(*vni, *mac));
                }
            },
            Change::Flood { vni, vtep, present } => {
                if *present {
                    self.flood.insert((*vni, *vtep));
                } else {
                    self.flood.remove(&(*vni, *vtep));
                }
            }
            Change::RemoteNeigh { vni, ip, mac } => match mac {
                Some(m) => {
                    self.remote_neighs.insert((*vni, *ip), *m);
                }
                None => {
                    self.remote_neighs.remove(&(*vni, *ip));
                }
            },
            Change::RouterMac { l3vni, vtep, mac } => match mac {
                Some(m) => {
                    self.router_macs.insert((*l3vni, *vtep), *m);
                }
                None => {
                    self.router_macs.remove(&(*l3vni, *vtep));
                }
            },
            Change::Route {
                l3vni,
                prefix,
                vtep,
            } => match vtep {
                Some(v) => {
                    self.routes.insert((*l3vni, *prefix), *v);
                }
                None => {
                    self.routes.remove(&(*l3vni, *prefix));
                }
            },
        }
    }
}

/// VXLAN encapsulation overhead counted against the underlay MTU: outer IP
/// (20 or 40) + UDP 8 + VXLAN 8 + the inner Ethernet header 14 = 50 bytes
/// over IPv4, 70 over IPv6 (RFC 7348 §4.3: VTEPs must not fragment, so the
/// underlay has to carry it whole).
pub fn vxlan_overhead(underlay: IpAddr) -> u32 {
    match underlay {
        IpAddr::V4(_) => 50,
        IpAddr::V6(_) => 70,
    }
}

/// The MTU check: `Some(warning)` when an underlay device of `underlay_mtu`
/// cannot carry a full overlay packet of `overlay_mtu` plus the VXLAN
/// overhead.
pub fn mtu_warning(
    what: &str,
    overlay_mtu: u32,
    underlay_dev: &str,
    underlay_mtu: u32,
    vtep: IpAddr,
) -> Option<String> {
    let needed = overlay_mtu + vxlan_overhead(vtep);
    (underlay_mtu < needed).then(|| {
        format!(
            "{what}: overlay MTU {overlay_mtu} needs underlay MTU >= {needed} towards {vtep} \
             ({} bytes VXLAN overhead over {}), but {underlay_dev} has {underlay_mtu}",
            vxlan_overhead(vtep),
            if vtep.is_ipv4() { "IPv4" } else { "IPv6" }
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn vni(v: u32) -> Vni {
        Vni::new(v).unwrap()
    }

    #[test]
    fn mtu_check_warns_only_when_underlay_is_too_small() {
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        let v6: IpAddr = "fd00::2".parse().unwrap();
        // 1500 overlay over IPv4 needs 1500 + 20 + 8 + 8 + 14 = 1550.
        assert!(mtu_warning("vxlan100", 1500, "eth0", 1550, v4).is_none());
        let w = mtu_warning("vxlan100", 1500, "eth0", 1549, v4).unwrap();
        assert!(w.contains("needs underlay MTU >= 1550"), "{w}");
        // IPv6 underlay: 1570.
        assert!(mtu_warning("vxlan100", 1500, "eth0", 1570, v6).is_none());
        assert!(mtu_warning("vxlan100", 1500, "eth0", 1569, v6).is_some());
        // The usual 1450 overlay on a 1500 underlay fits IPv4, not IPv6.
        assert!(mtu_warning("vxlan100", 1450, "eth0", 1500, v4).is_none());
        assert!(mtu_warning("vxlan100", 1450, "eth0", 1500, v6).is_some());
    }

    #[test]
    fn changes_update_the_intent_by_key() {
        let mut i = Intent::default();
        let mac = Mac([2, 0, 0, 0, 0, 1]);
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3));
        i.apply(&Change::RemoteMac {
            vni: vni(100),
            mac,
            to: Some(RemoteMac {
                vtep: a,
                sticky: false,
            }),
        });
        i.apply(&Change::RemoteMac {
            vni: vni(100),
            mac,
            to: Some(RemoteMac {
                vtep: b,
                sticky: false,
            }),
        });
        assert_eq!(i.remote_macs[&(vni(100), mac)].vtep, b);
        i.apply(&Change::Flood {
            vni: vni(100),
            vtep: a,
            present: true,
        });
        i.apply(&Change::Flood {
            vni: vni(100),
            vtep: a,
            present: false,
        });
        assert!(i.flood.is_empty());
        i.apply(&Change::RemoteMac {
            vni: vni(100),
            mac,
            to: None,
        });
        assert!(i.remote_macs.is_empty());
    }
}
