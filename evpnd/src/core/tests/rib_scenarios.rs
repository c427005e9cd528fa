//! Routes end to end: attributes, withdraw, reflection, best path,
//! max-prefix, graceful restart, treat-as-withdraw, packing.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use evpn_proto::attr::{AsPath, NextHop, Origin};
use evpn_proto::capability::Capability;
use evpn_proto::evpn::MacIp;
use evpn_proto::message::pack::pack_mp_reach;
use evpn_proto::message::{DecodeCxt, Decoded, Open};
use evpn_proto::{Esi, EvpnRoute, ExtCommunity, Family, Label, Mac, PathAttrs, Vni};
use serde_json::{json, Value};

use super::{config, ibgp_pair, leaf, Net};
use crate::core::io::{ConnId, Input, Output};
use crate::core::{Core, CoreOptions};

pub(super) fn rt2(rd: &str, mac: &str, extra: Value) -> Value {
    let mut v = json!({"command": "route-add", "family": "evpn", "route_type": 2, "rd": rd,
        "mac": mac, "ip": "10.1.0.5", "vni": 100, "route_targets": ["65000:100"]});
    if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            o.insert(k.clone(), x.clone());
        }
    }
    v
}

#[test]
fn evpn_rt2_rt3_rt5_and_unicast_routes_arrive_with_attributes_intact() {
    let mut net = ibgp_pair();
    net.advance(Duration::from_secs(1));
    let ok = net.api(
        0,
        rt2(
            "10.0.0.1:100",
            "00:11:22:33:44:55",
            json!({"l3vni": 5000, "router_mac": "02:00:00:00:00:01", "mac_mobility_seq": 3}),
        ),
    );
    assert_eq!(ok["ok"], true, "{ok}");
    net.api(0, json!({"command": "route-add", "family": "evpn", "route_type": 3, "rd": "10.0.0.1:100", "vni": 100, "route_targets": ["65000:100"]}));
    net.api(0, json!({"command": "route-add", "family": "evpn", "route_type": 5, "rd": "10.0.0.1:5000", "prefix": "10.9.0.0/24", "vni": 5000, "route_targets": ["65000:5000"]}));
    net.api(0, json!({"command": "route-add", "family": "ipv4", "prefix": "192.0.2.0/24", "next_hop": "10.0.0.1", "med": 7}));
    net.api(0, json!({"command": "route-add", "family": "ipv6", "prefix": "2001:db8::/32", "next_hop": "fd00::1"}));
    let evpn = net.routes(1, "evpn");
    assert_eq!(evpn.len(), 3, "{evpn:?}");
    let r2 = evpn.iter().find(|r| r["route_type"] == 2).unwrap();
    assert_eq!(r2["rd"], "10.0.0.1:100");
    assert_eq!(r2["mac"], "00:11:22:33:44:55");
    assert_eq!(r2["ip"], "10.1.0.5");
    assert_eq!(r2["labels"], json!([100, 5000]));
    assert_eq!(r2["route_targets"], json!(["65000:100"]));
    assert_eq!(r2["next_hop"], "10.0.0.1");
    assert_eq!(r2["mac_mobility_seq"], 3);
    assert_eq!(r2["router_mac"], "02:00:00:00:00:01");
    assert_eq!(r2["local_pref"], 100);
    assert_eq!(r2["peer"], "10.0.0.1");
    assert_eq!(r2["best"], true);
    assert_eq!(r2["reason"], "only-path");
    let r3 = evpn.iter().find(|r| r["route_type"] == 3).unwrap();
    assert_eq!(r3["ip"], "10.0.0.1");
    let r5 = evpn.iter().find(|r| r["route_type"] == 5).unwrap();
    assert_eq!(r5["prefix"], "10.9.0.0/24");
    assert_eq!(r5["labels"], json!([5000]));
    let v4 = net.routes(1, "ipv4");
    assert_eq!(v4.len(), 1);
    assert_eq!(v4[0]["prefix"], "192.0.2.0/24");
    assert_eq!(v4[0]["med"], 7);
    assert_eq!(v4[0]["next_hop"], "10.0.0.1");
    let v6 = net.routes(1, "ipv6");
    assert_eq!(v6[0]["next_hop"], "fd00::1");
    // Withdraw: gone on the other side.
    let del = net.api(0, json!({"command": "route-del", "family": "evpn", "route_type": 2, "rd": "10.0.0.1:100", "mac": "00:11:22:33:44:55", "ip": "10.1.0.5"}));
    assert_eq!(del["ok"], true, "{del}");
    assert_eq!(net.routes(1, "evpn").len(), 2);
    let s = net.api(1, json!({"command": "show-bgp-summary"}));
    let fams = &s["peers"][0]["families"];
    assert_eq!(fams[2]["family"], "evpn");
    assert_eq!(fams[2]["received"], 2);
    assert_eq!(fams[2]["accepted"], 2);
}

