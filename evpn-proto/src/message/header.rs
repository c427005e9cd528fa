//! The BGP message header and stream framing (RFC 4271 §4.1, §6.1).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                                                               +
//! |                           Marker (16 octets of 0xff)          |
//! +                                                               +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Length               |      Type     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The shell splits a TCP stream with [`frame_len`]; the core decodes each
//! complete message with [`crate::message::decode_message`]. Both run the same
//! header checks ([`Header::parse`]), so a bad header is reported identically
//! wherever it is first seen.

use crate::error::{code, Error};
use crate::reader::WriteExt;

/// The 16-octet all-ones marker (RFC 4271 §4.1; authentication is no longer
/// carried here).
pub const MARKER: [u8; 16] = [0xff; 16];
/// Marker + length + type.
pub const HEADER_LEN: usize = 19;
/// Largest message without RFC 8654 Extended Messages.
pub const MAX_MESSAGE_LEN: usize = 4096;

/// Smallest legal OPEN: header + version, my AS, hold time, BGP ID, opt-param length.
pub const MIN_OPEN_LEN: usize = 29;
/// Smallest legal UPDATE: header + withdrawn length + total path attribute length.
pub const MIN_UPDATE_LEN: usize = 23;
/// Smallest legal NOTIFICATION: header + code + subcode.
pub const MIN_NOTIFICATION_LEN: usize = 21;
/// A KEEPALIVE is exactly a header.
pub const KEEPALIVE_LEN: usize = 19;
/// A ROUTE-REFRESH without ORF entries: header + AFI + subtype + SAFI (RFC 7313 §5).
pub const ROUTE_REFRESH_LEN: usize = 23;

/// Message type codes (RFC 4271 §4.1, RFC 2918 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    Open,
    Update,
    Notification,
    Keepalive,
    RouteRefresh,
}

impl MessageType {
    pub fn from_u8(v: u8) -> Option<MessageType> {
        Some(match v {
            1 => MessageType::Open,
            2 => MessageType::Update,
            3 => MessageType::Notification,
            4 => MessageType::Keepalive,
            5 => MessageType::RouteRefresh,
            _ => return None,
        })
    }

    pub fn code(self) -> u8 {
        match self {
            MessageType::Open => 1,
            MessageType::Update => 2,
            MessageType::Notification => 3,
            MessageType::Keepalive => 4,
            MessageType::RouteRefresh => 5,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MessageType::Open => "OPEN",
            MessageType::Update => "UPDATE",
            MessageType::Notification => "NOTIFICATION",
            MessageType::Keepalive => "KEEPALIVE",
            MessageType::RouteRefresh => "ROUTE-REFRESH",
        }
    }

    /// Per-type length rule of RFC 4271 §6.1. ROUTE-REFRESH is not checked
    /// here: RFC 7313 §5 gives it its own NOTIFICATION, [7,1].
    fn length_ok(self, len: usize) -> bool {
        match self {
            MessageType::Open => len >= MIN_OPEN_LEN,
            MessageType::Update => len >= MIN_UPDATE_LEN,
            MessageType::Notification => len >= MIN_NOTIFICATION_LEN,
            MessageType::Keepalive => len == KEEPALIVE_LEN,
            MessageType::RouteRefresh => true,
        }
    }
}

/// A checked message header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Whole message length, header included: 19..=4096.
    pub len: usize,
    pub msg_type: MessageType,
}

impl Header {
    /// Check the first 19 octets of `buf` (RFC 4271 §6.1). `buf` may hold
    /// more than one message; only the header is looked at.
    ///
    /// - marker not all ones → [1,1] Connection Not Synchronized;
    /// - length < 19, > 4096, or wrong for the type → [1,2] Bad Message
    ///   Length, data = the 2-octet length field;
    /// - unknown type → [1,3] Bad Message Type, data = the type octet.
    pub fn parse(buf: &[u8]) -> Result<Header, Error> {
        check_marker(buf)?;
        let (Some(&l0), Some(&l1), Some(&typ)) = (buf.get(16), buf.get(17), buf.get(18)) else {
            return Err(Error::session_reset(
                code::MESSAGE_HEADER,
                code::header::BAD_MESSAGE_LENGTH,
                format!("message of {} octets is shorter than a header", buf.len()),
            )
            .with_data(buf.get(16..).unwrap_or(&[]).to_vec()));
        };
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if !(HEADER_LEN..=MAX_MESSAGE_LEN).contains(&len) {
            return Err(bad_length(
                l0,
                l1,
                format!("message length {len} outside 19..=4096"),
            ));
        }
        let Some(msg_type) = MessageType::from_u8(typ) else {
            return Err(Error::session_reset(
                code::MESSAGE_HEADER,
                code::header::BAD_MESSAGE_TYPE,
                format!("unknown message type {typ}"),
            )
            .with_data(vec![typ]));
        };
        if !msg_type.length_ok(len) {
            return Err(bad_length(
                l0,
                l1,
                format!("{} of length {len}", msg_type.name()),
            ));
        }
        Ok(Header { len, msg_type })
    }
}

