//! Route type 4, Ethernet Segment (RFC 7432 §7.4): discovery of the PEs
//! attached to one multihomed segment, for designated-forwarder election
//! (§8.5). Imported by the ES-Import Route Target extended community.

use std::fmt;
use std::net::IpAddr;

use super::{bad, exact_ip, ip_bits, route_type, write_ip, EvpnKey, Fixed};
use crate::error::NlriError;
use crate::types::{Esi, Rd};

/// An Ethernet Segment route.
///
/// ```text
/// +---------------------------------------+
/// |  RD (8 octets)                        |
/// +---------------------------------------+
/// |Ethernet Segment Identifier (10 octets)|
/// +---------------------------------------+
/// |  IP Address Length (1 octet)          |   32 or 128
/// +---------------------------------------+
/// |  Originating Router's IP Address      |
/// |          (4 or 16 octets)             |
/// +---------------------------------------+
/// ```
///
/// Body length is 19 + IP length / 8: 23 or 35.
///
/// Route key (RFC 7432 §7.4): every field (RD, ESI, originator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetSegment {
    pub rd: Rd,
    pub esi: Esi,
    pub originator: IpAddr,
}

/// RD + ESI + IP length.
const HEAD_LEN: usize = 8 + 10 + 1;

impl EthernetSegment {
    pub const ROUTE_TYPE: u8 = route_type::ETHERNET_SEGMENT;

    pub fn key(&self) -> EvpnKey {
        EvpnKey::EthernetSegment {
            rd: self.rd,
            esi: self.esi,
            originator: self.originator,
        }
    }

    /// Decode a body of exactly the NLRI's Length octets.
    #[inline(always)]
    pub fn read_body(body: &[u8]) -> Result<Self, NlriError> {
        const RT: u8 = route_type::ETHERNET_SEGMENT;
        let Some((h, tail)) = body.split_first_chunk::<HEAD_LEN>() else {
            return Err(bad(
                RT,
                format_args!("length {}, must be 23 or 35", body.len()),
            ));
        };
        let ip_len = h[18];
        if !matches!(ip_len, 32 | 128) {
            return Err(bad(
                RT,
                format_args!("IP address length {ip_len}, must be 32 or 128"),
            ));
        }
        let Some(originator) = exact_ip(ip_len, tail) else {
            return Err(bad(
                RT,
                format_args!(
                    "length {} with IP address length {ip_len}, must be {}",
                    body.len(),
                    HEAD_LEN + usize::from(ip_len / 8)
                ),
            ));
        };
        Ok(Self {
            rd: Rd::from_bytes(h.at::<0, 8>()),
            esi: Esi(h.at::<8, 10>()),
            originator,
        })
    }

    /// Append the body (without route type and length octets).
    pub fn write_body(&self, out: &mut Vec<u8>) {
        self.rd.write(out);
        self.esi.write(out);
        out.push(ip_bits(&self.originator));
        write_ip(&self.originator, out);
    }
}

/// `[4]:[ESI]:[IPlen]:[OrigIP]` (FRR's form); `{:#}` prefixes the RD.
impl fmt::Display for EthernetSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            write!(f, "{} ", self.rd)?;
        }
        write!(
            f,
            "[4]:[{}]:[{}]:[{}]",
            self.esi,
            ip_bits(&self.originator),
            self.originator
        )
    }
}
