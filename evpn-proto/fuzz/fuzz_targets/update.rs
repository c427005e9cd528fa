//! An UPDATE body (after the header) under a context chosen by the first
//! input octet: bit 0 4-octet AS, bit 1 iBGP, bit 2 peer AS check,
//! bits 3-5 negotiated families. Clean decodes must round-trip.
#![no_main]

use evpn_proto::message::{DecodeCxt, FamilySet, Update, Verdict};
use evpn_proto::Family;
use libfuzzer_sys::fuzz_target;

fn cx(b: u8) -> DecodeCxt {
    DecodeCxt {
        four_octet_as: b & 1 != 0,
        ibgp: b & 2 != 0,
        peer_as: (b & 4 != 0).then_some(65001),
        families: Family::ALL
            .into_iter()
            .enumerate()
            .filter(|(i, _)| b & (8 << i) != 0)
            .map(|(_, f)| f)
            .collect::<FamilySet>(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, body)) = data.split_first() else {
        return;
    };
    let cx = cx(first);
    let Ok(d) = Update::decode(body, &cx) else {
        return;
    };
    // Decided before anything else is looked at, and never for a bad UPDATE.
    if d.verdict != Verdict::Ok {
        assert!(d.end_of_rib().is_none());
        return;
    }
    let again = d.update.encode(&cx);
    let back = Update::decode(&again[19..], &cx).expect("re-encoded UPDATE must decode");
    assert_eq!(back.errors, vec![]);
    assert_eq!(back.update, d.update);
});
