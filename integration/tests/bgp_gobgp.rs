//! evpnd ↔ GoBGP: eBGP over IPv4 and iBGP over IPv6 transport; every EVPN
//! route type GoBGP's CLI can originate (RT-2, RT-3 with PMSI, RT-5 with
//! router MAC) and IPv4/IPv6 unicast pass both ways with attributes intact,
//! and withdrawals.

use integration::topo::*;
use integration::*;
use serde_json::{json, Value};

const API_PORT: u16 = 50051;

fn inject_from_gobgp(g: &Gobgp, vtep: &str) -> anyhow::Result<()> {
    let rd100 = format!("{vtep}:100");
    let rd5k = format!("{vtep}:5000");
    for args in [
        vec![
            "global",
            "rib",
            "-a",
            "evpn",
            "add",
            "macadv",
            "00:00:00:cc:00:01",
            "10.1.0.31",
            "etag",
            "0",
            "label",
            "100",
            "rd",
            &rd100,
            "rt",
            "65002:100",
            "encap",
            "vxlan",
            "nexthop",
            vtep,
        ],
        vec![
            "global",
            "rib",
            "-a",
            "evpn",
            "add",
            "multicast",
            vtep,
            "etag",
            "0",
            "rd",
            &rd100,
            "rt",
            "65002:100",
            "encap",
            "vxlan",
            "pmsi",
            "ingress-repl",
            "100",
            vtep,
            "nexthop",
            vtep,
        ],
        vec![
            "global",
            "rib",
            "-a",
            "evpn",
            "add",
            "prefix",
            "10.60.0.0/24",
            "0.0.0.0",
            "etag",
            "0",
            "rd",
            &rd5k,
            "rt",
            "65002:5000",
            "label",
            "5000",
            "router-mac",
            "02:00:00:00:60:01",
            "encap",
            "vxlan",
            "nexthop",
            vtep,
        ],
        vec![
            "global",
            "rib",
            "-a",
            "ipv4",
            "add",
            "203.0.113.0/24",
            "nexthop",
            vtep,
        ],
        vec!["global", "rib", "-a", "ipv6", "add", "2001:db8:3::/48"],
    ] {
        g.cli(&args)?;
    }
    Ok(())
}

fn evpnd_has_gobgp_routes(e: &Evpnd, vtep: &str, peer: &str) -> anyhow::Result<()> {
    poll_json(
        "evpnd has GoBGP's RT-2/3/5 with attributes",
        CONVERGE,
        POLL,
        || evpnd_routes(e, "evpn"),
        &json!({"routes": [
            {"route_type": 2, "rd": format!("{vtep}:100"), "mac": "00:00:00:cc:00:01", "ip": "10.1.0.31",
             "labels": [100], "next_hop": vtep, "route_targets": ["65002:100"], "peer": peer, "best": true},
            {"route_type": 3, "rd": format!("{vtep}:100"), "ip": vtep, "peer": peer},
            {"route_type": 5, "rd": format!("{vtep}:5000"), "prefix": "10.60.0.0/24", "labels": [5000],
             "router_mac": "02:00:00:00:60:01", "route_targets": ["65002:5000"], "peer": peer},
        ]}),
    )?;
    poll_json(
        "evpnd has GoBGP's unicast prefixes",
        CONVERGE,
        POLL,
        || Ok(json!({"v4": evpnd_routes(e, "ipv4")?, "v6": evpnd_routes(e, "ipv6")?})),
        &json!({"v4": {"routes": [{"prefix": "203.0.113.0/24", "peer": peer}]},
                "v6": {"routes": [{"prefix": "2001:db8:3::/48", "peer": peer}]}}),
    )?;
    Ok(())
}

fn originate_from_evpnd(e: &Evpnd, vtep: &str) -> anyhow::Result<()> {
    e.ctl(&[
        "route",
        "add",
        "evpn",
        "mac-ip",
        "--rd",
        &format!("{vtep}:100"),
        "--mac",
        "00:00:00:aa:00:02",
        "--ip",
        "10.1.0.12",
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
        "10.51.0.0/24",
        "--vni",
        "5000",
        "--router-mac",
        "02:00:00:00:51:01",
        "--rt",
        "65001:5000",
    ])?;
    e.ctl(&["route", "add", "ipv4", "--prefix", "198.51.100.0/24"])?;
    e.ctl(&["route", "add", "ipv6", "--prefix", "2001:db8:100::/48"])?;
    Ok(())
}

/// GoBGP's Adj-RIB-In from `peer` of `family`, as one flat list of paths.
fn gobgp_adj_in(g: &Gobgp, peer: &str, family: &str) -> anyhow::Result<Value> {
    let v = g.cli_json(&["neighbor", peer, "adj-in", "-a", family])?;
    let mut paths = Vec::new();
    if let Some(m) = v.as_object() {
        for (_, ps) in m {
            if let Some(a) = ps.as_array() {
                paths.extend(a.iter().cloned());
            }
        }
    }
    Ok(json!({ "paths": paths }))
}

