//! Python rules: PEP 508 markers for the image's interpreter, Requires-Python,
//! extras, and Debian python3-<name> packages providing a distribution.

use sonic_lock::manifest::Ecosystem;
use sonic_lock::solve::{Preference, Solver};
use sonic_lock::universe::python::{
    PythonEnv, add_debian_provided, add_distribution, debian_to_pep440,
};
use sonic_lock::universe::{CandidateMeta, PackageKey, Requirement, Universe, VersionConstraint};
use std::collections::BTreeMap;

fn meta(p: &str) -> CandidateMeta {
    CandidateMeta {
        provenance: Some(p.into()),
        ..Default::default()
    }
}

fn world(env: &PythonEnv) -> Universe {
    let mut u = Universe::new();
    add_distribution(
        &mut u,
        env,
        "App",
        "1.0",
        &[
            "b>=2; python_version >= '3.8'",
            "legacy; python_version < '3'",
            "D[x]>=1",
        ],
        None,
        &[],
        meta("app-1.0.dist-info/METADATA:3"),
    )
    .unwrap();
    add_distribution(&mut u, env, "b", "2.0", &[], Some(">=3.6"), &[], meta("b")).unwrap();
    add_distribution(&mut u, env, "b", "3.0", &[], Some(">=3.10"), &[], meta("b")).unwrap();
    add_distribution(&mut u, env, "b", "1.0", &[], None, &[], meta("b")).unwrap();
    add_distribution(&mut u, env, "legacy", "0.1", &[], None, &[], meta("legacy")).unwrap();
    add_distribution(
        &mut u,
        env,
        "d",
        "1.5",
        &["e; extra == 'x'", "f"],
        None,
        &["x"],
        meta("d"),
    )
    .unwrap();
    add_distribution(&mut u, env, "e", "1", &[], None, &[], meta("e")).unwrap();
    add_distribution(&mut u, env, "f", "1", &[], None, &[], meta("f")).unwrap();
    u
}

fn solve(u: &Universe, env: &PythonEnv, root: &str) -> BTreeMap<String, String> {
    let p = u
        .lookup(&PackageKey::new(Ecosystem::Py, &env.domain, root))
        .unwrap();
    let s = Solver::new(
        u,
        vec![Requirement::single(p, VersionConstraint::Any).with_origin("requirements.txt:1")],
    );
    s.solve()
        .unwrap()
        .picks
        .into_iter()
        .map(|(k, v)| (k.name, v))
        .collect()
}

#[test]
fn markers_requires_python_and_extras_for_python_3_9() {
    let env = PythonEnv::linux_cpython("py3", "3.9.2").unwrap();
    let u = world(&env);
    let picks = solve(&u, &env, "app");
    assert_eq!(
        picks.get("b").map(String::as_str),
        Some("2.0"),
        "3.0 needs Python >= 3.10: {picks:?}"
    );
    assert!(
        !picks.contains_key("legacy"),
        "python_version < '3' does not hold on 3.9"
    );
    assert_eq!(picks.get("d[x]").map(String::as_str), Some("1.5"));
    assert!(
        picks.contains_key("e"),
        "the extra's requirement is pulled in"
    );
    assert!(picks.contains_key("f"));
    assert_eq!(picks.get("python").map(String::as_str), Some("3.9.2"));
}

#[test]
fn markers_for_python_2_7() {
    let env = PythonEnv::linux_cpython("py2", "2.7.16").unwrap();
    let u = world(&env);
    let picks = solve(&u, &env, "app");
    assert!(picks.contains_key("legacy"));
    assert!(
        !picks.contains_key("b"),
        "b is only needed from Python 3.8 on"
    );
}

#[test]
fn unsatisfiable_requires_python_is_explained() {
    let env = PythonEnv::linux_cpython("py3", "3.7.3").unwrap();
    let mut u = Universe::new();
    add_distribution(
        &mut u,
        &env,
        "x",
        "1",
        &[],
        Some(">=3.8"),
        &[],
        meta("x-1.dist-info/METADATA:5"),
    )
    .unwrap();
    let p = u
        .lookup(&PackageKey::new(Ecosystem::Py, "py3", "x"))
        .unwrap();
    let err = Solver::new(
        &u,
        vec![Requirement::single(p, VersionConstraint::Any).with_origin("setup.py:12")],
    )
    .solve()
    .unwrap_err();
    let text = err.explain();
    assert!(
        text.contains("setup.py:12") && text.contains("x-1.dist-info/METADATA:5"),
        "{text}"
    );
    assert!(text.contains(">=3.8"), "{text}");
}

#[test]
fn debian_package_provides_the_distribution() {
    assert_eq!(debian_to_pep440("5.3.1-5").as_deref(), Some("5.3.1"));
    assert_eq!(
        debian_to_pep440("1:2.0.1+dfsg-2+deb11u1").as_deref(),
        Some("2.0.1")
    );
    let env = PythonEnv::linux_cpython("py3", "3.9.2").unwrap();
    let mut u = Universe::new();
    add_distribution(
        &mut u,
        &env,
        "PyYAML",
        "5.4.1",
        &[],
        None,
        &[],
        meta("pypi"),
    )
    .unwrap();
    let deb = add_debian_provided(&mut u, &env, "pyyaml", "python3-yaml", "5.3.1-5")
        .unwrap()
        .unwrap();
    assert_eq!(
        u.candidate(deb).meta.provenance.as_deref(),
        Some("debian:python3-yaml=5.3.1-5")
    );
    let p = u
        .lookup(&PackageKey::new(Ecosystem::Py, "py3", "pyyaml"))
        .unwrap();
    let mut s = Solver::new(
        &u,
        vec![Requirement::single(
            p,
            VersionConstraint::Specifiers(">=5".into()),
        )],
    );
    // pip keeps what is installed: the Debian version is the reference.
    let mut reference = BTreeMap::new();
    reference.insert(
        PackageKey::new(Ecosystem::Py, "py3", "pyyaml"),
        "5.3.1".to_string(),
    );
    s.set_preference(Preference::Closest(reference));
    assert_eq!(
        s.solve().unwrap().picks.values().next().map(String::as_str),
        Some("5.3.1")
    );
    // A constraint forcing a change wins.
    let s2 = Solver::new(
        &u,
        vec![Requirement::single(
            p,
            VersionConstraint::Specifiers("==5.4.1".into()),
        )],
    );
    assert_eq!(
        s2.solve()
            .unwrap()
            .picks
            .values()
            .next()
            .map(String::as_str),
        Some("5.4.1")
    );
}

#[test]
fn bad_requirement_lines_name_their_origin() {
    let env = PythonEnv::linux_cpython("py3", "3.9.2").unwrap();
    let mut u = Universe::new();
    let e = add_distribution(
        &mut u,
        &env,
        "x",
        "1",
        &["not a ((( requirement"],
        None,
        &[],
        meta("x/METADATA:7"),
    )
    .unwrap_err();
    assert!(e.to_string().contains("x/METADATA:7"), "{e}");
}
