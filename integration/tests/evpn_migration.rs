//! A VM live-migrates between two evpnd leaves (a spine reflects) and keeps
//! its IP: the anycast gateway answers on every leaf with the same MAC, the
//! fabric follows the move (both leaves' kernels point the MAC and the IP at
//! the new leaf), nothing stale stays on the old leaf, and a silent VM
//! (only QEMU's RARP announce) still gets its MAC+IP route moved.
//!
//! Measured and printed: the loss window of a ping running across the move
//! and the fabric convergence time from port-up on the new leaf.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration test: a failed setup step is a test failure"
)]

use std::process::Child;
use std::time::Duration;

use integration::fabric::{Fabric, Host, VniSpec, GATEWAY_MAC};
use integration::{skip_unless, Netns};

fn sh(ns: &Netns, cmd: &str) -> String {
    integration::fabric::sh(ns, cmd)
}

fn fdb_of(leaf: &Netns, mac: &str) -> Option<String> {
    integration::fabric::fdb_of(leaf, 100, mac)
}

fn neigh_of(leaf: &Netns, ip: &str) -> Option<(String, bool)> {
    integration::fabric::neigh_of(leaf, 100, ip)
}

/// Poll (1 ms apart, bounded) until `f` holds; the time it took. On a
/// timeout fail with what every leaf's daemon and kernel hold.
fn until(fab: &Fabric, what: &str, limit: Duration, f: impl FnMut() -> bool) -> Duration {
    fab.until(what, limit, Duration::from_millis(1), f)
        .unwrap_or_else(|e| panic!("{e:#}"))
}

fn pinger(h: &Host, dst: &str, count: u32) -> Child {
    integration::fabric::pinger(h, dst, count).unwrap()
}

fn loss(child: Child, sent: u32) -> (u32, u32) {
    integration::fabric::loss(child, sent).unwrap()
}

#[test]
fn vm_migrates_between_evpnd_leaves_and_keeps_its_ip() {
    if skip_unless(true, &["ping", "bridge"]) {
        return;
    }
    let vnis = [VniSpec::new(100, "10.1.0.1/24")];
    let f = Fabric::new(
        "migration",
        2,
        &vnis,
        "[duplicate_detection]\nmax_moves = 10\nwindow = 60\n",
    )
    .unwrap();
    let (l1, l2) = (&f.leaves[0], &f.leaves[1]);
    let mut vm = f
        .host(0, 100, "vm1", "02:00:00:00:01:01", "10.1.0.11/24")
        .unwrap();
    let h2 = f
        .host(1, 100, "h2", "02:00:00:00:02:02", "10.1.0.12/24")
        .unwrap();
    let mut silent = f
        .host(0, 100, "vm3", "02:00:00:00:03:03", "10.1.0.13/24")
        .unwrap();

    // The anycast gateway answers every host, on every leaf, with one MAC.
    for h in [&vm, &h2, &silent] {
        let out = sh(
            &h.ns,
            "ping -c 2 -W 1 -i 0.2 10.1.0.1 >/dev/null; ip neigh show 10.1.0.1",
        );
        assert!(
            out.contains(GATEWAY_MAC),
            "{}: gateway neighbour {out:?}",
            h.ip()
        );
    }
    // Host to host across VXLAN, then every leaf knows where each lives.
    let out = sh(&vm.ns, "ping -c 3 -W 1 -i 0.2 10.1.0.12");
    assert!(out.contains(" 0% packet loss"), "{out}");
    until(
        &f,
        "leaf2 points vm at leaf1",
        Duration::from_secs(10),
        || {
            fdb_of(&l2.ns, &vm.mac) == Some(format!("remote:{}", l1.vtep))
                && neigh_of(&l2.ns, vm.ip()) == Some((vm.mac.clone(), true))
        },
    );
    until(
        &f,
        "leaf2 has the silent VM's MAC+IP from leaf1",
        Duration::from_secs(10),
        || neigh_of(&l2.ns, silent.ip()) == Some((silent.mac.clone(), true)),
    );

    // Migrate the active VM under ping (to h2 and to the gateway).
    let count = 400;
    let p_h2 = pinger(&vm, h2.ip(), count);
    let p_gw = pinger(&vm, "10.1.0.1", count);
    std::thread::sleep(Duration::from_millis(1000));
    let up = f.migrate(&mut vm, 1).unwrap();
    let mac_done = until(
        &f,
        "fabric follows the MAC",
        Duration::from_secs(10),
        || {
            fdb_of(&l1.ns, &vm.mac) == Some(format!("remote:{}", l2.vtep))
                && fdb_of(&l2.ns, &vm.mac) == Some("local:vm1".into())
        },
    );
    let ip_done = until(&f, "fabric follows the IP", Duration::from_secs(10), || {
        neigh_of(&l1.ns, vm.ip()) == Some((vm.mac.clone(), true))
            && neigh_of(&l2.ns, vm.ip()).is_some_and(|(m, ours)| m == vm.mac && !ours)
    }) + mac_done;
    let (gap_h2, got_h2) = loss(p_h2, count);
    let (gap_gw, got_gw) = loss(p_gw, count);
    println!(
        "active VM leaf1 -> leaf2: MAC converged {:.1} ms, IP {:.1} ms after port-up; \
         loss window to h2 {} ms ({got_h2}/{count} replies), to the gateway {} ms ({got_gw}/{count})",
        mac_done.as_secs_f64() * 1e3,
        ip_done.as_secs_f64() * 1e3,
        gap_h2 * 10,
        gap_gw * 10,
    );
    let _ = up;
    // Bounded loss (the port move itself cuts the link for some ms).
    assert!(gap_h2 <= 100, "lost {gap_h2} pings in a row to h2");
    assert!(gap_gw <= 100, "lost {gap_gw} pings in a row to the gateway");
    // Nothing stale on leaf1: the MAC is remote there, the neighbour ours.
    let stale = sh(
        &l1.ns,
        &format!("bridge fdb show br br100 | grep {}", vm.mac),
    );
    assert!(!stale.contains("vm1"), "stale local FDB on leaf1: {stale}");

    // A silent VM: it only sends QEMU's RARP announce, never an IP packet.
    let up = f.migrate(&mut silent, 1).unwrap();
    let t = until(
        &f,
        "the silent VM's MAC+IP follows it",
        Duration::from_secs(10),
        || {
            fdb_of(&l1.ns, &silent.mac) == Some(format!("remote:{}", l2.vtep))
                && neigh_of(&l1.ns, silent.ip()) == Some((silent.mac.clone(), true))
        },
    );
    let _ = up;
    println!(
        "silent VM leaf1 -> leaf2: MAC+IP at leaf1 points to leaf2 {:.1} ms after port-up",
        t.as_secs_f64() * 1e3
    );
    // It still answers at the same IP, from its new leaf.
    let out = sh(&h2.ns, "ping -c 2 -W 1 -i 0.2 10.1.0.13");
    assert!(out.contains(" 0% packet loss"), "{out}");

    // And back to leaf1 (the move back raises the sequence number again).
    f.migrate(&mut vm, 0).unwrap();
    until(
        &f,
        "the VM is back on leaf1",
        Duration::from_secs(10),
        || {
            fdb_of(&l2.ns, &vm.mac) == Some(format!("remote:{}", l1.vtep))
                && fdb_of(&l1.ns, &vm.mac) == Some("local:vm1".into())
        },
    );
    let out = sh(&vm.ns, "ping -c 2 -W 1 -i 0.2 10.1.0.12");
    assert!(out.contains(" 0% packet loss"), "{out}");
}