#[test]
fn ebgp_keeps_the_evpn_next_hop_and_prepends_our_as_and_sets_unicast_next_hop_self() {
    let mut net = Net::new(&[
        (
            "10.0.0.1",
            &leaf("10.0.0.1", 65001, &[("10.0.0.2", 65002, "")]),
        ),
        (
            "10.0.0.2",
            &leaf("10.0.0.2", 65002, &[("10.0.0.1", 65001, "passive = true")]),
        ),
    ]);
    net.advance(Duration::from_secs(1));
    net.api(
        0,
        rt2(
            "10.0.0.1:100",
            "00:11:22:33:44:55",
            json!({"next_hop": "10.99.0.1", "local_pref": 300}),
        ),
    );
    net.api(0, json!({"command": "route-add", "family": "ipv4", "prefix": "192.0.2.0/24", "next_hop": "10.99.0.1"}));
    let evpn = net.routes(1, "evpn");
    assert_eq!(evpn[0]["next_hop"], "10.99.0.1");
    assert_eq!(evpn[0]["as_path"], "65001");
    assert_eq!(evpn[0]["local_pref"], Value::Null);
    let v4 = net.routes(1, "ipv4");
    assert_eq!(v4[0]["next_hop"], "10.0.0.1");
}

#[test]
fn route_reflector_reflects_client_routes_with_originator_id_and_cluster_list() {
    let rr_clients = "route_reflector_client = true\npassive = true";
    let mut net = Net::new(&[
        (
            "10.0.0.1",
            &leaf("10.0.0.1", 65000, &[("10.0.0.2", 65000, "")]),
        ),
        (
            "10.0.0.2",
            &leaf(
                "10.0.0.2",
                65000,
                &[
                    ("10.0.0.1", 65000, rr_clients),
                    ("10.0.0.3", 65000, rr_clients),
                ],
            ),
        ),
        (
            "10.0.0.3",
            &leaf("10.0.0.3", 65000, &[("10.0.0.2", 65000, "")]),
        ),
    ]);
    net.advance(Duration::from_secs(1));
    net.api(0, rt2("10.0.0.1:100", "00:11:22:33:44:55", json!({})));
    let at3 = net.routes(2, "evpn");
    assert_eq!(at3.len(), 1);
    assert_eq!(at3[0]["originator_id"], "10.0.0.1");
    assert_eq!(at3[0]["cluster_list"], json!(["10.0.0.2"]));
    assert_eq!(at3[0]["next_hop"], "10.0.0.1");
    assert_eq!(at3[0]["peer"], "10.0.0.2");
    // Not reflected back to the originating client.
    let at1 = net.routes(0, "evpn");
    assert_eq!(at1.len(), 1);
    assert_eq!(at1[0]["peer"], Value::Null);
}

