//! The DC core learns where each VM lives from the leaves' host routes:
//! two evpnd leaves, an evpnd spine (route reflector) and an FRR core
//! router (AS 65100, eBGP multihop to every leaf, IPv4 unicast). Every
//! leaf exports the /32 of its local hosts in the IP-VRF to the core only
//! (`export_host_routes`). A VM migrates leaf1 → leaf2: the core's /32
//! moves from next hop 10.0.1.2 to 10.0.2.2 and never ends with both or
//! neither; the same for a silent VM (QEMU's RARP only) and with host
//! routes of two VNIs of the VRF at once.
//!
//! Measured and printed: when the core's BGP table (and zebra's RIB) point
//! at the new leaf, from port-up on the new leaf.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "integration test: a failed setup step is a test failure"
)]

use std::time::{Duration, Instant, SystemTime};

use integration::fabric::{
    Core, CoreUpdate, Fabric, FabricSpec, Host, LeafKind, VniSpec, VrfSpec, CORE_ADDR,
};
use integration::{skip_unless, Netns};

fn sh(ns: &Netns, cmd: &str) -> String {
    integration::fabric::sh(ns, cmd)
}

/// The core's view of `ip/32`: BGP paths' next hops and zebra's selected
/// next hops.
fn core_view(core: &Core, ip: &str) -> (Vec<String>, Vec<String>) {
    let p = format!("{ip}/32");
    (
        core.bgp_next_hops(&p).unwrap_or_default(),
        core.rib_next_hops(&p).unwrap_or_default(),
    )
}

/// On a timeout: what the leaves' daemons and the core hold, then panic.
fn dump_and_fail(f: &Fabric, what: &str) -> ! {
    for l in &f.leaves {
        println!(
            "---- {} ({}): evpnctl show bgp routes ipv4\n{}\n---- evpn mac\n{}",
            l.name,
            l.vtep,
            l.evpnd()
                .and_then(|e| e.ctl(&["show", "bgp", "routes", "--afi", "ipv4"]))
                .map(|v| v.to_string())
                .unwrap_or_else(|e| e.to_string()),
            l.evpnd()
                .and_then(|e| e.ctl(&["show", "evpn", "mac"]))
                .map(|v| v.to_string())
                .unwrap_or_else(|e| e.to_string()),
        );
    }
    if let Some(c) = &f.core {
        println!(
            "---- core: show bgp ipv4 unicast\n{}",
            c.frr.vtysh("show bgp ipv4 unicast").unwrap_or_default()
        );
    }
    panic!("{what}");
}

