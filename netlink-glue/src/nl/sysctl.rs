//! `/proc/sys/net` settings the anycast gateway and IP-VRFs need.
//!
//! `/proc/sys/net` resolves against the network namespace of the calling
//! thread, so these writes land in the namespace the dataplane runs in.

use std::fs;

use crate::report::DeviceAction;

/// Sets `path` (relative to /proc/sys/net) to `value` if it differs; returns
/// an action only when something changed or failed.
pub fn ensure(path: &str, value: &str) -> Option<DeviceAction> {
    let full = format!("/proc/sys/net/{path}");
    match fs::read_to_string(&full) {
        Ok(cur) if cur.trim() == value => None,
        _ => Some(DeviceAction {
            what: format!("sysctl net.{}={value}", path.replace('/', ".")),
            result: fs::write(&full, value).map_err(|e| format!("{full}: {e}")),
        }),
    }
}

/// Reads a value (trimmed), for tests and checks.
pub fn read(path: &str) -> Option<String> {
    fs::read_to_string(format!("/proc/sys/net/{path}"))
        .ok()
        .map(|s| s.trim().to_string())
}

/// The settings of an SVI that carries an anycast gateway:
/// - `arp_accept=1`: create neighbour entries from gratuitous ARP, so a VM
///   that resumed and sent GARP is known by IP at once;
/// - `arp_notify=1`: the kernel itself sends GARP when the device comes up
///   or its MAC changes;
/// - `accept_dad=0` / `ndisc_notify=1` for IPv6: the gateway address is the
///   same on every leaf, duplicate address detection would fail it, and an
///   unsolicited NA goes out on changes.
pub fn svi(dev: &str, v4: bool, v6: bool) -> Vec<DeviceAction> {
    let mut out = Vec::new();
    if v4 {
        out.extend(ensure(&format!("ipv4/conf/{dev}/arp_accept"), "1"));
        out.extend(ensure(&format!("ipv4/conf/{dev}/arp_notify"), "1"));
    }
    if v6 {
        out.extend(ensure(&format!("ipv6/conf/{dev}/accept_dad"), "0"));
        out.extend(ensure(&format!("ipv6/conf/{dev}/ndisc_notify"), "1"));
    }
    out
}

/// When the gateway lives on a macvlan over the bridge, the bridge must not
/// answer ARP for addresses it does not carry itself (`arp_ignore=1`),
/// otherwise a host's ARP for the gateway gets two replies: one with the
/// bridge's own MAC, one with the gateway MAC.
pub fn bridge_under_macvlan(bridge: &str) -> Vec<DeviceAction> {
    ensure(&format!("ipv4/conf/{bridge}/arp_ignore"), "1")
        .into_iter()
        .collect()
}

/// Routing between SVIs and the L3 VNI.
pub fn forwarding(v4: bool, v6: bool) -> Vec<DeviceAction> {
    let mut out = Vec::new();
    if v4 {
        out.extend(ensure("ipv4/ip_forward", "1"));
    }
    if v6 {
        out.extend(ensure("ipv6/conf/all/forwarding", "1"));
    }
    out
}
