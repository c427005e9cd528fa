//! `AsPath::decode`, 2- and 4-octet AS numbers.
#![no_main]

use evpn_proto::attr::AsPath;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for four in [false, true] {
        let Ok(p) = AsPath::decode(data, four) else {
            continue;
        };
        let mut again = Vec::with_capacity(data.len());
        p.encode(four, &mut again);
        let back = AsPath::decode(&again, four).expect("re-encoded AS_PATH must decode");
        assert_eq!(back, p);
    }
});
