//! Small topologies and config text for the BGP tests.
//!
//! Addressing: link `n` between two namespaces uses `10.0.n.0/24` and
//! `fd00:n::/64`, the left side `.1` / `::1`, the right side `.2` / `::2`.

use std::time::Duration;

use anyhow::Result;
use serde_json::{json, Value};

use crate::json::poll_json;
use crate::netns::{veth, Netns};
use crate::peers::{Evpnd, Frr, Gobgp};
use crate::process::TestDir;

/// Addresses of one side of a link.
#[derive(Debug, Clone)]
pub struct Side {
    pub v4: String,
    pub v6: String,
}

/// Connect `a` and `b` with link number `n` (`a` gets `.1`, `b` gets `.2`).
pub fn link(n: u8, a: &Netns, a_dev: &str, b: &Netns, b_dev: &str) -> Result<(Side, Side)> {
    let (a4, b4) = (format!("10.0.{n}.1"), format!("10.0.{n}.2"));
    // Canonical text (`fd00::1`, not `fd00:0::1`), as daemons print it.
    let v6 =
        |host: u16| std::net::Ipv6Addr::new(0xfd00, u16::from(n), 0, 0, 0, 0, 0, host).to_string();
    let (a6, b6) = (v6(1), v6(2));
    veth(
        a,
        a_dev,
        &[&format!("{a4}/24"), &format!("{a6}/64")],
        b,
        b_dev,
        &[&format!("{b4}/24"), &format!("{b6}/64")],
        1500,
    )?;
    Ok((Side { v4: a4, v6: a6 }, Side { v4: b4, v6: b6 }))
}

/// Two namespaces on link 0 and a scratch directory.
#[derive(Debug)]
pub struct Pair {
    // Declared first: dropped (daemons killed) before the namespaces go.
    pub dir: TestDir,
    pub a: Netns,
    pub b: Netns,
    pub a_addr: Side,
    pub b_addr: Side,
}

impl Pair {
    pub fn new(label: &str) -> Result<Pair> {
        let dir = TestDir::new(label)?;
        let a = Netns::new()?;
        let b = Netns::new()?;
        let (a_addr, b_addr) = link(0, &a, "eth0", &b, "eth0")?;
        Ok(Pair {
            dir,
            a,
            b,
            a_addr,
            b_addr,
        })
    }
}

/// One `[[neighbor]]` table of an evpnd config. `extra` is more TOML lines
/// (`password = "x"`, `hold_time = 3`, `[neighbor.max_prefix]` …).
pub fn evpnd_neighbor(address: &str, remote_as: u32, families: &[&str], extra: &str) -> String {
    let fams: Vec<String> = families.iter().map(|f| format!("\"{f}\"")).collect();
    format!(
        "\n[[neighbor]]\naddress = \"{address}\"\nremote_as = {remote_as}\nfamilies = [{}]\nhold_time = 9\nconnect_retry = 1\n{extra}\n",
        fams.join(", ")
    )
}

/// A whole evpnd config listening on IPv4 and IPv6; `body` holds the
/// neighbors (and any other sections).
pub fn evpnd_config(router_id: &str, asn: u32, global_extra: &str, body: &str) -> String {
    format!(
        "router_id = \"{router_id}\"\nasn = {asn}\nlisten = [\"0.0.0.0:179\", \"[::]:179\"]\n\
         connect_retry = 1\n{global_extra}\n\
         [graceful_restart]\nrestart_time = 30\nstale_routes_time = 60\n{body}"
    )
}

