//! Path attributes (RFC 4271 §4.3, §5) and their RFC 7606 error handling.
//!
//! ```text
//!  0                   1
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Attr. Flags  |Attr. Type Code|   then Length: 1 octet,
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+   or 2 with Extended Length
//!
//! flags: O (0x80) optional, T (0x40) transitive, P (0x20) partial,
//!        E (0x10) extended length; the low 4 bits are ignored (RFC 4271 §4.3)
//! ```
//!
//! [`PathAttrs::decode`] walks the attribute section once. Each attribute is
//! decoded from exactly its declared length by its own module; what happens
//! when it is malformed is decided in one place, [`malformed_action`],
//! keyed on the attribute type and the peer (RFC 7606 §7), never ad hoc:
//!
//! | attribute | malformed → |
//! |---|---|
//! | ORIGIN, AS_PATH, NEXT_HOP, MED, COMMUNITIES, EXT_COMMUNITIES, LARGE_COMMUNITY, PMSI_TUNNEL | treat-as-withdraw |
//! | LOCAL_PREF, ORIGINATOR_ID, CLUSTER_LIST | iBGP: treat-as-withdraw; eBGP: always discarded |
//! | ATOMIC_AGGREGATE, AGGREGATOR, AS4_PATH, AS4_AGGREGATOR | attribute discard |
//! | MP_REACH_NLRI, MP_UNREACH_NLRI | session reset |
//! | unrecognised, Optional bit clear | treat-as-withdraw ([3,2] recorded) |
//!
//! Other rules of the walk:
//! - flags conflicting with the attribute's definition (RFC 7606 §3(c)):
//!   the attribute is malformed; treat-as-withdraw, except that the
//!   attribute-discard attributes stay attribute discard (RFC 7606 §7.6,
//!   §7.7 specify their malformed handling). The value is still decoded so
//!   that MP_REACH NLRI can be withdrawn;
//! - a duplicate MP_REACH_NLRI / MP_UNREACH_NLRI → session reset [3,1];
//!   any other duplicate: the first is kept (RFC 7606 §3(g));
//! - an attribute overrunning the section, or fewer than 3 (4) octets left
//!   for a header → treat-as-withdraw and stop (RFC 7606 §4); the NLRI are
//!   still found through the Total Path Attribute Length;
//! - AS4_PATH / AS4_AGGREGATOR from a 4-octet-AS ("NEW") peer → discarded
//!   (RFC 6793 §4.1);
//! - tunnel encapsulation (23) is not decoded: it travels as an unknown
//!   optional transitive attribute and can never reset a session
//!   (CVE-2023-38802);
//! - unrecognised optional transitive attributes are kept with the Partial
//!   bit set (RFC 4271 §5) and re-sent; unrecognised optional
//!   non-transitive ones are dropped silently.
//!
//! Presence rules (missing ORIGIN etc.) need the NLRI and are applied by
//! [`crate::message::Update::decode`] after the walk.

mod aggregator;
mod as_path;
mod community;
mod mp;
mod next_hop;
mod origin;
mod preference;
mod reflection;

pub use aggregator::Aggregator;
pub use as_path::{AsPath, AsSegment, SegmentType};
pub use community::Community;
pub use mp::{MpNlri, MpReach, MpUnreach, NextHop};
pub use next_hop::{is_martian, is_martian_v4, is_martian_v6};
pub use origin::Origin;

use std::net::Ipv4Addr;

use crate::error::{code, Action, Error};
use crate::ext_community::{read_ext_communities, write_ext_communities, ExtCommunity};
use crate::large_community::{read_large_communities, write_large_communities, LargeCommunity};
use crate::message::DecodeCxt;
use crate::pmsi::{tunnel_type, PmsiTunnel};
use crate::reader::{Reader, WriteExt};

/// Attribute flag bits.
pub mod flags {
    pub const OPTIONAL: u8 = 0x80;
    pub const TRANSITIVE: u8 = 0x40;
    pub const PARTIAL: u8 = 0x20;
    pub const EXTENDED_LENGTH: u8 = 0x10;
    /// Optional + transitive: what RFC 7606 §3(c) compares.
    pub const OT: u8 = OPTIONAL | TRANSITIVE;
}

