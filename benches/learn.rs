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

#[path = "../tests/trial_support/universe.rs"]
mod universe;

use sonic_lock::trial::builder::{Builder, TrialInput, Verdict};
use sonic_lock::trial::journal::Journal;
use sonic_lock::trial::learn::{LearnConfig, Learner, Stage};
use sonic_lock::trial::pool::Workspace;
use sonic_lock::trial::triage::Triage;
use std::time::Instant;
use universe::{
    GenSearch, PyStage, checker, chronological, hidden_clauses_seeded, oldest, violates,
};

const VERSIONS: usize = 4;
/// Single broken versions and incompatible pairs, each this many.
const CLAUSES_EACH: usize = 2;
const SEEDS: u64 = 5;
const BASELINE_CAP: usize = 1000;

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

fn baseline(n: usize, seed: u64) -> (Option<usize>, f64) {
    let hidden = hidden_clauses_seeded(n, VERSIONS, CLAUSES_EACH, seed);
    let b = checker(&hidden, false);
    let d = tempfile::tempdir().expect("tempdir");
    let ws = Workspace::new(d.path());
    let t = Instant::now();
    let builds = chronological(n, VERSIONS, BASELINE_CAP, |a| {
        let hash = PyStage.candidate_hash(a);
        let input: TrialInput = ws.input(&hash, &b.describe()).expect("workspace");
        PyStage.materialize(a, &input).expect("materialize");
        let r = b.run(&input).expect("build");
        ws.tidy(&input);
        r.verdict == Verdict::Pass
    });
    (builds, t.elapsed().as_secs_f64())
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
        "V={VERSIONS} versions per package, {} hidden clauses ({CLAUSES_EACH} broken versions + {CLAUSES_EACH} incompatible pairs), median over {SEEDS} seeds, baseline capped at {BASELINE_CAP} builds",
        2 * CLAUSES_EACH
    );
    println!(
        "| packages N (= changed pins) | log2 N | chronological backtracking builds | learning loop builds (unattributed, ddmin) | builds / log2 N | ratio | learning loop builds (triage-attributed) | learning wall s | baseline wall s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &sizes {
        let mut lb = Vec::new();
        let mut lt = Vec::new();
        let mut ab = Vec::new();
        let mut bb = Vec::new();
        let mut bt = Vec::new();
        let mut capped = 0;
        for seed in 1..=SEEDS {
            let (b, t) = learn(n, seed, false, &triage);
            lb.push(b as f64);
            lt.push(t);
            ab.push(learn(n, seed, true, &triage).0 as f64);
            let (b, t) = baseline(n, seed);
            match b {
                Some(b) => bb.push(b as f64),
                None => {
                    capped += 1;
                    bb.push(f64::INFINITY);
                }
            }
            bt.push(t);
        }
        let l = median(&mut lb);
        let base = median(&mut bb);
        let log2 = (n as f64).log2();
        let base_s = if base.is_finite() {
            format!("{base}")
        } else {
            format!(">{BASELINE_CAP} ({capped}/{SEEDS} capped)")
        };
        let ratio = if base.is_finite() {
            format!("{:.1}x", base / l)
        } else {
            format!(">{:.0}x", BASELINE_CAP as f64 / l)
        };
        println!(
            "| {n} | {log2:.0} | {base_s} | {l} | {:.1} | {ratio} | {} | {:.2} | {:.2} |",
            l / log2,
            median(&mut ab),
            median(&mut lt),
            median(&mut bt),
        );
    }
}
