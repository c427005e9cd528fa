//! Route type 2, MAC/IP Advertisement (RFC 7432 §7.2; RFC 8365 for VXLAN,
//! RFC 9135 for the IRB use of Label2).

use std::fmt;
use std::net::IpAddr;

use super::{bad, ip_bits, route_type, write_ip, EvpnKey, Fixed};
use crate::error::NlriError;
use crate::reader::WriteExt;
use crate::types::{Esi, Label, Mac, Rd};

/// A MAC/IP Advertisement route.
///
/// ```text
/// +---------------------------------------+
/// |  RD (8 octets)                        |
/// +---------------------------------------+
/// |Ethernet Segment Identifier (10 octets)|
/// +---------------------------------------+
/// |  Ethernet Tag ID (4 octets)           |
/// +---------------------------------------+
/// |  MAC Address Length (1 octet)         |   always 48
/// +---------------------------------------+
/// |  MAC Address (6 octets)               |
/// +---------------------------------------+
/// |  IP Address Length (1 octet)          |   0, 32 or 128
/// +---------------------------------------+
/// |  IP Address (0, 4, or 16 octets)      |
/// +---------------------------------------+
/// |  MPLS Label1 (3 octets)               |   L2 VNI for VXLAN
/// +---------------------------------------+
/// |  MPLS Label2 (0 or 3 octets)          |   L3 VNI (symmetric IRB)
/// +---------------------------------------+
/// ```
///
/// Body length is 33 + IP length / 8, or 3 more with Label2; nothing else
/// is accepted. Withdraws from some peers carry Label1 = 0 and no Label2;
/// decoding is length-driven so they decode like any other.
///
/// Route key (RFC 7432 §7.2): RD, Ethernet Tag, MAC, IP. The ESI and the
/// labels are attributes of the route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacIp {
    pub rd: Rd,
    pub esi: Esi,
    pub eth_tag: u32,
    pub mac: Mac,
    pub ip: Option<IpAddr>,
    pub label1: Label,
    pub label2: Option<Label>,
}

/// RD + ESI + Ethernet Tag + MAC length + MAC + IP length: the fixed head.
const HEAD_LEN: usize = 8 + 10 + 4 + 1 + 6 + 1;
/// The head plus Label1, without an IP address.
const BASE_LEN: usize = HEAD_LEN + 3;
const MAC_BITS: u8 = 48;

/// The body is not 33 or 36 octets plus IP Address Length / 8.
#[cold]
#[inline(never)]
fn length_error(len: usize, ip_len: u8) -> NlriError {
    let base = BASE_LEN + usize::from(ip_len / 8);
    bad(
        MacIp::ROUTE_TYPE,
        format_args!(
            "length {len} with IP address length {ip_len}, must be {base} or {}",
            base + 3
        ),
    )
}

impl MacIp {
    pub const ROUTE_TYPE: u8 = route_type::MAC_IP;

    /// The BGP route key: RD, Ethernet Tag, MAC, IP.
    pub fn key(&self) -> EvpnKey {
        EvpnKey::MacIp {
            rd: self.rd,
            eth_tag: self.eth_tag,
            mac: self.mac,
            ip: self.ip,
        }
    }

    /// Decode a body of exactly the NLRI's Length octets.
    ///
    /// This is the hot path of a full-table transfer. The commonest shape
    /// is taken first as one fixed-size array (`MacIp::fixed`: every
    /// offset and bound known at compile time, two octets checked). Every
    /// other body — other shapes, and a 37-octet one whose MAC or IP
    /// Address Length disagrees — goes through `MacIp::read_general`,
    /// which reads the 30-octet head, matches the tail against the only
    /// valid shapes and words the error.
    #[inline(always)]
    pub fn read_body(body: &[u8]) -> Result<Self, NlriError> {
        // MAC + IPv4 with Label1: the most common shape of a full table.
        // Only this one: each further shape taken here merged into the same
        // store sequence and cost the first one more than it saved (129 →
        // 136 instructions per NLRI with two shapes, 146 with all six).
        match Self::fixed::<37, 32>(body) {
            Some(r) => Ok(r),
            None => Self::read_general(body),
        }
    }

    /// Any body: the head at fixed offsets, then the tail matched against
    /// the valid shapes; every error is worded here.
    #[inline(always)]
    fn read_general(body: &[u8]) -> Result<Self, NlriError> {
        const RT: u8 = route_type::MAC_IP;
        let Some((h, tail)) = body.split_first_chunk::<HEAD_LEN>() else {
            return Err(bad(
                RT,
                format_args!("length {}, shorter than the minimum 33", body.len()),
            ));
        };
        let mac_len = h[22];
        if mac_len != MAC_BITS {
            return Err(bad(
                RT,
                format_args!("MAC address length {mac_len}, must be 48"),
            ));
        }
        let ip_len = h[29];
        let (ip, labels) = match ip_len {
            0 => (None, tail),
            32 => match tail.split_first_chunk::<4>() {
                Some((a, rest)) => (Some(IpAddr::from(*a)), rest),
                None => return Err(length_error(body.len(), ip_len)),
            },
            128 => match tail.split_first_chunk::<16>() {
                Some((a, rest)) => (Some(IpAddr::from(*a)), rest),
                None => return Err(length_error(body.len(), ip_len)),
            },
            _ => {
                return Err(bad(
                    RT,
                    format_args!("IP address length {ip_len}, must be 0, 32 or 128"),
                ))
            }
        };
        // What is left decides Label2: 3 octets (Label1) or 6 (both);
        // anything else means Length disagrees with IP Address Length.
        let (label1, label2) = match *labels {
            [a, b, c] => (Label::from_bytes([a, b, c]), None),
            [a, b, c, d, e, f] => (
                Label::from_bytes([a, b, c]),
                Some(Label::from_bytes([d, e, f])),
            ),
            _ => return Err(length_error(body.len(), ip_len)),
        };
        Ok(Self {
            rd: Rd::from_bytes(h.at::<0, 8>()),
            esi: Esi(h.at::<8, 10>()),
            eth_tag: u32::from_be_bytes(h.at::<18, 4>()),
            mac: Mac(h.at::<23, 6>()),
            ip,
            label1,
            label2,
        })
    }

