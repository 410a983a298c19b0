//! Installability of every package of a Debian index, as `dose-distcheck`
//! decides it: a package is installable when it can be installed together
//! with every `Essential: yes` package on an empty system.
//!
//! Each query is one conflict-driven search assuming the package; every
//! candidate in a found installation is itself installable (the installation
//! is a witness), so most packages never need a search of their own. Workers
//! share the compiled problem read-only and split the packages between them.

use super::engine::{Ante, Engine};
use super::explain;
use super::problem::{ClauseOrigin, Problem, RootSet, pos};
use crate::universe::{CandidateId, Universe};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};

/// How a package is broken, in dose-distcheck's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokenKind {
    /// Some needed dependency has no candidate at all.
    Missing,
    /// Every way of satisfying the dependencies runs into a conflict.
    Conflict,
}

/// One uninstallable package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Broken {
    /// Package name.
    pub package: String,
    /// Version.
    pub version: String,
    /// Architecture (`amd64`, `all`).
    pub architecture: String,
    /// Missing dependency or conflict.
    pub kind: BrokenKind,
    /// The dependencies nothing satisfies (`pkg=ver depends on X`), for `missing`.
    pub unsat_dependencies: Vec<String>,
    /// Conflicting pairs (`a=1 conflicts with b=2`), for `conflict`.
    pub conflicts: Vec<String>,
    /// The full explanation in prose.
    pub explanation: String,
    /// The explanation as a DOT graph.
    #[serde(skip)]
    pub dot: String,
}

/// The result of checking a whole index.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Number of candidates checked.
    pub total: usize,
    /// Number of searches run (the rest were proved installable by another's witness).
    pub searches: usize,
    /// Uninstallable candidates, sorted by name and version.
    pub broken: Vec<Broken>,
}

/// Options of [`check`].
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Install the `Essential: yes` packages with every package (dose-distcheck's default).
    pub essential: bool,
    /// Worker threads (0: rayon's default).
    pub threads: usize,
    /// Explain every broken package in prose (costs one traced search each).
    pub explain: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            essential: true,
            threads: 0,
            explain: true,
        }
    }
}

