//! netlink-glue against the real kernel, each test in private network
//! namespaces (`evt<pid>n<k>…`, removed on drop). Needs root; without it
//! every test prints `SKIPPED: …` and passes.
//!
//! Runs here (kernel 6.18 without vrf/802.1Q/vlan_filtering): devices, FDB,
//! flood lists, neighbours, anycast gateway, L3 VNI backend B, monitoring,
//! ENOBUFS resync, reconciliation after kill -9.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns panic on setup failure by design"
)]

mod common;

use common::*;
use evpn_proto::Mac;
use netlink_glue::{
    BackendChoice, Change, Dataplane, FailReason, Intent, L3Backend, L3Vni, Netlink,
};

#[test]
fn devices_are_created_with_evpn_flags_and_reconcile_is_idempotent() {
    let Some(ns) = ns("dev") else { return };
    ns.sh("ip link add ul0 type veth peer name ul1 && ip link set ul0 up && ip addr add 10.0.0.1/24 dev ul0 && ip addr add fd00::1/64 dev ul0 nodad")
        .unwrap();
    let cfg = config(&ns);
    let (r1, r2) = ns.block_on(move || async move {
        let mut dp = Netlink::new(cfg).unwrap();
        let mut i = Intent::default();
        let mut v = l2(100, "10.0.0.1");
        v.bridge_mac = Some(mac("02:00:00:00:01:00"));
        i.l2vnis.insert(vni(100), v);
        i.l2vnis.insert(vni(200), l2(200, "fd00::1"));
        let r1 = dp.reconcile(&i).await;
        let r2 = dp.reconcile(&i).await;
        (r1, r2)
    });
    assert!(r1.ok(), "{r1}");
    assert!(
        r1.devices.iter().any(|d| d
            .what
            .starts_with("create vxlan vxlan100 id 100 local 10.0.0.1 dstport 4789 nolearning")),
        "{r1}"
    );
    let link = ns.sh("ip -d link show vxlan100").unwrap();
    for want in [
        "vxlan id 100",
        "local 10.0.0.1",
        "dstport 4789",
        "nolearning",
        "master br100",
        "neigh_suppress on",
        "learning off",
    ] {
        assert!(link.contains(want), "missing {want:?} in {link}");
    }
    let link6 = ns.sh("ip -d link show vxlan200").unwrap();
    assert!(link6.contains("local fd00::1"), "{link6}");
    assert!(ns
        .sh("ip link show br100")
        .unwrap()
        .contains("02:00:00:00:01:00"));
    // Second pass: nothing to create, set or write.
    assert!(r2.ok(), "{r2}");
    assert!(r2.devices.is_empty(), "{r2}");
    assert!(r2.plan.is_empty() && r2.applied == 0, "{r2}");
}

#[test]
fn adopting_a_vxlan_device_with_another_vni_is_refused_and_left_alone() {
    let Some(ns) = ns("adopt") else { return };
    ns.sh("ip link add vxlan100 type vxlan id 999 local 10.0.0.1 dstport 4789")
        .unwrap();
    let cfg = config(&ns);
    let r = ns.block_on(move || async move {
        let mut dp = Netlink::new(cfg).unwrap();
        let mut i = Intent::default();
        i.l2vnis.insert(vni(100), l2(100, "10.0.0.1"));
        dp.reconcile(&i).await
    });
    let bad: Vec<_> = r.devices.iter().filter(|d| d.result.is_err()).collect();
    assert_eq!(bad.len(), 1, "{r}");
    assert!(
        bad[0].result.as_ref().unwrap_err().contains("id Some(999)"),
        "{r}"
    );
    assert!(ns
        .sh("ip -d link show vxlan100")
        .unwrap()
        .contains("vxlan id 999"));
}

