//! The JSON API inside the core: `show-bgp-*`, `route-add`, `route-del`.
//! Request and reply shapes are in [`crate::api`].

use std::net::IpAddr;
use std::time::Instant;

use evpn_proto::attr::{AsPath, Community, NextHop, Origin};
use evpn_proto::evpn::{Imet, IpPrefix, MacIp};
use evpn_proto::pmsi::PmsiTunnel;
use evpn_proto::{
    Esi, EvpnKey, EvpnRoute, ExtCommunity, Family, Label, Mac, PathAttrs, Prefix, Rd, RouteTarget,
    TunnelType, Vni,
};
use serde_json::Value;

use super::io::PeerId;
use super::peer::{fam_idx, Peer, PeerState};
use super::rib::{AttrSet, NlriExtra, RouteEntry, RouteKey, Source, LOCAL};
use super::Core;
use crate::api::*;

fn api_family(f: Family) -> ApiFamily {
    match f {
        Family::Ipv4Unicast => ApiFamily::Ipv4,
        Family::Ipv6Unicast => ApiFamily::Ipv6,
        Family::Evpn => ApiFamily::Evpn,
    }
}

fn family_of(f: ApiFamily) -> Family {
    match f {
        ApiFamily::Ipv4 => Family::Ipv4Unicast,
        ApiFamily::Ipv6 => Family::Ipv6Unicast,
        ApiFamily::Evpn => Family::Evpn,
    }
}

