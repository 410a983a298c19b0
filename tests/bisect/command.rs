//! Bisection with the real command builder: every trial spawns `sh`, which
//! inspects the candidate sonic-lock exported (the versions tree in
//! SONIC_LOCK_VERSIONS_DIR and the lockfile in SONIC_LOCK_LOCKFILE) and fails
//! when culprit pins are present. Change sets are generated in code.

use sonic_lock::bisect::engine::{BisectStatus, Config, Outcome, Strategy, bisect};
use sonic_lock::bisect::locks::LockChanges;
use sonic_lock::bisect::runner::BuildOracle;
use sonic_lock::bisect::{BisectError, Requirements};
use sonic_lock::lock::{Lock, Pin};
use sonic_lock::manifest::Ecosystem;
use sonic_lock::trial::builder::Verdict;
use sonic_lock::trial::command::CommandBuilder;
use sonic_lock::trial::journal::Journal;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

const COMMIT: &str = "586d715f172b1b72e9fc1e7b55625e2e5af590c2";

/// Good pins `pkgI==1.0`, bad pins `pkgI==1.1`; `needs` lists (i, j): the new
/// pkgI pulls in the new pkgJ (pkgJ's new pin names pkgI among its dependents).
fn locks(n: usize, needs: &[(usize, usize)]) -> (Lock, Lock) {
    let mut good = Lock::new("wedge100bf-32x", COMMIT, "2022-12-06");
    let mut bad = Lock::new("wedge100bf-32x", COMMIT, "2022-12-07");
    for i in 0..n {
        let name = format!("pkg{i:02}");
        let mut g = Pin::new(Ecosystem::Py, &name, "1.0");
        g.why = vec![format!("dockers/docker-test/Dockerfile.j2:{}", 10 + i)];
        good.upsert(g);
        let mut b = Pin::new(Ecosystem::Py, &name, "1.1");
        b.why = vec![format!("dockers/docker-test/Dockerfile.j2:{}", 10 + i)];
        b.url = Some(format!("https://pypi.org/simple/{name}/"));
        b.dependents = needs
            .iter()
            .filter(|(_, j)| *j == i)
            .map(|(d, _)| format!("pkg{d:02}"))
            .collect();
        bad.upsert(b);
    }
    good.normalize();
    bad.normalize();
    (good, bad)
}

/// A `sh -c` builder; the script sees the candidate in the environment and
/// appends one line per build to `$COUNT` so builds can be counted from outside.
fn builder(script: &str, count: &Path) -> CommandBuilder {
    let prelude = "test -f \"$SONIC_LOCK_LOCKFILE\" || exit 200; \
                   test -d \"$SONIC_LOCK_VERSIONS_DIR\" || exit 200; \
                   echo \"$SONIC_LOCK_CANDIDATE\" >> \"$COUNT\"; \
                   has() { grep -rqx \"$1==1.1\" \"$SONIC_LOCK_VERSIONS_DIR\"; }; ";
    CommandBuilder::new(vec!["sh".into(), "-c".into(), format!("{prelude}{script}")])
        .with_env("COUNT", &count.display().to_string())
}

