//! BGP Extended Communities (RFC 4360) of the kinds EVPN uses.
//!
//! The attribute value is a list of 8-octet communities:
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Type high    |  Type low     |                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+          Value                |
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! RFC 7606 §7.14: the attribute is malformed if its length is not a
//! non-zero multiple of 8; the caller turns the [`Short`] returned by
//! [`read_ext_communities`] into treat-as-withdraw. Types and sub-types this
//! module does not know are kept verbatim as [`ExtCommunity::Unknown`] and
//! are never errors.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::reader::Short;
use crate::types::{Label, Mac};

/// Type-high octets (IANA "BGP Extended Communities Type").
pub mod typ {
    /// Transitive Two-Octet AS-Specific (RFC 4360 §3.1).
    pub const TWO_OCTET_AS: u8 = 0x00;
    /// Transitive IPv4-Address-Specific (RFC 4360 §3.2).
    pub const IPV4: u8 = 0x01;
    /// Transitive Four-Octet AS-Specific (RFC 5668).
    pub const FOUR_OCTET_AS: u8 = 0x02;
    /// Transitive Opaque (RFC 4360 §3.3).
    pub const OPAQUE: u8 = 0x03;
    /// EVPN (RFC 7153, RFC 7432 §7.5–7.7).
    pub const EVPN: u8 = 0x06;
}

/// Sub-type (type-low) octets, per type-high.
pub mod subtype {
    /// Route Target, under the AS / IPv4 types (RFC 4360 §4).
    pub const ROUTE_TARGET: u8 = 0x02;
    /// Encapsulation, under Opaque (RFC 9012 §4.1).
    pub const ENCAPSULATION: u8 = 0x0c;
    /// Default Gateway, under Opaque (RFC 7432 §7.8).
    pub const DEFAULT_GATEWAY: u8 = 0x0d;
    /// MAC Mobility, under EVPN (RFC 7432 §7.7).
    pub const MAC_MOBILITY: u8 = 0x00;
    /// ESI Label, under EVPN (RFC 7432 §7.5).
    pub const ESI_LABEL: u8 = 0x01;
    /// ES-Import Route Target, under EVPN (RFC 7432 §7.6).
    pub const ES_IMPORT_RT: u8 = 0x02;
    /// Router's MAC, under EVPN (RFC 9135 §8.1).
    pub const ROUTER_MAC: u8 = 0x03;
}

/// A Route Target (RFC 4360 §4, RFC 5668): which VRFs import the route.
///
/// ```text
/// 0x00 0x02 | AS (2 octets)   | Local Administrator (4 octets)
/// 0x01 0x02 | IPv4 (4 octets) | Local Administrator (2 octets)
/// 0x02 0x02 | AS (4 octets)   | Local Administrator (2 octets)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RouteTarget {
    As2 { asn: u16, local: u32 },
    Ipv4 { ip: Ipv4Addr, local: u16 },
    As4 { asn: u32, local: u16 },
}

impl RouteTarget {
    /// The 8 octets of the community.
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[1] = subtype::ROUTE_TARGET;
        match *self {
            RouteTarget::As2 { asn, local } => {
                b[0] = typ::TWO_OCTET_AS;
                b[2..4].copy_from_slice(&asn.to_be_bytes());
                b[4..8].copy_from_slice(&local.to_be_bytes());
            }
            RouteTarget::Ipv4 { ip, local } => {
                b[0] = typ::IPV4;
                b[2..6].copy_from_slice(&ip.octets());
                b[6..8].copy_from_slice(&local.to_be_bytes());
            }
            RouteTarget::As4 { asn, local } => {
                b[0] = typ::FOUR_OCTET_AS;
                b[2..6].copy_from_slice(&asn.to_be_bytes());
                b[6..8].copy_from_slice(&local.to_be_bytes());
            }
        }
        b
    }

    /// The route target in these 8 octets, if they are one.
    pub fn from_bytes(b: [u8; 8]) -> Option<Self> {
        if b[1] != subtype::ROUTE_TARGET {
            return None;
        }
        let u16_at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        match b[0] {
            typ::TWO_OCTET_AS => Some(RouteTarget::As2 {
                asn: u16_at(2),
                local: u32_at(4),
            }),
            typ::IPV4 => Some(RouteTarget::Ipv4 {
                ip: Ipv4Addr::new(b[2], b[3], b[4], b[5]),
                local: u16_at(6),
            }),
            typ::FOUR_OCTET_AS => Some(RouteTarget::As4 {
                asn: u32_at(2),
                local: u16_at(6),
            }),
            _ => None,
        }
    }
}

