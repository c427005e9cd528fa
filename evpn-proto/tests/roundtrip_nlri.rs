//! Property tests: decode(encode(x)) == x for every NLRI and attribute-value
//! type in evpn-proto's NLRI layer (with and without ADD-PATH path ids, RFC
//! 7911), and no decoder panics on arbitrary bytes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use evpn_proto::evpn::{write_evpn_routes, EvpnRouteIter};
use evpn_proto::ext_community::write_ext_communities;
use evpn_proto::large_community::write_large_communities;
use evpn_proto::prefix::{read_prefixes, read_prefixes_with_path_ids};
use evpn_proto::reader::Reader;
use evpn_proto::{
    read_evpn_routes, read_evpn_routes_with_path_ids, read_ext_communities, read_ipv4_prefixes,
    read_ipv6_prefixes, read_large_communities, Esi, EthernetAd, EthernetSegment, EvpnRoute,
    ExtCommunity, Imet, IpPrefix, Ipv4Prefix, Ipv6Prefix, Label, LargeCommunity, Mac, MacIp,
    PmsiTunnel, PmsiTunnelType, Prefix, Rd, RouteTarget, TunnelType,
};
use proptest::collection::vec;
use proptest::prelude::*;

// --- strategies -------------------------------------------------------------

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![ipv4().prop_map(IpAddr::V4), ipv6().prop_map(IpAddr::V6)]
}

fn rd() -> impl Strategy<Value = Rd> {
    prop_oneof![
        (any::<u16>(), any::<u32>()).prop_map(|(asn, number)| Rd::As2 { asn, number }),
        (ipv4(), any::<u16>()).prop_map(|(ip, number)| Rd::Ip { ip, number }),
        (any::<u32>(), any::<u16>()).prop_map(|(asn, number)| Rd::As4 { asn, number }),
        (3u16.., any::<[u8; 6]>()).prop_map(|(typ, value)| Rd::Unknown { typ, value }),
    ]
}

fn esi() -> impl Strategy<Value = Esi> {
    any::<[u8; 10]>().prop_map(Esi)
}

fn mac() -> impl Strategy<Value = Mac> {
    any::<[u8; 6]>().prop_map(Mac)
}

fn label() -> impl Strategy<Value = Label> {
    (0u32..=0x00ff_ffff).prop_map(Label::from_raw)
}

fn ipv4_prefix() -> impl Strategy<Value = Ipv4Prefix> {
    (ipv4(), 0u8..=32).prop_filter_map("len <= 32", |(a, l)| Ipv4Prefix::new(a, l))
}

fn ipv6_prefix() -> impl Strategy<Value = Ipv6Prefix> {
    (ipv6(), 0u8..=128).prop_filter_map("len <= 128", |(a, l)| Ipv6Prefix::new(a, l))
}

fn prefix() -> impl Strategy<Value = Prefix> {
    prop_oneof![
        ipv4_prefix().prop_map(Prefix::V4),
        ipv6_prefix().prop_map(Prefix::V6)
    ]
}

fn mac_ip() -> impl Strategy<Value = MacIp> {
    (
        rd(),
        esi(),
        any::<u32>(),
        mac(),
        proptest::option::of(ip()),
        label(),
        proptest::option::of(label()),
    )
        .prop_map(|(rd, esi, eth_tag, mac, ip, label1, label2)| MacIp {
            rd,
            esi,
            eth_tag,
            mac,
            ip,
            label1,
            label2,
        })
}

fn ethernet_ad() -> impl Strategy<Value = EthernetAd> {
    (rd(), esi(), any::<u32>(), label()).prop_map(|(rd, esi, eth_tag, label)| EthernetAd {
        rd,
        esi,
        eth_tag,
        label,
    })
}

fn imet() -> impl Strategy<Value = Imet> {
    (rd(), any::<u32>(), ip()).prop_map(|(rd, eth_tag, originator)| Imet {
        rd,
        eth_tag,
        originator,
    })
}

fn ethernet_segment() -> impl Strategy<Value = EthernetSegment> {
    (rd(), esi(), ip()).prop_map(|(rd, esi, originator)| EthernetSegment {
        rd,
        esi,
        originator,
    })
}

fn ip_prefix() -> impl Strategy<Value = IpPrefix> {
    // Prefix and gateway of the same family, as on the wire.
    let v4 = (ipv4_prefix(), ipv4()).prop_map(|(p, g)| (Prefix::V4(p), IpAddr::V4(g)));
    let v6 = (ipv6_prefix(), ipv6()).prop_map(|(p, g)| (Prefix::V6(p), IpAddr::V6(g)));
    (rd(), esi(), any::<u32>(), prop_oneof![v4, v6], label()).prop_map(
        |(rd, esi, eth_tag, (prefix, gateway), label)| IpPrefix {
            rd,
            esi,
            eth_tag,
            prefix,
            gateway,
            label,
        },
    )
}