pub(crate) fn error(msg: impl Into<String>) -> Value {
    serde_json::to_value(ErrorReply { error: msg.into() }).unwrap_or(Value::Null)
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or_else(|e| error(e.to_string()))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl Core {
    pub(crate) fn handle_api(&mut self, now: Instant, request: Value) -> Value {
        let req: Request = match serde_json::from_value(request) {
            Ok(r) => r,
            Err(e) => return error(format!("bad request: {e}")),
        };
        match req {
            Request::ShowBgpSummary => to_json(&self.summary(now)),
            Request::ShowBgpNeighbors { peer } => {
                let neighbors: Vec<NeighborDetail> = self
                    .peers
                    .values()
                    .filter(|p| peer.is_none_or(|a| a == p.cfg.address))
                    .map(|p| self.neighbor_detail(now, p))
                    .collect();
                if peer.is_some() && neighbors.is_empty() {
                    return error("no such neighbor");
                }
                to_json(&Neighbors { neighbors })
            }
            Request::ClearBgp {
                peer,
                graceful,
                soft,
            } => {
                let Some(&pid) = self.by_addr.get(&peer) else {
                    return error("no such neighbor");
                };
                let done = match soft {
                    None => self
                        .clear_peer(now, pid, graceful)
                        .then_some(())
                        .ok_or("no such neighbor"),
                    Some(crate::api::SoftClear::In) => self.refresh_in(pid),
                    Some(crate::api::SoftClear::Out) => self.refresh_out(pid),
                };
                match done {
                    Ok(()) => serde_json::json!({"ok": true}),
                    Err(e) => error(e),
                }
            }
            Request::ShowBgpRoutes(q) => match self.routes(&q) {
                Ok(r) => to_json(&r),
                Err(e) => error(e),
            },
            Request::RouteAdd(spec) => match local_route(&spec, self.router_id) {
                Ok((key, set)) => {
                    let id = self.rib.attrs.intern(set);
                    self.install_local(key, id);
                    to_json(&Ack {
                        ok: true,
                        key: key.to_string(),
                    })
                }
                Err(e) => error(e),
            },
            Request::RouteDel(mut spec) => {
                // Only the key matters for a withdraw.
                spec.vni.get_or_insert(0);
                self.route_del(&spec)
            }
            Request::Reload => error("reload is handled by the daemon, not the core"),
            Request::ShowEvpnMac { vni, mac } => match self.evpn_macs(vni, mac.as_deref()) {
                Ok(r) => to_json(&r),
                Err(e) => error(e),
            },
            Request::ShowEvpnVni => to_json(&self.evpn_vnis()),
            Request::ShowEvpnDad => to_json(&self.evpn_dad(now)),
            Request::ClearDad { vni, mac } => match self.clear_dad(vni, mac.as_deref()) {
                Ok(r) => to_json(&r),
                Err(e) => error(e),
            },
            Request::Trace { target } => match self.trace(now, &target) {
                Ok(r) => to_json(&r),
                Err(e) => error(e),
            },
        }
    }

    fn route_del(&mut self, spec: &RouteSpec) -> Value {
        match local_route(spec, self.router_id) {
            Ok((key, _)) => {
                let found = self.withdraw_local(key);
                if found {
                    to_json(&Ack {
                        ok: true,
                        key: key.to_string(),
                    })
                } else {
                    error(format!("no local route {key}"))
                }
            }
            Err(e) => error(e),
        }
    }

    /// Originate a route (takes over a reference to `attrs`).
    pub fn install_local(&mut self, key: RouteKey, attrs: u32) {
        let (peers, router_id) = (&self.peers, self.router_id);
        let info = |s: Source| Core::source_info(peers, router_id, s);
        let (_, _, change) = self.rib.upsert(key, LOCAL, attrs, &info);
        self.propagate(change);
    }

    /// Withdraw a local route; false if there was none.
    pub fn withdraw_local(&mut self, key: RouteKey) -> bool {
        let Some(id) = self.rib.id_of(&key) else {
            return false;
        };
        let (peers, router_id) = (&self.peers, self.router_id);
        let info = |s: Source| Core::source_info(peers, router_id, s);
        match self.rib.remove(id, LOCAL, &info) {
            Some(change) => {
                self.propagate(change);
                true
            }
            None => false,
        }
    }

    /// Per-family counters, O(1): kept as routes change (the summary is
    /// polled while a million routes load).
    fn counts(&self, p: &Peer) -> Vec<FamilyCounts> {
        let accepted = self.rib.best_count(p.id.0);
        let advertised = self.advertised_counts(p);
        p.cfg
            .families
            .iter()
            .map(|f| FamilyCounts {
                family: api_family(f),
                received: p.received[fam_idx(f)],
                accepted: accepted[fam_idx(f)],
                advertised: advertised[fam_idx(f)],
            })
            .collect()
    }

    /// Tests: the O(1) counters agree with a full recount.
    #[cfg(test)]
    pub(crate) fn check_counters(&self) {
        for p in self.peers.values() {
            let mut accepted = [0u64; 3];
            for id in p.adj_in.iter() {
                if let Some(e) = self.rib.get(id) {
                    if e.best_path().is_some_and(|b| b.source == p.id.0) {
                        accepted[fam_idx(e.key.family())] += 1;
                    }
                }
            }
            let mut advertised = [0u64; 3];
            let mut excluded = [0u64; 3];
            if let Some(g) = p.group.and_then(|g| self.groups.get(&g)) {
                assert!(g.members.contains(&p.id), "peer {} in its group", p.id.0);
                for id in g.adj_out.keys() {
                    if let Some(e) = self.rib.get(id) {
                        if !p.excluded.contains(id) {
                            advertised[fam_idx(e.key.family())] += 1;
                        }
                    }
                }
                for id in p.excluded.iter() {
                    assert!(g.adj_out.get(id).is_some(), "excluded ⊆ Adj-RIB-Out");
                    if let Some(e) = self.rib.get(id) {
                        excluded[fam_idx(e.key.family())] += 1;
                    }
                }
            } else {
                assert!(p.excluded.is_empty());
            }
            assert_eq!(excluded, p.excluded_count, "excluded of peer {}", p.id.0);
            assert_eq!(
                accepted,
                self.rib.best_count(p.id.0),
                "accepted of peer {}",
                p.id.0
            );
            assert_eq!(
                advertised,
                self.advertised_counts(p),
                "advertised to peer {}",
                p.id.0
            );
        }
        for g in self.groups.values() {
            let mut advertised = [0u64; 3];
            for id in g.adj_out.keys() {
                if let Some(e) = self.rib.get(id) {
                    advertised[fam_idx(e.key.family())] += 1;
                }
            }
            assert_eq!(advertised, g.advertised, "advertised by group {}", g.id.0);
            assert!(!g.members.is_empty(), "empty group {}", g.id.0);
            for m in &g.members {
                assert_eq!(self.peers.get(m).and_then(|p| p.group), Some(g.id));
            }
        }
    }

    fn uptime(&self, now: Instant, p: &Peer) -> u64 {
        let _ = self.since_start(now);
        now.saturating_duration_since(p.last_change).as_secs()
    }

    fn summary(&self, now: Instant) -> Summary {
        Summary {
            router_id: self.router_id,
            asn: self.asn,
            peers: self
                .peers
                .values()
                .map(|p| SummaryRow {
                    peer: p.cfg.address,
                    remote_as: p.cfg.remote_as,
                    state: p.state.name().to_string(),
                    uptime_secs: self.uptime(now, p),
                    families: self.counts(p),
                    messages_in: p.messages_in,
                    messages_out: p.messages_out,
                })
                .collect(),
        }
    }

    fn neighbor_detail(&self, now: Instant, p: &Peer) -> NeighborDetail {
        let conn = p.state.conn();
        let negotiated = p.negotiated().map(|n| NegotiatedInfo {
            hold_time: n.hold,
            keepalive: n.keepalive,
            families: n.families.iter().map(api_family).collect(),
            four_octet_as: n.cx.four_octet_as,
            route_refresh: n.route_refresh,
            enhanced_route_refresh: n.enhanced_route_refresh,
            extended_next_hop: n.extended_next_hop.iter().map(api_family).collect(),
            graceful_restart: n.gr.as_ref().map(|g| crate::api::PeerGr {
                restart_time: g.restart_time,
                restarting: g.restarting,
                forwarding_preserved: g.forwarding.iter().map(api_family).collect(),
                families: g.families.iter().map(api_family).collect(),
                notification: g.notification,
            }),
        });
        let gr_state = if !p.gr.stale.is_empty() {
            "helper-stale"
        } else if self.deferring && p.state.is_established() {
            "restarting"
        } else {
            "none"
        };
        NeighborDetail {
            peer: p.cfg.address,
            remote_as: p.cfg.remote_as,
            local_as: p.cfg.local_as,
            kind: if p.cfg.ibgp() { "ibgp" } else { "ebgp" }.to_string(),
            state: p.state.name().to_string(),
            uptime_secs: self.uptime(now, p),
            passive: p.cfg.passive,
            dynamic: p.cfg.dynamic,
            route_reflector_client: p.cfg.rr_client,
            remote_router_id: (!p.remote_id.is_unspecified()).then_some(p.remote_id),
            local_address: conn.map(|c| c.local.to_string()),
            remote_address: conn.map(|c| c.remote.to_string()),
            configured_hold_time: p.cfg.hold_time,
            negotiated,
            last_error: p.last_error.as_ref().map(|e| LastError {
                direction: match e.sent {
                    Some(true) => "sent",
                    Some(false) => "received",
                    None => "local",
                }
                .to_string(),
                code: e.code,
                subcode: e.subcode,
                reason: e.reason.clone(),
                data: hex(&e.data),
            }),
            graceful_restart_state: gr_state.to_string(),
            families: self.counts(p),
            messages_in: p.messages_in,
            messages_out: p.messages_out,
            updates_in: p.updates_in,
            updates_out: p.updates_out,
            route_refresh_in: p.route_refresh_in,
            route_refresh_out: p.route_refresh_out,
            established_transitions: p.established_transitions,
            connect_failures: p.connect_failures,
            update_group: p.group.map(|g| g.0),
        }
    }

    pub(crate) fn routes(&self, q: &RouteQuery) -> Result<Routes, String> {
        let family = q.family.map(family_of);
        let rd: Option<Rd> =
            q.rd.as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|e| format!("rd: {e}"))?;
        let mac: Option<Mac> = q
            .mac
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e| format!("mac: {e}"))?;
        let peer: Option<PeerId> = match q.peer {
            Some(a) => Some(*self.by_addr.get(&a).ok_or("no such neighbor")?),
            None => None,
        };
        let limit = q.limit.unwrap_or(10_000);
        let mut rows = Vec::new();
        let mut truncated = false;
        let mut entries: Vec<&RouteEntry> = self
            .rib
            .iter()
            .map(|(_, e)| e)
            .filter(|e| family.is_none_or(|f| e.key.family() == f))
            .filter(|e| key_matches(&e.key, q.route_type, rd, mac, q.prefix.as_deref()))
            .collect();
        entries.sort_by_key(|e| e.key);
        'outer: for e in entries {
            if q.advertised {
                let Some(pid) = peer else {
                    return Err("advertised needs peer".into());
                };
                let Some(id) = self.rib.id_of(&e.key) else {
                    continue;
                };
                if let Some(a) = self.advertised_to(pid, id) {
                    rows.push(self.row(e, Some(pid.0), a, false, None, false));
                }
                continue;
            }
            for (i, path) in e.paths.iter().enumerate() {
                if peer.is_some_and(|p| p.0 != path.source) {
                    continue;
                }
                let best = e.best == u16::try_from(i).ok();
                if !best && !q.received && peer.is_none() {
                    // Without `received`, every path of the route is shown.
                }
                if rows.len() >= limit {
                    truncated = true;
                    break 'outer;
                }
                rows.push(self.row(
                    e,
                    Some(path.source),
                    path.attrs,
                    best,
                    best.then_some(e.reason),
                    path.stale,
                ));
            }
        }
        Ok(Routes {
            routes: rows,
            truncated,
        })
    }

    fn row(
        &self,
        e: &RouteEntry,
        source: Option<Source>,
        attrs: u32,
        best: bool,
        reason: Option<Reason>,
        stale: bool,
    ) -> RouteRow {
        let set = self.rib.attrs.get(attrs);
        let a = &set.attrs;
        let (route_type, rd, mac, ip, prefix, esi, eth_tag) = match &e.key {
            RouteKey::Evpn(k) => {
                let r = super::rib::evpn_route(k, &set.extra);
                let rt = Some(r.route_type());
                match k {
                    EvpnKey::MacIp {
                        rd,
                        eth_tag,
                        mac,
                        ip,
                    } => (
                        rt,
                        Some(rd.to_string()),
                        Some(mac.to_string()),
                        *ip,
                        None,
                        Some(set.extra.esi),
                        Some(*eth_tag),
                    ),
                    EvpnKey::Imet {
                        rd,
                        eth_tag,
                        originator,
                    } => (
                        rt,
                        Some(rd.to_string()),
                        None,
                        Some(*originator),
                        None,
                        None,
                        Some(*eth_tag),
                    ),
                    EvpnKey::IpPrefix {
                        rd,
                        eth_tag,
                        prefix,
                    } => (
                        rt,
                        Some(rd.to_string()),
                        None,
                        None,
                        Some(prefix.to_string()),
                        Some(set.extra.esi),
                        Some(*eth_tag),
                    ),
                    EvpnKey::EthernetAd { rd, esi, eth_tag } => (
                        rt,
                        Some(rd.to_string()),
                        None,
                        None,
                        None,
                        Some(*esi),
                        Some(*eth_tag),
                    ),
                    EvpnKey::EthernetSegment {
                        rd,
                        esi,
                        originator,
                    } => (
                        rt,
                        Some(rd.to_string()),
                        None,
                        Some(*originator),
                        None,
                        Some(*esi),
                        None,
                    ),
                }
            }
            RouteKey::V4(p) => (None, None, None, None, Some(p.to_string()), None, None),
            RouteKey::V6(p) => (None, None, None, None, Some(p.to_string()), None, None),
        };
        let mut labels = Vec::new();
        if matches!(e.key, RouteKey::Evpn(_)) {
            labels.push(set.extra.label1.raw());
            if let Some(l) = set.extra.label2 {
                labels.push(l.raw());
            }
        }
        let ext: &[ExtCommunity] = a.ext_communities.as_deref().unwrap_or(&[]);
        RouteRow {
            family: api_family(e.key.family()),
            key: e.key.to_string(),
            route_type,
            rd,
            mac,
            ip,
            prefix,
            esi: esi.map(|e| e.to_string()),
            eth_tag,
            labels,
            gateway_ip: set.extra.gateway.filter(|g| !g.is_unspecified()),
            peer: source
                .filter(|s| *s != LOCAL)
                .and_then(|s| self.peers.get(&PeerId(s)))
                .map(|p| p.cfg.address),
            best,
            reason,
            stale,
            next_hop: set.next_hop_addr(),
            origin: a.origin.map_or("igp".to_string(), |o| o.to_string()),
            as_path: a.as_path.as_ref().map_or(String::new(), |p| p.to_string()),
            local_pref: a.local_pref,
            med: a.med,
            communities: a
                .communities
                .as_deref()
                .unwrap_or(&[])
                .iter()
                .map(|c| c.to_string())
                .collect(),
            ext_communities: ext.iter().map(|c| c.to_string()).collect(),
            route_targets: ext
                .iter()
                .filter_map(|c| c.route_target())
                .map(|r| r.to_string())
                .collect(),
            originator_id: a.originator_id,
            cluster_list: a.cluster_list.clone().unwrap_or_default(),
            mac_mobility_seq: set.mobility.map(|m| m.0),
            sticky: set.mobility.is_some_and(|m| m.1),
            router_mac: a.router_mac().map(|m| m.to_string()),
            default_gateway: ext.contains(&ExtCommunity::DefaultGateway),
        }
    }

    /// Peer ids in state order, for tests.
    pub fn peer_states(&self) -> Vec<(IpAddr, &'static str)> {
        self.peers
            .values()
            .map(|p| (p.cfg.address, p.state.name()))
            .collect()
    }

    #[doc(hidden)]
    pub fn peer_state_ref(&self, addr: IpAddr) -> Option<&PeerState> {
        self.by_addr
            .get(&addr)
            .and_then(|id| self.peers.get(id))
            .map(|p| &p.state)
    }
}

