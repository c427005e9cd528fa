//! The session context `evpnctl decode` decodes each message with.
//!
//! Some of an UPDATE's meaning is negotiated, not in its bytes (STYLE rule
//! 10): AS number width, the families, ADD-PATH (RFC 7911), iBGP vs eBGP.
//! For `--hex` input the CLI flags say it ([`Overrides::view`]). For a
//! capture, [`SessionTracker`] learns it from the OPENs of each TCP
//! connection, per direction, as the receiver of that direction would:
//!
//! - 4-octet AS when both OPENs carry the capability (RFC 6793 §4);
//! - families both OPENs announce (RFC 4760 §6; IPv4 unicast implied by an
//!   OPEN without multiprotocol capabilities);
//! - path ids for a family when the *sender* advertised ADD-PATH Send and
//!   the *receiver* Receive (RFC 7911 §5), the family being negotiated;
//! - iBGP when both OPENs carry the same AS; on eBGP the leftmost AS of an
//!   AS_PATH must be the sender's AS (RFC 4271 §6.3).
//!
//! Until both OPENs of a connection are seen (a capture started
//! mid-session) the defaults apply: 4-octet AS, all three families, no
//! ADD-PATH, iBGP. A flag given on the command line always wins over what
//! the OPENs say.

use std::collections::HashMap;
use std::net::SocketAddr;

use evpn_proto::message::header::{Header, MessageType, HEADER_LEN};
use evpn_proto::message::{DecodeCxt, FamilySet, Open};

use super::render::SessionView;

/// What the command line fixed; `None` / `false` = not given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--local-as`: our AS. An OPEN from this AS is ours, not checked
    /// against `--peer-as`.
    pub local_as: Option<u32>,
    /// `--peer-as`: the peer's AS; with `--local-as`, decides iBGP/eBGP.
    pub peer_as: Option<u32>,
    /// `--no-as4`: 2-octet AS numbers whatever the OPENs say.
    pub no_as4: bool,
    /// `--families`: the negotiated families.
    pub families: Option<FamilySet>,
    /// `--add-path`: families whose NLRI carry path ids, both directions.
    pub add_path: Option<FamilySet>,
}

impl Overrides {
    /// The view for input without OPENs or directions (`--hex`): the flags,
    /// and the defaults for what they do not say.
    pub fn view(&self) -> SessionView {
        SessionView::new(
            self.local_as,
            self.peer_as,
            !self.no_as4,
            self.families.unwrap_or(FamilySet::ALL),
        )
        .with_add_path(self.add_path.unwrap_or(FamilySet::EMPTY))
    }
}

/// The OPENs seen so far, per direction, and the flags.
#[derive(Debug, Clone, Default)]
pub struct SessionTracker {
    overrides: Overrides,
    /// The last OPEN each sender sent, keyed by (sender, receiver).
    opens: HashMap<(SocketAddr, SocketAddr), Open>,
}

impl SessionTracker {
    pub fn new(overrides: Overrides) -> SessionTracker {
        SessionTracker {
            overrides,
            opens: HashMap::new(),
        }
    }

    /// The view to decode `bytes`, sent by `src` to `dst`, with. An OPEN is
    /// remembered first (a new OPEN on the same address pair, after a
    /// reconnect, replaces the old one).
    pub fn view_for(&mut self, src: SocketAddr, dst: SocketAddr, bytes: &[u8]) -> SessionView {
        if let Some(open) = parse_open(bytes) {
            self.opens.insert((src, dst), open);
        }
        let sender = self.opens.get(&(src, dst));
        let receiver = self.opens.get(&(dst, src));
        view(&self.overrides, sender, receiver)
    }
}

/// An OPEN message's body, if `bytes` is a well-formed OPEN.
fn parse_open(bytes: &[u8]) -> Option<Open> {
    let h = Header::parse(bytes).ok()?;
    if h.msg_type != MessageType::Open || h.len != bytes.len() {
        return None;
    }
    Open::decode(bytes.get(HEADER_LEN..)?).ok()
}

