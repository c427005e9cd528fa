//! Timestamped kernel notifications from a namespace: what changed in the
//! FDB, the neighbour table, the routes and the links, and when.
//!
//! A [`Watcher`] is a thread that enters a namespace (`setns` on
//! `/run/netns/NAME`), opens an rtnetlink socket subscribed to the link,
//! neighbour (FDB + ARP/ND) and IPv4/IPv6 route groups, dumps the current
//! FDB, neighbours and links once (the starting state, marked `dump`), and
//! then records `(Instant, change)` for the MACs, IPs and ports it was told
//! to watch. Convergence is read from these events at the kernel's own
//! pace, instead of running `bridge fdb show` in a loop.
//!
//! Bounded: at most `max_events` are kept (further ones are counted in
//! [`Watcher::dropped`]); the thread wakes every 20 ms to check its stop
//! flag and is stopped and joined on drop. A receive-buffer overrun
//! (ENOBUFS) is recorded as [`Change::Overrun`]: events were lost there.
//!
//! The `converged_*` functions replay events into a state per leaf and
//! return when a predicate ("the MAC points at VTEP X", "the IP is a
//! remote neighbour with that MAC", "the port is up") last became true.

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use evpn_proto::Mac;
use netlink_glue::nl::msg;
use rtnetlink::packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_DUMP, NLM_F_REQUEST,
};
use rtnetlink::packet_route::link::LinkFlags;
use rtnetlink::packet_route::neighbour::NeighbourFlags;
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

use crate::fdbwatch::{dump_request, join_group, Nexthops, RTM_GETNEXTHOP, RTNLGRP_NEXTHOP};
use crate::netns::Netns;

const RTMGRP_LINK: u32 = 0x1;
const RTMGRP_NEIGH: u32 = 0x4;
const RTMGRP_IPV4_ROUTE: u32 = 0x40;
const RTMGRP_IPV6_ROUTE: u32 = 0x400;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_MULTI: u16 = 0x2;
/// NUD states in which a neighbour entry does not resolve its IP.
const NUD_UNUSABLE: u16 = 0x01 | 0x20; // INCOMPLETE | FAILED

/// One recorded kernel change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An AF_BRIDGE neighbour: a bridge FDB entry (`master`) or a VXLAN
    /// device's own entry (`dst` set, `master` false).
    Fdb {
        mac: Mac,
        ifindex: u32,
        /// The device's name in this namespace (from the link table the
        /// watcher keeps), if known.
        dev: Option<String>,
        /// The VTEP: `NDA_DST`, or the gateway behind an `nhid` entry's
        /// FDB nexthop group.
        dst: Option<IpAddr>,
        master: bool,
        ext_learned: bool,
        deleted: bool,
    },
    /// An IPv4/IPv6 neighbour.
    Neigh {
        ip: IpAddr,
        mac: Option<Mac>,
        dev: Option<String>,
        ext_learned: bool,
        /// NUD state bits.
        state: u16,
        deleted: bool,
    },
    /// A route to a watched IP (host route or a prefix that is exactly it).
    Route {
        ip: IpAddr,
        prefix_len: u8,
        table: u32,
        gateway: Option<IpAddr>,
        deleted: bool,
    },
    /// A watched port: `up` = IFF_UP and IFF_LOWER_UP (carrier);
    /// `running` = IFF_RUNNING (operstate up: set by the kernel's linkwatch
    /// work after the carrier came, and only then does a bridge forward
    /// on the port).
    Link {
        name: String,
        ifindex: u32,
        up: bool,
        running: bool,
        master: Option<u32>,
        deleted: bool,
    },
    /// The socket's receive buffer overflowed: events were lost here.
    Overrun,
}

/// A change and when this process received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub at: Instant,
    /// Part of the initial dump (the state when the watcher started).
    pub dump: bool,
    pub change: Change,
}

/// What to record.
#[derive(Debug, Clone, Default)]
pub struct WatchSpec {
    pub macs: Vec<Mac>,
    pub ips: Vec<IpAddr>,
    /// Link names (e.g. the VM ports that move between leaves).
    pub ports: Vec<String>,
    /// Events kept at most (default 100 000 when 0).
    pub max_events: usize,
}

#[derive(Debug, Default)]
struct Shared {
    events: Mutex<Vec<Event>>,
    dropped: AtomicUsize,
    stop: AtomicBool,
}

