//! An ICMP echo prober with millisecond resolution: a thread in a
//! namespace sends an echo request to each target every `interval` (1 ms by
//! default) on a raw socket and records, per request, when it was sent and
//! when its reply came. The kernel of the target answers; nothing runs
//! there. Loss is then read per time window ([`Prober::lost_between`]).
//!
//! Bounded: at most `max_rounds` rounds (then the thread stops sending),
//! a stop flag checked every round, joined on drop.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::netns::Netns;

/// One echo request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub target: usize,
    pub sent: Instant,
    pub reply: Option<Instant>,
}

#[derive(Debug, Default)]
struct Shared {
    probes: Mutex<Vec<Probe>>,
    stop: AtomicBool,
    paused: AtomicBool,
}

/// A running prober; stopped and joined on drop.
#[derive(Debug)]
pub struct Prober {
    pub targets: Vec<Ipv4Addr>,
    pub interval: Duration,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Echo identifier: distinct per prober in this process.
fn next_id() -> u16 {
    static N: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0x4500);
    N.fetch_add(1, Ordering::Relaxed)
}

/// An echo request: id, sequence (low 16 bits) and the full round index in
/// the payload (so 16-bit wrap-around does not matter).
fn echo(id: u16, index: u32) -> [u8; 16] {
    let mut p = [0u8; 16];
    p[0] = 8;
    p[4..6].copy_from_slice(&id.to_be_bytes());
    p[6..8].copy_from_slice(&(index as u16).to_be_bytes());
    p[8..12].copy_from_slice(&index.to_be_bytes());
    let c = netlink_glue::nl::announce::inet_checksum(&[&p]);
    p[2..4].copy_from_slice(&c.to_be_bytes());
    p
}

impl Prober {
    /// Probe `targets` from `ns` every `interval`, at most `max_rounds`
    /// rounds.
    pub fn start(
        ns: &Netns,
        targets: &[Ipv4Addr],
        interval: Duration,
        max_rounds: u32,
    ) -> Result<Prober> {
        let path = format!("/run/netns/{}", ns.name());
        let shared = Arc::new(Shared::default());
        let sh = Arc::clone(&shared);
        let tg = targets.to_vec();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("probe-{}", ns.name()))
            .spawn(move || match open(&path) {
                Ok(fd) => {
                    let _ = tx.send(Ok(()));
                    run(&fd, &tg, interval, max_rounds, &sh);
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            })
            .context("spawn the prober")?;
        let p = Prober {
            targets: targets.to_vec(),
            interval,
            shared,
            thread: Some(thread),
        };
        rx.recv_timeout(Duration::from_secs(5))
            .context("the prober did not report")??;
        Ok(p)
    }

    /// Every probe so far.
    pub fn probes(&self) -> Vec<Probe> {
        self.shared
            .probes
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// Probes to `target` sent in `[from, to)` that got no reply within
    /// `grace` of being sent, and how many were sent.
    pub fn lost_between(
        &self,
        target: usize,
        from: Instant,
        to: Instant,
        grace: Duration,
    ) -> (usize, usize) {
        let ps = self.probes();
        let mut sent = 0;
        let mut lost = 0;
        for p in ps
            .iter()
            .filter(|p| p.target == target && p.sent >= from && p.sent < to)
        {
            sent += 1;
            if p.reply.is_none_or(|r| r.duration_since(p.sent) > grace) {
                lost += 1;
            }
        }
        (lost, sent)
    }

    /// Pause (no probes sent, none recorded) or resume: a VM that is
    /// paused for the final phase of a live migration sends nothing.
    pub fn pause(&self, paused: bool) {
        self.shared.paused.store(paused, Ordering::Relaxed);
    }

    /// Stop sending (the thread ends within one interval).
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn open(path: &str) -> Result<OwnedFd> {
    let ns = std::fs::File::open(path).with_context(|| format!("open {path}"))?;
    // SAFETY: setns on an open namespace fd; only this thread changes.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error()).context("setns");
    }
    // SAFETY: socket(2); owned right after the check.
    let raw = unsafe {
        libc::socket(
            libc::AF_INET,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            libc::IPPROTO_ICMP,
        )
    };
    if raw < 0 {
        return Err(std::io::Error::last_os_error()).context("raw ICMP socket");
    }
    // SAFETY: a fresh fd we own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // Requests to a target whose ARP is unresolved wait in the kernel's
    // neighbour queue and count against our send buffer: a large one keeps
    // them from blocking the probes to the other targets.
    let size: libc::c_int = 8 << 20;
    // SAFETY: an int option, its size passed. Failure keeps the default.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    Ok(fd)
}

fn send_to(fd: &OwnedFd, dst: Ipv4Addr, pkt: &[u8]) {
    // SAFETY: sockaddr_in is plain data; zero is valid.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as u16;
    sa.sin_addr.s_addr = u32::from_ne_bytes(dst.octets());
    // SAFETY: buffers valid for the lengths given. A failed send (no
    // route, ARP not resolved yet) is a lost probe, nothing more.
    unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            pkt.as_ptr().cast(),
            pkt.len(),
            0,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
    }
}

fn run(fd: &OwnedFd, targets: &[Ipv4Addr], interval: Duration, max_rounds: u32, sh: &Shared) {
    let id = next_id();
    let start = Instant::now();
    let mut buf = [0u8; 2048];
    for round in 0..max_rounds {
        if sh.stop.load(Ordering::Relaxed) {
            return;
        }
        let due = start + interval * round;
        // Until the round is due, read replies.
        loop {
            let now = Instant::now();
            if now >= due {
                break;
            }
            let wait_ms = due.duration_since(now).as_micros().div_ceil(1000) as i32;
            let mut pfd = libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            unsafe { libc::poll(&mut pfd, 1, wait_ms.clamp(0, 1)) };
            drain(fd, &mut buf, id, sh);
        }
        if sh.paused.load(Ordering::Relaxed) {
            continue;
        }
        let sent = Instant::now();
        if let Ok(mut p) = sh.probes.lock() {
            for (t, dst) in targets.iter().enumerate() {
                let index = p.len() as u32;
                send_to(fd, *dst, &echo(id, index));
                p.push(Probe {
                    target: t,
                    sent,
                    reply: None,
                });
            }
        }
        drain(fd, &mut buf, id, sh);
    }
}

/// Reads every queued reply (IP header + ICMP echo reply of ours).
fn drain(fd: &OwnedFd, buf: &mut [u8], id: u16, sh: &Shared) {
    loop {
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n <= 0 {
            return;
        }
        let at = Instant::now();
        let pkt = &buf[..n as usize];
        let ihl = usize::from(pkt.first().map_or(0, |b| b & 0x0f)) * 4;
        let Some(icmp) = pkt.get(ihl..) else {
            continue;
        };
        if icmp.len() < 12 || icmp[0] != 0 || u16::from_be_bytes([icmp[4], icmp[5]]) != id {
            continue;
        }
        let index = u32::from_be_bytes([icmp[8], icmp[9], icmp[10], icmp[11]]) as usize;
        if let Ok(mut p) = sh.probes.lock() {
            if let Some(pr) = p.get_mut(index) {
                pr.reply.get_or_insert(at);
            }
        }
    }
}
