//! Counting a namespace's VXLAN FDB entries (the `dst` entries of remote
//! MACs) while a daemon programs them, for the scale benchmark.
//!
//! `bridge fdb show` prints millions of lines and a netlink dump of the
//! bridge table is quadratic in the kernel (each dump continuation walks
//! the list from the start to skip what was sent), so the count is kept
//! from the kernel's notifications instead: a thread inside the namespace
//! listens on RTNLGRP_NEIGH, parses only the neighbour header and the
//! `NDA_LLADDR` / `NDA_DST` attributes of AF_BRIDGE messages, and keeps,
//! per MAC index (`02:00:<i as 4 octets>`, the injector's MACs), which
//! VTEP it points at. [`FdbWatch::reached`] records the instant a count
//! reaches its target. A lost notification (ENOBUFS) makes the count
//! unknown: it is rebuilt from a dump ([`dump_count`]) and the loss is
//! reported. The final state is checked with one dump.
//!
//! Entries written as `nhid G` (evpnd's `fdb_nexthops`) carry `NDA_NH_ID`
//! instead of `NDA_DST`: the watcher also follows RTNLGRP_NEXTHOP (the
//! kernel announces a nexthop before any entry can use it) and resolves
//! group → member → gateway.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

use crate::netns::Netns;

const RTM_NEWNEIGH: u16 = 28;
const RTM_DELNEIGH: u16 = 29;
const RTM_GETNEIGH: u16 = 30;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
const NDA_NH_ID: u16 = 13;
const RTM_NEWNEXTHOP: u16 = 104;
const RTM_DELNEXTHOP: u16 = 105;
pub(crate) const RTM_GETNEXTHOP: u16 = 106;
const NHA_ID: u16 = 1;
const NHA_GROUP: u16 = 2;
const NHA_GATEWAY: u16 = 6;
const RTNLGRP_NEIGH: u32 = 3;
pub(crate) const RTNLGRP_NEXTHOP: u32 = 32;
const AF_BRIDGE: u8 = 7;
const NTF_SELF: u8 = 0x02;

/// Where one watched MAC points: nowhere, VTEP A, VTEP B, another VTEP.
const NONE: u8 = 0;
const AT_A: u8 = 1;
const AT_B: u8 = 2;
const OTHER: u8 = 3;

/// Counts shared with the watcher thread.
#[derive(Debug, Default)]
pub struct Counts {
    pub at_a: AtomicU64,
    pub at_b: AtomicU64,
    /// Notifications parsed (all AF_BRIDGE/neighbour messages).
    pub events: AtomicU64,
    /// ENOBUFS seen (each followed by a recount from a dump).
    pub overruns: AtomicU64,
    /// Targets: the instant `at_a` / `at_b` first reached them.
    target_a: AtomicU64,
    target_b: AtomicU64,
    reached_a: Mutex<Option<Instant>>,
    reached_b: Mutex<Option<Instant>>,
}

/// The watcher of one namespace's VXLAN FDB.
#[derive(Debug)]
pub struct FdbWatch {
    pub counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
}

/// Which VTEP: A or B.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vtep {
    A,
    B,
}

fn nl_socket(groups: u32, rcvbuf: usize) -> Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the fd is owned below.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("netlink socket");
    }
    // SAFETY: fd is a fresh socket we own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let v = libc::c_int::try_from(rcvbuf).unwrap_or(libc::c_int::MAX);
    // SAFETY: valid fd, int option of the size given.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    // 100 ms receive timeout: the thread checks its stop flag.
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 100_000,
    };
    // SAFETY: valid fd, timeval of the size given.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
    // SAFETY: sockaddr_nl is plain data; zero is valid.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    addr.nl_groups = groups;
    // SAFETY: valid fd and address of the size given.
    let rc = unsafe {
        libc::bind(
            sock.as_raw_fd(),
            (&addr as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("bind netlink socket");
    }
    Ok(sock)
}

/// Joins a multicast group above 31 (not expressible in `nl_groups`).
pub(crate) fn join_group(sock: &OwnedFd, group: u32) -> Result<()> {
    const SOL_NETLINK: libc::c_int = 270;
    const NETLINK_ADD_MEMBERSHIP: libc::c_int = 1;
    // SAFETY: valid fd, u32 option of the size given.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            SOL_NETLINK,
            NETLINK_ADD_MEMBERSHIP,
            (&group as *const u32).cast(),
            std::mem::size_of::<u32>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("join netlink group");
    }
    Ok(())
}

