//! EVPN: the stage between the BGP Loc-RIB and the kernel (DESIGN "EVPN is
//! a stage between tables").
//!
//! Owns:
//! - the instances: a MAC-VRF per L2 VNI, an IP-VRF per L3 VNI
//!   ([`instance`]), and the route-target import index;
//! - the remote side: every imported RT-2/RT-3/RT-5 best path, by route
//!   key, and what it contributed (remote MACs, neighbours, flood entries,
//!   IP-VRF routes, router MACs), so a withdrawal undoes exactly that;
//! - the local side: MACs and ARP/ND entries learned by the kernel, the
//!   MAC mobility sequence numbers and duplicate detection (`local.rs`,
//!   [`mobility`]);
//! - the desired kernel state (`netlink_glue::Intent`) and the change
//!   batches and requests (purge, probe, announce) for the shell.
//!
//! Does not own: the RIB, best path, packing or sessions (the core's; local
//! routes are handed to it as [`RibOp`]s and come back through the
//! Loc-RIB like any other route), timers (armed through [`TimerOp`]s in the
//! core's table), sockets and netlink (the shell's).
//!
//! Flow: a Loc-RIB best-path change of an EVPN route → [`Evpn::import`]
//! → per-MAC / per-IP / per-prefix resolution → `Change`s. A kernel
//! observation → [`Evpn::observe`] → local state → RT-2 origination (with
//! the right sequence number) as `RibOp`s. Both ends meet in
//! `resolve_mac`, where a remote route that wins over a local MAC (RFC
//! 7432 §15.1) withdraws ours and purges the stale local entries.
//!
//! Cost per event: hash lookups by (VNI, MAC), (VNI, IP), (L3 VNI, prefix)
//! and small ordered maps of the routes for one MAC — independent of the
//! table size.

mod api;
mod compact;
mod glue;
pub mod instance;
mod links;
mod local;
pub mod mobility;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::time::Instant;

use evpn_proto::attr::{AsPath, NextHop, Origin};
use evpn_proto::evpn::{Imet, IpPrefix, MacIp};
use evpn_proto::pmsi::PmsiTunnel;
use evpn_proto::{
    Esi, EvpnKey, EvpnRoute, ExtCommunity, Ipv4Prefix, Ipv6Prefix, Label, Mac, PathAttrs, Prefix,
    RouteTarget, TunnelType, Vni,
};
use ipnetwork::IpNetwork;
use netlink_glue::{Change, Intent, Observation, RemoteMac};
use tracing::{debug, info, warn};

use super::io::DataplaneRequest;
use super::rib::{AttrSet, NlriExtra, RouteKey};
use crate::config::{Config, Flooding};
use crate::core::hash::FastMap;
use compact::{Lazy, VecMap};
use instance::{EvpnCfg, IpVrfCfg, MacVrfCfg};
use mobility::{compare, next_seq, Claim, Dad, MoveReason};

/// A local route for the core to install into or withdraw from the RIB.
#[derive(Debug, Clone, PartialEq)]
pub enum RibOp {
    Install(RouteKey, Box<AttrSet>),
    Withdraw(RouteKey),
}

/// A duplicate-detection unfreeze timer to arm or cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimerOp {
    Set(Vni, Mac, Instant),
    Cancel(Vni, Mac),
}

/// What the import needs to know about a Loc-RIB best path.
#[derive(Debug, Clone, PartialEq)]
pub struct PathInfo {
    pub vtep: Option<IpAddr>,
    pub rts: Vec<RouteTarget>,
    pub mobility: Option<(u32, bool)>,
    pub router_mac: Option<Mac>,
    pub default_gw: bool,
    pub label2: Option<Label>,
    pub pmsi_endpoint: Option<IpAddr>,
    /// The peer (RIB source) it came from.
    pub source: u32,
}

impl PathInfo {
    pub fn of(set: &AttrSet, source: u32) -> PathInfo {
        let ext: &[ExtCommunity] = set.attrs.ext_communities.as_deref().unwrap_or(&[]);
        PathInfo {
            vtep: set.next_hop_addr(),
            rts: ext.iter().filter_map(|c| c.route_target()).collect(),
            mobility: set.mobility,
            router_mac: set.attrs.router_mac(),
            default_gw: ext.contains(&ExtCommunity::DefaultGateway),
            label2: set.extra.label2,
            pmsi_endpoint: set
                .attrs
                .pmsi_tunnel
                .as_ref()
                .and_then(PmsiTunnel::endpoint),
            source,
        }
    }
}

/// One remote RT-2 for a MAC (MAC-only or MAC+IP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteCand {
    pub vtep: IpAddr,
    pub mac: Mac,
    pub seq: u32,
    pub sticky: bool,
    /// Default-gateway extended community (RFC 7432 §10.1).
    pub gateway: bool,
    pub source: u32,
}

impl RemoteCand {
    fn claim(&self) -> Claim {
        Claim {
            sticky: self.sticky,
            seq: self.seq,
            vtep: self.vtep,
        }
    }
}

/// The winning remote advertisement among `cands`.
fn best<'a>(cands: impl Iterator<Item = &'a RemoteCand>) -> Option<&'a RemoteCand> {
    cands.max_by(|a, b| compare(&a.claim(), &b.claim()))
}

/// One candidate route of an IP-VRF (RT-2 host route or RT-5 prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RouteCand {
    vtep: IpAddr,
    seq: u32,
}

#[derive(Debug, Default)]
struct VrfRoute {
    cands: VecMap<EvpnKey, RouteCand>,
    programmed: Option<IpAddr>,
}

/// What one imported route contributed, to be undone on withdrawal: one
/// exactly sized list (a million imported RT-2s each hold one entry; five
/// separate vectors cost 120 octets per route before any element).
/// Nearly every route contributes exactly one item: kept inline then.
#[derive(Debug)]
enum Imported {
    One(Contrib),
    Many(Vec<Contrib>),
}

