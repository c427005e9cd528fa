//! A fast, minimal BGP speaker for benchmarks: it injects pre-built EVPN
//! UPDATEs into a daemon, or receives (and counts) what a route reflector
//! sends it.
//!
//! Messages come from `evpn-proto` (OPEN, KEEPALIVE, UPDATEs packed with
//! many NLRI up to 4096 octets, End-of-RIB). Everything is blocking std
//! I/O on one or two threads per session; the sockets are created inside
//! the bench's namespace ([`listen_in`]) and the daemons connect to us.
//!
//! A [`Session`] does the OPEN/KEEPALIVE handshake, then a reader thread
//! consumes whatever the daemon sends ([`RecvStats`]: distinct RT-2 MACs
//! announced, End-of-RIB) and a writer thread sends the payload, End-of-RIB
//! and keepalives until [`Session::stop`]. Every wait is bounded.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use evpn_proto::attr::{AsPath, NextHop, Origin};
use evpn_proto::capability::Capability;
use evpn_proto::evpn::MacIp;
use evpn_proto::message::pack::pack_evpn_reach;
use evpn_proto::message::{frame_len, keepalive, DecodeCxt, Open, Update};
use evpn_proto::{Esi, EvpnRoute, ExtCommunity, Family, Label, Mac, PathAttrs, TunnelType, Vni};

use crate::netns::Netns;

/// Run `f` on a thread that has entered `ns`'s network namespace; sockets
/// it creates stay in that namespace after the thread ends.
pub fn in_netns<T: Send + 'static>(
    ns: &Netns,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    let path = format!("/run/netns/{}", ns.name());
    std::thread::spawn(move || -> Result<T> {
        let file = File::open(&path).with_context(|| format!("open {path}"))?;
        // SAFETY: setns(2) on a valid namespace fd; it only changes this
        // short-lived thread's network namespace.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            bail!("setns {path}: {}", std::io::Error::last_os_error());
        }
        f()
    })
    .join()
    .map_err(|_| anyhow!("netns thread panicked"))?
}

/// A listening socket on `addr` inside `ns`.
pub fn listen_in(ns: &Netns, addr: SocketAddr) -> Result<TcpListener> {
    in_netns(ns, move || {
        TcpListener::bind(addr).with_context(|| format!("bind {addr}"))
    })
}

/// Accept one connection within `timeout` (polled, bounded).
pub fn accept_within(l: &TcpListener, timeout: Duration) -> Result<TcpStream> {
    l.set_nonblocking(true)?;
    let deadline = Instant::now() + timeout;
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                return Ok(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    bail!("no BGP connection within {timeout:?}");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(e).context("accept"),
        }
    }
}

/// The EVPN RT-2 workload: `n` routes with distinct MACs (`02:00:<i as 4
/// octets>`) and IPv4 addresses, one VNI, RT `asn:vni`, encapsulation
/// VXLAN, next hop `vtep`, RD `vtep:vni`.
#[derive(Debug, Clone)]
pub struct Workload {
    pub routes: u32,
    /// The UPDATEs, back to back.
    pub bytes: Arc<Vec<u8>>,
    pub messages: usize,
}

impl Workload {
    pub fn rt2(n: u32, asn: u32, vtep: Ipv4Addr, vni: u32) -> Result<Workload> {
        Self::build(n, asn, vtep, vtep, vni, None, true)
    }

    /// `n` MAC-only RT-2 routes (no IP) of MACs `02:00:<i as 4 octets>`
    /// with RD `rd_ip:vni`, RT `asn:vni`, label = VNI, encapsulation VXLAN,
    /// next hop `vtep`, and with `seq` the MAC Mobility extended community
    /// (RFC 7432 §7.7) carrying that sequence number (a move to `vtep`).
    pub fn rt2_macs(
        n: u32,
        asn: u32,
        vtep: Ipv4Addr,
        rd_ip: Ipv4Addr,
        vni: u32,
        seq: Option<u32>,
    ) -> Result<Workload> {
        Self::build(n, asn, vtep, rd_ip, vni, seq, false)
    }

