//! Route refresh (RFC 2918) and enhanced route refresh (RFC 7313), with the
//! test playing the peer: receipt (BoRR marks the peer's routes of the
//! family stale, EoRR or the timer sweeps what was not re-advertised) and
//! sending (a request is answered BoRR, the routes, EoRR).

use std::time::{Duration, Instant};

use evpn_proto::capability::Capability;
use evpn_proto::message::pack::pack_ipv4_reach;
use evpn_proto::message::{DecodeCxt, Decoded, RefreshSubtype, RouteRefresh};
use evpn_proto::Family;
use serde_json::{json, Value};

use super::rib_scenarios::{base_attrs, established_with, evpn_update, mac_ip, rt2};
use crate::core::io::{ConnId, Input, Output, RequestId};
use crate::core::Core;

fn caps(enhanced: bool) -> Vec<Capability> {
    let mut c = vec![
        Capability::multiprotocol(Family::Evpn),
        Capability::multiprotocol(Family::Ipv4Unicast),
        Capability::RouteRefresh,
    ];
    if enhanced {
        c.push(Capability::EnhancedRouteRefresh);
    }
    c
}

fn refresh(f: Family, subtype: RefreshSubtype) -> Vec<u8> {
    RouteRefresh {
        afi: f.afi(),
        safi: f.safi(),
        subtype,
    }
    .encode()
}

fn api(core: &mut Core, now: Instant, request: Value) -> Value {
    core.handle(
        now,
        Input::Api {
            id: RequestId(1),
            request,
        },
    );
    std::iter::from_fn(|| core.poll_output())
        .find_map(|o| match o {
            Output::ApiReply { reply, .. } => Some(reply),
            _ => None,
        })
        .unwrap()
}

/// The peer's routes of `family`: (MAC or prefix, stale).
fn received(core: &mut Core, now: Instant, family: &str) -> Vec<(String, bool)> {
    let r = api(
        core,
        now,
        json!({"command": "show-bgp-routes", "family": family, "peer": "10.0.0.2"}),
    );
    r["routes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let what = r["mac"].as_str().or(r["prefix"].as_str()).unwrap_or("?");
            (what.to_string(), r["stale"] == true)
        })
        .collect()
}

fn mac(last: u8) -> String {
    format!("00:11:22:33:44:{last:02x}")
}

fn from_peer(core: &mut Core, now: Instant, conn: ConnId, bytes: Vec<u8>) {
    core.handle(now, Input::Message { conn, bytes });
}

/// What the core sends to `conn` until it goes quiet, decoded; UPDATEs as
/// `U(n)` with their NLRI count (`W` for withdrawals), EoR as `EoR`.
fn sent(core: &mut Core, conn: ConnId) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let Some(o) = core.poll_output() else {
            return out;
        };
        let Output::Send { conn: c, bytes } = o else {
            continue;
        };
        if c != conn {
            continue;
        }
        let mut b = &bytes[..];
        while let Ok(Some(n)) = evpn_proto::message::frame_len(b) {
            let d = evpn_proto::message::decode_message(&b[..n], &DecodeCxt::default());
            out.push(match d {
                Ok(Decoded::Update(u)) if u.update.end_of_rib().is_some() => "EoR".into(),
                Ok(Decoded::Update(u)) => {
                    let a = &u.update.attrs;
                    let reach = a.mp_reach.as_ref().map_or(0, |m| m.nlri.len());
                    let unreach = a.mp_unreach.as_ref().map_or(0, |m| m.withdrawn.len());
                    match (reach, unreach) {
                        (r, 0) => format!("U({r})"),
                        (0, w) => format!("W({w})"),
                        (r, w) => format!("U({r})W({w})"),
                    }
                }
                Ok(Decoded::RouteRefresh(r)) => format!("{:?}", r.subtype),
                Ok(Decoded::Keepalive) => "KA".into(),
                other => format!("{other:?}"),
            });
            b = &b[n..];
        }
    }
    panic!("core did not go quiet");
}

