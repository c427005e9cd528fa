//! `make bench`: a BGP injector feeds EVPN RT-2 routes to evpnd, FRR bgpd
//! and gobgpd (each in its own namespace pair created here) and prints the
//! time from the first UPDATE until all routes are in the daemon's
//! Loc-RIB, the daemon's CPU seconds over that time and its peak RSS; then
//! the route-reflection scenario (evpnd and FRR bgpd as RR for N receiving
//! clients, one more client injects). Prints numbers and ratios; asserts
//! no timing. Every wait is capped.
//!
//! Environment:
//! - `EVPND_BENCH_ROUTES` (default 1000000): routes per daemon;
//! - `EVPND_BENCH_GOBGP_ROUTES` (default 100000, at most the above): gobgpd
//!   is known not to finish 100k in 90 s (its MAC-mobility check scans the
//!   table per route), so it gets fewer routes and its own cap;
//! - `EVPND_BENCH_CAP_SECS` (120), `EVPND_BENCH_GOBGP_CAP_SECS` (90),
//!   `EVPND_BENCH_RR_CAP_SECS` (180): time caps;
//! - `EVPND_BENCH_RR_CLIENTS` (20), `EVPND_BENCH_RR_ROUTES` (= routes);
//! - `EVPND_BENCH_ONLY`: comma list of `evpnd,frr,gobgp,rr-evpnd,rr-frr`.
//!
//! Needs root, FRR and GoBGP (`make deps`); prints `SKIPPED` otherwise.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "bench harness: a failure is a bench failure"
)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use integration::inject::{
    accept_within, cpu_seconds, listen_in, status_kib, Session, SessionCfg, Workload,
};
use integration::topo::link;
use integration::{skip_unless, Evpnd, Frr, Gobgp, Netns, TestDir};

const ASN: u32 = 65000;
const VNI: u32 = 100;
const POLL: Duration = Duration::from_millis(100);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Evpnd,
    Frr,
    Gobgp,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Evpnd => "evpnd",
            Kind::Frr => "FRR bgpd",
            Kind::Gobgp => "gobgpd",
        }
    }
}

/// One measured run.
#[derive(Debug)]
struct Row {
    name: String,
    target: u64,
    /// Seconds from the first UPDATE to all routes in the Loc-RIB, if done.
    secs: Option<f64>,
    /// When the route count was first complete (`secs` also waits for idle).
    counted: Option<f64>,
    reached: u64,
    cap: Duration,
    cpu: f64,
    hwm_mib: f64,
    note: String,
}

impl Row {
    fn rate(&self) -> Option<f64> {
        self.secs.map(|s| self.target as f64 / s.max(1e-3))
    }
}

/// A running daemon under test and how to read its Loc-RIB size.
enum Dut {
    Evpnd(Evpnd),
    Frr(Frr),
    Gobgp(Gobgp),
}

impl Dut {
    fn pid(&self) -> Option<u32> {
        match self {
            Dut::Evpnd(e) => e.pid(),
            Dut::Frr(f) => f.bgpd_pid(),
            Dut::Gobgp(g) => g.pid(),
        }
    }

    /// EVPN routes in the Loc-RIB (best paths) learnt from the peers.
    fn loc_rib(&self) -> Result<u64> {
        match self {
            Dut::Evpnd(e) => {
                let s = e.ctl(&["show", "bgp", "summary"])?;
                let mut n = 0;
                for p in s["peers"].as_array().into_iter().flatten() {
                    for f in p["families"].as_array().into_iter().flatten() {
                        if f["family"] == "evpn" {
                            n += f["accepted"].as_u64().unwrap_or(0);
                        }
                    }
                }
                Ok(n)
            }
            Dut::Frr(f) => {
                let s = f.vtysh_json("show bgp l2vpn evpn summary json")?;
                let mut n = 0;
                if let Some(peers) = s["peers"].as_object() {
                    for p in peers.values() {
                        n += p["pfxRcd"].as_u64().unwrap_or(0);
                    }
                }
                Ok(n)
            }
            Dut::Gobgp(g) => {
                // "Table l2vpn-evpn\nDestination: N, Path: N"
                let s = g.cli(&["global", "rib", "summary", "-a", "evpn"])?;
                let n = s
                    .split("Destination:")
                    .nth(1)
                    .and_then(|r| r.split(',').next())
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                Ok(n)
            }
        }
    }
}

