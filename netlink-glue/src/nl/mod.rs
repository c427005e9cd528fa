//! The rtnetlink implementation of [`crate::Dataplane`].
//!
//! One request socket carries every write and dump of the reconciler; the
//! monitor ([`monitor`]) has its own multicast socket. Both belong to the
//! network namespace of the thread that created the [`Netlink`].

pub mod announce;
pub mod exec;
pub mod link;
pub mod monitor;
pub mod msg;
pub mod nexthop;
pub mod snapshot;
pub mod socket;
pub mod sysctl;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use evpn_proto::{Mac, Vni};
use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{LinkUnspec, LinkVrf};

use crate::dataplane::{Dataplane, Error};
use crate::entry::{describe, project, project_item, Entries, Item, Key, Value};
use crate::model::{mtu_warning, BackendChoice, Change, Intent, L3Backend, ProtocolId, SviMode};
use crate::observe::{Nud, Observations};
use crate::plan::{diff, diff_items, diff_keys, Op, Owner, Plan, Seen};
use crate::report::{DeviceAction, FailReason, Failure, Report};
use crate::state::{self, StateFile};

use link::{Devices, Links};
use snapshot::DevMap;
use socket::NlSocket;

/// Settings of the kernel dataplane.
#[derive(Debug, Clone)]
pub struct Config {
    /// Protocol id on our neighbours, routes and rules.
    pub protocol: ProtocolId,
    /// The ownership record (sticky entries, managed VNIs and tables).
    pub state_file: PathBuf,
    pub backend: BackendChoice,
    /// SO_RCVBUF of the request socket (holds the acks of a batch window).
    pub rcvbuf: usize,
    /// SO_RCVBUF of the monitoring socket. 8 MiB holds about 10k events
    /// (each costs ~830 bytes of buffer); overflow means ENOBUFS and a
    /// resync, never silent loss.
    pub monitor_rcvbuf: usize,
    /// Send gratuitous ARP / unsolicited NA when a gateway address is added.
    pub announce: bool,
}

impl Config {
    pub fn new(state_file: impl Into<PathBuf>) -> Config {
        Config {
            protocol: ProtocolId::EVPND,
            state_file: state_file.into(),
            backend: BackendChoice::Auto,
            rcvbuf: socket::DEFAULT_RCVBUF,
            monitor_rcvbuf: socket::DEFAULT_RCVBUF,
            announce: true,
        }
    }
}

/// The kernel dataplane.
#[derive(Debug)]
pub struct Netlink {
    cfg: Config,
    sock: NlSocket,
    state: StateFile,
    intent: Intent,
    backend: Option<(L3Backend, String)>,
    links: Links,
    devs: DevMap,
    /// The observation stream was handed out.
    observed: bool,
    /// The running monitor, for [`Dataplane::bulk`].
    monitor: Option<monitor::MonitorCtl>,
    /// Inside a bulk period.
    bulk: bool,
    /// FDB nexthop groups of ours (VNIs with `fdb_nexthops`).
    nexthops: nexthop::FdbNexthops,
    /// Whether the kernel takes FDB nexthops: probed the first time a VNI
    /// wants them; without, those VNIs get `dst` entries.
    fdb_nexthops_ok: Option<bool>,
}

impl Netlink {
    /// Opens the request socket in the calling thread's network namespace
    /// and loads the ownership record. Must run inside a tokio runtime.
    pub fn new(cfg: Config) -> Result<Netlink, Error> {
        let sock = NlSocket::open(cfg.rcvbuf)?;
        let state = StateFile::load(&cfg.state_file)?;
        Ok(Netlink {
            cfg,
            sock,
            state,
            intent: Intent::default(),
            backend: None,
            links: Links::default(),
            devs: DevMap::default(),
            observed: false,
            monitor: None,
            bulk: false,
            nexthops: nexthop::FdbNexthops::default(),
            fdb_nexthops_ok: None,
        })
    }

    /// Whether the kernel takes FDB nexthops (`None` until a VNI asked).
    pub fn fdb_nexthops_supported(&self) -> Option<bool> {
        self.fdb_nexthops_ok
    }

    /// Skips the FDB nexthop probe: the caller knows whether the kernel
    /// takes them (tests of the fallback; a kernel whose probe misleads).
    #[must_use]
    pub fn fdb_nexthops_known(mut self, supported: bool) -> Netlink {
        self.fdb_nexthops_ok = Some(supported);
        self
    }

