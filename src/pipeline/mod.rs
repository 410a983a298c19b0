//! The lock pipeline as one library entry: platform -> tree -> manifest ->
//! sources -> universe -> candidate lock. `lock`, `solve --platform`, time-axis
//! `bisect` and the learn loop's re-solves all go through [`Pipeline`], so the
//! same inputs give the same candidate whichever command asks.
//!
//! Three levels, as cargo's `ops::resolve` has them:
//!
//! - [`candidate`]: the candidate lock of a platform's tree with default options;
//! - [`candidate_with`]: the same with [`Options`] (metadata depth, gap policy, nogoods);
//! - [`candidate_with_previous`]: the same, staying as close as the sources
//!   allow to a previous lock (`lock --previous`, a nightly re-lock).
//!
//! This is the top stage of the library: it composes the stages below it and
//! implements the traits that the trial and bisect stages consume (a
//! re-solving search for the learn loop, the lock as of a timestamp for bisect,
//! the solver's Python metadata read from live sources).

pub mod asof;
pub mod builddep;
pub mod candidate;
pub mod metadata;
pub mod prove;
pub mod search;
pub mod sources;
pub mod tree;

pub use candidate::{Indexed, Solved};
pub use tree::{Tree, TreeRequest};

use crate::crawl::{self, CrawlError};
use crate::date::{Cutoff, DateError};
use crate::lock::{Gap, Lock};
use crate::manifest::{Manifest, ManifestError, Severity};
use crate::platform::PlatformError;
use crate::solve::{Nogood, Reference};
use crate::source::SourceError;
use crate::source::index::Sources;
use crate::universe::UniverseError;

