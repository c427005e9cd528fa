//! Where the core and the EVPN stage meet: the Loc-RIB hook, local routes
//! into the RIB, dataplane inputs and outputs, DAD timers, reload.

use std::time::Instant;

use tracing::warn;

use super::{Evpn, PathInfo, RibOp, TimerOp};
use crate::config::Config;
use crate::core::io::{DataplaneEvent, Output};
use crate::core::rib::{BestChange, RouteKey, LOCAL};
use crate::core::timer::TimerKey;
use crate::core::Core;

impl Core {
    /// A best-path change of an EVPN route: hand the new best (unless it
    /// is our own) to the import.
    pub(crate) fn evpn_best_changed(&mut self, change: &BestChange) {
        // A route reflector without VNIs: every Loc-RIB change would be
        // looked at for nothing (a million per full table).
        if self.evpn.imports_nothing() {
            return;
        }
        let entry = self.rib.get(change.id);
        let Some(RouteKey::Evpn(key)) = change.key.or(entry.map(|e| e.key)) else {
            return;
        };
        // The entry is gone (or the id reused) when the last path went.
        let path = entry
            .filter(|e| e.key == RouteKey::Evpn(key))
            .and_then(|e| e.best_path())
            .filter(|p| p.source != LOCAL)
            .map(|p| PathInfo::of(self.rib.attrs.get(p.attrs), p.source));
        self.evpn.import(change.id, key, path);
    }

    /// Run what the EVPN stage asked for until it settles: local routes
    /// into the RIB (whose best-path changes may come back as imports),
    /// timers, then the dataplane requests into the output queue.
    pub(crate) fn evpn_run(&mut self) {
        for _ in 0..1_000_000 {
            let Some(op) = self.evpn.rib_ops.pop_front() else {
                break;
            };
            match op {
                RibOp::Install(key, set) => {
                    let id = self.rib.attrs.intern(*set);
                    self.install_local(key, id);
                }
                RibOp::Withdraw(key) => {
                    self.withdraw_local(key);
                }
            }
        }
        for op in std::mem::take(&mut self.evpn.timer_ops) {
            match op {
                TimerOp::Set(vni, mac, at) => self.timers.set(TimerKey::DadUnfreeze(vni, mac), at),
                TimerOp::Cancel(vni, mac) => self.timers.cancel(TimerKey::DadUnfreeze(vni, mac)),
            }
        }
        self.evpn.flush();
        while let Some(r) = self.evpn.out.pop_front() {
            self.out.push_back(Output::Dataplane(r));
        }
    }

    pub(crate) fn on_dataplane(&mut self, now: Instant, ev: DataplaneEvent) {
        self.evpn.set_now(now);
        match ev {
            DataplaneEvent::Observed(o) => self.evpn.observe(o),
            DataplaneEvent::Applied(report) => {
                let failed = report.failed.len();
                self.evpn.last_report = Some((report.generation, report.applied, failed));
                if !report.ok() {
                    self.evpn.counters.applies_failed += 1;
                    warn!(generation = report.generation, failed, unknown = ?report.unknown,
                        "dataplane did not apply everything");
                    // Level-triggered: a failed apply or an unknown kernel
                    // state is repaired by a full reconcile, unless it
                    // answers an older generation (a newer request is out).
                    if report.generation >= self.evpn.generation() && report.unknown.is_none() {
                        self.evpn.resync();
                    }
                }
            }
        }
    }

    pub(crate) fn on_dad_timer(
        &mut self,
        now: Instant,
        vni: evpn_proto::Vni,
        mac: evpn_proto::Mac,
    ) {
        self.evpn.set_now(now);
        self.evpn.unfreeze(vni, mac);
    }

    /// Reload: rebuild the instances from the new config, withdraw the local
    /// routes that changed, re-import the Loc-RIB, replay the local MACs and
    /// neighbours, and publish the new intent as a full reconcile.
    pub(crate) fn evpn_reload(&mut self, now: Instant, config: &Config) {
        let (macs, neighs) = self.evpn.local_facts();
        let generation = self.evpn.generation() + 1;
        let counters = self.evpn.counters;
        let old = std::mem::replace(&mut self.evpn, Evpn::new(config, now));
        for key in old.originated {
            self.withdraw_local(key);
        }
        self.evpn.counters = counters;
        self.evpn.set_keep_stale(self.deferring);
        self.evpn.start(generation);
        let keys: Vec<crate::core::rib::RouteId> = self
            .rib
            .iter()
            .filter(|(_, e)| matches!(e.key, RouteKey::Evpn(_)))
            .map(|(id, _)| id)
            .collect();
        for id in keys {
            self.evpn_best_changed(&BestChange {
                id,
                key: None,
                old: None,
                new: None,
            });
        }
        self.evpn.replay(macs, neighs);
        // The reconcile carries everything imported so far.
        self.evpn.resync_after_reload();
        self.evpn_run();
    }

    /// Host routes go only to the peers their VRF names.
    pub(crate) fn evpn_export_allowed(&self, key: &RouteKey, peer: std::net::IpAddr) -> bool {
        match key {
            RouteKey::V4(_) | RouteKey::V6(_) => self
                .evpn
                .host_export
                .get(key)
                .is_none_or(|peers| peers.contains(&peer)),
            RouteKey::Evpn(_) => true,
        }
    }
}
