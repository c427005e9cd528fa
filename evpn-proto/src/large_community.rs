//! BGP Large Communities (RFC 8092): 12-octet communities for 4-octet ASNs.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Global Administrator                     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Local Data Part 1                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       Local Data Part 2                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! RFC 8092 §6: the attribute is malformed, and handled as
//! treat-as-withdraw, when its length is not a non-zero multiple of 12.
//! Duplicate values "SHOULD" be removed by the receiver; that is left to
//! the consumer (decoding keeps the list as sent).

use std::fmt;
use std::str::FromStr;

use crate::reader::Short;

/// One large community, printed `GLOBAL:LOCAL1:LOCAL2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    pub global_admin: u32,
    pub local1: u32,
    pub local2: u32,
}

impl LargeCommunity {
    pub const LEN: usize = 12;

    pub fn from_bytes(b: [u8; 12]) -> Self {
        Self {
            global_admin: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
            local1: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            local2: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        }
    }

    pub fn to_bytes(&self) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[0..4].copy_from_slice(&self.global_admin.to_be_bytes());
        b[4..8].copy_from_slice(&self.local1.to_be_bytes());
        b[8..12].copy_from_slice(&self.local2.to_be_bytes());
        b
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.global_admin, self.local1, self.local2)
    }
}

impl FromStr for LargeCommunity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split(':').map(|p| p.parse::<u32>());
        let bad = || format!("bad large community {s:?}: expected N:N:N, each 0..=4294967295");
        let mut next = || parts.next().and_then(Result::ok).ok_or_else(bad);
        let c = LargeCommunity {
            global_admin: next()?,
            local1: next()?,
            local2: next()?,
        };
        if s.split(':').count() != 3 {
            return Err(bad());
        }
        Ok(c)
    }
}

/// Decode a LARGE_COMMUNITY attribute value.
///
/// Errors (treat-as-withdraw, RFC 8092 §6): an empty value is
/// `Short::Truncated { need: 12, have: 0 }`; a length that is not a
/// multiple of 12 is `Short::Trailing { left: len % 12 }`.
pub fn read_large_communities(buf: &[u8]) -> Result<Vec<LargeCommunity>, Short> {
    const WHAT: &str = "large communities";
    if buf.is_empty() {
        return Err(Short::Truncated {
            what: WHAT,
            need: LargeCommunity::LEN,
            have: 0,
        });
    }
    let chunks = buf.chunks_exact(LargeCommunity::LEN);
    if !chunks.remainder().is_empty() {
        return Err(Short::Trailing {
            what: WHAT,
            left: chunks.remainder().len(),
        });
    }
    Ok(chunks
        .map(|c| {
            let mut b = [0u8; 12];
            b.copy_from_slice(c);
            LargeCommunity::from_bytes(b)
        })
        .collect())
}

/// Append the attribute value for `list` (12 octets each).
pub fn write_large_communities(list: &[LargeCommunity], out: &mut Vec<u8>) {
    out.reserve(list.len() * LargeCommunity::LEN);
    for c in list {
        c.write(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rfc_layout_and_prints() {
        let buf = [0, 0, 0xfd, 0xe8, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff];
        let got = read_large_communities(&buf).unwrap();
        assert_eq!(
            got,
            vec![LargeCommunity {
                global_admin: 65000,
                local1: 1,
                local2: u32::MAX
            }]
        );
        assert_eq!(got[0].to_string(), "65000:1:4294967295");
        let mut out = Vec::new();
        write_large_communities(&got, &mut out);
        assert_eq!(out, buf);
    }

    #[test]
    fn length_must_be_a_nonzero_multiple_of_12() {
        assert!(matches!(
            read_large_communities(&[]),
            Err(Short::Truncated { need: 12, .. })
        ));
        assert!(matches!(
            read_large_communities(&[0; 16]),
            Err(Short::Trailing { left: 4, .. })
        ));
        assert!(read_large_communities(&[0; 24]).is_ok());
    }

    #[test]
    fn text_form_needs_exactly_three_numbers() {
        assert_eq!(
            "1:2:3".parse::<LargeCommunity>().unwrap(),
            LargeCommunity {
                global_admin: 1,
                local1: 2,
                local2: 3
            }
        );
        assert!("1:2".parse::<LargeCommunity>().is_err());
        assert!("1:2:3:4".parse::<LargeCommunity>().is_err());
        assert!("1:2:4294967296".parse::<LargeCommunity>().is_err());
    }
}
