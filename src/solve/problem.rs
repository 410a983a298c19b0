//! The universe compiled into clauses over boolean variables, one per
//! candidate ("this version is chosen") plus a few auxiliary root variables.
//!
//! Three kinds of constraints, each remembered with its origin so that an
//! explanation can name the relation and the file:line it came from:
//! - dependency clauses `¬c ∨ d1 ∨ … ∨ dn` (a requirement of `c` and the candidates satisfying it),
//! - exclusions `¬a ∨ ¬b` (two versions of one package, or a Conflicts/Breaks),
//!   kept as adjacency lists rather than clauses since there are many,
//! - nogoods `¬a ∨ ¬b ∨ …` learned from trial builds.

use crate::universe::{CandidateId, PackageId, PackageIndex, RelationKind, Requirement, Universe};
use std::sync::Arc;

/// A hook that reorders the candidates satisfying an alternative of a package, most preferred first.
pub type Reorder<'a> = &'a dyn Fn(PackageId, &mut Vec<CandidateId>);

/// A literal: variable * 2, plus 1 when negated.
pub type Lit = u32;

/// The positive literal of a variable.
#[inline]
pub fn pos(v: u32) -> Lit {
    v << 1
}
/// The negative literal of a variable.
#[inline]
pub fn neg(v: u32) -> Lit {
    (v << 1) | 1
}
/// The variable of a literal.
#[inline]
pub fn var(l: Lit) -> u32 {
    l >> 1
}
/// True for a negative literal.
#[inline]
pub fn is_neg(l: Lit) -> bool {
    l & 1 == 1
}

/// Where a clause came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClauseOrigin {
    /// Requirement `req` (index into the candidate's `depends`) of candidate `cand`.
    Depends {
        /// The depending candidate.
        cand: CandidateId,
        /// Index into its `depends`.
        req: usize,
    },
    /// A root requirement (index into the problem's roots) attached to root variable `root`.
    Root {
        /// Index into [`Problem::roots`].
        index: usize,
    },
    /// A nogood (index into the problem's nogoods).
    Nogood {
        /// Index into [`Problem::nogoods`].
        index: usize,
    },
}

/// Why two variables exclude each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExclOrigin {
    /// Two versions of one package.
    SamePackage,
    /// `cand`'s conflict relation `req` (index into its `conflicts`) matches the other one.
    Conflict {
        /// The candidate declaring the conflict.
        cand: CandidateId,
        /// Index into its `conflicts`.
        req: usize,
    },
}

/// A root variable: true means "these requirements are asked for".
#[derive(Debug, Clone)]
pub struct RootSet {
    /// Label for explanations (`the request`, `essential packages`).
    pub label: String,
    /// The requirements.
    pub requirements: Vec<Requirement>,
}

/// A compiled problem, shared read-only by search engines.
#[derive(Debug)]
pub struct Problem {
    /// Number of candidate variables (== the universe's candidate count).
    pub ncand: u32,
    /// Total number of variables (candidates, then one per root set).
    pub nvars: u32,
    /// Clause literal storage, in preference order within each clause.
    pub lits: Vec<Lit>,
    /// Clause spans into `lits`, and their origin.
    pub clauses: Vec<(u32, u32, ClauseOrigin)>,
    /// Per variable: the dependency clauses it heads (clauses containing `¬v` as head).
    pub deps_of: Vec<(u32, u32)>,
    /// Per variable: conflicting variables with the reason (not including same-package siblings).
    pub excl: Csr<(u32, ExclOrigin)>,
    /// Per candidate variable its package, per package its candidate
    /// variables: the universe's, shared by every problem compiled from it.
    pub packages: Arc<PackageIndex>,
    /// Clauses of length 1 after compilation (`¬c` where a requirement of `c` has no candidate).
    pub units: Vec<u32>,
    /// The root sets, variable `ncand + i` for set `i`.
    pub root_sets: Vec<RootSet>,
    /// Flattened root requirements, indexed by `ClauseOrigin::Root`.
    pub roots: Vec<(usize, Requirement)>,
    /// Nogoods: candidate sets with a reason.
    pub nogoods: Vec<(Vec<CandidateId>, String)>,
}

impl Problem {
    /// Compiles the whole universe (every candidate) with the given root sets and nogoods.
    /// `preferred` reorders the candidates of each alternative (e.g. closest to a reference lock).
    pub fn compile(
        u: &Universe,
        root_sets: Vec<RootSet>,
        nogoods: Vec<(Vec<CandidateId>, String)>,
        preferred: Option<Reorder<'_>>,
    ) -> Problem {
        Problem::compile_filtered(u, root_sets, nogoods, preferred, None)
    }

