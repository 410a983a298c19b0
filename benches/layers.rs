//! Builds-to-lock and wall time of the learn loop with the `layers` builder
//! against the `command` builder, on the generated universes of the `learn`
//! bench, and the cost of a trial whose images are all unchanged.
//!
//! The layers side is real: every package `pNNN` version `V` of the universe
//! is a `.deb` made with `dpkg-deb --build` in a signed loopback archive; the
//! hidden clauses are real Debian relations (a broken version depends on a C
//! library newer than the base's; an incompatible pair is a dependency on
//! an older version of the other package), so every trial runs apt in
//! containers and the failures are apt's own. The packages are split between
//! two images, so a change in one leaves the other's layers cached. The
//! command side runs the `learn` bench's checker script with the same hidden
//! clauses.
//!
//! Needs docker and mmdebstrap. Run: `cargo bench --bench layers` (optional
//! args: sizes, e.g. `-- 8 16`).

mod common {
    #[path = "../../tests/common/loopback/mod.rs"]
    pub mod loopback;
}
#[path = "../tests/trial/layers_world.rs"]
mod layers_world;
#[path = "../tests/trial/universe.rs"]
mod universe;

use layers_world::{SUITE, archive, base_image, deb};
use sonic_lock::lock::{Lock, Pin};
use sonic_lock::manifest::Ecosystem;
use sonic_lock::trial::builder::{Builder, TrialError, TrialInput, Verdict};
use sonic_lock::trial::journal::Journal;
use sonic_lock::trial::layers::{LayersBuilder, LayersConfig};
use sonic_lock::trial::learn::{Assignment, LearnConfig, Learner, Stage};
use sonic_lock::trial::pool::Workspace;
use sonic_lock::trial::triage::{Implicated, Triage};
use std::time::Instant;
use universe::{GenSearch, PyStage, checker, hidden_clauses_seeded, oldest, pkg, violates};

const VERSIONS: usize = 4;
const CLAUSES_EACH: usize = 2;
const SEEDS: u64 = 3;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Assignments as candidate locks: package `i` is a Debian pin of `img-a` (first half) or `img-b`.
struct DebStage {
    n: usize,
}

impl DebStage {
    fn lock(&self, a: &Assignment<String>) -> Lock {
        let mut l = Lock::new("bench", &"a".repeat(40), "2022-12-06");
        for (i, (k, v)) in a.iter().enumerate() {
            let mut p = Pin::new(Ecosystem::Deb, k, v);
            p.suite = Some(SUITE.into());
            p.image = Some(if i < self.n / 2 { "img-a" } else { "img-b" }.into());
            l.upsert(p);
        }
        l.normalize();
        l
    }
}

impl Stage<String> for DebStage {
    fn candidate_hash(&self, a: &Assignment<String>) -> String {
        self.lock(a).candidate_hash()
    }

    fn materialize(&self, a: &Assignment<String>, input: &TrialInput) -> Result<(), TrialError> {
        self.lock(a)
            .write(&input.lockfile)
            .map_err(|e| TrialError::Io {
                path: input.lockfile.clone(),
                source: std::io::Error::other(e.to_string()),
            })
    }

    fn implicated_keys(&self, a: &Assignment<String>, imp: &Implicated) -> Vec<String> {
        match (&imp.ecosystem[..], &imp.name) {
            ("deb", Some(n)) => a.keys().filter(|k| *k == n).cloned().collect(),
            _ => Vec::new(),
        }
    }
}

/// The universe's debs: clause `[(p, V)]` makes `p V` uninstallable on the
/// base; `[(a, V), (b, V)]` makes `a V` depend on `b` older than `V`.
fn universe_debs(
    dir: &std::path::Path,
    n: usize,
    hidden: &[Vec<(String, String)>],
) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..n {
        for v in 1..=VERSIONS {
            let (name, ver) = (pkg(i), v.to_string());
            let mut deps: Vec<String> = Vec::new();
            for c in hidden {
                if c[0] == (name.clone(), ver.clone()) {
                    match c.get(1) {
                        None => deps.push("libc6 (>= 99.0)".into()),
                        Some((b, bv)) => deps.push(format!("{b} (<< {bv})")),
                    }
                }
            }
            out.push(deb(dir, &name, &ver, &deps.join(", "), None));
        }
    }
    out
}

