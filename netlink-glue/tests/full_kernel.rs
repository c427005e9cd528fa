//! Tests that need kernel features this project's machines lack: the `vrf`
//! driver (L3 VNI backend A) and bridge VLAN filtering (single VXLAN device
//! mode). Each test probes for its feature in a throwaway namespace; when it
//! is missing the test prints `SKIPPED: <reason>` and passes, unless
//! `EVPND_REQUIRE_FULL_KERNEL=1` is set (the qemu lane,
//! `scripts/vm-tests.sh`, runs this binary with `--test-threads=1` under a
//! stock Debian kernel), in which case it fails.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers outside #[test] fns panic on setup failure by design"
)]

mod common;

use common::*;
use netlink_glue::netns::{self, Netns};
use netlink_glue::{
    AnycastGateway, Dataplane, Intent, L2Vni, L3Vni, Netlink, Observation, Report, Svd, SviMode,
};

fn require_full_kernel() -> bool {
    std::env::var("EVPND_REQUIRE_FULL_KERNEL").as_deref() == Ok("1")
}

/// Reports a missing prerequisite: SKIPPED, or a failure in the full lane.
fn missing(reason: &str) {
    assert!(
        !require_full_kernel(),
        "EVPND_REQUIRE_FULL_KERNEL=1 but {reason}"
    );
    netns::skipped(reason);
}

/// Runs `probe` (a shell command) in a throwaway namespace; `Err(reason)`
/// when namespaces cannot be made or the probe fails.
fn probe(cmd: &str, what: &str) -> Result<(), String> {
    if !netns::can_create() {
        return Err("needs root and iproute2 to create network namespaces".into());
    }
    let ns = Netns::new("probe").map_err(|e| e.to_string())?;
    let out = ns.sh_output(cmd).map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} ({cmd}: {})",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn program(ns: &Netns, intent: Intent) -> Report {
    let cfg = config(ns);
    ns.block_on(move || async move {
        let mut dp = Netlink::new(cfg).unwrap();
        let r = dp.reconcile(&intent).await;
        let again = dp.reconcile(&intent).await;
        assert!(again.ok() && again.plan.is_empty(), "second pass: {again}");
        r
    })
}

struct Fabric {
    leaf1: Netns,
    leaf2: Netns,
    h1: Netns,
    h2: Netns,
}

fn fabric(tag: &str, h1_v4: &str, h2_v4: &str) -> Fabric {
    let leaf1 = Netns::new(&format!("{tag}l1")).unwrap();
    let leaf2 = Netns::new(&format!("{tag}l2")).unwrap();
    netns::veth(&leaf1, "ul", &leaf2, "ul").unwrap();
    leaf1.sh("ip addr add 10.0.0.1/24 dev ul").unwrap();
    leaf2.sh("ip addr add 10.0.0.2/24 dev ul").unwrap();
    let h1 = host(
        &leaf1,
        &format!("{tag}h1"),
        "h1p",
        "02:00:00:00:00:0a",
        h1_v4,
        None,
    );
    let h2 = host(
        &leaf2,
        &format!("{tag}h2"),
        "h2p",
        "02:00:00:00:00:0b",
        h2_v4,
        None,
    );
    Fabric {
        leaf1,
        leaf2,
        h1,
        h2,
    }
}

#[test]
fn l3vni_backend_a_vrf_device_routes_between_vnis_on_different_leaves() {
    if let Err(reason) = probe("ip link add evtvrf type vrf table 10", "no vrf driver") {
        return missing(&reason);
    }
    let f = fabric("vrf", "10.1.0.10/24", "10.2.0.20/24");
    f.h1.sh("ip route add default via 10.1.0.1").unwrap();
    f.h2.sh("ip route add default via 10.2.0.1").unwrap();
    let rmac1 = "02:00:00:00:50:01";
    let rmac2 = "02:00:00:00:50:02";
    let leaf = |local: &str,
                l2vni: u32,
                gw: &str,
                rmac: &str,
                peer: &str,
                peer_rmac: &str,
                peer_net: &str| {
        let mut i = Intent::default();
        i.l3vnis.insert(
            vni(5000),
            L3Vni::new(vni(5000), "tenant1", 1000, ip(local), mac(rmac)),
        );
        let mut v = l2(l2vni, local);
        v.gateway = Some(AnycastGateway {
            mac: mac("00:00:5e:00:01:01"),
            addrs: vec![gw.parse().unwrap()],
            svi: SviMode::Bridge,
        });
        v.l3vni = Some(vni(5000));
        i.l2vnis.insert(vni(l2vni), v);
        i.router_macs.insert((vni(5000), ip(peer)), mac(peer_rmac));
        i.routes
            .insert((vni(5000), peer_net.parse().unwrap()), ip(peer));
        i
    };
    let r1 = program(
        &f.leaf1,
        leaf(
            "10.0.0.1",
            100,
            "10.1.0.1/24",
            rmac1,
            "10.0.0.2",
            rmac2,
            "10.2.0.0/24",
        ),
    );
    let r2 = program(
        &f.leaf2,
        leaf(
            "10.0.0.2",
            200,
            "10.2.0.1/24",
            rmac2,
            "10.0.0.1",
            rmac1,
            "10.1.0.0/24",
        ),
    );
    assert!(r1.ok(), "{r1}");
    assert!(r2.ok(), "{r2}");
    assert!(
        r1.warnings
            .iter()
            .any(|w| w.starts_with("L3 VNI backend: vrf device")),
        "{r1}"
    );
    f.leaf1.sh("ip link set h1p master br100").unwrap();
    f.leaf2.sh("ip link set h2p master br200").unwrap();
    for dev in ["br100", "br5000"] {
        let l = f.leaf1.sh(&format!("ip link show {dev}")).unwrap();
        assert!(l.contains("master tenant1"), "{l}");
    }
    let rules = f.leaf1.sh("ip rule show").unwrap();
    assert!(
        !rules.contains("proto 201"),
        "backend A writes no rules: {rules}"
    );
    let table = f.leaf1.sh("ip route show vrf tenant1").unwrap();
    assert!(
        table.contains("10.2.0.0/24 via 10.0.0.2 dev br5000 proto 201 onlink"),
        "{table}"
    );
    f.h1.sh("ping -c 3 -i 0.2 -W 2 10.2.0.20").unwrap();
    let out = f.h2.sh("ping -c 1 -W 2 10.1.0.10").unwrap();
    assert!(out.contains("ttl=62"), "{out}");
}

