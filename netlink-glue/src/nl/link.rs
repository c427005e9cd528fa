//! Devices: create or adopt the bridge, VXLAN device, anycast-gateway SVI
//! and VRF device of each VNI, and set what EVPN needs on them.
//!
//! Adopting means: a device of the right kind and name that already exists
//! is kept and corrected (master, up, MAC, MTU, port flags). A device with
//! the right name but the wrong kind or VNI is reported and left alone: it
//! may be the operator's.

use std::collections::HashMap;
use std::net::IpAddr;

use evpn_proto::Mac;
use ipnetwork::IpNetwork;
use rtnetlink::packet_route::link::{
    AfSpecBridge, BridgeVlanInfoFlags, BridgeVlanTunnelInfo, InfoData, InfoKind, InfoVxlan,
    LinkAttribute, LinkInfo, LinkMessage, MacVlanMode,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::{
    LinkBridge, LinkBridgePort, LinkBridgeVlan, LinkMacVlan, LinkUnspec, LinkVrf, LinkVxlan,
};

use super::msg::{self, AddrRec, LinkRec, CREATE_EXCL, UPSERT};
use super::socket::NlSocket;
use crate::model::{L2Vni, L3Backend, L3Vni, Svd, SviMode};
use crate::report::{DeviceAction, FailReason};

/// The links of the namespace, by index and name.
#[derive(Debug, Default, Clone)]
pub struct Links {
    pub by_index: HashMap<u32, LinkRec>,
    by_name: HashMap<String, u32>,
}

impl Links {
    pub async fn load(sock: &mut NlSocket) -> Result<Links, String> {
        let recs = sock
            .dump("links", msg::link_dump(), |m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(msg::link_rec(&l)),
                _ => None,
            })
            .await?;
        let mut l = Links::default();
        for r in recs {
            l.insert(r);
        }
        Ok(l)
    }

    pub fn insert(&mut self, r: LinkRec) {
        if let Some(old) = self.by_index.get(&r.ifindex) {
            if old.name != r.name {
                self.by_name.remove(&old.name);
            }
        }
        self.by_name.insert(r.name.clone(), r.ifindex);
        self.by_index.insert(r.ifindex, r);
    }

    pub fn remove(&mut self, ifindex: u32) {
        if let Some(r) = self.by_index.remove(&ifindex) {
            self.by_name.remove(&r.name);
        }
    }

    pub fn get(&self, name: &str) -> Option<&LinkRec> {
        self.by_name.get(name).and_then(|i| self.by_index.get(i))
    }

    pub fn index(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    pub fn name(&self, ifindex: u32) -> Option<&str> {
        self.by_index.get(&ifindex).map(|r| r.name.as_str())
    }
}

/// Collects device actions and talks to the kernel for them.
#[derive(Debug)]
pub struct Devices<'a> {
    pub sock: &'a mut NlSocket,
    pub links: Links,
    pub actions: Vec<DeviceAction>,
    /// Gateway addresses added in this pass (they get announced).
    pub new_addrs: Vec<(u32, Mac, IpNetwork)>,
    addrs: Vec<AddrRec>,
    /// SVIs about to be created: (has IPv4, has IPv6) gateway addresses.
    /// Their sysctls are set before the device first comes up, so the
    /// link-local address never runs duplicate address detection.
    svi_pending: HashMap<String, (bool, bool)>,
}

fn fail_text(e: FailReason) -> String {
    e.to_string()
}

