//! An EVPN fabric in network namespaces: one spine (evpnd as route
//! reflector), N evpnd leaves programming the real kernel, and hosts
//! ("VMs") on the leaves' bridges that can be moved from leaf to leaf the
//! way a live migration moves them (the host keeps its MAC and IP, its
//! port comes up on the new leaf, it announces itself with QEMU's RARP).
//!
//! Addressing: leaf `i` (1-based) hangs off the spine on link `i`:
//! spine `10.0.i.1`, leaf `10.0.i.2` (its router id and VTEP). The spine
//! routes between the links; the underlay MTU is 9000, so the 1500-byte
//! overlay fits with VXLAN's 50 bytes. Every L2 VNI `v` has the subnet
//! `10.<v/100>.0.0/24`-style addressing chosen by the caller, with the
//! anycast gateway `.1` and MAC `00:00:5e:00:01:01` on every leaf.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub mod core_router;
pub mod frr_leaf;

pub use core_router::{CoreUpdate, CORE_ADDR, CORE_AS};

use crate::json::poll_until;
use crate::netns::{veth, Netns};
use crate::peers::{Evpnd, Frr};
use crate::process::TestDir;
use crate::topo::{evpnd_established, evpnd_neighbor};

/// The anycast gateway MAC every leaf uses.
pub const GATEWAY_MAC: &str = "00:00:5e:00:01:01";
/// The fabric's AS (iBGP everywhere, the spine reflects).
pub const FABRIC_AS: u32 = 65000;

/// One L2 VNI of the fabric: VNI number, its anycast gateway
/// (`10.1.0.1/24`) and the IP-VRF it routes in, if any.
#[derive(Debug, Clone)]
pub struct VniSpec {
    pub vni: u32,
    pub gateway: String,
    /// Name of a [`VrfSpec`] (symmetric IRB through its L3 VNI).
    pub vrf: Option<String>,
    /// The leaves (indexes) that carry it; every leaf when `None`.
    pub on: Option<Vec<usize>>,
    /// An IPv6 anycast gateway address too (`fd00:1::1/64`).
    pub gateway6: Option<String>,
}

impl VniSpec {
    /// An L2-only VNI with its anycast gateway `gateway` (`10.1.0.1/24`).
    pub fn new(vni: u32, gateway: &str) -> VniSpec {
        VniSpec {
            vni,
            gateway: gateway.to_string(),
            vrf: None,
            on: None,
            gateway6: None,
        }
    }

    /// Also an IPv6 anycast gateway `gateway6` (`fd00:1::1/64`).
    pub fn with_ipv6(mut self, gateway6: &str) -> VniSpec {
        self.gateway6 = Some(gateway6.to_string());
        self
    }

    /// Only leaves `leaves` (indexes) carry this VNI.
    pub fn only_on(mut self, leaves: &[usize]) -> VniSpec {
        self.on = Some(leaves.to_vec());
        self
    }

    /// Does leaf `at` (index) carry it?
    pub fn is_on(&self, at: usize) -> bool {
        self.on.as_ref().is_none_or(|l| l.contains(&at))
    }

    /// The same VNI routed in the IP-VRF `vrf`.
    pub fn in_vrf(mut self, vrf: &str) -> VniSpec {
        self.vrf = Some(vrf.to_string());
        self
    }
}

/// An IP-VRF with its L3 VNI, present on every evpnd leaf.
#[derive(Debug, Clone)]
pub struct VrfSpec {
    pub name: String,
    pub l3vni: u32,
    /// Originated as RT-5 by every evpnd leaf (more TOML per leaf can add
    /// its own with [`FabricSpec::leaf_vrf_extra`]).
    pub advertise_prefixes: Vec<String>,
    /// RT-5 prefixes only one leaf (index) originates.
    pub leaf_prefixes: Vec<(usize, String)>,
    /// `advertise_connected`: the member VNIs' gateway subnets as RT-5.
    pub advertise_connected: bool,
    /// `export_host_routes`: the host routes (/32, /128) inside these
    /// prefixes go to these peers (e.g. [`CORE_ADDR`]) only.
    pub export_host_routes: Option<HostExportSpec>,
}

