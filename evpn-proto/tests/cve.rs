//! Regression tests for the BGP parser CVEs of other implementations
//! (shared/notes/bgp-robustness.md §1): one test per CVE, named after it,
//! feeding the input the advisory describes and asserting the handling the
//! note's "correct handling" column asks for. CVEs already pinned by a test of
//! the malformed-input suite carry the CVE id in that test's name there
//! (`grep -n 'fn cve_' tests/*.rs` lists them all).
//!
//! Not applicable to a codec without those parsers, so without a test here:
//! CVE-2024-55553 (RPKI revalidation load), CVE-2025-43970 (MRT),
//! CVE-2025-43973 (RTR), and the ospfd CVEs the note lists. FlowSpec,
//! labeled unicast, Prefix-SID, AIGP and tunnel encapsulation are not parsed
//! either, but they *reach* this codec from a peer, so each of those CVEs has
//! a test proving how the bytes are set aside.

#![expect(
    clippy::unwrap_used,
    reason = "test fixtures are known-valid values; a failure is a test failure"
)]
#![expect(
    clippy::expect_used,
    reason = "test fixtures are known-valid values; a failure is a test failure"
)]

mod common;

use std::net::IpAddr;

use common::*;
use evpn_proto::attr::{flags, MpNlri, RawAttribute};
use evpn_proto::capability::Capability;
use evpn_proto::error::code;
use evpn_proto::message::{decode_message, DecodeCxt, Decoded, Verdict};
use evpn_proto::{Action, Esi, EvpnRoute, Family, Label, Mac, MacIp, Rd};

use code::update as u;

/// The OPEN with these capabilities fails to decode with [2,0].
#[track_caller]
fn open_unspecific(caps: &[u8]) {
    let b = open_body(65001, 90, PEER_ID, &caps_param(caps));
    reset(&message(1, &b), &cx(), code::OPEN, code::open::UNSPECIFIC);
}

/// MP_REACH_NLRI of a family evpnd never negotiates, with a raw next hop and
/// raw NLRI octets.
fn mp_reach_raw(afi: u16, safi: u8, nh: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut v = afi.to_be_bytes().to_vec();
    v.push(safi);
    v.push(nh.len() as u8);
    v.extend_from_slice(nh);
    v.push(0);
    v.extend_from_slice(nlri);
    attr(ON | flags::EXTENDED_LENGTH, 14, &v)
}

/// A foreign family's MP_REACH next to a valid IPv4 route: the foreign NLRI
/// are kept raw and noted (attribute-discard [3,9]); the IPv4 route is used.
#[track_caller]
fn foreign_family_set_aside(afi: u16, safi: u8, nlri: &[u8]) {
    let attrs = [base(), mp_reach_raw(afi, safi, &[192, 0, 2, 1], nlri)].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    only(&d, Action::AttributeDiscard, 3, u::OPTIONAL_ATTRIBUTE_ERROR);
    assert_eq!(d.update.nlri, vec![nlri_prefix()]);
    assert_eq!(
        d.update.attrs.mp_reach.unwrap().nlri,
        MpNlri::Unknown(nlri.to_vec())
    );
}

// ---------------------------------------------------------------------------
// FRR bgpd.

#[test]
fn cve_2022_36440_four_octet_as_capability_of_the_wrong_length_is_open_unspecific() {
    // bgpd asserted while peeking for the AS4 capability.
    open_unspecific(&[65, 2, 0xfd, 0xe9]);
    open_unspecific(&[65, 0]);
    // The capability length runs past its parameter.
    open_unspecific(&[65, 4, 0, 0]);
}

#[test]
fn cve_2022_37032_dynamic_capability_message_is_bad_message_type() {
    // Dynamic CAPABILITY (type 6) whose capability header is cut short. We
    // do not speak it, so the type alone is the error, data = the type.
    let e = reset(
        &message(6, &[0, 67]),
        &cx(),
        code::MESSAGE_HEADER,
        code::header::BAD_MESSAGE_TYPE,
    );
    assert_eq!(e.data, vec![6]);
}

