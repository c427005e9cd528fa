//! Helpers shared by the kernel test files.
#![allow(dead_code, reason = "each test file uses a subset")]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers panic on setup failure by design"
)]

pub mod capture;

use std::net::IpAddr;
use std::path::PathBuf;

use evpn_proto::{Mac, Vni};
use netlink_glue::netns::{self, Netns};
use netlink_glue::{Config, Intent, L2Vni, RemoteMac};

pub fn vni(v: u32) -> Vni {
    Vni::new(v).unwrap()
}
pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
pub fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}

/// `None` (and a SKIPPED line) when namespaces cannot be created here.
pub fn ns(tag: &str) -> Option<Netns> {
    if !netns::can_create() {
        netns::skipped("needs root and iproute2 to create network namespaces");
        return None;
    }
    Some(Netns::new(tag).unwrap())
}

pub fn state_file(ns: &Netns) -> PathBuf {
    ns.scratch().join("owned")
}

/// A config with a fresh ownership file for this namespace.
pub fn config(ns: &Netns) -> Config {
    let p = state_file(ns);
    let _ = std::fs::remove_file(&p);
    Config::new(p)
}

pub fn l2(v: u32, local: &str) -> L2Vni {
    L2Vni::new(vni(v), ip(local))
}

pub fn remote(vtep: &str, sticky: bool) -> RemoteMac {
    RemoteMac {
        vtep: ip(vtep),
        sticky,
    }
}

/// Runs a shell command in a namespace by name (usable inside `block_on`).
pub fn sh_in(ns: &str, cmd: &str) -> String {
    let o = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "sh", "-c", cmd])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// FDB lines of a device without the kernel's own permanent entries
/// (port MACs, multicast list), sorted.
pub fn fdb_lines(ns: &Netns, dev: &str) -> Vec<String> {
    let mut v: Vec<String> = ns
        .sh(&format!("bridge fdb show dev {dev}"))
        .unwrap()
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.contains("permanent") || l.contains(" dst "))
        .collect();
    v.sort();
    v
}

/// A host namespace with `eth0` (MAC, IPv4/24 and optional IPv6/64) whose
/// peer `port` sits in `leaf` (not yet enslaved).
pub fn host(leaf: &Netns, tag: &str, port: &str, hmac: &str, v4: &str, v6: Option<&str>) -> Netns {
    let h = Netns::new(tag).unwrap();
    leaf.sh(&format!(
        "ip link add {port} type veth peer name eth0 netns {} && ip link set {port} up",
        h.name()
    ))
    .unwrap();
    h.sh(&format!(
        "ip link set eth0 address {hmac} && ip addr add {v4} dev eth0 && ip link set eth0 up"
    ))
    .unwrap();
    if let Some(v6) = v6 {
        h.sh(&format!("ip addr add {v6} dev eth0 nodad")).unwrap();
    }
    h
}

/// Polls `f` every 20 ms for up to `ms` milliseconds.
pub fn wait_until(ms: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_millis(ms);
    loop {
        if f() {
            return true;
        }
        if std::time::Instant::now() > end {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

// The kill -9 reconciliation test (resync.rs) and its programming
// process (examples/kill9_child.rs) share these.

pub const CHILD_NS: &str = "EVT_CHILD_NETNS";
pub const CHILD_STATE: &str = "EVT_CHILD_STATE";
pub const N_MACS: u32 = 20_000;

pub fn nth_mac(k: u32) -> Mac {
    Mac([0x02, 0x02, 0, (k >> 16) as u8, (k >> 8) as u8, k as u8])
}

pub fn intent_a() -> Intent {
    let mut i = Intent::default();
    i.l2vnis.insert(vni(100), l2(100, "10.0.0.1"));
    i.flood.insert((vni(100), ip("10.0.0.2")));
    i.flood.insert((vni(100), ip("10.0.0.3")));
    i.remote_macs.insert(
        (vni(100), mac("02:00:00:00:00:5a")),
        remote("10.0.0.3", true),
    );
    i
}