fn unknown_route() -> impl Strategy<Value = EvpnRoute> {
    let rt = prop_oneof![Just(0u8), 6u8..=255];
    (rt, vec(any::<u8>(), 0..=255))
        .prop_map(|(route_type, body)| EvpnRoute::Unknown { route_type, body })
}

fn evpn_route() -> impl Strategy<Value = EvpnRoute> {
    prop_oneof![
        ethernet_ad().prop_map(EvpnRoute::EthernetAd),
        mac_ip().prop_map(EvpnRoute::MacIp),
        imet().prop_map(EvpnRoute::Imet),
        ethernet_segment().prop_map(EvpnRoute::EthernetSegment),
        ip_prefix().prop_map(EvpnRoute::IpPrefix),
        unknown_route(),
    ]
}

fn route_target() -> impl Strategy<Value = RouteTarget> {
    prop_oneof![
        (any::<u16>(), any::<u32>()).prop_map(|(asn, local)| RouteTarget::As2 { asn, local }),
        (ipv4(), any::<u16>()).prop_map(|(ip, local)| RouteTarget::Ipv4 { ip, local }),
        (any::<u32>(), any::<u16>()).prop_map(|(asn, local)| RouteTarget::As4 { asn, local }),
    ]
}

fn ext_community() -> impl Strategy<Value = ExtCommunity> {
    prop_oneof![
        route_target().prop_map(ExtCommunity::RouteTarget),
        any::<u16>().prop_map(|t| ExtCommunity::Encapsulation(TunnelType::from(t))),
        (any::<u32>(), any::<bool>())
            .prop_map(|(seq, sticky)| ExtCommunity::MacMobility { seq, sticky }),
        (any::<bool>(), label()).prop_map(|(single_active, label)| ExtCommunity::EsiLabel {
            single_active,
            label
        }),
        mac().prop_map(ExtCommunity::EsImportRt),
        mac().prop_map(ExtCommunity::RouterMac),
        Just(ExtCommunity::DefaultGateway),
        // Arbitrary octets, interpreted: covers every Unknown the decoder can make.
        any::<[u8; 8]>().prop_map(ExtCommunity::from_bytes),
    ]
}

fn large_community() -> impl Strategy<Value = LargeCommunity> {
    (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(global_admin, local1, local2)| {
        LargeCommunity {
            global_admin,
            local1,
            local2,
        }
    })
}

fn pmsi() -> impl Strategy<Value = PmsiTunnel> {
    let ir = ip().prop_map(PmsiTunnelType::IngressReplication);
    let other = (
        any::<u8>().prop_filter("not ingress replication", |c| *c != 6),
        vec(any::<u8>(), 0..40),
    )
        .prop_map(|(code, tunnel_id)| PmsiTunnelType::Unknown { code, tunnel_id });
    (any::<u8>(), prop_oneof![ir, other], label()).prop_map(|(flags, tunnel_type, label)| {
        PmsiTunnel {
            flags,
            tunnel_type,
            label,
        }
    })
}

