//! An EVPN NLRI field (MP_REACH / MP_UNREACH, AFI 25 / SAFI 70), read
//! twice: as plain NLRI, and as NLRI each preceded by an ADD-PATH path id
//! (RFC 7911). Whatever decodes must re-encode to the same routes.
#![no_main]

use evpn_proto::evpn::{read_evpn_routes, read_evpn_routes_with_path_ids};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(routes) = read_evpn_routes(data) {
        let mut again = Vec::with_capacity(data.len());
        for r in &routes {
            r.write(&mut again);
        }
        let back = read_evpn_routes(&again).expect("re-encoded EVPN NLRI must decode");
        assert_eq!(back, routes);
    }
    if let Ok((routes, ids)) = read_evpn_routes_with_path_ids(data) {
        assert_eq!(routes.len(), ids.len());
        let mut again = Vec::with_capacity(data.len());
        for (r, id) in routes.iter().zip(&ids) {
            again.extend_from_slice(&id.to_be_bytes());
            r.write(&mut again);
        }
        let back =
            read_evpn_routes_with_path_ids(&again).expect("re-encoded EVPN NLRI must decode");
        assert_eq!(back, (routes, ids));
    }
});
