//! `sonic-lock index`: what existed at the cutoff for every dependency of a manifest.

use super::{Global, Status};
use anyhow::Context as _;
use sonic_lock::date::Cutoff;
use sonic_lock::manifest::Manifest;
use sonic_lock::source::cache::Cache;
use sonic_lock::source::debian::archive::{Location, SNAPSHOT_URL, SuiteSpec};
use sonic_lock::source::debian::release::{Keyring, SYSTEM_KEYRINGS, Trust};
use sonic_lock::source::docker::{DOCKER_HUB_REGISTRY, DockerRegistry};
use sonic_lock::source::git::GitSource;
use sonic_lock::source::go::{GOPROXY_URL, GoProxy};
use sonic_lock::source::http::{Http, HttpConfig};
use sonic_lock::source::index::{self as stage, IndexReport, Sources, suites_for};
use sonic_lock::source::pypi::{PYPI_URL, PyPi};
use sonic_lock::source::web::WebConfig;
use std::path::PathBuf;
use std::sync::Arc;

/// Where sources are and how to reach them (shared by `index` and `cache`).
#[derive(Debug, Clone, clap::Args)]
pub struct SourceArgs {
    /// Cache directory (default: the user cache directory + `/sonic-lock`).
    #[arg(long, env = "SONIC_LOCK_CACHE")]
    pub cache: Option<PathBuf>,
    /// Use only the cache; anything missing is an error naming the URL.
    #[arg(long)]
    pub offline: bool,
    /// Fetch mutable documents (indexes, API answers) again instead of using cached copies.
    #[arg(long)]
    pub refresh: bool,
    /// OpenPGP keyring to verify InRelease signatures; default Debian's archive keyring
    /// from the system (`SONIC_LOCK_KEYRING_PATHS`, `:`-separated, replaces the paths tried).
    #[arg(long)]
    pub keyring: Option<PathBuf>,
    /// Read Debian archives without verifying their signatures (every suite is reported so).
    #[arg(long, conflicts_with = "keyring")]
    pub allow_unsigned: bool,
    /// snapshot.debian.org base URL (archive tree and /mr/ API).
    #[arg(long, default_value = SNAPSHOT_URL)]
    pub snapshot_url: String,
    /// Read Debian suites from a plain mirror (`<URL>/<archive>/dists/...`) instead of snapshot.
    #[arg(long)]
    pub mirror: Option<String>,
    /// PyPI base URL.
    #[arg(long, default_value = PYPI_URL)]
    pub pypi_url: String,
    /// Go module proxy base URL.
    #[arg(long, default_value = GOPROXY_URL)]
    pub goproxy: String,
    /// GitHub base URL for pinned web URLs.
    #[arg(long, default_value = "https://github.com")]
    pub github_url: String,
    /// Clone URL template for GitHub repositories (`{owner}`, `{repo}`).
    #[arg(long, default_value = "https://github.com/{owner}/{repo}.git")]
    pub github_git: String,
    /// Registry serving `docker.io` base images (Docker Hub, or a pull-through mirror).
    #[arg(long, default_value = DOCKER_HUB_REGISTRY)]
    pub docker_registry: String,
    /// Requests in flight per host.
    #[arg(long, default_value_t = 4)]
    pub jobs_per_host: usize,
    /// Retries for transient network failures.
    #[arg(long, default_value_t = 5)]
    pub retries: u32,
}

impl SourceArgs {
    /// Opens the cache named by `--cache` or the default one.
    pub fn open_cache(&self) -> anyhow::Result<Cache> {
        let root = match &self.cache {
            Some(c) => c.clone(),
            None => Cache::default_root().context("no user cache directory; pass --cache DIR")?,
        };
        Ok(Cache::open(&root)?)
    }

