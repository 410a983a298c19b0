//! git's index step.

use super::context::{IndexContext, IndexReport, IndexSource, Missing, SuiteHook};
use crate::manifest::{Dependency, Ecosystem, Manifest};
use crate::source::SourceError;
use crate::source::git::{GitPin, git_pin};
use crate::universe::{CandidateMeta, PackageKey, Universe};
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
                Err(e) => out.missing.push(Missing::from_error(d, &e)),
            }
        }
        out.counts.entry(Ecosystem::Git).or_default().versions = n;
        Ok(())
    }

    /// git commits, in domain `git`.
    fn add_to_universe(
        &self,
        u: &mut Universe,
        _: &Manifest,
        report: &IndexReport,
        _: &mut Vec<String>,
    ) -> Result<(), SourceError> {
        for g in &report.git {
            let pid = u.intern(PackageKey::new(Ecosystem::Git, "git", &g.url));
            let meta = CandidateMeta {
                first_seen: Some(g.date.clone()),
                provenance: Some(format!("{} {} at cutoff: {}", g.url, g.reference, g.note)),
                ..Default::default()
            };
            u.add_candidate(pid, &g.commit, meta, vec![], vec![], vec![])?;
        }
        Ok(())
    }
}