#[test]
fn cve_2023_31489_malformed_long_lived_gr_capability_is_ignored_or_open_unspecific() {
    // LLGR (71) with a 1-octet value: not a capability we interpret, so it
    // is kept verbatim and ignored (RFC 5492 §3); the one after it is read.
    let caps = [71, 1, 0xff, 65, 4, 0, 0, 0xfd, 0xe9];
    let o = open_ok(&open_body(65001, 90, PEER_ID, &caps_param(&caps)));
    assert_eq!(
        o.capabilities,
        vec![
            Capability::Unknown {
                code: 71,
                value: vec![0xff]
            },
            Capability::FourOctetAs(65001)
        ]
    );
    // LLGR whose length runs past its parameter: [2,0].
    open_unspecific(&[71, 7, 0, 1, 1]);
}

#[test]
fn cve_2023_31490_and_2024_31948_malformed_prefix_sid_is_passed_on_untouched() {
    // Prefix-SID (40, optional transitive) with a TLV length past the
    // attribute and an undefined TLV type. Not parsed here: carried as an
    // unrecognised transitive attribute (Partial set), routes usable.
    let bad = [1, 0xff, 0xff, 0, 7, 9];
    let attrs = [base(), attr(OT, 40, &bad)].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    clean(&d);
    assert_eq!(d.update.nlri, vec![nlri_prefix()]);
    assert_eq!(
        d.update.attrs.unknown,
        vec![RawAttribute {
            flags: OT | flags::PARTIAL,
            type_code: 40,
            value: bad.to_vec()
        }]
    );
}

#[test]
fn cve_2023_38406_flowspec_nlri_of_length_0_is_set_aside() {
    foreign_family_set_aside(1, 133, &[0]);
}

#[test]
fn cve_2023_38407_labeled_unicast_nlri_running_past_the_attribute_is_set_aside() {
    // Labeled unicast (SAFI 4): prefix length 88 (label + /64) with 2
    // octets behind it.
    foreign_family_set_aside(1, 4, &[88, 0, 0]);
}

#[test]
fn cve_2023_41359_truncated_aigp_is_dropped_silently() {
    // AIGP (26) is optional non-transitive; a 1-octet value (no room for the
    // TLV's length) is dropped like any unrecognised non-transitive one.
    let attrs = [base(), attr(ON, 26, &[1])].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    clean(&d);
    assert!(d.update.attrs.unknown.is_empty());
    assert_eq!(d.update.nlri, vec![nlri_prefix()]);
}

#[test]
fn cve_2023_41360_route_refresh_with_a_cut_orf_is_route_refresh_error() {
    // AFI 1, SAFI 1, When-to-refresh 1, then an ORF type octet and nothing.
    let m = message(5, &[0, 1, 0, 1, 1, 64]);
    let e = reset(
        &m,
        &cx(),
        code::ROUTE_REFRESH,
        code::route_refresh::INVALID_MESSAGE_LENGTH,
    );
    assert_eq!(e.data, m, "the data is the whole message (RFC 7313 §5)");
}

#[test]
fn cve_2023_41361_and_gobgp_2025_43971_software_version_capability_lengths() {
    // Software version (75) of length 0 (GoBGP panicked on it): ignored.
    let o = open_ok(&open_body(65001, 90, PEER_ID, &caps_param(&[75, 0])));
    assert_eq!(
        o.capabilities,
        vec![Capability::Unknown {
            code: 75,
            value: vec![]
        }]
    );
    // A length past its parameter (FRR copied it unbounded): [2,0].
    open_unspecific(&[75, 200, 1, b'x']);
}