/// Attribute type codes (IANA "BGP Path Attributes").
pub mod attr_type {
    pub const ORIGIN: u8 = 1;
    pub const AS_PATH: u8 = 2;
    pub const NEXT_HOP: u8 = 3;
    pub const MULTI_EXIT_DISC: u8 = 4;
    pub const LOCAL_PREF: u8 = 5;
    pub const ATOMIC_AGGREGATE: u8 = 6;
    pub const AGGREGATOR: u8 = 7;
    pub const COMMUNITIES: u8 = 8;
    pub const ORIGINATOR_ID: u8 = 9;
    pub const CLUSTER_LIST: u8 = 10;
    pub const MP_REACH_NLRI: u8 = 14;
    pub const MP_UNREACH_NLRI: u8 = 15;
    pub const EXTENDED_COMMUNITIES: u8 = 16;
    pub const AS4_PATH: u8 = 17;
    pub const AS4_AGGREGATOR: u8 = 18;
    pub const PMSI_TUNNEL: u8 = 22;
    /// RFC 9012; carried as an unknown attribute, never decoded.
    pub const TUNNEL_ENCAPSULATION: u8 = 23;
    pub const LARGE_COMMUNITY: u8 = 32;
}

use attr_type as t;

/// Name for logs.
pub fn attr_name(type_code: u8) -> &'static str {
    match type_code {
        t::ORIGIN => "ORIGIN",
        t::AS_PATH => "AS_PATH",
        t::NEXT_HOP => "NEXT_HOP",
        t::MULTI_EXIT_DISC => "MULTI_EXIT_DISC",
        t::LOCAL_PREF => "LOCAL_PREF",
        t::ATOMIC_AGGREGATE => "ATOMIC_AGGREGATE",
        t::AGGREGATOR => "AGGREGATOR",
        t::COMMUNITIES => "COMMUNITIES",
        t::ORIGINATOR_ID => "ORIGINATOR_ID",
        t::CLUSTER_LIST => "CLUSTER_LIST",
        t::MP_REACH_NLRI => "MP_REACH_NLRI",
        t::MP_UNREACH_NLRI => "MP_UNREACH_NLRI",
        t::EXTENDED_COMMUNITIES => "EXTENDED_COMMUNITIES",
        t::AS4_PATH => "AS4_PATH",
        t::AS4_AGGREGATOR => "AS4_AGGREGATOR",
        t::PMSI_TUNNEL => "PMSI_TUNNEL",
        t::TUNNEL_ENCAPSULATION => "TUNNEL_ENCAPSULATION",
        t::LARGE_COMMUNITY => "LARGE_COMMUNITY",
        _ => "unknown attribute",
    }
}

/// The Optional and Transitive bits each recognised attribute must carry;
/// `None` for attributes we do not decode.
fn expected_flags(type_code: u8) -> Option<u8> {
    use flags::{OPTIONAL as O, TRANSITIVE as T};
    Some(match type_code {
        // Well-known: O clear, T set (RFC 4271 §4.3).
        t::ORIGIN | t::AS_PATH | t::NEXT_HOP | t::LOCAL_PREF | t::ATOMIC_AGGREGATE => T,
        // Optional non-transitive.
        t::MULTI_EXIT_DISC
        | t::ORIGINATOR_ID
        | t::CLUSTER_LIST
        | t::MP_REACH_NLRI
        | t::MP_UNREACH_NLRI => O,
        // Optional transitive.
        t::AGGREGATOR
        | t::COMMUNITIES
        | t::EXTENDED_COMMUNITIES
        | t::AS4_PATH
        | t::AS4_AGGREGATOR
        | t::PMSI_TUNNEL
        | t::LARGE_COMMUNITY => O | T,
        _ => return None,
    })
}