fn recv(sock: &OwnedFd, buf: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: buf is valid for writes of its length.
    let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
    if n < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Where an FDB entry sends: a VTEP address or a nexthop group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dest {
    Dst(Ipv4Addr),
    Group(u32),
}

/// The attributes of a netlink message after its `fixed`-octet header:
/// `(type, value)` pairs.
fn attrs(m: &[u8], fixed: usize) -> impl Iterator<Item = (u16, &[u8])> {
    let mut off = 16 + fixed;
    std::iter::from_fn(move || {
        if off + 4 > m.len() {
            return None;
        }
        let l = usize::from(u16::from_ne_bytes([m[off], m[off + 1]]));
        let t = u16::from_ne_bytes([m[off + 2], m[off + 3]]) & 0x3fff;
        if l < 4 || off + l > m.len() {
            return None;
        }
        let v = &m[off + 4..off + l];
        off += (l + 3) & !3;
        Some((t, v))
    })
}

fn u32_of(v: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(v.get(..4)?.try_into().ok()?))
}

/// One parsed FDB message: new (true) or deleted, MAC index, destination.
fn parse_fdb(m: &[u8]) -> Option<(bool, u32, Dest)> {
    let typ = u16::from_ne_bytes([m[4], m[5]]);
    if typ != RTM_NEWNEIGH && typ != RTM_DELNEIGH {
        return None;
    }
    let nd = m.get(16..28)?;
    if nd[0] != AF_BRIDGE || nd[10] & NTF_SELF == 0 {
        return None;
    }
    let (mut mac, mut dst) = (None, None);
    for (t, v) in attrs(m, 12) {
        match t {
            NDA_LLADDR if v.len() == 6 && v[0] == 0x02 && v[1] == 0 => {
                mac = Some(u32::from_be_bytes([v[2], v[3], v[4], v[5]]));
            }
            NDA_DST if v.len() == 4 => dst = Some(Dest::Dst(Ipv4Addr::new(v[0], v[1], v[2], v[3]))),
            NDA_NH_ID => dst = u32_of(v).map(Dest::Group),
            _ => {}
        }
    }
    // Only the VXLAN device's own entries carry a destination.
    Some((typ == RTM_NEWNEIGH, mac?, dst?))
}

/// A nexthop announcement: its id, and its gateway or its first member.
fn parse_nexthop(m: &[u8]) -> Option<(u32, Option<Ipv4Addr>, Option<u32>)> {
    if u16::from_ne_bytes([m[4], m[5]]) != RTM_NEWNEXTHOP || m.len() < 24 {
        return None;
    }
    let (mut id, mut gw, mut member) = (None, None, None);
    for (t, v) in attrs(m, 8) {
        match t {
            NHA_ID => id = u32_of(v),
            NHA_GATEWAY if v.len() == 4 => gw = Some(Ipv4Addr::new(v[0], v[1], v[2], v[3])),
            NHA_GROUP => member = u32_of(v),
            _ => {}
        }
    }
    Some((id?, gw, member))
}

/// Per-MAC state and the counters it feeds.
struct Table {
    at: Vec<u8>,
    a: Ipv4Addr,
    b: Ipv4Addr,
    nexthops: Nexthops,
}

/// The FDB nexthops of a namespace as announced: nexthop id → gateway,
/// group id → (first) member id. Resolves an `nhid` FDB entry's group to
/// its VTEP. IPv4 gateways only (the benches' and the demo's underlay); an
/// IPv6 one leaves the entry unresolved.
#[derive(Debug, Default)]
pub(crate) struct Nexthops {
    gateways: std::collections::HashMap<u32, Ipv4Addr>,
    members: std::collections::HashMap<u32, u32>,
}

