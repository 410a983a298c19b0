//! The index stage: for every dependency of a manifest, what existed at the
//! cutoff, from every source at once; Debian suites are handed to the caller
//! (which loads them into the universe) as they arrive.

use crate::date::Cutoff;
use crate::manifest::{Constraint, Dependency, Ecosystem, Manifest};
use crate::source::debian::archive::{Location, SuiteIndex, SuiteReport, SuiteSpec};
use crate::source::debian::index::DebianIndex;
use crate::source::debian::release::Keyring;
use crate::source::docker::{DockerIndex, DockerPin, DockerRegistry};
use crate::source::git::{GitIndex, GitSource};
use crate::source::go::{GoIndex, GoProxy};
use crate::source::http::Http;
use crate::source::pypi::{PyPi, PyPiIndex};
use crate::source::web::{WebConfig, WebIndex, WebPin};
use crate::source::{History, SourceError, VersionSource};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use crate::source::git::GitPin;

/// Schema version of the index report.
pub const INDEX_SCHEMA_VERSION: u32 = 1;

/// Every client the index stage uses.
pub struct Sources {
    /// HTTP layer and cache.
    pub http: Arc<Http>,
    /// Where Debian suites are read.
    pub debian: Location,
    /// snapshot.debian.org base for `/mr/` and pool URL pinning.
    pub snapshot: String,
    /// Keyring for InRelease signatures.
    pub keyring: Option<Keyring>,
    /// PyPI.
    pub pypi: PyPi,
    /// Go proxy.
    pub go: GoProxy,
    /// git clones.
    pub git: GitSource,
    /// Web pinning configuration.
    pub web: WebConfig,
    /// Container registries (base images).
    pub docker: DockerRegistry,
}

/// Per-ecosystem counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EcoCount {
    /// Dependencies in the manifest.
    pub dependencies: usize,
    /// Distinct names asked.
    pub names: usize,
    /// Candidate versions that existed at the cutoff (for Debian: index entries read).
    pub versions: usize,
    /// Dependencies with no version at the cutoff.
    pub missing: usize,
}

/// A dependency for which nothing existed at the cutoff (or that could not be checked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    /// Ecosystem.
    pub ecosystem: Ecosystem,
    /// Name as declared.
    pub name: String,
    /// Constraint as declared.
    pub constraint: Constraint,
    /// Where it was declared.
    pub origin: String,
    /// Why nothing matches, or the error met.
    pub reason: String,
}

/// What `index` found.
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    /// [`INDEX_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Platform of the manifest.
    pub platform: String,
    /// The cutoff, RFC 3339.
    pub cutoff: String,
    /// Debian suites read, with snapshot timestamps and signature status.
    pub suites: Vec<SuiteReport>,
    /// Counts per ecosystem.
    pub counts: BTreeMap<Ecosystem, EcoCount>,
    /// Dependencies with no version at the cutoff, sorted.
    pub missing: Vec<Missing>,
    /// Version histories of the PyPI and Go names.
    pub histories: Vec<History>,
    /// git pins.
    pub git: Vec<GitPin>,
    /// web pins.
    pub web: Vec<WebPin>,
    /// Base images resolved to per-architecture digests as of the cutoff.
    pub docker: Vec<DockerPin>,
    /// Docker references that could not be asked for (not expanded by the crawler), by name.
    pub not_indexed: Vec<String>,
}

/// The Debian suites a manifest needs: the standard four for every `context.suite` it mentions.
pub fn suites_for(manifest: &Manifest, arch: &str) -> Result<Vec<SuiteSpec>, SourceError> {
    let dists: BTreeSet<&str> = manifest
        .dependencies
        .iter()
        .filter(|d| matches!(d.ecosystem, Ecosystem::Deb | Ecosystem::DebSrc))
        .filter_map(|d| d.context.suite.as_deref())
        .collect();
    let mut out = Vec::new();
    for d in dists {
        out.extend(SuiteSpec::standard(d, arch)?);
    }
    Ok(out)
}

/// True when the crawler left a variable or template in a name (it cannot be asked for).
pub(crate) fn unexpanded(name: &str) -> bool {
    name.contains('$') || name.contains("{{") || name.contains("{%")
}

impl Missing {
    /// `d` reported as missing, for `reason`.
    pub fn of(d: &Dependency, reason: impl Into<String>) -> Missing {
        Missing {
            ecosystem: d.ecosystem,
            name: d.name.clone(),
            constraint: d.constraint.clone(),
            origin: d.origin.to_string(),
            reason: reason.into(),
        }
    }
}

/// What every ecosystem's index step is given.
pub struct IndexContext<'a> {
    /// Every client.
    pub sources: &'a Sources,
    /// The manifest indexed.
    pub manifest: &'a Manifest,
    /// The date asked.
    pub cutoff: &'a Cutoff,
    /// The Debian suites to read.
    pub suites: &'a [SuiteSpec],
    /// The platform's architecture (the first suite's), for per-architecture answers.
    pub arch: &'a str,
    /// How many of the newest releases of each Python name get their `Requires-Dist` read.
    pub py_metadata: usize,
}

