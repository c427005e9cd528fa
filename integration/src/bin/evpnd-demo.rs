//! `make demo`: a live EVPN fabric in network namespaces where a VM
//! migrates between leaves under ping and keeps its IP.
//!
//! A spine (evpnd, route reflector), three evpnd leaves programming the
//! real kernel and an FRR core router (eBGP, IPv4 unicast) that receives
//! the hosts' /32 routes. Two L2 VNIs with the anycast gateway `.1` /
//! `00:00:5e:00:01:01` on every leaf — VNI 100 (10.1.0.0/24) and VNI 200
//! (10.2.0.0/24) — route into each other through the IP-VRF `tenant1`
//! (L3 VNI 5000, symmetric IRB). Four hosts: the VM 10.1.0.11 on leaf1, h2
//! 10.1.0.12 on leaf2, h3 10.2.0.13 on leaf3, h4 10.2.0.14 on leaf2.
//!
//! While the VM moves leaf1 → leaf3 → leaf1 (its port moves to the other
//! leaf, it is paused meanwhile as QEMU pauses it, then it sends QEMU's
//! RARP announce), 2 ms ICMP probes run from the VM to h2 (bridged across
//! leaves), to the gateway, and to h3 (routed across VNIs), and from h3 to
//! the VM. Per move the demo prints a timeline in ms from the moment the
//! port is up on the new leaf — read from netlink notifications of every
//! leaf's kernel, evpnd's logs and the core's BGP receive log — the loss
//! window per probe stream and `evpnctl trace` of the VM before and after.
//! `--json FILE` writes the report (default `target/demo/report.json`) and
//! a PNG plot of the timeline next to it. Everything is torn down at the
//! end, also on failure or Ctrl-C.
//!
//! `--quick` does one move instead of two (used by the test suite).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use evpn_proto::Mac;

use integration::fabric::{
    fdb_of, CoreUpdate, Fabric, FabricSpec, Host, LeafKind, VniSpec, VrfSpec, CORE_ADDR,
};
use integration::probe::Prober;
use integration::report::{
    parse_rfc3339_utc, plot, signed_ms, Clocks, DemoReport, Event, MoveReport, NodeInfo,
    PingSeries, VmInfo,
};
use integration::watch::{self, Change, WatchSpec, Watcher};

const VM_MAC: &str = "02:00:00:00:01:01";
const VM_IP: &str = "10.1.0.11";
const GW: &str = "10.1.0.1";
const PROBE: Duration = Duration::from_millis(2);
/// A reply later than this counts as lost.
const GRACE: Duration = Duration::from_millis(100);
/// Probing before the move and after convergence.
const LEAD: Duration = Duration::from_millis(400);
const TAIL: Duration = Duration::from_millis(900);

struct Opts {
    quick: bool,
    json: PathBuf,
    plot: bool,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("evpnd-demo: {e:#}");
        std::process::exit(1);
    }
}

