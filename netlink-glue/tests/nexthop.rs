//! FDB nexthop groups (`L2Vni::fdb_nexthops`) against the real kernel:
//! remote MACs written as `nhid G` with one nexthop pair per remote VTEP,
//! moves that swap the group, pairs deleted when no MAC uses them, a
//! restart that adopts the pairs (no entry rewritten), a change of mode in
//! both directions, an operator's nexthop left alone, and two leaves whose
//! hosts ping each other through `nhid` entries.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns panic on setup failure by design"
)]

mod common;

use common::*;
use netlink_glue::netns::{self, Netns};
use netlink_glue::nl::nexthop::{BASE, PROBE_ID};
use netlink_glue::{Change, Dataplane, Intent, Netlink, Report};

const A: &str = "10.0.0.2";
const B: &str = "10.0.0.3";

/// A leaf with an underlay link (the peer namespace only gives it a
/// carrier; both are removed when dropped).
fn leaf(tag: &str) -> Option<(Netns, Netns)> {
    let l = ns(tag)?;
    let peer = Netns::new(&format!("{tag}p")).unwrap();
    netns::veth(&l, "ul", &peer, "ul").unwrap();
    l.sh("ip addr add 10.0.0.1/24 dev ul && ip link set ul up")
        .unwrap();
    Some((l, peer))
}

fn intent(nexthops: bool, macs: &[(&str, &str, bool)]) -> Intent {
    let mut i = Intent::default();
    let mut v = l2(100, "10.0.0.1");
    v.fdb_nexthops = nexthops;
    i.l2vnis.insert(vni(100), v);
    for (m, vtep, sticky) in macs {
        i.remote_macs
            .insert((vni(100), mac(m)), remote(vtep, *sticky));
    }
    i
}

/// `(MAC, "nhid N" | "dst VTEP")` of the VXLAN device's remote entries.
fn vxlan_entries(l: &Netns) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = fdb_lines(l, "vxlan100")
        .iter()
        .filter(|x| x.contains(" self") && !x.starts_with("00:00:00:00:00:00"))
        .filter_map(|x| {
            let w: Vec<&str> = x.split_whitespace().collect();
            let at = w.iter().position(|t| *t == "nhid" || *t == "dst")?;
            Some((w[0].to_string(), format!("{} {}", w[at], w.get(at + 1)?)))
        })
        .collect();
    v.sort();
    v
}

/// The expected [`vxlan_entries`]: MACs `02:00:00:00:00:0k` with how they
/// point (`"dst A"`, `"nhid 7"`).
fn expect(rows: &[(u8, String)]) -> Vec<(String, String)> {
    rows.iter()
        .map(|(k, via)| (format!("02:00:00:00:00:{k:02x}"), via.clone()))
        .collect()
}

/// `(id, gateway or "group M", protocol)` of every nexthop in `l`.
fn nexthops(l: &Netns) -> Vec<String> {
    let mut v: Vec<String> = l
        .sh("ip nexthop show")
        .unwrap()
        .lines()
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect();
    v.sort();
    v
}

fn group_of(l: &Netns, vtep: &str) -> String {
    let nh = nexthops(l);
    let member = nh
        .iter()
        .find(|x| x.contains(&format!("via {vtep} ")))
        .and_then(|x| x.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("no nexthop via {vtep}: {nh:?}"))
        .to_string();
    nh.iter()
        .find(|x| x.contains(&format!("group {member} ")))
        .and_then(|x| x.split_whitespace().nth(1))
        .unwrap_or_else(|| panic!("no group of {member}: {nh:?}"))
        .to_string()
}

