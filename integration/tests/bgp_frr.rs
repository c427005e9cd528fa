//! evpnd ↔ FRR bgpd: sessions over IPv4 and IPv6 transport, iBGP and eBGP;
//! EVPN RT-2/3/5 and IPv4/IPv6 unicast both ways with their attributes, and
//! withdrawals; route reflection in both directions; enhanced route refresh
//! (RFC 7313) both ways.

use integration::topo::*;
use integration::*;
use serde_json::json;

/// evpnd's originations through evpnctl: RT-2 (MAC+IP), RT-3, RT-5, one
/// IPv4 and one IPv6 prefix.
fn originate_from_evpnd(e: &Evpnd, vtep: &str) -> anyhow::Result<()> {
    e.ctl(&[
        "route",
        "add",
        "evpn",
        "mac-ip",
        "--rd",
        &format!("{vtep}:100"),
        "--mac",
        "00:00:00:aa:00:01",
        "--ip",
        "10.1.0.11",
        "--vni",
        "100",
        "--rt",
        "65001:100",
    ])?;
    e.ctl(&[
        "route",
        "add",
        "evpn",
        "imet",
        "--rd",
        &format!("{vtep}:100"),
        "--vni",
        "100",
        "--rt",
        "65001:100",
    ])?;
    e.ctl(&[
        "route",
        "add",
        "evpn",
        "prefix",
        "--rd",
        &format!("{vtep}:5000"),
        "--prefix",
        "10.50.0.0/24",
        "--vni",
        "5000",
        "--router-mac",
        "02:00:00:00:50:01",
        "--rt",
        "65001:5000",
    ])?;
    e.ctl(&["route", "add", "ipv4", "--prefix", "198.51.100.0/24"])?;
    e.ctl(&["route", "add", "ipv6", "--prefix", "2001:db8:100::/48"])?;
    Ok(())
}

/// FRR's view of evpnd's EVPN routes, attributes included.
fn frr_has_evpnd_evpn(frr: &Frr, vtep: &str) -> anyhow::Result<()> {
    poll_json(
        "FRR has evpnd's RT-2/3/5",
        CONVERGE,
        POLL,
        || frr.vtysh_json("show bgp l2vpn evpn json"),
        &json!({
            format!("{vtep}:100"): {
                "[2]:[0]:[48]:[00:00:00:aa:00:01]:[32]:[10.1.0.11]": {"paths": [{
                    "valid": true, "routeType": 2, "mac": "00:00:00:aa:00:01", "ip": "10.1.0.11",
                    "extendedCommunity": {"string": "RT:65001:100 ET:8"},
                    "nexthops": [{"ip": vtep}],
                }]},
                format!("[3]:[0]:[32]:[{vtep}]"): {"paths": [{"valid": true, "routeType": 3}]},
            },
            format!("{vtep}:5000"): {
                "[5]:[0]:[24]:[10.50.0.0]": {"paths": [{
                    "valid": true, "routeType": 5,
                    "extendedCommunity": {"string": "RT:65001:5000 ET:8 Rmac:02:00:00:00:50:01"},
                }]},
            },
        }),
    )?;
    Ok(())
}

fn frr_unicast_config(extra_af4: &str, extra_af6: &str) -> String {
    format!(
        " address-family ipv4 unicast\n  network 192.0.2.0/24\n{extra_af4} exit-address-family\n\
         address-family ipv6 unicast\n  network 2001:db8:2::/48\n{extra_af6} exit-address-family\n"
    )
}

