//! A set of route ids as a two-level bitmap: the Adj-RIB-In index of a
//! peer.
//!
//! Route ids are dense arena indexes, so a bitmap costs 1 bit per route of
//! the table (128 KiB per million, grown only up to the highest id the peer
//! holds) and insert/remove touch memory in id order — a hash set took a
//! cache miss per route while loading a full table. The summary level
//! (one bit per non-zero word) keeps iteration at O(its routes + table /
//! 4096): a peer going down never scans the table route by route.

use super::rib::RouteId;

#[derive(Debug, Default, Clone)]
pub struct IdSet {
    words: Vec<u64>,
    /// Bit `i` set ⇔ `words[i] != 0`.
    summary: Vec<u64>,
    len: usize,
}

impl IdSet {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn contains(&self, id: RouteId) -> bool {
        let (w, b) = (id as usize / 64, id % 64);
        self.words.get(w).is_some_and(|x| x & (1 << b) != 0)
    }

    /// True if `id` was not in the set.
    pub fn insert(&mut self, id: RouteId) -> bool {
        let (w, b) = (id as usize / 64, id % 64);
        if w >= self.words.len() {
            self.words.resize(w + 1, 0);
            self.summary.resize(w / 64 + 1, 0);
        }
        let word = &mut self.words[w];
        if *word & (1 << b) != 0 {
            return false;
        }
        *word |= 1 << b;
        self.summary[w / 64] |= 1 << (w % 64);
        self.len += 1;
        true
    }

    /// True if `id` was in the set.
    pub fn remove(&mut self, id: RouteId) -> bool {
        let (w, b) = (id as usize / 64, id % 64);
        let Some(word) = self.words.get_mut(w) else {
            return false;
        };
        if *word & (1 << b) == 0 {
            return false;
        }
        *word &= !(1 << b);
        if *word == 0 {
            self.summary[w / 64] &= !(1 << (w % 64));
        }
        self.len -= 1;
        true
    }

    /// Every id, ascending.
    pub fn iter(&self) -> impl Iterator<Item = RouteId> + '_ {
        bits(&self.summary).flat_map(move |w| {
            let base = (w * 64) as RouteId;
            bits(std::slice::from_ref(&self.words[w])).map(move |b| base + b as RouteId)
        })
    }

    /// Take every id out (ascending), leaving the set empty.
    pub fn drain(&mut self) -> Vec<RouteId> {
        let all: Vec<RouteId> = self.iter().collect();
        *self = IdSet::default();
        all
    }
}

/// Positions of the set bits of `words`, ascending.
fn bits(words: &[u64]) -> impl Iterator<Item = usize> + '_ {
    words.iter().enumerate().flat_map(|(i, &w)| {
        let mut w = w;
        std::iter::from_fn(move || {
            if w == 0 {
                return None;
            }
            let b = w.trailing_zeros() as usize;
            w &= w - 1;
            Some(i * 64 + b)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn behaves_like_a_btreeset(ops in proptest::collection::vec((any::<bool>(), 0u32..20_000), 0..400)) {
            let mut a = IdSet::default();
            let mut b = std::collections::BTreeSet::new();
            for (ins, id) in ops {
                if ins {
                    prop_assert_eq!(a.insert(id), b.insert(id));
                } else {
                    prop_assert_eq!(a.remove(id), b.remove(&id));
                }
                prop_assert_eq!(a.len(), b.len());
                prop_assert_eq!(a.contains(id), b.contains(&id));
            }
            prop_assert_eq!(a.iter().collect::<Vec<_>>(), b.iter().copied().collect::<Vec<_>>());
            prop_assert_eq!(a.drain(), b.into_iter().collect::<Vec<_>>());
            prop_assert!(a.is_empty());
        }
    }
}
