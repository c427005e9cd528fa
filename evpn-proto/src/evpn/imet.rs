//! Route type 3, Inclusive Multicast Ethernet Tag (RFC 7432 §7.3): "send
//! me BUM traffic for this broadcast domain". With VXLAN ingress replication
//! the originator IP is the remote VTEP added to the flood list, and the
//! PMSI Tunnel attribute (RFC 6514 §5, see [`crate::pmsi`]) carries the VNI.

use std::fmt;
use std::net::IpAddr;

use super::{bad, exact_ip, ip_bits, route_type, write_ip, EvpnKey, Fixed};
use crate::error::NlriError;
use crate::reader::WriteExt;
use crate::types::Rd;

/// An Inclusive Multicast Ethernet Tag route.
///
/// ```text
/// +---------------------------------------+
/// |  RD (8 octets)                        |
/// +---------------------------------------+
/// |  Ethernet Tag ID (4 octets)           |
/// +---------------------------------------+
/// |  IP Address Length (1 octet)          |   32 or 128
/// +---------------------------------------+
/// |  Originating Router's IP Address      |
/// |          (4 or 16 octets)             |
/// +---------------------------------------+
/// ```
///
/// Body length is 13 + IP length / 8: 17 or 29.
///
/// Route key (RFC 7432 §7.3): every field (RD, Ethernet Tag, originator).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Imet {
    pub rd: Rd,
    pub eth_tag: u32,
    pub originator: IpAddr,
}

/// RD + Ethernet Tag + IP length.
const HEAD_LEN: usize = 8 + 4 + 1;

impl Imet {
    pub const ROUTE_TYPE: u8 = route_type::IMET;

    pub fn key(&self) -> EvpnKey {
        EvpnKey::Imet {
            rd: self.rd,
            eth_tag: self.eth_tag,
            originator: self.originator,
        }
    }

    /// Decode a body of exactly the NLRI's Length octets.
    #[inline(always)]
    pub fn read_body(body: &[u8]) -> Result<Self, NlriError> {
        const RT: u8 = route_type::IMET;
        let Some((h, tail)) = body.split_first_chunk::<HEAD_LEN>() else {
            return Err(bad(
                RT,
                format_args!("length {}, must be 17 or 29", body.len()),
            ));
        };
        let ip_len = h[12];
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
            eth_tag: u32::from_be_bytes(h.at::<8, 4>()),
            originator,
        })
    }

    /// Append the body (without route type and length octets).
    pub fn write_body(&self, out: &mut Vec<u8>) {
        self.rd.write(out);
        out.put_u32(self.eth_tag);
        out.push(ip_bits(&self.originator));
        write_ip(&self.originator, out);
    }
}

/// `[3]:[EthTag]:[IPlen]:[OrigIP]` (FRR's form); `{:#}` prefixes the RD.
impl fmt::Display for Imet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            write!(f, "{} ", self.rd)?;
        }
        write!(
            f,
            "[3]:[{}]:[{}]:[{}]",
            self.eth_tag,
            ip_bits(&self.originator),
            self.originator
        )
    }
}