/// Poll the core until `ip/32` is announced (BGP) and installed (zebra)
/// via `want` only; each poll is two vtysh calls (~50-150 ms here), so
/// the times returned are coarse. Returns (BGP done, RIB done) from `since`.
fn follow(f: &Fabric, ip: &str, want: &str, since: Instant) -> (Duration, Duration) {
    let core = f.core.as_ref().unwrap();
    let want = vec![want.to_string()];
    let mut bgp_done = None;
    while since.elapsed() < Duration::from_secs(15) {
        let (bgp, rib) = core_view(core, ip);
        let at = since.elapsed();
        if bgp != want {
            bgp_done = None;
        } else if bgp_done.is_none() {
            bgp_done = Some(at);
        }
        if let (Some(b), true) = (bgp_done, rib == want) {
            return (b, at);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    dump_and_fail(
        f,
        &format!("the core does not reach {ip}/32 via {want:?} only"),
    );
}

/// What the core went through for one move, from bgpd's receive log
/// (microsecond timestamps), relative to port-up on the new leaf.
#[derive(Debug)]
struct Moved {
    /// The new leaf's announcement arrived.
    announced: f64,
    /// The old leaf's withdrawal arrived.
    withdrawn: f64,
    /// Time with no path at all / with both paths (ms).
    neither: f64,
    both: f64,
}

/// `ip` moved from the leaf at `from` to the one at `to`, its port up
/// there at `up`: wait for the core to hold only `to` (BGP and zebra), then
/// reconstruct the core's path set from bgpd's log of received UPDATEs.
fn moved(f: &Fabric, ip: &str, from: &str, to: &str, up: Instant) -> Moved {
    let wall_up = SystemTime::now() - up.elapsed();
    let (bgp, rib) = follow(f, ip, to, up);
    println!(
        "   vtysh polls: BGP via {to} only at {:.0} ms, zebra at {:.0} ms (coarse)",
        bgp.as_secs_f64() * 1e3,
        rib.as_secs_f64() * 1e3
    );
    let core = f.core.as_ref().unwrap();
    let prefix = format!("{ip}/32");
    let ms = |t: SystemTime| match t.duration_since(wall_up) {
        Ok(d) => d.as_secs_f64() * 1e3,
        Err(e) => -e.duration().as_secs_f64() * 1e3,
    };
    // The updates of this move: from 3 s before port-up on.
    let relevant = |u: &CoreUpdate| ms(u.at) > -3000.0;
    let t = Instant::now();
    let events = loop {
        let ev: Vec<CoreUpdate> = core.updates(&prefix).into_iter().filter(relevant).collect();
        let got = |peer: &str, announce: bool| {
            ev.iter().any(|u| u.peer == peer && u.announce == announce)
        };
        if got(to, true) && got(from, false) {
            break ev;
        }
        if t.elapsed() > Duration::from_secs(5) {
            dump_and_fail(
                f,
                &format!(
                    "bgpd logged no announce from {to} + withdraw from {from} for {prefix}: {ev:?}"
                ),
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut paths = std::collections::BTreeSet::from([from.to_string()]);
    let (mut neither, mut both) = (0.0, 0.0);
    let mut prev = None::<f64>;
    let (mut announced, mut withdrawn) = (f64::NAN, f64::NAN);
    for u in &events {
        let at = ms(u.at);
        if let Some(p) = prev {
            match paths.len() {
                0 => neither += at - p,
                2 => both += at - p,
                _ => {}
            }
        }
        prev = Some(at);
        if u.announce {
            paths.insert(u.peer.clone());
        } else {
            paths.remove(&u.peer);
        }
        if u.peer == to && u.announce {
            announced = at;
        }
        if u.peer == from && !u.announce {
            withdrawn = at;
        }
        println!(
            "   {at:+8.1} ms  core received {} {prefix} from {}  → paths {paths:?}",
            if u.announce { "announce" } else { "withdraw" },
            u.peer
        );
    }
    assert_eq!(
        paths,
        std::collections::BTreeSet::from([to.to_string()]),
        "the core's paths for {prefix} after the move (from its log)"
    );
    Moved {
        announced,
        withdrawn,
        neither,
        both,
    }
}

/// The core keeps exactly `want` for `ip/32` for `hold` (no late
/// withdrawal, no stale second path).
fn stays(f: &Fabric, ip: &str, want: &str, hold: Duration) {
    let core = f.core.as_ref().unwrap();
    let t = Instant::now();
    while t.elapsed() < hold {
        let (bgp, rib) = core_view(core, ip);
        if bgp != [want] || rib != [want] {
            dump_and_fail(
                f,
                &format!("{ip}/32 at the core changed to BGP {bgp:?} RIB {rib:?}, want {want}"),
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn report(what: &str, m: &Moved) {
    println!(
        "{what}: core got the new leaf's /32 at {:+.1} ms, the old leaf's withdrawal at {:+.1} ms \
         (from port-up); no path for {:.1} ms, both paths for {:.1} ms",
        m.announced, m.withdrawn, m.neither, m.both
    );
    // Bounded: the new leaf announces within 2 s of port-up.
    assert!(
        m.announced < 2000.0,
        "{what}: announced at {} ms",
        m.announced
    );
}

fn ping_ok(h: &Host, dst: &str) -> bool {
    sh(&h.ns, &format!("ping -c 2 -W 1 -i 0.2 {dst}")).contains(" 0% packet loss")
}

#[test]
fn core_router_follows_vm_host_routes_across_a_migration() {
    if skip_unless(true, &["ping", "bridge", "/usr/lib/frr/bgpd", "vtysh"]) {
        return;
    }
    let f = Fabric::build(&FabricSpec {
        label: "core".into(),
        leaves: vec![LeafKind::Evpnd; 2],
        vnis: vec![
            VniSpec::new(100, "10.1.0.1/24").in_vrf("tenant1"),
            VniSpec::new(200, "10.2.0.1/24").in_vrf("tenant1"),
        ],
        vrfs: vec![VrfSpec::new("tenant1", 5000)
            .export_host_routes(&[CORE_ADDR], &["10.1.0.0/16", "10.2.0.0/16"])],
        core: true,
        leaf_extra: "[duplicate_detection]\nmax_moves = 10\nwindow = 60\n".into(),
        ..FabricSpec::default()
    })
    .unwrap();
    let (l1, l2) = (&f.leaves[0], &f.leaves[1]);
    let mut vm = f
        .host(0, 100, "vm1", "02:00:00:00:01:01", "10.1.0.11/24")
        .unwrap();
    let mut silent = f
        .host(0, 100, "vm3", "02:00:00:00:03:03", "10.1.0.13/24")
        .unwrap();
    // A host of the other VNI of the VRF, on leaf2.
    let h200 = f
        .host(1, 200, "h200", "02:00:00:00:02:02", "10.2.0.12/24")
        .unwrap();
    // Each host talks to its gateway once: the leaf learns its MAC+IP.
    for h in [&vm, &silent, &h200] {
        let gw = if h.vni == 100 { "10.1.0.1" } else { "10.2.0.1" };
        assert!(ping_ok(h, gw), "{} to its gateway", h.ip());
    }
    let t0 = Instant::now();
    for (h, at) in [(&vm, &l1.vtep), (&silent, &l1.vtep), (&h200, &l2.vtep)] {
        follow(&f, h.ip(), at, t0);
        stays(&f, h.ip(), at, Duration::from_millis(300));
    }
    println!(
        "core has the three /32s (two VNIs) {:.0} ms after the first pings",
        t0.elapsed().as_secs_f64() * 1e3
    );
    // Only the core gets them: the spine (an iBGP IPv4 peer of every leaf)
    // holds no host route.
    let spine = f
        .spine_evpnd
        .ctl(&["show", "bgp", "routes", "--afi", "ipv4"])
        .unwrap()
        .to_string();
    assert!(
        !spine.contains("10.1.0.11") && !spine.contains("10.2.0.12"),
        "the spine got host routes: {spine}"
    );

    // The active VM moves leaf1 → leaf2 while pinging the gateway.
    let p = integration::fabric::pinger(&vm, "10.1.0.1", 300).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    println!("== VM 10.1.0.11 leaf1 -> leaf2 (times from port-up on leaf2)");
    let up = f.migrate(&mut vm, 1).unwrap();
    let m = moved(&f, vm.ip(), &l1.vtep, &l2.vtep, up);
    report("active VM", &m);
    let (gap, got) = integration::fabric::loss(p, 300).unwrap();
    println!(
        "   ping to the gateway across the move: longest gap {} ms, {got}/300 replies",
        gap * 10
    );
    stays(&f, vm.ip(), &l2.vtep, Duration::from_secs(2));
    // leaf1 no longer originates it.
    let r1 = l1
        .evpnd()
        .unwrap()
        .ctl(&["show", "bgp", "routes", "--afi", "ipv4"])
        .unwrap()
        .to_string();
    assert!(
        !r1.contains("10.1.0.11/32"),
        "leaf1 still has 10.1.0.11/32: {r1}"
    );
    // The other hosts did not move.
    assert_eq!(
        core_view(f.core.as_ref().unwrap(), h200.ip()).0,
        [l2.vtep.as_str()]
    );
    assert_eq!(
        core_view(f.core.as_ref().unwrap(), silent.ip()).0,
        [l1.vtep.as_str()]
    );

    // The silent VM: only the RARP announce, never an IP packet.
    println!("== silent VM 10.1.0.13 leaf1 -> leaf2 (RARP only)");
    let up = f.migrate(&mut silent, 1).unwrap();
    let m = moved(&f, silent.ip(), &l1.vtep, &l2.vtep, up);
    report("silent VM", &m);
    stays(&f, silent.ip(), &l2.vtep, Duration::from_secs(2));

    // And the active VM back to leaf1.
    println!("== VM 10.1.0.11 leaf2 -> leaf1");
    let up = f.migrate(&mut vm, 0).unwrap();
    let m = moved(&f, vm.ip(), &l2.vtep, &l1.vtep, up);
    report("move back", &m);
    stays(&f, vm.ip(), &l1.vtep, Duration::from_secs(1));
    // The core forwards to the VM's new leaf: zebra's kernel route.
    let kernel = sh(&f.core.as_ref().unwrap().ns, "ip route show 10.1.0.11");
    assert!(
        kernel.contains("via 10.0.254.1") && kernel.contains("proto bgp"),
        "{kernel}"
    );
}