/// A netlink watcher thread in one namespace; stopped and joined on drop.
#[derive(Debug)]
pub struct Watcher {
    /// The namespace's name.
    pub netns: String,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Start watching `ns`; returns once the socket is subscribed and the
    /// initial dump is recorded (so no change after this call is missed).
    pub fn start(ns: &Netns, spec: WatchSpec) -> Result<Watcher> {
        let path = format!("/run/netns/{}", ns.name());
        let shared = Arc::new(Shared::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let sh = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("watch-{}", ns.name()))
            .spawn(move || {
                let mut w = match Inner::open(&path, spec, sh) {
                    Ok(w) => w,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let ready = w.initial_dump();
                let ok = ready.is_ok();
                let _ = tx.send(ready);
                if ok {
                    w.run();
                }
            })
            .context("spawn the watcher thread")?;
        let w = Watcher {
            netns: ns.name().to_string(),
            shared,
            thread: Some(thread),
        };
        rx.recv_timeout(Duration::from_secs(10))
            .context("the watcher did not report")??;
        Ok(w)
    }

    /// Every event recorded so far.
    pub fn events(&self) -> Vec<Event> {
        self.shared
            .events
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }

    /// Events that were dropped because `max_events` was reached.
    pub fn dropped(&self) -> usize {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Forget everything up to now except the latest state: keeps the
    /// events needed to replay the current state (marked `dump`), so long
    /// runs stay within `max_events`.
    pub fn compact(&self) {
        if let Ok(mut ev) = self.shared.events.lock() {
            let mut last: HashMap<String, Event> = HashMap::new();
            let mut order = Vec::new();
            for e in ev.drain(..) {
                let k = state_key(&e.change);
                if !last.contains_key(&k) {
                    order.push(k.clone());
                }
                last.insert(k, e);
            }
            *ev = order
                .into_iter()
                .filter_map(|k| last.remove(&k))
                .map(|mut e| {
                    e.dump = true;
                    e
                })
                .collect();
        }
    }

    /// Wait (polling the recorded events every ms, bounded by `limit`)
    /// until `pred` holds; whether it did.
    pub fn wait_for(&self, limit: Duration, mut pred: impl FnMut(&[Event]) -> bool) -> bool {
        let t = Instant::now();
        loop {
            if pred(&self.events()) {
                return true;
            }
            if t.elapsed() >= limit {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The identity of the kernel object an event is about, for
/// [`Watcher::compact`].
fn state_key(c: &Change) -> String {
    match c {
        Change::Fdb {
            mac,
            ifindex,
            master,
            ..
        } => format!("fdb {mac} {ifindex} {master}"),
        Change::Neigh { ip, dev, .. } => format!("neigh {ip} {dev:?}"),
        Change::Route {
            ip,
            prefix_len,
            table,
            ..
        } => format!("route {ip}/{prefix_len} {table}"),
        Change::Link { name, .. } => format!("link {name}"),
        Change::Overrun => "overrun".into(),
    }
}

/// The watcher thread's state (lives in the watched namespace).
struct Inner {
    fd: OwnedFd,
    spec: WatchSpec,
    shared: Arc<Shared>,
    links: HashMap<u32, String>,
    /// FDB nexthop groups, to resolve `nhid` entries to their VTEP.
    nexthops: Nexthops,
    buf: Vec<u8>,
    seq: u32,
}

fn sockopt(fd: &OwnedFd, level: i32, name: i32, val: &[u8]) -> Result<()> {
    // SAFETY: `val` is valid for its length during the call.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            val.as_ptr().cast(),
            val.len() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("setsockopt");
    }
    Ok(())
}

impl Inner {
    fn open(path: &str, mut spec: WatchSpec, shared: Arc<Shared>) -> Result<Inner> {
        let ns = std::fs::File::open(path).with_context(|| format!("open {path}"))?;
        // SAFETY: setns on an open namespace fd; only this thread changes.
        if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error()).context("setns");
        }
        // SAFETY: socket(2); owned right after the check.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_ROUTE,
            )
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error()).context("netlink socket");
        }
        // SAFETY: a fresh fd we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let rcvbuf: libc::c_int = 8 << 20;
        // SO_RCVBUFFORCE (root) else SO_RCVBUF.
        if sockopt(
            &fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            &rcvbuf.to_ne_bytes(),
        )
        .is_err()
        {
            sockopt(
                &fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                &rcvbuf.to_ne_bytes(),
            )?;
        }
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 20_000,
        };
        // SAFETY: timeval is plain data; viewed as bytes for the call.
        let tvb = unsafe {
            std::slice::from_raw_parts(
                (&tv as *const libc::timeval).cast::<u8>(),
                std::mem::size_of::<libc::timeval>(),
            )
        };
        sockopt(&fd, libc::SOL_SOCKET, libc::SO_RCVTIMEO, tvb)?;
        // SAFETY: sockaddr_nl is plain data; zero is valid.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as u16;
        sa.nl_groups = RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;
        // SAFETY: sa is a valid sockaddr_nl of the size passed.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&sa as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error()).context("bind netlink");
        }
        // `nhid` FDB entries (evpnd's default) name a nexthop group: follow
        // the groups to show their VTEP.
        join_group(&fd, RTNLGRP_NEXTHOP)?;
        if spec.max_events == 0 {
            spec.max_events = 100_000;
        }
        Ok(Inner {
            fd,
            spec,
            shared,
            links: HashMap::new(),
            nexthops: Nexthops::default(),
            buf: vec![0; 256 * 1024],
            seq: 0,
        })
    }

    /// Dumps links, nexthops, FDB and neighbours (one at a time: a netlink
    /// socket runs one dump at once), recording them as the starting state.
    fn initial_dump(&mut self) -> Result<()> {
        let reqs = [
            Some(msg::link_dump()),
            None,
            Some(msg::neigh_dump(AddressFamily::Bridge, 0)),
            Some(msg::neigh_dump(AddressFamily::Inet, 0)),
            Some(msg::neigh_dump(AddressFamily::Inet6, 0)),
        ];
        for r in reqs {
            self.seq += 1;
            let b = match r {
                Some(r) => {
                    let mut m = NetlinkMessage::new(
                        NetlinkHeader::default(),
                        NetlinkPayload::InnerMessage(r),
                    );
                    m.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
                    m.header.sequence_number = self.seq;
                    m.finalize();
                    let mut b = vec![0u8; m.buffer_len()];
                    m.serialize(&mut b);
                    b
                }
                // rtnetlink has no nexthop messages: a raw request.
                None => dump_request(RTM_GETNEXTHOP, 0, self.seq),
            };
            // SAFETY: b is valid for its length; the socket is bound.
            let n = unsafe {
                let mut sa: libc::sockaddr_nl = std::mem::zeroed();
                sa.nl_family = libc::AF_NETLINK as u16;
                libc::sendto(
                    self.fd.as_raw_fd(),
                    b.as_ptr().cast(),
                    b.len(),
                    0,
                    (&sa as *const libc::sockaddr_nl).cast(),
                    std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
                )
            };
            if n < 0 {
                return Err(std::io::Error::last_os_error()).context("send dump request");
            }
            let t = Instant::now();
            let mut done = false;
            while !done {
                if t.elapsed() > Duration::from_secs(5) {
                    bail!("dump did not finish in 5 s");
                }
                done = self.receive_once(Some(self.seq))?;
            }
        }
        Ok(())
    }

    fn run(&mut self) {
        while !self.shared.stop.load(Ordering::Relaxed) {
            if let Err(e) = self.receive_once(None) {
                // The watcher has no logger of its own.
                eprintln!("watcher: {e:#}");
                return;
            }
        }
    }

    /// One recv: records what it holds. With `dump_seq`, returns true once
    /// that dump's NLMSG_DONE came.
    fn receive_once(&mut self, dump_seq: Option<u32>) -> Result<bool> {
        // SAFETY: the buffer is valid for its length.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                self.buf.as_mut_ptr().cast(),
                self.buf.len(),
                0,
            )
        };
        let at = Instant::now();
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(false),
                Some(libc::ENOBUFS) => {
                    self.record(at, false, Change::Overrun);
                    Ok(false)
                }
                _ => Err(e).context("recv netlink"),
            };
        }
        let data = self.buf[..n as usize].to_vec();
        let mut done = false;
        let mut off = 0;
        while off + 16 <= data.len() {
            let Ok(b) = NetlinkBuffer::new_checked(&data[off..]) else {
                break;
            };
            let len = b.length() as usize;
            if len < 16 || off + len > data.len() {
                break;
            }
            let (ty, flags, seq) = (b.message_type(), b.flags(), b.sequence_number());
            let bytes = &data[off..off + len];
            off += (len + 3) & !3;
            if ty == NLMSG_DONE || ty == NLMSG_ERROR {
                if dump_seq == Some(seq) {
                    done = true;
                }
                continue;
            }
            let dump = flags & NLM_F_MULTI != 0;
            if self.nexthops.apply(bytes) {
                continue;
            }
            if let Ok(m) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes) {
                if let NetlinkPayload::InnerMessage(m) = m.payload {
                    self.handle(at, dump, m);
                }
            }
        }
        Ok(done)
    }

    fn record(&self, at: Instant, dump: bool, change: Change) {
        if let Ok(mut ev) = self.shared.events.lock() {
            if ev.len() >= self.spec.max_events {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            } else {
                ev.push(Event { at, dump, change });
            }
        }
    }

    fn name(&self, ifindex: u32) -> Option<String> {
        self.links.get(&ifindex).cloned()
    }

    fn handle(&mut self, at: Instant, dump: bool, m: RouteNetlinkMessage) {
        match m {
            RouteNetlinkMessage::NewLink(l) => self.link(at, dump, &l, false),
            RouteNetlinkMessage::DelLink(l) => self.link(at, dump, &l, true),
            RouteNetlinkMessage::NewNeighbour(n) => self.neigh(at, dump, &n, false),
            RouteNetlinkMessage::DelNeighbour(n) => self.neigh(at, dump, &n, true),
            RouteNetlinkMessage::NewRoute(r) => self.route(at, dump, &r, false),
            RouteNetlinkMessage::DelRoute(r) => self.route(at, dump, &r, true),
            _ => {}
        }
    }

    fn link(
        &mut self,
        at: Instant,
        dump: bool,
        l: &rtnetlink::packet_route::link::LinkMessage,
        deleted: bool,
    ) {
        // Enslaving also sends an AF_BRIDGE copy (port settings): skip it.
        if l.header.interface_family == AddressFamily::Bridge {
            return;
        }
        let r = msg::link_rec(l);
        if deleted {
            self.links.remove(&r.ifindex);
        } else if !r.name.is_empty() {
            self.links.insert(r.ifindex, r.name.clone());
        }
        if !self.spec.ports.contains(&r.name) {
            return;
        }
        let f = l.header.flags;
        self.record(
            at,
            dump,
            Change::Link {
                name: r.name,
                ifindex: r.ifindex,
                up: f.contains(LinkFlags::Up) && f.contains(LinkFlags::LowerUp),
                running: f.contains(LinkFlags::Running),
                master: r.master,
                deleted,
            },
        );
    }

    fn neigh(
        &mut self,
        at: Instant,
        dump: bool,
        n: &rtnetlink::packet_route::neighbour::NeighbourMessage,
        deleted: bool,
    ) {
        if n.header.family == AddressFamily::Bridge {
            let Some(r) = msg::fdb_rec(n) else {
                return;
            };
            if !self.spec.macs.contains(&r.mac) {
                return;
            }
            let change = Change::Fdb {
                mac: r.mac,
                ifindex: r.ifindex,
                dev: self.name(r.ifindex),
                dst: r
                    .dst
                    .or_else(|| r.nh_id.and_then(|g| self.nexthops.vtep(g)).map(IpAddr::V4)),
                master: r.master.is_some(),
                ext_learned: r.ext_learned(),
                deleted,
            };
            self.record(at, dump, change);
            return;
        }
        let Some(r) = msg::neigh_rec(n) else {
            return;
        };
        if !self.spec.ips.contains(&r.ip) {
            return;
        }
        let change = Change::Neigh {
            ip: r.ip,
            mac: r.mac,
            dev: self.name(r.ifindex),
            ext_learned: r.flags.contains(NeighbourFlags::ExtLearned),
            state: r.state.0,
            deleted,
        };
        self.record(at, dump, change);
    }

    fn route(
        &mut self,
        at: Instant,
        dump: bool,
        r: &rtnetlink::packet_route::route::RouteMessage,
        deleted: bool,
    ) {
        let Some(rec) = msg::route_rec(r) else {
            return;
        };
        let ip = rec.prefix.ip();
        let full = if ip.is_ipv4() { 32 } else { 128 };
        if rec.prefix.prefix() != full || !self.spec.ips.contains(&ip) {
            return;
        }
        self.record(
            at,
            dump,
            Change::Route {
                ip,
                prefix_len: rec.prefix.prefix(),
                table: rec.table,
                gateway: rec.gateway,
                deleted,
            },
        );
    }
}