impl Default for Imported {
    fn default() -> Self {
        Imported::Many(Vec::new())
    }
}

#[derive(Debug, Clone, Copy)]
enum Contrib {
    Mac(Vni, Mac),
    Ip(Vni, IpAddr),
    Route(Vni, IpNetwork),
    Rmac(Vni, IpAddr),
    Flood(Vni, IpAddr),
}

impl Imported {
    fn is_empty(&self) -> bool {
        self.items().is_empty()
    }
    fn push(&mut self, c: Contrib) {
        match self {
            Imported::Many(v) if v.is_empty() => *self = Imported::One(c),
            Imported::One(x) => *self = Imported::Many(vec![*x, c]),
            Imported::Many(v) => v.push(c),
        }
    }
    fn items(&self) -> &[Contrib] {
        match self {
            Imported::One(c) => std::slice::from_ref(c),
            Imported::Many(v) => v,
        }
    }
    fn macs(&self) -> impl Iterator<Item = (Vni, Mac)> + '_ {
        self.items().iter().filter_map(|c| match c {
            Contrib::Mac(v, m) => Some((*v, *m)),
            _ => None,
        })
    }
    fn ips(&self) -> impl Iterator<Item = (Vni, IpAddr)> + '_ {
        self.items().iter().filter_map(|c| match c {
            Contrib::Ip(v, m) => Some((*v, *m)),
            _ => None,
        })
    }
    fn routes(&self) -> impl Iterator<Item = (Vni, IpNetwork)> + '_ {
        self.items().iter().filter_map(|c| match c {
            Contrib::Route(v, m) => Some((*v, *m)),
            _ => None,
        })
    }
    fn rmacs(&self) -> impl Iterator<Item = (Vni, IpAddr)> + '_ {
        self.items().iter().filter_map(|c| match c {
            Contrib::Rmac(v, m) => Some((*v, *m)),
            _ => None,
        })
    }
    fn flood(&self) -> impl Iterator<Item = (Vni, IpAddr)> + '_ {
        self.items().iter().filter_map(|c| match c {
            Contrib::Flood(v, m) => Some((*v, *m)),
            _ => None,
        })
    }
}

/// A MAC learned on a local bridge port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPort {
    pub port: String,
    /// Static FDB entry: advertised sticky (RFC 7432 §15.2).
    pub sticky: bool,
}

/// Everything known about one MAC in one MAC-VRF.
#[derive(Debug, Default)]
///
/// The local side (port, local IPs, DAD history) is one lazily allocated
/// [`MacLocal`], reached through `Deref`: a MAC that is only ever remote
/// (nearly all of a million) costs 56 octets plus its candidates.
pub struct MacState {
    /// Our sequence number for this MAC (what we advertise while local).
    pub seq: u32,
    /// Imported remote RT-2s for this MAC, MAC-only and MAC+IP.
    pub remote: VecMap<EvpnKey, RemoteCand>,
    /// The remote MAC in the intent.
    pub programmed: Option<RemoteMac>,
    l: Lazy<MacLocal>,
}

/// The local side of a [`MacState`].
#[derive(Debug, Default)]
pub struct MacLocal {
    pub local: Option<Box<LocalPort>>,
    /// Local IPs bound to this MAC (advertised as MAC+IP).
    pub local_ips: Lazy<BTreeSet<IpAddr>>,
    /// ARP/ND entries seen for this MAC before the MAC was learned here.
    pending_ips: Lazy<BTreeSet<IpAddr>>,
    pub dad: Lazy<Dad>,
}

impl compact::Empty for MacLocal {
    fn empty() -> &'static MacLocal {
        static E: MacLocal = MacLocal {
            local: None,
            local_ips: Lazy::new(),
            pending_ips: Lazy::new(),
            dad: Lazy::new(),
        };
        &E
    }
}

impl std::ops::Deref for MacState {
    type Target = MacLocal;
    fn deref(&self) -> &MacLocal {
        &self.l
    }
}

impl std::ops::DerefMut for MacState {
    fn deref_mut(&mut self) -> &mut MacLocal {
        &mut self.l
    }
}

impl MacState {
    fn unused(&self) -> bool {
        self.local.is_none()
            && self.remote.is_empty()
            && self.programmed.is_none()
            && self.pending_ips.is_empty()
            && self.dad.total_moves == 0
    }
    /// The highest sequence number among the remote routes.
    fn remote_max_seq(&self) -> Option<u32> {
        self.remote.values().map(|c| c.seq).max()
    }
}

#[derive(Debug, Default)]
pub struct IpState {
    /// Bound to a local MAC (advertised as MAC+IP).
    pub local_mac: Option<Mac>,
    pending: Option<Mac>,
    pub remote: VecMap<EvpnKey, RemoteCand>,
    pub programmed: Option<Mac>,
}

impl IpState {
    fn unused(&self) -> bool {
        self.local_mac.is_none()
            && self.pending.is_none()
            && self.remote.is_empty()
            && self.programmed.is_none()
    }
}

/// One MAC-VRF at run time.
#[derive(Debug)]
pub struct MacVrf {
    pub cfg: MacVrfCfg,
    pub macs: FastMap<Mac, MacState>,
    pub ips: FastMap<IpAddr, IpState>,
}

/// Counters for `evpnctl show evpn vni` and the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    pub moves: u64,
    pub dad_detected: u64,
    pub probes: u64,
    pub purges: u64,
    pub sticky_conflicts: u64,
    pub applies_failed: u64,
}

