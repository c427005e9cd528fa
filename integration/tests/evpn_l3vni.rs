//! Symmetric IRB across two evpnd leaves (RFC 9135) with the table backend
//! (no vrf driver here: an L3 VNI is a routing table, `ip rule iif <SVI>`
//! and the L3 VNI's own bridge + VXLAN device), and RT-5 (RFC 9136).
//!
//! Two L2 VNIs (100: 10.1.0.0/24, 200: 10.2.0.0/24) in the IP-VRF
//! "tenant1" (L3 VNI 5000, table 5000) on both leaves. Host A (VNI 100) on
//! leaf1 and host B (VNI 200) on leaf2 ping each other: leaf1 routes A's
//! packet by B's /32 (from B's MAC+IP route, label 2 = 5000) into br5000
//! towards leaf2's router MAC, VXLAN 5000 carries it, leaf2 routes it into
//! br200. TTL 62 proves two routing hops (asymmetric IRB would bridge on
//! the egress leaf: TTL 63).
//!
//! RT-5: leaf2 alone advertises 10.50.0.0/24, a subnet behind it (a host
//! namespace on a routed port of leaf2's VRF table); A reaches it; after
//! the prefix is removed from leaf2's config (SIGHUP), leaf1's table no
//! longer has it and A's pings fail.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration test: a failed setup step is a test failure"
)]

use std::time::{Duration, Instant};

use integration::fabric::{Fabric, FabricSpec, Host, LeafDaemon, LeafKind, VniSpec, VrfSpec};
use integration::netns::veth;
use integration::{skip_unless, Netns};

fn sh(ns: &Netns, cmd: &str) -> String {
    integration::fabric::sh(ns, cmd)
}

/// Poll (5 ms apart, bounded) until `f` holds; the time it took. On a
/// timeout fail with what every leaf's daemon and kernel hold.
fn until(fab: &Fabric, what: &str, limit: Duration, f: impl FnMut() -> bool) -> Duration {
    fab.until(what, limit, Duration::from_millis(5), f)
        .unwrap_or_else(|e| panic!("{e:#}"))
}

fn link_mac(ns: &Netns, dev: &str) -> String {
    let out = sh(ns, &format!("cat /sys/class/net/{dev}/address"));
    out.trim().to_string()
}

/// `ping -c N` from `h` to `dst`: (replies, the TTL of the last reply).
fn ping(h: &Host, dst: &str, n: u32) -> (u32, Option<u32>) {
    let out = sh(&h.ns, &format!("ping -n -c {n} -W 1 -i 0.2 {dst}"));
    let replies = out.lines().filter(|l| l.contains("bytes from")).count() as u32;
    let ttl = out
        .lines()
        .rev()
        .filter_map(|l| l.split("ttl=").nth(1))
        .find_map(|t| t.split_whitespace().next()?.parse().ok());
    (replies, ttl)
}