    /// `intent` as this kernel can hold it: when it takes no FDB nexthops
    /// (probed once, the first time a VNI wants them), every VNI writes
    /// `dst` entries instead, with one warning.
    async fn fit_nexthops(&mut self, intent: &mut Intent) {
        if !intent.l2vnis.values().any(|v| v.fdb_nexthops) {
            return;
        }
        let ok = match self.fdb_nexthops_ok {
            Some(ok) => ok,
            None => match nexthop::probe(&mut self.sock, self.cfg.protocol).await {
                Ok(()) => {
                    self.fdb_nexthops_ok = Some(true);
                    true
                }
                // The kernel's answer is final.
                Err(e @ FailReason::Kernel(_)) => {
                    tracing::warn!(
                        error = %e,
                        "the kernel takes no FDB nexthops (Linux 5.8 and later do): \
                         remote MACs are written as `dst VTEP` entries"
                    );
                    self.fdb_nexthops_ok = Some(false);
                    false
                }
                // No answer (socket trouble): `dst` entries this time, and
                // the next reconcile asks again.
                Err(e) => {
                    tracing::warn!(error = %e, "FDB nexthop probe unanswered: `dst` entries for now");
                    false
                }
            },
        };
        if !ok {
            for v in intent.l2vnis.values_mut() {
                v.fdb_nexthops = false;
            }
        }
    }

    /// Deletes an INCOMPLETE entry at `ip` before a probe without a MAC.
    /// NTF_USE solicits at once from NONE, FAILED or no entry, but an
    /// INCOMPLETE entry (traffic to the IP while the host was away, e.g.
    /// routed to a migrating VM) only waits for its next retransmit, up to
    /// `retrans_time` (1 s) away: measured in the demo as the VM's IP
    /// learned ~1 s after its port came up.
    async fn drop_incomplete(&mut self, dev: u32, ip: IpAddr) {
        let incomplete = match self.sock.call(msg::neigh_get(dev, ip), 0).await {
            Ok(replies) => replies.iter().any(|m| match m {
                RouteNetlinkMessage::NewNeighbour(n) => {
                    msg::neigh_rec(n).is_some_and(|r| r.state == Nud::INCOMPLETE)
                }
                _ => false,
            }),
            Err(_) => false,
        };
        if incomplete {
            if let Err(e) = self
                .sock
                .call(msg::del_neigh(msg::neigh_del(dev, ip)), 0)
                .await
            {
                tracing::debug!(%ip, error = %e, "delete of an incomplete neighbour before a probe");
            }
        }
    }

    /// The L3 backend in use and why (after the first reconcile with an
    /// L3 VNI).
    pub fn backend(&self) -> Option<&(L3Backend, String)> {
        self.backend.as_ref()
    }

    /// Probes for the vrf driver by creating and deleting a VRF device.
    async fn resolve_backend(&mut self) -> (L3Backend, String) {
        if let Some(b) = &self.backend {
            return b.clone();
        }
        let b = match self.cfg.backend {
            BackendChoice::Force(b) => (b, "forced by configuration".to_string()),
            BackendChoice::Auto => {
                let probe = "evpnd-vrfprobe";
                let l = LinkVrf::new(probe, 0xfffe_fffe).build();
                match self
                    .sock
                    .call(RouteNetlinkMessage::NewLink(l), msg::CREATE_EXCL)
                    .await
                {
                    Ok(_) => {
                        let d = LinkUnspec::new_with_name(probe).build();
                        let _ = self.sock.call(RouteNetlinkMessage::DelLink(d), 0).await;
                        (
                            L3Backend::VrfDevice,
                            "the kernel has the vrf driver".to_string(),
                        )
                    }
                    Err(e) => (
                        L3Backend::TableRule,
                        format!("no vrf driver (creating a vrf device: {e})"),
                    ),
                }
            }
        };
        tracing::info!(backend = %b.0, reason = %b.1, "L3 VNI backend chosen");
        self.backend = Some(b.clone());
        b
    }