/// RFC 7606 §7: what a malformed attribute of this type means for this
/// peer. The single table the decoder consults.
pub fn malformed_action(type_code: u8, cx: &DecodeCxt) -> Action {
    match type_code {
        t::ORIGIN
        | t::AS_PATH
        | t::NEXT_HOP
        | t::MULTI_EXIT_DISC
        | t::COMMUNITIES
        | t::EXTENDED_COMMUNITIES
        | t::LARGE_COMMUNITY
        | t::PMSI_TUNNEL => Action::TreatAsWithdraw,
        t::LOCAL_PREF | t::ORIGINATOR_ID | t::CLUSTER_LIST => {
            if cx.ibgp {
                Action::TreatAsWithdraw
            } else {
                Action::AttributeDiscard
            }
        }
        t::ATOMIC_AGGREGATE | t::AGGREGATOR | t::AS4_PATH | t::AS4_AGGREGATOR => {
            Action::AttributeDiscard
        }
        t::MP_REACH_NLRI | t::MP_UNREACH_NLRI => Action::SessionReset,
        _ => Action::TreatAsWithdraw,
    }
}

/// RFC 7606 §3(c): flags in conflict make the attribute malformed and call
/// for treat-as-withdraw, unless the attribute's own rules say otherwise
/// (the attribute-discard ones). MP_REACH/MP_UNREACH, whose *value* errors
/// reset the session, get treat-as-withdraw here: their contents still
/// parse, so their NLRI can be withdrawn.
fn flags_action(type_code: u8, cx: &DecodeCxt) -> Action {
    match malformed_action(type_code, cx) {
        Action::AttributeDiscard => Action::AttributeDiscard,
        _ => Action::TreatAsWithdraw,
    }
}

/// Why one attribute value is malformed: the UPDATE error subcode RFC 4271
/// §6.3 names, and the text. The action comes from [`malformed_action`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub subcode: u8,
    pub reason: String,
}

impl Malformed {
    pub fn new(subcode: u8, reason: impl Into<String>) -> Malformed {
        Malformed {
            subcode,
            reason: reason.into(),
        }
    }

    /// Attribute Length Error [3,5].
    pub fn length(name: &str, got: usize, want: &str) -> Malformed {
        Malformed::new(
            code::update::ATTRIBUTE_LENGTH_ERROR,
            format!("{name} length {got} (must be {want})"),
        )
    }
}

/// An attribute kept verbatim: an unrecognised optional transitive one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RawAttribute {
    /// Optional / Transitive / Partial bits only; the Extended Length bit is
    /// chosen on encode. Received unrecognised attributes already have
    /// Partial set (RFC 4271 §5: set when passed on unrecognised).
    pub flags: u8,
    pub type_code: u8,
    pub value: Vec<u8>,
}

/// The path attributes of one UPDATE, typed.
///
/// A field is `None` when the attribute was absent *or* discarded (a
/// malformed attribute under attribute-discard, a duplicate after the
/// first, LOCAL_PREF from an external peer, ...); the decode errors say
/// which.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathAttrs {
    pub origin: Option<Origin>,
    pub as_path: Option<AsPath>,
    pub next_hop: Option<Ipv4Addr>,
    pub med: Option<u32>,
    pub local_pref: Option<u32>,
    pub atomic_aggregate: bool,
    pub aggregator: Option<Aggregator>,
    pub communities: Option<Vec<Community>>,
    pub originator_id: Option<Ipv4Addr>,
    pub cluster_list: Option<Vec<Ipv4Addr>>,
    pub mp_reach: Option<MpReach>,
    pub mp_unreach: Option<MpUnreach>,
    pub ext_communities: Option<Vec<ExtCommunity>>,
    pub as4_path: Option<AsPath>,
    pub as4_aggregator: Option<Aggregator>,
    pub pmsi_tunnel: Option<PmsiTunnel>,
    pub large_communities: Option<Vec<LargeCommunity>>,
    /// Unrecognised optional transitive attributes (incl. tunnel
    /// encapsulation), sorted by type code; at most one per type.
    pub unknown: Vec<RawAttribute>,
}

/// A 256-bit set of attribute type codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TypeSet([u64; 4]);