fn key_matches(
    k: &RouteKey,
    rt: Option<u8>,
    rd: Option<Rd>,
    mac: Option<Mac>,
    prefix: Option<&str>,
) -> bool {
    match k {
        RouteKey::Evpn(e) => {
            let (t, r, m) = match e {
                EvpnKey::EthernetAd { rd, .. } => (1, *rd, None),
                EvpnKey::MacIp { rd, mac, .. } => (2, *rd, Some(*mac)),
                EvpnKey::Imet { rd, .. } => (3, *rd, None),
                EvpnKey::EthernetSegment { rd, .. } => (4, *rd, None),
                EvpnKey::IpPrefix { rd, .. } => (5, *rd, None),
            };
            let pfx_ok = match (prefix, e) {
                (None, _) => true,
                (Some(p), EvpnKey::IpPrefix { prefix, .. }) => prefix.to_string() == p,
                (Some(p), EvpnKey::MacIp { ip: Some(ip), .. }) => ip.to_string() == p,
                _ => false,
            };
            rt.is_none_or(|x| x == t)
                && rd.is_none_or(|x| x == r)
                && mac.is_none_or(|x| Some(x) == m)
                && pfx_ok
        }
        RouteKey::V4(p) => rt.is_none() && prefix.is_none_or(|x| p.to_string() == x),
        RouteKey::V6(p) => rt.is_none() && prefix.is_none_or(|x| p.to_string() == x),
    }
}

