//! Hand-made NLRI bytes following the RFC 7432 §7 / RFC 9136 §3 layouts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;
use crate::prefix::{Ipv4Prefix, Ipv6Prefix};
use crate::types::Label;

/// RD type 1, 10.0.0.1:2.
const RD: [u8; 8] = [0, 1, 10, 0, 0, 1, 0, 2];
const ESI: [u8; 10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const MAC: [u8; 6] = [0xaa, 0xbb, 0xcc, 0x00, 0x00, 0x05];

fn rd() -> Rd {
    Rd::Ip {
        ip: Ipv4Addr::new(10, 0, 0, 1),
        number: 2,
    }
}

/// Type, Length, then the concatenated body parts.
fn nlri(rt: u8, parts: &[&[u8]]) -> Vec<u8> {
    let body: Vec<u8> = parts.concat();
    let mut v = vec![rt, body.len() as u8];
    v.extend_from_slice(&body);
    v
}

fn rt2(mac_len: u8, ip_len: u8, ip: &[u8], labels: &[u8]) -> Vec<u8> {
    nlri(
        2,
        &[
            &RD,
            &ESI,
            &[0, 0, 0, 0],
            &[mac_len],
            &MAC,
            &[ip_len],
            ip,
            labels,
        ],
    )
}

fn one(buf: &[u8]) -> EvpnRoute {
    let v = read_evpn_routes(buf).unwrap();
    assert_eq!(v.len(), 1);
    v.into_iter().next().unwrap()
}

fn encode(r: &EvpnRoute) -> Vec<u8> {
    let mut out = Vec::new();
    r.write(&mut out);
    out
}

fn err(buf: &[u8]) -> String {
    read_evpn_routes(buf).unwrap_err().0
}

// --- RT-2 -------------------------------------------------------------------

#[test]
fn rt2_mac_only_length_33() {
    let buf = rt2(48, 0, &[], &[0x00, 0x27, 0x74]);
    assert_eq!(buf[1], 33);
    let r = one(&buf);
    assert_eq!(
        r,
        EvpnRoute::MacIp(MacIp {
            rd: rd(),
            esi: Esi(ESI),
            eth_tag: 0,
            mac: Mac(MAC),
            ip: None,
            label1: Label::from_raw(10100),
            label2: None,
        })
    );
    assert_eq!(r.to_string(), "[2]:[0]:[48]:[aa:bb:cc:00:00:05]");
    assert_eq!(encode(&r), buf);
}

#[test]
fn rt2_mac_ipv4_with_label2_length_40() {
    let buf = rt2(48, 32, &[10, 1, 0, 5], &[0, 0x27, 0x74, 0, 0x13, 0x88]);
    assert_eq!(buf[1], 40);
    let r = one(&buf);
    let EvpnRoute::MacIp(m) = &r else {
        panic!("not RT-2: {r:?}")
    };
    assert_eq!(m.ip, Some(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 5))));
    assert_eq!(m.label1.vni().get(), 10100);
    assert_eq!(m.label2, Some(Label::from_raw(5000)));
    assert_eq!(
        r.to_string(),
        "[2]:[0]:[48]:[aa:bb:cc:00:00:05]:[32]:[10.1.0.5]"
    );
    assert_eq!(
        format!("{r:#}"),
        "10.0.0.1:2 [2]:[0]:[48]:[aa:bb:cc:00:00:05]:[32]:[10.1.0.5] \
         esi 00:01:02:03:04:05:06:07:08:09 label 10100/5000"
    );
    assert_eq!(encode(&r), buf);
}

#[test]
fn rt2_mac_ipv6_lengths_49_and_52() {
    let ip6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5).octets();
    let a = rt2(48, 128, &ip6, &[0, 0, 1]);
    let b = rt2(48, 128, &ip6, &[0, 0, 1, 0, 0, 2]);
    assert_eq!((a[1], b[1]), (49, 52));
    for buf in [a, b] {
        let r = one(&buf);
        let EvpnRoute::MacIp(m) = &r else {
            panic!("not RT-2")
        };
        assert_eq!(m.ip, Some(IpAddr::V6(Ipv6Addr::from(ip6))));
        assert_eq!(encode(&r), buf);
    }
}

#[test]
fn rt2_withdraw_with_label_zero_decodes() {
    let r = one(&rt2(48, 32, &[10, 1, 0, 5], &[0, 0, 0]));
    let EvpnRoute::MacIp(m) = r else {
        panic!("not RT-2")
    };
    assert_eq!(m.label1, Label::from_raw(0));
    assert_eq!(m.label2, None);
}