    /// Compiles only the candidates reachable from the root sets and `extra`
    /// through dependencies: the others can never be chosen, so their
    /// clauses are not needed (an install of 140 packages touches a few
    /// thousand of the index's 58,657 candidates).
    pub fn compile_reachable(
        u: &Universe,
        root_sets: Vec<RootSet>,
        nogoods: Vec<(Vec<CandidateId>, String)>,
        preferred: Option<Reorder<'_>>,
        extra: &[CandidateId],
    ) -> Problem {
        let mut include = vec![false; u.candidate_count()];
        let mut stack: Vec<CandidateId> = Vec::new();
        let mut buf = Vec::new();
        for set in &root_sets {
            for r in &set.requirements {
                for alt in &r.alternatives {
                    buf.clear();
                    u.matching(alt, &mut buf);
                    stack.extend_from_slice(&buf);
                }
            }
        }
        stack.extend(
            extra
                .iter()
                .filter(|c| (c.0 as usize) < u.candidate_count()),
        );
        while let Some(c) = stack.pop() {
            if std::mem::replace(&mut include[c.0 as usize], true) {
                continue;
            }
            for r in &u.candidate(c).depends {
                for alt in &r.alternatives {
                    buf.clear();
                    u.matching(alt, &mut buf);
                    stack.extend(buf.iter().filter(|d| !include[d.0 as usize]));
                }
            }
        }
        Problem::compile_filtered(u, root_sets, nogoods, preferred, Some(&include))
    }

    fn compile_filtered(
        u: &Universe,
        root_sets: Vec<RootSet>,
        nogoods: Vec<(Vec<CandidateId>, String)>,
        preferred: Option<Reorder<'_>>,
        include: Option<&[bool]>,
    ) -> Problem {
        let ncand = u.candidate_count() as u32;
        let nvars = ncand + root_sets.len() as u32;
        let mut p = Problem {
            ncand,
            nvars,
            lits: Vec::with_capacity(ncand as usize * 6),
            clauses: Vec::with_capacity(ncand as usize * 4),
            deps_of: vec![(0, 0); nvars as usize],
            excl: Csr::default(),
            packages: u.package_index(),
            units: Vec::new(),
            root_sets: Vec::new(),
            roots: Vec::new(),
            nogoods: Vec::new(),
        };
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        let mut pairs: Vec<(u32, u32, ExclOrigin)> = Vec::new();
        for c in u.candidate_ids() {
            if include.is_some_and(|inc| !inc[c.0 as usize]) {
                continue;
            }
            let cand = u.candidate(c);
            'req: for (ri, r) in cand.depends.iter().enumerate() {
                seen.clear();
                let start = p.lits.len() as u32;
                p.lits.push(neg(c.0));
                for alt in &r.alternatives {
                    buf.clear();
                    u.matching(alt, &mut buf);
                    if let Some(f) = preferred {
                        f(alt.package, &mut buf);
                    }
                    for &d in &buf {
                        if d == c {
                            // Satisfied by the candidate itself: the clause always holds.
                            p.lits.truncate(start as usize);
                            continue 'req;
                        }
                        if !seen.contains(&d.0) {
                            seen.push(d.0);
                            p.lits.push(pos(d.0));
                        }
                    }
                }
                seen.clear();
                let len = p.lits.len() as u32 - start;
                let ci = p.clauses.len() as u32;
                p.clauses
                    .push((start, len, ClauseOrigin::Depends { cand: c, req: ri }));
                push_range(&mut p.deps_of[c.0 as usize], ci);
                if len == 1 {
                    p.units.push(ci);
                }
            }
            for (ri, r) in cand.conflicts.iter().enumerate() {
                if r.kind == RelationKind::Replaces {
                    continue;
                }
                for alt in &r.alternatives {
                    buf.clear();
                    u.matching(alt, &mut buf);
                    for &d in &buf {
                        // Debian: a package never conflicts with itself, and other versions
                        // of it are already excluded; providers of the same name conflict.
                        if u.candidate(d).package == cand.package {
                            continue;
                        }
                        let o = ExclOrigin::Conflict { cand: c, req: ri };
                        pairs.push((c.0, d.0, o));
                        pairs.push((d.0, c.0, o));
                    }
                }
            }
        }
        p.excl = Csr::build(ncand as usize, pairs);
        for (i, set) in root_sets.into_iter().enumerate() {
            let rv = ncand + i as u32;
            for r in &set.requirements {
                seen.clear();
                let index = p.roots.len();
                p.roots.push((i, r.clone()));
                let start = p.lits.len() as u32;
                p.lits.push(neg(rv));
                for alt in &r.alternatives {
                    buf.clear();
                    u.matching(alt, &mut buf);
                    // Like apt, a requested name that is a real package means that
                    // package, not something else providing the name.
                    if !u.candidates_of(alt.package).is_empty() {
                        buf.retain(|c| u.candidate(*c).package == alt.package);
                    }
                    if let Some(f) = preferred {
                        f(alt.package, &mut buf);
                    }
                    for &d in &buf {
                        if !seen.contains(&d.0) {
                            seen.push(d.0);
                            p.lits.push(pos(d.0));
                        }
                    }
                }
                seen.clear();
                let len = p.lits.len() as u32 - start;
                let ci = p.clauses.len() as u32;
                p.clauses.push((start, len, ClauseOrigin::Root { index }));
                push_range(&mut p.deps_of[rv as usize], ci);
                if len == 1 {
                    p.units.push(ci);
                }
            }
            p.root_sets.push(set);
        }
        for (i, (cands, reason)) in nogoods.into_iter().enumerate() {
            let start = p.lits.len() as u32;
            let mut vs: Vec<u32> = cands.iter().map(|c| c.0).filter(|&v| v < ncand).collect();
            vs.sort_unstable();
            vs.dedup();
            for v in vs {
                p.lits.push(neg(v));
            }
            let len = p.lits.len() as u32 - start;
            let ci = p.clauses.len() as u32;
            p.clauses
                .push((start, len, ClauseOrigin::Nogood { index: i }));
            if len == 1 {
                p.units.push(ci);
            }
            p.nogoods.push((cands, reason));
        }
        p
    }

    /// The literals of clause `ci`, in preference order.
    pub fn clause_lits(&self, ci: u32) -> &[Lit] {
        let (s, l, _) = &self.clauses[ci as usize];
        &self.lits[*s as usize..(*s + *l) as usize]
    }

    /// Variables excluded by `v` being true, with the reason: siblings first, then conflicts.
    pub fn for_each_excl(&self, v: u32, mut f: impl FnMut(u32, ExclOrigin) -> bool) -> bool {
        if v >= self.ncand {
            return true;
        }
        let pk = self.packages.pkg_of[v as usize];
        for &w in self.packages.candidates_of(pk) {
            if w != v && !f(w, ExclOrigin::SamePackage) {
                return false;
            }
        }
        for &(w, o) in self.excl.row(v) {
            if !f(w, o) {
                return false;
            }
        }
        true
    }

    /// The reason two variables exclude each other, if they do.
    pub fn excl_origin(&self, a: u32, b: u32) -> Option<ExclOrigin> {
        if a < self.ncand
            && b < self.ncand
            && self.packages.pkg_of[a as usize] == self.packages.pkg_of[b as usize]
            && a != b
        {
            return Some(ExclOrigin::SamePackage);
        }
        if a >= self.ncand {
            return None;
        }
        self.excl
            .row(a)
            .iter()
            .find(|(w, _)| *w == b)
            .map(|(_, o)| *o)
    }
}

