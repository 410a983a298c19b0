//! The change set between two locks: changes with their origins and sources,
//! requirements derived from the pins' dependency links, and materialisation
//! of "G + subset" as a lockfile plus a SONiC versions tree.

use super::runner::{Materialize, Prepared};
use super::{BisectError, ChangeInfo, Requirements};
use crate::lock::sonic_versions;
use crate::lock::{Lock, LockDiff, Pin, PinKey};
use std::collections::HashMap;
use std::path::Path;

/// File name of the candidate lockfile inside a trial directory.
pub const CANDIDATE_LOCK: &str = "candidate.lock";
/// Directory name of the candidate versions tree inside a trial directory.
pub const CANDIDATE_VERSIONS: &str = "versions";

/// Reads a lockfile, a `files/build/versions/` tree, or a sonic-buildimage
/// checkout (its `files/build/versions/`).
pub fn read_candidate(path: &Path) -> Result<Lock, BisectError> {
    let err = |message: String| BisectError::Prepare {
        path: path.display().to_string(),
        message,
    };
    if path.is_dir() {
        let nested = path.join("files/build/versions");
        let dir = if nested.is_dir() {
            nested
        } else {
            path.to_path_buf()
        };
        sonic_versions::import(&dir).map_err(|e| err(e.to_string()))
    } else if path.exists() {
        Lock::read(path).map_err(|e| err(e.to_string()))
    } else {
        Err(err("no such file or directory".into()))
    }
}

/// G, the diff from G to B, and what the report needs to know about each change.
///
/// Change indices `0..diff.changes.len()` are pin changes; the archive snapshot
/// changes (`versions-mirror`) follow them, so a moved mirror timestamp can be
/// a culprit like any pin.
#[derive(Debug, Clone)]
pub struct LockChanges {
    /// The good lock.
    pub good: Lock,
    /// Changes from good to bad.
    pub diff: LockDiff,
}

/// The bare package name of a `dependents` entry (`lxml (>= 4.6)`, `libc6:amd64=2.31` -> `lxml`, `libc6`).
fn bare_name(s: &str) -> &str {
    let end = s
        .find([' ', '=', '(', ':', '<', '>', '[', ';', '~', '!'])
        .unwrap_or(s.len());
    &s[..end]
}

/// Same version and the same content hash (sha256, else md5) on both sides.
fn same_file(old: Option<&Pin>, new: Option<&Pin>) -> bool {
    let (Some(a), Some(b)) = (old, new) else {
        return false;
    };
    let hash = |p: &Pin| p.sha256.clone().or_else(|| p.md5.clone());
    a.version == b.version && hash(a).is_some() && hash(a) == hash(b)
}

/// Where a pin's file comes from: its URL, else the URL the scripts declare,
/// else when it was first seen.
fn pin_source(p: &Pin) -> Option<String> {
    p.url
        .clone()
        .or_else(|| p.declared_url.clone())
        .or_else(|| p.first_seen.as_ref().map(|d| format!("first seen {d}")))
}

fn same_scope(a: &PinKey, b: &PinKey) -> bool {
    // A pin in `default` (no image) is visible in every image.
    a.ecosystem == b.ecosystem && (a.image == b.image || a.image.is_none() || b.image.is_none())
}

impl LockChanges {
    /// The changes from `good` to `bad`. A pin whose version and file hash are
    /// the same on both sides and only the URL moved (every Debian pin of two
    /// snapshots does: the URL names the snapshot) is the same file, builds the
    /// same candidate, and is not a change to bisect.
    pub fn new(good: Lock, bad: &Lock) -> LockChanges {
        let mut diff = crate::lock::diff(&good, bad);
        diff.changes
            .retain(|c| !same_file(c.old.as_ref(), c.new.as_ref()));
        LockChanges { good, diff }
    }

    /// Number of changes (pins, then archives).
    pub fn len(&self) -> usize {
        self.diff.changes.len() + self.diff.archives.len()
    }

    /// True when good and bad pin the same versions and snapshots.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes as shown in reports: summary, kind, origins (`file:line`) and source URL.
    pub fn infos(&self) -> Vec<ChangeInfo> {
        self.diff
            .changes
            .iter()
            .map(|c| {
                // Origins of both sides: a change can move where a pin is declared.
                let origins: std::collections::BTreeSet<&str> = c
                    .old
                    .iter()
                    .chain(c.new.iter())
                    .flat_map(|p| p.why.iter().map(String::as_str))
                    .collect();
                let origin = (!origins.is_empty())
                    .then(|| origins.into_iter().collect::<Vec<_>>().join(", "));
                ChangeInfo {
                    id: c.key.to_string(),
                    summary: format!("{} {}", c.key, c.versions()),
                    kind: c.kind.as_str().to_string(),
                    origin,
                    source: c.new.as_ref().and_then(pin_source),
                    old_source: c.old.as_ref().and_then(pin_source),
                }
            })
            .chain(self.diff.archives.iter().map(|a| {
                let (kind, versions) = match (&a.old, &a.new) {
                    (Some(o), Some(n)) => ("changed", format!("{} -> {}", o.snapshot, n.snapshot)),
                    (None, Some(n)) => ("added", n.snapshot.clone()),
                    (Some(o), None) => ("removed", o.snapshot.clone()),
                    (None, None) => ("changed", String::new()),
                };
                ChangeInfo {
                    id: format!("archive {}", a.name),
                    summary: format!("archive {} {versions}", a.name),
                    kind: kind.to_string(),
                    origin: None,
                    source: a.new.as_ref().and_then(|n| n.url.clone()),
                    old_source: a.old.as_ref().and_then(|o| o.url.clone()),
                }
            }))
            .collect()
    }