/// `65000:100`, `10.0.0.1:5`, `4200000000:5`. A 4-octet-AS target whose
/// AS fits 16 bits prints as `100L:5`, so that the text reads back as the
/// same wire type (the `L` suffix is the Junos convention).
impl fmt::Display for RouteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteTarget::As2 { asn, local } => write!(f, "{asn}:{local}"),
            RouteTarget::Ipv4 { ip, local } => write!(f, "{ip}:{local}"),
            RouteTarget::As4 { asn, local } if *asn <= u32::from(u16::MAX) => {
                write!(f, "{asn}L:{local}")
            }
            RouteTarget::As4 { asn, local } => write!(f, "{asn}:{local}"),
        }
    }
}

/// `A.B.C.D:N` → IPv4 type; `ASN:N` → 2-octet AS type when ASN fits 16 bits,
/// else 4-octet AS type; `ASNL:N` → 4-octet AS type always.
impl FromStr for RouteTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (l, r) = s
            .rsplit_once(':')
            .ok_or_else(|| format!("bad route target {s:?}: expected ASN:N or IP:N"))?;
        let n16 = || {
            r.parse::<u16>()
                .map_err(|_| format!("bad route target {s:?}: number must fit 16 bits"))
        };
        if let Ok(ip) = l.parse::<Ipv4Addr>() {
            return Ok(RouteTarget::Ipv4 { ip, local: n16()? });
        }
        if let Some(asn) = l.strip_suffix(['L', 'l']) {
            let asn = asn
                .parse::<u32>()
                .map_err(|_| format!("bad route target {s:?}: bad AS number"))?;
            return Ok(RouteTarget::As4 { asn, local: n16()? });
        }
        let asn = l
            .parse::<u32>()
            .map_err(|_| format!("bad route target {s:?}: bad AS number"))?;
        match u16::try_from(asn) {
            Ok(asn) => {
                let local = r
                    .parse::<u32>()
                    .map_err(|_| format!("bad route target {s:?}: number must fit 32 bits"))?;
                Ok(RouteTarget::As2 { asn, local })
            }
            Err(_) => Ok(RouteTarget::As4 { asn, local: n16()? }),
        }
    }
}

/// BGP tunnel types (IANA "BGP Tunnel Encapsulation Attribute Tunnel Types",
/// RFC 9012), as carried in the Encapsulation extended community.
///
/// Decoding maps every known value to its variant, so `Unknown` never holds
/// one of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TunnelType {
    /// 8: VXLAN (RFC 8365 §5.1.3 requires it on EVPN-over-VXLAN routes).
    Vxlan,
    /// 9: NVGRE.
    Nvgre,
    /// 10: MPLS.
    Mpls,
    /// 11: MPLS in GRE.
    MplsInGre,
    /// 12: VXLAN GPE.
    VxlanGpe,
    /// 13: MPLS in UDP.
    MplsInUdp,
    /// 19: Geneve.
    Geneve,
    Unknown(u16),
}

impl From<u16> for TunnelType {
    fn from(v: u16) -> Self {
        match v {
            8 => TunnelType::Vxlan,
            9 => TunnelType::Nvgre,
            10 => TunnelType::Mpls,
            11 => TunnelType::MplsInGre,
            12 => TunnelType::VxlanGpe,
            13 => TunnelType::MplsInUdp,
            19 => TunnelType::Geneve,
            v => TunnelType::Unknown(v),
        }
    }
}

impl From<TunnelType> for u16 {
    fn from(t: TunnelType) -> u16 {
        match t {
            TunnelType::Vxlan => 8,
            TunnelType::Nvgre => 9,
            TunnelType::Mpls => 10,
            TunnelType::MplsInGre => 11,
            TunnelType::VxlanGpe => 12,
            TunnelType::MplsInUdp => 13,
            TunnelType::Geneve => 19,
            TunnelType::Unknown(v) => v,
        }
    }
}

impl fmt::Display for TunnelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TunnelType::Vxlan => f.write_str("vxlan"),
            TunnelType::Nvgre => f.write_str("nvgre"),
            TunnelType::Mpls => f.write_str("mpls"),
            TunnelType::MplsInGre => f.write_str("mpls-in-gre"),
            TunnelType::VxlanGpe => f.write_str("vxlan-gpe"),
            TunnelType::MplsInUdp => f.write_str("mpls-in-udp"),
            TunnelType::Geneve => f.write_str("geneve"),
            TunnelType::Unknown(v) => write!(f, "type-{v}"),
        }
    }
}