fn builds_run(count: &Path) -> usize {
    std::fs::read_to_string(count)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

fn never() -> bool {
    false
}

fn run(
    changes: &LockChanges,
    b: &CommandBuilder,
    state: &Path,
    journal: Option<&Journal>,
    cfg: &Config,
) -> Result<Outcome, BisectError> {
    let req = changes.requirements()?;
    let memo = journal.map(|j| j as &dyn sonic_lock::bisect::runner::TrialMemo);
    let oracle = BuildOracle::new(b, changes, &state.join("trials"), memo, &never);
    bisect(&oracle, &req, cfg)
}

fn culprit_names(changes: &LockChanges, set: &[usize]) -> Vec<String> {
    set.iter()
        .map(|&i| changes.diff.changes[i].key.name.clone())
        .collect()
}

fn ceil_log2(n: usize) -> usize {
    (usize::BITS - (n - 1).leading_zeros()) as usize
}

#[test]
fn single_culprit_is_found_within_log2_plus_two_builds() {
    for (n, culprit) in [(16usize, 7usize), (40, 0), (40, 39), (33, 20)] {
        let dir = tempfile::tempdir().unwrap();
        let count = dir.path().join("count");
        let (good, bad) = locks(n, &[]);
        let changes = LockChanges::new(good, &bad);
        assert_eq!(changes.len(), n);
        let b = builder(
            &format!("if has pkg{culprit:02}; then echo broken; exit 1; fi; exit 0"),
            &count,
        );
        let out = run(&changes, &b, dir.path(), None, &Config::default()).unwrap();
        assert_eq!(out.status, BisectStatus::Culprit);
        assert_eq!(
            culprit_names(&changes, &out.culprit_sets[0].changes),
            vec![format!("pkg{culprit:02}")]
        );
        assert_eq!(builds_run(&count), out.builds);
        assert!(
            out.builds <= ceil_log2(n) + 2,
            "N={n}: {} builds",
            out.builds
        );
        // Every trial left its log where the report links it.
        for t in &out.trials {
            assert!(Path::new(t.log.as_deref().unwrap()).exists());
        }
    }
}

#[test]
fn two_interacting_culprits_are_found_together() {
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    let (good, bad) = locks(24, &[]);
    let changes = LockChanges::new(good, &bad);
    let b = builder("if has pkg03 && has pkg17; then exit 1; fi; exit 0", &count);
    for strategy in [Strategy::Auto, Strategy::Ddmin] {
        let cfg = Config {
            strategy,
            confirm: 1,
            ..Config::default()
        };
        let out = run(&changes, &b, dir.path(), None, &cfg).unwrap();
        assert_eq!(out.status, BisectStatus::Culprit, "{strategy:?}");
        assert_eq!(
            culprit_names(&changes, &out.culprit_sets[0].changes),
            vec!["pkg03", "pkg17"]
        );
        let c = out.culprit_sets[0].confirmation.unwrap();
        assert_eq!(
            (c.good_plus_culprits_failed, c.bad_minus_culprits_passed),
            (1, 1)
        );
    }
}

#[test]
fn culprit_is_applied_with_the_change_it_requires_and_no_inconsistent_candidate_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    // The new pkg12 needs the new pkg02; the build breaks with the new pkg12.
    let (good, bad) = locks(20, &[(12, 2)]);
    let changes = LockChanges::new(good, &bad);
    assert_eq!(changes.requirement_pairs().len(), 1);
    // Exit 255 (abort) if a candidate has the new pkg12 without the new pkg02.
    let b = builder(
        "if has pkg12 && ! has pkg02; then echo inconsistent; exit 255; fi; \
         if has pkg12; then exit 1; fi; exit 0",
        &count,
    );
    let cfg = Config {
        confirm: 2,
        ..Config::default()
    };
    let out = run(&changes, &b, dir.path(), None, &cfg).unwrap();
    assert_eq!(out.status, BisectStatus::Culprit);
    let set = &out.culprit_sets[0];
    assert_eq!(culprit_names(&changes, &set.changes), vec!["pkg12"]);
    assert_eq!(culprit_names(&changes, &set.applied_with), vec!["pkg02"]);
    assert!(out.trials.iter().all(|t| t.verdict != Verdict::Abort));
}