impl VrfSpec {
    /// An IP-VRF with L3 VNI `l3vni` (table backend, table = L3 VNI), no
    /// RT-5 prefixes, no host-route export.
    pub fn new(name: &str, l3vni: u32) -> VrfSpec {
        VrfSpec {
            name: name.to_string(),
            l3vni,
            advertise_prefixes: Vec::new(),
            leaf_prefixes: Vec::new(),
            advertise_connected: false,
            export_host_routes: None,
        }
    }

    /// Every leaf also originates the member VNIs' subnets as RT-5.
    pub fn advertise_connected(mut self) -> VrfSpec {
        self.advertise_connected = true;
        self
    }

    /// Leaf `at` (index) alone originates `prefix` as RT-5.
    pub fn prefix_on(mut self, at: usize, prefix: &str) -> VrfSpec {
        self.leaf_prefixes.push((at, prefix.to_string()));
        self
    }

    /// Export the host routes inside `prefixes` to `peers` only.
    pub fn export_host_routes(mut self, peers: &[&str], prefixes: &[&str]) -> VrfSpec {
        self.export_host_routes = Some(HostExportSpec {
            peers: peers.iter().map(|p| p.to_string()).collect(),
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
        });
        self
    }
}

/// The `export_host_routes` table of a `[[vrf]]`.
#[derive(Debug, Clone)]
pub struct HostExportSpec {
    pub peers: Vec<String>,
    pub prefixes: Vec<String>,
}

/// `["a", "b"]` in TOML.
fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|p| format!("\"{p}\"")).collect();
    format!("[{}]", quoted.join(", "))
}

/// What runs on a leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafKind {
    /// evpnd programming the kernel.
    Evpnd,
    /// FRR (zebra + bgpd, `advertise-all-vni`) with the usual manual
    /// anycast-gateway recipe.
    Frr,
}

/// Everything a fabric is built from; [`Fabric::new`] covers the common
/// case (N evpnd leaves, L2 VNIs).
#[derive(Debug, Clone, Default)]
pub struct FabricSpec {
    /// Names the scratch directory (`/tmp/evt-<label>-…`).
    pub label: String,
    /// One entry per leaf, leaf `i` (1-based) on spine link `i`.
    pub leaves: Vec<LeafKind>,
    pub vnis: Vec<VniSpec>,
    pub vrfs: Vec<VrfSpec>,
    /// A core router (FRR, AS 65100, IPv4 unicast eBGP to every evpnd
    /// leaf) that receives the host routes.
    pub core: bool,
    /// More global TOML for every evpnd leaf (e.g. duplicate detection).
    pub leaf_extra: String,
    /// More TOML per evpnd leaf (index) appended to its config.
    pub leaf_vrf_extra: Vec<(usize, String)>,
    /// More lines under `address-family l2vpn evpn` of every FRR leaf
    /// (e.g. ` dup-addr-detection max-moves 1000 time 1800`).
    pub frr_evpn_extra: String,
}

/// The daemon of a leaf.
#[derive(Debug)]
pub enum LeafDaemon {
    Evpnd(Evpnd),
    Frr(Frr),
}

/// A leaf: its namespace, address and daemon.
#[derive(Debug)]
pub struct Leaf {
    pub daemon: LeafDaemon,
    pub ns: Netns,
    /// `leaf1`, `leaf2`, …
    pub name: String,
    pub vtep: String,
    /// The spine's address on this leaf's link.
    pub spine_addr: String,
}

impl Leaf {
    /// The evpnd of this leaf, or an error naming an FRR leaf.
    pub fn evpnd(&self) -> Result<&Evpnd> {
        match &self.daemon {
            LeafDaemon::Evpnd(e) => Ok(e),
            LeafDaemon::Frr(_) => bail!("{} runs FRR, not evpnd", self.name),
        }
    }

    /// The FRR of this leaf, or an error naming an evpnd leaf.
    pub fn frr(&self) -> Result<&Frr> {
        match &self.daemon {
            LeafDaemon::Frr(f) => Ok(f),
            LeafDaemon::Evpnd(_) => bail!("{} runs evpnd, not FRR", self.name),
        }
    }

