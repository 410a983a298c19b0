//! The public search API: preferences, nogoods, explanations, why, apt transactions, Go MVS.

use sonic_lock::manifest::Ecosystem;
use sonic_lock::solve::graph::SolutionGraph;
use sonic_lock::solve::{Nogood, Preference, Solver, mvs, solve_transactions};
use sonic_lock::universe::{
    CandidateMeta, CmpOp, PackageKey, Requirement, Universe, VersionConstraint, debian,
};
use std::collections::BTreeMap;

fn deb_universe() -> Universe {
    let text = "Package: app\nVersion: 1.0\nDepends: libx (>= 2)\n\n\
Package: libx\nVersion: 1\n\nPackage: libx\nVersion: 2\n\nPackage: libx\nVersion: 3\nDepends: libz\n\n\
Package: libz\nVersion: 1\n\n\
Package: other\nVersion: 1\nConflicts: libz\n\n\
Package: tool\nVersion: 1\nDepends: app\n";
    let mut u = Universe::new();
    debian::load_packages(&mut u, text.as_bytes(), "Packages", "bullseye/amd64").unwrap();
    u
}

fn root(u: &mut Universe, rel: &str, origin: &str) -> Vec<Requirement> {
    debian::parse_requirements(u, "bullseye/amd64", rel, origin).unwrap()
}

fn pick(sol: &sonic_lock::solve::Solution, name: &str) -> Option<String> {
    sol.picks
        .iter()
        .find(|(k, _)| k.name == name)
        .map(|(_, v)| v.clone())
}

#[test]
fn newest_is_preferred_and_nogoods_persist() {
    let mut u = deb_universe();
    let roots = root(&mut u, "app", "Dockerfile.j2:10");
    let mut s = Solver::new(&u, roots);
    let sol = s.solve().unwrap();
    assert_eq!(pick(&sol, "libx").as_deref(), Some("3"));
    assert_eq!(pick(&sol, "libz").as_deref(), Some("1"));
    assert_eq!(pick(&sol, "other"), None);
    let key = |n: &str| PackageKey::new(Ecosystem::Deb, "bullseye/amd64", n);
    s.add_nogood(Nogood::new(
        vec![(key("app"), "1.0".into()), (key("libx"), "3".into())],
        "build log: undefined symbol",
    ));
    let sol = s.solve().unwrap();
    assert_eq!(pick(&sol, "libx").as_deref(), Some("2"));
    assert_eq!(pick(&sol, "libz"), None);
    // Still there on the next solve.
    assert_eq!(pick(&s.solve().unwrap(), "libx").as_deref(), Some("2"));
    s.add_nogood(Nogood::new(
        vec![(key("libx"), "2".into())],
        "hash mismatch",
    ));
    let err = s.solve().unwrap_err();
    let text = err.explain();
    assert!(text.contains("Dockerfile.j2:10"), "{text}");
    assert!(text.contains("undefined symbol"), "{text}");
    assert!(text.contains("hash mismatch"), "{text}");
    assert!(err.to_dot().contains("->"));
}

#[test]
fn closest_to_reference() {
    let mut u = deb_universe();
    let roots = root(&mut u, "app", "x:1");
    let mut s = Solver::new(&u, roots);
    let mut reference = BTreeMap::new();
    reference.insert(
        PackageKey::new(Ecosystem::Deb, "bullseye/amd64", "libx"),
        "2".to_string(),
    );
    s.set_preference(Preference::Closest(reference.clone()));
    assert_eq!(pick(&s.solve().unwrap(), "libx").as_deref(), Some("2"));
    reference.insert(
        PackageKey::new(Ecosystem::Deb, "bullseye/amd64", "libx"),
        "1".to_string(),
    );
    s.set_preference(Preference::Closest(reference));
    // 1 is not allowed (>= 2): the smallest upgrade wins.
    assert_eq!(pick(&s.solve().unwrap(), "libx").as_deref(), Some("2"));
}

#[test]
fn contradicting_pins_are_explained_with_both_origins() {
    let mut u = Universe::new();
    let eng = u.intern(PackageKey::new(Ecosystem::Py, "py3", "sonic-config-engine"));
    let lxml = u.intern(PackageKey::new(Ecosystem::Py, "py3", "lxml"));
    for v in ["4.6.5", "4.9.1", "4.9.2"] {
        u.add_candidate(lxml, v, CandidateMeta::default(), vec![], vec![], vec![])
            .unwrap();
    }
    u.add_candidate(
        eng,
        "1.0",
        CandidateMeta::default(),
        vec![
            Requirement::single(lxml, VersionConstraint::Specifiers("==4.9.1".into()))
                .with_origin("src/sonic-config-engine/setup.py:30"),
        ],
        vec![],
        vec![],
    )
    .unwrap();
    let roots = vec![
        Requirement::single(eng, VersionConstraint::Any).with_origin("rules/sonic-config.mk:5"),
        Requirement::single(lxml, VersionConstraint::Cmp(CmpOp::Eq, "4.6.5".into()))
            .with_origin("files/build/versions/py3:12"),
    ];
    let err = Solver::new(&u, roots).solve().unwrap_err();
    let text = err.explain();
    assert!(text.contains("setup.py:30"), "{text}");
    assert!(text.contains("files/build/versions/py3:12"), "{text}");
    assert!(text.contains("rules/sonic-config.mk:5"), "{text}");
}

