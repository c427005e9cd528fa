//! An EXTENDED_COMMUNITIES attribute value.
#![no_main]

use evpn_proto::ext_community::{read_ext_communities, write_ext_communities};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(list) = read_ext_communities(data) else {
        return;
    };
    let mut again = Vec::with_capacity(data.len());
    write_ext_communities(&list, &mut again);
    let back = read_ext_communities(&again).expect("re-encoded communities must decode");
    assert_eq!(back, list);
});
