//! RFC 7432 §15 MAC mobility: sequence numbers, which advertisement of a
//! MAC wins, and duplicate detection.
//!
//! The sequence number is shared by every RT-2 of one MAC (the MAC-only
//! route and each MAC+IP route, §15.1: "the MAC/IP Advertisement routes for
//! the same MAC address"), so a MAC-only move and a MAC+IP move bump the
//! same counter.
//!
//! Wrap-around: §7.7 defines a 32-bit unsigned sequence number and §15.1
//! compares numerically ("higher sequence number wins"); it defines no
//! modular (RFC 1982 style) comparison. A speaker that wrapped to 0 would
//! lose against every stale route, so the sequence number saturates at
//! `u32::MAX` instead (four billion moves of one MAC; duplicate detection
//! freezes such a MAC long before).

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// The sequence number for a local learn that takes a MAC over from the
/// remote routes with `remote_max` as their highest number (§15.1: "the
/// PE MUST advertise ... with a sequence number ... one greater than the
/// sequence number in the received route"), saturating.
pub fn next_seq(remote_max: u32) -> u32 {
    remote_max.saturating_add(1)
}

/// One advertisement of a MAC, as the mobility rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claim {
    pub sticky: bool,
    pub seq: u32,
    pub vtep: IpAddr,
}

/// §15.1/§15.2 precedence: `Greater` when `a` wins. A sticky (static) MAC
/// wins over a non-sticky one; then the higher sequence number; then, equal
/// sequence numbers from different PEs, the lower VTEP address.
pub fn compare(a: &Claim, b: &Claim) -> Ordering {
    a.sticky
        .cmp(&b.sticky)
        .then(a.seq.cmp(&b.seq))
        .then(b.vtep.cmp(&a.vtep))
}

/// Why a MAC's location changed (for logs and `evpnctl trace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MoveReason {
    /// Learned here while remote routes existed: advertised with seq+1.
    LocalLearnOverRemote,
    /// A remote route with a higher sequence number (or the same number
    /// from a lower VTEP, or sticky) won over our local MAC.
    RemoteWon,
}

/// Duplicate detection state of one MAC (§15.1: "If N MAC moves are
/// detected within M seconds ... the PE MUST alert the operator and stop
/// sending and processing any BGP MAC/IP Advertisement routes for that MAC
/// address").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dad {
    /// Move times inside the window.
    moves: VecDeque<Instant>,
    /// Frozen since; `until` is `None` for a permanent freeze.
    pub frozen: Option<Frozen>,
    pub total_moves: u64,
    pub last_move: Option<(Instant, MoveReason)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frozen {
    pub since: Instant,
    pub until: Option<Instant>,
}

impl Dad {
    /// Record one move; true when this move crosses the threshold (the
    /// caller freezes, alarms and arms the unfreeze timer).
    pub fn record(
        &mut self,
        now: Instant,
        why: MoveReason,
        max_moves: u32,
        window: Duration,
        freeze: Option<Duration>,
        enabled: bool,
    ) -> bool {
        self.total_moves += 1;
        self.last_move = Some((now, why));
        while self
            .moves
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= window)
        {
            self.moves.pop_front();
        }
        self.moves.push_back(now);
        if !enabled || self.frozen.is_some() {
            return false;
        }
        if self.moves.len() >= max_moves as usize {
            self.frozen = Some(Frozen {
                since: now,
                until: freeze.map(|d| now + d),
            });
            return true;
        }
        false
    }

    /// Moves inside the window ending at `now`.
    pub fn recent(&self, now: Instant, window: Duration) -> usize {
        self.moves
            .iter()
            .filter(|t| now.saturating_duration_since(**t) < window)
            .count()
    }

    /// Unfreeze and forget the move history.
    pub fn clear(&mut self) {
        self.frozen = None;
        self.moves.clear();
    }

    pub fn is_frozen(&self) -> bool {
        self.frozen.is_some()
    }
}

impl super::compact::Empty for Dad {
    fn empty() -> &'static Dad {
        static E: Dad = Dad {
            moves: VecDeque::new(),
            frozen: None,
            total_moves: 0,
            last_move: None,
        };
        &E
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn claim(sticky: bool, seq: u32, last: u8) -> Claim {
        Claim {
            sticky,
            seq,
            vtep: IpAddr::V4(Ipv4Addr::new(10, 0, 0, last)),
        }
    }

    #[test]
    fn next_seq_is_one_more_and_saturates_instead_of_wrapping() {
        assert_eq!(next_seq(0), 1);
        assert_eq!(next_seq(41), 42);
        // A wrap to 0 would lose against every stale route (§15.1 compares
        // numerically), so the number stays at the maximum.
        assert_eq!(next_seq(u32::MAX - 1), u32::MAX);
        assert_eq!(next_seq(u32::MAX), u32::MAX);
    }

    #[test]
    fn sticky_beats_sequence_and_higher_sequence_beats_lower_vtep() {
        use Ordering::*;
        assert_eq!(compare(&claim(true, 0, 9), &claim(false, 100, 1)), Greater);
        assert_eq!(compare(&claim(false, 2, 9), &claim(false, 1, 1)), Greater);
        assert_eq!(compare(&claim(false, 1, 9), &claim(false, 2, 1)), Less);
        // Same sequence number: the lower VTEP address wins.
        assert_eq!(compare(&claim(false, 3, 1), &claim(false, 3, 2)), Greater);
        assert_eq!(compare(&claim(false, 3, 2), &claim(false, 3, 1)), Less);
        assert_eq!(compare(&claim(false, 3, 2), &claim(false, 3, 2)), Equal);
    }

    #[test]
    fn dad_freezes_on_the_nth_move_inside_the_window_only() {
        let t0 = Instant::now();
        let w = Duration::from_secs(10);
        let f = Some(Duration::from_secs(30));
        let why = MoveReason::RemoteWon;
        let mut d = Dad::default();
        assert!(!d.record(t0, why, 3, w, f, true));
        assert!(!d.record(t0 + Duration::from_secs(1), why, 3, w, f, true));
        // The first move has left the window: still only two recent moves.
        assert!(!d.record(t0 + Duration::from_secs(10), why, 3, w, f, true));
        assert_eq!(d.recent(t0 + Duration::from_secs(10), w), 2);
        assert!(d.record(t0 + Duration::from_millis(10_500), why, 3, w, f, true));
        let fr = d.frozen.unwrap();
        assert_eq!(fr.until, Some(t0 + Duration::from_millis(40_500)));
        // Frozen: further moves do not re-trigger.
        assert!(!d.record(t0 + Duration::from_secs(12), why, 3, w, f, true));
        assert_eq!(d.total_moves, 5);
        d.clear();
        assert!(!d.is_frozen());
        assert_eq!(d.recent(t0 + Duration::from_secs(12), w), 0);
        // Disabled: never freezes.
        let mut d = Dad::default();
        for i in 0..10 {
            assert!(!d.record(t0 + Duration::from_millis(i), why, 2, w, None, false));
        }
    }
}