#[test]
fn why_and_why_not() {
    let mut u = deb_universe();
    let roots = root(&mut u, "tool", "Dockerfile.j2:3");
    let s = Solver::new(&u, roots.clone());
    let sol = s.solve().unwrap();
    let g = SolutionGraph::new(&u, &roots, &sol);
    let libz = u
        .lookup_name(Ecosystem::Deb, "bullseye/amd64", "libz")
        .unwrap();
    let chain = g.why(&u, libz).unwrap();
    let names: Vec<&str> = chain.iter().map(|s| s.to.as_str()).collect();
    assert_eq!(names, ["tool=1", "app=1.0", "libx=3", "libz=1"]);
    assert_eq!(chain[0].origin.as_deref(), Some("Dockerfile.j2:3"));
    let other = u
        .lookup_name(Ecosystem::Deb, "bullseye/amd64", "other")
        .unwrap();
    assert!(g.why(&u, other).is_none());
    // why-not: other=1 together with the request still works (libx=2 avoids libz).
    let oc = u.candidates_of(other)[0];
    let sol2 = s.solve_assuming(&[oc]).unwrap();
    assert_eq!(pick(&sol2, "libx").as_deref(), Some("2"));
    // libx=1 cannot be part of it: app needs >= 2.
    let libx = u
        .lookup_name(Ecosystem::Deb, "bullseye/amd64", "libx")
        .unwrap();
    let x1 = u.find_version(libx, "1").unwrap();
    let err = s.solve_assuming(&[x1]).unwrap_err();
    assert!(err.explain().contains("libx=1"), "{}", err.explain());
    assert!(
        err.explain()
            .contains("app=1.0 depends on libx (>= 2) (Packages:3)"),
        "{}",
        err.explain()
    );
}

#[test]
fn sequential_transactions_remove_what_conflicts() {
    let mut u = deb_universe();
    let t1 = root(&mut u, "tool", "Dockerfile.j2:3");
    let t2 = root(&mut u, "other", "Dockerfile.j2:9");
    let states = solve_transactions(&u, vec![], vec![t1, t2], &[]).unwrap();
    assert_eq!(pick(&states[0].installed, "libx").as_deref(), Some("3"));
    // other conflicts with libz: apt keeps tool and app but moves libx to 2 and drops libz.
    let s2 = &states[1];
    assert_eq!(pick(&s2.installed, "tool").as_deref(), Some("1"));
    assert_eq!(pick(&s2.installed, "libx").as_deref(), Some("2"));
    assert_eq!(s2.removed, vec!["libx=3".to_string(), "libz=1".to_string()]);
}

#[test]
fn go_minimal_version_selection() {
    let mut u = Universe::new();
    let k = |n: &str| PackageKey::new(Ecosystem::Go, "go", n);
    let main = u.intern(k("example.com/main"));
    let a = u.intern(k("example.com/a"));
    let b = u.intern(k("example.com/b"));
    let ge = |p, v: &str| Requirement::single(p, VersionConstraint::Cmp(CmpOp::Ge, v.into()));
    for v in ["v1.0.0", "v1.1.0", "v1.2.0"] {
        u.add_candidate(b, v, CandidateMeta::default(), vec![], vec![], vec![])
            .unwrap();
    }
    u.add_candidate(
        a,
        "v1.0.0",
        CandidateMeta::default(),
        vec![ge(b, "v1.1.0")],
        vec![],
        vec![],
    )
    .unwrap();
    let m = u
        .add_candidate(
            main,
            "v0.0.0",
            CandidateMeta::default(),
            vec![ge(a, "v1.0.0"), ge(b, "v1.0.0")],
            vec![],
            vec![],
        )
        .unwrap();
    let sel = mvs::minimal_version_selection(&u, &[m]).unwrap();
    assert_eq!(
        sel[&k("example.com/b")],
        "v1.1.0",
        "the highest required, not the newest available"
    );
    assert_eq!(sel[&k("example.com/a")], "v1.0.0");
}

#[test]
fn the_learn_loop_adapter_proposes_and_forbids() {
    use sonic_lock::trial::learn::Search;
    let mut u = deb_universe();
    let roots = root(&mut u, "app", "Dockerfile.j2:10");
    let mut s = Solver::new(&u, roots);
    let first = s.propose().unwrap();
    let key = PackageKey::new(Ecosystem::Deb, "bullseye/amd64", "libx");
    assert_eq!(first[&key], "3");
    s.forbid(vec![(key.clone(), "3".into())], "trial build 1 failed");
    assert_eq!(s.propose().unwrap()[&key], "2");
    s.forbid(vec![(key.clone(), "2".into())], "trial build 2 failed");
    let err = s.propose().unwrap_err().to_string();
    assert!(
        err.contains("trial build 1 failed") && err.contains("trial build 2 failed"),
        "{err}"
    );
}
