//! RFC 8538 (Notification Message Support for BGP Graceful Restart): with
//! the N bit set by both sides, a NOTIFICATION other than Hard Reset (sent
//! or received) and hold-timer expiry keep the peer's routes stale like a
//! lost connection; a Hard Reset flushes them at once.

use std::time::Duration;

use serde_json::{json, Value};

use super::{leaf, Net};

/// No N bit on this node.
const NO_N_BIT: &str = "[graceful_restart]\nnotification = false\n";

fn rt2(mac: &str) -> Value {
    json!({"command": "route-add", "family": "evpn", "route_type": 2, "rd": "10.0.0.1:100",
        "mac": mac, "ip": "10.1.0.5", "vni": 100, "route_targets": ["65000:100"]})
}

fn rt2_del(mac: &str) -> Value {
    json!({"command": "route-del", "family": "evpn", "route_type": 2, "rd": "10.0.0.1:100",
        "mac": mac, "ip": "10.1.0.5"})
}

/// iBGP pair (node 1 passive, node 0 with `extra0` lines for its neighbor),
/// `global0` / `global1` appended to each config; node 0 advertises three
/// RT-2s, node 1 one RT-3.
fn pair_with_routes(extra0: &str, global0: &str, global1: &str) -> Net {
    let c0 = leaf("10.0.0.1", 65000, &[("10.0.0.2", 65000, extra0)]) + global0;
    let c1 = leaf("10.0.0.2", 65000, &[("10.0.0.1", 65000, "passive = true")]) + global1;
    let mut net = Net::new(&[("10.0.0.1", &c0), ("10.0.0.2", &c1)]);
    net.advance(Duration::from_secs(1));
    for i in 0..3 {
        net.api(0, rt2(&format!("00:11:22:33:44:{i:02x}")));
    }
    net.api(
        1,
        json!({"command": "route-add", "family": "evpn", "route_type": 3,
        "rd": "10.0.0.2:100", "vni": 100, "route_targets": ["65000:100"]}),
    );
    assert_eq!(net.routes(1, "evpn").len(), 4);
    net
}

fn stale_flags(net: &mut Net, i: usize) -> Vec<bool> {
    net.routes(i, "evpn")
        .iter()
        .filter(|r| !r["peer"].is_null())
        .map(|r| r["stale"] == true)
        .collect()
}

fn neighbor(net: &mut Net, i: usize) -> Value {
    net.api(i, json!({"command": "show-bgp-neighbors"}))["neighbors"][0].clone()
}

#[test]
fn n_bit_is_advertised_and_negotiated_only_when_both_sides_set_it() {
    let mut net = pair_with_routes("", "", "");
    let n = neighbor(&mut net, 0);
    assert_eq!(n["negotiated"]["graceful_restart"]["notification"], true);
    // First session of this process, not restarting: no F bit.
    assert_eq!(
        n["negotiated"]["graceful_restart"]["forwarding_preserved"],
        json!([])
    );
    let mut net = pair_with_routes("", "", NO_N_BIT);
    for i in 0..2 {
        let n = neighbor(&mut net, i);
        assert_eq!(n["negotiated"]["graceful_restart"]["notification"], false);
    }
}

#[test]
fn soft_notification_with_n_bit_keeps_routes_stale_on_both_sides_until_end_of_rib() {
    // connect_retry 10 s: the session stays down long enough to look.
    let mut net = pair_with_routes("connect_retry = 10", "", "");
    let r = net.api(
        0,
        json!({"command": "clear-bgp", "peer": "10.0.0.2", "graceful": true}),
    );
    assert_eq!(r["ok"], true, "{r}");
    // A plain Cease / Administrative Reset: not a Hard Reset.
    assert_eq!(net.notifications_from(0), vec![(6, 4, vec![])]);
    assert_eq!(net.state(0, "10.0.0.2"), "active");
    // The receiver keeps the sender's routes, stale...
    assert_eq!(stale_flags(&mut net, 1), vec![true; 3]);
    assert_eq!(
        neighbor(&mut net, 1)["graceful_restart_state"],
        "helper-stale"
    );
    assert_eq!(neighbor(&mut net, 1)["last_error"]["direction"], "received");
    // ...and the sender the receiver's (RFC 8538 §4: both follow RFC 4724
    // §4.2 as the receiving speaker).
    assert_eq!(stale_flags(&mut net, 0), vec![true]);
    // While down, one route goes; the rest come back with End-of-RIB and
    // the missing one is swept.
    net.api(0, rt2_del("00:11:22:33:44:02"));
    net.advance(Duration::from_secs(15));
    assert_eq!(net.state(0, "10.0.0.2"), "established");
    let left = net.routes(1, "evpn");
    let macs: Vec<&str> = left
        .iter()
        .filter(|r| r["route_type"] == 2)
        .filter_map(|r| r["mac"].as_str())
        .collect();
    assert_eq!(macs, vec!["00:11:22:33:44:00", "00:11:22:33:44:01"]);
    assert_eq!(stale_flags(&mut net, 1), vec![false; 2]);
    assert_eq!(stale_flags(&mut net, 0), vec![false]);
    assert_eq!(neighbor(&mut net, 1)["graceful_restart_state"], "none");
    // Node 0's forwarding state survived the reset: F bit set this time.
    assert_eq!(
        neighbor(&mut net, 1)["negotiated"]["graceful_restart"]["forwarding_preserved"],
        json!(["ipv4", "ipv6", "evpn"])
    );
}

