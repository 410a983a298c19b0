//! The lock loop with real command builds on generated universes: triage-
//! attributed failures, delta debugging of unattributed ones, resume from the
//! journal, unsatisfiable and aborting builds.

use crate::universe::{GenSearch, PyStage, checker, hidden_clauses, oldest, pkg, violates};
use sonic_lock::trial::builder::Builder;
use sonic_lock::trial::command::CommandBuilder;
use sonic_lock::trial::journal::Journal;
use sonic_lock::trial::learn::{
    Attribution, Event, Forbid, LearnConfig, LearnError, Learner, Locked, Search,
};
use sonic_lock::trial::pool::Workspace;
use sonic_lock::trial::triage::Triage;

fn triage() -> &'static Triage {
    static T: std::sync::OnceLock<Triage> = std::sync::OnceLock::new();
    T.get_or_init(|| Triage::builtin().unwrap())
}

fn run(
    dir: &std::path::Path,
    builder: &dyn Builder,
    search: &mut GenSearch,
    reference: Option<sonic_lock::trial::learn::Assignment<String>>,
    jobs: usize,
) -> Result<Locked<String>, LearnError> {
    let ws = Workspace::new(&dir.join("ws"));
    let journal = Journal::open(&dir.join("journal")).unwrap();
    let learner = Learner {
        builder,
        journal: Some(&journal),
        workspace: &ws,
        triage: triage(),
        stage: &PyStage,
        config: LearnConfig {
            jobs,
            max_builds: 500,
        },
        on_event: &|_| {},
    };
    learner.run(search, reference)
}

fn v(k: usize, ver: &str) -> (String, String) {
    (pkg(k), ver.to_string())
}

#[test]
fn triage_attributed_failures_are_learned_in_one_build_each() {
    let d = tempfile::tempdir().unwrap();
    let hidden = vec![vec![v(3, "4")], vec![v(3, "3")], vec![v(6, "4")]];
    let b = checker(&hidden, true);
    let mut s = GenSearch::new(8, 4);
    let locked = run(d.path(), &b, &mut s, None, 1).unwrap();
    assert!(!violates(&locked.assignment, &hidden));
    assert_eq!(locked.assignment[&pkg(3)], "2");
    assert_eq!(locked.assignment[&pkg(6)], "3");
    assert_eq!(
        locked.builds, 4,
        "one failing build per hidden clause, then the pass"
    );
    assert_eq!(locked.learned.len(), 3);
    for l in &locked.learned {
        assert_eq!(l.picks.len(), 1);
        assert!(matches!(l.attribution, Attribution::Triage(_)));
    }
}

#[test]
fn unattributed_failures_are_isolated_by_delta_debugging() {
    let d = tempfile::tempdir().unwrap();
    let hidden = vec![vec![v(5, "4"), v(9, "4")], vec![v(12, "4")]];
    let b = checker(&hidden, false);
    let mut s = GenSearch::new(16, 4);
    let locked = run(d.path(), &b, &mut s, Some(oldest(16)), 1).unwrap();
    assert!(!violates(&locked.assignment, &hidden));
    let mut learned: Vec<_> = locked.learned.iter().map(|l| l.picks.clone()).collect();
    learned.sort();
    assert_eq!(learned, vec![vec![v(5, "4"), v(9, "4")], vec![v(12, "4")]]);
    assert!(
        locked
            .learned
            .iter()
            .all(|l| l.attribution == Attribution::DeltaDebugging)
    );
    // Everything else stays newest: the nogoods are minimal.
    let newest_count = locked.assignment.values().filter(|x| *x == "4").count();
    assert_eq!(newest_count, 14);
    // Far fewer than the 4^16 candidates chronological backtracking could walk.
    assert!(locked.builds < 40, "{} builds", locked.builds);
}

#[test]
fn parallel_isolation_finds_the_same_culprits() {
    let d = tempfile::tempdir().unwrap();
    let hidden = vec![vec![v(2, "3"), v(7, "3")]];
    let b = checker(&hidden, false);
    let mut s = GenSearch::new(12, 3);
    let locked = run(d.path(), &b, &mut s, Some(oldest(12)), 3).unwrap();
    assert_eq!(locked.learned[0].picks, vec![v(2, "3"), v(7, "3")]);
    assert!(!violates(&locked.assignment, &hidden));
}