impl TypeSet {
    pub fn contains(&self, t: u8) -> bool {
        self.0[usize::from(t >> 6)] & (1 << (t & 63)) != 0
    }
    /// Insert; false if it was already present.
    pub fn insert(&mut self, t: u8) -> bool {
        let had = self.contains(t);
        self.0[usize::from(t >> 6)] |= 1 << (t & 63);
        !had
    }
}

/// The result of walking an attribute section: the typed attributes, the
/// rules that fired (never a session reset: those are returned as `Err`),
/// which attribute types were present on the wire, and how many
/// attributes there were.
#[derive(Debug, Clone, Default)]
pub struct AttrWalk {
    pub attrs: PathAttrs,
    pub errors: Vec<Error>,
    pub seen: TypeSet,
    pub count: usize,
}

impl PathAttrs {
    /// Walk the path attribute section (exactly Total Path Attribute Length
    /// octets). `Err` is a session reset; every other rule that fires is in
    /// [`AttrWalk::errors`].
    pub fn decode(section: &[u8], cx: &DecodeCxt) -> Result<AttrWalk, Error> {
        let mut w = AttrWalk::default();
        let mut r = Reader::new(section);
        while !r.is_empty() {
            let start = r.position();
            // RFC 7606 §4: fewer octets than a header, or a length running
            // past the section → treat-as-withdraw, stop here.
            let Some(header) = read_attr_header(&mut r) else {
                w.errors.push(
                    Error::treat_as_withdraw(
                        code::UPDATE,
                        code::update::ATTRIBUTE_LENGTH_ERROR,
                        format!(
                            "path attribute at offset {start} overruns the attribute section ({} octets left)",
                            section.len() - start
                        ),
                    )
                    .with_data(section[start..].to_vec()),
                );
                break;
            };
            w.count += 1;
            let raw = &section[start..r.position()];
            let (aflags, type_code, value) = header;
            if !w.seen.insert(type_code) {
                if matches!(type_code, t::MP_REACH_NLRI | t::MP_UNREACH_NLRI) {
                    return Err(Error::session_reset(
                        code::UPDATE,
                        code::update::MALFORMED_ATTRIBUTE_LIST,
                        format!("duplicate {} (RFC 7606 §3(g))", attr_name(type_code)),
                    )
                    .with_data(raw.to_vec()));
                }
                w.errors.push(
                    Error::attribute_discard(
                        code::UPDATE,
                        code::update::MALFORMED_ATTRIBUTE_LIST,
                        format!(
                            "duplicate {} (type {type_code}) discarded, first kept",
                            attr_name(type_code)
                        ),
                    )
                    .with_data(raw.to_vec()),
                );
                continue;
            }
            w.attrs
                .decode_one(aflags, type_code, value, raw, cx, &mut w.errors)?;
        }
        w.attrs.unknown.sort_by_key(|a| a.type_code);
        Ok(w)
    }