#[test]
fn remote_entries_are_written_like_zebra_moved_in_place_and_withdrawn() {
    let Some(ns) = ns("fdb") else { return };
    let cfg = config(&ns);
    let name = ns.name().to_string();
    let reports = ns.block_on(move || async move {
        let sh = |c: &str| sh_in(&name, c);
        let mut dp = Netlink::new(cfg).unwrap();
        let mut i = Intent {
            generation: 1,
            ..Intent::default()
        };
        i.l2vnis.insert(vni(100), l2(100, "10.0.0.1"));
        i.remote_macs.insert(
            (vni(100), mac("02:00:00:00:00:0b")),
            remote("10.0.0.2", false),
        );
        i.remote_macs.insert(
            (vni(100), mac("02:00:00:00:00:5a")),
            remote("10.0.0.3", true),
        );
        i.flood.insert((vni(100), ip("10.0.0.2")));
        i.flood.insert((vni(100), ip("10.0.0.3")));
        i.remote_neighs
            .insert((vni(100), ip("10.1.0.20")), mac("02:00:00:00:00:0b"));
        i.remote_neighs
            .insert((vni(100), ip("fd00:1::20")), mac("02:00:00:00:00:0b"));
        i.remote_neighs
            .insert((vni(100), ip("fe80::ff:fe00:b")), mac("02:00:00:00:00:0b"));
        let r1 = dp.reconcile(&i).await;
        let fdb1 = sh("bridge fdb show dev vxlan100");
        let neigh1 = sh("ip neigh show dev br100");
        // Move: one replace on the vxlan entry, no delete.
        let t = std::time::Instant::now();
        let r2 = dp
            .apply(
                2,
                &[Change::RemoteMac {
                    vni: vni(100),
                    mac: mac("02:00:00:00:00:0b"),
                    to: Some(remote("10.0.0.3", false)),
                }],
            )
            .await;
        let took = t.elapsed();
        println!(
            "incremental move applied in {:.3} ms",
            took.as_secs_f64() * 1e3
        );
        let fdb2 = sh("bridge fdb show dev vxlan100");
        // Withdraw everything.
        let r3 = dp
            .apply(
                3,
                &[
                    Change::RemoteMac {
                        vni: vni(100),
                        mac: mac("02:00:00:00:00:0b"),
                        to: None,
                    },
                    Change::RemoteMac {
                        vni: vni(100),
                        mac: mac("02:00:00:00:00:5a"),
                        to: None,
                    },
                    Change::Flood {
                        vni: vni(100),
                        vtep: ip("10.0.0.2"),
                        present: false,
                    },
                    Change::RemoteNeigh {
                        vni: vni(100),
                        ip: ip("10.1.0.20"),
                        mac: None,
                    },
                ],
            )
            .await;
        let fdb3 = sh("bridge fdb show dev vxlan100");
        let neigh3 = sh("ip neigh show dev br100");
        (r1, fdb1, neigh1, r2, fdb2, r3, fdb3, neigh3)
    });
    let (r1, fdb1, neigh1, r2, fdb2, r3, fdb3, neigh3) = reports;
    assert!(r1.ok(), "{r1}");
    let mut got: Vec<&str> = fdb1
        .lines()
        .map(str::trim)
        .filter(|l| !l.contains("permanent") || l.contains("00:00:00:00:00:00"))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            "00:00:00:00:00:00 dst 10.0.0.2 self permanent",
            "00:00:00:00:00:00 dst 10.0.0.3 self permanent",
            "02:00:00:00:00:0b dst 10.0.0.2 self extern_learn",
            "02:00:00:00:00:0b extern_learn master br100",
            "02:00:00:00:00:5a dst 10.0.0.3 self sticky static",
            "02:00:00:00:00:5a sticky master br100 static",
        ],
        "{fdb1}"
    );
    let mut n: Vec<&str> = neigh1.lines().map(str::trim).collect();
    n.sort();
    assert_eq!(
        n,
        vec![
            "10.1.0.20 lladdr 02:00:00:00:00:0b extern_learn NOARP proto 201",
            "fd00:1::20 lladdr 02:00:00:00:00:0b extern_learn NOARP proto 201",
            "fe80::ff:fe00:b lladdr 02:00:00:00:00:0b extern_learn NOARP proto 201",
        ],
        "{neigh1}"
    );
    assert!(r2.ok() && r2.applied == 1, "{r2}");
    assert!(
        fdb2.contains("02:00:00:00:00:0b dst 10.0.0.3 self extern_learn"),
        "{fdb2}"
    );
    assert!(r3.ok(), "{r3}");
    let left: Vec<&str> = fdb3
        .lines()
        .map(str::trim)
        .filter(|l| !l.contains("permanent") || l.contains("00:00:00:00:00:00"))
        .collect();
    assert_eq!(
        left,
        vec!["00:00:00:00:00:00 dst 10.0.0.3 self permanent"],
        "{fdb3}"
    );
    assert!(!neigh3.contains("10.1.0.20"), "{neigh3}");
    assert!(neigh3.contains("fd00:1::20"), "{neigh3}");
}

