//! EVPN NLRI (AFI 25 / SAFI 70): route types 1–5 of RFC 7432 §7 and
//! RFC 9136 §3, one file per route type with its wire diagram, encoder and
//! decoder side by side.
//!
//! Every EVPN NLRI has the same envelope (RFC 7432 §7):
//!
//! ```text
//! +-----------------------------------+
//! |    Route Type (1 octet)           |
//! +-----------------------------------+
//! |     Length (1 octet)              |   octets of the body that follows
//! +-----------------------------------+
//! | Route Type specific (variable)    |
//! +-----------------------------------+
//! ```
//!
//! Length rules (exact, as FRR enforces them; with ADD-PATH, RFC 7911, a
//! 4-octet Path Identifier precedes the Route Type and is not counted):
//!
//! | Type | Valid Length |
//! |---|---|
//! | 1 Ethernet A-D | 25 |
//! | 2 MAC/IP Advertisement | 33 or 36 (with Label2), plus IP length / 8; MAC length 48, IP length 0/32/128 |
//! | 3 Inclusive Multicast Ethernet Tag | 13 + IP length / 8, IP length 32/128 |
//! | 4 Ethernet Segment | 19 + IP length / 8, IP length 32/128 |
//! | 5 IP Prefix | 34 (IPv4, prefix length ≤ 32) or 58 (IPv6, ≤ 128) |
//!
//! A body that breaks its route type's rule is an [`NlriError`]: the caller
//! answers with NOTIFICATION [3,9] (or disables the AFI/SAFI, RFC 4760 §7);
//! the route is never installed. An unknown route type (0, 6..=255) is
//! skipped by its Length and kept as [`EvpnRoute::Unknown`] for display
//! (RFC 7606 §5.4); a Length running past the field is an error because the
//! rest of the field cannot be found.
//!
//! For VXLAN (RFC 8365 §5.1.3) the 3-octet MPLS label fields carry the
//! 24-bit VNI; [`Label`](crate::Label) keeps the raw value.
//!
//! Decoding follows the bounded-reader rule in slice form, because this is
//! the hot path of a full-table transfer (tens of millions of RT-2 per
//! second, no allocation per known route): the field walker splits off
//! exactly Length octets per NLRI, and each route type's `read_body` takes
//! that body as a fixed-size head (`split_first_chunk`, so field offsets are
//! checked at compile time) and matches the tail against the only valid
//! shapes — the whole body is accounted for, nothing is skipped. Error
//! messages are built in `#[cold]` functions, off the hot path. A field is
//! walked twice: once over the Length octets to count the NLRI (one exact
//! allocation), once to decode each body straight into its slot of the
//! vector (see [`read_evpn_routes`]).

mod ethernet_ad;
mod ethernet_segment;
mod imet;
mod ip_prefix;
mod mac_ip;

pub use ethernet_ad::EthernetAd;
pub use ethernet_segment::EthernetSegment;
pub use imet::Imet;
pub use ip_prefix::IpPrefix;
pub use mac_ip::MacIp;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::NlriError;
use crate::prefix::Prefix;
use crate::reader::{Reader, WriteExt};
use crate::types::{Esi, Mac, Rd};

/// EVPN route type code points (IANA "EVPN Route Types").
pub mod route_type {
    pub const ETHERNET_AD: u8 = 1;
    pub const MAC_IP: u8 = 2;
    pub const IMET: u8 = 3;
    pub const ETHERNET_SEGMENT: u8 = 4;
    pub const IP_PREFIX: u8 = 5;
}

/// One EVPN NLRI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EvpnRoute {
    /// Type 1, Ethernet Auto-Discovery (RFC 7432 §7.1).
    EthernetAd(EthernetAd),
    /// Type 2, MAC/IP Advertisement (RFC 7432 §7.2).
    MacIp(MacIp),
    /// Type 3, Inclusive Multicast Ethernet Tag (RFC 7432 §7.3).
    Imet(Imet),
    /// Type 4, Ethernet Segment (RFC 7432 §7.4).
    EthernetSegment(EthernetSegment),
    /// Type 5, IP Prefix (RFC 9136 §3).
    IpPrefix(IpPrefix),
    /// Any other route type, kept verbatim (at most 255 body octets).
    /// The RIB ignores these; `evpnctl decode` shows them.
    Unknown { route_type: u8, body: Vec<u8> },
}

