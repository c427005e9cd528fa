//! Update groups: route-reflector clients of one export class share one
//! Adj-RIB-Out and the packed UPDATEs; the per-member exclusions (not back
//! to the source, nor to the originator), newcomers, route refresh and a
//! write-blocked member.

use std::time::Duration;

use evpn_proto::message::Decoded;
use serde_json::{json, Value};

use super::rib_scenarios::rt2;
use super::{leaf, Net};
use crate::core::io::Input;

const RR: usize = 0;

/// Node 0 is the route reflector (10.0.0.1) for clients 10.0.0.2..=N+1.
fn rr_with_clients(n: usize) -> Net {
    let client = "route_reflector_client = true\npassive = true";
    let addrs: Vec<String> = (0..n).map(|i| format!("10.0.0.{}", i + 2)).collect();
    let rr_neighbors: Vec<(&str, u32, &str)> =
        addrs.iter().map(|a| (a.as_str(), 65000, client)).collect();
    let mut configs = vec![(
        "10.0.0.1".to_string(),
        leaf("10.0.0.1", 65000, &rr_neighbors),
    )];
    for a in &addrs {
        configs.push((a.clone(), leaf(a, 65000, &[("10.0.0.1", 65000, "")])));
    }
    let refs: Vec<(&str, &str)> = configs
        .iter()
        .map(|(a, c)| (a.as_str(), c.as_str()))
        .collect();
    let mut net = Net::new(&refs);
    net.advance(Duration::from_secs(1));
    net
}

fn mac(i: usize) -> String {
    format!("00:11:22:33:{:02x}:{:02x}", i >> 8, i & 0xff)
}

/// Node `i` originates `n` RT-2s with RD `rd`.
fn originate(net: &mut Net, i: usize, rd: &str, n: usize) {
    for k in 0..n {
        net.api(i, rt2(rd, &mac(k), json!({})));
    }
}

fn rr_neighbor(net: &mut Net, peer: &str) -> Value {
    let r = net.api(RR, json!({"command": "show-bgp-neighbors", "peer": peer}));
    r["neighbors"][0].clone()
}

/// EVPN routes advertised by the RR to `peer` (its summary counter).
fn advertised(net: &mut Net, peer: &str) -> u64 {
    let n = rr_neighbor(net, peer);
    n["families"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["family"] == "evpn")
        .and_then(|f| f["advertised"].as_u64())
        .unwrap_or(0)
}

/// UPDATE messages with NLRI the RR sent so far, as raw bytes, per receiver.
fn updates_from_rr(net: &Net) -> Vec<Vec<u8>> {
    net.wire
        .iter()
        .filter(|w| w.from == RR)
        .filter(|w| matches!(w.decoded(), Some(Decoded::Update(u)) if u.update.attrs.mp_reach.is_some()))
        .map(|w| w.bytes.clone())
        .collect()
}

#[test]
fn clients_of_one_class_share_a_group_and_get_identical_updates_but_not_their_own_routes() {
    let mut net = rr_with_clients(3);
    let groups: Vec<Value> = (2..=4)
        .map(|i| rr_neighbor(&mut net, &format!("10.0.0.{i}"))["update_group"].clone())
        .collect();
    assert!(groups[0].is_u64(), "{groups:?}");
    assert_eq!(groups[0], groups[1]);
    assert_eq!(groups[1], groups[2]);
    net.wire.clear();
    originate(&mut net, 1, "10.0.0.2:100", 50);
    // Clients 10.0.0.3 and .4 got the routes, 10.0.0.2 (the source) did not.
    assert_eq!(net.routes(2, "evpn").len(), 50);
    assert_eq!(net.routes(3, "evpn").len(), 50);
    assert_eq!(
        net.routes(1, "evpn")
            .iter()
            .filter(|r| !r["peer"].is_null())
            .count(),
        0
    );
    assert_eq!(advertised(&mut net, "10.0.0.2"), 0);
    assert_eq!(advertised(&mut net, "10.0.0.3"), 50);
    assert_eq!(advertised(&mut net, "10.0.0.4"), 50);
    // Packed once: each UPDATE went out twice, the same bytes to both
    // receivers.
    let mut u = updates_from_rr(&net);
    assert_eq!(u.len(), 100);
    u.sort();
    assert!(
        u.chunks(2).all(|p| p[0] == p[1]),
        "UPDATEs differ per receiver"
    );
}

