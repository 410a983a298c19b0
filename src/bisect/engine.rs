//! The search over N changes between a good candidate G and a bad candidate B.
//!
//! Strategy ([`Strategy::Auto`]):
//!
//! 1. Baseline: B must fail (else there is nothing to bisect).
//! 2. Locate: order the changes so that requirements come first (every prefix is
//!    then a consistent candidate) and search for the shortest failing prefix;
//!    with P jobs, P split points are built in parallel per round (k-ary search,
//!    about `ceil(log_{P+1} N)` rounds). The last change of that prefix is a
//!    culprit. If it does not fail alone (with what it requires), the others are
//!    found the same way inside the prefix, with the culprits found so far applied.
//! 3. Minimise: ddmin over the culprits found, so the reported set is 1-minimal.
//! 4. Confirm (`--confirm K`): G + culprits must fail K more times and
//!    B - culprits (and whatever requires them) must pass K times; a result that
//!    does not reproduce is flaky. If B - culprits still fails every time, another
//!    independent cause exists and the search continues on what is left.
//!
//! [`Strategy::Ddmin`] skips step 2 and runs ddmin over all changes, which needs
//! no monotonicity at all but more builds. Skips (exit 125) are routed around:
//! the prefix search tries the nearest untested split point; ddmin treats a
//! skipped subset as "does not fail".

use super::{BisectError, Requirements};
use crate::trial::builder::Verdict;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Duration;

/// What an oracle says about one candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// The judgement.
    pub verdict: Verdict,
    /// Exit code of the build, when there was a process that exited normally.
    pub exit_code: Option<i32>,
    /// How long the build took (the original duration for a replayed verdict).
    pub duration: Duration,
    /// Build log, when there is one.
    pub log: Option<PathBuf>,
    /// True when the verdict came from the journal of an earlier run, not a new build.
    pub replayed: bool,
}

/// Judges "G with this subset of changes applied".
pub trait Oracle: Sync {
    /// Judges G + `subset` (closed under requirements, sorted); `attempt` > 0 marks a
    /// deliberate re-run of the same candidate (flake confirmation).
    fn judge(&self, subset: &[usize], attempt: u32) -> Result<Observation, BisectError>;
}

/// How to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Prefix (binary or k-ary) search for each culprit, then ddmin over the culprits.
    Auto,
    /// Delta debugging over all changes.
    Ddmin,
}

/// Search settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Builds run in parallel (P); 1 means plain binary search.
    pub jobs: usize,
    /// Re-runs of each final verdict (K); 0 skips confirmation.
    pub confirm: u32,
    /// Search strategy.
    pub strategy: Strategy,
    /// Also build G at the start (otherwise G is trusted, as `git bisect` does).
    pub check_good: bool,
    /// Independent culprit sets to look for before giving up.
    pub max_culprit_sets: usize,
    /// Culprits in one set before the search is declared undecidable.
    pub max_set_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            jobs: 1,
            confirm: 0,
            strategy: Strategy::Auto,
            check_good: false,
            max_culprit_sets: 4,
            max_set_size: 16,
        }
    }
}

/// Which step of the search a trial belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Checking G and B.
    Baseline,
    /// Prefix search for a culprit.
    Locate,
    /// ddmin.
    Minimize,
    /// Re-runs of the final verdicts.
    Confirm,
}

/// One trial as recorded for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BisectTrial {
    /// Position in the run, from 0.
    pub seq: usize,
    /// Parallel round it ran in, from 0.
    pub round: usize,
    /// Step of the search.
    pub phase: Phase,
    /// Changes applied to G (closed, sorted indices).
    pub subset: Vec<usize>,
    /// Re-run number (0 for the first build of this candidate).
    pub attempt: u32,
    /// The judgement.
    pub verdict: Verdict,
    /// Exit code, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Build duration in milliseconds.
    pub duration_ms: u64,
    /// Build log, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// True when replayed from the journal instead of built.
    pub replayed: bool,
}