    /// One valid shape: a body of `N` octets with IP Address Length `IP`
    /// (0, 32 or 128) and Label1, plus Label2 when `N` has room for it.
    /// `None` when the body is not exactly that (the general path decides).
    #[inline(always)]
    fn fixed<const N: usize, const IP: u8>(body: &[u8]) -> Option<Self> {
        const {
            let base = BASE_LEN + IP as usize / 8;
            assert!(N == base || N == base + 3, "not an RT-2 shape");
        };
        let b = <&[u8; N]>::try_from(body).ok()?;
        if b[22] != MAC_BITS || b[29] != IP {
            return None;
        }
        // Offsets below are constants once `N` and `IP` are: the `?`s on
        // `get` are decided at compile time and never taken.
        let labels = HEAD_LEN + usize::from(IP / 8);
        let ip = match IP {
            32 => Some(IpAddr::from(*b.get(HEAD_LEN..)?.first_chunk::<4>()?)),
            128 => Some(IpAddr::from(*b.get(HEAD_LEN..)?.first_chunk::<16>()?)),
            _ => None,
        };
        let label = |at: usize| {
            b.get(at..)?
                .first_chunk::<3>()
                .copied()
                .map(Label::from_bytes)
        };
        Some(Self {
            rd: Rd::from_bytes(b.at::<0, 8>()),
            esi: Esi(b.at::<8, 10>()),
            eth_tag: u32::from_be_bytes(b.at::<18, 4>()),
            mac: Mac(b.at::<23, 6>()),
            ip,
            label1: label(labels)?,
            label2: if N == labels + 6 {
                Some(label(labels + 3)?)
            } else {
                None
            },
        })
    }

    /// Append the body (without route type and length octets).
    pub fn write_body(&self, out: &mut Vec<u8>) {
        self.rd.write(out);
        self.esi.write(out);
        out.put_u32(self.eth_tag);
        out.push(MAC_BITS);
        out.extend_from_slice(&self.mac.0);
        match &self.ip {
            None => out.push(0),
            Some(ip) => {
                out.push(ip_bits(ip));
                write_ip(ip, out);
            }
        }
        self.label1.write(out);
        if let Some(l2) = self.label2 {
            l2.write(out);
        }
    }
}

/// `[2]:[EthTag]:[48]:[MAC]` and, with an IP, `:[IPlen]:[IP]` (FRR's form).
/// `{:#}` prefixes the RD and appends ESI and labels.
impl fmt::Display for MacIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            write!(f, "{} ", self.rd)?;
        }
        write!(f, "[2]:[{}]:[48]:[{}]", self.eth_tag, self.mac)?;
        if let Some(ip) = &self.ip {
            write!(f, ":[{}]:[{ip}]", ip_bits(ip))?;
        }
        if f.alternate() {
            write!(f, " esi {} label {}", self.esi, self.label1.raw())?;
            if let Some(l2) = self.label2 {
                write!(f, "/{}", l2.raw())?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pseudo-random bodies of one shape, MAC and IP Address Length set.
    fn bodies<const N: usize>(ip_bits: u8) -> impl Iterator<Item = [u8; N]> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ N as u64;
        (0..500).map(move |_| {
            let mut b = [0u8; N];
            for o in &mut b {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *o = x as u8;
            }
            // Every RD type: 0, 1, 2 and others.
            b[0] = 0;
            b[1] %= 4;
            b[22] = MAC_BITS;
            b[29] = ip_bits;
            b
        })
    }

    fn same_as_general<const N: usize, const IP: u8>() {
        for b in bodies::<N>(IP) {
            let general = MacIp::read_general(&b).unwrap();
            assert_eq!(MacIp::fixed::<N, IP>(&b), Some(general), "{b:?}");
            assert_eq!(MacIp::read_body(&b).unwrap(), general);
            // Wrong MAC or IP Address Length octet: not this shape.
            let mut c = b;
            c[22] = 47;
            assert_eq!(MacIp::fixed::<N, IP>(&c), None);
            let mut c = b;
            c[29] = IP ^ 0x20;
            assert_eq!(MacIp::fixed::<N, IP>(&c), None);
        }
        // Any other length is not this shape either.
        assert_eq!(MacIp::fixed::<N, IP>(&[0; 38]), None);
    }

    /// The fixed-shape reader agrees with the general one on every valid
    /// shape, not only the one `read_body` takes it for.
    #[test]
    fn fixed_shapes_decode_like_the_general_path() {
        same_as_general::<33, 0>();
        same_as_general::<36, 0>();
        same_as_general::<37, 32>();
        same_as_general::<40, 32>();
        same_as_general::<49, 128>();
        same_as_general::<52, 128>();
    }
}