    /// How signatures are checked: `--keyring`, `--allow-unsigned`, or the system's keyrings.
    pub fn trust(&self) -> anyhow::Result<Trust> {
        if let Some(k) = &self.keyring {
            return Ok(Trust::Keyring(Keyring::load(k)?));
        }
        if self.allow_unsigned {
            return Ok(Trust::AllowUnsigned);
        }
        let tried: Vec<PathBuf> = match std::env::var_os("SONIC_LOCK_KEYRING_PATHS") {
            Some(v) => std::env::split_paths(&v)
                .filter(|p| !p.as_os_str().is_empty())
                .collect(),
            None => SYSTEM_KEYRINGS.iter().map(PathBuf::from).collect(),
        };
        Ok(match Keyring::load_all(&tried)? {
            Some(k) => Trust::Keyring(k),
            None => Trust::NoKeyring { tried },
        })
    }

    /// Builds every client.
    pub fn sources(&self) -> anyhow::Result<Sources> {
        let cache = self.open_cache()?;
        let git = GitSource::new(&cache, self.offline);
        let cfg = HttpConfig {
            max_per_host: self.jobs_per_host.max(1),
            retries: self.retries,
            offline: self.offline,
            refresh: self.refresh,
            ..HttpConfig::default()
        };
        let http = Arc::new(Http::new(cfg, cache)?);
        let trust = self.trust()?;
        Ok(Sources {
            debian: match &self.mirror {
                Some(m) => Location::Mirror { base: m.clone() },
                None => Location::Snapshot {
                    base: self.snapshot_url.clone(),
                },
            },
            snapshot: self.snapshot_url.clone(),
            trust,
            pypi: PyPi::new(http.clone(), &self.pypi_url),
            go: GoProxy::new(http.clone(), &self.goproxy),
            git,
            web: WebConfig {
                github: self.github_url.clone(),
                github_git: self.github_git.clone(),
                snapshot: self.snapshot_url.clone(),
            },
            docker: DockerRegistry::new(http.clone(), &self.docker_registry)?,
            http,
        })
    }
}

