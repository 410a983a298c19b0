//! The product's output: the lockfile, its exports to what SONiC's build already
//! enforces (version files, apt preferences, pip constraints, URL rewrites),
//! imports from existing SONiC version trees, and diffs between locks.

pub mod apt_prefs;
pub mod compare;
pub mod diff;
pub mod lockfile;
pub mod pip_constraints;
pub mod rewrite;
pub mod sonic_versions;
pub mod split;
pub mod verdict;

pub use diff::{Change, ChangeKind, LockDiff, diff};
pub use lockfile::{
    Archive, Gap, LOCK_VERSION, Lock, LockError, Pin, PinKey, SourceRecord, TrialRecord,
};
pub use verdict::Verdict;