#[test]
fn reconcile_deletes_only_our_stale_entries_and_never_operator_ones() {
    let Some(ns) = ns("own") else { return };
    let cfg = config(&ns);
    let name = ns.name().to_string();
    let (r1, r2) = ns.block_on(move || async move {
        let mut dp = Netlink::new(cfg).unwrap();
        let mut i = Intent::default();
        i.l2vnis.insert(vni(100), l2(100, "10.0.0.1"));
        i.remote_macs.insert(
            (vni(100), mac("02:00:00:00:00:0b")),
            remote("10.0.0.2", false),
        );
        i.remote_macs.insert(
            (vni(100), mac("02:00:00:00:00:5a")),
            remote("10.0.0.2", true),
        );
        i.flood.insert((vni(100), ip("10.0.0.2")));
        i.remote_neighs
            .insert((vni(100), ip("10.1.0.20")), mac("02:00:00:00:00:0b"));
        let r1 = dp.reconcile(&i).await;
        // The operator's own entries, of every kind we also write.
        sh_in(
            &name,
            "bridge fdb add 02:00:00:00:00:99 dev vxlan100 dst 10.0.0.9 self permanent && \
             bridge fdb append 00:00:00:00:00:00 dev vxlan100 dst 10.0.0.9 self permanent && \
             bridge fdb add 02:00:00:00:00:98 dev vxlan100 master static && \
             ip neigh add 10.1.0.99 lladdr 02:00:00:00:00:99 dev br100 nud permanent",
        );
        // Empty intent: everything of ours goes, nothing of theirs.
        i.remote_macs.clear();
        i.flood.clear();
        i.remote_neighs.clear();
        let r2 = dp.reconcile(&i).await;
        (r1, r2)
    });
    assert!(r1.ok(), "{r1}");
    assert!(r2.ok(), "{r2}");
    assert_eq!(r2.plan.count("delete"), 6, "{}", r2.plan);
    assert_eq!(
        fdb_lines(&ns, "vxlan100"),
        vec![
            "00:00:00:00:00:00 dst 10.0.0.9 self permanent",
            "02:00:00:00:00:98 master br100 static",
            "02:00:00:00:00:99 dst 10.0.0.9 self permanent",
        ]
    );
    let n = ns.sh("ip neigh show dev br100").unwrap();
    assert_eq!(
        n.trim(),
        "10.1.0.99 lladdr 02:00:00:00:00:99 PERMANENT",
        "{n}"
    );
    // The sticky MAC and the flood destination are no longer recorded.
    let rec = std::fs::read_to_string(state_file(&ns)).unwrap();
    assert!(!rec.contains("sticky") && !rec.contains("flood"), "{rec}");
}

#[test]
fn foreign_entry_at_a_wanted_key_is_a_conflict_and_learned_one_is_taken_over() {
    let Some(ns) = ns("confl") else { return };
    let cfg = config(&ns);
    let name = ns.name().to_string();
    let r = ns.block_on(move || async move {
        let mut dp = Netlink::new(cfg).unwrap();
        let mut i = Intent::default();
        i.l2vnis.insert(vni(100), l2(100, "10.0.0.1"));
        dp.reconcile(&i).await;
        sh_in(
            &name,
            "ip link add hp type veth peer name hq && ip link set hp master br100 && ip link set hp up && \
             bridge fdb add 02:00:00:00:00:0c dev hp master static && \
             ip neigh add 10.1.0.30 lladdr 02:00:00:00:00:0d dev br100 nud reachable",
        );
        i.remote_macs
            .insert((vni(100), mac("02:00:00:00:00:0c")), remote("10.0.0.2", false));
        i.remote_neighs
            .insert((vni(100), ip("10.1.0.30")), mac("02:00:00:00:00:0e"));
        dp.reconcile(&i).await
    });
    // The operator's static host-port entry stays; the kernel-learned
    // neighbour becomes ours.
    assert_eq!(r.failed.len(), 1, "{r}");
    assert_eq!(
        r.failed[0].to_string(),
        "add fdb 02:00:00:00:00:0c extern_learn master on vxlan100: held by an entry evpnd does not own; left alone",
        "{r}"
    );
    assert!(ns
        .sh("bridge fdb show dev hp")
        .unwrap()
        .contains("02:00:00:00:00:0c master br100 static"));
    let n = ns.sh("ip neigh show 10.1.0.30 dev br100").unwrap();
    assert!(
        n.contains("02:00:00:00:00:0e extern_learn NOARP proto 201"),
        "{n}"
    );
}

