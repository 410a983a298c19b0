//! Property tests on random small universes: every solution satisfies every
//! constraint, every unsat answer is confirmed by exhaustive search, and no
//! pick could have been newer (see [`raisable`] for exactly what that means).

use proptest::prelude::*;
use sonic_lock::manifest::Ecosystem;
use sonic_lock::solve::{Nogood, Solver};
use sonic_lock::universe::{
    CandidateMeta, CmpOp, PackageId, PackageKey, Requirement, Universe, VersionConstraint,
    scheme_for,
};

/// Alternatives of one requirement: (package, operator, version).
type Alts = Vec<(usize, u8, u8)>;

#[derive(Debug, Clone)]
struct Spec {
    versions: Vec<usize>,                      // versions per package (1..=3)
    deps: Vec<Vec<Vec<Alts>>>,                 // [pkg][ver] -> reqs -> alts (pkg, op, ver)
    conflicts: Vec<Vec<Vec<(usize, u8, u8)>>>, // [pkg][ver] -> (pkg, op, ver)
    roots: Vec<Vec<(usize, u8, u8)>>,
    nogood: Option<Vec<(usize, u8)>>,
}

const NP: usize = 5;

fn alt() -> impl Strategy<Value = (usize, u8, u8)> {
    (0..NP, 0u8..5, 1u8..4)
}

fn spec() -> impl Strategy<Value = Spec> {
    let per_cand_deps = prop::collection::vec(prop::collection::vec(alt(), 1..3), 0..3);
    let per_cand_conf = prop::collection::vec(alt(), 0..2);
    (
        prop::collection::vec(1usize..4, NP),
        prop::collection::vec(prop::collection::vec(per_cand_deps, 3), NP),
        prop::collection::vec(prop::collection::vec(per_cand_conf, 3), NP),
        prop::collection::vec(prop::collection::vec(alt(), 1..3), 1..3),
        prop::option::of(prop::collection::vec((0..NP, 1u8..4), 1..3)),
    )
        .prop_map(|(versions, deps, conflicts, roots, nogood)| Spec {
            versions,
            deps,
            conflicts,
            roots,
            nogood,
        })
}

fn constraint(op: u8, v: u8) -> VersionConstraint {
    match op {
        0 => VersionConstraint::Any,
        1 => VersionConstraint::Cmp(CmpOp::Ge, v.to_string()),
        2 => VersionConstraint::Cmp(CmpOp::Lt, v.to_string()),
        3 => VersionConstraint::Cmp(CmpOp::Eq, v.to_string()),
        _ => VersionConstraint::Cmp(CmpOp::Le, v.to_string()),
    }
}

fn build(s: &Spec) -> (Universe, Vec<PackageId>, Vec<Requirement>) {
    let mut u = Universe::new();
    let ids: Vec<PackageId> = (0..NP)
        .map(|i| u.intern(PackageKey::new(Ecosystem::Deb, "t", &format!("p{i}"))))
        .collect();
    let req = |alts: &Vec<(usize, u8, u8)>| Requirement {
        alternatives: alts
            .iter()
            .map(|&(p, op, v)| sonic_lock::universe::Alternative {
                package: ids[p],
                constraint: constraint(op, v),
                arch: Default::default(),
            })
            .collect(),
        kind: Default::default(),
        origin: Some("spec:1".into()),
    };
    for (p, &id) in ids.iter().enumerate() {
        for v in 0..s.versions[p] {
            let deps = s.deps[p][v].iter().map(req).collect();
            let conflicts = s.conflicts[p][v].iter().map(|a| req(&vec![*a])).collect();
            u.add_candidate(
                id,
                &(v + 1).to_string(),
                CandidateMeta::default(),
                deps,
                conflicts,
                vec![],
            )
            .unwrap();
        }
    }
    let roots = s.roots.iter().map(req).collect();
    (u, ids, roots)
}

/// Independent check of an assignment: `choice[p]` is `None` or the chosen version number.
fn satisfies(u: &Universe, s: &Spec, choice: &[Option<u8>]) -> bool {
    let sch = scheme_for(Ecosystem::Deb);
    let holds = |alts: &Vec<(usize, u8, u8)>| {
        alts.iter().any(|&(p, op, v)| {
            choice[p].is_some_and(|c| constraint(op, v).matches(sch, &c.to_string()))
        })
    };
    if !s.roots.iter().all(holds) {
        return false;
    }
    for (p, ch) in choice.iter().enumerate() {
        let Some(c) = *ch else { continue };
        let vi = c as usize - 1;
        if !s.deps[p][vi].iter().all(holds) {
            return false;
        }
        for &(q, op, v) in &s.conflicts[p][vi] {
            if q != p && holds(&vec![(q, op, v)]) {
                return false;
            }
        }
    }
    if let Some(ng) = &s.nogood
        && ng.iter().all(|&(p, v)| choice[p] == Some(v))
    {
        return false;
    }
    let _ = u;
    true
}

