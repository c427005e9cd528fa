//! An FRR leaf in an evpnd fabric (issue 6): leaf1 and leaf3 run evpnd,
//! leaf2 runs FRR 8.4 (zebra + bgpd, `advertise-all-vni`, the manual
//! anycast-gateway recipe); the spine is evpnd as route reflector.
//!
//! A VM on leaf1 moves to the FRR leaf under ping and back: FRR learns it
//! locally and advertises it with a higher MAC-mobility sequence number, the
//! evpnd leaves point the MAC (and the IP, from FRR's MAC+IP route) at FRR's
//! VTEP; back on leaf1 evpnd advertises seq+1, FRR accepts it and points the
//! MAC and IP at leaf1 again. Nothing stale stays on either kind of leaf. A
//! host that lives on the FRR leaf is learnt by the evpnd leaves, and a
//! silent VM (QEMU's RARP only) moves both ways.
//!
//! Printed: convergence times from port-up (kernel netlink notifications)
//! and the ping loss windows. No timing assertions.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration test: a failed setup step is a test failure"
)]

use std::process::Child;
use std::time::{Duration, Instant};

use std::net::IpAddr;

use integration::fabric::{Fabric, FabricSpec, Host, LeafKind, VniSpec};
use integration::watch::{move_times, Target, WatchSpec, Watcher};
use integration::{skip_unless, Netns};
use serde_json::Value;

const FRR: usize = 1;

fn sh(ns: &Netns, cmd: &str) -> String {
    integration::fabric::sh(ns, cmd)
}

fn fdb_of(leaf: &Netns, mac: &str) -> Option<String> {
    integration::fabric::fdb_of(leaf, 100, mac)
}

fn neigh_of(leaf: &Netns, ip: &str) -> Option<(String, bool)> {
    integration::fabric::neigh_of(leaf, 100, ip)
}

/// FRR's view of `mac` in VNI 100 (`show evpn mac vni 100 mac M json`).
fn frr_mac(f: &Fabric, mac: &str) -> Value {
    f.leaves[FRR]
        .frr()
        .unwrap()
        .vtysh_json(&format!("show evpn mac vni 100 mac {mac} json"))
        .unwrap_or(Value::Null)
}

/// What every leaf holds, printed when something does not converge.
fn dump(f: &Fabric) {
    for l in &f.leaves {
        let daemon = match l.evpnd() {
            Ok(e) => e
                .ctl(&["show", "evpn", "mac"])
                .map(|v| v.to_string())
                .unwrap_or_else(|e| e.to_string()),
            Err(_) => l
                .frr()
                .and_then(|r| r.vtysh("show evpn mac vni 100 detail"))
                .unwrap_or_else(|e| e.to_string()),
        };
        println!(
            "---- {} ({}): daemon\n{daemon}\n---- kernel\n{}",
            l.name,
            l.vtep,
            sh(
                &l.ns,
                "bridge fdb show br br100 | grep -v permanent; bridge fdb show dev vxlan100; ip neigh show dev br100"
            )
        );
    }
}

/// Poll (1 ms apart, bounded) until `f` holds. On a timeout, print every
/// leaf's state, then fail. (The times printed come from the watchers.)
fn until(fab: &Fabric, what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    dump(fab);
    panic!("{what}: not within {limit:?}");
}

fn pinger(h: &Host, dst: &str, count: u32) -> Child {
    integration::fabric::pinger(h, dst, count).unwrap()
}

/// Move `h` to leaf `to` with its pings stopped for the switch-over, as a
/// live-migrated VM is paused: it sends nothing while its port is down.
/// (A ping during the cut leaves an INCOMPLETE neighbour whose ARP went
/// nowhere; the kernel retries only after 1 s.)
fn migrate_paused(f: &Fabric, h: &mut Host, to: usize, pings: &[&Child]) -> Instant {
    let before = Instant::now();
    for p in pings {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(p.id() as i32, libc::SIGSTOP) };
    }
    let r = f.migrate(h, to);
    for p in pings {
        // SAFETY: as above.
        unsafe { libc::kill(p.id() as i32, libc::SIGCONT) };
    }
    r.unwrap();
    before
}

fn loss(child: Child, sent: u32) -> (u32, u32) {
    integration::fabric::loss(child, sent).unwrap()
}

