//! Builders and assertions shared by the malformed-input suite and the CVE
//! regression tests: raw bytes, so that every malformation is expressible.

#![allow(
    dead_code,
    reason = "each test crate that includes this module uses a different subset"
)]

use std::net::{IpAddr, Ipv4Addr};

use evpn_proto::attr::flags;
use evpn_proto::evpn::{IpPrefix, MacIp};
use evpn_proto::message::{decode_message, DecodeCxt, Decoded, Open, UpdateDecoded, Verdict};
use evpn_proto::prefix::{Ipv4Prefix, Prefix};
use evpn_proto::{Action, Error, Esi, EvpnRoute, ExtCommunity, Label, Mac, Rd};
// ---------------------------------------------------------------------------
// Builders: raw bytes, so that every malformation is expressible.

pub const HDR: [u8; 16] = [0xff; 16];

pub fn message(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut m = HDR.to_vec();
    m.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    m.push(typ);
    m.extend_from_slice(body);
    m
}

/// One attribute; Extended Length when `flags` has it.
pub fn attr(f: u8, typ: u8, value: &[u8]) -> Vec<u8> {
    let mut a = vec![f, typ];
    if f & flags::EXTENDED_LENGTH != 0 {
        a.extend_from_slice(&(value.len() as u16).to_be_bytes());
    } else {
        a.push(value.len() as u8);
    }
    a.extend_from_slice(value);
    a
}

pub fn update_body(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut b = (withdrawn.len() as u16).to_be_bytes().to_vec();
    b.extend_from_slice(withdrawn);
    b.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    b.extend_from_slice(attrs);
    b.extend_from_slice(nlri);
    b
}

pub fn update(withdrawn: &[u8], attrs: &[u8], nlri: &[u8]) -> Vec<u8> {
    message(2, &update_body(withdrawn, attrs, nlri))
}

pub const WK: u8 = flags::TRANSITIVE; // well-known
pub const ON: u8 = flags::OPTIONAL; // optional non-transitive
pub const OT: u8 = flags::OPTIONAL | flags::TRANSITIVE;

pub fn origin() -> Vec<u8> {
    attr(WK, 1, &[0])
}
pub fn as_path() -> Vec<u8> {
    attr(WK, 2, &[2, 1, 0, 0, 0xfd, 0xe9]) // AS_SEQUENCE 65001, 4-octet
}
pub fn next_hop() -> Vec<u8> {
    attr(WK, 3, &[192, 0, 2, 1])
}
pub fn local_pref() -> Vec<u8> {
    attr(WK, 5, &[0, 0, 0, 100])
}

/// ORIGIN, AS_PATH, NEXT_HOP, LOCAL_PREF: valid for iBGP IPv4 NLRI.
pub fn base() -> Vec<u8> {
    [origin(), as_path(), next_hop(), local_pref()].concat()
}

/// Base attributes without one type.
pub fn base_without(t: u8) -> Vec<u8> {
    [
        (1, origin()),
        (2, as_path()),
        (3, next_hop()),
        (5, local_pref()),
    ]
    .into_iter()
    .filter(|(typ, _)| *typ != t)
    .flat_map(|(_, a)| a)
    .collect()
}

/// 10.1.0.0/24.
pub const NLRI: [u8; 4] = [24, 10, 1, 0];

pub fn nlri_prefix() -> Ipv4Prefix {
    Ipv4Prefix::new(Ipv4Addr::new(10, 1, 0, 0), 24).unwrap()
}

pub fn rd() -> Rd {
    Rd::Ip {
        ip: Ipv4Addr::new(10, 0, 0, 1),
        number: 100,
    }
}

pub fn rt2(i: u8) -> EvpnRoute {
    EvpnRoute::MacIp(MacIp {
        rd: rd(),
        esi: Esi::ZERO,
        eth_tag: 0,
        mac: Mac([2, 0, 0, 0, 0, i]),
        ip: Some(IpAddr::V4(Ipv4Addr::new(10, 1, 0, i))),
        label1: Label::from_raw(100),
        label2: None,
    })
}

pub fn rt5(esi: Esi, gateway: Ipv4Addr, label: u32) -> EvpnRoute {
    EvpnRoute::IpPrefix(IpPrefix {
        rd: rd(),
        esi,
        eth_tag: 0,
        prefix: Prefix::V4(Ipv4Prefix::new(Ipv4Addr::new(10, 2, 0, 0), 16).unwrap()),
        gateway: IpAddr::V4(gateway),
        label: Label::from_raw(label),
    })
}

pub fn wire(routes: &[EvpnRoute]) -> Vec<u8> {
    let mut v = Vec::new();
    routes.iter().for_each(|r| r.write(&mut v));
    v
}

