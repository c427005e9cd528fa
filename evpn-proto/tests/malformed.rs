//! Malformed-input cases: one test per rule of shared/notes/bgp-robustness.md
//! (§1 CVEs, §2.1 header/OPEN, §2.2 UPDATE per attribute, §2.3 EVPN NLRI).
//! Each asserts the exact RFC 7606 action and NOTIFICATION code/subcode, and
//! for treat-as-withdraw that the NLRI are still returned for withdrawal.

#![expect(
    clippy::unwrap_used,
    reason = "test fixtures are known-valid values; a failure is a test failure"
)]
#![expect(
    clippy::expect_used,
    reason = "test fixtures are known-valid values; a failure is a test failure"
)]

mod common;

use std::net::Ipv4Addr;

use common::*;
use evpn_proto::attr::{flags, MpNlri, NextHop};
use evpn_proto::error::code;
use evpn_proto::message::{decode_message, frame_len, DecodeCxt, Decoded, Verdict};
use evpn_proto::prefix::Ipv4Prefix;
use evpn_proto::{Action, Esi, Family};

use code::update as u;

// ---------------------------------------------------------------------------
// §2.1 Message header (RFC 4271 §6.1).

#[test]
fn marker_not_all_ones_is_connection_not_synchronized() {
    let mut m = message(4, &[]);
    m[3] = 0;
    reset(&m, &cx(), 1, 1);
    assert_eq!(frame_len(&m).unwrap_err().subcode, 1);
}

#[test]
fn length_below_19_is_bad_message_length_with_the_length_as_data() {
    let mut m = message(4, &[]);
    m[17] = 18;
    let e = frame_len(&m).unwrap_err();
    assert_eq!((e.action, e.code, e.subcode), (Action::SessionReset, 1, 2));
    assert_eq!(e.data, vec![0, 18]);
}

#[test]
fn length_above_4096_is_bad_message_length() {
    let mut m = message(2, &[0; 4]);
    m[16..18].copy_from_slice(&4097u16.to_be_bytes());
    let e = frame_len(&m).unwrap_err();
    assert_eq!(
        (e.code, e.subcode, e.data.clone()),
        (1, 2, vec![0x10, 0x01])
    );
}

#[test]
fn unknown_message_type_is_bad_message_type_with_the_type_as_data() {
    let e = reset(&message(7, &[]), &cx(), 1, 3);
    assert_eq!(e.data, vec![7]);
}

#[test]
fn keepalive_longer_than_19_is_bad_message_length() {
    reset(&message(4, &[0]), &cx(), 1, 2);
}

#[test]
fn per_type_minimum_lengths_are_bad_message_length() {
    reset(&message(1, &[4; 9]), &cx(), 1, 2); // OPEN < 29
    reset(&message(2, &[0; 3]), &cx(), 1, 2); // UPDATE < 23
    reset(&message(3, &[6]), &cx(), 1, 2); // NOTIFICATION < 21
}

#[test]
fn route_refresh_length_not_23_is_route_refresh_invalid_length_with_message() {
    let m = message(5, &[0, 25, 0, 70, 0]);
    let e = reset(&m, &cx(), 7, 1);
    assert_eq!(e.data, m);
    reset(&message(5, &[0, 25, 0]), &cx(), 7, 1);
}

#[test]
fn route_refresh_unknown_subtype_decodes_so_it_can_be_ignored() {
    let m = message(5, &[0, 25, 9, 70]);
    match decode_message(&m, &cx()).unwrap() {
        Decoded::RouteRefresh(r) => {
            assert_eq!(r.subtype, evpn_proto::message::RefreshSubtype::Unknown(9))
        }
        d => panic!("{d:?}"),
    }
}

// ---------------------------------------------------------------------------
// §2.1 OPEN (RFC 4271 §6.2, RFC 5492, RFC 9072).

#[test]
fn open_version_3_is_unsupported_version_with_largest_supported_as_data() {
    let mut b = open_body(65001, 90, PEER_ID, &[0]);
    b[0] = 3;
    let e = reset(&message(1, &b), &cx(), 2, 1);
    assert_eq!(e.data, vec![0, 4]);
}

#[test]
fn open_peer_as_mismatch_is_bad_peer_as() {
    let o = open_ok(&open_body(65002, 90, PEER_ID, &[0]));
    open_invalid(&o, 65001, false, 2, 2);
    assert!(o.validate(Some(65002), OUR_ID, false).is_ok());
}

#[test]
fn open_as_trans_with_four_octet_capability_validates_against_the_capability() {
    let o = open_ok(&open_body(
        23456,
        90,
        PEER_ID,
        &caps_param(&[65, 4, 0xfa, 0x56, 0xea, 0x01]),
    ));
    assert_eq!(o.peer_as(), 4_200_000_001);
    assert!(o.validate(Some(4_200_000_001), OUR_ID, false).is_ok());
    open_invalid(&o, 23456, false, 2, 2);
}

#[test]
fn open_four_octet_capability_wins_over_a_matching_my_as() {
    // My AS says 65001 but the capability says 65009: the capability wins.
    let o = open_ok(&open_body(
        65001,
        90,
        PEER_ID,
        &caps_param(&[65, 4, 0, 0, 0xfd, 0xf1]),
    ));
    open_invalid(&o, 65001, false, 2, 2);
}

#[test]
fn open_bgp_id_zero_is_bad_bgp_identifier() {
    let o = open_ok(&open_body(65001, 90, [0; 4], &[0]));
    open_invalid(&o, 65001, false, 2, 3);
}

#[test]
fn open_bgp_id_equal_to_ours_is_bad_bgp_identifier_only_on_ibgp() {
    let o = open_ok(&open_body(65001, 90, OUR_ID.octets(), &[0]));
    open_invalid(&o, 65001, true, 2, 3);
    assert!(o.validate(Some(65001), OUR_ID, false).is_ok());
    // A multicast-looking identifier is legal.
    let o = open_ok(&open_body(65001, 90, [224, 0, 0, 1], &[0]));
    assert!(o.validate(Some(65001), OUR_ID, true).is_ok());
}

#[test]
fn open_hold_time_1_or_2_is_unacceptable_and_0_or_3_is_fine() {
    for hold in [1, 2] {
        let o = open_ok(&open_body(65001, hold, PEER_ID, &[0]));
        open_invalid(&o, 65001, false, 2, 6);
    }
    for hold in [0, 3] {
        let o = open_ok(&open_body(65001, hold, PEER_ID, &[0]));
        assert!(o.validate(Some(65001), OUR_ID, false).is_ok());
    }
}

