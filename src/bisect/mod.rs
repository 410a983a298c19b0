//! Culprit finding: which of the changes between a good and a bad lock break the build.
//!
//! The difference between the good candidate G and the bad candidate B is a list
//! of changes (a pin added, removed, upgraded or downgraded). A test applies a
//! subset of them to G and asks a builder to judge the result. Subsets are always
//! closed under the static requirement relation first ([`Requirements`]), so a
//! candidate known to be inconsistent is never built.
//!
//! - [`engine`]: the search (binary / k-ary prefix search, ddmin minimisation,
//!   flake confirmation, skips), generic over an [`engine::Oracle`].
//! - [`locks`]: the change set between two locks (or versions trees), its
//!   requirement relation, and "G + subset" written as lockfile + versions tree.
//! - [`runner`]: the oracle that materialises a subset on disk and runs a
//!   [`crate::trial::builder::Builder`], replaying earlier verdicts from a journal.
//! - [`asof`]: the lock as of a timestamp (the lock pipeline in-process, or a
//!   command), stored per timestamp, and the time axis judged by a builder.
//! - [`timeaxis`]: bisecting snapshot timestamps first, then the changes between
//!   the two nearest snapshots.
//! - [`report`]: Markdown, self-contained HTML with an SVG timeline, and JSON.

pub mod asof;
pub mod engine;
pub mod locks;
pub mod report;
pub mod runner;
pub mod timeaxis;

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One change between the good and the bad candidate, as shown to people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeInfo {
    /// Stable identifier (ecosystem, name and build context), unique within one bisection.
    pub id: String,
    /// What changed, in words: `libc6 2.31-13 -> 2.31-14 (docker-orchagent)`.
    pub summary: String,
    /// `added`, `removed`, `upgraded`, `downgraded` or `changed`.
    pub kind: String,
    /// Where the dependency is declared (`file:line`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Where the new version comes from (URL, snapshot, index), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Where the old version came from, when known (absent for an added pin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_source: Option<String>,
}

/// Errors of the bisection itself (a failed build is a verdict, not an error).
#[derive(Debug, thiserror::Error)]
pub enum BisectError {
    /// A requirement names a change that does not exist.
    #[error("requirement {from} -> {to} names a change outside 0..{len}")]
    BadRequirement {
        /// The requiring change.
        from: usize,
        /// The required change.
        to: usize,
        /// Number of changes.
        len: usize,
    },
    /// The builder asked to stop everything (exit code 128 or above).
    #[error("builder aborted the bisection (exit code {code:?}) while judging {subset}")]
    Aborted {
        /// Exit code, if the process exited normally.
        code: Option<i32>,
        /// The subset being judged, as change indices.
        subset: String,
    },
    /// The run was interrupted; completed trials are in the journal and the next run continues.
    #[error("interrupted; completed trials are kept and the next run continues from them")]
    Interrupted,
    /// The builder could not judge at all.
    #[error("trial failed to run: {0}")]
    Trial(#[from] crate::trial::builder::TrialError),
    /// Preparing a candidate on disk failed.
    #[error("{path}: {message}")]
    Prepare {
        /// File or directory concerned.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// The time axis could not be bisected.
    #[error("time axis: {0}")]
    TimeAxis(String),
    /// The sources had no consistent candidate as of a timestamp (it is skipped).
    #[error("no candidate as of {timestamp}: {message}")]
    NoCandidate {
        /// The snapshot timestamp.
        timestamp: String,
        /// Why (the solver's explanation).
        message: String,
    },
}

/// The static "change i must be applied with change j" relation, with closures and an order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirements {
    requires: Vec<Vec<usize>>,
    required_by: Vec<Vec<usize>>,
}

impl Requirements {
    /// A relation over `len` changes from `(from, to)` pairs meaning "from requires to".
    pub fn new(len: usize, pairs: &[(usize, usize)]) -> Result<Requirements, BisectError> {
        let mut requires = vec![Vec::new(); len];
        let mut required_by = vec![Vec::new(); len];
        for &(from, to) in pairs {
            if from >= len || to >= len {
                return Err(BisectError::BadRequirement { from, to, len });
            }
            if from != to {
                requires[from].push(to);
                required_by[to].push(from);
            }
        }
        for v in requires.iter_mut().chain(required_by.iter_mut()) {
            v.sort_unstable();
            v.dedup();
        }
        Ok(Requirements {
            requires,
            required_by,
        })
    }

    /// A relation with no requirements at all.
    pub fn none(len: usize) -> Requirements {
        Requirements {
            requires: vec![Vec::new(); len],
            required_by: vec![Vec::new(); len],
        }
    }

    /// Number of changes the relation is over.
    pub fn len(&self) -> usize {
        self.requires.len()
    }

    /// True when the relation is over no changes.
    pub fn is_empty(&self) -> bool {
        self.requires.is_empty()
    }