// ------------------------------------------------------------ replaying

/// What a leaf's kernel holds for one MAC and (optionally) one IP, built by
/// replaying events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kernel {
    /// The bridge FDB entry's device (`vxlan100` or a host port).
    pub master_dev: Option<String>,
    /// The VXLAN device's own entry's destination VTEP.
    pub self_dst: Option<IpAddr>,
    /// The neighbour entry: (MAC, extern_learn, NUD state).
    pub neigh: Option<(Option<Mac>, bool, u16)>,
}

impl Kernel {
    fn apply(&mut self, c: &Change, mac: Mac, ip: Option<IpAddr>) {
        match c {
            Change::Fdb {
                mac: m,
                dev,
                dst,
                master,
                deleted,
                ..
            } if *m == mac => {
                if *master {
                    if *deleted {
                        // Only the entry on that device goes away.
                        if self.master_dev == *dev {
                            self.master_dev = None;
                        }
                    } else {
                        self.master_dev.clone_from(dev);
                    }
                } else if dev.as_deref().is_some_and(|d| d.starts_with("vxlan")) {
                    self.self_dst = if *deleted { None } else { *dst };
                }
            }
            Change::Neigh {
                ip: i,
                mac: m,
                ext_learned,
                state,
                deleted,
                ..
            } if Some(*i) == ip => {
                self.neigh = if *deleted {
                    None
                } else {
                    Some((*m, *ext_learned, *state))
                };
            }
            _ => {}
        }
    }