#[test]
fn l3vni_routes_between_vnis_on_two_leaves_and_rt5_prefixes() {
    if skip_unless(true, &["ping", "bridge"]) {
        return;
    }
    let f = Fabric::build(&FabricSpec {
        label: "l3vni".into(),
        leaves: vec![LeafKind::Evpnd; 2],
        vnis: vec![
            VniSpec::new(100, "10.1.0.1/24").in_vrf("tenant1"),
            VniSpec::new(200, "10.2.0.1/24").in_vrf("tenant1"),
        ],
        vrfs: vec![VrfSpec::new("tenant1", 5000)
            .prefix_on(1, "10.50.0.0/24")
            .advertise_connected()],
        ..FabricSpec::default()
    })
    .unwrap();
    let (l1, l2) = (&f.leaves[0], &f.leaves[1]);
    let mut a = f
        .host(0, 100, "ha", "02:00:00:00:0a:0a", "10.1.0.10/24")
        .unwrap();
    let b = f
        .host(1, 200, "hb", "02:00:00:00:0b:0b", "10.2.0.20/24")
        .unwrap();
    // C: VNI 200 on leaf1, routed locally from A.
    let c = f
        .host(0, 200, "hc", "02:00:00:00:0c:0c", "10.2.0.30/24")
        .unwrap();

    // The devices and settings of the table backend, on both leaves.
    let rmac = |ns: &Netns| link_mac(ns, "br5000");
    let (rmac1, rmac2) = (rmac(&l1.ns), rmac(&l2.ns));
    for l in [l1, l2] {
        let rules = sh(&l.ns, "ip rule show");
        for iif in ["br100", "br200", "br5000"] {
            assert!(
                rules.contains(&format!("from all iif {iif} lookup 5000 proto 201")),
                "{}: no rule for {iif}:\n{rules}",
                l.name
            );
        }
        assert_eq!(
            sh(&l.ns, "cat /proc/sys/net/ipv4/ip_forward").trim(),
            "1",
            "{}",
            l.name
        );
        let table = sh(&l.ns, "ip route show table 5000");
        for want in [
            "10.1.0.0/24 dev br100 proto 201 scope link",
            "10.2.0.0/24 dev br200 proto 201 scope link",
            "unreachable default proto 201",
        ] {
            assert!(table.contains(want), "{}: {want}:\n{table}", l.name);
        }
        let vx = sh(&l.ns, "ip -d link show vxlan5000");
        assert!(
            vx.contains("vxlan id 5000") && vx.contains("master br5000"),
            "{}: {vx}",
            l.name
        );
    }
    // Router MACs: 02:00 + the router id (auto), one per leaf.
    assert_eq!(rmac1, "02:00:0a:00:01:02");
    assert_eq!(rmac2, "02:00:0a:00:02:02");

    // Each host talks to its gateway: its leaf learns MAC+IP and
    // advertises the RT-2 with label 2 = 5000 and its router MAC.
    for (h, gw) in [(&a, "10.1.0.1"), (&b, "10.2.0.1"), (&c, "10.2.0.1")] {
        assert_eq!(ping(h, gw, 2).0, 2, "{} to {gw}", h.ip());
    }
    let t = until(
        &f,
        "each leaf routes the other's host /32 via the L3 VNI",
        Duration::from_secs(10),
        || {
            sh(&l1.ns, "ip route show table 5000")
                .contains("10.2.0.20 via 10.0.2.2 dev br5000 proto 201 onlink")
                && sh(&l2.ns, "ip route show table 5000")
                    .contains("10.1.0.10 via 10.0.1.2 dev br5000 proto 201 onlink")
        },
    );
    println!(
        "host /32s in both VRF tables {:.1} ms after the gateway pings",
        t.as_secs_f64() * 1e3
    );
    // The remote router MAC: a neighbour for the VTEP on br5000 and the
    // FDB entries that send it over VXLAN 5000.
    for (l, peer, peer_rmac) in [(l1, &l2.vtep, &rmac2), (l2, &l1.vtep, &rmac1)] {
        let n = sh(&l.ns, "ip neigh show dev br5000");
        assert!(
            n.contains(&format!(
                "{peer} lladdr {peer_rmac} extern_learn NOARP proto 201"
            )),
            "{}: {n}",
            l.name
        );
        let fdb = sh(&l.ns, "bridge fdb show dev vxlan5000");
        assert!(
            fdb.contains(&format!("{peer_rmac} dst {peer} self extern_learn")),
            "{}: {fdb}",
            l.name
        );
    }

    // A ↔ B, routed twice (TTL 64 - 2).
    let (n, ttl) = ping(&a, b.ip(), 3);
    assert_eq!((n, ttl), (3, Some(62)), "A → B");
    let (n, ttl) = ping(&b, a.ip(), 3);
    assert_eq!((n, ttl), (3, Some(62)), "B → A");
    println!("A (VNI 100 @leaf1) <-> B (VNI 200 @leaf2): 3/3 each way, ttl=62");
    // Every leaf advertises the shared gateway subnets as RT-5: a leaf
    // that has the subnet itself keeps routing it locally (connected),
    // never towards another leaf.
    std::thread::sleep(Duration::from_millis(300));
    for l in [l1, l2] {
        let table = sh(&l.ns, "ip route show table 5000");
        for want in [
            "10.1.0.0/24 dev br100 proto 201 scope link",
            "10.2.0.0/24 dev br200 proto 201 scope link",
        ] {
            assert!(table.contains(want), "{}: {want}:\n{table}", l.name);
        }
    }
    let (n, ttl) = ping(&a, c.ip(), 3);
    assert_eq!(
        (n, ttl),
        (3, Some(63)),
        "A → C on the same leaf, routed once"
    );

    // Strict reverse-path filtering (RHEL ships rp_filter=1, Debian and
    // Ubuntu 2) on every device. The kernel's reverse lookup for a
    // forwarded packet uses the forward route's output device as `iif`
    // (`__mkroute_input` → `fib_validate_source(..., FIB_RES_OIF)`), so the
    // VRF's `iif <SVI>` rules match it and the source is found in the VRF
    // table on the device it came in on: nothing to turn off.
    for l in [l1, l2] {
        sh(
            &l.ns,
            "for d in /proc/sys/net/ipv4/conf/*/rp_filter; do echo 1 > $d; done",
        );
        let on = sh(&l.ns, "cat /proc/sys/net/ipv4/conf/br5000/rp_filter");
        assert_eq!(on.trim(), "1", "{}", l.name);
    }
    let (n, ttl) = ping(&a, b.ip(), 3);
    assert_eq!((n, ttl), (3, Some(62)), "A → B with rp_filter=1");
    let (n, ttl) = ping(&a, c.ip(), 2);
    assert_eq!((n, ttl), (2, Some(63)), "A → C with rp_filter=1");
    println!("with rp_filter=1 on every device: A -> B 3/3, ttl=62");

    // RT-5: 10.50.0.0/24 behind leaf2, on a routed port of its VRF table.
    let ext = Netns::new().unwrap();
    veth(
        &l2.ns,
        "ext0",
        &["10.50.0.1/24"],
        &ext,
        "eth0",
        &["10.50.0.2/24"],
        1500,
    )
    .unwrap();
    ext.ip(&["route", "add", "default", "via", "10.50.0.1"])
        .unwrap();
    // What enslaving ext0 to a VRF device would do: its subnet in the
    // VRF's table, its traffic looked up there.
    l2.ns
        .ip(&[
            "route",
            "add",
            "10.50.0.0/24",
            "dev",
            "ext0",
            "table",
            "5000",
        ])
        .unwrap();
    l2.ns
        .ip(&[
            "rule", "add", "iif", "ext0", "lookup", "5000", "pref", "1000",
        ])
        .unwrap();
    let t = until(
        &f,
        "leaf1 has leaf2's RT-5 10.50.0.0/24",
        Duration::from_secs(10),
        || {
            sh(&l1.ns, "ip route show table 5000")
                .contains("10.50.0.0/24 via 10.0.2.2 dev br5000 proto 201 onlink")
        },
    );
    println!(
        "RT-5 10.50.0.0/24 in leaf1's table (checked {:.1} ms after the port)",
        t.as_secs_f64() * 1e3
    );
    assert!(
        !sh(&l2.ns, "ip route show table 5000").contains("10.50.0.0/24 via"),
        "leaf2 imported its own prefix"
    );
    let (n, ttl) = ping(&a, "10.50.0.2", 3);
    assert_eq!((n, ttl), (3, Some(62)), "A → 10.50.0.2 behind leaf2");

    // Withdraw: leaf2's config loses the prefix, SIGHUP.
    let cfg = l2.evpnd().unwrap().config.clone();
    let text = std::fs::read_to_string(&cfg).unwrap();
    let new = text.replace(
        "advertise_prefixes = [\"10.50.0.0/24\"]",
        "advertise_prefixes = []",
    );
    assert_ne!(text, new, "leaf2's config names the prefix");
    std::fs::write(&cfg, new).unwrap();
    let pid = l2.evpnd().unwrap().pid().unwrap();
    // SAFETY: kill(2) on our own child.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGHUP) }, 0);
    let t = until(
        &f,
        "leaf1 drops 10.50.0.0/24",
        Duration::from_secs(10),
        || !sh(&l1.ns, "ip route show table 5000").contains("10.50.0.0/24"),
    );
    println!(
        "RT-5 withdrawn: gone from leaf1's table {:.1} ms after SIGHUP to leaf2",
        t.as_secs_f64() * 1e3
    );
    assert_eq!(ping(&a, "10.50.0.2", 2).0, 0, "10.50.0.2 still reachable");
    // The host routes were not disturbed by the reload.
    let (n, ttl) = ping(&a, b.ip(), 2);
    assert_eq!((n, ttl), (2, Some(62)), "A → B after leaf2's reload");

    // A migrates to leaf2 (same VNI 100) while C (VNI 200 on leaf1) pings
    // it: leaf1's table now routes A's /32 to leaf2, leaf2 drops its route
    // to leaf1 (A is local there: connected).
    let p = integration::fabric::pinger(&c, a.ip(), 300).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // `until` starts when the port is up on leaf2.
    f.migrate(&mut a, 1).unwrap();
    let moved = until(&f, "A's /32 follows it", Duration::from_secs(10), || {
        sh(&l1.ns, "ip route show table 5000")
            .contains("10.1.0.10 via 10.0.2.2 dev br5000 proto 201 onlink")
            && !sh(&l2.ns, "ip route show table 5000").contains("10.1.0.10 via")
    });
    let (gap, got) = integration::fabric::loss(p, 300).unwrap();
    println!(
        "A leaf1 -> leaf2: both VRF tables updated {:.1} ms after port-up; \
         C -> A across the move: longest gap {} ms, {got}/300",
        moved.as_secs_f64() * 1e3,
        gap * 10
    );
    assert!(gap <= 100, "lost {gap} pings in a row from C to A");
    let (n, ttl) = ping(&c, a.ip(), 2);
    assert_eq!((n, ttl), (2, Some(62)), "C (leaf1) → A (now leaf2)");
    let (n, ttl) = ping(&b, a.ip(), 2);
    assert_eq!((n, ttl), (2, Some(63)), "B → A, both on leaf2");
}