#[test]
fn remote_macs_use_one_nexthop_group_per_vtep_and_follow_moves() {
    let Some((l, _peer)) = leaf("nhg") else {
        return;
    };
    // An operator's FDB nexthop at our first id: skipped, never touched.
    l.sh(&format!("ip nexthop add id {BASE} via 10.0.0.9 fdb"))
        .unwrap();
    let cfg = config(&l);
    let first = intent(
        true,
        &[
            ("02:00:00:00:00:01", A, false),
            ("02:00:00:00:00:02", A, false),
            ("02:00:00:00:00:03", A, true),
            ("02:00:00:00:00:04", B, false),
        ],
    );
    let (r1, r2, pairs) = l.block_on({
        let first = first.clone();
        move || async move {
            let mut dp = Netlink::new(cfg).unwrap();
            let r1 = dp.reconcile(&first).await;
            let r2 = dp.reconcile(&first).await;
            (r1, r2, dp.fdb_nexthops())
        }
    });
    assert!(r1.ok(), "{r1}");
    assert_eq!(r1.plan.count("add"), 8, "{r1}");
    // Idempotent: the second pass finds every entry in place.
    assert!(r2.plan.ops.is_empty(), "{r2}");
    assert_eq!(pairs.len(), 2, "{pairs:?}");
    assert!(
        pairs.iter().all(|(_, n, g)| *n > BASE && *g == n + 1),
        "ids above the operator's {BASE}: {pairs:?}"
    );
    let (ga, gb) = (group_of(&l, A), group_of(&l, B));
    assert_eq!(
        vxlan_entries(&l),
        expect(&[
            (1, format!("nhid {ga}")),
            (2, format!("nhid {ga}")),
            (3, format!("nhid {ga}")),
            (4, format!("nhid {gb}"))
        ])
    );
    let nh = nexthops(&l);
    assert!(
        nh.iter()
            .any(|x| x.starts_with(&format!("id {BASE} via 10.0.0.9"))),
        "{nh:?}"
    );
    assert_eq!(
        nh.iter().filter(|x| x.contains("proto 201")).count(),
        4,
        "two pairs of ours: {nh:?}"
    );
    // The sticky entry keeps its flags, the others extern_learn.
    let lines = fdb_lines(&l, "vxlan100");
    assert!(
        lines
            .iter()
            .any(|x| x.starts_with("02:00:00:00:00:03") && x.contains("sticky")),
        "{lines:?}"
    );

    // Moves: every MAC at A goes to B, one is withdrawn. A's pair has no
    // user left and is deleted; the entries are replaced in place.
    let moves: Vec<Change> = ["02:00:00:00:00:01", "02:00:00:00:00:02"]
        .iter()
        .map(|m| Change::RemoteMac {
            vni: vni(100),
            mac: mac(m),
            to: Some(remote(B, false)),
        })
        .chain([
            Change::RemoteMac {
                vni: vni(100),
                mac: mac("02:00:00:00:00:03"),
                to: Some(remote(B, true)),
            },
            Change::RemoteMac {
                vni: vni(100),
                mac: mac("02:00:00:00:00:04"),
                to: None,
            },
        ])
        .collect();
    let cfg = netlink_glue::Config::new(state_file(&l));
    let (r3, r4, pairs, r5) = l.block_on({
        let first = first.clone();
        move || async move {
            let mut dp = Netlink::new(cfg.clone()).unwrap();
            // A restart: the pairs are adopted, nothing is rewritten.
            let r3 = dp.reconcile(&first).await;
            let r4 = dp.apply(2, &moves).await;
            let pairs = dp.fdb_nexthops();
            // And the applied state is what a full reconcile expects.
            let mut now = first.clone();
            for c in &moves {
                now.apply(c);
            }
            let r5 = Netlink::new(cfg).unwrap().reconcile(&now).await;
            (r3, r4, pairs, r5)
        }
    });
    assert!(r3.plan.ops.is_empty(), "restart rewrote entries: {r3}");
    assert!(r4.ok(), "{r4}");
    // Three VXLAN entries replaced in place, MAC 4's two entries deleted.
    assert_eq!(r4.applied, 5, "{r4}");
    assert!(r5.plan.ops.is_empty(), "{r5}");
    assert_eq!(pairs.len(), 1, "A's pair collected: {pairs:?}");
    assert_eq!(group_of(&l, B), gb, "B keeps its group id");
    assert!(
        !nexthops(&l)
            .iter()
            .any(|x| x.contains(&format!("via {A} "))),
        "{:?}",
        nexthops(&l)
    );
    assert_eq!(
        vxlan_entries(&l),
        expect(&[
            (1, format!("nhid {gb}")),
            (2, format!("nhid {gb}")),
            (3, format!("nhid {gb}"))
        ])
    );
}

