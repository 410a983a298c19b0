//! The lock loop: the search proposes a full assignment, a trial build judges
//! it, a failure is attributed to pins (by log triage, or else by delta
//! debugging between the last passing and the failing candidate), the search
//! learns that those picks fail together, and proposes again, until a build
//! passes.
//!
//! With a confirming builder, a candidate the (cheap) builder passes is built
//! once more by the confirming (expensive) one; only its pass makes the lock,
//! and its failure is triaged and learned like any other, the loop going on
//! with the cheap builder.
//!
//! The loop is generic over the search ([`Search`]) and over how an
//! assignment becomes files on disk ([`Stage`]), so the same code drives the
//! real solver with lockfiles and SONiC version trees, and the benchmark's
//! generated universes.

use super::builder::{Builder, TrialError, TrialInput, TrialResult, Verdict};
use super::journal::Journal;
use super::pool::{Counts, Workspace, run_all};
use super::triage::{Implicated, Report, Triage};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{Debug, Display};
use std::io::BufRead;

/// A full assignment: one version per package key.
pub type Assignment<K> = BTreeMap<K, String>;

/// A search that proposes assignments and learns nogoods (the solver, behind an adapter).
pub trait Search {
    /// The package key.
    type Key: Clone + Ord + Debug + Send + Sync;
    /// The preferred assignment that violates no learned nogood, or why there is none.
    fn propose(&mut self) -> Result<Assignment<Self::Key>, SearchError>;
    /// Learns that `picks` must not all hold together; says whether it could
    /// (a nogood only on pins the search cannot change teaches it nothing).
    fn forbid(&mut self, picks: Vec<(Self::Key, String)>, reason: &str) -> Forbid;
}

/// What a search made of a nogood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbid {
    /// Learned: no later proposal holds the picks together (picks the search
    /// cannot change, being in every proposal, may be left out of it).
    Learned,
    /// Every pick is one the search cannot change (no alternative is known):
    /// nothing was learned, and the next proposal would be the same.
    Unchangeable,
}

/// Why a search proposes nothing.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// No assignment satisfies the problem and the learned nogoods; the
    /// explanation says why.
    #[error("{0}")]
    Unsat(String),
    /// The search could not run (a source could not be read, an input is bad):
    /// not a verdict on the candidates.
    #[error(transparent)]
    Failed(Box<dyn std::error::Error + Send + Sync>),
}

/// How an assignment becomes a trial input on disk, and how triage output maps back to keys.
pub trait Stage<K>: Sync {
    /// Stable hash of the assignment (the journal key).
    fn candidate_hash(&self, a: &Assignment<K>) -> String;
    /// Writes the assignment's lockfile and versions tree into `input`'s (fresh) paths.
    fn materialize(&self, a: &Assignment<K>, input: &TrialInput) -> Result<(), TrialError>;
    /// The keys of `a` that `imp` names (by ecosystem and name, URL, revision or owned file).
    fn implicated_keys(&self, a: &Assignment<K>, imp: &Implicated) -> Vec<K>;
}

/// Settings of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LearnConfig {
    /// Trials run at once (delta debugging tests subsets in parallel).
    pub jobs: usize,
    /// Give up after this many builds (journal answers do not count;
    /// confirming builds do).
    pub max_builds: usize,
}

impl Default for LearnConfig {
    fn default() -> LearnConfig {
        LearnConfig {
            jobs: 1,
            max_builds: 1000,
        }
    }
}

/// How a failure was attributed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Attribution {
    /// Log triage matched these signatures.
    Triage(Vec<String>),
    /// Delta debugging isolated the picks.
    DeltaDebugging,
    /// Nothing better was possible: the whole candidate (or its changes) is forbidden.
    WholeCandidate,
}

/// A nogood learned from a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learned<K> {
    /// The picks that fail together.
    pub picks: Vec<(K, String)>,
    /// The candidate whose build failed.
    pub candidate: String,
    /// The failing build's log.
    pub log: std::path::PathBuf,
    /// How the picks were found.
    pub attribution: Attribution,
    /// The builder whose failure taught it (`Builder::describe`).
    pub builder: String,
}

