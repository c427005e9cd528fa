//! IPv4 and IPv6 unicast NLRI prefixes (RFC 4271 §4.3, RFC 4760 §5).
//!
//! Wire form of one prefix, as in the UPDATE NLRI and Withdrawn Routes fields
//! and in MP_REACH/MP_UNREACH for AFI 1/2 SAFI 1:
//!
//! ```text
//! +---------------------------+
//! |   Length (1 octet)        |   prefix length in bits
//! +---------------------------+
//! |   Prefix (variable)       |   ceil(Length / 8) octets
//! +---------------------------+
//! ```
//!
//! RFC 4271: "the Prefix field contains an IP address prefix, followed by the
//! minimum number of trailing bits needed to make the end of the field fall on
//! an octet boundary. Note that the value of trailing bits is irrelevant."
//! Decoding therefore clears the host bits; a length beyond the address size,
//! or a prefix running past the field, is an NLRI error (RFC 7606 §5.3: the
//! field cannot be re-synchronised, so treat-as-withdraw is impossible).
//!
//! ADD-PATH (RFC 7911) puts a 4-octet Path Identifier before each Length
//! octet: [`read_prefixes_with_path_ids`] reads it, and returns the path ids
//! as a list parallel to the prefixes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::error::NlriError;
use crate::reader::Reader;

/// An IPv4 prefix; the host bits are always zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv4Prefix {
    addr: Ipv4Addr,
    len: u8,
}

/// An IPv6 prefix; the host bits are always zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ipv6Prefix {
    addr: Ipv6Addr,
    len: u8,
}

/// An IPv4 or IPv6 prefix (RT-5 carries either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Prefix {
    V4(Ipv4Prefix),
    V6(Ipv6Prefix),
}

fn mask_v4(len: u8) -> u32 {
    // `checked_shl` keeps /0 from shifting by the full width.
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask_v6(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

/// Number of prefix octets on the wire for a length in bits.
fn octets(len: u8) -> usize {
    usize::from(len).div_ceil(8)
}

impl Ipv4Prefix {
    pub const MAX_LEN: u8 = 32;

    /// `addr/len` with the host bits cleared; `None` if `len > 32`.
    pub fn new(addr: Ipv4Addr, len: u8) -> Option<Self> {
        (len <= Self::MAX_LEN).then(|| Self {
            addr: Ipv4Addr::from(u32::from(addr) & mask_v4(len)),
            len,
        })
    }

    /// The /32 host route for `addr`.
    pub fn host(addr: Ipv4Addr) -> Self {
        Self { addr, len: 32 }
    }

    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// Prefix length in bits (0..=32).
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask_v4(self.len) == u32::from(self.addr)
    }

    /// True if every address of `other` is inside `self`.
    pub fn covers(&self, other: &Ipv4Prefix) -> bool {
        other.len >= self.len && self.contains(other.addr)
    }

    /// Decode one Length + Prefix from `r`.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, NlriError> {
        let len = r.u8("IPv4 prefix length")?;
        if len > Self::MAX_LEN {
            return Err(NlriError(format!("IPv4 prefix length {len} > 32")));
        }
        let bytes = r.take(octets(len), "IPv4 prefix")?;
        let mut a = [0u8; 4];
        a[..bytes.len()].copy_from_slice(bytes);
        Ok(Self {
            addr: Ipv4Addr::from(u32::from_be_bytes(a) & mask_v4(len)),
            len,
        })
    }

    /// Only the significant octets of the address go out (the host bits are zero).
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(self.len);
        out.extend_from_slice(&self.addr.octets()[..octets(self.len)]);
    }
}

impl Ipv6Prefix {
    pub const MAX_LEN: u8 = 128;

    /// `addr/len` with the host bits cleared; `None` if `len > 128`.
    pub fn new(addr: Ipv6Addr, len: u8) -> Option<Self> {
        (len <= Self::MAX_LEN).then(|| Self {
            addr: Ipv6Addr::from(u128::from(addr) & mask_v6(len)),
            len,
        })
    }

