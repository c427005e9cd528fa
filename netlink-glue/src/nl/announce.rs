//! Gratuitous ARP (RFC 5227 §3 announcement) and unsolicited Neighbour
//! Advertisement (RFC 4861 §7.2.6) for an anycast gateway address, sent as
//! raw frames on the SVI so hosts update their caches at once.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use evpn_proto::Mac;

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;

/// An ARP request with sender = target = `ip` from `mac`, broadcast.
pub fn garp_frame(mac: Mac, ip: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&1u16.to_be_bytes()); // htype Ethernet
    f.extend_from_slice(&0x0800u16.to_be_bytes()); // ptype IPv4
    f.push(6);
    f.push(4);
    f.extend_from_slice(&1u16.to_be_bytes()); // op request
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&ip.octets());
    f
}

/// The Internet checksum (RFC 1071) over `parts` taken as one byte string
/// (every part but the last must have an even length).
pub fn inet_checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for b in parts {
        for c in b.chunks(2) {
            let w = if c.len() == 2 {
                u16::from_be_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], 0])
            };
            sum += u32::from(w);
        }
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn icmpv6_checksum(src: &Ipv6Addr, dst: &Ipv6Addr, body: &[u8]) -> u16 {
    let len = (body.len() as u32).to_be_bytes();
    inet_checksum(&[&src.octets(), &dst.octets(), &len, &[0, 0, 0, 58], body])
}

/// An unsolicited NA for `ip` (Router and Override flags set: the gateway
/// is a router and the entry must replace a stale one) to all-nodes.
pub fn unsolicited_na_frame(mac: Mac, ip: Ipv6Addr) -> Vec<u8> {
    let dst = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let mut icmp = Vec::with_capacity(32);
    icmp.push(136); // Neighbor Advertisement
    icmp.push(0);
    icmp.extend_from_slice(&[0, 0]); // checksum
    icmp.extend_from_slice(&[0xa0, 0, 0, 0]); // R | O
    icmp.extend_from_slice(&ip.octets());
    icmp.push(2); // Target Link-Layer Address option
    icmp.push(1);
    icmp.extend_from_slice(&mac.0);
    let c = icmpv6_checksum(&ip, &dst, &icmp);
    icmp[2..4].copy_from_slice(&c.to_be_bytes());

    let mut f = Vec::with_capacity(14 + 40 + icmp.len());
    f.extend_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f.extend_from_slice(&mac.0);
    f.extend_from_slice(&ETH_P_IPV6.to_be_bytes());
    f.extend_from_slice(&[0x60, 0, 0, 0]);
    f.extend_from_slice(&(icmp.len() as u16).to_be_bytes());
    f.push(58);
    f.push(255);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(&icmp);
    f
}

/// Sends one Ethernet frame on `ifindex` (the frame carries its own header).
pub fn send_frame(ifindex: u32, frame: &[u8]) -> io::Result<()> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh socket we own from here on.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_ll is plain old data; all-zero is a valid value.
    let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    addr.sll_family = libc::AF_PACKET as u16;
    addr.sll_ifindex = ifindex as i32;
    addr.sll_halen = 6;
    addr.sll_addr[..6].copy_from_slice(&frame[..6]);
    // SAFETY: `frame` and `addr` are valid for the lengths passed.
    let n = unsafe {
        libc::sendto(
            sock.as_raw_fd(),
            frame.as_ptr().cast(),
            frame.len(),
            0,
            (&addr as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garp_has_sender_equal_target() {
        let f = garp_frame(Mac([0, 0, 0x5e, 0, 1, 1]), Ipv4Addr::new(10, 1, 0, 1));
        assert_eq!(f.len(), 42);
        assert_eq!(&f[28..32], &[10, 1, 0, 1]);
        assert_eq!(&f[38..42], &[10, 1, 0, 1]);
    }

    #[test]
    fn na_checksum_verifies() {
        let ip: Ipv6Addr = "fd00:1::1".parse().unwrap();
        let f = unsolicited_na_frame(Mac([0, 0, 0x5e, 0, 1, 1]), ip);
        let icmp = &f[54..];
        let dst: Ipv6Addr = "ff02::1".parse().unwrap();
        // Summing with the checksum in place yields 0 after complement.
        assert_eq!(icmpv6_checksum(&ip, &dst, icmp), 0);
    }
}