    /// The daemon's recent log (for failure messages).
    pub fn log(&self) -> String {
        match &self.daemon {
            LeafDaemon::Evpnd(e) => e.log(),
            LeafDaemon::Frr(f) => f.bgpd_log(),
        }
    }
}

/// A host ("VM"): its own namespace with `eth0`, behind its NIC backend
/// (`hv`, the hypervisor side: bridge `qbr` joining the VM's `nic0` and
/// `up0`), whose uplink `up0` is the peer of `port` in the namespace of the
/// leaf it is attached to. A migration moves `port` (the hypervisor's tap
/// on the leaf's bridge), so only `up0` loses its carrier: the VM's `eth0`
/// never does, as a QEMU guest's NIC never does. (With the VM's `eth0`
/// itself as the peer, the move flushed the VM's neighbour cache and,
/// until the kernel's linkwatch work activated `eth0`'s queue again, a
/// few ms after the port forwarded, dropped what the VM sent: an ARP
/// request lost there is retried after `retrans_time`, 1 s of loss.)
#[derive(Debug)]
pub struct Host {
    pub ns: Netns,
    /// The NIC backend (no IP, IPv6 off, sends nothing of its own).
    pub hv: Netns,
    pub mac: String,
    /// With prefix length, e.g. `10.1.0.10/24`.
    pub cidr: String,
    pub vni: u32,
    /// The leaf-side device name (unique in the fabric).
    pub port: String,
    /// Index into [`Fabric::leaves`].
    pub at: usize,
}

impl Host {
    pub fn ip(&self) -> &str {
        self.cidr.split('/').next().unwrap_or(&self.cidr)
    }
}

/// Spine, leaves, the core router and the scratch directory; dropped
/// daemons first, then the namespaces (field order).
#[derive(Debug)]
pub struct Fabric {
    pub spine_evpnd: Evpnd,
    pub leaves: Vec<Leaf>,
    pub core: Option<Core>,
    pub spine: Netns,
    pub vnis: Vec<VniSpec>,
    pub vrfs: Vec<VrfSpec>,
    pub dir: TestDir,
}

/// The core router: FRR in its own namespace behind the spine.
#[derive(Debug)]
pub struct Core {
    pub frr: Frr,
    pub ns: Netns,
    /// Its address (`10.0.254.2`).
    pub addr: String,
}

/// The `[[vni]]` and `[[vrf]]` sections of evpnd leaf `leaf` (index).
fn vni_sections(leaf: usize, vnis: &[VniSpec], vrfs: &[VrfSpec]) -> String {
    let mut s = String::new();
    for v in vnis.iter().filter(|v| v.is_on(leaf)) {
        s.push_str(&format!(
            "\n[[vni]]\nvni = {}\nbridge = \"br{}\"\n",
            v.vni, v.vni
        ));
        if let Some(vrf) = &v.vrf {
            s.push_str(&format!("vrf = \"{vrf}\"\n"));
        }
        s.push_str(&format!(
            "\n[vni.anycast_gateway]\nipv4 = \"{}\"\nmac = \"{GATEWAY_MAC}\"\n",
            v.gateway
        ));
        if let Some(g6) = &v.gateway6 {
            s.push_str(&format!("ipv6 = \"{g6}\"\n"));
        }
    }
    for v in vrfs {
        let mut prefixes = v.advertise_prefixes.clone();
        prefixes.extend(
            v.leaf_prefixes
                .iter()
                .filter(|(at, _)| *at == leaf)
                .map(|(_, p)| p.clone()),
        );
        s.push_str(&format!(
            "\n[[vrf]]\nname = \"{}\"\nl3vni = {}\nbackend = \"table\"\nadvertise_prefixes = {}\n",
            v.name,
            v.l3vni,
            toml_list(&prefixes)
        ));
        if v.advertise_connected {
            s.push_str("advertise_connected = true\n");
        }
        if let Some(e) = &v.export_host_routes {
            s.push_str(&format!(
                "export_host_routes = {{ peers = {}, prefixes = {} }}\n",
                toml_list(&e.peers),
                toml_list(&e.prefixes)
            ));
        }
    }
    s
}