#[test]
fn ebgp_over_ipv4_evpn_and_unicast_routes_pass_both_ways_and_withdraw() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let p = Pair::new("frr-ebgp4").unwrap();
    let (ev, fr) = (&p.a_addr, &p.b_addr);
    frr_local_vni(&p.b, 200, &fr.v4, &["00:00:00:bb:00:01"]).unwrap();
    let mut conf = frr_config(
        65002,
        &fr.v4,
        &[(&ev.v4, 65001)],
        &["ipv4", "ipv6", "evpn"],
        " no bgp network import-check",
    );
    conf.push_str(&frr_unicast_config("", ""));
    conf.push_str(" address-family l2vpn evpn\n  advertise-all-vni\n exit-address-family\n");
    let frr = Frr::start(&p.b, &p.dir, &conf).unwrap();
    let e = evpnd_to_b(&p, 65002, &["evpn", "ipv4", "ipv6"]).unwrap();
    frr_established(&frr, &ev.v4).unwrap();

    // evpnd → FRR.
    originate_from_evpnd(&e, &ev.v4).unwrap();
    frr_has_evpnd_evpn(&frr, &ev.v4).unwrap();
    poll_json(
        "FRR has evpnd's IPv4 prefix",
        CONVERGE,
        POLL,
        || frr.vtysh_json("show bgp ipv4 unicast 198.51.100.0/24 json"),
        &json!({"paths": [{"valid": true, "aspath": {"string": "65001"}, "nexthops": [{"ip": ev.v4}]}]}),
    )
    .unwrap();
    poll_json(
        "FRR has evpnd's IPv6 prefix",
        CONVERGE,
        POLL,
        || frr.vtysh_json("show bgp ipv6 unicast 2001:db8:100::/48 json"),
        &json!({"paths": [{"valid": true, "aspath": {"string": "65001"}}]}),
    )
    .unwrap();

    // FRR → evpnd: unicast from `network`, RT-2/RT-3 from the local VNI.
    poll_json(
        "evpnd has FRR's IPv4 prefix",
        CONVERGE,
        POLL,
        || evpnd_routes(&e, "ipv4"),
        &json!({"routes": [{"prefix": "192.0.2.0/24", "peer": fr.v4, "best": true, "next_hop": fr.v4, "as_path": "65002"}]}),
    )
    .unwrap();
    poll_json(
        "evpnd has FRR's IPv6 prefix",
        CONVERGE,
        POLL,
        || evpnd_routes(&e, "ipv6"),
        &json!({"routes": [{"prefix": "2001:db8:2::/48", "peer": fr.v4, "best": true}]}),
    )
    .unwrap();
    poll_json(
        "evpnd has FRR's RT-2 and RT-3 for VNI 200",
        CONVERGE,
        POLL,
        || evpnd_routes(&e, "evpn"),
        &json!({"routes": [
            {"route_type": 2, "mac": "00:00:00:bb:00:01", "labels": [200], "next_hop": fr.v4,
             "route_targets": ["65002:200"], "peer": fr.v4},
            {"route_type": 3, "ip": fr.v4, "peer": fr.v4},
        ]}),
    )
    .unwrap();

    // Withdrawals both ways.
    e.ctl(&[
        "route",
        "del",
        "evpn",
        "mac-ip",
        "--rd",
        &format!("{}:100", ev.v4),
        "--mac",
        "00:00:00:aa:00:01",
        "--ip",
        "10.1.0.11",
        "--vni",
        "100",
    ])
    .unwrap();
    e.ctl(&["route", "del", "ipv4", "--prefix", "198.51.100.0/24"])
        .unwrap();
    poll_json(
        "FRR lost evpnd's RT-2",
        CONVERGE,
        POLL,
        || frr.vtysh_json("show bgp l2vpn evpn json"),
        &json!({ format!("{}:100", ev.v4): {"[2]:[0]:[48]:[00:00:00:aa:00:01]:[32]:[10.1.0.11]": null} }),
    )
    .unwrap();
    poll_json(
        "FRR lost evpnd's IPv4 prefix",
        CONVERGE,
        POLL,
        || frr.vtysh_json("show bgp ipv4 unicast json"),
        &json!({"routes": {"198.51.100.0/24": null}}),
    )
    .unwrap();
    frr.configure(&[
        "router bgp 65002",
        "address-family ipv4 unicast",
        "no network 192.0.2.0/24",
    ])
    .unwrap();
    poll_until("evpnd lost FRR's IPv4 prefix", CONVERGE, POLL, || {
        let r = evpnd_routes(&e, "ipv4")?;
        let gone = !r["routes"]
            .as_array()
            .is_some_and(|rs| rs.iter().any(|x| x["prefix"] == "192.0.2.0/24"));
        Ok(gone.then_some(()))
    })
    .unwrap();
}