/// Why the pipeline stopped before producing a candidate.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The platform definitions could not be read, or name no such platform.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// The repository could not be opened or cloned.
    #[error(transparent)]
    Tree(#[from] crawl::tree::TreeError),
    /// The crawl could not read the tree.
    #[error("crawl: {0}")]
    Crawl(#[from] CrawlError),
    /// The crawl could not read part of the tree and gaps are not allowed.
    #[error(
        "the crawl could not read {} part(s) of the tree, so the lock would be incomplete:\n{}\n\
         provide them (--submodules DIR or --clone-submodules), or pass --allow-incomplete to record the gaps",
        gaps.len(),
        gap_lines(gaps)
    )]
    Incomplete {
        /// What could not be read.
        gaps: Vec<Gap>,
    },
    /// The manifest's commit date is not a usable cutoff.
    #[error("manifest commit date `{date}` is not a cutoff: {source}")]
    CommitDate {
        /// The date as the manifest has it.
        date: String,
        /// Why it did not parse.
        source: Box<DateError>,
    },
    /// A date given for the tree or the cutoff is not a date.
    #[error(transparent)]
    Date(#[from] DateError),
    /// Indexing a source failed.
    #[error("index: {0}")]
    Source(Box<SourceError>),
    /// A requirement could not be expressed in the universe.
    #[error("universe: {0}")]
    Universe(#[from] UniverseError),
    /// The manifest could not be written.
    #[error("manifest: {0}")]
    Manifest(#[from] ManifestError),
    /// A source package's Build-Depends cannot be installed in its image.
    #[error("{image}: the build dependencies of {control} have no solution:\n{explanation}")]
    BuildDepsUnsat {
        /// The image (slave) building it.
        image: String,
        /// Its `debian/control`.
        control: String,
        /// The solver's explanation.
        explanation: String,
    },
    /// Some image's pip declarations have no solution.
    #[error("{image}: pip has no solution:\n{explanation}")]
    PyUnsat {
        /// The image.
        image: String,
        /// The solver's explanation.
        explanation: String,
    },
    /// Some image's apt transactions have no solution.
    #[error("{image}: transaction {} has no solution:\n{explanation}", transaction + 1)]
    Unsat {
        /// The image.
        image: String,
        /// Index of the failing transaction (0-based).
        transaction: usize,
        /// The solver's explanation.
        explanation: String,
    },
}

impl PipelineError {
    /// True when the sources had no consistent candidate (as opposed to an
    /// input or I/O error): time-axis bisection skips such a timestamp.
    pub fn is_unsat(&self) -> bool {
        matches!(
            self,
            PipelineError::Unsat { .. }
                | PipelineError::PyUnsat { .. }
                | PipelineError::BuildDepsUnsat { .. }
        )
    }
}

impl From<SourceError> for PipelineError {
    fn from(e: SourceError) -> PipelineError {
        PipelineError::Source(Box::new(e))
    }
}

/// One gap a line, indented, for messages.
pub fn gap_lines(gaps: &[Gap]) -> String {
    gaps.iter()
        .map(|g| format!("  {}: {}", g.origin, g.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// How the pipeline runs, beyond what names the tree and its sources.
#[derive(Debug, Clone)]
pub struct Options {
    /// Read Requires-Dist for this many newest versions of each Python package
    /// (plus pinned ones); the solve reads the rest as its picks need them.
    pub py_metadata: usize,
    /// Produce a lock even when the crawl could not read part of the tree; the
    /// lock then lists each gap. Without it such a tree is an error.
    pub allow_incomplete: bool,
    /// Nogoods learned by earlier trials: no candidate holds all picks of one.
    pub nogoods: Vec<Nogood>,
    /// Pin, as `pip freeze` lists them, the Python distributions each image's
    /// Debian packages install (read from the suites' Contents indices).
    pub freeze_apt_python: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            py_metadata: 1,
            allow_incomplete: false,
            nogoods: Vec::new(),
            freeze_apt_python: true,
        }
    }
}

/// A resolved tree, its sources and the options: everything a candidate
/// depends on except the cutoff, which [`Pipeline::candidate_at`] takes.
pub struct Pipeline<'s> {
    /// The platform name as requested (it names the lock).
    pub platform: String,
    /// The resolved tree.
    pub tree: Tree,
    /// The clients of every source.
    pub sources: &'s Sources,
    /// How to run.
    pub options: Options,
}

/// The crawled tree: the manifest and what the crawl could not read.
#[derive(Debug, Clone)]
pub struct Crawled {
    /// The crawl manifest.
    pub manifest: Manifest,
    /// What the crawl could not read (its error diagnostics), sorted.
    pub gaps: Vec<Gap>,
}

/// Every stage's artifact, so a caller can save or report any of them.
pub struct Output {
    /// What crawl and index produced (manifest, index report, universe, cutoff).
    pub indexed: Indexed,
    /// The solved candidate lock (with the crawl's gaps and the index cutoff).
    pub candidate: Lock,
    /// The per-image solve the candidate was made from.
    pub solved: crate::solve::images::ManifestSolve,
    /// Things to show (universe notes, missing dependencies, solve notes); crawl
    /// errors are the lock's gaps and are not repeated here.
    pub warnings: Vec<String>,
}

impl<'s> Pipeline<'s> {
    /// Resolves the tree `request` names (platform, repository, commit) for
    /// `sources` and `options`.
    pub fn new(
        request: &TreeRequest,
        sources: &'s Sources,
        options: Options,
    ) -> Result<Pipeline<'s>, PipelineError> {
        Ok(Pipeline {
            platform: request.platform.clone(),
            tree: Tree::resolve(request)?,
            sources,
            options,
        })
    }

    /// Crawls the tree. What the crawl could not read is an error unless
    /// [`Options::allow_incomplete`]: a lock claims to pin every dependency of the tree.
    pub fn crawl(&self) -> Result<Crawled, PipelineError> {
        let crawled = crawl::crawl(&self.tree.crawl, &|_, _| {})?;
        let gaps = crawl_gaps(&crawled.manifest);
        if !gaps.is_empty() && !self.options.allow_incomplete {
            return Err(PipelineError::Incomplete { gaps });
        }
        Ok(Crawled {
            manifest: crawled.manifest,
            gaps,
        })
    }

    /// Indexes and solves the crawled tree as of `cutoff` (the tree's cutoff
    /// when `None`: a requested date, else the commit's date) into a candidate
    /// lock. Crawl once, call this per date (time-axis bisection).
    pub fn candidate_at(
        &self,
        crawled: &Crawled,
        cutoff: Option<Cutoff>,
        on_stage: &dyn Fn(&str),
    ) -> Result<Output, PipelineError> {
        self.candidate_near(crawled, cutoff, None, on_stage)
    }

    /// As [`Pipeline::candidate_at`], preferring the versions of `previous`
    /// (by pin key) where the sources allow.
    pub fn candidate_near(
        &self,
        crawled: &Crawled,
        cutoff: Option<Cutoff>,
        previous: Option<&Reference>,
        on_stage: &dyn Fn(&str),
    ) -> Result<Output, PipelineError> {
        let mut indexed = self.index(crawled.manifest.clone(), cutoff, on_stage)?;
        let dropped = sources::drop_gapped(&mut indexed.manifest, &indexed.report);
        let tree_wheels = sources::drop_tree_wheels(&mut indexed.manifest, &indexed.report);
        indexed.warnings.extend(tree_wheels);
        if dropped > 0 {
            indexed.warnings.push(format!(
                "{dropped} dependencies left out of the solve: their sources could not be read (recorded as gaps)"
            ));
        }
        on_stage("solving");
        let solved = self.solve(&mut indexed, &self.options.nogoods, previous)?;
        let mut candidate = solved.lock;
        finish(&mut candidate, &crawled.gaps, &indexed.cutoff);
        candidate.gaps.extend(source_gaps(&indexed.report));
        sources::record(&mut candidate, self.sources, &indexed.report);
        let mut warnings: Vec<String> = indexed
            .warnings
            .iter()
            .filter(|w| !w.starts_with("crawl: "))
            .cloned()
            .collect();
        warnings.extend(solved.notes);
        Ok(Output {
            indexed,
            candidate,
            solved: solved.solve,
            warnings,
        })
    }
}

/// Finishes a candidate lock as every command writes it: the crawl's gaps and
/// the cutoff its sources were read at (the index cutoff, which is the commit
/// date unless a date was asked for), normalised.
pub fn finish(lock: &mut Lock, gaps: &[Gap], cutoff: &Cutoff) {
    lock.gaps = gaps.to_vec();
    lock.cutoff = cutoff.rfc3339();
    lock.normalize();
}

/// The added apt repositories that could not be read, as lock gaps (at their first origin).
pub fn source_gaps(report: &crate::source::index::IndexReport) -> Vec<Gap> {
    report
        .source_gaps
        .iter()
        .map(|g| Gap {
            origin: g.origins.first().cloned().unwrap_or_default(),
            message: g.message().replace(|c: char| c.is_control(), " "),
        })
        .collect()
}

/// What the crawl could not read (its error diagnostics: unreadable submodules,
/// files that failed to parse), as lock gaps, sorted. A lock that claims to pin
/// every dependency of the tree must have none.
pub fn crawl_gaps(manifest: &Manifest) -> Vec<Gap> {
    let mut errors: Vec<&crate::manifest::Diagnostic> = manifest
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    errors.sort_by(|a, b| (&a.origin.file, a.origin.line).cmp(&(&b.origin.file, b.origin.line)));
    let mut gaps: Vec<Gap> = errors
        .into_iter()
        .map(|d| Gap {
            origin: d.origin.to_string(),
            message: match &d.text {
                Some(t) => format!("{} [{t}]", d.message),
                None => d.message.clone(),
            }
            .replace(|c: char| c.is_control(), " "),
        })
        .collect();
    gaps.dedup();
    gaps
}

/// The candidate lock of `request`'s tree at its cutoff, with default options.
pub fn candidate(request: &TreeRequest, sources: &Sources) -> Result<Output, PipelineError> {
    candidate_with(request, sources, Options::default())
}

/// The candidate lock of `request`'s tree at its cutoff, with `options`.
pub fn candidate_with(
    request: &TreeRequest,
    sources: &Sources,
    options: Options,
) -> Result<Output, PipelineError> {
    let p = Pipeline::new(request, sources, options)?;
    let crawled = p.crawl()?;
    p.candidate_at(&crawled, None, &|_| {})
}

/// The candidate lock of `request`'s tree at its cutoff, with `options`,
/// keeping each pin of `previous` where the sources still allow it.
pub fn candidate_with_previous(
    request: &TreeRequest,
    sources: &Sources,
    options: Options,
    previous: &Lock,
) -> Result<Output, PipelineError> {
    let p = Pipeline::new(request, sources, options)?;
    let crawled = p.crawl()?;
    let reference = crate::trial::search::reference_of(previous);
    p.candidate_near(&crawled, None, Some(&reference), &|_| {})
}
