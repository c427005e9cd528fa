//! EVPN instances as the core runs them, derived once from the config:
//! a MAC-VRF per L2 VNI and an IP-VRF per L3 VNI, with their RDs and route
//! targets resolved (auto-derived where not configured) and the kernel
//! objects (`netlink_glue::L2Vni` / `L3Vni`) they need.

use std::net::{IpAddr, Ipv4Addr};

use evpn_proto::{Mac, Rd, RouteTarget, Vni};
use ipnetwork::IpNetwork;
use netlink_glue::{AnycastGateway, L2Vni, L3Vni, Svd, SviMode};

use crate::config::{AutoRt, Config, Flooding, Freeze};

/// One MAC-VRF (RFC 7432 §6: one broadcast domain per EVI, VLAN-based
/// service, EVI = VNI as in RFC 8365 §5.1.2).
#[derive(Debug, Clone, PartialEq)]
pub struct MacVrfCfg {
    pub vni: Vni,
    pub rd: Rd,
    pub import_rts: Vec<RouteTarget>,
    pub export_rts: Vec<RouteTarget>,
    pub flooding: Flooding,
    pub static_vteps: Vec<IpAddr>,
    /// The L3 VNI of the IP-VRF this VNI routes in (symmetric IRB).
    pub l3vni: Option<Vni>,
    pub kernel: L2Vni,
}

impl MacVrfCfg {
    pub fn bridge(&self) -> &str {
        &self.kernel.bridge
    }
    pub fn svi(&self) -> &str {
        self.kernel.svi_name()
    }
    pub fn gateway(&self) -> Option<&AnycastGateway> {
        self.kernel.gateway.as_ref()
    }
    pub fn gateway_mac(&self) -> Option<Mac> {
        self.gateway().map(|g| g.mac)
    }
    /// True for one of the anycast gateway's own addresses.
    pub fn is_gateway_ip(&self, ip: IpAddr) -> bool {
        self.gateway()
            .is_some_and(|g| g.addrs.iter().any(|a| a.ip() == ip))
    }
    /// The gateway address to probe `ip` from (same family).
    pub fn gateway_for(&self, ip: IpAddr) -> Option<IpAddr> {
        self.gateway()?
            .addrs
            .iter()
            .map(|a| a.ip())
            .find(|a| a.is_ipv4() == ip.is_ipv4())
    }
}

/// Host-route export of one IP-VRF to core peers.
#[derive(Debug, Clone, PartialEq)]
pub struct HostExport {
    pub peers: Vec<IpAddr>,
    /// Empty: every host address.
    pub prefixes: Vec<IpNetwork>,
}

impl HostExport {
    pub fn allows(&self, ip: IpAddr) -> bool {
        self.prefixes.is_empty() || self.prefixes.iter().any(|p| p.contains(ip))
    }
}

/// One IP-VRF (RFC 9135 symmetric IRB, RFC 9136 RT-5).
#[derive(Debug, Clone, PartialEq)]
pub struct IpVrfCfg {
    pub name: String,
    pub l3vni: Vni,
    pub rd: Rd,
    pub import_rts: Vec<RouteTarget>,
    pub export_rts: Vec<RouteTarget>,
    pub router_mac: Mac,
    /// Originated as RT-5: configured prefixes, plus the member VNIs'
    /// gateway subnets with `advertise_connected`.
    pub prefixes: Vec<IpNetwork>,
    pub host_export: Option<HostExport>,
    pub kernel: L3Vni,
}

/// Duplicate address detection (RFC 7432 §15.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DadCfg {
    pub enabled: bool,
    pub max_moves: u32,
    pub window: std::time::Duration,
    /// `None`: frozen until `evpnctl clear dad`.
    pub freeze: Option<std::time::Duration>,
}

/// Everything EVPN needs from the config.
#[derive(Debug, Clone, PartialEq)]
pub struct EvpnCfg {
    pub router_id: Ipv4Addr,
    pub asn: u32,
    pub local_vtep: IpAddr,
    pub advertise_default_gateway: bool,
    pub dad: DadCfg,
    pub svd: Option<Svd>,
    pub l2: Vec<MacVrfCfg>,
    pub l3: Vec<IpVrfCfg>,
}

/// Auto RD (RFC 7432 §7.9): type 1, router-id : a per-instance index.
pub fn auto_rd(router_id: Ipv4Addr, index: u16) -> Rd {
    Rd::Ip {
        ip: router_id,
        number: index,
    }
}

