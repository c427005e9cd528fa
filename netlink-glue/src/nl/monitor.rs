//! The monitor: one multicast socket on RTNLGRP_LINK, RTNLGRP_NEIGH and the
//! IPv4/IPv6 address groups, turned into typed [`Observation`]s.
//!
//! - Bridge FDB events on host ports become local learns, moves and ageing.
//!   A move between ports is detected against the monitor's map of local
//!   MACs. A host-port learn of a MAC with no local entry is a move from
//!   a remote VTEP when the bridge's VXLAN device still holds its own
//!   entry for the MAC (a VM resumed here; the bridge took over our
//!   extern_learn entry): one `fdb get` per new local MAC, so the monitor
//!   keeps no copy of the (possibly millions of) remote entries.
//! - Our own FDB writes (`NTF_EXT_LEARNED`, or on a VXLAN device) are
//!   recognised from the neighbour header and dropped before decoding.
//! - Bulk writes ([`MonitorCtl::quiet`]): while the dataplane writes a
//!   large batch the socket leaves RTNLGRP_NEIGH, so the kernel does not
//!   queue (and we do not read back) a notification per entry written;
//!   afterwards it rejoins, empties its queue and re-dumps the local state
//!   ([`Observation::LocalState`], the same as after an overrun but
//!   without asking the consumer for a reconcile). The local FDB is dumped
//!   per host port, not as a whole: a dump of a bridge table is quadratic
//!   in the kernel (every continuation walks the table from the start).
//! - Neighbour events on SVIs (bridges, macvlans) become local IP↔MAC.
//! - Our own writes (`NTF_EXT_LEARNED`, entries on VXLAN ports, our
//!   protocol id) never become learns.
//! - The socket has a large SO_RCVBUF and never sets NETLINK_NO_ENOBUFS:
//!   when the kernel drops events it says so (ENOBUFS from recv, or an
//!   NLMSG_OVERRUN), and the monitor sends [`Observation::Overrun`], empties
//!   the socket queue, dumps links, FDB and neighbours again and sends a
//!   fresh [`Observation::LocalState`]; events after it apply on top.
//! - The channel to the consumer is bounded: a slow consumer stalls the
//!   monitor, the kernel buffer overflows, and the resync above repairs it.
//!   Memory stays bounded either way.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

use evpn_proto::Mac;
use ipnetwork::IpNetwork;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::link::LinkMessage;
use rtnetlink::packet_route::neighbour::{NeighbourFlags, NeighbourMessage};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, Notify};

use super::msg::{self, FdbRec, LinkRec};
use super::socket::{self, parts, NlSocket, Part};
use crate::model::ProtocolId;
use crate::observe::{Dev, LocalMac, LocalNeigh, MovedFrom, Nud, Observation, Observations};

const RTNLGRP_LINK: u32 = 1;
const RTNLGRP_NEIGH: u32 = 3;
const RTNLGRP_IPV4_IFADDR: u32 = 5;
const RTNLGRP_IPV6_IFADDR: u32 = 9;
/// Observations queued towards the consumer before the monitor stalls.
const CHANNEL: usize = 65_536;
const SOL_NETLINK: libc::c_int = 270;
const NETLINK_ADD_MEMBERSHIP: libc::c_int = 1;
const NETLINK_DROP_MEMBERSHIP: libc::c_int = 2;
const RTM_NEWNEIGH: u16 = 28;
const RTM_DELNEIGH: u16 = 29;
const AF_BRIDGE: u8 = 7;
const NTF_EXT_LEARNED: u8 = 0x10;

/// The dataplane's handle on a running monitor: leave and rejoin the
/// neighbour group around bulk writes.
#[derive(Debug)]
pub struct MonitorCtl {
    /// A duplicate of the monitor's socket (same socket, own fd number, so
    /// it stays valid whatever the monitor task does with its own).
    fd: OwnedFd,
    resync: Arc<Notify>,
}

