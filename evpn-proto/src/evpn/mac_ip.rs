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
    /// This is the hot path of a full-table transfer, so fields are read at
    /// fixed offsets of the 30-octet head (bounds known at compile time) and
    /// the tail is matched against the only valid shapes.
    #[inline(always)]
    pub fn read_body(body: &[u8]) -> Result<Self, NlriError> {
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
