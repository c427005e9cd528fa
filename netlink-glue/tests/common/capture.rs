//! Frames on the wire, seen from a host namespace: an AF_PACKET capture
//! socket, the ARP request and IPv6 Neighbour Solicitation a host sends for
//! its gateway, and decoders for ARP and Neighbour Advertisements, so tests
//! can assert exactly which frames arrive (counts, MACs, flags).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use evpn_proto::Mac;
use netlink_glue::netns::Netns;
use netlink_glue::nl::announce;

const ETH_P_ALL: u16 = 0x0003;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;

/// An AF_PACKET socket bound to one device of a namespace that receives
/// every frame arriving on it (frames the namespace sends are skipped).
pub struct Capture {
    fd: OwnedFd,
}

impl Capture {
    /// Opens the socket inside `ns` (a packet socket belongs to the
    /// namespace it was created in); frames are read from any thread.
    pub fn open(ns: &Netns, dev: &str) -> Capture {
        let dev = std::ffi::CString::new(dev).unwrap();
        let fd = ns.run(move || {
            let proto = ETH_P_ALL.to_be();
            // SAFETY: plain socket(2) call; the result is checked.
            let fd = unsafe {
                libc::socket(
                    libc::AF_PACKET,
                    libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                    i32::from(proto),
                )
            };
            assert!(
                fd >= 0,
                "AF_PACKET socket: {}",
                std::io::Error::last_os_error()
            );
            // SAFETY: `fd` is a fresh socket we own from here on.
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            // SAFETY: NUL-terminated name.
            let idx = unsafe { libc::if_nametoindex(dev.as_ptr()) };
            assert!(idx > 0, "no device {dev:?}");
            // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
            let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            sa.sll_family = libc::AF_PACKET as u16;
            sa.sll_protocol = proto;
            sa.sll_ifindex = idx as i32;
            // SAFETY: `sa` is valid for the length passed.
            let rc = unsafe {
                libc::bind(
                    fd.as_raw_fd(),
                    (&sa as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            assert_eq!(rc, 0, "bind: {}", std::io::Error::last_os_error());
            fd
        });
        Capture { fd }
    }

    /// Every frame received from now until `ms` milliseconds have passed.
    pub fn frames(&self, ms: u64) -> Vec<Vec<u8>> {
        let end = Instant::now() + Duration::from_millis(ms);
        let mut out = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return out;
            }
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) };
            if n <= 0 {
                continue;
            }
            // SAFETY: sockaddr_ll is plain old data; all-zero is valid.
            let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            // SAFETY: `buf` and `sa` are valid for the lengths passed.
            let r = unsafe {
                libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                    (&mut sa as *mut libc::sockaddr_ll).cast(),
                    &mut len,
                )
            };
            if r > 0 && sa.sll_pkttype != libc::PACKET_OUTGOING {
                out.push(buf[..r as usize].to_vec());
            }
        }
    }
}

/// Sends one frame from `dev` of `ns`.
pub fn send_from(ns: &Netns, dev: &str, frame: Vec<u8>) {
    let dev = std::ffi::CString::new(dev).unwrap();
    ns.run(move || {
        // SAFETY: NUL-terminated name.
        let idx = unsafe { libc::if_nametoindex(dev.as_ptr()) };
        assert!(idx > 0, "no device {dev:?}");
        announce::send_frame(idx, &frame).unwrap();
    });
}

/// A decoded ARP frame (Ethernet + RFC 826 body).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arp {
    pub eth_dst: Mac,
    pub eth_src: Mac,
    /// 1 request, 2 reply.
    pub op: u16,
    pub sha: Mac,
    pub spa: Ipv4Addr,
    pub tha: Mac,
    pub tpa: Ipv4Addr,
}

fn mac_at(f: &[u8], at: usize) -> Mac {
    let mut m = [0u8; 6];
    m.copy_from_slice(&f[at..at + 6]);
    Mac(m)
}

fn v4_at(f: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(f[at], f[at + 1], f[at + 2], f[at + 3])
}

fn v6_at(f: &[u8], at: usize) -> Ipv6Addr {
    let mut o = [0u8; 16];
    o.copy_from_slice(&f[at..at + 16]);
    Ipv6Addr::from(o)
}

