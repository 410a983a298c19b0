//! Differences between two locks, per ecosystem and image: added, removed,
//! upgraded, downgraded or otherwise changed pins; and applying a subset of
//! them to the older lock, which is what culprit finding bisects over.

use super::lockfile::{Archive, Lock, Pin, PinKey};
use crate::manifest::Ecosystem;
use crate::universe::scheme_for;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Applying a diff failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    /// A change index past the end of the diff.
    #[error("change index {index} out of range (the diff has {len} changes)")]
    OutOfRange {
        /// The index asked for.
        index: usize,
        /// How many changes the diff has.
        len: usize,
    },
}

/// What happened to one pin between the old and the new lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Only in the new lock.
    Added,
    /// Only in the old lock.
    Removed,
    /// Newer version in the new lock, by the ecosystem's ordering.
    Upgraded,
    /// Older version in the new lock, by the ecosystem's ordering.
    Downgraded,
    /// Different version without an order (commit, digest, md5), or same version from a different source or hash.
    Changed,
}

impl ChangeKind {
    /// The word used in human output and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Upgraded => "upgraded",
            ChangeKind::Downgraded => "downgraded",
            ChangeKind::Changed => "changed",
        }
    }
}

/// One changed pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// Which pin (ecosystem, image, suite, arch, python, name).
    pub key: PinKey,
    /// The pin in the old lock, if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Pin>,
    /// The pin in the new lock, if present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Pin>,
}

impl Change {
    /// `old -> new` version text for humans.
    pub fn versions(&self) -> String {
        match (&self.old, &self.new) {
            (Some(o), Some(n)) if o.version == n.version => {
                format!("{} (source or hash changed)", n.version)
            }
            (Some(o), Some(n)) => format!("{} -> {}", o.version, n.version),
            (Some(o), None) => o.version.clone(),
            (None, Some(n)) => n.version.clone(),
            (None, None) => String::new(),
        }
    }
}

/// A changed archive snapshot (`versions-mirror`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveChange {
    /// Archive name.
    pub name: String,
    /// In the old lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<Archive>,
    /// In the new lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Archive>,
}

/// All differences from an old lock to a new one, sorted by pin key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockDiff {
    /// Pin changes; indices into this list are what [`LockDiff::apply`] takes.
    pub changes: Vec<Change>,
    /// Archive snapshot changes.
    pub archives: Vec<ArchiveChange>,
}

fn same_source(a: &Pin, b: &Pin) -> bool {
    // The same .deb read from two snapshots has two URLs but one hash: one file.
    if matches!(a.ecosystem, Ecosystem::Deb | Ecosystem::DebSrc)
        && a.sha256.is_some()
        && a.sha256 == b.sha256
    {
        return true;
    }
    a.url == b.url && a.sha256 == b.sha256 && a.md5 == b.md5 && a.declared_url == b.declared_url
}

/// Every difference from `old` to `new`.
pub fn diff(old: &Lock, new: &Lock) -> LockDiff {
    let a: BTreeMap<PinKey, &Pin> = old.pins.iter().map(|p| (p.key(), p)).collect();
    let b: BTreeMap<PinKey, &Pin> = new.pins.iter().map(|p| (p.key(), p)).collect();
    let mut changes = Vec::new();
    for (key, o) in &a {
        match b.get(key) {
            None => changes.push(Change {
                kind: ChangeKind::Removed,
                key: key.clone(),
                old: Some((*o).clone()),
                new: None,
            }),
            Some(n) => {
                let kind = if o.version == n.version {
                    if same_source(o, n) {
                        continue;
                    }
                    ChangeKind::Changed
                } else {
                    match scheme_for(key.ecosystem).try_compare(&o.version, &n.version) {
                        Some(Ordering::Less) => ChangeKind::Upgraded,
                        Some(Ordering::Greater) => ChangeKind::Downgraded,
                        // Equal by ordering but spelled differently (`1.0` vs `1.0.0`).
                        Some(Ordering::Equal) | None => ChangeKind::Changed,
                    }
                };
                changes.push(Change {
                    kind,
                    key: key.clone(),
                    old: Some((*o).clone()),
                    new: Some((*n).clone()),
                });
            }
        }
    }
    for (key, n) in &b {
        if !a.contains_key(key) {
            changes.push(Change {
                kind: ChangeKind::Added,
                key: key.clone(),
                old: None,
                new: Some((*n).clone()),
            });
        }
    }
    pair_moved_downloads(&mut changes);
    changes.sort_by(|x, y| x.key.cmp(&y.key));
    let aa: BTreeMap<&str, &Archive> = old.archives.iter().map(|x| (x.name.as_str(), x)).collect();
    let ba: BTreeMap<&str, &Archive> = new.archives.iter().map(|x| (x.name.as_str(), x)).collect();
    let mut names: Vec<&str> = aa.keys().chain(ba.keys()).copied().collect();
    names.sort();
    names.dedup();
    let archives = names
        .into_iter()
        .filter(|n| aa.get(n) != ba.get(n))
        .map(|n| ArchiveChange {
            name: n.to_string(),
            old: aa.get(n).map(|x| (*x).clone()),
            new: ba.get(n).map(|x| (*x).clone()),
        })
        .collect();
    LockDiff { changes, archives }
}