#[test]
fn open_unsupported_optional_parameter_is_2_4() {
    // Type 1 (authentication, deprecated) with 2 octets.
    let o = open_ok(&open_body(65001, 90, PEER_ID, &[4, 1, 2, 0, 0]));
    open_invalid(&o, 65001, false, 2, 4);
}

#[test]
fn cve_2022_43681_open_ending_right_after_the_opt_param_length_is_open_unspecific() {
    // CVE-2022-43681: Opt Parm Len 5, message ends there.
    reset(
        &message(1, &open_body(65001, 90, PEER_ID, &[5])),
        &cx(),
        2,
        0,
    );
    // The same with the RFC 9072 extended form cut after its type octet.
    reset(
        &message(1, &open_body(65001, 90, PEER_ID, &[255, 255])),
        &cx(),
        2,
        0,
    );
    reset(
        &message(1, &open_body(65001, 90, PEER_ID, &[255, 255, 0])),
        &cx(),
        2,
        0,
    );
}

#[test]
fn cve_2022_40302_and_40318_open_rfc9072_extended_length_beyond_the_message_is_open_unspecific() {
    // CVE-2022-40302/40318: extended length 0x0100 with 6 octets present.
    let b = open_body(65001, 90, PEER_ID, &[255, 255, 1, 0, 2, 0, 2, 2, 0, 0]);
    reset(&message(1, &b), &cx(), 2, 0);
}

#[test]
fn open_first_parameter_type_255_switches_to_two_octet_lengths() {
    // RFC 9072 §2: Non-Ext OP Len non-zero and next octet 255 → extended
    // form, whatever the Non-Ext length says. Route refresh capability
    // inside a parameter with a 2-octet length.
    let b = open_body(65001, 90, PEER_ID, &[255, 255, 0, 5, 2, 0, 2, 2, 0]);
    let o = open_ok(&b);
    assert_eq!(o.capabilities, vec![evpn_proto::Capability::RouteRefresh]);
    // Read with 1-octet lengths the same bytes would be garbage: ensure the
    // non-extended reading of a type-255 parameter is never attempted.
    let b = open_body(65001, 90, PEER_ID, &[3, 255, 0, 0]);
    assert!(open_ok(&b).capabilities.is_empty());
}

#[test]
fn open_capability_length_overrunning_its_parameter_is_open_unspecific() {
    // Parameter of 4 octets holding a capability that claims 4 octets of value.
    reset(
        &message(1, &open_body(65001, 90, PEER_ID, &[6, 2, 4, 1, 4, 0, 25])),
        &cx(),
        2,
        0,
    );
}

#[test]
fn open_parameter_length_overrunning_the_parameters_is_open_unspecific() {
    reset(
        &message(1, &open_body(65001, 90, PEER_ID, &[3, 2, 9, 2])),
        &cx(),
        2,
        0,
    );
}

#[test]
fn open_malformed_known_capabilities_are_open_unspecific() {
    for cap in [
        &[65u8, 2, 0, 1][..],    // 4-octet AS, length 2
        &[1, 3, 0, 25, 70][..],  // multiprotocol, length 3
        &[64, 3, 0, 90, 0][..],  // graceful restart, not 2 + 4n
        &[69, 3, 0, 25, 70][..], // ADD-PATH, not 4n
    ] {
        reset(
            &message(1, &open_body(65001, 90, PEER_ID, &caps_param(cap))),
            &cx(),
            2,
            0,
        );
    }
}

#[test]
fn open_unknown_capability_is_ignored() {
    let o = open_ok(&open_body(
        65001,
        90,
        PEER_ID,
        &caps_param(&[73, 3, 1, 2, 3]),
    ));
    assert!(o.validate(Some(65001), OUR_ID, false).is_ok());
    assert_eq!(
        o.capabilities,
        vec![evpn_proto::Capability::Unknown {
            code: 73,
            value: vec![1, 2, 3]
        }]
    );
}

#[test]
fn cve_2024_31949_zero_length_capabilities_always_make_progress() {
    // CVE-2024-31949: 100 zero-length TLVs are 100 capabilities, not a loop.
    let caps: Vec<u8> = (0..100).flat_map(|_| [200u8, 0]).collect();
    let mut opt = vec![255, 255];
    opt.extend_from_slice(&((caps.len() + 3) as u16).to_be_bytes());
    opt.push(2);
    opt.extend_from_slice(&(caps.len() as u16).to_be_bytes());
    opt.extend_from_slice(&caps);
    let o = open_ok(&open_body(65001, 90, PEER_ID, &opt));
    assert_eq!(o.capabilities.len(), 100);
    // Zero-length optional parameters too.
    let o = open_ok(&open_body(65001, 90, PEER_ID, &[4, 2, 0, 2, 0]));
    assert!(o.capabilities.is_empty());
}

// ---------------------------------------------------------------------------
// §2.2 UPDATE structure (RFC 4271 §6.3, RFC 7606 §4, §5.3).

#[test]
fn withdrawn_length_beyond_the_message_is_session_reset_3_1() {
    let mut b = update_body(&[], &base(), &NLRI);
    b[0..2].copy_from_slice(&1000u16.to_be_bytes());
    reset(&message(2, &b), &cx(), 3, 1);
}

#[test]
fn total_path_attribute_length_beyond_the_message_is_session_reset_3_1() {
    let mut b = update_body(&[], &base(), &NLRI);
    b[2..4].copy_from_slice(&((base().len() + 5) as u16).to_be_bytes());
    reset(&message(2, &b), &cx(), 3, 1);
}

#[test]
fn withdrawn_prefix_overrunning_its_field_is_invalid_network_field() {
    reset(&update(&[24, 10, 1], &[], &[]), &cx(), 3, 10);
}

#[test]
fn nlri_prefix_length_33_is_invalid_network_field() {
    reset(&update(&[], &base(), &[33, 10, 1, 0, 0, 0]), &cx(), 3, 10);
}

#[test]
fn cve_2023_41358_total_path_attribute_length_0_with_nlri_is_treat_as_withdraw() {
    // CVE-2023-41358: NLRI without any attribute. ORIGIN, AS_PATH,
    // NEXT_HOP and LOCAL_PREF are all missing.
    let d = decode_update(&update(&[], &[], &NLRI), &cx());
    assert_eq!(d.verdict, Verdict::TreatAsWithdraw);
    assert_eq!(d.errors.len(), 4);
    assert!(d
        .errors
        .iter()
        .all(|e| (e.action, e.code, e.subcode)
            == (Action::TreatAsWithdraw, 3, u::MISSING_WELL_KNOWN)));
    assert_eq!(d.update.nlri, vec![nlri_prefix()]);
}

