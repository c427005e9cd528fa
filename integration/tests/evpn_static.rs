//! Static VXLAN mode: two evpnd leaves without any BGP session carry a VNI
//! (a site-to-site link). Each leaf's flood list is its configured
//! `static_vteps`; remote MACs are learned in the data plane (the VXLAN
//! device learns MAC → VTEP, the bridge learns MACs behind the VXLAN port);
//! evpnd must not mistake those for local hosts; the anycast gateway still
//! answers on both sides.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration test: a failed setup step is a test failure"
)]

use std::time::Duration;

use integration::fabric::{attach_host, fdb_of, sh, GATEWAY_MAC};
use integration::{poll_until, skip_unless, veth, Evpnd, Netns, TestDir};

const VNI: u32 = 300;

fn leaf_config(me: &str, other: &str) -> String {
    format!(
        r#"router_id = "{me}"
asn = 65000
vtep_address = "{me}"

[[vni]]
vni = {VNI}
bridge = "br{VNI}"
flooding = "static"
static_vteps = ["{other}"]
arp_suppress = false
anycast_gateway = {{ ipv4 = "10.3.0.1/24", mac = "{GATEWAY_MAC}" }}
"#
    )
}

#[test]
fn two_leaves_without_bgp_carry_a_vni_over_static_flood_lists() {
    if skip_unless(true, &["ping", "bridge"]) {
        return;
    }
    let dir = TestDir::new("static").unwrap();
    let (n1, n2) = (Netns::new().unwrap(), Netns::new().unwrap());
    veth(
        &n1,
        "eth0",
        &["10.0.0.1/24"],
        &n2,
        "eth0",
        &["10.0.0.2/24"],
        9000,
    )
    .unwrap();
    let e1 = Evpnd::start(&n1, &dir, "leaf1", &leaf_config("10.0.0.1", "10.0.0.2")).unwrap();
    let e2 = Evpnd::start(&n2, &dir, "leaf2", &leaf_config("10.0.0.2", "10.0.0.1")).unwrap();
    // The flood list is exactly the configured remote VTEP, and the VXLAN
    // device does data-plane learning.
    for (ns, e, other) in [(&n1, &e1, "10.0.0.2"), (&n2, &e2, "10.0.0.1")] {
        let flood = poll_until(
            "the static flood entry",
            Duration::from_secs(10),
            Duration::from_millis(20),
            || {
                let fdb = sh(ns, &format!("bridge fdb show dev vxlan{VNI}"));
                let flood: Vec<String> = fdb
                    .lines()
                    .filter(|l| l.starts_with("00:00:00:00:00:00"))
                    .map(str::to_string)
                    .collect();
                Ok((!flood.is_empty()).then_some(flood))
            },
        )
        .unwrap_or_else(|err| panic!("{err:#}\n--- {} log ---\n{}", e.name, e.log()));
        assert_eq!(flood.len(), 1, "flood entries: {flood:?}");
        assert!(flood[0].contains(&format!("dst {other}")), "{flood:?}");
        let link = sh(ns, &format!("ip -d link show vxlan{VNI}"));
        assert!(
            link.contains(&format!("vxlan id {VNI}")) && !link.contains("nolearning"),
            "{link}"
        );
    }

    let a = attach_host(
        &n1,
        VNI,
        "ha",
        "02:00:00:00:0a:0a",
        "10.3.0.10/24",
        Some("10.3.0.1"),
    )
    .unwrap();
    let b = attach_host(
        &n2,
        VNI,
        "hb",
        "02:00:00:00:0b:0b",
        "10.3.0.11/24",
        Some("10.3.0.1"),
    )
    .unwrap();

    // Host to host across the tunnel.
    let out = sh(&a.ns, "ping -c 3 -i 0.2 -W 1 10.3.0.11");
    assert!(out.contains(" 0% packet loss"), "{out}");
    // Each side's gateway answers with the shared MAC.
    for h in [&a, &b] {
        let out = sh(
            &h.ns,
            "ping -c 2 -i 0.2 -W 1 10.3.0.1 >/dev/null; ip neigh show 10.3.0.1",
        );
        assert!(out.contains(GATEWAY_MAC), "{}: {out}", h.ip());
    }
    // Data-plane learning: leaf1 sends b's MAC into the tunnel to leaf2.
    let fdb = sh(&n1, &format!("bridge fdb show dev vxlan{VNI}"));
    assert!(
        fdb.lines()
            .any(|l| l.starts_with(&b.mac) && l.contains("dst 10.0.0.2")),
        "leaf1 did not learn {} behind 10.0.0.2:\n{fdb}",
        b.mac
    );
    assert_eq!(fdb_of(&n1, VNI, &a.mac), Some("local:ha".into()));
    // evpnd keeps MACs learned on the tunnel out of its local table (it may
    // track b's MAC without a location: leaf1's SVI saw b's ARP for the
    // shared gateway address, flooded over the tunnel).
    let macs = e1.ctl(&["show", "evpn", "mac"]).unwrap();
    let rows = macs["macs"].as_array().cloned().unwrap_or_default();
    let location = |mac: &str| {
        rows.iter()
            .find(|r| r["mac"] == mac)
            .map(|r| r["location"].as_str().unwrap_or("?").to_string())
    };
    assert_eq!(location(&a.mac).as_deref(), Some("local"), "{macs}");
    assert!(
        location(&b.mac).is_none_or(|l| l != "local"),
        "leaf1 takes the remote host for its own: {macs}"
    );
    println!(
        "static VXLAN: ping across, gateway on both sides, learned {} behind 10.0.0.2",
        b.mac
    );
}