fn gobgp_has_evpnd_routes(g: &Gobgp, peer: &str, vtep: &str) -> anyhow::Result<()> {
    poll_json(
        "GoBGP has evpnd's RT-2/3/5 with attributes",
        CONVERGE,
        POLL,
        || gobgp_adj_in(g, peer, "evpn"),
        &json!({"paths": [
            {"nlri": {"type": 2, "value": {"mac": "00:00:00:aa:00:02", "ip": "10.1.0.12", "labels": [100]}},
             "attrs": [{"type": 16, "value": [{"type": 0, "subtype": 2, "value": "65001:100"},
                                              {"type": 3, "subtype": 12, "tunnel_type": 8}]},
                       {"type": 14, "nexthop": vtep}]},
            {"nlri": {"type": 3, "value": {"ip": vtep}},
             "attrs": [{"type": 22, "tunnel-type": 6, "label": 100, "tunnel-id": vtep}]},
            {"nlri": {"type": 5, "value": {"prefix": "10.51.0.0/24", "label": 5000}},
             "attrs": [{"type": 16, "value": [{"type": 6, "subtype": 3, "mac": "02:00:00:00:51:01"}]}]},
        ]}),
    )?;
    poll_json(
        "GoBGP has evpnd's unicast prefixes",
        CONVERGE,
        POLL,
        || Ok(json!({"v4": gobgp_adj_in(g, peer, "ipv4")?, "v6": gobgp_adj_in(g, peer, "ipv6")?})),
        &json!({"v4": {"paths": [{"nlri": {"prefix": "198.51.100.0/24"}}]},
                "v6": {"paths": [{"nlri": {"prefix": "2001:db8:100::/48"}}]}}),
    )?;
    Ok(())
}

fn run(label: &str, ibgp: bool, v6_transport: bool) -> anyhow::Result<()> {
    if skip_unless(true, &["gobgpd", "gobgp"]) {
        return Ok(());
    }
    let p = Pair::new(label)?;
    let (ev, gb) = (&p.a_addr, &p.b_addr);
    let (e_asn, g_asn) = if ibgp { (65000, 65000) } else { (65001, 65002) };
    let (ev_peer, gb_peer) = if v6_transport {
        (&ev.v6, &gb.v6)
    } else {
        (&ev.v4, &gb.v4)
    };
    let g = Gobgp::start(
        &p.b,
        &p.dir,
        &gobgp_config(
            g_asn,
            &gb.v4,
            &[(ev_peer, e_asn)],
            &["l2vpn-evpn", "ipv4-unicast", "ipv6-unicast"],
            "",
        ),
        API_PORT,
    )?;
    let e = Evpnd::start(
        &p.a,
        &p.dir,
        "evpnd",
        &evpnd_config(
            &ev.v4,
            e_asn,
            "",
            &evpnd_neighbor(gb_peer, g_asn, &["evpn", "ipv4", "ipv6"], ""),
        ),
    )?;
    evpnd_established(&e, gb_peer)?;
    gobgp_established(&g, ev_peer)?;

    inject_from_gobgp(&g, &gb.v4)?;
    evpnd_has_gobgp_routes(&e, &gb.v4, gb_peer)?;
    originate_from_evpnd(&e, &ev.v4)?;
    gobgp_has_evpnd_routes(&g, ev_peer, &ev.v4)?;

    // Withdrawals both ways.
    g.cli(&[
        "global",
        "rib",
        "-a",
        "evpn",
        "del",
        "macadv",
        "00:00:00:cc:00:01",
        "10.1.0.31",
        "etag",
        "0",
        "label",
        "100",
        "rd",
        &format!("{}:100", gb.v4),
    ])?;
    poll_until("evpnd lost GoBGP's RT-2", CONVERGE, POLL, || {
        let r = evpnd_routes(&e, "evpn")?;
        let present = r["routes"]
            .as_array()
            .is_some_and(|rs| rs.iter().any(|x| x["mac"] == "00:00:00:cc:00:01"));
        Ok((!present).then_some(()))
    })?;
    e.ctl(&[
        "route",
        "del",
        "evpn",
        "prefix",
        "--rd",
        &format!("{}:5000", ev.v4),
        "--prefix",
        "10.51.0.0/24",
        "--vni",
        "5000",
    ])?;
    poll_until("GoBGP lost evpnd's RT-5", CONVERGE, POLL, || {
        let a = gobgp_adj_in(&g, ev_peer, "evpn")?;
        let present = a["paths"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|x| x["nlri"]["type"] == 5));
        Ok((!present).then_some(()))
    })?;
    Ok(())
}

#[test]
fn ebgp_over_ipv4_all_route_types_pass_both_ways_and_withdraw() {
    run("gobgp-ebgp4", false, false).unwrap();
}

#[test]
fn ibgp_over_ipv6_transport_all_route_types_pass_both_ways_and_withdraw() {
    run("gobgp-ibgp6", true, true).unwrap();
}