    /// Decode one attribute whose header and length were checked.
    fn decode_one(
        &mut self,
        aflags: u8,
        type_code: u8,
        value: &[u8],
        raw: &[u8],
        cx: &DecodeCxt,
        errors: &mut Vec<Error>,
    ) -> Result<(), Error> {
        let name = attr_name(type_code);
        let fail = |action: Action, subcode: u8, reason: String| {
            Error::new(action, code::UPDATE, subcode, reason).with_data(raw.to_vec())
        };

        let Some(want) = expected_flags(type_code) else {
            // Unrecognised (RFC 4271 §5, §6.3).
            if aflags & flags::OPTIONAL == 0 {
                // A well-known attribute we do not know: RFC 4271 says
                // [3,2] and reset; evpnd, like FRR 10.x, treats the UPDATE
                // as a withdraw (RFC 7606's aim: no reset for what one
                // UPDATE carries).
                errors.push(fail(
                    Action::TreatAsWithdraw,
                    code::update::UNRECOGNIZED_WELL_KNOWN,
                    format!("unrecognised well-known attribute type {type_code}"),
                ));
            } else if aflags & flags::TRANSITIVE != 0 {
                self.unknown.push(RawAttribute {
                    flags: (aflags & flags::OT) | flags::PARTIAL,
                    type_code,
                    value: value.to_vec(),
                });
            }
            return Ok(());
        };

        // RFC 7606 §7.5, §7.9, §7.10: never taken from an external peer.
        if !cx.ibgp
            && matches!(
                type_code,
                t::LOCAL_PREF | t::ORIGINATOR_ID | t::CLUSTER_LIST
            )
        {
            errors.push(fail(
                Action::AttributeDiscard,
                code::update::MALFORMED_ATTRIBUTE_LIST,
                format!("{name} from an external peer discarded"),
            ));
            return Ok(());
        }
        // RFC 6793 §4.1: a NEW speaker never sends these; discard.
        if cx.four_octet_as && matches!(type_code, t::AS4_PATH | t::AS4_AGGREGATOR) {
            errors.push(fail(
                Action::AttributeDiscard,
                code::update::OPTIONAL_ATTRIBUTE_ERROR,
                format!("{name} from a 4-octet-AS speaker discarded"),
            ));
            return Ok(());
        }

        if aflags & flags::OT != want {
            let action = flags_action(type_code, cx);
            errors.push(fail(
                action,
                code::update::ATTRIBUTE_FLAGS_ERROR,
                format!("{name} flags {aflags:#04x} (optional/transitive must be {want:#04x})"),
            ));
            if action == Action::AttributeDiscard {
                return Ok(());
            }
        }

        // MP attributes carry their own session-reset errors.
        match type_code {
            t::MP_REACH_NLRI => {
                self.mp_reach = Some(MpReach::decode(value, cx).map_err(|e| with_raw(e, raw))?);
                return Ok(());
            }
            t::MP_UNREACH_NLRI => {
                self.mp_unreach = Some(MpUnreach::decode(value, cx).map_err(|e| with_raw(e, raw))?);
                return Ok(());
            }
            _ => {}
        }

        let res: Result<(), Malformed> = (|| {
            match type_code {
                t::ORIGIN => self.origin = Some(Origin::decode(value)?),
                t::AS_PATH => self.as_path = Some(AsPath::decode(value, cx.four_octet_as)?),
                t::NEXT_HOP => self.next_hop = Some(next_hop::decode_next_hop(value)?),
                t::MULTI_EXIT_DISC => self.med = Some(preference::decode_u32(value, name)?),
                t::LOCAL_PREF => self.local_pref = Some(preference::decode_u32(value, name)?),
                t::ATOMIC_AGGREGATE => {
                    aggregator::decode_atomic_aggregate(value)?;
                    self.atomic_aggregate = true;
                }
                t::AGGREGATOR => {
                    self.aggregator = Some(Aggregator::decode(value, cx.four_octet_as, name)?)
                }
                t::COMMUNITIES => self.communities = Some(community::decode_communities(value)?),
                t::ORIGINATOR_ID => {
                    self.originator_id = Some(reflection::decode_originator_id(value)?)
                }
                t::CLUSTER_LIST => {
                    self.cluster_list = Some(reflection::decode_cluster_list(value)?)
                }
                t::EXTENDED_COMMUNITIES => {
                    self.ext_communities = Some(read_ext_communities(value).map_err(|_| {
                        Malformed::length(name, value.len(), "a non-zero multiple of 8")
                    })?)
                }
                t::LARGE_COMMUNITY => {
                    self.large_communities = Some(read_large_communities(value).map_err(|_| {
                        Malformed::length(name, value.len(), "a non-zero multiple of 12")
                    })?)
                }
                t::AS4_PATH => {
                    let p = AsPath::decode(value, true)?;
                    if p.segments.iter().any(|s| s.kind.is_confed()) {
                        return Err(Malformed::new(
                            code::update::OPTIONAL_ATTRIBUTE_ERROR,
                            "AS4_PATH with confederation segments (RFC 6793 §6)",
                        ));
                    }
                    self.as4_path = Some(p);
                }
                t::AS4_AGGREGATOR => {
                    self.as4_aggregator = Some(Aggregator::decode(value, true, name)?)
                }
                t::PMSI_TUNNEL => self.pmsi_tunnel = Some(decode_pmsi(value)?),
                _ => {}
            }
            Ok(())
        })();
        if let Err(m) = res {
            errors.push(fail(malformed_action(type_code, cx), m.subcode, m.reason));
        }
        Ok(())
    }