impl MonitorCtl {
    /// `true`: stop receiving neighbour (FDB, ARP/ND) events; `false`:
    /// receive them again and re-dump the local state, which covers what
    /// was missed meanwhile.
    pub fn quiet(&self, on: bool) -> io::Result<()> {
        let opt = if on {
            NETLINK_DROP_MEMBERSHIP
        } else {
            NETLINK_ADD_MEMBERSHIP
        };
        socket::setsockopt_int(&self.fd, SOL_NETLINK, opt, RTNLGRP_NEIGH as libc::c_int)?;
        if !on {
            self.resync.notify_one();
        }
        Ok(())
    }
}

/// Our own FDB write (extern_learn, or an entry on a VXLAN device): told
/// from the neighbour header alone, before any decoding.
fn own_fdb_write(bytes: &[u8], is_vxlan: impl Fn(u32) -> bool) -> bool {
    let Some(h) = bytes.get(..28) else {
        return false;
    };
    let typ = u16::from_ne_bytes([h[4], h[5]]);
    if (typ != RTM_NEWNEIGH && typ != RTM_DELNEIGH) || h[16] != AF_BRIDGE {
        return false;
    }
    let ifindex = u32::from_ne_bytes([h[20], h[21], h[22], h[23]]);
    h[26] & NTF_EXT_LEARNED != 0 || is_vxlan(ifindex)
}

/// Settings of the monitor.
#[derive(Debug, Clone)]
pub struct MonitorConfig {
    pub protocol: ProtocolId,
    pub rcvbuf: usize,
}

