//! BGP messages (RFC 4271 §4): framing, OPEN, UPDATE, NOTIFICATION,
//! KEEPALIVE and ROUTE-REFRESH.
//!
//! The shell splits the TCP stream with [`frame_len`]; the core decodes each
//! message with [`decode_message`] under the session's negotiated
//! [`DecodeCxt`], and encodes with [`Message::encode`] (or the UPDATE
//! packers in [`pack`]). Every decode error carries its RFC 7606 / RFC 4271
//! consequence (see [`crate::error`]); an UPDATE that is only
//! treat-as-withdraw or attribute-discard still decodes, with a
//! [`Verdict`] and the list of rules that fired.

pub mod header;
pub mod notification;
pub mod open;
pub mod pack;
pub mod route_refresh;
pub mod update;

pub use header::{frame_len, Header, MessageType, HEADER_LEN, MARKER, MAX_MESSAGE_LEN};
pub use notification::Notification;
pub use open::{Open, OptParam, AS_TRANS};
pub use route_refresh::{RefreshSubtype, RouteRefresh};
pub use update::{Update, UpdateDecoded, Verdict};

use crate::error::{code, Error};
use crate::types::Family;

/// A set of address families (a bit per [`Family`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FamilySet(u8);

impl FamilySet {
    pub const EMPTY: FamilySet = FamilySet(0);
    pub const ALL: FamilySet = FamilySet(0b111);

    fn bit(f: Family) -> u8 {
        match f {
            Family::Ipv4Unicast => 1,
            Family::Ipv6Unicast => 2,
            Family::Evpn => 4,
        }
    }
    pub fn contains(self, f: Family) -> bool {
        self.0 & Self::bit(f) != 0
    }
    pub fn insert(&mut self, f: Family) {
        self.0 |= Self::bit(f);
    }
    pub fn remove(&mut self, f: Family) {
        self.0 &= !Self::bit(f);
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn iter(self) -> impl Iterator<Item = Family> {
        Family::ALL.into_iter().filter(move |f| self.contains(*f))
    }
    pub fn intersection(self, other: FamilySet) -> FamilySet {
        FamilySet(self.0 & other.0)
    }
}

impl FromIterator<Family> for FamilySet {
    fn from_iter<I: IntoIterator<Item = Family>>(iter: I) -> Self {
        let mut s = FamilySet::EMPTY;
        for f in iter {
            s.insert(f);
        }
        s
    }
}

/// What the session negotiated, and so how its messages are read and
/// written (STYLE rule 10: negotiated state is an argument).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeCxt {
    /// Both sides sent the 4-octet AS capability (RFC 6793): AS_PATH and
    /// AGGREGATOR carry 4-octet AS numbers, and AS4_PATH / AS4_AGGREGATOR
    /// from the peer are discarded.
    pub four_octet_as: bool,
    /// Internal peer: LOCAL_PREF is mandatory; LOCAL_PREF, ORIGINATOR_ID and
    /// CLUSTER_LIST are accepted (from an external peer they are discarded,
    /// RFC 7606 §7.5, §7.9, §7.10).
    pub ibgp: bool,
    /// When set on an eBGP session, the leftmost AS of AS_PATH must be this
    /// AS (RFC 4271 §6.3; treat-as-withdraw per RFC 7606 §7.2). Leave `None`
    /// for route-server peers that do not prepend.
    pub peer_as: Option<u32>,
    /// Families both sides announced. NLRI of any other family is ignored
    /// (and noted among the decode errors as attribute-discard).
    pub families: FamilySet,
    /// Families whose NLRI carry a 4-octet Path Identifier (ADD-PATH,
    /// RFC 7911 §3) in this direction: in the withdrawn routes and NLRI
    /// fields (IPv4 unicast) and in MP_REACH/MP_UNREACH. For received
    /// messages, the families where we advertised Receive and the peer
    /// Send; encoding with the same context writes path ids for the same
    /// families (a sender's context is the mirror image). evpnd's own OPEN
    /// advertises no ADD-PATH, so on its sessions this is empty.
    pub add_path: FamilySet,
}

impl Default for DecodeCxt {
    /// iBGP, 4-octet AS, IPv4 unicast + IPv6 unicast + EVPN.
    fn default() -> Self {
        DecodeCxt {
            four_octet_as: true,
            ibgp: true,
            peer_as: None,
            families: FamilySet::ALL,
            add_path: FamilySet::EMPTY,
        }
    }
}

