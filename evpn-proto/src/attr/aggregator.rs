//! ATOMIC_AGGREGATE (RFC 4271 type 6, §5.1.6), AGGREGATOR (type 7,
//! §5.1.7) and AS4_AGGREGATOR (RFC 6793 type 18).
//!
//! ```text
//! ATOMIC_AGGREGATE: empty value
//!
//! AGGREGATOR:      +----------------------+----------------------+
//!                  | AS (2, or 4 with the | BGP Identifier (4)   |
//!                  | 4-octet capability)  |                      |
//!                  +----------------------+----------------------+
//! AS4_AGGREGATOR:  | AS (4)               | BGP Identifier (4)   |
//! ```
//!
//! RFC 7606 §7.6, §7.7: a wrong length, or AS 0 (RFC 7607), makes these
//! attributes malformed → attribute discard; they do not affect route
//! selection.

use std::net::Ipv4Addr;

use super::Malformed;
use crate::error::code::update;
use crate::message::open::AS_TRANS;
use crate::reader::WriteExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Aggregator {
    pub asn: u32,
    pub bgp_id: Ipv4Addr,
}

impl Aggregator {
    /// AGGREGATOR with 4-octet (`four_octet`) or 2-octet AS, or
    /// AS4_AGGREGATOR (always `four_octet`).
    pub fn decode(
        value: &[u8],
        four_octet: bool,
        name: &'static str,
    ) -> Result<Aggregator, Malformed> {
        let (asn, id) = match (four_octet, value) {
            (true, &[a, b, c, d, ref id @ ..]) if value.len() == 8 => {
                (u32::from_be_bytes([a, b, c, d]), id)
            }
            (false, &[a, b, ref id @ ..]) if value.len() == 6 => {
                (u32::from(u16::from_be_bytes([a, b])), id)
            }
            _ => {
                return Err(Malformed::length(
                    name,
                    value.len(),
                    if four_octet { "8" } else { "6" },
                ))
            }
        };
        if asn == 0 {
            return Err(Malformed::new(
                update::OPTIONAL_ATTRIBUTE_ERROR,
                format!("{name} AS 0 (RFC 7607)"),
            ));
        }
        let bgp_id = Ipv4Addr::new(id[0], id[1], id[2], id[3]);
        Ok(Aggregator { asn, bgp_id })
    }

    pub fn encode(&self, four_octet: bool, out: &mut Vec<u8>) {
        if four_octet {
            out.put_u32(self.asn);
        } else {
            out.put_u16(u16::try_from(self.asn).unwrap_or(AS_TRANS));
        }
        out.extend_from_slice(&self.bgp_id.octets());
    }
}

/// ATOMIC_AGGREGATE carries no value.
pub fn decode_atomic_aggregate(value: &[u8]) -> Result<(), Malformed> {
    if value.is_empty() {
        Ok(())
    } else {
        Err(Malformed::length("ATOMIC_AGGREGATE", value.len(), "0"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregator_widths() {
        let a = Aggregator {
            asn: 65001,
            bgp_id: Ipv4Addr::new(10, 0, 0, 1),
        };
        for four in [true, false] {
            let mut v = Vec::new();
            a.encode(four, &mut v);
            assert_eq!(v.len(), if four { 8 } else { 6 });
            assert_eq!(Aggregator::decode(&v, four, "AGGREGATOR").unwrap(), a);
            assert!(Aggregator::decode(&v, !four, "AGGREGATOR").is_err());
        }
        assert!(Aggregator::decode(&[0, 0, 1, 1, 1, 1], false, "AGGREGATOR").is_err());
    }
}