#[test]
fn kernel_errors_are_reported_against_the_object() {
    let Some(ns) = ns("err") else { return };
    let cfg = config(&ns);
    let r = ns.block_on(move || async move {
        let mut dp = Netlink::new(cfg).unwrap();
        let mut i = Intent::default();
        i.l2vnis.insert(vni(100), l2(100, "10.0.0.1"));
        dp.reconcile(&i).await;
        // An IPv6 destination on an IPv4 VXLAN device, between two good ones.
        dp.apply(
            2,
            &[
                Change::RemoteMac {
                    vni: vni(100),
                    mac: mac("02:00:00:00:00:01"),
                    to: Some(remote("10.0.0.2", false)),
                },
                Change::RemoteMac {
                    vni: vni(100),
                    mac: mac("02:00:00:00:00:02"),
                    to: Some(remote("fd00::2", false)),
                },
                Change::RemoteMac {
                    vni: vni(100),
                    mac: mac("02:00:00:00:00:03"),
                    to: Some(remote("10.0.0.3", false)),
                },
            ],
        )
        .await
    });
    assert_eq!(r.failed.len(), 1, "{r}");
    let text = r.failed[0].to_string();
    assert!(
        text.starts_with("add fdb 02:00:00:00:00:02 dst fd00::2 self extern_learn on vxlan100: E"),
        "{text}"
    );
    assert_eq!(r.applied, 5, "{r}");
    let fdb = fdb_lines(&ns, "vxlan100");
    assert!(
        fdb.contains(&"02:00:00:00:00:03 dst 10.0.0.3 self extern_learn".to_string()),
        "{fdb:?}"
    );
}

/// 3000 remote MACs in one apply (6000 requests: many 32 KiB datagrams,
/// up to 2048 in flight), six of them with an IPv6 destination the IPv4
/// VXLAN device refuses, spread over different datagrams: exactly those
/// six fail, each named by its MAC, and everything else is written.
#[test]
fn errors_in_a_large_batch_are_each_mapped_to_their_object() {
    let Some(ns) = ns("batch") else { return };
    let cfg = config(&ns);
    let bad = |k: u32| k % 500 == 250;
    let m = |k: u32| Mac([0x02, 0x04, 0, 0, (k >> 8) as u8, k as u8]);
    let r = ns.block_on(move || async move {
        let mut dp = Netlink::new(cfg).unwrap();
        let mut i = Intent::default();
        i.l2vnis.insert(vni(100), l2(100, "10.0.0.1"));
        assert!(dp.reconcile(&i).await.ok());
        let changes: Vec<Change> = (0..3000u32)
            .map(|k| Change::RemoteMac {
                vni: vni(100),
                mac: m(k),
                to: Some(remote(if bad(k) { "fd00::2" } else { "10.0.0.2" }, false)),
            })
            .collect();
        dp.apply(2, &changes).await
    });
    let mut failed: Vec<String> = r.failed.iter().map(|f| f.object.clone()).collect();
    failed.sort();
    let want: Vec<String> = (0..3000u32)
        .filter(|&k| bad(k))
        .map(|k| format!("add fdb {} dst fd00::2 self extern_learn on vxlan100", m(k)))
        .collect();
    assert_eq!(failed, want, "{r}");
    for f in &r.failed {
        assert!(
            matches!(&f.reason, FailReason::Kernel(k) if k.errno != 0),
            "{f}"
        );
    }
    assert_eq!(r.applied, 6000 - 6, "{r}");
    let fdb = fdb_lines(&ns, "vxlan100");
    let vx = fdb
        .iter()
        .filter(|l| l.contains("dst 10.0.0.2 self extern_learn"))
        .count();
    let br = fdb
        .iter()
        .filter(|l| l.contains("extern_learn master br100"))
        .count();
    assert_eq!((vx, br), (2994, 3000));
}