impl Fabric {
    /// Spine + `n` evpnd leaves carrying `vnis`, sessions up, bridges
    /// created. `leaf_extra` is more global TOML for every leaf (e.g.
    /// duplicate detection settings).
    pub fn new(label: &str, n: usize, vnis: &[VniSpec], leaf_extra: &str) -> Result<Fabric> {
        Self::build(&FabricSpec {
            label: label.to_string(),
            leaves: vec![LeafKind::Evpnd; n],
            vnis: vnis.to_vec(),
            leaf_extra: leaf_extra.to_string(),
            ..FabricSpec::default()
        })
    }

    /// The fabric `spec` describes, every session up, bridges created.
    pub fn build(spec: &FabricSpec) -> Result<Fabric> {
        let n = spec.leaves.len();
        if n == 0 || n > 200 {
            bail!("a fabric has 1..=200 leaves, not {n}");
        }
        let dir = TestDir::new(&spec.label)?;
        let spine = Netns::new()?;
        spine.enable_forwarding()?;
        let mut leaf_ns = Vec::new();
        for i in 1..=n {
            let ns = Netns::new()?;
            let (s4, l4) = (format!("10.0.{i}.1"), format!("10.0.{i}.2"));
            veth(
                &spine,
                &format!("l{i}"),
                &[&format!("{s4}/24")],
                &ns,
                "eth0",
                &[&format!("{l4}/24")],
                9000,
            )?;
            ns.route("10.0.0.0/16", &s4)?;
            leaf_ns.push((ns, l4, s4));
        }
        let mut rr_neighbors = String::new();
        for (_, l4, _) in &leaf_ns {
            rr_neighbors.push_str(&evpnd_neighbor(
                l4,
                FABRIC_AS,
                &["evpn", "ipv4"],
                "route_reflector_client = true",
            ));
        }
        let spine_cfg = format!(
            "router_id = \"10.0.1.1\"\nasn = {FABRIC_AS}\nconnect_retry = 1\n{rr_neighbors}"
        );
        let spine_evpnd =
            Evpnd::start_with(&spine, &dir, "spine", &spine_cfg, &["--no-dataplane"])?;
        let core = if spec.core {
            Some(core_router::start(&spine, &dir, &leaf_ns)?)
        } else {
            None
        };
        let mut leaves = Vec::new();
        for (i, ((ns, l4, s4), kind)) in leaf_ns.into_iter().zip(&spec.leaves).enumerate() {
            let name = format!("leaf{}", i + 1);
            let daemon = match kind {
                LeafKind::Evpnd => {
                    let mut cfg = format!(
                        "router_id = \"{l4}\"\nasn = {FABRIC_AS}\nconnect_retry = 1\nvtep_address = \"{l4}\"\n{}\n{}",
                        spec.leaf_extra,
                        evpnd_neighbor(&s4, FABRIC_AS, &["evpn", "ipv4"], ""),
                    );
                    if let Some(c) = &core {
                        cfg.push_str(&core_router::evpnd_neighbor_section(c));
                    }
                    cfg.push_str(&vni_sections(i, &spec.vnis, &spec.vrfs));
                    for (_, extra) in spec.leaf_vrf_extra.iter().filter(|(at, _)| *at == i) {
                        cfg.push_str(extra);
                    }
                    LeafDaemon::Evpnd(Evpnd::start_with(&ns, &dir, &name, &cfg, &[])?)
                }
                LeafKind::Frr => LeafDaemon::Frr(frr_leaf::start(
                    &ns,
                    &dir,
                    &l4,
                    &s4,
                    &spec.vnis,
                    &spec.frr_evpn_extra,
                )?),
            };
            leaves.push(Leaf {
                daemon,
                ns,
                name,
                vtep: l4,
                spine_addr: s4,
            });
        }
        let f = Fabric {
            spine_evpnd,
            leaves,
            core,
            spine,
            vnis: spec.vnis.clone(),
            vrfs: spec.vrfs.clone(),
            dir,
        };
        f.wait_ready()?;
        Ok(f)
    }