/// The EVPN state of one speaker.
#[derive(Debug)]
pub struct Evpn {
    pub cfg: EvpnCfg,
    pub l2: BTreeMap<Vni, MacVrf>,
    pub l3: BTreeMap<Vni, IpVrfCfg>,
    /// (bridge, VLAN) → VNI; VLAN `None` for a bridge per VNI.
    by_bridge: HashMap<(String, Option<u16>), Vni>,
    by_svi: HashMap<String, Vni>,
    import_l2: HashMap<RouteTarget, Vec<Vni>>,
    import_l3: HashMap<RouteTarget, Vec<Vni>>,
    /// What each imported route contributed, by RIB route id (dense: a
    /// hash table keyed by the 40-octet route key cost ~150 octets per
    /// route at a million). The RIB calls the import synchronously on every
    /// best-path change, a freed id's last change is its withdrawal, so an
    /// id is always empty here before the RIB reuses it.
    imported: Vec<Option<Imported>>,
    vrf_routes: HashMap<(Vni, IpNetwork), VrfRoute>,
    /// (L3 VNI, IP) of local MAC+IP hosts: never routed to a remote VTEP.
    local_hosts: HashSet<(Vni, IpAddr)>,
    rmac_refs: HashMap<(Vni, IpAddr), (Mac, u32)>,
    flood_refs: HashMap<(Vni, IpAddr), u32>,
    pub intent: Intent,
    batch: Vec<Change>,
    pub out: VecDeque<DataplaneRequest>,
    pub rib_ops: VecDeque<RibOp>,
    pub timer_ops: Vec<TimerOp>,
    /// Local EVPN and host routes we installed.
    pub originated: BTreeSet<RouteKey>,
    /// Unicast host routes and the only peers they may be sent to.
    pub host_export: HashMap<RouteKey, Vec<IpAddr>>,
    now: Instant,
    /// Remote MACs whose last route was withdrawn a moment ago, with the
    /// highest sequence number and the IPs they were advertised with. A
    /// migration often withdraws on the old leaf (its port went down)
    /// before the VM resumes here; the learn that follows is still a move
    /// (seq + 1) and still needs the IPs to probe. Kept [`RECENT_HOLD`].
    recent: HashMap<(Vni, Mac), Recent>,
    pub counters: Counters,
    /// Operational state of the VNIs' devices.
    pub links: links::LinkStates,
    /// The last dataplane report: (generation, applied, failed).
    pub last_report: Option<(u64, usize, usize)>,
}

/// How long a withdrawn remote MAC is remembered for a local learn that
/// follows (see [`Evpn::recent`]).
pub const RECENT_HOLD: std::time::Duration = std::time::Duration::from_secs(60);
/// Bound on [`Evpn::recent`]; older entries are dropped first.
const RECENT_MAX: usize = 65_536;

/// A remote MAC that was withdrawn: when, its sequence number, its IPs.
#[derive(Debug, Clone, Default)]
struct Recent {
    at: Option<Instant>,
    seq: u32,
    ips: BTreeSet<IpAddr>,
}

fn host_net(ip: IpAddr) -> IpNetwork {
    IpNetwork::from(ip)
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => a.is_link_local(),
        IpAddr::V6(a) => (a.segments()[0] & 0xffc0) == 0xfe80,
    }
}

impl Evpn {
    pub fn new(config: &Config, now: Instant) -> Evpn {
        let cfg = EvpnCfg::from_config(config);
        let mut intent = Intent {
            svd: cfg.svd.clone(),
            ..Intent::default()
        };
        let mut l2 = BTreeMap::new();
        let mut by_bridge = HashMap::new();
        let mut by_svi = HashMap::new();
        let mut import_l2: HashMap<RouteTarget, Vec<Vni>> = HashMap::new();
        for v in &cfg.l2 {
            intent.l2vnis.insert(v.vni, v.kernel.clone());
            if v.flooding == Flooding::Static {
                for vtep in &v.static_vteps {
                    intent.flood.insert((v.vni, *vtep));
                }
            }
            // Single-VXLAN-device VNIs share the bridge: its FDB entries
            // name the VNI by their VLAN.
            by_bridge.insert((v.bridge().to_string(), v.kernel.vlan), v.vni);
            if v.kernel.vlan.is_none() {
                by_svi.insert(v.svi().to_string(), v.vni);
            }
            for rt in &v.import_rts {
                import_l2.entry(*rt).or_default().push(v.vni);
            }
            l2.insert(
                v.vni,
                MacVrf {
                    cfg: v.clone(),
                    macs: FastMap::default(),
                    ips: FastMap::default(),
                },
            );
        }
        let mut l3 = BTreeMap::new();
        let mut import_l3: HashMap<RouteTarget, Vec<Vni>> = HashMap::new();
        for v in &cfg.l3 {
            intent.l3vnis.insert(v.l3vni, v.kernel.clone());
            for rt in &v.import_rts {
                import_l3.entry(*rt).or_default().push(v.l3vni);
            }
            l3.insert(v.l3vni, v.clone());
        }
        Evpn {
            cfg,
            l2,
            l3,
            by_bridge,
            by_svi,
            import_l2,
            import_l3,
            imported: Vec::new(),
            vrf_routes: HashMap::new(),
            local_hosts: HashSet::new(),
            rmac_refs: HashMap::new(),
            flood_refs: HashMap::new(),
            intent,
            batch: Vec::new(),
            out: VecDeque::new(),
            rib_ops: VecDeque::new(),
            timer_ops: Vec::new(),
            originated: BTreeSet::new(),
            host_export: HashMap::new(),
            now,
            recent: HashMap::new(),
            counters: Counters::default(),
            links: links::LinkStates::default(),
            last_report: None,
        }
    }

