//! `make bench-migration` (issue 7): live-migration convergence and loss,
//! FRR 8.4 leaves against evpnd leaves.
//!
//! Per daemon a fresh fabric: the spine is evpnd as route reflector (the
//! same for both runs, `--no-dataplane`), three leaves of that daemon, VNI
//! 100 with the anycast gateway on every leaf (FRR: the manual recipe on the
//! bridge), duplicate detection raised so 20 moves do not trip it.
//! Hosts: `ht1..ht3` (one per leaf, targets), an active VM `vm` and a
//! silent VM `sv` (only QEMU's RARP announce and its replies to probes).
//!
//! Per move (round robin leaf1 → leaf2 → leaf3 → leaf1 …, first the active
//! VM, then the silent one), from the moment the VM's port is up on the
//! new leaf (the kernel's RTM_NEWLINK, read by [`Watcher`]):
//! - convergence: until every leaf's kernel points the MAC at the new leaf
//!   (bridge FDB on the VXLAN device with the new VTEP; local on the new
//!   leaf), and the IP (remote `extern_learn` neighbour with that MAC,
//!   kernel-learnt on the new leaf) — from netlink notifications;
//! - loss beyond port-up: ICMP probes every 1 ms, from the active VM to the
//!   target on the third leaf (and to the gateway, as a VM's routed
//!   traffic does), and to the silent VM from the target on the third leaf;
//!   a probe with no reply within 100 ms is lost; lost probes sent after
//!   port-up × 1 ms;
//! - the veth move itself (link down on the old leaf → port up on the new).
//!
//! Env: `EVPND_BENCH_MOVES` (20 per VM and daemon), `EVPND_BENCH_ONLY`
//! (`evpnd` or `frr`), `EVPND_BENCH_SETTLE_MS` (per move at least 1000:
//! QEMU's announce lasts 800 ms), `EVPND_BENCH_CAP_MS` (2000: a move that
//! has not converged by then counts as not converged).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark: a failed setup step aborts it"
)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use evpn_proto::Mac;
use integration::fabric::{Fabric, FabricSpec, Host, LeafKind, VniSpec};
use integration::probe::Prober;
use integration::watch::{self, Event, WatchSpec, Watcher};

const VNI: u32 = 100;
const GW: &str = "10.1.0.1";
const PROBE: Duration = Duration::from_millis(1);
/// A reply later than this counts as lost: an outage, even if a packet
/// queued behind an unresolved ARP entry is answered eventually.
const GRACE: Duration = Duration::from_millis(100);

