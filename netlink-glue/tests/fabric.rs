//! Multi-namespace topologies against the real kernel: the anycast gateway,
//! two leaves whose hosts ping across VXLAN, and an IP-VRF (L3 VNI, backend
//! B: table + ip rule) routing between VNIs on different leaves.
//!
//! ```text
//!   h1 ── leaf1 ══ ul (veth, 10.0.0.1/24 ↔ 10.0.0.2/24) ══ leaf2 ── h2
//! ```

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns panic on setup failure by design"
)]

mod common;

use common::capture::{arp, arp_request, na, neighbour_solicitation, send_from, Arp, Capture, Na};
use common::*;
use evpn_proto::Mac;
use netlink_glue::netns::{self, Netns};
use netlink_glue::{AnycastGateway, Dataplane, Intent, L3Vni, Netlink, Report, SviMode};
use std::net::{IpAddr, Ipv4Addr};

const GW_MAC: &str = "00:00:5e:00:01:01";

fn gateway(addrs: &[&str], svi: SviMode) -> AnycastGateway {
    AnycastGateway {
        mac: mac(GW_MAC),
        addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
        svi,
    }
}

/// Reconciles `intent` in `ns` (twice when `twice`, returning both reports).
fn program(ns: &Netns, intent: Intent, twice: bool) -> (Report, Option<Report>) {
    let cfg = config(ns);
    ns.block_on(move || async move {
        let mut dp = Netlink::new(cfg).unwrap();
        let r1 = dp.reconcile(&intent).await;
        let r2 = if twice {
            Some(dp.reconcile(&intent).await)
        } else {
            None
        };
        (r1, r2)
    })
}

/// Every ARP reply for `gw` that `host` (eth0: `hmac`, `hip`) receives
/// within 700 ms after sending ONE request for it.
fn arp_answers(host: &Netns, hmac: &str, hip: &str, gw: &str) -> Vec<Arp> {
    let (hip, gw) = (hip.parse().unwrap(), gw.parse().unwrap());
    let cap = Capture::open(host, "eth0");
    send_from(host, "eth0", arp_request(mac(hmac), hip, gw));
    cap.frames(700)
        .iter()
        .filter_map(|f| arp(f))
        .filter(|a| a.op == 2 && a.spa == gw)
        .collect()
}

/// Every Neighbour Advertisement for `gw` that `host` receives within
/// 700 ms after sending ONE Neighbour Solicitation for it.
fn nd_answers(host: &Netns, hmac: &str, hip: &str, gw: &str) -> Vec<Na> {
    let (hip, gw) = (hip.parse().unwrap(), gw.parse().unwrap());
    let cap = Capture::open(host, "eth0");
    send_from(host, "eth0", neighbour_solicitation(mac(hmac), hip, gw));
    cap.frames(700)
        .iter()
        .filter_map(|f| na(f))
        .filter(|n| n.target == gw)
        .collect()
}

/// The one ARP reply a host must get for the gateway.
fn gateway_arp_reply(hmac: &str, hip: &str, gw: &str) -> Arp {
    Arp {
        eth_dst: mac(hmac),
        eth_src: mac(GW_MAC),
        op: 2,
        sha: mac(GW_MAC),
        spa: gw.parse().unwrap(),
        tha: mac(hmac),
        tpa: hip.parse().unwrap(),
    }
}

/// Asserts that one NA answers a solicitation for the gateway: solicited,
/// from a router, overriding, with the gateway MAC.
fn assert_one_gateway_na(answers: &[Na], hmac: &str, gw: &str) {
    assert_eq!(answers.len(), 1, "one NA per solicitation: {answers:?}");
    let n = &answers[0];
    assert_eq!(
        (n.eth_src, n.eth_dst, n.tlla, n.target),
        (
            mac(GW_MAC),
            mac(hmac),
            Some(mac(GW_MAC)),
            gw.parse().unwrap()
        ),
        "{n:?}"
    );
    assert!(
        n.solicited && n.router && n.override_ && n.checksum_ok && n.hop_limit == 255,
        "{n:?}"
    );
}