impl DecodeCxt {
    /// The context two OPENs negotiate for messages *received* from
    /// `theirs`: 4-octet AS if both sent the capability, families
    /// announced by both (IPv4 unicast implied by an OPEN without
    /// multiprotocol capabilities, RFC 4760 §8), and ADD-PATH for the
    /// negotiated families where we can receive and they can send
    /// (RFC 7911 §5).
    pub fn negotiated(ours: &Open, theirs: &Open, ibgp: bool) -> DecodeCxt {
        let fam = |o: &Open| o.families().into_iter().collect::<FamilySet>();
        let families = fam(ours).intersection(fam(theirs));
        DecodeCxt {
            four_octet_as: ours.four_octet_as().is_some() && theirs.four_octet_as().is_some(),
            ibgp,
            peer_as: (!ibgp).then(|| theirs.peer_as()),
            families,
            add_path: add_path_receive(ours, theirs).intersection(families),
        }
    }

    /// Whether NLRI of `f` carry path ids under this context.
    pub fn add_path_for(&self, f: Family) -> bool {
        self.add_path.contains(f)
    }

    /// An eBGP context with the other fields at their defaults.
    pub fn ebgp() -> DecodeCxt {
        DecodeCxt {
            ibgp: false,
            ..DecodeCxt::default()
        }
    }
}

/// Families whose NLRI `ours` receives with path ids from `theirs`: we
/// advertised Receive and they advertised Send (RFC 7911 §5). Not limited
/// to the negotiated families (see [`DecodeCxt::negotiated`]).
pub fn add_path_receive(ours: &Open, theirs: &Open) -> FamilySet {
    ours.add_path(false).intersection(theirs.add_path(true))
}

/// A BGP message, as built by the core for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "UPDATE is the common message; boxing it would add an allocation to every one"
)]
pub enum Message {
    Open(Open),
    Update(Update),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

impl Message {
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Open(_) => MessageType::Open,
            Message::Update(_) => MessageType::Update,
            Message::Notification(_) => MessageType::Notification,
            Message::Keepalive => MessageType::Keepalive,
            Message::RouteRefresh(_) => MessageType::RouteRefresh,
        }
    }

    /// The message on the wire, header included. `cx` matters for UPDATE
    /// only (AS number width). An UPDATE built by hand may exceed 4096
    /// octets; use [`pack`] to split NLRI across messages.
    pub fn encode(&self, cx: &DecodeCxt) -> Vec<u8> {
        match self {
            Message::Open(o) => o.encode(),
            Message::Update(u) => u.encode(cx),
            Message::Notification(n) => n.encode(),
            Message::Keepalive => keepalive(),
            Message::RouteRefresh(r) => r.encode(),
        }
    }
}

/// A KEEPALIVE: a bare header (RFC 4271 §4.4).
pub fn keepalive() -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    let at = header::begin_message(&mut out, MessageType::Keepalive);
    header::finish_message(&mut out, at);
    out
}

/// One received message, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "UPDATE is the common message; boxing it would add an allocation to every one"
)]
pub enum Decoded {
    /// Syntax only: call [`Open::validate`] before accepting the peer.
    Open(Open),
    /// With its RFC 7606 verdict; see [`UpdateDecoded`].
    Update(UpdateDecoded),
    Notification(Notification),
    Keepalive,
    RouteRefresh(RouteRefresh),
}

impl Decoded {
    /// The RFC 7606 verdict (always `Ok` for messages other than UPDATE).
    pub fn verdict(&self) -> Verdict {
        match self {
            Decoded::Update(u) => u.verdict,
            _ => Verdict::Ok,
        }
    }

    /// The message itself, dropping the verdict.
    pub fn into_message(self) -> Message {
        match self {
            Decoded::Open(o) => Message::Open(o),
            Decoded::Update(u) => Message::Update(u.update),
            Decoded::Notification(n) => Message::Notification(n),
            Decoded::Keepalive => Message::Keepalive,
            Decoded::RouteRefresh(r) => Message::RouteRefresh(r),
        }
    }
}

