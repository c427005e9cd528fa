//! UPDATE (RFC 4271 §4.3) with multiprotocol NLRI (RFC 4760) and the
//! revised error handling of RFC 7606.
//!
//! ```text
//! +-----------------------------------------------------+
//! |   Withdrawn Routes Length (2 octets)                |
//! +-----------------------------------------------------+
//! |   Withdrawn Routes (variable)                       |   IPv4 prefixes
//! +-----------------------------------------------------+
//! |   Total Path Attribute Length (2 octets)            |
//! +-----------------------------------------------------+
//! |   Path Attributes (variable)                        |   see crate::attr
//! +-----------------------------------------------------+
//! |   Network Layer Reachability Information (variable) |   IPv4 prefixes
//! +-----------------------------------------------------+
//! ```
//!
//! Decoding happens in three steps, in this order (the order is the fix
//! for the CVE-2023-4723x family: presence is decided after the whole
//! attribute block is parsed and before any NLRI is used, EoR included):
//!
//! 1. **Structure** — both length fields against the message (beyond it →
//!    session reset [3,1]; CVE-2026-37459/37462: every length is checked
//!    before anything is subtracted), then the IPv4 withdrawn and NLRI
//!    fields (a prefix running past its field → session reset [3,10], RFC
//!    7606 §5.3).
//! 2. **Attributes** — [`PathAttrs::decode`] with its per-attribute table.
//! 3. **Semantics** — [`check`]: missing well-known attributes, martian
//!    next hops, the eBGP first-AS rule, the RT-5 overlay-index rules,
//!    NLRI of families the session did not negotiate.
//!
//! With ADD-PATH for IPv4 unicast ([`DecodeCxt::add_path`], RFC 7911 §3)
//! each withdrawn route and NLRI prefix is preceded by a 4-octet Path
//! Identifier, kept in `withdrawn_path_ids` / `nlri_path_ids`; a field
//! that does not end on a prefix boundary is still [3,10]. MP_REACH and
//! MP_UNREACH do the same per family.
//!
//! The result is an [`UpdateDecoded`] whose [`Verdict`] is the strongest
//! action that fired. For treat-as-withdraw the NLRI (IPv4 and MP_REACH)
//! are still returned: the RIB withdraws them.

use crate::attr::{
    attr_type, is_martian, is_martian_v4, AttrWalk, MpNlri, MpUnreach, NextHop, PathAttrs,
};
use crate::error::{code, Action, Error};
use crate::evpn::EvpnRoute;
use crate::message::header::{begin_message, finish_message, MessageType};
use crate::message::open::AS_TRANS;
use crate::message::DecodeCxt;
use crate::prefix::{read_prefixes_with_path_ids, write_with_path_ids, Ipv4Prefix};
use crate::reader::{Reader, WriteExt};
use crate::types::{Afi, Family, Safi};

/// What the receiver does with a decoded UPDATE (RFC 7606 §2). Session
/// reset is not a verdict: it is the `Err` of [`Update::decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Use it as it is.
    Ok,
    /// Withdraw every NLRI it carries (IPv4 NLRI and MP_REACH NLRI, in
    /// addition to the withdrawn routes and MP_UNREACH).
    TreatAsWithdraw,
    /// Use it; one or more attributes were dropped (they are `None` in
    /// [`PathAttrs`]; the errors say which).
    AttributeDiscard,
}

impl Verdict {
    fn from_action(a: Action) -> Verdict {
        match a {
            Action::TreatAsWithdraw | Action::SessionReset => Verdict::TreatAsWithdraw,
            Action::AttributeDiscard => Verdict::AttributeDiscard,
        }
    }
}