    /// RT-2 route `i` has MAC `02:00:<i as 4 octets>` and, `with_ip`,
    /// IPv4 `10.<i's low 24 bits>`.
    fn build(
        n: u32,
        asn: u32,
        vtep: Ipv4Addr,
        rd_ip: Ipv4Addr,
        vni: u32,
        seq: Option<u32>,
        with_ip: bool,
    ) -> Result<Workload> {
        let vni_v = Vni::new(vni).ok_or_else(|| anyhow!("bad VNI {vni}"))?;
        let mut ext = vec![
            ExtCommunity::RouteTarget(
                format!("{asn}:{vni}")
                    .parse()
                    .map_err(|e| anyhow!("RT: {e:?}"))?,
            ),
            ExtCommunity::Encapsulation(TunnelType::Vxlan),
        ];
        if let Some(seq) = seq {
            ext.push(ExtCommunity::MacMobility { seq, sticky: false });
        }
        let attrs = PathAttrs {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            local_pref: Some(100),
            ext_communities: Some(ext),
            ..PathAttrs::default()
        };
        let rd = format!("{rd_ip}:{vni}")
            .parse()
            .map_err(|e| anyhow!("RD: {e:?}"))?;
        let label = Label::from_vni(vni_v);
        let routes: Vec<EvpnRoute> = (0..n)
            .map(|i| {
                let b = i.to_be_bytes();
                EvpnRoute::MacIp(MacIp {
                    rd,
                    esi: Esi::ZERO,
                    eth_tag: 0,
                    mac: Mac([0x02, 0, b[0], b[1], b[2], b[3]]),
                    ip: with_ip.then(|| Ipv4Addr::from(0x0a00_0000 | (i & 0x00ff_ffff)).into()),
                    label1: label,
                    label2: None,
                })
            })
            .collect();
        let msgs = pack_evpn_reach(&attrs, &NextHop::V4(vtep), &routes, &DecodeCxt::default())
            .map_err(|e| anyhow!("pack: {e}"))?;
        let messages = msgs.len();
        Ok(Workload {
            routes: n,
            bytes: Arc::new(msgs.concat()),
            messages,
        })
    }
}

/// What a session has received so far.
#[derive(Debug, Default)]
pub struct RecvStats {
    /// Distinct RT-2 routes (by the MAC's index) announced and not withdrawn.
    pub routes: AtomicU64,
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    pub eor: AtomicBool,
    /// Set when `routes` first reached `target`.
    pub done_at: OnceLock<Instant>,
    /// The session ended (NOTIFICATION, EOF, error) with this reason.
    pub ended: Mutex<Option<String>>,
    target: AtomicU64,
}

impl RecvStats {
    pub fn set_target(&self, n: u64) {
        self.target.store(n, Ordering::Relaxed);
    }
    pub fn routes(&self) -> u64 {
        self.routes.load(Ordering::Relaxed)
    }
    pub fn ended(&self) -> Option<String> {
        self.ended.lock().ok().and_then(|g| g.clone())
    }
}

/// When a payload queued with [`Session::send`] went out.
#[derive(Debug, Default)]
pub struct Sent {
    pub first: OnceLock<Instant>,
    pub all: OnceLock<Instant>,
}

/// Settings of our side of a session.
#[derive(Debug, Clone)]
pub struct SessionCfg {
    pub asn: u32,
    pub router_id: Ipv4Addr,
    pub hold_time: u16,
    /// Do not read after the handshake until [`Session::resume`].
    pub paused: bool,
}

