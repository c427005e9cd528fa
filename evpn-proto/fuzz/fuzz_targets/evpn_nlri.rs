//! An EVPN NLRI field (MP_REACH / MP_UNREACH, AFI 25 / SAFI 70).
#![no_main]

use evpn_proto::evpn::read_evpn_routes;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(routes) = read_evpn_routes(data) else {
        return;
    };
    let mut again = Vec::with_capacity(data.len());
    for r in &routes {
        r.write(&mut again);
    }
    let back = read_evpn_routes(&again).expect("re-encoded EVPN NLRI must decode");
    assert_eq!(back, routes);
});
