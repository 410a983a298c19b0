//! The search: choose one version of every needed package so that every
//! requirement, conflict and learned nogood holds, preferring the newest
//! version (or the one closest to a reference lock), and explain precisely
//! when no such choice exists.
//!
//! The universe is compiled into clauses ([`problem`]) and searched by a
//! conflict-driven engine ([`engine`]): unit propagation, clause learning,
//! non-chronological backjumping. Nogoods from trial builds are clauses like
//! any other and persist across re-solves of one [`Solver`].

pub mod aptsources;
pub mod candidate;
pub mod chain;
pub mod check;
pub mod engine;
pub mod explain;
pub mod freeze;
pub mod graph;
pub mod images;
pub mod input;
pub mod mvs;
pub mod problem;
pub mod python;
pub mod recommends;
pub mod remove;

use crate::universe::{CandidateId, PackageId, PackageKey, Requirement, Universe};
use problem::{Problem, RootSet, pos};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A learned clause: these (package, version) picks must not all hold together.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Nogood {
    /// The picks that fail together.
    pub picks: Vec<(PackageKey, String)>,
    /// Why (a failed trial build, its log line, ...).
    pub reason: String,
}

impl Nogood {
    /// A nogood over the given picks.
    pub fn new(picks: Vec<(PackageKey, String)>, reason: impl Into<String>) -> Nogood {
        Nogood {
            picks,
            reason: reason.into(),
        }
    }

    /// The candidates of the picks, or `None` when one of them is not in the
    /// universe (then the picks can never all hold and the nogood is moot).
    pub fn resolve(&self, u: &Universe) -> Option<Vec<CandidateId>> {
        self.picks
            .iter()
            .map(|(k, v)| u.lookup(k).and_then(|p| u.find_version(p, v)))
            .collect()
    }
}

/// What a previous lock pinned, for a solve that stays closest to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reference {
    /// Version per universe package: Debian, Go, git, web and docker pins.
    pub packages: BTreeMap<PackageKey, String>,
    /// Per image, the Python versions pip installed there (not those of the
    /// distributions Debian packages install, which apt decides).
    pub python: BTreeMap<String, BTreeMap<PackageKey, String>>,
}

impl Reference {
    /// A reference of package versions only.
    pub fn of_packages(packages: BTreeMap<PackageKey, String>) -> Reference {
        Reference {
            packages,
            python: BTreeMap::new(),
        }
    }

    /// The Python versions to prefer in `image`: its own pins over those of
    /// the images it is built `FROM` (`parents`), nearest first.
    pub fn python_for(
        &self,
        image: &str,
        parents: &BTreeMap<String, String>,
    ) -> Option<BTreeMap<PackageKey, String>> {
        let mut chain = vec![image];
        let mut cur = image;
        // At most one step per image: a malformed graph's circle ends too.
        for _ in 0..parents.len() {
            let Some(p) = parents.get(cur) else { break };
            chain.push(p);
            cur = p;
        }
        let mut out = BTreeMap::new();
        for i in chain.iter().rev() {
            if let Some(m) = self.python.get(*i) {
                out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// The Python versions to prefer in the package builds of `slave`: what
    /// the builds installed there (SONiC's `build-<slave>` module) over the
    /// slave's own.
    pub fn python_for_builds(
        &self,
        slave: &str,
        parents: &BTreeMap<String, String>,
    ) -> Option<BTreeMap<PackageKey, String>> {
        let mut out = self.python_for(slave, parents).unwrap_or_default();
        if let Some(m) = self.python.get(&candidate::build_module(slave)) {
            out.extend(m.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        (!out.is_empty()).then_some(out)
    }
}

/// Which version to prefer among those allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Preference {
    /// The newest version (the universe holds only versions that existed at the cutoff).
    #[default]
    Newest,
    /// The version of a reference lock when allowed, else the smallest upgrade, else the newest downgrade.
    Closest(BTreeMap<PackageKey, String>),
}

/// A successful assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solution {
    /// Chosen version per package.
    pub picks: BTreeMap<PackageKey, String>,
    /// The chosen candidates, sorted.
    pub candidates: Vec<CandidateId>,
    /// Search statistics: decisions, conflicts, backjumps.
    pub stats: Stats,
}

/// Counters from one search.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Decisions taken.
    pub decisions: u64,
    /// Conflicts analysed (one learned clause each).
    pub conflicts: u64,
    /// Backjumps over more than one level.
    pub backjumps: u64,
}

/// Why no assignment exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsat {
    text: String,
    dot: String,
    /// Search statistics.
    pub stats: Stats,
}

impl Unsat {
    /// The derivation in prose, naming the origins (file:line) of the constraints involved.
    pub fn explain(&self) -> String {
        self.text.clone()
    }

