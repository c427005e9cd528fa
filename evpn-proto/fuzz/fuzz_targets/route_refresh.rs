//! `RouteRefresh::decode` (a whole message, header included).
#![no_main]

use evpn_proto::message::RouteRefresh;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(r) = RouteRefresh::decode(data) else {
        return;
    };
    let again = r.encode();
    assert_eq!(&again[19..], &data[19..]);
    assert_eq!(
        RouteRefresh::decode(&again).expect("re-encoded ROUTE-REFRESH"),
        r
    );
});