/// The fields of an EVPN route that BGP compares to decide whether two
/// NLRI are "the same route" (the RD plus what each RFC section lists as
/// "part of the prefix in the NLRI"). Everything else — ESI of RT-2/RT-5,
/// labels, gateway IP — is a route attribute: a new value replaces the old
/// route, a withdraw need not carry it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EvpnKey {
    /// RT-1: RD, ESI, Ethernet Tag (RFC 7432 §7.1).
    EthernetAd { rd: Rd, esi: Esi, eth_tag: u32 },
    /// RT-2: RD, Ethernet Tag, MAC, IP (RFC 7432 §7.2).
    MacIp {
        rd: Rd,
        eth_tag: u32,
        mac: Mac,
        ip: Option<IpAddr>,
    },
    /// RT-3: RD, Ethernet Tag, originating router's IP (RFC 7432 §7.3).
    Imet {
        rd: Rd,
        eth_tag: u32,
        originator: IpAddr,
    },
    /// RT-4: RD, ESI, originating router's IP (RFC 7432 §7.4).
    EthernetSegment {
        rd: Rd,
        esi: Esi,
        originator: IpAddr,
    },
    /// RT-5: RD, Ethernet Tag, IP prefix (RFC 9136 §3.1).
    IpPrefix {
        rd: Rd,
        eth_tag: u32,
        prefix: Prefix,
    },
}

impl EvpnRoute {
    /// The route type code point.
    pub fn route_type(&self) -> u8 {
        match self {
            EvpnRoute::EthernetAd(_) => route_type::ETHERNET_AD,
            EvpnRoute::MacIp(_) => route_type::MAC_IP,
            EvpnRoute::Imet(_) => route_type::IMET,
            EvpnRoute::EthernetSegment(_) => route_type::ETHERNET_SEGMENT,
            EvpnRoute::IpPrefix(_) => route_type::IP_PREFIX,
            EvpnRoute::Unknown { route_type, .. } => *route_type,
        }
    }

    /// The route distinguisher; `None` for an unknown route type.
    pub fn rd(&self) -> Option<Rd> {
        match self {
            EvpnRoute::EthernetAd(r) => Some(r.rd),
            EvpnRoute::MacIp(r) => Some(r.rd),
            EvpnRoute::Imet(r) => Some(r.rd),
            EvpnRoute::EthernetSegment(r) => Some(r.rd),
            EvpnRoute::IpPrefix(r) => Some(r.rd),
            EvpnRoute::Unknown { .. } => None,
        }
    }

    /// The BGP route key; `None` for an unknown route type (never in a RIB).
    pub fn key(&self) -> Option<EvpnKey> {
        match self {
            EvpnRoute::EthernetAd(r) => Some(r.key()),
            EvpnRoute::MacIp(r) => Some(r.key()),
            EvpnRoute::Imet(r) => Some(r.key()),
            EvpnRoute::EthernetSegment(r) => Some(r.key()),
            EvpnRoute::IpPrefix(r) => Some(r.key()),
            EvpnRoute::Unknown { .. } => None,
        }
    }

    /// Append the whole NLRI (type, length, body).
    ///
    /// Panics if an `Unknown` body is longer than 255 octets — an encoder
    /// bug: decoded bodies never are, and known types are fixed-size.
    pub fn write(&self, out: &mut Vec<u8>) {
        out.push(self.route_type());
        let at = out.len_placeholder(1);
        match self {
            EvpnRoute::EthernetAd(r) => r.write_body(out),
            EvpnRoute::MacIp(r) => r.write_body(out),
            EvpnRoute::Imet(r) => r.write_body(out),
            EvpnRoute::EthernetSegment(r) => r.write_body(out),
            EvpnRoute::IpPrefix(r) => r.write_body(out),
            EvpnRoute::Unknown { body, .. } => out.extend_from_slice(body),
        }
        out.patch_len(at, 1);
    }

    /// Decode one NLRI from `r`, which advances past it.
    pub fn read(r: &mut Reader<'_>) -> Result<EvpnRoute, NlriError> {
        let rt = r.u8("EVPN route type")?;
        let len = r.u8("EVPN NLRI length")?;
        let body = r.take(usize::from(len), "EVPN NLRI")?;
        Self::read_body(rt, body)
    }