    /// Every leaf has its bridges and an established session to the spine.
    fn wait_ready(&self) -> Result<()> {
        for (i, l) in self.leaves.iter().enumerate() {
            for v in self.vnis.iter().filter(|v| v.is_on(i)) {
                let br = format!("br{}", v.vni);
                poll_until(
                    &format!("{br} on {}", l.name),
                    Duration::from_secs(10),
                    Duration::from_millis(50),
                    || Ok(l.ns.ip(&["link", "show", &br]).ok()),
                )
                .with_context(|| l.log())?;
            }
            match &l.daemon {
                LeafDaemon::Evpnd(e) => {
                    evpnd_established(e, &l.spine_addr).with_context(|| e.log())?;
                }
                LeafDaemon::Frr(f) => {
                    frr_leaf::wait_established(f, &l.spine_addr).with_context(|| f.bgpd_log())?
                }
            }
            if let (Some(core), LeafDaemon::Evpnd(e)) = (&self.core, &l.daemon) {
                core.wait_established(&l.vtep).with_context(|| e.log())?;
            }
        }
        Ok(())
    }

    /// What every leaf's daemon and kernel hold, for a failure message:
    /// evpnd's MACs and EVPN routes, each VNI's bridge/VXLAN FDB and
    /// neighbours, the VRF rules, tables and router-MAC entries.
    pub fn dump(&self) -> String {
        let mut out = String::new();
        for l in &self.leaves {
            let ctl = |args: &[&str]| {
                l.evpnd()
                    .and_then(|e| e.ctl(args))
                    .map(|v| v.to_string())
                    .unwrap_or_else(|e| format!("{e:#}"))
            };
            out.push_str(&format!(
                "---- {} ({}): evpnctl show evpn mac\n{}\n---- evpnctl show bgp routes evpn\n{}\n",
                l.name,
                l.vtep,
                ctl(&["show", "evpn", "mac"]),
                ctl(&["show", "bgp", "routes", "--afi", "evpn"]),
            ));
            let mut cmd = String::new();
            for v in &self.vnis {
                let n = v.vni;
                cmd.push_str(&format!(
                    "bridge fdb show br br{n} | grep -v permanent; bridge fdb show dev vxlan{n}; ip neigh show dev br{n}; "
                ));
            }
            for v in &self.vrfs {
                let n = v.l3vni;
                cmd.push_str(&format!(
                    "ip route show table {n}; ip neigh show dev br{n}; bridge fdb show dev vxlan{n}; "
                ));
            }
            if !self.vrfs.is_empty() {
                cmd.push_str("ip rule show; ");
            }
            out.push_str(&format!("---- kernel\n{}\n", sh(&l.ns, &cmd)));
        }
        out
    }

    /// Poll every `step` until `f` holds (bounded by `limit`); the time it
    /// took. On a timeout the error carries [`Fabric::dump`].
    pub fn until(
        &self,
        what: &str,
        limit: Duration,
        step: Duration,
        mut f: impl FnMut() -> bool,
    ) -> Result<Duration> {
        let t = Instant::now();
        while t.elapsed() < limit {
            if f() {
                return Ok(t.elapsed());
            }
            std::thread::sleep(step);
        }
        bail!("{what}: not within {limit:?}\n{}", self.dump())
    }

    /// A host on leaf `at` (index) in `vni`.
    pub fn host(&self, at: usize, vni: u32, port: &str, mac: &str, cidr: &str) -> Result<Host> {
        let leaf = self
            .leaves
            .get(at)
            .with_context(|| format!("no leaf {at}"))?;
        let gw = self
            .vnis
            .iter()
            .find(|v| v.vni == vni)
            .map(|v| v.gateway.split('/').next().unwrap_or_default().to_string())
            .with_context(|| format!("VNI {vni} is not in the fabric"))?;
        let mut h = attach_host(&leaf.ns, vni, port, mac, cidr, Some(&gw))?;
        h.at = at;
        Ok(h)
    }

