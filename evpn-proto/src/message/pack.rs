//! Building UPDATEs that carry many NLRI under the 4096-octet limit
//! (RFC 4271 §4.1), for the RIB's Adj-RIB-Out.
//!
//! One attribute set, many NLRI: the attributes are encoded once, then
//! NLRI are written straight into the message until the next one would
//! not fit, and a new message starts with the same attributes. Layouts:
//!
//! ```text
//! MP reach:    header | 0 | attr len | MP_REACH(flags 0x90, 14, len2, AFI SAFI NH 0, NLRI...) | other attrs
//! MP unreach:  header | 0 | attr len | MP_UNREACH(flags 0x90, 15, len2, AFI SAFI, NLRI...)
//! IPv4 reach:  header | 0 | attr len | attrs | NLRI...
//! IPv4 withdr: header | len | withdrawn... | 0
//! ```
//!
//! MP_REACH_NLRI goes first among the attributes (RFC 7606 §5.1). The MP
//! attributes always use Extended Length (legal for any length, RFC 4271
//! §4.3), so the NLRI can be appended without moving anything.
//!
//! The packers write no ADD-PATH path ids: evpnd advertises no ADD-PATH
//! send, so its sessions never carry them (build such UPDATEs with
//! [`crate::message::Update::encode`] and a context that has
//! [`DecodeCxt::add_path`](crate::message::DecodeCxt::add_path)).

use crate::attr::{attr_type, flags, MpNlri, MpReach, NextHop, PathAttrs};
use crate::evpn::EvpnRoute;
use crate::message::header::{MARKER, MAX_MESSAGE_LEN};
use crate::message::DecodeCxt;
use crate::prefix::{Ipv4Prefix, Ipv6Prefix};
use crate::reader::WriteExt;
use crate::types::Family;

/// One NLRI that can be written on its own.
pub trait WriteNlri {
    fn write_nlri(&self, out: &mut Vec<u8>);
}

impl WriteNlri for EvpnRoute {
    fn write_nlri(&self, out: &mut Vec<u8>) {
        self.write(out)
    }
}
impl WriteNlri for Ipv4Prefix {
    fn write_nlri(&self, out: &mut Vec<u8>) {
        self.write(out)
    }
}
impl WriteNlri for Ipv6Prefix {
    fn write_nlri(&self, out: &mut Vec<u8>) {
        self.write(out)
    }
}

/// The attributes leave no room for even one NLRI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("UPDATE overhead of {overhead} octets plus an NLRI of {nlri} exceeds {max}")]
pub struct PackError {
    pub overhead: usize,
    pub nlri: usize,
    pub max: usize,
}

/// Fixed octets: marker, length, type, withdrawn length, attribute length.
const FIXED: usize = 16 + 2 + 1 + 2 + 2;

/// Announce `routes` of `family` with `attrs` (their `mp_reach` and
/// `mp_unreach` are ignored) and `next_hop`, in as few UPDATEs as fit.
/// No routes → no messages.
pub fn pack_mp_reach<N: WriteNlri>(
    attrs: &PathAttrs,
    family: Family,
    next_hop: &NextHop,
    routes: &[N],
    cx: &DecodeCxt,
) -> Result<Vec<Vec<u8>>, PackError> {
    let mut suffix = Vec::with_capacity(128);
    attrs.encode_rest(cx, &mut suffix);
    let mut prefix = Vec::with_capacity(64);
    start(&mut prefix, 0);
    prefix.put_u8(flags::OPTIONAL | flags::EXTENDED_LENGTH);
    prefix.put_u8(attr_type::MP_REACH_NLRI);
    prefix.put_u16(0);
    MpReach {
        afi: family.afi(),
        safi: family.safi(),
        next_hop: next_hop.clone(),
        nlri: MpNlri::empty(family),
        path_ids: Vec::new(),
    }
    .encode_header(&mut prefix);
    let rest = suffix.len();
    pack(routes, &prefix, &suffix, |m| {
        let n = m.len();
        // MP_REACH value: from after its 4-octet header to the other attributes.
        patch(m, FIXED + 2, n - rest - FIXED - 4);
        // Total Path Attribute Length: everything after the fixed part.
        patch(m, FIXED - 2, n - FIXED);
    })
}