#[test]
fn cve_2023_47234_mp_unreach_with_nlri_and_no_mandatory_attributes_withdraws_and_treats_nlri_as_withdraw(
) {
    // CVE-2023-47234.
    let withdraw = wire(&[rt2(1)]);
    let d = decode_update(&update(&[], &mp_unreach_evpn(&withdraw), &NLRI), &cx());
    assert_eq!(d.verdict, Verdict::TreatAsWithdraw);
    assert_eq!(
        d.update.attrs.mp_unreach.as_ref().unwrap().withdrawn,
        MpNlri::Evpn(vec![rt2(1)])
    );
    assert_eq!(d.update.nlri, vec![nlri_prefix()]);
    assert_eq!(d.end_of_rib(), None);
}

#[test]
fn cve_2023_46753_nlri_with_only_an_unknown_transitive_attribute_is_treat_as_withdraw() {
    // CVE-2023-46753: type 31 only.
    let d = decode_update(&update(&[], &attr(OT, 31, &[1, 2]), &NLRI), &cx());
    assert_eq!(d.verdict, Verdict::TreatAsWithdraw);
    assert!(d.errors.iter().all(|e| e.subcode == u::MISSING_WELL_KNOWN));
    assert_eq!(d.update.nlri, vec![nlri_prefix()]);
}

#[test]
fn cve_2023_47235_malformed_update_without_nlri_is_not_an_end_of_rib() {
    // CVE-2023-47235: nothing usable is left, but it is not an EoR.
    let d = decode_update(&update(&[], &attr(WK, 1, &[0, 0]), &[]), &cx());
    assert_eq!(d.verdict, Verdict::TreatAsWithdraw);
    assert!(d.update.attrs.is_empty());
    assert_eq!(d.end_of_rib(), None);
    // Same for an EVPN EoR shape followed by a broken attribute.
    let attrs = [mp_unreach_evpn(&[]), attr(WK, 1, &[7])].concat();
    let d = decode_update(&update(&[], &attrs, &[]), &cx());
    assert_eq!(d.update.end_of_rib(), Some(Family::Evpn));
    assert_eq!(d.end_of_rib(), None);
}

#[test]
fn end_of_rib_markers_are_detected_per_family() {
    assert_eq!(
        decode_update(&update(&[], &[], &[]), &cx()).end_of_rib(),
        Some(Family::Ipv4Unicast)
    );
    let d = decode_update(&update(&[], &mp_unreach_evpn(&[]), &[]), &cx());
    assert_eq!(d.end_of_rib(), Some(Family::Evpn));
    let v6 = attr(ON, 15, &[0, 2, 1]);
    assert_eq!(
        decode_update(&update(&[], &v6, &[]), &cx()).end_of_rib(),
        Some(Family::Ipv6Unicast)
    );
}

#[test]
fn end_of_rib_shape_with_a_discarded_attribute_is_not_an_end_of_rib() {
    // An unknown optional non-transitive attribute is dropped silently, but
    // the UPDATE had two attributes: not the EoR marker.
    let attrs = [mp_unreach_evpn(&[]), attr(ON, 99, &[1])].concat();
    let d = decode_update(&update(&[], &attrs, &[]), &cx());
    clean(&d);
    assert_eq!(d.update.end_of_rib(), Some(Family::Evpn));
    assert_eq!(d.end_of_rib(), None);
}

#[test]
fn cve_2023_38283_attribute_overrunning_the_attribute_section_is_treat_as_withdraw_and_nlri_found()
{
    // RFC 7606 §4: the last attribute claims 10 octets, 2 are there.
    let attrs = [base(), vec![OT, 8, 10, 0, 1]].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    taw_with_nlri(&d, 3, u::ATTRIBUTE_LENGTH_ERROR);
    assert_eq!(d.update.attrs.local_pref, Some(100));
}

#[test]
fn fewer_than_three_octets_left_for_an_attribute_is_treat_as_withdraw() {
    let attrs = [base(), vec![OT, 8]].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    taw_with_nlri(&d, 3, u::ATTRIBUTE_LENGTH_ERROR);
    // Extended length with only one length octet left.
    let attrs = [base(), vec![OT | flags::EXTENDED_LENGTH, 8, 0]].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::ATTRIBUTE_LENGTH_ERROR,
    );
}

// ---------------------------------------------------------------------------
// Missing well-known attributes (RFC 7606 §3(d)).

#[test]
fn missing_origin_is_treat_as_withdraw_with_type_as_data() {
    let d = decode_update(&update(&[], &base_without(1), &NLRI), &cx());
    taw_with_nlri(&d, 3, u::MISSING_WELL_KNOWN);
    assert_eq!(d.errors[0].data, vec![1]);
}

#[test]
fn missing_as_path_is_treat_as_withdraw() {
    let d = decode_update(&update(&[], &base_without(2), &NLRI), &cx());
    taw_with_nlri(&d, 3, u::MISSING_WELL_KNOWN);
    assert_eq!(d.errors[0].data, vec![2]);
}

#[test]
fn missing_next_hop_with_ipv4_nlri_is_treat_as_withdraw() {
    let d = decode_update(&update(&[], &base_without(3), &NLRI), &cx());
    taw_with_nlri(&d, 3, u::MISSING_WELL_KNOWN);
    assert_eq!(d.errors[0].data, vec![3]);
}

#[test]
fn missing_next_hop_with_only_mp_reach_is_fine() {
    let attrs = [mp_reach_evpn(&VTEP, &wire(&[rt2(1)])), evpn_attrs(&[])].concat();
    clean(&decode_update(&update(&[], &attrs, &[]), &cx()));
}

#[test]
fn missing_local_pref_is_treat_as_withdraw_on_ibgp_only() {
    let d = decode_update(&update(&[], &base_without(5), &NLRI), &cx());
    taw_with_nlri(&d, 3, u::MISSING_WELL_KNOWN);
    assert_eq!(d.errors[0].data, vec![5]);
    clean(&decode_update(
        &update(&[], &base_without(5), &NLRI),
        &DecodeCxt::ebgp(),
    ));
}

#[test]
fn mp_reach_without_origin_is_treat_as_withdraw_and_evpn_nlri_returned() {
    let attrs = [
        mp_reach_evpn(&VTEP, &wire(&[rt2(1), rt2(2)])),
        as_path(),
        local_pref(),
    ]
    .concat();
    let d = decode_update(&update(&[], &attrs, &[]), &cx());
    only(&d, Action::TreatAsWithdraw, 3, u::MISSING_WELL_KNOWN);
    assert_eq!(
        d.update.attrs.mp_reach.unwrap().nlri,
        MpNlri::Evpn(vec![rt2(1), rt2(2)])
    );
}

