//! An in-memory dataplane with the same semantics as the kernel one, for the
//! core's scenario tests: it keeps the entries it "wrote", can hold foreign
//! and learned entries, can be told to fail writes or dumps, records every
//! op, and lets a test inject observations.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use evpn_proto::{Mac, Vni};

use tokio::sync::mpsc;

use crate::dataplane::{Dataplane, Error};
use crate::entry::{describe, project, project_item, Entries, Item, Key, Value};
use crate::model::{Change, Intent, L3Backend};
use crate::observe::{Observation, Observations};
use crate::plan::{diff, diff_keys, Op, Owner, Plan, Snapshot};
use crate::report::{DeviceAction, FailReason, Failure, KernelError, Report};

/// The fake kernel.
#[derive(Debug)]
pub struct Fake {
    /// Everything at the keys we care about, ours or not.
    pub kernel: Snapshot,
    /// Devices that "exist" (created by reconcile, or added by a test).
    pub devices: BTreeSet<String>,
    /// Every op ever applied successfully, in order.
    pub history: Vec<Op>,
    /// Writes to these keys fail with the given error.
    pub fail: BTreeMap<Key, KernelError>,
    /// Every probe requested, in order (VNI, address).
    pub probes: Vec<(Vni, IpAddr)>,
    /// Every purge of local entries requested, in order.
    pub purges: Vec<(Vni, Mac, Vec<IpAddr>)>,
    /// Every announcement requested, in order.
    pub announced: Vec<(Vni, IpAddr, Mac)>,
    /// When set, the next dumps fail (kernel state unknown).
    pub dump_fails: bool,
    pub backend: L3Backend,
    intent: Intent,
    tx: mpsc::Sender<Observation>,
    rx: Option<mpsc::Receiver<Observation>>,
}

impl Default for Fake {
    fn default() -> Self {
        Fake::new()
    }
}

impl Fake {
    pub fn new() -> Fake {
        let (tx, rx) = mpsc::channel(4096);
        Fake {
            kernel: Snapshot::default(),
            devices: BTreeSet::new(),
            history: Vec::new(),
            probes: Vec::new(),
            purges: Vec::new(),
            announced: Vec::new(),
            fail: BTreeMap::new(),
            dump_fails: false,
            backend: L3Backend::TableRule,
            intent: Intent::default(),
            tx,
            rx: Some(rx),
        }
    }

    fn svi(&self, vni: Vni, what: &str) -> Result<(), Error> {
        if self.intent.l2vnis.contains_key(&vni) {
            Ok(())
        } else {
            Err(Error::Unsupported(format!(
                "{what}: VNI {vni} is not configured"
            )))
        }
    }

    /// Injects a kernel event; fails only when the consumer dropped the stream.
    pub fn inject(&self, o: Observation) -> bool {
        self.tx.try_send(o).is_ok()
    }

    /// Our entries, as the kernel would show them after a dump.
    pub fn owned(&self) -> Entries {
        self.kernel.owned()
    }

    /// Puts an entry someone else wrote (or the kernel learned) at a key.
    pub fn put_foreign(&mut self, key: Key, value: Option<Value>, owner: Owner) {
        self.kernel.insert(key, value, owner);
    }

    fn name(&self, key: &Key) -> String {
        let vni = key.vni();
        let l2 = self.intent.l2vnis.get(&vni);
        let l3 = self.intent.l3vnis.get(&vni);
        match key {
            Key::Flood { .. } | Key::VxlanFdb { .. } | Key::BridgeFdb { .. } => l2
                .map(|v| v.vxlan.clone())
                .or_else(|| l3.map(|v| v.vxlan.clone())),
            Key::Neigh { .. } => l2
                .map(|v| v.bridge.clone())
                .or_else(|| l3.map(|v| v.bridge.clone())),
            Key::Route { .. } | Key::Unreachable { .. } | Key::Rule { .. } => {
                l3.map(|v| format!("table {}", v.table))
            }
        }
        .unwrap_or_else(|| format!("vni {vni}"))
    }

    fn ensure_devices(&mut self, report: &mut Report) {
        let mut wanted = Vec::new();
        for v in self.intent.l2vnis.values() {
            wanted.push(v.bridge.clone());
            wanted.push(v.vxlan.clone());
            if v.svi_name() != v.bridge {
                wanted.push(v.svi_name().to_string());
            }
        }
        for v in self.intent.l3vnis.values() {
            wanted.push(v.bridge.clone());
            wanted.push(v.vxlan.clone());
            if self.backend == L3Backend::VrfDevice {
                wanted.push(v.name.clone());
            }
        }
        for d in wanted {
            if self.devices.insert(d.clone()) {
                report.devices.push(DeviceAction {
                    what: format!("create {d}"),
                    result: Ok(()),
                });
            }
        }
    }

