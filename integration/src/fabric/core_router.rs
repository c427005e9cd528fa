//! The core router of a fabric: FRR (bgpd + zebra) in its own namespace
//! behind the spine (link `10.0.254.0/24`: spine `.1`, core `.2`), AS
//! 65100, IPv4 unicast eBGP (multihop) to every evpnd leaf; it receives
//! the leaves' host routes.
//!
//! The core reaches the leaves (`10.0.0.0/16`) through the spine; the
//! leaves reach `10.0.254.2` with their own `10.0.0.0/16` route via the
//! spine. The sessions are two hops long: FRR needs `ebgp-multihop` (it
//! sends eBGP with TTL 1 otherwise and refuses a peer that is not on a
//! connected subnet); evpnd sends with the system TTL and has no
//! connected-peer check, so its side needs nothing special.

use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use serde_json::Value;

use super::{Core, FABRIC_AS};
use crate::json::poll_until;
use crate::netns::{veth, Netns};
use crate::peers::Frr;
use crate::process::TestDir;
use crate::topo::evpnd_neighbor;

/// The core's AS.
pub const CORE_AS: u32 = 65100;
/// The core's address on its link to the spine.
pub const CORE_ADDR: &str = "10.0.254.2";
const SPINE_ADDR: &str = "10.0.254.1";

/// Start the core behind `spine`, peering with every leaf in `leaves`
/// (namespace, leaf address, spine address).
pub(super) fn start(
    spine: &Netns,
    dir: &TestDir,
    leaves: &[(Netns, String, String)],
) -> Result<Core> {
    let ns = Netns::new()?;
    veth(
        spine,
        "core",
        &[&format!("{SPINE_ADDR}/24")],
        &ns,
        "eth0",
        &[&format!("{CORE_ADDR}/24")],
        9000,
    )?;
    ns.route("10.0.0.0/16", SPINE_ADDR)?;
    let frr = Frr::start(&ns, dir, &bgpd_conf(leaves))?;
    Ok(Core {
        frr,
        ns,
        addr: CORE_ADDR.to_string(),
    })
}

/// bgpd's config: one eBGP multihop neighbor per leaf, IPv4 unicast only.
fn bgpd_conf(leaves: &[(Netns, String, String)]) -> String {
    let mut s = format!(
        "frr defaults datacenter\nhostname core\nlog stdout debugging\n\
         log timestamp precision 6\ndebug bgp updates in\n\
         router bgp {CORE_AS}\n bgp router-id {CORE_ADDR}\n no bgp ebgp-requires-policy\n\
         no bgp default ipv4-unicast\n timers bgp 3 9\n"
    );
    for (_, leaf, _) in leaves {
        s.push_str(&format!(
            " neighbor {leaf} remote-as {FABRIC_AS}\n neighbor {leaf} ebgp-multihop 2\n\
             neighbor {leaf} update-source {CORE_ADDR}\n neighbor {leaf} timers connect 1\n"
        ));
    }
    s.push_str(" address-family ipv4 unicast\n");
    for (_, leaf, _) in leaves {
        s.push_str(&format!("  neighbor {leaf} activate\n"));
    }
    s.push_str(" exit-address-family\n");
    s
}

/// One IPv4 unicast UPDATE for a prefix as bgpd logged it on receipt
/// (`debug bgp updates in`, microsecond timestamps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreUpdate {
    pub at: SystemTime,
    /// The leaf that sent it.
    pub peer: String,
    /// Announced (`false`: withdrawn).
    pub announce: bool,
}

/// `2026/11/23 14:28:09.170733` (local time, as FRR logs) → system time.
fn parse_frr_time(date: &str, time: &str) -> Option<SystemTime> {
    let d: Vec<i32> = date
        .split('/')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let (hms, frac) = time.split_once('.')?;
    let t: Vec<i32> = hms
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    let (&[y, mo, da], &[h, mi, se]) = (d.as_slice(), t.as_slice()) else {
        return None;
    };
    let micros: u64 = format!("{frac:0<6}").get(..6)?.parse().ok()?;
    // SAFETY: tm is plain data; mktime reads and normalises it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = da;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    tm.tm_isdst = -1;
    // SAFETY: a valid, initialised tm.
    let secs = unsafe { libc::mktime(&mut tm) };
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
}

