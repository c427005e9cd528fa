//! MP_REACH_NLRI (type 14) and MP_UNREACH_NLRI (type 15), RFC 4760 §3–4,
//! with RFC 8950 IPv6 next hops for IPv4 NLRI.
//!
//! ```text
//! MP_REACH_NLRI                              MP_UNREACH_NLRI
//! +---------------------------------------+  +---------------------------------------+
//! | AFI (2)                               |  | AFI (2)                               |
//! +---------------------------------------+  +---------------------------------------+
//! | SAFI (1)                              |  | SAFI (1)                              |
//! +---------------------------------------+  +---------------------------------------+
//! | Length of Next Hop Address (1)        |  | Withdrawn Routes (variable)           |
//! +---------------------------------------+  +---------------------------------------+
//! | Next Hop Address (variable)           |
//! +---------------------------------------+
//! | Reserved (1)                          |
//! +---------------------------------------+
//! | NLRI (variable)                       |
//! +---------------------------------------+
//! ```
//!
//! Next-hop lengths per family (anything else → session reset [3,1], the
//! NOTIFICATION FRR sends for CVE-2023-46752 / CVE-2026-37458):
//!
//! | family | next hop |
//! |---|---|
//! | L2VPN EVPN (25/70) | 4 (IPv4 VTEP), 16 (IPv6), 32 (IPv6 global + link-local) |
//! | IPv4 unicast (1/1) | 4, or 16 / 32 (RFC 8950) |
//! | IPv6 unicast (2/1) | 16, 32 |
//!
//! An NLRI field that does not parse cannot be treat-as-withdrawn (RFC 7606
//! §5.3): session reset [3,9] (RFC 4760 §7). A truncated header likewise
//! resets ([3,1]). The NLRI of a family the session did not negotiate are
//! not decoded: they are kept verbatim as [`MpNlri::Unknown`] and ignored.
//!
//! With ADD-PATH negotiated for the family (RFC 7911 §3,
//! [`DecodeCxt::add_path`]) every NLRI is preceded by a 4-octet Path
//! Identifier; the ids are kept in `path_ids`, parallel to the NLRI (empty
//! without ADD-PATH), and written back on encode. A path id cut short is an
//! NLRI field error like any other (session reset [3,9]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{code, Error};
use crate::evpn::{read_evpn_routes, read_evpn_routes_with_path_ids, EvpnRoute};
use crate::message::DecodeCxt;
use crate::prefix::{
    read_ipv4_prefixes, read_ipv6_prefixes, read_prefixes_with_path_ids, write_with_path_ids,
    Ipv4Prefix, Ipv6Prefix,
};
use crate::reader::{Reader, WriteExt};
use crate::types::{Afi, Family, Safi};

/// The next hop of an MP_REACH_NLRI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NextHop {
    V4(Ipv4Addr),
    V6(Ipv6Addr),
    /// RFC 2545 §3: global address followed by the link-local one.
    V6LinkLocal {
        global: Ipv6Addr,
        link_local: Ipv6Addr,
    },
    /// The next hop of a family we do not decode, verbatim.
    Raw(Vec<u8>),
}

impl NextHop {
    pub fn from_ip(ip: IpAddr) -> NextHop {
        match ip {
            IpAddr::V4(a) => NextHop::V4(a),
            IpAddr::V6(a) => NextHop::V6(a),
        }
    }

    /// The address routes resolve through (the global one for 32 octets).
    pub fn addr(&self) -> Option<IpAddr> {
        match self {
            NextHop::V4(a) => Some(IpAddr::V4(*a)),
            NextHop::V6(a) | NextHop::V6LinkLocal { global: a, .. } => Some(IpAddr::V6(*a)),
            NextHop::Raw(_) => None,
        }
    }