#[test]
fn soft_notification_without_n_bit_flushes_at_once() {
    let mut net = pair_with_routes("connect_retry = 10", "", NO_N_BIT);
    net.api(
        0,
        json!({"command": "clear-bgp", "peer": "10.0.0.2", "graceful": true}),
    );
    assert_eq!(net.notifications_from(0), vec![(6, 4, vec![])]);
    assert_eq!(stale_flags(&mut net, 1), Vec::<bool>::new());
    assert_eq!(stale_flags(&mut net, 0), Vec::<bool>::new());
    // The session comes back with everything.
    net.advance(Duration::from_secs(15));
    assert_eq!(net.routes(1, "evpn").len(), 4);
}

#[test]
fn hard_reset_carries_the_cease_and_flushes_at_once_despite_gr() {
    let mut net = pair_with_routes("connect_retry = 10", "", "");
    net.api(0, json!({"command": "clear-bgp", "peer": "10.0.0.2"}));
    // Cease / Hard Reset with Cease / Administrative Reset as data.
    assert_eq!(net.notifications_from(0), vec![(6, 9, vec![6, 4])]);
    assert_eq!(stale_flags(&mut net, 1), Vec::<bool>::new());
    assert_eq!(stale_flags(&mut net, 0), Vec::<bool>::new());
    let n = neighbor(&mut net, 1);
    assert_eq!(n["graceful_restart_state"], "none");
    assert_eq!(n["last_error"]["code"], 6);
    assert_eq!(n["last_error"]["subcode"], 9);
    assert_eq!(
        n["last_error"]["reason"],
        "hard reset: Administrative Reset"
    );
    net.advance(Duration::from_secs(15));
    assert_eq!(net.routes(1, "evpn").len(), 4);
}

#[test]
fn without_n_bit_a_hard_cease_is_sent_plain() {
    let mut net = pair_with_routes("", NO_N_BIT, "");
    let now = net.now;
    net.nodes[0].core.shutdown(now);
    net.pump();
    assert_eq!(net.notifications_from(0), vec![(6, 2, vec![])]);
    assert_eq!(stale_flags(&mut net, 1), Vec::<bool>::new());
}

#[test]
fn hold_timer_expiry_with_n_bit_keeps_routes_stale_then_end_of_rib_sweeps() {
    let mut net = pair_with_routes("hold_time = 9\nconnect_retry = 30", "", "");
    // Node 1 goes silent: node 0's hold timer expires and it sends [4,0].
    net.nodes[1].mute = true;
    net.advance(Duration::from_secs(9));
    assert_eq!(net.notifications_from(0), vec![(4, 0, vec![])]);
    // Node 0 (sender) keeps node 1's route stale; node 1 (receiver of a
    // soft NOTIFICATION) keeps node 0's.
    assert_eq!(stale_flags(&mut net, 0), vec![true]);
    assert_eq!(stale_flags(&mut net, 1), vec![true; 3]);
    net.nodes[1].mute = false;
    net.api(
        1,
        json!({"command": "route-del", "family": "evpn", "route_type": 3,
        "rd": "10.0.0.2:100", "vni": 100}),
    );
    net.advance(Duration::from_secs(40));
    assert_eq!(net.state(0, "10.0.0.2"), "established");
    // Node 1 no longer has its RT-3: swept on node 0 at node 1's EoR.
    assert_eq!(stale_flags(&mut net, 0), Vec::<bool>::new());
    assert_eq!(stale_flags(&mut net, 1), vec![false; 3]);
}

#[test]
fn hold_timer_expiry_without_n_bit_flushes() {
    let mut net = pair_with_routes("hold_time = 9\nconnect_retry = 30", NO_N_BIT, "");
    net.nodes[1].mute = true;
    net.advance(Duration::from_secs(9));
    assert_eq!(net.notifications_from(0), vec![(4, 0, vec![])]);
    assert_eq!(stale_flags(&mut net, 0), Vec::<bool>::new());
    assert_eq!(stale_flags(&mut net, 1), Vec::<bool>::new());
}

#[test]
fn max_prefix_with_n_bit_is_a_hard_reset_and_flushes() {
    let c1 = "passive = true\nmax_prefix = { limit = 2 }";
    let mut net = Net::new(&[
        (
            "10.0.0.1",
            &leaf("10.0.0.1", 65000, &[("10.0.0.2", 65000, "")]),
        ),
        (
            "10.0.0.2",
            &leaf("10.0.0.2", 65000, &[("10.0.0.1", 65000, c1)]),
        ),
    ]);
    net.advance(Duration::from_secs(1));
    for i in 0..3 {
        net.api(0, rt2(&format!("00:11:22:33:44:{i:02x}")));
    }
    let n = net.notifications_from(1);
    assert_eq!(n, vec![(6, 9, vec![6, 1, 0, 25, 70, 0, 0, 0, 2])]);
    assert_eq!(net.routes(1, "evpn").len(), 0);
    assert_eq!(neighbor(&mut net, 0)["graceful_restart_state"], "none");
}
