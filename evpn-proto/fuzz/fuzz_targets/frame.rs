//! A TCP byte stream, split with frame_len as the shell does, each frame
//! decoded; frames that decode cleanly must round-trip.
#![no_main]

use evpn_proto::message::{decode_message, frame_len, DecodeCxt, Verdict};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cx = DecodeCxt::default();
    let mut pos = 0;
    // Each frame is at least 19 octets, so this loop ends.
    while let Ok(Some(n)) = frame_len(&data[pos..]) {
        assert!((19..=4096).contains(&n) && pos + n <= data.len());
        let frame = &data[pos..pos + n];
        pos += n;
        let Ok(d) = decode_message(frame, &cx) else {
            continue;
        };
        if d.verdict() != Verdict::Ok {
            continue;
        }
        let msg = d.into_message();
        let back = decode_message(&msg.encode(&cx), &cx).expect("re-encoded frame must decode");
        assert_eq!(back.into_message(), msg);
    }
});