/// Something the loop reports as it goes.
#[derive(Debug, Clone)]
pub enum Event<'a, K> {
    /// A batch of trials made progress.
    Progress(Counts),
    /// A candidate was judged.
    Judged {
        /// Candidate hash.
        candidate: &'a str,
        /// The verdict.
        verdict: Verdict,
        /// Answered by the journal.
        cached: bool,
        /// The builder that judged it (`Builder::describe`).
        builder: &'a str,
    },
    /// Delta debugging starts over this many changed pins.
    Isolating(usize),
    /// A nogood was learned.
    Learned(&'a Learned<K>),
}

/// A passing lock.
#[derive(Debug, Clone)]
pub struct Locked<K> {
    /// The passing assignment.
    pub assignment: Assignment<K>,
    /// Its hash.
    pub candidate: String,
    /// Its build.
    pub result: TrialResult,
    /// Builds run (journal answers excluded).
    pub builds: usize,
    /// Trials answered by the journal.
    pub cached: usize,
    /// Candidates the search proposed.
    pub proposals: usize,
    /// Nogoods learned on the way.
    pub learned: Vec<Learned<K>>,
    /// The builder whose pass made the lock (the confirming one, when given).
    pub judged_by: String,
    /// Builds the confirming builder ran (included in `builds`).
    pub confirm_builds: usize,
}

/// Why the loop stopped without a passing lock.
#[derive(Debug, thiserror::Error)]
pub enum LearnError {
    /// The search has no assignment left.
    #[error("no candidate is left after {learned} learned nogoods: {explanation}")]
    Unsat {
        /// The search's explanation.
        explanation: String,
        /// Nogoods learned.
        learned: usize,
    },
    /// The build budget ran out.
    #[error("no passing build within {builds} builds")]
    Budget {
        /// Builds run.
        builds: usize,
    },
    /// A build said abort (exit >= 128).
    #[error("the build of candidate {candidate} aborted (see {log})")]
    Aborted {
        /// Candidate hash.
        candidate: String,
        /// Its log.
        log: String,
    },
    /// The builder could not run, or Ctrl-C.
    #[error(transparent)]
    Trial(#[from] TrialError),
    /// The search could not propose (its sources or inputs failed).
    #[error("the search failed: {0}")]
    Search(Box<dyn std::error::Error + Send + Sync>),
    /// The failure is blamed on pins the search cannot change.
    #[error(
        "the failure of candidate {candidate} is blamed on pins no alternative exists for: {} (see {log})",
        pins.join(", ")
    )]
    Unchangeable {
        /// The blamed pins, `key = version`.
        pins: Vec<String>,
        /// Candidate hash.
        candidate: String,
        /// Its log.
        log: String,
    },
    /// The search proposed a candidate this run had already judged: it did not learn.
    #[error(
        "the search proposed candidate {candidate} again after judging it ({proposals} proposals): \
         the last nogood did not change its proposal"
    )]
    Repeated {
        /// Candidate hash.
        candidate: String,
        /// Proposals so far.
        proposals: usize,
    },
    /// A build failed on its sources (the builder cannot reach them), not on its pins.
    #[error(
        "candidate {candidate} failed reaching its sources, not on its pins ({signature}): {line}; \
         the builder cannot reach its sources? (see {log})"
    )]
    Infrastructure {
        /// The signature that matched.
        signature: String,
        /// The log line.
        line: String,
        /// Candidate hash.
        candidate: String,
        /// Its log.
        log: String,
    },
    /// Consecutive candidates failed with the same error naming none of their pins.
    #[error(
        "every candidate fails the same way: {line}; the builder cannot reach its sources? \
         (candidates {}, see {log})",
        candidates.join(", ")
    )]
    SameFailure {
        /// The first error line both logs share.
        line: String,
        /// The candidates that failed so.
        candidates: Vec<String>,
        /// The last log.
        log: String,
    },
}

/// The loop's fixed parts: builder, journal, workspace, triage table and stage.
pub struct Learner<'a, K> {
    /// Judges candidates.
    pub builder: &'a dyn Builder,
    /// Remembers finished trials across runs.
    pub journal: Option<&'a Journal>,
    /// Where trial inputs and logs go.
    pub workspace: &'a Workspace,
    /// Failure signatures.
    pub triage: &'a Triage,
    /// Assignment to files.
    pub stage: &'a dyn Stage<K>,
    /// Settings.
    pub config: LearnConfig,
    /// Progress sink.
    pub on_event: &'a (dyn Fn(Event<'_, K>) + Sync),
}

struct Tally {
    builds: usize,
    cached: usize,
    confirm_builds: usize,
}