// ---------------------------------------------------------------------------
// Flags (RFC 7606 §3(c), RFC 4271 §4.3).

#[test]
fn origin_with_the_optional_flag_is_treat_as_withdraw_flags_error() {
    let attrs = [attr(OT, 1, &[0]), base_without(1)].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::ATTRIBUTE_FLAGS_ERROR,
    );
}

#[test]
fn med_marked_transitive_is_treat_as_withdraw_flags_error() {
    let attrs = [base(), attr(OT, 4, &[0, 0, 0, 1])].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::ATTRIBUTE_FLAGS_ERROR,
    );
}

#[test]
fn aggregator_with_wrong_flags_is_attribute_discard() {
    let attrs = [base(), attr(WK, 7, &[0, 0, 0xfd, 0xe9, 10, 0, 0, 1])].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    only(&d, Action::AttributeDiscard, 3, u::ATTRIBUTE_FLAGS_ERROR);
    assert_eq!(d.update.attrs.aggregator, None);
    assert_eq!(d.update.nlri, vec![nlri_prefix()]);
}

#[test]
fn mp_reach_with_wrong_flags_is_treat_as_withdraw_with_its_nlri_returned() {
    let mut mp = mp_reach_evpn(&VTEP, &wire(&[rt2(1)]));
    mp[0] |= flags::TRANSITIVE;
    let attrs = [mp, evpn_attrs(&[])].concat();
    let d = decode_update(&update(&[], &attrs, &[]), &cx());
    only(&d, Action::TreatAsWithdraw, 3, u::ATTRIBUTE_FLAGS_ERROR);
    assert_eq!(
        d.update.attrs.mp_reach.unwrap().nlri,
        MpNlri::Evpn(vec![rt2(1)])
    );
}

#[test]
fn openbgpd_reserved_low_flag_bits_are_ignored() {
    // OpenBGPD once reset on "Flags [OT+8]"; RFC 4271 §4.3: ignore them.
    let attrs = [base(), attr(OT | 0x08, 8, &[0, 1, 0, 1])].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    clean(&d);
    assert!(d.update.attrs.communities.is_some());
}

#[test]
fn extended_length_on_a_short_attribute_is_accepted() {
    let attrs = [attr(WK | flags::EXTENDED_LENGTH, 1, &[2]), base_without(1)].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    clean(&d);
    assert_eq!(
        d.update.attrs.origin,
        Some(evpn_proto::attr::Origin::Incomplete)
    );
}

// ---------------------------------------------------------------------------
// Per-attribute rules (RFC 7606 §7).

#[test]
fn origin_length_2_is_treat_as_withdraw() {
    let attrs = [attr(WK, 1, &[0, 0]), base_without(1)].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::ATTRIBUTE_LENGTH_ERROR,
    );
}

#[test]
fn origin_value_3_is_treat_as_withdraw_invalid_origin() {
    let attrs = [attr(WK, 1, &[3]), base_without(1)].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::INVALID_ORIGIN,
    );
}

#[test]
fn as_path_segment_overrun_is_treat_as_withdraw_malformed_as_path() {
    let attrs = [attr(WK, 2, &[2, 2, 0, 0, 0xfd, 0xe9]), base_without(2)].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::MALFORMED_AS_PATH,
    );
}

#[test]
fn as_path_zero_length_segment_is_treat_as_withdraw() {
    let attrs = [attr(WK, 2, &[2, 0]), base_without(2)].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::MALFORMED_AS_PATH,
    );
}

#[test]
fn as_path_unknown_segment_type_is_treat_as_withdraw() {
    let attrs = [attr(WK, 2, &[9, 1, 0, 0, 0xfd, 0xe9]), base_without(2)].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::MALFORMED_AS_PATH,
    );
}

#[test]
fn as_path_containing_as_0_is_treat_as_withdraw() {
    let attrs = [
        attr(WK, 2, &[2, 2, 0, 0, 0xfd, 0xe9, 0, 0, 0, 0]),
        base_without(2),
    ]
    .concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::MALFORMED_AS_PATH,
    );
}

#[test]
fn four_octet_as_path_on_a_two_octet_session_is_treat_as_withdraw() {
    // 1 ASN announced, 4 octets present: a 2-octet reader finds 2 stray octets.
    let two = DecodeCxt {
        four_octet_as: false,
        ..cx()
    };
    let attrs = [attr(WK, 2, &[2, 1, 0, 0, 0xfd, 0xe9]), base_without(2)].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &two),
        3,
        u::MALFORMED_AS_PATH,
    );
    let attrs = [attr(WK, 2, &[2, 1, 0xfd, 0xe9]), base_without(2)].concat();
    clean(&decode_update(&update(&[], &attrs, &NLRI), &two));
}

#[test]
fn ebgp_leftmost_as_not_the_peer_is_treat_as_withdraw() {
    let ebgp = DecodeCxt {
        peer_as: Some(65099),
        ..DecodeCxt::ebgp()
    };
    let attrs = base_without(5);
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &ebgp),
        3,
        u::MALFORMED_AS_PATH,
    );
    let ok = DecodeCxt {
        peer_as: Some(65001),
        ..DecodeCxt::ebgp()
    };
    clean(&decode_update(&update(&[], &attrs, &NLRI), &ok));
}

#[test]
fn next_hop_length_5_is_treat_as_withdraw() {
    let attrs = [attr(WK, 3, &[192, 0, 2, 1, 0]), base_without(3)].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::ATTRIBUTE_LENGTH_ERROR,
    );
}

#[test]
fn cve_2026_37458_martian_next_hop_is_treat_as_withdraw_without_session_reset() {
    for nh in [
        [0, 0, 0, 0],
        [127, 0, 0, 1],
        [224, 0, 0, 1],
        [255, 255, 255, 255],
    ] {
        let attrs = [attr(WK, 3, &nh), base_without(3)].concat();
        let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
        taw_with_nlri(&d, 3, u::INVALID_NEXT_HOP);
    }
}

#[test]
fn med_length_3_is_treat_as_withdraw() {
    let attrs = [base(), attr(ON, 4, &[0, 0, 1])].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::ATTRIBUTE_LENGTH_ERROR,
    );
}

#[test]
fn local_pref_from_ebgp_is_attribute_discard_and_routes_kept() {
    let d = decode_update(&update(&[], &base(), &NLRI), &DecodeCxt::ebgp());
    only(&d, Action::AttributeDiscard, 3, u::MALFORMED_ATTRIBUTE_LIST);
    assert_eq!(d.update.attrs.local_pref, None);
    assert_eq!(d.update.nlri, vec![nlri_prefix()]);
}