    /// The /128 host route for `addr`.
    pub fn host(addr: Ipv6Addr) -> Self {
        Self { addr, len: 128 }
    }

    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// Prefix length in bits (0..=128).
    pub fn prefix_len(&self) -> u8 {
        self.len
    }

    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & mask_v6(self.len) == u128::from(self.addr)
    }

    /// True if every address of `other` is inside `self`.
    pub fn covers(&self, other: &Ipv6Prefix) -> bool {
        other.len >= self.len && self.contains(other.addr)
    }

    /// Decode one Length + Prefix from `r`.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, NlriError> {
        let len = r.u8("IPv6 prefix length")?;
        if len > Self::MAX_LEN {
            return Err(NlriError(format!("IPv6 prefix length {len} > 128")));
        }
        let bytes = r.take(octets(len), "IPv6 prefix")?;
        let mut a = [0u8; 16];
        a[..bytes.len()].copy_from_slice(bytes);
        Ok(Self {
            addr: Ipv6Addr::from(u128::from_be_bytes(a) & mask_v6(len)),
            len,
        })
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(self.len);
        out.extend_from_slice(&self.addr.octets()[..octets(self.len)]);
    }
}

impl Prefix {
    /// `addr/len` with the host bits cleared; `None` if `len` exceeds the family's width.
    pub fn new(addr: IpAddr, len: u8) -> Option<Self> {
        match addr {
            IpAddr::V4(a) => Ipv4Prefix::new(a, len).map(Prefix::V4),
            IpAddr::V6(a) => Ipv6Prefix::new(a, len).map(Prefix::V6),
        }
    }

    /// The host route (/32 or /128) for `addr`.
    pub fn host(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(a) => Prefix::V4(Ipv4Prefix::host(a)),
            IpAddr::V6(a) => Prefix::V6(Ipv6Prefix::host(a)),
        }
    }

    pub fn addr(&self) -> IpAddr {
        match self {
            Prefix::V4(p) => IpAddr::V4(p.addr),
            Prefix::V6(p) => IpAddr::V6(p.addr),
        }
    }

    pub fn prefix_len(&self) -> u8 {
        match self {
            Prefix::V4(p) => p.len,
            Prefix::V6(p) => p.len,
        }
    }

    pub fn is_ipv4(&self) -> bool {
        matches!(self, Prefix::V4(_))
    }

    /// True if `ip` is inside the prefix (never across families).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Prefix::V4(p), IpAddr::V4(a)) => p.contains(a),
            (Prefix::V6(p), IpAddr::V6(a)) => p.contains(a),
            _ => false,
        }
    }

    /// Length + Prefix in the RFC 4271 §4.3 form.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Prefix::V4(p) => p.write(out),
            Prefix::V6(p) => p.write(out),
        }
    }
}

impl From<Ipv4Prefix> for Prefix {
    fn from(p: Ipv4Prefix) -> Self {
        Prefix::V4(p)
    }
}

impl From<Ipv6Prefix> for Prefix {
    fn from(p: Ipv6Prefix) -> Self {
        Prefix::V6(p)
    }
}

/// Decode a whole NLRI (or Withdrawn Routes) field with `one` per prefix.
///
/// The field must be consumed exactly: a prefix running past the end is an
/// error, not a silently dropped tail. The vector is sized from the field
/// length (a prefix takes at least one octet), so memory stays O(input).
pub fn read_prefixes<T>(
    buf: &[u8],
    mut one: impl FnMut(&mut Reader<'_>) -> Result<T, NlriError>,
) -> Result<Vec<T>, NlriError> {
    // Typical host routes take 5 (IPv4) to 17 (IPv6) octets; start at 1/4 of
    // the field and let the vector grow in the rare short-prefix case. An
    // empty field (every EVPN UPDATE's IPv4 NLRI and withdrawn routes)
    // allocates nothing.
    let mut out = Vec::with_capacity(buf.len().div_ceil(4));
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        out.push(one(&mut r)?);
    }
    Ok(out)
}

