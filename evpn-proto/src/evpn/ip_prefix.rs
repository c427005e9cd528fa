//! Route type 5, IP Prefix (RFC 9136 §3): an IP-VRF prefix, reached through
//! the advertising VTEP with the L3 VNI in the label field and the Router's
//! MAC extended community (RFC 9135) — or through an overlay index (GW IP
//! or ESI, RFC 9136 §3.2).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::{bad, route_type, unspecified_like, write_ip, EvpnKey, Fixed};
use crate::error::NlriError;
use crate::prefix::{Ipv4Prefix, Ipv6Prefix, Prefix};
use crate::reader::WriteExt;
use crate::types::{Esi, Label, Rd};

/// An IP Prefix route.
///
/// ```text
/// +---------------------------------------+
/// |      RD (8 octets)                    |
/// +---------------------------------------+
/// |Ethernet Segment Identifier (10 octets)|
/// +---------------------------------------+
/// |  Ethernet Tag ID (4 octets)           |
/// +---------------------------------------+
/// |  IP Prefix Length (1 octet)           |   0..=32 or 0..=128
/// +---------------------------------------+
/// |  IP Prefix (4 or 16 octets)           |
/// +---------------------------------------+
/// |  GW IP Address (4 or 16 octets)       |
/// +---------------------------------------+
/// |  MPLS Label (3 octets)                |   L3 VNI for VXLAN
/// +---------------------------------------+
/// ```
///
/// RFC 9136 §3.1: the total length is 34 for IPv4 and 58 for IPv6; prefix
/// and gateway are of the same family, picked by the length. The prefix
/// length must fit the family: an IPv4 route with prefix length 33..=255 is
/// rejected here (a later check at import time has crashed FRR). Host bits
/// beyond the prefix length are cleared.
///
/// The gateway is an all-zero address when there is no GW overlay index.
/// When encoding, a `gateway` of the other family than `prefix` is written
/// as the all-zero address of the prefix's family.
///
/// Route key (RFC 9136 §3.1): RD, Ethernet Tag, IP prefix (length and
/// address). ESI, gateway and label are attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    pub rd: Rd,
    pub esi: Esi,
    pub eth_tag: u32,
    pub prefix: Prefix,
    pub gateway: IpAddr,
    pub label: Label,
}

/// RD + ESI + Ethernet Tag + prefix length, + 2 addresses, + label.
const LEN_V4: usize = 8 + 10 + 4 + 1 + 4 + 4 + 3;
const LEN_V6: usize = 8 + 10 + 4 + 1 + 16 + 16 + 3;

impl IpPrefix {
    pub const ROUTE_TYPE: u8 = route_type::IP_PREFIX;

    pub fn key(&self) -> EvpnKey {
        EvpnKey::IpPrefix {
            rd: self.rd,
            eth_tag: self.eth_tag,
            prefix: self.prefix,
        }
    }

    /// The GW IP overlay index, if any (a non-zero gateway address).
    pub fn gateway_ip(&self) -> Option<IpAddr> {
        (!self.gateway.is_unspecified()).then_some(self.gateway)
    }

    /// RFC 9136 §3.2: a route may not carry both a non-zero ESI and a
    /// non-zero GW IP as overlay index. The message layer turns this into
    /// treat-as-withdraw; it is not an NLRI syntax error.
    pub fn has_overlay_index_conflict(&self) -> bool {
        !self.esi.is_zero() && self.gateway_ip().is_some()
    }

    /// Decode a body of exactly the NLRI's Length octets.
    #[inline(always)]
    pub fn read_body(body: &[u8]) -> Result<Self, NlriError> {
        const RT: u8 = route_type::IP_PREFIX;
        // The family is given by the length alone; prefix and gateway follow it.
        if let Ok(b) = <&[u8; LEN_V4]>::try_from(body) {
            let plen = b[22];
            let Some(p) = Ipv4Prefix::new(Ipv4Addr::from(b.at::<23, 4>()), plen) else {
                return Err(bad(
                    RT,
                    format_args!("IPv4 prefix length {plen} > 32 (NLRI length 34)"),
                ));
            };
            Ok(Self {
                rd: Rd::from_bytes(b.at::<0, 8>()),
                esi: Esi(b.at::<8, 10>()),
                eth_tag: u32::from_be_bytes(b.at::<18, 4>()),
                prefix: Prefix::V4(p),
                gateway: IpAddr::from(b.at::<27, 4>()),
                label: Label::from_bytes(b.at::<31, 3>()),
            })
        } else if let Ok(b) = <&[u8; LEN_V6]>::try_from(body) {
            let plen = b[22];
            let Some(p) = Ipv6Prefix::new(Ipv6Addr::from(b.at::<23, 16>()), plen) else {
                return Err(bad(
                    RT,
                    format_args!("IPv6 prefix length {plen} > 128 (NLRI length 58)"),
                ));
            };
            Ok(Self {
                rd: Rd::from_bytes(b.at::<0, 8>()),
                esi: Esi(b.at::<8, 10>()),
                eth_tag: u32::from_be_bytes(b.at::<18, 4>()),
                prefix: Prefix::V6(p),
                gateway: IpAddr::from(b.at::<39, 16>()),
                label: Label::from_bytes(b.at::<55, 3>()),
            })
        } else {
            Err(bad(
                RT,
                format_args!(
                    "length {}, must be {LEN_V4} (IPv4) or {LEN_V6} (IPv6)",
                    body.len()
                ),
            ))
        }
    }

    /// Append the body (without route type and length octets).
    pub fn write_body(&self, out: &mut Vec<u8>) {
        self.rd.write(out);
        self.esi.write(out);
        out.put_u32(self.eth_tag);
        out.push(self.prefix.prefix_len());
        // The full address, not the RFC 4271 minimal form: the field is fixed-size.
        match &self.prefix {
            Prefix::V4(p) => out.extend_from_slice(&p.addr().octets()),
            Prefix::V6(p) => out.extend_from_slice(&p.addr().octets()),
        }
        let gw = match (&self.prefix, self.gateway) {
            (Prefix::V4(_), IpAddr::V4(_)) | (Prefix::V6(_), IpAddr::V6(_)) => self.gateway,
            _ => unspecified_like(&self.prefix),
        };
        write_ip(&gw, out);
        self.label.write(out);
    }
}

/// `[5]:[EthTag]:[IPlen]:[IP]` (FRR's form); `{:#}` prefixes the RD and
/// appends ESI, gateway and label.
impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            write!(f, "{} ", self.rd)?;
        }
        write!(
            f,
            "[5]:[{}]:[{}]:[{}]",
            self.eth_tag,
            self.prefix.prefix_len(),
            self.prefix.addr()
        )?;
        if f.alternate() {
            write!(
                f,
                " esi {} gw {} label {}",
                self.esi,
                self.gateway,
                self.label.raw()
            )?;
        }
        Ok(())
    }
}

// Keep the zero addresses nameable for callers building "no gateway" routes.
impl IpPrefix {
    /// The "no gateway" value for an IPv4 route.
    pub const NO_GATEWAY_V4: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    /// The "no gateway" value for an IPv6 route.
    pub const NO_GATEWAY_V6: IpAddr = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
}
