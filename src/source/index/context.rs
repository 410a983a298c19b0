//! What every ecosystem's index step is given and what it adds to: the
//! clients ([`Sources`]), the context, the report and the step's trait.

pub use super::missing::{Missing, MissingCause};
use crate::date::Cutoff;
use crate::manifest::{Dependency, Ecosystem, Manifest};
use crate::source::History;
use crate::source::SourceError;
use crate::source::debian::archive::{Location, SuiteReport, SuiteSpec};
use crate::source::debian::release::Trust;
use crate::source::docker::{DockerPin, DockerRegistry};
use crate::source::git::{GitPin, GitSource};
use crate::source::go::GoProxy;
use crate::source::http::Http;
use crate::source::pypi::PyPi;
use crate::source::suitecache::ParsedSuite;
use crate::source::web::{WebConfig, WebPin};
use crate::universe::Universe;
use crate::universe::python::apt::AptPython;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

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
    /// How InRelease signatures are checked.
    pub trust: Trust,
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
    /// apt repositories the scripts add that were read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub apt_sources: Vec<super::aptsources::AddedSourceReport>,
    /// apt repositories the scripts add that could not be read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub source_gaps: Vec<super::aptsources::SourceGap>,
    /// The added repositories' indices, for the universe (not serialised).
    #[serde(skip)]
    pub added: Vec<super::aptsources::AddedLoad>,
    /// The Python distributions Debian packages install (from the suites'
    /// Contents indices), for the images' `pip freeze`.
    #[serde(default, skip_serializing_if = "AptPython::is_empty")]
    pub apt_python: AptPython,
    /// The build dependencies of the source packages the scripts
    /// `apt-get build-dep`, per distribution, each version the suites list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_deps: Vec<(String, crate::source::suitecache::SourceBuildDeps)>,
}

/// True when the crawler left a variable or template in a name (it cannot be asked for).
pub(crate) fn unexpanded(name: &str) -> bool {
    name.contains('$') || name.contains("{{") || name.contains("{%")
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
    /// Read the suites' Contents indices for the Python distributions Debian packages install.
    pub apt_python: bool,
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

/// Sees each Debian suite's verified indices, parsed, as they arrive (to load them into a universe).
pub type SuiteHook<'a> = dyn FnMut(ParsedSuite) -> Result<(), SourceError> + 'a;

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
    /// Adds this ecosystem's findings in `report` to `u` as candidates, with
    /// a note in `notes` for each one that could not be added. Steps run in
    /// [`INDEX_SOURCES`](super::INDEX_SOURCES) order and candidate ids follow
    /// insertion order, so each step adds in report order. Ecosystems that add
    /// nothing here (Debian's suites go in through the [`SuiteHook`] while the
    /// index runs) keep the default.
    fn add_to_universe(
        &self,
        _u: &mut Universe,
        _manifest: &Manifest,
        _report: &IndexReport,
        _notes: &mut Vec<String>,
    ) -> Result<(), SourceError> {
        Ok(())
    }
}