    /// Decode a body whose type and length octets were already consumed;
    /// `body` is exactly Length octets.
    #[inline(always)]
    pub fn read_body(rt: u8, body: &[u8]) -> Result<EvpnRoute, NlriError> {
        Ok(match rt {
            route_type::MAC_IP => EvpnRoute::MacIp(MacIp::read_body(body)?),
            route_type::IMET => EvpnRoute::Imet(Imet::read_body(body)?),
            route_type::IP_PREFIX => EvpnRoute::IpPrefix(IpPrefix::read_body(body)?),
            route_type::ETHERNET_AD => EvpnRoute::EthernetAd(EthernetAd::read_body(body)?),
            route_type::ETHERNET_SEGMENT => {
                EvpnRoute::EthernetSegment(EthernetSegment::read_body(body)?)
            }
            route_type => EvpnRoute::Unknown {
                route_type,
                body: body.to_vec(),
            },
        })
    }
}

impl From<EthernetAd> for EvpnRoute {
    fn from(r: EthernetAd) -> Self {
        EvpnRoute::EthernetAd(r)
    }
}
impl From<MacIp> for EvpnRoute {
    fn from(r: MacIp) -> Self {
        EvpnRoute::MacIp(r)
    }
}
impl From<Imet> for EvpnRoute {
    fn from(r: Imet) -> Self {
        EvpnRoute::Imet(r)
    }
}
impl From<EthernetSegment> for EvpnRoute {
    fn from(r: EthernetSegment) -> Self {
        EvpnRoute::EthernetSegment(r)
    }
}
impl From<IpPrefix> for EvpnRoute {
    fn from(r: IpPrefix) -> Self {
        EvpnRoute::IpPrefix(r)
    }
}

/// Split the next NLRI off the front of a non-empty field:
/// (route type, body of exactly Length octets, rest of the field).
#[inline]
fn split_nlri(buf: &[u8]) -> Result<(u8, &[u8], &[u8]), NlriError> {
    match buf {
        [rt, len, tail @ ..] => match tail.split_at_checked(usize::from(*len)) {
            Some((body, rest)) => Ok((*rt, body, rest)),
            None => Err(overrun(*rt, *len, tail.len())),
        },
        _ => Err(overrun_header(buf.len())),
    }
}

#[cold]
#[inline(never)]
fn overrun(rt: u8, len: u8, have: usize) -> NlriError {
    NlriError(format!(
        "EVPN NLRI: type-{rt} length {len} runs past the NLRI field ({have} octets left)"
    ))
}

#[cold]
#[inline(never)]
fn overrun_header(have: usize) -> NlriError {
    NlriError(format!(
        "EVPN NLRI: {have} octet(s) left in the field, a route type and length need 2"
    ))
}

/// Lazy decoder over an MP_REACH/MP_UNREACH EVPN NLRI field.
///
/// Yields one route per NLRI; after the first error it yields that error
/// and then stops (the rest of the field cannot be trusted).
#[derive(Debug, Clone)]
pub struct EvpnRouteIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> EvpnRouteIter<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self {
            rest: buf,
            failed: false,
        }
    }
}

impl Iterator for EvpnRouteIter<'_> {
    type Item = Result<EvpnRoute, NlriError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let item = split_nlri(self.rest).and_then(|(rt, body, rest)| {
            self.rest = rest;
            EvpnRoute::read_body(rt, body)
        });
        self.failed = item.is_err();
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // Every NLRI takes at least its two header octets.
        (0, Some(self.rest.len().div_ceil(2)))
    }
}

impl std::iter::FusedIterator for EvpnRouteIter<'_> {}

/// Decode a whole MP_REACH/MP_UNREACH NLRI field for AFI 25 / SAFI 70.
///
/// Known route types are decoded without heap allocation. A first pass
/// over the Length octets counts the NLRI, so the vector is allocated once
/// at its exact size: one element per NLRI present, at most one per two
/// octets of the field (an NLRI is at least its type and Length octets),
/// whatever the Length octets claim. The second pass decodes each body
/// straight into its slot (no temporary, no capacity check per route).
/// The field must be consumed exactly: an NLRI whose Length runs past the
/// end is an error. Errors are the single-pass ones, in field order: a
/// body error before such a cut wins over the cut.
pub fn read_evpn_routes(buf: &[u8]) -> Result<Vec<EvpnRoute>, NlriError> {
    read_field::<false>(buf).map(|(routes, _)| routes)
}