fn evpnd_toml(router_id: Ipv4Addr, neighbors: &[Ipv4Addr], rr: bool) -> String {
    let mut s = format!(
        "router_id = \"{router_id}\"\nasn = {ASN}\nlisten = [\"{router_id}:179\"]\n\
         connect_retry = 1\n[graceful_restart]\nenabled = false\n"
    );
    for a in neighbors {
        s.push_str(&format!(
            "\n[[neighbor]]\naddress = \"{a}\"\nremote_as = {ASN}\nfamilies = [\"evpn\"]\n\
             hold_time = 90\nconnect_retry = 1\nroute_reflector_client = {rr}\n"
        ));
    }
    s
}

fn frr_conf(router_id: Ipv4Addr, neighbors: &[Ipv4Addr], rr: bool) -> String {
    let mut s = format!(
        "frr defaults datacenter\nhostname dut\n\
         router bgp {ASN}\n bgp router-id {router_id}\n no bgp ebgp-requires-policy\n\
         no bgp default ipv4-unicast\n timers bgp 30 90\n"
    );
    for a in neighbors {
        s.push_str(&format!(
            " neighbor {a} remote-as {ASN}\n neighbor {a} timers connect 1\n"
        ));
    }
    s.push_str(" address-family l2vpn evpn\n");
    for a in neighbors {
        s.push_str(&format!("  neighbor {a} activate\n"));
        if rr {
            s.push_str(&format!("  neighbor {a} route-reflector-client\n"));
        }
    }
    s.push_str(" exit-address-family\n");
    s
}

fn gobgp_toml(router_id: Ipv4Addr, neighbor: Ipv4Addr) -> String {
    format!(
        "[global.config]\n  as = {ASN}\n  router-id = \"{router_id}\"\n\
         \n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{neighbor}\"\n    peer-as = {ASN}\n\
         [neighbors.timers.config]\n    connect-retry = 1\n    hold-time = 90\n    keepalive-interval = 30\n\
         [[neighbors.afi-safis]]\n  [neighbors.afi-safis.config]\n    afi-safi-name = \"l2vpn-evpn\"\n"
    )
}

fn start_dut(
    kind: Kind,
    ns: &Netns,
    dir: &TestDir,
    me: Ipv4Addr,
    neighbors: &[Ipv4Addr],
    rr: bool,
) -> Result<Dut> {
    Ok(match kind {
        Kind::Evpnd => Dut::Evpnd(Evpnd::start_with_env(
            ns,
            dir,
            "evpnd",
            &evpnd_toml(me, neighbors, rr),
            &[("RUST_LOG", "info")],
        )?),
        Kind::Frr => Dut::Frr(Frr::start(ns, dir, &frr_conf(me, neighbors, rr))?),
        Kind::Gobgp => Dut::Gobgp(Gobgp::start(ns, dir, &gobgp_toml(me, neighbors[0]), 50051)?),
    })
}

/// Seconds from `first` until the last time `pid`'s CPU time advanced
/// before 300 ms without any advance (clock ticks are 10 ms); `None` if it
/// never goes idle before `first + cap`.
fn settle(pid: u32, first: Instant, cap: Duration) -> Option<f64> {
    let mut last = cpu_seconds(pid)?;
    let mut changed = Instant::now();
    while first.elapsed() < cap {
        std::thread::sleep(Duration::from_millis(20));
        let c = cpu_seconds(pid)?;
        if c > last {
            last = c;
            changed = Instant::now();
        } else if changed.elapsed() >= Duration::from_millis(300) {
            return Some(changed.duration_since(first).as_secs_f64());
        }
    }
    None
}

fn mib(pid: Option<u32>) -> f64 {
    pid.and_then(|p| status_kib(p, "VmHWM"))
        .map_or(0.0, |k| k as f64 / 1024.0)
}

