//! The BGP decision process (RFC 4271 §9.1.2.2) with the EVPN MAC
//! mobility precedence of RFC 7432 §15 in front of it for MAC/IP routes.
//!
//! Every comparison returns the step that decided it ([`Reason`]), so
//! `evpnctl show bgp routes --json` can say why a path won (STYLE rule 14).

use std::cmp::Ordering;
use std::net::{IpAddr, Ipv4Addr};

use serde::{Deserialize, Serialize};

/// The step of the decision process that picked the best path over the
/// runner-up, in the order the steps are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// No other path for this route.
    OnlyPath,
    /// RFC 7432 §15.2: a sticky (static) MAC wins over a non-sticky one.
    MacMobilitySticky,
    /// RFC 7432 §15.1: the higher MAC Mobility sequence number wins.
    MacMobilitySequence,
    /// RFC 7432 §15.1: equal sequence numbers from different PEs — the
    /// lower VTEP (next-hop) address wins.
    MacMobilityLowerVtep,
    /// Higher LOCAL_PREF (RFC 4271 §9.1.1).
    LocalPref,
    /// A locally originated route wins over a learned one.
    LocallyOriginated,
    /// Shorter AS_PATH (an AS_SET counts 1).
    AsPathLength,
    /// Lower ORIGIN (IGP < EGP < INCOMPLETE).
    Origin,
    /// Lower MULTI_EXIT_DISC, compared only between paths from the same
    /// neighbor AS (a missing MED is 0).
    Med,
    /// A path learned over eBGP wins over one learned over iBGP.
    EbgpOverIbgp,
    /// Lower BGP identifier of the advertising speaker, or of the
    /// ORIGINATOR_ID when the path was reflected (RFC 4456 §9).
    RouterId,
    /// Shorter CLUSTER_LIST (RFC 4456 §9).
    ClusterListLength,
    /// Lower peer address.
    PeerAddress,
    /// Non-stale path wins over a path kept stale for a restarting peer.
    NotStale,
    /// Identical by every step (cannot normally happen: the peer address
    /// differs between paths).
    Equal,
}

/// The values the decision process looks at, extracted once per path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rank {
    /// Some for EVPN MAC/IP routes: (sequence, sticky) of the MAC Mobility
    /// extended community; a route without it has sequence 0.
    pub mobility: Option<(u32, bool)>,
    /// The next hop (for EVPN: the VTEP).
    pub next_hop: Option<IpAddr>,
    /// LOCAL_PREF; from eBGP (not sent) the default 100 applies.
    pub local_pref: u32,
    pub local: bool,
    pub as_path_len: u32,
    pub origin: u8,
    pub med: u32,
    /// The leftmost AS of the path (the neighbor AS for MED comparison);
    /// `None` for a path originated in our AS.
    pub neighbor_as: Option<u32>,
    pub ebgp: bool,
    /// ORIGINATOR_ID if present, else the BGP identifier of the peer.
    pub router_id: Ipv4Addr,
    pub cluster_list_len: u32,
    /// The peer address; unspecified for local routes.
    pub peer_addr: IpAddr,
    pub stale: bool,
}

/// Compare two paths: `Greater` means `a` is better. Returns the step
/// that decided.
pub fn compare(a: &Rank, b: &Rank) -> (Ordering, Reason) {
    // RFC 7432 §15: mobility precedence between two MAC/IP paths.
    if let (Some((sa, sticky_a)), Some((sb, sticky_b))) = (a.mobility, b.mobility) {
        if sticky_a != sticky_b {
            return (sticky_a.cmp(&sticky_b), Reason::MacMobilitySticky);
        }
        if sa != sb {
            return (sa.cmp(&sb), Reason::MacMobilitySequence);
        }
        if let (Some(na), Some(nb)) = (a.next_hop, b.next_hop) {
            if na != nb {
                // Lower address wins: reverse.
                return (nb.cmp(&na), Reason::MacMobilityLowerVtep);
            }
        }
    }
    let steps: [(Ordering, Reason); 10] = [
        (a.local_pref.cmp(&b.local_pref), Reason::LocalPref),
        (a.local.cmp(&b.local), Reason::LocallyOriginated),
        (b.as_path_len.cmp(&a.as_path_len), Reason::AsPathLength),
        (b.origin.cmp(&a.origin), Reason::Origin),
        (
            if a.neighbor_as == b.neighbor_as {
                b.med.cmp(&a.med)
            } else {
                Ordering::Equal
            },
            Reason::Med,
        ),
        (a.ebgp.cmp(&b.ebgp), Reason::EbgpOverIbgp),
        (b.router_id.cmp(&a.router_id), Reason::RouterId),
        (
            b.cluster_list_len.cmp(&a.cluster_list_len),
            Reason::ClusterListLength,
        ),
        (b.peer_addr.cmp(&a.peer_addr), Reason::PeerAddress),
        (b.stale.cmp(&a.stale), Reason::NotStale),
    ];
    steps
        .into_iter()
        .find(|(o, _)| *o != Ordering::Equal)
        .unwrap_or((Ordering::Equal, Reason::Equal))
}