#[test]
fn rt2_mac_length_47_is_rejected() {
    let e = err(&rt2(47, 0, &[], &[0, 0, 1]));
    assert!(
        e.contains("type-2") && e.contains("MAC address length 47"),
        "{e}"
    );
}

#[test]
fn rt2_ip_length_24_is_rejected() {
    let e = err(&rt2(48, 24, &[10, 1, 0], &[0, 0, 1]));
    assert!(e.contains("IP address length 24"), "{e}");
}

#[test]
fn rt2_length_34_is_rejected() {
    // IP length 0 but 4 octets after the MAC section: neither 33 nor 36.
    let buf = rt2(48, 0, &[], &[0, 0, 1, 0]);
    assert_eq!(buf[1], 34);
    let e = err(&buf);
    assert!(
        e.contains("length 34") && e.contains("must be 33 or 36"),
        "{e}"
    );
}

#[test]
fn rt2_ip_length_disagreeing_with_nlri_length_is_rejected() {
    // IP length 128 claimed, but only an IPv4 address and one label follow
    // (length 37, valid for IP length 32 only).
    let buf = rt2(48, 128, &[10, 1, 0, 5], &[0, 0, 1]);
    assert_eq!(buf[1], 37);
    assert!(err(&buf).contains("must be 49 or 52"));
    // IP length 32 with a body long enough for IPv6.
    let buf = rt2(48, 32, &[0; 16], &[0, 0, 1]);
    assert!(err(&buf).contains("must be 37 or 40"));
}

#[test]
fn rt2_truncated_before_ip_length_is_rejected() {
    let buf = nlri(2, &[&RD, &ESI, &[0, 0, 0, 0], &[48], &MAC]);
    assert!(err(&buf).contains("type-2"));
}

// --- RT-3 -------------------------------------------------------------------

#[test]
fn rt3_ipv4_length_17() {
    let buf = nlri(3, &[&RD, &[0, 0, 0, 0], &[32], &[192, 0, 2, 1]]);
    assert_eq!(buf[1], 17);
    let r = one(&buf);
    assert_eq!(
        r,
        EvpnRoute::Imet(Imet {
            rd: rd(),
            eth_tag: 0,
            originator: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        })
    );
    assert_eq!(r.to_string(), "[3]:[0]:[32]:[192.0.2.1]");
    assert_eq!(encode(&r), buf);
}

#[test]
fn rt3_ipv6_length_29() {
    let ip6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    let buf = nlri(3, &[&RD, &[0, 0, 0, 7], &[128], &ip6.octets()]);
    assert_eq!(buf[1], 29);
    let EvpnRoute::Imet(m) = one(&buf) else {
        panic!("not RT-3")
    };
    assert_eq!((m.eth_tag, m.originator), (7, IpAddr::V6(ip6)));
}

#[test]
fn rt3_ip_length_64_is_rejected() {
    let buf = nlri(3, &[&RD, &[0, 0, 0, 0], &[64], &[0; 8]]);
    assert!(err(&buf).contains("IP address length 64"));
}

#[test]
fn rt3_length_not_13_plus_ip_is_rejected() {
    let buf = nlri(3, &[&RD, &[0, 0, 0, 0], &[32], &[192, 0, 2, 1, 0]]);
    assert!(err(&buf).contains("must be 17"));
}

// --- RT-1 -------------------------------------------------------------------

#[test]
fn rt1_length_25() {
    let buf = nlri(1, &[&RD, &ESI, &[0xff, 0xff, 0xff, 0xff], &[0, 0, 0]]);
    assert_eq!(buf[1], 25);
    let r = one(&buf);
    assert_eq!(
        r,
        EvpnRoute::EthernetAd(EthernetAd {
            rd: rd(),
            esi: Esi(ESI),
            eth_tag: EthernetAd::MAX_ET,
            label: Label::from_raw(0),
        })
    );
    assert_eq!(
        r.to_string(),
        "[1]:[4294967295]:[00:01:02:03:04:05:06:07:08:09]"
    );
    assert_eq!(encode(&r), buf);
}

#[test]
fn rt1_length_26_is_rejected() {
    let buf = nlri(1, &[&RD, &ESI, &[0; 4], &[0, 0, 0, 0]]);
    assert!(err(&buf).contains("must be 25"));
}

// --- RT-4 -------------------------------------------------------------------

#[test]
fn rt4_ipv4_length_23() {
    let buf = nlri(4, &[&RD, &ESI, &[32], &[192, 0, 2, 9]]);
    assert_eq!(buf[1], 23);
    let r = one(&buf);
    assert_eq!(
        r,
        EvpnRoute::EthernetSegment(EthernetSegment {
            rd: rd(),
            esi: Esi(ESI),
            originator: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)),
        })
    );
    assert_eq!(
        r.to_string(),
        "[4]:[00:01:02:03:04:05:06:07:08:09]:[32]:[192.0.2.9]"
    );
    assert_eq!(encode(&r), buf);
}