#[test]
fn best_path_moving_between_clients_withdraws_from_the_new_source_and_sends_to_the_old() {
    let mut net = rr_with_clients(3);
    // Client .2 announces; then client .3 announces the same key with a
    // higher MAC mobility sequence: the best path moves to .3.
    net.api(
        1,
        rt2("10.0.0.9:100", &mac(1), json!({"mac_mobility_seq": 1})),
    );
    assert_eq!(advertised(&mut net, "10.0.0.2"), 0);
    assert_eq!(advertised(&mut net, "10.0.0.3"), 1);
    net.api(
        2,
        rt2("10.0.0.9:100", &mac(1), json!({"mac_mobility_seq": 2})),
    );
    // .3 is now the source: the RR withdrew it from .3 (its own path is
    // what .3 has); .2 gets .3's path.
    assert_eq!(advertised(&mut net, "10.0.0.2"), 1);
    assert_eq!(advertised(&mut net, "10.0.0.3"), 0);
    assert_eq!(advertised(&mut net, "10.0.0.4"), 1);
    let at2: Vec<Value> = net
        .routes(1, "evpn")
        .into_iter()
        .filter(|r| !r["peer"].is_null())
        .collect();
    assert_eq!(at2.len(), 1, "{at2:?}");
    assert_eq!(at2[0]["originator_id"], "10.0.0.3");
    let at4 = net.routes(3, "evpn");
    assert_eq!(at4.len(), 1);
    assert_eq!(at4[0]["mac_mobility_seq"], 2);
    // .3 withdraws: .2 and .4 get .2's path back / nothing is left at .3.
    net.api(
        2,
        json!({"command": "route-del", "family": "evpn", "route_type": 2,
        "rd": "10.0.0.9:100", "mac": mac(1), "ip": "10.1.0.5"}),
    );
    assert_eq!(advertised(&mut net, "10.0.0.2"), 0);
    assert_eq!(advertised(&mut net, "10.0.0.3"), 1);
    assert_eq!(advertised(&mut net, "10.0.0.4"), 1);
    assert_eq!(net.routes(3, "evpn")[0]["originator_id"], "10.0.0.2");
}

#[test]
fn a_client_joining_late_gets_the_full_table_and_the_others_nothing_new() {
    let mut net = rr_with_clients(3);
    originate(&mut net, 1, "10.0.0.2:100", 30);
    // Client .4 restarts (session reset without GR): it rejoins the group.
    let toml = leaf("10.0.0.4", 65000, &[("10.0.0.1", 65000, "")]);
    net.restart(3, &toml, Default::default());
    net.cut(3);
    net.wire.clear();
    net.advance(Duration::from_secs(40));
    assert_eq!(net.state(RR, "10.0.0.4"), "established");
    assert_eq!(net.routes(3, "evpn").len(), 30);
    assert_eq!(advertised(&mut net, "10.0.0.4"), 30);
    assert_eq!(
        rr_neighbor(&mut net, "10.0.0.4")["update_group"],
        rr_neighbor(&mut net, "10.0.0.3")["update_group"]
    );
    // Only the newcomer got routes: 30 NLRI in all left the RR.
    let nlri: usize = net
        .wire
        .iter()
        .filter(|w| w.from == RR)
        .filter_map(|w| match w.decoded() {
            Some(Decoded::Update(u)) => u.update.attrs.mp_reach.map(|m| m.nlri.len()),
            _ => None,
        })
        .sum();
    assert_eq!(nlri, 30);
}

