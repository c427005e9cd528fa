//! The core router of a fabric: FRR (bgpd + zebra) in its own namespace
//! behind the spine (link `10.0.254.0/24`: spine `.1`, core `.2`), AS
//! 65100, IPv4 unicast eBGP (multihop) to every evpnd leaf; it receives
//! the leaves' host routes.

use anyhow::{bail, Result};

use super::Core;
use crate::netns::Netns;
use crate::process::TestDir;

/// The core's AS.
pub const CORE_AS: u32 = 65100;

/// Start the core behind `spine`, peering with every leaf in `leaves`
/// (namespace, leaf address, spine address).
pub(super) fn start(
    _spine: &Netns,
    _dir: &TestDir,
    _leaves: &[(Netns, String, String)],
) -> Result<Core> {
    bail!("the core router is not built yet")
}

/// The `[[neighbor]]` section an evpnd leaf needs for the core.
pub(super) fn evpnd_neighbor_section(_core: &Core) -> String {
    String::new()
}