/// FRR `router bgp` block: neighbors as `(address, remote_as)`, activated in
/// every family in `families` (`ipv4`, `ipv6`, `evpn`); `extra` lines go under
/// `router bgp` after the neighbors (so they may refer to them).
pub fn frr_config(
    asn: u32,
    router_id: &str,
    neighbors: &[(&str, u32)],
    families: &[&str],
    extra: &str,
) -> String {
    let mut s = format!(
        "frr defaults datacenter\nhostname r{asn}\nlog stdout debugging\n\
         router bgp {asn}\n bgp router-id {router_id}\n no bgp ebgp-requires-policy\n\
         no bgp default ipv4-unicast\n timers bgp 3 9\n"
    );
    for (addr, ras) in neighbors {
        s.push_str(&format!(
            " neighbor {addr} remote-as {ras}\n neighbor {addr} timers connect 1\n"
        ));
    }
    // After the neighbors: `neighbor X password …` needs X to exist.
    s.push_str(extra);
    s.push('\n');
    for f in families {
        let af = match *f {
            "ipv4" => "ipv4 unicast",
            "ipv6" => "ipv6 unicast",
            _ => "l2vpn evpn",
        };
        s.push_str(&format!(" address-family {af}\n"));
        for (addr, _) in neighbors {
            s.push_str(&format!("  neighbor {addr} activate\n"));
        }
        s.push_str(" exit-address-family\n");
    }
    s
}

/// gobgpd config with neighbors `(address, peer_as)` in `families`
/// (`ipv4-unicast`, `ipv6-unicast`, `l2vpn-evpn`).
pub fn gobgp_config(
    asn: u32,
    router_id: &str,
    neighbors: &[(&str, u32)],
    families: &[&str],
    extra: &str,
) -> String {
    let mut s = format!("[global.config]\n  as = {asn}\n  router-id = \"{router_id}\"\n");
    for (addr, pas) in neighbors {
        s.push_str(&format!(
            "\n[[neighbors]]\n  [neighbors.config]\n    neighbor-address = \"{addr}\"\n    peer-as = {pas}\n\
             [neighbors.timers.config]\n    connect-retry = 1\n    hold-time = 9\n    keepalive-interval = 3\n{extra}\n"
        ));
        for f in families {
            s.push_str(&format!(
                "  [[neighbors.afi-safis]]\n    [neighbors.afi-safis.config]\n      afi-safi-name = \"{f}\"\n"
            ));
        }
    }
    s
}

pub const SESSION_UP: Duration = Duration::from_secs(40);
pub const CONVERGE: Duration = Duration::from_secs(20);
pub const POLL: Duration = Duration::from_millis(250);

/// evpnd as AS 65001 on side `a` of `p` (router id = its IPv4 address)
/// with one neighbor, side `b`'s IPv4 address in AS `peer_as` for
/// `families`; returns once that session is established.
pub fn evpnd_to_b(p: &Pair, peer_as: u32, families: &[&str]) -> Result<Evpnd> {
    let (a, b) = (&p.a_addr.v4, &p.b_addr.v4);
    let e = Evpnd::start(
        &p.a,
        &p.dir,
        "evpnd",
        &evpnd_config(a, 65001, "", &evpnd_neighbor(b, peer_as, families, "")),
    )?;
    evpnd_established(&e, b)?;
    Ok(e)
}

/// Wait until evpnd reports `peer` Established.
pub fn evpnd_established(e: &Evpnd, peer: &str) -> Result<Value> {
    poll_json(
        &format!("{} sees {peer} established", e.name),
        SESSION_UP,
        POLL,
        || e.ctl(&["show", "bgp", "summary"]),
        &json!({"peers": [{"peer": peer, "state": "established"}]}),
    )
}

/// Wait until FRR reports `peer` Established (any family).
pub fn frr_established(f: &Frr, peer: &str) -> Result<Value> {
    poll_json(
        &format!("FRR sees {peer} established"),
        SESSION_UP,
        POLL,
        || f.vtysh_json(&format!("show bgp neighbors {peer} json")),
        &json!({ peer: {"bgpState": "Established"} }),
    )
}

/// Wait until GoBGP reports `peer` Established.
pub fn gobgp_established(g: &Gobgp, peer: &str) -> Result<Value> {
    poll_json(
        &format!("GoBGP sees {peer} established"),
        SESSION_UP,
        POLL,
        || g.cli_json(&["neighbor", peer]),
        &json!({"state": {"session_state": 6}}),
    )
}