fn env_u64(k: &str, d: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// One move's measurements (ms; None = did not happen within the cap).
#[derive(Debug, Clone, Default)]
struct Move {
    veth: Option<f64>,
    /// Port up → the port forwards (IFF_RUNNING, the kernel's linkwatch).
    fwd: Option<f64>,
    mac: Option<f64>,
    ip: Option<f64>,
    loss: Option<f64>,
    /// Loss from the moment the port forwards on the new leaf.
    loss_fwd: Option<f64>,
}

#[derive(Debug, Default)]
struct Results {
    active: Vec<Move>,
    silent: Vec<Move>,
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    if !integration::have_root() {
        println!("SKIPPED: needs root (network namespaces)");
        return;
    }
    let only = std::env::var("EVPND_BENCH_ONLY").unwrap_or_default();
    let started = Instant::now();
    let mut res = Vec::new();
    for (name, kind) in [("evpnd", LeafKind::Evpnd), ("FRR 8.4", LeafKind::Frr)] {
        let key = if kind == LeafKind::Frr {
            "frr"
        } else {
            "evpnd"
        };
        if !only.is_empty() && !only.split(',').any(|o| o == key) {
            continue;
        }
        if kind == LeafKind::Frr && integration::skip_unless(true, &["vtysh", "/usr/lib/frr/zebra"])
        {
            continue;
        }
        match run(kind) {
            Ok(r) => res.push((name, r)),
            Err(e) => {
                eprintln!("bench-migration: {name}: {e:#}");
                std::process::exit(1);
            }
        }
    }
    report(&res);
    println!("(whole run {:.0} s)", started.elapsed().as_secs_f64());
}

fn run(kind: LeafKind) -> Result<Results> {
    let moves = env_u64("EVPND_BENCH_MOVES", 20) as usize;
    let settle = Duration::from_millis(env_u64("EVPND_BENCH_SETTLE_MS", 1000).max(1000));
    let cap = Duration::from_millis(env_u64("EVPND_BENCH_CAP_MS", 2000));
    let label = if kind == LeafKind::Frr {
        "bench-mig-frr"
    } else {
        "bench-mig-evpnd"
    };
    println!(
        "== {}: spine (evpnd route reflector) + 3 {} leaves, {moves} moves per VM",
        if kind == LeafKind::Frr {
            "FRR"
        } else {
            "evpnd"
        },
        if kind == LeafKind::Frr {
            "FRR 8.4"
        } else {
            "evpnd"
        }
    );
    let f = Fabric::build(&FabricSpec {
        label: label.into(),
        leaves: vec![kind; 3],
        vnis: vec![VniSpec::new(VNI, "10.1.0.1/24")],
        leaf_extra: "[duplicate_detection]\nmax_moves = 1000\nwindow = 600\n".into(),
        frr_evpn_extra: "  dup-addr-detection max-moves 1000 time 1800".into(),
        ..FabricSpec::default()
    })?;
    let targets: Vec<Host> = (0..3)
        .map(|i| {
            f.host(
                i,
                VNI,
                &format!("ht{}", i + 1),
                &format!("02:00:00:00:0a:0{}", i + 1),
                &format!("10.1.0.{}/24", 21 + i),
            )
        })
        .collect::<Result<_>>()?;
    let mut vm = f.host(0, VNI, "vm", "02:00:00:00:01:01", "10.1.0.11/24")?;
    let mut sv = f.host(0, VNI, "sv", "02:00:00:00:02:02", "10.1.0.12/24")?;
    // Everyone talks once: every leaf knows every host (MAC and IP).
    for h in targets.iter().chain([&vm, &sv]) {
        let out = integration::fabric::sh(&h.ns, &format!("ping -c 2 -i 0.2 -W 1 {GW}"));
        if !out.contains(" 0% packet loss") {
            bail!("{} cannot reach the gateway: {out}", h.ip());
        }
    }
    for t in &targets {
        for h in [&vm, &sv] {
            let out = integration::fabric::sh(&h.ns, &format!("ping -c 1 -W 1 {}", t.ip()));
            if !out.contains(" 0% packet loss") {
                bail!("{} cannot reach {}: {out}", h.ip(), t.ip());
            }
        }
    }
    let spec = WatchSpec {
        // The targets too: a loss can come from their entries.
        macs: [&vm, &sv]
            .into_iter()
            .chain(&targets)
            .map(|h| mac(&h.mac))
            .collect::<Result<_>>()?,
        ips: [&vm, &sv]
            .into_iter()
            .chain(&targets)
            .map(|h| ip(h.ip()))
            .collect::<Result<_>>()?,
        ports: vec!["vm".into(), "sv".into()],
        max_events: 200_000,
    };
    let watchers: Vec<Watcher> = f
        .leaves
        .iter()
        .map(|l| Watcher::start(&l.ns, spec.clone()))
        .collect::<Result<_>>()?;
    // Debug only: the hosts' own neighbour tables (where a probe's ARP
    // can fail).
    let host_watch: Vec<Watcher> = if std::env::var_os("EVPND_BENCH_DEBUG").is_some() {
        targets
            .iter()
            .chain([&sv])
            .map(|h| Watcher::start(&h.ns, spec.clone()))
            .collect::<Result<_>>()?
    } else {
        Vec::new()
    };
    // Debug only: packet captures (`EVPND_BENCH_PCAP=DIR`): every host's
    // eth0 (all frames, headers only) and every leaf's ARP/RARP on all its
    // devices. Killed with their namespaces.
    let _pcaps: Vec<std::process::Child> = match std::env::var_os("EVPND_BENCH_PCAP") {
        Some(dir) => {
            let dir = std::path::PathBuf::from(dir);
            std::fs::create_dir_all(&dir)?;
            let mut v = Vec::new();
            let hosts = targets.iter().chain([&vm, &sv]);
            for h in hosts {
                let file = dir.join(format!("host-{}.pcap", h.port));
                v.push(
                    h.ns.command("tcpdump")
                        .args(["-i", "eth0", "-U", "-s", "96", "-w"])
                        .arg(&file)
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .spawn()?,
                );
            }
            for l in &f.leaves {
                let file = dir.join(format!("{}.pcap", l.name));
                v.push(
                    l.ns.command("tcpdump")
                        .args(["-i", "any", "-y", "LINUX_SLL2", "-U", "-s", "128", "-w"])
                        .arg(&file)
                        .args(["arp or rarp or (udp port 4789 and (udp[28:2] = 0x0806 or udp[28:2] = 0x8035))"])
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .spawn()?,
                );
            }
            std::thread::sleep(Duration::from_millis(500));
            v
        }
        None => Vec::new(),
    };
    let vteps: Vec<IpAddr> = f
        .leaves
        .iter()
        .map(|l| ip(&l.vtep))
        .collect::<Result<_>>()?;
    // Probers: the active VM to each target and the gateway; each target
    // to the silent VM.
    let max_rounds = 1_000_000;
    let mut tips: Vec<Ipv4Addr> = targets
        .iter()
        .map(|t| t.ip().parse())
        .collect::<std::result::Result<_, _>>()?;
    tips.push(GW.parse()?);
    let vm_probe = Prober::start(&vm.ns, &tips, PROBE, max_rounds)?;
    let sv_ip: Ipv4Addr = sv.ip().parse()?;
    let sv_probes: Vec<Prober> = targets
        .iter()
        .map(|t| Prober::start(&t.ns, &[sv_ip], PROBE, max_rounds))
        .collect::<Result<_>>()?;
    std::thread::sleep(Duration::from_millis(500));

    let mut res = Results::default();
    for i in 0..moves {
        for silent in [false, true] {
            let h: &mut Host = if silent { &mut sv } else { &mut vm };
            let from = h.at;
            let to = (from + 1) % 3;
            let third = 3 - from - to;
            let before = Instant::now();
            let debug = std::env::var_os("EVPND_BENCH_DEBUG").is_some();
            let tx_dropped = |h: &Host| -> u64 {
                integration::fabric::sh(&h.ns, "cat /sys/class/net/eth0/statistics/tx_dropped")
                    .trim()
                    .parse()
                    .unwrap_or(0)
            };
            let drops_before = if debug { tx_dropped(h) } else { 0 };
            // The VM is paused for the switch-over: it sends nothing until
            // it runs on the new host (its port is up there).
            if !silent {
                vm_probe.pause(true);
            }
            let moved = f.migrate(h, to);
            vm_probe.pause(false);
            moved?;
            let target = watch::Target {
                mac: mac(&h.mac)?,
                ip: ip(h.ip())?,
                port: &h.port,
                to,
                vtep: vteps[to],
            };
            let (mut mv, up, running) = measure(&watchers, &target, from, before, cap, settle);
            if let Some(up) = up {
                let end = up + settle;
                let lost_from = |from: Instant| {
                    if silent {
                        sv_probes[third].lost_between(0, from, end, GRACE)
                    } else {
                        vm_probe.lost_between(third, from, end, GRACE)
                    }
                };
                let (lost, sent) = lost_from(up);
                if sent > 0 {
                    mv.loss = Some(lost as f64 * PROBE.as_secs_f64() * 1e3);
                }
                if let Some(r) = running {
                    let (l, n) = lost_from(r);
                    if n > 0 {
                        mv.loss_fwd = Some(l as f64 * PROBE.as_secs_f64() * 1e3);
                    }
                }
                if lost > 10 {
                    let (p, t) = if silent {
                        (&sv_probes[third], 0)
                    } else {
                        (&vm_probe, third)
                    };
                    println!("     {}", loss_detail(p, t, up, end));
                    if std::env::var_os("EVPND_BENCH_DEBUG").is_some() {
                        for (l, w) in watchers.iter().enumerate() {
                            for e in w.events().iter().filter(|e| e.at >= up && e.at < end) {
                                println!(
                                    "       leaf{} +{:.1} ms {:?}",
                                    l + 1,
                                    e.at.duration_since(up).as_secs_f64() * 1e3,
                                    e.change
                                );
                            }
                        }
                        let rel = |t: Instant| {
                            if t >= up {
                                t.duration_since(up).as_secs_f64() * 1e3
                            } else {
                                -(up.duration_since(t).as_secs_f64() * 1e3)
                            }
                        };
                        for (n, w) in host_watch.iter().enumerate() {
                            for e in w
                                .events()
                                .iter()
                                .filter(|e| e.at + Duration::from_secs(3) >= up && e.at < end)
                            {
                                println!(
                                    "       host{} {:+.1} ms {:?}",
                                    n + 1,
                                    rel(e.at),
                                    e.change
                                );
                            }
                        }
                        let wall = std::time::SystemTime::now() - up.elapsed();
                        println!(
                            "       port-up at {:?} (unix)",
                            wall.duration_since(std::time::UNIX_EPOCH)
                        );
                    }
                }
            }
            if debug {
                println!(
                    "     {} eth0 tx_dropped during the move: {}",
                    h.port,
                    tx_dropped(h).saturating_sub(drops_before)
                );
            }
            println!(
                "   move {:2} {} leaf{} -> leaf{}: veth {} ms, forwarding {} ms, MAC {} ms, IP {} ms, loss after port-up {} ms (after forwarding {} ms)",
                i + 1,
                if silent { "silent" } else { "active" },
                from + 1,
                to + 1,
                fmt(mv.veth),
                fmt(mv.fwd),
                fmt(mv.mac),
                fmt(mv.ip),
                fmt(mv.loss),
                fmt(mv.loss_fwd)
            );
            if silent {
                res.silent.push(mv);
            } else {
                res.active.push(mv);
            }
        }
    }
    for w in &watchers {
        if w.dropped() > 0 {
            println!(
                "   warning: watcher in {} dropped {} events",
                w.netns,
                w.dropped()
            );
        }
    }
    if std::env::var_os("EVPND_BENCH_DEBUG").is_some() {
        let ps = vm_probe.probes();
        for (t, dst) in tips.iter().enumerate() {
            let sent = ps.iter().filter(|p| p.target == t).count();
            let got = ps
                .iter()
                .filter(|p| p.target == t && p.reply.is_some())
                .count();
            println!("   vm -> {dst}: {got}/{sent} replies");
        }
    }
    drop(vm_probe);
    drop(sv_probes);
    Ok(res)
}

fn mac(s: &str) -> Result<Mac> {
    s.parse::<Mac>()
        .map_err(|e| anyhow::anyhow!("MAC {s}: {e}"))
}

fn ip(s: &str) -> Result<IpAddr> {
    s.parse().with_context(|| format!("IP {s}"))
}

fn fmt(v: Option<f64>) -> String {
    v.map_or("  -  ".into(), |x| format!("{x:5.1}"))
}

/// Waits until the move converged everywhere (or `cap` after port-up) and at
/// least `settle` after port-up; returns the measurements and port-up.
fn measure(
    watchers: &[Watcher],
    t: &watch::Target,
    from: usize,
    before: Instant,
    cap: Duration,
    settle: Duration,
) -> (Move, Option<Instant>, Option<Instant>) {
    let hard = before + cap + Duration::from_secs(2);
    loop {
        let now = Instant::now();
        let evs: Vec<Vec<Event>> = watchers.iter().map(Watcher::events).collect();
        let up = watch::port_up_at(&evs[t.to], t.port, Some(before));
        match up {
            Some(u) if now >= u + settle && (now >= u + cap || t.all_ip_ok(&evs)) => break,
            None if now >= hard => break,
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let evs: Vec<Vec<Event>> = watchers.iter().map(Watcher::events).collect();
    let m = watch::move_times(&evs, t, from, before);
    if m.port_up.is_none() {
        eprintln!("   port {} never came up on leaf{}", t.port, t.to + 1);
    }
    (
        Move {
            veth: m.veth_ms,
            fwd: m.running_ms,
            mac: m.mac_ms,
            ip: m.ip_ms,
            loss: None,
            loss_fwd: None,
        },
        m.port_up,
        m.port_running,
    )
}

/// Where the lost probes of a move were (ms after port-up) and whether
/// their replies came late or never.
fn loss_detail(p: &Prober, target: usize, up: Instant, end: Instant) -> String {
    let off = |t: Instant| t.saturating_duration_since(up).as_secs_f64() * 1e3;
    let lost: Vec<_> = p
        .probes()
        .into_iter()
        .filter(|x| x.target == target && x.sent >= up && x.sent < end)
        .filter(|x| x.reply.is_none_or(|r| r.duration_since(x.sent) > GRACE))
        .collect();
    let never = lost.iter().filter(|x| x.reply.is_none()).count();
    let worst = lost
        .iter()
        .filter_map(|x| {
            x.reply
                .map(|r| r.duration_since(x.sent).as_secs_f64() * 1e3)
        })
        .fold(0.0f64, f64::max);
    match (lost.first(), lost.last()) {
        (Some(a), Some(b)) => format!(
            "lost probes sent {:.1}..{:.1} ms after port-up: {} without reply, {} late (worst {worst:.0} ms)",
            off(a.sent),
            off(b.sent),
            never,
            lost.len() - never
        ),
        _ => String::new(),
    }
}

/// min / median / p95 / max of the values present, and how many there were.
fn stats(v: &[Option<f64>]) -> (Option<[f64; 4]>, usize, usize) {
    let mut x: Vec<f64> = v.iter().flatten().copied().collect();
    let n = x.len();
    if x.is_empty() {
        return (None, 0, v.len());
    }
    x.sort_by(f64::total_cmp);
    let q = |p: f64| x[((p * (n - 1) as f64).round() as usize).min(n - 1)];
    (Some([x[0], q(0.5), q(0.95), x[n - 1]]), n, v.len())
}

fn cell(s: &(Option<[f64; 4]>, usize, usize)) -> String {
    match s.0 {
        Some([a, b, c, d]) => {
            let miss = if s.1 < s.2 {
                format!(" ({}/{} converged)", s.1, s.2)
            } else {
                String::new()
            };
            format!("{a:.1} / {b:.1} / {c:.1} / {d:.1}{miss}")
        }
        None => format!("never (0/{})", s.2),
    }
}

fn report(res: &[(&str, Results)]) {
    type Pick = fn(&Move) -> Option<f64>;
    let rows: [(&str, bool, Pick); 10] = [
        ("veth move (link down -> port up)", false, |m| m.veth),
        ("port up -> bridge forwards (linkwatch)", false, |m| m.fwd),
        ("active VM: MAC on every leaf", false, |m| m.mac),
        ("active VM: IP on every leaf", false, |m| m.ip),
        ("active VM: loss after port-up", false, |m| m.loss),
        ("active VM: loss after the port forwards", false, |m| {
            m.loss_fwd
        }),
        ("silent VM: MAC on every leaf", true, |m| m.mac),
        ("silent VM: IP on every leaf", true, |m| m.ip),
        ("silent VM: loss after port-up", true, |m| m.loss),
        ("silent VM: loss after the port forwards", true, |m| {
            m.loss_fwd
        }),
    ];
    println!("\n== migration benchmark: ms after port-up, min / median / p95 / max");
    let names: Vec<&str> = res.iter().map(|(n, _)| *n).collect();
    println!("| metric | {} | median FRR/evpnd |", names.join(" | "));
    println!("|---|{}---|", "---|".repeat(names.len()));
    for (label, silent, pick) in rows {
        let per: Vec<(Option<[f64; 4]>, usize, usize)> = res
            .iter()
            .map(|(_, r)| {
                let v: Vec<Option<f64>> = if silent { &r.silent } else { &r.active }
                    .iter()
                    .map(pick)
                    .collect();
                stats(&v)
            })
            .collect();
        let med = |name: &str| {
            res.iter()
                .position(|(n, _)| n.starts_with(name))
                .and_then(|i| per[i].0.map(|s| s[1]))
        };
        let ratio = match (med("FRR"), med("evpnd")) {
            (Some(a), Some(b)) if b > 0.05 => format!("{:.1}x", a / b),
            (Some(_), Some(_)) => "evpnd ~0".into(),
            (None, Some(_)) => "FRR never".into(),
            _ => "-".into(),
        };
        println!(
            "| {label} | {} | {ratio} |",
            per.iter().map(cell).collect::<Vec<_>>().join(" | ")
        );
    }
}
