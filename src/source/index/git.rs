//! git's index step.

use super::context::{IndexContext, IndexReport, IndexSource, Missing, SuiteHook};
use crate::manifest::{Dependency, Ecosystem};
use crate::source::SourceError;
use crate::source::git::{GitPin, git_pin};
use rayon::prelude::*;
use std::collections::BTreeSet;

/// git's index step: each repository's declared branch, tag or commit (or its
/// default branch) resolved to the commit at the cutoff.
pub struct GitIndex;

impl IndexSource for GitIndex {
    fn ecosystems(&self) -> &'static [Ecosystem] {
        &[Ecosystem::Git]
    }

    fn index(
        &self,
        cx: &IndexContext<'_>,
        _: &mut SuiteHook<'_>,
        out: &mut IndexReport,
    ) -> Result<(), SourceError> {
        let deps = cx.dependencies(Ecosystem::Git);
        out.counts.entry(Ecosystem::Git).or_default().names =
            deps.iter().map(|d| &d.name).collect::<BTreeSet<_>>().len();
        let res: Vec<(&Dependency, Result<GitPin, SourceError>)> = deps
            .par_iter()
            .map(|d| (*d, git_pin(&cx.sources.git, d, cx.cutoff)))
            .collect();
        let mut n = 0;
        for (d, r) in res {
            match r {
                Ok(p) => {
                    n += 1;
                    out.git.push(p);
                }
                Err(e) => out.missing.push(Missing::of(d, e.to_string())),
            }
        }
        out.counts.entry(Ecosystem::Git).or_default().versions = n;
        Ok(())
    }
}
