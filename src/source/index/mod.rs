//! The index stage: for every dependency of a manifest, what existed at the
//! cutoff, from every source at once; Debian suites are handed to the caller
//! (which loads them into the universe) as they arrive.
//!
//! [`context`] holds what every step shares (the clients, the context, the
//! report, the [`IndexSource`] trait); each ecosystem's step is one file here
//! over its client (its index step and what it adds to the universe); this
//! file registers them and runs them in order.

pub mod aptsources;
pub mod context;
pub mod deb;
pub mod docker;
pub mod git;
pub mod go;
pub mod histories;
pub mod missing;
pub mod py;
pub mod web;

pub use context::{
    EcoCount, INDEX_SCHEMA_VERSION, IndexContext, IndexReport, IndexSource, Missing, MissingCause,
    Sources, SuiteHook,
};
pub use deb::load_suite;

use crate::date::Cutoff;
use crate::manifest::{Ecosystem, Manifest};
use crate::source::SourceError;
use crate::source::debian::archive::SuiteSpec;
use crate::source::suitecache::ParsedSuite;
use crate::universe::Universe;
use deb::DebianIndex;
use docker::DockerIndex;
use git::GitIndex;
use go::GoIndex;
use py::PyPiIndex;
use std::collections::{BTreeMap, BTreeSet};
use web::WebIndex;

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

/// Every ecosystem's index step, in the order they run. A new ecosystem is
/// one more file in this module implementing [`IndexSource`] and one more line here.
pub const INDEX_SOURCES: &[&dyn IndexSource] = &[
    &DebianIndex,
    &PyPiIndex,
    &GoIndex,
    &GitIndex,
    &WebIndex,
    &DockerIndex,
];

/// Runs the index stage. `on_suite` sees each suite's verified indices (to load them into a universe);
/// with `apt_python` the suites' Contents indices are read too.
pub fn run(
    src: &Sources,
    manifest: &Manifest,
    cutoff: &Cutoff,
    suites: &[SuiteSpec],
    py_metadata: usize,
    apt_python: bool,
    mut on_suite: impl FnMut(ParsedSuite) -> Result<(), SourceError>,
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
        apt_sources: Vec::new(),
        source_gaps: Vec::new(),
        added: Vec::new(),
        apt_python: Default::default(),
        build_deps: Vec::new(),
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
        apt_python,
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

/// Adds what `report` found to `u`, each ecosystem's step in
/// [`INDEX_SOURCES`] order (Python and Go histories, then git, then web pins;
/// Debian suites went in through `on_suite` during [`run`]); returns notes on
/// candidates that could not be added (a malformed `Requires-Python`, ...).
pub fn add_report(
    u: &mut Universe,
    manifest: &Manifest,
    report: &IndexReport,
) -> Result<Vec<String>, SourceError> {
    let mut notes = Vec::new();
    for step in INDEX_SOURCES {
        step.add_to_universe(u, manifest, report, &mut notes)?;
    }
    Ok(notes)
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

    /// Candidate ids follow insertion order and `run` sorts histories by
    /// ecosystem, so steps registered in ecosystem order add candidates in
    /// the order of `report.histories`.
    #[test]
    fn index_steps_are_registered_in_ecosystem_order() {
        let firsts: Vec<Ecosystem> = INDEX_SOURCES
            .iter()
            .filter_map(|s| s.ecosystems().first().copied())
            .collect();
        assert!(firsts.windows(2).all(|w| w[0] < w[1]), "{firsts:?}");
    }
}
