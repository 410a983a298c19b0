//! The tree a building or solving command works on, resolved one way for
//! `lock`, `solve --platform` and time-axis `bisect`: the platform definition,
//! the repository (cloned into the cache when a URL), the commit (the platform's
//! cutoff unless a revision or date is given), the Debian suites and the apt
//! domain of images that do not say their suite.

use super::PipelineError;
use crate::crawl::CrawlOptions;
use crate::crawl::tree::open_or_clone;
use crate::date::Cutoff;
use crate::manifest::make_vars::MakeVars;
use crate::platform::{self, CutoffQuery, Platform, Platforms};
use crate::source::debian::archive::SuiteSpec;
use crate::universe::suite::deb_domain;
use std::path::{Path, PathBuf};

/// What names the tree: the platform, where its definitions and repository are,
/// and which commit (all as a user gives them; nothing resolved yet).
#[derive(Debug, Clone, Default)]
pub struct TreeRequest {
    /// Platform name or alias.
    pub platform: String,
    /// Directory of platform definitions; `None` means the built-in ones.
    pub platforms_dir: Option<PathBuf>,
    /// sonic-buildimage: a local path (bare or not) or a URL.
    pub repo: String,
    /// A revision to crawl instead of the platform's cutoff.
    pub rev: Option<String>,
    /// The last commit of the cutoff branch at or before this date; also the index cutoff.
    pub date: Option<String>,
    /// Debian suites as `[archive:]suite`; empty means the standard ones of each platform suite.
    pub suites: Vec<String>,
    /// Directory of local submodule clones.
    pub submodules: Option<PathBuf>,
    /// Clone submodules that are not found locally.
    pub clone_submodules: bool,
    /// Cache directory (clones, downloads); `None` means the user's cache.
    pub cache: Option<PathBuf>,
    /// Make variables given on the command line (`make NAME=VALUE`).
    pub make_vars: MakeVars,
}

/// The resolved tree: what the pipeline needs besides its sources.
#[derive(Debug, Clone)]
pub struct Tree {
    /// The platform definition.
    pub platform: Platform,
    /// Crawl options (repository, commit, platform, submodules, cache).
    pub crawl: CrawlOptions,
    /// Debian suites to index (empty: the platform's standard ones).
    pub suites: Vec<SuiteSpec>,
    /// The apt domain (`<BLDENV>/<arch>`) of images that do not say their suite.
    pub domain: String,
    /// The index cutoff when a date was given (else the commit's date).
    pub cutoff: Option<Cutoff>,
}

/// The cache directory: the one given, else the user's cache.
pub fn cache_dir(arg: Option<&Path>) -> PathBuf {
    arg.map(Path::to_path_buf)
        .or_else(|| dirs::cache_dir().map(|d| d.join("sonic-lock")))
        .unwrap_or_else(|| PathBuf::from(".sonic-lock-cache"))
}

/// The platform definitions: from `dir`, else the built-in ones.
pub fn platforms(dir: Option<&Path>) -> Result<Platforms, PipelineError> {
    Ok(match dir {
        Some(d) => Platforms::load_dir(d)?,
        None => Platforms::builtin()?,
    })
}

/// How the commit is chosen: a revision, the last commit at or before a date, or the platform's rule.
pub fn cutoff_query(rev: Option<&str>, date: Option<&str>) -> Result<CutoffQuery, PipelineError> {
    Ok(match (rev, date) {
        (Some(r), _) => CutoffQuery::Rev(r.to_string()),
        (None, Some(d)) => CutoffQuery::Date(Cutoff::parse(d)?.timestamp()),
        (None, None) => CutoffQuery::Rule,
    })
}

impl Tree {
    /// Resolves the tree `r` names: finds the platform, opens or clones the
    /// repository and finds the commit.
    pub fn resolve(r: &TreeRequest) -> Result<Tree, PipelineError> {
        let platforms = platforms(r.platforms_dir.as_deref())?;
        let p = platforms.find(&r.platform)?.clone();
        let cache = cache_dir(r.cache.as_deref());
        let repo = open_or_clone(&r.repo, &cache)?;
        let rev = match &r.rev {
            Some(rev) => rev.clone(),
            None => {
                let q = cutoff_query(None, r.date.as_deref())?;
                platform::find_cutoff(&repo, &p.cutoff, &q)?.commit
            }
        };
        let cutoff = match &r.date {
            Some(d) => Some(Cutoff::parse(d)?),
            None => None,
        };
        let suites = r
            .suites
            .iter()
            .map(|s| SuiteSpec::parse(s, &p.arch))
            .collect::<Result<Vec<_>, _>>()?;
        let dist = r
            .make_vars
            .get("BLDENV")
            .or(p.make.get("BLDENV"))
            .or(p.suites.first())
            .cloned()
            .unwrap_or_else(|| "bullseye".to_string());
        let domain = deb_domain(&dist, &p.arch);
        Ok(Tree {
            crawl: CrawlOptions {
                repo: repo.display().to_string(),
                rev,
                platform: Some(p.clone()),
                all: false,
                submodules: r.submodules.clone(),
                // A repository given by URL has no local submodule clones: clone them.
                clone_submodules: r.clone_submodules
                    || (r.submodules.is_none() && r.repo.contains("://")),
                cache_dir: cache,
                make_vars: r.make_vars.clone(),
            },
            platform: p,
            suites,
            domain,
            cutoff,
        })
    }

    /// The Debian suites to index: the ones asked for, else the standard four
    /// of each of the platform's suites.
    pub fn index_suites(&self) -> Result<Vec<SuiteSpec>, PipelineError> {
        if !self.suites.is_empty() {
            return Ok(self.suites.clone());
        }
        let mut v = Vec::new();
        for dist in &self.platform.suites {
            v.extend(SuiteSpec::standard(dist, &self.platform.arch)?);
        }
        Ok(v)
    }
}