#[test]
fn local_pref_length_2_on_ibgp_is_treat_as_withdraw() {
    let attrs = [base_without(5), attr(WK, 5, &[0, 100])].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::ATTRIBUTE_LENGTH_ERROR,
    );
}

#[test]
fn atomic_aggregate_length_1_is_attribute_discard() {
    let attrs = [base(), attr(WK, 6, &[0])].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    only(&d, Action::AttributeDiscard, 3, u::ATTRIBUTE_LENGTH_ERROR);
    assert!(!d.update.attrs.atomic_aggregate);
}

#[test]
fn aggregator_length_7_is_attribute_discard() {
    let attrs = [base(), attr(OT, 7, &[0, 0, 0xfd, 0xe9, 10, 0, 0])].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    only(&d, Action::AttributeDiscard, 3, u::ATTRIBUTE_LENGTH_ERROR);
    // 6 octets is right on a 2-octet session, wrong on a 4-octet one.
    let attrs = [base(), attr(OT, 7, &[0xfd, 0xe9, 10, 0, 0, 1])].concat();
    only(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        Action::AttributeDiscard,
        3,
        u::ATTRIBUTE_LENGTH_ERROR,
    );
}

#[test]
fn aggregator_as_0_is_attribute_discard() {
    let attrs = [base(), attr(OT, 7, &[0, 0, 0, 0, 10, 0, 0, 1])].concat();
    only(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        Action::AttributeDiscard,
        3,
        u::OPTIONAL_ATTRIBUTE_ERROR,
    );
}

#[test]
fn communities_length_not_a_multiple_of_4_is_treat_as_withdraw() {
    for v in [&[0u8, 1, 0, 1, 0][..], &[][..]] {
        let attrs = [base(), attr(OT, 8, v)].concat();
        taw_with_nlri(
            &decode_update(&update(&[], &attrs, &NLRI), &cx()),
            3,
            u::ATTRIBUTE_LENGTH_ERROR,
        );
    }
}

#[test]
fn originator_id_and_cluster_list_from_ebgp_are_attribute_discard() {
    let attrs = [
        base_without(5),
        attr(ON, 9, &[1, 1, 1, 1]),
        attr(ON, 10, &[2, 2, 2, 2]),
    ]
    .concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &DecodeCxt::ebgp());
    assert_eq!(d.verdict, Verdict::AttributeDiscard);
    assert_eq!(d.errors.len(), 2);
    assert!(d
        .errors
        .iter()
        .all(|e| e.action == Action::AttributeDiscard && e.code == 3));
    assert_eq!(
        (d.update.attrs.originator_id, d.update.attrs.cluster_list),
        (None, None)
    );
}

#[test]
fn originator_id_length_5_on_ibgp_is_treat_as_withdraw() {
    let attrs = [base(), attr(ON, 9, &[1, 1, 1, 1, 1])].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::ATTRIBUTE_LENGTH_ERROR,
    );
}

#[test]
fn cluster_list_length_6_on_ibgp_is_treat_as_withdraw() {
    let attrs = [base(), attr(ON, 10, &[1, 1, 1, 1, 2, 2])].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::ATTRIBUTE_LENGTH_ERROR,
    );
}

#[test]
fn ext_communities_length_12_is_treat_as_withdraw() {
    let attrs = [base(), attr(OT, 16, &[0; 12])].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::ATTRIBUTE_LENGTH_ERROR,
    );
}

#[test]
fn unknown_ext_community_type_is_not_an_error() {
    let attrs = [base(), attr(OT, 16, &[0x47, 0x99, 1, 2, 3, 4, 5, 6])].concat();
    clean(&decode_update(&update(&[], &attrs, &NLRI), &cx()));
}

#[test]
fn large_communities_length_13_is_treat_as_withdraw() {
    let attrs = [base(), attr(OT, 32, &[0; 13])].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::ATTRIBUTE_LENGTH_ERROR,
    );
}

#[test]
fn as4_path_from_a_four_octet_speaker_is_attribute_discard() {
    let attrs = [base(), attr(OT, 17, &[2, 1, 0, 0, 0xfd, 0xe9])].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    only(&d, Action::AttributeDiscard, 3, u::OPTIONAL_ATTRIBUTE_ERROR);
    assert_eq!(d.update.attrs.as4_path, None);
}

#[test]
fn malformed_as4_path_from_a_two_octet_speaker_is_attribute_discard() {
    let two = DecodeCxt {
        four_octet_as: false,
        ..cx()
    };
    let two_octet_path = attr(WK, 2, &[2, 1, 0x5b, 0xa0]);
    let attrs = [
        origin(),
        two_octet_path.clone(),
        next_hop(),
        local_pref(),
        attr(OT, 17, &[2, 2, 0, 0]),
    ]
    .concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &two);
    only(&d, Action::AttributeDiscard, 3, u::MALFORMED_AS_PATH);
    // A well-formed one is kept for the RIB to merge.
    let attrs = [
        origin(),
        two_octet_path,
        next_hop(),
        local_pref(),
        attr(OT, 17, &[2, 1, 0xfa, 0x56, 0xea, 0]),
    ]
    .concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &two);
    clean(&d);
    assert_eq!(
        d.update.attrs.as4_path.unwrap().first_as(),
        Some(4_200_000_000)
    );
}

#[test]
fn pmsi_tunnel_shorter_than_5_is_treat_as_withdraw() {
    let attrs = [base(), attr(OT, 22, &[0, 6, 0, 0])].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::OPTIONAL_ATTRIBUTE_ERROR,
    );
}

#[test]
fn pmsi_ingress_replication_length_10_is_treat_as_withdraw() {
    let attrs = [base(), attr(OT, 22, &[0, 6, 0, 0, 100, 192, 0, 2, 11, 0])].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::OPTIONAL_ATTRIBUTE_ERROR,
    );
}

#[test]
fn pmsi_undefined_tunnel_type_is_treat_as_withdraw() {
    let attrs = [base(), attr(OT, 22, &[0, 42, 0, 0, 100])].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::OPTIONAL_ATTRIBUTE_ERROR,
    );
}

#[test]
fn cve_2023_38802_tunnel_encapsulation_with_corrupt_tlvs_is_kept_raw_and_never_resets() {
    // CVE-2023-38802: a sub-TLV length running far past the attribute.
    let corrupt = [0, 8, 0, 200, 0xff, 0xff, 1];
    let attrs = [base(), attr(OT, 23, &corrupt)].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    clean(&d);
    let raw = &d.update.attrs.unknown[0];
    assert_eq!((raw.type_code, raw.value.as_slice()), (23, &corrupt[..]));
    assert_eq!(raw.flags, OT | flags::PARTIAL);
}