/// A judged candidate: its hash, result and (for a failure) the triage of its log.
struct Judged {
    hash: String,
    result: TrialResult,
    report: Report,
    cached: bool,
}

impl<K: Clone + Ord + Debug + Display + Send + Sync> Learner<'_, K> {
    /// Judges `batch` (in parallel up to `jobs`), through the journal; a
    /// failure on the sources rather than the pins stops here, before anything
    /// (delta debugging included) can learn from it.
    fn judge(
        &self,
        builder: &dyn Builder,
        batch: &[Assignment<K>],
        tally: &mut Tally,
    ) -> Result<Vec<Judged>, LearnError> {
        let desc = builder.describe();
        let id = builder.identity();
        let mut inputs = Vec::with_capacity(batch.len());
        for a in batch {
            let hash = self.stage.candidate_hash(a);
            let input = self.workspace.input(&hash, &desc)?;
            if self.journal.and_then(|j| j.lookup(&hash, &id)).is_none() {
                self.stage.materialize(a, &input)?;
            }
            inputs.push(input);
        }
        let outcomes = run_all(builder, self.journal, &inputs, self.config.jobs, &|c| {
            (self.on_event)(Event::Progress(*c))
        });
        let mut out = Vec::with_capacity(batch.len());
        for (input, o) in inputs.iter().zip(outcomes) {
            self.workspace.tidy(input);
            let r = o.result?;
            if o.cached {
                tally.cached += 1;
            } else {
                tally.builds += 1;
            }
            (self.on_event)(Event::Judged {
                candidate: &input.candidate_hash,
                verdict: r.verdict,
                cached: o.cached,
                builder: &desc,
            });
            if r.verdict == Verdict::Abort {
                return Err(LearnError::Aborted {
                    candidate: input.candidate_hash.clone(),
                    log: r.log.display().to_string(),
                });
            }
            let report = match r.verdict {
                Verdict::Fail => self.triage.scan_file(&r.log).unwrap_or_default(),
                _ => Report::default(),
            };
            if let Some(m) = report.infrastructure() {
                return Err(LearnError::Infrastructure {
                    signature: m.signature.clone(),
                    line: m.text.trim().to_string(),
                    candidate: input.candidate_hash.clone(),
                    log: r.log.display().to_string(),
                });
            }
            out.push(Judged {
                hash: input.candidate_hash.clone(),
                result: r,
                report,
                cached: o.cached,
            });
        }
        Ok(out)
    }

    fn check_budget(&self, tally: &Tally) -> Result<(), LearnError> {
        if tally.builds >= self.config.max_builds {
            return Err(LearnError::Budget {
                builds: tally.builds,
            });
        }
        if super::signal::interrupted() {
            return Err(TrialError::Interrupted.into());
        }
        Ok(())
    }

    /// Triage: the picks of `a` that the failure log implicates.
    fn attribute(&self, a: &Assignment<K>, report: &Report) -> (Vec<K>, Vec<String>) {
        let mut keys = BTreeSet::new();
        let mut sigs = BTreeSet::new();
        for m in &report.matches {
            let before = keys.len();
            for imp in &m.implicated {
                keys.extend(self.stage.implicated_keys(a, imp));
            }
            if keys.len() > before {
                sigs.insert(format!("{} (line {})", m.signature, m.line));
            }
        }
        (keys.into_iter().collect(), sigs.into_iter().collect())
    }

    /// Runs the loop from the search's first proposal until a build passes.
    /// `reference` is a known-good assignment (a previous lock) used as the
    /// passing end of delta debugging until a candidate passes.
    pub fn run<S: Search<Key = K>>(
        &self,
        search: &mut S,
        reference: Option<Assignment<K>>,
    ) -> Result<Locked<K>, LearnError> {
        self.run_confirmed(search, reference, None)
    }

    /// [`Learner::run`], where a candidate the builder passes is then built
    /// once by `confirm` (a full build after cheap layer trials): its pass
    /// makes the lock; its failure is triaged and learned like any other and
    /// the loop goes on with the cheap builder. Delta debugging uses the cheap
    /// builder only, which passes that candidate, so a confirming failure
    /// that triage does not attribute forbids the candidate as a whole.
    pub fn run_confirmed<S: Search<Key = K>>(
        &self,
        search: &mut S,
        reference: Option<Assignment<K>>,
        confirm: Option<&dyn Builder>,
    ) -> Result<Locked<K>, LearnError> {
        let mut tally = Tally {
            builds: 0,
            cached: 0,
            confirm_builds: 0,
        };
        let mut learned: Vec<Learned<K>> = Vec::new();
        let mut seen_nogoods: BTreeSet<Vec<(K, String)>> = BTreeSet::new();
        // Every proposal of this run, built or answered by the journal: each one
        // is new, so the loop ends within `max_builds` builds plus the journal's
        // answers, and a search that stopped learning is caught at once.
        let mut judged: BTreeSet<String> = BTreeSet::new();
        // The last failing proposal's error line, when triage blamed none of its pins.
        let mut last_unblamed: Option<(String, String)> = None;
        // (assignment, verified to pass)
        let mut base: Option<(Assignment<K>, bool)> = reference.map(|r| (r, false));
        let mut proposals = 0;
        loop {
            self.check_budget(&tally)?;
            let a = search.propose().map_err(|e| match e {
                SearchError::Failed(e) => LearnError::Search(e),
                SearchError::Unsat(explanation) => LearnError::Unsat {
                    explanation,
                    learned: learned.len(),
                },
            })?;
            proposals += 1;
            let proposed = self.stage.candidate_hash(&a);
            if !judged.insert(proposed.clone()) {
                return Err(LearnError::Repeated {
                    candidate: proposed,
                    proposals,
                });
            }
            let mut judged_by = self.builder;
            let mut confirming = false;
            let mut j = self
                .judge(self.builder, std::slice::from_ref(&a), &mut tally)?
                .remove(0);
            if let (Verdict::Pass, Some(c)) = (j.result.verdict, confirm) {
                self.check_budget(&tally)?;
                j = self
                    .judge(c, std::slice::from_ref(&a), &mut tally)?
                    .remove(0);
                judged_by = c;
                confirming = true;
                if !j.cached {
                    tally.confirm_builds += 1;
                }
            }
            let Judged {
                hash,
                result,
                report,
                ..
            } = j;
            match result.verdict {
                Verdict::Pass => {
                    return Ok(Locked {
                        assignment: a,
                        candidate: hash,
                        result,
                        builds: tally.builds,
                        cached: tally.cached,
                        proposals,
                        learned,
                        judged_by: judged_by.describe(),
                        confirm_builds: tally.confirm_builds,
                    });
                }
                Verdict::Skip => {
                    // Cannot judge it: move on without blaming any pin in particular.
                    let l = Learned {
                        picks: a.clone().into_iter().collect(),
                        candidate: hash,
                        log: result.log.clone(),
                        attribution: Attribution::WholeCandidate,
                        builder: judged_by.describe(),
                    };
                    let f =
                        search.forbid(l.picks.clone(), "the build could not judge this candidate");
                    self.learned_or_stop(f, &l)?;
                    (self.on_event)(Event::Learned(&l));
                    learned.push(l);
                    continue;
                }
                Verdict::Fail | Verdict::Abort => {}
            }
            let (keys, sigs) = self.attribute(&a, &report);
            let mut picks: Vec<(K, String)> = keys
                .iter()
                .filter_map(|k| a.get(k).map(|v| (k.clone(), v.clone())))
                .collect();
            if picks.is_empty() {
                // Different candidates failing with the same error that names none of
                // their pins: the sources or the builder are broken, not the pins.
                let line = first_error_line(&report, &result.log);
                if let (Some(line), Some((prev, prev_line))) = (&line, &last_unblamed)
                    && line == prev_line
                {
                    return Err(LearnError::SameFailure {
                        line: line.clone(),
                        candidates: vec![prev.clone(), hash],
                        log: result.log.display().to_string(),
                    });
                }
                last_unblamed = line.map(|l| (hash.clone(), l));
            } else {
                last_unblamed = None;
            }
            let mut attribution = Attribution::Triage(sigs);
            if confirming && (picks.is_empty() || seen_nogoods.contains(&picks)) {
                // The cheap builder passes this candidate: it cannot isolate the failure.
                picks = a.clone().into_iter().collect();
                attribution = Attribution::WholeCandidate;
            } else if picks.is_empty() || seen_nogoods.contains(&picks) {
                // Unattributed (or triage keeps blaming picks already forbidden): isolate.
                let (p, how) = self.isolate(&a, &mut base, &mut tally)?;
                picks = p;
                attribution = how;
            }
            seen_nogoods.insert(picks.clone());
            let l = Learned {
                picks,
                candidate: hash,
                log: result.log.clone(),
                attribution,
                builder: judged_by.describe(),
            };
            let reason = format!(
                "trial build of {} failed ({})",
                l.candidate,
                match &l.attribution {
                    Attribution::Triage(s) => s.join(", "),
                    Attribution::DeltaDebugging => "isolated by delta debugging".into(),
                    Attribution::WholeCandidate => "not isolated".into(),
                }
            );
            let f = search.forbid(l.picks.clone(), &reason);
            self.learned_or_stop(f, &l)?;
            (self.on_event)(Event::Learned(&l));
            learned.push(l);
        }
    }

    /// A nogood the search could not express stops the loop: its next proposal
    /// would be the same candidate.
    fn learned_or_stop(&self, f: Forbid, l: &Learned<K>) -> Result<(), LearnError> {
        match f {
            Forbid::Learned => Ok(()),
            Forbid::Unchangeable => Err(LearnError::Unchangeable {
                pins: l.picks.iter().map(|(k, v)| format!("{k} = {v}")).collect(),
                candidate: l.candidate.clone(),
                log: l.log.display().to_string(),
            }),
        }
    }

    /// Delta debugging between the last passing assignment and the failing one:
    /// the smallest set of changed picks that still fails on top of the passing base.
    fn isolate(
        &self,
        failing: &Assignment<K>,
        base: &mut Option<(Assignment<K>, bool)>,
        tally: &mut Tally,
    ) -> Result<(Vec<(K, String)>, Attribution), LearnError> {
        let whole = || {
            (
                failing.clone().into_iter().collect::<Vec<_>>(),
                Attribution::WholeCandidate,
            )
        };
        let Some((b, verified)) = base.as_mut() else {
            return Ok(whole());
        };
        if !*verified {
            self.check_budget(tally)?;
            let r = self
                .judge(self.builder, std::slice::from_ref(b), tally)?
                .remove(0)
                .result;
            if r.verdict != Verdict::Pass {
                // The reference does not pass here: there is no passing end to isolate against.
                *base = None;
                return Ok(whole());
            }
            *verified = true;
        }
        let b = b.clone();
        let changes: Vec<K> = failing
            .iter()
            .filter(|(k, v)| b.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .chain(b.keys().filter(|k| !failing.contains_key(*k)).cloned())
            .collect();
        (self.on_event)(Event::Isolating(changes.len()));
        let apply = |subset: &[K]| -> Assignment<K> {
            let mut m = b.clone();
            for k in subset {
                match failing.get(k) {
                    Some(v) => {
                        m.insert(k.clone(), v.clone());
                    }
                    None => {
                        m.remove(k);
                    }
                }
            }
            m
        };
        let culprit = self.ddmin(changes, &apply, tally)?;
        let picks: Vec<(K, String)> = culprit
            .iter()
            .filter_map(|k| failing.get(k).map(|v| (k.clone(), v.clone())))
            .collect();
        if picks.is_empty() {
            return Ok(whole());
        }
        Ok((picks, Attribution::DeltaDebugging))
    }

    /// Zeller's ddmin over `changes` (the full set is known to fail); tests at
    /// one granularity run in batches of `jobs`, the first failing one wins.
    fn ddmin(
        &self,
        changes: Vec<K>,
        apply: &dyn Fn(&[K]) -> Assignment<K>,
        tally: &mut Tally,
    ) -> Result<Vec<K>, LearnError> {
        let mut c = changes;
        let mut n = 2usize;
        while c.len() >= 2 {
            let chunks = split(&c, n);
            let mut tests: Vec<Vec<K>> = chunks.clone();
            if n > 2 {
                // Complements; with two chunks they equal the chunks themselves.
                tests.extend(chunks.iter().map(|s| {
                    c.iter()
                        .filter(|k| !s.contains(k))
                        .cloned()
                        .collect::<Vec<K>>()
                }));
            }
            let mut found = None;
            for (start, group) in tests.chunks(self.config.jobs.max(1)).enumerate() {
                self.check_budget(tally)?;
                let batch: Vec<Assignment<K>> = group.iter().map(|s| apply(s)).collect();
                let results = self.judge(self.builder, &batch, tally)?;
                if let Some(i) = results
                    .iter()
                    .position(|j| j.result.verdict == Verdict::Fail)
                {
                    found = Some(start * self.config.jobs.max(1) + i);
                    break;
                }
            }
            match found {
                Some(i) if i < chunks.len() => {
                    c = tests[i].clone();
                    n = 2;
                }
                Some(i) => {
                    c = tests[i].clone();
                    n = (n - 1).max(2);
                }
                None => {
                    if n >= c.len() {
                        break;
                    }
                    n = (2 * n).min(c.len());
                }
            }
        }
        Ok(c)
    }
}