/// The textbook symmetric IRB layout: VNI 100 only on leaf1, VNI 200 only
/// on leaf2, so leaf1 has no interface in B's subnet at all. A's packets to
/// B are routed by B's /32 (RT-2, label 2) into the L3 VNI; before B has
/// ever spoken, by the RT-5 of B's subnet that leaf2 originates
/// (`advertise_connected`), and leaf2 resolves B by ARP on its own SVI.
/// Then the same over IPv6.
#[test]
fn symmetric_irb_with_each_vni_on_one_leaf_reaches_a_silent_host() {
    if skip_unless(true, &["ping", "bridge"]) {
        return;
    }
    let mut f = Fabric::build(&FabricSpec {
        label: "l3vni-sym".into(),
        leaves: vec![LeafKind::Evpnd; 2],
        vnis: vec![
            VniSpec::new(100, "10.1.0.1/24")
                .with_ipv6("fd00:1::1/64")
                .in_vrf("tenant1")
                .only_on(&[0]),
            VniSpec::new(200, "10.2.0.1/24")
                .with_ipv6("fd00:2::1/64")
                .in_vrf("tenant1")
                .only_on(&[1]),
        ],
        vrfs: vec![VrfSpec::new("tenant1", 5000).advertise_connected()],
        ..FabricSpec::default()
    })
    .unwrap();
    let (l1, l2) = (&f.leaves[0], &f.leaves[1]);
    assert!(
        !sh(&l1.ns, "ip -br link show").contains("br200"),
        "leaf1 has no VNI 200"
    );
    let a = f
        .host(0, 100, "ha", "02:00:00:00:0a:0a", "10.1.0.10/24")
        .unwrap();
    let b = f
        .host(1, 200, "hb", "02:00:00:00:0b:0b", "10.2.0.20/24")
        .unwrap();
    // Each leaf routes the other's subnet to it (RT-5).
    let t = until(
        &f,
        "the gateway subnets cross as RT-5",
        Duration::from_secs(10),
        || {
            sh(&l1.ns, "ip route show table 5000")
                .contains("10.2.0.0/24 via 10.0.2.2 dev br5000 proto 201 onlink")
                && sh(&l2.ns, "ip route show table 5000")
                    .contains("10.1.0.0/24 via 10.0.1.2 dev br5000 proto 201 onlink")
        },
    );
    println!(
        "RT-5 subnets in both tables {:.1} ms after the fabric was up",
        t.as_secs_f64() * 1e3
    );
    // B has never sent a frame: no /32 for it anywhere yet.
    assert!(!sh(&l1.ns, "ip route show table 5000").contains("10.2.0.20"));
    let (n, ttl) = ping(&a, b.ip(), 3);
    assert_eq!((n, ttl), (3, Some(62)), "A → silent B via the RT-5");
    // Now leaf2 knows B (from its ARP reply): B's /32 reaches leaf1.
    let t = until(&f, "B's /32 on leaf1", Duration::from_secs(10), || {
        sh(&l1.ns, "ip route show table 5000")
            .contains("10.2.0.20 via 10.0.2.2 dev br5000 proto 201 onlink")
    });
    println!(
        "A -> silent B 3/3 (ttl=62) via the subnet RT-5; B's /32 at leaf1 {:.1} ms later",
        t.as_secs_f64() * 1e3
    );
    let (n, ttl) = ping(&b, a.ip(), 3);
    assert_eq!((n, ttl), (3, Some(62)), "B → A");
    // Nothing of VNI 200 leaked into leaf1's L2 state.
    assert!(sh(&l1.ns, "ip neigh show 10.2.0.20").is_empty());

    // IPv6 in the same VRF over the IPv4 underlay: routes via the
    // IPv4-mapped VTEP, whose neighbour is the router MAC (as zebra).
    for (h, addr, gw) in [
        (&a, "fd00:1::10/64", "fd00:1::1"),
        (&b, "fd00:2::20/64", "fd00:2::1"),
    ] {
        h.ns.ip(&["-6", "addr", "add", addr, "dev", "eth0", "nodad"])
            .unwrap();
        h.ns.ip(&["-6", "route", "add", "default", "via", gw])
            .unwrap();
    }
    let (n, ttl) = ping(&a, "fd00:2::20", 3);
    assert_eq!((n, ttl), (3, Some(62)), "A → B over IPv6");
    until(&f, "B's /128 on leaf1", Duration::from_secs(10), || {
        sh(&l1.ns, "ip -6 route show table 5000")
            .contains("fd00:2::20 via ::ffff:10.0.2.2 dev br5000 proto 201")
    });
    let n = sh(&l1.ns, "ip -6 neigh show dev br5000");
    assert!(
        n.contains("::ffff:10.0.2.2 lladdr 02:00:0a:00:02:02 extern_learn NOARP proto 201"),
        "{n}"
    );
    let (n, ttl) = ping(&b, "fd00:1::10", 3);
    assert_eq!((n, ttl), (3, Some(62)), "B → A over IPv6");
    println!("IPv6: A <-> B 3/3 each way, hop limit 62, via ::ffff:<VTEP> onlink");

    // leaf1's evpnd dies (SIGKILL) and restarts as a graceful-restart
    // speaker: the kernel keeps routing meanwhile, and the restart neither
    // deletes nor duplicates the VRF's rules, routes and router-MAC entries
    // (they are kept stale until the spine's End-of-RIB, then re-adopted).
    let before = vrf_tables(&l1.ns);
    let mon = l1
        .ns
        .command("ip")
        .args(["monitor", "route", "neigh"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let p = integration::fabric::pinger(&a, b.ip(), 200).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let t = Instant::now();
    match &mut f.leaves[0].daemon {
        LeafDaemon::Evpnd(e) => e.restart_after_kill().unwrap(),
        LeafDaemon::Frr(_) => unreachable!("leaf1 runs evpnd"),
    }
    let l1 = &f.leaves[0];
    integration::topo::evpnd_established(l1.evpnd().unwrap(), &l1.spine_addr).unwrap();
    let up = t.elapsed();
    // The sweep reconcile after End-of-RIB has run once the log says so.
    until(
        &f,
        "leaf1's sweep after End-of-RIB",
        Duration::from_secs(10),
        || l1.log().contains("sweeping stale kernel entries"),
    );
    std::thread::sleep(Duration::from_millis(200));
    let mut mon = mon;
    mon.kill().unwrap();
    let events = String::from_utf8_lossy(&mon.wait_with_output().unwrap().stdout).into_owned();
    let deleted: Vec<&str> = events
        .lines()
        .filter(|l| l.starts_with("Deleted") && (l.contains("br5000") || l.contains("table 5000")))
        .collect();
    assert!(
        deleted.is_empty(),
        "the restart deleted VRF entries: {deleted:#?}"
    );
    assert_eq!(vrf_tables(&l1.ns), before, "VRF state after the restart");
    let (gap, got) = integration::fabric::loss(p, 200).unwrap();
    println!(
        "leaf1 evpnd SIGKILL + restart: session up {:.0} ms after the kill, no VRF entry \
         deleted or changed; A -> B across it: longest gap {} ms, {got}/200",
        up.as_secs_f64() * 1e3,
        gap * 10
    );
    assert_eq!(gap, 0, "the kernel stopped routing while evpnd restarted");
}

/// leaf's VRF rules and table 5000 (v4 + v6) plus the br5000 neighbours,
/// sorted.
fn vrf_tables(ns: &Netns) -> Vec<String> {
    let mut v: Vec<String> = sh(
        ns,
        "ip rule show; ip -6 rule show; ip route show table 5000; \
         ip -6 route show table 5000; ip neigh show dev br5000 nud noarp; \
         ip -6 neigh show dev br5000 nud noarp",
    )
    .lines()
    .map(str::to_string)
    .collect();
    v.sort();
    v
}