/// A web pin is keyed by the immutable URL the build fetches; the same declared
/// URL at another commit is one download that moved, not a removal and an addition.
fn pair_moved_downloads(changes: &mut Vec<Change>) {
    let declared = |p: &Option<Pin>| {
        p.as_ref()
            .filter(|p| p.ecosystem == Ecosystem::Web)
            .and_then(|p| p.declared_url.clone().map(|d| (p.image.clone(), d)))
    };
    let mut added: BTreeMap<(Option<String>, String), usize> = BTreeMap::new();
    for (i, c) in changes.iter().enumerate() {
        if c.kind == ChangeKind::Added
            && let Some(d) = declared(&c.new)
        {
            added.insert(d, i);
        }
    }
    let mut merged = Vec::new();
    for i in 0..changes.len() {
        if changes[i].kind != ChangeKind::Removed {
            continue;
        }
        if let Some(j) = declared(&changes[i].old).and_then(|d| added.remove(&d)) {
            changes[i].kind = ChangeKind::Changed;
            changes[i].new = changes[j].new.take();
            changes[i].key = changes[j].key.clone();
            merged.push(j);
        }
    }
    merged.sort_unstable();
    for j in merged.into_iter().rev() {
        changes.remove(j);
    }
}

impl LockDiff {
    /// True when the two locks pin the same things from the same sources.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.archives.is_empty()
    }

    /// Number of changes of each kind.
    pub fn counts(&self) -> BTreeMap<ChangeKind, usize> {
        let mut m = BTreeMap::new();
        for c in &self.changes {
            *m.entry(c.kind).or_insert(0) += 1;
        }
        m
    }

    /// `good` with the changes at `indices` applied (added pins inserted, removed
    /// pins dropped, others replaced by the new pin); the header and archives
    /// stay `good`'s. Indices past the end are ignored; see [`LockDiff::try_apply`].
    pub fn apply(&self, good: &Lock, indices: &[usize]) -> Lock {
        let mut lock = good.clone();
        let mut idx: Vec<usize> = indices.to_vec();
        idx.sort_unstable();
        idx.dedup();
        for i in idx {
            let Some(c) = self.changes.get(i) else {
                continue;
            };
            // A moved download replaces a pin under another key.
            if let Some(o) = &c.old {
                let k = o.key();
                lock.pins.retain(|p| p.key() != k);
            }
            match &c.new {
                Some(p) => lock.upsert(p.clone()),
                None => lock.pins.retain(|p| p.key() != c.key),
            }
        }
        lock.trials.clear();
        lock.normalize();
        lock
    }

    /// Like [`LockDiff::apply`], but an index past the end is an error.
    pub fn try_apply(&self, good: &Lock, indices: &[usize]) -> Result<Lock, DiffError> {
        if let Some(&index) = indices.iter().find(|&&i| i >= self.changes.len()) {
            return Err(DiffError::OutOfRange {
                index,
                len: self.changes.len(),
            });
        }
        Ok(self.apply(good, indices))
    }

    /// Human report grouped by ecosystem and image, then a one-line summary.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        let mut group: Option<(Ecosystem, Option<String>)> = None;
        for (i, c) in self.changes.iter().enumerate() {
            let g = (c.key.ecosystem, c.key.image.clone());
            if group.as_ref() != Some(&g) {
                let _ = writeln!(
                    out,
                    "{} {}:",
                    c.key.ecosystem,
                    c.key.image.as_deref().unwrap_or("default")
                );
                group = Some(g);
            }
            let ctx: Vec<&str> = [&c.key.suite, &c.key.arch, &c.key.python]
                .into_iter()
                .filter_map(|o| o.as_deref())
                .collect();
            let ctx = if ctx.is_empty() {
                String::new()
            } else {
                format!(" [{}]", ctx.join(" "))
            };
            let _ = writeln!(
                out,
                "  #{i:<4} {:<10} {}{ctx} {}",
                c.kind.as_str(),
                c.key.name,
                c.versions()
            );
        }
        for a in &self.archives {
            let show = |x: &Option<Archive>| {
                x.as_ref()
                    .map(|x| x.snapshot.clone())
                    .unwrap_or_else(|| "(none)".into())
            };
            let _ = writeln!(
                out,
                "archive {}: {} -> {}",
                a.name,
                show(&a.old),
                show(&a.new)
            );
        }
        let counts = self.counts();
        let parts: Vec<String> = [
            ChangeKind::Added,
            ChangeKind::Removed,
            ChangeKind::Upgraded,
            ChangeKind::Downgraded,
            ChangeKind::Changed,
        ]
        .into_iter()
        .map(|k| format!("{} {}", counts.get(&k).copied().unwrap_or(0), k.as_str()))
        .collect();
        let _ = writeln!(
            out,
            "{} pin changes ({}), {} archive changes",
            self.changes.len(),
            parts.join(", "),
            self.archives.len()
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web(declared: &str, sha: &str, md5: &str) -> Pin {
        let url = declared.replace("/raw/dev/", &format!("/raw/{sha}/"));
        let mut p = Pin::new(Ecosystem::Web, &url, md5);
        p.url = Some(url);
        p.declared_url = Some(declared.to_string());
        p.md5 = Some(md5.to_string());
        p
    }

    #[test]
    fn a_moved_download_is_one_change_and_applies_as_a_replacement() {
        let declared = "https://github.com/o/r/raw/dev/sdk.deb";
        let mut good = Lock::new("p", &"a".repeat(40), "2022-12-06");
        good.upsert(web(declared, &"1".repeat(40), "aa"));
        good.upsert(web(
            "https://github.com/o/r/raw/dev/other.deb",
            &"1".repeat(40),
            "cc",
        ));
        let mut bad = good.clone();
        bad.pins
            .retain(|p| p.declared_url.as_deref() != Some(declared));
        bad.upsert(web(declared, &"2".repeat(40), "bb"));
        good.normalize();
        bad.normalize();
        let d = diff(&good, &bad);
        assert_eq!(d.changes.len(), 1, "{d:?}");
        assert_eq!(d.changes[0].kind, ChangeKind::Changed);
        assert_eq!(d.changes[0].versions(), "aa -> bb");
        let applied = d.apply(&good, &[0]);
        assert_eq!(applied.pins, bad.pins);
    }
}