    /// The first requests and routes: the full intent, the gateway
    /// announcements, IMET per ingress-replication VNI, RT-5 prefixes and
    /// (optionally) the default-gateway MAC+IP routes.
    pub fn start(&mut self, generation: u64) {
        self.intent.generation = generation;
        self.out
            .push_back(DataplaneRequest::Reconcile(self.full_intent()));
        let l2: Vec<MacVrfCfg> = self.l2.values().map(|v| v.cfg.clone()).collect();
        for v in &l2 {
            if let Some(gw) = v.gateway() {
                for a in &gw.addrs {
                    self.out.push_back(DataplaneRequest::Announce {
                        vni: v.vni,
                        dev: v.svi().to_string(),
                        ip: a.ip(),
                        mac: gw.mac,
                    });
                }
                if self.cfg.advertise_default_gateway {
                    for a in gw.addrs.clone() {
                        self.install_rt2(v.vni, gw.mac, Some(a.ip()), 0, false, true);
                    }
                }
            }
            if v.flooding == Flooding::IngressReplication {
                self.install_imet(v);
            }
        }
        let l3: Vec<IpVrfCfg> = self.l3.values().cloned().collect();
        for v in &l3 {
            for p in &v.prefixes {
                self.install_rt5(v, *p);
            }
        }
    }

    /// Graceful restart: while set, reconciles keep the kernel entries we
    /// own that the intent lacks (the remote routes are not back yet);
    /// clearing it requests the reconcile that sweeps what stayed stale.
    pub fn set_keep_stale(&mut self, on: bool) {
        let was = self.intent.keep_stale;
        self.intent.keep_stale = on;
        if was && !on {
            self.resync();
        }
    }

    pub fn set_now(&mut self, now: Instant) {
        self.now = now;
    }

    pub fn generation(&self) -> u64 {
        self.intent.generation
    }

    // ---- dataplane output -------------------------------------------------

    fn change(&mut self, c: Change) {
        // Remote MACs are not copied into `self.intent`: `MacState::
        // programmed` holds them, and [`Evpn::full_intent`] adds them when a
        // whole intent is published (a second copy of a million entries,
        // next to the dataplane's own, cost ~50 MB and a tree insert each).
        if !matches!(c, Change::RemoteMac { .. }) {
            self.intent.apply(&c);
        }
        self.batch.push(c);
    }

    /// The whole intent: `self.intent` plus the remote MACs.
    fn full_intent(&self) -> Intent {
        let mut i = self.intent.clone();
        for (vni, v) in &self.l2 {
            for (mac, st) in &v.macs {
                if let Some(p) = st.programmed {
                    i.remote_macs.insert((*vni, *mac), p);
                }
            }
        }
        i
    }

    /// Close the current change batch into an `Apply` request.
    pub fn flush(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        self.intent.generation += 1;
        self.out.push_back(DataplaneRequest::Apply {
            generation: self.intent.generation,
            changes: std::mem::take(&mut self.batch),
        });
    }

    /// Queue a request after the changes made so far.
    fn request(&mut self, r: DataplaneRequest) {
        self.flush();
        self.out.push_back(r);
    }

    /// Ask for a full reconcile of the current intent (after an overrun or
    /// a failed apply).
    pub fn resync(&mut self) {
        self.flush();
        self.intent.generation += 1;
        self.out
            .push_back(DataplaneRequest::Reconcile(self.full_intent()));
    }

    // ---- origination ------------------------------------------------------

    fn base_attrs(ext: Vec<ExtCommunity>) -> PathAttrs {
        let mut ext = ext;
        ext.sort();
        ext.dedup();
        PathAttrs {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            ext_communities: (!ext.is_empty()).then_some(ext),
            ..PathAttrs::default()
        }
    }

    fn install(&mut self, key: RouteKey, set: AttrSet) {
        self.originated.insert(key);
        self.rib_ops.push_back(RibOp::Install(key, Box::new(set)));
    }

    fn withdraw(&mut self, key: RouteKey) {
        if self.originated.remove(&key) {
            self.host_export.remove(&key);
            self.rib_ops.push_back(RibOp::Withdraw(key));
        }
    }

    fn rt2_key(rd: evpn_proto::Rd, mac: Mac, ip: Option<IpAddr>) -> RouteKey {
        RouteKey::Evpn(EvpnKey::MacIp {
            rd,
            eth_tag: 0,
            mac,
            ip,
        })
    }

    fn host_key(ip: IpAddr) -> RouteKey {
        match ip {
            IpAddr::V4(a) => RouteKey::V4(Ipv4Prefix::host(a)),
            IpAddr::V6(a) => RouteKey::V6(Ipv6Prefix::host(a)),
        }
    }

    /// RT-2 (RFC 7432 §7.2, RFC 9135 §10.1 for label 2 and the router MAC).
    fn install_rt2(
        &mut self,
        vni: Vni,
        mac: Mac,
        ip: Option<IpAddr>,
        seq: u32,
        sticky: bool,
        gateway: bool,
    ) {
        let Some(v) = self.l2.get(&vni) else { return };
        let l3 = v.cfg.l3vni.and_then(|x| self.l3.get(&x));
        let mut ext = vec![ExtCommunity::Encapsulation(TunnelType::Vxlan)];
        ext.extend(
            v.cfg
                .export_rts
                .iter()
                .map(|r| ExtCommunity::RouteTarget(*r)),
        );
        let mut label2 = None;
        if let (Some(_), Some(l3)) = (ip, l3) {
            label2 = Some(Label::from_vni(l3.l3vni));
            ext.extend(l3.export_rts.iter().map(|r| ExtCommunity::RouteTarget(*r)));
            ext.push(ExtCommunity::RouterMac(l3.router_mac));
        }
        if seq > 0 || sticky {
            ext.push(ExtCommunity::MacMobility { seq, sticky });
        }
        if gateway {
            ext.push(ExtCommunity::DefaultGateway);
        }
        let route = EvpnRoute::MacIp(MacIp {
            rd: v.cfg.rd,
            esi: Esi::ZERO,
            eth_tag: 0,
            mac,
            ip,
            label1: Label::from_vni(vni),
            label2,
        });
        let set = AttrSet::new(
            Self::base_attrs(ext),
            Some(NextHop::from_ip(self.cfg.local_vtep)),
            NlriExtra::of(&route),
        );
        let key = Self::rt2_key(v.cfg.rd, mac, ip);
        // Host route to the core (issue: "local host /32 and /128").
        let export = match (ip, l3.and_then(|l| l.host_export.as_ref())) {
            (Some(ip), Some(e)) if e.allows(ip) && !gateway => Some((ip, e.peers.clone())),
            _ => None,
        };
        self.install(key, set);
        if let Some((ip, peers)) = export {
            let hk = Self::host_key(ip);
            let set = AttrSet::new(Self::base_attrs(Vec::new()), None, NlriExtra::default());
            self.host_export.insert(hk, peers);
            self.install(hk, set);
        }
    }

