//! Compact per-MAC storage: a million MACs make every octet of
//! [`super::MacState`] count (a hash table slot per MAC, and the table
//! doubles past 7/8 load).
//!
//! [`VecMap`]: a map kept as a sorted vector, for the per-MAC and per-IP
//! candidate lists of the EVPN stage. They hold one or two entries almost
//! always; a `BTreeMap` allocates a whole leaf node (11 slots, ~900 octets
//! for an RT-2 key and candidate) for the first, which made this map the
//! largest per-MAC cost at a million MACs. Iteration is in key order, as
//! with the `BTreeMap` it replaces.

/// A small ordered map; the vector grows one slot at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VecMap<K, V> {
    items: Vec<(K, V)>,
}

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap { items: Vec::new() }
    }
}

impl<K: Ord, V> VecMap<K, V> {
    fn find(&self, k: &K) -> Result<usize, usize> {
        self.items.binary_search_by(|(x, _)| x.cmp(k))
    }

    /// Insert or replace; returns the previous value.
    pub fn insert(&mut self, k: K, v: V) -> Option<V> {
        match self.find(&k) {
            Ok(i) => Some(std::mem::replace(&mut self.items[i].1, v)),
            Err(i) => {
                self.items.reserve_exact(1);
                self.items.insert(i, (k, v));
                None
            }
        }
    }

    pub fn remove(&mut self, k: &K) -> Option<V> {
        let i = self.find(k).ok()?;
        let (_, v) = self.items.remove(i);
        if self.items.is_empty() {
            self.items = Vec::new();
        }
        Some(v)
    }

    pub fn get(&self, k: &K) -> Option<&V> {
        self.find(k).ok().map(|i| &self.items[i].1)
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.items.iter().map(|(k, v)| (k, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.items.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.items.iter().map(|(_, v)| v)
    }
}

/// A value that most MACs never need (local learning, DAD history): one
/// pointer, allocated on first mutable use; reads of an absent value see
/// the type's empty value.
#[derive(Debug, Default)]
pub struct Lazy<T: Empty>(Option<Box<T>>);

/// Types with a shared, immutable empty value for [`Lazy`].
pub trait Empty: Default + 'static {
    fn empty() -> &'static Self;
}

impl<T: Empty> Lazy<T> {
    pub const fn new() -> Self {
        Lazy(None)
    }
}

impl<T: Empty> std::ops::Deref for Lazy<T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self.0.as_deref() {
            Some(t) => t,
            None => T::empty(),
        }
    }
}

impl<T: Empty + IntoIterator> IntoIterator for Lazy<T> {
    type Item = T::Item;
    type IntoIter = T::IntoIter;
    fn into_iter(self) -> T::IntoIter {
        self.0.map(|b| *b).unwrap_or_default().into_iter()
    }
}

impl<T: Empty> std::ops::DerefMut for Lazy<T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.get_or_insert_with(Box::default)
    }
}

impl Empty for std::collections::BTreeSet<std::net::IpAddr> {
    fn empty() -> &'static Self {
        static E: std::collections::BTreeSet<std::net::IpAddr> = std::collections::BTreeSet::new();
        &E
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// Behaves as a BTreeMap under any sequence of inserts and removes.
        #[test]
        fn matches_btreemap(ops in proptest::collection::vec((any::<bool>(), 0u8..8, any::<u16>()), 0..64)) {
            let mut a = VecMap::default();
            let mut b = BTreeMap::new();
            for (ins, k, v) in ops {
                if ins {
                    prop_assert_eq!(a.insert(k, v), b.insert(k, v));
                } else {
                    prop_assert_eq!(a.remove(&k), b.remove(&k));
                }
                prop_assert_eq!(a.len(), b.len());
                prop_assert_eq!(a.is_empty(), b.is_empty());
                prop_assert!(a.iter().eq(b.iter()));
                prop_assert_eq!(a.get(&3), b.get(&3));
            }
        }
    }
}
#[cfg(test)]
mod size {
    /// A hash slot per MAC: keep the per-MAC state small (it was 224
    /// octets; 1M MACs then took ~460 MB of table alone).
    #[test]
    fn mac_state_stays_small() {
        assert!(std::mem::size_of::<super::super::MacState>() <= 56);
        let mut l: super::Lazy<std::collections::BTreeSet<std::net::IpAddr>> = Default::default();
        assert!(l.is_empty() && l.0.is_none());
        l.insert("10.0.0.1".parse().unwrap());
        assert_eq!(l.len(), 1);
    }
}
