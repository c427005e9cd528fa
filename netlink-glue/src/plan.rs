//! The pure diff: desired entries × kernel snapshot → [`Plan`].
//!
//! Rules (STYLE 6):
//! - a desired entry that is missing is added; one of ours that differs is
//!   replaced in place (a MAC move is one `NLM_F_REPLACE`, never a
//!   delete-then-add window);
//! - an entry the kernel learned dynamically (a local MAC or ARP entry) is
//!   taken over by a replace: the core decided that the remote route wins;
//! - an entry someone else wrote (operator static entry, another daemon's
//!   protocol) is never touched: it is reported as a conflict;
//! - deletes iterate the entries we own, never the whole kernel dump, and a
//!   dump that failed produces no plan at all (unknown is not empty).

use std::collections::BTreeMap;
use std::fmt;

use crate::entry::{describe, Entries, Key, Value};

/// Who wrote a kernel entry, as far as the snapshot can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// Marked as ours: `NTF_EXT_LEARNED` on FDB entries, our protocol id on
    /// neighbours, routes and rules, or recorded in the ownership file
    /// (sticky FDB entries, which cannot carry `NTF_EXT_LEARNED`).
    Ours,
    /// Learned by the kernel itself (bridge learning, ARP/ND): may be
    /// replaced when the intent says the address is remote.
    Learned,
    /// Written by someone else: never replaced or deleted.
    Foreign,
}

/// One entry found in the kernel at a key we care about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// `None` when the kernel entry has a shape we never write (e.g. a
    /// bridge FDB entry on a host port); it never equals a desired value.
    pub value: Option<Value>,
    pub owner: Owner,
}

/// What the kernel holds at the keys that matter: our entries, plus any
/// other entry sitting at a key the intent wants.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub entries: BTreeMap<Key, Seen>,
}

impl Snapshot {
    pub fn insert(&mut self, key: Key, value: Option<Value>, owner: Owner) {
        self.entries.insert(key, Seen { value, owner });
    }

    /// The entries we own, as a desired-state-shaped map.
    pub fn owned(&self) -> Entries {
        self.entries
            .iter()
            .filter(|(_, s)| s.owner == Owner::Ours)
            .filter_map(|(k, s)| s.value.clone().map(|v| (k.clone(), v)))
            .collect()
    }
}

/// One kernel write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Add {
        key: Key,
        value: Value,
    },
    /// Overwrite in place. `from` is `None` when taking over a kernel-learned
    /// entry.
    Replace {
        key: Key,
        from: Option<Value>,
        to: Value,
    },
    Delete {
        key: Key,
        value: Value,
    },
}

impl Op {
    pub fn key(&self) -> &Key {
        match self {
            Op::Add { key, .. } | Op::Replace { key, .. } | Op::Delete { key, .. } => key,
        }
    }

    /// The value written (or, for a delete, removed).
    pub fn value(&self) -> &Value {
        match self {
            Op::Add { value, .. } | Op::Delete { value, .. } => value,
            Op::Replace { to, .. } => to,
        }
    }

    pub fn verb(&self) -> &'static str {
        match self {
            Op::Add { .. } => "add",
            Op::Replace { .. } => "replace",
            Op::Delete { .. } => "delete",
        }
    }

    /// "add fdb 02:00:00:00:00:01 dst 10.0.0.2 extern_learn self on vxlan100".
    pub fn describe(&self, dev: &dyn Fn(&Key) -> String) -> String {
        format!(
            "{} {}",
            self.verb(),
            describe(self.key(), Some(self.value()), dev)
        )
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(&|k| format!("vni {}", k.vni())))
    }
}

/// A desired entry that cannot be written because someone else's entry
/// holds its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub key: Key,
    pub wanted: Value,
    pub found: Option<Value>,
}

/// The result of the diff: ops in apply order (adds and replaces by stage,
/// then deletes in reverse stage order) plus what was kept and what
/// conflicts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    pub ops: Vec<Op>,
    pub kept: usize,
    pub conflicts: Vec<Conflict>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Drop the deletes (graceful restart: [`crate::Intent::keep_stale`]);
    /// the entries they named count as kept. Returns how many.
    pub fn keep_stale(&mut self) -> usize {
        let before = self.ops.len();
        self.ops.retain(|o| !matches!(o, Op::Delete { .. }));
        let stale = before - self.ops.len();
        self.kept += stale;
        stale
    }
    pub fn count(&self, verb: &str) -> usize {
        self.ops.iter().filter(|o| o.verb() == verb).count()
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "plan: {} add, {} replace, {} delete, {} kept, {} conflicts",
            self.count("add"),
            self.count("replace"),
            self.count("delete"),
            self.kept,
            self.conflicts.len()
        )?;
        for op in &self.ops {
            writeln!(f, "  {op}")?;
        }
        for c in &self.conflicts {
            writeln!(f, "  conflict: {} held by a foreign entry", c.key)?;
        }
        Ok(())
    }
}