    fn dev_name(&self, key: &Key) -> String {
        let vni = key.vni();
        let names = self
            .intent
            .l2vnis
            .get(&vni)
            .map(|v| (v.bridge.as_str(), v.vxlan.as_str()))
            .or_else(|| {
                self.intent
                    .l3vnis
                    .get(&vni)
                    .map(|v| (v.bridge.as_str(), v.vxlan.as_str()))
            })
            .or_else(|| {
                self.state
                    .record
                    .vnis
                    .get(&vni)
                    .map(|(b, x)| (b.as_str(), x.as_str()))
            });
        match (key, names) {
            (Key::Flood { .. } | Key::VxlanFdb { .. } | Key::BridgeFdb { .. }, Some((_, vx))) => {
                vx.to_string()
            }
            (Key::Neigh { .. }, Some((br, _))) => br.to_string(),
            (Key::Route { .. } | Key::Unreachable { .. } | Key::Rule { .. }, _) => {
                match self.devs.table_of.get(&vni) {
                    Some(t) => format!("table {t}"),
                    None => format!("vrf of vni {vni}"),
                }
            }
            _ => format!("vni {vni}"),
        }
    }

    /// Creates or adopts every device of the intent; records the VNIs and
    /// tables we manage; rebuilds the device map.
    async fn ensure_devices(&mut self, report: &mut Report) -> Result<(), String> {
        let backend = if self.intent.l3vnis.is_empty() {
            L3Backend::TableRule
        } else {
            let (b, why) = self.resolve_backend().await;
            report.warnings.push(format!("L3 VNI backend: {b} ({why})"));
            b
        };
        let intent = self.intent.clone();
        let mut d = Devices::new(&mut self.sock).await?;
        gateway_ownership(&intent, &mut d, &mut self.state.record).await;
        self.state.save().map_err(|e| e.to_string())?;
        let mut vrf_members: BTreeMap<Vni, Vec<u32>> = BTreeMap::new();
        for l3 in intent.l3vnis.values() {
            d.l3vni(l3, backend).await;
        }
        let svd_vlans: BTreeMap<Vni, u16> = intent
            .l2vnis
            .values()
            .filter_map(|v| v.vlan.map(|vlan| (v.vni, vlan)))
            .collect();
        if !svd_vlans.is_empty() {
            match &intent.svd {
                Some(svd) => {
                    let list: Vec<(u32, u16)> =
                        svd_vlans.iter().map(|(v, l)| (v.get(), *l)).collect();
                    d.svd(svd, &list).await;
                }
                None => d.actions.push(DeviceAction {
                    what: "single VXLAN device".into(),
                    result: Err("L2 VNIs with a vlan need `Intent::svd`".into()),
                }),
            }
        }
        for v in intent.l2vnis.values().filter(|v| v.vlan.is_none()) {
            if let Some((br, _vx, svi)) = d.l2vni(v).await {
                if let Some(l3) = v.l3vni {
                    let m = vrf_members.entry(l3).or_default();
                    m.push(br);
                    if svi != br {
                        m.push(svi);
                    }
                }
            }
        }
        if backend == L3Backend::VrfDevice {
            for (l3vni, members) in &vrf_members {
                let Some(vrf) = intent
                    .l3vnis
                    .get(l3vni)
                    .and_then(|l3| d.links.index(&l3.name))
                else {
                    continue;
                };
                for m in members {
                    d.enslave(*m, vrf).await;
                }
            }
        }
        let any_gw = intent.l2vnis.values().any(|v| v.gateway.is_some());
        if any_gw || !intent.l3vnis.is_empty() {
            d.actions.extend(sysctl::forwarding(true, true));
        }
        if self.cfg.announce {
            for (dev, mac, addr) in &d.new_addrs {
                let frame = match addr.ip() {
                    IpAddr::V4(ip) => announce::garp_frame(*mac, ip),
                    IpAddr::V6(ip) => announce::unsolicited_na_frame(*mac, ip),
                };
                if let Err(e) = announce::send_frame(*dev, &frame) {
                    report.warnings.push(format!("announce {addr}: {e}"));
                }
            }
        }
        report.devices.append(&mut d.actions);
        self.links = d.links;
        // Record what we manage before writing any entry into it.
        let rec = &mut self.state.record;
        for v in intent.l2vnis.values().filter(|v| v.vlan.is_none()) {
            rec.vnis.insert(v.vni, (v.bridge.clone(), v.vxlan.clone()));
        }
        for v in intent.l3vnis.values() {
            rec.vnis.insert(v.vni, (v.bridge.clone(), v.vxlan.clone()));
            rec.tables.insert(v.table, v.vni);
        }
        self.state.save().map_err(|e| e.to_string())?;
        self.devs = DevMap::build(
            &self.links,
            &self.state.record.vnis,
            &self.state.record.tables,
        );
        if let Some(svd) = &intent.svd {
            self.devs
                .add_svd(&self.links, &svd.bridge, &svd.vxlan, &svd_vlans);
        }
        Ok(())
    }