    /// Octets on the wire (the Length of Next Hop Address field).
    pub fn wire_len(&self) -> usize {
        match self {
            NextHop::V4(_) => 4,
            NextHop::V6(_) => 16,
            NextHop::V6LinkLocal { .. } => 32,
            NextHop::Raw(b) => b.len().min(255),
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            NextHop::V4(a) => out.extend_from_slice(&a.octets()),
            NextHop::V6(a) => out.extend_from_slice(&a.octets()),
            NextHop::V6LinkLocal { global, link_local } => {
                out.extend_from_slice(&global.octets());
                out.extend_from_slice(&link_local.octets());
            }
            NextHop::Raw(b) => out.extend_from_slice(&b[..b.len().min(255)]),
        }
    }

    /// Parse a next hop of a decoded family; `None` if the length does not
    /// fit the family.
    fn read(family: Family, b: &[u8]) -> Option<NextHop> {
        let v6 = |s: &[u8]| {
            let mut a = [0u8; 16];
            a.copy_from_slice(s);
            Ipv6Addr::from(a)
        };
        match (family, b.len()) {
            (Family::Evpn | Family::Ipv4Unicast, 4) => {
                Some(NextHop::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])))
            }
            (_, 16) => Some(NextHop::V6(v6(b))),
            (_, 32) => Some(NextHop::V6LinkLocal {
                global: v6(&b[..16]),
                link_local: v6(&b[16..]),
            }),
            _ => None,
        }
    }
}

/// The NLRI of one MP_REACH_NLRI or MP_UNREACH_NLRI attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MpNlri {
    Ipv4(Vec<Ipv4Prefix>),
    Ipv6(Vec<Ipv6Prefix>),
    Evpn(Vec<EvpnRoute>),
    /// A family not negotiated on this session (or not one of ours): kept
    /// verbatim, never used.
    Unknown(Vec<u8>),
}

impl MpNlri {
    /// An empty list of the family's kind.
    pub fn empty(f: Family) -> MpNlri {
        match f {
            Family::Ipv4Unicast => MpNlri::Ipv4(Vec::new()),
            Family::Ipv6Unicast => MpNlri::Ipv6(Vec::new()),
            Family::Evpn => MpNlri::Evpn(Vec::new()),
        }
    }

    /// Number of NLRI (0 for `Unknown`: nothing usable).
    pub fn len(&self) -> usize {
        match self {
            MpNlri::Ipv4(v) => v.len(),
            MpNlri::Ipv6(v) => v.len(),
            MpNlri::Evpn(v) => v.len(),
            MpNlri::Unknown(_) => 0,
        }
    }

    /// True when no usable NLRI are carried (an `Unknown` field counts as
    /// empty only when it has no octets).
    pub fn is_empty(&self) -> bool {
        match self {
            MpNlri::Unknown(b) => b.is_empty(),
            _ => self.len() == 0,
        }
    }

    /// Decode the NLRI field of `family`; with `add_path`, each NLRI's path
    /// id goes into the second vector (empty otherwise).
    fn read(
        family: Family,
        b: &[u8],
        add_path: bool,
    ) -> Result<(MpNlri, Vec<u32>), crate::error::NlriError> {
        if !add_path {
            // The hot path (full-table EVPN transfers): unchanged by ADD-PATH.
            return Ok((
                match family {
                    Family::Ipv4Unicast => MpNlri::Ipv4(read_ipv4_prefixes(b)?),
                    Family::Ipv6Unicast => MpNlri::Ipv6(read_ipv6_prefixes(b)?),
                    Family::Evpn => MpNlri::Evpn(read_evpn_routes(b)?),
                },
                Vec::new(),
            ));
        }
        Ok(match family {
            Family::Ipv4Unicast => {
                let (v, ids) = read_prefixes_with_path_ids(b, true, Ipv4Prefix::read)?;
                (MpNlri::Ipv4(v), ids)
            }
            Family::Ipv6Unicast => {
                let (v, ids) = read_prefixes_with_path_ids(b, true, Ipv6Prefix::read)?;
                (MpNlri::Ipv6(v), ids)
            }
            Family::Evpn => {
                let (v, ids) = read_evpn_routes_with_path_ids(b)?;
                (MpNlri::Evpn(v), ids)
            }
        })
    }

    /// The NLRI field without path ids.
    pub fn write(&self, out: &mut Vec<u8>) {
        self.write_with_path_ids(&[], false, out);
    }