    /// The derivation as a DOT graph.
    pub fn to_dot(&self) -> String {
        self.dot.clone()
    }
}

impl std::fmt::Display for Unsat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A search for one set of root requirements over a universe; nogoods added
/// to it persist across calls to [`Solver::solve`].
pub struct Solver<'u> {
    u: &'u Universe,
    roots: Vec<Requirement>,
    base: Vec<Requirement>,
    nogoods: Vec<Nogood>,
    preference: Preference,
    keep: Vec<CandidateId>,
}

impl<'u> Solver<'u> {
    /// The universe this solver chooses from.
    pub fn universe(&self) -> &'u Universe {
        self.u
    }

    /// A solver for `roots` (each carries its origin `file:line` for explanations).
    pub fn new(u: &'u Universe, roots: Vec<Requirement>) -> Solver<'u> {
        Solver {
            u,
            roots,
            base: Vec::new(),
            nogoods: Vec::new(),
            preference: Preference::Newest,
            keep: Vec::new(),
        }
    }

    /// Requirements of the base image (e.g. Essential and `Priority: required` packages) that hold as well.
    pub fn set_base(&mut self, base: Vec<Requirement>) {
        self.base = base;
    }

    /// Adds a learned clause; it holds for every later solve.
    pub fn add_nogood(&mut self, n: Nogood) {
        if !self.nogoods.contains(&n) {
            self.nogoods.push(n);
        }
    }

    /// The nogoods added so far.
    pub fn nogoods(&self) -> &[Nogood] {
        &self.nogoods
    }

    /// Sets the version preference.
    pub fn set_preference(&mut self, p: Preference) {
        self.preference = p;
    }

    /// Candidates already installed (an earlier apt transaction): kept unless a requirement forces them out.
    pub fn set_keep(&mut self, keep: Vec<CandidateId>) {
        self.keep = keep;
    }

    fn compile(&self, extra: &[CandidateId]) -> Problem {
        let mut extra_all = self.keep.clone();
        extra_all.extend_from_slice(extra);
        let mut sets = vec![RootSet {
            label: "the request".into(),
            requirements: self.roots.clone(),
        }];
        if !self.base.is_empty() {
            sets.push(RootSet {
                label: "the base image".into(),
                requirements: self.base.clone(),
            });
        }
        let nogoods: Vec<(Vec<CandidateId>, String)> = self
            .nogoods
            .iter()
            .filter_map(|n| n.resolve(self.u).map(|c| (c, n.reason.clone())))
            .collect();
        let u = self.u;
        let refs: std::collections::HashMap<PackageId, &str> = match &self.preference {
            Preference::Newest => Default::default(),
            Preference::Closest(reference) => reference
                .iter()
                .filter_map(|(k, v)| u.lookup(k).map(|p| (p, v.as_str())))
                .collect(),
        };
        let order = |pid: PackageId, cands: &mut Vec<CandidateId>| {
            // pip takes a pre-release only when no final release will do.
            let py = u.key(pid).ecosystem == crate::manifest::Ecosystem::Py;
            let pre = |c: CandidateId| py && is_prerelease(&u.candidate(c).version);
            let Some(want) = refs.get(&pid) else {
                if py {
                    cands.sort_by_key(|&c| pre(c));
                }
                return;
            };
            let s = u.scheme(pid);
            // Reference first, then upgrades ascending, then downgrades
            // descending; for pip a pre-release only after every final one.
            cands.sort_by(|&a, &b| {
                let rank = |c: CandidateId| {
                    let cand = u.candidate(c);
                    if cand.package != pid {
                        return 3;
                    }
                    match s.compare(&cand.version, want) {
                        std::cmp::Ordering::Equal => 0,
                        std::cmp::Ordering::Greater => 1,
                        std::cmp::Ordering::Less => 2,
                    }
                };
                let (ra, rb) = (rank(a), rank(b));
                (pre(a), ra).cmp(&(pre(b), rb)).then_with(|| {
                    let (va, vb) = (&u.candidate(a).version, &u.candidate(b).version);
                    match ra {
                        1 => s.compare(va, vb),
                        _ => s.compare(vb, va),
                    }
                })
            });
        };
        Problem::compile_reachable(u, sets, nogoods, Some(&order), &extra_all)
    }

    /// Searches for an assignment.
    pub fn solve(&self) -> Result<Solution, Unsat> {
        self.solve_assuming(&[])
    }

    /// Searches for an assignment that also includes `extra` (used by `why-not`).
    pub fn solve_assuming(&self, extra: &[CandidateId]) -> Result<Solution, Unsat> {
        if let Some(bad) = extra
            .iter()
            .chain(&self.keep)
            .find(|c| c.0 as usize >= self.u.candidate_count())
        {
            return Err(Unsat {
                text: format!("candidate id {} is not part of this universe", bad.0),
                dot: String::new(),
                stats: Stats::default(),
            });
        }
        let p = self.compile(extra);
        let mut e = engine::Engine::new(&p, false);
        e.set_soft(self.keep.iter().map(|c| c.0).collect());
        let mut assumptions: Vec<u32> = (0..p.root_sets.len() as u32)
            .map(|i| pos(p.ncand + i))
            .collect();
        assumptions.extend(extra.iter().map(|c| pos(c.0)));
        if e.solve(&assumptions) {
            let mut candidates: Vec<CandidateId> = e
                .true_vars()
                .filter(|&v| v < p.ncand)
                .map(CandidateId)
                .collect();
            candidates.sort_unstable();
            let picks = candidates
                .iter()
                .map(|&c| {
                    (
                        self.u.key(self.u.candidate(c).package).clone(),
                        self.u.candidate(c).version.clone(),
                    )
                })
                .collect();
            let stats = Stats {
                decisions: e.decisions,
                conflicts: e.conflicts,
                backjumps: e.backjumps,
            };
            return Ok(Solution {
                picks,
                candidates,
                stats,
            });
        }
        // Re-run with proof tracking so that the explanation covers learned clauses.
        let mut e2 = engine::Engine::new(&p, true);
        e2.set_soft(self.keep.iter().map(|c| c.0).collect());
        let sat = e2.solve(&assumptions);
        let stats = Stats {
            decisions: e.decisions,
            conflicts: e.conflicts,
            backjumps: e.backjumps,
        };
        if sat {
            // Cannot happen (the search is deterministic); report it rather than panic.
            return Err(Unsat {
                text: "internal error: search results differ".into(),
                dot: String::new(),
                stats,
            });
        }
        let goal = if extra.is_empty() {
            "the request cannot be satisfied".to_string()
        } else {
            let names: Vec<String> = extra.iter().map(|c| self.u.display_candidate(*c)).collect();
            format!("{} cannot be part of a solution", names.join(", "))
        };
        Err(Unsat {
            text: explain::explain(self.u, &p, &e2, &goal),
            dot: explain::explain_dot(self.u, &p, &e2),
            stats,
        })
    }
}

