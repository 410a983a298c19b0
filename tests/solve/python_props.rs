//! Property tests of the Python solve that reads metadata only for its picks:
//! on random small indexes, every solution satisfies every real requirement
//! (Requires-Dist and Requires-Python as published, not only what was read),
//! every "no solution" is confirmed by exhaustive search over the full metadata,
//! and no pick could have been newer on its own.

use proptest::prelude::*;
use sonic_lock::manifest::Ecosystem;
use sonic_lock::solve::python::{MetadataError, MetadataSource, PyResolver, ReleaseMetadata, root};
use sonic_lock::source::{History, VersionAt};
use sonic_lock::universe::{Universe, VersionConstraint};

const NAMES: usize = 4;
const VERSIONS: u8 = 3;
const OPS: [&str; 4] = [">=", "<", "==", "!="];

/// One requirement: (target package, operator index, version 1..=3).
type Req = (usize, usize, u8);

/// Per package, per version (1..=3): its requirements and whether it needs Python >= 3.10.
#[derive(Debug, Clone)]
struct Index {
    releases: Vec<Vec<(Vec<Req>, bool)>>,
    roots: Vec<Req>,
}

fn req() -> impl Strategy<Value = Req> {
    (0..NAMES, 0..OPS.len(), 1..=VERSIONS)
}

fn index() -> impl Strategy<Value = Index> {
    let release = (
        prop::collection::vec(req(), 0..3),
        prop::bool::weighted(0.2),
    );
    (
        prop::collection::vec(prop::collection::vec(release, VERSIONS as usize), NAMES),
        prop::collection::vec(req(), 1..3),
    )
        .prop_map(|(releases, roots)| Index { releases, roots })
}

fn text((p, op, v): &Req) -> String {
    format!("d{p}{}{v}", OPS[*op])
}

fn holds((_, op, v): &Req, have: u8) -> bool {
    match OPS[*op] {
        ">=" => have >= *v,
        "<" => have < *v,
        "==" => have == *v,
        _ => have != *v,
    }
}

impl MetadataSource for Index {
    fn py_history(&self, name: &str) -> Result<History, MetadataError> {
        let i: usize = name
            .trim_start_matches('d')
            .parse()
            .map_err(|_| MetadataError::NotFound("404".into()))?;
        if i >= NAMES {
            return Err(MetadataError::NotFound("404".into()));
        }
        Ok(History {
            ecosystem: Ecosystem::Py,
            name: name.into(),
            versions: (1..=VERSIONS)
                .map(|v| VersionAt {
                    version: v.to_string(),
                    published: None,
                    url: None,
                    sha256: None,
                    requires: None,
                    requires_python: None,
                })
                .collect(),
            later: 0,
            notes: vec![],
        })
    }

    fn py_metadata(&self, name: &str, version: &str) -> Result<ReleaseMetadata, MetadataError> {
        let not_found = |_| MetadataError::NotFound("404".into());
        let i: usize = name.trim_start_matches('d').parse().map_err(not_found)?;
        let v: usize = version.parse().map_err(not_found)?;
        let (reqs, new_python) = &self.releases[i][v - 1];
        Ok(ReleaseMetadata {
            requires_dist: reqs.iter().map(text).collect(),
            requires_python: new_python.then(|| ">=3.10".to_string()),
            from: format!("{name}-{version}.metadata"),
        })
    }

    fn go_requires(&self, _: &str, _: &str) -> Result<Vec<(String, String)>, MetadataError> {
        Err(MetadataError::NotFound("no go".into()))
    }
}

/// Whether a choice (per package: none or a version) satisfies everything for real.
fn valid(ix: &Index, choice: &[Option<u8>]) -> bool {
    let ok = |r: &Req| choice[r.0].is_some_and(|have| holds(r, have));
    ix.roots.iter().all(ok)
        && choice.iter().enumerate().all(|(i, c)| match c {
            None => true,
            Some(v) => {
                let (reqs, new_python) = &ix.releases[i][*v as usize - 1];
                !new_python && reqs.iter().all(ok)
            }
        })
}

/// A pick `(package, version, newer version)` that could have been newer: with
/// only that package raised, everything still holds. The solver takes each
/// requirement's versions newest first (final releases before pre-releases),
/// and a requirement here names one package, so every requirement that chose
/// the pick would also have taken the newer version, which was still open.
fn raisable(ix: &Index, choice: &[Option<u8>]) -> Option<(usize, u8, u8)> {
    for (p, ch) in choice.iter().enumerate() {
        let Some(v) = *ch else { continue };
        for w in v + 1..=VERSIONS {
            let mut raised = choice.to_vec();
            raised[p] = Some(w);
            if valid(ix, &raised) {
                return Some((p, v, w));
            }
        }
    }
    None
}

fn exhaustive(ix: &Index) -> bool {
    let mut choice = vec![None; NAMES];
    fn rec(i: usize, choice: &mut Vec<Option<u8>>, ix: &Index) -> bool {
        if i == NAMES {
            return valid(ix, choice);
        }
        for c in std::iter::once(None).chain((1..=VERSIONS).map(Some)) {
            choice[i] = c;
            if rec(i + 1, choice, ix) {
                return true;
            }
        }
        choice[i] = None;
        false
    }
    rec(0, &mut choice, ix)
}

proptest! {
    // Regressions live beside this file; by default proptest keeps them in
    // tests/proptest-regressions/<module>.txt, one name space for all binaries.
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::with_cases(300)
    })]

    #[test]
    fn lazy_metadata_solutions_hold_and_unsat_is_exhaustive(ix in index()) {
        let mut u = Universe::new();
        let roots: Vec<_> = ix
            .roots
            .iter()
            .map(|r| {
                root(
                    &mut u,
                    "py3",
                    &format!("d{}", r.0),
                    &[],
                    VersionConstraint::Specifiers(format!("{}{}", OPS[r.1], r.2)),
                    "requirements.txt:1",
                )
            })
            .collect();
        let mut resolver = PyResolver::new(&u, Some(&ix));
        match resolver.solve_image(&mut u, &roots, &[], &[]).unwrap() {
            Ok(o) => {
                let mut choice = vec![None; NAMES];
                for (k, v) in &o.picks {
                    let i: usize = k.name.trim_start_matches('d').parse().unwrap();
                    choice[i] = Some(v.parse::<u8>().unwrap());
                }
                prop_assert!(valid(&ix, &choice), "{:?} is not a solution of {:?}", choice, ix);
                let raise = raisable(&ix, &choice);
                prop_assert!(raise.is_none(), "{:?}: (package, pick, newer) {:?} could be raised in {:?}", choice, raise, ix);
                prop_assert!(o.notes.is_empty(), "{:?}", o.notes);
            }
            Err(unsat) => {
                prop_assert!(!exhaustive(&ix), "reported unsat but a solution exists: {:?}", ix);
                prop_assert!(unsat.explain().contains("because"));
            }
        }
    }
}
