//! MULTI_EXIT_DISC (RFC 4271 type 4, §5.1.4) and LOCAL_PREF (type 5,
//! §5.1.5): one 4-octet unsigned integer each.
//!
//! ```text
//! +-------------------------------+
//! | value (4 octets)              |
//! +-------------------------------+
//! ```
//!
//! RFC 7606 §7.4: MED length != 4 → treat-as-withdraw. §7.5: LOCAL_PREF
//! from an external peer → attribute discard (before its length is even
//! looked at); from an internal peer, length != 4 → treat-as-withdraw.

use super::Malformed;

/// Decode MED or LOCAL_PREF (`name` for the error text).
pub fn decode_u32(value: &[u8], name: &'static str) -> Result<u32, Malformed> {
    match value {
        &[a, b, c, d] => Ok(u32::from_be_bytes([a, b, c, d])),
        _ => Err(Malformed::length(name, value.len(), "4")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_octets_big_endian() {
        assert_eq!(decode_u32(&[0, 0, 0, 100], "LOCAL_PREF").unwrap(), 100);
        assert_eq!(decode_u32(&[0, 100], "MED").unwrap_err().subcode, 5);
    }
}
