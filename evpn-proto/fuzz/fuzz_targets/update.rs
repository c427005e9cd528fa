//! An UPDATE body (after the header) under a context chosen by the first
//! input octet: bit 0 4-octet AS, bit 1 iBGP, bit 2 peer AS check,
//! bits 3-5 negotiated families, bits 6-7 ADD-PATH (RFC 7911): 0 none,
//! 1 IPv4 unicast, 2 EVPN, 3 all three families. Clean decodes must
//! round-trip under the same context.
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
        add_path: match b >> 6 {
            0 => FamilySet::EMPTY,
            1 => [Family::Ipv4Unicast].into_iter().collect(),
            2 => [Family::Evpn].into_iter().collect(),
            _ => FamilySet::ALL,
        },
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
    // Path ids are parallel to their NLRI, or absent.
    let u = &d.update;
    for (ids, n) in [
        (&u.withdrawn_path_ids, u.withdrawn.len()),
        (&u.nlri_path_ids, u.nlri.len()),
    ] {
        assert!(ids.is_empty() || ids.len() == n);
    }
});