#[test]
fn ibgp_split_horizon_without_route_reflection() {
    let mut net = Net::new(&[
        (
            "10.0.0.1",
            &leaf("10.0.0.1", 65000, &[("10.0.0.2", 65000, "")]),
        ),
        (
            "10.0.0.2",
            &leaf(
                "10.0.0.2",
                65000,
                &[
                    ("10.0.0.1", 65000, "passive = true"),
                    ("10.0.0.3", 65000, "passive = true"),
                ],
            ),
        ),
        (
            "10.0.0.3",
            &leaf("10.0.0.3", 65000, &[("10.0.0.2", 65000, "")]),
        ),
    ]);
    net.advance(Duration::from_secs(1));
    net.api(0, rt2("10.0.0.1:100", "00:11:22:33:44:55", json!({})));
    assert_eq!(net.routes(1, "evpn").len(), 1);
    assert_eq!(net.routes(2, "evpn").len(), 0);
}

/// Three leaves: 0 and 1 advertise the same RT-2 key to 2 (same RD).
fn mobility(seq0: Value, seq1: Value) -> Value {
    let mut net = Net::new(&[
        (
            "10.0.0.1",
            &leaf("10.0.0.1", 65000, &[("10.0.0.3", 65000, "")]),
        ),
        (
            "10.0.0.2",
            &leaf("10.0.0.2", 65000, &[("10.0.0.3", 65000, "")]),
        ),
        (
            "10.0.0.3",
            &leaf(
                "10.0.0.3",
                65000,
                &[
                    ("10.0.0.1", 65000, "passive = true"),
                    ("10.0.0.2", 65000, "passive = true"),
                ],
            ),
        ),
    ]);
    net.advance(Duration::from_secs(1));
    net.api(0, rt2("9.9.9.9:100", "00:11:22:33:44:55", seq0));
    net.api(1, rt2("9.9.9.9:100", "00:11:22:33:44:55", seq1));
    let routes = net.routes(2, "evpn");
    assert_eq!(routes.len(), 2);
    routes.into_iter().find(|r| r["best"] == true).unwrap()
}

#[test]
fn higher_mac_mobility_sequence_wins_even_over_local_pref() {
    let best = mobility(
        json!({"mac_mobility_seq": 1, "local_pref": 500}),
        json!({"mac_mobility_seq": 2}),
    );
    assert_eq!(best["peer"], "10.0.0.2");
    assert_eq!(best["reason"], "mac-mobility-sequence");
}

#[test]
fn sticky_mac_wins_over_higher_sequence() {
    let best = mobility(json!({"sticky": true}), json!({"mac_mobility_seq": 7}));
    assert_eq!(best["peer"], "10.0.0.1");
    assert_eq!(best["reason"], "mac-mobility-sticky");
}

#[test]
fn equal_sequence_lower_vtep_wins() {
    let best = mobility(
        json!({"mac_mobility_seq": 4, "next_hop": "10.0.0.9"}),
        json!({"mac_mobility_seq": 4, "next_hop": "10.0.0.8"}),
    );
    assert_eq!(best["peer"], "10.0.0.2");
    assert_eq!(best["reason"], "mac-mobility-lower-vtep");
}

#[test]
fn unicast_best_path_by_local_pref_names_the_reason() {
    let mut net = Net::new(&[
        (
            "10.0.0.1",
            &leaf("10.0.0.1", 65000, &[("10.0.0.3", 65000, "")]),
        ),
        (
            "10.0.0.2",
            &leaf("10.0.0.2", 65000, &[("10.0.0.3", 65000, "")]),
        ),
        (
            "10.0.0.3",
            &leaf(
                "10.0.0.3",
                65000,
                &[
                    ("10.0.0.1", 65000, "passive = true"),
                    ("10.0.0.2", 65000, "passive = true"),
                ],
            ),
        ),
    ]);
    net.advance(Duration::from_secs(1));
    net.api(0, json!({"command": "route-add", "family": "ipv4", "prefix": "192.0.2.0/24", "local_pref": 50}));
    net.api(
        1,
        json!({"command": "route-add", "family": "ipv4", "prefix": "192.0.2.0/24"}),
    );
    let best: Vec<Value> = net
        .routes(2, "ipv4")
        .into_iter()
        .filter(|r| r["best"] == true)
        .collect();
    assert_eq!(best[0]["peer"], "10.0.0.2");
    assert_eq!(best[0]["reason"], "local-pref");
}

