//! `Notification::decode` (a message body) and what a receiver reads from
//! it: the RFC 8203 communication and the RFC 8538 Hard Reset cause.
#![no_main]

use evpn_proto::message::Notification;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(n) = Notification::decode(data) else {
        return;
    };
    let _ = n.shutdown_communication();
    let _ = n.hard_reset_cause();
    let _ = (n.code_name(), n.subcode_name());
    let back =
        Notification::decode(&n.encode()[19..]).expect("re-encoded NOTIFICATION must decode");
    assert_eq!(back, n);
});