/// The UPDATEs for `prefix` in bgpd's log text.
fn parse_updates(log: &str, prefix: &str) -> Vec<CoreUpdate> {
    let announce = format!(" rcvd {prefix} IPv4 unicast");
    let withdraw = format!(" rcvd UPDATE about {prefix} IPv4 unicast -- withdrawn");
    log.lines()
        .filter_map(|l| {
            let is_announce = l.ends_with(&announce);
            if !is_announce && !l.ends_with(&withdraw) {
                return None;
            }
            let mut w = l.split_whitespace();
            let at = parse_frr_time(w.next()?, w.next()?)?;
            let peer = w.nth(2)?.split('(').next()?.to_string();
            Some(CoreUpdate {
                at,
                peer,
                announce: is_announce,
            })
        })
        .collect()
}

/// The `[[neighbor]]` section an evpnd leaf needs for the core.
pub(super) fn evpnd_neighbor_section(core: &Core) -> String {
    evpnd_neighbor(&core.addr, CORE_AS, &["ipv4"], "")
}

impl Core {
    /// bgpd has its session to `leaf` (address) up.
    pub fn wait_established(&self, leaf: &str) -> Result<()> {
        poll_until(
            &format!("core session to {leaf}"),
            Duration::from_secs(20),
            Duration::from_millis(100),
            || {
                let v = self.frr.vtysh_json("show bgp ipv4 unicast summary json")?;
                let st = v
                    .pointer(&format!("/peers/{leaf}/state"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                Ok((st == "Established").then_some(()))
            },
        )
        .with_context(|| self.frr.bgpd_log())?;
        Ok(())
    }

    /// The next hops of `prefix` in bgpd's IPv4 unicast table, one per
    /// path (sorted; empty: not there).
    pub fn bgp_next_hops(&self, prefix: &str) -> Result<Vec<String>> {
        let v = self.frr.vtysh_json("show bgp ipv4 unicast json")?;
        let mut out: Vec<String> = v
            .pointer(&format!("/routes/{}", prefix.replace('/', "~1")))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|path| {
                path.get("nexthops")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|n| n.get("ip").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Every UPDATE bgpd received for `prefix` (announcements and
    /// withdrawals, in order).
    pub fn updates(&self, prefix: &str) -> Vec<CoreUpdate> {
        parse_updates(&self.frr.bgpd_log(), prefix)
    }

    /// What zebra installed for `prefix` (`show ip route PREFIX json`):
    /// the BGP next hops of the selected route (empty: none).
    pub fn rib_next_hops(&self, prefix: &str) -> Result<Vec<String>> {
        let v = self
            .frr
            .vtysh_json(&format!("show ip route {prefix} json"))?;
        let mut out: Vec<String> = v
            .get(prefix)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|r| r.get("protocol").and_then(Value::as_str) == Some("bgp"))
            .filter(|r| r.get("selected").and_then(Value::as_bool) == Some(true))
            .flat_map(|r| {
                r.get("nexthops")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    // The resolving next hop (via the spine) is listed too.
                    .filter(|n| n.get("resolver").and_then(Value::as_bool) != Some(true))
                    .filter_map(|n| n.get("ip").and_then(Value::as_str))
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_are_parsed_from_the_bgpd_log() {
        let log = "2026/11/23 14:28:09.170733 BGP: [YCKEM-GB33T] 10.0.1.2(Unknown) rcvd 10.1.0.11/32 IPv4 unicast\n\
                   2026/11/23 14:28:09.385309 BGP: [YCKEM-GB33T] 10.0.1.2(Unknown) rcvd 10.1.0.13/32 IPv4 unicast\n\
                   2026/11/23 14:28:10.622205 BGP: [PAPP6-VDAWM] 10.0.1.2(Unknown) rcvd UPDATE about 10.1.0.11/32 IPv4 unicast -- withdrawn\n";
        let u = parse_updates(log, "10.1.0.11/32");
        assert_eq!(u.len(), 2);
        assert!(u[0].announce && !u[1].announce);
        assert_eq!(u[1].peer, "10.0.1.2");
        let d = u[1].at.duration_since(u[0].at).unwrap();
        assert_eq!(d, Duration::from_micros(1_451_472));
    }
}