/// [`read_evpn_routes`] for a field whose NLRI each start with a 4-octet
/// Path Identifier (ADD-PATH, RFC 7911 §3): the routes and, parallel to
/// them, their path ids. A path id or NLRI cut by the end of the field is
/// an error.
pub fn read_evpn_routes_with_path_ids(buf: &[u8]) -> Result<(Vec<EvpnRoute>, Vec<u32>), NlriError> {
    read_field::<true>(buf)
}

/// One NLRI split off the front of a field: path id (0 without ADD-PATH),
/// route type, body of exactly Length octets, rest of the field.
type Split<'a> = (u32, u8, &'a [u8], &'a [u8]);

/// Split the next NLRI (and, with `ADD_PATH`, its path id) off `rest`.
#[inline(always)]
fn split_next<const ADD_PATH: bool>(rest: &[u8]) -> Result<Split<'_>, NlriError> {
    if ADD_PATH {
        let Some((id, after)) = rest.split_first_chunk::<4>() else {
            return Err(short_path_id(rest.len()));
        };
        let (rt, body, next) = split_nlri(after)?;
        Ok((u32::from_be_bytes(*id), rt, body, next))
    } else {
        let (rt, body, next) = split_nlri(rest)?;
        Ok((0, rt, body, next))
    }
}

/// The number of NLRI in `buf` up to its end or to the first one whose
/// framing (path id, type, Length) runs past it, and that error.
///
/// Each NLRI's position depends on the previous one's Length octet, a
/// load-to-use chain per NLRI. Full UPDATEs are mostly runs of one shape,
/// so after each NLRI the loop steps over the following ones of the same
/// Length by a fixed stride, checking each one's Length octet (a branch,
/// not a dependency): the same walk, without waiting on every load.
#[inline(always)]
fn count_nlri<const ADD_PATH: bool>(buf: &[u8]) -> (usize, Option<NlriError>) {
    let at = if ADD_PATH { 5 } else { 1 };
    let mut n = 0usize;
    let mut rest = buf;
    while !rest.is_empty() {
        let next = match split_next::<ADD_PATH>(rest) {
            Ok((_, _, _, next)) => next,
            Err(e) => return (n, Some(e)),
        };
        n += 1;
        let stride = rest.len() - next.len();
        let len = rest.get(at).copied();
        rest = next;
        // Same Length octet → same stride; `split_next` would split it the
        // same way, since at least `stride` octets are left.
        while let Some((nlri, tail)) = rest.split_at_checked(stride) {
            if nlri.get(at).copied() != len {
                break;
            }
            n += 1;
            rest = tail;
        }
    }
    (n, None)
}

/// Both passes of [`read_evpn_routes`] / [`read_evpn_routes_with_path_ids`].
#[inline(always)]
fn read_field<const ADD_PATH: bool>(buf: &[u8]) -> Result<(Vec<EvpnRoute>, Vec<u32>), NlriError> {
    // Pass 1: count the NLRI up to the end of the field or the first one
    // whose framing runs past it (that error is reported after the bodies
    // before it, which pass 2 decodes).
    let (n, cut) = count_nlri::<ADD_PATH>(buf);
    // Pass 2: `extend` over an exact-size range writes each route in place
    // (no capacity check or temporary per route). After a body error the
    // remaining slots get a placeholder and the whole result is dropped.
    let mut routes = Vec::with_capacity(n);
    let mut ids = Vec::with_capacity(if ADD_PATH { n } else { 0 });
    let mut failed: Option<NlriError> = None;
    let mut rest = buf;
    routes.extend((0..n).map(|_| {
        if failed.is_none() {
            match split_next::<ADD_PATH>(rest).and_then(|(id, rt, body, next)| {
                rest = next;
                if ADD_PATH {
                    ids.push(id);
                }
                EvpnRoute::read_body(rt, body)
            }) {
                Ok(route) => return route,
                Err(e) => failed = Some(e),
            }
        }
        EvpnRoute::Unknown {
            route_type: 0,
            body: Vec::new(),
        }
    }));
    match failed.or(cut) {
        Some(e) => Err(e),
        None => Ok((routes, ids)),
    }
}

#[cold]
#[inline(never)]
fn short_path_id(have: usize) -> NlriError {
    NlriError(format!(
        "EVPN NLRI: {have} octet(s) left in the field, an ADD-PATH path identifier needs 4"
    ))
}

