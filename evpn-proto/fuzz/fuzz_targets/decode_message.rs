//! One complete message (header included), decoded twice: under the
//! default context and under one with ADD-PATH (RFC 7911) for every
//! family. Whatever decodes with verdict Ok must re-encode to the same
//! value under the same context.
#![no_main]

use evpn_proto::message::{decode_message, DecodeCxt, FamilySet, Verdict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let add_path = DecodeCxt {
        add_path: FamilySet::ALL,
        ..DecodeCxt::default()
    };
    for cx in [DecodeCxt::default(), add_path] {
        let Ok(d) = decode_message(data, &cx) else {
            continue;
        };
        if d.verdict() != Verdict::Ok {
            continue;
        }
        let msg = d.into_message();
        let again = msg.encode(&cx);
        let back = decode_message(&again, &cx).expect("re-encoded message must decode");
        assert_eq!(back.verdict(), Verdict::Ok);
        assert_eq!(back.into_message(), msg);
    }
});