    fn execute(&mut self, ops: Vec<Op>, report: &mut Report) {
        for op in ops {
            let object = op.describe(&|k| self.name(k));
            if let Some(e) = self.fail.get(op.key()) {
                report.failed.push(Failure {
                    op,
                    object,
                    reason: FailReason::Kernel(e.clone()),
                });
                continue;
            }
            match &op {
                Op::Add { key, value } | Op::Replace { key, to: value, .. } => {
                    self.kernel
                        .insert(key.clone(), Some(value.clone()), Owner::Ours);
                }
                Op::Delete { key, .. } => {
                    self.kernel.entries.remove(key);
                }
            }
            self.history.push(op);
            report.applied += 1;
        }
    }
}

impl Dataplane for Fake {
    async fn reconcile(&mut self, intent: &Intent) -> Report {
        self.intent = intent.clone();
        let mut report = Report {
            generation: intent.generation,
            ..Report::default()
        };
        self.ensure_devices(&mut report);
        if self.dump_fails {
            report.unknown = Some("fake dump failure".into());
            return report;
        }
        let mut plan = diff(&project(intent, self.backend), &self.kernel);
        if intent.keep_stale {
            plan.keep_stale();
        }
        report.conflict_failures(&plan.conflicts, &|k| self.name(k));
        self.execute(plan.ops.clone(), &mut report);
        report.plan = plan;
        report
    }

    async fn apply(&mut self, generation: u64, changes: &[Change]) -> Report {
        let items: BTreeSet<Item> = changes.iter().map(Item::of).collect();
        let mut before = Entries::new();
        for i in &items {
            project_item(&self.intent, i, &mut before);
        }
        for c in changes {
            self.intent.apply(c);
        }
        self.intent.generation = generation;
        let mut after = Entries::new();
        for i in &items {
            project_item(&self.intent, i, &mut after);
        }
        let keys: BTreeSet<&Key> = before.keys().chain(after.keys()).collect();
        let ops = diff_keys(keys, &after, &self.owned());
        let mut report = Report {
            generation,
            ..Report::default()
        };
        self.execute(ops, &mut report);
        report
    }

    async fn plan(&mut self, intent: &Intent) -> Result<Plan, Error> {
        if self.dump_fails {
            return Err(Error::Dump {
                what: "fake".into(),
                reason: "fake dump failure".into(),
            });
        }
        Ok(diff(&project(intent, self.backend), &self.kernel))
    }

    async fn probe(&mut self, vni: Vni, ip: IpAddr, _mac: Option<Mac>) -> Result<(), Error> {
        self.svi(vni, "probe")?;
        self.probes.push((vni, ip));
        Ok(())
    }

    async fn purge_local(
        &mut self,
        vni: Vni,
        mac: Mac,
        ips: &[IpAddr],
    ) -> Result<Vec<String>, Error> {
        self.svi(vni, "purge")?;
        self.purges.push((vni, mac, ips.to_vec()));
        let mut gone = Vec::new();
        let learned = |fake: &Fake, k: &Key| matches!(fake.kernel.entries.get(k), Some(seen) if seen.owner == Owner::Learned);
        let key = Key::BridgeFdb { vni, mac };
        if learned(self, &key) {
            self.kernel.entries.remove(&key);
            gone.push(format!("fdb {mac} (vni {vni})"));
        }
        for ip in ips {
            let key = Key::Neigh { vni, ip: *ip };
            if learned(self, &key) {
                self.kernel.entries.remove(&key);
                gone.push(format!("neigh {ip} (vni {vni})"));
            }
        }
        Ok(gone)
    }

    async fn announce(&mut self, vni: Vni, ip: IpAddr, mac: Mac) -> Result<(), Error> {
        self.svi(vni, "announce")?;
        self.announced.push((vni, ip, mac));
        Ok(())
    }

    async fn observe(&mut self) -> Result<Observations, Error> {
        self.rx
            .take()
            .map(Observations::new)
            .ok_or(Error::AlreadySubscribed)
    }
}

/// Renders a key with the fake's names; used by tests of the report text.
pub fn describe_with(fake: &Fake, key: &Key, value: Option<&Value>) -> String {
    describe(key, value, &|k| fake.name(k))
}

#[cfg(test)]
mod tests;