/// How the search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BisectStatus {
    /// A culprit set was found (exit 0).
    Culprit,
    /// B does not fail: nothing to bisect (exit 1).
    BadPasses,
    /// A final verdict did not reproduce (exit 3).
    Flaky,
    /// Skips, a failing G or too many culprits prevented an answer (exit 3).
    Undecidable,
}

impl BisectStatus {
    /// The process exit code documented for `sonic-lock bisect`.
    pub fn exit_code(self) -> u8 {
        match self {
            BisectStatus::Culprit => 0,
            BisectStatus::BadPasses => 1,
            BisectStatus::Flaky | BisectStatus::Undecidable => 3,
        }
    }
}

/// Counts from the confirmation re-runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    /// K.
    pub runs: u32,
    /// How many of the K re-runs of G + culprits failed.
    pub good_plus_culprits_failed: u32,
    /// How many of the K runs of B - culprits passed.
    pub bad_minus_culprits_passed: u32,
}

/// A set of changes that together make G fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CulpritSet {
    /// The changes (1-minimal: dropping any one makes the failure go away).
    pub changes: Vec<usize>,
    /// Changes the culprits require, applied with them but not blamed.
    pub applied_with: Vec<usize>,
    /// Results of `--confirm`, when it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmation: Option<Confirmation>,
}

/// The result of a bisection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    /// How it ended.
    pub status: BisectStatus,
    /// Culprit sets found, in the order found.
    pub culprit_sets: Vec<CulpritSet>,
    /// When undecidable or flaky: the changes still under suspicion.
    pub suspects: Vec<usize>,
    /// The order the prefix search used (requirements first).
    pub order: Vec<usize>,
    /// Every trial, in order.
    pub trials: Vec<BisectTrial>,
    /// Builds actually run (replayed trials excluded).
    pub builds: usize,
    /// Parallel rounds.
    pub rounds: usize,
    /// Explanations of anything unusual (skips routed around, flaky verdicts, ...).
    pub notes: Vec<String>,
}

/// Runs the search over `req.len()` changes with `oracle`.
pub fn bisect<O: Oracle>(
    oracle: &O,
    req: &Requirements,
    cfg: &Config,
) -> Result<Outcome, BisectError> {
    let mut run = Run {
        oracle,
        req,
        cfg,
        memo: HashMap::new(),
        trials: Vec::new(),
        round: 0,
        notes: Vec::new(),
    };
    let order = req.order();
    let result = run.search(&order);
    let (status, culprit_sets, suspects) = result?;
    let builds = run.trials.iter().filter(|t| !t.replayed).count();
    Ok(Outcome {
        status,
        culprit_sets,
        suspects,
        order,
        builds,
        rounds: run.round,
        trials: run.trials,
        notes: run.notes,
    })
}

enum Prefix {
    /// The shortest failing prefix has this length.
    Found(usize),
    /// Skips leave the answer somewhere in `(lo, hi]`.
    Undecidable { lo: usize, hi: usize },
}

type SearchResult = (BisectStatus, Vec<CulpritSet>, Vec<usize>);

struct Run<'a, O: Oracle> {
    oracle: &'a O,
    req: &'a Requirements,
    cfg: &'a Config,
    memo: HashMap<Vec<usize>, Verdict>,
    trials: Vec<BisectTrial>,
    round: usize,
    notes: Vec<String>,
}

fn union(a: &[usize], b: &[usize]) -> Vec<usize> {
    let s: BTreeSet<usize> = a.iter().chain(b).copied().collect();
    s.into_iter().collect()
}

fn fmt_set(s: &[usize]) -> String {
    let items: Vec<String> = s.iter().map(|i| format!("#{i}")).collect();
    format!("{{{}}}", items.join(", "))
}