    /// Live-migrate `h` to leaf `to`: its port leaves the old leaf (the
    /// link goes down there, as when QEMU stops the source), comes up on
    /// the new leaf's bridge, and the VM announces itself with RARP as QEMU
    /// does after a resume (first frame at once; the others follow on
    /// QEMU's schedule in the background). Returns when the port is up on
    /// the new leaf, with that instant.
    pub fn migrate(&self, h: &mut Host, to: usize) -> Result<Instant> {
        let from = &self.leaves[h.at];
        let dst = self
            .leaves
            .get(to)
            .with_context(|| format!("no leaf {to}"))?;
        from.ns
            .ip(&["link", "set", &h.port, "netns", dst.ns.name()])?;
        dst.ns.ip(&[
            "link",
            "set",
            &h.port,
            "master",
            &format!("br{}", h.vni),
            "up",
        ])?;
        let up = Instant::now();
        h.at = to;
        // QEMU resumes the guest and announces it once its tap is
        // connected: wait until the uplink forwards in the backend's
        // bridge (the kernel's linkwatch work runs it a few ms after the
        // port came up, the leaf's side of the same veth first).
        wait_running(&h.hv, "up0", Duration::from_secs(3))?;
        rarp_announce(&h.ns, &h.mac)?;
        Ok(up)
    }
}

/// A host namespace whose `eth0` (MAC `mac`, address `cidr`, default
/// route via `gateway`) is the peer of `port` on bridge `br<vni>` in
/// `leaf`. `at` is 0; [`Fabric::host`] sets the leaf index.
pub fn attach_host(
    leaf: &Netns,
    vni: u32,
    port: &str,
    mac: &str,
    cidr: &str,
    gateway: Option<&str>,
) -> Result<Host> {
    let ns = Netns::new()?;
    let hv = Netns::new()?;
    // The backend must not speak itself (its bridge would send IPv6 RS,
    // NS and MLD from its own MAC into the fabric).
    hv.sysctl("net.ipv6.conf.all.disable_ipv6", "1")?;
    hv.sysctl("net.ipv6.conf.default.disable_ipv6", "1")?;
    hv.ip(&["link", "add", "qbr", "type", "bridge"])?;
    veth(&hv, "nic0", &[], &ns, "eth0", &[], 1500)?;
    veth(leaf, port, &[], &hv, "up0", &[], 1500)?;
    for dev in ["nic0", "up0"] {
        hv.ip(&["link", "set", dev, "master", "qbr"])?;
    }
    hv.ip(&["link", "set", "qbr", "up"])?;
    ns.ip(&["link", "set", "eth0", "down"])?;
    ns.ip(&["link", "set", "eth0", "address", mac])?;
    ns.addr("eth0", cidr)?;
    ns.ip(&["link", "set", "eth0", "up"])?;
    if let Some(gw) = gateway {
        ns.ip(&["route", "add", "default", "via", gw])?;
    }
    leaf.ip(&["link", "set", port, "master", &format!("br{vni}"), "up"])?;
    Ok(Host {
        ns,
        hv,
        mac: mac.to_string(),
        cidr: cidr.to_string(),
        vni,
        port: port.to_string(),
        at: 0,
    })
}

/// QEMU's self-announce after a resume: RARP frames (ethertype 0x8035,
/// reverse request, sender = target = the VM's MAC) at 0, 50, 200, 450 and
/// 800 ms. The first is sent before this returns; the rest from a thread.
pub fn rarp_announce(host: &Netns, mac: &str) -> Result<()> {
    let m = parse_mac(mac)?;
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&m);
    f.extend_from_slice(&0x8035u16.to_be_bytes());
    f.extend_from_slice(&1u16.to_be_bytes()); // Ethernet
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    f.extend_from_slice(&[6, 4]);
    f.extend_from_slice(&3u16.to_be_bytes()); // reverse request
    f.extend_from_slice(&m);
    f.extend_from_slice(&[0; 4]);
    f.extend_from_slice(&m);
    f.extend_from_slice(&[0; 4]);
    f.resize(60, 0);
    let path = format!("/run/netns/{}", host.name());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let sock = match packet_socket_in(&path, "eth0") {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(Err(e));
                return;
            }
        };
        let start = Instant::now();
        for (k, at_ms) in [0u64, 50, 200, 450, 800].into_iter().enumerate() {
            let due = start + Duration::from_millis(at_ms);
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
            let r = send_on(&sock, &f);
            if k == 0 {
                let _ = tx.send(r);
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(5))
        .context("RARP sender did not report")?
}