/// Build a local route from an API spec.
pub fn local_route(
    s: &RouteSpec,
    router_id: std::net::Ipv4Addr,
) -> Result<(RouteKey, AttrSet), String> {
    let family = s.family.ok_or("family is required")?;
    let next_hop = s.next_hop.unwrap_or(IpAddr::V4(router_id));
    let mut attrs = PathAttrs {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(s.as_path.iter().copied())),
        local_pref: s.local_pref,
        med: s.med,
        ..PathAttrs::default()
    };
    if !s.communities.is_empty() {
        let mut list = Vec::new();
        for c in &s.communities {
            let (a, b) = c.split_once(':').ok_or(format!("bad community {c:?}"))?;
            let a: u16 = a.parse().map_err(|_| format!("bad community {c:?}"))?;
            let b: u16 = b.parse().map_err(|_| format!("bad community {c:?}"))?;
            list.push(Community::new(a, b));
        }
        attrs.communities = Some(list);
    }
    let parse_prefix = || -> Result<Prefix, String> {
        s.prefix
            .as_deref()
            .ok_or("prefix is required".to_string())?
            .parse::<Prefix>()
            .map_err(|e| format!("prefix: {e}"))
    };
    match family {
        ApiFamily::Ipv4 | ApiFamily::Ipv6 => {
            let key = match (family, parse_prefix()?) {
                (ApiFamily::Ipv4, Prefix::V4(p)) => RouteKey::V4(p),
                (ApiFamily::Ipv6, Prefix::V6(p)) => RouteKey::V6(p),
                _ => return Err("prefix does not match the family".into()),
            };
            Ok((
                key,
                AttrSet::new(
                    attrs,
                    Some(NextHop::from_ip(next_hop)),
                    NlriExtra::default(),
                ),
            ))
        }
        ApiFamily::Evpn => {
            let rd: Rd =
                s.rd.as_deref()
                    .ok_or("rd is required")?
                    .parse()
                    .map_err(|e| format!("rd: {e}"))?;
            let eth_tag = s.eth_tag.unwrap_or(0);
            let esi: Esi = match &s.esi {
                Some(e) => e.parse().map_err(|e| format!("esi: {e}"))?,
                None => Esi::ZERO,
            };
            let vni = |v: Option<u32>| -> Result<Label, String> {
                let v = v.ok_or("vni is required")?;
                Vni::new(v)
                    .map(Label::from_vni)
                    .ok_or(format!("vni {v} out of range"))
            };
            let mut ext = vec![ExtCommunity::Encapsulation(TunnelType::Vxlan)];
            for rt in &s.route_targets {
                ext.push(ExtCommunity::RouteTarget(rt.parse::<RouteTarget>()?));
            }
            if s.mac_mobility_seq.is_some() || s.sticky {
                ext.push(ExtCommunity::MacMobility {
                    seq: s.mac_mobility_seq.unwrap_or(0),
                    sticky: s.sticky,
                });
            }
            if let Some(m) = &s.router_mac {
                ext.push(ExtCommunity::RouterMac(
                    m.parse().map_err(|e| format!("router_mac: {e}"))?,
                ));
            }
            if s.default_gateway {
                ext.push(ExtCommunity::DefaultGateway);
            }
            let route = match s.route_type.ok_or("route_type is required (2, 3 or 5)")? {
                2 => EvpnRoute::MacIp(MacIp {
                    rd,
                    esi,
                    eth_tag,
                    mac: s
                        .mac
                        .as_deref()
                        .ok_or("mac is required")?
                        .parse()
                        .map_err(|e| format!("mac: {e}"))?,
                    ip: s.ip,
                    label1: vni(s.vni)?,
                    label2: s.l3vni.map(|v| vni(Some(v))).transpose()?,
                }),
                3 => {
                    let originator = s.originator.unwrap_or(next_hop);
                    attrs.pmsi_tunnel =
                        Some(PmsiTunnel::ingress_replication(vni(s.vni)?, originator));
                    EvpnRoute::Imet(Imet {
                        rd,
                        eth_tag,
                        originator,
                    })
                }
                5 => {
                    let prefix = parse_prefix()?;
                    EvpnRoute::IpPrefix(IpPrefix {
                        rd,
                        esi,
                        eth_tag,
                        prefix,
                        gateway: s.gateway_ip.unwrap_or(if prefix.is_ipv4() {
                            IpPrefix::NO_GATEWAY_V4
                        } else {
                            IpPrefix::NO_GATEWAY_V6
                        }),
                        label: vni(s.vni)?,
                    })
                }
                t => return Err(format!("route_type {t} cannot be originated (2, 3 or 5)")),
            };
            ext.sort();
            attrs.ext_communities = Some(ext);
            let key = route.key().ok_or("route has no key")?;
            let extra = NlriExtra::of(&route);
            Ok((
                RouteKey::Evpn(key),
                AttrSet::new(attrs, Some(NextHop::from_ip(next_hop)), extra),
            ))
        }
    }
}
