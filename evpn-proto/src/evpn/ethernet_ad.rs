//! Route type 1, Ethernet Auto-Discovery (RFC 7432 §7.1): per-ES routes
//! (Ethernet Tag MAX-ET, used for mass withdraw, RFC 7432 §8.2) and per-EVI
//! routes (aliasing, §8.4) of a multihomed Ethernet Segment.

use std::fmt;

use super::{bad, route_type, EvpnKey, Fixed};
use crate::error::NlriError;
use crate::reader::WriteExt;
use crate::types::{Esi, Label, Rd};

/// An Ethernet Auto-Discovery route.
///
/// ```text
/// +---------------------------------------+
/// |  Route Distinguisher (RD) (8 octets)  |
/// +---------------------------------------+
/// |Ethernet Segment Identifier (10 octets)|
/// +---------------------------------------+
/// |  Ethernet Tag ID (4 octets)           |
/// +---------------------------------------+
/// |  MPLS Label (3 octets)                |
/// +---------------------------------------+
/// ```
///
/// Body length is exactly 25.
///
/// Route key (RFC 7432 §7.1): RD, ESI, Ethernet Tag. The label is an
/// attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EthernetAd {
    pub rd: Rd,
    pub esi: Esi,
    pub eth_tag: u32,
    pub label: Label,
}

const LEN: usize = 8 + 10 + 4 + 3;

impl EthernetAd {
    pub const ROUTE_TYPE: u8 = route_type::ETHERNET_AD;
    /// MAX-ET: the Ethernet Tag of per-ES A-D routes (RFC 7432 §8.2).
    pub const MAX_ET: u32 = u32::MAX;

    pub fn key(&self) -> EvpnKey {
        EvpnKey::EthernetAd {
            rd: self.rd,
            esi: self.esi,
            eth_tag: self.eth_tag,
        }
    }

    /// Decode a body of exactly the NLRI's Length octets.
    #[inline(always)]
    pub fn read_body(body: &[u8]) -> Result<Self, NlriError> {
        let Ok(b) = <&[u8; LEN]>::try_from(body) else {
            return Err(bad(
                Self::ROUTE_TYPE,
                format_args!("length {}, must be {LEN}", body.len()),
            ));
        };
        Ok(Self {
            rd: Rd::from_bytes(b.at::<0, 8>()),
            esi: Esi(b.at::<8, 10>()),
            eth_tag: u32::from_be_bytes(b.at::<18, 4>()),
            label: Label::from_bytes(b.at::<22, 3>()),
        })
    }

    /// Append the body (without route type and length octets).
    pub fn write_body(&self, out: &mut Vec<u8>) {
        self.rd.write(out);
        self.esi.write(out);
        out.put_u32(self.eth_tag);
        self.label.write(out);
    }
}

/// `[1]:[EthTag]:[ESI]`; `{:#}` prefixes the RD and appends the label.
impl fmt::Display for EthernetAd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            write!(f, "{} ", self.rd)?;
        }
        write!(f, "[1]:[{}]:[{}]", self.eth_tag, self.esi)?;
        if f.alternate() {
            write!(f, " label {}", self.label.raw())?;
        }
        Ok(())
    }
}