pub fn arp(f: &[u8]) -> Option<Arp> {
    if f.len() < 42 || u16::from_be_bytes([f[12], f[13]]) != ETH_P_ARP {
        return None;
    }
    Some(Arp {
        eth_dst: mac_at(f, 0),
        eth_src: mac_at(f, 6),
        op: u16::from_be_bytes([f[20], f[21]]),
        sha: mac_at(f, 22),
        spa: v4_at(f, 28),
        tha: mac_at(f, 32),
        tpa: v4_at(f, 38),
    })
}

/// A decoded Neighbour Advertisement (RFC 4861 §4.4), IPv6 header without
/// extension headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Na {
    pub eth_dst: Mac,
    pub eth_src: Mac,
    pub ip_src: Ipv6Addr,
    pub ip_dst: Ipv6Addr,
    pub hop_limit: u8,
    pub router: bool,
    pub solicited: bool,
    pub override_: bool,
    pub target: Ipv6Addr,
    /// Target Link-Layer Address option.
    pub tlla: Option<Mac>,
    /// The ICMPv6 checksum verifies.
    pub checksum_ok: bool,
}

fn icmpv6_sum_ok(src: &Ipv6Addr, dst: &Ipv6Addr, body: &[u8]) -> bool {
    let len = (body.len() as u32).to_be_bytes();
    announce::inet_checksum(&[&src.octets(), &dst.octets(), &len, &[0, 0, 0, 58], body]) == 0
}

pub fn na(f: &[u8]) -> Option<Na> {
    if f.len() < 14 + 40 + 24 || u16::from_be_bytes([f[12], f[13]]) != ETH_P_IPV6 || f[20] != 58 {
        return None;
    }
    let plen = usize::from(u16::from_be_bytes([f[18], f[19]]));
    let icmp = f.get(54..54 + plen)?;
    if icmp.len() < 24 || icmp[0] != 136 {
        return None;
    }
    let (src, dst) = (v6_at(f, 22), v6_at(f, 38));
    let mut tlla = None;
    let mut opts = &icmp[24..];
    while opts.len() >= 8 {
        let len = usize::from(opts[1]) * 8;
        if len == 0 || len > opts.len() {
            break;
        }
        if opts[0] == 2 && len == 8 {
            tlla = Some(mac_at(opts, 2));
        }
        opts = &opts[len..];
    }
    Some(Na {
        eth_dst: mac_at(f, 0),
        eth_src: mac_at(f, 6),
        ip_src: src,
        ip_dst: dst,
        hop_limit: f[21],
        router: icmp[4] & 0x80 != 0,
        solicited: icmp[4] & 0x40 != 0,
        override_: icmp[4] & 0x20 != 0,
        target: v6_at(icmp, 8),
        tlla,
        checksum_ok: icmpv6_sum_ok(&src, &dst, icmp),
    })
}

/// "Who has `target`? Tell `ip`", broadcast from `mac`.
pub fn arp_request(mac: Mac, ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 1]);
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f
}

/// A Neighbour Solicitation for `target` from `ip`/`mac` to the target's
/// solicited-node multicast group, with the Source Link-Layer option.
pub fn neighbour_solicitation(mac: Mac, ip: Ipv6Addr, target: Ipv6Addr) -> Vec<u8> {
    let t = target.octets();
    let dst = Ipv6Addr::new(
        0xff02,
        0,
        0,
        0,
        0,
        1,
        0xff00 | u16::from(t[13]),
        u16::from_be_bytes([t[14], t[15]]),
    );
    let mut icmp = vec![135, 0, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&t);
    icmp.extend_from_slice(&[1, 1]);
    icmp.extend_from_slice(&mac.0);
    let len = (icmp.len() as u32).to_be_bytes();
    let c = announce::inet_checksum(&[&ip.octets(), &dst.octets(), &len, &[0, 0, 0, 58], &icmp]);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let mut f = vec![0x33, 0x33, 0xff, t[13], t[14], t[15]];
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    f.extend_from_slice(&[58, 255]);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&icmp);
    f
}
