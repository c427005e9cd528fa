//! `PathAttrs::decode`: the path attribute section of an UPDATE, which runs
//! every per-attribute decoder. The first octet picks the session context.
#![no_main]

use evpn_proto::attr::PathAttrs;
use evpn_proto::message::{DecodeCxt, FamilySet};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&b, section)) = data.split_first() else {
        return;
    };
    let cx = DecodeCxt {
        four_octet_as: b & 1 != 0,
        ibgp: b & 2 != 0,
        peer_as: (b & 4 != 0).then_some(65001),
        add_path: if b & 8 != 0 {
            FamilySet::ALL
        } else {
            FamilySet::EMPTY
        },
        ..DecodeCxt::default()
    };
    let Ok(walk) = PathAttrs::decode(section, &cx) else {
        return;
    };
    // Every attribute on the wire is counted once, at most one per octet
    // triple (flags, type, length).
    assert!(walk.count <= section.len() / 3);
    if walk.errors.is_empty() {
        let mut again = Vec::new();
        walk.attrs.encode(&cx, &mut again);
        let back = PathAttrs::decode(&again, &cx).expect("re-encoded attributes must decode");
        assert_eq!(back.errors, vec![]);
        assert_eq!(back.attrs, walk.attrs);
    }
});