#[test]
fn a_change_of_mode_rewrites_the_entries_and_collects_the_groups() {
    let Some((l, _peer)) = leaf("nhm") else {
        return;
    };
    let macs = [
        ("02:00:00:00:00:01", A, false),
        ("02:00:00:00:00:02", B, true),
    ];
    let cfg = config(&l);
    let run = |nexthops: bool| -> Report {
        let cfg = cfg.clone();
        let i = intent(nexthops, &macs);
        l.block_on(move || async move { Netlink::new(cfg).unwrap().reconcile(&i).await })
    };
    let r = run(false);
    assert!(r.ok(), "{r}");
    assert_eq!(
        vxlan_entries(&l),
        expect(&[(1, format!("dst {A}")), (2, format!("dst {B}"))])
    );
    // dst → nhid: the kernel cannot replace one by the other; each entry is
    // deleted and added again.
    let r = run(true);
    assert!(r.ok(), "{r}");
    assert_eq!(r.plan.count("replace"), 2, "{r}");
    let (ga, gb) = (group_of(&l, A), group_of(&l, B));
    assert_eq!(
        vxlan_entries(&l),
        expect(&[(1, format!("nhid {ga}")), (2, format!("nhid {gb}"))])
    );
    // nhid → dst, and the pairs are gone.
    let r = run(false);
    assert!(r.ok(), "{r}");
    assert_eq!(
        vxlan_entries(&l),
        expect(&[(1, format!("dst {A}")), (2, format!("dst {B}"))])
    );
    assert!(nexthops(&l).is_empty(), "{:?}", nexthops(&l));
}

/// A new remote MAC from an incremental apply goes out as one request for
/// its VXLAN and bridge entries (`self` + `master`); the kernel must hold
/// exactly what a reconcile writes with two requests, in both modes, and a
/// sticky MAC (never combined) too.
#[test]
fn an_apply_writes_the_same_entries_as_a_reconcile() {
    for nexthops in [false, true] {
        let Some((by_reconcile, _p1)) = leaf(if nexthops { "nhcr" } else { "dscr" }) else {
            return;
        };
        let Some((by_apply, _p2)) = leaf(if nexthops { "nhca" } else { "dsca" }) else {
            return;
        };
        let macs = [
            ("02:00:00:00:00:01", A, false),
            ("02:00:00:00:00:02", B, false),
            ("02:00:00:00:00:03", A, true),
        ];
        let full = intent(nexthops, &macs);
        let cfg = config(&by_reconcile);
        let r = by_reconcile
            .block_on(move || async move { Netlink::new(cfg).unwrap().reconcile(&full).await });
        assert!(r.ok(), "{r}");
        let empty = intent(nexthops, &[]);
        let changes: Vec<Change> = macs
            .iter()
            .map(|(m, vtep, sticky)| Change::RemoteMac {
                vni: vni(100),
                mac: mac(m),
                to: Some(remote(vtep, *sticky)),
            })
            .collect();
        let cfg = config(&by_apply);
        let r = by_apply.block_on(move || async move {
            let mut dp = Netlink::new(cfg).unwrap();
            let r = dp.reconcile(&empty).await;
            assert!(r.ok(), "{r}");
            dp.apply(2, &changes).await
        });
        assert!(r.ok(), "{r}");
        assert_eq!(r.applied, 6, "{r}");
        let lines = fdb_lines(&by_reconcile, "vxlan100");
        assert_eq!(
            lines.iter().filter(|l| l.contains("master br100")).count(),
            3,
            "{lines:?}"
        );
        assert_eq!(
            fdb_lines(&by_apply, "vxlan100"),
            lines,
            "nexthops {nexthops}"
        );
    }
}

#[test]
fn the_probe_finds_fdb_nexthops_and_leaves_nothing_behind() {
    let Some((l, _peer)) = leaf("nhq") else {
        return;
    };
    let cfg = config(&l);
    let probe = |cfg: netlink_glue::Config| {
        let i = intent(true, &[("02:00:00:00:00:01", A, false)]);
        l.block_on(move || async move {
            let mut dp = Netlink::new(cfg).unwrap();
            assert_eq!(dp.fdb_nexthops_supported(), None);
            let r = dp.reconcile(&i).await;
            (r, dp.fdb_nexthops_supported())
        })
    };
    let (r, supported) = probe(cfg.clone());
    assert!(r.ok(), "{r}");
    assert_eq!(supported, Some(true));
    let ga = group_of(&l, A);
    assert_eq!(vxlan_entries(&l), expect(&[(1, format!("nhid {ga}"))]));
    // Only our pair: the probe object is gone.
    assert_eq!(nexthops(&l).len(), 2, "{:?}", nexthops(&l));
    // Someone's object at the probe id: EEXIST still means "supported",
    // and theirs stays.
    l.sh(&format!("ip nexthop add id {PROBE_ID} via 192.0.2.9 fdb"))
        .unwrap();
    let (r, supported) = probe(cfg);
    assert!(r.ok(), "{r}");
    assert_eq!(supported, Some(true));
    assert!(
        nexthops(&l)
            .iter()
            .any(|x| x.starts_with(&format!("id {PROBE_ID} via 192.0.2.9"))),
        "{:?}",
        nexthops(&l)
    );
}