fn anycast_gateway_case(svi: SviMode, tag: &str) {
    let Some(leaf) = ns(tag) else { return };
    let h1 = host(
        &leaf,
        &format!("{tag}h"),
        "h1p",
        "02:00:00:00:00:0a",
        "10.1.0.10/24",
        Some("fd00:1::10/64"),
    );
    let mut i = Intent::default();
    let mut v = l2(100, "10.0.0.1");
    v.bridge_mac = Some(mac("02:00:00:00:01:00"));
    v.gateway = Some(gateway(&["10.1.0.1/24", "fd00:1::1/64"], svi.clone()));
    i.l2vnis.insert(vni(100), v);
    let (r1, r2) = program(&leaf, i, true);
    assert!(r1.ok(), "{r1}");
    let r2 = r2.unwrap();
    assert!(
        r2.ok() && r2.devices.is_empty() && r2.plan.is_empty() && r2.applied == 0,
        "second pass must change nothing: {r2}"
    );
    leaf.sh("ip link set h1p master br100").unwrap();

    let svi_name = match &svi {
        SviMode::Bridge => "br100",
        SviMode::Macvlan { name } => name.as_str(),
    };
    let addrs = leaf.sh(&format!("ip addr show dev {svi_name}")).unwrap();
    assert!(addrs.contains("inet 10.1.0.1/24"), "{addrs}");
    assert!(addrs.contains("inet6 fd00:1::1/64"), "{addrs}");
    assert!(
        !addrs.contains("tentative") && !addrs.contains("dadfailed"),
        "{addrs}"
    );
    assert!(addrs.contains(GW_MAC), "{addrs}");
    assert_eq!(
        netns_sysctl(&leaf, &format!("net.ipv4.conf.{svi_name}.arp_accept")),
        "1"
    );
    assert_eq!(
        netns_sysctl(&leaf, &format!("net.ipv6.conf.{svi_name}.accept_dad")),
        "0"
    );
    assert_eq!(netns_sysctl(&leaf, "net.ipv4.ip_forward"), "1");
    if let SviMode::Macvlan { .. } = svi {
        assert_eq!(netns_sysctl(&leaf, "net.ipv4.conf.br100.arp_ignore"), "1");
        let fdb = leaf.sh("bridge fdb show dev br100").unwrap();
        assert!(
            fdb.contains(&format!("{GW_MAC} dev br100 self permanent"))
                || fdb.contains(&format!("{GW_MAC} self permanent")),
            "{fdb}"
        );
        // The bridge keeps its own MAC.
        assert!(leaf
            .sh("ip link show br100")
            .unwrap()
            .contains("02:00:00:00:01:00"));
    }

    // One ARP request gets exactly one reply, with the gateway MAC (with
    // a macvlan SVI the bridge itself must stay silent); the same for one
    // Neighbour Solicitation.
    let replies = arp_answers(&h1, "02:00:00:00:00:0a", "10.1.0.10", "10.1.0.1");
    assert_eq!(
        replies,
        vec![gateway_arp_reply(
            "02:00:00:00:00:0a",
            "10.1.0.10",
            "10.1.0.1"
        )]
    );
    let nas = nd_answers(&h1, "02:00:00:00:00:0a", "fd00:1::10", "fd00:1::1");
    assert_one_gateway_na(&nas, "02:00:00:00:00:0a", "fd00:1::1");
    h1.sh("ping -c 1 -W 2 10.1.0.1").unwrap();
    h1.sh("ping -6 -c 1 -W 2 fd00:1::1").unwrap();
    let n6 = h1.sh("ip -6 neigh show fd00:1::1").unwrap();
    assert!(n6.contains(GW_MAC), "{n6}");
}

