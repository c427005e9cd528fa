//! COMMUNITIES (RFC 1997, type 8): a list of 4-octet values.
//!
//! ```text
//! +-------------------------------+
//! | community (4 octets) ...      |   one or more: AS (2) : value (2)
//! +-------------------------------+
//! ```
//!
//! RFC 7606 §7.8: length not a non-zero multiple of 4 → treat-as-withdraw.
//!
//! EXTENDED_COMMUNITIES (type 16) and LARGE_COMMUNITY (type 32) are decoded
//! by [`crate::ext_community`] and [`crate::large_community`]; their
//! length rules (non-zero multiple of 8 / 12, RFC 7606 §7.14, RFC 8092 §6)
//! also mean treat-as-withdraw.

use std::fmt;

use super::Malformed;
use crate::reader::WriteExt;

/// A standard community.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    /// RFC 1997 well-known communities.
    pub const NO_EXPORT: Community = Community(0xffff_ff01);
    pub const NO_ADVERTISE: Community = Community(0xffff_ff02);
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xffff_ff03);
    /// RFC 8326.
    pub const GRACEFUL_SHUTDOWN: Community = Community(0xffff_0000);

    pub fn new(asn: u16, value: u16) -> Community {
        Community((u32::from(asn) << 16) | u32::from(value))
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Community::NO_EXPORT => f.write_str("no-export"),
            Community::NO_ADVERTISE => f.write_str("no-advertise"),
            Community::NO_EXPORT_SUBCONFED => f.write_str("local-AS"),
            Community::GRACEFUL_SHUTDOWN => f.write_str("graceful-shutdown"),
            Community(v) => write!(f, "{}:{}", v >> 16, v & 0xffff),
        }
    }
}

pub fn decode_communities(value: &[u8]) -> Result<Vec<Community>, Malformed> {
    if value.is_empty() || value.len() % 4 != 0 {
        return Err(Malformed::length(
            "COMMUNITIES",
            value.len(),
            "a non-zero multiple of 4",
        ));
    }
    Ok(value
        .chunks_exact(4)
        .map(|c| Community(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
        .collect())
}

pub fn encode_communities(list: &[Community], out: &mut Vec<u8>) {
    for c in list {
        out.put_u32(c.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn communities_lengths_and_display() {
        let v = decode_communities(&[0xff, 0xff, 0xff, 0x01, 0xfd, 0xe8, 0, 100]).unwrap();
        assert_eq!(v, vec![Community::NO_EXPORT, Community::new(65000, 100)]);
        assert_eq!(v[1].to_string(), "65000:100");
        assert!(decode_communities(&[]).is_err());
        assert!(decode_communities(&[1, 2, 3, 4, 5]).is_err());
    }
}
