//! EVPN end to end: three leaves and a route-reflector spine in one
//! process, each leaf with a fake kernel (`netlink_glue::Fake`). Kernel
//! events are injected as observations; assertions read the fake kernel's
//! entries and the dataplane requests.

use std::net::IpAddr;
use std::time::Duration;

use evpn_proto::{Mac, Vni};
use ipnetwork::IpNetwork;
use netlink_glue::{
    Change, Dev, Key, LocalMac, LocalNeigh, MovedFrom, Nud, Observation, RouteVia, Value,
};
use serde_json::{json, Value as Json};

use super::Net;
use crate::core::io::{DataplaneEvent, DataplaneRequest, Input};
use crate::core::CoreOptions;

const SPINE: usize = 3;
const VM: &str = "52:54:00:00:00:05";
const VM_IP: &str = "10.1.0.5";

fn vni(v: u32) -> Vni {
    Vni::new(v).unwrap()
}
fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}
fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// A leaf: VNI 100 on br100 in VRF t1 (L3 VNI 5000) with an anycast
/// gateway; `extra` is appended (more neighbors, sections).
fn leaf_cfg(n: u8, global: &str, extra: &str) -> String {
    format!(
        r#"router_id = "10.0.0.{n}"
asn = 65000
{global}
[duplicate_detection]
max_moves = 3
window = 10
freeze = 30

[[neighbor]]
address = "10.0.0.100"
remote_as = 65000
families = ["evpn", "ipv4"]

[[vni]]
vni = 100
bridge = "br100"
vrf = "t1"
anycast_gateway = {{ ipv4 = "10.1.0.1/24", ipv6 = "fd00:1::1/64" }}

[[vrf]]
name = "t1"
l3vni = 5000
{extra}
"#
    )
}

fn spine_cfg() -> String {
    let mut s = "router_id = \"10.0.0.100\"\nasn = 65000\n".to_string();
    for n in 1..=3 {
        s.push_str(&format!(
            "[[neighbor]]\naddress = \"10.0.0.{n}\"\nremote_as = 65000\nfamilies = [\"evpn\", \"ipv4\"]\nroute_reflector_client = true\npassive = true\n"
        ));
    }
    s
}

/// Three leaves (nodes 0..=2) and the spine (node 3), established.
fn fabric_with(global: &str, extra: &str) -> Net {
    let l: Vec<String> = (1..=3).map(|n| leaf_cfg(n, global, extra)).collect();
    let spine = spine_cfg();
    let mut net = Net::new(&[
        ("10.0.0.1", &l[0]),
        ("10.0.0.2", &l[1]),
        ("10.0.0.3", &l[2]),
        ("10.0.0.100", &spine),
    ]);
    net.advance(Duration::from_secs(1));
    for i in 0..3 {
        assert_eq!(net.state(i, "10.0.0.100"), "established");
    }
    net
}

fn fabric() -> Net {
    fabric_with("", "")
}

fn dev(name: &str, ifindex: u32) -> Dev {
    Dev {
        ifindex,
        name: name.into(),
    }
}

fn local_mac(m: &str, port: &str, is_static: bool) -> LocalMac {
    LocalMac {
        bridge: dev("br100", 10),
        port: dev(port, 20),
        mac: mac(m),
        vlan: None,
        is_static,
    }
}

impl Net {
    fn observe(&mut self, i: usize, o: Observation) {
        let now = self.now;
        self.nodes[i]
            .core
            .handle(now, Input::Dataplane(DataplaneEvent::Observed(o)));
        self.pump();
    }

    fn learn(&mut self, i: usize, m: &str) {
        self.observe(i, Observation::LocalMacLearned(local_mac(m, "vm1", false)));
    }

    /// A VM resumed here and sent RARP: the bridge learned its MAC over our
    /// remote entry on the VXLAN port.
    fn rarp(&mut self, i: usize, m: &str) {
        self.observe(
            i,
            Observation::LocalMacMoved {
                from: MovedFrom::Remote(dev("vxlan100", 11)),
                to: local_mac(m, "vm1", false),
            },
        );
    }

    fn arp(&mut self, i: usize, a: &str, m: &str) {
        self.observe(
            i,
            Observation::LocalNeigh(LocalNeigh {
                dev: dev("br100", 10),
                ip: ip(a),
                mac: Some(mac(m)),
                state: Nud::REACHABLE,
            }),
        );
    }

    /// The VTEP node `i`'s kernel sends `m` in VNI 100 to (None: local or
    /// unknown).
    fn kernel_mac(&self, i: usize, m: &str) -> Option<IpAddr> {
        match self.nodes[i].dp.owned().get(&Key::VxlanFdb {
            vni: vni(100),
            mac: mac(m),
        }) {
            Some(Value::VxlanFdb { vtep, .. }) => Some(*vtep),
            _ => None,
        }
    }

    fn kernel_sticky(&self, i: usize, m: &str) -> bool {
        matches!(
            self.nodes[i].dp.owned().get(&Key::VxlanFdb {
                vni: vni(100),
                mac: mac(m),
            }),
            Some(Value::VxlanFdb { sticky: true, .. })
        )
    }

    fn kernel_neigh(&self, i: usize, a: &str) -> Option<Mac> {
        match self.nodes[i].dp.owned().get(&Key::Neigh {
            vni: vni(100),
            ip: ip(a),
        }) {
            Some(Value::Neigh { mac }) => Some(*mac),
            _ => None,
        }
    }

    fn kernel_route(&self, i: usize, prefix: &str) -> Option<IpAddr> {
        let prefix: IpNetwork = prefix.parse().unwrap();
        match self.nodes[i].dp.owned().get(&Key::Route {
            l3vni: vni(5000),
            prefix,
        }) {
            Some(Value::Route(RouteVia::Vtep(v))) => Some(*v),
            _ => None,
        }
    }

