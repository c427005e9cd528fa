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

    /// Take up to `max` of the lowest ids out, ascending.
    pub fn pop_first_n(&mut self, max: usize) -> Vec<RouteId> {
        let ids: Vec<RouteId> = self.iter().take(max).collect();
        for &id in &ids {
            self.remove(id);
        }
        ids
    }

    pub fn extend(&mut self, ids: impl IntoIterator<Item = RouteId>) {
        for id in ids {
            self.insert(id);
        }
    }

    pub fn clear(&mut self) {
        *self = IdSet::default();
    }

    /// Take every id out (ascending), leaving the set empty.
    pub fn drain(&mut self) -> Vec<RouteId> {
        let all: Vec<RouteId> = self.iter().collect();
        *self = IdSet::default();
        all
    }
}

/// Route id → value (the Adj-RIB-Out: route → interned outbound
/// attributes): an [`IdSet`] for membership and iteration plus a dense
/// vector of values, 4 octets per route of the table — a hash map took
/// ~18 octets and a cache miss per route, per peer.
#[derive(Debug, Default, Clone)]
pub struct IdMap {
    ids: IdSet,
    values: Vec<u32>,
}

impl IdMap {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn get(&self, id: RouteId) -> Option<u32> {
        if self.ids.contains(id) {
            self.values.get(id as usize).copied()
        } else {
            None
        }
    }

    /// Set `id` → `v`; the previous value, if any.
    pub fn insert(&mut self, id: RouteId, v: u32) -> Option<u32> {
        let old = self.get(id);
        if id as usize >= self.values.len() {
            self.values.resize(id as usize + 1, 0);
        }
        self.values[id as usize] = v;
        self.ids.insert(id);
        old
    }

    pub fn remove(&mut self, id: RouteId) -> Option<u32> {
        let old = self.get(id);
        self.ids.remove(id);
        old
    }

    /// Every (id, value), ascending by id.
    pub fn iter(&self) -> impl Iterator<Item = (RouteId, u32)> + '_ {
        self.ids
            .iter()
            .map(|id| (id, self.values.get(id as usize).copied().unwrap_or(0)))
    }

    pub fn keys(&self) -> impl Iterator<Item = RouteId> + '_ {
        self.ids.iter()
    }

    /// Take everything out, leaving the map empty (and its memory freed).
    pub fn drain(&mut self) -> Vec<(RouteId, u32)> {
        let all: Vec<(RouteId, u32)> = self.iter().collect();
        *self = IdMap::default();
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
            let first: Vec<RouteId> = b.iter().copied().take(7).collect();
            prop_assert_eq!(a.pop_first_n(7), first.clone());
            for id in first {
                b.remove(&id);
            }
            prop_assert_eq!(a.len(), b.len());
            prop_assert_eq!(a.drain(), b.into_iter().collect::<Vec<_>>());
            prop_assert!(a.is_empty());
        }

        #[test]
        fn map_behaves_like_a_btreemap(ops in proptest::collection::vec((any::<bool>(), 0u32..5_000, any::<u32>()), 0..400)) {
            let mut a = IdMap::default();
            let mut b = std::collections::BTreeMap::new();
            for (ins, id, v) in ops {
                if ins {
                    prop_assert_eq!(a.insert(id, v), b.insert(id, v));
                } else {
                    prop_assert_eq!(a.remove(id), b.remove(&id));
                }
                prop_assert_eq!(a.len(), b.len());
                prop_assert_eq!(a.get(id), b.get(&id).copied());
            }
            prop_assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().copied().collect::<Vec<_>>());
            prop_assert_eq!(a.drain(), b.into_iter().collect::<Vec<_>>());
            prop_assert!(a.is_empty());
        }
    }
}