/// An UPDATE message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Update {
    /// IPv4 unicast withdrawn routes.
    pub withdrawn: Vec<Ipv4Prefix>,
    pub attrs: PathAttrs,
    /// IPv4 unicast NLRI (next hop in `attrs.next_hop`).
    pub nlri: Vec<Ipv4Prefix>,
    /// ADD-PATH Path Identifiers of `withdrawn`, parallel to it; empty
    /// without ADD-PATH for IPv4 unicast (RFC 7911 §3).
    pub withdrawn_path_ids: Vec<u32>,
    /// ADD-PATH Path Identifiers of `nlri`, parallel to it.
    pub nlri_path_ids: Vec<u32>,
}

/// A received UPDATE with its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateDecoded {
    pub update: Update,
    pub verdict: Verdict,
    /// Every rule that fired, in the order found (for logs and
    /// `evpnctl decode`); empty when the verdict is `Ok`.
    pub errors: Vec<Error>,
    /// Number of path attributes on the wire (before any was discarded).
    pub attributes_on_wire: usize,
}

impl UpdateDecoded {
    /// End-of-RIB (RFC 4724 §2), decided *after* the verdict: a malformed
    /// UPDATE is never an End-of-RIB even when nothing is left of it
    /// (CVE-2023-47235). The IPv4 marker has no attributes at all on the
    /// wire; the MP marker has exactly one, an empty MP_UNREACH_NLRI.
    pub fn end_of_rib(&self) -> Option<Family> {
        if self.verdict != Verdict::Ok || !self.errors.is_empty() {
            return None;
        }
        let f = self.update.end_of_rib()?;
        let want = usize::from(f != Family::Ipv4Unicast);
        (self.attributes_on_wire == want).then_some(f)
    }
}

impl Update {
    /// The End-of-RIB marker for `f`.
    pub fn end_of_rib_marker(f: Family) -> Update {
        let mut u = Update::default();
        if f != Family::Ipv4Unicast {
            u.attrs.mp_unreach = Some(MpUnreach::end_of_rib(f));
        }
        u
    }

    /// Whether this UPDATE, as a value, is an End-of-RIB marker. For a
    /// received message use [`UpdateDecoded::end_of_rib`], which also
    /// requires a clean verdict.
    pub fn end_of_rib(&self) -> Option<Family> {
        if !self.withdrawn.is_empty() || !self.nlri.is_empty() {
            return None;
        }
        let a = &self.attrs;
        if a.is_empty() {
            return Some(Family::Ipv4Unicast);
        }
        let u = a.mp_unreach.as_ref()?;
        let only_unreach = PathAttrs {
            mp_unreach: None,
            ..a.clone()
        }
        .is_empty();
        let f = u.family()?;
        let empty = matches!(
            (&u.withdrawn, f),
            (MpNlri::Ipv4(v), Family::Ipv4Unicast) if v.is_empty()
        ) || matches!((&u.withdrawn, f), (MpNlri::Ipv6(v), Family::Ipv6Unicast) if v.is_empty())
            || matches!((&u.withdrawn, f), (MpNlri::Evpn(v), Family::Evpn) if v.is_empty());
        (only_unreach && empty).then_some(f)
    }

