//! `MpReach::decode` and `MpUnreach::decode` (attribute values). The first
//! octet picks the negotiated families and ADD-PATH.
#![no_main]

use evpn_proto::message::{DecodeCxt, FamilySet};
use evpn_proto::{Family, MpReach, MpUnreach};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&b, value)) = data.split_first() else {
        return;
    };
    let set = |bits: u8| {
        Family::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, f)| f)
            .collect::<FamilySet>()
    };
    let cx = DecodeCxt {
        families: set(b & 7),
        add_path: set(b >> 3),
        ..DecodeCxt::default()
    };
    if let Ok(r) = MpReach::decode(value, &cx) {
        assert!(r.path_ids.is_empty() || r.path_ids.len() == r.nlri.len());
    }
    if let Ok(u) = MpUnreach::decode(value, &cx) {
        assert!(u.path_ids.is_empty() || u.path_ids.len() == u.withdrawn.len());
    }
});