/// Append a list of routes as one NLRI field.
pub fn write_evpn_routes<'a>(routes: impl IntoIterator<Item = &'a EvpnRoute>, out: &mut Vec<u8>) {
    for r in routes {
        r.write(out);
    }
}

// ---------------------------------------------------------------------------
// Helpers shared by the route types.

/// An NLRI error naming the route type. Cold: only malformed input gets here.
#[cold]
#[inline(never)]
fn bad(rt: u8, msg: fmt::Arguments<'_>) -> NlriError {
    NlriError(format!("EVPN type-{rt} NLRI: {msg}"))
}

/// Fixed-offset fields of a body whose length was checked by taking it as
/// an array: `body.at::<OFFSET, LEN>()`, bounds checked at compile time.
trait Fixed {
    fn at<const AT: usize, const N: usize>(&self) -> [u8; N];
}

impl<const L: usize> Fixed for [u8; L] {
    #[inline(always)]
    fn at<const AT: usize, const N: usize>(&self) -> [u8; N] {
        const { assert!(AT + N <= L, "field outside the fixed-size body") };
        // The `Err` arm is dead (the assertion above), and the compiler drops it.
        match <&[u8; N]>::try_from(&self[AT..AT + N]) {
            Ok(a) => *a,
            Err(_) => [0; N],
        }
    }
}

/// The originating router's IP of RT-3/RT-4: exactly `bits / 8` octets
/// (bits = 32 or 128), otherwise `None`.
#[inline]
fn exact_ip(bits: u8, b: &[u8]) -> Option<IpAddr> {
    match bits {
        32 => <[u8; 4]>::try_from(b).ok().map(IpAddr::from),
        128 => <[u8; 16]>::try_from(b).ok().map(IpAddr::from),
        _ => None,
    }
}

/// IP length field value for an address: 32 or 128.
fn ip_bits(ip: &IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn write_ip(ip: &IpAddr, out: &mut Vec<u8>) {
    match ip {
        IpAddr::V4(a) => out.extend_from_slice(&a.octets()),
        IpAddr::V6(a) => out.extend_from_slice(&a.octets()),
    }
}

/// The all-zero address of the same family (RT-5 gateway "absent").
fn unspecified_like(p: &Prefix) -> IpAddr {
    if p.is_ipv4() {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    } else {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    }
}

// ---------------------------------------------------------------------------
// Display: FRR's one-line prefix form, `[type]:[field]:...`, without the RD
// (FRR prints it as a heading). The alternate form (`{:#}`) appends the RD
// and the attribute-like fields, for `evpnctl decode`.

impl fmt::Display for EvpnRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvpnRoute::EthernetAd(r) => r.fmt(f),
            EvpnRoute::MacIp(r) => r.fmt(f),
            EvpnRoute::Imet(r) => r.fmt(f),
            EvpnRoute::EthernetSegment(r) => r.fmt(f),
            EvpnRoute::IpPrefix(r) => r.fmt(f),
            EvpnRoute::Unknown { route_type, body } => {
                write!(f, "[{route_type}]:[{}]:[", body.len())?;
                for b in body {
                    write!(f, "{b:02x}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl fmt::Display for EvpnKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EvpnKey::EthernetAd { rd, esi, eth_tag } => write!(f, "{rd} [1]:[{eth_tag}]:[{esi}]"),
            EvpnKey::MacIp {
                rd,
                eth_tag,
                mac,
                ip,
            } => {
                write!(f, "{rd} [2]:[{eth_tag}]:[48]:[{mac}]")?;
                match ip {
                    Some(ip) => write!(f, ":[{}]:[{ip}]", ip_bits(ip)),
                    None => Ok(()),
                }
            }
            EvpnKey::Imet {
                rd,
                eth_tag,
                originator,
            } => write!(
                f,
                "{rd} [3]:[{eth_tag}]:[{}]:[{originator}]",
                ip_bits(originator)
            ),
            EvpnKey::EthernetSegment {
                rd,
                esi,
                originator,
            } => write!(
                f,
                "{rd} [4]:[{esi}]:[{}]:[{originator}]",
                ip_bits(originator)
            ),
            EvpnKey::IpPrefix {
                rd,
                eth_tag,
                prefix,
            } => write!(
                f,
                "{rd} [5]:[{eth_tag}]:[{}]:[{}]",
                prefix.prefix_len(),
                prefix.addr()
            ),
        }
    }
}

#[cfg(test)]
mod tests;