impl<'a> IndexContext<'a> {
    /// The manifest's dependencies of one ecosystem, in manifest order.
    pub fn dependencies(&self, eco: Ecosystem) -> Vec<&'a Dependency> {
        self.manifest
            .dependencies
            .iter()
            .filter(|d| d.ecosystem == eco)
            .collect()
    }
}

/// Sees each Debian suite's verified indices as they arrive (to load them into a universe).
pub type SuiteHook<'a> = dyn FnMut(&SuiteIndex) -> Result<(), SourceError> + 'a;

/// One ecosystem's step of the index stage: given the manifest's
/// dependencies of its ecosystem and the cutoff, it adds to the report what
/// existed at the cutoff (versions, the metadata the universe needs), the pins
/// it resolves, and the dependencies it found nothing for.
pub trait IndexSource: Sync {
    /// The ecosystems whose dependencies this step answers.
    fn ecosystems(&self) -> &'static [Ecosystem];
    /// Adds this ecosystem's findings to `out` (counts, missing, histories or pins).
    fn index(
        &self,
        cx: &IndexContext<'_>,
        on_suite: &mut SuiteHook<'_>,
        out: &mut IndexReport,
    ) -> Result<(), SourceError>;
}

/// Every ecosystem's index step, in the order they run. A new ecosystem is
/// one more implementation of [`IndexSource`] and one more line here.
pub const INDEX_SOURCES: &[&dyn IndexSource] = &[
    &DebianIndex,
    &PyPiIndex,
    &GoIndex,
    &GitIndex,
    &WebIndex,
    &DockerIndex,
];

/// Runs the index stage. `on_suite` sees each suite's verified indices (to load them into a universe).
pub fn run(
    src: &Sources,
    manifest: &Manifest,
    cutoff: &Cutoff,
    suites: &[SuiteSpec],
    py_metadata: usize,
    mut on_suite: impl FnMut(&SuiteIndex) -> Result<(), SourceError>,
) -> Result<IndexReport, SourceError> {
    let mut report = IndexReport {
        schema_version: INDEX_SCHEMA_VERSION,
        platform: manifest.platform.clone(),
        cutoff: cutoff.rfc3339(),
        suites: Vec::new(),
        counts: BTreeMap::new(),
        missing: Vec::new(),
        histories: Vec::new(),
        git: Vec::new(),
        web: Vec::new(),
        docker: Vec::new(),
        not_indexed: Vec::new(),
    };
    for d in &manifest.dependencies {
        report.counts.entry(d.ecosystem).or_default().dependencies += 1;
    }
    let cx = IndexContext {
        sources: src,
        manifest,
        cutoff,
        suites,
        arch: suites
            .first()
            .and_then(|s| s.architectures.first())
            .map(String::as_str)
            .unwrap_or("amd64"),
        py_metadata,
    };
    for step in INDEX_SOURCES {
        step.index(&cx, &mut on_suite, &mut report)?;
    }
    for m in &report.missing {
        report.counts.entry(m.ecosystem).or_default().missing += 1;
    }
    report
        .missing
        .sort_by(|a, b| (a.ecosystem, &a.name, &a.origin).cmp(&(b.ecosystem, &b.name, &b.origin)));
    report
        .histories
        .sort_by(|a, b| (a.ecosystem, &a.name).cmp(&(b.ecosystem, &b.name)));
    report
        .git
        .sort_by(|a, b| (&a.url, &a.reference).cmp(&(&b.url, &b.reference)));
    report.git.dedup();
    report.suites.sort_by(|a, b| a.suite.cmp(&b.suite));
    Ok(report)
}

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
    /// A second look at `d` that `reason` says is missing: `None` when it exists after all.
    fn recheck(&self, _cx: &IndexContext<'_>, _d: &Dependency, reason: String) -> Option<String> {
        Some(reason)
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
                .push(Missing::of(d, "name not expanded by the crawler"));
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
                if let Some(reason) = unmet.and_then(|r| rules.recheck(cx, d, r)) {
                    out.missing.push(Missing::of(d, reason));
                }
            }
            Some(Err(e)) => out.missing.push(Missing::of(d, e.to_string())),
            None => out.missing.push(Missing::of(d, "not asked")),
        }
    }
    out.histories
        .extend(results.into_values().filter_map(Result::ok));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ecosystem_has_exactly_one_index_step() {
        for e in Ecosystem::ALL {
            let n = INDEX_SOURCES
                .iter()
                .filter(|s| s.ecosystems().contains(&e))
                .count();
            assert_eq!(n, 1, "{e:?} is indexed by {n} steps");
        }
    }
}