#[test]
fn max_prefix_sends_cease_1_with_afi_safi_limit_and_restarts_after_the_timer() {
    let mut net = Net::new(&[
        (
            "10.0.0.1",
            &leaf("10.0.0.1", 65000, &[("10.0.0.2", 65000, "")]),
        ),
        (
            "10.0.0.2",
            &leaf(
                "10.0.0.2",
                65000,
                &[(
                    "10.0.0.1",
                    65000,
                    "passive = true\nmax_prefix = { limit = 2, restart = 30 }",
                )],
            ),
        ),
    ]);
    for i in 0..3 {
        net.api(
            0,
            rt2(
                "10.0.0.1:100",
                &format!("00:11:22:33:44:{i:02x}"),
                json!({}),
            ),
        );
    }
    net.advance(Duration::from_secs(1));
    assert_eq!(
        net.notifications_from(1),
        // RFC 8538 §5.1: a Hard Reset carrying Cease/1 (the N bit is on).
        vec![(6, 9, vec![6, 1, 0, 25, 70, 0, 0, 0, 2])]
    );
    assert_eq!(net.state(1, "10.0.0.1"), "idle");
    assert_eq!(net.routes(1, "evpn").len(), 0);
    // Idle refuses connections until the restart timer fires.
    net.advance(Duration::from_secs(28));
    assert_eq!(net.state(1, "10.0.0.1"), "idle");
    net.api(0, json!({"command": "route-del", "family": "evpn", "route_type": 2, "rd": "10.0.0.1:100", "mac": "00:11:22:33:44:02", "ip": "10.1.0.5"}));
    net.advance(Duration::from_secs(120));
    assert_eq!(net.state(1, "10.0.0.1"), "established");
    assert_eq!(net.routes(1, "evpn").len(), 2);
}

#[test]
fn max_prefix_warning_only_keeps_the_session() {
    let mut net = Net::new(&[
        (
            "10.0.0.1",
            &leaf("10.0.0.1", 65000, &[("10.0.0.2", 65000, "")]),
        ),
        (
            "10.0.0.2",
            &leaf(
                "10.0.0.2",
                65000,
                &[(
                    "10.0.0.1",
                    65000,
                    "passive = true\nmax_prefix = { limit = 1, warning_only = true }",
                )],
            ),
        ),
    ]);
    for i in 0..3 {
        net.api(
            0,
            rt2(
                "10.0.0.1:100",
                &format!("00:11:22:33:44:{i:02x}"),
                json!({}),
            ),
        );
    }
    net.advance(Duration::from_secs(1));
    assert!(net.notifications_from(1).is_empty());
    assert_eq!(net.routes(1, "evpn").len(), 3);
}

#[test]
fn gr_helper_keeps_stale_routes_and_sweeps_what_the_restarted_peer_does_not_readvertise() {
    let toml0 = leaf("10.0.0.1", 65000, &[("10.0.0.2", 65000, "")]);
    let mut net = ibgp_pair();
    net.advance(Duration::from_secs(1));
    for i in 0..3 {
        net.api(
            0,
            rt2(
                "10.0.0.1:100",
                &format!("00:11:22:33:44:{i:02x}"),
                json!({}),
            ),
        );
    }
    assert_eq!(net.routes(1, "evpn").len(), 3);
    // The daemon on node 0 dies: no NOTIFICATION.
    net.restart(
        0,
        &toml0,
        CoreOptions {
            restarting: true,
            forwarding_preserved: true,
        },
    );
    net.cut(0);
    let stale = net.routes(1, "evpn");
    assert_eq!(stale.len(), 3);
    assert!(stale.iter().all(|r| r["stale"] == true));
    let n = net.api(1, json!({"command": "show-bgp-neighbors"}));
    assert_eq!(n["neighbors"][0]["graceful_restart_state"], "helper-stale");
    // It comes back and re-advertises one route, then End-of-RIB.
    net.api(0, rt2("10.0.0.1:100", "00:11:22:33:44:01", json!({})));
    net.advance(Duration::from_secs(5));
    assert_eq!(net.state(1, "10.0.0.1"), "established");
    let r = net.api(1, json!({"command": "show-bgp-neighbors"}));
    assert_eq!(
        r["neighbors"][0]["negotiated"]["graceful_restart"]["restarting"],
        true
    );
    assert_eq!(
        r["neighbors"][0]["negotiated"]["graceful_restart"]["forwarding_preserved"],
        json!(["ipv4", "ipv6", "evpn"])
    );
    let left = net.routes(1, "evpn");
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["mac"], "00:11:22:33:44:01");
    assert_eq!(left[0]["stale"], false);
}