/// A search with exactly one candidate (no alternatives known, e.g. no universe
/// was given): the loop then proves it, or refutes it and names the pins to blame.
#[derive(Debug, Clone)]
pub struct SingleCandidate<K> {
    candidate: Assignment<K>,
    forbidden: Vec<(Vec<(K, String)>, String)>,
}

impl<K: Clone + Ord + Debug + Send + Sync> SingleCandidate<K> {
    /// A search proposing only `candidate`.
    pub fn new(candidate: Assignment<K>) -> SingleCandidate<K> {
        SingleCandidate {
            candidate,
            forbidden: Vec::new(),
        }
    }
}

impl<K: Clone + Ord + Debug + Send + Sync> Search for SingleCandidate<K> {
    type Key = K;

    fn propose(&mut self) -> Result<Assignment<K>, SearchError> {
        match self.forbidden.first() {
            None => Ok(self.candidate.clone()),
            Some((picks, reason)) => Err(SearchError::Unsat(format!(
                "the only candidate is ruled out ({reason}): {}; no alternative versions are known",
                picks
                    .iter()
                    .map(|(k, v)| format!("{k:?}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    fn forbid(&mut self, picks: Vec<(K, String)>, reason: &str) -> Forbid {
        // Its next proposal then says that the only candidate is ruled out, and why.
        self.forbidden.push((picks, reason.to_string()));
        Forbid::Learned
    }
}

/// The error a failure log leads with: the first signature that matched (and
/// named no pin), else the first line that reads as an error; `None` when
/// the log has no such line (nothing to compare failures by).
fn first_error_line(report: &Report, log: &std::path::Path) -> Option<String> {
    if let Some(m) = report.matches.first() {
        return Some(m.text.trim().to_string());
    }
    let f = std::fs::File::open(log).ok()?;
    let mut reader = std::io::BufReader::new(f);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).ok()? == 0 {
            return None;
        }
        let line = String::from_utf8_lossy(&buf);
        if let Some(e) = error_text(&line) {
            return Some(e);
        }
    }
}

/// `line` without a container runtime's step prefix (`#12 3.45 `), if it reads as an error.
fn error_text(line: &str) -> Option<String> {
    let mut t = line.trim();
    if let Some(rest) = t.strip_prefix('#') {
        // `#12 3.45 text`: the step number and elapsed seconds vary between builds.
        let mut parts = rest.splitn(3, ' ');
        if let (Some(step), Some(secs), Some(text)) = (parts.next(), parts.next(), parts.next())
            && step.chars().all(|c| c.is_ascii_digit())
            && secs.chars().all(|c| c.is_ascii_digit() || c == '.')
        {
            t = text.trim();
        }
    }
    const LEADS: [&str; 7] = [
        "E: ", "ERROR:", "ERROR ", "Error:", "error:", "fatal:", "FATAL:",
    ];
    LEADS
        .iter()
        .any(|p| t.starts_with(p))
        .then(|| t.chars().take(400).collect())
}

/// Splits `c` into `n` nearly equal consecutive parts.
fn split<K: Clone>(c: &[K], n: usize) -> Vec<Vec<K>> {
    let n = n.clamp(1, c.len().max(1));
    let mut out = Vec::with_capacity(n);
    let mut start = 0;
    for i in 0..n {
        let end = start + (c.len() - start) / (n - i);
        out.push(c[start..end].to_vec());
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_lines_are_read_past_step_prefixes() {
        assert_eq!(
            error_text("#12 3.45 E: Failed to fetch x\n").as_deref(),
            Some("E: Failed to fetch x")
        );
        assert_eq!(error_text("  fatal: bad").as_deref(), Some("fatal: bad"));
        assert_eq!(error_text("make: *** [all] Error 2"), None);
        assert_eq!(error_text("Building p001"), None);
    }

    #[test]
    fn split_covers_everything_in_order() {
        let v: Vec<u32> = (0..10).collect();
        let parts = split(&v, 3);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.concat(), v);
        assert!(parts.iter().all(|p| !p.is_empty()));
        assert_eq!(split(&v[..1], 4), vec![vec![0]]);
    }
}