/// The move of `h` (now on leaf `h.at`) from leaf `from`, started at
/// `before`, as the leaves' kernels notified it: "veth X ms, MAC Y ms, IP
/// Z ms" after port-up (the latest leaf; `-` = not converged).
fn times(ws: &[Watcher], f: &Fabric, h: &Host, from: usize, before: Instant) -> String {
    let evs: Vec<_> = ws.iter().map(Watcher::events).collect();
    let t = Target {
        mac: h.mac.parse().unwrap(),
        ip: h.ip().parse().unwrap(),
        port: &h.port,
        to: h.at,
        vtep: f.leaves[h.at].vtep.parse().unwrap(),
    };
    let m = move_times(&evs, &t, from, before);
    let show = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.1}"));
    let per: Vec<String> = m
        .per_leaf
        .iter()
        .enumerate()
        .map(|(i, (a, b))| format!("leaf{} {}/{}", i + 1, show(*a), show(*b)))
        .collect();
    format!(
        "veth move {} ms; after port-up: MAC everywhere {} ms, IP {} ms (MAC/IP per leaf: {})",
        show(m.veth_ms),
        show(m.mac_ms),
        show(m.ip_ms),
        per.join(", ")
    )
}

#[test]
fn vm_moves_between_evpnd_and_frr_leaves() {
    if skip_unless(true, &["ping", "bridge", "vtysh", "/usr/lib/frr/zebra"]) {
        return;
    }
    let f = Fabric::build(&FabricSpec {
        label: "frr-leaf".into(),
        leaves: vec![LeafKind::Evpnd, LeafKind::Frr, LeafKind::Evpnd],
        vnis: vec![VniSpec::new(100, "10.1.0.1/24")],
        leaf_extra: "[duplicate_detection]\nmax_moves = 10\nwindow = 60\n".into(),
        frr_evpn_extra: "  dup-addr-detection max-moves 10 time 60".into(),
        ..FabricSpec::default()
    })
    .unwrap();
    let (l1, l2, l3) = (&f.leaves[0], &f.leaves[1], &f.leaves[2]);
    let mut vm = f
        .host(0, 100, "vm1", "02:00:00:00:01:01", "10.1.0.11/24")
        .unwrap();
    let h2 = f
        .host(FRR, 100, "h2", "02:00:00:00:02:02", "10.1.0.12/24")
        .unwrap();
    let h3 = f
        .host(2, 100, "h3", "02:00:00:00:03:03", "10.1.0.13/24")
        .unwrap();
    let mut silent = f
        .host(0, 100, "vm4", "02:00:00:00:04:04", "10.1.0.14/24")
        .unwrap();

    // Every host reaches its local anycast gateway (the FRR leaf's is the
    // bridge's own address and MAC) and the hosts reach each other.
    for h in [&vm, &h2, &h3, &silent] {
        let out = sh(&h.ns, "ping -c 2 -W 1 -i 0.2 10.1.0.1");
        assert!(out.contains(" 0% packet loss"), "{}: {out}", h.ip());
    }
    for dst in [h2.ip(), h3.ip()] {
        let out = sh(&vm.ns, &format!("ping -c 3 -W 1 -i 0.2 {dst}"));
        assert!(out.contains(" 0% packet loss"), "vm -> {dst}: {out}");
    }
    // evpnd learns FRR's host (MAC and MAC+IP), FRR learns evpnd's.
    until(
        &f,
        "the evpnd leaves know h2 (FRR leaf) by MAC and IP",
        Duration::from_secs(10),
        || {
            [l1, l3].iter().all(|l| {
                fdb_of(&l.ns, &h2.mac) == Some(format!("remote:{}", l2.vtep))
                    && neigh_of(&l.ns, h2.ip()) == Some((h2.mac.clone(), true))
            })
        },
    );
    until(
        &f,
        "FRR knows the VMs by MAC and IP",
        Duration::from_secs(10),
        || {
            [&vm, &silent].iter().all(|h| {
                fdb_of(&l2.ns, &h.mac) == Some(format!("remote:{}", l1.vtep))
                    && neigh_of(&l2.ns, h.ip()) == Some((h.mac.clone(), true))
            })
        },
    );

    // Kernel notifications of every leaf for the two VMs, timestamped.
    let spec = WatchSpec {
        macs: [&vm, &silent]
            .iter()
            .map(|h| h.mac.parse().unwrap())
            .collect(),
        ips: [&vm, &silent]
            .iter()
            .map(|h| h.ip().parse::<IpAddr>().unwrap())
            .collect(),
        ports: vec!["vm1".into(), "vm4".into()],
        max_events: 20_000,
    };
    let ws: Vec<Watcher> = f
        .leaves
        .iter()
        .map(|l| Watcher::start(&l.ns, spec.clone()).unwrap())
        .collect();

    // ---- evpnd leaf1 -> FRR leaf2, under ping to h3 and to the gateway.
    let count = 400;
    let p_h3 = pinger(&vm, h3.ip(), count);
    let p_gw = pinger(&vm, "10.1.0.1", count);
    std::thread::sleep(Duration::from_millis(1000));
    let before = migrate_paused(&f, &mut vm, FRR, &[&p_h3, &p_gw]);
    until(
        &f,
        "the fabric follows the VM's MAC to FRR",
        Duration::from_secs(10),
        || {
            fdb_of(&l2.ns, &vm.mac) == Some("local:vm1".into())
                && [l1, l3]
                    .iter()
                    .all(|l| fdb_of(&l.ns, &vm.mac) == Some(format!("remote:{}", l2.vtep)))
        },
    );
    until(
        &f,
        "the evpnd leaves take the VM's IP from FRR's MAC+IP route",
        Duration::from_secs(10),
        || {
            [l1, l3].iter().all(|l| {
                neigh_of(&l.ns, vm.ip()) == Some((vm.mac.clone(), true))
                    && l.evpnd()
                        .and_then(|e| e.ctl(&["show", "evpn", "mac", "--mac", &vm.mac]))
                        .is_ok_and(|v| {
                            let row = &v["macs"][0];
                            row["vtep"] == l2.vtep.as_str()
                                && row["ips"]
                                    .as_array()
                                    .is_some_and(|a| a.iter().any(|i| i == vm.ip()))
                        })
            })
        },
    );
    let (gap_h3, got_h3) = loss(p_h3, count);
    let (gap_gw, got_gw) = loss(p_gw, count);
    let seq_frr = frr_mac(&f, &vm.mac);
    println!(
        "active VM leaf1 (evpnd) -> leaf2 (FRR): {}; \
         ping loss window to h3 {} ms ({got_h3}/{count}), to the gateway {} ms ({got_gw}/{count}); FRR: {seq_frr}",
        times(&ws, &f, &vm, 0, before),
        gap_h3 * 10,
        gap_gw * 10,
    );
    // Nothing stale on leaf1: no local FDB entry, the neighbour is remote.
    let stale = sh(
        &l1.ns,
        &format!("bridge fdb show br br100 | grep {}", vm.mac),
    );
    assert!(!stale.contains("vm1"), "stale local FDB on leaf1: {stale}");
    let local_seq = seq_frr
        .get(&vm.mac)
        .and_then(|m| m["localSequence"].as_u64())
        .unwrap_or_else(|| {
            dump(&f);
            panic!("FRR does not hold the VM as local: {seq_frr}")
        });
    // leaf1 withdrew when the port went down, before FRR learnt the MAC:
    // FRR may advertise seq 0 (no competing route) or evpnd's seq + 1.
    println!("FRR advertised the VM with MAC-mobility seq {local_seq}");

    // ---- and back: FRR leaf2 -> evpnd leaf1. evpnd advertises seq+1; FRR
    // must take it over its own (withdrawn) local entry.
    let p_h3 = pinger(&vm, h3.ip(), count);
    let p_gw = pinger(&vm, "10.1.0.1", count);
    std::thread::sleep(Duration::from_millis(1000));
    let before = migrate_paused(&f, &mut vm, 0, &[&p_h3, &p_gw]);
    until(
        &f,
        "the fabric follows the VM's MAC back to leaf1",
        Duration::from_secs(10),
        || {
            fdb_of(&l1.ns, &vm.mac) == Some("local:vm1".into())
                && [l2, l3]
                    .iter()
                    .all(|l| fdb_of(&l.ns, &vm.mac) == Some(format!("remote:{}", l1.vtep)))
        },
    );
    until(
        &f,
        "FRR and leaf3 point the VM's IP at leaf1",
        Duration::from_secs(10),
        || {
            [l2, l3]
                .iter()
                .all(|l| neigh_of(&l.ns, vm.ip()) == Some((vm.mac.clone(), true)))
                && neigh_of(&l1.ns, vm.ip()).is_some_and(|(m, ours)| m == vm.mac && !ours)
        },
    );
    let (gap_h3, got_h3) = loss(p_h3, count);
    let (gap_gw, got_gw) = loss(p_gw, count);
    let frr_view = frr_mac(&f, &vm.mac);
    println!(
        "active VM leaf2 (FRR) -> leaf1 (evpnd): {}; \
         ping loss window to h3 {} ms ({got_h3}/{count}), to the gateway {} ms ({got_gw}/{count}); FRR: {frr_view}",
        times(&ws, &f, &vm, FRR, before),
        gap_h3 * 10,
        gap_gw * 10,
    );
    let m = &frr_view[&vm.mac];
    assert_eq!(m["type"], "remote", "FRR: {frr_view}");
    assert_eq!(m["remoteVtep"], l1.vtep.as_str(), "FRR: {frr_view}");
    assert!(
        m["remoteSequence"].as_u64() > Some(local_seq),
        "FRR must hold evpnd's seq+1 over its own {local_seq}: {frr_view}"
    );
    // Nothing stale on the FRR leaf either.
    let stale = sh(
        &l2.ns,
        &format!("bridge fdb show br br100 | grep {}", vm.mac),
    );
    assert!(!stale.contains("vm1"), "stale local FDB on FRR: {stale}");
    let out = sh(&vm.ns, &format!("ping -c 2 -W 1 -i 0.2 {}", h2.ip()));
    assert!(out.contains(" 0% packet loss"), "{out}");

    // ---- a silent VM (RARP only): to FRR and back.
    let before = Instant::now();
    f.migrate(&mut silent, FRR).unwrap();
    until(
        &f,
        "the silent VM's MAC follows it to FRR",
        Duration::from_secs(10),
        || {
            fdb_of(&l2.ns, &silent.mac) == Some("local:vm4".into())
                && [l1, l3]
                    .iter()
                    .all(|l| fdb_of(&l.ns, &silent.mac) == Some(format!("remote:{}", l2.vtep)))
        },
    );
    // FRR re-advertises the IP only when its kernel has a neighbour entry
    // for it; give it a second, then report what the evpnd leaves hold.
    std::thread::sleep(Duration::from_secs(1));
    let ip_followed = [l1, l3].iter().all(|l| {
        l.evpnd()
            .and_then(|e| e.ctl(&["show", "evpn", "mac", "--mac", &silent.mac]))
            .is_ok_and(|v| {
                v["macs"][0]["ips"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|i| i == silent.ip()))
            })
    });
    println!(
        "silent VM leaf1 (evpnd) -> leaf2 (FRR): {}; MAC+IP from FRR after 1 s: {ip_followed}",
        times(&ws, &f, &silent, 0, before)
    );
    let stale = sh(
        &l1.ns,
        &format!("bridge fdb show br br100 | grep {}", silent.mac),
    );
    assert!(!stale.contains("vm4"), "stale local FDB on leaf1: {stale}");
    // It still answers at its IP (the gateway of leaf2 resolves it).
    let out = sh(&h3.ns, &format!("ping -c 2 -W 1 -i 0.2 {}", silent.ip()));
    assert!(out.contains(" 0% packet loss"), "{out}");

    let before = Instant::now();
    f.migrate(&mut silent, 0).unwrap();
    until(
        &f,
        "the silent VM's MAC+IP follows it back to evpnd (probe)",
        Duration::from_secs(10),
        || {
            fdb_of(&l1.ns, &silent.mac) == Some("local:vm4".into())
                && [l2, l3].iter().all(|l| {
                    fdb_of(&l.ns, &silent.mac) == Some(format!("remote:{}", l1.vtep))
                        && neigh_of(&l.ns, silent.ip()) == Some((silent.mac.clone(), true))
                })
        },
    );
    println!(
        "silent VM leaf2 (FRR) -> leaf1 (evpnd): {}; FRR: {}",
        times(&ws, &f, &silent, FRR, before),
        frr_mac(&f, &silent.mac)
    );
    let stale = sh(
        &l2.ns,
        &format!("bridge fdb show br br100 | grep {}", silent.mac),
    );
    assert!(!stale.contains("vm4"), "stale local FDB on FRR: {stale}");

    // No stale RT-2 left in BGP either: FRR withdrew what it originated, so
    // leaf3 holds the VMs' MAC and MAC+IP routes from leaf1 only.
    for h in [&vm, &silent] {
        until(
            &f,
            "only leaf1's RT-2s for the VMs at leaf3",
            Duration::from_secs(10),
            || {
                let rows = l3
                    .evpnd()
                    .and_then(|e| {
                        e.ctl(&[
                            "show", "bgp", "routes", "--afi", "evpn", "--type", "2", "--mac",
                            &h.mac,
                        ])
                    })
                    .unwrap_or(Value::Null);
                rows["routes"].as_array().is_some_and(|r| {
                    r.len() == 2 && r.iter().all(|x| x["next_hop"] == l1.vtep.as_str())
                })
            },
        );
    }
}