#[test]
fn single_vxlan_device_carries_remote_macs_and_flood_lists_per_vlan() {
    if let Err(reason) = probe(
        "ip link add evtbr type bridge vlan_filtering 1 && ip -d link show evtbr | grep -q 'vlan_filtering 1'",
        "no bridge vlan_filtering",
    ) {
        return missing(&reason);
    }
    if let Err(reason) = probe(
        "ip link add evtvx type vxlan dstport 4789 local 10.0.0.1 external vnifilter",
        "no vxlan vnifilter",
    ) {
        return missing(&reason);
    }
    let f = fabric("svd", "10.1.0.10/24", "10.1.0.20/24");
    let leaf = |local: &str, peer: &str, peer_mac: &str| {
        let svd = Svd {
            bridge: "br0".into(),
            vxlan: "vxlan0".into(),
            local_vtep: ip(local),
            dstport: 4789,
            bridge_mac: None,
        };
        let mut i = Intent::default();
        i.l2vnis.insert(vni(100), L2Vni::on_svd(vni(100), 10, &svd));
        i.svd = Some(svd);
        i.flood.insert((vni(100), ip(peer)));
        i.remote_macs
            .insert((vni(100), mac(peer_mac)), remote(peer, false));
        i
    };
    let r1 = program(&f.leaf1, leaf("10.0.0.1", "10.0.0.2", "02:00:00:00:00:0b"));
    let r2 = program(&f.leaf2, leaf("10.0.0.2", "10.0.0.1", "02:00:00:00:00:0a"));
    assert!(r1.ok(), "{r1}");
    assert!(r2.ok(), "{r2}");
    for (l, p) in [(&f.leaf1, "h1p"), (&f.leaf2, "h2p")] {
        l.sh(&format!(
            "ip link set {p} master br0 && bridge vlan add vid 10 dev {p} pvid untagged"
        ))
        .unwrap();
    }
    let fdb = f.leaf1.sh("bridge fdb show dev vxlan0").unwrap();
    assert!(
        fdb.contains("02:00:00:00:00:0b vlan 10 extern_learn master br0"),
        "{fdb}"
    );
    assert!(
        fdb.contains("02:00:00:00:00:0b dst 10.0.0.2 src_vni 100 self extern_learn"),
        "{fdb}"
    );
    assert!(
        fdb.contains("00:00:00:00:00:00 dst 10.0.0.2 src_vni 100 self permanent"),
        "{fdb}"
    );
    let vnis = f.leaf1.sh("bridge vni show dev vxlan0").unwrap();
    assert!(vnis.contains("100"), "{vnis}");
    f.h1.sh("ping -c 3 -i 0.2 -W 2 10.1.0.20").unwrap();
    // Local learning names the VLAN, which the daemon maps to the VNI.
    let cfg = config(&f.leaf1);
    let macs = f.leaf1.block_on(move || async move {
        let mut dp = Netlink::new(cfg).unwrap();
        let mut obs = dp.observe().await.unwrap();
        match tokio::time::timeout(std::time::Duration::from_secs(5), obs.recv()).await {
            Ok(Some(Observation::LocalState { macs, .. })) => macs,
            other => panic!("first observation: {other:?}"),
        }
    });
    let h1 = macs
        .iter()
        .find(|m| m.mac == mac("02:00:00:00:00:0a"))
        .unwrap_or_else(|| panic!("h1 not among the local MACs: {macs:?}"));
    assert_eq!(
        (h1.port.name.as_str(), h1.vlan),
        ("h1p", Some(10)),
        "{h1:?}"
    );
}