/// Checks every Debian candidate of `domain` for installability.
pub fn check(u: &Universe, domain: &str, opts: &CheckOptions) -> CheckReport {
    let mut sets = Vec::new();
    if opts.essential {
        sets.push(RootSet {
            label: "the essential packages".into(),
            requirements: super::debian_base(u, domain, false),
        });
    }
    let p = Problem::compile(u, sets, Vec::new(), None);
    let targets: Vec<u32> = u
        .candidate_ids()
        .filter(|&c| {
            let k = u.key(u.candidate(c).package);
            k.domain == domain && k.ecosystem == crate::manifest::Ecosystem::Deb
        })
        .map(|c| c.0)
        .collect();
    let installable: Vec<AtomicBool> = (0..p.nvars).map(|_| AtomicBool::new(false)).collect();
    let base: Vec<u32> = (0..p.root_sets.len() as u32)
        .map(|i| pos(p.ncand + i))
        .collect();
    let threads = if opts.threads == 0 {
        rayon::current_num_threads()
    } else {
        opts.threads
    }
    .max(1);
    let results: Vec<(Vec<u32>, usize)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (p, targets, installable, base) = (&p, &targets, &installable, &base);
                s.spawn(move || {
                    let mut e = Engine::new(p, false);
                    let mut broken = Vec::new();
                    let mut searches = 0;
                    // The essential packages' installation is the same for every query: build it
                    // once and search each package on top of it (its decisions replayed as
                    // assumptions). When a package only fails because of that particular
                    // installation, it gets a search of its own from scratch.
                    let (mut prefix, mut exact) = essential_prefix(&mut e, base);
                    let mut assumptions = prefix.clone();
                    for &c in targets.iter().skip(t).step_by(threads) {
                        if installable[c as usize].load(Ordering::Relaxed) {
                            continue;
                        }
                        if !exact && e.value(c) == 1 {
                            installable[c as usize].store(true, Ordering::Relaxed);
                            continue;
                        }
                        searches += 1;
                        let k0 = prefix.len();
                        assumptions.truncate(k0);
                        assumptions.push(pos(c));
                        let ok = e.solve(&assumptions);
                        if ok {
                            for v in e.true_vars() {
                                installable[v as usize].store(true, Ordering::Relaxed);
                            }
                            e.backtrack_to(k0 as u32);
                            continue;
                        }
                        let certain = exact || (e.failed_assumption() == Some(k0) && e.level_of(c) <= 1);
                        if certain {
                            broken.push(c);
                            e.backtrack_to(k0 as u32);
                            continue;
                        }
                        // Fall back to a search of its own, then rebuild the prefix.
                        e.reset();
                        let mut own = base.clone();
                        own.push(pos(c));
                        if e.solve(&own) {
                            for v in e.true_vars() {
                                installable[v as usize].store(true, Ordering::Relaxed);
                            }
                        } else {
                            broken.push(c);
                        }
                        e.reset();
                        (prefix, exact) = essential_prefix(&mut e, base);
                        assumptions = prefix.clone();
                    }
                    if std::env::var_os("SONIC_LOCK_DEBUG_STATS").is_some() {
                        eprintln!("worker {t}: {searches} searches, {} assignments, {} decisions, {} conflicts", e.assignments, e.decisions, e.conflicts);
                    }
                    (broken, searches)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    let searches = results.iter().map(|r| r.1).sum();
    let mut broken_vars: Vec<u32> = results.into_iter().flat_map(|r| r.0).collect();
    broken_vars.sort_unstable();
    let mut tracer = Engine::new(&p, true);
    let mut broken: Vec<Broken> = broken_vars
        .into_iter()
        .map(|c| describe(u, &p, &mut tracer, &base, CandidateId(c), opts.explain))
        .collect();
    broken.sort_by(|a, b| (&a.package, &a.version).cmp(&(&b.package, &b.version)));
    CheckReport {
        total: targets.len(),
        searches,
        broken,
    }
}

/// Installs the essential packages once and returns the literals that rebuild
/// that installation, and whether they are all plain assumptions (then a failure
/// on top of them is final). When the essential packages cannot be installed at
/// all, the base assumptions are returned as they are: every query then fails,
/// as in dose-distcheck.
fn essential_prefix(e: &mut Engine, base: &[u32]) -> (Vec<u32>, bool) {
    if e.solve(base) {
        let d = e.decision_literals();
        let exact = d.len() == base.len();
        if exact {
            e.reset();
            return (base.to_vec(), true);
        }
        (d, false)
    } else {
        e.reset();
        (base.to_vec(), true)
    }
}

fn describe(
    u: &Universe,
    p: &Problem,
    e: &mut Engine,
    base: &[u32],
    c: CandidateId,
    explain_it: bool,
) -> Broken {
    let mut assumptions = base.to_vec();
    assumptions.push(pos(c.0));
    let sat = e.solve(&assumptions);
    let cand = u.candidate(c);
    let mut kind = BrokenKind::Conflict;
    let mut unsat_dependencies = Vec::new();
    let mut conflicts = Vec::new();
    let mut explanation = String::new();
    let mut dot = String::new();
    if !sat {
        for a in e.core() {
            match a {
                Ante::Clause(ci)
                    if ci < e.problem_clause_count() && p.clause_lits(ci).len() == 1 =>
                {
                    if let ClauseOrigin::Depends { cand: d, req } = &p.clauses[ci as usize].2 {
                        kind = BrokenKind::Missing;
                        unsat_dependencies.push(format!(
                            "{} depends on {}",
                            u.display_candidate(*d),
                            explain::requirement_text(u, &u.candidate(*d).depends[*req])
                        ));
                    }
                }
                Ante::Excl(x, y) => {
                    if let Some(super::problem::ExclOrigin::Conflict { .. }) = p.excl_origin(x, y) {
                        conflicts.push(format!(
                            "{} conflicts with {}",
                            explain::var_name(u, p, x),
                            explain::var_name(u, p, y)
                        ));
                    }
                }
                _ => {}
            }
        }
        if explain_it {
            explanation = explain::explain(
                u,
                p,
                e,
                &format!("{} cannot be installed", u.display_candidate(c)),
            );
            dot = explain::explain_dot(u, p, e);
        }
    } else {
        explanation = "internal error: the traced search found an installation".into();
    }
    e.reset();
    unsat_dependencies.sort();
    unsat_dependencies.dedup();
    conflicts.sort();
    conflicts.dedup();
    Broken {
        package: u.key(cand.package).name.clone(),
        version: cand.version.clone(),
        architecture: cand.meta.architecture.clone().unwrap_or_default(),
        kind,
        unsat_dependencies,
        conflicts,
        explanation,
        dot,
    }
}