    /// The MAC points at the VXLAN tunnel to `vtep`.
    pub fn mac_remote_at(&self, vtep: IpAddr) -> bool {
        self.master_dev
            .as_deref()
            .is_some_and(|d| d.starts_with("vxlan"))
            && self.self_dst == Some(vtep)
    }

    /// The MAC is learnt on host port `port`.
    pub fn mac_local_on(&self, port: &str) -> bool {
        self.master_dev.as_deref() == Some(port)
    }

    /// The IP resolves to `mac` through a remote (extern_learn) entry.
    pub fn ip_remote(&self, mac: Mac) -> bool {
        matches!(self.neigh, Some((Some(m), true, _)) if m == mac)
    }

    /// The IP resolves to `mac` through a kernel-learnt (local) entry.
    pub fn ip_local(&self, mac: Mac) -> bool {
        matches!(self.neigh, Some((Some(m), false, st)) if m == mac && st & NUD_UNUSABLE == 0)
    }
}

/// Replays `events` for `mac` (and `ip`); the time `pred` last became true
/// and stayed true up to the last event, or None if it does not hold at
/// the end. A state that held from before any event counts from the
/// first event (the dump).
pub fn converged_at(
    events: &[Event],
    mac: Mac,
    ip: Option<IpAddr>,
    pred: impl Fn(&Kernel) -> bool,
) -> Option<Instant> {
    let mut k = Kernel::default();
    let mut since = None;
    for e in events {
        k.apply(&e.change, mac, ip);
        match (pred(&k), since) {
            (true, None) => since = Some(e.at),
            (false, Some(_)) => since = None,
            _ => {}
        }
    }
    since
}