    /// Encode the attribute section (without its 2-octet length).
    ///
    /// Order: MP_UNREACH_NLRI, MP_REACH_NLRI first (RFC 7606 §5.1), then
    /// the rest in ascending type code (RFC 4271 §5), unknown attributes
    /// merged in by type. Extended Length is used only for values over 255
    /// octets. AS numbers are 4 or 2 octets per `cx.four_octet_as`.
    pub fn encode(&self, cx: &DecodeCxt, out: &mut Vec<u8>) {
        use flags::OPTIONAL as O;
        if let Some(u) = &self.mp_unreach {
            put_attr(out, O, t::MP_UNREACH_NLRI, |o| u.encode(cx, o));
        }
        if let Some(m) = &self.mp_reach {
            put_attr(out, O, t::MP_REACH_NLRI, |o| m.encode(cx, o));
        }
        self.encode_rest(cx, out);
    }

    /// Every attribute except MP_REACH_NLRI / MP_UNREACH_NLRI.
    pub(crate) fn encode_rest(&self, cx: &DecodeCxt, out: &mut Vec<u8>) {
        use flags::{OPTIONAL as O, TRANSITIVE as T};
        let four = cx.four_octet_as;
        let mut unknown = self.unknown.iter().peekable();
        // Write the unknown attributes whose type is below `below`.
        let mut upto = |out: &mut Vec<u8>, below: u16| {
            while let Some(u) = unknown.next_if(|u| u16::from(u.type_code) < below) {
                put_attr(out, u.flags & (O | T | flags::PARTIAL), u.type_code, |o| {
                    o.extend_from_slice(&u.value)
                });
            }
        };
        if let Some(o) = self.origin {
            upto(out, u16::from(t::ORIGIN));
            put_attr(out, T, t::ORIGIN, |b| o.encode(b));
        }
        if let Some(p) = &self.as_path {
            upto(out, u16::from(t::AS_PATH));
            put_attr(out, T, t::AS_PATH, |b| p.encode(four, b));
        }
        if let Some(nh) = self.next_hop {
            upto(out, u16::from(t::NEXT_HOP));
            put_attr(out, T, t::NEXT_HOP, |b| b.extend_from_slice(&nh.octets()));
        }
        if let Some(m) = self.med {
            upto(out, u16::from(t::MULTI_EXIT_DISC));
            put_attr(out, O, t::MULTI_EXIT_DISC, |b| b.put_u32(m));
        }
        if let Some(lp) = self.local_pref {
            upto(out, u16::from(t::LOCAL_PREF));
            put_attr(out, T, t::LOCAL_PREF, |b| b.put_u32(lp));
        }
        if self.atomic_aggregate {
            upto(out, u16::from(t::ATOMIC_AGGREGATE));
            put_attr(out, T, t::ATOMIC_AGGREGATE, |_| {});
        }
        if let Some(a) = &self.aggregator {
            upto(out, u16::from(t::AGGREGATOR));
            put_attr(out, O | T, t::AGGREGATOR, |b| a.encode(four, b));
        }
        if let Some(c) = &self.communities {
            upto(out, u16::from(t::COMMUNITIES));
            put_attr(out, O | T, t::COMMUNITIES, |b| {
                community::encode_communities(c, b)
            });
        }
        if let Some(id) = self.originator_id {
            upto(out, u16::from(t::ORIGINATOR_ID));
            put_attr(out, O, t::ORIGINATOR_ID, |b| {
                b.extend_from_slice(&id.octets())
            });
        }
        if let Some(cl) = &self.cluster_list {
            upto(out, u16::from(t::CLUSTER_LIST));
            put_attr(out, O, t::CLUSTER_LIST, |b| {
                reflection::encode_cluster_list(cl, b)
            });
        }
        if let Some(ec) = &self.ext_communities {
            upto(out, u16::from(t::EXTENDED_COMMUNITIES));
            put_attr(out, O | T, t::EXTENDED_COMMUNITIES, |b| {
                write_ext_communities(ec, b)
            });
        }
        if let Some(p) = &self.as4_path {
            upto(out, u16::from(t::AS4_PATH));
            put_attr(out, O | T, t::AS4_PATH, |b| p.encode(true, b));
        }
        if let Some(a) = &self.as4_aggregator {
            upto(out, u16::from(t::AS4_AGGREGATOR));
            put_attr(out, O | T, t::AS4_AGGREGATOR, |b| a.encode(true, b));
        }
        if let Some(p) = &self.pmsi_tunnel {
            upto(out, u16::from(t::PMSI_TUNNEL));
            put_attr(out, O | T, t::PMSI_TUNNEL, |b| p.write(b));
        }
        if let Some(lc) = &self.large_communities {
            upto(out, u16::from(t::LARGE_COMMUNITY));
            put_attr(out, O | T, t::LARGE_COMMUNITY, |b| {
                write_large_communities(lc, b)
            });
        }
        upto(out, 256);
    }

