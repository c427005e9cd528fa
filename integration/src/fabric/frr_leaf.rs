//! An FRR leaf: zebra + bgpd with `advertise-all-vni`, the per-VNI bridge
//! and VXLAN devices created by hand, and the usual manual anycast-gateway
//! recipe (gateway address and MAC on the bridge).
//!
//! What FRR users write for a traditional (non VLAN-aware) bridge per VNI:
//! `br<vni>` with the VXLAN device `vxlan<vni>` (`id vni local VTEP dstport
//! 4789 nolearning`, bridge port `learning off neigh_suppress on`), and
//! the anycast gateway as the bridge's own address and MAC. zebra reads the
//! devices (they exist before it starts), bgpd originates RT-3 and, for what
//! the bridge learns on host ports and what the SVI's neighbour table holds,
//! RT-2 MAC and MAC+IP. The gateway MAC/IP are not advertised (no
//! `advertise-default-gw`: every leaf owns them).

use anyhow::{Context, Result};

use super::{VniSpec, FABRIC_AS, GATEWAY_MAC};
use crate::netns::Netns;
use crate::peers::Frr;
use crate::process::TestDir;
use crate::topo::{frr_established, frr_vni_devices};

/// The per-VNI devices of an FRR leaf with VTEP `vtep`.
fn devices(ns: &Netns, vtep: &str, v: &VniSpec) -> Result<()> {
    let (br, vx) = frr_vni_devices(ns, v.vni, vtep)?;
    // The gateway MAC is the bridge's own (set before the address and before
    // the bridge is up, so the kernel's GARP on up carries it).
    ns.ip(&["link", "set", &br, "address", GATEWAY_MAC])?;
    ns.addr(&br, &v.gateway)?;
    for dev in [&br, &vx] {
        ns.ip(&["link", "set", dev, "up"])?;
    }
    Ok(())
}

/// bgpd's configuration of an FRR leaf: iBGP to the spine (the evpnd route
/// reflector), L2VPN EVPN only, every kernel VNI advertised; `evpn_extra`
/// goes under `address-family l2vpn evpn` (e.g. `dup-addr-detection …`).
pub fn bgpd_conf(vtep: &str, spine_addr: &str, evpn_extra: &str) -> String {
    format!(
        "frr defaults datacenter\nhostname leaf-{vtep}\nlog stdout debugging\n\
         router bgp {FABRIC_AS}\n bgp router-id {vtep}\n no bgp default ipv4-unicast\n\
         timers bgp 3 9\n neighbor {spine_addr} remote-as {FABRIC_AS}\n\
         neighbor {spine_addr} timers connect 1\n\
         address-family l2vpn evpn\n  neighbor {spine_addr} activate\n  advertise-all-vni\n\
         {evpn_extra}\n exit-address-family\n"
    )
}

/// Configure `ns` as an FRR EVPN leaf with VTEP `vtep` peering with the
/// spine at `spine_addr`. The devices exist before zebra starts, so zebra
/// finds every VNI in its first link dump.
pub(super) fn start(
    ns: &Netns,
    dir: &TestDir,
    vtep: &str,
    spine_addr: &str,
    vnis: &[VniSpec],
    evpn_extra: &str,
) -> Result<Frr> {
    for v in vnis {
        devices(ns, vtep, v).with_context(|| format!("FRR leaf {vtep}: VNI {}", v.vni))?;
    }
    Frr::start(ns, dir, &bgpd_conf(vtep, spine_addr, evpn_extra))
}

/// bgpd has its session to the spine up.
pub(super) fn wait_established(frr: &Frr, spine_addr: &str) -> Result<()> {
    frr_established(frr, spine_addr).map(|_| ())
}