#[test]
fn flaky_failure_is_reported_as_flaky_not_as_a_culprit() {
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    let seen = dir.path().join("seen");
    std::fs::create_dir(&seen).unwrap();
    // Candidates with the new pkg05 fail the first time they are built only.
    let (good, bad) = locks(16, &[]);
    let changes = LockChanges::new(good, &bad);
    let b = builder(
        &format!(
            "m={}/$SONIC_LOCK_CANDIDATE; if [ -e \"$m\" ]; then exit 0; fi; touch \"$m\"; \
             if has pkg05; then exit 1; fi; exit 0",
            seen.display()
        ),
        &count,
    );
    let cfg = Config {
        confirm: 2,
        ..Config::default()
    };
    let out = run(&changes, &b, dir.path(), None, &cfg).unwrap();
    assert_eq!(out.status, BisectStatus::Flaky);
    assert_eq!(out.status.exit_code(), 3);
    assert!(out.notes.iter().any(|n| n.contains("flaky")));
}

#[test]
fn skipped_candidates_are_routed_around() {
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    let (good, bad) = locks(32, &[]);
    let changes = LockChanges::new(good, &bad);
    // Candidates with the new pkg14 but not the new pkg15 cannot be judged.
    let b = builder(
        "if has pkg14 && ! has pkg15; then exit 125; fi; \
         if has pkg13 && ! has pkg14; then exit 125; fi; \
         if has pkg20; then exit 1; fi; exit 0",
        &count,
    );
    let out = run(&changes, &b, dir.path(), None, &Config::default()).unwrap();
    assert_eq!(out.status, BisectStatus::Culprit);
    assert_eq!(
        culprit_names(&changes, &out.culprit_sets[0].changes),
        vec!["pkg20"]
    );
    // When the culprit itself sits between skipped candidates, the answer is "one of these".
    let b = builder(
        "if has pkg14 && ! has pkg15; then exit 125; fi; \
         if has pkg13 && ! has pkg14; then exit 125; fi; \
         if has pkg14; then exit 1; fi; exit 0",
        &count,
    );
    let out = run(&changes, &b, dir.path(), None, &Config::default()).unwrap();
    assert_eq!(out.status, BisectStatus::Undecidable);
    assert_eq!(out.status.exit_code(), 3);
    let suspects = culprit_names(&changes, &out.suspects);
    assert!(suspects.contains(&"pkg14".to_string()), "{suspects:?}");
    assert!(suspects.len() <= 3, "{suspects:?}");
}

#[test]
fn bad_candidate_that_builds_means_nothing_to_bisect() {
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    let (good, bad) = locks(8, &[]);
    let changes = LockChanges::new(good, &bad);
    let b = builder("exit 0", &count);
    let out = run(&changes, &b, dir.path(), None, &Config::default()).unwrap();
    assert_eq!(out.status, BisectStatus::BadPasses);
    assert_eq!(out.status.exit_code(), 1);
    assert_eq!(builds_run(&count), 1);
}

#[test]
fn interrupted_run_resumes_from_the_journal_without_rebuilding() {
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    let (good, bad) = locks(64, &[]);
    let changes = LockChanges::new(good, &bad);
    let b = builder("if has pkg41; then exit 1; fi; exit 0", &count);
    let req = changes.requirements().unwrap();
    let cfg = Config::default();

    // The uninterrupted reference.
    let reference = {
        let d = tempfile::tempdir().unwrap();
        let c = d.path().join("count");
        let b = builder("if has pkg41; then exit 1; fi; exit 0", &c);
        let r = run(&changes, &b, d.path(), None, &cfg).unwrap();
        assert_eq!(builds_run(&c), r.builds);
        r
    };

    // "Ctrl-C" after three builds: the oracle sees the flag before the fourth.
    let journal_path = dir.path().join("journal.jsonl");
    {
        let journal = Journal::open(&journal_path).unwrap();
        let polls = AtomicUsize::new(0);
        let after_three = || polls.fetch_add(1, Ordering::SeqCst) >= 6;
        let oracle = BuildOracle::new(
            &b,
            &changes,
            &dir.path().join("trials"),
            Some(&journal),
            &after_three,
        );
        let err = bisect(&oracle, &req, &cfg).unwrap_err();
        assert!(matches!(err, BisectError::Interrupted), "{err}");
    }
    let before = builds_run(&count);
    assert!(before >= 1 && before < reference.builds);

    // The next run continues: the finished trials are replayed, not rebuilt.
    let journal = Journal::open(&journal_path).unwrap();
    let out = run(&changes, &b, dir.path(), Some(&journal), &cfg).unwrap();
    assert_eq!(out.status, BisectStatus::Culprit);
    assert_eq!(out.culprit_sets, reference.culprit_sets);
    assert_eq!(builds_run(&count), reference.builds);
    assert_eq!(out.builds, reference.builds - before);
    assert_eq!(out.trials.iter().filter(|t| t.replayed).count(), before);
}

