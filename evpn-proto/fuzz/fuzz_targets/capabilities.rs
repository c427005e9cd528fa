//! `Capability::read_all` (the value of one optional parameter of type 2).
#![no_main]

use evpn_proto::Capability;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(caps) = Capability::read_all(data) else {
        return;
    };
    let mut again = Vec::with_capacity(data.len());
    caps.iter().for_each(|c| c.write(&mut again));
    let back = Capability::read_all(&again).expect("re-encoded capabilities must decode");
    assert_eq!(back, caps);
});