#[test]
fn cve_2023_41909_flowspec_nlri_without_attributes_is_never_processed() {
    // Only an MP_REACH for FlowSpec, no ORIGIN or AS_PATH. FRR dereferenced
    // the missing attributes while processing the FlowSpec NLRI. Here NLRI
    // of a family not negotiated are kept raw and never used, so there is
    // no route to treat as withdrawn: the only rule is the note that they
    // were ignored, and the UPDATE is not an End-of-RIB.
    let nlri = [5, 1, 24, 10, 1, 0];
    let d = decode_update(&update(&[], &mp_reach_raw(1, 133, &[], &nlri), &[]), &cx());
    only(&d, Action::AttributeDiscard, 3, u::OPTIONAL_ATTRIBUTE_ERROR);
    assert_eq!(d.end_of_rib(), None);
    assert_eq!(
        d.update.attrs.mp_reach.unwrap().nlri,
        MpNlri::Unknown(nlri.to_vec())
    );
    // The same shape for EVPN, a family we use: treat-as-withdraw for the
    // missing ORIGIN and AS_PATH, with the NLRI returned for withdrawal.
    let attrs = mp_reach_evpn(&VTEP, &wire(&[rt2(1)]));
    let d = decode_update(&update(&[], &attrs, &[]), &cx());
    assert_eq!(d.verdict, Verdict::TreatAsWithdraw);
    let missing: Vec<u8> = d
        .errors
        .iter()
        .filter(|e| (e.code, e.subcode) == (3, u::MISSING_WELL_KNOWN))
        .map(|e| e.data[0])
        .collect();
    assert_eq!(missing, vec![1, 2, 5], "ORIGIN, AS_PATH, LOCAL_PREF (iBGP)");
    assert_eq!(
        d.update.attrs.mp_reach.unwrap().nlri,
        MpNlri::Evpn(vec![rt2(1)])
    );
}

#[test]
fn cve_2024_44070_tunnel_encapsulation_value_past_the_attribute_is_kept_raw() {
    // Tunnel type 8 (VXLAN), TLV length 4, then a sub-TLV whose 2-octet
    // length (0xffff) claims far more than the 2 octets left.
    let v = [0, 8, 0, 4, 0x80, 0xff, 0xff, 0];
    let attrs = [base(), attr(OT, 23, &v)].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    clean(&d);
    assert_eq!(d.update.attrs.unknown.len(), 1);
    assert_eq!(d.update.attrs.unknown[0].value, v.to_vec());
}

#[test]
fn cve_2026_37457_flowspec_component_with_a_bad_operator_is_set_aside() {
    // NLRI length 3: component type 3 (IP protocol), operator "end of list
    // + length 8 octets" with no value behind it.
    foreign_family_set_aside(1, 133, &[3, 3, 0xb1]);
}

#[test]
fn cve_2026_37459_and_37462_update_length_arithmetic_never_underflows() {
    // Each length is checked before it is subtracted from what is left.
    // UPDATE shorter than 23 octets: Bad Message Length with the length.
    let e = reset(
        &message(2, &[0, 0]),
        &cx(),
        code::MESSAGE_HEADER,
        code::header::BAD_MESSAGE_LENGTH,
    );
    assert_eq!(e.data, vec![0, 21]);
    // Withdrawn Routes Length 0xffff in a 23-octet UPDATE.
    reset(
        &message(2, &[0xff, 0xff, 0, 0]),
        &cx(),
        3,
        u::MALFORMED_ATTRIBUTE_LIST,
    );
    // Withdrawn Routes Length 2 eats the Total Path Attribute Length field.
    reset(
        &message(2, &[0, 2, 0, 0]),
        &cx(),
        3,
        u::MALFORMED_ATTRIBUTE_LIST,
    );
    // Total Path Attribute Length one past the end.
    let mut m = update(&[], &base(), &[]);
    let at = 19 + 2;
    let n = u16::from_be_bytes([m[at], m[at + 1]]) + 1;
    m[at..at + 2].copy_from_slice(&n.to_be_bytes());
    reset(&m, &cx(), 3, u::MALFORMED_ATTRIBUTE_LIST);
}