    fn withdraw_rt2(&mut self, vni: Vni, mac: Mac, ip: Option<IpAddr>) {
        let Some(v) = self.l2.get(&vni) else { return };
        self.withdraw(Self::rt2_key(v.cfg.rd, mac, ip));
        if let Some(ip) = ip {
            self.withdraw(Self::host_key(ip));
        }
    }

    /// RT-3 IMET with the PMSI tunnel for ingress replication (RFC 7432
    /// §7.3, §11.1; RFC 8365 §5.1.3: the label carries the VNI).
    fn install_imet(&mut self, v: &MacVrfCfg) {
        if let (Some(key), set) = self.imet_route(v) {
            self.install(key, set);
        }
    }

    /// Our IMET route of `v`: its key (None if it cannot be keyed) and attributes.
    fn imet_route(&self, v: &MacVrfCfg) -> (Option<RouteKey>, AttrSet) {
        let vtep = self.cfg.local_vtep;
        let mut ext = vec![ExtCommunity::Encapsulation(TunnelType::Vxlan)];
        ext.extend(v.export_rts.iter().map(|r| ExtCommunity::RouteTarget(*r)));
        let mut attrs = Self::base_attrs(ext);
        attrs.pmsi_tunnel = Some(PmsiTunnel::ingress_replication(
            Label::from_vni(v.vni),
            vtep,
        ));
        let route = EvpnRoute::Imet(Imet {
            rd: v.rd,
            eth_tag: 0,
            originator: vtep,
        });
        let set = AttrSet::new(attrs, Some(NextHop::from_ip(vtep)), NlriExtra::of(&route));
        (route.key().map(RouteKey::Evpn), set)
    }

    /// RT-5 (RFC 9136 §3.1) with the L3 VNI as label and our router MAC.
    fn install_rt5(&mut self, v: &IpVrfCfg, p: IpNetwork) {
        let Some(prefix) = Prefix::new(p.network(), p.prefix()) else {
            return;
        };
        let mut ext = vec![
            ExtCommunity::Encapsulation(TunnelType::Vxlan),
            ExtCommunity::RouterMac(v.router_mac),
        ];
        ext.extend(v.export_rts.iter().map(|r| ExtCommunity::RouteTarget(*r)));
        let route = EvpnRoute::IpPrefix(IpPrefix {
            rd: v.rd,
            esi: Esi::ZERO,
            eth_tag: 0,
            prefix,
            gateway: if prefix.is_ipv4() {
                IpPrefix::NO_GATEWAY_V4
            } else {
                IpPrefix::NO_GATEWAY_V6
            },
            label: Label::from_vni(v.l3vni),
        });
        let Some(key) = route.key() else { return };
        let set = AttrSet::new(
            Self::base_attrs(ext),
            Some(NextHop::from_ip(self.cfg.local_vtep)),
            NlriExtra::of(&route),
        );
        self.install(RouteKey::Evpn(key), set);
    }

    /// Advertise every RT-2 of a local MAC with its current sequence number.
    fn originate_mac(&mut self, vni: Vni, mac: Mac) {
        let Some(st) = self.l2.get(&vni).and_then(|v| v.macs.get(&mac)) else {
            return;
        };
        let Some(local) = &st.local else { return };
        let (seq, sticky) = (st.seq, local.sticky);
        let ips: Vec<IpAddr> = st.local_ips.iter().copied().collect();
        self.install_rt2(vni, mac, None, seq, sticky, false);
        for ip in ips {
            self.install_rt2(vni, mac, Some(ip), seq, sticky, false);
        }
    }

    // ---- import -----------------------------------------------------------

