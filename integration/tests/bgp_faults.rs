//! Faults against FRR: max-prefix (RFC 4486 Cease/1), hold-timer expiry
//! (RFC 4271 §10), graceful restart (RFC 4724) in both roles, and RFC 8538
//! (N bit: graceful NOTIFICATION, Hard Reset) in both directions.

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
    // evpnd sent Cease / Maximum Number of Prefixes Reached, as a Hard
    // Reset (RFC 8538 §5.1: FRR's default helper mode sets the N bit) …
    poll_json(
        "evpnd sent Hard Reset carrying Cease/1",
        SESSION_UP,
        POLL,
        || e.ctl(&["show", "bgp", "neighbors", &fr.v4]),
        &json!({"neighbors": [{"last_error": {"direction": "sent", "code": 6, "subcode": 9,
            "data": "060100010100000002"}}]}),
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
    let e = evpnd_to_b(&p, 65002, &["ipv4"]).unwrap();
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
    let e = evpnd_to_b(&p, 65002, &["ipv4"]).unwrap();
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
    let mut e = evpnd_to_b(&p, 65002, &["ipv4"]).unwrap();
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

/// FRR peer for the RFC 8538 tests: GR on (N bit is FRR 8.4's default),
/// passive towards evpnd so a reset session stays down until evpnd
/// reconnects (connect_retry 5 s): long enough to look at the stale state.
fn rfc8538_pair(label: &str) -> anyhow::Result<(Pair, Frr, Evpnd)> {
    let p = Pair::new(label)?;
    let (ev, fr) = (&p.a_addr, &p.b_addr);
    let gr = format!(
        " bgp graceful-restart\n bgp graceful-restart preserve-fw-state\n neighbor {} passive",
        ev.v4
    );
    let conf = frr_with_networks(65002, fr, ev, 65001, &["192.0.2.0/26"], &gr);
    let frr = Frr::start(&p.b, &p.dir, &conf)?;
    let e = Evpnd::start(
        &p.a,
        &p.dir,
        "evpnd",
        &evpnd_config(
            &ev.v4,
            65001,
            "",
            &evpnd_neighbor(&fr.v4, 65002, &["ipv4"], "")
                .replace("connect_retry = 1", "connect_retry = 5"),
        ),
    )?;
    evpnd_established(&e, &fr.v4)?;
    e.ctl(&["route", "add", "ipv4", "--prefix", "198.51.100.0/24"])?;
    Ok((p, frr, e))
}

/// Whether evpnd has FRR's 192.0.2.0/26, and if so whether it is stale.
fn evpnd_frr_route(e: &Evpnd) -> anyhow::Result<Option<bool>> {
    let r = evpnd_routes(e, "ipv4")?;
    Ok(r["routes"].as_array().and_then(|rs| {
        rs.iter()
            .find(|x| x["prefix"] == "192.0.2.0/26")
            .map(|x| x["stale"] == true)
    }))
}

/// Whether FRR has evpnd's 198.51.100.0/24, and if so whether it is stale.
fn frr_evpnd_route(frr: &Frr) -> anyhow::Result<Option<bool>> {
    let r = frr.vtysh_json("show bgp ipv4 unicast 198.51.100.0/24 json")?;
    Ok(r["paths"]
        .as_array()
        .and_then(|ps| ps.first())
        .map(|p| p["stale"] == true))
}

/// Poll until both sides' view of the other's route is `want` (None =
/// absent, Some(stale)).
fn both_routes(e: &Evpnd, frr: &Frr, what: &str, want: Option<bool>) -> anyhow::Result<()> {
    poll_until(what, CONVERGE, Duration::from_millis(100), || {
        let (a, b) = (evpnd_frr_route(e)?, frr_evpnd_route(frr)?);
        Ok((a == want && b == want).then_some(()))
    })
}

/// RFC 8538 with FRR 8.4 (N bit on by default): evpnd's graceful reset
/// (plain Cease/4) leaves both sides' routes stale until the session is
/// back; evpnd's Hard Reset (Cease/9 carrying Cease/4) flushes them on both
/// sides at once.
#[test]
fn rfc8538_evpnd_graceful_reset_keeps_routes_stale_and_hard_reset_flushes() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let (p, frr, e) = rfc8538_pair("n-bit-ev").unwrap();
    let (ev, fr) = (&p.a_addr.v4, &p.b_addr.v4);
    poll_json(
        "FRR received the N bit",
        CONVERGE,
        POLL,
        || frr.vtysh_json(&format!("show bgp neighbors {ev} json")),
        &json!({ev: {"gracefulRestartInfo": {"nBit": true}}}),
    )
    .unwrap();
    poll_json(
        "evpnd negotiated the N bit",
        CONVERGE,
        POLL,
        || e.ctl(&["show", "bgp", "neighbors", fr]),
        &json!({"neighbors": [{"negotiated": {"graceful_restart": {"notification": true}}}]}),
    )
    .unwrap();
    both_routes(&e, &frr, "both routes fresh", Some(false)).unwrap();

    e.ctl(&["clear", "bgp", fr, "--graceful"]).unwrap();
    both_routes(&e, &frr, "both sides keep the routes stale", Some(true)).unwrap();
    evpnd_established(&e, fr).unwrap();
    both_routes(&e, &frr, "fresh again after End-of-RIB", Some(false)).unwrap();

    e.ctl(&["clear", "bgp", fr]).unwrap();
    both_routes(&e, &frr, "a Hard Reset flushes both sides", None).unwrap();
    assert!(
        frr.bgpd_log().contains("Hard Reset"),
        "FRR logged no Hard Reset:\n{}",
        frr.bgpd_log()
    );
    evpnd_established(&e, fr).unwrap();
    both_routes(&e, &frr, "back after the Hard Reset", Some(false)).unwrap();
}

