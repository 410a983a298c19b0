//! The contract between the search (or bisection) and whatever judges a candidate:
//! a builder receives a prepared candidate and says pass, fail, skip or abort.

pub use crate::lock::Verdict;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// A candidate prepared on disk for one trial build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialInput {
    /// Stable hash of the candidate's pins: the journal key.
    pub candidate_hash: String,
    /// The candidate as a lockfile (exported to `SONIC_LOCK_LOCKFILE`).
    pub lockfile: PathBuf,
    /// The candidate as a SONiC `files/build/versions/` tree (exported to `SONIC_LOCK_VERSIONS_DIR`).
    pub versions_dir: PathBuf,
    /// A fresh directory the builder may use for its work.
    pub work_dir: PathBuf,
    /// Where the builder writes the build log.
    pub log: PathBuf,
}

/// What a builder reports for one trial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialResult {
    /// The judgement.
    pub verdict: Verdict,
    /// The process exit code, when the process exited normally.
    pub exit_code: Option<i32>,
    /// Wall-clock duration of the trial.
    pub duration: Duration,
    /// Path of the log file.
    pub log: PathBuf,
    /// True when the builder killed the build at its wall-clock limit (reported as `Fail`).
    pub timed_out: bool,
    /// Attempts lost to the machine rather than judged (a cluster node that
    /// vanished under the build) and run again elsewhere; empty for local builders.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requeues: Vec<Requeue>,
}

/// One attempt of a trial lost to its machine and re-queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requeue {
    /// Where the attempt ran (a cluster node name).
    pub node: String,
    /// Why it was lost (`node NotReady`, `pod evicted`, `DisruptionTarget: ...`).
    pub reason: String,
}

/// Errors that stop a builder from judging at all (as opposed to a failed build).
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    /// The builder could not be started (missing program, docker not running, ...).
    #[error("cannot start builder `{builder}`: {message}")]
    Start {
        /// The builder's description.
        builder: String,
        /// What went wrong.
        message: String,
    },
    /// An I/O error while preparing or running the trial.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The run was interrupted (Ctrl-C); nothing is recorded for it.
    #[error("trial interrupted")]
    Interrupted,
}

/// Something that judges a prepared candidate: the command, docker and sonic builders.
pub trait Builder: Send + Sync {
    /// A short description for logs, journals and reports (`command: make test`).
    fn describe(&self) -> String;
    /// What judges a verdict, for the journal: the builder's kind, argv and a
    /// hash of the script or image it runs. Verdicts are reused only by a builder
    /// of the same identity, so editing the build script invalidates them.
    fn identity(&self) -> String {
        format!("describe:{}", self.describe())
    }
    /// Runs one trial; a failed build is `Ok` with [`Verdict::Fail`], not an error.
    fn run(&self, input: &TrialInput) -> Result<TrialResult, TrialError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_git_bisect_run() {
        assert_eq!(Verdict::from_exit_code(0), Verdict::Pass);
        assert_eq!(Verdict::from_exit_code(1), Verdict::Fail);
        assert_eq!(Verdict::from_exit_code(124), Verdict::Fail);
        assert_eq!(Verdict::from_exit_code(125), Verdict::Skip);
        assert_eq!(Verdict::from_exit_code(127), Verdict::Fail);
        assert_eq!(Verdict::from_exit_code(128), Verdict::Abort);
        assert_eq!(Verdict::from_exit_code(255), Verdict::Abort);
        assert_eq!(Verdict::from_exit_code(-1), Verdict::Abort);
    }
}