/// One extended community.
///
/// Wire layouts of the known kinds (type, sub-type, then the 6-octet value):
///
/// ```text
/// Route Target         00|01|02  02  see RouteTarget
/// Encapsulation        03  0c   Reserved (4)           | Tunnel Type (2)
/// Default Gateway      03  0d   Reserved (6)
/// MAC Mobility         06  00   Flags (1) | Reserved (1) | Sequence Number (4)
///                               flags bit 0 (low-order) = sticky/static
/// ESI Label            06  01   Flags (1) | Reserved (2) | ESI Label (3)
///                               flags bit 0 (low-order) = single-active
/// ES-Import RT         06  02   ES-Import (6, a MAC derived from the ESI)
/// Router's MAC         06  03   MAC (6)
/// ```
///
/// Reserved octets and flag bits not listed are sent as zero and ignored on
/// receipt (so a known community is re-encoded in canonical form).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ExtCommunity {
    RouteTarget(RouteTarget),
    /// RFC 9012 §4.1 (formerly RFC 5512 §4.5).
    Encapsulation(TunnelType),
    /// RFC 7432 §7.7; the higher sequence number wins (§15).
    MacMobility {
        seq: u32,
        sticky: bool,
    },
    /// RFC 7432 §7.5, on per-ES Ethernet A-D routes.
    EsiLabel {
        single_active: bool,
        label: Label,
    },
    /// RFC 7432 §7.6, on Ethernet Segment routes.
    EsImportRt(Mac),
    /// RFC 9135 §8.1: the MAC to put in the inner Ethernet header towards
    /// the advertising VTEP (symmetric IRB, RT-5).
    RouterMac(Mac),
    /// RFC 7432 §7.8: the MAC/IP route is for a default gateway.
    DefaultGateway,
    /// Any other type/sub-type, verbatim.
    Unknown([u8; 8]),
}

impl ExtCommunity {
    pub const LEN: usize = 8;

    /// Interpret 8 octets; never fails (unknown kinds become `Unknown`).
    pub fn from_bytes(b: [u8; 8]) -> Self {
        match (b[0], b[1]) {
            (typ::TWO_OCTET_AS | typ::IPV4 | typ::FOUR_OCTET_AS, subtype::ROUTE_TARGET) => {
                match RouteTarget::from_bytes(b) {
                    Some(rt) => ExtCommunity::RouteTarget(rt),
                    None => ExtCommunity::Unknown(b),
                }
            }
            (typ::OPAQUE, subtype::ENCAPSULATION) => {
                ExtCommunity::Encapsulation(TunnelType::from(u16::from_be_bytes([b[6], b[7]])))
            }
            (typ::OPAQUE, subtype::DEFAULT_GATEWAY) => ExtCommunity::DefaultGateway,
            (typ::EVPN, subtype::MAC_MOBILITY) => ExtCommunity::MacMobility {
                sticky: b[2] & 0x01 != 0,
                seq: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
            },
            (typ::EVPN, subtype::ESI_LABEL) => ExtCommunity::EsiLabel {
                single_active: b[2] & 0x01 != 0,
                label: Label::from_raw(u32::from_be_bytes([0, b[5], b[6], b[7]])),
            },
            (typ::EVPN, subtype::ES_IMPORT_RT) => {
                ExtCommunity::EsImportRt(Mac([b[2], b[3], b[4], b[5], b[6], b[7]]))
            }
            (typ::EVPN, subtype::ROUTER_MAC) => {
                ExtCommunity::RouterMac(Mac([b[2], b[3], b[4], b[5], b[6], b[7]]))
            }
            _ => ExtCommunity::Unknown(b),
        }
    }

