//! Proving a candidate lock by trial builds: the learn loop over the search
//! that fits what is known (the whole tree re-solved, a universe searched
//! around the candidate, or the candidate alone), and the proven lock with the
//! record of the trials that taught it.

use super::search::ManifestSearch;
use super::{Indexed, Pipeline};
use crate::lock::{Lock, PinKey, TrialRecord, Verdict};
use crate::trial::builder::Builder;
use crate::trial::journal::{Journal, JournalError};
use crate::trial::learn::{
    Assignment, Event, LearnConfig, LearnError, Learner, Locked, SingleCandidate,
};
use crate::trial::pool::Workspace;
use crate::trial::search::SolverSearch;
use crate::trial::stage::LockStage;
use crate::trial::triage::Triage;
use crate::universe::Universe;
use std::collections::BTreeMap;
use std::path::Path;

/// Where the alternatives to a failing candidate come from.
pub enum SearchSpace<'p, 's> {
    /// Re-solve the crawled tree (every image's roots and transactions, Python
    /// metadata read as needed) with each learned nogood.
    Tree {
        /// The pipeline that indexed the tree.
        pipeline: &'p Pipeline<'s>,
        /// What it indexed (boxed: a universe is large and the other
        /// variants are a pointer or nothing).
        indexed: Box<Indexed>,
    },
    /// Search a universe (the index stage's artifact) around the candidate's pins.
    Universe(&'p Universe),
    /// Only the candidate: it is proven, or the pins to blame are named.
    Candidate,
}

/// How to judge candidates.
pub struct Prover<'a> {
    /// Runs one trial build.
    pub builder: &'a dyn Builder,
    /// Builds a candidate `builder` passed once more (a full build after
    /// cheap layer trials); only its pass makes the lock.
    pub confirm: Option<&'a dyn Builder>,
    /// Trial inputs, logs and the journal (`<workspace>/journal`) go here.
    pub workspace: &'a Path,
    /// Failure signatures.
    pub triage: &'a Triage,
    /// Which package owns a file (from a Debian Contents index), to blame the
    /// owner of a missing header or library.
    pub owners: Option<BTreeMap<String, Vec<String>>>,
    /// Parallel trials and the build budget.
    pub config: LearnConfig,
    /// An assignment known to build: the passing end for delta debugging.
    pub reference: Option<Assignment<PinKey>>,
}

/// Why proving stopped without a lock.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// The journal could not be opened.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The learn loop ended without a passing build.
    #[error(transparent)]
    Learn(#[from] LearnError),
}

/// A lock proven by a passing build.
pub struct Proven {
    /// The lock, with a trial record per learned nogood and the passing build.
    pub lock: Lock,
    /// What the loop did (builds, journal answers, learned nogoods).
    pub locked: Locked<PinKey>,
}

/// `k = v` of one pick, as trial records and reports name it.
pub fn pick_text(k: &PinKey, v: &str) -> String {
    format!("{k} = {v}")
}

/// The candidate as an unproven lock for `platform` (nothing was built).
pub fn unproven(candidate: Lock, platform: &str) -> Lock {
    let mut lock = candidate;
    lock.platform = platform.to_string();
    lock.trials.clear();
    lock
}

/// Proves `candidate` for `platform` by trial builds, learning from each
/// failure and proposing from `space` again until a build passes.
pub fn prove(
    platform: &str,
    candidate: &Lock,
    space: SearchSpace<'_, '_>,
    prover: Prover<'_>,
    on_event: &(dyn Fn(Event<'_, PinKey>) + Sync),
) -> Result<Proven, ProveError> {
    let mut stage = LockStage::new(candidate.clone());
    if let Some(owners) = prover.owners {
        stage = stage.with_owners(owners);
    }
    let ws = Workspace::new(prover.workspace);
    let journal = Journal::open(&prover.workspace.join("journal"))?;
    let learner = Learner {
        builder: prover.builder,
        journal: Some(&journal),
        workspace: &ws,
        triage: prover.triage,
        stage: &stage,
        config: prover.config,
        on_event,
    };
    let reference = prover.reference;
    let confirm = prover.confirm;
    let locked = match space {
        SearchSpace::Tree { pipeline, indexed } => learner.run_confirmed(
            &mut ManifestSearch::new(pipeline, *indexed),
            reference,
            confirm,
        ),
        SearchSpace::Universe(u) => learner.run_confirmed(
            &mut SolverSearch::for_candidate(u, candidate),
            reference,
            confirm,
        ),
        SearchSpace::Candidate => learner.run_confirmed(
            &mut SingleCandidate::new(LockStage::assignment_of(candidate)),
            reference,
            confirm,
        ),
    }?;
    let desc = prover.builder.describe();
    let mut lock = stage.lock_for(&locked.assignment);
    lock.platform = platform.to_string();
    for l in &locked.learned {
        lock.trials.push(TrialRecord {
            candidate: l.candidate.clone(),
            builder: l.builder.clone(),
            result: Verdict::Fail,
            detail: Some(
                l.picks
                    .iter()
                    .map(|(k, v)| pick_text(k, v))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        });
    }
    // With a confirming builder, the cheap pass and the confirming one.
    for builder in [desc, locked.judged_by.clone()] {
        lock.trials.push(TrialRecord {
            candidate: locked.candidate.clone(),
            builder,
            result: Verdict::Pass,
            detail: None,
        });
    }
    lock.normalize();
    Ok(Proven { lock, locked })
}