/// A raw RT-2 NLRI with the given MAC length and IP length fields.
pub fn rt2_raw(mac_len: u8, ip_len: u8, ip: &[u8]) -> Vec<u8> {
    let mut body = vec![0, 1, 10, 0, 0, 1, 0, 100]; // RD type 1
    body.extend_from_slice(&[0; 10]); // ESI
    body.extend_from_slice(&[0; 4]); // Ethernet tag
    body.push(mac_len);
    body.extend_from_slice(&[2, 0, 0, 0, 0, 1]);
    body.push(ip_len);
    body.extend_from_slice(ip);
    body.extend_from_slice(&[0, 0, 100]); // label
    let mut n = vec![2, body.len() as u8];
    n.extend(body);
    n
}

/// MP_REACH_NLRI for EVPN with a raw next hop.
pub fn mp_reach_evpn(nh: &[u8], nlri: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 25, 70, nh.len() as u8];
    v.extend_from_slice(nh);
    v.push(0);
    v.extend_from_slice(nlri);
    attr(ON | flags::EXTENDED_LENGTH, 14, &v)
}

pub fn mp_unreach_evpn(nlri: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 25, 70];
    v.extend_from_slice(nlri);
    attr(ON | flags::EXTENDED_LENGTH, 15, &v)
}

pub const VTEP: [u8; 4] = [192, 0, 2, 11];

/// Attributes for an EVPN announcement on iBGP (no NEXT_HOP needed).
pub fn evpn_attrs(extra: &[u8]) -> Vec<u8> {
    [origin(), as_path(), local_pref(), extra.to_vec()].concat()
}

pub fn router_mac(m: [u8; 6]) -> Vec<u8> {
    let mut ec = Vec::new();
    ExtCommunity::RouterMac(Mac(m)).write(&mut ec);
    attr(OT, 16, &ec)
}

// ---------------------------------------------------------------------------
// Assertions.

pub fn cx() -> DecodeCxt {
    DecodeCxt::default()
}

#[track_caller]
pub fn decode_update(m: &[u8], cx: &DecodeCxt) -> UpdateDecoded {
    match decode_message(m, cx) {
        Ok(Decoded::Update(u)) => u,
        other => panic!("expected an UPDATE, got {other:?}"),
    }
}

/// The message resets the session with exactly this NOTIFICATION.
#[track_caller]
pub fn reset(m: &[u8], cx: &DecodeCxt, c: u8, s: u8) -> Error {
    let e = decode_message(m, cx).expect_err("expected a session reset");
    assert_eq!(e.action, Action::SessionReset, "{e}");
    assert_eq!((e.code, e.subcode), (c, s), "{e}");
    e
}

/// Exactly one rule fired, with this action and code/subcode.
#[track_caller]
pub fn only(d: &UpdateDecoded, action: Action, c: u8, s: u8) {
    assert_eq!(d.errors.len(), 1, "{:#?}", d.errors);
    let e = &d.errors[0];
    assert_eq!((e.action, e.code, e.subcode), (action, c, s), "{e}");
    let want = match action {
        Action::TreatAsWithdraw => Verdict::TreatAsWithdraw,
        Action::AttributeDiscard => Verdict::AttributeDiscard,
        Action::SessionReset => unreachable!(),
    };
    assert_eq!(d.verdict, want);
}

/// Treat-as-withdraw by exactly this rule, and the IPv4 NLRI still there.
#[track_caller]
pub fn taw_with_nlri(d: &UpdateDecoded, c: u8, s: u8) {
    only(d, Action::TreatAsWithdraw, c, s);
    assert_eq!(d.update.nlri, vec![nlri_prefix()]);
}

#[track_caller]
pub fn clean(d: &UpdateDecoded) {
    assert_eq!(d.errors, vec![], "expected no rule to fire");
    assert_eq!(d.verdict, Verdict::Ok);
}

// ---------------------------------------------------------------------------
// OPEN builders.

/// version 4, AS, hold 90, BGP ID 10.0.0.2, then `params` (with length).
pub fn open_body(my_as: u16, hold: u16, id: [u8; 4], opt: &[u8]) -> Vec<u8> {
    let mut b = vec![4];
    b.extend_from_slice(&my_as.to_be_bytes());
    b.extend_from_slice(&hold.to_be_bytes());
    b.extend_from_slice(&id);
    b.extend_from_slice(opt);
    b
}

pub fn caps_param(caps: &[u8]) -> Vec<u8> {
    let mut p = vec![(caps.len() + 2) as u8, 2, caps.len() as u8];
    p.extend_from_slice(caps);
    p
}

pub const PEER_ID: [u8; 4] = [10, 0, 0, 2];
pub const OUR_ID: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

pub fn open_ok(body: &[u8]) -> Open {
    match decode_message(&message(1, body), &cx()) {
        Ok(Decoded::Open(o)) => o,
        other => panic!("{other:?}"),
    }
}

#[track_caller]
pub fn open_invalid(o: &Open, expected_as: u32, ibgp: bool, c: u8, s: u8) {
    let e = o
        .validate(Some(expected_as), OUR_ID, ibgp)
        .expect_err("expected OPEN validation to fail");
    assert_eq!(
        (e.action, e.code, e.subcode),
        (Action::SessionReset, c, s),
        "{e}"
    );
}