#[test]
fn no_requirements_means_every_change_stands_alone() {
    let (good, bad) = locks(5, &[]);
    let changes = LockChanges::new(good, &bad);
    assert_eq!(changes.requirements().unwrap(), Requirements::none(5));
    let infos = changes.infos();
    assert_eq!(infos[3].summary, "py pkg03 1.0 -> 1.1");
    assert_eq!(
        infos[3].origin.as_deref(),
        Some("dockers/docker-test/Dockerfile.j2:13")
    );
    assert_eq!(
        infos[3].source.as_deref(),
        Some("https://pypi.org/simple/pkg03/")
    );
}

#[test]
fn moved_mirror_snapshot_is_a_change_like_any_pin() {
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    let (mut good, mut bad) = locks(10, &[]);
    let archive = |ts: &str| sonic_lock::lock::Archive {
        name: "debian".into(),
        snapshot: ts.into(),
        url: Some(format!("https://snapshot.debian.org/archive/debian/{ts}/")),
    };
    good.archives = vec![archive("20221201T000000Z")];
    bad.archives = vec![archive("20221208T000000Z")];
    let changes = LockChanges::new(good, &bad);
    assert_eq!(changes.len(), 11);
    assert_eq!(
        changes
            .candidate(&(0..11).collect::<Vec<_>>())
            .candidate_hash(),
        bad.candidate_hash()
    );
    let b = builder(
        "if grep -rqx 'debian==20221208T000000Z' \"$SONIC_LOCK_VERSIONS_DIR\"; then exit 1; fi; exit 0",
        &count,
    );
    let out = run(&changes, &b, dir.path(), None, &Config::default()).unwrap();
    assert_eq!(out.status, BisectStatus::Culprit);
    assert_eq!(out.culprit_sets[0].changes, vec![10]);
    assert_eq!(
        changes.infos()[10].summary,
        "archive debian 20221201T000000Z -> 20221208T000000Z"
    );
}

#[test]
fn parallel_builders_split_k_ways_per_round() {
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    let (good, bad) = locks(100, &[]);
    let changes = LockChanges::new(good, &bad);
    let b = builder("if has pkg61; then exit 1; fi; exit 0", &count);
    let cfg = Config {
        jobs: 4,
        ..Config::default()
    };
    let out = run(&changes, &b, dir.path(), None, &cfg).unwrap();
    assert_eq!(out.status, BisectStatus::Culprit);
    assert_eq!(
        culprit_names(&changes, &out.culprit_sets[0].changes),
        vec!["pkg61"]
    );
    assert_eq!(builds_run(&count), out.builds);
    // ceil(log5 100) = 3 search rounds, plus the baseline round (G and B together)
    // and the round confirming the culprit alone.
    assert!(out.rounds <= 5, "{} rounds", out.rounds);
    assert!(out.builds > out.rounds);
    let per_round = out
        .trials
        .iter()
        .fold(std::collections::BTreeMap::new(), |mut m, t| {
            *m.entry(t.round).or_insert(0usize) += 1;
            m
        });
    assert!(per_round.values().all(|&k| k <= 4));
    assert!(per_round.values().any(|&k| k == 4));
}