/// Decode a whole NLRI field with `one` per NLRI, each preceded by a
/// 4-octet Path Identifier when `add_path` is set (RFC 7911 §3). Returns
/// the NLRI and, parallel to them, their path ids (empty without
/// ADD-PATH). A field that does not end on an NLRI boundary, path id
/// included, is an error. Without ADD-PATH this is [`read_prefixes`].
pub fn read_prefixes_with_path_ids<T>(
    buf: &[u8],
    add_path: bool,
    mut one: impl FnMut(&mut Reader<'_>) -> Result<T, NlriError>,
) -> Result<(Vec<T>, Vec<u32>), NlriError> {
    if !add_path {
        return Ok((read_prefixes(buf, one)?, Vec::new()));
    }
    // An NLRI with a path id takes at least 5 octets (id + length octet).
    let cap = buf.len().div_ceil(5);
    let (mut out, mut ids) = (Vec::with_capacity(cap), Vec::with_capacity(cap));
    let mut r = Reader::new(buf);
    while !r.is_empty() {
        ids.push(r.u32("path identifier")?);
        out.push(one(&mut r)?);
    }
    Ok((out, ids))
}

/// Write `items` with `one`, each preceded by its path id (0 when
/// `path_ids` is shorter) when `add_path` is set (RFC 7911 §3).
pub(crate) fn write_with_path_ids<T>(
    items: &[T],
    path_ids: &[u32],
    add_path: bool,
    out: &mut Vec<u8>,
    mut one: impl FnMut(&T, &mut Vec<u8>),
) {
    for (i, item) in items.iter().enumerate() {
        if add_path {
            out.extend_from_slice(&path_ids.get(i).copied().unwrap_or(0).to_be_bytes());
        }
        one(item, out);
    }
}

/// Decode the IPv4 unicast NLRI of an UPDATE or of MP_REACH/MP_UNREACH.
pub fn read_ipv4_prefixes(buf: &[u8]) -> Result<Vec<Ipv4Prefix>, NlriError> {
    read_prefixes(buf, Ipv4Prefix::read)
}

/// Decode the IPv6 unicast NLRI of MP_REACH/MP_UNREACH.
pub fn read_ipv6_prefixes(buf: &[u8]) -> Result<Vec<Ipv6Prefix>, NlriError> {
    read_prefixes(buf, Ipv6Prefix::read)
}

impl fmt::Display for Ipv4Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl fmt::Display for Ipv6Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prefix::V4(p) => p.fmt(f),
            Prefix::V6(p) => p.fmt(f),
        }
    }
}

/// Split "addr/len"; text forms are strict: host bits set is an error, so a
/// typo in a config file ("10.1.1.1/24") is reported, not silently widened.
fn split_prefix(s: &str) -> Result<(&str, u8), String> {
    let (a, l) = s
        .split_once('/')
        .ok_or_else(|| format!("bad prefix {s:?}: expected ADDRESS/LENGTH"))?;
    let len = l
        .parse::<u8>()
        .map_err(|_| format!("bad prefix {s:?}: bad length {l:?}"))?;
    Ok((a, len))
}

impl FromStr for Ipv4Prefix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, len) = split_prefix(s)?;
        let addr: Ipv4Addr = a
            .parse()
            .map_err(|_| format!("bad prefix {s:?}: bad IPv4 address"))?;
        let p = Ipv4Prefix::new(addr, len)
            .ok_or_else(|| format!("bad prefix {s:?}: length {len} > 32"))?;
        if p.addr != addr {
            return Err(format!(
                "bad prefix {s:?}: host bits set (did you mean {p}?)"
            ));
        }
        Ok(p)
    }
}