    /// The 8 octets of the community.
    pub fn to_bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        match *self {
            ExtCommunity::RouteTarget(rt) => return rt.to_bytes(),
            ExtCommunity::Encapsulation(t) => {
                b[0] = typ::OPAQUE;
                b[1] = subtype::ENCAPSULATION;
                b[6..8].copy_from_slice(&u16::from(t).to_be_bytes());
            }
            ExtCommunity::DefaultGateway => {
                b[0] = typ::OPAQUE;
                b[1] = subtype::DEFAULT_GATEWAY;
            }
            ExtCommunity::MacMobility { seq, sticky } => {
                b[0] = typ::EVPN;
                b[1] = subtype::MAC_MOBILITY;
                b[2] = u8::from(sticky);
                b[4..8].copy_from_slice(&seq.to_be_bytes());
            }
            ExtCommunity::EsiLabel {
                single_active,
                label,
            } => {
                b[0] = typ::EVPN;
                b[1] = subtype::ESI_LABEL;
                b[2] = u8::from(single_active);
                b[5..8].copy_from_slice(&label.raw().to_be_bytes()[1..]);
            }
            ExtCommunity::EsImportRt(mac) => {
                b[0] = typ::EVPN;
                b[1] = subtype::ES_IMPORT_RT;
                b[2..8].copy_from_slice(&mac.0);
            }
            ExtCommunity::RouterMac(mac) => {
                b[0] = typ::EVPN;
                b[1] = subtype::ROUTER_MAC;
                b[2..8].copy_from_slice(&mac.0);
            }
            ExtCommunity::Unknown(raw) => return raw,
        }
        b
    }

    pub fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_bytes());
    }

    /// The route target, if this is one.
    pub fn route_target(&self) -> Option<RouteTarget> {
        match self {
            ExtCommunity::RouteTarget(rt) => Some(*rt),
            _ => None,
        }
    }
}

impl From<RouteTarget> for ExtCommunity {
    fn from(rt: RouteTarget) -> Self {
        ExtCommunity::RouteTarget(rt)
    }
}

/// FRR's `show bgp` spelling: `RT:65000:100`, `ET:8`, `MM:5, sticky MAC`,
/// `ESI-label-Rt:SA:100`, `ES-Import-Rt:..`, `Rmac:..`, `Default Gateway`;
/// unknown kinds as `0x` and 16 hex digits.
impl fmt::Display for ExtCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtCommunity::RouteTarget(rt) => write!(f, "RT:{rt}"),
            ExtCommunity::Encapsulation(t) => write!(f, "ET:{}", u16::from(*t)),
            ExtCommunity::MacMobility { seq, sticky } => {
                write!(f, "MM:{seq}")?;
                if *sticky {
                    f.write_str(", sticky MAC")?;
                }
                Ok(())
            }
            ExtCommunity::EsiLabel {
                single_active,
                label,
            } => {
                let mode = if *single_active { "SA" } else { "AA" };
                write!(f, "ESI-label-Rt:{mode}:{}", label.raw())
            }
            ExtCommunity::EsImportRt(mac) => write!(f, "ES-Import-Rt:{mac}"),
            ExtCommunity::RouterMac(mac) => write!(f, "Rmac:{mac}"),
            ExtCommunity::DefaultGateway => f.write_str("Default Gateway"),
            ExtCommunity::Unknown(b) => {
                f.write_str("0x")?;
                for x in b {
                    write!(f, "{x:02x}")?;
                }
                Ok(())
            }
        }
    }
}

/// Decode an EXTENDED_COMMUNITIES attribute value.
///
/// Errors (both mean treat-as-withdraw, RFC 7606 §7.14): an empty value is
/// `Short::Truncated { need: 8, have: 0 }`; a length that is not a multiple
/// of 8 is `Short::Trailing { left: len % 8 }`.
pub fn read_ext_communities(buf: &[u8]) -> Result<Vec<ExtCommunity>, Short> {
    const WHAT: &str = "extended communities";
    if buf.is_empty() {
        return Err(Short::Truncated {
            what: WHAT,
            need: ExtCommunity::LEN,
            have: 0,
        });
    }
    let chunks = buf.chunks_exact(ExtCommunity::LEN);
    if !chunks.remainder().is_empty() {
        return Err(Short::Trailing {
            what: WHAT,
            left: chunks.remainder().len(),
        });
    }
    Ok(chunks
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            ExtCommunity::from_bytes(b)
        })
        .collect())
}

