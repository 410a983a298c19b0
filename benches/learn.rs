//! Builds-to-lock of the learning loop against plain chronological
//! backtracking, on generated universes with hidden incompatibilities.
//!
//! Every trial is a real build: a `CommandBuilder` running a small `/bin/sh`
//! checker that exits 1 when the candidate's versions file satisfies a hidden
//! clause (silently, so the loop must isolate the culprits by delta debugging;
//! the "attributed" column has the checker print a pip-style error that triage
//! recognises). Each universe has N packages with V versions; the reference
//! (a lock that once built) is every package at its oldest version, the search
//! prefers the newest, so the first candidate changes all N pins.
//!
//! Run: `cargo bench --bench learn` (optional args: sizes, e.g. `-- 8 16 32`).

#[path = "../tests/trial/universe.rs"]
mod universe;

use sonic_lock::lock::{Lock, Pin};
use sonic_lock::manifest::Ecosystem;
use sonic_lock::trial::builder::{Builder, TrialInput, Verdict};
use sonic_lock::trial::journal::Journal;
use sonic_lock::trial::learn::{LearnConfig, Learner, Search, Stage};
use sonic_lock::trial::pool::Workspace;
use sonic_lock::trial::search::SolverSearch;
use sonic_lock::trial::stage::LockStage;
use sonic_lock::trial::triage::Triage;
use sonic_lock::universe::{CandidateMeta, PackageKey, Universe};
use std::time::Instant;
use universe::{
    GenSearch, PyStage, checker, chronological, hidden_clauses_seeded, oldest, violates,
};

const VERSIONS: usize = 4;
/// Single broken versions and incompatible pairs, each this many.
const CLAUSES_EACH: usize = 2;
const SEEDS: u64 = 3;
/// Baseline candidates really built before the rest of its order is counted.
const BASELINE_REAL: usize = 200;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn learn(n: usize, seed: u64, explain: bool, triage: &Triage) -> (usize, f64) {
    let hidden = hidden_clauses_seeded(n, VERSIONS, CLAUSES_EACH, seed);
    let b = checker(&hidden, explain);
    let d = tempfile::tempdir().expect("tempdir");
    let ws = Workspace::new(&d.path().join("ws"));
    let journal = Journal::open(&d.path().join("journal")).expect("journal");
    let learner = Learner {
        builder: &b,
        journal: Some(&journal),
        workspace: &ws,
        triage,
        stage: &PyStage,
        config: LearnConfig {
            jobs: 1,
            max_builds: 100_000,
        },
        on_event: &|_| {},
    };
    let t = Instant::now();
    let locked = learner
        .run(&mut GenSearch::new(n, VERSIONS), Some(oldest(n)))
        .expect("the learning loop locks");
    let secs = t.elapsed().as_secs_f64();
    assert!(!violates(&locked.assignment, &hidden));
    (locked.builds, secs)
}

/// The same loop with the real conflict-driven solver as the search and the
/// lock stage (candidate lockfile + SONiC versions export) as materialiser.
fn learn_solver(n: usize, seed: u64, triage: &Triage) -> (usize, f64) {
    let hidden = hidden_clauses_seeded(n, VERSIONS, CLAUSES_EACH, seed);
    let b = checker(&hidden, false);
    let mut u = Universe::new();
    let pin = |name: &str, v: &str| {
        let mut p = Pin::new(Ecosystem::Py, name, v);
        p.python = Some("py3".into());
        p
    };
    let mut newest = Lock::new("bench", &"a".repeat(40), "2022-12-06");
    let mut oldest_lock = newest.clone();
    for i in 0..n {
        let id = u.intern(PackageKey::new(Ecosystem::Py, "py3", &universe::pkg(i)));
        for v in 1..=VERSIONS {
            u.add_candidate(
                id,
                &v.to_string(),
                CandidateMeta::default(),
                vec![],
                vec![],
                vec![],
            )
            .expect("candidate");
        }
        newest.upsert(pin(&universe::pkg(i), &VERSIONS.to_string()));
        oldest_lock.upsert(pin(&universe::pkg(i), "1"));
    }
    newest.normalize();
    oldest_lock.normalize();
    let stage = LockStage::new(newest.clone());
    let d = tempfile::tempdir().expect("tempdir");
    let ws = Workspace::new(&d.path().join("ws"));
    let journal = Journal::open(&d.path().join("journal")).expect("journal");
    let learner = Learner {
        builder: &b,
        journal: Some(&journal),
        workspace: &ws,
        triage,
        stage: &stage,
        config: LearnConfig {
            jobs: 1,
            max_builds: 100_000,
        },
        on_event: &|_| {},
    };
    let t = Instant::now();
    let locked = learner
        .run(
            &mut SolverSearch::for_candidate(&u, &newest),
            Some(LockStage::assignment_of(&oldest_lock)),
        )
        .expect("the learning loop locks");
    let secs = t.elapsed().as_secs_f64();
    let plain: sonic_lock::trial::learn::Assignment<String> = locked
        .assignment
        .iter()
        .map(|(k, v)| (k.name.clone(), v.clone()))
        .collect();
    assert!(!violates(&plain, &hidden));
    (locked.builds, secs)
}