    fn targets(index: &HashMap<RouteTarget, Vec<Vni>>, rts: &[RouteTarget]) -> Vec<Vni> {
        let mut out: Vec<Vni> = rts
            .iter()
            .filter_map(|rt| index.get(rt))
            .flatten()
            .copied()
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Nothing can be imported: no VNI or VRF imports any route target and
    /// nothing was imported before (a route reflector / BGP-only speaker).
    pub fn imports_nothing(&self) -> bool {
        self.import_l2.is_empty() && self.import_l3.is_empty() && self.imported.is_empty()
    }

    /// The Loc-RIB best path of `key` changed: `path` is the new best
    /// (`None`: withdrawn, or our own route won). Undo what the old best
    /// contributed, import the new one, resolve what changed.
    pub fn import(&mut self, id: u32, key: EvpnKey, path: Option<PathInfo>) {
        let mut touched = Touched::default();
        let mut gone = Vec::new();
        let slot = id as usize;
        if let Some(old) = self.imported.get_mut(slot).and_then(Option::take) {
            self.unimport(&key, old, &mut touched, &mut gone);
        }
        if let Some(p) = path {
            let imp = self.import_path(&key, &p, &mut touched);
            // A route replaced by a new version of itself (new next hop,
            // new sequence number) did not leave the MAC.
            gone.retain(|(vni, mac, _)| !imp.macs().any(|m| m == (*vni, *mac)));
            if !imp.is_empty() {
                let mut imp = imp;
                if let Imported::Many(v) = &mut imp {
                    v.shrink_to_fit();
                }
                if self.imported.len() <= slot {
                    self.imported.resize_with(slot + 1, || None);
                }
                self.imported[slot] = Some(imp);
            }
        }
        for (vni, mac, seq) in gone {
            self.remember_withdrawn(&key, vni, mac, seq);
        }
        self.resolve(touched);
    }

    fn import_path(&mut self, key: &EvpnKey, p: &PathInfo, t: &mut Touched) -> Imported {
        let mut imp = Imported::default();
        let local_vtep = self.cfg.local_vtep;
        let l2 = Self::targets(&self.import_l2, &p.rts);
        let l3 = Self::targets(&self.import_l3, &p.rts);
        match *key {
            EvpnKey::MacIp { mac, ip, .. } => {
                let Some(vtep) = p.vtep.filter(|v| *v != local_vtep) else {
                    return imp;
                };
                let (seq, sticky) = p.mobility.unwrap_or((0, false));
                let cand = RemoteCand {
                    vtep,
                    mac,
                    seq,
                    sticky,
                    gateway: p.default_gw,
                    source: p.source,
                };
                for vni in l2 {
                    let Some(v) = self.l2.get_mut(&vni) else {
                        continue;
                    };
                    v.macs.entry(mac).or_default().remote.insert(*key, cand);
                    imp.push(Contrib::Mac(vni, mac));
                    t.macs.push((vni, mac));
                    if let Some(ip) = ip {
                        v.ips.entry(ip).or_default().remote.insert(*key, cand);
                        imp.push(Contrib::Ip(vni, ip));
                        t.ips.push((vni, ip));
                    }
                }
                // Symmetric IRB host route (RFC 9135 §10.1): label 2 = L3 VNI.
                if let (Some(ip), Some(_)) = (ip, p.label2) {
                    for l3vni in l3 {
                        self.add_route(
                            l3vni,
                            host_net(ip),
                            *key,
                            vtep,
                            seq,
                            p.router_mac,
                            &mut imp,
                            t,
                        );
                    }
                }
            }
            EvpnKey::Imet { originator, .. } => {
                let vtep = p.pmsi_endpoint.unwrap_or(originator);
                if vtep == local_vtep {
                    return imp;
                }
                for vni in l2 {
                    let ir = self
                        .l2
                        .get(&vni)
                        .is_some_and(|v| v.cfg.flooding == Flooding::IngressReplication);
                    if ir {
                        self.flood_ref(vni, vtep, true);
                        imp.push(Contrib::Flood(vni, vtep));
                    }
                }
            }
            EvpnKey::IpPrefix { prefix, .. } => {
                let Some(vtep) = p.vtep.filter(|v| *v != local_vtep) else {
                    return imp;
                };
                let Ok(net) = IpNetwork::new(prefix.addr(), prefix.prefix_len()) else {
                    return imp;
                };
                for l3vni in l3 {
                    self.add_route(l3vni, net, *key, vtep, 0, p.router_mac, &mut imp, t);
                }
            }
            _ => {}
        }
        imp
    }

    #[expect(clippy::too_many_arguments, reason = "one call site per route type")]
    fn add_route(
        &mut self,
        l3vni: Vni,
        net: IpNetwork,
        key: EvpnKey,
        vtep: IpAddr,
        seq: u32,
        router_mac: Option<Mac>,
        imp: &mut Imported,
        t: &mut Touched,
    ) {
        self.vrf_routes
            .entry((l3vni, net))
            .or_default()
            .cands
            .insert(key, RouteCand { vtep, seq });
        imp.push(Contrib::Route(l3vni, net));
        t.routes.push((l3vni, net));
        if let Some(m) = router_mac {
            self.rmac_ref(l3vni, vtep, Some(m));
            imp.push(Contrib::Rmac(l3vni, vtep));
        }
    }

    /// A remote route of `mac` went away: remember it for [`RECENT_HOLD`]
    /// (a local learn soon after is a move). The map is bounded: past
    /// [`RECENT_MAX`] the expired entries go, and if that is not enough the
    /// older half, so a burst of withdrawals costs amortized O(1) each.
    fn remember_withdrawn(&mut self, key: &EvpnKey, vni: Vni, mac: Mac, seq: u32) {
        let now = self.now;
        let r = self.recent.entry((vni, mac)).or_default();
        if r.at
            .is_none_or(|at| now.saturating_duration_since(at) > RECENT_HOLD)
        {
            *r = Recent::default();
        }
        r.at = Some(now);
        r.seq = r.seq.max(seq);
        if let EvpnKey::MacIp { ip: Some(ip), .. } = key {
            r.ips.insert(*ip);
        }
        if self.recent.len() > RECENT_MAX {
            self.recent.retain(|_, r| {
                r.at.is_some_and(|at| now.saturating_duration_since(at) <= RECENT_HOLD)
            });
            if self.recent.len() > RECENT_MAX / 2 {
                let mut ages: Vec<Instant> = self.recent.values().filter_map(|r| r.at).collect();
                let mid = ages.len() / 2;
                let (_, cut, _) = ages.select_nth_unstable(mid);
                let cut = *cut;
                self.recent.retain(|_, r| r.at.is_some_and(|at| at > cut));
            }
        }
    }

    fn unimport(
        &mut self,
        key: &EvpnKey,
        old: Imported,
        t: &mut Touched,
        gone: &mut Vec<(Vni, Mac, u32)>,
    ) {
        for (vni, mac) in old.macs() {
            if let Some(st) = self.l2.get_mut(&vni).and_then(|v| v.macs.get_mut(&mac)) {
                if let Some(c) = st.remote.remove(key) {
                    gone.push((vni, mac, c.seq));
                }
            }
            t.macs.push((vni, mac));
        }
        for (vni, ip) in old.ips() {
            if let Some(st) = self.l2.get_mut(&vni).and_then(|v| v.ips.get_mut(&ip)) {
                st.remote.remove(key);
            }
            t.ips.push((vni, ip));
        }
        for r in old.routes() {
            if let Some(vr) = self.vrf_routes.get_mut(&r) {
                vr.cands.remove(key);
            }
            t.routes.push(r);
        }
        for (l3vni, vtep) in old.rmacs() {
            self.rmac_ref(l3vni, vtep, None);
        }
        for (vni, vtep) in old.flood() {
            self.flood_ref(vni, vtep, false);
        }
    }

    /// Router MAC of a remote VTEP in an IP-VRF, reference-counted over the
    /// routes that name it. `Some`: one more reference; `None`: one less.
    fn rmac_ref(&mut self, l3vni: Vni, vtep: IpAddr, mac: Option<Mac>) {
        let k = (l3vni, vtep);
        match mac {
            Some(m) => {
                let e = self.rmac_refs.entry(k).or_insert((m, 0));
                e.1 += 1;
                let changed = e.1 == 1 || e.0 != m;
                e.0 = m;
                if changed {
                    self.change(Change::RouterMac {
                        l3vni,
                        vtep,
                        mac: Some(m),
                    });
                }
            }
            None => {
                let gone = match self.rmac_refs.get_mut(&k) {
                    Some(e) => {
                        e.1 = e.1.saturating_sub(1);
                        e.1 == 0
                    }
                    None => false,
                };
                if gone {
                    self.rmac_refs.remove(&k);
                    self.change(Change::RouterMac {
                        l3vni,
                        vtep,
                        mac: None,
                    });
                }
            }
        }
    }

    /// Flood entry from RT-3, reference-counted over the IMET routes.
    fn flood_ref(&mut self, vni: Vni, vtep: IpAddr, add: bool) {
        let n = self.flood_refs.entry((vni, vtep)).or_insert(0);
        if add {
            *n += 1;
            if *n == 1 {
                self.change(Change::Flood {
                    vni,
                    vtep,
                    present: true,
                });
            }
        } else {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.flood_refs.remove(&(vni, vtep));
                self.change(Change::Flood {
                    vni,
                    vtep,
                    present: false,
                });
            }
        }
    }