#[test]
fn gr_helper_sweeps_stale_routes_when_the_restart_time_runs_out() {
    let mut net = ibgp_pair();
    net.advance(Duration::from_secs(1));
    net.api(0, rt2("10.0.0.1:100", "00:11:22:33:44:55", json!({})));
    net.restart(0, &leaf("10.0.0.1", 65000, &[]), CoreOptions::default());
    net.cut(0);
    net.advance(Duration::from_secs(119));
    assert_eq!(net.routes(1, "evpn").len(), 1);
    net.advance(Duration::from_secs(2));
    assert_eq!(net.routes(1, "evpn").len(), 0);
}

#[test]
fn update_packing_puts_many_routes_with_the_same_attributes_in_few_updates() {
    let mut net = ibgp_pair();
    let n = 300;
    for i in 0..n {
        let mac = format!("00:11:22:33:{:02x}:{:02x}", i / 256, i % 256);
        net.api(0, rt2("10.0.0.1:100", &mac, json!({})));
    }
    net.advance(Duration::from_secs(1));
    assert_eq!(net.routes(1, "evpn").len(), n);
    let updates: Vec<usize> = net
        .wire
        .iter()
        .filter(|w| w.from == 0)
        .filter_map(|w| match w.decoded() {
            Some(Decoded::Update(u)) => u.update.attrs.mp_reach.as_ref().map(|m| m.nlri.len()),
            _ => None,
        })
        .filter(|c| *c > 0)
        .collect();
    let k = updates[0];
    assert!(k > 50, "{k} NLRI per UPDATE");
    assert_eq!(updates.len(), n.div_ceil(k));
    assert!(net.wire.iter().all(|w| w.bytes.len() <= 4096));
}

/// A core with an established iBGP (or eBGP) session to 10.0.0.2, which
/// announced EVPN only.
fn established(remote_as: u32) -> (Core, ConnId, Instant) {
    established_with(remote_as, vec![Capability::multiprotocol(Family::Evpn)])
}

/// A core with an established session to 10.0.0.2 (driven by hand: the
/// test plays the peer), which announced `caps`.
pub(super) fn established_with(remote_as: u32, caps: Vec<Capability>) -> (Core, ConnId, Instant) {
    let cfg = config(&leaf(
        "10.0.0.1",
        65000,
        &[("10.0.0.2", remote_as, "passive = true")],
    ));
    let now = Instant::now();
    let mut core = Core::new(&cfg, now, 1);
    let conn = ConnId(1 << 63);
    core.handle(
        now,
        Input::Accepted {
            conn,
            local: "10.0.0.1:179".parse().unwrap(),
            remote: "10.0.0.2:5000".parse().unwrap(),
        },
    );
    let open = Open::new(remote_as, 90, Ipv4Addr::new(10, 0, 0, 2), caps);
    core.handle(
        now,
        Input::Message {
            conn,
            bytes: open.encode(),
        },
    );
    core.handle(
        now,
        Input::Message {
            conn,
            bytes: evpn_proto::message::keepalive(),
        },
    );
    while core.poll_output().is_some() {}
    assert_eq!(
        core.peer_state("10.0.0.2".parse().unwrap()),
        Some("established")
    );
    (core, conn, now)
}

pub(super) fn mac_ip(last: u8) -> EvpnRoute {
    EvpnRoute::MacIp(MacIp {
        rd: "10.0.0.2:100".parse().unwrap(),
        esi: Esi::ZERO,
        eth_tag: 0,
        mac: Mac([0, 0x11, 0x22, 0x33, 0x44, last]),
        ip: None,
        label1: Label::from_vni(Vni::new(100).unwrap()),
        label2: None,
    })
}

