//! The oracle that judges a subset with a real builder: it materialises
//! G + subset on disk (lockfile and versions tree), runs the builder, and
//! records the verdict in the trial journal so an interrupted run resumes.

use super::BisectError;
use super::engine::{Observation, Oracle};
use crate::trial::builder::{Builder, TrialError, TrialInput, TrialResult, Verdict};
use crate::trial::pool::{TrialLock, clear_trial_dir};
use std::path::{Path, PathBuf};

/// A candidate written to disk for one trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The candidate as a lockfile.
    pub lockfile: PathBuf,
    /// The candidate as a SONiC versions tree.
    pub versions_dir: PathBuf,
}

/// Turns a subset of changes into a concrete candidate.
pub trait Materialize: Sync {
    /// Stable hash of G + `subset` (the journal key), computed without writing.
    fn candidate_hash(&self, subset: &[usize]) -> Result<String, BisectError>;
    /// Writes G + `subset` below `dir` as a lockfile and a versions tree.
    fn materialize(&self, subset: &[usize], dir: &Path) -> Result<Prepared, BisectError>;
}

/// Where finished trials are remembered across runs.
pub trait TrialMemo: Sync {
    /// The finished result of `key` judged by a builder of `identity`
    /// (`Builder::identity`), if any.
    fn lookup(&self, key: &str, identity: &str) -> Option<TrialResult>;
    /// Records a finished result of the builder described as `builder`, with
    /// `identity`, durably.
    fn record(
        &self,
        key: &str,
        builder: &str,
        identity: &str,
        result: &TrialResult,
    ) -> Result<(), BisectError>;
}

/// An [`Oracle`] backed by a [`Builder`].
pub struct BuildOracle<'a, M: Materialize> {
    builder: &'a dyn Builder,
    candidates: &'a M,
    trials_dir: PathBuf,
    memo: Option<&'a dyn TrialMemo>,
    interrupted: &'a (dyn Fn() -> bool + Sync),
}

impl<'a, M: Materialize> BuildOracle<'a, M> {
    /// Trials are prepared under `trials_dir/<hash>[-rN]/`; `interrupted` is polled
    /// before each build so Ctrl-C stops cleanly between trials.
    pub fn new(
        builder: &'a dyn Builder,
        candidates: &'a M,
        trials_dir: &Path,
        memo: Option<&'a dyn TrialMemo>,
        interrupted: &'a (dyn Fn() -> bool + Sync),
    ) -> BuildOracle<'a, M> {
        BuildOracle {
            builder,
            candidates,
            trials_dir: trials_dir.to_path_buf(),
            memo,
            interrupted,
        }
    }
}

/// The journal key of a candidate: re-runs for confirmation are distinct entries.
pub fn trial_key(candidate_hash: &str, attempt: u32) -> String {
    if attempt == 0 {
        candidate_hash.to_string()
    } else {
        format!("{candidate_hash}+rerun{attempt}")
    }
}

fn io_err(path: &Path, e: std::io::Error) -> BisectError {
    BisectError::Prepare {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

impl<M: Materialize> Oracle for BuildOracle<'_, M> {
    fn judge(&self, subset: &[usize], attempt: u32) -> Result<Observation, BisectError> {
        let hash = self.candidates.candidate_hash(subset)?;
        let key = trial_key(&hash, attempt);
        let describe = self.builder.describe();
        let identity = self.builder.identity();
        if let Some(memo) = self.memo
            && let Some(r) = memo.lookup(&key, &identity)
        {
            return Ok(Observation {
                verdict: r.verdict,
                exit_code: r.exit_code,
                duration: r.duration,
                log: Some(r.log),
                replayed: true,
            });
        }
        if (self.interrupted)() {
            return Err(BisectError::Interrupted);
        }
        let dir = self.trials_dir.join(&key);
        // Before anything in the directory is touched: a build of this candidate
        // still running there (left by a killed run) is killed, a live one waited for.
        let _lock = match TrialLock::acquire(&dir, self.interrupted) {
            Ok(l) => l,
            Err(TrialError::Interrupted) => return Err(BisectError::Interrupted),
            Err(e) => return Err(e.into()),
        };
        // A directory left by an interrupted trial is stale: start it afresh.
        clear_trial_dir(&dir)?;
        let work_dir = dir.join("work");
        std::fs::create_dir_all(&work_dir).map_err(|e| io_err(&work_dir, e))?;
        let prepared = self.candidates.materialize(subset, &dir)?;
        let input = TrialInput {
            candidate_hash: hash,
            lockfile: prepared.lockfile,
            versions_dir: prepared.versions_dir,
            work_dir,
            log: dir.join("build.log"),
        };
        let result = match self.builder.run(&input) {
            Ok(r) => r,
            Err(TrialError::Interrupted) => {
                return Err(BisectError::Interrupted);
            }
            Err(e) => return Err(e.into()),
        };
        if (self.interrupted)() {
            // The build was probably killed by the same Ctrl-C: its verdict means nothing.
            return Err(BisectError::Interrupted);
        }
        if result.verdict != Verdict::Abort
            && let Some(memo) = self.memo
        {
            memo.record(&key, &describe, &identity, &result)?;
        }
        Ok(Observation {
            verdict: result.verdict,
            exit_code: result.exit_code,
            duration: result.duration,
            log: Some(result.log),
            replayed: false,
        })
    }
}

/// The trial journal is the memo: bisect resumes from the same journal as trial builds.
impl TrialMemo for crate::trial::journal::Journal {
    fn lookup(&self, key: &str, identity: &str) -> Option<TrialResult> {
        crate::trial::journal::Journal::lookup(self, key, identity)
    }

    fn record(
        &self,
        key: &str,
        builder: &str,
        identity: &str,
        result: &TrialResult,
    ) -> Result<(), BisectError> {
        crate::trial::journal::Journal::record(self, key, builder, identity, result).map_err(|e| {
            BisectError::Prepare {
                path: self.path().display().to_string(),
                message: e.to_string(),
            }
        })
    }
}