/// Arguments of `sonic-lock index`.
#[derive(Debug, clap::Args)]
pub struct IndexArgs {
    /// Platform name (must match the manifest's).
    #[arg(long)]
    pub platform: String,
    /// The crawl manifest.
    #[arg(long)]
    pub manifest: PathBuf,
    /// Cutoff: YYYY-MM-DD (end of day UTC), RFC 3339, or YYYYMMDDTHHMMSSZ; default the manifest's commit date.
    #[arg(long)]
    pub date: Option<String>,
    /// Debian suites as `[archive:]suite` (repeatable); default the standard four for every suite the manifest uses.
    #[arg(long = "suite")]
    pub suites: Vec<String>,
    /// Debian architecture.
    #[arg(long, default_value = "amd64")]
    pub arch: String,
    /// Read Requires-Dist (PEP 658 metadata) for this many newest versions of each Python package, plus pinned ones.
    #[arg(long, default_value_t = 1)]
    pub py_metadata: usize,
    /// Do not read the suites' Contents indices (the Python distributions Debian packages install).
    #[arg(long)]
    pub no_freeze_apt_python: bool,
    /// Write the universe (every candidate at the cutoff, for `solve --universe`) here.
    #[arg(long)]
    pub universe: Option<PathBuf>,
    /// Write the full report (histories, pins) as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// Runs `index`: exit 0 when every dependency had a version at the cutoff, 1 when some did not.
pub fn run(args: IndexArgs, global: &Global) -> anyhow::Result<Status> {
    let manifest = Manifest::read(&args.manifest)?;
    if manifest.platform != args.platform && manifest.platform != "all" {
        anyhow::bail!(
            "{}: manifest is for platform `{}`, not `{}`",
            args.manifest.display(),
            manifest.platform,
            args.platform
        );
    }
    let cutoff = match &args.date {
        Some(d) => Cutoff::parse(d)?,
        None => Cutoff::parse(&manifest.commit_date)
            .with_context(|| format!("{}: commit_date", args.manifest.display()))?,
    };
    let platform = sonic_lock::platform::Platforms::builtin()
        .ok()
        .and_then(|ps| ps.find(&args.platform).ok().cloned());
    let suites: Vec<SuiteSpec> = if let (true, Some(p)) = (args.suites.is_empty(), &platform) {
        // The platform's distributions: release, updates, backports and security of each.
        let mut v = Vec::new();
        for dist in &p.suites {
            v.extend(SuiteSpec::standard(dist, &p.arch)?);
        }
        v
    } else if args.suites.is_empty() {
        suites_for(&manifest, &args.arch)?
    } else {
        args.suites
            .iter()
            .map(|s| SuiteSpec::parse(s, &args.arch))
            .collect::<Result<_, _>>()?
    };
    let src = args.source.sources()?;
    let pb = super::progress(global, None, "indexing sources as of the cutoff");
    let mut universe = sonic_lock::universe::Universe::new();
    let mut deb_candidates = 0usize;
    let report = stage::run(
        &src,
        &manifest,
        &cutoff,
        &suites,
        args.py_metadata,
        !args.no_freeze_apt_python,
        |si| {
            if args.universe.is_some() {
                deb_candidates += stage::load_suite(&mut universe, si)?;
            }
            Ok(())
        },
    );
    pb.finish_and_clear();
    let report = report?;
    let mut universe_line = None;
    if let Some(path) = &args.universe {
        let notes = stage::add_report(&mut universe, &manifest, &report)?;
        for n in &notes {
            eprintln!("warning: {n}");
        }
        universe.write(path)?;
        universe_line = Some(format!(
            "universe: {} packages, {} candidates ({} from Debian indices) -> {}",
            universe.package_count(),
            universe.candidate_count(),
            deb_candidates,
            path.display()
        ));
    }
    if let Some(out) = &args.out {
        let mut text = serde_json::to_string_pretty(&report)?;
        text.push('\n');
        sonic_lock::fsio::write_atomic(out, text.as_bytes())
            .with_context(|| format!("writing {}", out.display()))?;
    }
    if global.json {
        super::print_json(&report)?;
    } else {
        print_summary(&report, &src);
        if let Some(l) = universe_line {
            println!("{l}");
        }
    }
    Ok(if report.missing.is_empty() {
        Status::Ok
    } else {
        Status::Found
    })
}

fn print_summary(r: &IndexReport, src: &Sources) {
    println!("index for {} as of {}", r.platform, r.cutoff);
    for s in &r.suites {
        let sig = match &s.signature {
            sonic_lock::source::debian::release::SignatureStatus::Verified { fingerprint } => {
                format!("signed by {fingerprint}")
            }
            sonic_lock::source::debian::release::SignatureStatus::NotChecked => {
                "signature not checked".into()
            }
        };
        println!(
            "  suite {:<32} snapshot {:<17} {} ({} indices)",
            s.suite,
            s.snapshot.as_deref().unwrap_or("-"),
            sig,
            s.indices.len()
        );
        for w in &s.warnings {
            println!("    warning: {w}");
        }
    }
    for a in &r.apt_sources {
        println!(
            "  added apt source {} {} ({} packages, as of {}) for {}",
            a.url,
            a.suite,
            a.packages,
            a.as_of,
            a.images.join(", ")
        );
        for n in &a.notes {
            println!("    note: {n}");
        }
    }
    for g in &r.source_gaps {
        println!("  {}", g.message());
    }
    println!(
        "  {:<8} {:>6} {:>6} {:>9} {:>8}",
        "", "deps", "names", "versions", "missing"
    );
    for (eco, c) in &r.counts {
        println!(
            "  {:<8} {:>6} {:>6} {:>9} {:>8}",
            eco.as_str(),
            c.dependencies,
            c.names,
            c.versions,
            c.missing
        );
    }
    for p in &r.docker {
        println!(
            "  docker {} [{}] -> {} ({})",
            p.image, p.arch, p.digest, p.note
        );
    }
    if !r.not_indexed.is_empty() {
        println!("  not indexed (docker images): {}", r.not_indexed.len());
    }
    let st = src.http.stats();
    println!(
        "  network: {} request(s), {} cache hit(s), {} retr(y/ies), {} bytes",
        st.requests, st.cache_hits, st.retries, st.bytes
    );
    if r.missing.is_empty() {
        println!("every dependency had a version at the cutoff");
    } else {
        println!(
            "{} dependenc(y/ies) with no version at the cutoff:",
            r.missing.len()
        );
        for m in &r.missing {
            println!("  {} {} ({}): {}", m.ecosystem, m.name, m.origin, m.reason);
        }
    }
}