/// Index of the best path and the step that made it beat the runner-up.
/// `None` for an empty slice.
pub fn select(ranks: &[Rank]) -> Option<(usize, Reason)> {
    let mut best = 0;
    for i in 1..ranks.len() {
        if compare(&ranks[i], &ranks[best]).0 == Ordering::Greater {
            best = i;
        }
    }
    let best_rank = ranks.get(best)?;
    // The runner-up: the best of the others; the reason is the step that
    // separates the two.
    let mut runner: Option<usize> = None;
    for (i, r) in ranks.iter().enumerate() {
        if i == best {
            continue;
        }
        runner = match runner {
            Some(j) if compare(r, &ranks[j]).0 != Ordering::Greater => Some(j),
            _ => Some(i),
        };
    }
    let reason = match runner {
        None => Reason::OnlyPath,
        Some(j) => compare(best_rank, &ranks[j]).1,
    };
    Some((best, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rank(peer: u8) -> Rank {
        Rank {
            mobility: None,
            next_hop: Some(IpAddr::from([10, 0, 0, peer])),
            local_pref: 100,
            local: false,
            as_path_len: 1,
            origin: 0,
            med: 0,
            neighbor_as: Some(65001),
            ebgp: false,
            router_id: Ipv4Addr::new(10, 0, 0, peer),
            cluster_list_len: 0,
            peer_addr: IpAddr::from([10, 0, 0, peer]),
            stale: false,
        }
    }

    #[test]
    fn each_rfc4271_step_decides_in_order() {
        let a = rank(1);
        let mut b = rank(2);
        assert_eq!(select(&[a.clone(), b.clone()]), Some((0, Reason::RouterId)));
        b.local_pref = 200;
        assert_eq!(
            select(&[a.clone(), b.clone()]),
            Some((1, Reason::LocalPref))
        );
        let mut b = rank(2);
        b.as_path_len = 0;
        assert_eq!(select(&[a.clone(), b]), Some((1, Reason::AsPathLength)));
        let mut b = rank(2);
        b.origin = 2;
        assert_eq!(select(&[a.clone(), b]), Some((0, Reason::Origin)));
        let mut b = rank(2);
        let mut a2 = a.clone();
        a2.med = 10;
        assert_eq!(select(&[a2.clone(), b.clone()]), Some((1, Reason::Med)));
        b.neighbor_as = Some(65002);
        // Different neighbor AS: MED not compared.
        assert_eq!(select(&[a2, b]), Some((0, Reason::RouterId)));
        let mut b = rank(2);
        b.ebgp = true;
        assert_eq!(select(&[a.clone(), b]), Some((1, Reason::EbgpOverIbgp)));
        let mut b = rank(2);
        b.router_id = a.router_id;
        b.cluster_list_len = 1;
        assert_eq!(
            select(&[a.clone(), b.clone()]),
            Some((0, Reason::ClusterListLength))
        );
        b.cluster_list_len = 0;
        assert_eq!(select(&[a.clone(), b]), Some((0, Reason::PeerAddress)));
        assert_eq!(select(&[a]), Some((0, Reason::OnlyPath)));
        assert_eq!(select(&[]), None);
    }

    #[test]
    fn mac_mobility_comes_before_local_pref() {
        let mut a = rank(1);
        let mut b = rank(2);
        a.mobility = Some((1, false));
        b.mobility = Some((2, false));
        a.local_pref = 500;
        assert_eq!(
            select(&[a.clone(), b.clone()]),
            Some((1, Reason::MacMobilitySequence))
        );
        a.mobility = Some((0, true));
        assert_eq!(
            select(&[a.clone(), b.clone()]),
            Some((0, Reason::MacMobilitySticky))
        );
        a.mobility = Some((2, false));
        assert_eq!(select(&[b, a]), Some((1, Reason::MacMobilityLowerVtep)));
    }
}