/// Withdraw `routes` of `family` with MP_UNREACH_NLRI.
pub fn pack_mp_unreach<N: WriteNlri>(
    family: Family,
    routes: &[N],
) -> Result<Vec<Vec<u8>>, PackError> {
    let mut prefix = Vec::with_capacity(32);
    start(&mut prefix, 0);
    prefix.put_u8(flags::OPTIONAL | flags::EXTENDED_LENGTH);
    prefix.put_u8(attr_type::MP_UNREACH_NLRI);
    prefix.put_u16(0);
    prefix.put_u16(family.afi().into());
    prefix.put_u8(family.safi().into());
    pack(routes, &prefix, &[], |m| {
        let n = m.len();
        patch(m, FIXED + 2, n - FIXED - 4);
        patch(m, FIXED - 2, n - FIXED);
    })
}

/// Announce IPv4 unicast prefixes in the classic NLRI field; `attrs` must
/// carry the NEXT_HOP.
pub fn pack_ipv4_reach(
    attrs: &PathAttrs,
    routes: &[Ipv4Prefix],
    cx: &DecodeCxt,
) -> Result<Vec<Vec<u8>>, PackError> {
    let mut prefix = Vec::with_capacity(128);
    start(&mut prefix, 0);
    attrs.encode_rest(cx, &mut prefix);
    let alen = prefix.len() - FIXED;
    pack(routes, &prefix, &[], |m| patch(m, FIXED - 2, alen))
}

/// Withdraw IPv4 unicast prefixes in the Withdrawn Routes field.
pub fn pack_ipv4_withdraw(routes: &[Ipv4Prefix]) -> Result<Vec<Vec<u8>>, PackError> {
    let mut prefix = Vec::with_capacity(FIXED);
    prefix.extend_from_slice(&MARKER);
    prefix.put_u16(0);
    prefix.put_u8(2);
    prefix.put_u16(0);
    pack(routes, &prefix, &[0, 0], |m| {
        let n = m.len();
        patch(m, FIXED - 4, n - FIXED)
    })
}

/// [`pack_mp_reach`] for EVPN.
pub fn pack_evpn_reach(
    attrs: &PathAttrs,
    next_hop: &NextHop,
    routes: &[EvpnRoute],
    cx: &DecodeCxt,
) -> Result<Vec<Vec<u8>>, PackError> {
    pack_mp_reach(attrs, Family::Evpn, next_hop, routes, cx)
}

/// [`pack_mp_unreach`] for EVPN.
pub fn pack_evpn_withdraw(routes: &[EvpnRoute]) -> Result<Vec<Vec<u8>>, PackError> {
    pack_mp_unreach(Family::Evpn, routes)
}

/// Header (length patched later), withdrawn length `wlen`, attribute
/// length placeholder.
fn start(out: &mut Vec<u8>, wlen: u16) {
    out.extend_from_slice(&MARKER);
    out.put_u16(0);
    out.put_u8(2);
    out.put_u16(wlen);
    out.put_u16(0);
}

fn patch(m: &mut [u8], at: usize, len: usize) {
    // Every packed message is <= 4096 octets, so every length fits.
    let l = u16::try_from(len).unwrap_or(u16::MAX);
    m[at..at + 2].copy_from_slice(&l.to_be_bytes());
}