#[test]
fn cve_2026_5107_rt2_with_every_field_at_its_limit_decodes_exactly() {
    // The advisory gives no detail beyond "type-2 processing"; this pins
    // the RT-2 decode at the edges: MAX-ESI (kept as received, RFC 7432
    // §9.2.2 is the importer's business), Ethernet tag 0xffffffff, IPv6,
    // two labels at 0xffffff, RD type 2 with the largest AS.
    let r = EvpnRoute::MacIp(MacIp {
        rd: Rd::As4 {
            asn: u32::MAX,
            number: u16::MAX,
        },
        esi: Esi([0xff; 10]),
        eth_tag: u32::MAX,
        mac: Mac([0xff; 6]),
        ip: Some(IpAddr::V6("ffff::ffff".parse().unwrap())),
        label1: Label::from_raw(0xff_ffff),
        label2: Some(Label::from_raw(0xff_ffff)),
    });
    let attrs = evpn_attrs(&mp_reach_evpn(&VTEP, &wire(std::slice::from_ref(&r))));
    let d = decode_update(&update(&[], &attrs, &[]), &cx());
    clean(&d);
    assert_eq!(d.update.attrs.mp_reach.unwrap().nlri, MpNlri::Evpn(vec![r]));
}

// ---------------------------------------------------------------------------
// GoBGP.

#[test]
fn cve_2023_46565_every_undefined_message_type_is_bad_message_type() {
    // GoBGP parsed the body before checking the header's type.
    for t in (0..=255u8).filter(|t| !(1..=5).contains(t)) {
        let e = reset(
            &message(t, &[0; 8]),
            &cx(),
            code::MESSAGE_HEADER,
            code::header::BAD_MESSAGE_TYPE,
        );
        assert_eq!(e.data, vec![t]);
    }
}

#[test]
fn cve_2025_43972_flowspec_nlri_shorter_than_20_octets_is_set_aside() {
    foreign_family_set_aside(1, 133, &[4, 1, 0x81, 6]);
    // FlowSpec VPN (SAFI 134) too.
    foreign_family_set_aside(1, 134, &[2, 0]);
}

#[test]
fn cve_2026_30405_next_hop_length_3_is_treat_as_withdraw_and_the_rest_stays_aligned() {
    // NEXT_HOP of 3 octets, then MED 7: the MED must be read at its own
    // offset, not shifted by the short NEXT_HOP.
    let attrs = [
        origin(),
        as_path(),
        attr(WK, 3, &[192, 0, 2]),
        attr(ON, 4, &[0, 0, 0, 7]),
        local_pref(),
    ]
    .concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    taw_with_nlri(&d, 3, u::ATTRIBUTE_LENGTH_ERROR);
    assert_eq!(d.update.attrs.med, Some(7));
    assert_eq!(d.update.attrs.local_pref, Some(100));
}

#[test]
fn cve_2026_41643_malformed_as4_path_before_as_path_is_attribute_discard() {
    // On a 2-octet session: AS4_PATH first, with a segment overrun, then
    // AS_PATH [65001 23456]. AS4_PATH is discarded, AS_PATH kept as sent.
    let two = DecodeCxt {
        four_octet_as: false,
        ..cx()
    };
    let attrs = [
        attr(OT, 17, &[2, 3, 0, 0, 0xfd, 0xe9]),
        origin(),
        attr(WK, 2, &[2, 2, 0xfd, 0xe9, 0x5b, 0xa0]),
        next_hop(),
        local_pref(),
    ]
    .concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &two);
    only(&d, Action::AttributeDiscard, 3, u::MALFORMED_AS_PATH);
    assert_eq!(d.update.attrs.as4_path, None);
    let p = d.update.attrs.as_path.unwrap();
    assert_eq!(p.segments[0].asns, vec![65001, 23456]);
}