/// The state after replaying every event.
pub fn state(events: &[Event], mac: Mac, ip: Option<IpAddr>) -> Kernel {
    let mut k = Kernel::default();
    for e in events {
        k.apply(&e.change, mac, ip);
    }
    k
}

/// When port `name` last went from not-up to up (IFF_UP + carrier) at or
/// after `after`.
pub fn port_up_at(events: &[Event], name: &str, after: Option<Instant>) -> Option<Instant> {
    let mut up = false;
    let mut at = None;
    for e in events {
        if let Change::Link {
            name: n,
            up: u,
            master,
            deleted,
            ..
        } = &e.change
        {
            if n != name {
                continue;
            }
            let now = *u && master.is_some() && !deleted;
            if now && !up && after.is_none_or(|t| e.at >= t) {
                at = Some(e.at);
            }
            up = now;
        }
    }
    at
}

/// When port `name`, up (enslaved) at or after `after`, first had its
/// operstate up (IFF_RUNNING): from then on its bridge forwards on it.
pub fn port_running_at(events: &[Event], name: &str, after: Instant) -> Option<Instant> {
    events.iter().find_map(|e| match &e.change {
        Change::Link {
            name: n,
            up: true,
            running: true,
            master: Some(_),
            deleted: false,
            ..
        } if n == name && e.at >= after => Some(e.at),
        _ => None,
    })
}

