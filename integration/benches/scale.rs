//! `make bench-scale`: the full pipeline at scale. A leaf namespace runs
//! evpnd (kernel programming on: L2 VNI 100, bridge and VXLAN device
//! created by evpnd) or FRR (zebra + bgpd, `advertise-all-vni`, bridge and
//! VXLAN device created here as FRR needs); the injector (integration's
//! in-process BGP speaker) is its EVPN peer and plays two remote VTEPs:
//!
//! 1. N MAC-only RT-2 routes from VTEP A (RD A:100, RT 65000:100, label
//!    100, encapsulation VXLAN, next hop A);
//! 2. then it re-advertises all N routes with next hop VTEP B and MAC
//!    Mobility sequence number 1: every MAC moved. By default the same
//!    NLRI (RD A:100) are re-advertised, so each replaces its route; with
//!    `EVPND_SCALE_MOVE=new-rd` VTEP B advertises under its own RD B:100
//!    and A's routes stay (both held, the sequence number decides).
//!
//! Measured from the first UPDATE of each phase: the time until the
//! leaf's kernel FDB holds all N VXLAN entries pointing at A, then until
//! all N point at B (counted from the kernel's own notifications, see
//! `integration::fdbwatch`, and checked with one dump at the end), the
//! daemons' CPU seconds and peak RSS (evpnd; bgpd + zebra for FRR). Prints
//! a table with both daemons, the ratios against the targets (≥ 3× faster
//! than FRR at ≤ ¼ of its memory) and the linearity between sizes.
//! Asserts no timing; every wait is capped, and a run that hits its cap
//! is stopped (daemons killed, namespaces removed) with what it reached.
//!
//! Environment:
//! - `EVPND_SCALE_SIZES` (default `100000,1000000`): MAC counts;
//! - `EVPND_SCALE_ONLY`: `evpnd` (its default `fdb_nexthops = true`:
//!   `nhid` entries, one FDB nexthop group per VTEP), `evpnd-dst` (evpnd
//!   with `fdb_nexthops = false`: `dst VTEP` on every entry, as FRR
//!   writes), `frr`, `floor` / `floor-dst` (no daemon: netlink-glue writes
//!   the same entries from an intent in 16k-MAC applies, the kernel's own
//!   cost), or a comma list (default all five);
//! - `EVPND_SCALE_CAP_SECS` (300): cap per phase;
//! - `EVPND_SCALE_MOVE` (`readvertise`): `new-rd` for VTEP B's own RD;
//! - `EVPND_SCALE_VERIFY` (200000): check the final FDB with one dump up to
//!   this many MACs (0 = never). The kernel's FDB dump is quadratic (each
//!   continuation skips from the start of the table): ~10 s at 100k here.
//! - `EVPND_SCALE_PERF=DIR`: `perf record -g` the daemon(s) of each run
//!   into `DIR/<daemon>-<N>.data` (profiling).
//!
//! Needs root and FRR (`make deps`); prints `SKIPPED` otherwise.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "bench harness: a failure is a bench failure"
)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use integration::fdbwatch::{dump_count, FdbWatch, Vtep};
use integration::inject::{
    accept_within, cpu_seconds, listen_in, status_kib, Session, SessionCfg, Workload,
};
use integration::topo::link;
use integration::{poll_until, skip_unless, Evpnd, Frr, Netns, TestDir};

const ASN: u32 = 65000;
const VNI: u32 = 100;
const LINK: u8 = 60;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// evpnd: by default (`fdb_nexthops = true`) `nhid` entries, one FDB
    /// nexthop group per VTEP; with `fdb_nexthops = false` `dst VTEP` on
    /// every VXLAN entry.
    Evpnd {
        nexthops: bool,
    },
    Frr,
    /// No daemon: netlink-glue writes the same entries straight from an
    /// intent (in merged applies of 16384 MACs, as evpnd's dataplane task
    /// does), `dst` or `nhid`: the cost of the writes themselves.
    Floor {
        nexthops: bool,
    },
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Evpnd { nexthops: true } => "evpnd",
            Kind::Evpnd { nexthops: false } => "evpnd, dst entries",
            Kind::Frr => "FRR bgpd+zebra",
            Kind::Floor { nexthops: false } => "no daemon, dst",
            Kind::Floor { nexthops: true } => "no daemon, nhid",
        }
    }
}