// ---------------------------------------------------------------------------
// Duplicates and unknown attributes (RFC 7606 §3(g), RFC 4271 §5).

#[test]
fn duplicate_mp_reach_is_session_reset_3_1() {
    let mp = mp_reach_evpn(&VTEP, &wire(&[rt2(1)]));
    let attrs = [mp.clone(), mp, evpn_attrs(&[])].concat();
    reset(&update(&[], &attrs, &[]), &cx(), 3, 1);
}

#[test]
fn duplicate_mp_unreach_is_session_reset_3_1() {
    let attrs = [mp_unreach_evpn(&[]), mp_unreach_evpn(&[])].concat();
    reset(&update(&[], &attrs, &[]), &cx(), 3, 1);
}

#[test]
fn duplicate_origin_keeps_the_first_and_discards_the_rest() {
    let attrs = [base(), attr(WK, 1, &[2])].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    only(&d, Action::AttributeDiscard, 3, u::MALFORMED_ATTRIBUTE_LIST);
    assert_eq!(d.update.attrs.origin, Some(evpn_proto::attr::Origin::Igp));
}

#[test]
fn unknown_optional_transitive_is_kept_with_the_partial_bit() {
    let attrs = [base(), attr(OT, 99, &[1, 2, 3])].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    clean(&d);
    assert_eq!(d.update.attrs.unknown.len(), 1);
    assert_eq!(d.update.attrs.unknown[0].flags, OT | flags::PARTIAL);
    // Re-sent with Partial set.
    let out = d.update.encode(&cx());
    assert!(out
        .windows(5)
        .any(|w| w == [OT | flags::PARTIAL, 99, 3, 1, 2]));
}

#[test]
fn unknown_optional_non_transitive_is_dropped_silently() {
    let attrs = [base(), attr(ON, 99, &[1, 2, 3])].concat();
    let d = decode_update(&update(&[], &attrs, &NLRI), &cx());
    clean(&d);
    assert!(d.update.attrs.unknown.is_empty());
}

#[test]
fn unknown_well_known_attribute_is_treat_as_withdraw_3_2() {
    let attrs = [base(), attr(WK, 99, &[1])].concat();
    taw_with_nlri(
        &decode_update(&update(&[], &attrs, &NLRI), &cx()),
        3,
        u::UNRECOGNIZED_WELL_KNOWN,
    );
}

// ---------------------------------------------------------------------------
// MP_REACH_NLRI / MP_UNREACH_NLRI (RFC 4760, RFC 7606 §7.11).

#[test]
fn cve_2026_37458_mp_reach_evpn_next_hop_length_0_5_33_is_session_reset() {
    for len in [0usize, 5, 33] {
        let attrs = [
            mp_reach_evpn(&vec![10; len], &wire(&[rt2(1)])),
            evpn_attrs(&[]),
        ]
        .concat();
        reset(&update(&[], &attrs, &[]), &cx(), 3, 1);
    }
}

