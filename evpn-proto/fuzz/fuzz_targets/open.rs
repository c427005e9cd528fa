//! An OPEN body (after the header): syntax, validation, round trip.
#![no_main]

use std::net::Ipv4Addr;

use evpn_proto::message::Open;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(o) = Open::decode(data) else {
        return;
    };
    let _ = o.validate(Some(65001), Ipv4Addr::new(10, 0, 0, 1), true);
    let _ = o.validate(None, Ipv4Addr::new(10, 0, 0, 1), false);
    let _ = o.families();
    let again = o.encode();
    let back = Open::decode(&again[19..]).expect("re-encoded OPEN must decode");
    assert_eq!(back, o);
});