#[test]
fn borr_marks_the_family_stale_and_eorr_sweeps_what_was_not_readvertised() {
    let (mut core, conn, now) = established_with(65000, caps(true));
    let attrs = base_attrs(&[]);
    from_peer(
        &mut core,
        now,
        conn,
        evpn_update(&attrs, &[mac_ip(1), mac_ip(2), mac_ip(3)], true),
    );
    let mut v4 = attrs.clone();
    v4.next_hop = Some("10.0.0.2".parse().unwrap());
    let cx = DecodeCxt {
        ibgp: true,
        ..DecodeCxt::default()
    };
    let v4_update = pack_ipv4_reach(&v4, &["192.0.2.0/24".parse().unwrap()], &cx).unwrap();
    from_peer(&mut core, now, conn, v4_update[0].clone());
    // BoRR for EVPN: its three routes stale, the IPv4 route untouched.
    from_peer(
        &mut core,
        now,
        conn,
        refresh(Family::Evpn, RefreshSubtype::BoRR),
    );
    assert_eq!(
        received(&mut core, now, "evpn"),
        vec![(mac(1), true), (mac(2), true), (mac(3), true)]
    );
    assert_eq!(
        received(&mut core, now, "ipv4"),
        vec![("192.0.2.0/24".to_string(), false)]
    );
    // Two are re-advertised: fresh again.
    from_peer(
        &mut core,
        now,
        conn,
        evpn_update(&attrs, &[mac_ip(1), mac_ip(3)], true),
    );
    assert_eq!(
        received(&mut core, now, "evpn"),
        vec![(mac(1), false), (mac(2), true), (mac(3), false)]
    );
    // EoRR: the one left stale goes.
    from_peer(
        &mut core,
        now,
        conn,
        refresh(Family::Evpn, RefreshSubtype::EoRR),
    );
    assert_eq!(
        received(&mut core, now, "evpn"),
        vec![(mac(1), false), (mac(3), false)]
    );
    assert_eq!(received(&mut core, now, "ipv4").len(), 1);
    core.check_counters();
}

#[test]
fn eorr_without_borr_is_ignored() {
    let (mut core, conn, now) = established_with(65000, caps(true));
    from_peer(
        &mut core,
        now,
        conn,
        evpn_update(&base_attrs(&[]), &[mac_ip(1)], true),
    );
    from_peer(
        &mut core,
        now,
        conn,
        refresh(Family::Evpn, RefreshSubtype::EoRR),
    );
    assert_eq!(received(&mut core, now, "evpn"), vec![(mac(1), false)]);
    // An EoRR for another family than the BoRR's sweeps nothing either.
    from_peer(
        &mut core,
        now,
        conn,
        refresh(Family::Evpn, RefreshSubtype::BoRR),
    );
    from_peer(
        &mut core,
        now,
        conn,
        refresh(Family::Ipv4Unicast, RefreshSubtype::EoRR),
    );
    assert_eq!(received(&mut core, now, "evpn"), vec![(mac(1), true)]);
}

#[test]
fn refresh_without_eorr_is_swept_when_the_timer_runs_out() {
    let (mut core, conn, now) = established_with(65000, caps(true));
    from_peer(
        &mut core,
        now,
        conn,
        evpn_update(&base_attrs(&[]), &[mac_ip(1), mac_ip(2)], true),
    );
    from_peer(
        &mut core,
        now,
        conn,
        refresh(Family::Evpn, RefreshSubtype::BoRR),
    );
    from_peer(
        &mut core,
        now,
        conn,
        evpn_update(&base_attrs(&[]), &[mac_ip(2)], true),
    );
    // Keepalives keep the session up while the refresh takes its time.
    let mut t = now;
    for _ in 0..12 {
        t += Duration::from_secs(30);
        from_peer(&mut core, t, conn, evpn_proto::message::keepalive());
        core.handle_timeout(t);
    }
    // 360 s: the stale one is gone, the re-advertised one stays.
    assert_eq!(received(&mut core, t, "evpn"), vec![(mac(2), false)]);
}

#[test]
fn route_refresh_request_is_answered_with_borr_routes_and_eorr() {
    let (mut core, conn, now) = established_with(65000, caps(true));
    for i in 0..3 {
        api(&mut core, now, rt2("10.0.0.1:100", &mac(i), json!({})));
    }
    // (End-of-RIB went out with the initial sync.)
    assert_eq!(sent(&mut core, conn), vec!["U(3)"]);
    from_peer(
        &mut core,
        now,
        conn,
        refresh(Family::Evpn, RefreshSubtype::Request),
    );
    assert_eq!(sent(&mut core, conn), vec!["BoRR", "U(3)", "EoRR"]);
    // A family with nothing to send: BoRR and EoRR only.
    from_peer(
        &mut core,
        now,
        conn,
        refresh(Family::Ipv4Unicast, RefreshSubtype::Request),
    );
    assert_eq!(sent(&mut core, conn), vec!["BoRR", "EoRR"]);
    core.check_counters();
}

