//! `make bench`: program 100k remote MACs (200k FDB entries: the bridge
//! `master` entry and the VXLAN `self` entry of each, as zebra writes them)
//! with netlink-glue and with `bridge -batch`, each in a fresh network
//! namespace, and print entries/s, the ratio, and the peak RSS of each.
//!
//! Each side runs in its own child process (netlink-glue: this binary
//! re-executed with `--child`), and its peak RSS comes from `wait4()` on that
//! child, so the numbers are separable. Needs root; prints `SKIPPED` without.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::zombie_processes,
    reason = "a benchmark driver: any failure aborts the run; children are reaped with wait4"
)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Instant;

use evpn_proto::{Mac, Vni};
use netlink_glue::netns::{self, Netns};
use netlink_glue::{Change, Config, Dataplane, Intent, L2Vni, Netlink, RemoteMac};

const MACS: u32 = 100_000;
/// Changes per `apply` call, as the daemon would coalesce a burst.
const SLICE: u32 = 5_000;
const VTEPS: [&str; 4] = ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"];

fn mac(k: u32) -> Mac {
    Mac([
        0x02,
        0x03,
        (k >> 24) as u8,
        (k >> 16) as u8,
        (k >> 8) as u8,
        k as u8,
    ])
}

fn vni() -> Vni {
    Vni::new(100).unwrap()
}

/// Creates br100 + vxlan100 the way both sides start.
fn devices(ns: &Netns) {
    ns.sh("ip link add br100 type bridge && ip link set br100 up && \
         ip link add vxlan100 type vxlan id 100 local 10.0.0.1 dstport 4789 nolearning && \
         ip link set vxlan100 master br100 && ip link set vxlan100 up && \
         bridge link set dev vxlan100 learning off neigh_suppress on")
        .unwrap();
}

fn count_entries(ns: &Netns) -> usize {
    let out = ns
        .sh_output("bridge fdb show dev vxlan100 | grep -c extern_learn")
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Peak RSS (KiB) and exit status of a child, reaped with wait4; prints
/// its user and system CPU time.
fn reap(pid: u32) -> (i64, i32) {
    let mut status = 0;
    // SAFETY: rusage is plain old data; all-zero is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet reaped; pointers are valid.
    let r = unsafe { libc::wait4(pid as i32, &mut status, 0, &mut ru) };
    assert_eq!(r, pid as i32, "wait4");
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    println!(
        "  (child {pid}: user {:.2} s, system {:.2} s)",
        secs(ru.ru_utime),
        secs(ru.ru_stime)
    );
    (ru.ru_maxrss, status)
}

/// The netlink-glue side, in the child: programs the MACs and prints the
/// elapsed seconds of the programming alone.
fn child(ns_path: &str, state: &str) {
    netns::enter(ns_path).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let secs = rt.block_on(async {
        let mut dp = Netlink::new(Config::new(state)).unwrap();
        let mut intent = Intent::default();
        intent
            .l2vnis
            .insert(vni(), L2Vni::new(vni(), "10.0.0.1".parse().unwrap()));
        let r = dp.reconcile(&intent).await;
        assert!(r.ok(), "{r}");
        let t = Instant::now();
        let mut failed = 0;
        for s in 0..MACS / SLICE {
            let changes: Vec<Change> = (s * SLICE..(s + 1) * SLICE)
                .map(|k| Change::RemoteMac {
                    vni: vni(),
                    mac: mac(k),
                    to: Some(RemoteMac {
                        vtep: VTEPS[(k % 4) as usize].parse().unwrap(),
                        sticky: false,
                    }),
                })
                .collect();
            let r = dp.apply(u64::from(s) + 2, &changes).await;
            failed += r.failed.len();
        }
        assert_eq!(failed, 0, "netlink-glue: ops failed");
        t.elapsed().as_secs_f64()
    });
    println!("{secs}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(&args[i + 1], &args[i + 2]);
        return;
    }
    if !netns::can_create() {
        println!("SKIPPED: fdb bench needs root to create network namespaces");
        return;
    }
    let entries = 2 * MACS as usize;
    println!(
        "fdb bench: {MACS} remote MACs = {entries} FDB entries (master + self), 4 remote VTEPs"
    );

    // netlink-glue, in a child process.
    let ns = Netns::new("bench").unwrap();
    devices(&ns);
    let state = ns.scratch().join("owned");
    let t = Instant::now();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--child",
            &format!("/run/netns/{}", ns.name()),
            state.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut stdout = child.stdout.unwrap();
    let (ours_rss, status) = reap(pid);
    let ours_wall = t.elapsed();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut out).unwrap();
    assert_eq!(status, 0, "netlink-glue child failed");
    let ours_secs: f64 = out.trim().parse().unwrap();
    let ours_count = count_entries(&ns);
    assert_eq!(
        ours_count, entries,
        "netlink-glue left {ours_count} entries"
    );
    let _ = std::fs::remove_file(&state);
    drop(ns);

    // bridge -batch with the same entries.
    let ns = Netns::new("benchb").unwrap();
    devices(&ns);
    let path = ns.scratch().join("fdb.batch");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        for k in 0..MACS {
            let m = mac(k);
            let vtep = VTEPS[(k % 4) as usize];
            writeln!(f, "fdb add {m} dev vxlan100 dst {vtep} self extern_learn").unwrap();
            writeln!(f, "fdb add {m} dev vxlan100 master extern_learn").unwrap();
        }
    }
    let t = Instant::now();
    let child = Command::new("ip")
        .args(["netns", "exec", ns.name(), "bridge", "-batch"])
        .arg(&path)
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (bridge_rss, status) = reap(child.id());
    let bridge_wall = t.elapsed();
    assert_eq!(status, 0, "bridge -batch failed");
    let bridge_count = count_entries(&ns);
    assert_eq!(
        bridge_count, entries,
        "bridge -batch left {bridge_count} entries"
    );
    let _ = std::fs::remove_file(&path);
    drop(ns);

    let ours_rate = entries as f64 / ours_secs;
    let bridge_rate = entries as f64 / bridge_wall.as_secs_f64();
    println!(
        "netlink-glue:  {:>9.0} entries/s  ({:.2} s programming, {:.2} s process wall)  peak RSS {:.1} MB",
        ours_rate,
        ours_secs,
        ours_wall.as_secs_f64(),
        ours_rss as f64 / 1024.0
    );
    println!(
        "bridge -batch: {:>9.0} entries/s  ({:.2} s process wall incl. parsing)             peak RSS {:.1} MB",
        bridge_rate,
        bridge_wall.as_secs_f64(),
        bridge_rss as f64 / 1024.0
    );
    let ratio = ours_rate / bridge_rate;
    let wall_ratio = bridge_wall.as_secs_f64() / ours_wall.as_secs_f64();
    println!(
        "ratio netlink-glue / bridge -batch: {ratio:.2}x (target >= 2.5x; {wall_ratio:.2}x on whole-process wall time)"
    );
    println!(
        "netlink-glue peak RSS {:.1} MB (target < 32 MB): {}",
        ours_rss as f64 / 1024.0,
        if ours_rss < 32 * 1024 { "ok" } else { "OVER" }
    );
}