fn netns_sysctl(ns: &Netns, key: &str) -> String {
    ns.sh(&format!("sysctl -n {key}"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn anycast_gateway_on_a_macvlan_answers_arp_once_with_the_gateway_mac() {
    anycast_gateway_case(
        SviMode::Macvlan {
            name: "agw100".into(),
        },
        "agwm",
    );
}

#[test]
fn anycast_gateway_on_the_bridge_answers_arp_once_with_the_gateway_mac() {
    anycast_gateway_case(SviMode::Bridge, "agwb");
}

/// ARP and Neighbour Advertisement frames among `frames`, in order.
fn arp_and_na(frames: &[Vec<u8>]) -> (Vec<Arp>, Vec<Na>) {
    (
        frames.iter().filter_map(|f| arp(f)).collect(),
        frames.iter().filter_map(|f| na(f)).collect(),
    )
}

/// A gateway added to a running VNI is announced once per address: one
/// gratuitous ARP (broadcast request, sender = target = gateway IP, from the
/// gateway MAC) and one unsolicited NA (to all-nodes, Router + Override, not
/// Solicited, hop limit 255, target link-layer option = gateway MAC), on the
/// bridge SVI and on a macvlan SVI alike. A second reconcile announces
/// nothing. Apart from the kernel's NA for a new SVI's link-local address,
/// these are the only ARP/NA frames the hosts see.
#[test]
fn gateway_addresses_are_announced_once_with_garp_and_unsolicited_na() {
    let Some(leaf) = ns("gwann") else { return };
    let h1 = host(
        &leaf,
        "gwannh1",
        "h1p",
        "02:00:00:00:00:0a",
        "10.1.0.10/24",
        Some("fd00:1::10/64"),
    );
    let h2 = host(
        &leaf,
        "gwannh2",
        "h2p",
        "02:00:00:00:00:0c",
        "10.2.0.10/24",
        Some("fd00:2::10/64"),
    );
    let intent = |with_gw: bool| {
        let mut i = Intent::default();
        let mut v100 = l2(100, "10.0.0.1");
        let mut v200 = l2(200, "10.0.0.1");
        v200.bridge_mac = Some(mac("02:00:00:00:02:00"));
        if with_gw {
            v100.gateway = Some(gateway(&["10.1.0.1/24", "fd00:1::1/64"], SviMode::Bridge));
            v200.gateway = Some(gateway(
                &["10.2.0.1/24", "fd00:2::1/64"],
                SviMode::Macvlan {
                    name: "agw200".into(),
                },
            ));
        }
        i.l2vnis.insert(vni(100), v100);
        i.l2vnis.insert(vni(200), v200);
        i
    };
    let (r0, _) = program(&leaf, intent(false), false);
    assert!(r0.ok(), "{r0}");
    leaf.sh("ip link set h1p master br100 && ip link set h2p master br200")
        .unwrap();
    let (c1, c2) = (Capture::open(&h1, "eth0"), Capture::open(&h2, "eth0"));
    let cfg = netlink_glue::Config::new(state_file(&leaf));
    let (r1, r2) = leaf.block_on(move || async move {
        let mut dp = Netlink::new(cfg).unwrap();
        let r1 = dp.reconcile(&intent(true)).await;
        let r2 = dp.reconcile(&intent(true)).await;
        (r1, r2)
    });
    assert!(r1.ok(), "{r1}");
    assert!(r2.ok() && r2.devices.is_empty(), "{r2}");
    let gw = mac(GW_MAC);
    for (cap, v4, v6, svi) in [
        (&c1, "10.1.0.1", "fd00:1::1", "br100"),
        (&c2, "10.2.0.1", "fd00:2::1", "agw200"),
    ] {
        let (arps, nas) = arp_and_na(&cap.frames(1000));
        println!("{svi}: announced {arps:?} {nas:?}");
        let ip4 = v4.parse().unwrap();
        assert_eq!(
            arps,
            vec![Arp {
                eth_dst: Mac([0xff; 6]),
                eth_src: gw,
                op: 1,
                sha: gw,
                spa: ip4,
                tha: Mac([0; 6]),
                tpa: ip4,
            }],
            "exactly one gratuitous ARP from {svi}"
        );
        let ip6: std::net::Ipv6Addr = v6.parse().unwrap();
        // With ndisc_notify the kernel also announces the link-local
        // address of an SVI that came up in this pass (the macvlan); that
        // one is the kernel's, not a gateway address.
        let (nas, kernel_ll): (Vec<Na>, Vec<Na>) = nas.into_iter().partition(|n| n.target == ip6);
        assert!(
            kernel_ll
                .iter()
                .all(|n| n.target.is_unicast_link_local() && n.target == n.ip_src),
            "{kernel_ll:?}"
        );
        assert_eq!(
            nas,
            vec![Na {
                eth_dst: mac("33:33:00:00:00:01"),
                eth_src: gw,
                ip_src: ip6,
                ip_dst: "ff02::1".parse().unwrap(),
                hop_limit: 255,
                router: true,
                solicited: false,
                override_: true,
                target: ip6,
                tlla: Some(gw),
                checksum_ok: true,
            }],
            "exactly one unsolicited NA from {svi}"
        );
    }
}

/// Addresses (`inet`/`inet6` + prefix) of `dev`, global scope only.
fn addrs_of(ns: &Netns, dev: &str) -> Vec<String> {
    let out = ns
        .sh(&format!("ip -o addr show dev {dev} scope global"))
        .unwrap();
    let mut v: Vec<String> = out
        .lines()
        .filter_map(|l| l.split_whitespace().nth(3).map(str::to_string))
        .collect();
    v.sort();
    v
}

/// When the configuration drops a gateway address or a whole macvlan
/// gateway, reconcile (also after a restart: the record is a file) removes
/// exactly what it added: the address, the macvlan and the bridge's
/// `self local` entry for its MAC. The operator's addresses and macvlan on
/// the same devices stay, and so does an address the operator had before
/// the configuration named it.
#[test]
fn reconcile_removes_our_stale_gateway_addresses_and_macvlan_but_not_the_operators() {
    let Some(leaf) = ns("gwrm") else { return };
    let intent = |gw100: &[&str], gw200: bool, with100: bool| {
        let mut i = Intent::default();
        if with100 {
            let mut v = l2(100, "10.0.0.1");
            v.gateway = Some(gateway(gw100, SviMode::Bridge));
            i.l2vnis.insert(vni(100), v);
        }
        let mut v = l2(200, "10.0.0.1");
        v.bridge_mac = Some(mac("02:00:00:00:02:00"));
        if gw200 {
            v.gateway = Some(gateway(
                &["10.2.0.1/24"],
                SviMode::Macvlan {
                    name: "agw200".into(),
                },
            ));
        }
        i.l2vnis.insert(vni(200), v);
        i
    };
    let (ra, _) = program(
        &leaf,
        intent(&["10.1.0.1/24", "fd00:1::1/64"], true, true),
        false,
    );
    assert!(ra.ok(), "{ra}");
    let gw_self = |ns: &Netns| {
        ns.sh("bridge fdb show dev br200")
            .unwrap()
            .lines()
            .any(|l| l.starts_with(GW_MAC) && l.contains("self"))
    };
    assert!(gw_self(&leaf), "the gateway MAC's local entry on br200");
    leaf.sh(
        "ip addr add 10.1.0.250/24 dev br100 && ip addr add 10.1.0.3/24 dev br100 && \
         ip link add opmv link br200 type macvlan mode private && \
         ip addr add 10.2.0.250/24 dev br200",
    )
    .unwrap();

    // Each step is a restart: a new instance reading the same record.
    let step = |i: Intent| {
        let cfg = netlink_glue::Config::new(state_file(&leaf));
        leaf.block_on(move || async move { Netlink::new(cfg).unwrap().reconcile(&i).await })
    };
    // A graceful restart (`keep_stale`) removes nothing yet.
    let mut gr = intent(&["10.1.0.1/24"], false, true);
    gr.keep_stale = true;
    let r = step(gr);
    assert!(r.ok(), "{r}");
    assert!(leaf.sh("ip link show agw200").is_ok(), "removed during GR");
    assert!(addrs_of(&leaf, "br100").contains(&"fd00:1::1/64".to_string()));
    // fd00:1::1 and the whole VNI 200 gateway are gone; the operator's
    // 10.1.0.3 is now configured.
    let rb = step(intent(&["10.1.0.1/24", "10.1.0.3/24"], false, true));
    assert!(rb.ok(), "{rb}");
    let removed: Vec<&str> = rb
        .devices
        .iter()
        .map(|d| d.what.as_str())
        .filter(|w| w.starts_with("delete") || w.starts_with("fdb del"))
        .collect();
    assert_eq!(
        removed,
        vec![
            "delete macvlan agw200",
            "fdb del 00:00:5e:00:01:01 dev br200 self",
            "delete address fd00:1::1/64 on br100",
        ],
        "{rb}"
    );
    assert!(
        leaf.sh("ip link show agw200").is_err(),
        "agw200 still exists"
    );
    assert!(!gw_self(&leaf), "the gateway MAC's local entry stayed");
    assert!(
        leaf.sh("ip link show opmv").is_ok(),
        "operator macvlan removed"
    );
    assert_eq!(addrs_of(&leaf, "br200"), vec!["10.2.0.250/24"]);
    assert_eq!(
        addrs_of(&leaf, "br100"),
        vec!["10.1.0.1/24", "10.1.0.250/24", "10.1.0.3/24"]
    );
    let rec = std::fs::read_to_string(state_file(&leaf)).unwrap();
    assert!(rec.contains("gwaddr br100 10.1.0.1/24"), "{rec}");
    assert!(
        !rec.contains("10.1.0.3") && !rec.contains("fd00:1::1") && !rec.contains("agw200"),
        "{rec}"
    );

    // 10.1.0.3 leaves the configuration: it was the operator's, it stays.
    let rc = step(intent(&["10.1.0.1/24"], false, true));
    assert!(rc.ok() && rc.devices.is_empty(), "{rc}");
    assert_eq!(
        addrs_of(&leaf, "br100"),
        vec!["10.1.0.1/24", "10.1.0.250/24", "10.1.0.3/24"]
    );
    // VNI 100 leaves the configuration: its bridge stays (devices are not
    // deleted), our gateway address on it goes, and the operator's
    // addresses in the same subnet (secondaries of ours) are kept.
    let rd = step(intent(&[], false, false));
    assert!(rd.ok(), "{rd}");
    assert_eq!(
        addrs_of(&leaf, "br100"),
        vec!["10.1.0.250/24", "10.1.0.3/24"]
    );
}

/// Two leaves with an underlay veth and one host each.
struct Fabric {
    leaf1: Netns,
    leaf2: Netns,
    h1: Netns,
    h2: Netns,
}

fn fabric(tag: &str, h1_v4: &str, h2_v4: &str) -> Option<Fabric> {
    let leaf1 = ns(&format!("{tag}l1"))?;
    let leaf2 = Netns::new(&format!("{tag}l2")).unwrap();
    netns::veth(&leaf1, "ul", &leaf2, "ul").unwrap();
    leaf1.sh("ip addr add 10.0.0.1/24 dev ul").unwrap();
    leaf2.sh("ip addr add 10.0.0.2/24 dev ul").unwrap();
    let h1 = host(
        &leaf1,
        &format!("{tag}h1"),
        "h1p",
        "02:00:00:00:00:0a",
        h1_v4,
        None,
    );
    let h2 = host(
        &leaf2,
        &format!("{tag}h2"),
        "h2p",
        "02:00:00:00:00:0b",
        h2_v4,
        None,
    );
    Some(Fabric {
        leaf1,
        leaf2,
        h1,
        h2,
    })
}

/// VNI 100 on a leaf with VTEP `local`: one remote VTEP in the flood list,
/// the remote host's MAC behind it and its IP for ARP suppression.
fn leaf_intent(local: &str, remote_vtep: &str, rmac: &str, rip: &str) -> Intent {
    let mut i = Intent::default();
    i.l2vnis.insert(vni(100), l2(100, local));
    i.flood.insert((vni(100), ip(remote_vtep)));
    i.remote_macs
        .insert((vni(100), mac(rmac)), remote(remote_vtep, false));
    i.remote_neighs.insert((vni(100), ip(rip)), mac(rmac));
    i
}

/// Programs both leaves (VTEPs `v1`, `v2`) with each other's host as a
/// remote MAC + IP; both reports must be ok.
fn program_pair(f: &Fabric, v1: &str, v2: &str) -> (Report, Report) {
    let (r1, _) = program(
        &f.leaf1,
        leaf_intent(v1, v2, "02:00:00:00:00:0b", "10.1.0.20"),
        false,
    );
    let (r2, _) = program(
        &f.leaf2,
        leaf_intent(v2, v1, "02:00:00:00:00:0a", "10.1.0.10"),
        false,
    );
    assert!(r1.ok(), "{r1}");
    assert!(r2.ok(), "{r2}");
    (r1, r2)
}

#[test]
fn hosts_on_two_leaves_ping_each_other_across_vxlan() {
    let Some(f) = fabric("l2", "10.1.0.10/24", "10.1.0.20/24") else {
        return;
    };
    // leaf2's underlay carries 1550 (1500 + 50 bytes of VXLAN over IPv4);
    // leaf1's keeps 1500, which the MTU check must flag.
    f.leaf2.sh("ip link set ul mtu 1550").unwrap();
    let (r1, r2) = program_pair(&f, "10.0.0.1", "10.0.0.2");
    assert_eq!(
        r1.warnings,
        vec![
            "vxlan100: overlay MTU 1500 needs underlay MTU >= 1550 towards 10.0.0.2 \
             (50 bytes VXLAN overhead over IPv4), but ul has 1500"
                .to_string()
        ]
    );
    assert!(r2.warnings.is_empty(), "{r2}");
    f.leaf1.sh("ip link set h1p master br100").unwrap();
    f.leaf2.sh("ip link set h2p master br100").unwrap();
    f.h1.sh("ping -c 3 -i 0.2 -W 2 10.1.0.20").unwrap();
    f.h2.sh("ping -c 3 -i 0.2 -W 2 10.1.0.10").unwrap();
    // h1 learned h2's MAC from ARP, answered by leaf1's bridge from our
    // remote neighbour entry (ARP suppression).
    let n = f.h1.sh("ip neigh show 10.1.0.20").unwrap();
    assert!(n.contains("02:00:00:00:00:0b"), "{n}");
}

/// The same two leaves with IPv6 VTEPs (fd00::1, fd00::2): devices, flood
/// list and remote MAC entries carry IPv6 destinations, hosts ping, and
/// the MTU check counts 70 bytes of overhead: 1550 (enough over IPv4) is
/// flagged, 1570 is not.
#[test]
fn hosts_ping_across_an_ipv6_underlay_and_the_mtu_check_counts_70_bytes() {
    let Some(f) = fabric("l2v6", "10.1.0.10/24", "10.1.0.20/24") else {
        return;
    };
    f.leaf1
        .sh("ip addr add fd00::1/64 dev ul nodad && ip link set ul mtu 1550")
        .unwrap();
    f.leaf2
        .sh("ip addr add fd00::2/64 dev ul nodad && ip link set ul mtu 1570")
        .unwrap();
    let (r1, r2) = program_pair(&f, "fd00::1", "fd00::2");
    assert_eq!(
        r1.warnings,
        vec![
            "vxlan100: overlay MTU 1500 needs underlay MTU >= 1570 towards fd00::2 \
             (70 bytes VXLAN overhead over IPv6), but ul has 1550"
                .to_string()
        ]
    );
    assert!(r2.warnings.is_empty(), "{r2}");
    let link = f.leaf1.sh("ip -d link show vxlan100").unwrap();
    assert!(link.contains("local fd00::1"), "{link}");
    assert_eq!(
        fdb_lines(&f.leaf1, "vxlan100"),
        vec![
            "00:00:00:00:00:00 dst fd00::2 self permanent",
            "02:00:00:00:00:0b dst fd00::2 self extern_learn",
            "02:00:00:00:00:0b extern_learn master br100",
        ]
    );
    f.leaf1.sh("ip link set h1p master br100").unwrap();
    f.leaf2.sh("ip link set h2p master br100").unwrap();
    f.h1.sh("ping -c 3 -i 0.2 -W 2 10.1.0.20").unwrap();
    f.h2.sh("ping -c 3 -i 0.2 -W 2 10.1.0.10").unwrap();
}

#[test]
fn l3vni_backend_b_routes_between_vnis_on_different_leaves() {
    // h1 in VNI 100 (10.1.0.0/24) on leaf1, h2 in VNI 200 (10.2.0.0/24) on
    // leaf2, IP-VRF "tenant1" with L3 VNI 5000 and table 1000 on both.
    let Some(f) = fabric("l3", "10.1.0.10/24", "10.2.0.20/24") else {
        return;
    };
    f.h1.sh("ip route add default via 10.1.0.1").unwrap();
    f.h2.sh("ip route add default via 10.2.0.1").unwrap();
    let rmac1 = "02:00:00:00:50:01";
    let rmac2 = "02:00:00:00:50:02";
    let leaf = |local: &str,
                l2vni: u32,
                gw: &str,
                rmac: &str,
                peer: &str,
                peer_rmac: &str,
                peer_net: &str| {
        let mut i = Intent::default();
        let mut l3 = L3Vni::new(vni(5000), "tenant1", 1000, ip(local), mac(rmac));
        l3.rule_priority = 1000;
        i.l3vnis.insert(vni(5000), l3);
        let mut v = l2(l2vni, local);
        v.gateway = Some(gateway(&[gw], SviMode::Bridge));
        v.l3vni = Some(vni(5000));
        i.l2vnis.insert(vni(l2vni), v);
        i.router_macs.insert((vni(5000), ip(peer)), mac(peer_rmac));
        i.routes
            .insert((vni(5000), peer_net.parse().unwrap()), ip(peer));
        // The peer's host route (RT-2 with the L3 VNI label): /32 of the
        // peer subnet's .20 host.
        let host = match peer_net.parse::<ipnetwork::IpNetwork>().unwrap().ip() {
            IpAddr::V4(a) => Ipv4Addr::from(u32::from(a) + 20),
            IpAddr::V6(_) => unreachable!("IPv4 test networks"),
        };
        i.routes
            .insert((vni(5000), format!("{host}/32").parse().unwrap()), ip(peer));
        i
    };
    let i1 = leaf(
        "10.0.0.1",
        100,
        "10.1.0.1/24",
        rmac1,
        "10.0.0.2",
        rmac2,
        "10.2.0.0/24",
    );
    let i2 = leaf(
        "10.0.0.2",
        200,
        "10.2.0.1/24",
        rmac2,
        "10.0.0.1",
        rmac1,
        "10.1.0.0/24",
    );
    let (r1, r1b) = program(&f.leaf1, i1, true);
    let (r2, _) = program(&f.leaf2, i2, false);
    assert!(r1.ok(), "{r1}");
    assert!(r2.ok(), "{r2}");
    assert!(
        r1.warnings
            .iter()
            .any(|w| w.starts_with("L3 VNI backend: table + ip rule (no vrf driver")),
        "{r1}"
    );
    let r1b = r1b.unwrap();
    assert!(
        r1b.ok() && r1b.plan.is_empty() && r1b.devices.is_empty(),
        "{r1b}"
    );
    f.leaf1.sh("ip link set h1p master br100").unwrap();
    f.leaf2.sh("ip link set h2p master br200").unwrap();

    let rules = f.leaf1.sh("ip rule show").unwrap();
    for iif in ["br100", "br5000"] {
        assert!(
            rules.contains(&format!("1000:\tfrom all iif {iif} lookup 1000 proto 201")),
            "{rules}"
        );
    }
    let table = f.leaf1.sh("ip route show table 1000").unwrap();
    assert!(
        table.contains("10.2.0.0/24 via 10.0.0.2 dev br5000 proto 201 onlink"),
        "{table}"
    );
    assert!(
        table.contains("10.2.0.20 via 10.0.0.2 dev br5000 proto 201 onlink"),
        "{table}"
    );
    assert!(
        table.contains("10.1.0.0/24 dev br100 proto 201 scope link"),
        "{table}"
    );
    assert!(
        table.contains("unreachable default proto 201 metric 4278198272"),
        "{table}"
    );
    let n = f.leaf1.sh("ip neigh show dev br5000").unwrap();
    assert!(
        n.contains(&format!(
            "10.0.0.2 lladdr {rmac2} extern_learn NOARP proto 201"
        )),
        "{n}"
    );
    assert!(f
        .leaf1
        .sh("bridge fdb show dev vxlan5000")
        .unwrap()
        .contains(&format!("{rmac2} dst 10.0.0.2 self extern_learn")));

    f.h1.sh("ping -c 3 -i 0.2 -W 2 10.2.0.20").unwrap();
    f.h2.sh("ping -c 3 -i 0.2 -W 2 10.1.0.10").unwrap();
    // Routed, not bridged: TTL drops by two (leaf1 and leaf2 each route).
    let out = f.h1.sh("ping -c 1 -W 2 10.2.0.20").unwrap();
    assert!(out.contains("ttl=62"), "{out}");
}
