//! A fast keyed hasher for the RIB's tables.
//!
//! The tables are keyed by short fixed-size values (route keys, 4-octet
//! route ids, attribute fingerprints); SipHash (std's default) was ~15 % of
//! the time to load a million routes. This is a folded multiply (as in
//! aHash's and foldhash's fallbacks) seeded per table from std's random
//! keys, so a peer cannot precompute colliding route keys.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

const MUL: u64 = 0x5851_f42d_4c95_7f2d;

#[inline]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

/// One hashing in progress.
#[derive(Debug, Clone, Copy)]
pub struct FastHasher {
    h: u64,
    seed: u64,
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            // The length keeps "ab" and "ab\0" apart.
            self.write_u64(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.h = fold(self.h ^ i, MUL ^ self.seed);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        fold(self.h, self.seed | 1).rotate_left(23)
    }
}

/// Builds [`FastHasher`]s with a random per-table seed.
#[derive(Debug, Clone, Copy)]
pub struct FastState {
    seed: u64,
    init: u64,
}

impl Default for FastState {
    fn default() -> Self {
        let r = RandomState::new();
        FastState {
            seed: r.hash_one(0x9e37_79b9_u64),
            init: r.hash_one(0x7f4a_7c15_u64),
        }
    }
}

impl BuildHasher for FastState {
    type Hasher = FastHasher;
    #[inline]
    fn build_hasher(&self) -> FastHasher {
        FastHasher {
            h: self.init,
            seed: self.seed,
        }
    }
}

/// `HashMap` with [`FastState`].
pub type FastMap<K, V> = std::collections::HashMap<K, V, FastState>;
/// `HashSet` with [`FastState`].
pub type FastSet<K> = std::collections::HashSet<K, FastState>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_keys_spread_and_equal_keys_agree() {
        let s = FastState::default();
        let a = s.hash_one(1u32);
        assert_eq!(a, s.hash_one(1u32));
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000u32 {
            seen.insert(s.hash_one(i) >> 52);
        }
        // 4096 buckets of the top 12 bits: sequential ids must spread.
        assert!(seen.len() > 3500, "{}", seen.len());
        assert_ne!(s.hash_one(b"ab".as_slice()), s.hash_one(b"ab\0".as_slice()));
    }
}