impl Nexthops {
    /// Takes a netlink message: true when it was a nexthop announcement
    /// (new or deleted).
    pub(crate) fn apply(&mut self, msg: &[u8]) -> bool {
        if let Some((id, gw, member)) = parse_nexthop(msg) {
            if let Some(g) = gw {
                self.gateways.insert(id, g);
            }
            if let Some(m) = member {
                self.members.insert(id, m);
            }
            return true;
        }
        if msg.len() >= 16 && u16::from_ne_bytes([msg[4], msg[5]]) == RTM_DELNEXTHOP {
            if let Some(id) = attrs(msg, 8)
                .find(|(t, _)| *t == NHA_ID)
                .and_then(|(_, v)| u32_of(v))
            {
                self.gateways.remove(&id);
                self.members.remove(&id);
            }
            return true;
        }
        false
    }

    /// The VTEP of FDB nexthop group `group`.
    pub(crate) fn vtep(&self, group: u32) -> Option<Ipv4Addr> {
        self.members
            .get(&group)
            .and_then(|m| self.gateways.get(m))
            .copied()
    }
}

impl Table {
    fn set(&mut self, c: &Counts, idx: u32, to: u8) {
        let Some(slot) = self.at.get_mut(idx as usize) else {
            return;
        };
        let was = std::mem::replace(slot, to);
        if was == to {
            return;
        }
        match was {
            AT_A => c.at_a.fetch_sub(1, Ordering::Relaxed),
            AT_B => c.at_b.fetch_sub(1, Ordering::Relaxed),
            _ => 0,
        };
        match to {
            AT_A => {
                let n = c.at_a.fetch_add(1, Ordering::Relaxed) + 1;
                if n == c.target_a.load(Ordering::Relaxed) {
                    if let Ok(mut g) = c.reached_a.lock() {
                        g.get_or_insert_with(Instant::now);
                    }
                }
            }
            AT_B => {
                let n = c.at_b.fetch_add(1, Ordering::Relaxed) + 1;
                if n == c.target_b.load(Ordering::Relaxed) {
                    if let Ok(mut g) = c.reached_b.lock() {
                        g.get_or_insert_with(Instant::now);
                    }
                }
            }
            _ => {}
        }
    }

    fn new(n: u32, a: Ipv4Addr, b: Ipv4Addr) -> Table {
        Table {
            at: vec![NONE; n as usize],
            a,
            b,
            nexthops: Nexthops::default(),
        }
    }

    fn apply(&mut self, c: &Counts, msg: &[u8]) {
        if self.nexthops.apply(msg) {
            return;
        }
        if let Some((new, idx, dst)) = parse_fdb(msg) {
            let vtep = match dst {
                Dest::Dst(d) => Some(d),
                Dest::Group(g) => self.nexthops.vtep(g),
            };
            let to = match (new, vtep) {
                (false, _) => NONE,
                (true, Some(d)) if d == self.a => AT_A,
                (true, Some(d)) if d == self.b => AT_B,
                (true, _) => OTHER,
            };
            self.set(c, idx, to);
        }
    }
}

/// Splits a datagram into netlink messages.
fn messages(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut off = 0;
    std::iter::from_fn(move || {
        if off + 16 > data.len() {
            return None;
        }
        let len =
            u32::from_ne_bytes([data[off], data[off + 1], data[off + 2], data[off + 3]]) as usize;
        if len < 16 || off + len > data.len() {
            return None;
        }
        let m = &data[off..off + len];
        off += (len + 3) & !3;
        Some(m)
    })
}

/// Dumps the nexthops, then the AF_BRIDGE FDB, on `sock` (a socket of the
/// namespace) and calls `f` on every message; bounded by `timeout` each.
fn dump(sock: &OwnedFd, timeout: Duration, mut f: impl FnMut(&[u8])) -> Result<()> {
    dump_one(sock, RTM_GETNEXTHOP, 0, timeout, &mut f)?;
    dump_one(sock, RTM_GETNEIGH, AF_BRIDGE, timeout, &mut f)
}

