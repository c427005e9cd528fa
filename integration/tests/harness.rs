//! The harness itself, against the reference peers only (no evpnd): FRR and
//! GoBGP in two namespaces establish eBGP and exchange a route; namespaces
//! and daemons are gone afterwards, also when the test body fails.

use std::process::Command;
use std::time::Duration;

use integration::*;
use serde_json::json;

fn netns_exists(name: &str) -> bool {
    // An `ip` that cannot run lists nothing: the caller's assertion then
    // checks the absence it wants, so fail loudly instead.
    match Command::new("ip").args(["netns", "list"]).output() {
        Ok(out) => String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l.split_whitespace().next() == Some(name)),
        Err(e) => panic!("ip netns list: {e}"),
    }
}

#[test]
fn namespace_and_its_processes_are_removed_on_drop_even_after_a_panic() {
    if skip_unless(true, &[]) {
        return;
    }
    let ns = Netns::new().unwrap();
    let name = ns.name().to_string();
    assert!(name.starts_with(&format!("evt{}", std::process::id())));
    let dir = TestDir::new("drop").unwrap();
    let mut cmd = ns.command("sleep");
    cmd.arg("600");
    let sleeper = Daemon::spawn("sleep", cmd, dir.path().join("s.log")).unwrap();
    let pid = sleeper.pid().unwrap();
    // A panicking test body: the guards still clean up while unwinding.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _ns = ns;
        let _sleeper = sleeper;
        panic!("test body failed");
    }));
    assert!(r.is_err());
    assert!(!netns_exists(&name), "{name} still exists");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "sleep {pid} still runs"
    );
}

#[test]
fn frr_and_gobgp_peer_over_ipv4_and_exchange_a_prefix() {
    if skip_unless(true, &["/usr/lib/frr/bgpd", "gobgpd", "vtysh"]) {
        return;
    }
    let dir = TestDir::new("harness").unwrap();
    let (a, b) = (Netns::new().unwrap(), Netns::new().unwrap());
    veth(
        &a,
        "eth0",
        &["10.0.0.1/30"],
        &b,
        "eth0",
        &["10.0.0.2/30"],
        1500,
    )
    .unwrap();
    let frr = Frr::start(
        &a,
        &dir,
        "frr defaults datacenter\n\
         router bgp 65001\n bgp router-id 10.0.0.1\n no bgp ebgp-requires-policy\n\
         neighbor 10.0.0.2 remote-as 65002\n\
         address-family ipv4 unicast\n  network 192.0.2.0/24\n exit-address-family\n",
    )
    .unwrap();
    a.ip(&["route", "add", "blackhole", "192.0.2.0/24"])
        .unwrap();
    let gobgp = Gobgp::start(
        &b,
        &dir,
        "[global.config]\n  as = 65002\n  router-id = \"10.0.0.2\"\n\
         [[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"10.0.0.1\"\n    peer-as = 65001\n",
        50051,
    )
    .unwrap();
    poll_json(
        "FRR sees GoBGP established",
        Duration::from_secs(30),
        Duration::from_millis(500),
        || frr.vtysh_json("show bgp ipv4 unicast summary json"),
        &json!({"peers": {"10.0.0.2": {"state": "Established"}}}),
    )
    .unwrap();
    poll_until(
        "GoBGP has 192.0.2.0/24",
        Duration::from_secs(20),
        Duration::from_millis(500),
        || {
            let rib = gobgp.cli_json(&["global", "rib"])?;
            Ok(rib.get("192.0.2.0/24").map(|_| ()))
        },
    )
    .unwrap();
    gobgp
        .cli(&["global", "rib", "add", "198.51.100.0/24"])
        .unwrap();
    poll_json(
        "FRR has GoBGP's prefix",
        Duration::from_secs(20),
        Duration::from_millis(500),
        || frr.vtysh_json("show bgp ipv4 unicast json"),
        &json!({"routes": {"198.51.100.0/24": [{"valid": true}]}}),
    )
    .unwrap();
}