/// Append the attribute value for `list` (8 octets each).
pub fn write_ext_communities(list: &[ExtCommunity], out: &mut Vec<u8>) {
    out.reserve(list.len() * ExtCommunity::LEN);
    for c in list {
        c.write(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_evpn_vxlan_set_from_rfc_layouts() {
        let buf = [
            0x00, 0x02, 0xfd, 0xe8, 0x00, 0x00, 0x00, 0x64, // RT 65000:100
            0x03, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, // encap VXLAN
            0x06, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x05, // MM seq 5 sticky
            0x06, 0x03, 0xaa, 0xbb, 0xcc, 0x00, 0x11, 0x22, // router MAC
            0x03, 0x0d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // default gateway
            0x06, 0x01, 0x01, 0x00, 0x00, 0x00, 0x27, 0x10, // ESI label SA 10000
            0x06, 0x02, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, // ES-import
            0x01, 0x02, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x05, // RT 10.0.0.1:5
            0x02, 0x02, 0xfa, 0x56, 0xea, 0x00, 0x00, 0x07, // RT 4200000000:7
            0x06, 0x04, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, // unknown EVPN sub-type
        ];
        let got = read_ext_communities(&buf).unwrap();
        let want = vec![
            ExtCommunity::RouteTarget(RouteTarget::As2 {
                asn: 65000,
                local: 100,
            }),
            ExtCommunity::Encapsulation(TunnelType::Vxlan),
            ExtCommunity::MacMobility {
                seq: 5,
                sticky: true,
            },
            ExtCommunity::RouterMac("aa:bb:cc:00:11:22".parse().unwrap()),
            ExtCommunity::DefaultGateway,
            ExtCommunity::EsiLabel {
                single_active: true,
                label: Label::from_raw(10000),
            },
            ExtCommunity::EsImportRt("00:11:22:33:44:55".parse().unwrap()),
            ExtCommunity::RouteTarget(RouteTarget::Ipv4 {
                ip: Ipv4Addr::new(10, 0, 0, 1),
                local: 5,
            }),
            ExtCommunity::RouteTarget(RouteTarget::As4 {
                asn: 4_200_000_000,
                local: 7,
            }),
            ExtCommunity::Unknown([0x06, 0x04, 1, 2, 3, 4, 5, 6]),
        ];
        assert_eq!(got, want);
        let mut out = Vec::new();
        write_ext_communities(&got, &mut out);
        assert_eq!(out, buf);
    }

    #[test]
    fn length_must_be_a_nonzero_multiple_of_8() {
        assert!(matches!(
            read_ext_communities(&[]),
            Err(Short::Truncated {
                need: 8,
                have: 0,
                ..
            })
        ));
        assert!(matches!(
            read_ext_communities(&[0; 12]),
            Err(Short::Trailing { left: 4, .. })
        ));
        assert_eq!(read_ext_communities(&[0; 16]).unwrap().len(), 2);
    }

    #[test]
    fn display_matches_frr_spelling() {
        let show = |c: ExtCommunity| c.to_string();
        assert_eq!(
            show(
                RouteTarget::As2 {
                    asn: 65000,
                    local: 100
                }
                .into()
            ),
            "RT:65000:100"
        );
        assert_eq!(show(ExtCommunity::Encapsulation(TunnelType::Vxlan)), "ET:8");
        assert_eq!(
            show(ExtCommunity::MacMobility {
                seq: 3,
                sticky: true
            }),
            "MM:3, sticky MAC"
        );
        assert_eq!(
            show(ExtCommunity::MacMobility {
                seq: 3,
                sticky: false
            }),
            "MM:3"
        );
        assert_eq!(show(ExtCommunity::DefaultGateway), "Default Gateway");
        assert_eq!(
            show(ExtCommunity::Unknown([0x43, 0x0c, 0, 0, 0, 0, 0, 8])),
            "0x430c000000000008"
        );
    }

    #[test]
    fn non_transitive_variant_of_a_known_subtype_stays_unknown() {
        // 0x43 is the non-transitive opaque type; not the encapsulation community.
        let b = [0x43, 0x0c, 0, 0, 0, 0, 0, 8];
        assert_eq!(ExtCommunity::from_bytes(b), ExtCommunity::Unknown(b));
    }

    #[test]
    fn route_target_text_forms() {
        let p = |s: &str| s.parse::<RouteTarget>();
        assert_eq!(
            p("65000:100").unwrap(),
            RouteTarget::As2 {
                asn: 65000,
                local: 100
            }
        );
        assert_eq!(
            p("10.0.0.1:5").unwrap(),
            RouteTarget::Ipv4 {
                ip: Ipv4Addr::new(10, 0, 0, 1),
                local: 5
            }
        );
        assert_eq!(
            p("4200000000:5").unwrap(),
            RouteTarget::As4 {
                asn: 4_200_000_000,
                local: 5
            }
        );
        assert_eq!(
            p("100L:5").unwrap(),
            RouteTarget::As4 { asn: 100, local: 5 }
        );
        assert_eq!(
            RouteTarget::As4 { asn: 100, local: 5 }.to_string(),
            "100L:5"
        );
        assert!(p("4200000000:70000").is_err());
        assert!(p("10.0.0.1:70000").is_err());
        assert!(p("65000").is_err());
        assert!(p("x:1").is_err());
    }
}
