//! Session establishment, negotiation, collision, timers, OPEN errors.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use evpn_proto::capability::Capability;
use evpn_proto::message::{Decoded, Open};
use evpn_proto::Family;
use serde_json::json;

use super::{config, ibgp_pair as pair, leaf, Net};
use crate::core::io::{ConnId, Input, Output};
use crate::core::Core;

#[test]
fn ibgp_session_establishes_with_negotiated_capabilities() {
    let mut net = pair();
    net.advance(Duration::from_secs(1));
    assert_eq!(net.state(0, "10.0.0.2"), "established");
    assert_eq!(net.state(1, "10.0.0.1"), "established");
    let r = net.api(
        0,
        json!({"command": "show-bgp-neighbors", "peer": "10.0.0.2"}),
    );
    let n = &r["neighbors"][0];
    assert_eq!(n["kind"], "ibgp");
    assert_eq!(n["remote_router_id"], "10.0.0.2");
    let neg = &n["negotiated"];
    assert_eq!(neg["hold_time"], 90);
    assert_eq!(neg["keepalive"], 30);
    assert_eq!(neg["families"], json!(["ipv4", "ipv6", "evpn"]));
    assert_eq!(neg["four_octet_as"], true);
    assert_eq!(neg["route_refresh"], true);
    assert_eq!(neg["enhanced_route_refresh"], true);
    assert_eq!(neg["extended_next_hop"], json!(["ipv4"]));
    assert_eq!(neg["graceful_restart"]["restart_time"], 120);
    // End-of-RIB went both ways for all three families.
    let eors = net
        .wire
        .iter()
        .filter(
            |w| matches!(w.decoded(), Some(Decoded::Update(u)) if u.update.end_of_rib().is_some()),
        )
        .count();
    assert_eq!(eors, 6);
}

#[test]
fn hold_time_is_the_minimum_and_keepalives_keep_the_session_up() {
    let mut net = Net::new(&[
        (
            "10.0.0.1",
            &leaf("10.0.0.1", 65000, &[("10.0.0.2", 65000, "hold_time = 9")]),
        ),
        (
            "10.0.0.2",
            &leaf("10.0.0.2", 65000, &[("10.0.0.1", 65000, "passive = true")]),
        ),
    ]);
    net.advance(Duration::from_secs(1));
    let r = net.api(1, json!({"command": "show-bgp-neighbors"}));
    assert_eq!(r["neighbors"][0]["negotiated"]["hold_time"], 9);
    assert_eq!(r["neighbors"][0]["negotiated"]["keepalive"], 3);
    net.advance(Duration::from_secs(60));
    assert_eq!(net.state(0, "10.0.0.2"), "established");
    assert!(net.notifications_from(0).is_empty());
}

#[test]
fn hold_timer_expiry_sends_notification_4_0_and_goes_active() {
    let mut net = Net::new(&[
        (
            "10.0.0.1",
            &leaf("10.0.0.1", 65000, &[("10.0.0.2", 65000, "hold_time = 9")]),
        ),
        (
            "10.0.0.2",
            &leaf("10.0.0.2", 65000, &[("10.0.0.1", 65000, "passive = true")]),
        ),
    ]);
    net.advance(Duration::from_secs(1));
    net.nodes[1].mute = true;
    net.advance(Duration::from_secs(9));
    assert_eq!(net.notifications_from(0), vec![(4, 0, vec![])]);
    assert_eq!(net.state(0, "10.0.0.2"), "active");
    let r = net.api(0, json!({"command": "show-bgp-neighbors"}));
    assert_eq!(r["neighbors"][0]["last_error"]["direction"], "sent");
    assert_eq!(r["neighbors"][0]["last_error"]["code"], 4);
}