/// One phase: seconds until done, or how far it got.
#[derive(Debug, Clone, Default)]
struct Phase {
    secs: Option<f64>,
    reached: u64,
}

#[derive(Debug)]
struct Row {
    kind: Kind,
    n: u32,
    program: Phase,
    moved: Phase,
    cpu: f64,
    rss_mib: f64,
    note: String,
}

enum Dut {
    Evpnd(Evpnd),
    Frr(Frr),
}

impl Dut {
    fn pids(&self) -> Vec<u32> {
        match self {
            Dut::Evpnd(e) => e.pid().into_iter().collect(),
            Dut::Frr(f) => f.bgpd_pid().into_iter().chain(f.zebra_pid()).collect(),
        }
    }

    fn cpu(&self) -> f64 {
        self.pids().iter().filter_map(|p| cpu_seconds(*p)).sum()
    }

    /// Sum of the peak RSS of the daemon's processes (an upper bound of
    /// their joint peak).
    fn hwm_mib(&self) -> f64 {
        self.pids()
            .iter()
            .filter_map(|p| status_kib(*p, "VmHWM"))
            .sum::<u64>() as f64
            / 1024.0
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn evpnd_toml(me: Ipv4Addr, peer: Ipv4Addr, nexthops: bool) -> String {
    format!(
        "router_id = \"{me}\"\nasn = {ASN}\nvtep_address = \"{me}\"\nconnect_retry = 1\n\
         fdb_nexthops = {nexthops}\n\
         [graceful_restart]\nenabled = false\n\
         [duplicate_detection]\nenabled = false\n\
         \n[[neighbor]]\naddress = \"{peer}\"\nremote_as = {ASN}\nfamilies = [\"evpn\"]\n\
         hold_time = 90\nconnect_retry = 1\n\
         \n[[vni]]\nvni = {VNI}\nbridge = \"br{VNI}\"\n"
    )
}

fn frr_conf(me: Ipv4Addr, peer: Ipv4Addr) -> String {
    format!(
        "frr defaults datacenter\nhostname leaf\n\
         router bgp {ASN}\n bgp router-id {me}\n no bgp default ipv4-unicast\n\
         timers bgp 30 90\n neighbor {peer} remote-as {ASN}\n neighbor {peer} timers connect 1\n\
         address-family l2vpn evpn\n  neighbor {peer} activate\n  advertise-all-vni\n\
         exit-address-family\n"
    )
}

/// The bridge and VXLAN device FRR expects to find (zebra does not create
/// them), set up as zebra's documentation and our netlink-glue do.
fn frr_devices(ns: &Netns, local: Ipv4Addr) -> Result<()> {
    let (br, vx) = integration::topo::frr_vni_devices(ns, VNI, &local.to_string())?;
    for d in [&br, &vx] {
        ns.ip(&["link", "set", d, "up"])?;
    }
    Ok(())
}

/// Wait for `w`'s count at `v` to reach `n`; seconds from `from`.
fn wait_phase(
    w: &FdbWatch,
    v: Vtep,
    n: u64,
    from: Instant,
    cap: Duration,
    what: &str,
    session: Option<&Session>,
) -> (Phase, String) {
    let mut last_log = Instant::now();
    let polls = cap.as_millis() / 20 + 100;
    for _ in 0..polls {
        if let Some(at) = w.reached(v) {
            return (
                Phase {
                    secs: Some(at.saturating_duration_since(from).as_secs_f64()),
                    reached: n,
                },
                String::new(),
            );
        }
        if let Some(why) = session.and_then(|s| s.stats.ended()) {
            return (
                Phase {
                    secs: None,
                    reached: w.count(v),
                },
                format!("{what}: session ended: {why}"),
            );
        }
        if from.elapsed() > cap {
            break;
        }
        if last_log.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "scale:   {what}: {} of {n} after {:.0} s",
                w.count(v),
                from.elapsed().as_secs_f64()
            );
            last_log = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (
        Phase {
            secs: None,
            reached: w.count(v),
        },
        format!("{what}: cap of {} s reached", cap.as_secs()),
    )
}

fn run(kind: Kind, n: u32, wa: &Workload, wb: &Workload, cap: Duration) -> Result<Row> {
    let dir = TestDir::new(&format!("scale-{}", kind.label().replace([' ', '+'], "-")))?;
    let inj = Netns::new()?;
    let leaf = Netns::new()?;
    let (a, b) = link(LINK, &inj, "eth0", &leaf, "eth0")?;
    let (vtep_a, me): (Ipv4Addr, Ipv4Addr) = (a.v4.parse()?, b.v4.parse()?);
    let vtep_b = Ipv4Addr::new(10, 0, LINK, 3);
    inj.addr("eth0", &format!("{vtep_b}/24"))?;
    let listener = listen_in(&inj, SocketAddr::new(vtep_a.into(), 179))?;
    let dut = match kind {
        Kind::Floor { .. } => bail!("the no-daemon rows run without a daemon (run_floor)"),
        Kind::Evpnd { nexthops } => {
            let e = Evpnd::start_with_env(
                &leaf,
                &dir,
                "leaf",
                &evpnd_toml(me, vtep_a, nexthops),
                &[("RUST_LOG", "info")],
            )?;
            poll_until(
                "vxlan100 created by evpnd",
                Duration::from_secs(20),
                Duration::from_millis(50),
                || Ok(leaf.ip(&["link", "show", "vxlan100"]).ok()),
            )
            .with_context(|| e.log())?;
            Dut::Evpnd(e)
        }
        Kind::Frr => {
            frr_devices(&leaf, me)?;
            Dut::Frr(Frr::start_with_zebra_args(
                &leaf,
                &dir,
                &frr_conf(me, vtep_a),
                &["-s", "90000000"],
            )?)
        }
    };
    let mut perf = match std::env::var("EVPND_SCALE_PERF") {
        Ok(d) if !d.is_empty() => {
            let pids: Vec<String> = dut.pids().iter().map(u32::to_string).collect();
            let out = format!("{d}/{}-{n}.data", kind.label().replace([' ', '+'], "-"));
            Some(
                std::process::Command::new("perf")
                    .args(["record", "-q", "-F", "499", "-g", "-o", &out, "-p"])
                    .arg(pids.join(","))
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .context("start perf record")?,
            )
        }
        _ => None,
    };
    let mut watch = FdbWatch::start(&leaf, n, vtep_a, vtep_b)?;
    watch.target(Vtep::A, u64::from(n));
    let stream = accept_within(&listener, Duration::from_secs(60))
        .with_context(|| format!("{} did not connect", kind.label()))?;
    let cpu0 = dut.cpu();
    let cfg = SessionCfg {
        asn: ASN,
        router_id: vtep_a,
        hold_time: 90,
        paused: false,
    };
    let mut s = Session::establish(
        stream,
        &cfg,
        Some(wa.bytes.clone()),
        0,
        Duration::from_secs(30),
    )?;
    let first = poll_until(
        "first UPDATE written",
        Duration::from_secs(30),
        Duration::from_millis(5),
        || Ok(s.first_update.get().copied()),
    )?;
    eprintln!("scale: {} <- {n} MACs at VTEP A", kind.label());
    let (program, mut note) = wait_phase(
        &watch,
        Vtep::A,
        u64::from(n),
        first,
        cap,
        "program",
        Some(&s),
    );
    let mut moved = Phase::default();
    if program.secs.is_some() {
        watch.target(Vtep::B, u64::from(n));
        let sent = s.send(wb.bytes.clone())?;
        let first_b = poll_until(
            "first move UPDATE written",
            Duration::from_secs(30),
            Duration::from_millis(5),
            || Ok(sent.first.get().copied()),
        )?;
        eprintln!("scale: {} <- {n} MACs moved to VTEP B", kind.label());
        let (m, why) = wait_phase(
            &watch,
            Vtep::B,
            u64::from(n),
            first_b,
            cap,
            "move",
            Some(&s),
        );
        moved = m;
        note = why;
    }
    let cpu = dut.cpu() - cpu0;
    let rss_mib = dut.hwm_mib();
    if let Some(p) = perf.as_mut() {
        // SAFETY: kill(2) on our own child: perf writes its file on SIGINT.
        unsafe { libc::kill(p.id() as libc::pid_t, libc::SIGINT) };
        let _ = p.wait();
    }
    let overruns = watch.overruns();
    let events = watch.events();
    watch.stop()?;
    if overruns > 0 {
        note.push_str(&format!(
            " [watcher lost events {overruns}x, recounted from dumps]"
        ));
    }
    if u64::from(n) <= env_u64("EVPND_SCALE_VERIFY", 200_000) && moved.secs.is_some() {
        match dump_count(&leaf, n, vtep_a, vtep_b, cap) {
            Ok((at_a, at_b, other, took)) => {
                eprintln!(
                    "scale: check dump: {at_b} at B, {at_a} at A, {other} elsewhere ({:.1} s; {events} notifications seen)",
                    took.as_secs_f64()
                );
                if at_b != u64::from(n) || at_a != 0 || other != 0 {
                    note.push_str(&format!(
                        " [dump disagrees: {at_b} at B, {at_a} at A, {other} elsewhere]"
                    ));
                }
            }
            Err(e) => note.push_str(&format!(" [check dump failed: {e:#}]")),
        }
    }
    s.stop();
    drop(dut);
    Ok(Row {
        kind,
        n,
        program,
        moved,
        cpu,
        rss_mib,
        note: note.trim().to_string(),
    })
}

/// No daemon: the same N remote MACs written by netlink-glue from
/// a thread in the leaf namespace (no BGP, no daemon), then all moved.
fn run_floor(nexthops: bool, n: u32, cap: Duration) -> Result<Row> {
    use netlink_glue::{Change, Dataplane, Intent, L2Vni, Netlink, RemoteMac};
    let kind = Kind::Floor { nexthops };
    let dir = TestDir::new("scale-floor")?;
    let peer = Netns::new()?;
    let leaf = Netns::new()?;
    let (a, b) = link(LINK, &peer, "eth0", &leaf, "eth0")?;
    let (vtep_a, me): (Ipv4Addr, Ipv4Addr) = (a.v4.parse()?, b.v4.parse()?);
    let vtep_b = Ipv4Addr::new(10, 0, LINK, 3);
    let mut watch = FdbWatch::start(&leaf, n, vtep_a, vtep_b)?;
    let vni = evpn_proto::Vni::new(VNI).ok_or_else(|| anyhow!("VNI"))?;
    let changes = |vtep: Ipv4Addr| -> Vec<Change> {
        (0..n)
            .map(|i| {
                let o = i.to_be_bytes();
                Change::RemoteMac {
                    vni,
                    mac: evpn_proto::Mac([2, 0, o[0], o[1], o[2], o[3]]),
                    to: Some(RemoteMac {
                        vtep: vtep.into(),
                        sticky: false,
                    }),
                }
            })
            .collect()
    };
    let (to_a, to_b) = (changes(vtep_a), changes(vtep_b));
    let state = dir.path().join("owned");
    // Phase instants come back from the writer thread; the watcher's
    // instants say when the kernel held them all.
    let (tx, rx) = std::sync::mpsc::channel::<(u8, Instant)>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let writer = integration::fdbwatch::in_ns(&leaf, move || -> Result<f64> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let mut dp = Netlink::new(netlink_glue::Config::new(state))?;
            let mut intent = Intent::default();
            let mut l2 = L2Vni::new(vni, me.into());
            l2.fdb_nexthops = nexthops;
            intent.l2vnis.insert(vni, l2);
            let r = dp.reconcile(&intent).await;
            if !r.ok() {
                bail!("devices: {r}");
            }
            let cpu0 = thread_cpu();
            for (phase, list) in [(0u8, &to_a), (1, &to_b)] {
                if phase == 1 && go_rx.recv_timeout(cap).is_err() {
                    bail!("no go for the move");
                }
                let _ = tx.send((phase, Instant::now()));
                dp.bulk(true);
                for (g, chunk) in list.chunks(16_384).enumerate() {
                    let r = dp.apply(g as u64 + 2, chunk).await;
                    if !r.failed.is_empty() {
                        bail!("apply: {r}");
                    }
                }
                dp.bulk(false);
            }
            Ok(thread_cpu() - cpu0)
        })
    })?;
    watch.target(Vtep::A, u64::from(n));
    let (_, t_a) = rx.recv_timeout(Duration::from_secs(60))?;
    let (program, mut note) = wait_phase(&watch, Vtep::A, u64::from(n), t_a, cap, "program", None);
    let mut moved = Phase::default();
    if program.secs.is_some() {
        watch.target(Vtep::B, u64::from(n));
        go_tx.send(())?;
        let (_, t_b) = rx.recv_timeout(Duration::from_secs(60))?;
        let (m, why) = wait_phase(&watch, Vtep::B, u64::from(n), t_b, cap, "move", None);
        moved = m;
        note = why;
    }
    drop(go_tx);
    let cpu = writer
        .join()
        .map_err(|_| anyhow!("writer thread panicked"))??;
    watch.stop()?;
    Ok(Row {
        kind,
        n,
        program,
        moved,
        cpu,
        rss_mib: 0.0,
        note,
    })
}