/// A dump request of `typ` (RTM_GETNEXTHOP or RTM_GETNEIGH for `family`).
pub(crate) fn dump_request(typ: u16, family: u8, seq: u32) -> Vec<u8> {
    // The header after nlmsghdr: struct nhmsg (8 octets) for nexthops,
    // struct ndmsg (12) for neighbours; the kernel's strict dump checks
    // reject trailing octets.
    let len: usize = if typ == RTM_GETNEXTHOP { 24 } else { 28 };
    let mut req = vec![0u8; len];
    req[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
    req[4..6].copy_from_slice(&typ.to_ne_bytes());
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    req[6..8].copy_from_slice(&flags.to_ne_bytes());
    req[8..12].copy_from_slice(&seq.to_ne_bytes());
    req[16] = family;
    req
}

fn dump_one(
    sock: &OwnedFd,
    typ: u16,
    family: u8,
    timeout: Duration,
    f: &mut impl FnMut(&[u8]),
) -> Result<()> {
    let req = dump_request(typ, family, 0x5ca1e);
    // SAFETY: req is valid for its length.
    let n = unsafe { libc::send(sock.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
    if n < 0 {
        return Err(std::io::Error::last_os_error()).context("send FDB dump request");
    }
    let deadline = Instant::now() + timeout;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        if Instant::now() > deadline {
            bail!("FDB dump not done within {timeout:?}");
        }
        let n = match recv(sock, &mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e).context("FDB dump"),
        };
        for m in messages(&buf[..n]) {
            let typ = u16::from_ne_bytes([m[4], m[5]]);
            if typ == NLMSG_DONE {
                return Ok(());
            }
            if typ == NLMSG_ERROR {
                let code = m
                    .get(16..20)
                    .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                    .unwrap_or(0);
                if code != 0 {
                    bail!("FDB dump: errno {}", -code);
                }
                continue;
            }
            f(m);
        }
    }
}

/// Runs `f` on a thread inside `ns` (its network namespace only); join
/// the handle for its result.
pub fn in_ns<T: Send + 'static>(
    ns: &Netns,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<JoinHandle<Result<T>>> {
    let path = format!("/run/netns/{}", ns.name());
    let file = File::open(&path).with_context(|| format!("open {path}"))?;
    Ok(std::thread::spawn(move || -> Result<T> {
        // SAFETY: setns(2) on a valid namespace fd; it only changes this
        // thread's network namespace.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            bail!("setns {path}: {}", std::io::Error::last_os_error());
        }
        f()
    }))
}

/// `(at A, at B, other)`: VXLAN FDB entries with a destination of the MACs
/// `02:00:<i>` for `i < n`, from one dump of `ns`'s bridge FDB, and how long
/// the dump took.
pub fn dump_count(
    ns: &Netns,
    n: u32,
    a: Ipv4Addr,
    b: Ipv4Addr,
    timeout: Duration,
) -> Result<(u64, u64, u64, Duration)> {
    let h = in_ns(ns, move || {
        let sock = nl_socket(0, 8 << 20)?;
        let c = Counts::default();
        let mut t = Table::new(n, a, b);
        let start = Instant::now();
        dump(&sock, timeout, |m| t.apply(&c, m))?;
        let other = t.at.iter().filter(|x| **x == OTHER).count() as u64;
        Ok((
            c.at_a.load(Ordering::Relaxed),
            c.at_b.load(Ordering::Relaxed),
            other,
            start.elapsed(),
        ))
    })?;
    h.join().map_err(|_| anyhow!("dump thread panicked"))?
}

