//! AS_PATH (RFC 4271 §4.3 type 2, §5.1.2) and AS4_PATH (RFC 6793 §3,
//! type 17), with the confederation segment types of RFC 5065 §3.
//!
//! ```text
//! one path segment, repeated:
//! +-----------------+-----------------+----------------------------+
//! | segment type (1)| segment len (1) | AS numbers (2 or 4 each)   |
//! +-----------------+-----------------+----------------------------+
//! segment type: 1 AS_SET, 2 AS_SEQUENCE, 3 AS_CONFED_SEQUENCE, 4 AS_CONFED_SET
//! segment len:  number of AS numbers (not octets)
//! ```
//!
//! AS numbers are 4 octets when both sides announced the 4-octet AS
//! capability ([`DecodeCxt::four_octet_as`](crate::message::DecodeCxt)),
//! else 2; AS4_PATH is always 4-octet.
//!
//! RFC 7606 §7.2: a segment overrunning the attribute, a trailing single
//! octet, a zero segment length or an unknown segment type make the
//! attribute malformed → treat-as-withdraw. RFC 7607: AS 0 likewise.
//! RFC 6793 §6: an AS4_PATH with confederation segments is malformed
//! (attribute discard, decided by the attribute table).

use std::fmt;

use super::Malformed;
use crate::error::code::update;
use crate::message::open::AS_TRANS;
use crate::reader::{Reader, WriteExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SegmentType {
    Set,
    Sequence,
    ConfedSequence,
    ConfedSet,
}

impl SegmentType {
    fn from_u8(v: u8) -> Option<SegmentType> {
        Some(match v {
            1 => SegmentType::Set,
            2 => SegmentType::Sequence,
            3 => SegmentType::ConfedSequence,
            4 => SegmentType::ConfedSet,
            _ => return None,
        })
    }
    fn to_u8(self) -> u8 {
        match self {
            SegmentType::Set => 1,
            SegmentType::Sequence => 2,
            SegmentType::ConfedSequence => 3,
            SegmentType::ConfedSet => 4,
        }
    }
    pub fn is_confed(self) -> bool {
        matches!(self, SegmentType::ConfedSequence | SegmentType::ConfedSet)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AsSegment {
    pub kind: SegmentType,
    /// 1..=255 AS numbers on the wire; longer segments are split on encode.
    pub asns: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AsPath {
    pub segments: Vec<AsSegment>,
}

impl AsPath {
    /// A path of one AS_SEQUENCE (empty path if `asns` is empty).
    pub fn sequence(asns: impl IntoIterator<Item = u32>) -> AsPath {
        let asns: Vec<u32> = asns.into_iter().collect();
        if asns.is_empty() {
            return AsPath::default();
        }
        AsPath {
            segments: vec![AsSegment {
                kind: SegmentType::Sequence,
                asns,
            }],
        }
    }

    /// The leftmost AS: the neighbour that sent the route (RFC 4271 §6.3).
    pub fn first_as(&self) -> Option<u32> {
        let s = self.segments.first()?;
        match s.kind {
            SegmentType::Sequence => s.asns.first().copied(),
            _ => None,
        }
    }

    /// Path length for best-path selection (RFC 4271 §9.1.2.2 a): an AS_SET
    /// counts 1, confederation segments count 0 (RFC 5065 §5.3).
    pub fn path_len(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                SegmentType::Sequence => s.asns.len(),
                SegmentType::Set => 1,
                _ => 0,
            })
            .sum()
    }

    /// RFC 6793 §4.2.3: the path of a route from a 2-octet-AS ("OLD")
    /// speaker, rebuilt from its AS_PATH (`self`, with AS_TRANS in place of
    /// large AS numbers) and AS4_PATH. When AS_PATH is shorter than
    /// AS4_PATH, AS4_PATH is ignored; otherwise the leading part of AS_PATH
    /// that AS4_PATH does not cover is kept and AS4_PATH appended. Lengths
    /// count as for best-path selection ([`AsPath::path_len`]).
    pub fn merge_as4(&self, as4: &AsPath) -> AsPath {
        let (n, m) = (self.path_len(), as4.path_len());
        if n < m {
            return self.clone();
        }
        let mut keep = n - m;
        let mut segments = Vec::with_capacity(self.segments.len() + as4.segments.len());
        for s in &self.segments {
            let weight = match s.kind {
                SegmentType::Sequence => s.asns.len(),
                SegmentType::Set => 1,
                // Confederation segments count 0 and precede the rest.
                _ => 0,
            };
            if weight == 0 && s.kind.is_confed() {
                segments.push(s.clone());
                continue;
            }
            if keep == 0 {
                break;
            }
            if weight <= keep {
                segments.push(s.clone());
                keep -= weight;
            } else {
                // Only a sequence can be split.
                segments.push(AsSegment {
                    kind: s.kind,
                    asns: s.asns[..keep].to_vec(),
                });
                keep = 0;
            }
        }
        segments.extend(as4.segments.iter().cloned());
        AsPath { segments }
    }

    /// Decode an AS_PATH (or, with `four_octet`, an AS4_PATH) value.
    pub fn decode(value: &[u8], four_octet: bool) -> Result<AsPath, Malformed> {
        let width = if four_octet { 4 } else { 2 };
        let mut r = Reader::new(value);
        // A segment takes at least 2 + width octets.
        let mut segments = Vec::with_capacity(value.len() / (2 + width) + 1);
        while !r.is_empty() {
            let (Ok(typ), Ok(count)) = (r.u8("segment type"), r.u8("segment length")) else {
                return Err(bad("AS_PATH ends inside a segment header"));
            };
            let kind = SegmentType::from_u8(typ)
                .ok_or_else(|| bad(format!("AS_PATH segment type {typ}")))?;
            if count == 0 {
                return Err(bad("AS_PATH segment of length 0"));
            }
            let need = usize::from(count) * width;
            let body = r.take(need, "AS_PATH segment").map_err(|_| {
                bad(format!(
                    "AS_PATH segment of {count} ASNs overruns the attribute ({} octets left)",
                    r.remaining()
                ))
            })?;
            let asns: Vec<u32> = if four_octet {
                body.chunks_exact(4)
                    .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            } else {
                body.chunks_exact(2)
                    .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
                    .collect()
            };
            if asns.contains(&0) {
                return Err(bad("AS_PATH contains AS 0 (RFC 7607)"));
            }
            segments.push(AsSegment { kind, asns });
        }
        Ok(AsPath { segments })
    }

    /// Encode with 4- or 2-octet AS numbers. With 2 octets an AS above
    /// 65535 is written as AS_TRANS (RFC 6793 §4.2.2; the caller adds the
    /// AS4_PATH). Segments over 255 ASNs are split; empty ones are skipped.
    pub fn encode(&self, four_octet: bool, out: &mut Vec<u8>) {
        for s in &self.segments {
            for chunk in s.asns.chunks(255) {
                out.put_u8(s.kind.to_u8());
                out.put_u8(chunk.len() as u8);
                for &asn in chunk {
                    if four_octet {
                        out.put_u32(asn);
                    } else {
                        out.put_u16(u16::try_from(asn).unwrap_or(AS_TRANS));
                    }
                }
            }
        }
    }
}

fn bad(reason: impl Into<String>) -> Malformed {
    Malformed::new(update::MALFORMED_AS_PATH, reason)
}

impl fmt::Display for AsPath {
    /// `65001 65002 {65003,65004} (65010)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            let (open, sep, close) = match s.kind {
                SegmentType::Sequence => ("", " ", ""),
                SegmentType::Set => ("{", ",", "}"),
                SegmentType::ConfedSequence => ("(", " ", ")"),
                SegmentType::ConfedSet => ("[", ",", "]"),
            };
            f.write_str(open)?;
            for (j, a) in s.asns.iter().enumerate() {
                if j > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{a}")?;
            }
            f.write_str(close)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_and_four_octet_forms_round_trip() {
        let p = AsPath {
            segments: vec![
                AsSegment {
                    kind: SegmentType::Sequence,
                    asns: vec![65001, 65002],
                },
                AsSegment {
                    kind: SegmentType::Set,
                    asns: vec![3, 4],
                },
            ],
        };
        for four in [true, false] {
            let mut v = Vec::new();
            p.encode(four, &mut v);
            assert_eq!(AsPath::decode(&v, four).unwrap(), p);
        }
        assert_eq!(p.to_string(), "65001 65002 {3,4}");
        assert_eq!(p.path_len(), 3);
        assert_eq!(p.first_as(), Some(65001));
    }

    #[test]
    fn as4_path_merge_keeps_the_uncovered_head() {
        // OLD peer 65001 in front of NEW speakers 4200000000 4200000001.
        let as_path = AsPath::sequence([65001, 23456, 23456]);
        let as4 = AsPath::sequence([4_200_000_000, 4_200_000_001]);
        assert_eq!(
            as_path.merge_as4(&as4),
            AsPath {
                segments: vec![
                    AsSegment {
                        kind: SegmentType::Sequence,
                        asns: vec![65001]
                    },
                    AsSegment {
                        kind: SegmentType::Sequence,
                        asns: vec![4_200_000_000, 4_200_000_001]
                    },
                ]
            }
        );
        // AS4_PATH longer than AS_PATH: ignored.
        assert_eq!(AsPath::sequence([1]).merge_as4(&as4), AsPath::sequence([1]));
    }

    #[test]
    fn large_as_becomes_as_trans_in_two_octet_form() {
        let mut v = Vec::new();
        AsPath::sequence([4_200_000_000]).encode(false, &mut v);
        assert_eq!(v, [2, 1, 0x5b, 0xa0]);
    }

    #[test]
    fn structural_damage_is_malformed_as_path() {
        for bad in [
            &[2u8, 2, 0, 1][..],  // overrun
            &[2, 1, 0, 1, 2][..], // 1-octet underrun
            &[2, 0][..],          // zero-length segment
            &[5, 1, 0, 1][..],    // unknown segment type
            &[2, 1, 0, 0][..],    // AS 0
        ] {
            let e = AsPath::decode(bad, false).unwrap_err();
            assert_eq!(e.subcode, update::MALFORMED_AS_PATH, "{bad:?}");
        }
    }
}
