//! Timers are data: one table of deadlines keyed by what they are for. The
//! shell sleeps until [`Timers::next`]; the core fires every expired entry
//! on `handle_timeout`. Nothing here reads a clock.
//!
//! Jitter comes from [`Rng`], seeded when the core is built, so a scenario
//! test replays the same timer values every run.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use super::io::PeerId;

/// What a deadline is for. Each key is armed at most once at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKey {
    /// RFC 4271 §10 ConnectRetryTimer (also the IdleHoldTimer after an error).
    ConnectRetry(PeerId),
    /// RFC 4271 §10 HoldTimer (in OpenSent: the large 4-minute value).
    Hold(PeerId),
    /// RFC 4271 §10 KeepaliveTimer.
    Keepalive(PeerId),
    /// Max-prefix restart (RFC 4486 Cease/1 with a restart interval).
    MaxPrefixRestart(PeerId),
    /// RFC 4724 §4.2 helper: the peer's Restart Time, running while its
    /// session is down.
    GrRestart(PeerId),
    /// RFC 4724 §4.2 helper: the upper bound on how long stale routes stay
    /// after the session came back (waiting for End-of-RIB).
    GrStale(PeerId),
    /// Enhanced route refresh (RFC 7313 §4): sweep stale paths if EoRR does
    /// not arrive in time.
    RefreshStale(PeerId),
    /// A write-blocked peer has held up its update group long enough: split
    /// it off (`update_group.rs`).
    WriteStall(PeerId),
    /// RFC 4724 §4.1 restarting speaker: stop deferring best path selection.
    SelectionDeferral,
    /// RFC 7432 §15.1 duplicate detection: the freeze time of a MAC is over.
    DadUnfreeze(evpn_proto::Vni, evpn_proto::Mac),
}

impl TimerKey {
    pub fn peer(self) -> Option<PeerId> {
        match self {
            TimerKey::ConnectRetry(p)
            | TimerKey::Hold(p)
            | TimerKey::Keepalive(p)
            | TimerKey::MaxPrefixRestart(p)
            | TimerKey::GrRestart(p)
            | TimerKey::GrStale(p)
            | TimerKey::RefreshStale(p)
            | TimerKey::WriteStall(p) => Some(p),
            TimerKey::SelectionDeferral | TimerKey::DadUnfreeze(..) => None,
        }
    }
}

/// The deadline table: ordered by time for `next`/`expired`, indexed by key
/// for re-arming and cancelling in O(log n).
#[derive(Debug, Default)]
pub struct Timers {
    by_time: BTreeSet<(Instant, TimerKey)>,
    by_key: HashMap<TimerKey, Instant>,
}

impl Timers {
    /// Arm (or re-arm) `key` to fire at `at`.
    pub fn set(&mut self, key: TimerKey, at: Instant) {
        if let Some(old) = self.by_key.insert(key, at) {
            self.by_time.remove(&(old, key));
        }
        self.by_time.insert((at, key));
    }

    pub fn cancel(&mut self, key: TimerKey) {
        if let Some(old) = self.by_key.remove(&key) {
            self.by_time.remove(&(old, key));
        }
    }

    /// Cancel every timer of one peer.
    pub fn cancel_peer(&mut self, peer: PeerId) {
        for key in [
            TimerKey::ConnectRetry(peer),
            TimerKey::Hold(peer),
            TimerKey::Keepalive(peer),
            TimerKey::MaxPrefixRestart(peer),
            TimerKey::GrRestart(peer),
            TimerKey::GrStale(peer),
            TimerKey::RefreshStale(peer),
        ] {
            self.cancel(key);
        }
    }

    pub fn get(&self, key: TimerKey) -> Option<Instant> {
        self.by_key.get(&key).copied()
    }

    pub fn is_armed(&self, key: TimerKey) -> bool {
        self.by_key.contains_key(&key)
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.by_time.first().map(|(t, _)| *t)
    }

    /// Remove and return the earliest timer due at or before `now`.
    pub fn pop_expired(&mut self, now: Instant) -> Option<TimerKey> {
        let (t, key) = *self.by_time.first()?;
        if t > now {
            return None;
        }
        self.by_time.remove(&(t, key));
        self.by_key.remove(&key);
        Some(key)
    }
}

/// xorshift64*: tiny, deterministic, good enough for timer jitter.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Zero is a fixed point of xorshift.
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15 | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// RFC 4271 §10: "the jitter SHOULD be applied ... by multiplying the
    /// base value of the appropriate timer by a random factor, which is
    /// uniformly distributed in the range from 0.75 to 1.0".
    pub fn jitter(&mut self, base: Duration) -> Duration {
        // 1/1024 steps are fine-grained enough for timers of seconds.
        let step = self.next_u64() % 257; // 0..=256
        base * (768 + step as u32) / 1024
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_timers_come_out_in_deadline_order_and_rearm_replaces() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.set(TimerKey::Hold(PeerId(1)), t0 + Duration::from_secs(3));
        t.set(TimerKey::Keepalive(PeerId(1)), t0 + Duration::from_secs(1));
        t.set(TimerKey::Hold(PeerId(1)), t0 + Duration::from_secs(2));
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(1)));
        let now = t0 + Duration::from_secs(5);
        assert_eq!(t.pop_expired(now), Some(TimerKey::Keepalive(PeerId(1))));
        assert_eq!(t.pop_expired(now), Some(TimerKey::Hold(PeerId(1))));
        assert_eq!(t.pop_expired(now), None);
    }

    #[test]
    fn jitter_stays_between_three_quarters_and_full() {
        let mut r = Rng::new(0);
        let base = Duration::from_secs(30);
        for _ in 0..1000 {
            let j = r.jitter(base);
            assert!(j >= base * 3 / 4 && j <= base, "{j:?}");
        }
    }
}