    /// Decode the body of an UPDATE (after the 19-octet header).
    ///
    /// `Err` is a session reset with its NOTIFICATION; everything milder is
    /// in the [`UpdateDecoded`].
    pub fn decode(body: &[u8], cx: &DecodeCxt) -> Result<UpdateDecoded, Error> {
        let mut r = Reader::new(body);
        let structure = |what: String| {
            Error::session_reset(code::UPDATE, code::update::MALFORMED_ATTRIBUTE_LIST, what)
        };
        let wlen = r
            .u16("withdrawn routes length")
            .map_err(|s| structure(s.to_string()))?;
        let withdrawn_field = r.take(usize::from(wlen), "withdrawn routes").map_err(|_| {
            structure(format!(
                "Withdrawn Routes Length {wlen} exceeds the message ({} octets left)",
                body.len() - 2
            ))
        })?;
        let alen = r
            .u16("total path attribute length")
            .map_err(|s| structure(s.to_string()))?;
        let attr_field = r.take(usize::from(alen), "path attributes").map_err(|_| {
            structure(format!(
                "Total Path Attribute Length {alen} exceeds the message ({} octets left)",
                r.remaining()
            ))
        })?;
        let nlri_field = r.rest();

        let invalid_network = |field: &str, e: crate::error::NlriError| {
            Error::session_reset(
                code::UPDATE,
                code::update::INVALID_NETWORK_FIELD,
                format!("{field}: {e}"),
            )
        };
        let add_path = cx.add_path_for(Family::Ipv4Unicast);
        let (withdrawn, withdrawn_path_ids) =
            read_prefixes_with_path_ids(withdrawn_field, add_path, Ipv4Prefix::read)
                .map_err(|e| invalid_network("withdrawn routes", e))?;
        let (nlri, nlri_path_ids) =
            read_prefixes_with_path_ids(nlri_field, add_path, Ipv4Prefix::read)
                .map_err(|e| invalid_network("NLRI", e))?;

        let AttrWalk {
            attrs,
            mut errors,
            seen,
            count,
        } = PathAttrs::decode(attr_field, cx)?;
        let mut update = Update {
            withdrawn,
            attrs,
            nlri,
            withdrawn_path_ids,
            nlri_path_ids,
        };
        check(&mut update, &seen, cx, &mut errors);

        let verdict = errors
            .iter()
            .map(|e| e.action)
            .reduce(Action::max)
            .map_or(Verdict::Ok, Verdict::from_action);
        Ok(UpdateDecoded {
            update,
            verdict,
            errors,
            attributes_on_wire: count,
        })
    }

    /// The whole message, header included. Sizes are not limited here: an
    /// UPDATE over 4096 octets is the caller's bug; build large ones with
    /// [`crate::message::pack`].
    pub fn encode(&self, cx: &DecodeCxt) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        self.encode_into(cx, &mut out);
        out
    }

    pub fn encode_into(&self, cx: &DecodeCxt, out: &mut Vec<u8>) {
        let add_path = cx.add_path_for(Family::Ipv4Unicast);
        let at = begin_message(out, MessageType::Update);
        let w = out.len_placeholder(2);
        write_with_path_ids(
            &self.withdrawn,
            &self.withdrawn_path_ids,
            add_path,
            out,
            |p, o| p.write(o),
        );
        out.patch_len(w, 2);
        let a = out.len_placeholder(2);
        self.attrs.encode(cx, out);
        out.patch_len(a, 2);
        write_with_path_ids(&self.nlri, &self.nlri_path_ids, add_path, out, |p, o| {
            p.write(o)
        });
        finish_message(out, at);
    }

    /// Reachable NLRI usable by the RIB: IPv4 NLRI plus decoded MP_REACH
    /// NLRI.
    pub fn reach_count(&self) -> usize {
        self.nlri.len() + self.attrs.mp_reach.as_ref().map_or(0, |m| m.nlri.len())
    }
}