/// Fill messages `prefix | NLRI... | suffix`, each at most 4096 octets;
/// `finish` patches the inner lengths, the message length is set here.
fn pack<N: WriteNlri>(
    routes: &[N],
    prefix: &[u8],
    suffix: &[u8],
    finish: impl Fn(&mut Vec<u8>),
) -> Result<Vec<Vec<u8>>, PackError> {
    let limit = MAX_MESSAGE_LEN.saturating_sub(suffix.len());
    let mut msgs = Vec::new();
    let mut cur: Vec<u8> = Vec::new();
    let close = |mut m: Vec<u8>, msgs: &mut Vec<Vec<u8>>| {
        m.extend_from_slice(suffix);
        finish(&mut m);
        let n = m.len();
        patch(&mut m, 16, n);
        msgs.push(m);
    };
    for r in routes {
        if cur.is_empty() {
            cur.reserve(MAX_MESSAGE_LEN);
            cur.extend_from_slice(prefix);
        }
        let before = cur.len();
        r.write_nlri(&mut cur);
        if cur.len() > limit {
            let nlri = cur.len() - before;
            if before == prefix.len() {
                return Err(PackError {
                    overhead: prefix.len() + suffix.len(),
                    nlri,
                    max: MAX_MESSAGE_LEN,
                });
            }
            cur.truncate(before);
            close(std::mem::take(&mut cur), &mut msgs);
            cur.reserve(MAX_MESSAGE_LEN);
            cur.extend_from_slice(prefix);
            r.write_nlri(&mut cur);
            if cur.len() > limit {
                return Err(PackError {
                    overhead: prefix.len() + suffix.len(),
                    nlri,
                    max: MAX_MESSAGE_LEN,
                });
            }
        }
    }
    if !cur.is_empty() {
        close(cur, &mut msgs);
    }
    Ok(msgs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::{AsPath, Origin};
    use crate::evpn::MacIp;
    use crate::message::{decode_message, Decoded, Verdict};
    use crate::types::{Esi, Label, Mac, Rd};
    use std::net::{IpAddr, Ipv4Addr};

    fn mac_ip(i: u32) -> EvpnRoute {
        let b = i.to_be_bytes();
        EvpnRoute::MacIp(MacIp {
            rd: Rd::Ip {
                ip: Ipv4Addr::new(10, 0, 0, 1),
                number: 100,
            },
            esi: Esi::ZERO,
            eth_tag: 0,
            mac: Mac([0x02, 0, b[0], b[1], b[2], b[3]]),
            ip: Some(IpAddr::V4(Ipv4Addr::new(10, b[1], b[2], b[3]))),
            label1: Label::from_raw(100),
            label2: None,
        })
    }

    fn attrs() -> PathAttrs {
        PathAttrs {
            origin: Some(Origin::Igp),
            as_path: Some(AsPath::default()),
            local_pref: Some(100),
            ..Default::default()
        }
    }

    #[test]
    fn evpn_routes_split_across_full_messages_and_decode_back() {
        let cx = DecodeCxt::default();
        let routes: Vec<EvpnRoute> = (0..1000).map(mac_ip).collect();
        let nh = NextHop::V4(Ipv4Addr::new(192, 0, 2, 11));
        let msgs = pack_evpn_reach(&attrs(), &nh, &routes, &cx).unwrap();
        assert!(msgs.iter().all(|m| m.len() <= 4096));
        // 39 octets per RT-2 with an IPv4 address: ~103 per message.
        assert_eq!(msgs.len(), 10);
        assert!(msgs[0].len() > 4096 - 39);
        let mut back = Vec::new();
        for m in &msgs {
            let Decoded::Update(d) = decode_message(m, &cx).unwrap() else {
                panic!("not an UPDATE")
            };
            assert_eq!(d.verdict, Verdict::Ok, "{:?}", d.errors);
            let reach = d.update.attrs.mp_reach.unwrap();
            assert_eq!(reach.next_hop, nh);
            let MpNlri::Evpn(r) = reach.nlri else {
                panic!()
            };
            back.extend(r);
        }
        assert_eq!(back, routes);
    }

    #[test]
    fn withdraws_pack_too() {
        let cx = DecodeCxt::default();
        let routes: Vec<EvpnRoute> = (0..300).map(mac_ip).collect();
        let msgs = pack_evpn_withdraw(&routes).unwrap();
        let n: usize = msgs
            .iter()
            .map(|m| match decode_message(m, &cx).unwrap() {
                Decoded::Update(d) => {
                    assert_eq!(d.verdict, Verdict::Ok);
                    d.update.attrs.mp_unreach.unwrap().withdrawn.len()
                }
                _ => panic!(),
            })
            .sum();
        assert_eq!(n, 300);

        let v4: Vec<Ipv4Prefix> = (0..2000u32)
            .map(|i| Ipv4Prefix::new(Ipv4Addr::from(0x0a00_0000 | (i << 8)), 24).unwrap())
            .collect();
        let msgs = pack_ipv4_withdraw(&v4).unwrap();
        let n: usize = msgs
            .iter()
            .map(|m| match decode_message(m, &cx).unwrap() {
                Decoded::Update(d) => d.update.withdrawn.len(),
                _ => panic!(),
            })
            .sum();
        assert_eq!(n, 2000);
        let mut a = attrs();
        a.next_hop = Some(Ipv4Addr::new(192, 0, 2, 1));
        let msgs = pack_ipv4_reach(&a, &v4, &cx).unwrap();
        assert_eq!(msgs.len(), 2);
    }

    #[test]
    fn oversized_attributes_are_an_error() {
        let mut a = attrs();
        a.communities = Some(vec![crate::attr::Community(1); 1100]);
        let e = pack_evpn_reach(
            &a,
            &NextHop::V4(Ipv4Addr::new(1, 1, 1, 1)),
            &[mac_ip(1)],
            &DecodeCxt::default(),
        )
        .unwrap_err();
        assert_eq!(e.max, 4096);
    }
}
