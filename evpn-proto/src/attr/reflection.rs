//! ORIGINATOR_ID (RFC 4456 §8, type 9) and CLUSTER_LIST (type 10): route
//! reflection loop prevention. Both optional non-transitive.
//!
//! ```text
//! ORIGINATOR_ID: +------------------------------+
//!                | router ID (4 octets)         |
//!                +------------------------------+
//! CLUSTER_LIST:  | CLUSTER_ID (4 octets) ...    |   one or more
//!                +------------------------------+
//! ```
//!
//! RFC 7606 §7.9, §7.10: from an external peer both are discarded
//! (attribute discard); from an internal peer a wrong length (ORIGINATOR_ID
//! != 4, CLUSTER_LIST not a non-zero multiple of 4) → treat-as-withdraw.

use std::net::Ipv4Addr;

use super::Malformed;

pub fn decode_originator_id(value: &[u8]) -> Result<Ipv4Addr, Malformed> {
    match value {
        &[a, b, c, d] => Ok(Ipv4Addr::new(a, b, c, d)),
        _ => Err(Malformed::length("ORIGINATOR_ID", value.len(), "4")),
    }
}

pub fn decode_cluster_list(value: &[u8]) -> Result<Vec<Ipv4Addr>, Malformed> {
    if value.is_empty() || value.len() % 4 != 0 {
        return Err(Malformed::length(
            "CLUSTER_LIST",
            value.len(),
            "a non-zero multiple of 4",
        ));
    }
    Ok(value
        .chunks_exact(4)
        .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
        .collect())
}

pub fn encode_cluster_list(list: &[Ipv4Addr], out: &mut Vec<u8>) {
    for id in list {
        out.extend_from_slice(&id.octets());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_list_lengths() {
        assert_eq!(
            decode_cluster_list(&[1, 1, 1, 1, 2, 2, 2, 2]).unwrap(),
            vec![Ipv4Addr::new(1, 1, 1, 1), Ipv4Addr::new(2, 2, 2, 2)]
        );
        assert!(decode_cluster_list(&[]).is_err());
        assert!(decode_cluster_list(&[1, 1, 1]).is_err());
        assert!(decode_originator_id(&[1, 1, 1]).is_err());
    }
}
