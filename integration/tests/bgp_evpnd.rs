//! evpnd ↔ evpnd: two daemons peer over IPv6 transport with TCP-MD5 and
//! exchange an RT-2 with its MAC mobility sequence and an IPv4 prefix.

use integration::topo::*;
use integration::*;
use serde_json::json;

#[test]
fn two_evpnds_peer_over_ipv6_with_md5_and_exchange_routes() {
    if skip_unless(true, &[]) {
        return;
    }
    let p = Pair::new("evpnd-pair").unwrap();
    let (a, b) = (&p.a_addr, &p.b_addr);
    let md5 = "password = \"pair-key\"";
    let ea = Evpnd::start(
        &p.a,
        &p.dir,
        "leaf-a",
        &evpnd_config(
            &a.v4,
            65001,
            "",
            &evpnd_neighbor(&b.v6, 65002, &["evpn", "ipv4"], md5),
        ),
    )
    .unwrap();
    let eb = Evpnd::start(
        &p.b,
        &p.dir,
        "leaf-b",
        &evpnd_config(
            &b.v4,
            65002,
            "",
            &evpnd_neighbor(&a.v6, 65001, &["evpn", "ipv4"], md5),
        ),
    )
    .unwrap();
    evpnd_established(&ea, &b.v6).unwrap();
    evpnd_established(&eb, &a.v6).unwrap();
    ea.ctl(&[
        "route",
        "add",
        "evpn",
        "mac-ip",
        "--rd",
        &format!("{}:100", a.v4),
        "--mac",
        "00:00:00:dd:00:01",
        "--ip",
        "10.1.0.41",
        "--vni",
        "100",
        "--rt",
        "65001:100",
        "--seq",
        "7",
        "--next-hop",
        &a.v4,
    ])
    .unwrap();
    ea.ctl(&[
        "route",
        "add",
        "ipv4",
        "--prefix",
        "203.0.113.0/24",
        "--next-hop",
        &a.v4,
    ])
    .unwrap();
    poll_json(
        "leaf-b has leaf-a's RT-2 and prefix",
        CONVERGE,
        POLL,
        || Ok(json!({"evpn": evpnd_routes(&eb, "evpn")?, "v4": evpnd_routes(&eb, "ipv4")?})),
        &json!({
            "evpn": {"routes": [{"route_type": 2, "mac": "00:00:00:dd:00:01", "ip": "10.1.0.41",
                                 "labels": [100], "mac_mobility_seq": 7, "next_hop": a.v4,
                                 "route_targets": ["65001:100"], "as_path": "65001", "peer": a.v6}]},
            // eBGP rewrites the unicast next hop to the session address
            // (IPv6 here, RFC 8950); the EVPN next hop (the VTEP) is kept.
            "v4": {"routes": [{"prefix": "203.0.113.0/24", "next_hop": a.v6, "peer": a.v6}]},
        }),
    )
    .unwrap();
}
