//! `read_ipv4_prefixes`, `read_ipv6_prefixes` and
//! `read_prefixes_with_path_ids` (NLRI and withdrawn-routes fields).
#![no_main]

use evpn_proto::prefix::{read_ipv4_prefixes, read_ipv6_prefixes, read_prefixes_with_path_ids};
use evpn_proto::{Ipv4Prefix, Ipv6Prefix};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = read_ipv4_prefixes(data) {
        let mut again = Vec::new();
        v.iter().for_each(|p| p.write(&mut again));
        assert_eq!(read_ipv4_prefixes(&again).expect("re-encoded IPv4 NLRI"), v);
    }
    if let Ok(v) = read_ipv6_prefixes(data) {
        let mut again = Vec::new();
        v.iter().for_each(|p| p.write(&mut again));
        assert_eq!(read_ipv6_prefixes(&again).expect("re-encoded IPv6 NLRI"), v);
    }
    if let Ok((v, ids)) = read_prefixes_with_path_ids(data, true, Ipv4Prefix::read) {
        assert_eq!(v.len(), ids.len());
    }
    if let Ok((v, ids)) = read_prefixes_with_path_ids(data, true, Ipv6Prefix::read) {
        assert_eq!(v.len(), ids.len());
    }
});