/// Auto RT: `ASN:VNI` with a 2-octet AS (a 4-octet ASN contributes its
/// low 16 bits, as FRR does), or the RFC 8365 §5.1.2.1 form whose local
/// administrator is A(1 bit, 0 = auto) | Type(3 bits, 1 = VXLAN) | D-ID(4
/// bits, 0) | Service ID (24 bits, the VNI).
pub fn auto_rt(form: AutoRt, asn: u32, vni: Vni) -> RouteTarget {
    let asn = (asn & 0xffff) as u16;
    match form {
        AutoRt::AsnVni => RouteTarget::As2 {
            asn,
            local: vni.get(),
        },
        AutoRt::Rfc8365 => RouteTarget::As2 {
            asn,
            local: (1 << 28) | vni.get(),
        },
    }
}

/// A locally administered router MAC derived from the router id, when the
/// VRF does not configure one: `02:00:` + the four octets.
pub fn auto_router_mac(router_id: Ipv4Addr) -> Mac {
    let o = router_id.octets();
    Mac([0x02, 0x00, o[0], o[1], o[2], o[3]])
}

fn rts(list: &[String], auto: RouteTarget) -> Vec<RouteTarget> {
    let parsed: Vec<RouteTarget> = list.iter().filter_map(|s| s.parse().ok()).collect();
    if parsed.is_empty() {
        vec![auto]
    } else {
        parsed
    }
}