impl FromStr for Ipv6Prefix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, len) = split_prefix(s)?;
        let addr: Ipv6Addr = a
            .parse()
            .map_err(|_| format!("bad prefix {s:?}: bad IPv6 address"))?;
        let p = Ipv6Prefix::new(addr, len)
            .ok_or_else(|| format!("bad prefix {s:?}: length {len} > 128"))?;
        if p.addr != addr {
            return Err(format!(
                "bad prefix {s:?}: host bits set (did you mean {p}?)"
            ));
        }
        Ok(p)
    }
}

impl FromStr for Prefix {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.contains(':') {
            s.parse().map(Prefix::V6)
        } else {
            s.parse().map(Prefix::V4)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> Ipv4Prefix {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_prefixes_decode_with_minimal_octets() {
        // 10.0.0.0/8, 192.168.1.0/24, 0.0.0.0/0, 10.1.2.3/32
        let buf = [8, 10, 24, 192, 168, 1, 0, 32, 10, 1, 2, 3];
        let got = read_ipv4_prefixes(&buf).unwrap();
        assert_eq!(
            got,
            vec![
                v4("10.0.0.0/8"),
                v4("192.168.1.0/24"),
                v4("0.0.0.0/0"),
                v4("10.1.2.3/32")
            ]
        );
        let mut out = Vec::new();
        for p in &got {
            p.write(&mut out);
        }
        assert_eq!(out, buf);
    }

    #[test]
    fn trailing_bits_are_irrelevant_and_cleared() {
        // /12 with the low nibble of the second octet set.
        let got = read_ipv4_prefixes(&[12, 10, 0x1f]).unwrap();
        assert_eq!(got, vec![v4("10.16.0.0/12")]);
    }

    #[test]
    fn ipv4_length_33_is_an_nlri_error() {
        assert!(read_ipv4_prefixes(&[33, 1, 2, 3, 4, 5]).is_err());
    }

    #[test]
    fn ipv6_length_129_is_an_nlri_error() {
        let mut buf = vec![129];
        buf.extend_from_slice(&[0; 17]);
        assert!(read_ipv6_prefixes(&buf).is_err());
    }

    #[test]
    fn prefix_overrunning_the_field_is_an_error() {
        assert!(read_ipv4_prefixes(&[24, 10, 0]).is_err());
        assert!(read_ipv6_prefixes(&[64, 0x20, 0x01, 0x0d, 0xb8]).is_err());
        // A lone length octet at the end.
        assert!(read_ipv4_prefixes(&[8, 10, 16]).is_err());
    }

    #[test]
    fn ipv6_decode_and_display() {
        let buf = [
            64, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 128, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 1,
        ];
        let got = read_ipv6_prefixes(&buf).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].to_string(), "2001:db8:1::/64");
        assert_eq!(got[1].to_string(), "::1/128");
    }

    #[test]
    fn text_form_rejects_host_bits_and_bad_lengths() {
        assert!("10.0.0.1/24".parse::<Ipv4Prefix>().is_err());
        assert!("10.0.0.0/33".parse::<Ipv4Prefix>().is_err());
        assert!("10.0.0.0".parse::<Ipv4Prefix>().is_err());
        assert_eq!("2001:db8::/32".parse::<Prefix>().unwrap().prefix_len(), 32);
        assert!("2001:db8::1/32".parse::<Prefix>().is_err());
    }

    #[test]
    fn constructor_clears_host_bits() {
        let p = Ipv4Prefix::new(Ipv4Addr::new(10, 1, 2, 3), 16).unwrap();
        assert_eq!(p.to_string(), "10.1.0.0/16");
        assert!(Ipv4Prefix::new(Ipv4Addr::UNSPECIFIED, 33).is_none());
        assert!(p.contains(Ipv4Addr::new(10, 1, 200, 1)));
        assert!(!p.contains(Ipv4Addr::new(10, 2, 0, 1)));
        assert!(p.covers(&v4("10.1.2.0/24")));
        assert!(!v4("10.1.2.0/24").covers(&p));
        assert!(v4("0.0.0.0/0").contains(Ipv4Addr::BROADCAST));
    }
}