#[test]
fn cve_2026_37461_truncated_ipv6_address_specific_ext_community_is_not_misread() {
    // IPv6 Address Specific Extended Community (25) of 19 octets: not a
    // type we interpret, kept raw. It is never read as EXTENDED_COMMUNITIES.
    let v = [
        0x00, 0x02, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0,
    ];
    let attrs = [base(), attr(OT, 25, &v)].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    clean(&d);
    assert_eq!(d.update.attrs.ext_communities, None);
    assert_eq!(d.update.attrs.unknown[0].type_code, 25);
    assert_eq!(d.update.attrs.unknown[0].value, v.to_vec());
    // The same 20-octet shape in EXTENDED_COMMUNITIES (16) is not a
    // multiple of 8: treat-as-withdraw (RFC 7606 §7.14).
    let attrs = [base(), attr(OT, 16, &[v.as_slice(), &[0]].concat())].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    taw_with_nlri(&d, 3, u::ATTRIBUTE_LENGTH_ERROR);
}

// ---------------------------------------------------------------------------
// BIRD and OpenBGPD.

#[test]
fn cve_2026_49943_and_openbgpd_longest_as_path_that_fits_decodes_whole() {
    // BIRD overflowed its stack on >2048 ASNs, OpenBGPD (2009) crashed past
    // 255. Without RFC 8654 the most a 4096-octet UPDATE holds is about
    // 1000 four-octet ASNs: 4 segments of 255 (+1 short one) here.
    let asns: Vec<u32> = (1..=1000).map(|i| 64_512 + i).collect();
    let mut v = Vec::new();
    for chunk in asns.chunks(255) {
        v.extend_from_slice(&[2, chunk.len() as u8]);
        chunk
            .iter()
            .for_each(|a| v.extend_from_slice(&a.to_be_bytes()));
    }
    let attrs = [
        origin(),
        attr(WK | flags::EXTENDED_LENGTH, 2, &v),
        next_hop(),
        local_pref(),
    ]
    .concat();
    let m = update(&[], &attrs, &NLRI);
    assert!(m.len() <= 4096, "{}", m.len());
    let d = decode_update(&m, &cx());
    clean(&d);
    let p = d.update.attrs.as_path.unwrap();
    assert_eq!(p.path_len(), 1000);
    assert_eq!(
        p.segments
            .iter()
            .flat_map(|s| s.asns.clone())
            .collect::<Vec<_>>(),
        asns
    );
}

#[test]
fn inex_2025_unrecognised_transitive_attribute_is_re_sent_with_its_own_length() {
    // BIRD re-advertised OTC (35) with a wrong length, and receivers reset.
    // An attribute we do not interpret goes out with exactly its received
    // value (and Partial set), whatever its length: here 4 and 1024 octets.
    for len in [4usize, 1024] {
        let value: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let f = OT | if len > 255 { flags::EXTENDED_LENGTH } else { 0 };
        let attrs = [base(), attr(f, 35, &value)].concat();
        let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
        clean(&d);
        let re = d.update.encode(&cx());
        let Ok(Decoded::Update(back)) = decode_message(&re, &cx()) else {
            panic!("re-encoded UPDATE does not decode");
        };
        assert_eq!(
            back.update.attrs.unknown,
            vec![RawAttribute {
                flags: OT | flags::PARTIAL,
                type_code: 35,
                value,
            }]
        );
    }
}

#[test]
fn families_outside_the_session_never_reach_a_parser() {
    // The common shape of the FlowSpec and labeled-unicast CVEs above: on an
    // EVPN-only session even IPv4 unicast MP_REACH is kept raw.
    let evpn_only = DecodeCxt {
        families: [Family::Evpn].into_iter().collect(),
        ..cx()
    };
    let attrs = [
        evpn_attrs(&[]),
        mp_reach_raw(1, 1, &[192, 0, 2, 1], &[33, 1, 2, 3, 4, 5]),
    ]
    .concat();
    let d = decode_update(&update(&[], &attrs, &[]), &evpn_only);
    only(&d, Action::AttributeDiscard, 3, u::OPTIONAL_ATTRIBUTE_ERROR);
    assert_eq!(
        d.update.attrs.mp_reach.unwrap().nlri,
        MpNlri::Unknown(vec![33, 1, 2, 3, 4, 5])
    );
}
