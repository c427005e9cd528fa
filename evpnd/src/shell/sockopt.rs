//! Socket options for BGP transport security: TCP-MD5 (RFC 2385) and GTSM
//! (RFC 5082), set with `setsockopt(2)` on raw file descriptors.
//!
//! Both work on listening sockets and on connected (or about to connect)
//! sockets:
//!
//! - `TCP_MD5SIG` installs a key for one peer address. On a listener the key is
//!   inherited by the connections it accepts from that address; the kernel
//!   signs our segments and silently drops the peer's segments whose
//!   signature is missing or wrong (no RST), counting them in `nstat`
//!   `TcpExtTCPMD5Failure` / `TCPMD5NotFound` / `TCPMD5Unexpected`. A key of
//!   length 0 removes the entry.
//! - GTSM sends with TTL (hop limit) 255 and sets `IP_MINTTL` /
//!   `IPV6_MINHOPCOUNT` to `256 - hops`: the kernel drops every received
//!   segment whose TTL is lower, i.e. from a sender more than `hops` routers away
//!   (every router on the way decrements the 255 the peer sent).

use std::io;
use std::mem;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::RawFd;

/// `TCP_MD5SIG_MAXKEYLEN` in `include/uapi/linux/tcp.h`.
pub const MD5_MAX_KEY_LEN: usize = 80;

/// `struct tcp_md5sig` from `include/uapi/linux/tcp.h` (not exported by `libc`).
///
/// ```c
/// struct tcp_md5sig {
///     struct __kernel_sockaddr_storage tcpm_addr; /* address associated */
///     __u8  tcpm_flags;                           /* extension flags */
///     __u8  tcpm_prefixlen;                       /* address prefix */
///     __u16 tcpm_keylen;                          /* key length */
///     int   tcpm_ifindex;                         /* device index for scope */
///     __u8  tcpm_key[TCP_MD5SIG_MAXKEYLEN];       /* key (binary) */
/// };
/// ```
#[repr(C)]
struct TcpMd5Sig {
    tcpm_addr: libc::sockaddr_storage,
    tcpm_flags: u8,
    tcpm_prefixlen: u8,
    tcpm_keylen: u16,
    tcpm_ifindex: libc::c_int,
    tcpm_key: [u8; MD5_MAX_KEY_LEN],
}

/// Which address family a socket was created with: an IPv4 peer address is
/// written as a v4-mapped IPv6 address into an `AF_INET6` socket's MD5 table,
/// because the kernel looks keys up by the socket's own family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketFamily {
    V4,
    V6,
}

impl SocketFamily {
    pub fn of(addr: &SocketAddr) -> Self {
        if addr.is_ipv4() {
            SocketFamily::V4
        } else {
            SocketFamily::V6
        }
    }
}

/// Fill a `sockaddr_storage` with `peer` (port 0) in the socket's family.
fn sockaddr_for(peer: IpAddr, family: SocketFamily) -> io::Result<libc::sockaddr_storage> {
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut ss: libc::sockaddr_storage = unsafe { mem::zeroed() };
    match (peer, family) {
        (IpAddr::V4(a), SocketFamily::V4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in.
            unsafe { std::ptr::write(std::ptr::addr_of_mut!(ss).cast::<libc::sockaddr_in>(), sin) };
        }
        (IpAddr::V6(_), SocketFamily::V6) | (IpAddr::V4(_), SocketFamily::V6) => {
            let v6 = match peer {
                IpAddr::V4(a) => a.to_ipv6_mapped(),
                IpAddr::V6(a) => a,
            };
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned for sockaddr_in6.
            unsafe {
                std::ptr::write(
                    std::ptr::addr_of_mut!(ss).cast::<libc::sockaddr_in6>(),
                    sin6,
                )
            };
        }
        (IpAddr::V6(a), SocketFamily::V4) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("IPv6 peer {a} on an IPv4 socket"),
            ))
        }
    }
    Ok(ss)
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    let len = libc::socklen_t::try_from(mem::size_of::<T>())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "option too large"))?;
    // SAFETY: `value` points to a live, initialized T of `len` bytes; the kernel
    // only reads it. An invalid fd yields EBADF, not undefined behaviour.
    let rc = unsafe { libc::setsockopt(fd, level, name, (value as *const T).cast(), len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Install (`Some(key)`) or remove (`None`) the TCP-MD5 key for `peer` on `fd`.
pub fn set_md5_key(
    fd: RawFd,
    family: SocketFamily,
    peer: IpAddr,
    key: Option<&str>,
) -> io::Result<()> {
    let key = key.unwrap_or("").as_bytes();
    if key.len() > MD5_MAX_KEY_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "TCP-MD5 key for {peer} is {} octets, at most {MD5_MAX_KEY_LEN}",
                key.len()
            ),
        ));
    }
    let mut sig = TcpMd5Sig {
        tcpm_addr: sockaddr_for(peer, family)?,
        tcpm_flags: 0,
        tcpm_prefixlen: 0,
        tcpm_keylen: key.len() as u16,
        tcpm_ifindex: 0,
        tcpm_key: [0; MD5_MAX_KEY_LEN],
    };
    sig.tcpm_key[..key.len()].copy_from_slice(key);
    match setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_MD5SIG, &sig) {
        // Removing a key that was never installed: nothing to do.
        Err(e) if key.is_empty() && e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        r => r.map_err(|e| io::Error::new(e.kind(), format!("TCP_MD5SIG for peer {peer}: {e}"))),
    }
}