/// Waits (polling every 100 µs, at most `timeout`) until `dev` in `ns`
/// is IFF_RUNNING (operstate up), then 1 ms more: the kernel's linkwatch
/// work sets the operstate, then activates the device's queue and tells
/// its bridge, which then forwards on it.
pub fn wait_running(ns: &Netns, dev: &str, timeout: Duration) -> Result<()> {
    let path = format!("/run/netns/{}", ns.name());
    let name = std::ffi::CString::new(dev).context("device name")?;
    let what = format!("{dev} in {} running", ns.name());
    std::thread::spawn(move || -> Result<()> {
        let f = std::fs::File::open(&path).with_context(|| format!("open {path}"))?;
        // SAFETY: setns on an open namespace fd; only this thread changes.
        if unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error()).context("setns");
        }
        // SAFETY: socket(2); the fd is owned right after the check.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error()).context("socket");
        }
        // SAFETY: fd is a fresh socket we own.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        let bytes = name.as_bytes_with_nul();
        if bytes.len() > libc::IFNAMSIZ {
            bail!("device name too long");
        }
        let start = Instant::now();
        let step = Duration::from_micros(100);
        let max_tries = timeout.as_micros() / step.as_micros() + 2;
        for _ in 0..max_tries {
            // SAFETY: ifreq is plain data; zero is valid.
            let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
            for (d, s) in ifr.ifr_name.iter_mut().zip(bytes) {
                *d = *s as libc::c_char;
            }
            // SAFETY: SIOCGIFFLAGS fills ifr_ifru.ifru_flags of a valid ifreq.
            if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) } != 0 {
                return Err(std::io::Error::last_os_error()).context("SIOCGIFFLAGS");
            }
            // SAFETY: the kernel wrote the flags member.
            let flags = unsafe { ifr.ifr_ifru.ifru_flags };
            if i32::from(flags) & libc::IFF_RUNNING != 0 {
                std::thread::sleep(Duration::from_millis(1));
                return Ok(());
            }
            if start.elapsed() >= timeout {
                break;
            }
            std::thread::sleep(step);
        }
        bail!("{what}: not within {timeout:?}")
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the link poller panicked"))?
}

fn parse_mac(s: &str) -> Result<[u8; 6]> {
    let parts: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("bad MAC {s}"))?;
    <[u8; 6]>::try_from(parts).map_err(|_| anyhow::anyhow!("bad MAC {s}"))
}

/// An AF_PACKET socket bound to `dev` in the namespace at `path` (this
/// thread enters the namespace; use a dedicated thread).
fn packet_socket_in(path: &str, dev: &str) -> Result<(OwnedFd, i32)> {
    let ns = std::fs::File::open(path).with_context(|| format!("open {path}"))?;
    // SAFETY: setns on an open namespace fd; only this thread changes.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error()).context("setns");
    }
    let name = std::ffi::CString::new(dev).context("device name")?;
    // SAFETY: plain libc calls; results checked.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if ifindex == 0 {
        return Err(std::io::Error::last_os_error()).with_context(|| format!("no device {dev}"));
    }
    // SAFETY: socket(2); the fd is owned right after the check.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("AF_PACKET socket");
    }
    // SAFETY: fd is a fresh socket we own.
    Ok((unsafe { OwnedFd::from_raw_fd(fd) }, ifindex as i32))
}

fn send_on(sock: &(OwnedFd, i32), frame: &[u8]) -> Result<()> {
    // SAFETY: sockaddr_ll is plain data; zero is valid.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_ifindex = sock.1;
    addr.sll_halen = 6;
    addr.sll_addr[..6].copy_from_slice(&frame[..6]);
    // SAFETY: buffers valid for the lengths given.
    let n = unsafe {
        libc::sendto(
            sock.0.as_raw_fd(),
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error()).context("send RARP");
    }
    Ok(())
}

