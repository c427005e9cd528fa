//! `Header::parse`: any 19+ octets are a valid header or a header error.
#![no_main]

use evpn_proto::message::Header;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = Header::parse(data) {
        assert!((19..=4096).contains(&h.len));
    }
});