/// CPU seconds of the calling thread.
fn thread_cpu() -> f64 {
    // SAFETY: getrusage(2) fills the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(u.ru_utime) + t(u.ru_stime)
}

fn fmt_phase(p: &Phase, n: u32, cap: Duration) -> String {
    match p.secs {
        Some(s) => format!("{s:.2} s"),
        None if p.reached == 0 && cap.is_zero() => "-".into(),
        None => format!(">{} s ({}/{n})", cap.as_secs(), p.reached),
    }
}

fn print(rows: &[Row], cap: Duration) {
    println!(
        "\n== Full pipeline, one leaf: N MAC-only RT-2 from VTEP A, then all N moved to VTEP B (MAC Mobility seq 1); time until the leaf's kernel FDB holds them"
    );
    println!(
        "{:<18} {:>8} {:>22} {:>22} {:>8} {:>10}",
        "daemon", "MACs", "program (all at A)", "move (all at B)", "CPU s", "peak RSS"
    );
    for r in rows {
        let mv = if r.program.secs.is_none() {
            "-".to_string()
        } else {
            fmt_phase(&r.moved, r.n, cap)
        };
        let rss = if r.rss_mib > 0.0 {
            format!("{:.0} MiB", r.rss_mib)
        } else {
            "-".into()
        };
        println!(
            "{:<18} {:>8} {:>22} {:>22} {:>8.1} {:>10}",
            r.kind.label(),
            r.n,
            fmt_phase(&r.program, r.n, cap),
            mv,
            r.cpu,
            rss
        );
        if !r.note.is_empty() {
            println!("  {}: {}", r.kind.label(), r.note);
        }
    }
    let mut sizes: Vec<u32> = rows.iter().map(|r| r.n).collect();
    sizes.sort_unstable();
    sizes.dedup();
    let find = |k: Kind, n: u32| rows.iter().find(|r| r.kind == k && r.n == n);
    for n in &sizes {
        for ek in [
            Kind::Evpnd { nexthops: true },
            Kind::Evpnd { nexthops: false },
        ] {
            let (Some(e), Some(f)) = (find(ek, *n), find(Kind::Frr, *n)) else {
                continue;
            };
            let who = ek.label();
            // A run that did not finish counts as the cap (a lower bound of
            // FRR's time, an upper bound of evpnd's).
            let t = |p: &Phase| p.secs.unwrap_or(cap.as_secs_f64());
            println!(
                "{n} MACs: program FRR/{who} = {:.2}x, move FRR/{who} = {:.2}x (target >= 3x); memory {who}/FRR = {:.2} (target <= 0.25)",
                t(&f.program) / t(&e.program).max(1e-3),
                t(&f.moved) / t(&e.moved).max(1e-3),
                e.rss_mib / f.rss_mib.max(1e-9)
            );
            println!(
                "{n} MACs: CPU seconds FRR/{who} = {:.2}x (both phases; independent of how much of the machine each got)",
                f.cpu / e.cpu.max(1e-3)
            );
        }
    }
    for n in &sizes {
        // Without a daemon: what writing the same entries costs (the
        // kernel's share plus netlink-glue's encoding), for scale.
        let t = |p: &Phase| p.secs.unwrap_or(cap.as_secs_f64());
        for (fk, ek) in [
            (
                Kind::Floor { nexthops: true },
                Kind::Evpnd { nexthops: true },
            ),
            (
                Kind::Floor { nexthops: false },
                Kind::Evpnd { nexthops: false },
            ),
        ] {
            let Some(fl) = find(fk, *n) else { continue };
            let frr = find(Kind::Frr, *n).map_or("-".into(), |f| {
                format!("{:.2}x", t(&f.program) / t(&fl.program).max(1e-3))
            });
            let ev = find(ek, *n).map_or("-".into(), |e| {
                format!("{:.2}", t(&e.program) / t(&fl.program).max(1e-3))
            });
            println!(
                "{n} MACs: {}: program {:.2} s; FRR/that = {frr}, {}/that = {ev} (the writes alone, no BGP)",
                fk.label(),
                t(&fl.program),
                ek.label()
            );
        }
    }
    if let (Some(lo), Some(hi)) = (sizes.first(), sizes.last()) {
        if lo != hi {
            let k = f64::from(*hi) / f64::from(*lo);
            for kind in [
                Kind::Evpnd { nexthops: true },
                Kind::Evpnd { nexthops: false },
                Kind::Frr,
            ] {
                let (Some(a), Some(b)) = (find(kind, *lo), find(kind, *hi)) else {
                    continue;
                };
                let ratio = |x: &Phase, y: &Phase| match (x.secs, y.secs) {
                    (Some(x), Some(y)) => format!("{:.1}", y / x.max(1e-3)),
                    _ => "-".into(),
                };
                println!(
                    "linearity {}: {hi}/{lo} MACs: program time x{}, move time x{}, peak RSS x{:.1} (linear = x{k:.0})",
                    kind.label(),
                    ratio(&a.program, &b.program),
                    ratio(&a.moved, &b.moved),
                    b.rss_mib / a.rss_mib.max(1e-9)
                );
            }
        }
    }
}