impl FdbWatch {
    /// Start watching `ns` for the MACs `02:00:<i>`, `i < n`, at VTEPs `a`
    /// and `b`. Returns once the socket is subscribed.
    pub fn start(ns: &Netns, n: u32, a: Ipv4Addr, b: Ipv4Addr) -> Result<FdbWatch> {
        let counts = Arc::new(Counts::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = {
            let (counts, stop) = (Arc::clone(&counts), Arc::clone(&stop));
            in_ns(ns, move || {
                let sub = match nl_socket(1 << (RTNLGRP_NEIGH - 1), 512 << 20) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("{e:#}")));
                        return Err(e);
                    }
                };
                if let Err(e) = join_group(&sub, RTNLGRP_NEXTHOP) {
                    let _ = ready_tx.send(Err(format!("{e:#}")));
                    return Err(e);
                }
                let _ = ready_tx.send(Ok(()));
                watch(&sub, n, a, b, &counts, &stop)
            })?
        };
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => bail!("FDB watcher: {e}"),
            Err(_) => bail!("FDB watcher did not start"),
        }
        Ok(FdbWatch {
            counts,
            stop,
            thread: Some(thread),
        })
    }

    /// Record the instant the count at `v` reaches `n` (from now on).
    pub fn target(&self, v: Vtep, n: u64) {
        match v {
            Vtep::A => self.counts.target_a.store(n, Ordering::Relaxed),
            Vtep::B => self.counts.target_b.store(n, Ordering::Relaxed),
        }
    }

    pub fn count(&self, v: Vtep) -> u64 {
        match v {
            Vtep::A => self.counts.at_a.load(Ordering::Relaxed),
            Vtep::B => self.counts.at_b.load(Ordering::Relaxed),
        }
    }

    /// When the count at `v` reached its target, if it did.
    pub fn reached(&self, v: Vtep) -> Option<Instant> {
        let m = match v {
            Vtep::A => &self.counts.reached_a,
            Vtep::B => &self.counts.reached_b,
        };
        m.lock().ok().and_then(|g| *g)
    }

    pub fn overruns(&self) -> u64 {
        self.counts.overruns.load(Ordering::Relaxed)
    }

    pub fn events(&self) -> u64 {
        self.counts.events.load(Ordering::Relaxed)
    }

    /// Stop the thread; its error, if it failed.
    pub fn stop(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| anyhow!("watcher panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for FdbWatch {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

fn watch(
    sub: &OwnedFd,
    n: u32,
    a: Ipv4Addr,
    b: Ipv4Addr,
    c: &Counts,
    stop: &AtomicBool,
) -> Result<()> {
    let mut t = Table::new(n, a, b);
    let mut buf = vec![0u8; 1 << 20];
    while !stop.load(Ordering::Relaxed) {
        match recv(sub, &mut buf) {
            Ok(len) => {
                for m in messages(&buf[..len]) {
                    c.events.fetch_add(1, Ordering::Relaxed);
                    t.apply(c, m);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                // Notifications were lost: recount from a dump. Events
                // queued meanwhile are at least as new and apply on top.
                c.overruns.fetch_add(1, Ordering::Relaxed);
                let dsock = nl_socket(0, 8 << 20)?;
                let mut fresh = Table::new(n, a, b);
                let scratch = Counts::default();
                dump(&dsock, Duration::from_secs(600), |m| {
                    fresh.apply(&scratch, m)
                })?;
                for (i, to) in fresh.at.iter().enumerate() {
                    t.set(c, i as u32, *to);
                }
            }
            Err(e) => return Err(e).context("FDB watcher receive"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(typ: u16, flags: u8, mac: [u8; 6], dst: Option<[u8; 4]>) -> Vec<u8> {
        let mut m = vec![0u8; 28];
        m[4..6].copy_from_slice(&typ.to_ne_bytes());
        m[16] = AF_BRIDGE;
        m[26] = flags;
        let attr = |m: &mut Vec<u8>, t: u16, v: &[u8]| push_attr(m, t, v);
        attr(&mut m, NDA_LLADDR, &mac);
        if let Some(d) = dst {
            attr(&mut m, NDA_DST, &d);
        }
        finish(m)
    }

    fn push_attr(m: &mut Vec<u8>, t: u16, v: &[u8]) {
        let l = 4 + v.len();
        m.extend_from_slice(&(l as u16).to_ne_bytes());
        m.extend_from_slice(&t.to_ne_bytes());
        m.extend_from_slice(v);
        m.resize((m.len() + 3) & !3, 0);
    }

    /// Sets the netlink length of a built message.
    fn finish(mut m: Vec<u8>) -> Vec<u8> {
        let len = m.len() as u32;
        m[0..4].copy_from_slice(&len.to_ne_bytes());
        m
    }

    #[test]
    fn counts_follow_adds_moves_and_deletes() {
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 3));
        let c = Counts::default();
        c.target_a.store(2, Ordering::Relaxed);
        let mut t = Table::new(4, a, b);
        let m0 = [2, 0, 0, 0, 0, 0];
        let m1 = [2, 0, 0, 0, 0, 1];
        t.apply(&c, &msg(RTM_NEWNEIGH, NTF_SELF, m0, Some([10, 0, 0, 1])));
        // The bridge's own entry (no dst) is not counted.
        t.apply(&c, &msg(RTM_NEWNEIGH, 0x10, m1, None));
        assert_eq!(c.at_a.load(Ordering::Relaxed), 1);
        t.apply(&c, &msg(RTM_NEWNEIGH, NTF_SELF, m1, Some([10, 0, 0, 1])));
        assert!(c.reached_a.lock().unwrap().is_some());
        t.apply(&c, &msg(RTM_NEWNEIGH, NTF_SELF, m1, Some([10, 0, 0, 3])));
        assert_eq!(c.at_a.load(Ordering::Relaxed), 1);
        assert_eq!(c.at_b.load(Ordering::Relaxed), 1);
        t.apply(&c, &msg(RTM_DELNEIGH, NTF_SELF, m0, Some([10, 0, 0, 1])));
        assert_eq!(c.at_a.load(Ordering::Relaxed), 0);
        // Out-of-range and foreign MACs are ignored.
        t.apply(
            &c,
            &msg(
                RTM_NEWNEIGH,
                NTF_SELF,
                [2, 0, 0, 0, 0, 9],
                Some([10, 0, 0, 1]),
            ),
        );
        t.apply(
            &c,
            &msg(
                RTM_NEWNEIGH,
                NTF_SELF,
                [4, 0, 0, 0, 0, 1],
                Some([10, 0, 0, 1]),
            ),
        );
        assert_eq!(c.at_a.load(Ordering::Relaxed), 0);
    }

    fn nexthop(id: u32, gw: Option<[u8; 4]>, member: Option<u32>) -> Vec<u8> {
        let mut m = vec![0u8; 24];
        m[4..6].copy_from_slice(&RTM_NEWNEXTHOP.to_ne_bytes());
        let attr = |m: &mut Vec<u8>, t: u16, v: &[u8]| push_attr(m, t, v);
        attr(&mut m, NHA_ID, &id.to_ne_bytes());
        if let Some(g) = gw {
            attr(&mut m, NHA_GATEWAY, &g);
        }
        if let Some(x) = member {
            let mut v = x.to_ne_bytes().to_vec();
            v.extend_from_slice(&[0; 4]);
            attr(&mut m, NHA_GROUP, &v);
        }
        finish(m)
    }

    fn nhid_entry(mac: [u8; 6], group: u32) -> Vec<u8> {
        let mut m = msg(RTM_NEWNEIGH, NTF_SELF, mac, None);
        push_attr(&mut m, NDA_NH_ID, &group.to_ne_bytes());
        finish(m)
    }

    #[test]
    fn nhid_entries_resolve_through_their_group() {
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 3));
        let c = Counts::default();
        let mut t = Table::new(4, a, b);
        t.apply(&c, &nexthop(10, Some([10, 0, 0, 1]), None));
        t.apply(&c, &nexthop(11, None, Some(10)));
        t.apply(&c, &nexthop(12, Some([10, 0, 0, 3]), None));
        t.apply(&c, &nexthop(13, None, Some(12)));
        t.apply(&c, &nhid_entry([2, 0, 0, 0, 0, 0], 11));
        t.apply(&c, &nhid_entry([2, 0, 0, 0, 0, 1], 11));
        assert_eq!(c.at_a.load(Ordering::Relaxed), 2);
        t.apply(&c, &nhid_entry([2, 0, 0, 0, 0, 1], 13));
        assert_eq!(c.at_a.load(Ordering::Relaxed), 1);
        assert_eq!(c.at_b.load(Ordering::Relaxed), 1);
        // An unknown group counts as elsewhere.
        t.apply(&c, &nhid_entry([2, 0, 0, 0, 0, 0], 99));
        assert_eq!(c.at_a.load(Ordering::Relaxed), 0);
    }
}