#[test]
fn plain_route_refresh_request_resends_without_borr_and_keeps_pending_withdrawals() {
    let (mut core, conn, now) = established_with(65000, caps(false));
    for i in 0..3 {
        api(&mut core, now, rt2("10.0.0.1:100", &mac(i), json!({})));
    }
    // (End-of-RIB went out with the initial sync.)
    assert_eq!(sent(&mut core, conn), vec!["U(3)"]);
    // A route is withdrawn and, before the withdrawal is built, the peer
    // asks for a refresh: the withdrawal must still go out (without
    // BoRR/EoRR the peer would keep the route for ever).
    core.handle(
        now,
        Input::Api {
            id: RequestId(2),
            request: json!({"command": "route-del", "family": "evpn", "route_type": 2,
                "rd": "10.0.0.1:100", "mac": mac(2), "ip": "10.1.0.5"}),
        },
    );
    from_peer(
        &mut core,
        now,
        conn,
        refresh(Family::Evpn, RefreshSubtype::Request),
    );
    assert_eq!(sent(&mut core, conn), vec!["W(1)", "U(2)"]);
    core.check_counters();
}

#[test]
fn route_refresh_for_a_family_not_negotiated_is_ignored() {
    let (mut core, conn, now) = established_with(
        65000,
        vec![
            Capability::multiprotocol(Family::Evpn),
            Capability::EnhancedRouteRefresh,
        ],
    );
    from_peer(
        &mut core,
        now,
        conn,
        refresh(Family::Ipv6Unicast, RefreshSubtype::Request),
    );
    assert_eq!(sent(&mut core, conn), Vec::<String>::new());
    assert_eq!(
        core.peer_state("10.0.0.2".parse().unwrap()),
        Some("established")
    );
}

#[test]
fn with_graceful_restart_a_borr_before_end_of_rib_is_ignored() {
    let mut c = caps(true);
    c.push(Capability::GracefulRestart {
        restart_state: false,
        notification: false,
        restart_time: 120,
        families: vec![(Family::Evpn.afi(), Family::Evpn.safi(), false)],
    });
    let (mut core, conn, now) = established_with(65000, c);
    from_peer(
        &mut core,
        now,
        conn,
        evpn_update(&base_attrs(&[]), &[mac_ip(1)], true),
    );
    from_peer(
        &mut core,
        now,
        conn,
        refresh(Family::Evpn, RefreshSubtype::BoRR),
    );
    assert_eq!(received(&mut core, now, "evpn"), vec![(mac(1), false)]);
    // After its End-of-RIB the same BoRR counts.
    let eor = evpn_proto::message::Update::end_of_rib_marker(Family::Evpn).encode(&DecodeCxt {
        ibgp: true,
        ..DecodeCxt::default()
    });
    from_peer(&mut core, now, conn, eor);
    from_peer(
        &mut core,
        now,
        conn,
        refresh(Family::Evpn, RefreshSubtype::BoRR),
    );
    assert_eq!(received(&mut core, now, "evpn"), vec![(mac(1), true)]);
    from_peer(
        &mut core,
        now,
        conn,
        refresh(Family::Evpn, RefreshSubtype::EoRR),
    );
    assert_eq!(received(&mut core, now, "evpn"), Vec::new());
}

#[test]
fn soft_clear_in_requests_every_family_and_out_resends_them_framed() {
    let (mut core, conn, now) = established_with(65000, caps(true));
    api(&mut core, now, rt2("10.0.0.1:100", &mac(1), json!({})));
    assert_eq!(sent(&mut core, conn), vec!["U(1)"]);
    // (`api` would drain the Sends before the reply: handle directly.)
    let clear = |core: &mut Core, soft: &str| {
        core.handle(
            now,
            Input::Api {
                id: RequestId(3),
                request: json!({"command": "clear-bgp", "peer": "10.0.0.2", "soft": soft}),
            },
        );
    };
    clear(&mut core, "in");
    // Families negotiated: EVPN and IPv4 (the peer did not offer IPv6).
    assert_eq!(sent(&mut core, conn), vec!["Request", "Request"]);
    clear(&mut core, "out");
    let out = sent(&mut core, conn);
    assert_eq!(out, vec!["BoRR", "BoRR", "U(1)", "EoRR", "EoRR"]);
    let n = api(&mut core, now, json!({"command": "show-bgp-neighbors"}));
    assert_eq!(n["neighbors"][0]["route_refresh_out"], 6);
    assert_eq!(
        core.peer_state("10.0.0.2".parse().unwrap()),
        Some("established")
    );
}