fn opts() -> Result<Opts> {
    let mut o = Opts {
        quick: false,
        json: PathBuf::from("target/demo/report.json"),
        plot: true,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--no-plot" => o.plot = false,
            "--json" => o.json = args.next().context("--json needs a file name")?.into(),
            "-h" | "--help" => {
                println!("evpnd-demo [--quick] [--json FILE] [--no-plot]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    Ok(o)
}

fn run() -> Result<()> {
    let o = opts()?;
    if !integration::have_root() {
        bail!("the demo needs root (network namespaces)");
    }
    let t0 = Instant::now();
    println!("== building the fabric: spine (route reflector), 3 evpnd leaves, FRR core router");
    println!("   VNI 100 10.1.0.0/24 + VNI 200 10.2.0.0/24 (anycast gateway .1 on every leaf) in VRF tenant1, L3 VNI 5000");
    let vrf = VrfSpec::new("tenant1", 5000)
        .export_host_routes(&[CORE_ADDR], &["10.1.0.0/16", "10.2.0.0/16"]);
    let f = Fabric::build(&FabricSpec {
        label: "demo".into(),
        leaves: vec![LeafKind::Evpnd; 3],
        vnis: vec![
            VniSpec::new(100, "10.1.0.1/24").in_vrf("tenant1"),
            VniSpec::new(200, "10.2.0.1/24").in_vrf("tenant1"),
        ],
        vrfs: vec![vrf],
        core: true,
        leaf_extra: "[duplicate_detection]\nmax_moves = 10\nwindow = 60\n".into(),
        ..FabricSpec::default()
    })?;
    let mut vm = f.host(0, 100, "vm", VM_MAC, &format!("{VM_IP}/24"))?;
    let h2 = f.host(1, 100, "h2", "02:00:00:00:02:02", "10.1.0.12/24")?;
    let h3 = f.host(2, 200, "h3", "02:00:00:00:03:03", "10.2.0.13/24")?;
    let h4 = f.host(1, 200, "h4", "02:00:00:00:04:04", "10.2.0.14/24")?;
    println!(
        "   up in {:.1} s: leaves {}, core {CORE_ADDR}",
        t0.elapsed().as_secs_f64(),
        f.leaves
            .iter()
            .map(|l| format!("{}={}", l.name, l.vtep))
            .collect::<Vec<_>>()
            .join(" ")
    );
    // Every host talks once, so every leaf knows every MAC and IP.
    for (h, dst) in [
        (&vm, "10.1.0.12"),
        (&vm, "10.2.0.13"),
        (&h4, VM_IP),
        (&h3, "10.2.0.14"),
    ] {
        let out = integration::fabric::sh(
            &h.ns,
            &format!(
                "ping -c 2 -i 0.2 -W 1 {} >/dev/null; ping -c 3 -i 0.2 -W 1 {dst}",
                gateway_of(h)
            ),
        );
        if !out.contains(" 0% packet loss") {
            bail!("{} cannot reach {dst} before the moves:\n{out}", h.ip());
        }
    }
    wait_fabric(&f, &vm, Duration::from_secs(10))?;
    println!("   every leaf and the core know the VM; h3 reaches it through the L3 VNI");
    trace(&f, &vm, "before the moves");

    let mut report = DemoReport {
        leaves: f
            .leaves
            .iter()
            .map(|l| NodeInfo {
                name: l.name.clone(),
                address: l.vtep.clone(),
            })
            .collect(),
        vnis: vec![100, 200],
        l3vni: Some(5000),
        core: Some(NodeInfo {
            name: "core".into(),
            address: CORE_ADDR.into(),
        }),
        vm: VmInfo {
            mac: VM_MAC.into(),
            ip: VM_IP.into(),
            vni: 100,
        },
        moves: Vec::new(),
        seconds: 0.0,
    };
    let moves: &[usize] = if o.quick { &[2] } else { &[2, 0] };
    for &to in moves {
        let m = migrate(&f, &mut vm, &h2, &h3, to)?;
        print_move(&m);
        let converged = m.mac_converged_ms.is_some()
            && m.ip_converged_ms.is_some()
            && m.core_converged_ms.is_some();
        report.moves.push(m);
        if !converged {
            bail!("the fabric did not converge within 10 s");
        }
        trace(&f, &vm, &format!("after the move to leaf{}", to + 1));
    }
    report.seconds = t0.elapsed().as_secs_f64();
    write_report(&o, &report)?;
    println!(
        "\n== done in {:.1} s; tearing the fabric down",
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn gateway_of(h: &Host) -> &'static str {
    if h.vni == 200 {
        "10.2.0.1"
    } else {
        GW
    }
}

fn v4(s: &str) -> Result<Ipv4Addr> {
    s.parse().with_context(|| format!("bad IPv4 address {s:?}"))
}

/// One move of `vm` to leaf `to` under probes; the measured report.
fn migrate(f: &Fabric, vm: &mut Host, h2: &Host, h3: &Host, to: usize) -> Result<MoveReport> {
    let from = vm.at;
    let (mac, ip): (Mac, IpAddr) = (
        VM_MAC
            .parse()
            .map_err(|e: String| anyhow::anyhow!("VM MAC: {e}"))?,
        VM_IP.parse().context("VM IP")?,
    );
    let spec = WatchSpec {
        macs: vec![mac],
        ips: vec![ip],
        ports: vec![vm.port.clone()],
        max_events: 20_000,
    };
    let watchers = f
        .leaves
        .iter()
        .map(|l| Watcher::start(&l.ns, spec.clone()))
        .collect::<Result<Vec<_>>>()?;
    let rounds = ((LEAD + TAIL).as_millis() as u32 + 12_000) / PROBE.as_millis() as u32;
    let vm_probe = Prober::start(
        &vm.ns,
        &[v4(h2.ip())?, v4(GW)?, v4(h3.ip())?],
        PROBE,
        rounds,
    )?;
    let h3_probe = Prober::start(&h3.ns, &[v4(VM_IP)?], PROBE, rounds)?;
    let core = f.core.as_ref().context("the demo fabric has a core")?;
    let core_before = core.updates(&format!("{VM_IP}/32")).len();
    std::thread::sleep(LEAD);
    println!(
        "\n== migrating the VM leaf{} -> leaf{} under 2 ms probes (VM -> h2, gateway, h3; h3 -> VM)",
        from + 1,
        to + 1
    );
    let clocks = Clocks::now();
    let before = Instant::now();
    // The VM is paused for the switch-over (QEMU stops it): it sends nothing
    // until it resumes on the new leaf.
    vm_probe.pause(true);
    let moved = f.migrate(vm, to);
    vm_probe.pause(false);
    let up_cmd = moved?;
    let vtep: IpAddr = f.leaves[to].vtep.parse().context("VTEP")?;
    let target = watch::Target {
        mac,
        ip,
        port: &vm.port,
        to,
        vtep,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let new_leaf = f.leaves[to].vtep.clone();
    let core_moved = || {
        core.updates(&format!("{VM_IP}/32"))
            .iter()
            .skip(core_before)
            .any(|u| u.announce && u.peer == new_leaf)
    };
    while Instant::now() < deadline {
        let events: Vec<Vec<watch::Event>> = watchers.iter().map(Watcher::events).collect();
        if target.all_ip_ok(&events) && core_moved() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(TAIL);
    vm_probe.stop();
    h3_probe.stop();
    let events: Vec<Vec<watch::Event>> = watchers.iter().map(Watcher::events).collect();
    let times = watch::move_times(&events, &target, from, before);
    let origin = times.port_up.unwrap_or(up_cmd);
    let name_of = |a: IpAddr| {
        f.leaves
            .iter()
            .find(|l| l.vtep == a.to_string())
            .map_or(a.to_string(), |l| l.name.clone())
    };

    let mut ev = Vec::new();
    for (i, l) in f.leaves.iter().enumerate() {
        // The kernel sends several RTM_NEWLINKs per change: keep the
        // transitions of the port (up ↔ not up) only.
        let mut port_up = None;
        for e in events[i].iter().filter(|e| e.at >= before || e.dump) {
            if let Change::Link {
                name, up, deleted, ..
            } = &e.change
            {
                let now = *up && !deleted;
                let was = port_up.replace(now);
                if name != &vm.port || e.dump || was == Some(now) || (was.is_none() && !now) {
                    continue;
                }
            }
            if e.dump {
                continue;
            }
            if let Some(what) = describe(&e.change, &vm.port, &name_of) {
                ev.push(Event {
                    t_ms: signed_ms(origin, e.at),
                    node: l.name.clone(),
                    what,
                });
            }
        }
        // evpnd's own account of the move (its log, µs wall-clock stamps).
        if let Ok(e) = l.evpnd() {
            for (at, what) in evpnd_log_events(&e.log(), clocks.wall - Duration::from_secs(1)) {
                ev.push(Event {
                    t_ms: clocks.ms_since(origin, at),
                    node: l.name.clone(),
                    what,
                });
            }
        }
    }
    let updates: Vec<CoreUpdate> = core
        .updates(&format!("{VM_IP}/32"))
        .into_iter()
        .skip(core_before)
        .collect();
    for u in &updates {
        ev.push(Event {
            t_ms: clocks.ms_since(origin, u.at),
            node: "core".into(),
            what: format!(
                "/32 {} {}",
                if u.announce {
                    "announced by"
                } else {
                    "withdrawn by"
                },
                name_of(u.peer.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
            ),
        });
    }
    ev.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
    let core_ms = updates
        .iter()
        .rev()
        .find(|u| u.announce && u.peer == new_leaf)
        .map(|u| clocks.ms_since(origin, u.at));

    let vm_probes = vm_probe.probes();
    let h3_probes = h3_probe.probes();
    let pings = vec![
        PingSeries::from_probes(
            "VM -> h2 (VNI 100, leaf2)",
            &vm_probes,
            0,
            PROBE,
            origin,
            GRACE,
        ),
        PingSeries::from_probes("VM -> gateway", &vm_probes, 1, PROBE, origin, GRACE),
        PingSeries::from_probes(
            "VM -> h3 (routed, VNI 200, leaf3)",
            &vm_probes,
            2,
            PROBE,
            origin,
            GRACE,
        ),
        PingSeries::from_probes("h3 -> VM (routed)", &h3_probes, 0, PROBE, origin, GRACE),
    ];
    Ok(MoveReport {
        from: f.leaves[from].name.clone(),
        to: f.leaves[to].name.clone(),
        link_cut_ms: times.veth_ms.unwrap_or(f64::NAN),
        events: ev,
        mac_converged_ms: times.mac_ms,
        ip_converged_ms: times.ip_ms,
        core_converged_ms: core_ms,
        pings,
    })
}

/// A watcher event in words (None for what the timeline leaves out).
fn describe(c: &Change, port: &str, name_of: &dyn Fn(IpAddr) -> String) -> Option<String> {
    match c {
        Change::Link {
            name, up, deleted, ..
        } if name == port => Some(if *up && !deleted {
            "port up".into()
        } else {
            "port down / gone".into()
        }),
        Change::Fdb {
            dev,
            dst,
            master,
            deleted,
            ..
        } => {
            let dev = dev.as_deref().unwrap_or("?");
            match (master, deleted, dst) {
                (false, false, Some(d)) => Some(format!("MAC -> {} (vxlan)", name_of(*d))),
                (false, true, _) => Some("remote MAC entry removed".into()),
                (true, false, _) if dev == port => Some("MAC learned on the port".into()),
                (true, true, _) if dev == port => Some("local MAC removed".into()),
                _ => None,
            }
        }
        Change::Neigh {
            ext_learned,
            deleted,
            state,
            ..
        } => Some(if *deleted {
            "IP neighbour removed".into()
        } else if *ext_learned {
            "IP -> remote neighbour".into()
        } else if state & 0x21 != 0 {
            "IP neighbour unresolved".into()
        } else {
            "IP learned (local)".into()
        }),
        Change::Route {
            table,
            gateway,
            deleted,
            ..
        } if *table != 255 => Some(match (deleted, gateway) {
            (true, _) => format!("VRF /32 removed (table {table})"),
            (false, Some(g)) => format!("VRF /32 via {} (table {table})", name_of(*g)),
            (false, None) => format!("VRF /32 (table {table})"),
        }),
        Change::Overrun => Some("netlink overrun: events lost".into()),
        _ => None,
    }
}

/// evpnd's log lines about a move of the VM, after `since`.
fn evpnd_log_events(log: &str, since: SystemTime) -> Vec<(SystemTime, String)> {
    const KINDS: [(&str, &str); 3] = [
        (
            "MAC learned here over remote routes",
            "evpnd: advertises the move (seq+1)",
        ),
        (
            "MAC learned here shortly after its remote routes were withdrawn",
            "evpnd: advertises the move (seq+1)",
        ),
        ("MAC moved away", "evpnd: withdraws, purges local entries"),
    ];
    log.lines()
        .filter(|l| l.contains(VM_MAC))
        .filter_map(|l| {
            let (_, what) = KINDS.iter().find(|(k, _)| l.contains(k))?;
            let at = parse_rfc3339_utc(l.split_whitespace().next()?)?;
            (at >= since).then(|| (at, (*what).to_string()))
        })
        .collect()
}

fn print_move(m: &MoveReport) {
    let ms = |v: Option<f64>| v.map_or("not converged".to_string(), |v| format!("{v:.1} ms"));
    println!(
        "   timeline (ms from the VM's port up on {}; the link cut itself took {:.1} ms):",
        m.to, m.link_cut_ms
    );
    for e in &m.events {
        println!("     {:>8.1}  {:<6} {}", e.t_ms, e.node, e.what);
    }
    println!(
        "   converged after port-up: MAC on every leaf {}, IP on every leaf {}, core /32 {}",
        ms(m.mac_converged_ms),
        ms(m.ip_converged_ms),
        ms(m.core_converged_ms)
    );
    for p in &m.pings {
        println!(
            "   loss window after port-up: {:<36} {:>6.1} ms ({}/{} replies)",
            p.name, p.loss_window_ms, p.received, p.sent
        );
    }
}

fn write_report(o: &Opts, r: &DemoReport) -> Result<()> {
    if let Some(dir) = o.json.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    }
    let text = serde_json::to_string_pretty(r).context("encode the report")?;
    std::fs::write(&o.json, text).with_context(|| format!("write {}", o.json.display()))?;
    println!("\n== report: {}", o.json.display());
    if o.plot {
        let png = o.json.with_extension("png");
        match plot(r, &png) {
            Ok(()) => println!("   plot:   {}", png.display()),
            Err(e) => println!("   plot skipped: {e:#}"),
        }
    }
    Ok(())
}

/// Every leaf's kernel knows the VM where it is now, and the core has its
/// /32 from that leaf.
fn wait_fabric(f: &Fabric, vm: &Host, limit: Duration) -> Result<()> {
    let t = Instant::now();
    let vtep = &f.leaves[vm.at].vtep;
    while t.elapsed() < limit {
        let ok = f.leaves.iter().enumerate().all(|(i, l)| {
            i == vm.at || fdb_of(&l.ns, 100, &vm.mac) == Some(format!("remote:{vtep}"))
        });
        let core = f.core.as_ref().is_some_and(|c| {
            c.bgp_next_hops(&format!("{VM_IP}/32"))
                .is_ok_and(|n| n.iter().any(|h| h == vtep))
        });
        if ok && core {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("the fabric did not learn the VM within {limit:?}")
}

/// `evpnctl trace <VM IP>` on every leaf, one line each (the full JSON has
/// every route; `evpnctl --json trace IP` shows it).
fn trace(f: &Fabric, vm: &Host, when: &str) {
    println!("   evpnctl trace {} ({when}):", vm.ip());
    for l in &f.leaves {
        match l.evpnd().and_then(|e| e.ctl(&["trace", vm.ip()])) {
            Ok(v) => {
                let hosts = v["hosts"].as_array().cloned().unwrap_or_default();
                if hosts.is_empty() {
                    println!("     {}: not known", l.name);
                }
                for h in hosts {
                    let routes = h["routes"].as_array().map_or(0, Vec::len);
                    println!(
                        "     {}: {} {} {} port={} vtep={} seq={} frozen={} ({routes} RT-2 routes)",
                        l.name,
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
            Err(e) => println!("     {}: {e:#}", l.name),
        }
    }
}