#[test]
fn rt4_ipv6_length_35_and_bad_lengths() {
    let buf = nlri(4, &[&RD, &ESI, &[128], &[0; 16]]);
    assert_eq!(buf[1], 35);
    assert!(matches!(one(&buf), EvpnRoute::EthernetSegment(_)));
    assert!(err(&nlri(4, &[&RD, &ESI, &[0]])).contains("IP address length 0"));
    assert!(err(&nlri(4, &[&RD, &ESI, &[32], &[0; 16]])).contains("must be 23"));
}

// --- RT-5 -------------------------------------------------------------------

#[test]
fn rt5_ipv4_length_34() {
    let buf = nlri(
        5,
        &[
            &RD,
            &[0; 10],
            &[0, 0, 0, 0],
            &[24],
            &[10, 1, 1, 0],
            &[0, 0, 0, 0],
            &[0, 0x13, 0x88],
        ],
    );
    assert_eq!(buf[1], 34);
    let r = one(&buf);
    assert_eq!(
        r,
        EvpnRoute::IpPrefix(IpPrefix {
            rd: rd(),
            esi: Esi::ZERO,
            eth_tag: 0,
            prefix: "10.1.1.0/24".parse().unwrap(),
            gateway: IpPrefix::NO_GATEWAY_V4,
            label: Label::from_raw(5000),
        })
    );
    assert_eq!(r.to_string(), "[5]:[0]:[24]:[10.1.1.0]");
    assert_eq!(encode(&r), buf);
}

#[test]
fn rt5_ipv6_length_58_with_gateway() {
    let p = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0);
    let gw = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
    let buf = nlri(
        5,
        &[
            &RD,
            &[0; 10],
            &[0, 0, 0, 0],
            &[64],
            &p.octets(),
            &gw.octets(),
            &[0, 0, 9],
        ],
    );
    assert_eq!(buf[1], 58);
    let EvpnRoute::IpPrefix(r) = one(&buf) else {
        panic!("not RT-5")
    };
    assert_eq!(r.prefix, Prefix::V6(Ipv6Prefix::new(p, 64).unwrap()));
    assert_eq!(r.gateway_ip(), Some(IpAddr::V6(gw)));
    assert!(!r.has_overlay_index_conflict());
}

#[test]
fn rt5_ipv4_prefix_length_33_is_rejected() {
    let buf = nlri(
        5,
        &[
            &RD,
            &[0; 10],
            &[0; 4],
            &[33],
            &[10, 1, 1, 0],
            &[0; 4],
            &[0, 0, 1],
        ],
    );
    assert_eq!(buf[1], 34);
    assert!(err(&buf).contains("IPv4 prefix length 33"));
}

#[test]
fn rt5_ipv6_prefix_length_129_is_rejected() {
    let buf = nlri(5, &[&RD, &[0; 10], &[0; 4], &[129], &[0; 32], &[0, 0, 1]]);
    assert!(err(&buf).contains("IPv6 prefix length 129"));
}

#[test]
fn rt5_length_35_is_rejected() {
    let buf = nlri(
        5,
        &[
            &RD,
            &[0; 10],
            &[0; 4],
            &[24],
            &[10, 1, 1, 0],
            &[0; 4],
            &[0, 0, 1, 0],
        ],
    );
    assert_eq!(buf[1], 35);
    assert!(err(&buf).contains("length 35, must be 34 (IPv4) or 58 (IPv6)"));
}

#[test]
fn rt5_host_bits_are_cleared() {
    let buf = nlri(
        5,
        &[
            &RD,
            &[0; 10],
            &[0; 4],
            &[24],
            &[10, 1, 1, 77],
            &[0; 4],
            &[0, 0, 1],
        ],
    );
    let EvpnRoute::IpPrefix(r) = one(&buf) else {
        panic!("not RT-5")
    };
    assert_eq!(r.prefix.to_string(), "10.1.1.0/24");
}

#[test]
fn rt5_gateway_of_other_family_is_written_as_zero() {
    let r = EvpnRoute::IpPrefix(IpPrefix {
        rd: rd(),
        esi: Esi::ZERO,
        eth_tag: 0,
        prefix: Prefix::V4(Ipv4Prefix::new(Ipv4Addr::new(10, 0, 0, 0), 8).unwrap()),
        gateway: IpAddr::V6(Ipv6Addr::LOCALHOST),
        label: Label::from_raw(1),
    });
    let buf = encode(&r);
    assert_eq!(buf[1], 34);
    let EvpnRoute::IpPrefix(back) = one(&buf) else {
        panic!("not RT-5")
    };
    assert_eq!(back.gateway, IpPrefix::NO_GATEWAY_V4);
}