/// Starts the monitor task on the current tokio runtime, in the calling
/// thread's network namespace (both sockets are created here, before the
/// task is spawned).
pub fn start(cfg: MonitorConfig) -> Result<(Observations, MonitorCtl), io::Error> {
    let mut s = Socket::new(NETLINK_ROUTE)?;
    let groups = [
        RTNLGRP_LINK,
        RTNLGRP_NEIGH,
        RTNLGRP_IPV4_IFADDR,
        RTNLGRP_IPV6_IFADDR,
    ]
    .iter()
    .fold(0u32, |acc, g| acc | 1 << (g - 1));
    s.bind(&SocketAddr::new(0, groups))?;
    s.set_non_blocking(true)?;
    socket::set_rcvbuf(&s, cfg.rcvbuf)?;
    // SAFETY: dup(2) of a valid open socket; the new fd is owned below.
    let dup = unsafe { libc::fcntl(s.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `dup` is a fresh fd nobody else owns.
    let ctl_fd = unsafe { OwnedFd::from_raw_fd(dup) };
    let resync = Arc::new(Notify::new());
    let fd = socket::register(s)?;
    let req = NlSocket::open(socket::DEFAULT_RCVBUF)?;
    let (tx, rx) = mpsc::channel(CHANNEL);
    let mut m = Monitor {
        cfg,
        fd,
        req,
        tx,
        links: HashMap::new(),
        fdb: HashMap::new(),
        buf: vec![0; 256 * 1024],
        resync: Arc::clone(&resync),
    };
    tokio::spawn(async move {
        if let Err(e) = m.run().await {
            tracing::warn!(error = %e, "netlink monitor stopped");
        }
    });
    Ok((Observations::new(rx), MonitorCtl { fd: ctl_fd, resync }))
}

struct Monitor {
    cfg: MonitorConfig,
    fd: AsyncFd<Socket>,
    req: NlSocket,
    tx: mpsc::Sender<Observation>,
    links: HashMap<u32, LinkRec>,
    /// Local MACs: (bridge, VLAN, MAC) → host port.
    fdb: HashMap<(u32, Option<u16>, Mac), u32>,
    buf: Vec<u8>,
    /// Set by [`MonitorCtl::quiet`] when the neighbour group is back.
    resync: Arc<Notify>,
}

/// The consumer dropped the stream.
struct Closed;

impl Monitor {
    async fn run(&mut self) -> io::Result<()> {
        if self.resync().await.is_err() {
            return Ok(());
        }
        loop {
            let n = {
                let Monitor {
                    fd, buf, resync, ..
                } = self;
                let mut guard = tokio::select! {
                    g = fd.readable() => g?,
                    () = resync.notified() => {
                        // After a quiet (bulk) period: what is queued is
                        // older than the dump that follows.
                        self.drain();
                        if self.resync().await.is_err() {
                            return Ok(());
                        }
                        continue;
                    }
                };
                match socket::recv_nonblocking(fd.get_ref(), buf) {
                    Ok(Some(n)) => Ok(n),
                    Ok(None) => {
                        guard.clear_ready();
                        continue;
                    }
                    Err(e) => Err(e),
                }
            };
            let r = match n {
                Ok(n) => self.handle_datagram(n).await,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => self.overrun().await,
                Err(e) => return Err(e),
            };
            if r.is_err() {
                return Ok(());
            }
        }
    }

    async fn send(&self, o: Observation) -> Result<(), Closed> {
        self.tx.send(o).await.map_err(|_| Closed)
    }

    async fn overrun(&mut self) -> Result<(), Closed> {
        tracing::warn!("netlink monitor overrun (ENOBUFS): events were lost, resyncing");
        self.send(Observation::Overrun).await?;
        self.drain();
        self.resync().await
    }

    /// Discards everything queued on the monitoring socket. The kernel
    /// reports ENOBUFS once per congestion episode and clears the
    /// congestion only when the queue runs empty; events dropped while it
    /// is set are not reported again. Emptying the queue before the dump
    /// ends the episode, so any loss during or after the dump raises a
    /// fresh ENOBUFS (and another resync), while events queued after the
    /// drain are replayed on top of the dump (they are at least as new).
    fn drain(&mut self) {
        let Monitor { fd, buf, .. } = self;
        for _ in 0..1_000_000 {
            match socket::recv_nonblocking(fd.get_ref(), buf) {
                Ok(Some(_)) => continue,
                Ok(None) => return,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => continue,
                Err(_) => return,
            }
        }
    }

    /// Dumps links, FDB and neighbours; rebuilds the maps; sends the local
    /// state. A failed dump is retried a few times, then reported as another
    /// overrun later (the consumer keeps its previous view meanwhile).
    async fn resync(&mut self) -> Result<(), Closed> {
        for attempt in 0..5 {
            match self.dump_all().await {
                Ok(o) => return self.send(o).await,
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "monitor resync dump failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
        Ok(())
    }

    async fn dump_all(&mut self) -> Result<Observation, String> {
        let links = self
            .req
            .dump("links", msg::link_dump(), |m| match m {
                RouteNetlinkMessage::NewLink(l) => Some(msg::link_rec(&l)),
                _ => None,
            })
            .await?;
        self.links = links.into_iter().map(|l| (l.ifindex, l)).collect();
        // Per host port (the bridge's ports that are no VXLAN device): a
        // dump of the whole bridge table would walk our remote entries
        // once per continuation.
        let ports: Vec<u32> = self
            .links
            .values()
            .filter(|l| {
                // Ports of a bridge (not a bridge enslaved to a VRF: a
                // dump filtered on a bridge is its whole table).
                l.kind.as_deref() != Some("vxlan")
                    && l.master
                        .and_then(|m| self.links.get(&m))
                        .is_some_and(|m| m.kind.as_deref() == Some("bridge"))
            })
            .map(|l| l.ifindex)
            .collect();
        self.fdb.clear();
        let mut macs = Vec::new();
        for port in ports {
            let fdb = self
                .req
                .dump(
                    "bridge fdb",
                    msg::neigh_dump(AddressFamily::Bridge, port),
                    |m| match m {
                        RouteNetlinkMessage::NewNeighbour(n) => msg::fdb_rec(&n),
                        _ => None,
                    },
                )
                .await?;
            for r in fdb {
                let Some(bridge) = r.master else { continue };
                if r.ext_learned() || r.ifindex != port {
                    continue;
                }
                if let Some(lm) = self.local_mac(&r, bridge) {
                    self.fdb.insert((bridge, r.vlan, r.mac), r.ifindex);
                    macs.push(lm);
                }
            }
        }
        let mut neighs = Vec::new();
        for fam in [AddressFamily::Inet, AddressFamily::Inet6] {
            let recs = self
                .req
                .dump("neighbours", msg::neigh_dump(fam, 0), |m| match m {
                    RouteNetlinkMessage::NewNeighbour(n) => msg::neigh_rec(&n),
                    _ => None,
                })
                .await?;
            for r in recs {
                if let Some(n) = self.local_neigh(&r) {
                    neighs.push(n);
                }
            }
        }
        macs.sort();
        Ok(Observation::LocalState { macs, neighs })
    }

    fn dev(&self, ifindex: u32) -> Dev {
        Dev {
            ifindex,
            name: self
                .links
                .get(&ifindex)
                .map(|l| l.name.clone())
                .unwrap_or_else(|| format!("if{ifindex}")),
        }
    }

    /// The VXLAN port of `bridge` that holds its own entry for `mac` (our
    /// remote entry), if any.
    async fn remote_entry(&mut self, bridge: u32, mac: Mac) -> Option<u32> {
        let vxlans: Vec<u32> = self
            .links
            .values()
            .filter(|l| l.master == Some(bridge) && l.kind.as_deref() == Some("vxlan"))
            .map(|l| l.ifindex)
            .collect();
        for vx in vxlans {
            if let Ok(replies) = self.req.call(msg::vxlan_fdb_get(vx, mac), 0).await {
                let found = replies.iter().any(|m| match m {
                    RouteNetlinkMessage::NewNeighbour(n) => {
                        msg::fdb_rec(n).is_some_and(|f| f.dst.is_some() || f.nh_id.is_some())
                    }
                    _ => false,
                });
                if found {
                    return Some(vx);
                }
            }
        }
        None
    }

    fn is_vxlan(&self, ifindex: u32) -> bool {
        self.links
            .get(&ifindex)
            .is_some_and(|l| l.kind.as_deref() == Some("vxlan"))
    }

    /// A bridge FDB record on a host port, as a local MAC; `None` for the
    /// bridge's own and the ports' own addresses (NUD_PERMANENT).
    fn local_mac(&self, r: &FdbRec, bridge: u32) -> Option<LocalMac> {
        if r.ifindex == bridge || r.state.has(Nud::PERMANENT) || r.mac.is_multicast() {
            return None;
        }
        Some(LocalMac {
            bridge: self.dev(bridge),
            port: self.dev(r.ifindex),
            mac: r.mac,
            vlan: r.vlan,
            is_static: r.state.has(Nud::NOARP) || r.sticky(),
        })
    }

    /// A neighbour on an SVI that is not ours.
    fn local_neigh(&self, r: &msg::NeighRec) -> Option<LocalNeigh> {
        if r.protocol == Some(self.cfg.protocol.0) || r.flags.contains(NeighbourFlags::ExtLearned) {
            return None;
        }
        let kind = self.links.get(&r.ifindex).and_then(|l| l.kind.as_deref());
        if !matches!(kind, Some("bridge" | "macvlan" | "vlan")) {
            return None;
        }
        Some(LocalNeigh {
            dev: self.dev(r.ifindex),
            ip: r.ip,
            mac: r.mac,
            state: r.state,
        })
    }

    async fn handle_datagram(&mut self, n: usize) -> Result<(), Closed> {
        // Decode first (the buffer is reused by the next receive).
        let mut msgs = Vec::new();
        let mut overrun = false;
        match parts(&self.buf[..n]) {
            Ok(ps) => {
                for p in ps {
                    match p {
                        Part::Data { bytes, .. } => {
                            if own_fdb_write(bytes, |i| self.is_vxlan(i)) {
                                continue;
                            }
                            match NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes) {
                                Ok(m) => {
                                    if let NetlinkPayload::InnerMessage(m) = m.payload {
                                        msgs.push(m);
                                    }
                                }
                                Err(e) => {
                                    // A lost event is a lost event: resync.
                                    tracing::warn!(error = %e, "undecodable netlink event");
                                    overrun = true;
                                }
                            }
                        }
                        Part::Overrun => overrun = true,
                        _ => {}
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "undecodable netlink datagram");
                overrun = true;
            }
        }
        for m in msgs {
            self.handle(m).await?;
        }
        if overrun {
            self.overrun().await?;
        }
        Ok(())
    }

    async fn handle(&mut self, m: RouteNetlinkMessage) -> Result<(), Closed> {
        match m {
            RouteNetlinkMessage::NewNeighbour(n) => self.neigh(n, true).await,
            RouteNetlinkMessage::DelNeighbour(n) => self.neigh(n, false).await,
            RouteNetlinkMessage::NewLink(l) => self.link(l, false).await,
            RouteNetlinkMessage::DelLink(l) => self.link(l, true).await,
            RouteNetlinkMessage::NewAddress(a) => self.addr(&a, true).await,
            RouteNetlinkMessage::DelAddress(a) => self.addr(&a, false).await,
            _ => Ok(()),
        }
    }

    async fn addr(
        &mut self,
        a: &rtnetlink::packet_route::address::AddressMessage,
        added: bool,
    ) -> Result<(), Closed> {
        let Some(r) = msg::addr_rec(a) else {
            return Ok(());
        };
        let addr: IpNetwork = r.addr;
        self.send(Observation::AddrChanged {
            dev: self.dev(r.ifindex),
            addr,
            added,
        })
        .await
    }

    async fn link(&mut self, l: LinkMessage, deleted: bool) -> Result<(), Closed> {
        // Enslaving also produces an AF_BRIDGE copy of NEWLINK carrying the
        // port settings; the AF_UNSPEC one is the link itself.
        if l.header.interface_family == AddressFamily::Bridge {
            return Ok(());
        }
        let r = msg::link_rec(&l);
        let o = Observation::LinkChanged {
            dev: Dev {
                ifindex: r.ifindex,
                name: r.name.clone(),
            },
            kind: r.kind.clone(),
            up: r.up,
            master: r.master,
            mac: r.mac,
            mtu: r.mtu,
            deleted,
        };
        if deleted {
            self.links.remove(&r.ifindex);
            self.fdb
                .retain(|(br, _, _), port| *br != r.ifindex && *port != r.ifindex);
        } else {
            self.links.insert(r.ifindex, r);
        }
        self.send(o).await
    }

    async fn neigh(&mut self, n: NeighbourMessage, new: bool) -> Result<(), Closed> {
        if n.header.family == AddressFamily::Bridge {
            let Some(r) = msg::fdb_rec(&n) else {
                return Ok(());
            };
            let Some(bridge) = r.master else {
                // The VXLAN device's own table (our remote entries).
                return Ok(());
            };
            if r.ext_learned() || self.is_vxlan(r.ifindex) {
                // Our own entry (normally dropped before decoding).
                return Ok(());
            }
            let key = (bridge, r.vlan, r.mac);
            if !new {
                let was = self.fdb.remove(&key);
                if let (Some(lm), Some(port)) = (self.local_mac(&r, bridge), was) {
                    if port == r.ifindex {
                        return self.send(Observation::LocalMacAged(lm)).await;
                    }
                }
                return Ok(());
            }
            let Some(lm) = self.local_mac(&r, bridge) else {
                return Ok(());
            };
            let prev = self.fdb.insert(key, r.ifindex);
            let o = match prev {
                Some(p) if p == r.ifindex => return Ok(()),
                Some(p) => Observation::LocalMacMoved {
                    from: MovedFrom::Port(self.dev(p)),
                    to: lm,
                },
                None => match self.remote_entry(bridge, r.mac).await {
                    Some(vx) => Observation::LocalMacMoved {
                        from: MovedFrom::Remote(self.dev(vx)),
                        to: lm,
                    },
                    None => Observation::LocalMacLearned(lm),
                },
            };
            return self.send(o).await;
        }
        let Some(r) = msg::neigh_rec(&n) else {
            return Ok(());
        };
        let Some(ln) = self.local_neigh(&r) else {
            return Ok(());
        };
        if new {
            self.send(Observation::LocalNeigh(ln)).await
        } else {
            self.send(Observation::LocalNeighGone {
                dev: ln.dev,
                ip: ln.ip,
            })
            .await
        }
    }
}