#[test]
fn ibgp_over_ipv6_transport_routes_pass_both_ways() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let p = Pair::new("frr-ibgp6").unwrap();
    let (ev, fr) = (&p.a_addr, &p.b_addr);
    let mut conf = frr_config(
        65000,
        &fr.v4,
        &[(&ev.v6, 65000)],
        &["ipv4", "ipv6", "evpn"],
        " no bgp network import-check",
    );
    conf.push_str(&frr_unicast_config("", ""));
    let frr = Frr::start(&p.b, &p.dir, &conf).unwrap();
    let e = Evpnd::start(
        &p.a,
        &p.dir,
        "evpnd",
        &evpnd_config(
            &ev.v4,
            65000,
            "",
            &evpnd_neighbor(&fr.v6, 65000, &["evpn", "ipv4", "ipv6"], ""),
        ),
    )
    .unwrap();
    evpnd_established(&e, &fr.v6).unwrap();
    frr_established(&frr, &ev.v6).unwrap();
    originate_from_evpnd(&e, &ev.v4).unwrap();
    frr_has_evpnd_evpn(&frr, &ev.v4).unwrap();
    poll_json(
        "FRR has evpnd's IPv6 prefix with local-pref (iBGP)",
        CONVERGE,
        POLL,
        || frr.vtysh_json("show bgp ipv6 unicast 2001:db8:100::/48 json"),
        &json!({"paths": [{"valid": true, "locPrf": 100}]}),
    )
    .unwrap();
    poll_json(
        "evpnd has FRR's IPv4 and IPv6 prefixes over IPv6 transport",
        CONVERGE,
        POLL,
        || {
            let v4 = evpnd_routes(&e, "ipv4")?;
            let v6 = evpnd_routes(&e, "ipv6")?;
            Ok(json!({"v4": v4, "v6": v6}))
        },
        &json!({
            "v4": {"routes": [{"prefix": "192.0.2.0/24", "peer": fr.v6, "local_pref": 100}]},
            "v6": {"routes": [{"prefix": "2001:db8:2::/48", "peer": fr.v6, "local_pref": 100}]},
        }),
    )
    .unwrap();
}

/// evpnd in the middle reflects between two FRR clients (RFC 4456):
/// c1 ── evpnd (RR) ── c2, all AS 65000.
#[test]
fn evpnd_reflects_routes_between_two_frr_clients() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let dir = TestDir::new("frr-rr-clients").unwrap();
    let (rr, c1, c2) = (
        Netns::new().unwrap(),
        Netns::new().unwrap(),
        Netns::new().unwrap(),
    );
    let (rr1, c1a) = link(1, &rr, "eth1", &c1, "eth0").unwrap();
    let (rr2, c2a) = link(2, &rr, "eth2", &c2, "eth0").unwrap();
    // Reflected next hops (the other client) are reachable through the RR.
    rr.enable_forwarding().unwrap();
    c1.route("10.0.2.0/24", &rr1.v4).unwrap();
    c2.route("10.0.1.0/24", &rr2.v4).unwrap();
    let mk = |c: &Side, rr: &Side, net: &str| {
        let mut conf = frr_config(
            65000,
            &c.v4,
            &[(&rr.v4, 65000)],
            &["ipv4", "evpn"],
            " no bgp network import-check",
        );
        conf.push_str(&format!(
            " address-family ipv4 unicast\n  network {net}\n exit-address-family\n"
        ));
        conf
    };
    let f1 = Frr::start(&c1, &dir, &mk(&c1a, &rr1, "192.0.2.0/24")).unwrap();
    let f2 = Frr::start(&c2, &dir, &mk(&c2a, &rr2, "198.51.100.0/24")).unwrap();
    let client = "route_reflector_client = true";
    let body = format!(
        "{}{}",
        evpnd_neighbor(&c1a.v4, 65000, &["evpn", "ipv4"], client),
        evpnd_neighbor(&c2a.v4, 65000, &["evpn", "ipv4"], client)
    );
    let e = Evpnd::start(&rr, &dir, "rr", &evpnd_config(&rr1.v4, 65000, "", &body)).unwrap();
    evpnd_established(&e, &c1a.v4).unwrap();
    evpnd_established(&e, &c2a.v4).unwrap();
    // c2 gets c1's prefix with ORIGINATOR_ID = c1 and CLUSTER_LIST = [rr].
    poll_json(
        "c2 has c1's prefix, reflected",
        CONVERGE,
        POLL,
        || f2.vtysh_json("show bgp ipv4 unicast 192.0.2.0/24 json"),
        &json!({"paths": [{"valid": true, "originatorId": c1a.v4, "clusterList": {"list": [rr1.v4]},
                            "nexthops": [{"ip": c1a.v4}]}]}),
    )
    .unwrap();
    poll_json(
        "c1 has c2's prefix, reflected",
        CONVERGE,
        POLL,
        || f1.vtysh_json("show bgp ipv4 unicast 198.51.100.0/24 json"),
        &json!({"paths": [{"valid": true, "originatorId": c2a.v4}]}),
    )
    .unwrap();
}

