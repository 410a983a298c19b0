//! The judgement of a trial build, as a lock records it and every builder
//! reports it.

use serde::{Deserialize, Serialize};

/// The judgement of one trial, with `git bisect run` exit-code semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Exit 0: the build passed.
    Pass,
    /// Exit 1-127 except 125: the build failed.
    Fail,
    /// Exit 125: the candidate cannot be judged.
    Skip,
    /// Exit 128 and above (or killed by a signal): stop everything.
    Abort,
}

impl Verdict {
    /// Maps a process exit code to a verdict the way `git bisect run` does.
    pub fn from_exit_code(code: i32) -> Verdict {
        match code {
            0 => Verdict::Pass,
            125 => Verdict::Skip,
            1..=127 => Verdict::Fail,
            _ => Verdict::Abort,
        }
    }
}