    /// The NLRI field; with `add_path` each NLRI is preceded by its entry
    /// of `path_ids` (0 past its end). `Unknown` is written verbatim.
    pub fn write_with_path_ids(&self, path_ids: &[u32], add_path: bool, out: &mut Vec<u8>) {
        match self {
            MpNlri::Ipv4(v) => write_with_path_ids(v, path_ids, add_path, out, |p, o| p.write(o)),
            MpNlri::Ipv6(v) => write_with_path_ids(v, path_ids, add_path, out, |p, o| p.write(o)),
            MpNlri::Evpn(v) => write_with_path_ids(v, path_ids, add_path, out, |r, o| r.write(o)),
            MpNlri::Unknown(b) => out.extend_from_slice(b),
        }
    }
}

/// MP_REACH_NLRI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpReach {
    pub afi: Afi,
    pub safi: Safi,
    pub next_hop: NextHop,
    pub nlri: MpNlri,
    /// ADD-PATH Path Identifiers, parallel to `nlri`; empty when the
    /// family has no ADD-PATH on the session (RFC 7911 §3).
    pub path_ids: Vec<u32>,
}

/// MP_UNREACH_NLRI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MpUnreach {
    pub afi: Afi,
    pub safi: Safi,
    pub withdrawn: MpNlri,
    /// ADD-PATH Path Identifiers, parallel to `withdrawn`; empty without
    /// ADD-PATH for the family.
    pub path_ids: Vec<u32>,
}

/// The family of an MP attribute if it is ours *and* negotiated.
fn decoded_family(afi: Afi, safi: Safi, cx: &DecodeCxt) -> Option<Family> {
    Family::from_afi_safi(afi, safi).filter(|f| cx.families.contains(*f))
}

fn truncated(name: &str, s: crate::reader::Short) -> Error {
    Error::session_reset(
        code::UPDATE,
        code::update::MALFORMED_ATTRIBUTE_LIST,
        format!("{name}: {s}"),
    )
}

fn bad_nlri(name: &str, f: Family, e: crate::error::NlriError) -> Error {
    Error::session_reset(
        code::UPDATE,
        code::update::OPTIONAL_ATTRIBUTE_ERROR,
        format!("{name} {f} NLRI: {e}"),
    )
}

impl MpReach {
    /// The family, when it is one of ours.
    pub fn family(&self) -> Option<Family> {
        Family::from_afi_safi(self.afi, self.safi)
    }

    /// Decode the attribute value. Every error is a session reset.
    pub fn decode(value: &[u8], cx: &DecodeCxt) -> Result<MpReach, Error> {
        const NAME: &str = "MP_REACH_NLRI";
        let mut r = Reader::new(value);
        let afi = Afi::from(r.u16("AFI").map_err(|s| truncated(NAME, s))?);
        let safi = Safi::from(r.u8("SAFI").map_err(|s| truncated(NAME, s))?);
        let nh_len = r.u8("next hop length").map_err(|s| truncated(NAME, s))?;
        let nh = r
            .take(usize::from(nh_len), "next hop")
            .map_err(|s| truncated(NAME, s))?;
        let _reserved = r.u8("reserved").map_err(|s| truncated(NAME, s))?;
        let nlri = r.rest();
        let Some(family) = decoded_family(afi, safi, cx) else {
            return Ok(MpReach {
                afi,
                safi,
                next_hop: NextHop::Raw(nh.to_vec()),
                nlri: MpNlri::Unknown(nlri.to_vec()),
                path_ids: Vec::new(),
            });
        };
        let next_hop = NextHop::read(family, nh).ok_or_else(|| {
            Error::session_reset(
                code::UPDATE,
                code::update::MALFORMED_ATTRIBUTE_LIST,
                format!("{NAME}: next hop length {nh_len} is not valid for {family}"),
            )
        })?;
        let (nlri, path_ids) = MpNlri::read(family, nlri, cx.add_path_for(family))
            .map_err(|e| bad_nlri(NAME, family, e))?;
        Ok(MpReach {
            afi,
            safi,
            next_hop,
            nlri,
            path_ids,
        })
    }

