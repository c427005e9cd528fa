//! A bounded, zero-copy reader over wire bytes.
//!
//! Every structure with a length field is decoded through a sub-reader that is
//! exactly that long (`r.sub(len)`), and the decoder of the structure must
//! consume it completely (`Reader::finish`). That one habit turns the whole
//! class of "length field disagrees with contents" bugs — most BGP parser CVEs —
//! into ordinary errors. Nothing here allocates.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The input ended before a field did, or a structure left bytes unread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Short {
    /// `what` needed `need` more octets, only `have` were left.
    #[error("{what}: need {need} octets, {have} left")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    /// `what` was fully decoded but its length field covered `left` more octets.
    #[error("{what}: {left} trailing octets")]
    Trailing { what: &'static str, left: usize },
}

/// Cursor over a byte slice; reads never go past the end of the slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Octets not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Octets already consumed.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Take the next `n` octets.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Short> {
        let have = self.remaining();
        if n > have {
            return Err(Short::Truncated {
                what,
                need: n,
                have,
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A reader over exactly the next `n` octets; this reader skips past them.
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, Short> {
        self.take(n, what).map(Reader::new)
    }

    /// Everything not yet read.
    pub fn rest(&mut self) -> &'a [u8] {
        let s = &self.buf[self.pos..];
        self.pos = self.buf.len();
        s
    }

    /// Look at the next octet without consuming it.
    pub fn peek_u8(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, Short> {
        Ok(self.take(1, what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, Short> {
        let b = self.array::<2>(what)?;
        Ok(u16::from_be_bytes(b))
    }

    /// A 3-octet big-endian integer (MPLS label field, VNI).
    pub fn u24(&mut self, what: &'static str) -> Result<u32, Short> {
        let b = self.array::<3>(what)?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, Short> {
        let b = self.array::<4>(what)?;
        Ok(u32::from_be_bytes(b))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, Short> {
        let b = self.array::<8>(what)?;
        Ok(u64::from_be_bytes(b))
    }

    pub fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Short> {
        let s = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    pub fn ipv4(&mut self, what: &'static str) -> Result<Ipv4Addr, Short> {
        Ok(Ipv4Addr::from(self.array::<4>(what)?))
    }

    pub fn ipv6(&mut self, what: &'static str) -> Result<Ipv6Addr, Short> {
        Ok(Ipv6Addr::from(self.array::<16>(what)?))
    }

    /// Assert that a structure consumed its whole length.
    pub fn finish(&self, what: &'static str) -> Result<(), Short> {
        match self.remaining() {
            0 => Ok(()),
            left => Err(Short::Trailing { what, left }),
        }
    }
}

/// Append-only writer helpers for encoders; encoders never fail on typed
/// values that passed their constructors' checks.
pub trait WriteExt {
    fn put_u8(&mut self, v: u8);
    fn put_u16(&mut self, v: u16);
    fn put_u24(&mut self, v: u32);
    fn put_u32(&mut self, v: u32);
    fn put_u64(&mut self, v: u64);
    /// Reserve a 1- or 2-octet length field; returns its position for [`WriteExt::patch_len`].
    fn len_placeholder(&mut self, width: usize) -> usize;
    /// Fill a placeholder with the number of octets written after it.
    /// Panics only on an encoder bug (a structure over the field's range),
    /// never on received data: encoders only see typed values.
    fn patch_len(&mut self, at: usize, width: usize);
}

impl WriteExt for Vec<u8> {
    fn put_u8(&mut self, v: u8) {
        self.push(v);
    }
    fn put_u16(&mut self, v: u16) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u24(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes()[1..]);
    }
    fn put_u32(&mut self, v: u32) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn put_u64(&mut self, v: u64) {
        self.extend_from_slice(&v.to_be_bytes());
    }
    fn len_placeholder(&mut self, width: usize) -> usize {
        let at = self.len();
        self.extend(std::iter::repeat_n(0u8, width));
        at
    }
    fn patch_len(&mut self, at: usize, width: usize) {
        let len = self.len() - at - width;
        match width {
            1 => {
                assert!(len <= u8::MAX as usize, "encoder bug: length {len} > 255");
                self[at] = len as u8;
            }
            2 => {
                assert!(
                    len <= u16::MAX as usize,
                    "encoder bug: length {len} > 65535"
                );
                self[at..at + 2].copy_from_slice(&(len as u16).to_be_bytes());
            }
            _ => unreachable!("length fields are 1 or 2 octets"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_reader_is_bounded_and_parent_skips() {
        let data = [0, 3, 1, 2, 3, 9];
        let mut r = Reader::new(&data);
        let len = r.u16("len").unwrap() as usize;
        let mut s = r.sub(len, "body").unwrap();
        assert_eq!(s.take(3, "x").unwrap(), &[1, 2, 3]);
        assert!(s.u8("past").is_err());
        assert_eq!(r.u8("tail").unwrap(), 9);
        assert!(r.finish("all").is_ok());
    }

    #[test]
    fn overrun_reports_what_and_sizes() {
        let mut r = Reader::new(&[1, 2]);
        assert_eq!(
            r.u32("as number"),
            Err(Short::Truncated {
                what: "as number",
                need: 4,
                have: 2
            })
        );
        // A failed read consumes nothing.
        assert_eq!(r.remaining(), 2);
    }

    #[test]
    fn patch_len_writes_big_endian() {
        let mut v = Vec::new();
        let at = v.len_placeholder(2);
        v.extend_from_slice(&[0; 300]);
        v.patch_len(at, 2);
        assert_eq!(&v[..2], &300u16.to_be_bytes());
    }
}