    /// The Router's MAC extended community (RFC 9135 §8.1), if any.
    pub fn router_mac(&self) -> Option<crate::types::Mac> {
        self.ext_communities.as_ref()?.iter().find_map(|c| match c {
            ExtCommunity::RouterMac(m) => Some(*m),
            _ => None,
        })
    }

    /// The MAC Mobility extended community (RFC 7432 §7.7), if any:
    /// (sequence number, sticky).
    pub fn mac_mobility(&self) -> Option<(u32, bool)> {
        self.ext_communities.as_ref()?.iter().find_map(|c| match c {
            ExtCommunity::MacMobility { seq, sticky } => Some((*seq, *sticky)),
            _ => None,
        })
    }

    /// The AS path to use for a route: AS_PATH, or for a 2-octet-AS
    /// session AS_PATH merged with AS4_PATH (RFC 6793 §4.2.3) — unless the
    /// AGGREGATOR shows a 2-octet aggregator, in which case AS4_PATH is
    /// ignored.
    pub fn effective_as_path(&self, cx: &DecodeCxt) -> Option<AsPath> {
        let path = self.as_path.as_ref()?;
        match &self.as4_path {
            Some(as4) if !cx.four_octet_as && !self.aggregator_is_old() => {
                Some(path.merge_as4(as4))
            }
            _ => Some(path.clone()),
        }
    }

    /// The aggregator to use: AS4_AGGREGATOR replaces an AGGREGATOR whose
    /// AS is AS_TRANS on a 2-octet-AS session (RFC 6793 §4.2.3).
    pub fn effective_aggregator(&self, cx: &DecodeCxt) -> Option<Aggregator> {
        match (self.aggregator, self.as4_aggregator) {
            (Some(a), Some(a4))
                if !cx.four_octet_as && a.asn == u32::from(crate::message::AS_TRANS) =>
            {
                Some(a4)
            }
            (a, _) => a,
        }
    }

    /// An AGGREGATOR from a 2-octet speaker that is not AS_TRANS: the
    /// AS4_* attributes are then stale and ignored.
    fn aggregator_is_old(&self) -> bool {
        self.aggregator
            .is_some_and(|a| a.asn != u32::from(crate::message::AS_TRANS))
    }

    /// True when no attribute at all is set.
    pub fn is_empty(&self) -> bool {
        *self == PathAttrs::default()
    }
}

/// Read flags, type, length and value; `None` if the header or the value
/// runs past the section (RFC 7606 §4).
fn read_attr_header<'a>(r: &mut Reader<'a>) -> Option<(u8, u8, &'a [u8])> {
    let aflags = r.u8("attribute flags").ok()?;
    let type_code = r.u8("attribute type").ok()?;
    let len = if aflags & flags::EXTENDED_LENGTH != 0 {
        usize::from(r.u16("attribute length").ok()?)
    } else {
        usize::from(r.u8("attribute length").ok()?)
    };
    let value = r.take(len, "attribute value").ok()?;
    Some((aflags, type_code, value))
}