/// The context for messages from `sender` to `receiver` (either OPEN may be
/// missing), flags first.
fn view(o: &Overrides, sender: Option<&Open>, receiver: Option<&Open>) -> SessionView {
    let both = sender.zip(receiver);
    let families = o.families.unwrap_or_else(|| match both {
        Some((s, r)) => {
            let fam = |x: &Open| x.families().into_iter().collect::<FamilySet>();
            fam(s).intersection(fam(r))
        }
        None => FamilySet::ALL,
    });
    let four_octet_as = !o.no_as4
        && both.is_none_or(|(s, r)| s.four_octet_as().is_some() && r.four_octet_as().is_some());
    let add_path = o.add_path.unwrap_or_else(|| match both {
        Some((s, r)) => s
            .add_path(true)
            .intersection(r.add_path(false))
            .intersection(families),
        None => FamilySet::EMPTY,
    });
    let sender_as = sender.map(Open::peer_as);
    let ibgp = match (o.local_as, o.peer_as, both) {
        (Some(l), Some(p), _) => l == p,
        (_, _, Some((s, r))) => s.peer_as() == r.peer_as(),
        _ => true,
    };
    SessionView {
        cx: DecodeCxt {
            four_octet_as,
            ibgp,
            // The leftmost AS of an eBGP AS_PATH is the sender's.
            peer_as: if ibgp { None } else { sender_as.or(o.peer_as) },
            families,
            add_path,
        },
        peer_as: o.peer_as,
        local_as: o.local_as,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use evpn_proto::capability::{AddPathMode, Capability};
    use evpn_proto::{Afi, Family, Safi};
    use std::net::Ipv4Addr;

    fn open(asn: u32, caps: Vec<Capability>) -> Open {
        Open::new(asn, 9, Ipv4Addr::new(10, 0, 0, 1), caps)
    }

    fn ap(f: Family, m: AddPathMode) -> Capability {
        Capability::AddPath(vec![(f.afi(), f.safi(), m)])
    }

    fn a() -> SocketAddr {
        "10.0.0.1:40000".parse().unwrap()
    }
    fn b() -> SocketAddr {
        "10.0.0.2:179".parse().unwrap()
    }

    #[test]
    fn add_path_is_per_direction_from_send_and_receive() {
        let mp = || {
            vec![
                Capability::multiprotocol(Family::Ipv4Unicast),
                Capability::multiprotocol(Family::Evpn),
            ]
        };
        // A can send IPv4 paths, B can receive them; EVPN: B sends, A receives.
        let oa = open(
            65000,
            [
                mp(),
                vec![
                    ap(Family::Ipv4Unicast, AddPathMode::Send),
                    ap(Family::Evpn, AddPathMode::Receive),
                ],
            ]
            .concat(),
        );
        let ob = open(
            65000,
            [
                mp(),
                vec![Capability::AddPath(vec![
                    (Afi::Ipv4, Safi::Unicast, AddPathMode::Receive),
                    (Afi::L2vpn, Safi::Evpn, AddPathMode::Both),
                ])],
            ]
            .concat(),
        );
        let mut t = SessionTracker::new(Overrides::default());
        let ab = t.view_for(a(), b(), &oa.encode());
        // Only A's OPEN so far: defaults.
        assert_eq!(ab.cx.add_path, FamilySet::EMPTY);
        t.view_for(b(), a(), &ob.encode());
        let ab = t.view_for(a(), b(), &[]);
        let ba = t.view_for(b(), a(), &[]);
        let set = |f: &[Family]| f.iter().copied().collect::<FamilySet>();
        assert_eq!(ab.cx.add_path, set(&[Family::Ipv4Unicast]));
        assert_eq!(ba.cx.add_path, set(&[Family::Evpn]));
        assert_eq!(ab.cx.families, set(&[Family::Ipv4Unicast, Family::Evpn]));
        assert!(ab.cx.ibgp && ab.cx.four_octet_as);
        // The flag wins.
        let mut t = SessionTracker::new(Overrides {
            add_path: Some(FamilySet::EMPTY),
            ..Overrides::default()
        });
        t.view_for(a(), b(), &oa.encode());
        t.view_for(b(), a(), &ob.encode());
        assert_eq!(t.view_for(a(), b(), &[]).cx.add_path, FamilySet::EMPTY);
    }

    #[test]
    fn ebgp_two_octet_session_from_opens_without_capabilities() {
        // Open::new adds the 4-octet AS capability; a bare OPEN has none.
        let mut bare = open(65001, vec![]);
        bare.capabilities.clear();
        let mut t = SessionTracker::new(Overrides::default());
        t.view_for(a(), b(), &bare.encode());
        t.view_for(
            b(),
            a(),
            &open(65100, vec![Capability::FourOctetAs(65100)]).encode(),
        );
        let ab = t.view_for(a(), b(), &[]);
        assert!(!ab.cx.four_octet_as);
        assert!(!ab.cx.ibgp);
        assert_eq!(ab.cx.peer_as, Some(65001));
        assert_eq!(t.view_for(b(), a(), &[]).cx.peer_as, Some(65100));
        assert_eq!(
            ab.cx.families.iter().collect::<Vec<_>>(),
            vec![Family::Ipv4Unicast]
        );
        // --no-as4 and --local-as/--peer-as win.
        let mut t = SessionTracker::new(Overrides {
            local_as: Some(65000),
            peer_as: Some(65000),
            no_as4: true,
            ..Overrides::default()
        });
        let v = t.view_for(a(), b(), &bare.encode());
        assert!(v.cx.ibgp && !v.cx.four_octet_as);
    }
}