/// Chronological backtracking: the first `BASELINE_REAL` candidates are really
/// built; if none passed, the count is the position of the first passing
/// candidate in the same order, found as the lexicographically first
/// assignment (newest first, last package varying fastest) that no hidden
/// clause rejects. The flag says the count was extrapolated, not built.
fn baseline(n: usize, seed: u64) -> (f64, f64, bool) {
    let hidden = hidden_clauses_seeded(n, VERSIONS, CLAUSES_EACH, seed);
    let b = checker(&hidden, false);
    let d = tempfile::tempdir().expect("tempdir");
    let ws = Workspace::new(d.path());
    let t = Instant::now();
    let builds = chronological(n, VERSIONS, BASELINE_REAL, |a| {
        let hash = PyStage.candidate_hash(a);
        let input: TrialInput = ws.input(&hash, &b.describe()).expect("workspace");
        PyStage.materialize(a, &input).expect("materialize");
        let r = b.run(&input).expect("build");
        ws.tidy(&input);
        assert_eq!(r.verdict == Verdict::Pass, !violates(a, &hidden));
        r.verdict == Verdict::Pass
    });
    let secs = t.elapsed().as_secs_f64();
    if let Some(b) = builds {
        return (b as f64, secs, false);
    }
    let mut s = GenSearch::new(n, VERSIONS);
    for c in &hidden {
        s.forbid(c.clone(), "hidden");
    }
    let first = s.propose().expect("a passing assignment exists");
    // Position in the odometer order: digit 0 is the newest version.
    let mut pos = 0f64;
    for (_, v) in first.iter() {
        let digit = VERSIONS - v.parse::<usize>().expect("numeric version");
        pos = pos * VERSIONS as f64 + digit as f64;
    }
    (pos + 1.0, secs, true)
}

fn main() {
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![8, 16, 32, 64, 128, 256];
    }
    let triage = Triage::builtin().expect("built-in signatures");
    println!(
        "V={VERSIONS} versions per package, {} hidden clauses ({CLAUSES_EACH} broken versions + {CLAUSES_EACH} incompatible pairs), median over {SEEDS} seeds; baseline: the first {BASELINE_REAL} candidates really built. The measured ratio is baseline builds / learning builds when the baseline locked within {BASELINE_REAL} builds, else a lower bound ({BASELINE_REAL} / learning builds); the extrapolated column is the position of the baseline's first passing candidate in its order, computed, never built",
        2 * CLAUSES_EACH
    );
    println!(
        "| packages N (= changed pins) | log2 N | chronological backtracking builds (measured, at most {BASELINE_REAL}) | learning loop builds (unattributed, ddmin) | builds / log2 N | measured ratio | learning loop builds (triage-attributed) | learning loop builds (unattributed, real solver + lock export) | learning wall s | baseline wall s | baseline position (extrapolated, not built) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &sizes {
        let mut lb = Vec::new();
        let mut lt = Vec::new();
        let mut ab = Vec::new();
        let mut bb = Vec::new();
        let mut bt = Vec::new();
        let mut sb = Vec::new();
        let mut extrapolated = false;
        for seed in 1..=SEEDS {
            let (b, t) = learn(n, seed, false, &triage);
            lb.push(b as f64);
            lt.push(t);
            ab.push(learn(n, seed, true, &triage).0 as f64);
            sb.push(learn_solver(n, seed, &triage).0 as f64);
            let (b, t, x) = baseline(n, seed);
            bb.push(b);
            bt.push(t);
            extrapolated |= x;
        }
        let l = median(&mut lb);
        let base = median(&mut bb);
        let log2 = (n as f64).log2();
        // Any seed past the real builds makes the median's count unmeasured.
        let (measured, ratio, position) = if extrapolated {
            let cap = BASELINE_REAL as f64;
            (
                format!("> {BASELINE_REAL}"),
                format!("> {:.1}x (lower bound)", cap / l),
                format!("{base:.2e}"),
            )
        } else {
            (format!("{base}"), format!("{:.1}x", base / l), "-".into())
        };
        println!(
            "| {n} | {log2:.0} | {measured} | {l} | {:.1} | {ratio} | {} | {} | {:.2} | {:.2} | {position} |",
            l / log2,
            median(&mut ab),
            median(&mut sb),
            median(&mut lt),
            median(&mut bt),
        );
    }
}