/// `plan` is the diff as a report: intent against the kernel, nothing
/// written. Kept, replaced (a move), deleted (ours, stale), added, and a
/// conflict with an operator's entry, each rendered for an operator.
#[test]
fn plan_reports_the_diff_against_the_kernel_without_writing() {
    let Some(ns) = ns("plan") else { return };
    let cfg = config(&ns);
    let name = ns.name().to_string();
    let (plan, before, after) = ns.block_on(move || async move {
        let mut dp = Netlink::new(cfg).unwrap();
        let mut i = Intent::default();
        i.l2vnis.insert(vni(100), l2(100, "10.0.0.1"));
        i.flood.insert((vni(100), ip("10.0.0.2")));
        for (m, vtep) in [
            ("02:00:00:00:00:0b", "10.0.0.2"),
            ("02:00:00:00:00:0c", "10.0.0.2"),
        ] {
            i.remote_macs
                .insert((vni(100), mac(m)), remote(vtep, false));
        }
        i.remote_neighs
            .insert((vni(100), ip("10.1.0.20")), mac("02:00:00:00:00:0b"));
        assert!(dp.reconcile(&i).await.ok());
        sh_in(
            &name,
            "bridge fdb add 02:00:00:00:00:0d dev vxlan100 dst 10.0.0.9 self permanent",
        );
        let before = sh_in(
            &name,
            "bridge fdb show dev vxlan100; ip neigh show dev br100",
        );
        // :0b moves, :0c is withdrawn, :0e is new, :0d is the operator's.
        i.remote_macs.insert(
            (vni(100), mac("02:00:00:00:00:0b")),
            remote("10.0.0.3", false),
        );
        i.remote_macs.remove(&(vni(100), mac("02:00:00:00:00:0c")));
        for m in ["02:00:00:00:00:0d", "02:00:00:00:00:0e"] {
            i.remote_macs
                .insert((vni(100), mac(m)), remote("10.0.0.2", false));
        }
        let plan = dp.plan(&i).await.unwrap();
        let after = sh_in(
            &name,
            "bridge fdb show dev vxlan100; ip neigh show dev br100",
        );
        (plan, before, after)
    });
    assert_eq!(before, after, "plan wrote to the kernel");
    let text = plan.to_string();
    println!("{text}");
    let mut lines: Vec<&str> = text.lines().map(str::trim).collect();
    let head = lines.remove(0);
    assert_eq!(
        head,
        "plan: 3 add, 1 replace, 2 delete, 3 kept, 1 conflicts"
    );
    lines.sort();
    assert_eq!(
        lines,
        vec![
            "add fdb 02:00:00:00:00:0d extern_learn master on vni 100",
            "add fdb 02:00:00:00:00:0e dst 10.0.0.2 self extern_learn on vni 100",
            "add fdb 02:00:00:00:00:0e extern_learn master on vni 100",
            "conflict: fdb 02:00:00:00:00:0d self on vni 100 held by a foreign entry",
            "delete fdb 02:00:00:00:00:0c dst 10.0.0.2 self extern_learn on vni 100",
            "delete fdb 02:00:00:00:00:0c extern_learn master on vni 100",
            "replace fdb 02:00:00:00:00:0b dst 10.0.0.3 self extern_learn on vni 100",
        ],
        "{text}"
    );
}

/// The L3 backend follows the configuration when forced, and the report
/// says which one and why (here: table + ip rule, also where a vrf driver
/// exists).
#[test]
fn a_forced_l3_backend_is_used_and_reported() {
    let Some(ns) = ns("force") else { return };
    let mut cfg = config(&ns);
    cfg.backend = BackendChoice::Force(L3Backend::TableRule);
    let r = ns.block_on(move || async move {
        let mut dp = Netlink::new(cfg).unwrap();
        let mut i = Intent::default();
        let mut l3 = L3Vni::new(
            vni(5000),
            "tenant1",
            1000,
            ip("10.0.0.1"),
            mac("02:00:00:00:50:01"),
        );
        l3.rule_priority = 1000;
        i.l3vnis.insert(vni(5000), l3);
        dp.reconcile(&i).await
    });
    assert!(r.ok(), "{r}");
    assert_eq!(
        r.warnings,
        vec!["L3 VNI backend: table + ip rule (forced by configuration)".to_string()]
    );
    let rules = ns.sh("ip rule show").unwrap();
    assert!(
        rules.contains("1000:\tfrom all iif br5000 lookup 1000 proto 201"),
        "{rules}"
    );
}