impl EvpnCfg {
    /// Derive the instances. The config was validated, so invalid VNIs or
    /// RTs cannot occur; they are skipped rather than trusted.
    pub fn from_config(config: &Config) -> EvpnCfg {
        let g = &config.global;
        let router_id = g.router_id.0;
        let local_vtep = g.vtep_address.map_or(IpAddr::V4(router_id), |a| a.0);
        let dad = &g.duplicate_detection;
        let svd = g.svd.as_ref().map(|s| Svd {
            bridge: s.bridge.clone(),
            vxlan: s.vxlan.clone(),
            local_vtep,
            dstport: g.vxlan_port,
            bridge_mac: None,
        });
        let mut l3 = Vec::new();
        let base = config.vnis.len();
        for (i, v) in config.vrfs.iter().enumerate() {
            let Some(vni) = Vni::new(v.l3vni) else {
                continue;
            };
            let router_mac = v.router_mac.map_or(auto_router_mac(router_id), |m| m.0);
            let index = u16::try_from(base + i + 1).unwrap_or(u16::MAX);
            let mut kernel = L3Vni::new(
                vni,
                &v.name,
                v.table.unwrap_or(vni.get()),
                local_vtep,
                router_mac,
            );
            kernel.dstport = g.vxlan_port;
            let mut prefixes: Vec<IpNetwork> = v.advertise_prefixes.iter().map(|p| p.0).collect();
            if v.advertise_connected {
                for n in config
                    .vnis
                    .iter()
                    .filter(|n| n.vrf.as_ref() == Some(&v.name))
                {
                    if let Some(gw) = &n.anycast_gateway {
                        for a in [gw.ipv4, gw.ipv6].into_iter().flatten() {
                            if let Ok(net) = IpNetwork::new(a.0.network(), a.0.prefix()) {
                                prefixes.push(net);
                            }
                        }
                    }
                }
            }
            l3.push(IpVrfCfg {
                name: v.name.clone(),
                l3vni: vni,
                rd: v.rd.map_or(auto_rd(router_id, index), |r| r.0),
                import_rts: rts(&v.import_rt, auto_rt(g.auto_rt, g.asn, vni)),
                export_rts: rts(&v.export_rt, auto_rt(g.auto_rt, g.asn, vni)),
                router_mac,
                prefixes,
                host_export: v.export_host_routes.as_ref().map(|e| HostExport {
                    peers: e.peers.iter().map(|p| p.0).collect(),
                    prefixes: e.prefixes.iter().map(|p| p.0).collect(),
                }),
                kernel,
            });
        }
        let mut l2 = Vec::new();
        for (i, v) in config.vnis.iter().enumerate() {
            let Some(vni) = Vni::new(v.vni) else {
                continue;
            };
            let index = u16::try_from(i + 1).unwrap_or(u16::MAX);
            let mut kernel = match (v.vlan, &svd) {
                (Some(vlan), Some(s)) => L2Vni::on_svd(vni, vlan, s),
                _ => {
                    let mut k = L2Vni::new(vni, local_vtep);
                    k.bridge = v.bridge.clone();
                    if let Some(x) = &v.vxlan {
                        k.vxlan = x.clone();
                    }
                    k.dstport = g.vxlan_port;
                    k.fdb_nexthops = g.fdb_nexthops;
                    k
                }
            };
            kernel.arp_suppress = v.arp_suppress;
            // No control plane for remote MACs: flood and learn.
            kernel.learning = v.flooding == Flooding::Static;
            let l3vni = v
                .vrf
                .as_ref()
                .and_then(|name| l3.iter().find(|x| &x.name == name))
                .map(|x| x.l3vni);
            kernel.l3vni = l3vni;
            kernel.gateway = v.anycast_gateway.as_ref().map(|gw| AnycastGateway {
                mac: gw.mac.0,
                addrs: [gw.ipv4, gw.ipv6]
                    .into_iter()
                    .flatten()
                    .map(|a| a.0)
                    .collect(),
                svi: SviMode::Bridge,
            });
            l2.push(MacVrfCfg {
                vni,
                rd: v.rd.map_or(auto_rd(router_id, index), |r| r.0),
                import_rts: rts(&v.import_rt, auto_rt(g.auto_rt, g.asn, vni)),
                export_rts: rts(&v.export_rt, auto_rt(g.auto_rt, g.asn, vni)),
                flooding: v.flooding,
                static_vteps: v.static_vteps.iter().map(|a| a.0).collect(),
                l3vni,
                kernel,
            });
        }
        EvpnCfg {
            router_id,
            asn: g.asn,
            local_vtep,
            advertise_default_gateway: g.advertise_default_gateway,
            dad: DadCfg {
                enabled: dad.enabled,
                max_moves: dad.max_moves.max(1),
                window: std::time::Duration::from_secs(u64::from(dad.window.max(1))),
                freeze: match dad.freeze {
                    Freeze::Seconds(s) => Some(std::time::Duration::from_secs(u64::from(s))),
                    Freeze::Permanent => None,
                },
            },
            svd,
            l2,
            l3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_rd_is_router_id_and_index() {
        let rd = auto_rd(Ipv4Addr::new(10, 0, 0, 1), 3);
        assert_eq!(rd.to_string(), "10.0.0.1:3");
    }

    #[test]
    fn auto_rt_is_asn_vni_or_the_rfc8365_form() {
        let vni = Vni::new(10100).unwrap();
        assert_eq!(
            auto_rt(AutoRt::AsnVni, 65000, vni).to_string(),
            "65000:10100"
        );
        // A 4-octet ASN keeps its low 16 bits: 4200000001 & 0xffff = 0x4d01.
        assert_eq!(
            auto_rt(AutoRt::AsnVni, 4_200_000_001, vni).to_string(),
            format!("{}:10100", 4_200_000_001u32 & 0xffff)
        );
        // RFC 8365 §5.1.2.1: Type = 1 (VXLAN) in bits 1..3 of the local
        // administrator → 0x1000_0000 | VNI.
        assert_eq!(
            auto_rt(AutoRt::Rfc8365, 65000, vni),
            RouteTarget::As2 {
                asn: 65000,
                local: 0x1000_0000 + 10100
            }
        );
    }

    #[test]
    fn auto_router_mac_is_locally_administered_and_unique_per_router_id() {
        let a = auto_router_mac(Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(a.to_string(), "02:00:0a:00:00:01");
        assert_ne!(a, auto_router_mac(Ipv4Addr::new(10, 0, 0, 2)));
        assert!(!a.is_multicast());
    }

    #[test]
    fn fdb_nexthops_reaches_every_l2_vni_but_not_the_single_vxlan_device() {
        let src = |on: bool| {
            format!(
                "router_id = \"10.0.0.1\"\nasn = 65000\nfdb_nexthops = {on}\n\
                 svd = {{ bridge = \"br0\", vxlan = \"vxlan0\" }}\n\
                 [[vni]]\nvni = 100\nbridge = \"br100\"\n\
                 [[vni]]\nvni = 200\nbridge = \"br0\"\nvlan = 20\n"
            )
        };
        for on in [false, true] {
            let cfg = Config::parse(std::path::Path::new("t.toml"), &src(on)).unwrap();
            let e = EvpnCfg::from_config(&cfg);
            let k = |v: u32| {
                e.l2.iter()
                    .find(|m| m.vni.get() == v)
                    .map(|m| m.kernel.fdb_nexthops)
                    .unwrap()
            };
            assert_eq!(k(100), on);
            // The single VXLAN device keeps `dst` entries.
            assert!(!k(200));
        }
        // On unless configured off.
        let dflt = src(true).replace("fdb_nexthops = true\n", "");
        let cfg = Config::parse(std::path::Path::new("t.toml"), &dflt).unwrap();
        assert!(EvpnCfg::from_config(&cfg)
            .l2
            .iter()
            .any(|m| m.vni.get() == 100 && m.kernel.fdb_nexthops));
    }
}