    fn kernel_flood(&self, i: usize) -> Vec<IpAddr> {
        self.nodes[i]
            .dp
            .owned()
            .keys()
            .filter_map(|k| match k {
                Key::Flood { vni: v, vtep } if *v == vni(100) => Some(*vtep),
                _ => None,
            })
            .collect()
    }

    /// `PurgeLocal` requests node `i` made for `m`, as their IP lists.
    fn purges(&self, i: usize, m: &str) -> Vec<Vec<IpAddr>> {
        self.nodes[i]
            .dp_log
            .iter()
            .filter_map(|r| match r {
                DataplaneRequest::PurgeLocal { mac: x, ips, .. } if *x == mac(m) => {
                    Some(ips.clone())
                }
                _ => None,
            })
            .collect()
    }

    /// RT-2 paths for `m` in node `i`'s Loc-RIB: (next hop, IP, seq, sticky).
    fn rt2(&mut self, i: usize, m: &str) -> Vec<(String, Json, u64, bool)> {
        let r = self.api(
            i,
            json!({"command": "show-bgp-routes", "family": "evpn", "route_type": 2, "mac": m}),
        );
        let mut out: Vec<(String, Json, u64, bool)> = r["routes"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|r| {
                (
                    r["next_hop"].as_str().unwrap_or("").to_string(),
                    r["ip"].clone(),
                    r["mac_mobility_seq"].as_u64().unwrap_or(0),
                    r["sticky"].as_bool().unwrap_or(false),
                )
            })
            .collect();
        out.sort_by(|a, b| (&a.0, a.1.to_string()).cmp(&(&b.0, b.1.to_string())));
        out
    }
}

fn every_leaf_points_at(net: &Net, vtep: &str, except: usize) {
    for i in 0..3 {
        if i == except {
            assert_eq!(
                net.kernel_mac(i, VM),
                None,
                "leaf{} holds the VM locally",
                i + 1
            );
            continue;
        }
        assert_eq!(net.kernel_mac(i, VM), Some(ip(vtep)), "leaf{}", i + 1);
    }
}