/// The semantic rules of RFC 4271 §6.3 / RFC 7606 that need the whole
/// UPDATE. Appends to `errors`; never a session reset.
fn check(u: &mut Update, seen: &crate::attr::TypeSet, cx: &DecodeCxt, errors: &mut Vec<Error>) {
    // NLRI of families the session did not negotiate are ignored
    // (RFC 4760 §6 only lets a speaker send negotiated families). The MP
    // attributes already kept them undecoded.
    let has_ipv4 = !(u.withdrawn.is_empty() && u.nlri.is_empty());
    if has_ipv4 && !cx.families.contains(Family::Ipv4Unicast) {
        errors.push(Error::attribute_discard(
            code::UPDATE,
            code::update::INVALID_NETWORK_FIELD,
            format!(
                "IPv4 unicast not negotiated: {} withdrawn and {} NLRI ignored",
                u.withdrawn.len(),
                u.nlri.len()
            ),
        ));
        u.withdrawn.clear();
        u.nlri.clear();
        u.withdrawn_path_ids.clear();
        u.nlri_path_ids.clear();
    }
    let a = &u.attrs;
    let not_negotiated = |name: &str, afi: Afi, safi: Safi| {
        Error::attribute_discard(
            code::UPDATE,
            code::update::OPTIONAL_ATTRIBUTE_ERROR,
            format!(
                "{name} for AFI {} SAFI {}, not negotiated: NLRI ignored",
                u16::from(afi),
                u8::from(safi)
            ),
        )
    };
    let reach_unknown = a
        .mp_reach
        .as_ref()
        .is_some_and(|m| matches!(m.nlri, MpNlri::Unknown(_)));
    if let Some(m) = a.mp_reach.as_ref().filter(|_| reach_unknown) {
        errors.push(not_negotiated("MP_REACH_NLRI", m.afi, m.safi));
    }
    if let Some(m) = a
        .mp_unreach
        .as_ref()
        .filter(|m| matches!(m.withdrawn, MpNlri::Unknown(_)))
    {
        errors.push(not_negotiated("MP_UNREACH_NLRI", m.afi, m.safi));
    }

    let mp_reach = a.mp_reach.as_ref().filter(|_| !reach_unknown);
    let has_reach = !u.nlri.is_empty() || mp_reach.is_some();
    if !has_reach {
        // Withdraw-only (or empty) UPDATE: no attribute is required
        // (RFC 7606 §3(d): MP_UNREACH alone needs nothing else).
        return;
    }

    // RFC 7606 §3(d): a missing well-known mandatory attribute → TAW. The
    // check is on presence on the wire: an attribute that was present but
    // malformed has already fired its own rule.
    let mut missing = |type_code: u8, why: &str| {
        if !seen.contains(type_code) {
            errors.push(
                Error::treat_as_withdraw(
                    code::UPDATE,
                    code::update::MISSING_WELL_KNOWN,
                    format!("missing {} ({why})", crate::attr::attr_name(type_code)),
                )
                .with_data(vec![type_code]),
            );
        }
    };
    missing(attr_type::ORIGIN, "well-known mandatory");
    missing(attr_type::AS_PATH, "well-known mandatory");
    if !u.nlri.is_empty() {
        missing(attr_type::NEXT_HOP, "mandatory with IPv4 NLRI");
    }
    if cx.ibgp {
        missing(attr_type::LOCAL_PREF, "mandatory on iBGP");
    }

    // RFC 4271 §6.3 / RFC 7606 §7.3: martian next hops are not used; no
    // NOTIFICATION.
    if !u.nlri.is_empty() {
        if let Some(nh) = a.next_hop.filter(|nh| is_martian_v4(*nh)) {
            errors.push(Error::treat_as_withdraw(
                code::UPDATE,
                code::update::INVALID_NEXT_HOP,
                format!("martian NEXT_HOP {nh}"),
            ));
        }
    }
    if let Some(m) = mp_reach {
        let bad = match &m.next_hop {
            NextHop::V6LinkLocal { global, .. } => is_martian(std::net::IpAddr::V6(*global)),
            nh => nh.addr().is_some_and(is_martian),
        };
        if bad {
            errors.push(Error::treat_as_withdraw(
                code::UPDATE,
                code::update::INVALID_NEXT_HOP,
                format!("martian MP_REACH_NLRI next hop {:?}", m.next_hop),
            ));
        }
    }

    // RFC 4271 §6.3: from an external peer the leftmost AS is the peer's.
    if let (false, Some(peer), Some(path)) = (cx.ibgp, cx.peer_as, a.as_path.as_ref()) {
        let want = if cx.four_octet_as {
            peer
        } else {
            u32::from(u16::try_from(peer).unwrap_or(AS_TRANS))
        };
        if path.first_as() != Some(want) {
            errors.push(Error::treat_as_withdraw(
                code::UPDATE,
                code::update::MALFORMED_AS_PATH,
                format!(
                    "leftmost AS {:?} is not the peer's AS {want}",
                    path.first_as()
                ),
            ));
        }
    }

    if let Some(MpNlri::Evpn(routes)) = mp_reach.map(|m| &m.nlri) {
        check_ip_prefix_routes(routes, &u.attrs, errors);
    }
}