/// Extends a contiguous clause-id range by the next clause id.
fn push_range(r: &mut (u32, u32), ci: u32) {
    if r.0 == r.1 {
        *r = (ci, ci + 1);
    } else {
        r.1 = ci + 1;
    }
}

/// Rows of values in one flat array (compressed sparse rows): two allocations
/// instead of one per row, which matters for 58,657 rows built and dropped per check.
#[derive(Debug, Clone)]
pub struct Csr<T> {
    start: Vec<u32>,
    items: Vec<T>,
}

impl<T> Default for Csr<T> {
    fn default() -> Self {
        Csr {
            start: Vec::new(),
            items: Vec::new(),
        }
    }
}

impl<T: Copy> Csr<(u32, T)> {
    /// Builds `rows` rows from (row, value, extra) triples.
    pub fn build(rows: usize, mut triples: Vec<(u32, u32, T)>) -> Self {
        triples.sort_by_key(|t| (t.0, t.1));
        triples.dedup_by_key(|t| (t.0, t.1));
        let mut start = vec![0u32; rows + 1];
        for t in &triples {
            start[t.0 as usize + 1] += 1;
        }
        for i in 0..rows {
            start[i + 1] += start[i];
        }
        let items = triples.into_iter().map(|(_, v, x)| (v, x)).collect();
        Csr { start, items }
    }

    /// The values of row `r` (empty for rows out of range).
    pub fn row(&self, r: u32) -> &[(u32, T)] {
        let r = r as usize;
        if r + 1 >= self.start.len() {
            return &[];
        }
        &self.items[self.start[r] as usize..self.start[r + 1] as usize]
    }
}