fn main() -> Result<()> {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "/usr/lib/frr/zebra", "vtysh"]) {
        return Ok(());
    }
    let sizes: Vec<u32> = std::env::var("EVPND_SCALE_SIZES")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .map(|s| s.trim().replace('_', "").parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow!("EVPND_SCALE_SIZES: {e}"))?;
    if sizes.iter().any(|n| *n == 0 || *n > 16_000_000) {
        bail!("EVPND_SCALE_SIZES: sizes are 1..=16000000");
    }
    let cap = Duration::from_secs(env_u64("EVPND_SCALE_CAP_SECS", 300).clamp(1, 3600));
    let only = std::env::var("EVPND_SCALE_ONLY").unwrap_or_default();
    let want = |s: &str| only.is_empty() || only.split(',').any(|o| o.trim() == s);
    let (vtep_a, vtep_b) = (Ipv4Addr::new(10, 0, LINK, 1), Ipv4Addr::new(10, 0, LINK, 3));
    let new_rd = match std::env::var("EVPND_SCALE_MOVE").as_deref() {
        Ok("new-rd") => true,
        Ok("readvertise") | Ok("") | Err(_) => false,
        Ok(other) => bail!("EVPND_SCALE_MOVE: `readvertise` or `new-rd`, not {other:?}"),
    };
    println!(
        "move: {}",
        if new_rd {
            "VTEP B advertises under its own RD (A's routes stay)"
        } else {
            "the same routes re-advertised with next hop B (each replaces its route)"
        }
    );
    let mut rows = Vec::new();
    let mut failures = Vec::new();
    for n in sizes {
        let t = Instant::now();
        let wa = Workload::rt2_macs(n, ASN, vtep_a, vtep_a, VNI, None)?;
        let rd_b = if new_rd { vtep_b } else { vtep_a };
        let wb = Workload::rt2_macs(n, ASN, vtep_b, rd_b, VNI, Some(1))?;
        eprintln!(
            "scale: built 2 x {n} MAC-only RT-2 ({} + {} UPDATEs, {:.1} MB) in {:.2} s",
            wa.messages,
            wb.messages,
            (wa.bytes.len() + wb.bytes.len()) as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
        for (kind, key) in [
            (Kind::Floor { nexthops: true }, "floor"),
            (Kind::Floor { nexthops: false }, "floor-dst"),
            (Kind::Evpnd { nexthops: true }, "evpnd"),
            (Kind::Evpnd { nexthops: false }, "evpnd-dst"),
            (Kind::Frr, "frr"),
        ] {
            if !want(key) {
                continue;
            }
            let r = match kind {
                Kind::Floor { nexthops } => run_floor(nexthops, n, cap),
                _ => run(kind, n, &wa, &wb, cap),
            };
            match r {
                Ok(r) => {
                    eprintln!("scale: {r:?}");
                    rows.push(r);
                }
                Err(e) => failures.push(format!("{} {n}: {e:#}", kind.label())),
            }
        }
    }
    print(&rows, cap);
    if let Ok(l) = std::fs::read_to_string("/proc/loadavg") {
        println!("load average at the end: {}", l.trim());
    }
    for f in &failures {
        println!("FAILED: {f}");
    }
    if !failures.is_empty() {
        bail!("{} run(s) failed", failures.len());
    }
    Ok(())
}
