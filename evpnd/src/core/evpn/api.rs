//! `show-evpn-mac`, `show-evpn-vni`, `show-evpn-dad`, `clear-dad`, `trace`.

use std::net::IpAddr;
use std::time::Instant;

use evpn_proto::{Mac, Vni};

use super::{MacState, MacVrf};
use crate::api::*;
use crate::config::Flooding;
use crate::core::Core;

fn vni_of(v: Option<u32>) -> Result<Option<Vni>, String> {
    v.map(|x| Vni::new(x).ok_or(format!("vni {x} out of range")))
        .transpose()
}

fn mac_of(m: Option<&str>) -> Result<Option<Mac>, String> {
    m.map(|s| s.parse::<Mac>().map_err(|e| format!("mac: {e}")))
        .transpose()
}

fn mac_row(v: &MacVrf, mac: Mac, st: &MacState) -> EvpnMacRow {
    let winner = super::best(st.remote.values());
    let (location, seq, sticky) = match (&st.local, &st.programmed) {
        (Some(l), _) => ("local", st.seq, l.sticky),
        (None, Some(p)) => ("remote", winner.map_or(0, |w| w.seq), p.sticky),
        (None, None) => ("none", st.seq, false),
    };
    let mut ips: Vec<IpAddr> = if st.local.is_some() {
        st.local_ips.iter().copied().collect()
    } else {
        st.remote
            .keys()
            .filter_map(|k| match k {
                evpn_proto::EvpnKey::MacIp { ip, .. } => *ip,
                _ => None,
            })
            .collect()
    };
    ips.sort();
    ips.dedup();
    EvpnMacRow {
        vni: v.cfg.vni.get(),
        mac: mac.to_string(),
        location: location.to_string(),
        port: st.local.as_ref().map(|l| l.port.clone()),
        vtep: st.programmed.map(|p| p.vtep),
        seq,
        sticky,
        ips,
        frozen: st.dad.is_frozen(),
        moves: st.dad.total_moves,
    }
}

impl Core {
    pub(crate) fn evpn_macs(
        &self,
        vni: Option<u32>,
        mac: Option<&str>,
    ) -> Result<EvpnMacs, String> {
        let vni = vni_of(vni)?;
        let mac = mac_of(mac)?;
        let mut macs = Vec::new();
        for (n, v) in &self.evpn.l2 {
            if vni.is_some_and(|x| x != *n) {
                continue;
            }
            let mut rows: Vec<EvpnMacRow> = v
                .macs
                .iter()
                .filter(|(m, _)| mac.is_none_or(|x| x == **m))
                .map(|(m, st)| mac_row(v, *m, st))
                .collect();
            rows.sort_by(|a, b| a.mac.cmp(&b.mac));
            macs.extend(rows);
        }
        Ok(EvpnMacs { macs })
    }

    pub(crate) fn evpn_vnis(&self) -> EvpnVnis {
        let intent = &self.evpn.intent;
        let mut vnis = Vec::new();
        for v in self.evpn.l2.values() {
            let c = &v.cfg;
            vnis.push(EvpnVniRow {
                vni: c.vni.get(),
                kind: "l2".into(),
                bridge: c.kernel.bridge.clone(),
                vxlan: c.kernel.vxlan.clone(),
                oper: if self.evpn.links.out_of_service.contains(&c.vni) {
                    "down"
                } else {
                    "up"
                }
                .into(),
                vrf: c
                    .l3vni
                    .and_then(|l| self.evpn.l3.get(&l))
                    .map(|l| l.name.clone()),
                l3vni: c.l3vni.map(Vni::get),
                rd: c.rd.to_string(),
                import_rts: c.import_rts.iter().map(|r| r.to_string()).collect(),
                export_rts: c.export_rts.iter().map(|r| r.to_string()).collect(),
                flooding: Some(
                    match c.flooding {
                        Flooding::IngressReplication => "ingress-replication",
                        Flooding::Static => "static",
                    }
                    .into(),
                ),
                flood: intent
                    .flood
                    .iter()
                    .filter(|(n, _)| *n == c.vni)
                    .map(|(_, t)| *t)
                    .collect(),
                local_macs: v.macs.values().filter(|m| m.local.is_some()).count(),
                remote_macs: v.macs.values().filter(|m| m.programmed.is_some()).count(),
                remote_neighs: v.ips.values().filter(|i| i.programmed.is_some()).count(),
                gateway: c
                    .gateway()
                    .map(|g| g.addrs.iter().map(|a| a.to_string()).collect())
                    .unwrap_or_default(),
                gateway_mac: c.gateway_mac().map(|m| m.to_string()),
                router_mac: None,
                routes: 0,
            });
        }
        for l in self.evpn.l3.values() {
            vnis.push(EvpnVniRow {
                vni: l.l3vni.get(),
                kind: "l3".into(),
                bridge: l.kernel.bridge.clone(),
                vxlan: l.kernel.vxlan.clone(),
                oper: "up".into(),
                vrf: Some(l.name.clone()),
                l3vni: Some(l.l3vni.get()),
                rd: l.rd.to_string(),
                import_rts: l.import_rts.iter().map(|r| r.to_string()).collect(),
                export_rts: l.export_rts.iter().map(|r| r.to_string()).collect(),
                flooding: None,
                flood: Vec::new(),
                local_macs: 0,
                remote_macs: 0,
                remote_neighs: 0,
                gateway: Vec::new(),
                gateway_mac: None,
                router_mac: Some(l.router_mac.to_string()),
                routes: intent.routes.keys().filter(|(n, _)| *n == l.l3vni).count(),
            });
        }
        EvpnVnis { vnis }
    }