#[test]
fn a_kernel_without_fdb_nexthops_gets_dst_entries() {
    let Some((l, _peer)) = leaf("nhn") else {
        return;
    };
    let cfg = config(&l);
    let i = intent(
        true,
        &[
            ("02:00:00:00:00:01", A, false),
            ("02:00:00:00:00:02", B, true),
        ],
    );
    let r = l.block_on(move || async move {
        let mut dp = Netlink::new(cfg).unwrap().fdb_nexthops_known(false);
        let mut r = dp.reconcile(&i).await;
        // Later changes of the same VNI follow the fallback too.
        let moved = Change::RemoteMac {
            vni: vni(100),
            mac: mac("02:00:00:00:00:01"),
            to: Some(remote(B, false)),
        };
        let r2 = dp.apply(2, &[moved]).await;
        r.failed.extend(r2.failed);
        r
    });
    assert!(r.ok(), "{r}");
    assert_eq!(
        vxlan_entries(&l),
        expect(&[(1, format!("dst {B}")), (2, format!("dst {B}"))])
    );
    assert!(nexthops(&l).is_empty(), "{:?}", nexthops(&l));
}

#[test]
fn hosts_on_two_leaves_ping_each_other_through_nhid_entries() {
    let Some(leaf1) = ns("nhp1") else { return };
    let leaf2 = Netns::new("nhp2").unwrap();
    netns::veth(&leaf1, "ul", &leaf2, "ul").unwrap();
    leaf1.sh("ip addr add 10.0.0.1/24 dev ul").unwrap();
    leaf2.sh("ip addr add 10.0.0.2/24 dev ul").unwrap();
    let h1 = host(
        &leaf1,
        "nhph1",
        "h1p",
        "02:00:00:00:00:0a",
        "10.1.0.10/24",
        None,
    );
    let h2 = host(
        &leaf2,
        "nhph2",
        "h2p",
        "02:00:00:00:00:0b",
        "10.1.0.20/24",
        None,
    );
    for (l, local, remote_vtep, rmac) in [
        (&leaf1, "10.0.0.1", "10.0.0.2", "02:00:00:00:00:0b"),
        (&leaf2, "10.0.0.2", "10.0.0.1", "02:00:00:00:00:0a"),
    ] {
        let mut i = Intent::default();
        let mut v = l2(100, local);
        v.fdb_nexthops = true;
        i.l2vnis.insert(vni(100), v);
        i.flood.insert((vni(100), ip(remote_vtep)));
        i.remote_macs
            .insert((vni(100), mac(rmac)), remote(remote_vtep, false));
        let cfg = config(l);
        let r = l.block_on(move || async move { Netlink::new(cfg).unwrap().reconcile(&i).await });
        assert!(r.ok(), "{r}");
        let e = vxlan_entries(l);
        assert!(
            e.len() == 1 && e[0].1.starts_with("nhid "),
            "remote MAC as an nhid entry: {e:?}"
        );
    }
    leaf1.sh("ip link set h1p master br100").unwrap();
    leaf2.sh("ip link set h2p master br100").unwrap();
    // Unicast to the remote MAC goes through the nexthop group; ARP is
    // flooded by the (dst) flood entries.
    h1.sh("ping -c 3 -i 0.2 -W 2 10.1.0.20").unwrap();
    h2.sh("ping -c 3 -i 0.2 -W 2 10.1.0.10").unwrap();
    let tx = leaf1
        .sh("ip -s link show vxlan100 | awk '/TX:/{getline; print $2}'")
        .unwrap();
    assert!(
        tx.trim().parse::<u64>().unwrap_or(0) >= 3,
        "VXLAN TX packets: {tx}"
    );
}