/// A PEP 440 pre-release (or development release); unparsable versions are not.
pub(crate) fn is_prerelease(v: &str) -> bool {
    v.parse::<pep440_rs::Version>()
        .is_ok_and(|v| v.any_prerelease())
}

/// Result of a sequence of apt transactions (one per `RUN apt-get install`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionState {
    /// What is installed after the transaction.
    pub installed: Solution,
    /// Packages an earlier transaction installed that this one removed or replaced (`name=version`).
    pub removed: Vec<String>,
}

/// Solves a sequence of apt transactions: each one must hold on its own, and
/// what earlier ones installed stays installed unless the new one forces it
/// out (a conflict or an exact pin of another version), as apt does.
pub fn solve_transactions(
    u: &Universe,
    base: Vec<Requirement>,
    transactions: Vec<Vec<Requirement>>,
    nogoods: &[Nogood],
) -> Result<Vec<TransactionState>, (usize, Unsat)> {
    solve_transactions_from(u, &base, Vec::new(), transactions, nogoods, None)
}

/// As [`solve_transactions`], on top of what is `installed` already (a parent
/// image's state: kept unless a requirement forces it out), closest to
/// `reference` when given.
pub fn solve_transactions_from(
    u: &Universe,
    base: &[Requirement],
    installed: Vec<CandidateId>,
    transactions: Vec<Vec<Requirement>>,
    nogoods: &[Nogood],
    reference: Option<&BTreeMap<PackageKey, String>>,
) -> Result<Vec<TransactionState>, (usize, Unsat)> {
    let txs = transactions.into_iter().map(|t| (t, false)).collect();
    solve_transactions_recommending(u, base, installed, txs, nogoods, reference)
}