#[test]
fn simultaneous_connects_resolve_to_one_session_by_bgp_id() {
    // Both active: each connects to the other; the connection opened by
    // the higher BGP identifier (10.0.0.2) survives (RFC 4271 §6.8).
    let mut net = Net::new(&[
        (
            "10.0.0.1",
            &leaf("10.0.0.1", 65000, &[("10.0.0.2", 65000, "")]),
        ),
        (
            "10.0.0.2",
            &leaf("10.0.0.2", 65000, &[("10.0.0.1", 65000, "")]),
        ),
    ]);
    net.advance(Duration::from_secs(1));
    assert_eq!(net.state(0, "10.0.0.2"), "established");
    assert_eq!(net.state(1, "10.0.0.1"), "established");
    let cease7: Vec<_> = net.wire.iter().filter_map(|w| w.notification()).collect();
    assert_eq!(cease7, vec![(6, 7, vec![])]);
    // The survivor is the connection 10.0.0.2 initiated: on node 0 it is inbound.
    let r = net.api(0, json!({"command": "show-bgp-neighbors"}));
    let remote: SocketAddr = r["neighbors"][0]["remote_address"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(remote.port(), 179);
    net.advance(Duration::from_secs(300));
    assert_eq!(net.state(0, "10.0.0.2"), "established");
}

#[test]
fn connect_retry_backs_off_with_jitter_when_the_peer_is_unreachable() {
    let mut net = Net::new(&[(
        "10.0.0.1",
        &leaf(
            "10.0.0.1",
            65000,
            &[("10.0.0.9", 65000, "connect_retry = 10")],
        ),
    )]);
    net.advance(Duration::from_secs(1000));
    let r = net.api(0, json!({"command": "show-bgp-neighbors"}));
    let failures = r["neighbors"][0]["connect_failures"].as_u64().unwrap();
    // 10 s doubling to a cap of 160 s, jittered 0.75–1.0: in 1000 s that is
    // between 9 and 14 attempts.
    assert!((9..=14).contains(&failures), "{failures}");
    assert_eq!(net.state(0, "10.0.0.9"), "active");
}

/// One core with a passive peer 10.0.0.2 (AS 65001) and an accepted
/// connection; returns the core and what it sent.
fn open_exchange(theirs: Open) -> Vec<Output> {
    let cfg = config(&leaf(
        "10.0.0.1",
        65000,
        &[("10.0.0.2", 65001, "passive = true")],
    ));
    let now = std::time::Instant::now();
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
    core.handle(
        now,
        Input::Message {
            conn,
            bytes: theirs.encode(),
        },
    );
    std::iter::from_fn(|| core.poll_output()).collect()
}

fn notification_of(out: &[Output]) -> Option<(u8, u8, Vec<u8>)> {
    out.iter().find_map(|o| match o {
        Output::Send { bytes, .. } if bytes.get(18) == Some(&3) => {
            match evpn_proto::message::decode_message(bytes, &Default::default()) {
                Ok(Decoded::Notification(n)) => Some((n.code, n.subcode, n.data)),
                _ => None,
            }
        }
        _ => None,
    })
}

fn their_open(asn: u32, hold: u16, id: [u8; 4]) -> Open {
    Open::new(
        asn,
        hold,
        Ipv4Addr::from(id),
        vec![Capability::multiprotocol(Family::Evpn)],
    )
}

#[test]
fn open_with_wrong_peer_as_is_answered_with_2_2() {
    let out = open_exchange(their_open(65002, 90, [10, 0, 0, 2]));
    assert_eq!(notification_of(&out), Some((2, 2, vec![])));
    assert!(out.iter().any(|o| matches!(o, Output::Close { .. })));
}

#[test]
fn open_with_zero_bgp_id_is_answered_with_2_3() {
    let out = open_exchange(their_open(65001, 90, [0, 0, 0, 0]));
    assert_eq!(notification_of(&out), Some((2, 3, vec![])));
}

#[test]
fn open_with_hold_time_one_is_answered_with_2_6() {
    let out = open_exchange(their_open(65001, 1, [10, 0, 0, 2]));
    assert_eq!(notification_of(&out), Some((2, 6, vec![])));
}

#[test]
fn valid_open_is_answered_with_keepalive_and_open_confirm() {
    let out = open_exchange(their_open(65001, 90, [10, 0, 0, 2]));
    assert_eq!(notification_of(&out), None);
    let last = out.iter().rev().find_map(|o| match o {
        Output::Send { bytes, .. } => Some(bytes.clone()),
        _ => None,
    });
    assert_eq!(last.map(|b| b.len()), Some(19));
}

#[test]
fn update_in_open_confirm_is_an_fsm_error_5_2() {
    let cfg = config(&leaf(
        "10.0.0.1",
        65000,
        &[("10.0.0.2", 65001, "passive = true")],
    ));
    let now = std::time::Instant::now();
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
    core.handle(
        now,
        Input::Message {
            conn,
            bytes: their_open(65001, 90, [10, 0, 0, 2]).encode(),
        },
    );
    let eor = evpn_proto::message::Update::end_of_rib_marker(Family::Ipv4Unicast)
        .encode(&Default::default());
    core.handle(now, Input::Message { conn, bytes: eor });
    let out: Vec<Output> = std::iter::from_fn(|| core.poll_output()).collect();
    assert_eq!(notification_of(&out), Some((5, 2, vec![])));
}

#[test]
fn dynamic_neighbor_from_a_range_is_created_on_accept() {
    let toml = "router_id = \"10.0.0.1\"\nasn = 65000\n[[neighbor]]\nrange = \"10.1.0.0/16\"\nremote_as = 65000\n";
    let mut net = Net::new(&[
        ("10.0.0.1", toml),
        (
            "10.1.2.3",
            &leaf("10.1.2.3", 65000, &[("10.0.0.1", 65000, "")]),
        ),
    ]);
    net.advance(Duration::from_secs(1));
    assert_eq!(net.state(0, "10.1.2.3"), "established");
    let r = net.api(0, json!({"command": "show-bgp-neighbors"}));
    assert_eq!(r["neighbors"][0]["dynamic"], true);
    // Session loss without GR state forgets the dynamic neighbor.
    net.api(1, json!({"command": "show-bgp-summary"}));
    net.cut(1);
    assert!(["none", "open-sent", "established"].contains(&net.state(0, "10.1.2.3")));
}

#[test]
fn shutdown_sends_cease_2_as_a_hard_reset() {
    let mut net = pair();
    net.advance(Duration::from_secs(1));
    let now = net.now;
    net.nodes[0].core.shutdown(now);
    net.pump();
    // Both sides set the N bit: RFC 8538 §5.1 wraps it in a Hard Reset.
    assert_eq!(net.notifications_from(0), vec![(6, 9, vec![6, 2])]);
    assert_eq!(net.state(0, "10.0.0.2"), "idle");
}

#[test]
fn reload_removing_a_peer_sends_cease_3_as_a_hard_reset() {
    let mut net = pair();
    net.advance(Duration::from_secs(1));
    let now = net.now;
    let diff = net.nodes[0]
        .core
        .reload(now, &config(&leaf("10.0.0.1", 65000, &[])));
    assert_eq!(diff.removed, vec!["10.0.0.2".to_string()]);
    net.pump();
    assert_eq!(net.notifications_from(0), vec![(6, 9, vec![6, 3])]);
    assert_eq!(net.state(0, "10.0.0.2"), "none");
}