/// Set GTSM on `fd`: send with TTL/hop limit 255 and accept only segments that
/// arrive with at least `256 - hops`. `hops = None` restores the defaults
/// (system TTL, no minimum).
pub fn set_gtsm(fd: RawFd, family: SocketFamily, hops: Option<u8>) -> io::Result<()> {
    let (ttl, min): (libc::c_int, libc::c_int) = match hops {
        Some(h) => (255, 256 - libc::c_int::from(h.max(1))),
        // -1 selects the route's / sysctl default TTL; 0 disables the check.
        None => (-1, 0),
    };
    let r = match family {
        SocketFamily::V4 => setsockopt(fd, libc::IPPROTO_IP, libc::IP_TTL, &ttl)
            .and_then(|()| setsockopt(fd, libc::IPPROTO_IP, libc::IP_MINTTL, &min)),
        SocketFamily::V6 => setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &ttl)
            .and_then(|()| setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, &min)),
    };
    r.map_err(|e| io::Error::new(e.kind(), format!("GTSM (hops {hops:?}): {e}")))
}

/// Send with TTL / hop limit 255 without a receive minimum: for listeners,
/// whose SYN-ACKs must reach GTSM peers with TTL ≥ 256 - hops (the kernel
/// builds the SYN-ACK from the listener's settings) while other peers on the
/// same listener are not filtered. Sending with 255 harms nobody.
pub fn set_send_ttl_255(fd: RawFd, family: SocketFamily) -> io::Result<()> {
    let ttl: libc::c_int = 255;
    let r = match family {
        SocketFamily::V4 => setsockopt(fd, libc::IPPROTO_IP, libc::IP_TTL, &ttl),
        SocketFamily::V6 => setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, &ttl),
    };
    r.map_err(|e| io::Error::new(e.kind(), format!("TTL 255 for GTSM: {e}")))
}

/// `IPV6_V6ONLY`, so that `[::]:179` and `0.0.0.0:179` can both be bound and
/// each IPv4 peer's MD5 key lives on the IPv4 listener.
pub fn set_v6only(fd: RawFd) -> io::Result<()> {
    let one: libc::c_int = 1;
    setsockopt(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, &one)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn tcp_md5sig_has_the_kernel_layout() {
        assert_eq!(mem::size_of::<TcpMd5Sig>(), 216);
    }

    #[test]
    fn md5_key_installs_and_removes_on_a_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let peer: IpAddr = "127.0.0.2".parse().unwrap();
        set_md5_key(l.as_raw_fd(), SocketFamily::V4, peer, Some("secret")).unwrap();
        set_md5_key(l.as_raw_fd(), SocketFamily::V4, peer, None).unwrap();
        // Removing twice is not an error.
        set_md5_key(l.as_raw_fd(), SocketFamily::V4, peer, None).unwrap();
    }

    #[test]
    fn md5_key_longer_than_80_octets_is_refused() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let key = "k".repeat(81);
        let e = set_md5_key(
            l.as_raw_fd(),
            SocketFamily::V4,
            "127.0.0.2".parse().unwrap(),
            Some(&key),
        )
        .unwrap_err();
        assert!(e.to_string().contains("127.0.0.2"), "{e}");
    }

    #[test]
    fn ipv4_peer_key_on_an_ipv6_socket_is_v4_mapped() {
        let l = std::net::TcpListener::bind("[::1]:0").unwrap();
        set_md5_key(
            l.as_raw_fd(),
            SocketFamily::V6,
            "192.0.2.1".parse().unwrap(),
            Some("k"),
        )
        .unwrap();
    }

    #[test]
    fn gtsm_sets_ttl_255_and_min_ttl() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        set_gtsm(l.as_raw_fd(), SocketFamily::V4, Some(1)).unwrap();
        let mut v: libc::c_int = 0;
        let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: v and len are valid for the kernel to write.
        let rc = unsafe {
            libc::getsockopt(
                l.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_MINTTL,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        assert_eq!(rc, 0);
        assert_eq!(v, 255);
        set_gtsm(l.as_raw_fd(), SocketFamily::V4, None).unwrap();
    }
}