/// [`solve_transactions_from`] where each transaction says whether apt
/// installs the Recommends of what it newly installs (see [`recommends`]).
pub fn solve_transactions_recommending(
    u: &Universe,
    base: &[Requirement],
    mut installed: Vec<CandidateId>,
    transactions: Vec<(Vec<Requirement>, bool)>,
    nogoods: &[Nogood],
    reference: Option<&BTreeMap<PackageKey, String>>,
) -> Result<Vec<TransactionState>, (usize, Unsat)> {
    let tx = recommends::TxSolve {
        u,
        base,
        nogoods,
        reference,
    };
    let mut out: Vec<TransactionState> = Vec::new();
    for (i, (reqs, recommends)) in transactions.into_iter().enumerate() {
        let mut sol = tx.solve(reqs.clone(), &installed).map_err(|e| (i, e))?;
        if recommends {
            sol = tx.with_recommends(&reqs, &installed, sol);
        }
        let removed: Vec<String> = installed
            .iter()
            .filter(|c| sol.candidates.binary_search(c).is_err())
            .map(|&c| u.display_candidate(c))
            .collect();
        installed = sol.candidates.clone();
        out.push(TransactionState {
            installed: sol,
            removed,
        });
    }
    Ok(out)
}

/// Requirements for the packages every Debian installation has: `Essential: yes`
/// and (optionally) `Priority: required`, as found in the universe's domain.
pub fn debian_base(u: &Universe, domain: &str, with_required: bool) -> Vec<Requirement> {
    let mut out = Vec::new();
    for pid in u.package_ids() {
        let info = u.package(pid);
        if info.key.domain != domain || info.key.ecosystem != crate::manifest::Ecosystem::Deb {
            continue;
        }
        let is_base = info.candidates.iter().any(|&c| {
            let m = &u.candidate(c).meta;
            m.essential || (with_required && m.priority.as_deref() == Some("required"))
        });
        if is_base {
            let origin = info
                .candidates
                .first()
                .and_then(|&c| u.candidate(c).meta.provenance.clone())
                .unwrap_or_else(|| domain.to_string());
            out.push(
                Requirement::single(pid, crate::universe::VersionConstraint::Any)
                    .with_kind(crate::universe::RelationKind::Root)
                    .with_origin(origin),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Ecosystem;

    #[test]
    fn an_images_python_reference_takes_its_own_pins_over_its_parents() {
        let key = |n: &str| PackageKey::new(Ecosystem::Py, "py3", n);
        let pins = |v: &[(&str, &str)]| -> BTreeMap<PackageKey, String> {
            v.iter().map(|(n, v)| (key(n), v.to_string())).collect()
        };
        let r = Reference {
            packages: BTreeMap::new(),
            python: [
                (
                    "docker-base-bullseye".to_string(),
                    pins(&[("pip", "23.1.2"), ("six", "1.15.0")]),
                ),
                (
                    "docker-config-engine-bullseye".to_string(),
                    pins(&[("six", "1.16.0")]),
                ),
                (
                    "sonic-slave-bullseye".to_string(),
                    pins(&[("mock", "5.0.2")]),
                ),
                (
                    "build-sonic-slave-bullseye".to_string(),
                    pins(&[("mock", "5.0.1"), ("docker", "6.1.3")]),
                ),
            ]
            .into(),
        };
        let parents: BTreeMap<String, String> = [
            ("docker-config-engine-bullseye", "docker-base-bullseye"),
            ("docker-database", "docker-config-engine-bullseye"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(
            r.python_for("docker-database", &parents),
            Some(pins(&[("pip", "23.1.2"), ("six", "1.16.0")]))
        );
        assert_eq!(r.python_for("docker-lldp", &parents), None);
        assert_eq!(
            r.python_for_builds("sonic-slave-bullseye", &parents),
            Some(pins(&[("mock", "5.0.1"), ("docker", "6.1.3")]))
        );
    }
}
