//! Installability rules of Debian indices, one hand-made stanza group per
//! rule (tests/fixtures/solve/rules.Packages); the expected broken set is the
//! one dose-distcheck reports on the same file.

use sonic_lock::solve::check::{BrokenKind, CheckOptions, check};
use sonic_lock::universe::{Universe, debian};

fn load(text: &str) -> Universe {
    let mut u = Universe::new();
    debian::load_packages(&mut u, text.as_bytes(), "rules.Packages", "test/amd64").unwrap();
    u
}

fn rules() -> Universe {
    load(include_str!("../fixtures/solve/rules.Packages"))
}

#[test]
fn broken_set_matches_dose_distcheck() {
    let u = rules();
    let r = check(&u, "test/amd64", &CheckOptions::default());
    let got: Vec<(String, String, BrokenKind)> = r
        .broken
        .iter()
        .map(|b| (b.package.clone(), b.version.clone(), b.kind))
        .collect();
    use BrokenKind::*;
    let want: Vec<(String, String, BrokenKind)> = [
        ("brk-both-old", "1.0", Conflict),
        ("conf-both", "1.0", Conflict),
        ("deep-missing", "1.0", Missing),
        ("foreign-arch-dep", "1.0", Missing),
        ("hates-essential", "1.0", Conflict),
        ("missing-dep", "1.0", Missing),
        ("needs-new-b", "1.0", Missing),
        ("pin-clash", "1.0", Missing),
        ("predep-missing", "1.0", Missing),
        ("real-b", "2.0", Missing),
        ("two-editors", "1.0", Conflict),
        ("wants-api-3", "1.0", Missing),
        ("wants-mta-versioned", "1.0", Missing),
    ]
    .iter()
    .map(|(a, b, k)| (a.to_string(), b.to_string(), *k))
    .collect();
    assert_eq!(got, want);
    assert_eq!(r.total, 43, "the i386 stanza is not part of an amd64 index");
}

#[test]
fn explanations_name_the_relation_and_line() {
    let u = rules();
    let r = check(&u, "test/amd64", &CheckOptions::default());
    let deep = r
        .broken
        .iter()
        .find(|b| b.package == "deep-missing")
        .unwrap();
    assert!(
        deep.explanation
            .contains("deep-missing=1.0 depends on missing-dep (rules.Packages:"),
        "{}",
        deep.explanation
    );
    assert!(
        deep.explanation
            .contains("missing-dep=1.0 depends on does-not-exist"),
        "{}",
        deep.explanation
    );
    assert_eq!(
        deep.unsat_dependencies,
        vec!["missing-dep=1.0 depends on does-not-exist".to_string()]
    );
    let conf = r.broken.iter().find(|b| b.package == "conf-both").unwrap();
    assert!(
        conf.explanation
            .contains("conf-x=1.0 conflicts with conf-y"),
        "{}",
        conf.explanation
    );
    assert_eq!(
        conf.conflicts,
        vec!["conf-x=1.0 conflicts with conf-y=1.0".to_string()]
    );
    assert!(conf.dot.starts_with("digraph"));
    let brk = r
        .broken
        .iter()
        .find(|b| b.package == "brk-both-old")
        .unwrap();
    assert!(
        brk.explanation.contains("brk-x=1.0 breaks brk-y (<< 2)"),
        "{}",
        brk.explanation
    );
}

#[test]
fn essential_packages_can_be_ignored() {
    let u = rules();
    let opts = CheckOptions {
        essential: false,
        ..CheckOptions::default()
    };
    let r = check(&u, "test/amd64", &opts);
    assert!(r.broken.iter().all(|b| b.package != "hates-essential"));
    assert_eq!(r.broken.len(), 12);
}

#[test]
fn backtracking_over_alternatives_finds_the_second_choice() {
    let u = rules();
    let r = check(
        &u,
        "test/amd64",
        &CheckOptions {
            threads: 1,
            ..CheckOptions::default()
        },
    );
    assert!(r.broken.iter().all(|b| b.package != "backtrack-top"));
}

#[test]
fn worker_count_does_not_change_the_result() {
    let u = rules();
    let a = check(
        &u,
        "test/amd64",
        &CheckOptions {
            threads: 1,
            ..CheckOptions::default()
        },
    );
    let b = check(
        &u,
        "test/amd64",
        &CheckOptions {
            threads: 3,
            ..CheckOptions::default()
        },
    );
    assert_eq!(a.broken, b.broken);
}