    pub(crate) fn evpn_dad(&self, now: Instant) -> EvpnDad {
        let d = self.evpn.cfg.dad;
        let mut entries = Vec::new();
        for (n, v) in &self.evpn.l2 {
            for (m, st) in &v.macs {
                let recent = st.dad.recent(now, d.window);
                if recent == 0 && !st.dad.is_frozen() {
                    continue;
                }
                let f = st.dad.frozen;
                entries.push(DadRow {
                    vni: n.get(),
                    mac: m.to_string(),
                    frozen: f.is_some(),
                    moves_in_window: recent,
                    total_moves: st.dad.total_moves,
                    frozen_for_secs: f.map(|f| now.saturating_duration_since(f.since).as_secs()),
                    unfreeze_in_secs: f
                        .and_then(|f| f.until)
                        .map(|u| u.saturating_duration_since(now).as_secs()),
                });
            }
        }
        entries.sort_by(|a, b| (a.vni, &a.mac).cmp(&(b.vni, &b.mac)));
        EvpnDad {
            enabled: d.enabled,
            max_moves: d.max_moves,
            window_secs: d.window.as_secs(),
            freeze_secs: d.freeze.map(|f| f.as_secs()),
            moves_total: self.evpn.counters.moves,
            detected_total: self.evpn.counters.dad_detected,
            entries,
        }
    }

    pub(crate) fn clear_dad(
        &mut self,
        vni: Option<u32>,
        mac: Option<&str>,
    ) -> Result<ClearDad, String> {
        let vni = vni_of(vni)?;
        let mac = mac_of(mac)?;
        let mut cleared = Vec::new();
        for (v, m) in self.evpn.frozen(vni, mac) {
            if self.evpn.unfreeze(v, m) {
                cleared.push(format!("{v}/{m}"));
            }
        }
        Ok(ClearDad { cleared })
    }

    pub(crate) fn trace(&self, now: Instant, target: &str) -> Result<Trace, String> {
        let want_mac = target.parse::<Mac>().ok();
        let want_ip = target.parse::<IpAddr>().ok();
        if want_mac.is_none() && want_ip.is_none() {
            return Err(format!("{target:?} is neither a MAC nor an IP address"));
        }
        let mut hosts = Vec::new();
        for v in self.evpn.l2.values() {
            let mut found: Vec<(Mac, Option<IpAddr>)> = Vec::new();
            if let Some(m) = want_mac {
                if v.macs.contains_key(&m) {
                    found.push((m, None));
                }
            }
            if let Some(ip) = want_ip {
                if let Some(is) = v.ips.get(&ip) {
                    let m = is
                        .local_mac
                        .or(is.programmed)
                        .or_else(|| super::best(is.remote.values()).map(|c| c.mac));
                    if let Some(m) = m {
                        found.push((m, Some(ip)));
                    }
                }
            }
            for (m, ip) in found {
                let Some(st) = v.macs.get(&m) else { continue };
                let row = mac_row(v, m, st);
                let routes = self
                    .routes(&RouteQuery {
                        family: Some(ApiFamily::Evpn),
                        route_type: Some(2),
                        mac: Some(m.to_string()),
                        ..RouteQuery::default()
                    })
                    .map(|r| r.routes)
                    .unwrap_or_default();
                hosts.push(TraceHost {
                    vni: row.vni,
                    mac: row.mac,
                    ip,
                    location: row.location,
                    port: row.port,
                    vtep: row.vtep,
                    seq: row.seq,
                    sticky: row.sticky,
                    frozen: row.frozen,
                    last_move_secs_ago: st
                        .dad
                        .last_move
                        .map(|(t, _)| now.saturating_duration_since(t).as_secs()),
                    last_move_reason: st.dad.last_move.map(|(_, r)| {
                        serde_json::to_value(r)
                            .ok()
                            .and_then(|v| v.as_str().map(str::to_string))
                            .unwrap_or_default()
                    }),
                    routes,
                });
            }
        }
        Ok(Trace {
            target: target.to_string(),
            hosts,
        })
    }
}