/// FRR in the middle reflects between two evpnd clients: an RT-2 originated
/// on one evpnd arrives on the other with its attributes.
#[test]
fn frr_reflects_evpn_routes_between_two_evpnd_clients() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let dir = TestDir::new("frr-rr").unwrap();
    let (rr, l1, l2) = (
        Netns::new().unwrap(),
        Netns::new().unwrap(),
        Netns::new().unwrap(),
    );
    let (rr1, l1a) = link(1, &rr, "eth1", &l1, "eth0").unwrap();
    let (rr2, l2a) = link(2, &rr, "eth2", &l2, "eth0").unwrap();
    // Each leaf reaches the other's VTEP through the RR namespace.
    rr.enable_forwarding().unwrap();
    l1.route("10.0.2.0/24", &rr1.v4).unwrap();
    l2.route("10.0.1.0/24", &rr2.v4).unwrap();
    let mut conf = frr_config(
        65000,
        &rr1.v4,
        &[(&l1a.v4, 65000), (&l2a.v4, 65000)],
        &["evpn"],
        "",
    );
    conf.push_str(&format!(
        " address-family l2vpn evpn\n  neighbor {} route-reflector-client\n  neighbor {} route-reflector-client\n exit-address-family\n",
        l1a.v4, l2a.v4
    ));
    let _frr = Frr::start(&rr, &dir, &conf).unwrap();
    let e1 = Evpnd::start(
        &l1,
        &dir,
        "leaf1",
        &evpnd_config(
            &l1a.v4,
            65000,
            "",
            &evpnd_neighbor(&rr1.v4, 65000, &["evpn"], ""),
        ),
    )
    .unwrap();
    let e2 = Evpnd::start(
        &l2,
        &dir,
        "leaf2",
        &evpnd_config(
            &l2a.v4,
            65000,
            "",
            &evpnd_neighbor(&rr2.v4, 65000, &["evpn"], ""),
        ),
    )
    .unwrap();
    evpnd_established(&e1, &rr1.v4).unwrap();
    evpnd_established(&e2, &rr2.v4).unwrap();
    e1.ctl(&[
        "route",
        "add",
        "evpn",
        "mac-ip",
        "--rd",
        &format!("{}:100", l1a.v4),
        "--mac",
        "00:00:00:11:00:01",
        "--ip",
        "10.1.0.21",
        "--vni",
        "100",
        "--rt",
        "65000:100",
        "--seq",
        "2",
    ])
    .unwrap();
    poll_json(
        "leaf2 has leaf1's RT-2 via the FRR RR",
        CONVERGE,
        POLL,
        || evpnd_routes(&e2, "evpn"),
        &json!({"routes": [{
            "route_type": 2, "mac": "00:00:00:11:00:01", "ip": "10.1.0.21", "labels": [100],
            "rd": format!("{}:100", l1a.v4), "next_hop": l1a.v4, "route_targets": ["65000:100"],
            "mac_mobility_seq": 2, "originator_id": l1a.v4, "cluster_list": [rr1.v4], "peer": rr2.v4,
        }]}),
    )
    .unwrap();
}

/// The neighbor counters evpnd keeps for route refresh: (in, out).
fn evpnd_refresh_counts(e: &Evpnd, peer: &str) -> anyhow::Result<(u64, u64)> {
    let n = e.ctl(&["show", "bgp", "neighbors", peer])?;
    let d = &n["neighbors"][0];
    Ok((
        d["route_refresh_in"].as_u64().unwrap_or(0),
        d["route_refresh_out"].as_u64().unwrap_or(0),
    ))
}