fn bad_length(l0: u8, l1: u8, reason: String) -> Error {
    Error::session_reset(
        code::MESSAGE_HEADER,
        code::header::BAD_MESSAGE_LENGTH,
        reason,
    )
    .with_data(vec![l0, l1])
}

/// [1,1] if any of the (up to 16) marker octets present is not 0xff.
fn check_marker(buf: &[u8]) -> Result<(), Error> {
    let n = buf.len().min(MARKER.len());
    if buf[..n].iter().all(|&b| b == 0xff) {
        Ok(())
    } else {
        Err(Error::session_reset(
            code::MESSAGE_HEADER,
            code::header::CONNECTION_NOT_SYNCHRONIZED,
            "marker is not all ones",
        ))
    }
}

/// How long the first message in `buf` is, for splitting a TCP stream.
///
/// - `Ok(Some(n))`: `buf[..n]` is one complete message whose header passed
///   [`Header::parse`];
/// - `Ok(None)`: need more octets (nothing wrong so far: a bad marker is
///   reported as soon as the first bad octet arrives);
/// - `Err(e)`: the stream is broken; send `e` as a NOTIFICATION and close.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, Error> {
    if buf.len() < HEADER_LEN {
        check_marker(buf)?;
        return Ok(None);
    }
    let h = Header::parse(buf)?;
    Ok((buf.len() >= h.len).then_some(h.len))
}

/// Start a message: marker, length placeholder, type. Returns the position
/// of the length field for [`finish_message`].
pub(crate) fn begin_message(out: &mut Vec<u8>, msg_type: MessageType) -> usize {
    out.extend_from_slice(&MARKER);
    let at = out.len();
    out.put_u16(0);
    out.put_u8(msg_type.code());
    at
}

/// Patch the length field written by [`begin_message`] at `at` (the
/// message started 16 octets earlier).
pub(crate) fn finish_message(out: &mut [u8], at: usize) {
    let start = at - MARKER.len();
    let len = out.len() - start;
    // Encoders only build messages from typed values; a message longer than
    // 65535 octets is not representable and is an encoder bug, capped here
    // so the length field never wraps.
    let len = u16::try_from(len).unwrap_or(u16::MAX);
    out[at..at + 2].copy_from_slice(&len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(len: u16, typ: u8) -> Vec<u8> {
        let mut v = MARKER.to_vec();
        v.extend_from_slice(&len.to_be_bytes());
        v.push(typ);
        v
    }

    #[test]
    fn frame_len_waits_for_a_whole_message() {
        let mut m = hdr(23, 2);
        m.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(frame_len(&m[..10]), Ok(None));
        assert_eq!(frame_len(&m[..19]), Ok(None));
        assert_eq!(frame_len(&m[..22]), Ok(None));
        assert_eq!(frame_len(&m), Ok(Some(23)));
        m.extend_from_slice(&hdr(19, 4));
        assert_eq!(frame_len(&m), Ok(Some(23)));
        assert_eq!(frame_len(&m[23..]), Ok(Some(19)));
    }

    #[test]
    fn frame_len_reports_bad_marker_early() {
        let e = frame_len(&[0xff, 0xff, 0x00]).unwrap_err();
        assert_eq!((e.code, e.subcode), (1, 1));
        assert_eq!(frame_len(&[]), Ok(None));
    }

    #[test]
    fn frame_len_bad_length_carries_the_length_field() {
        for (len, typ) in [
            (18u16, 4u8),
            (4097, 2),
            (0xffff, 2),
            (20, 4),
            (28, 1),
            (22, 2),
            (20, 3),
        ] {
            let e = frame_len(&hdr(len, typ)).unwrap_err();
            assert_eq!((e.code, e.subcode), (1, 2), "len {len} type {typ}");
            assert_eq!(e.data, len.to_be_bytes().to_vec());
        }
    }

    #[test]
    fn frame_len_unknown_type_carries_the_type() {
        let e = frame_len(&hdr(19, 6)).unwrap_err();
        assert_eq!((e.code, e.subcode, e.data.as_slice()), (1, 3, &[6u8][..]));
    }

    #[test]
    fn begin_and_finish_write_the_length() {
        let mut v = vec![9, 9];
        let at = begin_message(&mut v, MessageType::Keepalive);
        finish_message(&mut v, at);
        assert_eq!(&v[2..], &hdr(19, 4)[..]);
    }
}