#[test]
fn a_write_blocked_member_holds_its_group_at_most_split_after_then_goes_alone() {
    let mut net = rr_with_clients(3);
    let to4 = net.conn(RR, 3).unwrap();
    let now = net.now;
    net.nodes[RR]
        .core
        .handle(now, Input::WriteBlocked { conn: to4 });
    originate(&mut net, 1, "10.0.0.2:100", 20);
    // The group waits for its blocked member.
    assert_eq!(net.routes(2, "evpn").len(), 0);
    assert_eq!(net.routes(3, "evpn").len(), 0);
    // After SPLIT_AFTER the blocked member is split off; the others go on.
    net.advance(crate::core::update_group::SPLIT_AFTER + Duration::from_millis(10));
    assert_eq!(net.routes(2, "evpn").len(), 20);
    assert_eq!(net.routes(3, "evpn").len(), 0);
    assert_ne!(
        rr_neighbor(&mut net, "10.0.0.4")["update_group"],
        rr_neighbor(&mut net, "10.0.0.3")["update_group"]
    );
    // Ready again: it gets everything, on its own.
    let now = net.now;
    net.nodes[RR]
        .core
        .handle(now, Input::WriteReady { conn: to4 });
    net.pump();
    assert_eq!(net.routes(3, "evpn").len(), 20);
    assert_eq!(advertised(&mut net, "10.0.0.4"), 20);
    // New routes reach both groups.
    net.api(1, rt2("10.0.0.2:100", &mac(99), json!({})));
    assert_eq!(net.routes(2, "evpn").len(), 21);
    assert_eq!(net.routes(3, "evpn").len(), 21);
}

#[test]
fn a_member_blocked_briefly_is_not_split() {
    let mut net = rr_with_clients(2);
    let to3 = net.conn(RR, 2).unwrap();
    let now = net.now;
    net.nodes[RR]
        .core
        .handle(now, Input::WriteBlocked { conn: to3 });
    originate(&mut net, 1, "10.0.0.2:100", 5);
    net.advance(Duration::from_millis(500));
    let now = net.now;
    net.nodes[RR]
        .core
        .handle(now, Input::WriteReady { conn: to3 });
    net.advance(Duration::from_secs(5));
    assert_eq!(net.routes(2, "evpn").len(), 5);
    assert_eq!(
        rr_neighbor(&mut net, "10.0.0.2")["update_group"],
        rr_neighbor(&mut net, "10.0.0.3")["update_group"]
    );
}

#[test]
fn route_refresh_from_one_member_resends_to_it_alone() {
    let mut net = rr_with_clients(3);
    originate(&mut net, 1, "10.0.0.2:100", 10);
    let before3 = rr_neighbor(&mut net, "10.0.0.3")["updates_out"].as_u64();
    let before4 = rr_neighbor(&mut net, "10.0.0.4")["updates_out"].as_u64();
    // Client .4 asks for a refresh (through its own soft-in clear).
    net.api(
        3,
        json!({"command": "clear-bgp", "peer": "10.0.0.1", "soft": "in"}),
    );
    assert_eq!(
        rr_neighbor(&mut net, "10.0.0.3")["updates_out"].as_u64(),
        before3
    );
    assert!(rr_neighbor(&mut net, "10.0.0.4")["updates_out"].as_u64() > before4);
    assert_eq!(rr_neighbor(&mut net, "10.0.0.4")["route_refresh_out"], 6);
    assert_eq!(net.routes(3, "evpn").len(), 10);
    assert!(net.routes(3, "evpn").iter().all(|r| r["stale"] == false));
}

#[test]
fn a_member_blocked_while_idle_is_split_once_work_arrives() {
    let mut net = rr_with_clients(3);
    let to4 = net.conn(RR, 3).unwrap();
    let now = net.now;
    net.nodes[RR]
        .core
        .handle(now, Input::WriteBlocked { conn: to4 });
    // Nothing to send: nobody is held up, no split.
    net.advance(Duration::from_secs(5));
    assert_eq!(
        rr_neighbor(&mut net, "10.0.0.4")["update_group"],
        rr_neighbor(&mut net, "10.0.0.3")["update_group"]
    );
    // Work arrives: the others wait at most SPLIT_AFTER (plus the check's
    // own period), then go on without the blocked member.
    originate(&mut net, 1, "10.0.0.2:100", 5);
    assert_eq!(net.routes(2, "evpn").len(), 0);
    net.advance(2 * crate::core::update_group::SPLIT_AFTER);
    assert_eq!(net.routes(2, "evpn").len(), 5);
    assert_eq!(net.routes(3, "evpn").len(), 0);
}