    // ---- resolution -------------------------------------------------------

    fn resolve(&mut self, t: Touched) {
        for (vni, mac) in t.macs {
            self.resolve_mac(vni, mac);
        }
        for (vni, ip) in t.ips {
            self.resolve_ip(vni, ip);
        }
        for (l3vni, net) in t.routes {
            self.resolve_route(l3vni, net);
        }
    }

    /// Decide where `mac` lives (RFC 7432 §15) and program it: local (no
    /// remote entry), or the winning remote VTEP. A remote route that beats
    /// our local MAC means the host moved away: withdraw our routes, purge
    /// the local entries, point at the new VTEP.
    fn resolve_mac(&mut self, vni: Vni, mac: Mac) {
        let local_vtep = self.cfg.local_vtep;
        let Some(v) = self.l2.get(&vni) else { return };
        // The anycast gateway MAC is local on every leaf: never remote,
        // never a move.
        if v.cfg.gateway_mac() == Some(mac) {
            self.program_mac(vni, mac, None);
            return;
        }
        let Some(st) = v.macs.get(&mac) else { return };
        let winner = best(st.remote.values()).copied();
        if let (Some(local), Some(w)) = (&st.local, winner) {
            let ours = Claim {
                sticky: local.sticky,
                seq: st.seq,
                vtep: local_vtep,
            };
            if compare(&w.claim(), &ours).is_gt() && !st.dad.is_frozen() {
                self.moved_away(vni, mac, w);
            }
        }
        let Some(st) = self.l2.get(&vni).and_then(|v| v.macs.get(&mac)) else {
            return;
        };
        let want = match (&st.local, winner) {
            (Some(_), _) | (None, None) => None,
            (None, Some(w)) => Some(RemoteMac {
                vtep: w.vtep,
                sticky: w.sticky || w.gateway,
            }),
        };
        self.program_mac(vni, mac, want);
        if let Some(v) = self.l2.get_mut(&vni) {
            if v.macs.get(&mac).is_some_and(MacState::unused) {
                v.macs.remove(&mac);
            }
        }
    }

    fn program_mac(&mut self, vni: Vni, mac: Mac, want: Option<RemoteMac>) {
        let Some(st) = self
            .l2
            .get_mut(&vni)
            .map(|v| v.macs.entry(mac).or_default())
        else {
            return;
        };
        if st.programmed != want {
            st.programmed = want;
            self.change(Change::RemoteMac { vni, mac, to: want });
        }
    }