#[test]
fn rt5_esi_and_gateway_together_is_an_overlay_conflict() {
    let r = IpPrefix {
        rd: rd(),
        esi: Esi(ESI),
        eth_tag: 0,
        prefix: "10.0.0.0/8".parse().unwrap(),
        gateway: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
        label: Label::from_raw(1),
    };
    assert!(r.has_overlay_index_conflict());
}

// --- the field --------------------------------------------------------------

#[test]
fn unknown_route_type_is_skipped_and_following_routes_decode() {
    let mut buf = nlri(7, &[&[1, 2, 3, 4, 5]]);
    buf.extend(nlri(0, &[]));
    buf.extend(nlri(3, &[&RD, &[0, 0, 0, 0], &[32], &[192, 0, 2, 1]]));
    buf.extend(nlri(255, &[&[0xee; 255]]));
    buf.extend(rt2(48, 0, &[], &[0, 0, 1]));
    let v = read_evpn_routes(&buf).unwrap();
    let types: Vec<u8> = v.iter().map(EvpnRoute::route_type).collect();
    assert_eq!(types, [7, 0, 3, 255, 2]);
    assert_eq!(
        v[0],
        EvpnRoute::Unknown {
            route_type: 7,
            body: vec![1, 2, 3, 4, 5]
        }
    );
    assert_eq!(v[0].to_string(), "[7]:[5]:[0102030405]");
    assert_eq!(v[0].rd(), None);
    assert_eq!(v[0].key(), None);
    let mut out = Vec::new();
    write_evpn_routes(&v, &mut out);
    assert_eq!(out, buf);
}

#[test]
fn nlri_overrunning_the_field_is_rejected() {
    let mut buf = rt2(48, 0, &[], &[0, 0, 1]);
    buf.truncate(buf.len() - 1);
    assert!(err(&buf).contains("EVPN NLRI"));
    // Unknown types too: the length is all there is to find the next NLRI.
    assert!(read_evpn_routes(&[9, 4, 1, 2]).is_err());
    // A lone route-type octet.
    assert!(read_evpn_routes(&[2]).is_err());
    assert_eq!(read_evpn_routes(&[]).unwrap(), vec![]);
}

#[test]
fn iterator_yields_routes_then_the_error_then_stops() {
    let mut buf = rt2(48, 0, &[], &[0, 0, 1]);
    buf.extend(rt2(47, 0, &[], &[0, 0, 1]));
    buf.extend(rt2(48, 0, &[], &[0, 0, 1]));
    let items: Vec<_> = EvpnRouteIter::new(&buf).collect();
    assert_eq!(items.len(), 2);
    assert!(items[0].is_ok());
    assert!(items[1].is_err());
}

#[test]
fn rt2_key_ignores_esi_and_labels() {
    let EvpnRoute::MacIp(a) = one(&rt2(48, 32, &[10, 1, 0, 5], &[0, 0, 1])) else {
        panic!("not RT-2")
    };
    let b = MacIp {
        esi: Esi::MAX,
        label1: Label::from_raw(7),
        label2: Some(Label::from_raw(9)),
        ..a
    };
    assert_eq!(a.key(), b.key());
    let c = MacIp { ip: None, ..a };
    assert_ne!(a.key(), c.key());
    assert_eq!(
        a.key().to_string(),
        "10.0.0.1:2 [2]:[0]:[48]:[aa:bb:cc:00:00:05]:[32]:[10.1.0.5]"
    );
}

#[test]
fn rd_accessor_covers_every_known_type() {
    let mut buf = nlri(1, &[&RD, &ESI, &[0; 4], &[0, 0, 0]]);
    buf.extend(rt2(48, 0, &[], &[0, 0, 1]));
    buf.extend(nlri(3, &[&RD, &[0; 4], &[32], &[1, 2, 3, 4]]));
    buf.extend(nlri(4, &[&RD, &ESI, &[32], &[1, 2, 3, 4]]));
    buf.extend(nlri(5, &[&RD, &ESI, &[0; 4], &[0], &[0; 8], &[0, 0, 0]]));
    let v = read_evpn_routes(&buf).unwrap();
    assert_eq!(v.len(), 5);
    for (i, r) in v.iter().enumerate() {
        assert_eq!(r.route_type() as usize, i + 1);
        assert_eq!(r.rd(), Some(rd()));
        assert!(r.key().is_some());
    }
}
