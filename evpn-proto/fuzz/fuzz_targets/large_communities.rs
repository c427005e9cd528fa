//! `read_large_communities` (the LARGE_COMMUNITY value).
#![no_main]

use evpn_proto::large_community::{read_large_communities, write_large_communities};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(list) = read_large_communities(data) else {
        return;
    };
    let mut again = Vec::with_capacity(data.len());
    write_large_communities(&list, &mut again);
    assert_eq!(again, data);
});