/// Injector → one daemon: `n` routes, capped at `cap`.
fn direct(kind: Kind, link_no: u8, w: &Workload, cap: Duration) -> Result<Row> {
    let dir = TestDir::new(&format!("bench-{}", kind.label().replace(' ', "-")))?;
    let inj = Netns::new()?;
    let dut_ns = Netns::new()?;
    let (a, b) = link(link_no, &inj, "eth0", &dut_ns, "eth0")?;
    let (inj_ip, dut_ip): (Ipv4Addr, Ipv4Addr) = (a.v4.parse()?, b.v4.parse()?);
    let listener = listen_in(&inj, SocketAddr::new(inj_ip.into(), 179))?;
    let dut = start_dut(kind, &dut_ns, &dir, dut_ip, &[inj_ip], false)?;
    let pid = dut.pid().ok_or_else(|| anyhow!("no pid"))?;
    let stream = accept_within(&listener, Duration::from_secs(60))
        .with_context(|| format!("{} did not connect", kind.label()))?;
    let cpu0 = cpu_seconds(pid).unwrap_or(0.0);
    let cfg = SessionCfg {
        asn: ASN,
        router_id: inj_ip,
        hold_time: 90,
        paused: false,
    };
    let mut s = Session::establish(
        stream,
        &cfg,
        Some(w.bytes.clone()),
        0,
        Duration::from_secs(30),
    )?;
    let target = u64::from(w.routes);
    let (mut reached, mut done) = (0, None);
    let mut note = String::new();
    let start = Instant::now();
    for _ in 0..(cap.as_millis() / POLL.as_millis() + 50) {
        std::thread::sleep(POLL);
        reached = dut.loc_rib().unwrap_or(reached);
        let Some(first) = s.first_update.get().copied() else {
            continue;
        };
        if reached >= target {
            done = Some(first.elapsed().as_secs_f64());
            break;
        }
        if let Some(why) = s.stats.ended() {
            note = format!("session ended: {why}");
            break;
        }
        if first.elapsed() > cap || start.elapsed() > cap + Duration::from_secs(30) {
            break;
        }
    }
    // The count can run ahead of the work (FRR counts a prefix when it
    // is received and selects best paths from a work queue): the run ends
    // when the daemon's CPU time stops advancing as well.
    let settled = match (done, s.first_update.get()) {
        (Some(_), Some(first)) => settle(pid, *first, cap).map(|t| t.max(done.unwrap_or(0.0))),
        _ => None,
    };
    let cpu = cpu_seconds(pid).unwrap_or(0.0) - cpu0;
    let hwm_mib = mib(Some(pid));
    s.stop();
    drop(dut);
    if done.is_some() && settled.is_none() {
        note = "routes counted but the CPU did not go idle within the cap".into();
    }
    Ok(Row {
        name: kind.label().to_string(),
        target,
        secs: settled,
        counted: done,
        reached,
        cap,
        cpu,
        hwm_mib,
        note,
    })
}

/// Route reflection: `clients` receiving clients + one injecting client.
fn reflect(kind: Kind, link_no: u8, w: &Workload, clients: u8, cap: Duration) -> Result<Row> {
    let dir = TestDir::new(&format!("bench-rr-{}", kind.label().replace(' ', "-")))?;
    let inj = Netns::new()?;
    let dut_ns = Netns::new()?;
    let (a, b) = link(link_no, &inj, "eth0", &dut_ns, "eth0")?;
    let (inj_ip, dut_ip): (Ipv4Addr, Ipv4Addr) = (a.v4.parse()?, b.v4.parse()?);
    let o = inj_ip.octets();
    let receivers: Vec<Ipv4Addr> = (0..clients)
        .map(|i| Ipv4Addr::new(o[0], o[1], o[2], 11 + i))
        .collect();
    for r in &receivers {
        inj.addr("eth0", &format!("{r}/24"))?;
    }
    let mut all = receivers.clone();
    all.push(inj_ip);
    let listeners: Vec<_> = all
        .iter()
        .map(|ip| listen_in(&inj, SocketAddr::new((*ip).into(), 179)))
        .collect::<Result<_>>()?;
    let dut = start_dut(kind, &dut_ns, &dir, dut_ip, &all, true)?;
    let pid = dut.pid().ok_or_else(|| anyhow!("no pid"))?;
    let target = u64::from(w.routes);
    let mut sessions = Vec::new();
    for (ip, l) in all.iter().zip(&listeners).take(receivers.len()) {
        let stream = accept_within(l, Duration::from_secs(60))
            .with_context(|| format!("{} did not connect to {ip}", kind.label()))?;
        let cfg = SessionCfg {
            asn: ASN,
            router_id: *ip,
            hold_time: 90,
            paused: false,
        };
        sessions.push(Session::establish(
            stream,
            &cfg,
            None,
            target,
            Duration::from_secs(30),
        )?);
    }
    // Let the RR finish its (empty) initial syncs before the injection.
    std::thread::sleep(Duration::from_secs(2));
    let cpu0 = cpu_seconds(pid).unwrap_or(0.0);
    let stream = accept_within(&listeners[receivers.len()], Duration::from_secs(60))?;
    let cfg = SessionCfg {
        asn: ASN,
        router_id: inj_ip,
        hold_time: 90,
        paused: false,
    };
    let mut injector = Session::establish(
        stream,
        &cfg,
        Some(w.bytes.clone()),
        0,
        Duration::from_secs(30),
    )?;
    let mut note = String::new();
    let start = Instant::now();
    let mut done = None;
    for _ in 0..(cap.as_millis() / POLL.as_millis() + 50) {
        std::thread::sleep(POLL);
        let Some(first) = injector.first_update.get().copied() else {
            continue;
        };
        if let Some(last) = sessions
            .iter()
            .map(|s| s.stats.done_at.get().copied())
            .collect::<Option<Vec<Instant>>>()
            .and_then(|v| v.into_iter().max())
        {
            done = Some(last.duration_since(first).as_secs_f64());
            break;
        }
        if let Some((i, why)) = sessions
            .iter()
            .chain(std::iter::once(&injector))
            .enumerate()
            .find_map(|(i, s)| s.stats.ended().map(|w| (i, w)))
        {
            note = format!("session {i} ended: {why}");
            break;
        }
        if first.elapsed() > cap || start.elapsed() > cap + Duration::from_secs(30) {
            break;
        }
    }
    let reached = sessions.iter().map(|s| s.stats.routes()).min().unwrap_or(0);
    // Wait for the RR to go idle too, for the CPU figure.
    if let Some(first) = injector.first_update.get() {
        let _ = settle(pid, *first, cap);
    }
    let cpu = cpu_seconds(pid).unwrap_or(0.0) - cpu0;
    let hwm_mib = mib(Some(pid));
    injector.stop();
    for s in &mut sessions {
        s.stop();
    }
    drop(dut);
    Ok(Row {
        name: format!("{} as RR, {clients} clients", kind.label()),
        target,
        secs: done,
        counted: done,
        reached,
        cap,
        cpu,
        hwm_mib,
        note,
    })
}