impl<'a, O: Oracle> Run<'a, O> {
    /// Judges every `(subset, attempt)`; subsets are closed first, identical
    /// candidates are built once, first builds are memoised, and at most
    /// `jobs` builds run at a time (one round per chunk).
    fn test(
        &mut self,
        phase: Phase,
        requests: &[(Vec<usize>, u32)],
    ) -> Result<Vec<Verdict>, BisectError> {
        let closed: Vec<(Vec<usize>, u32)> = requests
            .iter()
            .map(|(s, a)| (self.req.close(s), *a))
            .collect();
        let mut todo: Vec<(Vec<usize>, u32)> = Vec::new();
        for (s, a) in &closed {
            let known = *a == 0 && self.memo.contains_key(s);
            if !known && !todo.iter().any(|(t, b)| t == s && b == a) {
                todo.push((s.clone(), *a));
            }
        }
        let mut fresh: HashMap<(Vec<usize>, u32), Verdict> = HashMap::new();
        let jobs = self.cfg.jobs.max(1);
        for chunk in todo.chunks(jobs) {
            let oracle = self.oracle;
            let results: Vec<Result<Observation, BisectError>> = if chunk.len() == 1 {
                vec![oracle.judge(&chunk[0].0, chunk[0].1)]
            } else {
                std::thread::scope(|scope| {
                    let handles: Vec<_> = chunk
                        .iter()
                        .map(|(s, a)| scope.spawn(move || oracle.judge(s, *a)))
                        .collect();
                    handles
                        .into_iter()
                        .map(|h| h.join().unwrap_or(Err(BisectError::Interrupted)))
                        .collect()
                })
            };
            let round = self.round;
            self.round += 1;
            let mut first_err = None;
            for ((s, a), r) in chunk.iter().zip(results) {
                match r {
                    Ok(obs) => {
                        self.trials.push(BisectTrial {
                            seq: self.trials.len(),
                            round,
                            phase,
                            subset: s.clone(),
                            attempt: *a,
                            verdict: obs.verdict,
                            exit_code: obs.exit_code,
                            duration_ms: u64::try_from(obs.duration.as_millis())
                                .unwrap_or(u64::MAX),
                            log: obs.log.map(|p| p.display().to_string()),
                            replayed: obs.replayed,
                        });
                        if obs.verdict == Verdict::Abort {
                            first_err.get_or_insert(BisectError::Aborted {
                                code: obs.exit_code,
                                subset: fmt_set(s),
                            });
                            continue;
                        }
                        if *a == 0 {
                            self.memo.insert(s.clone(), obs.verdict);
                        }
                        fresh.insert((s.clone(), *a), obs.verdict);
                    }
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first_err {
                return Err(e);
            }
        }
        Ok(closed
            .iter()
            .map(|(s, a)| {
                fresh
                    .get(&(s.clone(), *a))
                    .or_else(|| self.memo.get(s))
                    .copied()
                    .unwrap_or(Verdict::Skip)
            })
            .collect())
    }

    fn test_one(
        &mut self,
        phase: Phase,
        s: &[usize],
        attempt: u32,
    ) -> Result<Verdict, BisectError> {
        Ok(self.test(phase, &[(s.to_vec(), attempt)])?[0])
    }

    fn search(&mut self, order: &[usize]) -> Result<SearchResult, BisectError> {
        if order.is_empty() {
            self.notes
                .push("good and bad are identical: there are no changes to bisect".into());
            return Ok((BisectStatus::Undecidable, Vec::new(), Vec::new()));
        }
        let all: Vec<usize> = {
            let mut v = order.to_vec();
            v.sort_unstable();
            v
        };
        let mut reqs = vec![(all.clone(), 0)];
        if self.cfg.check_good || self.cfg.jobs > 1 {
            reqs.push((Vec::new(), 0));
        }
        let v = self.test(Phase::Baseline, &reqs)?;
        match v[0] {
            Verdict::Pass => {
                self.notes
                    .push("the bad candidate builds: nothing to bisect".into());
                return Ok((BisectStatus::BadPasses, Vec::new(), Vec::new()));
            }
            Verdict::Skip => {
                self.notes
                    .push("the bad candidate was skipped (exit 125): cannot bisect".into());
                return Ok((BisectStatus::Undecidable, Vec::new(), all));
            }
            _ => {}
        }
        if v.len() > 1 && v[1] != Verdict::Pass {
            self.notes.push(format!(
                "the good candidate does not pass ({:?}): cannot bisect",
                v[1]
            ));
            return Ok((BisectStatus::Undecidable, Vec::new(), all));
        }

        let mut sets: Vec<CulpritSet> = Vec::new();
        let mut excluded: Vec<usize> = Vec::new();
        loop {
            let universe: Vec<usize> = order
                .iter()
                .copied()
                .filter(|i| excluded.binary_search(i).is_err())
                .collect();
            let found = match self.cfg.strategy {
                Strategy::Auto => self.locate(&universe)?,
                Strategy::Ddmin => Ok(self.ddmin(universe.clone(), &[])?),
            };
            let culprits = match found {
                Ok(c) => c,
                Err(suspects) => return Ok((BisectStatus::Undecidable, sets, suspects)),
            };
            let culprits = if culprits.len() >= 2 && self.cfg.strategy == Strategy::Auto {
                self.ddmin(culprits, &[])?
            } else {
                culprits
            };
            let mut changes = culprits.clone();
            changes.sort_unstable();
            let closure = self.req.close(&changes);
            let applied_with: Vec<usize> = closure
                .iter()
                .copied()
                .filter(|i| changes.binary_search(i).is_err())
                .collect();
            let mut set = CulpritSet {
                changes: changes.clone(),
                applied_with,
                confirmation: None,
            };
            if self.cfg.confirm == 0 {
                sets.push(set);
                return Ok((BisectStatus::Culprit, sets, Vec::new()));
            }
            let k = self.cfg.confirm;
            let removed = self.req.close_dependents(&changes);
            let mut rest_excluded = union(&excluded, &removed);
            rest_excluded.sort_unstable();
            let rest: Vec<usize> = all
                .iter()
                .copied()
                .filter(|i| rest_excluded.binary_search(i).is_err())
                .collect();
            let mut reqs: Vec<(Vec<usize>, u32)> = (1..=k).map(|a| (closure.clone(), a)).collect();
            reqs.extend((0..k).map(|a| (rest.clone(), a)));
            let v = self.test(Phase::Confirm, &reqs)?;
            let failed = v[..k as usize]
                .iter()
                .filter(|&&x| x == Verdict::Fail)
                .count() as u32;
            let passed = v[k as usize..]
                .iter()
                .filter(|&&x| x == Verdict::Pass)
                .count() as u32;
            let rest_failed = v[k as usize..]
                .iter()
                .filter(|&&x| x == Verdict::Fail)
                .count() as u32;
            set.confirmation = Some(Confirmation {
                runs: k,
                good_plus_culprits_failed: failed,
                bad_minus_culprits_passed: passed,
            });
            if failed < k {
                self.notes.push(format!(
                    "G + {} failed in {failed} of {k} re-runs: the failure does not reproduce (flaky)",
                    fmt_set(&changes)
                ));
                return Ok((BisectStatus::Flaky, sets, changes));
            }
            if passed == k {
                sets.push(set);
                return Ok((BisectStatus::Culprit, sets, Vec::new()));
            }
            if rest_failed < k {
                self.notes.push(format!(
                    "B - {} passed {passed} and failed {rest_failed} of {k} runs: flaky",
                    fmt_set(&changes)
                ));
                return Ok((BisectStatus::Flaky, sets, changes));
            }
            self.notes.push(format!(
                "B - {} still fails: looking for another independent cause",
                fmt_set(&changes)
            ));
            sets.push(set);
            excluded = rest_excluded;
            if sets.len() >= self.cfg.max_culprit_sets || rest.is_empty() {
                self.notes.push(format!(
                    "stopped after {} culprit sets; the rest of B still fails",
                    sets.len()
                ));
                return Ok((BisectStatus::Undecidable, sets, rest));
            }
        }
    }

    /// Finds culprits one by one with the prefix search; `Err(suspects)` when skips
    /// or too many culprits leave it undecided.
    fn locate(
        &mut self,
        universe: &[usize],
    ) -> Result<Result<Vec<usize>, Vec<usize>>, BisectError> {
        let mut found: Vec<usize> = Vec::new();
        let mut cands: Vec<usize> = universe.to_vec();
        loop {
            match self.prefix_search(&found, &cands)? {
                Prefix::Undecidable { lo, hi } => {
                    let suspects: Vec<usize> = cands[lo..hi].to_vec();
                    self.notes.push(format!(
                        "skipped builds leave the culprit among {} (in search order)",
                        fmt_set(&suspects)
                    ));
                    return Ok(Err(suspects));
                }
                Prefix::Found(m) => {
                    let c = cands[m - 1];
                    found.push(c);
                    cands.truncate(m - 1);
                }
            }
            if cands.is_empty() {
                return Ok(Ok(found));
            }
            if found.len() >= self.cfg.max_set_size {
                self.notes.push(format!(
                    "more than {} changes are needed together for the failure; giving up",
                    self.cfg.max_set_size
                ));
                return Ok(Err(found));
            }
            match self.test_one(Phase::Locate, &found, 0)? {
                Verdict::Fail => return Ok(Ok(found)),
                Verdict::Skip => self.notes.push(format!(
                    "G + {} was skipped; assuming it needs more changes",
                    fmt_set(&found)
                )),
                _ => {}
            }
        }
    }

    /// Shortest `m` such that `fixed + cands[..m]` fails, knowing that `m = len` fails
    /// and assuming `m = 0` passes.
    fn prefix_search(&mut self, fixed: &[usize], cands: &[usize]) -> Result<Prefix, BisectError> {
        let mut w = Window::new(0, cands.len());
        while !w.done() {
            let points = w.points(self.cfg.jobs);
            if points.is_empty() {
                return Ok(Prefix::Undecidable { lo: w.lo, hi: w.hi });
            }
            let reqs: Vec<(Vec<usize>, u32)> = points
                .iter()
                .map(|&m| (union(fixed, &cands[..m]), 0))
                .collect();
            let v = self.test(Phase::Locate, &reqs)?;
            w.narrow(&points, &v);
        }
        Ok(Prefix::Found(w.hi))
    }

    /// Delta debugging: a 1-minimal subset of `cands` that fails with `fixed`
    /// applied, knowing that all of `cands` fails. Skips count as "does not fail".
    fn ddmin(&mut self, mut cands: Vec<usize>, fixed: &[usize]) -> Result<Vec<usize>, BisectError> {
        let mut n = 2usize;
        while cands.len() >= 2 {
            let len = cands.len();
            let chunks: Vec<Vec<usize>> = (0..n)
                .map(|i| cands[i * len / n..(i + 1) * len / n].to_vec())
                .filter(|c| !c.is_empty())
                .collect();
            if let Some(i) = self.first_failing(&chunks, fixed)? {
                cands = chunks[i].clone();
                n = 2;
                continue;
            }
            if chunks.len() > 2 {
                let complements: Vec<Vec<usize>> = (0..chunks.len())
                    .map(|i| {
                        chunks
                            .iter()
                            .enumerate()
                            .filter(|(j, _)| *j != i)
                            .flat_map(|(_, c)| c.iter().copied())
                            .collect()
                    })
                    .collect();
                if let Some(i) = self.first_failing(&complements, fixed)? {
                    cands = complements[i].clone();
                    n = (n - 1).max(2);
                    continue;
                }
            }
            if n >= len {
                break;
            }
            n = (2 * n).min(len);
        }
        Ok(cands)
    }

    /// Tests subsets in batches of `jobs`, in order, and returns the first that fails.
    fn first_failing(
        &mut self,
        subsets: &[Vec<usize>],
        fixed: &[usize],
    ) -> Result<Option<usize>, BisectError> {
        let jobs = self.cfg.jobs.max(1);
        let mut start = 0;
        while start < subsets.len() {
            let end = (start + jobs).min(subsets.len());
            let reqs: Vec<(Vec<usize>, u32)> = subsets[start..end]
                .iter()
                .map(|s| (union(fixed, s), 0))
                .collect();
            let v = self.test(Phase::Minimize, &reqs)?;
            if let Some(i) = v.iter().position(|&x| x == Verdict::Fail) {
                return Ok(Some(start + i));
            }
            start = end;
        }
        Ok(None)
    }
}

/// The open interval (lo, hi) of a k-ary search over ordered split points: `lo`
/// passes, `hi` fails, and points whose build was skipped are not tried again.
/// Shared by the change-set search and the time axis.
#[derive(Debug, Clone)]
pub(crate) struct Window {
    /// Highest point known to pass.
    pub(crate) lo: usize,
    /// Lowest point known to fail.
    pub(crate) hi: usize,
    skipped: BTreeSet<usize>,
}

impl Window {
    /// A window knowing that `lo` passes and `hi` fails.
    pub(crate) fn new(lo: usize, hi: usize) -> Window {
        Window {
            lo,
            hi,
            skipped: BTreeSet::new(),
        }
    }

    /// True when `hi` is the first failing point.
    pub(crate) fn done(&self) -> bool {
        self.hi - self.lo <= 1
    }

    /// Up to `jobs` evenly spread split points not yet skipped; empty when every
    /// point between `lo` and `hi` was skipped (the answer is undecidable).
    pub(crate) fn points(&self, jobs: usize) -> Vec<usize> {
        let avail: Vec<usize> = (self.lo + 1..self.hi)
            .filter(|m| !self.skipped.contains(m))
            .collect();
        if avail.is_empty() {
            return avail;
        }
        let p = jobs.max(1).min(avail.len());
        let mut points: Vec<usize> = (1..=p).map(|i| avail[i * avail.len() / (p + 1)]).collect();
        points.dedup();
        points
    }

    /// Narrows the window from the verdicts of `points` (in the same order).
    pub(crate) fn narrow(&mut self, points: &[usize], verdicts: &[Verdict]) {
        if let Some((&m, _)) = points
            .iter()
            .zip(verdicts)
            .find(|(_, v)| **v == Verdict::Fail)
        {
            self.hi = m;
        }
        if let Some(m) = points
            .iter()
            .zip(verdicts)
            .filter(|(m, v)| **v == Verdict::Pass && **m < self.hi)
            .map(|(&m, _)| m)
            .max()
        {
            self.lo = self.lo.max(m);
        }
        for (&m, v) in points.iter().zip(verdicts) {
            if *v == Verdict::Skip {
                self.skipped.insert(m);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Fails when every change of any one rule is applied.
    struct Rules {
        rules: Vec<Vec<usize>>,
        skip: Vec<usize>,
        calls: AtomicUsize,
    }

    impl Rules {
        fn new(rules: Vec<Vec<usize>>) -> Rules {
            Rules {
                rules,
                skip: Vec::new(),
                calls: AtomicUsize::new(0),
            }
        }
    }

    impl Oracle for Rules {
        fn judge(&self, s: &[usize], _a: u32) -> Result<Observation, BisectError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let verdict = if self
                .skip
                .iter()
                .any(|x| s.contains(x) && !s.contains(&(x + 1)))
            {
                Verdict::Skip
            } else if self.rules.iter().any(|r| r.iter().all(|c| s.contains(c))) {
                Verdict::Fail
            } else {
                Verdict::Pass
            };
            Ok(Observation {
                verdict,
                exit_code: None,
                duration: Duration::ZERO,
                log: None,
                replayed: false,
            })
        }
    }

    fn ceil_log(n: usize, base: usize) -> usize {
        let (mut k, mut x) = (0, 1usize);
        while x < n {
            x *= base;
            k += 1;
        }
        k
    }

    #[test]
    fn single_culprit_within_log2_plus_two_for_every_position() {
        for n in [1usize, 2, 3, 5, 16, 100, 257] {
            for c in 0..n {
                let o = Rules::new(vec![vec![c]]);
                let out = bisect(&o, &Requirements::none(n), &Config::default()).unwrap();
                assert_eq!(out.status, BisectStatus::Culprit);
                assert_eq!(out.culprit_sets[0].changes, vec![c], "n={n} c={c}");
                assert!(
                    out.builds <= ceil_log(n, 2) + 2,
                    "n={n} c={c} builds={}",
                    out.builds
                );
            }
        }
    }

    #[test]
    fn interacting_culprits_are_found_and_minimal() {
        for (n, rule) in [
            (64, vec![3, 40]),
            (64, vec![0, 63]),
            (100, vec![10, 11, 90]),
            (8, vec![1, 2]),
        ] {
            let o = Rules::new(vec![rule.clone()]);
            let out = bisect(&o, &Requirements::none(n), &Config::default()).unwrap();
            assert_eq!(out.status, BisectStatus::Culprit);
            assert_eq!(out.culprit_sets[0].changes, rule);
            let d = bisect(
                &o,
                &Requirements::none(n),
                &Config {
                    strategy: Strategy::Ddmin,
                    ..Config::default()
                },
            )
            .unwrap();
            assert_eq!(d.culprit_sets[0].changes, rule);
        }
    }

    #[test]
    fn culprit_is_applied_with_what_it_requires() {
        // 7 fails only together with 2 (a library it needs); 7 requires 2.
        let req = Requirements::new(10, &[(7, 2)]).unwrap();
        let o = Rules::new(vec![vec![2, 7]]);
        let seen = Mutex::new(Vec::new());
        struct Spy<'a>(&'a Rules, &'a Mutex<Vec<Vec<usize>>>);
        impl Oracle for Spy<'_> {
            fn judge(&self, s: &[usize], a: u32) -> Result<Observation, BisectError> {
                self.1.lock().unwrap().push(s.to_vec());
                self.0.judge(s, a)
            }
        }
        let out = bisect(
            &Spy(&o, &seen),
            &req,
            &Config {
                confirm: 1,
                ..Config::default()
            },
        )
        .unwrap();
        assert_eq!(out.status, BisectStatus::Culprit);
        assert_eq!(out.culprit_sets[0].changes, vec![7]);
        assert_eq!(out.culprit_sets[0].applied_with, vec![2]);
        for s in seen.lock().unwrap().iter() {
            assert!(
                !s.contains(&7) || s.contains(&2),
                "inconsistent candidate built: {s:?}"
            );
        }
    }

    #[test]
    fn parallel_rounds_follow_log_base_p_plus_one() {
        for n in [16usize, 256, 1000] {
            for c in [0, n / 3, n - 1] {
                let o = Rules::new(vec![vec![c]]);
                let cfg = Config {
                    jobs: 4,
                    ..Config::default()
                };
                let out = bisect(&o, &Requirements::none(n), &cfg).unwrap();
                assert_eq!(out.culprit_sets[0].changes, vec![c]);
                assert!(
                    out.rounds <= ceil_log(n, 5) + 2,
                    "n={n} c={c} rounds={}",
                    out.rounds
                );
            }
        }
    }

    #[test]
    fn skips_are_routed_around_or_reported() {
        // Prefixes ending in 4 (without 5) are skipped; culprit 9 is still found.
        let mut o = Rules::new(vec![vec![9]]);
        o.skip = vec![4, 5, 6];
        let out = bisect(&o, &Requirements::none(20), &Config::default()).unwrap();
        assert_eq!(out.culprit_sets[0].changes, vec![9]);
        assert!(out.trials.iter().any(|t| t.verdict == Verdict::Skip));
        // Culprit 5: prefixes 5 and 6 are skipped, so 4, 5 and 6 cannot be separated.
        let mut o = Rules::new(vec![vec![5]]);
        o.skip = vec![4, 5];
        let out = bisect(&o, &Requirements::none(20), &Config::default()).unwrap();
        assert_eq!(out.status, BisectStatus::Undecidable);
        assert!(out.suspects.contains(&5));
    }

    #[test]
    fn bad_that_passes_and_independent_causes() {
        let o = Rules::new(vec![]);
        let out = bisect(&o, &Requirements::none(5), &Config::default()).unwrap();
        assert_eq!(out.status, BisectStatus::BadPasses);
        assert_eq!(out.builds, 1);
        let o = Rules::new(vec![vec![2], vec![8]]);
        let out = bisect(
            &o,
            &Requirements::none(12),
            &Config {
                confirm: 1,
                ..Config::default()
            },
        )
        .unwrap();
        assert_eq!(out.status, BisectStatus::Culprit);
        let found: Vec<_> = out.culprit_sets.iter().map(|s| s.changes.clone()).collect();
        assert_eq!(found, vec![vec![2], vec![8]]);
    }

    #[test]
    fn flaky_failure_is_not_blamed() {
        /// Fails on the first build of any candidate containing 3, passes on re-runs.
        struct Flaky;
        impl Oracle for Flaky {
            fn judge(&self, s: &[usize], a: u32) -> Result<Observation, BisectError> {
                let verdict = if s.contains(&3) && a == 0 {
                    Verdict::Fail
                } else {
                    Verdict::Pass
                };
                Ok(Observation {
                    verdict,
                    exit_code: None,
                    duration: Duration::ZERO,
                    log: None,
                    replayed: false,
                })
            }
        }
        let out = bisect(
            &Flaky,
            &Requirements::none(8),
            &Config {
                confirm: 2,
                ..Config::default()
            },
        )
        .unwrap();
        assert_eq!(out.status, BisectStatus::Flaky);
        assert_eq!(out.status.exit_code(), 3);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        /// Whatever the culprits and requirements, the answer fails, is 1-minimal,
        /// and no inconsistent candidate is ever built.
        #[test]
        fn answer_is_a_minimal_failing_closed_set(
            n in 1usize..80,
            picks in proptest::collection::vec(0usize..1000, 1..4),
            edges in proptest::collection::vec((0usize..1000, 0usize..1000), 0..20),
            jobs in 1usize..5,
            ddmin in proptest::bool::ANY,
        ) {
            let mut rule: Vec<usize> = picks.iter().map(|p| p % n).collect();
            rule.sort_unstable();
            rule.dedup();
            // Requirements point to lower indices only (a DAG), like "pulled in by".
            let pairs: Vec<(usize, usize)> = edges
                .iter()
                .map(|&(a, b)| (a % n, b % n))
                .filter(|(a, b)| a > b)
                .collect();
            let req = Requirements::new(n, &pairs).unwrap();
            let seen = Mutex::new(Vec::new());
            struct Check<'a>(&'a Rules, &'a Mutex<Vec<Vec<usize>>>);
            impl Oracle for Check<'_> {
                fn judge(&self, s: &[usize], a: u32) -> Result<Observation, BisectError> {
                    self.1.lock().unwrap().push(s.to_vec());
                    self.0.judge(s, a)
                }
            }
            let o = Rules::new(vec![rule.clone()]);
            let cfg = Config {
                jobs,
                strategy: if ddmin { Strategy::Ddmin } else { Strategy::Auto },
                ..Config::default()
            };
            let out = bisect(&Check(&o, &seen), &req, &cfg).unwrap();
            proptest::prop_assert_eq!(out.status, BisectStatus::Culprit);
            let set = &out.culprit_sets[0].changes;
            let fails = |s: &[usize]| rule.iter().all(|c| req.close(s).contains(c));
            proptest::prop_assert!(fails(set));
            for i in 0..set.len() {
                let mut smaller = set.clone();
                smaller.remove(i);
                proptest::prop_assert!(!fails(&smaller), "not 1-minimal: {:?}", set);
            }
            for s in seen.lock().unwrap().iter() {
                proptest::prop_assert_eq!(&req.close(s), s, "inconsistent candidate built");
            }
        }
    }
}