struct Run {
    builds: usize,
    secs: f64,
}

fn learn(
    builder: &dyn Builder,
    stage: &dyn Stage<String>,
    n: usize,
    triage: &Triage,
    check: &[Vec<(String, String)>],
) -> Run {
    let d = tempfile::tempdir().expect("tempdir");
    let ws = Workspace::new(&d.path().join("ws"));
    let journal = Journal::open(&d.path().join("journal")).expect("journal");
    let learner = Learner {
        builder,
        journal: Some(&journal),
        workspace: &ws,
        triage,
        stage,
        config: LearnConfig {
            jobs: 1,
            max_builds: 10_000,
        },
        on_event: &|_| {},
    };
    let t = Instant::now();
    let locked = learner
        .run(&mut GenSearch::new(n, VERSIONS), Some(oldest(n)))
        .expect("the learning loop locks");
    let secs = t.elapsed().as_secs_f64();
    assert!(!violates(&locked.assignment, check));
    Run {
        builds: locked.builds,
        secs,
    }
}

fn main() {
    let mut sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![8, 16];
    }
    let triage = Triage::builtin().expect("built-in signatures");
    let base = base_image();
    println!(
        "V={VERSIONS} versions per package, {} hidden clauses, median over {SEEDS} seeds; layers: two images, apt in containers on a {SUITE} base",
        2 * CLAUSES_EACH
    );
    println!(
        "| packages N | command builds (unattributed, ddmin) | command builds (attributed) | layers builds | command wall s | layers wall s | layers s per build | unchanged trial s (every layer cached) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &n in &sizes {
        let (mut cb, mut ab, mut lb, mut ct, mut lt, mut per, mut warm) =
            (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for seed in 1..=SEEDS {
            let hidden = hidden_clauses_seeded(n, VERSIONS, CLAUSES_EACH, seed);
            let c = learn(&checker(&hidden, false), &PyStage, n, &triage, &hidden);
            cb.push(c.builds as f64);
            ct.push(c.secs);
            ab.push(learn(&checker(&hidden, true), &PyStage, n, &triage, &hidden).builds as f64);

            let dir = tempfile::tempdir().expect("tempdir");
            let (server, keyring) = archive(dir.path(), universe_debs(dir.path(), n, &hidden));
            let mut cfg = LayersConfig::new(vec![server.url("/debian")]);
            cfg.apt_keyring = Some(keyring);
            cfg.base = Some(base.clone());
            cfg.network_mode = Some("host".into());
            cfg.jobs = 2;
            let b = LayersBuilder::new(cfg).expect("layers builder");
            let stage = DebStage { n };
            let l = learn(&b, &stage, n, &triage, &hidden);
            lb.push(l.builds as f64);
            lt.push(l.secs);
            per.push(l.secs / l.builds as f64);

            // The reference (every package oldest) built once, then again: every layer is a hit.
            let w = Workspace::new(&dir.path().join("warm"));
            let locked = oldest(n);
            let input = w
                .input(&stage.candidate_hash(&locked), "warm")
                .expect("input");
            stage.materialize(&locked, &input).expect("materialize");
            b.run(&input).expect("first run");
            let t = Instant::now();
            let r = b.run(&input).expect("warm run");
            warm.push(t.elapsed().as_secs_f64());
            assert_eq!(r.verdict, Verdict::Pass);
        }
        println!(
            "| {n} | {} | {} | {} | {:.2} | {:.1} | {:.2} | {:.2} |",
            median(&mut cb),
            median(&mut ab),
            median(&mut lb),
            median(&mut ct),
            median(&mut lt),
            median(&mut per),
            median(&mut warm),
        );
    }
}
