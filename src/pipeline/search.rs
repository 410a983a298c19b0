//! The learn loop's search over a whole tree: every proposal re-solves the
//! crawled manifest through the pipeline with every nogood learned so far.

use super::{Indexed, Pipeline};
use crate::lock::PinKey;
use crate::solve::Nogood;
use crate::trial::learn::{Assignment, Forbid, Search, SearchError};
use crate::trial::search::resolve_key;
use crate::trial::stage::LockStage;
use crate::universe::PackageKey;

/// A [`Search`] that re-solves the whole manifest with every learned nogood: each
/// image's apt transactions, Build-Depends, pip installs (Requires-Dist read as the
/// picks need it) and Go modules, exactly as the static solve did; pins the universe
/// does not know (git, web, docker) stay as the first candidate had them.
pub struct ManifestSearch<'p, 's> {
    pipeline: &'p Pipeline<'s>,
    indexed: Indexed,
    nogoods: Vec<Nogood>,
}

impl<'p, 's> ManifestSearch<'p, 's> {
    /// A search over `indexed` (crawled and indexed by `pipeline`), starting
    /// from the pipeline's own nogoods.
    pub fn new(pipeline: &'p Pipeline<'s>, indexed: Indexed) -> ManifestSearch<'p, 's> {
        ManifestSearch {
            pipeline,
            indexed,
            nogoods: pipeline.options.nogoods.clone(),
        }
    }

    /// The nogoods learned so far, in the universe's terms.
    pub fn nogoods(&self) -> &[Nogood] {
        &self.nogoods
    }
}

impl Search for ManifestSearch<'_, '_> {
    type Key = PinKey;

    fn propose(&mut self) -> Result<Assignment<PinKey>, SearchError> {
        let solved = self
            .pipeline
            .solve(&mut self.indexed, &self.nogoods, None)
            .map_err(|e| {
                if e.is_unsat() {
                    SearchError::Unsat(e.to_string())
                } else {
                    SearchError::Failed(Box::new(e))
                }
            })?;
        Ok(LockStage::assignment_of(&solved.lock))
    }

    fn forbid(&mut self, picks: Vec<(PinKey, String)>, reason: &str) -> Forbid {
        let u = &self.indexed.universe;
        // Pins the universe does not know (git, web, docker) have no alternatives
        // and are in every proposal: the nogood holds over the others; blaming
        // only them teaches nothing, and the loop must hear so.
        let picks: Vec<(PackageKey, String)> = picks
            .into_iter()
            .map(|(k, v)| (resolve_key(u, &k), v))
            .filter(|(k, _)| u.lookup(k).is_some())
            .collect();
        if picks.is_empty() {
            return Forbid::Unchangeable;
        }
        self.nogoods.push(Nogood::new(picks, reason));
        Forbid::Learned
    }
}