    /// MTU check towards every remote VTEP of the flood lists.
    async fn mtu_warnings(&mut self, report: &mut Report) {
        let mut seen = BTreeSet::new();
        let flood: Vec<(Vni, IpAddr)> = self.intent.flood.iter().copied().collect();
        for (vni, vtep) in flood {
            let Some(v) = self.intent.l2vnis.get(&vni) else {
                continue;
            };
            let overlay = v
                .mtu
                .or_else(|| self.links.get(&v.vxlan).and_then(|r| r.mtu))
                .unwrap_or(1500);
            if !seen.insert((overlay, vtep)) {
                continue;
            }
            let mut m = RouteMessage::default();
            m.header.address_family = if vtep.is_ipv4() {
                AddressFamily::Inet
            } else {
                AddressFamily::Inet6
            };
            m.header.destination_prefix_length = if vtep.is_ipv4() { 32 } else { 128 };
            m.attributes
                .push(RouteAttribute::Destination(RouteAddress::from(vtep)));
            let Ok(replies) = self.sock.call(RouteNetlinkMessage::GetRoute(m), 0).await else {
                report
                    .warnings
                    .push(format!("{}: no route to remote VTEP {vtep}", v.vxlan));
                continue;
            };
            let oif = replies.iter().find_map(|r| match r {
                RouteNetlinkMessage::NewRoute(r) => msg::route_rec(r).and_then(|r| r.oif),
                _ => None,
            });
            let Some(dev) = oif.and_then(|o| self.links.by_index.get(&o)) else {
                continue;
            };
            if let Some(w) = mtu_warning(&v.vxlan, overlay, &dev.name, dev.mtu.unwrap_or(0), vtep) {
                tracing::warn!("{w}");
                report.warnings.push(w);
            }
        }
    }

    /// Executes ops, keeping the ownership record (sticky MACs, flood
    /// destinations) ahead of the kernel: recorded before the add, forgotten
    /// after a successful delete.
    async fn execute(&mut self, shared: &Arc<Vec<Op>>, report: &mut Report) {
        let ops: &[Op] = shared;
        let rec = &mut self.state.record;
        for op in ops {
            if let (Key::Flood { vni, vtep }, false) = (op.key(), matches!(op, Op::Delete { .. })) {
                rec.flood.insert((*vni, *vtep));
            }
            if let (Key::VxlanFdb { vni, mac } | Key::BridgeFdb { vni, mac }, false) =
                (op.key(), matches!(op, Op::Delete { .. }))
            {
                if matches!(
                    op.value(),
                    Value::VxlanFdb { sticky: true, .. } | Value::BridgeFdb { sticky: true }
                ) {
                    rec.sticky.insert((*vni, *mac));
                }
            }
        }
        if let Err(e) = self.state.save() {
            report.unknown = Some(e.to_string());
            return;
        }
        self.ensure_nexthops(ops, report).await;
        let failures = exec::run(
            &mut self.sock,
            shared,
            &self.devs,
            &self.links,
            self.cfg.protocol,
            &self.nexthops,
        )
        .await;
        report.applied += ops.len() - failures.len();
        let failed: BTreeSet<usize> = failures.iter().map(|(i, _)| *i).collect();
        for (i, reason) in failures {
            let op = ops[i].clone();
            let object = op.describe(&|k| self.dev_name(k));
            tracing::warn!(%object, %reason, "dataplane op failed");
            report.failed.push(Failure { op, object, reason });
        }
        // A sticky MAC is no longer ours to remember once both of its
        // entries are gone or non-sticky.
        let rec = &mut self.state.record;
        let mut changed = false;
        for (i, op) in ops.iter().enumerate() {
            if failed.contains(&i) {
                continue;
            }
            if let (Key::Flood { vni, vtep }, Op::Delete { .. }) = (op.key(), op) {
                changed |= rec.flood.remove(&(*vni, *vtep));
            }
            let (Key::VxlanFdb { vni, mac } | Key::BridgeFdb { vni, mac }) = op.key() else {
                continue;
            };
            let still_sticky = !matches!(op, Op::Delete { .. })
                && matches!(
                    op.value(),
                    Value::VxlanFdb { sticky: true, .. } | Value::BridgeFdb { sticky: true }
                );
            if !still_sticky && matches!(op.key(), Key::VxlanFdb { .. }) {
                changed |= rec.sticky.remove(&(*vni, *mac));
            }
        }
        if changed {
            if let Err(e) = self.state.save() {
                report.warnings.push(e.to_string());
            }
        }
        self.count_nexthop_refs(ops, &failed, report).await;
    }