impl<'a> Devices<'a> {
    pub async fn new(sock: &'a mut NlSocket) -> Result<Devices<'a>, String> {
        let links = Links::load(sock).await?;
        let addrs = sock
            .dump("addresses", msg::addr_dump(), |m| match m {
                RouteNetlinkMessage::NewAddress(a) => msg::addr_rec(&a),
                _ => None,
            })
            .await?;
        Ok(Devices {
            sock,
            links,
            actions: Vec::new(),
            new_addrs: Vec::new(),
            addrs,
            svi_pending: HashMap::new(),
        })
    }

    /// Sends one link/address request; records the action; returns success.
    async fn act(&mut self, what: String, m: RouteNetlinkMessage, flags: u16) -> bool {
        let result = self
            .sock
            .call(m, flags)
            .await
            .map(|_| ())
            .map_err(fail_text);
        let ok = result.is_ok();
        if !ok {
            tracing::warn!(action = %what, error = ?result, "device action failed");
        } else {
            tracing::info!(action = %what, "device action");
        }
        self.actions.push(DeviceAction { what, result });
        ok
    }

    /// Like [`Devices::act`] but records only a failure (for settings that
    /// are re-asserted on every pass and usually change nothing). EEXIST
    /// means the setting is already there (a VLAN tunnel mapping).
    async fn assert_quietly(&mut self, what: String, m: RouteNetlinkMessage, flags: u16) {
        if let Err(e) = self.sock.call(m, flags).await {
            if matches!(&e, FailReason::Kernel(k) if k.errno == libc::EEXIST) {
                return;
            }
            self.actions.push(DeviceAction {
                what,
                result: Err(fail_text(e)),
            });
        }
    }

    fn refuse(&mut self, what: String, why: String) {
        tracing::warn!(device = %what, reason = %why, "device not adopted");
        self.actions.push(DeviceAction {
            what,
            result: Err(why),
        });
    }

    /// Refuse to adopt `name` as a `kind` device: it exists as something else.
    fn refuse_kind(&mut self, kind: &str, name: &str, r: &LinkRec) {
        self.refuse(
            format!("adopt {kind} {name}"),
            format!(
                "{name} exists as {}",
                r.kind.as_deref().unwrap_or("a device of unknown kind")
            ),
        );
    }

    /// Create `name` (`what` describes it for the report), then bring it up;
    /// its ifindex, or `None` when the kernel refused.
    async fn create(&mut self, name: &str, what: String, link: LinkMessage) -> Option<u32> {
        if !self
            .act(what, RouteNetlinkMessage::NewLink(link), CREATE_EXCL)
            .await
        {
            return None;
        }
        self.refresh().await;
        let idx = self.links.index(name)?;
        self.up(idx).await;
        Some(idx)
    }

    async fn refresh(&mut self) {
        match Links::load(self.sock).await {
            Ok(l) => self.links = l,
            Err(e) => self.actions.push(DeviceAction {
                what: "re-read links".into(),
                result: Err(e),
            }),
        }
    }

    /// A bridge named `name` with MAC `mac` (when given) and MTU.
    pub async fn bridge(&mut self, name: &str, mac: Option<Mac>, mtu: Option<u32>) -> Option<u32> {
        match self.links.get(name).cloned() {
            None => {
                let mut b = LinkBridge::new(name);
                if let Some(m) = mac {
                    b = b.address(m.0.to_vec());
                }
                if let Some(m) = mtu {
                    b = b.mtu(m);
                }
                let what = format!(
                    "create bridge {name}{}",
                    mac.map(|m| format!(" address {m}")).unwrap_or_default()
                );
                self.create(name, what, b.build()).await
            }
            Some(r) if r.kind.as_deref() != Some("bridge") => {
                self.refuse_kind("bridge", name, &r);
                None
            }
            Some(r) => {
                if let Some(m) = mac.filter(|m| r.mac != Some(*m)) {
                    let l = LinkUnspec::new_with_index(r.ifindex)
                        .address(m.0.to_vec())
                        .build();
                    self.act(
                        format!("set {name} address {m}"),
                        RouteNetlinkMessage::SetLink(l),
                        0,
                    )
                    .await;
                }
                if let Some(m) = mtu.filter(|m| r.mtu != Some(*m)) {
                    let l = LinkUnspec::new_with_index(r.ifindex).mtu(m).build();
                    self.act(
                        format!("set {name} mtu {m}"),
                        RouteNetlinkMessage::SetLink(l),
                        0,
                    )
                    .await;
                }
                if !r.up {
                    self.up(r.ifindex).await;
                }
                Some(r.ifindex)
            }
        }
    }

    async fn up(&mut self, idx: u32) {
        let name = self.links.name(idx).unwrap_or("?").to_string();
        if let Some((v4, v6)) = self.svi_pending.remove(&name) {
            self.actions.extend(super::sysctl::svi(&name, v4, v6));
        }
        let l = LinkUnspec::new_with_index(idx).up().build();
        self.act(format!("set {name} up"), RouteNetlinkMessage::SetLink(l), 0)
            .await;
    }

    async fn set_master(&mut self, idx: u32, master: u32) {
        let name = self.links.name(idx).unwrap_or("?").to_string();
        let mname = self.links.name(master).unwrap_or("?").to_string();
        let l = LinkUnspec::new_with_index(idx).controller(master).build();
        self.act(
            format!("set {name} master {mname}"),
            RouteNetlinkMessage::SetLink(l),
            0,
        )
        .await;
    }

    /// A VXLAN device for one VNI, enslaved to `bridge`, with data-plane
    /// learning off (or on, for flood-and-learn VNIs).
    #[allow(clippy::too_many_arguments)]
    pub async fn vxlan(
        &mut self,
        name: &str,
        vni: u32,
        local: IpAddr,
        dstport: u16,
        bridge: u32,
        mtu: Option<u32>,
        neigh_suppress: bool,
        learning: bool,
    ) -> Option<u32> {
        let learn_word = if learning { "learning" } else { "nolearning" };
        let idx = match self.links.get(name).cloned() {
            None => {
                let mut b = LinkVxlan::new(name, vni)
                    .port(dstport)
                    .learning(learning)
                    .controller(bridge);
                b = match local {
                    IpAddr::V4(a) => b.local(a),
                    IpAddr::V6(a) => b.local6(a),
                };
                if let Some(m) = mtu {
                    b = b.mtu(m);
                }
                let what = format!(
                    "create vxlan {name} id {vni} local {local} dstport {dstport} {learn_word}"
                );
                self.create(name, what, b.build()).await?
            }
            Some(r) => {
                let Some(x) = r
                    .vxlan
                    .as_ref()
                    .filter(|_| r.kind.as_deref() == Some("vxlan"))
                else {
                    self.refuse_kind("vxlan", name, &r);
                    return None;
                };
                if x.id != Some(vni)
                    || x.local != Some(local)
                    || x.port.is_some_and(|p| p != dstport)
                {
                    self.refuse(
                        format!("adopt vxlan {name}"),
                        format!(
                            "{name} has id {:?} local {:?} dstport {:?}; want id {vni} local {local} dstport {dstport}",
                            x.id, x.local, x.port
                        ),
                    );
                    return None;
                }
                if x.learning != Some(learning) {
                    // Changelink: RTM_NEWLINK without CREATE on an existing
                    // device with the vxlan info data to change.
                    let mut l = LinkMessage::default();
                    l.header.index = r.ifindex;
                    l.attributes
                        .push(rtnetlink::packet_route::link::LinkAttribute::LinkInfo(
                            vec![
                                LinkInfo::Kind(InfoKind::Vxlan),
                                LinkInfo::Data(InfoData::Vxlan(vec![InfoVxlan::Learning(
                                    learning,
                                )])),
                            ],
                        ));
                    self.act(
                        format!("set {name} {learn_word}"),
                        RouteNetlinkMessage::NewLink(l),
                        0,
                    )
                    .await;
                }
                if r.master != Some(bridge) {
                    self.set_master(r.ifindex, bridge).await;
                }
                if let Some(m) = mtu.filter(|m| r.mtu != Some(*m)) {
                    let l = LinkUnspec::new_with_index(r.ifindex).mtu(m).build();
                    self.act(
                        format!("set {name} mtu {m}"),
                        RouteNetlinkMessage::SetLink(l),
                        0,
                    )
                    .await;
                }
                if !r.up {
                    self.up(r.ifindex).await;
                }
                r.ifindex
            }
        };
        // Bridge port flags: remote MACs come from BGP, not from data-plane
        // learning on the tunnel (unless flood-and-learn), and ARP/ND is
        // answered from our neighbour entries. Re-asserted every pass; the
        // kernel treats equal values as no change.
        let port = LinkBridgePort::new(idx)
            .learning(learning)
            .neigh_suppress(neigh_suppress)
            .build();
        self.assert_quietly(
            format!(
                "set {name} bridge port learning {} neigh_suppress {}",
                if learning { "on" } else { "off" },
                if neigh_suppress { "on" } else { "off" }
            ),
            RouteNetlinkMessage::NewLink(port),
            0,
        )
        .await;
        Some(idx)
    }

    /// A macvlan (mode private) on `bridge` carrying the gateway MAC.
    pub async fn macvlan(&mut self, name: &str, bridge: u32, mac: Mac) -> Option<u32> {
        match self.links.get(name).cloned() {
            None => {
                let l = LinkMacVlan::new(name, bridge, MacVlanMode::Private)
                    .address(mac.0.to_vec())
                    .build();
                self.create(
                    name,
                    format!("create macvlan {name} mode private address {mac}"),
                    l,
                )
                .await
            }
            Some(r) if r.kind.as_deref() != Some("macvlan") => {
                self.refuse_kind("macvlan", name, &r);
                None
            }
            Some(r) => {
                if r.mac != Some(mac) {
                    let l = LinkUnspec::new_with_index(r.ifindex)
                        .address(mac.0.to_vec())
                        .build();
                    self.act(
                        format!("set {name} address {mac}"),
                        RouteNetlinkMessage::SetLink(l),
                        0,
                    )
                    .await;
                }
                if !r.up {
                    self.up(r.ifindex).await;
                }
                Some(r.ifindex)
            }
        }
    }

    /// A VRF device bound to `table`.
    pub async fn vrf(&mut self, name: &str, table: u32) -> Option<u32> {
        match self.links.get(name).cloned() {
            None => {
                let l = LinkVrf::new(name, table).build();
                self.create(name, format!("create vrf {name} table {table}"), l)
                    .await
            }
            Some(r) if r.kind.as_deref() != Some("vrf") => {
                self.refuse_kind("vrf", name, &r);
                None
            }
            Some(r) => {
                if !r.up {
                    self.up(r.ifindex).await;
                }
                Some(r.ifindex)
            }
        }
    }

    /// Puts `dev` under `master` (a VRF) unless it already is.
    pub async fn enslave(&mut self, dev: u32, master: u32) {
        if self.links.by_index.get(&dev).and_then(|r| r.master) != Some(master) {
            self.set_master(dev, master).await;
        }
    }

    /// An address on `dev` unless present; IPv6 without DAD.
    pub async fn address(&mut self, dev: u32, addr: IpNetwork, mac: Mac) {
        if self
            .addrs
            .iter()
            .any(|a| a.ifindex == dev && a.addr == addr)
        {
            return;
        }
        let name = self.links.name(dev).unwrap_or("?").to_string();
        let m = msg::address(dev, &addr, addr.is_ipv6());
        if self
            .act(
                format!("add address {addr} on {name}"),
                RouteNetlinkMessage::NewAddress(m),
                CREATE_EXCL,
            )
            .await
        {
            self.addrs.push(AddrRec { ifindex: dev, addr });
            self.new_addrs.push((dev, mac, addr));
        }
    }

    /// Whether `addr` is on the device named `dev` (as dumped when this
    /// pass started, plus what it added since).
    pub fn has_address(&self, dev: &str, addr: &IpNetwork) -> bool {
        self.links
            .index(dev)
            .is_some_and(|i| self.addrs.iter().any(|a| a.ifindex == i && a.addr == *addr))
    }

    /// Deletes a gateway address we added. True when it is gone, also when
    /// it (or its device) already was.
    pub async fn remove_address(&mut self, dev: &str, addr: IpNetwork) -> bool {
        let Some(idx) = self.links.index(dev) else {
            return true;
        };
        if !self.has_address(dev, &addr) {
            return true;
        }
        if addr.is_ipv4() {
            // Deleting a primary IPv4 address deletes the secondaries of its
            // subnet with it (an operator's address in the gateway subnet)
            // unless the kernel promotes one of them instead.
            let act = super::sysctl::ensure(&format!("ipv4/conf/{dev}/promote_secondaries"), "1");
            self.actions.extend(act);
        }
        let m = msg::address(idx, &addr, false);
        let ok = self
            .act(
                format!("delete address {addr} on {dev}"),
                RouteNetlinkMessage::DelAddress(m),
                0,
            )
            .await;
        if ok {
            self.addrs.retain(|a| !(a.ifindex == idx && a.addr == addr));
        }
        ok
    }

    /// Deletes a macvlan SVI we created and the `self local` entry for its
    /// MAC on `bridge` (unless that MAC is now the bridge's own). A device
    /// of that name that is not a macvlan is not ours and stays. True when
    /// both are gone.
    pub async fn remove_macvlan(&mut self, name: &str, bridge: &str, mac: Mac) -> bool {
        let mut gone = true;
        if let Some(r) = self.links.get(name).cloned() {
            if r.kind.as_deref() == Some("macvlan") {
                let l = LinkUnspec::new_with_index(r.ifindex).build();
                if self
                    .act(
                        format!("delete macvlan {name}"),
                        RouteNetlinkMessage::DelLink(l),
                        0,
                    )
                    .await
                {
                    self.links.remove(r.ifindex);
                    self.addrs.retain(|a| a.ifindex != r.ifindex);
                } else {
                    gone = false;
                }
            }
        }
        let Some(br) = self.links.get(bridge).cloned() else {
            return gone;
        };
        if br.mac == Some(mac) {
            return gone;
        }
        let mut m = msg::bridge_fdb_del(br.ifindex, mac);
        m.header.flags = rtnetlink::packet_route::neighbour::NeighbourFlags::Own;
        let what = format!("fdb del {mac} dev {bridge} self");
        match self.sock.call(msg::del_neigh(m), 0).await {
            Ok(_) => self.actions.push(DeviceAction {
                what,
                result: Ok(()),
            }),
            // Already gone (deleted by hand, or the bridge was recreated).
            Err(FailReason::Kernel(k)) if k.errno == libc::ENOENT => {}
            Err(e) => {
                gone = false;
                self.actions.push(DeviceAction {
                    what,
                    result: Err(fail_text(e)),
                });
            }
        }
        gone
    }

    /// `bridge fdb add MAC dev BRIDGE self local`: frames to the gateway MAC
    /// are delivered to the bridge's own stack (and from there to the
    /// macvlan) instead of being flooded.
    pub async fn local_fdb(&mut self, bridge: u32, mac: Mac) {
        let name = self.links.name(bridge).unwrap_or("?").to_string();
        let mut m = msg::bridge_fdb_del(bridge, mac);
        m.header.flags = rtnetlink::packet_route::neighbour::NeighbourFlags::Own;
        m.header.state = rtnetlink::packet_route::neighbour::NeighbourState::Permanent;
        self.assert_quietly(
            format!("fdb add {mac} dev {name} self local"),
            msg::new_neigh(m),
            UPSERT,
        )
        .await;
    }

    /// Everything one L2 VNI needs. Returns (bridge, vxlan, svi) indexes.
    pub async fn l2vni(&mut self, v: &L2Vni) -> Option<(u32, u32, u32)> {
        // With the gateway on the bridge itself, the bridge's MAC is the
        // gateway MAC; otherwise the configured (or kernel-chosen) one.
        let br_mac = match &v.gateway {
            Some(g) if g.svi == SviMode::Bridge => Some(g.mac),
            _ => v.bridge_mac,
        };
        if let Some(g) = &v.gateway {
            let v4 = g.addrs.iter().any(|a| a.is_ipv4());
            let v6 = g.addrs.iter().any(|a| a.is_ipv6());
            self.svi_pending.insert(v.svi_name().to_string(), (v4, v6));
        }
        let br = self.bridge(&v.bridge, br_mac, v.mtu).await?;
        let vx = self
            .vxlan(
                &v.vxlan,
                v.vni.get(),
                v.local_vtep,
                v.dstport,
                br,
                v.mtu,
                v.arp_suppress,
                v.learning,
            )
            .await?;
        let mut svi = br;
        if let Some(g) = &v.gateway {
            if let SviMode::Macvlan { name } = &g.svi {
                svi = self.macvlan(name, br, g.mac).await?;
                self.local_fdb(br, g.mac).await;
                let acts = super::sysctl::bridge_under_macvlan(&v.bridge);
                self.actions.extend(acts);
            }
            let svi_name = v.svi_name().to_string();
            let v4 = g.addrs.iter().any(|a| a.is_ipv4());
            let v6 = g.addrs.iter().any(|a| a.is_ipv6());
            self.actions.extend(super::sysctl::svi(&svi_name, v4, v6));
            for a in &g.addrs {
                self.address(svi, *a, g.mac).await;
            }
        }
        Some((br, vx, svi))
    }

    /// Single-VXLAN-device mode: a VLAN-filtering bridge, one `external
    /// vnifilter` VXLAN device with `vlan_tunnel on`, and per VNI the VLAN,
    /// its VLAN → VNI tunnel mapping and the VNI filter entry.
    pub async fn svd(&mut self, svd: &Svd, vnis: &[(u32, u16)]) -> Option<(u32, u32)> {
        let br = match self.links.get(&svd.bridge).cloned() {
            Some(r) if r.kind.as_deref() == Some("bridge") => r.ifindex,
            Some(r) => {
                self.refuse_kind("bridge", &svd.bridge, &r);
                return None;
            }
            None => {
                let mut b = LinkBridge::new(&svd.bridge)
                    .vlan_filtering(true)
                    .vlan_default_pvid(0);
                if let Some(m) = svd.bridge_mac {
                    b = b.address(m.0.to_vec());
                }
                let what = format!(
                    "create bridge {} vlan_filtering 1 vlan_default_pvid 0",
                    svd.bridge
                );
                self.create(&svd.bridge, what, b.build()).await?
            }
        };
        let vx = match self.links.get(&svd.vxlan).cloned() {
            Some(r) if r.vxlan.as_ref().is_some_and(|x| x.external && x.vnifilter) => {
                if r.master != Some(br) {
                    self.set_master(r.ifindex, br).await;
                }
                if !r.up {
                    self.up(r.ifindex).await;
                }
                r.ifindex
            }
            Some(_) => {
                self.refuse(
                    format!("adopt vxlan {}", svd.vxlan),
                    format!(
                        "{} exists but is not an external vnifilter vxlan device",
                        svd.vxlan
                    ),
                );
                return None;
            }
            None => {
                let mut data = vec![
                    InfoVxlan::Port(svd.dstport),
                    InfoVxlan::Learning(false),
                    InfoVxlan::CollectMetadata(true),
                    InfoVxlan::Vnifilter(true),
                ];
                data.push(match svd.local_vtep {
                    IpAddr::V4(a) => InfoVxlan::Local(a),
                    IpAddr::V6(a) => InfoVxlan::Local6(a),
                });
                let l = LinkUnspec::new_with_name(&svd.vxlan)
                    .controller(br)
                    .append_extra_attribute(LinkAttribute::LinkInfo(vec![
                        LinkInfo::Kind(InfoKind::Vxlan),
                        LinkInfo::Data(InfoData::Vxlan(data)),
                    ]))
                    .build();
                let what = format!(
                    "create vxlan {} external vnifilter local {} dstport {} nolearning",
                    svd.vxlan, svd.local_vtep, svd.dstport
                );
                self.create(&svd.vxlan, what, l).await?
            }
        };
        let port = LinkBridgePort::new(vx)
            .learning(false)
            .neigh_suppress(true)
            .vlan_tunnel(true)
            .build();
        self.assert_quietly(
            format!(
                "set {} bridge port learning off neigh_suppress on vlan_tunnel on",
                svd.vxlan
            ),
            RouteNetlinkMessage::NewLink(port),
            0,
        )
        .await;
        for (vni, vlan) in vnis {
            let v = LinkBridgeVlan::new(vx)
                .vlan(*vlan, BridgeVlanInfoFlags::empty())
                .build();
            self.assert_quietly(
                format!("bridge vlan add vid {vlan} dev {}", svd.vxlan),
                RouteNetlinkMessage::SetLink(v),
                0,
            )
            .await;
            let t = LinkBridgeVlan::new(vx)
                .append_af_spec(AfSpecBridge::VlanTunnelInfo(vec![
                    BridgeVlanTunnelInfo::Id(*vni),
                    BridgeVlanTunnelInfo::Vid(*vlan),
                ]))
                .build();
            self.assert_quietly(
                format!(
                    "bridge vlan add dev {} vid {vlan} tunnel_info id {vni}",
                    svd.vxlan
                ),
                RouteNetlinkMessage::SetLink(t),
                0,
            )
            .await;
            if let Err(e) = self
                .sock
                .call_raw(msg::RTM_NEWTUNNEL, 0, &msg::vnifilter_add(vx, *vni))
                .await
            {
                let exists = matches!(&e, FailReason::Kernel(k) if k.errno == libc::EEXIST);
                if !exists {
                    self.actions.push(DeviceAction {
                        what: format!("bridge vni add vni {vni} dev {}", svd.vxlan),
                        result: Err(e.to_string()),
                    });
                }
            }
        }
        Some((br, vx))
    }

    /// Everything one L3 VNI needs. Returns (bridge, vxlan) indexes.
    pub async fn l3vni(&mut self, l3: &L3Vni, backend: L3Backend) -> Option<(u32, u32)> {
        let br = self.bridge(&l3.bridge, Some(l3.router_mac), l3.mtu).await?;
        let vx = self
            .vxlan(
                &l3.vxlan,
                l3.vni.get(),
                l3.local_vtep,
                l3.dstport,
                br,
                l3.mtu,
                false,
                false,
            )
            .await?;
        if backend == L3Backend::VrfDevice {
            if let Some(vrf) = self.vrf(&l3.name, l3.table).await {
                self.enslave(br, vrf).await;
            }
        }
        Some((br, vx))
    }
}