/// The diff. Pure: no kernel, no clock.
pub fn diff(desired: &Entries, kernel: &Snapshot) -> Plan {
    let mut plan = Plan::default();
    let mut writes = Vec::new();
    for (key, want) in desired {
        match kernel.entries.get(key) {
            None => writes.push(Op::Add {
                key: key.clone(),
                value: want.clone(),
            }),
            Some(seen) => match seen.owner {
                Owner::Ours if seen.value.as_ref() == Some(want) => plan.kept += 1,
                Owner::Ours | Owner::Learned => writes.push(Op::Replace {
                    key: key.clone(),
                    from: seen.value.clone(),
                    to: want.clone(),
                }),
                Owner::Foreign => plan.conflicts.push(Conflict {
                    key: key.clone(),
                    wanted: want.clone(),
                    found: seen.value.clone(),
                }),
            },
        }
    }
    let mut deletes: Vec<Op> = kernel
        .owned()
        .into_iter()
        .filter(|(k, _)| !desired.contains_key(k))
        .map(|(key, value)| Op::Delete { key, value })
        .collect();
    writes.sort_by_key(|o| o.key().stage());
    deletes.sort_by_key(|o| std::cmp::Reverse(o.key().stage()));
    plan.ops = writes;
    plan.ops.extend(deletes);
    plan
}

/// The incremental path: the ops that move the entries at `keys` from
/// `applied` (what we believe we wrote) to `desired`, without a dump.
pub fn diff_keys<'a>(
    keys: impl IntoIterator<Item = &'a Key>,
    desired: &Entries,
    applied: &Entries,
) -> Vec<Op> {
    let mut writes = Vec::new();
    let mut deletes = Vec::new();
    for key in keys {
        match (desired.get(key), applied.get(key)) {
            (Some(want), None) => writes.push(Op::Add {
                key: key.clone(),
                value: want.clone(),
            }),
            (Some(want), Some(have)) if want != have => writes.push(Op::Replace {
                key: key.clone(),
                from: Some(have.clone()),
                to: want.clone(),
            }),
            (None, Some(have)) => deletes.push(Op::Delete {
                key: key.clone(),
                value: have.clone(),
            }),
            _ => {}
        }
    }
    writes.sort_by_key(|o| o.key().stage());
    deletes.sort_by_key(|o| std::cmp::Reverse(o.key().stage()));
    writes.extend(deletes);
    writes
}

/// The incremental path item by item: `before[i]` and `after[i]` are the
/// entries of one item (a handful) before and after the change, and no
/// key belongs to two items. Same ops, in the same stage order, as
/// [`diff_keys`] over the union of the keys, without building and
/// searching maps (a merged apply has 16k items).
pub fn diff_items<'a>(
    items: impl IntoIterator<Item = (&'a [(Key, Value)], &'a [(Key, Value)])> + Clone,
) -> Vec<Op> {
    // Counted first: a merged apply makes tens of thousands of ops, and a
    // growing vector would hold two copies at each doubling.
    let (mut n_writes, mut n_deletes) = (0, 0);
    for (before, after) in items.clone() {
        n_writes += after
            .iter()
            .filter(|(key, want)| {
                before.iter().find(|(k, _)| k == key).map(|(_, h)| h) != Some(want)
            })
            .count();
        n_deletes += before
            .iter()
            .filter(|(key, _)| !after.iter().any(|(k, _)| k == key))
            .count();
    }
    let mut writes = Vec::with_capacity(n_writes + n_deletes);
    let mut deletes = Vec::with_capacity(n_deletes);
    for (before, after) in items {
        for (key, want) in after {
            match before.iter().find(|(k, _)| k == key) {
                None => writes.push(Op::Add {
                    key: key.clone(),
                    value: want.clone(),
                }),
                Some((_, have)) if have != want => writes.push(Op::Replace {
                    key: key.clone(),
                    from: Some(have.clone()),
                    to: want.clone(),
                }),
                Some(_) => {}
            }
        }
        for (key, have) in before {
            if !after.iter().any(|(k, _)| k == key) {
                deletes.push(Op::Delete {
                    key: key.clone(),
                    value: have.clone(),
                });
            }
        }
    }
    writes.sort_by_key(|o| o.key().stage());
    deletes.sort_by_key(|o| std::cmp::Reverse(o.key().stage()));
    writes.extend(deletes);
    writes
}

#[cfg(test)]
mod tests;