    /// Creates the FDB nexthop group of every VTEP the ops write `nhid`
    /// entries for. A failure fails those ops (no group, no entry).
    async fn ensure_nexthops(&mut self, ops: &[Op], report: &mut Report) {
        let mut vteps = BTreeSet::new();
        for op in ops {
            if let (false, Some(vtep)) =
                (matches!(op, Op::Delete { .. }), op.value().nexthop_vtep())
            {
                if self.nexthops.group(&vtep).is_none() {
                    vteps.insert(vtep);
                }
            }
        }
        for vtep in vteps {
            if let Err(e) = self
                .nexthops
                .ensure(&mut self.sock, vtep, self.cfg.protocol)
                .await
            {
                let w = format!("FDB nexthop group for VTEP {vtep}: {e}");
                tracing::warn!("{w}");
                report.warnings.push(w);
            }
        }
    }

    /// Keeps the use count of each FDB nexthop group from the ops that
    /// succeeded, then deletes the groups nothing of ours uses any more.
    async fn count_nexthop_refs(
        &mut self,
        ops: &[Op],
        failed: &BTreeSet<usize>,
        report: &mut Report,
    ) {
        let nh_vtep = |v: Option<&Value>| v.and_then(Value::nexthop_vtep);
        let mut touched = false;
        for (i, op) in ops.iter().enumerate() {
            if failed.contains(&i) || !matches!(op.key(), Key::VxlanFdb { .. }) {
                continue;
            }
            let (gone, new) = match op {
                Op::Add { value, .. } => (None, nh_vtep(Some(value))),
                Op::Replace { from, to, .. } => (nh_vtep(from.as_ref()), nh_vtep(Some(to))),
                Op::Delete { value, .. } => (nh_vtep(Some(value)), None),
            };
            if let Some(v) = gone {
                self.nexthops.add_ref(v, false);
                touched = true;
            }
            if let Some(v) = new {
                self.nexthops.add_ref(v, true);
            }
        }
        if !touched && !self.nexthops.has_orphans() {
            return;
        }
        for w in self.nexthops.collect(&mut self.sock).await {
            tracing::warn!("{w}");
            report.warnings.push(w);
        }
    }

    /// Reads our FDB nexthop groups back from the kernel (once per
    /// snapshot). On a kernel without nexthop objects the table stays
    /// empty; that only matters to VNIs configured with `fdb_nexthops`.
    async fn load_nexthops(&mut self) -> Result<(), String> {
        let recs = self
            .sock
            .dump_raw(
                "nexthops",
                nexthop::RTM_GETNEXTHOP,
                &nexthop::dump_msg(),
                nexthop::parse,
            )
            .await;
        match recs {
            Ok(recs) => {
                self.nexthops.adopt(&recs, self.cfg.protocol);
                Ok(())
            }
            Err(e) if self.intent.l2vnis.values().any(|v| v.fdb_nexthops) => Err(e),
            Err(e) => {
                tracing::debug!(error = %e, "no nexthop dump");
                Ok(())
            }
        }
    }

    /// The current snapshot (kernel state at our keys).
    pub async fn snapshot(&mut self) -> Result<crate::plan::Snapshot, Error> {
        self.load_nexthops().await.map_err(|reason| Error::Dump {
            what: "nexthops".into(),
            reason,
        })?;
        let snap = snapshot::read(
            &mut self.sock,
            &self.links,
            &self.devs,
            &self.state.record,
            self.cfg.protocol,
            &self.nexthops,
        )
        .await
        .map_err(|reason| Error::Dump {
            what: "kernel state".into(),
            reason,
        })?;
        self.nexthops
            .count_refs(snap.entries.values().filter_map(|s| match s {
                Seen {
                    owner: Owner::Ours,
                    value: Some(v),
                } => v.nexthop_vtep(),
                _ => None,
            }));
        Ok(snap)
    }