/// When port `name` first stopped being up (down or gone) at or after
/// `after`.
pub fn port_down_at(events: &[Event], name: &str, after: Instant) -> Option<Instant> {
    events.iter().find_map(|e| match &e.change {
        Change::Link {
            name: n,
            up,
            deleted,
            ..
        } if n == name && e.at >= after && (!up || *deleted) => Some(e.at),
        _ => None,
    })
}

/// The convergence of one move of a host (MAC `mac`, IP `ip`, leaf-side
/// port `port`) from leaf `from` to leaf `to`, read from every leaf's
/// events (`events[i]` for leaf `i`, whose VTEP is `vteps[i]`), started
/// at `before` (just before the move).
#[derive(Debug, Clone, Default)]
pub struct MoveTimes {
    /// The port came up on the new leaf (IFF_UP + carrier, enslaved).
    pub port_up: Option<Instant>,
    /// Its operstate came up (IFF_RUNNING): the bridge forwards on it.
    pub port_running: Option<Instant>,
    /// Port up → forwarding, ms (the kernel's linkwatch latency).
    pub running_ms: Option<f64>,
    /// Link down on the old leaf → port up on the new one, ms.
    pub veth_ms: Option<f64>,
    /// ms after port-up until every leaf points the MAC at the new leaf
    /// (the new leaf: learnt on the port); None if not (yet).
    pub mac_ms: Option<f64>,
    /// The same for the IP: a remote `extern_learn` neighbour with the MAC
    /// (the new leaf: a kernel-learnt one) on top of the MAC.
    pub ip_ms: Option<f64>,
    /// Per leaf: (MAC ms, IP ms).
    pub per_leaf: Vec<(Option<f64>, Option<f64>)>,
}

/// Where a host's MAC and IP are expected after it moved to leaf `to`.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub mac: Mac,
    pub ip: IpAddr,
    pub port: &'a str,
    pub to: usize,
    pub vtep: IpAddr,
}

impl Target<'_> {
    /// Leaf `leaf` points the MAC at the new place.
    pub fn mac_ok(&self, leaf: usize, k: &Kernel) -> bool {
        if leaf == self.to {
            k.mac_local_on(self.port)
        } else {
            k.mac_remote_at(self.vtep)
        }
    }

    /// Leaf `leaf` points the MAC and the IP at the new place.
    pub fn ip_ok(&self, leaf: usize, k: &Kernel) -> bool {
        self.mac_ok(leaf, k)
            && if leaf == self.to {
                k.ip_local(self.mac)
            } else {
                k.ip_remote(self.mac)
            }
    }

    /// Every leaf's current state is right for the MAC and the IP.
    pub fn all_ip_ok(&self, events: &[Vec<Event>]) -> bool {
        events
            .iter()
            .enumerate()
            .all(|(l, e)| self.ip_ok(l, &state(e, self.mac, Some(self.ip))))
    }
}

