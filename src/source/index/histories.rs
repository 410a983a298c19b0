//! The step shared by the sources that answer with one version history per
//! name (PyPI, Go): each names only what differs through [`HistoryRules`].

use super::context::{IndexContext, IndexReport, Missing, MissingCause, Sources, unexpanded};
use crate::manifest::{Constraint, Dependency, Ecosystem};
use crate::source::{History, SourceError, VersionSource};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// The ecosystem-specific parts of [`index_histories`], the step shared by the
/// sources that answer with one version history per name (PyPI, Go).
pub(crate) trait HistoryRules: Sync {
    /// The ecosystem.
    fn ecosystem(&self) -> Ecosystem;
    /// Its client.
    fn source<'s>(&self, src: &'s Sources) -> &'s dyn VersionSource;
    /// The name the source is asked under (normalised).
    fn key(&self, name: &str) -> String {
        name.to_string()
    }
    /// Adds what the universe needs beyond the versions; `pins` are the exact versions declared.
    fn enrich(&self, _cx: &IndexContext<'_>, _h: &mut History, _pins: &[String]) {}
    /// Why no version of a non-empty `h` satisfies `c`, or `None` when one does.
    fn unmet(&self, h: &History, c: &Constraint) -> Option<String>;
    /// A second look at `d` that `reason` says is missing: `None` when it
    /// exists after all, else why (and the cause) it is missing.
    fn recheck(
        &self,
        _cx: &IndexContext<'_>,
        _d: &Dependency,
        reason: String,
    ) -> Option<(String, MissingCause)> {
        Some((reason, MissingCause::NoVersionAtCutoff))
    }
}

/// One history per distinct name, in parallel; each dependency checked against its name's.
pub(crate) fn index_histories(
    rules: &dyn HistoryRules,
    cx: &IndexContext<'_>,
    out: &mut IndexReport,
) {
    let eco = rules.ecosystem();
    let source = rules.source(cx.sources);
    let deps = cx.dependencies(eco);
    let uniq: BTreeSet<String> = deps
        .iter()
        .filter(|d| !unexpanded(&d.name))
        .map(|d| rules.key(&d.name))
        .collect();
    let results: BTreeMap<String, Result<History, SourceError>> = uniq
        .par_iter()
        .map(|n| {
            let mut h = source.history(n, cx.cutoff);
            if let Ok(hist) = h.as_mut() {
                let pins: Vec<String> = deps
                    .iter()
                    .filter(|d| rules.key(&d.name) == *n)
                    .filter_map(|d| match &d.constraint {
                        Constraint::Exact(v) => Some(v.clone()),
                        Constraint::None | Constraint::Range(_) | Constraint::Ref(_) => None,
                    })
                    .collect();
                rules.enrich(cx, hist, &pins);
            }
            (n.clone(), h)
        })
        .collect();
    let c = out.counts.entry(eco).or_default();
    c.names = uniq.len();
    c.versions = results
        .values()
        .filter_map(|r| r.as_ref().ok())
        .map(|h| h.versions.len())
        .sum();
    for d in deps {
        if unexpanded(&d.name) {
            out.missing
                .push(Missing::not_expanded(d, "name not expanded by the crawler"));
            continue;
        }
        match results.get(&rules.key(&d.name)) {
            Some(Ok(h)) => {
                let unmet = if h.versions.is_empty() {
                    Some(format!(
                        "no version existed at the cutoff ({} later)",
                        h.later
                    ))
                } else {
                    rules.unmet(h, &d.constraint)
                };
                if let Some((reason, cause)) = unmet.and_then(|r| rules.recheck(cx, d, r)) {
                    out.missing.push(Missing::new(d, reason, cause));
                }
            }
            Some(Err(e)) => out.missing.push(Missing::from_error(d, e)),
            None => out
                .missing
                .push(Missing::new(d, "not asked", MissingCause::Error)),
        }
    }
    out.histories
        .extend(results.into_values().filter_map(Result::ok));
}
