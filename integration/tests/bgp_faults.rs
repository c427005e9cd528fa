//! Faults against FRR: max-prefix (RFC 4486 Cease/1), hold-timer expiry
//! (RFC 4271 §10), and graceful restart (RFC 4724) in both roles.

use std::time::Duration;

use integration::topo::*;
use integration::*;
use serde_json::json;

fn frr_with_networks(
    asn: u32,
    me: &Side,
    peer: &Side,
    peer_as: u32,
    nets: &[&str],
    extra: &str,
) -> String {
    let mut conf = frr_config(
        asn,
        &me.v4,
        &[(&peer.v4, peer_as)],
        &["ipv4"],
        &format!(" no bgp network import-check\n{extra}"),
    );
    conf.push_str(" address-family ipv4 unicast\n");
    for n in nets {
        conf.push_str(&format!("  network {n}\n"));
    }
    conf.push_str(" exit-address-family\n");
    conf
}

#[test]
fn max_prefix_exceeded_sends_cease_1_that_the_peer_sees() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let p = Pair::new("maxpfx").unwrap();
    let (ev, fr) = (&p.a_addr, &p.b_addr);
    let conf = frr_with_networks(
        65002,
        fr,
        ev,
        65001,
        &["192.0.2.0/26", "192.0.2.64/26", "192.0.2.128/26"],
        "",
    );
    let frr = Frr::start(&p.b, &p.dir, &conf).unwrap();
    let e = Evpnd::start(
        &p.a,
        &p.dir,
        "evpnd",
        &evpnd_config(
            &ev.v4,
            65001,
            "",
            &evpnd_neighbor(&fr.v4, 65002, &["ipv4"], "max_prefix = { limit = 2 }"),
        ),
    )
    .unwrap();
    // evpnd sent Cease / Maximum Number of Prefixes Reached …
    poll_json(
        "evpnd sent Cease/1",
        SESSION_UP,
        POLL,
        || e.ctl(&["show", "bgp", "neighbors", &fr.v4]),
        &json!({"neighbors": [{"last_error": {"direction": "sent", "code": 6, "subcode": 1}}]}),
    )
    .unwrap();
    // … and FRR received it.
    poll_until("FRR saw Cease/1", CONVERGE, POLL, || {
        let n = frr.vtysh_json(&format!("show bgp neighbors {} json", ev.v4))?;
        let text = n.to_string();
        Ok(text
            .contains("Maximum Number of Prefixes Reached")
            .then_some(()))
    })
    .unwrap();
    // The routes learned before the reset are gone from evpnd.
    let routes = evpnd_routes(&e, "ipv4").unwrap();
    assert_eq!(routes["routes"], json!([]), "{routes}");
}

#[test]
fn hold_timer_expiry_is_detected_when_the_peer_freezes() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let p = Pair::new("hold").unwrap();
    let (ev, fr) = (&p.a_addr, &p.b_addr);
    let conf = frr_with_networks(65002, fr, ev, 65001, &[], "");
    let mut frr = Frr::start(&p.b, &p.dir, &conf).unwrap();
    let e = Evpnd::start(
        &p.a,
        &p.dir,
        "evpnd",
        &evpnd_config(
            &ev.v4,
            65001,
            "",
            &evpnd_neighbor(&fr.v4, 65002, &["ipv4"], ""),
        ),
    )
    .unwrap();
    evpnd_established(&e, &fr.v4).unwrap();
    // Negotiated hold time 9 s: bgpd stopped → no KEEPALIVE → [4,0] within ~9 s.
    frr.bgpd_daemon().unwrap().signal(libc::SIGSTOP).unwrap();
    let stopped = std::time::Instant::now();
    let r = poll_json(
        "evpnd's hold timer expired",
        Duration::from_secs(20),
        POLL,
        || e.ctl(&["show", "bgp", "neighbors", &fr.v4]),
        &json!({"neighbors": [{"last_error": {"direction": "sent", "code": 4, "subcode": 0}}]}),
    );
    frr.bgpd_daemon().unwrap().signal(libc::SIGCONT).unwrap();
    r.unwrap();
    let took = stopped.elapsed();
    assert!(
        took >= Duration::from_secs(5),
        "expired after {took:?}, before the hold time"
    );
}