#[test]
fn without_a_passing_reference_the_whole_candidate_is_forbidden() {
    let d = tempfile::tempdir().unwrap();
    let hidden = vec![vec![v(1, "2")]];
    let b = checker(&hidden, false);
    let mut s = GenSearch::new(3, 2);
    let locked = run(d.path(), &b, &mut s, None, 1).unwrap();
    assert_eq!(locked.learned[0].attribution, Attribution::WholeCandidate);
    assert!(!violates(&locked.assignment, &hidden));
}

#[test]
fn a_rerun_resumes_from_the_journal_without_building() {
    let d = tempfile::tempdir().unwrap();
    let hidden = hidden_clauses(16, 3, 2);
    let b = checker(&hidden, false);
    let first = run(
        d.path(),
        &b,
        &mut GenSearch::new(16, 3),
        Some(oldest(16)),
        1,
    )
    .unwrap();
    assert!(first.builds > 0);
    let second = run(
        d.path(),
        &b,
        &mut GenSearch::new(16, 3),
        Some(oldest(16)),
        1,
    )
    .unwrap();
    assert_eq!(second.builds, 0);
    assert_eq!(second.cached, first.builds + first.cached);
    assert_eq!(second.assignment, first.assignment);
}

#[test]
fn unsatisfiable_and_aborting_builds_stop_the_loop() {
    let d = tempfile::tempdir().unwrap();
    let hidden = vec![vec![v(0, "1")], vec![v(0, "2")]];
    let b = checker(&hidden, true);
    let e = run(d.path(), &b, &mut GenSearch::new(2, 2), None, 1).unwrap_err();
    assert!(matches!(e, LearnError::Unsat { learned: 2, .. }), "{e}");

    let d = tempfile::tempdir().unwrap();
    let abort = CommandBuilder::new(vec!["/bin/sh".into(), "-c".into(), "exit 200".into()]);
    let e = run(d.path(), &abort, &mut GenSearch::new(2, 2), None, 1).unwrap_err();
    assert!(matches!(e, LearnError::Aborted { .. }), "{e}");
}

#[test]
fn gen_search_honours_nogoods() {
    let mut s = GenSearch::new(3, 2);
    s.forbid(vec![v(0, "2"), v(2, "2")], "x");
    let a = s.propose().unwrap();
    assert_eq!((a[&pkg(0)].as_str(), a[&pkg(2)].as_str()), ("2", "1"));
}

/// A search that cannot change `fixed`: nogoods on it alone are unchangeable,
/// as git, web and docker pins are to the real searches.
struct FixedPin {
    inner: GenSearch,
    fixed: String,
}

impl Search for FixedPin {
    type Key = String;

    fn propose(
        &mut self,
    ) -> Result<sonic_lock::trial::learn::Assignment<String>, sonic_lock::trial::learn::SearchError>
    {
        let mut a = self.inner.propose()?;
        a.insert(self.fixed.clone(), "1".into());
        Ok(a)
    }

    fn forbid(&mut self, picks: Vec<(String, String)>, reason: &str) -> Forbid {
        let picks: Vec<_> = picks
            .into_iter()
            .filter(|(k, _)| *k != self.fixed)
            .collect();
        if picks.is_empty() {
            return Forbid::Unchangeable;
        }
        self.inner.forbid(picks, reason)
    }
}

/// A search that forgets every nogood: it proposes the same candidate forever.
struct Forgetful(GenSearch);

impl Search for Forgetful {
    type Key = String;

    fn propose(
        &mut self,
    ) -> Result<sonic_lock::trial::learn::Assignment<String>, sonic_lock::trial::learn::SearchError>
    {
        self.0.propose()
    }

    fn forbid(&mut self, _picks: Vec<(String, String)>, _reason: &str) -> Forbid {
        Forbid::Learned
    }
}