#[test]
fn learn_is_advertised_and_programmed_on_the_other_two_leaves() {
    let mut net = fabric();
    // Flood lists from RT-3: every leaf replicates to the other two.
    assert_eq!(net.kernel_flood(0), vec![ip("10.0.0.2"), ip("10.0.0.3")]);
    assert_eq!(net.kernel_flood(2), vec![ip("10.0.0.1"), ip("10.0.0.2")]);
    net.learn(0, VM);
    net.arp(0, VM_IP, VM);
    every_leaf_points_at(&net, "10.0.0.1", 0);
    for i in [1, 2] {
        assert_eq!(net.kernel_neigh(i, VM_IP), Some(mac(VM)));
        assert_eq!(net.kernel_route(i, "10.1.0.5/32"), Some(ip("10.0.0.1")));
        // Router MAC of leaf1 (auto: 02:00 + router id) on the L3 VNI.
        assert_eq!(
            net.nodes[i].dp.owned().get(&Key::Neigh {
                vni: vni(5000),
                ip: ip("10.0.0.1")
            }),
            Some(&Value::Neigh {
                mac: mac("02:00:0a:00:00:01")
            })
        );
    }
    // Leaf1 programs nothing remote for its own host.
    assert_eq!(net.kernel_neigh(0, VM_IP), None);
    assert_eq!(net.kernel_route(0, "10.1.0.5/32"), None);
    // What leaf3 received: MAC-only and MAC+IP, labels, RTs, router MAC.
    let r = net.api(
        2,
        json!({"command": "show-bgp-routes", "family": "evpn", "route_type": 2, "mac": VM}),
    );
    let rows = r["routes"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{r}");
    let mac_ip = rows.iter().find(|r| r["ip"] == VM_IP).unwrap();
    assert_eq!(mac_ip["rd"], "10.0.0.1:1");
    assert_eq!(mac_ip["labels"], json!([100, 5000]));
    assert_eq!(mac_ip["route_targets"], json!(["65000:100", "65000:5000"]));
    assert_eq!(mac_ip["router_mac"], "02:00:0a:00:00:01");
    assert_eq!(mac_ip["mac_mobility_seq"], Json::Null);
    let mac_only = rows.iter().find(|r| r["ip"].is_null()).unwrap();
    assert_eq!(mac_only["labels"], json!([100]));
    assert_eq!(mac_only["route_targets"], json!(["65000:100"]));
    // The API view on leaf1 and leaf3.
    let m = net.api(0, json!({"command": "show-evpn-mac", "vni": 100}));
    assert_eq!(m["macs"][0]["location"], "local", "{m}");
    assert_eq!(m["macs"][0]["port"], "vm1");
    assert_eq!(m["macs"][0]["ips"], json!([VM_IP]));
    let m = net.api(2, json!({"command": "show-evpn-mac"}));
    assert_eq!(m["macs"][0]["location"], "remote", "{m}");
    assert_eq!(m["macs"][0]["vtep"], "10.0.0.1");
}

#[test]
fn move_advertises_seq_plus_one_and_the_old_leaf_cleans_up() {
    let mut net = fabric();
    net.learn(0, VM);
    net.arp(0, VM_IP, VM);
    // The VM resumes on leaf2 and sends a frame.
    net.rarp(1, VM);
    net.arp(1, VM_IP, VM);
    every_leaf_points_at(&net, "10.0.0.2", 1);
    // Leaf1 withdrew both routes and removed its local FDB and ARP entries.
    assert_eq!(net.purges(0, VM), vec![vec![ip(VM_IP)]]);
    assert_eq!(
        net.rt2(2, VM),
        vec![
            ("10.0.0.2".into(), json!(VM_IP), 1, false),
            ("10.0.0.2".into(), Json::Null, 1, false),
        ]
    );
    for i in [0, 2] {
        assert_eq!(net.kernel_neigh(i, VM_IP), Some(mac(VM)), "leaf{}", i + 1);
        assert_eq!(net.kernel_route(i, "10.1.0.5/32"), Some(ip("10.0.0.2")));
    }
    assert_eq!(net.kernel_route(1, "10.1.0.5/32"), None);
    let m = net.api(0, json!({"command": "show-evpn-mac", "mac": VM}));
    assert_eq!(m["macs"][0]["location"], "remote", "{m}");
    assert_eq!(m["macs"][0]["seq"], 1);
}

#[test]
fn move_back_to_the_original_leaf_wins_with_a_higher_seq() {
    let mut net = fabric();
    net.learn(0, VM);
    net.arp(0, VM_IP, VM);
    net.rarp(1, VM);
    net.arp(1, VM_IP, VM);
    net.rarp(0, VM);
    net.arp(0, VM_IP, VM);
    every_leaf_points_at(&net, "10.0.0.1", 0);
    assert_eq!(net.purges(1, VM), vec![vec![ip(VM_IP)]]);
    assert_eq!(
        net.rt2(2, VM),
        vec![
            ("10.0.0.1".into(), json!(VM_IP), 2, false),
            ("10.0.0.1".into(), Json::Null, 2, false),
        ]
    );
    assert_eq!(net.kernel_route(2, "10.1.0.5/32"), Some(ip("10.0.0.1")));
    assert_eq!(net.kernel_route(1, "10.1.0.5/32"), Some(ip("10.0.0.1")));
}

#[test]
fn two_moves_within_one_second_end_on_the_last_leaf() {
    let mut net = fabric();
    net.learn(0, VM);
    net.arp(0, VM_IP, VM);
    net.advance(Duration::from_millis(300));
    net.rarp(1, VM);
    net.advance(Duration::from_millis(300));
    net.rarp(2, VM);
    net.arp(2, VM_IP, VM);
    every_leaf_points_at(&net, "10.0.0.3", 2);
    assert_eq!(net.purges(0, VM).len(), 1);
    // Leaf2 never bound the IP (the VM moved on before it spoke).
    assert_eq!(net.purges(1, VM), vec![Vec::<IpAddr>::new()]);
    assert_eq!(net.rt2(0, VM)[0].2, 2);
    assert_eq!(net.kernel_neigh(0, VM_IP), Some(mac(VM)));
    assert_eq!(net.kernel_neigh(1, VM_IP), Some(mac(VM)));
    assert_eq!(net.kernel_route(1, "10.1.0.5/32"), Some(ip("10.0.0.3")));
}

#[test]
fn stale_cached_seq_is_not_reused_after_the_mac_went_around() {
    let mut net = fabric();
    net.learn(0, VM);
    net.rarp(1, VM); // seq 1 on leaf2
    net.rarp(2, VM); // seq 2 on leaf3; leaf2 still caches 1
                     // Out of the duplicate-detection window (3 moves in 10 s).
    net.advance(Duration::from_secs(11));
    net.rarp(1, VM); // back to leaf2: must be 3 (2 + 1), not its cached 1 + 1
    assert_eq!(
        net.rt2(0, VM),
        vec![("10.0.0.2".into(), Json::Null, 3, false)]
    );
    every_leaf_points_at(&net, "10.0.0.2", 1);
}

#[test]
fn mac_only_move_withdraws_the_old_mac_ip_too() {
    let mut net = fabric();
    net.learn(0, VM);
    net.arp(0, VM_IP, VM);
    // Leaf2 learns only the MAC (seq 1): the sequence number is per MAC,
    // so leaf1's MAC+IP (seq 0) goes as well.
    net.rarp(1, VM);
    assert_eq!(
        net.rt2(2, VM),
        vec![("10.0.0.2".into(), Json::Null, 1, false)]
    );
    assert_eq!(net.kernel_neigh(2, VM_IP), None);
    assert_eq!(net.kernel_route(2, "10.1.0.5/32"), None);
    assert_eq!(net.purges(0, VM), vec![vec![ip(VM_IP)]]);
}

#[test]
fn silent_vm_announced_by_rarp_gets_its_mac_ip_through_a_probe() {
    let mut net = fabric();
    net.learn(0, VM);
    net.arp(0, VM_IP, VM);
    net.nodes[1].dp_log.clear();
    net.rarp(1, VM);
    // Leaf2 removed the remote neighbour entry, then probed the IP from the
    // anycast gateway address, in that order.
    let log = &net.nodes[1].dp_log;
    let unset = log
        .iter()
        .position(|r| match r {
            DataplaneRequest::Apply { changes, .. } => changes.contains(&Change::RemoteNeigh {
                vni: vni(100),
                ip: ip(VM_IP),
                mac: None,
            }),
            _ => false,
        })
        .expect("remote neighbour removed");
    let probe = log
        .iter()
        .position(|r| {
            *r == DataplaneRequest::Probe {
                vni: vni(100),
                dev: "br100".into(),
                ip: ip(VM_IP),
                mac: mac(VM),
                from: ip("10.1.0.1"),
                from_mac: mac("00:00:5e:00:01:01"),
            }
        })
        .expect("probe");
    assert!(unset < probe, "{log:?}");
    assert_eq!(net.kernel_neigh(1, VM_IP), None);
    // The VM answers the probe: MAC+IP follows with the MAC's seq.
    net.arp(1, VM_IP, VM);
    assert_eq!(
        net.rt2(2, VM),
        vec![
            ("10.0.0.2".into(), json!(VM_IP), 1, false),
            ("10.0.0.2".into(), Json::Null, 1, false),
        ]
    );
    assert_eq!(net.kernel_neigh(2, VM_IP), Some(mac(VM)));
    assert_eq!(net.kernel_route(2, "10.1.0.5/32"), Some(ip("10.0.0.2")));
    assert_eq!(net.kernel_route(0, "10.1.0.5/32"), Some(ip("10.0.0.2")));
    assert_eq!(net.purges(0, VM), vec![vec![ip(VM_IP)]]);
}

#[test]
fn simultaneous_learn_on_two_leaves_goes_to_the_lower_vtep() {
    let mut net = fabric();
    // Both learn before either hears of the other: both advertise seq 0.
    let now = net.now;
    for i in [1, 0] {
        net.nodes[i].core.handle(
            now,
            Input::Dataplane(DataplaneEvent::Observed(Observation::LocalMacLearned(
                local_mac(VM, "vm1", false),
            ))),
        );
    }
    net.pump();
    // RFC 7432 §15.1: same sequence number → the lower VTEP IP wins.
    every_leaf_points_at(&net, "10.0.0.1", 0);
    assert_eq!(net.purges(1, VM).len(), 1);
    assert!(net.purges(0, VM).is_empty());
    assert_eq!(
        net.rt2(2, VM),
        vec![("10.0.0.1".into(), Json::Null, 0, false)]
    );
}

#[test]
fn sticky_mac_never_moves() {
    let mut net = fabric();
    net.observe(0, Observation::LocalMacLearned(local_mac(VM, "vm1", true)));
    assert_eq!(
        net.rt2(2, VM),
        vec![("10.0.0.1".into(), Json::Null, 0, true)]
    );
    assert!(net.kernel_sticky(2, VM));
    // A host with the same MAC shows up on leaf2: ignored.
    net.rarp(1, VM);
    assert_eq!(
        net.rt2(2, VM),
        vec![("10.0.0.1".into(), Json::Null, 0, true)]
    );
    every_leaf_points_at(&net, "10.0.0.1", 0);
    assert!(net.kernel_sticky(1, VM));
    assert!(net.purges(0, VM).is_empty());
}

#[test]
fn anycast_gateway_mac_is_on_every_leaf_and_never_a_move() {
    let mut net = fabric_with("advertise_default_gateway = true", "");
    let gw = "00:00:5e:00:01:01";
    // Each leaf advertises the gateway MAC+IP with the default-gateway
    // community; nobody programs another leaf's gateway as remote.
    let r = net.api(
        2,
        json!({"command": "show-bgp-routes", "family": "evpn", "route_type": 2, "mac": gw}),
    );
    let rows = r["routes"].as_array().unwrap();
    assert_eq!(rows.len(), 6, "{r}"); // 3 leaves × (IPv4 + IPv6)
    assert!(rows.iter().all(|r| r["default_gateway"] == true));
    net.learn(1, gw);
    for i in 0..3 {
        assert_eq!(net.kernel_mac(i, gw), None);
        assert_eq!(net.kernel_neigh(i, "10.1.0.1"), None);
        assert!(net.purges(i, gw).is_empty());
    }
    let d = net.api(1, json!({"command": "show-evpn-dad"}));
    assert_eq!(d["moves_total"], 0, "{d}");
    // Every leaf announced its gateway addresses once at start.
    assert!(net.nodes[0].dp_log.iter().any(|r| *r
        == DataplaneRequest::Announce {
            vni: vni(100),
            dev: "br100".into(),
            ip: ip("10.1.0.1"),
            mac: mac(gw),
        }));
}

#[test]
fn repeated_higher_seq_claims_freeze_the_losing_leaf() {
    let mut net = fabric();
    net.learn(1, VM); // leaf2, seq 0
                      // Another VTEP claims the MAC with seq 5 (a route injected on leaf1).
    let ok = net.api(
        0,
        json!({"command": "route-add", "family": "evpn", "route_type": 2,
        "rd": "10.0.0.9:1", "mac": VM, "vni": 100, "route_targets": ["65000:100"],
        "next_hop": "10.0.0.9", "mac_mobility_seq": 5}),
    );
    assert_eq!(ok["ok"], true, "{ok}");
    assert_eq!(net.kernel_mac(2, VM), Some(ip("10.0.0.9")));
    // Leaf2 lost its MAC to the higher seq and cleaned up (move 1).
    assert_eq!(net.purges(1, VM).len(), 1);
    // The VM is still on leaf2 and speaks again: seq 6 wins back (move 2).
    net.learn(1, VM);
    assert_eq!(net.kernel_mac(2, VM), Some(ip("10.0.0.2")));
    assert_eq!(net.rt2(2, VM)[0], ("10.0.0.2".into(), Json::Null, 6, false));
    // The other VTEP claims it again with seq 9: leaf3 follows, leaf2's
    // third move in 10 s freezes the MAC there (no purge, no withdrawal).
    net.api(
        0,
        json!({"command": "route-add", "family": "evpn", "route_type": 2,
        "rd": "10.0.0.9:1", "mac": VM, "vni": 100, "route_targets": ["65000:100"],
        "next_hop": "10.0.0.9", "mac_mobility_seq": 9}),
    );
    assert_eq!(net.kernel_mac(2, VM), Some(ip("10.0.0.9")));
    assert_eq!(net.purges(1, VM).len(), 1);
    let m = net.api(1, json!({"command": "show-evpn-mac", "mac": VM}));
    assert_eq!(m["macs"][0]["location"], "local", "{m}");
    assert_eq!(m["macs"][0]["frozen"], true);
    assert_eq!(m["macs"][0]["moves"], 3);
}

#[test]
fn withdrawn_winner_falls_back_to_the_remaining_route() {
    let mut net = fabric();
    net.learn(1, VM); // leaf2 advertises seq 0
                      // An older, injected claim from another VTEP with a higher seq wins...
    net.api(
        0,
        json!({"command": "route-add", "family": "evpn", "route_type": 2,
        "rd": "10.0.0.9:1", "mac": VM, "vni": 100, "route_targets": ["65000:100"],
        "next_hop": "10.0.0.9", "mac_mobility_seq": 5, "sticky": true}),
    );
    // ...sticky, so leaf2 keeps its local MAC only if it is sticky too: it
    // is not, so it gave up; leaf3 points at the sticky VTEP.
    assert_eq!(net.kernel_mac(2, VM), Some(ip("10.0.0.9")));
    // A second VTEP claims the MAC too (lower seq, not sticky).
    net.api(
        0,
        json!({"command": "route-add", "family": "evpn", "route_type": 2,
        "rd": "10.0.0.8:1", "mac": VM, "vni": 100, "route_targets": ["65000:100"],
        "next_hop": "10.0.0.8", "mac_mobility_seq": 7}),
    );
    assert_eq!(net.kernel_mac(2, VM), Some(ip("10.0.0.9")));
    // The winner goes: the remaining claim is programmed in the same round.
    net.api(
        0,
        json!({"command": "route-del", "family": "evpn", "route_type": 2,
        "rd": "10.0.0.9:1", "mac": VM}),
    );
    assert_eq!(net.kernel_mac(2, VM), Some(ip("10.0.0.8")));
    assert_eq!(net.kernel_mac(1, VM), Some(ip("10.0.0.8")));
}

#[test]
fn dad_freezes_after_n_moves_and_clear_dad_unfreezes() {
    let mut net = fabric();
    // Ping-pong between leaf1 and leaf2: each local learn over a remote
    // route and each loss to a remote route is a move (limit 3 in 10 s).
    net.learn(0, VM); // leaf1 seq 0
    net.rarp(1, VM); // leaf2 seq 1 (leaf2: 1 move), leaf1 loses (1 move)
    net.rarp(0, VM); // leaf1 seq 2 (leaf1: 2), leaf2 loses (2)
    net.rarp(1, VM); // leaf2 seq 3 (leaf2: 3 → frozen): not advertised
    let d = net.api(1, json!({"command": "show-evpn-dad"}));
    assert_eq!(d["detected_total"], 1, "{d}");
    assert_eq!(d["entries"][0]["mac"], VM);
    assert_eq!(d["entries"][0]["frozen"], true);
    assert_eq!(d["entries"][0]["unfreeze_in_secs"], 30);
    // Frozen: leaf2 did not advertise seq 3; the fabric keeps leaf1.
    assert_eq!(
        net.rt2(2, VM),
        vec![("10.0.0.1".into(), Json::Null, 2, false)]
    );
    assert_eq!(net.kernel_mac(2, VM), Some(ip("10.0.0.1")));
    // The operator clears it: leaf2 advertises (seq 3) and wins...
    let c = net.api(1, json!({"command": "clear-dad", "vni": 100}));
    assert_eq!(c["cleared"], json!([format!("100/{VM}")]), "{c}");
    assert_eq!(net.kernel_mac(2, VM), Some(ip("10.0.0.2")));
    let d = net.api(1, json!({"command": "show-evpn-dad"}));
    assert_eq!(d["entries"].as_array().map(Vec::len), Some(0), "{d}");
    // ...which is leaf1's third move in the window: now leaf1 detects the
    // duplicate, freezes and keeps its last advertisement (seq 2).
    let d = net.api(0, json!({"command": "show-evpn-dad"}));
    assert_eq!(d["detected_total"], 1, "{d}");
    assert_eq!(d["entries"][0]["frozen"], true);
    assert_eq!(
        net.rt2(2, VM),
        vec![
            ("10.0.0.1".into(), Json::Null, 2, false),
            ("10.0.0.2".into(), Json::Null, 3, false)
        ]
    );
    assert!(net.purges(0, VM).len() == 1, "frozen leaf1 purged again");
}

#[test]
fn dad_freeze_ends_after_the_freeze_time() {
    let mut net = fabric();
    net.learn(0, VM);
    net.rarp(1, VM);
    net.rarp(0, VM);
    net.rarp(1, VM); // leaf2 frozen
    assert_eq!(net.kernel_mac(2, VM), Some(ip("10.0.0.1")));
    net.advance(Duration::from_secs(29));
    assert_eq!(net.kernel_mac(2, VM), Some(ip("10.0.0.1")));
    net.advance(Duration::from_secs(2));
    // Unfrozen by its timer: leaf2 (still holding the VM) takes over.
    assert_eq!(net.kernel_mac(2, VM), Some(ip("10.0.0.2")));
    let d = net.api(1, json!({"command": "show-evpn-dad"}));
    assert!(
        d["entries"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["frozen"] == false),
        "{d}"
    );
}

#[test]
fn peer_loss_removes_its_routes_from_the_kernel() {
    let mut net = fabric();
    net.learn(0, VM);
    net.arp(0, VM_IP, VM);
    assert_eq!(net.kernel_mac(2, VM), Some(ip("10.0.0.1")));
    // Leaf1 goes away cleanly (Cease): no graceful restart, routes flushed.
    let now = net.now;
    net.nodes[0].core.shutdown(now);
    net.pump();
    assert_eq!(net.kernel_mac(2, VM), None);
    assert_eq!(net.kernel_neigh(2, VM_IP), None);
    assert_eq!(net.kernel_route(2, "10.1.0.5/32"), None);
    assert_eq!(net.kernel_flood(2), vec![ip("10.0.0.2")]);
}

#[test]
fn graceful_restart_keeps_stale_remote_entries_until_end_of_rib() {
    let mut net = fabric();
    net.learn(0, VM);
    assert_eq!(net.kernel_mac(2, VM), Some(ip("10.0.0.1")));
    // Leaf1's daemon crashes (TCP reset): the spine keeps its routes stale.
    net.cut(0);
    net.advance(Duration::from_secs(5));
    assert_eq!(net.kernel_mac(2, VM), Some(ip("10.0.0.1")));
    assert_eq!(net.kernel_flood(2), vec![ip("10.0.0.1"), ip("10.0.0.2")]);
    // It comes back without the VM: after its End-of-RIB the stale MAC is
    // swept, its IMET is current again.
    let cfg = leaf_cfg(1, "", "");
    net.restart(
        0,
        &cfg,
        CoreOptions {
            restarting: true,
            forwarding_preserved: true,
        },
    );
    net.advance(Duration::from_secs(60));
    assert_eq!(net.state(0, "10.0.0.100"), "established");
    assert_eq!(net.kernel_mac(2, VM), None);
    assert_eq!(net.kernel_flood(2), vec![ip("10.0.0.1"), ip("10.0.0.2")]);
}

#[test]
fn a_restarting_leaf_keeps_its_remote_kernel_entries_until_end_of_rib() {
    // VM (MAC+IP) on leaf2: leaf1's kernel has its MAC, neighbour and /32.
    let mut net = fabric();
    net.learn(1, VM);
    net.arp(1, VM_IP, VM);
    assert_eq!(net.kernel_route(0, "10.1.0.5/32"), Some(ip("10.0.0.2")));
    // Leaf1's daemon crashes and restarts (RFC 4724, forwarding state
    // preserved): its first reconcile must not delete what the routes
    // from before the crash wrote; End-of-RIB brings them back, then the
    // sweep reconcile finds nothing stale.
    net.cut(0);
    net.advance(Duration::from_secs(1));
    net.nodes[0].dp.history.clear();
    net.nodes[0].dp_log.clear();
    let cfg = leaf_cfg(1, "", "");
    net.restart(
        0,
        &cfg,
        CoreOptions {
            restarting: true,
            forwarding_preserved: true,
        },
    );
    net.advance(Duration::from_secs(10));
    assert_eq!(net.state(0, "10.0.0.100"), "established");
    let deletes: Vec<&netlink_glue::Op> = net.nodes[0]
        .dp
        .history
        .iter()
        .filter(|o| o.verb() == "delete")
        .collect();
    assert!(
        deletes.is_empty(),
        "deleted during the restart: {deletes:?}"
    );
    let reconciles: Vec<bool> = net.nodes[0]
        .dp_log
        .iter()
        .filter_map(|r| match r {
            DataplaneRequest::Reconcile(i) => Some(i.keep_stale),
            _ => None,
        })
        .collect();
    assert_eq!(
        reconciles,
        [true, false],
        "keep-stale reconcile, then the sweep"
    );
    assert_eq!(net.kernel_route(0, "10.1.0.5/32"), Some(ip("10.0.0.2")));
    assert_eq!(net.kernel_mac(0, VM), Some(ip("10.0.0.2")));
}

#[test]
fn host_route_follows_the_move_to_the_core_peer_only() {
    // Node 4: a DC core router, eBGP IPv4 to leaf1 and leaf2.
    let extra = r#"export_host_routes = { peers = ["192.0.2.1"], prefixes = ["10.1.0.0/25"] }
[[neighbor]]
address = "192.0.2.1"
remote_as = 65100
families = ["ipv4"]
"#;
    let l: Vec<String> = (1..=3).map(|n| leaf_cfg(n, "", extra)).collect();
    let spine = spine_cfg();
    let core = "router_id = \"192.0.2.1\"\nasn = 65100\n[[neighbor]]\naddress = \"10.0.0.1\"\nremote_as = 65000\nfamilies = [\"ipv4\"]\npassive = true\n[[neighbor]]\naddress = \"10.0.0.2\"\nremote_as = 65000\nfamilies = [\"ipv4\"]\npassive = true\n";
    let mut net = Net::new(&[
        ("10.0.0.1", &l[0]),
        ("10.0.0.2", &l[1]),
        ("10.0.0.3", &l[2]),
        ("10.0.0.100", &spine),
        ("192.0.2.1", core),
    ]);
    net.advance(Duration::from_secs(1));
    assert_eq!(net.state(4, "10.0.0.1"), "established");
    net.learn(0, VM);
    net.arp(0, VM_IP, VM);
    // Outside the export filter: never exported.
    net.arp(0, "10.1.0.200", VM);
    let v4 = net.routes(4, "ipv4");
    assert_eq!(v4.len(), 1, "{v4:?}");
    assert_eq!(v4[0]["prefix"], "10.1.0.5/32");
    assert_eq!(v4[0]["peer"], "10.0.0.1");
    assert_eq!(v4[0]["as_path"], "65000");
    // The spine (an iBGP IPv4 peer, not listed) never gets the host route.
    assert!(net.routes(SPINE, "ipv4").is_empty());
    // The VM moves to leaf2: one update cycle later the core has only the
    // new leaf's route.
    net.rarp(1, VM);
    net.arp(1, VM_IP, VM);
    let v4 = net.routes(4, "ipv4");
    assert_eq!(v4.len(), 1, "{v4:?}");
    assert_eq!(v4[0]["peer"], "10.0.0.2");
}

#[test]
fn static_vxlan_mode_programs_flood_entries_without_bgp() {
    let cfg = r#"router_id = "10.9.0.1"
asn = 65000
[[vni]]
vni = 100
bridge = "br100"
flooding = "static"
static_vteps = ["10.9.0.2", "10.9.0.3"]
"#;
    let mut net = Net::new(&[("10.9.0.1", cfg)]);
    net.advance(Duration::from_secs(1));
    assert_eq!(net.kernel_flood(0), vec![ip("10.9.0.2"), ip("10.9.0.3")]);
    match &net.nodes[0].dp_log[0] {
        DataplaneRequest::Reconcile(intent) => {
            assert_eq!(intent.flood.len(), 2);
            assert!(intent.l2vnis.contains_key(&vni(100)));
        }
        other => panic!("first request is {other:?}"),
    }
    // No IMET: the flood list is static.
    assert!(net.routes(0, "evpn").is_empty());
    let v = net.api(0, json!({"command": "show-evpn-vni"}));
    assert_eq!(v["vnis"][0]["flooding"], "static", "{v}");
    assert_eq!(v["vnis"][0]["flood"], json!(["10.9.0.2", "10.9.0.3"]));
    assert_eq!(v["vnis"][0]["rd"], "10.9.0.1:1");
    assert_eq!(v["vnis"][0]["import_rts"], json!(["65000:100"]));
}

#[test]
fn rt5_prefixes_are_routed_through_the_l3_vni() {
    let mut net = fabric_with(
        "",
        "advertise_prefixes = [\"10.50.0.0/16\", \"fd00:50::/48\"]\nadvertise_connected = true",
    );
    for i in 0..3 {
        let other = if i == 0 { "10.0.0.2" } else { "10.0.0.1" };
        // Both leaves advertise the same prefixes: the lower VTEP is used.
        assert_eq!(
            net.kernel_route(i, "10.50.0.0/16"),
            Some(ip(if i == 0 { "10.0.0.2" } else { other }))
        );
        // Every leaf has the anycast gateway's subnets itself: the other
        // leaves' RT-5 for them never replaces the connected route.
        assert_eq!(net.kernel_route(i, "10.1.0.0/24"), None);
        assert_eq!(net.kernel_route(i, "fd00:1::/64"), None);
        // IPv6 over an IPv4 underlay: via the IPv4-mapped VTEP (as zebra).
        let mapped = match ip(if i == 0 { "10.0.0.2" } else { other }) {
            IpAddr::V4(a) => IpAddr::V6(a.to_ipv6_mapped()),
            v6 => v6,
        };
        assert_eq!(net.kernel_route(i, "fd00:50::/48"), Some(mapped));
    }
    let v = net.api(0, json!({"command": "show-evpn-vni"}));
    let l3 = v["vnis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "l3")
        .unwrap()
        .clone();
    // The two RT-5 prefixes; not the gateway subnets (connected here).
    assert_eq!(l3["routes"], 2, "{v}");
    assert_eq!(l3["rd"], "10.0.0.1:2");
}

#[test]
fn trace_names_where_a_host_lives() {
    let mut net = fabric();
    net.learn(0, VM);
    net.arp(0, VM_IP, VM);
    net.rarp(1, VM);
    net.arp(1, VM_IP, VM);
    let t = net.api(2, json!({"command": "trace", "target": VM_IP}));
    let h = &t["hosts"][0];
    assert_eq!(h["mac"], VM, "{t}");
    assert_eq!(h["location"], "remote");
    assert_eq!(h["vtep"], "10.0.0.2");
    assert_eq!(h["seq"], 1);
    let t = net.api(1, json!({"command": "trace", "target": VM}));
    let h = &t["hosts"][0];
    assert_eq!(h["location"], "local", "{t}");
    assert_eq!(h["last_move_reason"], "local-learn-over-remote");
    assert_eq!(h["routes"].as_array().map(Vec::len), Some(2));
    let e = net.api(1, json!({"command": "trace", "target": "nonsense"}));
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .contains("neither a MAC nor an IP"),
        "{e}"
    );
}

#[test]
fn reload_keeps_local_hosts_and_publishes_the_new_intent() {
    let mut net = fabric();
    net.learn(0, VM);
    net.arp(0, VM_IP, VM);
    let cfg = leaf_cfg(1, "", "advertise_prefixes = [\"10.60.0.0/16\"]");
    let now = net.now;
    net.nodes[0].dp_log.clear();
    net.nodes[0].core.reload(now, &super::config(&cfg));
    net.pump();
    assert!(matches!(
        net.nodes[0].dp_log.first(),
        Some(DataplaneRequest::Reconcile(_))
    ));
    // Nothing moved: the VM stays advertised from leaf1, the new prefix is
    // routed on the other leaves.
    assert_eq!(net.rt2(2, VM).len(), 2);
    assert_eq!(net.kernel_mac(2, VM), Some(ip("10.0.0.1")));
    assert_eq!(net.kernel_route(2, "10.60.0.0/16"), Some(ip("10.0.0.1")));
    assert_eq!(net.kernel_flood(0), vec![ip("10.0.0.2"), ip("10.0.0.3")]);
}

/// The way a veth (or a tap device torn down early) moves: the port goes
/// down on the old leaf first, which withdraws the VM's routes, and only
/// then does the VM resume on the new leaf with RARP. The learn is still a
/// move (seq + 1) and the IPs the old leaf advertised are still probed.
#[test]
fn old_leaf_withdraws_before_the_vm_resumes_and_the_ip_still_follows() {
    let mut net = fabric();
    net.learn(0, VM);
    net.arp(0, VM_IP, VM);
    assert_eq!(net.kernel_neigh(1, VM_IP), Some(mac(VM)));
    // The port leaves leaf1: the MAC ages out there, its routes go away.
    net.observe(0, Observation::LocalMacAged(local_mac(VM, "vm1", false)));
    assert_eq!(net.kernel_mac(1, VM), None);
    assert_eq!(net.kernel_neigh(1, VM_IP), None);
    net.nodes[1].dp_log.clear();
    // The VM resumes on leaf2 and announces itself with RARP only.
    net.learn(1, VM);
    assert!(
        net.nodes[1].dp_log.iter().any(|r| matches!(
            r,
            DataplaneRequest::Probe { ip: p, .. } if *p == ip(VM_IP)
        )),
        "no probe for the IP the old leaf advertised: {:?}",
        net.nodes[1].dp_log
    );
    net.arp(1, VM_IP, VM);
    // Every other leaf points MAC and IP at leaf2, with a higher seq.
    assert_eq!(
        net.rt2(2, VM),
        vec![
            ("10.0.0.2".into(), json!(VM_IP), 1, false),
            ("10.0.0.2".into(), Json::Null, 1, false),
        ]
    );
    assert_eq!(net.kernel_mac(0, VM), Some(ip("10.0.0.2")));
    assert_eq!(net.kernel_neigh(0, VM_IP), Some(mac(VM)));
}

#[test]
fn single_vxlan_device_mode_maps_learned_macs_to_the_vni_of_their_vlan() {
    let leaf = |n: u8| {
        format!(
            r#"router_id = "10.0.0.{n}"
asn = 65000
svd = {{ bridge = "br0", vxlan = "vxlan0" }}
[[neighbor]]
address = "10.0.0.100"
remote_as = 65000
families = ["evpn"]
[[vni]]
vni = 100
bridge = "br0"
vlan = 10
[[vni]]
vni = 200
bridge = "br0"
vlan = 20
"#
        )
    };
    let (l1, l2) = (leaf(1), leaf(2));
    let mut net = Net::new(&[
        ("10.0.0.1", &l1),
        ("10.0.0.2", &l2),
        ("10.0.0.3", &leaf(3)),
        ("10.0.0.100", &spine_cfg()),
    ]);
    net.advance(Duration::from_secs(1));
    let on_vlan = |vlan: Option<u16>| LocalMac {
        bridge: dev("br0", 10),
        port: dev("vm1", 20),
        mac: mac(VM),
        vlan,
        is_static: false,
    };
    net.observe(0, Observation::LocalMacLearned(on_vlan(Some(20))));
    let fdb = |net: &Net, v: u32| {
        net.nodes[1]
            .dp
            .owned()
            .get(&Key::VxlanFdb {
                vni: vni(v),
                mac: mac(VM),
            })
            .cloned()
    };
    assert!(
        matches!(fdb(&net, 200), Some(Value::VxlanFdb { vtep, .. }) if vtep == ip("10.0.0.1")),
        "leaf2 VNI 200: {:?}",
        fdb(&net, 200)
    );
    assert_eq!(fdb(&net, 100), None, "the MAC leaked into VNI 100");
    // A learn in a VLAN that maps to no VNI is not advertised.
    net.observe(
        0,
        Observation::LocalMacLearned(LocalMac {
            mac: mac("52:54:00:00:00:77"),
            ..on_vlan(Some(30))
        }),
    );
    assert!(net.rt2(1, "52:54:00:00:00:77").is_empty());
    // Aging in VLAN 20 withdraws the VNI 200 route.
    net.observe(0, Observation::LocalMacAged(on_vlan(Some(20))));
    assert_eq!(fdb(&net, 200), None);
}

#[test]
fn a_vni_whose_vxlan_device_goes_down_withdraws_its_imet_until_it_is_back() {
    let mut net = fabric();
    let link = |up: bool| Observation::LinkChanged {
        dev: dev("vxlan100", 11),
        kind: Some("vxlan".into()),
        up,
        master: Some(10),
        mac: None,
        mtu: Some(1500),
        deleted: false,
    };
    assert!(net.kernel_flood(1).contains(&ip("10.0.0.1")));
    // Created down, never seen up: not an outage (no IMET flap at start).
    net.observe(0, link(false));
    assert!(net.kernel_flood(1).contains(&ip("10.0.0.1")));
    net.observe(0, link(true));
    let reconciles = |net: &Net| {
        net.nodes[0]
            .dp_log
            .iter()
            .filter(|r| matches!(r, DataplaneRequest::Reconcile(_)))
            .count()
    };
    let before = reconciles(&net);
    net.observe(0, link(false));
    assert!(
        !net.kernel_flood(1).contains(&ip("10.0.0.1")),
        "leaf2 still floods to leaf1: {:?}",
        net.kernel_flood(1)
    );
    assert!(
        net.kernel_flood(2).contains(&ip("10.0.0.2")),
        "leaf3 lost leaf2"
    );
    let v = net.api(0, json!({"command": "show-evpn-vni"}));
    assert_eq!(v["vnis"][0]["oper"], "down", "{v}");
    net.observe(0, link(true));
    assert!(net.kernel_flood(1).contains(&ip("10.0.0.1")));
    assert_eq!(
        net.api(0, json!({"command": "show-evpn-vni"}))["vnis"][0]["oper"],
        "up"
    );
    // The VXLAN driver flushed our remote entries when it went down: the
    // dataplane is reconciled from the intent.
    assert_eq!(reconciles(&net), before + 1);
}