/// Index of the first alternative of `alts` that package `p` at version `c` matches.
fn first_match(alts: &Alts, p: usize, c: u8) -> Option<usize> {
    let sch = scheme_for(Ecosystem::Deb);
    alts.iter()
        .position(|&(q, op, v)| q == p && constraint(op, v).matches(sch, &c.to_string()))
}

/// A pick `(package, version, newer version)` that the solver's preference
/// should have made newer. The solver decides, in the package manager's order,
/// the first open requirement of a chosen candidate (or a root) and takes its
/// first open alternative, each alternative's versions newest first; every
/// other pick is forced by propagation. So for a pick `p = v` and a newer `w`
/// of `p`, when swapping `v` for `w` keeps every constraint satisfied and every
/// requirement in force that `v` meets is met by `w` through the same or an
/// earlier alternative, `w` was open when `v` was chosen and comes first in the
/// requirement that chose `v`: such a pair must not exist. (Raising `p` while
/// some requirement met by `v` would then only hold through another package is
/// not promised: apt, too, takes a requirement's first alternative.)
fn raisable(u: &Universe, s: &Spec, choice: &[Option<u8>]) -> Option<(usize, u8, u8)> {
    let mut in_force: Vec<(usize, &Alts)> = s.roots.iter().map(|r| (NP, r)).collect();
    for (q, ch) in choice.iter().enumerate() {
        if let Some(c) = *ch {
            in_force.extend(s.deps[q][c as usize - 1].iter().map(|r| (q, r)));
        }
    }
    for (p, ch) in choice.iter().enumerate() {
        let Some(v) = *ch else { continue };
        for w in v + 1..=s.versions[p] as u8 {
            let mut raised = choice.to_vec();
            raised[p] = Some(w);
            // A candidate's own requirements that it meets itself never choose it.
            let chosen_the_same_way =
                in_force
                    .iter()
                    .filter(|(owner, _)| *owner != p)
                    .all(|(_, r)| match first_match(r, p, v) {
                        None => true,
                        Some(i) => first_match(r, p, w).is_some_and(|j| j <= i),
                    });
            if chosen_the_same_way && satisfies(u, s, &raised) {
                return Some((p, v, w));
            }
        }
    }
    None
}

fn exhaustive(u: &Universe, s: &Spec) -> bool {
    let mut choice = vec![None; NP];
    fn rec(i: usize, choice: &mut Vec<Option<u8>>, u: &Universe, s: &Spec) -> bool {
        if i == NP {
            return satisfies(u, s, choice);
        }
        for v in 0..=s.versions[i] {
            choice[i] = if v == 0 { None } else { Some(v as u8) };
            if rec(i + 1, choice, u, s) {
                return true;
            }
        }
        choice[i] = None;
        false
    }
    rec(0, &mut choice, u, s)
}

proptest! {
    // Regressions live beside this file; by default proptest keeps them in
    // tests/proptest-regressions/<module>.txt, one name space for all binaries.
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::with_cases(600)
    })]
    #[test]
    fn solutions_hold_and_unsat_is_exhaustive(s in spec()) {
        let (u, ids, roots) = build(&s);
        let mut solver = Solver::new(&u, roots);
        if let Some(ng) = &s.nogood {
            let picks = ng.iter().map(|&(p, v)| (u.key(ids[p]).clone(), v.to_string())).collect();
            solver.add_nogood(Nogood::new(picks, "trial build failed"));
        }
        match solver.solve() {
            Ok(sol) => {
                let mut choice = vec![None; NP];
                for (k, v) in &sol.picks {
                    let p: usize = k.name[1..].parse().unwrap();
                    prop_assert!(choice[p].is_none(), "two versions of {}", k.name);
                    choice[p] = Some(v.parse::<u8>().unwrap());
                }
                prop_assert!(satisfies(&u, &s, &choice), "solution {:?} violates a constraint", choice);
                let raise = raisable(&u, &s, &choice);
                prop_assert!(raise.is_none(), "solution {:?}: (package, pick, newer) {:?} could be raised", choice, raise);
            }
            Err(unsat) => {
                prop_assert!(!exhaustive(&u, &s), "solver said unsat but a solution exists");
                prop_assert!(unsat.explain().contains("because"));
                prop_assert!(unsat.to_dot().starts_with("digraph"));
            }
        }
    }
}