    /// Change i requires change j when j's new pin was pulled in by i's package
    /// (j lists i among its dependents) in the same ecosystem and image scope:
    /// applying i without j would build a candidate the lock itself says is inconsistent.
    pub fn requirement_pairs(&self) -> Vec<(usize, usize)> {
        let mut by_name: HashMap<(crate::manifest::Ecosystem, &str), Vec<usize>> = HashMap::new();
        for (i, c) in self.diff.changes.iter().enumerate() {
            if c.new.is_some() {
                by_name
                    .entry((c.key.ecosystem, c.key.name.as_str()))
                    .or_default()
                    .push(i);
            }
        }
        let mut pairs = Vec::new();
        for (j, c) in self.diff.changes.iter().enumerate() {
            let Some(new) = &c.new else { continue };
            for d in &new.dependents {
                if let Some(is) = by_name.get(&(c.key.ecosystem, bare_name(d))) {
                    for &i in is {
                        if i != j && same_scope(&self.diff.changes[i].key, &c.key) {
                            pairs.push((i, j));
                        }
                    }
                }
            }
        }
        // A pin fetched from the new snapshot of an archive needs that snapshot:
        // a suite's index at the old `versions-mirror` timestamp need not list the
        // new version (Debian keeps one version per suite), so apt would not find it.
        let pins = self.diff.changes.len();
        for (k, a) in self.diff.archives.iter().enumerate() {
            let Some(root) = a.new.as_ref().and_then(|n| n.url.as_deref()) else {
                continue;
            };
            let prefix = format!("{}/", root.trim_end_matches('/'));
            for (i, c) in self.diff.changes.iter().enumerate() {
                if c.new
                    .as_ref()
                    .and_then(|p| p.url.as_deref())
                    .is_some_and(|u| u.starts_with(&prefix))
                {
                    pairs.push((i, pins + k));
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }

    /// The requirement relation over the changes.
    pub fn requirements(&self) -> Result<Requirements, BisectError> {
        Requirements::new(self.len(), &self.requirement_pairs())
    }

    /// G with the changes at `subset` applied.
    pub fn candidate(&self, subset: &[usize]) -> Lock {
        let pins = self.diff.changes.len();
        let mut lock = self.diff.apply(&self.good, subset);
        for &i in subset {
            let Some(a) = i.checked_sub(pins).and_then(|k| self.diff.archives.get(k)) else {
                continue;
            };
            lock.archives.retain(|x| x.name != a.name);
            if let Some(n) = &a.new {
                lock.archives.push(n.clone());
            }
        }
        lock.normalize();
        lock
    }
}

impl Materialize for LockChanges {
    fn candidate_hash(&self, subset: &[usize]) -> Result<String, BisectError> {
        Ok(self.candidate(subset).candidate_hash())
    }

    fn materialize(&self, subset: &[usize], dir: &Path) -> Result<Prepared, BisectError> {
        let lock = self.candidate(subset);
        let lockfile = dir.join(CANDIDATE_LOCK);
        let versions_dir = dir.join(CANDIDATE_VERSIONS);
        lock.write(&lockfile).map_err(|e| BisectError::Prepare {
            path: lockfile.display().to_string(),
            message: e.to_string(),
        })?;
        crate::lock::split::export(&lock, &Default::default(), &versions_dir).map_err(|e| {
            BisectError::Prepare {
                path: versions_dir.display().to_string(),
                message: e.to_string(),
            }
        })?;
        Ok(Prepared {
            lockfile,
            versions_dir,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::lockfile::Archive;
    use crate::manifest::Ecosystem;

    fn lock(snapshot: &str, libc: &str) -> Lock {
        let root = format!("http://snap/archive/debian/{snapshot}");
        let mut l = Lock::new("p", &"a".repeat(40), "2022-12-06");
        l.archives.push(Archive {
            name: "debian".into(),
            snapshot: snapshot.into(),
            url: Some(root.clone()),
        });
        let mut p = Pin::new(Ecosystem::Deb, "libc6", libc);
        p.url = Some(format!("{root}/pool/main/g/glibc/libc6_{libc}_amd64.deb"));
        p.sha256 = Some(libc.repeat(4));
        l.upsert(p);
        let mut git = Pin::new(Ecosystem::Git, "https://x/y.git", &"1".repeat(40));
        git.url = None;
        l.upsert(git);
        l.normalize();
        l
    }

    #[test]
    fn a_version_from_the_new_snapshot_requires_the_snapshot_change() {
        let good = lock("20221205T000000Z", "u5");
        let mut bad = lock("20230315T000000Z", "u6");
        bad.pins[1].version = "2".repeat(40);
        let c = LockChanges::new(good, &bad);
        // libc6 and the git pin change, then the archive.
        assert_eq!(c.len(), 3);
        let libc = c
            .diff
            .changes
            .iter()
            .position(|x| x.key.name == "libc6")
            .unwrap();
        assert_eq!(c.requirement_pairs(), vec![(libc, 2)]);
    }
}
