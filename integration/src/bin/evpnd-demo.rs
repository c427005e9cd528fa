//! `make demo`: a live EVPN fabric in network namespaces where a VM
//! migrates between leaves under ping and keeps its IP.
//!
//! A spine (evpnd, route reflector) and three evpnd leaves programming the
//! real kernel; VNI 100 with the anycast gateway 10.1.0.1 on every leaf; a
//! VM (10.1.0.11) on leaf1 and a peer host on each other leaf. The VM pings
//! the host on leaf2 and the gateway every 10 ms while it moves
//! leaf1 → leaf3 → leaf1 (its port moves, QEMU's RARP is sent). For each
//! move the demo prints a timeline in ms from port-up (MAC and IP pointing
//! at the new leaf on every other leaf), the ping loss window, and
//! `evpnctl trace` of the VM before and after. Everything is torn down at
//! the end (also on failure).
//!
//! `--quick` does one move instead of two (used by the test suite).

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use integration::fabric::{fdb_of, loss, neigh_of, pinger, Fabric, Host, VniSpec};

fn main() {
    if let Err(e) = run() {
        eprintln!("evpnd-demo: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    if !integration::have_root() {
        bail!("the demo needs root (network namespaces)");
    }
    let t0 = Instant::now();
    let vnis = [VniSpec::new(100, "10.1.0.1/24")];
    println!("== building the fabric: spine (route reflector) + 3 evpnd leaves, VNI 100, anycast gateway 10.1.0.1");
    let f = Fabric::new(
        "demo",
        3,
        &vnis,
        "[duplicate_detection]\nmax_moves = 10\nwindow = 60\n",
    )?;
    let mut vm = f.host(0, 100, "vm", "02:00:00:00:01:01", "10.1.0.11/24")?;
    let h2 = f.host(1, 100, "h2", "02:00:00:00:02:02", "10.1.0.12/24")?;
    let _h3 = f.host(2, 100, "h3", "02:00:00:00:03:03", "10.1.0.13/24")?;
    println!(
        "   fabric up in {:.1} s (leaves' VTEPs: {})",
        t0.elapsed().as_secs_f64(),
        f.leaves
            .iter()
            .map(|l| l.vtep.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    // The VM talks once so every leaf knows its MAC and IP.
    let out = integration::fabric::sh(
        &vm.ns,
        "ping -c 2 -i 0.2 -W 1 10.1.0.1 >/dev/null; ping -c 3 -i 0.2 -W 1 10.1.0.12",
    );
    if !out.contains(" 0% packet loss") {
        bail!("the VM cannot reach h2 before the move:\n{out}");
    }
    wait_fabric(&f, &vm, Duration::from_secs(10))?;
    trace(&f, &vm, "before the moves");

    let moves: &[usize] = if quick { &[2] } else { &[2, 0] };
    for &to in moves {
        let from = vm.at;
        let count = 300;
        let p_h2 = pinger(&vm, h2.ip(), count)?;
        let p_gw = pinger(&vm, "10.1.0.1", count)?;
        std::thread::sleep(Duration::from_millis(800));
        println!(
            "\n== migrating the VM leaf{} -> leaf{} under ping (10 ms interval)",
            from + 1,
            to + 1
        );
        let up = f.migrate(&mut vm, to)?;
        let vtep = f.leaves[to].vtep.clone();
        let mut mac_at = vec![None; f.leaves.len()];
        let mut ip_at = vec![None; f.leaves.len()];
        let deadline = up + Duration::from_secs(10);
        while Instant::now() < deadline
            && (mac_at.iter().any(Option::is_none) || ip_at.iter().any(Option::is_none))
        {
            for (i, l) in f.leaves.iter().enumerate() {
                let want_mac = if i == to {
                    Some(format!("local:{}", vm.port))
                } else {
                    Some(format!("remote:{vtep}"))
                };
                if mac_at[i].is_none() && fdb_of(&l.ns, 100, &vm.mac) == want_mac {
                    mac_at[i] = Some(up.elapsed());
                }
                let n = neigh_of(&l.ns, 100, vm.ip());
                let ok = n.is_some_and(|(m, ours)| m == vm.mac && ours == (i != to));
                if ip_at[i].is_none() && ok {
                    ip_at[i] = Some(up.elapsed());
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        println!("   timeline (ms after the port came up on leaf{}):", to + 1);
        for (i, l) in f.leaves.iter().enumerate() {
            let ms = |d: Option<Duration>| {
                d.map_or("not converged".to_string(), |d| {
                    format!("{:7.1}", d.as_secs_f64() * 1e3)
                })
            };
            let role = if i == to {
                "new leaf (local)"
            } else {
                "points at new leaf"
            };
            println!(
                "     leaf{} {:<15} MAC {}   IP {}   [{role}]",
                i + 1,
                l.vtep,
                ms(mac_at[i]),
                ms(ip_at[i])
            );
        }
        let (gap_h2, got_h2) = loss(p_h2, count)?;
        let (gap_gw, got_gw) = loss(p_gw, count)?;
        println!(
            "   loss window: to h2 {} ms ({got_h2}/{count} replies), to the gateway {} ms ({got_gw}/{count})",
            gap_h2 * 10,
            gap_gw * 10
        );
        if mac_at.iter().chain(&ip_at).any(Option::is_none) {
            bail!("the fabric did not converge within 10 s");
        }
        trace(&f, &vm, &format!("after the move to leaf{}", to + 1));
    }
    println!(
        "\n== done in {:.1} s; tearing the fabric down",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Every leaf's kernel knows the VM where it is now.
fn wait_fabric(f: &Fabric, vm: &Host, limit: Duration) -> Result<()> {
    let t = Instant::now();
    let vtep = &f.leaves[vm.at].vtep;
    while t.elapsed() < limit {
        let ok = f.leaves.iter().enumerate().all(|(i, l)| {
            i == vm.at || fdb_of(&l.ns, 100, &vm.mac) == Some(format!("remote:{vtep}"))
        });
        if ok {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    bail!("the fabric did not learn the VM within {limit:?}")
}

/// `evpnctl trace <VM IP>` on every leaf, one line each (the full JSON has
/// every route; `evpnctl --json trace IP` shows it).
fn trace(f: &Fabric, vm: &Host, when: &str) {
    println!("   evpnctl trace {} ({when}):", vm.ip());
    for (i, l) in f.leaves.iter().enumerate() {
        match l.evpnd().and_then(|e| e.ctl(&["trace", vm.ip()])) {
            Ok(v) => {
                let hosts = v["hosts"].as_array().cloned().unwrap_or_default();
                if hosts.is_empty() {
                    println!("     leaf{}: not known", i + 1);
                }
                for h in hosts {
                    let routes = h["routes"].as_array().map_or(0, Vec::len);
                    println!(
                        "     leaf{}: {} {} {} port={} vtep={} seq={} frozen={} ({routes} RT-2 routes)",
                        i + 1,
                        h["mac"].as_str().unwrap_or("?"),
                        h["ip"].as_str().unwrap_or("-"),
                        h["location"].as_str().unwrap_or("?"),
                        h["port"].as_str().unwrap_or("-"),
                        h["vtep"].as_str().unwrap_or("-"),
                        h["seq"],
                        h["frozen"],
                    );
                }
            }
            Err(e) => println!("     leaf{}: {e:#}", i + 1),
        }
    }
}