#[test]
fn mp_reach_evpn_next_hop_4_16_32_are_accepted() {
    for nh in [
        VTEP.to_vec(),
        vec![0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    ] {
        let attrs = [mp_reach_evpn(&nh, &wire(&[rt2(1)])), evpn_attrs(&[])].concat();
        clean(&decode_update(&update(&[], &attrs, &[]), &cx()));
    }
    let mut nh32 = vec![0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    nh32.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    let attrs = [mp_reach_evpn(&nh32, &wire(&[rt2(1)])), evpn_attrs(&[])].concat();
    let d = decode_update(&update(&[], &attrs, &[]), &cx());
    clean(&d);
    assert!(matches!(
        d.update.attrs.mp_reach.unwrap().next_hop,
        NextHop::V6LinkLocal { .. }
    ));
}

#[test]
fn cve_2023_46752_mp_reach_truncated_before_the_reserved_octet_is_session_reset_3_1() {
    let attrs = [
        attr(ON, 14, &[0, 25, 70, 4, 192, 0, 2, 11]),
        evpn_attrs(&[]),
    ]
    .concat();
    reset(&update(&[], &attrs, &[]), &cx(), 3, 1);
    let attrs = [attr(ON, 14, &[0, 25]), evpn_attrs(&[])].concat();
    reset(&update(&[], &attrs, &[]), &cx(), 3, 1);
}

#[test]
fn cve_2026_37458_mp_reach_martian_vtep_next_hop_is_treat_as_withdraw() {
    let attrs = [
        mp_reach_evpn(&[0, 0, 0, 0], &wire(&[rt2(1)])),
        evpn_attrs(&[]),
    ]
    .concat();
    let d = decode_update(&update(&[], &attrs, &[]), &cx());
    only(&d, Action::TreatAsWithdraw, 3, u::INVALID_NEXT_HOP);
    assert_eq!(d.update.attrs.mp_reach.unwrap().nlri.len(), 1);
}

#[test]
fn mp_reach_for_a_non_negotiated_family_is_ignored_and_noted() {
    let evpn_only = DecodeCxt {
        families: [Family::Evpn].into_iter().collect(),
        ..cx()
    };
    // IPv6 unicast MP_REACH on an EVPN-only session.
    let mut v = vec![0, 2, 1, 16];
    v.extend_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v.extend_from_slice(&[0, 64, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0]);
    let attrs = [attr(ON, 14, &v), evpn_attrs(&[])].concat();
    let d = decode_update(&update(&[], &attrs, &[]), &evpn_only);
    only(&d, Action::AttributeDiscard, 3, u::OPTIONAL_ATTRIBUTE_ERROR);
    assert!(matches!(
        d.update.attrs.mp_reach.unwrap().nlri,
        MpNlri::Unknown(_)
    ));
}

#[test]
fn ipv4_nlri_on_a_session_without_ipv4_unicast_are_ignored_and_noted() {
    let evpn_only = DecodeCxt {
        families: [Family::Evpn].into_iter().collect(),
        ..cx()
    };
    let d = decode_update(&update(&[], &base(), &NLRI), &evpn_only);
    only(&d, Action::AttributeDiscard, 3, u::INVALID_NETWORK_FIELD);
    assert!(d.update.nlri.is_empty());
}

#[test]
fn mp_unreach_nlri_overrunning_its_field_is_session_reset_3_9() {
    let mut n = wire(&[rt2(1)]);
    n.truncate(n.len() - 3);
    reset(&update(&[], &mp_unreach_evpn(&n), &[]), &cx(), 3, 9);
}

// ---------------------------------------------------------------------------
// EVPN NLRI (RFC 7432 §7, RFC 9136; bgp-robustness §2.3).

fn evpn_update(nlri: &[u8], extra: &[u8]) -> Vec<u8> {
    update(
        &[],
        &[mp_reach_evpn(&VTEP, nlri), evpn_attrs(extra)].concat(),
        &[],
    )
}

#[test]
fn evpn_mac_length_47_is_session_reset_3_9() {
    reset(
        &evpn_update(&rt2_raw(47, 32, &[10, 1, 0, 1]), &[]),
        &cx(),
        3,
        9,
    );
}

#[test]
fn evpn_ip_length_24_is_session_reset_3_9() {
    reset(
        &evpn_update(&rt2_raw(48, 24, &[10, 1, 0]), &[]),
        &cx(),
        3,
        9,
    );
}

#[test]
fn frr_pr_21098_evpn_rt2_length_disagreeing_with_its_ip_length_is_session_reset_3_9() {
    // FRR PR #21098: IP length says 32, but 16 address octets follow.
    reset(&evpn_update(&rt2_raw(48, 32, &[0; 16]), &[]), &cx(), 3, 9);
}

#[test]
fn frr_issue_22353_evpn_rt5_ipv4_prefix_length_33_is_session_reset_3_9() {
    // FRR issue #22353.
    let mut n = wire(&[rt5(Esi::ZERO, Ipv4Addr::UNSPECIFIED, 5000)]);
    n[2 + 8 + 10 + 4] = 33;
    reset(
        &evpn_update(&n, &router_mac([2, 0, 0, 0, 0, 9])),
        &cx(),
        3,
        9,
    );
}

#[test]
fn evpn_nlri_length_running_past_the_field_is_session_reset_3_9() {
    let mut n = wire(&[rt2(1)]);
    n.truncate(n.len() - 1);
    reset(&evpn_update(&n, &[]), &cx(), 3, 9);
}

#[test]
fn evpn_unknown_route_type_is_skipped_and_the_rest_kept() {
    let n = [wire(&[rt2(1)]), vec![9, 3, 1, 2, 3], wire(&[rt2(2)])].concat();
    let d = decode_update(&evpn_update(&n, &[]), &cx());
    clean(&d);
    let MpNlri::Evpn(routes) = d.update.attrs.mp_reach.unwrap().nlri else {
        panic!()
    };
    assert_eq!(routes.len(), 3);
    assert_eq!((routes[0].clone(), routes[2].clone()), (rt2(1), rt2(2)));
    assert_eq!(routes[1].route_type(), 9);
}

#[test]
fn frr_pr_5787_rt5_with_both_esi_and_gateway_ip_is_treat_as_withdraw() {
    let esi = Esi([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    let n = wire(&[rt5(esi, Ipv4Addr::new(10, 2, 0, 1), 5000)]);
    let d = decode_update(&evpn_update(&n, &router_mac([2, 0, 0, 0, 0, 9])), &cx());
    only(&d, Action::TreatAsWithdraw, 3, u::OPTIONAL_ATTRIBUTE_ERROR);
    assert_eq!(d.update.attrs.mp_reach.unwrap().nlri.len(), 1);
}

#[test]
fn frr_pr_5787_rt5_with_esi_gateway_router_mac_and_label_all_zero_is_treat_as_withdraw() {
    let n = wire(&[rt5(Esi::ZERO, Ipv4Addr::UNSPECIFIED, 0)]);
    let d = decode_update(&evpn_update(&n, &[]), &cx());
    only(&d, Action::TreatAsWithdraw, 3, u::OPTIONAL_ATTRIBUTE_ERROR);
}

#[test]
fn rt5_with_a_router_mac_or_a_label_is_accepted() {
    let n = wire(&[rt5(Esi::ZERO, Ipv4Addr::UNSPECIFIED, 0)]);
    clean(&decode_update(
        &evpn_update(&n, &router_mac([2, 0, 0, 0, 0, 9])),
        &cx(),
    ));
    let n = wire(&[rt5(Esi::ZERO, Ipv4Addr::UNSPECIFIED, 5000)]);
    clean(&decode_update(&evpn_update(&n, &[]), &cx()));
}

#[test]
fn frr_pr_5787_rt5_with_a_multicast_router_mac_is_treat_as_withdraw() {
    let n = wire(&[rt5(Esi::ZERO, Ipv4Addr::UNSPECIFIED, 5000)]);
    let d = decode_update(&evpn_update(&n, &router_mac([1, 0, 0x5e, 0, 0, 1])), &cx());
    only(&d, Action::TreatAsWithdraw, 3, u::OPTIONAL_ATTRIBUTE_ERROR);
}

// ---------------------------------------------------------------------------
// NOTIFICATION (RFC 4271 §6.4; CVE-2019-16159, CVE-2025-59688).

#[test]
fn cve_2019_16159_notification_with_overlong_shutdown_length_decodes_without_text() {
    let m = message(3, &[6, 2, 255, b'h', b'i']);
    match decode_message(&m, &cx()).unwrap() {
        Decoded::Notification(n) => {
            assert_eq!(n.shutdown_communication(), None);
            assert!(n
                .to_string()
                .starts_with("Cease/Administrative Shutdown (6/2)"));
        }
        d => panic!("{d:?}"),
    }
}

#[test]
fn cve_2025_59688_notification_with_any_code_and_data_decodes_and_is_never_answered() {
    for body in [&[0u8, 0][..], &[255, 255, 1, 2, 3][..], &[3, 1][..]] {
        assert!(matches!(
            decode_message(&message(3, body), &cx()),
            Ok(Decoded::Notification(_))
        ));
    }
}

// ---------------------------------------------------------------------------
// ADD-PATH (RFC 7911 §3): a 4-octet Path Identifier before each NLRI of a
// family negotiated with ADD-PATH. A field that does not end on an NLRI
// boundary, path id included, cannot be re-synchronised (RFC 7606 §5.3):
// [3,10] for the withdrawn routes / NLRI fields, [3,9] in MP_REACH /
// MP_UNREACH (RFC 4760 §7).

fn add_path(families: &[Family]) -> DecodeCxt {
    DecodeCxt {
        add_path: families.iter().copied().collect(),
        ..DecodeCxt::default()
    }
}

/// Path id `id` then 10.1.0.0/24.
fn ap_nlri(id: u32) -> Vec<u8> {
    [&id.to_be_bytes()[..], &NLRI[..]].concat()
}

fn mp_reach_ipv6(nlri: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 2, 1, 16];
    v.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v.push(0);
    v.extend_from_slice(nlri);
    attr(ON | flags::EXTENDED_LENGTH, 14, &v)
}

#[test]
fn add_path_ipv4_fields_decode_with_their_path_ids() {
    let cx = add_path(&[Family::Ipv4Unicast]);
    let w = [&[0, 0, 0, 9, 16, 10, 9][..]].concat(); // id 9, 10.9.0.0/16
    let n = [ap_nlri(2), ap_nlri(0xfffe_0001)].concat();
    let d = decode_update(&update(&w, &base(), &n), &cx);
    clean(&d);
    assert_eq!(d.update.nlri, vec![nlri_prefix(), nlri_prefix()]);
    assert_eq!(d.update.nlri_path_ids, vec![2, 0xfffe_0001]);
    assert_eq!(d.update.withdrawn_path_ids, vec![9]);
    assert_eq!(
        d.update.withdrawn,
        vec![Ipv4Prefix::new(Ipv4Addr::new(10, 9, 0, 0), 16).unwrap()]
    );
    // Re-encoded under the same context: the same octets.
    let m = update(&w, &base(), &n);
    assert_eq!(d.update.encode(&cx), m);
}

#[test]
fn add_path_is_per_family() {
    // ADD-PATH for EVPN only: the IPv4 NLRI field has no path ids.
    let d = decode_update(&update(&[], &base(), &NLRI), &add_path(&[Family::Evpn]));
    clean(&d);
    assert_eq!(d.update.nlri, vec![nlri_prefix()]);
    assert!(d.update.nlri_path_ids.is_empty());
    // ... and the EVPN NLRI do.
    let n = [&7u32.to_be_bytes()[..], &wire(&[rt2(1)])].concat();
    let d = decode_update(
        &update(&[], &evpn_attrs(&mp_reach_evpn(&VTEP, &n)), &[]),
        &add_path(&[Family::Evpn]),
    );
    clean(&d);
    let r = d.update.attrs.mp_reach.unwrap();
    assert_eq!((r.nlri, r.path_ids), (MpNlri::Evpn(vec![rt2(1)]), vec![7]));
}

#[test]
fn add_path_withdrawn_route_with_a_truncated_path_id_is_invalid_network_field() {
    let cx = add_path(&[Family::Ipv4Unicast]);
    let w = [0, 0, 0, 9, 16, 10, 9, 0, 0, 1];
    let e = reset(&update(&w, &[], &[]), &cx, 3, u::INVALID_NETWORK_FIELD);
    assert!(e.reason.contains("path identifier"), "{e}");
}

#[test]
fn add_path_nlri_with_a_path_id_and_no_prefix_is_invalid_network_field() {
    let cx = add_path(&[Family::Ipv4Unicast]);
    let n = [ap_nlri(1), vec![0, 0, 0, 2]].concat();
    reset(&update(&[], &base(), &n), &cx, 3, u::INVALID_NETWORK_FIELD);
}

#[test]
fn add_path_nlri_ending_inside_a_path_id_is_invalid_network_field() {
    let cx = add_path(&[Family::Ipv4Unicast]);
    let n = [ap_nlri(1), vec![0, 0]].concat();
    let e = reset(&update(&[], &base(), &n), &cx, 3, u::INVALID_NETWORK_FIELD);
    assert!(e.reason.contains("path identifier"), "{e}");
}

#[test]
fn add_path_prefix_running_past_the_field_after_its_path_id_is_invalid_network_field() {
    let cx = add_path(&[Family::Ipv4Unicast]);
    reset(
        &update(&[], &base(), &[0, 0, 0, 1, 24, 10, 1]),
        &cx,
        3,
        u::INVALID_NETWORK_FIELD,
    );
}

#[test]
fn add_path_evpn_mp_reach_with_a_truncated_path_id_resets_the_session() {
    let cx = add_path(&[Family::Evpn]);
    let n = [&7u32.to_be_bytes()[..], &wire(&[rt2(1)]), &[0, 0, 0][..]].concat();
    let m = update(&[], &evpn_attrs(&mp_reach_evpn(&VTEP, &n)), &[]);
    let e = reset(&m, &cx, 3, u::OPTIONAL_ATTRIBUTE_ERROR);
    assert!(e.reason.contains("path identifier"), "{e}");
}

#[test]
fn add_path_evpn_mp_unreach_with_a_path_id_and_no_nlri_resets_the_session() {
    let cx = add_path(&[Family::Evpn]);
    let m = update(&[], &mp_unreach_evpn(&[0, 0, 0, 7]), &[]);
    reset(&m, &cx, 3, u::OPTIONAL_ATTRIBUTE_ERROR);
}

#[test]
fn add_path_evpn_nlri_length_overrun_after_the_path_id_resets_the_session() {
    let cx = add_path(&[Family::Evpn]);
    let mut n = [&7u32.to_be_bytes()[..], &wire(&[rt2(1)])].concat();
    n[5] += 1; // the NLRI length octet, after the path id and route type
    let m = update(&[], &evpn_attrs(&mp_reach_evpn(&VTEP, &n)), &[]);
    reset(&m, &cx, 3, u::OPTIONAL_ATTRIBUTE_ERROR);
}

#[test]
fn add_path_ipv6_mp_reach_with_a_truncated_path_id_resets_the_session() {
    let cx = add_path(&[Family::Ipv6Unicast]);
    // id 1, 2001:db8::/32, then a 1-octet stub of the next path id.
    let n = [0, 0, 0, 1, 32, 0x20, 0x01, 0x0d, 0xb8, 0];
    let m = update(&[], &evpn_attrs(&mp_reach_ipv6(&n)), &[]);
    let e = reset(&m, &cx, 3, u::OPTIONAL_ATTRIBUTE_ERROR);
    assert!(e.reason.contains("path identifier"), "{e}");
    // Without the stub it is clean, with its path id.
    let m = update(&[], &evpn_attrs(&mp_reach_ipv6(&n[..9])), &[]);
    let d = decode_update(&m, &cx);
    clean(&d);
    assert_eq!(d.update.attrs.mp_reach.unwrap().path_ids, vec![1]);
}

#[test]
fn add_path_for_a_family_not_negotiated_leaves_its_nlri_undecoded() {
    // ADD-PATH for IPv6 but IPv6 not negotiated: kept raw and ignored,
    // never a reset, whatever the path-id framing.
    let cx = DecodeCxt {
        families: [Family::Evpn].into_iter().collect(),
        ..add_path(&[Family::Ipv6Unicast])
    };
    let m = update(&[], &evpn_attrs(&mp_reach_ipv6(&[0, 0, 0])), &[]);
    let d = decode_update(&m, &cx);
    only(&d, Action::AttributeDiscard, 3, u::OPTIONAL_ATTRIBUTE_ERROR);
    let r = d.update.attrs.mp_reach.unwrap();
    assert_eq!(
        (r.nlri, r.path_ids),
        (MpNlri::Unknown(vec![0, 0, 0]), vec![])
    );
}
