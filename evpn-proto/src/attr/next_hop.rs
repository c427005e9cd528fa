//! NEXT_HOP (RFC 4271 type 3, §5.1.3) and the martian next-hop test shared
//! with MP_REACH_NLRI next hops.
//!
//! ```text
//! +-------------------------------+
//! | IPv4 address (4 octets)       |
//! +-------------------------------+
//! ```
//!
//! RFC 7606 §7.3: length other than 4 → treat-as-withdraw. A syntactically
//! correct but martian address (RFC 4271 §6.3: "semantically incorrect")
//! means the routes are not used, without a NOTIFICATION; evpnd treats the
//! UPDATE as a withdraw (FRR 10.4–10.6 reset sessions here, causing flaps).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Malformed;

pub fn decode_next_hop(value: &[u8]) -> Result<Ipv4Addr, Malformed> {
    match value {
        &[a, b, c, d] => Ok(Ipv4Addr::new(a, b, c, d)),
        _ => Err(Malformed::length("NEXT_HOP", value.len(), "4")),
    }
}

/// An IPv4 address that can never be a next hop: 0.0.0.0/8, loopback
/// 127/8, multicast 224/4, reserved 240/4 (incl. broadcast).
pub fn is_martian_v4(a: Ipv4Addr) -> bool {
    let o = a.octets()[0];
    o == 0 || o == 127 || o >= 224
}

/// An IPv6 address that can never be a global next hop: unspecified,
/// loopback, multicast.
pub fn is_martian_v6(a: Ipv6Addr) -> bool {
    a.is_unspecified() || a.is_loopback() || a.is_multicast()
}

pub fn is_martian(a: IpAddr) -> bool {
    match a {
        IpAddr::V4(a) => is_martian_v4(a),
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => is_martian_v4(v4),
            None => is_martian_v6(a),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn martians() {
        for m in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "224.0.0.5",
            "255.255.255.255",
            "::",
            "ff02::1",
            "::ffff:0.0.0.0",
        ] {
            assert!(is_martian(m.parse().unwrap()), "{m}");
        }
        for ok in [
            "10.0.0.1",
            "192.0.2.1",
            "223.255.255.254",
            "2001:db8::1",
            "fe80::1",
        ] {
            assert!(!is_martian(ok.parse().unwrap()), "{ok}");
        }
    }

    #[test]
    fn length_must_be_4() {
        assert_eq!(
            decode_next_hop(&[10, 0, 0, 1]).unwrap(),
            Ipv4Addr::new(10, 0, 0, 1)
        );
        assert_eq!(decode_next_hop(&[10, 0, 0]).unwrap_err().subcode, 5);
        assert_eq!(decode_next_hop(&[10, 0, 0, 1, 0]).unwrap_err().subcode, 5);
    }
}