    /// The FDB nexthop groups we own, by VTEP (nexthop id, group id).
    pub fn fdb_nexthops(&self) -> Vec<(IpAddr, u32, u32)> {
        self.nexthops
            .pairs()
            .map(|(v, p)| (*v, p.nexthop, p.group))
            .collect()
    }

    fn apply_changes(&mut self, generation: u64, changes: &[Change]) {
        for c in changes {
            self.intent.apply(c);
        }
        self.intent.generation = generation;
    }

    fn backend_or_default(&self) -> L3Backend {
        self.backend
            .as_ref()
            .map(|b| b.0)
            .unwrap_or(L3Backend::TableRule)
    }

    /// The SVI of `vni` (name, ifindex), reloading the link table once when
    /// the device is not known yet.
    async fn svi(&mut self, vni: Vni, what: &str) -> Result<(String, u32), Error> {
        let Some(svi) = self
            .intent
            .l2vnis
            .get(&vni)
            .map(|v| v.svi_name().to_owned())
        else {
            return Err(Error::Unsupported(format!(
                "{what}: VNI {vni} is not configured"
            )));
        };
        if self.links.index(&svi).is_none() {
            self.links = Links::load(&mut self.sock)
                .await
                .map_err(|reason| Error::Dump {
                    what: "links".into(),
                    reason,
                })?;
        }
        match self.links.index(&svi) {
            Some(dev) => Ok((svi, dev)),
            None => Err(Error::Unsupported(format!(
                "{what}: no device {svi} (VNI {vni})"
            ))),
        }
    }

    /// Renders an op with device names (for logs and tests).
    pub fn describe(&self, key: &Key, value: Option<&Value>) -> String {
        describe(key, value, &|k| self.dev_name(k))
    }
}

/// Anycast-gateway addresses and macvlan SVIs the intent wants, by SVI
/// name (L2 VNIs with their own bridge; the single-VXLAN-device mode has no
/// gateway yet).
fn wanted_gateways(intent: &Intent) -> (state::GwAddrs, state::Macvlans) {
    let mut addrs = state::GwAddrs::new();
    let mut macvlans = state::Macvlans::new();
    for v in intent.l2vnis.values().filter(|v| v.vlan.is_none()) {
        let Some(g) = &v.gateway else { continue };
        for a in &g.addrs {
            addrs.insert((v.svi_name().to_string(), *a));
        }
        if let SviMode::Macvlan { name } = &g.svi {
            macvlans.insert(name.clone(), (v.bridge.clone(), g.mac));
        }
    }
    (addrs, macvlans)
}

/// Before the device pass: deletes the gateway addresses and macvlans we
/// added that the intent no longer wants (an operator's are never in the
/// record), then records the ones the pass is about to add, so a crash
/// between the record and the kernel write errs towards "ours". An address
/// or macvlan already present and not recorded is the operator's: used,
/// never recorded, never removed.
async fn gateway_ownership(intent: &Intent, d: &mut Devices<'_>, rec: &mut state::Record) {
    let (want_addrs, want_macvlans) = wanted_gateways(intent);
    // A restarting daemon (`keep_stale`) removes nothing yet. Macvlans
    // first: their addresses go with them.
    let stale: Vec<(String, (String, Mac))> = rec
        .macvlans
        .iter()
        .filter(|_| !intent.keep_stale)
        .filter(|(name, v)| want_macvlans.get(*name) != Some(*v))
        .map(|(name, v)| (name.clone(), v.clone()))
        .collect();
    for (name, (bridge, mac)) in stale {
        if d.remove_macvlan(&name, &bridge, mac).await {
            rec.macvlans.remove(&name);
        }
    }
    let stale: Vec<_> = rec
        .gw_addrs
        .difference(&want_addrs)
        .filter(|_| !intent.keep_stale)
        .cloned()
        .collect();
    for (dev, a) in stale {
        if d.remove_address(&dev, a).await {
            rec.gw_addrs.remove(&(dev, a));
        }
    }
    for (name, v) in want_macvlans {
        if !rec.macvlans.contains_key(&name) && d.links.get(&name).is_none() {
            rec.macvlans.insert(name, v);
        }
    }
    for (dev, a) in want_addrs {
        let key = (dev, a);
        if !rec.gw_addrs.contains(&key) && !d.has_address(&key.0, &key.1) {
            rec.gw_addrs.insert(key);
        }
    }
}