    /// The changes that `change` directly requires.
    pub fn direct(&self, change: usize) -> &[usize] {
        self.requires.get(change).map(Vec::as_slice).unwrap_or(&[])
    }

    /// `set` plus everything it transitively requires: what must be applied to G together.
    pub fn close(&self, set: &[usize]) -> Vec<usize> {
        Self::walk(&self.requires, set)
    }

    /// `set` plus everything that transitively requires it: what must be removed from B together.
    pub fn close_dependents(&self, set: &[usize]) -> Vec<usize> {
        Self::walk(&self.required_by, set)
    }

    fn walk(edges: &[Vec<usize>], set: &[usize]) -> Vec<usize> {
        let mut seen: BTreeSet<usize> = BTreeSet::new();
        let mut stack: Vec<usize> = set.iter().copied().filter(|&i| i < edges.len()).collect();
        while let Some(i) = stack.pop() {
            if seen.insert(i) {
                stack.extend(edges[i].iter().copied().filter(|j| !seen.contains(j)));
            }
        }
        seen.into_iter().collect()
    }

    /// An order of all changes in which every change comes after what it requires
    /// (members of a requirement cycle stay adjacent), otherwise by index.
    ///
    /// Every prefix of this order is closed, which is what lets the prefix search
    /// build only consistent candidates without paying for closures.
    pub fn order(&self) -> Vec<usize> {
        use petgraph::graph::DiGraph;
        let n = self.len();
        let mut g: DiGraph<usize, ()> = DiGraph::with_capacity(n, 0);
        let nodes: Vec<_> = (0..n).map(|i| g.add_node(i)).collect();
        for (from, tos) in self.requires.iter().enumerate() {
            for &to in tos {
                g.add_edge(nodes[from], nodes[to], ());
            }
        }
        // Components of mutually requiring changes, each sorted; then Kahn's
        // algorithm on the condensation, always taking the lowest-index ready one.
        let sccs = petgraph::algo::tarjan_scc(&g);
        let mut comp_of = vec![0usize; n];
        let mut comps: Vec<Vec<usize>> = sccs
            .into_iter()
            .map(|c| {
                let mut v: Vec<usize> = c.into_iter().map(|ix| g[ix]).collect();
                v.sort_unstable();
                v
            })
            .collect();
        comps.sort_by_key(|c| c[0]);
        for (ci, c) in comps.iter().enumerate() {
            for &i in c {
                comp_of[i] = ci;
            }
        }
        let mut pending = vec![0usize; comps.len()];
        let mut dependents: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); comps.len()];
        for (from, tos) in self.requires.iter().enumerate() {
            for &to in tos {
                let (cf, ct) = (comp_of[from], comp_of[to]);
                if cf != ct && dependents[ct].insert(cf) {
                    pending[cf] += 1;
                }
            }
        }
        let mut ready: BTreeSet<usize> = (0..comps.len()).filter(|&c| pending[c] == 0).collect();
        let mut out = Vec::with_capacity(n);
        while let Some(c) = ready.pop_first() {
            out.extend_from_slice(&comps[c]);
            for &d in &dependents[c] {
                pending[d] -= 1;
                if pending[d] == 0 {
                    ready.insert(d);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closures_follow_requirements_both_ways() {
        let r = Requirements::new(5, &[(0, 1), (1, 2), (4, 3)]).unwrap();
        assert_eq!(r.close(&[0]), vec![0, 1, 2]);
        assert_eq!(r.close(&[3]), vec![3]);
        assert_eq!(r.close_dependents(&[2]), vec![0, 1, 2]);
        assert_eq!(r.close_dependents(&[3]), vec![3, 4]);
    }

    #[test]
    fn order_puts_requirements_first_and_every_prefix_is_closed() {
        let r = Requirements::new(6, &[(0, 5), (5, 3), (2, 4), (4, 2)]).unwrap();
        let o = r.order();
        assert_eq!(o.len(), 6);
        for m in 0..=o.len() {
            let mut p = o[..m].to_vec();
            p.sort_unstable();
            let closed = r.close(&p);
            // A prefix may end inside a cycle; otherwise it is closed.
            if !(m > 0 && (o[m - 1] == 2 || o[m - 1] == 4) && closed.len() != p.len()) {
                assert_eq!(closed, p, "prefix {m} of {o:?}");
            }
        }
        let pos = |x| o.iter().position(|&y| y == x).unwrap();
        assert!(pos(3) < pos(5) && pos(5) < pos(0));
        assert_eq!(pos(2).abs_diff(pos(4)), 1);
    }

    #[test]
    fn out_of_range_requirement_is_an_error() {
        assert!(matches!(
            Requirements::new(2, &[(0, 2)]),
            Err(BisectError::BadRequirement { .. })
        ));
    }
}