/// RFC 8538 the other way: FRR's `clear bgp` is a Hard Reset by default
/// (`bgp hard-administrative-reset`): evpnd flushes FRR's routes at once;
/// without it FRR sends a plain Cease/4 and evpnd keeps them stale until
/// the session is back and FRR's End-of-RIB arrives.
#[test]
fn rfc8538_frr_hard_reset_flushes_and_graceful_cease_keeps_routes_stale_in_evpnd() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let (p, frr, e) = rfc8538_pair("n-bit-frr").unwrap();
    let (ev, fr) = (&p.a_addr.v4, &p.b_addr.v4);
    both_routes(&e, &frr, "both routes fresh", Some(false)).unwrap();
    let last_error = |e: &Evpnd| -> serde_json::Value {
        e.ctl(&["show", "bgp", "neighbors", fr]).unwrap()["neighbors"][0]["last_error"].clone()
    };

    frr.vtysh(&format!("clear bgp {ev}")).unwrap();
    both_routes(&e, &frr, "FRR's Hard Reset flushes both sides", None).unwrap();
    let err = last_error(&e);
    assert_eq!(
        (&err["direction"], &err["code"], &err["subcode"]),
        (&json!("received"), &json!(6), &json!(9)),
        "{err}"
    );
    assert_eq!(err["reason"], "hard reset: Administrative Reset", "{err}");
    evpnd_established(&e, fr).unwrap();
    both_routes(&e, &frr, "back after the Hard Reset", Some(false)).unwrap();

    frr.configure(&["router bgp 65002", "no bgp hard-administrative-reset"])
        .unwrap();
    frr.vtysh(&format!("clear bgp {ev}")).unwrap();
    // evpnd, receiving a NOTIFICATION other than Hard Reset, keeps FRR's
    // routes stale (RFC 8538 §4). FRR 8.4 itself, as the sender, drops
    // evpnd's routes on `clear bgp` (its clear path flushes whatever the
    // NOTIFICATION), so only evpnd's side is checked here.
    poll_until(
        "FRR's plain Cease/4 leaves its routes stale in evpnd",
        CONVERGE,
        Duration::from_millis(100),
        || Ok((evpnd_frr_route(&e)? == Some(true)).then_some(())),
    )
    .unwrap();
    let err = last_error(&e);
    assert_eq!(
        (&err["code"], &err["subcode"]),
        (&json!(6), &json!(4)),
        "{err}"
    );
    evpnd_established(&e, fr).unwrap();
    both_routes(&e, &frr, "fresh again after End-of-RIB", Some(false)).unwrap();
}