pub(super) fn evpn_update(attrs: &PathAttrs, routes: &[EvpnRoute], ibgp: bool) -> Vec<u8> {
    let cx = DecodeCxt {
        ibgp,
        ..DecodeCxt::default()
    };
    let nh = NextHop::V4(Ipv4Addr::new(10, 0, 0, 2));
    let mut m = pack_mp_reach(attrs, Family::Evpn, &nh, routes, &cx).unwrap();
    m.remove(0)
}

pub(super) fn base_attrs(as_path: &[u32]) -> PathAttrs {
    PathAttrs {
        origin: Some(Origin::Igp),
        as_path: Some(AsPath::sequence(as_path.iter().copied())),
        local_pref: Some(100),
        ext_communities: Some(vec![ExtCommunity::RouteTarget(
            "65000:100".parse().unwrap(),
        )]),
        ..PathAttrs::default()
    }
}

fn evpn_count(core: &mut Core, now: Instant) -> usize {
    core.handle(
        now,
        Input::Api {
            id: crate::core::io::RequestId(1),
            request: json!({"command": "show-bgp-routes", "family": "evpn"}),
        },
    );
    let reply = std::iter::from_fn(|| core.poll_output())
        .find_map(|o| match o {
            Output::ApiReply { reply, .. } => Some(reply),
            _ => None,
        })
        .unwrap();
    reply["routes"].as_array().map_or(0, Vec::len)
}

#[test]
fn treat_as_withdraw_update_removes_the_routes_it_carries() {
    let (mut core, conn, now) = established(65000);
    let good = evpn_update(&base_attrs(&[]), &[mac_ip(1), mac_ip(2)], true);
    core.handle(
        now,
        Input::Message {
            conn,
            bytes: good.clone(),
        },
    );
    assert_eq!(evpn_count(&mut core, now), 2);
    // The same UPDATE with ORIGIN of length 2 (RFC 7606 §7.1: TAW).
    let at = good
        .windows(4)
        .position(|w| w == [0x40, 0x01, 0x01, 0x00])
        .unwrap();
    let mut bad = good[..at].to_vec();
    bad.extend_from_slice(&[0x40, 0x01, 0x02, 0x00, 0x00]);
    bad.extend_from_slice(&good[at + 4..]);
    let total = bad.len() as u16;
    bad[16..18].copy_from_slice(&total.to_be_bytes());
    let alen = u16::from_be_bytes([bad[21], bad[22]]) + 1;
    bad[21..23].copy_from_slice(&alen.to_be_bytes());
    core.handle(now, Input::Message { conn, bytes: bad });
    assert_eq!(evpn_count(&mut core, now), 0);
    assert_eq!(
        core.peer_state("10.0.0.2".parse().unwrap()),
        Some("established")
    );
}

#[test]
fn routes_with_our_as_originator_id_or_cluster_id_are_ignored() {
    let (mut core, conn, now) = established(65000);
    let mut a = base_attrs(&[]);
    a.originator_id = Some(Ipv4Addr::new(10, 0, 0, 1));
    core.handle(
        now,
        Input::Message {
            conn,
            bytes: evpn_update(&a, &[mac_ip(1)], true),
        },
    );
    let mut a = base_attrs(&[]);
    a.cluster_list = Some(vec![Ipv4Addr::new(10, 0, 0, 1)]);
    core.handle(
        now,
        Input::Message {
            conn,
            bytes: evpn_update(&a, &[mac_ip(2)], true),
        },
    );
    assert_eq!(evpn_count(&mut core, now), 0);
    let (mut core, conn, now) = established(65009);
    core.handle(
        now,
        Input::Message {
            conn,
            bytes: evpn_update(&base_attrs(&[65009, 65000]), &[mac_ip(3)], false),
        },
    );
    assert_eq!(evpn_count(&mut core, now), 0);
    core.handle(
        now,
        Input::Message {
            conn,
            bytes: evpn_update(&base_attrs(&[65009]), &[mac_ip(3)], false),
        },
    );
    assert_eq!(evpn_count(&mut core, now), 1);
}