// --- round trips ------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn ipv4_prefixes_round_trip(ps in vec(ipv4_prefix(), 0..50)) {
        let mut buf = Vec::new();
        for p in &ps {
            p.write(&mut buf);
        }
        prop_assert_eq!(read_ipv4_prefixes(&buf).unwrap(), ps);
    }

    #[test]
    fn ipv6_prefixes_round_trip(ps in vec(ipv6_prefix(), 0..50)) {
        let mut buf = Vec::new();
        for p in &ps {
            p.write(&mut buf);
        }
        prop_assert_eq!(read_ipv6_prefixes(&buf).unwrap(), ps);
    }

    #[test]
    fn prefix_text_round_trips(p in prefix()) {
        prop_assert_eq!(p.to_string().parse::<Prefix>().unwrap(), p);
    }

    #[test]
    fn mixed_family_prefix_wire_round_trip(p in prefix()) {
        let mut buf = Vec::new();
        p.write(&mut buf);
        let back = match p {
            Prefix::V4(_) => read_prefixes(&buf, |r: &mut Reader<'_>| Ipv4Prefix::read(r).map(Prefix::V4)),
            Prefix::V6(_) => read_prefixes(&buf, |r: &mut Reader<'_>| Ipv6Prefix::read(r).map(Prefix::V6)),
        };
        prop_assert_eq!(back.unwrap(), vec![p]);
    }

    #[test]
    fn each_evpn_route_round_trips(r in evpn_route()) {
        let mut buf = Vec::new();
        r.write(&mut buf);
        prop_assert_eq!(usize::from(buf[1]) + 2, buf.len());
        prop_assert_eq!(read_evpn_routes(&buf).unwrap(), vec![r]);
    }

    #[test]
    fn evpn_field_round_trips(rs in vec(evpn_route(), 0..30)) {
        let mut buf = Vec::new();
        write_evpn_routes(&rs, &mut buf);
        prop_assert_eq!(&read_evpn_routes(&buf).unwrap(), &rs);
        let lazily: Result<Vec<_>, _> = EvpnRouteIter::new(&buf).collect();
        prop_assert_eq!(lazily.unwrap(), rs);
    }

    /// ADD-PATH: each NLRI preceded by its 4-octet path id, big-endian.
    #[test]
    fn ipv4_prefixes_with_path_ids_round_trip(ps in vec((ipv4_prefix(), any::<u32>()), 0..50)) {
        let mut buf = Vec::new();
        for (p, id) in &ps {
            buf.extend_from_slice(&id.to_be_bytes());
            p.write(&mut buf);
        }
        let (got, ids) = read_prefixes_with_path_ids(&buf, true, Ipv4Prefix::read).unwrap();
        let (want, want_ids): (Vec<_>, Vec<_>) = ps.into_iter().unzip();
        prop_assert_eq!(got, want);
        prop_assert_eq!(ids, want_ids);
    }

    #[test]
    fn ipv6_prefixes_with_path_ids_round_trip(ps in vec((ipv6_prefix(), any::<u32>()), 0..50)) {
        let mut buf = Vec::new();
        for (p, id) in &ps {
            buf.extend_from_slice(&id.to_be_bytes());
            p.write(&mut buf);
        }
        let (got, ids) = read_prefixes_with_path_ids(&buf, true, Ipv6Prefix::read).unwrap();
        let (want, want_ids): (Vec<_>, Vec<_>) = ps.into_iter().unzip();
        prop_assert_eq!(got, want);
        prop_assert_eq!(ids, want_ids);
    }

    #[test]
    fn without_add_path_the_reader_is_read_prefixes(ps in vec(ipv4_prefix(), 0..50)) {
        let mut buf = Vec::new();
        ps.iter().for_each(|p| p.write(&mut buf));
        let (got, ids) = read_prefixes_with_path_ids(&buf, false, Ipv4Prefix::read).unwrap();
        prop_assert_eq!(got, ps);
        prop_assert!(ids.is_empty());
    }

    #[test]
    fn evpn_field_with_path_ids_round_trips(rs in vec((evpn_route(), any::<u32>()), 0..30)) {
        let mut buf = Vec::new();
        for (r, id) in &rs {
            buf.extend_from_slice(&id.to_be_bytes());
            r.write(&mut buf);
        }
        let (got, ids) = read_evpn_routes_with_path_ids(&buf).unwrap();
        let (want, want_ids): (Vec<_>, Vec<_>) = rs.into_iter().unzip();
        prop_assert_eq!(got, want);
        prop_assert_eq!(ids, want_ids);
    }

    /// Cut anywhere but on an NLRI boundary, a path-id field is an error.
    #[test]
    fn evpn_field_with_path_ids_cut_inside_an_nlri_is_an_error(
        rs in vec((evpn_route(), any::<u32>()), 1..6),
        at in any::<prop::sample::Index>(),
    ) {
        let mut buf = Vec::new();
        let mut bounds = vec![0];
        for (r, id) in &rs {
            buf.extend_from_slice(&id.to_be_bytes());
            r.write(&mut buf);
            bounds.push(buf.len());
        }
        let cut = at.index(buf.len());
        let res = read_evpn_routes_with_path_ids(&buf[..cut]);
        prop_assert_eq!(res.is_ok(), bounds.contains(&cut), "cut at {}", cut);
    }

    #[test]
    fn ext_communities_round_trip(cs in vec(ext_community(), 1..20)) {
        let mut buf = Vec::new();
        write_ext_communities(&cs, &mut buf);
        prop_assert_eq!(read_ext_communities(&buf).unwrap(), cs);
    }

    #[test]
    fn route_target_wire_and_text_round_trip(rt in route_target()) {
        prop_assert_eq!(RouteTarget::from_bytes(rt.to_bytes()), Some(rt));
        prop_assert_eq!(rt.to_string().parse::<RouteTarget>().unwrap(), rt);
    }

    #[test]
    fn large_communities_round_trip(cs in vec(large_community(), 1..20)) {
        let mut buf = Vec::new();
        write_large_communities(&cs, &mut buf);
        prop_assert_eq!(read_large_communities(&buf).unwrap(), cs.clone());
        for c in cs {
            prop_assert_eq!(c.to_string().parse::<LargeCommunity>().unwrap(), c);
        }
    }

    #[test]
    fn pmsi_round_trips(p in pmsi()) {
        let mut buf = Vec::new();
        p.write(&mut buf);
        prop_assert_eq!(PmsiTunnel::read(&buf).unwrap(), p);
    }
}

// --- robustness -------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Any bytes: no panic; and whatever decodes re-encodes to something that
    /// decodes to the same routes (decoding is canonicalising, not lossy).
    #[test]
    fn read_evpn_routes_never_panics(buf in vec(any::<u8>(), 0..600)) {
        if let Ok(rs) = read_evpn_routes(&buf) {
            let mut again = Vec::new();
            write_evpn_routes(&rs, &mut again);
            prop_assert_eq!(read_evpn_routes(&again).unwrap(), rs);
        }
    }

    /// Valid fields with one octet changed: exercises the length checks far
    /// more often than uniform random bytes do.
    #[test]
    fn mutated_evpn_fields_never_panic(
        rs in vec(evpn_route(), 1..6),
        at in any::<prop::sample::Index>(),
        val in any::<u8>(),
    ) {
        let mut buf = Vec::new();
        write_evpn_routes(&rs, &mut buf);
        let i = at.index(buf.len());
        buf[i] = val;
        let _ = read_evpn_routes(&buf);
        let _ = EvpnRouteIter::new(&buf).count();
        // Truncation at the same point.
        let _ = read_evpn_routes(&buf[..i]);
    }

    /// `read_evpn_routes` counts the NLRI first (stepping over runs of one
    /// Length by a fixed stride) and then decodes in place; the result,
    /// error text included, must be the single-pass iterator's. Runs of
    /// repeated routes with one octet changed and a cut exercise the
    /// stride walk, its exits, and a body error before or after a cut.
    #[test]
    fn two_pass_field_decode_is_the_single_pass_iterator(
        runs in vec((evpn_route(), 1usize..6), 1..5),
        at in any::<prop::sample::Index>(),
        val in any::<u8>(),
        mutate in any::<bool>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut buf = Vec::new();
        let mut with_ids = Vec::new();
        for (i, (r, times)) in runs.iter().enumerate() {
            for _ in 0..*times {
                r.write(&mut buf);
                with_ids.extend_from_slice(&(i as u32).to_be_bytes());
                r.write(&mut with_ids);
            }
        }
        if mutate {
            let i = at.index(buf.len());
            buf[i] = val;
            let j = at.index(with_ids.len());
            with_ids[j] = val;
        }
        let buf = &buf[..=cut.index(buf.len())];
        let want: Result<Vec<_>, _> = EvpnRouteIter::new(buf).collect();
        prop_assert_eq!(read_evpn_routes(buf), want);

        // ADD-PATH: the same walk with a 4-octet path id before each NLRI.
        let with_ids = &with_ids[..=cut.index(with_ids.len())];
        let mut rest = with_ids;
        let mut want = Ok((Vec::new(), Vec::new()));
        while !rest.is_empty() {
            let Some((id, after)) = rest.split_first_chunk::<4>() else {
                want = Err(());
                break;
            };
            let mut r = Reader::new(after);
            match EvpnRoute::read(&mut r) {
                Ok(route) => {
                    if let Ok((rs, ids)) = &mut want {
                        rs.push(route);
                        ids.push(u32::from_be_bytes(*id));
                    }
                    rest = &after[r.position()..];
                }
                Err(_) => {
                    want = Err(());
                    break;
                }
            }
        }
        prop_assert_eq!(read_evpn_routes_with_path_ids(with_ids).map_err(|_| ()), want);
    }

    #[test]
    fn other_decoders_never_panic(buf in vec(any::<u8>(), 0..200)) {
        let _ = read_ipv4_prefixes(&buf);
        let _ = read_ipv6_prefixes(&buf);
        let _ = read_prefixes_with_path_ids(&buf, true, Ipv4Prefix::read);
        let _ = read_prefixes_with_path_ids(&buf, true, Ipv6Prefix::read);
        if let Ok((rs, ids)) = read_evpn_routes_with_path_ids(&buf) {
            prop_assert_eq!(rs.len(), ids.len());
        }
        let _ = read_ext_communities(&buf);
        let _ = read_large_communities(&buf);
        let _ = PmsiTunnel::read(&buf);
        if let Ok(cs) = read_ext_communities(&buf) {
            let mut again = Vec::new();
            write_ext_communities(&cs, &mut again);
            prop_assert_eq!(read_ext_communities(&again).unwrap(), cs);
        }
    }
}