/// evpnd's routes of `family` (`evpn`, `ipv4`, `ipv6`).
pub fn evpnd_routes(e: &Evpnd, family: &str) -> Result<Value> {
    e.ctl(&["show", "bgp", "routes", "--afi", family])
}

/// The per-VNI devices as FRR users create them by hand: bridge
/// `br<vni>` and VXLAN device `vxlan<vni>` (id `vni`, `local` VTEP, port
/// 4789, `nolearning`) enslaved to it with bridge-port learning off and
/// `neigh_suppress` on. Left down; returns (bridge, vxlan).
pub fn frr_vni_devices(ns: &Netns, vni: u32, local: &str) -> Result<(String, String)> {
    let br = format!("br{vni}");
    let vx = format!("vxlan{vni}");
    ns.ip(&["link", "add", &br, "type", "bridge"])?;
    ns.ip(&[
        "link",
        "add",
        &vx,
        "type",
        "vxlan",
        "id",
        &vni.to_string(),
        "local",
        local,
        "dstport",
        "4789",
        "nolearning",
    ])?;
    ns.ip(&["link", "set", &vx, "master", &br])?;
    ns.exec(
        "bridge",
        &[
            "link",
            "set",
            "dev",
            &vx,
            "learning",
            "off",
            "neigh_suppress",
            "on",
        ],
    )?;
    Ok((br, vx))
}

/// Make FRR in `ns` originate EVPN routes for L2 VNI `vni` (RT-3, and an
/// RT-2 per MAC in `macs`): [`frr_vni_devices`] and a host port `h<vni>` on
/// which the MACs are static FDB entries. zebra reports them; bgpd with
/// `advertise-all-vni` originates the routes.
pub fn frr_local_vni(ns: &Netns, vni: u32, local: &str, macs: &[&str]) -> Result<()> {
    let (br, vx) = frr_vni_devices(ns, vni, local)?;
    let host = format!("h{vni}");
    let peer = format!("h{vni}p");
    ns.ip(&["link", "add", &host, "type", "veth", "peer", "name", &peer])?;
    ns.ip(&["link", "set", &host, "master", &br])?;
    for dev in [&br, &vx, &host, &peer] {
        ns.ip(&["link", "set", dev, "up"])?;
    }
    for mac in macs {
        ns.exec(
            "bridge",
            &["fdb", "add", mac, "dev", &host, "master", "static"],
        )?;
    }
    Ok(())
}

/// One `TcpExt` counter of `ns` (`TCPMD5Failure`, `TCPMD5NotFound`,
/// `TCPMD5Unexpected`, …) from its `/proc/net/netstat`.
pub fn tcpext(ns: &Netns, counter: &str) -> Result<u64> {
    let text = ns.exec("cat", &["/proc/net/netstat"])?;
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("TcpExt:")).collect();
    if let [names, values] = lines.as_slice() {
        for (n, v) in names.split_whitespace().zip(values.split_whitespace()) {
            if n == counter {
                return v
                    .parse()
                    .map_err(|e| anyhow::anyhow!("TcpExt {counter}={v:?}: {e}"));
            }
        }
    }
    anyhow::bail!("no TcpExt counter {counter} in {}", ns.name())
}

/// The session to `peer` does not reach Established during `quiet`, as
/// seen by evpnd (polled, bounded).
pub fn evpnd_stays_down(e: &Evpnd, peer: &str, quiet: Duration) -> Result<()> {
    let start = std::time::Instant::now();
    while start.elapsed() < quiet {
        let s = e.ctl(&["show", "bgp", "summary"])?;
        if crate::json::json_includes(
            &s,
            &json!({"peers": [{"peer": peer, "state": "established"}]}),
        )
        .is_ok()
        {
            anyhow::bail!(
                "{} established with {peer} although it must not: {s}",
                e.name
            );
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}
