//! One complete message (header included) under the default context.
//! Whatever decodes with verdict Ok must re-encode to the same value.
#![no_main]

use evpn_proto::message::{decode_message, DecodeCxt, Verdict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cx = DecodeCxt::default();
    let Ok(d) = decode_message(data, &cx) else {
        return;
    };
    if d.verdict() != Verdict::Ok {
        return;
    }
    let msg = d.into_message();
    let again = msg.encode(&cx);
    let back = decode_message(&again, &cx).expect("re-encoded message must decode");
    assert_eq!(back.verdict(), Verdict::Ok);
    assert_eq!(back.into_message(), msg);
});