    /// The attribute value; path ids are written when `cx` has ADD-PATH
    /// for the family.
    pub fn encode(&self, cx: &DecodeCxt, out: &mut Vec<u8>) {
        self.encode_header(out);
        let add_path = self.family().is_some_and(|f| cx.add_path_for(f));
        self.nlri.write_with_path_ids(&self.path_ids, add_path, out);
    }

    /// Everything before the NLRI (AFI, SAFI, next hop, reserved).
    pub(crate) fn encode_header(&self, out: &mut Vec<u8>) {
        out.put_u16(self.afi.into());
        out.put_u8(self.safi.into());
        out.put_u8(self.next_hop.wire_len() as u8);
        self.next_hop.write(out);
        out.put_u8(0);
    }
}

impl MpUnreach {
    pub fn family(&self) -> Option<Family> {
        Family::from_afi_safi(self.afi, self.safi)
    }

    /// The End-of-RIB marker attribute for `f` (RFC 4724 §2).
    pub fn end_of_rib(f: Family) -> MpUnreach {
        MpUnreach {
            afi: f.afi(),
            safi: f.safi(),
            withdrawn: MpNlri::empty(f),
            path_ids: Vec::new(),
        }
    }

    pub fn decode(value: &[u8], cx: &DecodeCxt) -> Result<MpUnreach, Error> {
        const NAME: &str = "MP_UNREACH_NLRI";
        let mut r = Reader::new(value);
        let afi = Afi::from(r.u16("AFI").map_err(|s| truncated(NAME, s))?);
        let safi = Safi::from(r.u8("SAFI").map_err(|s| truncated(NAME, s))?);
        let nlri = r.rest();
        let (withdrawn, path_ids) = match decoded_family(afi, safi, cx) {
            None => (MpNlri::Unknown(nlri.to_vec()), Vec::new()),
            Some(f) => {
                MpNlri::read(f, nlri, cx.add_path_for(f)).map_err(|e| bad_nlri(NAME, f, e))?
            }
        };
        Ok(MpUnreach {
            afi,
            safi,
            withdrawn,
            path_ids,
        })
    }

    /// The attribute value; path ids as for [`MpReach::encode`].
    pub fn encode(&self, cx: &DecodeCxt, out: &mut Vec<u8>) {
        out.put_u16(self.afi.into());
        out.put_u8(self.safi.into());
        let add_path = self.family().is_some_and(|f| cx.add_path_for(f));
        self.withdrawn
            .write_with_path_ids(&self.path_ids, add_path, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evpn_next_hop_lengths() {
        let cx = DecodeCxt::default();
        for (len, ok) in [
            (0u8, false),
            (4, true),
            (5, false),
            (16, true),
            (32, true),
            (33, false),
        ] {
            let mut v = vec![0, 25, 70, len];
            v.extend(std::iter::repeat_n(1u8, usize::from(len)));
            v.push(0);
            let r = MpReach::decode(&v, &cx);
            assert_eq!(r.is_ok(), ok, "len {len}");
            if let Err(e) = r {
                assert_eq!((e.code, e.subcode), (3, 1));
            }
        }
    }

    #[test]
    fn ipv6_unicast_rejects_a_4_octet_next_hop() {
        let v = [0, 2, 1, 4, 1, 2, 3, 4, 0];
        assert!(MpReach::decode(&v, &DecodeCxt::default()).is_err());
    }

    #[test]
    fn non_negotiated_family_is_kept_raw() {
        let mut cx = DecodeCxt::default();
        cx.families.remove(Family::Ipv6Unicast);
        let v = [0, 2, 1, 3, 1, 2, 3, 0, 0xde, 0xad];
        let r = MpReach::decode(&v, &cx).unwrap();
        assert_eq!(r.next_hop, NextHop::Raw(vec![1, 2, 3]));
        assert_eq!(r.nlri, MpNlri::Unknown(vec![0xde, 0xad]));
        let mut out = Vec::new();
        r.encode(&cx, &mut out);
        assert_eq!(out, v);
    }
}