/// FRR restarts (bgpd killed, started again with one prefix fewer): evpnd
/// keeps FRR's routes marked stale meanwhile, then drops the one FRR does
/// not re-advertise once FRR's End-of-RIB arrives, and keeps the other.
#[test]
fn frr_restart_keeps_routes_stale_and_sweeps_unadvertised_after_end_of_rib() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let p = Pair::new("gr-helper").unwrap();
    let (ev, fr) = (&p.a_addr, &p.b_addr);
    let gr = " bgp graceful-restart\n bgp graceful-restart restart-time 60";
    let conf = frr_with_networks(65002, fr, ev, 65001, &["192.0.2.0/26", "192.0.2.64/26"], gr);
    let mut frr = Frr::start(&p.b, &p.dir, &conf).unwrap();
    let e = Evpnd::start(
        &p.a,
        &p.dir,
        "evpnd",
        &evpnd_config(
            &ev.v4,
            65001,
            "",
            &evpnd_neighbor(&fr.v4, 65002, &["ipv4"], ""),
        ),
    )
    .unwrap();
    evpnd_established(&e, &fr.v4).unwrap();
    poll_json(
        "evpnd has both prefixes",
        CONVERGE,
        POLL,
        || evpnd_routes(&e, "ipv4"),
        &json!({"routes": [{"prefix": "192.0.2.0/26", "stale": false}, {"prefix": "192.0.2.64/26", "stale": false}]}),
    )
    .unwrap();

    frr.kill_bgpd();
    poll_json(
        "evpnd keeps FRR's routes stale",
        CONVERGE,
        POLL,
        || evpnd_routes(&e, "ipv4"),
        &json!({"routes": [{"prefix": "192.0.2.0/26", "stale": true}, {"prefix": "192.0.2.64/26", "stale": true}]}),
    )
    .unwrap();

    let conf2 = frr_with_networks(65002, fr, ev, 65001, &["192.0.2.0/26"], gr);
    frr.start_bgpd(Some(&conf2)).unwrap();
    evpnd_established(&e, &fr.v4).unwrap();
    poll_json(
        "after End-of-RIB: re-advertised fresh, the other swept",
        CONVERGE,
        POLL,
        || evpnd_routes(&e, "ipv4"),
        &json!({"routes": [{"prefix": "192.0.2.0/26", "stale": false}]}),
    )
    .unwrap();
    poll_until("192.0.2.64/26 swept", CONVERGE, POLL, || {
        let r = evpnd_routes(&e, "ipv4")?;
        let present = r["routes"]
            .as_array()
            .is_some_and(|rs| rs.iter().any(|x| x["prefix"] == "192.0.2.64/26"));
        Ok((!present).then_some(()))
    })
    .unwrap();
}

/// evpnd crashes and restarts: FRR (GR helper) keeps evpnd's routes stale
/// meanwhile, and fresh again once evpnd re-advertises them.
#[test]
fn evpnd_restart_frr_keeps_its_routes_as_gr_helper() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let p = Pair::new("gr-restart").unwrap();
    let (ev, fr) = (&p.a_addr, &p.b_addr);
    let conf = frr_with_networks(65002, fr, ev, 65001, &[], " bgp graceful-restart");
    let frr = Frr::start(&p.b, &p.dir, &conf).unwrap();
    let mut e = Evpnd::start(
        &p.a,
        &p.dir,
        "evpnd",
        &evpnd_config(
            &ev.v4,
            65001,
            "",
            &evpnd_neighbor(&fr.v4, 65002, &["ipv4"], ""),
        ),
    )
    .unwrap();
    evpnd_established(&e, &fr.v4).unwrap();
    e.ctl(&["route", "add", "ipv4", "--prefix", "198.51.100.0/24"])
        .unwrap();
    poll_json(
        "FRR has evpnd's prefix",
        CONVERGE,
        POLL,
        || frr.vtysh_json("show bgp ipv4 unicast 198.51.100.0/24 json"),
        &json!({"paths": [{"valid": true, "stale": null}]}),
    )
    .unwrap();

    e.daemon().kill();
    poll_json(
        "FRR keeps evpnd's prefix stale",
        CONVERGE,
        POLL,
        || frr.vtysh_json("show bgp ipv4 unicast 198.51.100.0/24 json"),
        &json!({"paths": [{"stale": true}]}),
    )
    .unwrap();

    e.restart_after_kill().unwrap();
    e.ctl(&["route", "add", "ipv4", "--prefix", "198.51.100.0/24"])
        .unwrap();
    evpnd_established(&e, &fr.v4).unwrap();
    poll_json(
        "FRR has evpnd's prefix fresh again",
        Duration::from_secs(40),
        POLL,
        || frr.vtysh_json("show bgp ipv4 unicast 198.51.100.0/24 json"),
        &json!({"paths": [{"valid": true, "stale": null}]}),
    )
    .unwrap();
}