/// [`MoveTimes`] of the move to `t` from leaf `from`, started at `before`.
pub fn move_times(events: &[Vec<Event>], t: &Target, from: usize, before: Instant) -> MoveTimes {
    let mut m = MoveTimes::default();
    let Some(up) = events
        .get(t.to)
        .and_then(|e| port_up_at(e, t.port, Some(before)))
    else {
        return m;
    };
    m.port_up = Some(up);
    let ms = |at: Instant| at.saturating_duration_since(up).as_secs_f64() * 1e3;
    m.port_running = events
        .get(t.to)
        .and_then(|e| port_running_at(e, t.port, up));
    m.running_ms = m.port_running.map(ms);
    m.veth_ms = events
        .get(from)
        .and_then(|e| port_down_at(e, t.port, before))
        .map(|d| up.saturating_duration_since(d).as_secs_f64() * 1e3);
    for (l, e) in events.iter().enumerate() {
        let mac = converged_at(e, t.mac, Some(t.ip), |k| t.mac_ok(l, k)).map(ms);
        let ip = converged_at(e, t.mac, Some(t.ip), |k| t.ip_ok(l, k)).map(ms);
        m.per_leaf.push((mac, ip));
    }
    let worst = |v: Vec<Option<f64>>| {
        v.into_iter()
            .try_fold(0.0f64, |acc, x| x.map(|x| acc.max(x)))
    };
    m.mac_ms = worst(m.per_leaf.iter().map(|p| p.0).collect());
    m.ip_ms = worst(m.per_leaf.iter().map(|p| p.1).collect());
    m
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test")]
    use super::*;

    fn ev(at: Instant, change: Change) -> Event {
        Event {
            at,
            dump: false,
            change,
        }
    }

    fn fdb(mac: Mac, dev: &str, dst: Option<&str>, master: bool, deleted: bool) -> Change {
        Change::Fdb {
            mac,
            ifindex: 1,
            dev: Some(dev.into()),
            dst: dst.map(|d| d.parse().unwrap()),
            master,
            ext_learned: true,
            deleted,
        }
    }

    #[test]
    fn replay_finds_the_last_transition_to_the_wanted_state() {
        let t0 = Instant::now();
        let t = |ms| t0 + Duration::from_millis(ms);
        let mac = Mac([2, 0, 0, 0, 1, 1]);
        let ip: IpAddr = "10.1.0.11".parse().unwrap();
        let vtep: IpAddr = "10.0.2.2".parse().unwrap();
        let events = vec![
            ev(t(0), fdb(mac, "vm1", None, true, false)),
            ev(
                t(1),
                Change::Neigh {
                    ip,
                    mac: Some(mac),
                    dev: Some("br100".into()),
                    ext_learned: false,
                    state: 0x02,
                    deleted: false,
                },
            ),
            ev(t(5), fdb(mac, "vm1", None, true, true)),
            ev(t(9), fdb(mac, "vxlan100", Some("10.0.2.2"), false, false)),
            ev(t(10), fdb(mac, "vxlan100", None, true, false)),
            ev(
                t(14),
                Change::Neigh {
                    ip,
                    mac: Some(mac),
                    dev: Some("br100".into()),
                    ext_learned: true,
                    state: 0x40,
                    deleted: false,
                },
            ),
        ];
        let m = converged_at(&events, mac, None, |k| k.mac_remote_at(vtep));
        assert_eq!(m, Some(t(10)));
        let i = converged_at(&events, mac, Some(ip), |k| {
            k.mac_remote_at(vtep) && k.ip_remote(mac)
        });
        assert_eq!(i, Some(t(14)));
        assert_eq!(
            converged_at(&events, mac, None, |k| k.mac_local_on("vm1")),
            None
        );
        assert!(state(&events, mac, Some(ip)).ip_remote(mac));
    }

    #[test]
    fn port_transitions() {
        let t0 = Instant::now();
        let t = |ms| t0 + Duration::from_millis(ms);
        let link = |up, deleted| Change::Link {
            name: "vm1".into(),
            ifindex: 7,
            up,
            running: up,
            master: Some(3),
            deleted,
        };
        let events = vec![
            ev(t(0), link(true, false)),
            ev(t(3), link(false, false)),
            ev(t(4), link(false, true)),
        ];
        assert_eq!(port_down_at(&events, "vm1", t(1)), Some(t(3)));
        let new = vec![ev(t(20), link(false, false)), ev(t(22), link(true, false))];
        assert_eq!(port_up_at(&new, "vm1", Some(t(1))), Some(t(22)));
        // Carrier first (admin up), operstate (IFF_RUNNING) when the
        // kernel's linkwatch work ran: the bridge forwards from then on.
        let carrier = Change::Link {
            name: "vm1".into(),
            ifindex: 7,
            up: true,
            running: false,
            master: Some(3),
            deleted: false,
        };
        let fwd = vec![ev(t(30), carrier), ev(t(34), link(true, false))];
        assert_eq!(port_up_at(&fwd, "vm1", Some(t(25))), Some(t(30)));
        assert_eq!(port_running_at(&fwd, "vm1", t(30)), Some(t(34)));
    }
}