impl Dataplane for Netlink {
    async fn reconcile(&mut self, intent: &Intent) -> Report {
        let mut intent = intent.clone();
        self.fit_nexthops(&mut intent).await;
        let (generation, keep_stale) = (intent.generation, intent.keep_stale);
        self.intent = intent;
        let mut report = Report {
            generation,
            ..Report::default()
        };
        if let Err(e) = self.ensure_devices(&mut report).await {
            report.unknown = Some(e);
            return report;
        }
        let snap = match self.snapshot().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "kernel state unknown; nothing written");
                report.unknown = Some(e.to_string());
                return report;
            }
        };
        let mut plan = diff(&project(&self.intent, self.backend_or_default()), &snap);
        drop(snap);
        let stale = if keep_stale { plan.keep_stale() } else { 0 };
        tracing::info!(
            generation,
            add = plan.count("add"),
            replace = plan.count("replace"),
            delete = plan.count("delete"),
            kept = plan.kept,
            stale,
            conflicts = plan.conflicts.len(),
            "reconcile plan"
        );
        report.conflict_failures(&plan.conflicts, &|k| self.dev_name(k));
        // Shared with the encoder thread of a pipelined batch, not copied.
        let ops = Arc::new(std::mem::take(&mut plan.ops));
        self.execute(&ops, &mut report).await;
        plan.ops = Arc::try_unwrap(ops).unwrap_or_else(|a| a.as_ref().clone());
        report.plan = plan;
        self.mtu_warnings(&mut report).await;
        report
    }

    async fn apply(&mut self, generation: u64, changes: &[Change]) -> Report {
        let mut report = Report {
            generation,
            ..Report::default()
        };
        // Sorted vectors, not trees: a merged bulk apply has 16k changes.
        let mut items: Vec<Item> = changes.iter().map(Item::of).collect();
        items.sort_unstable();
        items.dedup();
        let ops = if items.iter().any(|i| matches!(i, Item::RouterMac(..))) {
            // Two VTEPs may share a router MAC (one FDB pair for both):
            // items can overlap, so diff over the union of their keys.
            let mut before = Entries::new();
            for i in &items {
                project_item(&self.intent, i, &mut before);
            }
            self.apply_changes(generation, changes);
            let mut after = Entries::new();
            for i in &items {
                project_item(&self.intent, i, &mut after);
            }
            drop(items);
            // Two sorted runs: the stable sort merges them in linear time.
            let mut keys: Vec<&Key> = before.keys().chain(after.keys()).collect();
            keys.sort();
            keys.dedup();
            diff_keys(keys, &after, &before)
        } else {
            // Every other item owns its keys: diff item by item.
            let project_all = |intent: &Intent| {
                let mut out: Vec<(Key, Value)> = Vec::with_capacity(items.len() * 2);
                let mut at = Vec::with_capacity(items.len() + 1);
                for i in &items {
                    at.push(out.len());
                    project_item(intent, i, &mut out);
                }
                at.push(out.len());
                (out, at)
            };
            let (before, bat) = project_all(&self.intent);
            self.apply_changes(generation, changes);
            let (after, aat) = project_all(&self.intent);
            diff_items(
                (0..items.len()).map(|j| (&before[bat[j]..bat[j + 1]], &after[aat[j]..aat[j + 1]])),
            )
        };
        self.execute(&Arc::new(ops), &mut report).await;
        report
    }

    async fn plan(&mut self, intent: &Intent) -> Result<Plan, Error> {
        let mut intent = intent.clone();
        self.fit_nexthops(&mut intent).await;
        let snap = self.snapshot().await?;
        Ok(diff(&project(&intent, self.backend_or_default()), &snap))
    }

    async fn probe(&mut self, vni: Vni, ip: IpAddr, mac: Option<Mac>) -> Result<(), Error> {
        let (svi, dev) = self.svi(vni, &format!("probe {ip}")).await?;
        let (m, object) = match mac {
            // Where the host's routes said it is: see `msg::neigh_probe_at`.
            Some(mac) => (
                msg::neigh_probe_at(dev, ip, mac),
                format!("neigh {ip} lladdr {mac} dev {svi} nud probe"),
            ),
            None => {
                self.drop_incomplete(dev, ip).await;
                (msg::neigh_probe(dev, ip), format!("neigh {ip} dev {svi}"))
            }
        };
        self.sock
            .call(msg::new_neigh(m), msg::UPSERT)
            .await
            .map(drop)
            .map_err(|e| Error::Probe {
                object,
                reason: e.to_string(),
            })
    }

    async fn purge_local(
        &mut self,
        vni: Vni,
        mac: Mac,
        ips: &[IpAddr],
    ) -> Result<Vec<String>, Error> {
        let (svi, svi_dev) = self.svi(vni, "purge").await?;
        let Some(v) = self.intent.l2vnis.get(&vni) else {
            return Err(Error::Unsupported(format!(
                "purge: VNI {vni} is not configured"
            )));
        };
        let (bridge, vxlan) = (v.bridge.clone(), v.vxlan.clone());
        let (Some(br), Some(vx)) = (self.links.index(&bridge), self.links.index(&vxlan)) else {
            return Err(Error::Unsupported(format!(
                "purge: no device {bridge} or {vxlan} (VNI {vni})"
            )));
        };
        let mut gone = Vec::new();
        // The bridge entry, if the kernel learned it on a host port.
        let fdb = match self.sock.call(msg::bridge_fdb_get(br, mac), 0).await {
            Ok(replies) => replies.into_iter().find_map(|m| match m {
                rtnetlink::packet_route::RouteNetlinkMessage::NewNeighbour(n) => msg::fdb_rec(&n),
                _ => None,
            }),
            // ENOENT: nothing learned.
            Err(_) => None,
        };
        if let Some(f) = fdb {
            let learned = !f.ext_learned()
                && !f.sticky()
                && !f.state.is_static()
                && f.ifindex != vx
                && f.ifindex != br;
            if learned {
                let port = self.links.name(f.ifindex).unwrap_or("?").to_owned();
                let object = format!("fdb {mac} dev {port} master {bridge}");
                self.sock
                    .call(msg::del_neigh(msg::bridge_fdb_del(f.ifindex, mac)), 0)
                    .await
                    .map_err(|e| Error::Probe {
                        object: object.clone(),
                        reason: e.to_string(),
                    })?;
                gone.push(object);
            }
        }
        for ip in ips {
            let Ok(replies) = self.sock.call(msg::neigh_get(svi_dev, *ip), 0).await else {
                continue;
            };
            let Some(n) = replies.into_iter().find_map(|m| match m {
                rtnetlink::packet_route::RouteNetlinkMessage::NewNeighbour(n) => msg::neigh_rec(&n),
                _ => None,
            }) else {
                continue;
            };
            let ours = n.protocol == Some(self.cfg.protocol.0);
            if ours || n.state.is_static() {
                continue;
            }
            let object = format!("neigh {ip} dev {svi}");
            self.sock
                .call(msg::del_neigh(msg::neigh_del(svi_dev, *ip)), 0)
                .await
                .map_err(|e| Error::Probe {
                    object: object.clone(),
                    reason: e.to_string(),
                })?;
            gone.push(object);
        }
        Ok(gone)
    }

    async fn announce(&mut self, vni: Vni, ip: IpAddr, mac: Mac) -> Result<(), Error> {
        let (svi, dev) = self.svi(vni, "announce").await?;
        let frame = match ip {
            IpAddr::V4(v4) => announce::garp_frame(mac, v4),
            IpAddr::V6(v6) => announce::unsolicited_na_frame(mac, v6),
        };
        announce::send_frame(dev, &frame).map_err(|e| Error::Probe {
            object: format!("announce {ip} at {mac} on {svi}"),
            reason: e.to_string(),
        })
    }

    async fn observe(&mut self) -> Result<Observations, Error> {
        if self.observed {
            return Err(Error::AlreadySubscribed);
        }
        let (obs, ctl) = monitor::start(monitor::MonitorConfig {
            protocol: self.cfg.protocol,
            rcvbuf: self.cfg.monitor_rcvbuf,
        })?;
        self.observed = true;
        self.monitor = Some(ctl);
        Ok(obs)
    }

    fn bulk(&mut self, on: bool) {
        if self.bulk == on {
            return;
        }
        self.bulk = on;
        if let Some(m) = &self.monitor {
            match m.quiet(on) {
                Ok(()) => tracing::debug!(on, "monitor: bulk period"),
                Err(e) => tracing::warn!(on, error = %e, "monitor: neighbour group membership"),
            }
        }
    }
}

/// The device actions of a report that failed.
pub fn failed_actions(r: &Report) -> Vec<&DeviceAction> {
    r.devices.iter().filter(|d| d.result.is_err()).collect()
}
