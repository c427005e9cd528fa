//! An FRR leaf: zebra + bgpd with `advertise-all-vni`, the per-VNI bridge
//! and VXLAN devices created by hand, and the usual manual anycast-gateway
//! recipe (gateway address and MAC on the bridge).

use anyhow::{bail, Result};

use super::VniSpec;
use crate::netns::Netns;
use crate::peers::Frr;
use crate::process::TestDir;

/// Configure `ns` as an FRR EVPN leaf with VTEP `vtep` peering with the
/// spine at `spine_addr`.
pub(super) fn start(
    _ns: &Netns,
    _dir: &TestDir,
    _vtep: &str,
    _spine_addr: &str,
    _vnis: &[VniSpec],
) -> Result<Frr> {
    bail!("FRR leaves are not built yet")
}

/// bgpd has its session to the spine up.
pub(super) fn wait_established(_frr: &Frr, _spine_addr: &str) -> Result<()> {
    bail!("FRR leaves are not built yet")
}