/// Decode one complete message (header included, exactly as long as its
/// length field, e.g. `&stream[..frame_len(stream)?]`).
///
/// `Err` is always a session reset: send `Notification::from_error(&e)`
/// and close — except for a received NOTIFICATION, which is never answered
/// (RFC 4271 §6.4) and always decodes once its header is valid.
pub fn decode_message(buf: &[u8], cx: &DecodeCxt) -> Result<Decoded, Error> {
    let h = Header::parse(buf)?;
    if buf.len() != h.len {
        return Err(Error::session_reset(
            code::MESSAGE_HEADER,
            code::header::BAD_MESSAGE_LENGTH,
            format!("length field {} but {} octets given", h.len, buf.len()),
        )
        .with_data(buf[16..18].to_vec()));
    }
    let body = &buf[HEADER_LEN..];
    Ok(match h.msg_type {
        MessageType::Open => Decoded::Open(Open::decode(body)?),
        MessageType::Update => Decoded::Update(Update::decode(body, cx)?),
        MessageType::Notification => Decoded::Notification(Notification::decode(body)?),
        MessageType::Keepalive => Decoded::Keepalive,
        MessageType::RouteRefresh => Decoded::RouteRefresh(RouteRefresh::decode(buf)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capability::Capability;
    use std::net::Ipv4Addr;

    #[test]
    fn keepalive_is_19_octets_and_decodes() {
        let k = keepalive();
        assert_eq!(k.len(), 19);
        assert_eq!(
            decode_message(&k, &DecodeCxt::default()),
            Ok(Decoded::Keepalive)
        );
    }

    #[test]
    fn buffer_longer_than_length_field_is_bad_length() {
        let mut k = keepalive();
        k.push(0);
        let e = decode_message(&k, &DecodeCxt::default()).unwrap_err();
        assert_eq!(
            (e.code, e.subcode, e.data.as_slice()),
            (1, 2, &[0u8, 19][..])
        );
    }

    #[test]
    fn negotiated_context_intersects_families() {
        let id = Ipv4Addr::new(1, 1, 1, 1);
        let ours = Open::new(
            65000,
            90,
            id,
            vec![
                Capability::multiprotocol(Family::Evpn),
                Capability::multiprotocol(Family::Ipv4Unicast),
            ],
        );
        let mut theirs = Open::new(65001, 90, id, vec![Capability::multiprotocol(Family::Evpn)]);
        let cx = DecodeCxt::negotiated(&ours, &theirs, false);
        assert!(cx.four_octet_as);
        assert_eq!(cx.peer_as, Some(65001));
        assert_eq!(cx.families.iter().collect::<Vec<_>>(), vec![Family::Evpn]);
        theirs
            .capabilities
            .retain(|c| !matches!(c, Capability::FourOctetAs(_)));
        assert!(!DecodeCxt::negotiated(&ours, &theirs, true).four_octet_as);
    }

    #[test]
    fn add_path_needs_our_receive_their_send_and_the_family() {
        use crate::capability::AddPathMode::{self, Both, Receive, Send};
        use crate::types::{Afi, Safi};
        let id = Ipv4Addr::new(1, 1, 1, 1);
        let open = |modes: &[(Afi, Safi, AddPathMode)]| {
            Open::new(
                65000,
                90,
                id,
                vec![
                    Capability::multiprotocol(Family::Ipv4Unicast),
                    Capability::multiprotocol(Family::Evpn),
                    Capability::AddPath(modes.to_vec()),
                ],
            )
        };
        let v4 = (Afi::Ipv4, Safi::Unicast);
        let evpn = (Afi::L2vpn, Safi::Evpn);
        let v6 = (Afi::Ipv6, Safi::Unicast);
        let cases = [
            // (ours, theirs, families decoded with path ids)
            (
                vec![(v4.0, v4.1, Receive)],
                vec![(v4.0, v4.1, Send)],
                vec![Family::Ipv4Unicast],
            ),
            (
                vec![(v4.0, v4.1, Both)],
                vec![(v4.0, v4.1, Both)],
                vec![Family::Ipv4Unicast],
            ),
            // They receive, we send: our messages carry ids, theirs do not.
            (
                vec![(v4.0, v4.1, Send)],
                vec![(v4.0, v4.1, Receive)],
                vec![],
            ),
            (
                vec![(evpn.0, evpn.1, Both)],
                vec![(v4.0, v4.1, Both)],
                vec![],
            ),
            // IPv6 unicast is not negotiated by the multiprotocol capabilities.
            (vec![(v6.0, v6.1, Both)], vec![(v6.0, v6.1, Both)], vec![]),
            (
                vec![(evpn.0, evpn.1, Both), (v4.0, v4.1, Receive)],
                vec![(evpn.0, evpn.1, Send), (v4.0, v4.1, Both)],
                vec![Family::Ipv4Unicast, Family::Evpn],
            ),
        ];
        for (ours, theirs, want) in cases {
            let cx = DecodeCxt::negotiated(&open(&ours), &open(&theirs), true);
            assert_eq!(
                cx.add_path.iter().collect::<Vec<_>>(),
                want,
                "{ours:?} / {theirs:?}"
            );
        }
    }
}