/// Enhanced route refresh (RFC 7313) with FRR, both directions: FRR's
/// `clear bgp X soft in` is answered BoRR, routes, EoRR (FRR keeps evpnd's
/// route, fresh); evpnd's `clear bgp --soft in` after FRR's outbound policy
/// dropped a prefix gets FRR's BoRR, routes, EoRR, after which the dropped
/// prefix is gone from evpnd and the other one is fresh; evpnd's
/// `--soft out` re-sends framed by BoRR/EoRR, which FRR logs.
#[test]
fn enhanced_route_refresh_with_frr_both_directions() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let p = Pair::new("frr-err").unwrap();
    let (ev, fr) = (&p.a_addr.v4, &p.b_addr.v4);
    let mut conf = String::from("debug bgp neighbor-events\n");
    conf.push_str(&frr_config(
        65002,
        fr,
        &[(ev, 65001)],
        &["ipv4"],
        &format!(" no bgp network import-check\n neighbor {ev} timers connect 1"),
    ));
    conf.push_str(&format!(
        " address-family ipv4 unicast\n  network 192.0.2.0/26\n  network 192.0.2.64/26\n\
         \x20 neighbor {ev} route-map OUT out\n exit-address-family\n\
         route-map OUT permit 10\n"
    ));
    let frr = Frr::start(&p.b, &p.dir, &conf).unwrap();
    let e = Evpnd::start(
        &p.a,
        &p.dir,
        "evpnd",
        &evpnd_config(ev, 65001, "", &evpnd_neighbor(fr, 65002, &["ipv4"], "")),
    )
    .unwrap();
    evpnd_established(&e, fr).unwrap();
    e.ctl(&["route", "add", "ipv4", "--prefix", "198.51.100.0/24"])
        .unwrap();
    poll_json(
        "enhanced route refresh negotiated (FRR)",
        CONVERGE,
        POLL,
        || frr.vtysh_json(&format!("show bgp neighbors {ev} json")),
        &json!({ev: {"neighborCapabilities": {"enhancedRouteRefresh": "advertisedAndReceived"}}}),
    )
    .unwrap();
    poll_json(
        "enhanced route refresh negotiated (evpnd), FRR's prefixes in",
        CONVERGE,
        POLL,
        || e.ctl(&["show", "bgp", "neighbors", fr]),
        &json!({"neighbors": [{"negotiated": {"enhanced_route_refresh": true},
            "families": [{"family": "ipv4", "received": 2}]}]}),
    )
    .unwrap();
    poll_json(
        "FRR has evpnd's prefix",
        CONVERGE,
        POLL,
        || frr.vtysh_json("show bgp ipv4 unicast 198.51.100.0/24 json"),
        &json!({"paths": [{"valid": true, "stale": null}]}),
    )
    .unwrap();
    assert_eq!(evpnd_refresh_counts(&e, fr).unwrap(), (0, 0));

    // FRR asks: one request in, BoRR + EoRR out.
    frr.vtysh(&format!("clear bgp ipv4 unicast {ev} soft in"))
        .unwrap();
    poll_until("evpnd answered FRR's request", CONVERGE, POLL, || {
        Ok((evpnd_refresh_counts(&e, fr)? == (1, 2)).then_some(()))
    })
    .unwrap();
    poll_until("FRR got BoRR and EoRR", CONVERGE, POLL, || {
        let log = frr.bgpd_log();
        Ok(
            (log.contains("rcvd route-refresh (BoRR)")
                && log.contains("rcvd route-refresh (EoRR)"))
            .then_some(()),
        )
    })
    .unwrap();
    poll_json(
        "FRR keeps evpnd's prefix, not stale",
        CONVERGE,
        POLL,
        || frr.vtysh_json("show bgp ipv4 unicast 198.51.100.0/24 json"),
        &json!({"paths": [{"valid": true, "stale": null}]}),
    )
    .unwrap();

    // FRR's outbound policy drops 192.0.2.64/26; evpnd asks for a refresh.
    frr.configure(&[
        "ip prefix-list KEEP seq 5 permit 192.0.2.0/26",
        "route-map OUT permit 10",
        "match ip address prefix-list KEEP",
    ])
    .unwrap();
    e.ctl(&["clear", "bgp", fr, "--soft", "in"]).unwrap();
    poll_until("FRR answered BoRR, routes, EoRR", CONVERGE, POLL, || {
        Ok((evpnd_refresh_counts(&e, fr)? == (3, 3)).then_some(()))
    })
    .unwrap();
    poll_json(
        "only the prefix FRR still sends is left, fresh",
        CONVERGE,
        POLL,
        || evpnd_routes(&e, "ipv4"),
        &json!({"routes": [{"prefix": "192.0.2.0/26", "stale": false}, {"prefix": "198.51.100.0/24"}]}),
    )
    .unwrap();
    let r = evpnd_routes(&e, "ipv4").unwrap();
    assert_eq!(r["routes"].as_array().map(Vec::len), Some(2), "{r}");
    assert!(e.log().contains("EoRR received"), "{}", e.log());

    // evpnd re-sends on its own: FRR sees BoRR/EoRR a second time.
    e.ctl(&["clear", "bgp", fr, "--soft", "out"]).unwrap();
    poll_until("evpnd sent BoRR and EoRR again", CONVERGE, POLL, || {
        Ok((evpnd_refresh_counts(&e, fr)? == (3, 5)).then_some(()))
    })
    .unwrap();
    poll_until("FRR logged the second EoRR", CONVERGE, POLL, || {
        Ok((frr.bgpd_log().matches("rcvd route-refresh (EoRR)").count() == 2).then_some(()))
    })
    .unwrap();
    poll_json(
        "FRR keeps evpnd's prefix, not stale",
        CONVERGE,
        POLL,
        || frr.vtysh_json("show bgp ipv4 unicast 198.51.100.0/24 json"),
        &json!({"paths": [{"valid": true, "stale": null}]}),
    )
    .unwrap();
}