fn learner_run<S: Search<Key = String>>(
    dir: &std::path::Path,
    builder: &dyn Builder,
    search: &mut S,
    reference: Option<sonic_lock::trial::learn::Assignment<String>>,
) -> (Result<Locked<String>, LearnError>, usize, usize) {
    let ws = Workspace::new(&dir.join("ws"));
    let journal = Journal::open(&dir.join("journal")).unwrap();
    let builds = std::sync::atomic::AtomicUsize::new(0);
    let nogoods = std::sync::atomic::AtomicUsize::new(0);
    let learner = Learner {
        builder,
        journal: Some(&journal),
        workspace: &ws,
        triage: triage(),
        stage: &PyStage,
        config: LearnConfig {
            jobs: 1,
            max_builds: 50,
        },
        on_event: &|e| match e {
            Event::Judged { cached: false, .. } => {
                builds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            Event::Learned(_) => {
                nogoods.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            _ => {}
        },
    };
    let r = learner.run(search, reference);
    (r, builds.into_inner(), nogoods.into_inner())
}

fn sh(script: &str) -> CommandBuilder {
    CommandBuilder::new(vec!["/bin/sh".into(), "-c".into(), script.into()])
}

#[test]
fn a_builder_that_cannot_reach_its_sources_stops_the_loop_without_learning() {
    let d = tempfile::tempdir().unwrap();
    let b = sh(
        "echo 'E: Failed to fetch http://127.0.0.1:1/debian/dists/bullseye/main/binary-amd64/Packages  Connection refused'; exit 100",
    );
    let (r, builds, nogoods) = learner_run(d.path(), &b, &mut GenSearch::new(6, 3), None);
    let e = r.unwrap_err();
    assert!(matches!(e, LearnError::Infrastructure { .. }), "{e}");
    assert!(e.to_string().contains("cannot reach its sources"), "{e}");
    assert!(builds <= 2, "{builds} builds");
    assert_eq!(nogoods, 0);
    // The same with a passing reference: delta debugging must not learn from it either.
    let d = tempfile::tempdir().unwrap();
    let (r, builds, nogoods) =
        learner_run(d.path(), &b, &mut GenSearch::new(6, 3), Some(oldest(6)));
    assert!(matches!(r, Err(LearnError::Infrastructure { .. })));
    assert!(
        builds <= 2 && nogoods == 0,
        "{builds} builds, {nogoods} nogoods"
    );
}

#[test]
fn every_candidate_failing_with_the_same_unblamed_error_stops_after_two() {
    let d = tempfile::tempdir().unwrap();
    let b = sh("echo 'building'; echo 'error: the build machine is out of order'; exit 1");
    let (r, builds, nogoods) = learner_run(d.path(), &b, &mut GenSearch::new(4, 3), None);
    let e = r.unwrap_err();
    assert!(
        e.to_string().contains(
            "every candidate fails the same way: error: the build machine is out of order"
        ),
        "{e}"
    );
    assert_eq!(builds, 2);
    assert_eq!(nogoods, 1, "only the first failure was learned");
}

#[test]
fn a_failure_blamed_only_on_unchangeable_pins_stops_with_their_names() {
    let d = tempfile::tempdir().unwrap();
    // Triage blames the fixed pin alone (pip names it), every time.
    let b = sh("echo 'ERROR: No matching distribution found for fixed==1'; exit 1");
    let mut s = FixedPin {
        inner: GenSearch::new(3, 2),
        fixed: "fixed".into(),
    };
    let t = std::time::Instant::now();
    let (r, builds, nogoods) = learner_run(d.path(), &b, &mut s, None);
    let e = r.unwrap_err();
    assert!(matches!(e, LearnError::Unchangeable { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("blamed on pins no alternative exists for: fixed = 1"),
        "{e}"
    );
    assert_eq!((builds, nogoods), (1, 0));
    assert!(t.elapsed() < std::time::Duration::from_secs(30));
    // Unattributed, without a reference: the whole candidate is blamed; its
    // changeable pins are learned and the fixed one is left out.
    let d = tempfile::tempdir().unwrap();
    let hidden = vec![vec![v(1, "2")]];
    let mut s = FixedPin {
        inner: GenSearch::new(3, 2),
        fixed: "fixed".into(),
    };
    let (r, _, _) = learner_run(d.path(), &checker(&hidden, false), &mut s, None);
    assert!(!violates(&r.unwrap().assignment, &hidden));
}

#[test]
fn a_search_proposing_a_judged_candidate_again_stops_the_loop() {
    let d = tempfile::tempdir().unwrap();
    let hidden = vec![vec![v(0, "3")]];
    let (r, builds, _) = learner_run(
        d.path(),
        &checker(&hidden, true),
        &mut Forgetful(GenSearch::new(3, 3)),
        None,
    );
    let e = r.unwrap_err();
    assert!(
        matches!(e, LearnError::Repeated { proposals: 2, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("again"), "{e}");
    assert_eq!(builds, 1);
    // A rerun over the same journal answers from it and still stops: journal
    // answers cannot spin the loop either.
    let (r, builds, _) = learner_run(
        d.path(),
        &checker(&hidden, true),
        &mut Forgetful(GenSearch::new(3, 3)),
        None,
    );
    assert!(matches!(r, Err(LearnError::Repeated { .. })));
    assert_eq!(builds, 0);
}