/// Run `cmd` with `sh -c` in `ns`; its stdout (empty on failure).
pub fn sh(ns: &Netns, cmd: &str) -> String {
    ns.command("sh")
        .args(["-c", cmd])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Where `leaf`'s kernel sends `mac` in `vni` (bridge `br<vni>`):
/// `Some("local:<port>")`, `Some("remote:<vtep>")` or `None`.
pub fn fdb_of(leaf: &Netns, vni: u32, mac: &str) -> Option<String> {
    // Lists the bridge's entries and the ports' own (self) entries, each
    // with `dev PORT`.
    let fdb = sh(leaf, &format!("bridge fdb show br br{vni}"));
    let master = format!("master br{vni}");
    let mut port = None;
    let mut dst = None;
    for l in fdb.lines().filter(|l| l.starts_with(mac)) {
        let w: Vec<&str> = l.split_whitespace().collect();
        let dev = w
            .iter()
            .position(|x| *x == "dev")
            .and_then(|i| w.get(i + 1));
        let after = |key: &str| w.iter().position(|x| *x == key).and_then(|i| w.get(i + 1));
        if let Some(d) = after("dst") {
            dst = Some(d.to_string());
        } else if let Some(g) = after("nhid") {
            // evpnd's default: the entry names an FDB nexthop group.
            dst = Some(nexthop_vtep(leaf, g).unwrap_or_else(|| format!("nhid {g}")));
        } else if l.contains(&master) {
            if let Some(d) = dev {
                port = Some(d.to_string());
            }
        }
    }
    let vxlan = format!("vxlan{vni}");
    match port {
        Some(p) if p == vxlan => dst.map(|d| format!("remote:{d}")),
        Some(p) => Some(format!("local:{p}")),
        None => None,
    }
}

/// The VTEP behind FDB nexthop group `group` (`ip nexthop`: the group's
/// first member's `via`).
pub fn nexthop_vtep(ns: &Netns, group: &str) -> Option<String> {
    let word_after = |l: &str, key: &str| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.iter()
            .position(|x| *x == key)
            .and_then(|i| w.get(i + 1))
            .map(|x| x.to_string())
    };
    let g = sh(ns, &format!("ip nexthop show id {group}"));
    // `id G group M fdb`; a weight may follow the member (`M,1`).
    let member = word_after(g.lines().next()?, "group")?;
    let member = member.split(['/', ',']).next()?.to_string();
    let m = sh(ns, &format!("ip nexthop show id {member}"));
    word_after(m.lines().next()?, "via")
}

/// The neighbour entry of `ip` on `br<vni>` as `(mac, ours)`; ours means
/// written by evpnd (`extern_learn`: a remote MAC+IP route).
pub fn neigh_of(leaf: &Netns, vni: u32, ip: &str) -> Option<(String, bool)> {
    let out = sh(leaf, &format!("ip neigh show {ip} dev br{vni}"));
    let l = out.lines().next()?;
    let w: Vec<&str> = l.split_whitespace().collect();
    let mac = w
        .iter()
        .position(|x| *x == "lladdr")
        .and_then(|i| w.get(i + 1))?;
    Some((mac.to_string(), l.contains("extern_learn")))
}

/// `ping -i 0.01` from `h` to `dst`, `count` packets, in the background.
pub fn pinger(h: &Host, dst: &str, count: u32) -> Result<std::process::Child> {
    h.ns.command("ping")
        .args(["-n", "-i", "0.01", "-W", "1", "-c", &count.to_string(), dst])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("start ping")
}

/// Waits for a [`pinger`]: the longest run of missing replies (packets)
/// and the number of replies seen.
pub fn loss(child: std::process::Child, sent: u32) -> Result<(u32, u32)> {
    let out = child.wait_with_output().context("ping")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut seqs: Vec<u32> = text
        .lines()
        .filter_map(|l| l.split("icmp_seq=").nth(1))
        .filter_map(|s| s.split_whitespace().next()?.parse().ok())
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    let mut worst = 0;
    let mut prev = 0;
    for s in seqs.iter().copied().chain([sent + 1]) {
        worst = worst.max(s.saturating_sub(prev + 1));
        prev = s;
    }
    Ok((worst, seqs.len() as u32))
}