/// PMSI Tunnel (RFC 6514 §5): not covered by RFC 7606; like FRR and GoBGP,
/// any damage is treat-as-withdraw. Tunnel types above 7 (mLDP MP2MP) are
/// undefined for EVPN and rejected the same way (FRR
/// `bgp_attr_pmsi_tunnel`).
fn decode_pmsi(value: &[u8]) -> Result<PmsiTunnel, Malformed> {
    let p = PmsiTunnel::read(value)
        .map_err(|e| Malformed::new(code::update::OPTIONAL_ATTRIBUTE_ERROR, e.to_string()))?;
    let tt = p.tunnel_type.code();
    if tt > tunnel_type::MLDP_MP2MP {
        return Err(Malformed::new(
            code::update::OPTIONAL_ATTRIBUTE_ERROR,
            format!("PMSI tunnel type {tt} undefined"),
        ));
    }
    Ok(p)
}

fn with_raw(mut e: Error, raw: &[u8]) -> Error {
    if e.data.is_empty() {
        e.data = raw.to_vec();
    }
    e
}

/// Append one attribute: flags (+ Extended Length when the value needs
/// it), type, length, value. The value is written once, after a 2-octet
/// length; a short value is then moved down one octet.
fn put_attr(out: &mut Vec<u8>, aflags: u8, type_code: u8, value: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.put_u8(aflags | flags::EXTENDED_LENGTH);
    out.put_u8(type_code);
    let at = out.len_placeholder(2);
    value(out);
    let len = out.len() - at - 2;
    if len <= 255 {
        out[start] = aflags & !flags::EXTENDED_LENGTH;
        out[at] = len as u8;
        out.remove(at + 1);
    } else {
        // Values over 65535 octets cannot be built from our types except
        // by a caller bug; the length saturates instead of wrapping.
        let l = u16::try_from(len).unwrap_or(u16::MAX);
        out[at..at + 2].copy_from_slice(&l.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as4_attributes_apply_only_on_two_octet_sessions_with_as_trans() {
        let two = DecodeCxt {
            four_octet_as: false,
            ..DecodeCxt::default()
        };
        let a4 = Aggregator {
            asn: 4_200_000_000,
            bgp_id: Ipv4Addr::new(1, 1, 1, 1),
        };
        let mut a = PathAttrs {
            as_path: Some(AsPath::sequence([65001, 23456])),
            as4_path: Some(AsPath::sequence([4_200_000_000])),
            aggregator: Some(Aggregator {
                asn: u32::from(crate::message::AS_TRANS),
                bgp_id: a4.bgp_id,
            }),
            as4_aggregator: Some(a4),
            ..PathAttrs::default()
        };
        assert_eq!(a.effective_aggregator(&two), Some(a4));
        assert_eq!(
            a.effective_as_path(&two).map(|p| p.to_string()).as_deref(),
            Some("65001 4200000000")
        );
        // A real 2-octet aggregator: AS4_PATH is stale (RFC 6793 §4.2.3).
        a.aggregator = Some(Aggregator {
            asn: 65009,
            bgp_id: a4.bgp_id,
        });
        assert_eq!(a.effective_as_path(&two), a.as_path);
        assert_eq!(a.effective_as_path(&DecodeCxt::default()), a.as_path);
    }

    #[test]
    fn put_attr_uses_extended_length_only_past_255() {
        let mut v = Vec::new();
        put_attr(&mut v, flags::OT, 99, |o| o.extend_from_slice(&[7; 255]));
        assert_eq!(&v[..3], &[flags::OT, 99, 255]);
        let mut v = Vec::new();
        put_attr(&mut v, flags::OT, 99, |o| o.extend_from_slice(&[7; 256]));
        assert_eq!(&v[..4], &[flags::OT | flags::EXTENDED_LENGTH, 99, 1, 0]);
        assert_eq!(v.len(), 260);
    }
}
