//! The tree a building or solving command works on, resolved the same way by
//! `lock`, `solve --platform` and time-axis `bisect`: the platform definition,
//! the repository (cloned into the cache when a URL), the commit (the platform's
//! cutoff unless `--rev`/`--date`), the Debian suites and the image's apt domain.

use anyhow::bail;
use sonic_lock::crawl::{self, CrawlOptions};
use sonic_lock::date::Cutoff;
use sonic_lock::lock::Gap;
use sonic_lock::platform;
use sonic_lock::source::build;
use sonic_lock::source::debian::archive::SuiteSpec;
use std::path::PathBuf;

/// What the command line says about the tree.
pub struct TreeRequest<'a> {
    /// Platform name.
    pub platform: &'a str,
    /// `--platforms-dir`.
    pub platforms_dir: Option<&'a PathBuf>,
    /// `--sonic-repo`: a path or a URL.
    pub repo: &'a str,
    /// `--rev`.
    pub rev: Option<&'a String>,
    /// `--date`: the commit at or before it, and the index cutoff.
    pub date: Option<&'a String>,
    /// `--suite` values.
    pub suites: &'a [String],
    /// `--submodules`.
    pub submodules: Option<&'a PathBuf>,
    /// `--clone-submodules`.
    pub clone_submodules: bool,
    /// `--cache`.
    pub cache: Option<&'a PathBuf>,
}

/// The resolved tree: what the lock pipeline needs besides its sources.
pub struct Tree {
    /// Crawl options (repository, commit, platform, submodules, cache).
    pub crawl: CrawlOptions,
    /// Debian suites to index (empty: the platform's standard ones).
    pub suites: Vec<SuiteSpec>,
    /// The apt domain (`<BLDENV>/<arch>`) of images that do not say their suite.
    pub domain: String,
    /// The index cutoff when `--date` was given (else the commit's date).
    pub cutoff: Option<Cutoff>,
}

/// Resolves the tree a command line names.
pub fn resolve(r: &TreeRequest<'_>) -> anyhow::Result<Tree> {
    let platforms = super::platforms::load(r.platforms_dir)?;
    let p = platforms.find(r.platform)?.clone();
    let cache = super::cutoff::cache_dir(r.cache);
    let repo = crawl::tree::open_or_clone(r.repo, &cache)?;
    let rev = match r.rev {
        Some(rev) => rev.clone(),
        None => {
            let q = super::cutoff::query(None, r.date)?;
            platform::find_cutoff(&repo, &p.cutoff, &q)?.commit
        }
    };
    let cutoff = match r.date {
        Some(d) => Some(Cutoff::parse(d)?),
        None => None,
    };
    let suites = r
        .suites
        .iter()
        .map(|s| SuiteSpec::parse(s, &p.arch))
        .collect::<Result<Vec<_>, _>>()?;
    let dist = p
        .make
        .get("BLDENV")
        .or(p.suites.first())
        .cloned()
        .unwrap_or_else(|| "bullseye".to_string());
    let domain = build::deb_domain(&dist, &p.arch);
    Ok(Tree {
        crawl: CrawlOptions {
            repo: repo.display().to_string(),
            rev,
            platform: Some(p),
            all: false,
            submodules: r.submodules.cloned(),
            // A repository given by URL has no local submodule clones: clone them.
            clone_submodules: r.clone_submodules
                || (r.submodules.is_none() && r.repo.contains("://")),
            cache_dir: cache,
        },
        suites,
        domain,
        cutoff,
    })
}

/// Stops on what the crawl could not read, unless `allow` (then warns): a lock
/// claims to pin every dependency of the tree, so a gap must be accepted, and is
/// then recorded. `what` names the result (`a lock`, `the locks`).
pub fn check_gaps(gaps: &[Gap], allow: bool, what: &str) -> anyhow::Result<()> {
    if gaps.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = gaps
        .iter()
        .map(|g| format!("  {}: {}", g.origin, g.message))
        .collect();
    if !allow {
        bail!(
            "the crawl could not read {} part(s) of the tree, so {what} would be incomplete:\n{}\n\
             provide them (--submodules DIR or --clone-submodules), or pass --allow-incomplete to record the gaps",
            gaps.len(),
            list.join("\n")
        );
    }
    eprintln!(
        "warning: going on without {} unreadable part(s) of the tree (recorded as gaps in {what}):\n{}",
        gaps.len(),
        list.join("\n")
    );
    Ok(())
}