/// RT-5 overlay-index rules (RFC 9136 §3.2, §4; FRR PR #5787): a route
/// with both a non-zero ESI and a non-zero GW IP, or with ESI, GW IP,
/// Router's MAC and label all zero (nothing to forward with), or a
/// multicast Router's MAC, is treat-as-withdraw.
fn check_ip_prefix_routes(routes: &[EvpnRoute], attrs: &PathAttrs, errors: &mut Vec<Error>) {
    let rmac = attrs.router_mac().filter(|m| !m.is_zero());
    let mut prefixes = routes.iter().filter_map(|r| match r {
        EvpnRoute::IpPrefix(p) => Some(p),
        _ => None,
    });
    let Some(first) = prefixes.clone().next() else {
        return;
    };
    let fire = |reason: String| {
        Error::treat_as_withdraw(code::UPDATE, code::update::OPTIONAL_ATTRIBUTE_ERROR, reason)
    };
    if let Some(m) = rmac.filter(|m| m.is_multicast()) {
        errors.push(fire(format!(
            "EVPN type-5 route {:?} with multicast Router's MAC {m}",
            first.prefix
        )));
    }
    if let Some(p) = prefixes.clone().find(|p| p.has_overlay_index_conflict()) {
        errors.push(fire(format!(
            "EVPN type-5 route {:?}: both ESI {} and GW IP {} set (RFC 9136 §3.2)",
            p.prefix, p.esi, p.gateway
        )));
    }
    if rmac.is_none() {
        if let Some(p) =
            prefixes.find(|p| p.esi.is_zero() && p.gateway_ip().is_none() && p.label.raw() == 0)
        {
            errors.push(fire(format!(
                "EVPN type-5 route {:?}: ESI, GW IP, Router's MAC and label all zero",
                p.prefix
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::{AsPath, Origin};
    use std::net::Ipv4Addr;

    fn p(s: &str) -> Ipv4Prefix {
        let (a, l) = s.split_once('/').unwrap();
        Ipv4Prefix::new(a.parse().unwrap(), l.parse().unwrap()).unwrap()
    }

    fn basic() -> Update {
        Update {
            withdrawn: vec![p("10.9.0.0/16")],
            attrs: PathAttrs {
                origin: Some(Origin::Igp),
                as_path: Some(AsPath::sequence([65001])),
                next_hop: Some(Ipv4Addr::new(192, 0, 2, 1)),
                local_pref: Some(100),
                ..Default::default()
            },
            nlri: vec![p("10.1.0.0/24"), p("10.2.0.0/16")],
            ..Update::default()
        }
    }

    #[test]
    fn ipv4_update_round_trips_clean() {
        let cx = DecodeCxt::default();
        let u = basic();
        let m = u.encode(&cx);
        let d = Update::decode(&m[19..], &cx).unwrap();
        assert_eq!(d.errors, vec![]);
        assert_eq!(d.verdict, Verdict::Ok);
        assert_eq!(d.update, u);
        assert_eq!(d.end_of_rib(), None);
    }

    #[test]
    fn end_of_rib_markers_are_recognised() {
        let cx = DecodeCxt::default();
        for f in Family::ALL {
            let m = Update::end_of_rib_marker(f).encode(&cx);
            let d = Update::decode(&m[19..], &cx).unwrap();
            assert_eq!(d.end_of_rib(), Some(f), "{f}");
        }
        assert_eq!(
            Update::end_of_rib_marker(Family::Ipv4Unicast)
                .encode(&cx)
                .len(),
            23
        );
    }
}