#[test]
fn session_reset_update_sends_the_notification_and_closes() {
    let (mut core, conn, now) = established(65000);
    // Withdrawn Routes Length beyond the message: [3,1].
    let mut bad = evpn_proto::message::keepalive();
    bad[18] = 2;
    bad.extend_from_slice(&[0x00, 0x50, 0x00, 0x00]);
    let len = bad.len() as u16;
    bad[16..18].copy_from_slice(&len.to_be_bytes());
    core.handle(now, Input::Message { conn, bytes: bad });
    let out: Vec<Output> = std::iter::from_fn(|| core.poll_output()).collect();
    let n = out.iter().find_map(|o| match o {
        Output::Send { bytes, .. } if bytes[18] == 3 => Some((bytes[19], bytes[20])),
        _ => None,
    });
    assert_eq!(n, Some((3, 1)));
    assert_eq!(core.peer_state("10.0.0.2".parse().unwrap()), Some("active"));
}

/// (UPDATEs with NLRI, NLRI announced) in one `Output::Send`.
pub(super) fn announced_in(bytes: &[u8]) -> (usize, usize) {
    let (mut msgs, mut nlri) = (0, 0);
    let mut b = bytes;
    while let Ok(Some(n)) = evpn_proto::message::frame_len(b) {
        if let Ok(Decoded::Update(u)) =
            evpn_proto::message::decode_message(&b[..n], &DecodeCxt::default())
        {
            if let Some(m) = u.update.attrs.mp_reach.as_ref() {
                msgs += 1;
                nlri += m.nlri.len();
            }
        }
        b = &b[n..];
    }
    (msgs, nlri)
}

/// Drain the core; (Sends to `conn`, NLRI announced in them).
fn drain_sends(core: &mut Core, conn: ConnId) -> (usize, usize) {
    let (mut sends, mut nlri) = (0, 0);
    for _ in 0..100_000 {
        match core.poll_output() {
            Some(Output::Send { conn: c, bytes }) if c == conn => {
                sends += 1;
                nlri += announced_in(&bytes).1;
            }
            Some(_) => {}
            None => return (sends, nlri),
        }
    }
    panic!("core did not go quiet");
}

#[test]
fn a_write_blocked_peer_gets_no_updates_until_ready_and_then_chunks() {
    let (mut core, conn, now) = established(65000);
    core.handle(now, Input::WriteBlocked { conn });
    let n = 5000;
    for i in 0..n {
        let mac = format!(
            "00:11:22:{:02x}:{:02x}:{:02x}",
            i >> 16,
            (i >> 8) & 0xff,
            i & 0xff
        );
        core.handle(
            now,
            Input::Api {
                id: crate::core::io::RequestId(i),
                request: rt2("10.0.0.1:100", &mac, json!({})),
            },
        );
    }
    // Blocked: keepalives and API replies may go out, no routes.
    assert_eq!(drain_sends(&mut core, conn).1, 0);
    // Ready: the routes come in bounded chunks, one Send each.
    core.handle(now, Input::WriteReady { conn });
    let Some(Output::Send { bytes, .. }) = core.poll_output() else {
        panic!("no UPDATEs after WriteReady")
    };
    let (msgs, first) = announced_in(&bytes);
    assert!(
        first > 0 && first <= crate::core::update_out::FLUSH_CHUNK,
        "{first}"
    );
    assert!(msgs > 1);
    // Blocked again mid-way: nothing more until ready.
    core.handle(now, Input::WriteBlocked { conn });
    assert_eq!(drain_sends(&mut core, conn).1, 0);
    core.handle(now, Input::WriteReady { conn });
    let (sends, rest) = drain_sends(&mut core, conn);
    assert_eq!(first + rest, n as usize);
    assert!(sends >= (n as usize - first).div_ceil(crate::core::update_out::FLUSH_CHUNK));
    core.check_counters();
}
