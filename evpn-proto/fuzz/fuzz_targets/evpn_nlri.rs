//! An EVPN NLRI field (MP_REACH / MP_UNREACH, AFI 25 / SAFI 70), read
//! twice: as plain NLRI, and as NLRI each preceded by an ADD-PATH path id
//! (RFC 7911). Whatever decodes must re-encode to the same routes.
#![no_main]

use evpn_proto::evpn::{read_evpn_routes, read_evpn_routes_with_path_ids, EvpnRoute};
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
    // One route body by type (what `read` calls after the type and length).
    // The length octet bounds a body at 255.
    if let Some((&rt, body)) = data.split_first().filter(|(_, b)| b.len() <= 255) {
        if let Ok(r) = EvpnRoute::read_body(rt, body) {
            let mut again = Vec::with_capacity(data.len() + 2);
            r.write(&mut again);
            assert_eq!(
                read_evpn_routes(&again).expect("re-encoded route body"),
                vec![r]
            );
        }
    }
});
