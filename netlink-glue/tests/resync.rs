//! Resynchronisation: the monitor after ENOBUFS (lost events), and the
//! reconciler after the programming process was killed with SIGKILL.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns panic on setup failure by design"
)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use evpn_proto::Mac;
use netlink_glue::{Config, Dataplane, Intent, Netlink, Observation};

#[test]
fn enobufs_on_a_small_buffer_leads_to_overrun_and_a_correct_resync() {
    let Some(leaf) = ns("nobuf") else { return };
    let mut cfg: Config = config(&leaf);
    // 4 KiB requested: the kernel doubles it, room for a handful of events.
    cfg.monitor_rcvbuf = 4096;
    let lname = leaf.name().to_string();
    let (overruns, view, kernel) = leaf.block_on(move || async move {
        let mut dp = Netlink::new(cfg).unwrap();
        let mut i = Intent::default();
        i.l2vnis.insert(vni(100), l2(100, "10.0.0.1"));
        assert!(dp.reconcile(&i).await.ok());
        sh_in(
            &lname,
            "ip link add hp type veth peer name hq && ip link set hp master br100 && ip link set hp up && ip link set hq up",
        );
        let mut obs = dp.observe().await.unwrap();
        // The burst: 40k static local MACs and 10k deletes of them from a
        // separate process (50k events), while this task is busy.
        let mut batch = String::new();
        for k in 0..40_000u32 {
            batch.push_str(&format!(
                "fdb add 02:01:{:02x}:{:02x}:{:02x}:00 dev hp master static\n",
                k >> 16,
                (k >> 8) & 0xff,
                k & 0xff
            ));
        }
        for k in 0..10_000u32 {
            batch.push_str(&format!(
                "fdb del 02:01:{:02x}:{:02x}:{:02x}:00 dev hp master\n",
                k >> 16,
                (k >> 8) & 0xff,
                k & 0xff
            ));
        }
        let path = std::env::temp_dir().join(&lname).join("burst.batch");
        std::fs::write(&path, batch).unwrap();
        let p = path.display().to_string();
        let ns = lname.clone();
        let burst = std::thread::spawn(move || sh_in(&ns, &format!("bridge -batch {p}")));
        // Consume like the daemon: LocalState replaces the view, learns and
        // ageing edit it.
        let mut view: BTreeSet<Mac> = BTreeSet::new();
        let mut overruns = 0;
        let mut burst = Some(burst);
        loop {
            let idle = burst.as_ref().is_none_or(|b| b.is_finished());
            let wait = if idle { 1500 } else { 5000 };
            match tokio::time::timeout(Duration::from_millis(wait), obs.recv()).await {
                Ok(Some(Observation::Overrun)) => overruns += 1,
                Ok(Some(Observation::LocalState { macs, .. })) => {
                    view = macs
                        .into_iter()
                        .filter(|m| m.port.name == "hp" && m.is_static)
                        .map(|m| m.mac)
                        .collect();
                }
                Ok(Some(Observation::LocalMacLearned(l))) if l.port.name == "hp" && l.is_static => {
                    view.insert(l.mac);
                }
                Ok(Some(Observation::LocalMacAged(l))) if l.port.name == "hp" => {
                    view.remove(&l.mac);
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("monitor stopped"),
                Err(_) if idle => break,
                Err(_) => {}
            }
            if let Some(b) = burst.take_if(|b| b.is_finished()) {
                b.join().unwrap();
            }
        }
        let _ = std::fs::remove_file(&path);
        let kernel: BTreeSet<Mac> = sh_in(&lname, "bridge fdb show dev hp")
            .lines()
            .filter(|l| l.contains("static"))
            .filter_map(|l| l.split_whitespace().next().and_then(|m| m.parse().ok()))
            .collect();
        (overruns, view, kernel)
    });
    println!(
        "ENOBUFS test: {overruns} overrun(s); view {} MACs, kernel {} MACs",
        view.len(),
        kernel.len()
    );
    assert!(
        overruns >= 1,
        "no overrun with a 4 KiB buffer and a 50k-event burst"
    );
    assert_eq!(kernel.len(), 30_000);
    let extra: Vec<_> = view.difference(&kernel).take(5).collect();
    let missing: Vec<_> = kernel.difference(&view).take(5).collect();
    assert!(
        extra.is_empty() && missing.is_empty(),
        "view after resync differs from the kernel: extra {extra:?}, missing {missing:?}"
    );
}

fn count(ns: &netlink_glue::netns::Netns, cmd: &str) -> usize {
    let out = ns.sh_output(cmd).unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

/// The programming process is the `kill9_child` example. `cargo test`
/// builds examples next to the test binaries (target/<profile>/examples/);
/// when only this test target was built, build the example here with the
/// same cargo, target directory and profile.
fn kill9_child_exe() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let child = profile_dir.join("examples/kill9_child");
    if !child.exists() {
        let target_dir = profile_dir.parent().unwrap();
        let profile = profile_dir.file_name().unwrap().to_string_lossy();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", "netlink-glue", "--example", "kill9_child"])
            .arg("--target-dir")
            .arg(target_dir)
            .args([
                "--profile",
                if profile == "debug" { "dev" } else { &profile },
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building the kill9_child example failed");
    }
    assert!(child.exists(), "{} is missing", child.display());
    child
}

#[test]
fn reconcile_after_kill_9_keeps_replaces_and_deletes_only_ours() {
    let Some(leaf) = ns("kill9") else { return };
    let state = state_file(&leaf);
    let _ = std::fs::remove_file(&state);
    let child_exe = kill9_child_exe();
    let mut child = std::process::Command::new(child_exe)
        .env(CHILD_NS, format!("/run/netns/{}", leaf.name()))
        .env(CHILD_STATE, &state)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mid = wait_until(20_000, || {
        count(
            &leaf,
            "bridge fdb show dev vxlan100 | grep 'self extern_learn'",
        ) >= 5_000
    });
    child.kill().unwrap(); // SIGKILL: no cleanup of any kind
    child.wait().unwrap();
    assert!(mid, "the child never got half-way");
    let written = count(
        &leaf,
        "bridge fdb show dev vxlan100 | grep 'self extern_learn'",
    );
    println!("killed the programming process after {written} of {N_MACS} remote MACs");
    assert!(
        written < N_MACS as usize,
        "the child finished before the kill"
    );

    // The operator adds entries of every kind while evpnd is down.
    leaf.sh(
        "bridge fdb add 02:00:00:00:00:99 dev vxlan100 dst 10.0.0.9 self permanent && \
         bridge fdb append 00:00:00:00:00:00 dev vxlan100 dst 10.0.0.9 self permanent && \
         bridge fdb add 02:00:00:00:00:98 dev vxlan100 master static && \
         ip neigh add 10.1.0.99 lladdr 02:00:00:00:00:99 dev br100 nud permanent",
    )
    .unwrap();

    // The restarted daemon wants: MACs 0..1000 unchanged, 1000..2000 moved
    // to 10.0.0.3, one new MAC, the rest gone; flood only to 10.0.0.2; the
    // sticky MAC withdrawn.
    let mut b = Intent::default();
    b.l2vnis.insert(vni(100), l2(100, "10.0.0.1"));
    b.flood.insert((vni(100), ip("10.0.0.2")));
    for k in 0..1000 {
        b.remote_macs
            .insert((vni(100), nth_mac(k)), remote("10.0.0.2", false));
    }
    for k in 1000..2000 {
        b.remote_macs
            .insert((vni(100), nth_mac(k)), remote("10.0.0.3", false));
    }
    b.remote_macs.insert(
        (vni(100), mac("02:00:00:00:77:77")),
        remote("10.0.0.2", false),
    );
    let cfg = Config::new(state.clone());
    let r = leaf.block_on(move || async move {
        let mut dp = Netlink::new(cfg).unwrap();
        dp.reconcile(&b).await
    });
    assert!(r.ok(), "{r}");
    println!(
        "restart reconcile: kept {}, added {}, replaced {}, deleted {}",
        r.plan.kept,
        r.plan.count("add"),
        r.plan.count("replace"),
        r.plan.count("delete")
    );
    assert_eq!(r.plan.count("replace"), 1000, "the moved MACs, in place");
    assert!(r.plan.kept >= 2000, "MACs 0..1000 (both entries) were kept");
    // Exactly intent B plus the operator's entries.
    let fdb = fdb_lines(&leaf, "vxlan100");
    let ours: Vec<&String> = fdb.iter().filter(|l| l.contains("extern_learn")).collect();
    assert_eq!(ours.len(), 2 * 2001, "two entries per wanted MAC");
    assert_eq!(
        fdb.iter()
            .filter(|l| l.contains("dst 10.0.0.3 self extern_learn"))
            .count(),
        1000
    );
    for l in [
        "00:00:00:00:00:00 dst 10.0.0.2 self permanent",
        "00:00:00:00:00:00 dst 10.0.0.9 self permanent",
        "02:00:00:00:00:99 dst 10.0.0.9 self permanent",
        "02:00:00:00:00:98 master br100 static",
    ] {
        assert!(fdb.contains(&l.to_string()), "missing {l:?}");
    }
    assert!(
        !fdb.iter().any(|l| l.contains("10.0.0.3 self permanent")),
        "stale flood kept"
    );
    assert!(
        !fdb.iter().any(|l| l.contains("02:00:00:00:00:5a")),
        "stale sticky kept"
    );
    assert!(leaf
        .sh("ip neigh show dev br100")
        .unwrap()
        .contains("10.1.0.99 lladdr 02:00:00:00:00:99 PERMANENT"));
    let _ = std::fs::remove_file(&state);
}