fn print_table(title: &str, rows: &[Row]) {
    println!("\n{title}");
    println!(
        "{:<26} {:>9} {:>11} {:>11} {:>11} {:>8} {:>13}",
        "daemon", "routes", "counted", "to Loc-RIB", "routes/s", "CPU s", "peak RSS"
    );
    for r in rows {
        let (t, rate) = match (r.secs, r.rate()) {
            (Some(s), Some(rate)) => (format!("{s:.2} s"), format!("{rate:.0}")),
            _ => (
                format!(">{} s", r.cap.as_secs()),
                format!("<{:.0}", r.reached as f64 / r.cap.as_secs_f64()),
            ),
        };
        let counted = r
            .counted
            .map_or_else(|| "-".to_string(), |c| format!("{c:.2} s"));
        println!(
            "{:<26} {:>9} {:>11} {:>11} {:>11} {:>8.2} {:>9.0} MiB",
            r.name, r.target, counted, t, rate, r.cpu, r.hwm_mib
        );
        if r.secs.is_none() {
            println!(
                "  {}: did not finish {} in {} s (reached {}){}{}",
                r.name,
                r.target,
                r.cap.as_secs(),
                r.reached,
                if r.note.is_empty() { "" } else { "; " },
                r.note
            );
        }
    }
}

fn ratios(rows: &[Row], ours: &str, frr: &str) {
    let Some(me) = rows.iter().find(|r| r.name.starts_with(ours)) else {
        return;
    };
    let others: Vec<&Row> = rows.iter().filter(|r| !r.name.starts_with(ours)).collect();
    // Compare throughput (routes/s): gobgpd gets fewer routes. A run that
    // did not finish has at most reached/cap.
    let rate = |r: &Row| r.rate().unwrap_or(r.reached as f64 / r.cap.as_secs_f64());
    if let Some(best) = others.iter().max_by(|a, b| rate(a).total_cmp(&rate(b))) {
        let speed = rate(me) / rate(best).max(1e-9);
        println!(
            "speed: {ours} {:.0} routes/s vs fastest other ({}) {:.0} routes/s = {speed:.2}x{} (target >= 3x)",
            rate(me),
            best.name,
            rate(best),
            if me.secs.is_none() { " [evpnd did not finish]" } else { "" }
        );
    }
    if let Some(f) = rows.iter().find(|r| r.name.starts_with(frr)) {
        println!(
            "memory: {ours} peak RSS {:.0} MiB vs {} {:.0} MiB = {:.2} (target <= 0.33)",
            me.hwm_mib,
            f.name,
            f.hwm_mib,
            me.hwm_mib / f.hwm_mib.max(1e-9)
        );
        if let (Some(a), Some(b)) = (me.cpu.is_finite().then_some(me.cpu), Some(f.cpu)) {
            println!(
                "cpu: {ours} {a:.2} s vs {} {b:.2} s = {:.2}",
                f.name,
                a / b.max(1e-9)
            );
        }
    }
}