/// An established session with a daemon.
#[derive(Debug)]
pub struct Session {
    pub stats: Arc<RecvStats>,
    /// When the first payload octet was handed to the kernel.
    pub first_update: Arc<OnceLock<Instant>>,
    /// When the whole payload and End-of-RIB were written.
    pub sent_all: Arc<OnceLock<Instant>>,
    /// Payloads queued with [`Session::send`], each with the instant its
    /// first octet was handed to the kernel and when it was all written.
    more: std::sync::mpsc::Sender<(Arc<Vec<u8>>, Arc<Sent>)>,
    stop: Arc<AtomicBool>,
    /// While set, the reader does not read (a slow peer: the daemon's
    /// writes back up into its buffers).
    paused: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<()>>,
    stream: TcpStream,
}

fn read_message(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Vec<u8>> {
    let mut chunk = [0u8; 4096];
    for _ in 0..10_000 {
        if let Some(n) = frame_len(buf).map_err(|e| anyhow!("framing: {e:?}"))? {
            let m = buf[..n].to_vec();
            buf.drain(..n);
            return Ok(m);
        }
        let n = s.read(&mut chunk).context("read")?;
        if n == 0 {
            bail!("connection closed");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    bail!("no complete message")
}

impl Session {
    /// OPEN/KEEPALIVE handshake on an accepted `stream` (EVPN only,
    /// 4-octet AS, route refresh), bounded by `timeout`; then start the
    /// reader (counting into `stats`, which reaches its target at
    /// `target` routes) and the writer (`payload`, End-of-RIB, keepalives).
    pub fn establish(
        mut stream: TcpStream,
        cfg: &SessionCfg,
        payload: Option<Arc<Vec<u8>>>,
        target: u64,
        timeout: Duration,
    ) -> Result<Session> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        let open = Open::new(
            cfg.asn,
            cfg.hold_time,
            cfg.router_id,
            vec![
                Capability::multiprotocol(Family::Evpn),
                Capability::RouteRefresh,
            ],
        );
        stream.write_all(&open.encode())?;
        let mut buf = Vec::new();
        let mut hold = cfg.hold_time;
        let mut got_open = false;
        let deadline = Instant::now() + timeout;
        loop {
            if Instant::now() > deadline {
                bail!("handshake not done within {timeout:?}");
            }
            let m = read_message(&mut stream, &mut buf)?;
            match m.get(18) {
                Some(1) => {
                    let o = Open::decode(&m[19..]).map_err(|e| anyhow!("peer OPEN: {e:?}"))?;
                    hold = hold.min(o.hold_time);
                    got_open = true;
                    stream.write_all(&keepalive())?;
                }
                Some(4) if got_open => break,
                Some(3) => bail!("NOTIFICATION during the handshake: {:02x?}", &m[19..]),
                _ => {}
            }
        }
        stream.set_read_timeout(None)?;
        let stats = Arc::new(RecvStats::default());
        stats.set_target(target);
        let stop = Arc::new(AtomicBool::new(false));
        let paused = Arc::new(AtomicBool::new(cfg.paused));
        let reader = {
            let mut rd = stream.try_clone()?;
            let stats = Arc::clone(&stats);
            let pending = std::mem::take(&mut buf);
            let (paused, stop) = (Arc::clone(&paused), Arc::clone(&stop));
            std::thread::spawn(move || reader(&mut rd, pending, &stats, &paused, &stop))
        };
        let first_update = Arc::new(OnceLock::new());
        let sent_all = Arc::new(OnceLock::new());
        let (more, more_rx) = std::sync::mpsc::channel();
        let writer = {
            let mut wr = stream.try_clone()?;
            let stop = Arc::clone(&stop);
            let (first, all) = (Arc::clone(&first_update), Arc::clone(&sent_all));
            let ka = Duration::from_secs(u64::from(hold.max(3) / 3));
            std::thread::spawn(move || {
                let _ = writer(&mut wr, payload, &first, &all, &stop, ka, &more_rx);
            })
        };
        Ok(Session {
            stats,
            first_update,
            sent_all,
            more,
            stop,
            paused,
            reader: Some(reader),
            writer: Some(writer),
            stream,
        })
    }

    /// Queue more UPDATEs (after the first payload and End-of-RIB); the
    /// returned [`Sent`] says when they went out.
    pub fn send(&self, payload: Arc<Vec<u8>>) -> Result<Arc<Sent>> {
        let sent = Arc::new(Sent::default());
        self.more
            .send((payload, Arc::clone(&sent)))
            .map_err(|_| anyhow!("the session writer has ended"))?;
        Ok(sent)
    }

    /// Start reading (after [`SessionCfg::paused`]).
    pub fn resume(&self) {
        self.paused.store(false, Ordering::Relaxed);
    }

    /// Stop the writer and close the connection; joins both threads.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        for t in [self.writer.take(), self.reader.take()]
            .into_iter()
            .flatten()
        {
            let _ = t.join();
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.stop();
    }
}

fn writer(
    wr: &mut TcpStream,
    payload: Option<Arc<Vec<u8>>>,
    first: &OnceLock<Instant>,
    all: &OnceLock<Instant>,
    stop: &AtomicBool,
    keepalive_every: Duration,
    more: &std::sync::mpsc::Receiver<(Arc<Vec<u8>>, Arc<Sent>)>,
) -> Result<()> {
    if let Some(p) = payload {
        let _ = first.set(Instant::now());
        for chunk in p.chunks(256 * 1024) {
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            wr.write_all(chunk)?;
        }
    }
    wr.write_all(&Update::end_of_rib_marker(Family::Evpn).encode(&DecodeCxt::default()))?;
    let _ = all.set(Instant::now());
    let mut last = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let Ok((p, sent)) = more.recv_timeout(Duration::from_millis(100)) {
            let _ = sent.first.set(Instant::now());
            for chunk in p.chunks(256 * 1024) {
                if stop.load(Ordering::Relaxed) {
                    return Ok(());
                }
                wr.write_all(chunk)?;
            }
            let _ = sent.all.set(Instant::now());
            last = Instant::now();
        }
        if last.elapsed() >= keepalive_every {
            wr.write_all(&keepalive())?;
            last = Instant::now();
        }
    }
    Ok(())
}

fn reader(
    rd: &mut TcpStream,
    mut buf: Vec<u8>,
    stats: &RecvStats,
    paused: &AtomicBool,
    stop: &AtomicBool,
) {
    let mut seen: Vec<u64> = Vec::new();
    let mut chunk = vec![0u8; 256 * 1024];
    while paused.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let why = loop {
        let mut start = 0;
        loop {
            let rest = &buf[start..];
            match frame_len(rest) {
                Ok(Some(n)) => {
                    let m = &rest[..n];
                    if m[18] == 3 {
                        stats.messages.fetch_add(1, Ordering::Relaxed);
                        let _ = stats
                            .ended
                            .lock()
                            .map(|mut g| *g = Some(format!("NOTIFICATION {:02x?}", &m[19..])));
                        return;
                    }
                    if m[18] == 2 {
                        count_update(m, &mut seen, stats);
                    }
                    stats.messages.fetch_add(1, Ordering::Relaxed);
                    start += n;
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = stats
                        .ended
                        .lock()
                        .map(|mut g| *g = Some(format!("framing error {e:?}")));
                    return;
                }
            }
        }
        buf.drain(..start);
        match rd.read(&mut chunk) {
            Ok(0) => break "EOF".to_string(),
            Ok(n) => {
                stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
                buf.extend_from_slice(&chunk[..n]);
            }
            Err(e) => break format!("read: {e}"),
        }
    };
    let _ = stats.ended.lock().map(|mut g| *g = Some(why));
}

/// Count RT-2 announcements/withdrawals of one UPDATE without decoding it
/// fully (the receivers share the CPU with the daemon under test): walk to
/// MP_REACH/MP_UNREACH and hop over the EVPN NLRI, indexing routes by the
/// last four MAC octets.
fn count_update(m: &[u8], seen: &mut Vec<u64>, stats: &RecvStats) {
    let u16_at = |i: usize| -> Option<usize> {
        Some(usize::from(u16::from_be_bytes([
            *m.get(i)?,
            *m.get(i + 1)?,
        ])))
    };
    let Some(wlen) = u16_at(19) else { return };
    let Some(alen) = u16_at(21 + wlen) else {
        return;
    };
    let mut i = 23 + wlen;
    let end = (i + alen).min(m.len());
    if wlen == 0 && alen == 0 {
        stats.eor.store(true, Ordering::Relaxed);
    }
    while i + 3 <= end {
        let (flags, typ) = (m[i], m[i + 1]);
        let (len, hdr) = if flags & 0x10 != 0 {
            match u16_at(i + 2) {
                Some(l) => (l, 4),
                None => return,
            }
        } else {
            (usize::from(m[i + 2]), 3)
        };
        let v = i + hdr;
        let vend = (v + len).min(end);
        match typ {
            14 if v + 5 <= vend => {
                let nhlen = usize::from(m[v + 3]);
                walk_evpn(&m[(v + 5 + nhlen).min(vend)..vend], seen, stats, true);
            }
            15 if v + 3 <= vend => {
                if vend == v + 3 {
                    stats.eor.store(true, Ordering::Relaxed);
                }
                walk_evpn(&m[v + 3..vend], seen, stats, false);
            }
            _ => {}
        }
        i = v + len;
    }
}

fn walk_evpn(mut n: &[u8], seen: &mut Vec<u64>, stats: &RecvStats, reach: bool) {
    while n.len() >= 2 {
        let (typ, len) = (n[0], usize::from(n[1]));
        let Some(r) = n.get(2..2 + len) else { return };
        // RT-2: RD 8, ESI 10, tag 4, MAC len 1, MAC 6.
        if typ == 2 && r.len() >= 29 {
            let idx = u32::from_be_bytes([r[25], r[26], r[27], r[28]]) as usize;
            let (w, b) = (idx / 64, 1u64 << (idx % 64));
            if seen.len() <= w {
                seen.resize(w + 1, 0);
            }
            let had = seen[w] & b != 0;
            if reach && !had {
                seen[w] |= b;
                let now = stats.routes.fetch_add(1, Ordering::Relaxed) + 1;
                if now == stats.target.load(Ordering::Relaxed) {
                    let _ = stats.done_at.set(Instant::now());
                }
            } else if !reach && had {
                seen[w] &= !b;
                stats.routes.fetch_sub(1, Ordering::Relaxed);
            }
        }
        n = &n[2 + len..];
    }
}

/// CPU seconds (user + system) of a process, from `/proc/PID/stat`.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) in parens.
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest[0] is field 3 (state); utime is field 14, stime 15.
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = if hz > 0 { hz as f64 } else { 100.0 };
    Some((ut + st) / hz)
}

/// A `/proc/PID/status` field in KiB (`VmHWM`, `VmRSS`).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_walks_packed_updates() {
        let w = Workload::rt2(1000, 65000, Ipv4Addr::new(10, 0, 0, 1), 100).unwrap();
        let stats = RecvStats::default();
        stats.set_target(1000);
        let mut seen = Vec::new();
        let mut b = &w.bytes[..];
        while let Ok(Some(n)) = frame_len(b) {
            count_update(&b[..n], &mut seen, &stats);
            b = &b[n..];
        }
        assert!(b.is_empty());
        assert_eq!(stats.routes(), 1000);
        assert!(stats.done_at.get().is_some());
        let eor = Update::end_of_rib_marker(Family::Evpn).encode(&DecodeCxt::default());
        count_update(&eor, &mut seen, &stats);
        assert!(stats.eor.load(Ordering::Relaxed));
        assert!(w.messages >= 10);
    }

    #[test]
    fn own_process_cpu_and_rss_are_readable() {
        let me = std::process::id();
        assert!(cpu_seconds(me).is_some());
        assert!(status_kib(me, "VmHWM").unwrap_or(0) > 0);
    }
}