    /// Our local MAC lost to `winner`: RFC 7432 §15.1 "the PE ... withdraws
    /// its MAC/IP Advertisement route", and the kernel's local FDB and
    /// neighbour entries are stale.
    fn moved_away(&mut self, vni: Vni, mac: Mac, winner: RemoteCand) {
        if self.record_move(vni, mac, MoveReason::RemoteWon) {
            // Frozen by this move: stop processing updates for the MAC.
            return;
        }
        let Some(v) = self.l2.get_mut(&vni) else {
            return;
        };
        let (bridge, svi, l3vni) = (
            v.cfg.bridge().to_string(),
            v.cfg.svi().to_string(),
            v.cfg.l3vni,
        );
        let Some(st) = v.macs.get_mut(&mac) else {
            return;
        };
        st.local = None;
        let ips: Vec<IpAddr> = std::mem::take(&mut st.local_ips).into_iter().collect();
        for ip in &ips {
            if let Some(is) = v.ips.get_mut(ip) {
                is.local_mac = None;
            }
        }
        info!(%vni, %mac, to = %winner.vtep, seq = winner.seq, "MAC moved away: withdrawing and purging local entries");
        self.withdraw_rt2(vni, mac, None);
        for ip in &ips {
            self.withdraw_rt2(vni, mac, Some(*ip));
            if let Some(l3) = l3vni {
                self.local_hosts.remove(&(l3, *ip));
                self.resolve_route(l3, host_net(*ip));
            }
        }
        self.counters.purges += 1;
        self.request(DataplaneRequest::PurgeLocal {
            vni,
            bridge,
            svi,
            mac,
            ips: ips.clone(),
        });
        for ip in ips {
            self.resolve_ip(vni, ip);
        }
    }

    /// Count a move for duplicate detection; true when the MAC is (now)
    /// frozen.
    fn record_move(&mut self, vni: Vni, mac: Mac, why: MoveReason) -> bool {
        let d = self.cfg.dad;
        let now = self.now;
        let Some(st) = self.l2.get_mut(&vni).and_then(|v| v.macs.get_mut(&mac)) else {
            return false;
        };
        self.counters.moves += 1;
        let froze = st
            .dad
            .record(now, why, d.max_moves, d.window, d.freeze, d.enabled);
        if froze {
            self.counters.dad_detected += 1;
            warn!(%vni, %mac, max_moves = d.max_moves, window_secs = d.window.as_secs(),
                "duplicate MAC detected: frozen, no further advertisements until cleared");
            if let Some(until) = st.dad.frozen.and_then(|f| f.until) {
                self.timer_ops.push(TimerOp::Set(vni, mac, until));
            }
        }
        st.dad.is_frozen()
    }

    /// The remote neighbour for ARP/ND suppression: the winning MAC+IP
    /// route, unless the IP (or its MAC) is local here.
    fn resolve_ip(&mut self, vni: Vni, ip: IpAddr) {
        let Some(v) = self.l2.get(&vni) else { return };
        let Some(st) = v.ips.get(&ip) else { return };
        let want = if v.cfg.is_gateway_ip(ip) || st.local_mac.is_some() {
            None
        } else {
            best(st.remote.values())
                .filter(|c| v.macs.get(&c.mac).is_none_or(|m| m.local.is_none()))
                .map(|c| c.mac)
        };
        if st.programmed != want {
            if let Some(st) = self.l2.get_mut(&vni).and_then(|v| v.ips.get_mut(&ip)) {
                st.programmed = want;
            }
            self.change(Change::RemoteNeigh { vni, ip, mac: want });
        }
        if let Some(v) = self.l2.get_mut(&vni) {
            if v.ips.get(&ip).is_some_and(IpState::unused) {
                v.ips.remove(&ip);
            }
        }
    }

    /// An IP-VRF route: the highest sequence number, then the lowest VTEP;
    /// a host route for a host that is local here is not installed, nor a
    /// prefix that is the subnet of one of our member VNIs' gateways (it is
    /// connected here: every leaf with the same anycast gateway advertises
    /// it with `advertise_connected`).
    fn resolve_route(&mut self, l3vni: Vni, net: IpNetwork) {
        let local = (net.prefix() == if net.is_ipv4() { 32 } else { 128 }
            && self.local_hosts.contains(&(l3vni, net.ip())))
            || self.is_connected(l3vni, net);
        let Some(r) = self.vrf_routes.get_mut(&(l3vni, net)) else {
            return;
        };
        let want = if local {
            None
        } else {
            r.cands
                .values()
                .max_by(|a, b| a.seq.cmp(&b.seq).then(b.vtep.cmp(&a.vtep)))
                .map(|c| c.vtep)
        };
        let changed = r.programmed != want;
        r.programmed = want;
        if r.cands.is_empty() && want.is_none() {
            self.vrf_routes.remove(&(l3vni, net));
        }
        if changed {
            self.change(Change::Route {
                l3vni,
                prefix: net,
                vtep: want,
            });
        }
    }

    /// Is `net` the subnet of a gateway address of an L2 VNI routed in
    /// `l3vni`?
    fn is_connected(&self, l3vni: Vni, net: IpNetwork) -> bool {
        self.l2
            .values()
            .filter(|v| v.cfg.l3vni == Some(l3vni))
            .filter_map(|v| v.cfg.gateway())
            .flat_map(|g| g.addrs.iter())
            .any(|a| a.prefix() == net.prefix() && a.network() == net.network())
    }
}

/// A local MAC for replay: ((bridge, VLAN), MAC, port, sticky).
pub type LocalMacFact = ((String, Option<u16>), Mac, String, bool);
/// A local neighbour for replay: (SVI, IP, MAC).
pub type LocalNeighFact = (String, IpAddr, Mac);

/// What one event touched, resolved once at the end.
#[derive(Debug, Default)]
struct Touched {
    macs: Vec<(Vni, Mac)>,
    ips: Vec<(Vni, IpAddr)>,
    routes: Vec<(Vni, IpNetwork)>,
}

impl Evpn {
    /// After a reload the queued `Reconcile` from `start` predates the
    /// re-import: replace the whole queue with one reconcile of the final
    /// intent (announcements kept).
    pub fn resync_after_reload(&mut self) {
        self.batch.clear();
        self.out.retain(|r| {
            matches!(
                r,
                DataplaneRequest::Announce { .. } | DataplaneRequest::Probe { .. }
            )
        });
        self.out
            .push_front(DataplaneRequest::Reconcile(self.full_intent()));
    }
}