fn main() -> Result<()> {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    if skip_unless(true, &["/usr/lib/frr/bgpd", "vtysh", "gobgpd", "gobgp"]) {
        return Ok(());
    }
    let n = env_u64("EVPND_BENCH_ROUTES", 1_000_000).clamp(1, 16_000_000) as u32;
    let gn = env_u64("EVPND_BENCH_GOBGP_ROUTES", 100_000).min(u64::from(n)) as u32;
    let rn = env_u64("EVPND_BENCH_RR_ROUTES", u64::from(n)).clamp(1, 16_000_000) as u32;
    let clients = env_u64("EVPND_BENCH_RR_CLIENTS", 20).clamp(1, 200) as u8;
    let cap = Duration::from_secs(env_u64("EVPND_BENCH_CAP_SECS", 120));
    let gcap = Duration::from_secs(env_u64("EVPND_BENCH_GOBGP_CAP_SECS", 90));
    let rcap = Duration::from_secs(env_u64("EVPND_BENCH_RR_CAP_SECS", 180));
    let only = std::env::var("EVPND_BENCH_ONLY").unwrap_or_default();
    let want = |s: &str| only.is_empty() || only.split(',').any(|o| o.trim() == s);

    // The injector's VTEP is its address on the link (10.0.<link>.1); the
    // workload is built once per next hop.
    let vtep = |l: u8| Ipv4Addr::new(10, 0, l, 1);
    let build = |routes: u32, l: u8| -> Result<Workload> {
        let t = Instant::now();
        let w = Workload::rt2(routes, ASN, vtep(l), VNI)?;
        eprintln!(
            "bench: built {} RT-2 routes in {} UPDATEs ({:.1} MB) in {:.2} s",
            routes,
            w.messages,
            w.bytes.len() as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
        Ok(w)
    };

    let mut rows = Vec::new();
    let mut failures = Vec::new();
    let runs: [(Kind, &str, u8, u32, Duration); 3] = [
        (Kind::Evpnd, "evpnd", 201, n, cap),
        (Kind::Frr, "frr", 202, n, cap),
        (Kind::Gobgp, "gobgp", 203, gn, gcap),
    ];
    for (kind, key, l, routes, c) in runs {
        if !want(key) {
            continue;
        }
        let w = build(routes, l)?;
        eprintln!(
            "bench: {} <- {routes} routes (cap {} s)",
            kind.label(),
            c.as_secs()
        );
        match direct(kind, l, &w, c) {
            Ok(r) => {
                eprintln!("bench: {r:?}");
                rows.push(r);
            }
            Err(e) => failures.push(format!("{}: {e:#}", kind.label())),
        }
    }
    print_table(
        &format!(
            "== Injector -> daemon: EVPN RT-2 (one VNI, RT {ASN}:{VNI}, encapsulation VXLAN, next hop = injector VTEP), 4096-octet UPDATEs, iBGP"
        ),
        &rows,
    );
    ratios(&rows, "evpnd", "FRR");

    let mut rr_rows = Vec::new();
    for (kind, key, l) in [(Kind::Evpnd, "rr-evpnd", 211), (Kind::Frr, "rr-frr", 212)] {
        if !want(key) {
            continue;
        }
        let w = build(rn, l)?;
        eprintln!(
            "bench: {} as RR, {clients} clients <- {rn} routes (cap {} s)",
            kind.label(),
            rcap.as_secs()
        );
        match reflect(kind, l, &w, clients, rcap) {
            Ok(r) => {
                eprintln!("bench: {r:?}");
                rr_rows.push(r);
            }
            Err(e) => failures.push(format!("{} as RR: {e:#}", kind.label())),
        }
    }
    if !rr_rows.is_empty() {
        print_table(
            &format!(
                "== Route reflection: one client injects, time until all {clients} other clients hold every route"
            ),
            &rr_rows,
        );
        ratios(&rr_rows, "evpnd", "FRR");
    }
    for f in &failures {
        println!("FAILED: {f}");
    }
    if !failures.is_empty() {
        bail!("{} bench run(s) failed", failures.len());
    }
    Ok(())
}
