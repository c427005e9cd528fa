//! Operational state of the devices an L2 VNI runs on (its bridge and
//! VXLAN device, or the shared pair in single-VXLAN-device mode).
//!
//! When one of them goes down (or is deleted) after it was up, the VNI is
//! out of service: its IMET route is withdrawn, so the other leaves stop
//! replicating BUM traffic to us (local MACs go with the kernel's own FDB
//! flush: the bridge flushes a disabled port's entries). When every device
//! is up again the IMET is re-originated and the dataplane is reconciled,
//! because the VXLAN driver flushes its non-permanent entries (our remote
//! MACs) when the device goes down. A device never seen up (being created)
//! does not count: that would flap the IMET at every start.

use std::collections::HashSet;

use evpn_proto::Vni;
use tracing::{info, warn};

use super::Evpn;
use crate::config::Flooding;

/// Devices seen up and those down since.
#[derive(Debug, Default)]
pub struct LinkStates {
    seen_up: HashSet<String>,
    down: HashSet<String>,
    /// L2 VNIs out of service.
    pub out_of_service: HashSet<Vni>,
}

impl Evpn {
    /// A link event from the kernel (`up` is the administrative and
    /// carrier state the monitor reports).
    pub(super) fn link_changed(&mut self, name: &str, up: bool, deleted: bool) {
        if up && !deleted {
            self.links.seen_up.insert(name.to_string());
            self.links.down.remove(name);
        } else if self.links.seen_up.contains(name) {
            self.links.down.insert(name.to_string());
            if deleted {
                self.links.seen_up.remove(name);
            }
        } else {
            return;
        }
        let affected: Vec<(Vni, bool)> = self
            .l2
            .values()
            .filter(|v| v.cfg.kernel.bridge == name || v.cfg.kernel.vxlan == name)
            .map(|v| {
                let k = &v.cfg.kernel;
                let ok =
                    !self.links.down.contains(&k.bridge) && !self.links.down.contains(&k.vxlan);
                (v.cfg.vni, ok)
            })
            .collect();
        let mut reconcile = false;
        for (vni, ok) in affected {
            let was_ok = !self.links.out_of_service.contains(&vni);
            if ok == was_ok {
                continue;
            }
            let Some(cfg) = self.l2.get(&vni).map(|v| v.cfg.clone()) else {
                continue;
            };
            if ok {
                info!(%vni, device = name, "VNI back in service: IMET re-originated, dataplane reconciled");
                self.links.out_of_service.remove(&vni);
                if cfg.flooding == Flooding::IngressReplication {
                    self.install_imet(&cfg);
                }
                reconcile = true;
            } else {
                warn!(%vni, device = name, deleted, "VNI out of service: a device is down; IMET withdrawn");
                self.links.out_of_service.insert(vni);
                if cfg.flooding == Flooding::IngressReplication {
                    let (key, _) = self.imet_route(&cfg);
                    if let Some(key) = key {
                        self.withdraw(key);
                    }
                }
            }
        }
        if reconcile {
            self.resync();
        }
    }
}
