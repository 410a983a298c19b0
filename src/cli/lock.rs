//! `sonic-lock lock`: prove a candidate lock by trial builds, learning from
//! failures, and write `lockfiles/<platform>.lock` (plus, with `--export`, the
//! SONiC versions tree). Without a builder the candidate is written as an
//! unproven lock.

use super::builder_args::BuilderArgs;
use super::index::SourceArgs;
use super::{Global, Status};
use anyhow::{Context, bail};
use serde::Serialize;
use sonic_lock::lock::{Gap, Lock, PinKey};
use sonic_lock::pipeline::prove::{self, ProveError, Proven, Prover, SearchSpace, pick_text};
use sonic_lock::pipeline::{Indexed, Options, Pipeline, TreeRequest};
use sonic_lock::source::debian::archive::decompress;
use sonic_lock::source::http::Request;
use sonic_lock::source::index::Sources;
use sonic_lock::trial::builder::TrialError;
use sonic_lock::trial::learn::{Attribution, Event, LearnConfig, LearnError};
use sonic_lock::trial::search::reference_of;
use sonic_lock::trial::stage::{LockStage, parse_contents};
use sonic_lock::trial::triage::Triage;
use std::path::PathBuf;

/// Where sonic-buildimage lives when no --sonic-repo is given.
pub const SONIC_REPO_URL: &str = "https://github.com/sonic-net/sonic-buildimage";

/// Arguments of `sonic-lock lock`.
#[derive(Debug, clap::Args)]
pub struct LockArgs {
    /// Platform name; the lock is written to LOCKFILES/<platform>.lock.
    #[arg(long)]
    pub platform: String,
    /// The statically solved candidate lock to prove; without it the lock is
    /// computed here: crawl --sonic-repo, index, solve, then prove.
    #[arg(long)]
    pub candidate: Option<PathBuf>,
    /// sonic-buildimage repository to crawl when no --candidate is given (a path or a URL).
    #[arg(long, value_name = "PATH_OR_URL", conflicts_with = "candidate", default_value = SONIC_REPO_URL)]
    pub sonic_repo: Option<String>,
    /// Crawl this revision instead of the platform's cutoff.
    #[arg(long, conflicts_with = "date")]
    pub rev: Option<String>,
    /// Crawl the last commit of the cutoff branch at or before this date (also the index cutoff).
    #[arg(long)]
    pub date: Option<String>,
    /// Directory of local submodule clones (by submodule path, name or repository name).
    #[arg(long, value_name = "DIR")]
    pub submodules: Option<PathBuf>,
    /// Clone submodules not found under --submodules into the cache (the default
    /// when the repository is a URL and no --submodules is given).
    #[arg(long)]
    pub clone_submodules: bool,
    /// Lock even when the crawl could not read part of the tree (a submodule,
    /// a file): the gaps are recorded in the lock instead of stopping it.
    #[arg(long, visible_alias = "allow-missing-submodules")]
    pub allow_incomplete: bool,
    /// Read platform definitions from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub platforms_dir: Option<PathBuf>,
    /// Debian suites as `[archive:]suite` (repeatable); default the standard four of each platform suite.
    #[arg(long = "suite")]
    pub suites: Vec<String>,
    /// Read Requires-Dist for this many newest versions of each Python package, plus pinned ones.
    #[arg(long, default_value_t = 1)]
    pub py_metadata: usize,
    /// Do not pin the Python distributions Debian packages install. By default
    /// each image's py pins list them as `pip freeze` (and so SONiC's
    /// versions-py files) does, read from the suites' Contents indices.
    #[arg(long, conflicts_with = "candidate")]
    pub no_freeze_apt_python: bool,
    /// A previous lock of the platform (last night's, or an imported SONiC
    /// versions tree): the candidate keeps each of its Debian and Python pins
    /// that the sources and requirements still allow, instead of the newest.
    #[arg(long, conflicts_with = "candidate")]
    pub previous: Option<PathBuf>,
    /// Also write the computed candidate lock here (without --candidate).
    #[arg(long, conflicts_with = "candidate")]
    pub candidate_out: Option<PathBuf>,
    /// Where sources are and how to reach them (without --candidate).
    #[command(flatten)]
    pub source: SourceArgs,
    /// Make variables for the build (without --candidate).
    #[command(flatten)]
    pub make: super::make_args::MakeVarArgs,
    /// The universe (index stage artifact) to search for alternatives when a
    /// candidate fails; without it the candidate is proven or refuted as it is.
    #[arg(long, requires = "candidate")]
    pub universe: Option<PathBuf>,
    /// A `files/build/versions/` tree that is known to build: the passing end
    /// for delta debugging of failures no signature explains.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Also write the proven lock as a SONiC versions tree into this directory.
    #[arg(long)]
    pub export: Option<PathBuf>,
    /// Directory of lockfiles.
    #[arg(long, default_value = "lockfiles")]
    pub lockfiles: PathBuf,
    /// Directory for trial inputs, logs and the journal.
    #[arg(long, default_value = ".sonic-lock/trials")]
    pub workspace: PathBuf,
    /// Give up after this many builds.
    #[arg(long, default_value_t = 200)]
    pub max_builds: usize,
    /// Extra failure signatures (TOML, same format as the built-in table).
    #[arg(long)]
    pub signatures: Option<PathBuf>,
    /// Debian Contents index (a file or URL, plain, .gz or .xz), to blame the package
    /// owning a missing header or library, e.g. `<archive>/dists/bullseye/main/Contents-amd64.gz`.
    #[arg(long, value_name = "PATH_OR_URL")]
    pub contents: Option<String>,
    /// Builder options.
    #[command(flatten)]
    pub builder: BuilderArgs,
    /// Confirm the candidate --builder passes with this builder before writing
    /// the lock: its kind, then its options as `trial` takes them, quoted as
    /// one argument, e.g. 'sonic --sonic-checkout DIR --target
    /// target/sonic-barefoot.bin --make-arg PLATFORM=barefoot'. Its failure is
    /// learned, and --builder goes on; --max-builds counts both.
    #[arg(long, value_name = "KIND [OPTIONS] [-- ARGV]", requires = "builder")]
    pub confirm_builder: Option<String>,
}

#[derive(Serialize)]
struct LearnedOut {
    picks: Vec<String>,
    candidate: String,
    log: PathBuf,
    attribution: Attribution,
    /// The builder whose failure taught it.
    builder: String,
}

#[derive(Serialize)]
struct Report {
    platform: String,
    lockfile: PathBuf,
    proven: bool,
    candidate: String,
    builds: usize,
    from_journal: usize,
    /// Builds of the confirming builder (counted in `builds` too).
    confirm_builds: usize,
    /// The builder whose pass made the lock.
    judged_by: Option<String>,
    learned: Vec<LearnedOut>,
    error: Option<String>,
    /// What the crawl could not read (with `--allow-incomplete`).
    gaps: Vec<Gap>,
}

/// Crawl, index and solve through the library pipeline: the candidate lock,
/// the pipeline and what it indexed (the learn loop re-solves from there).
fn static_candidate<'s>(
    args: &LockArgs,
    global: &Global,
    sources: &'s Sources,
) -> anyhow::Result<(Lock, Pipeline<'s>, Indexed)> {
    let Some(repo_arg) = &args.sonic_repo else {
        bail!("give --candidate FILE or --sonic-repo PATH_OR_URL");
    };
    let request = TreeRequest {
        platform: args.platform.clone(),
        platforms_dir: args.platforms_dir.clone(),
        repo: repo_arg.clone(),
        rev: args.rev.clone(),
        date: args.date.clone(),
        suites: args.suites.clone(),
        submodules: args.submodules.clone(),
        clone_submodules: args.clone_submodules,
        cache: args.source.cache.clone(),
        make_vars: args.make.vars(),
    };
    let options = Options {
        py_metadata: args.py_metadata,
        allow_incomplete: args.allow_incomplete,
        nogoods: Vec::new(),
        freeze_apt_python: !args.no_freeze_apt_python,
    };
    let pipeline = Pipeline::new(&request, sources, options)?;
    let pb = super::progress(global, None, "crawling");
    let crawled = pipeline.crawl();
    pb.finish_and_clear();
    let crawled = crawled?;
    super::warn_gaps(&crawled.gaps, "the lock");
    let pb = super::progress(global, None, "indexing");
    let previous = match &args.previous {
        Some(p) => Some(reference_of(
            &Lock::read(p).with_context(|| format!("previous lock {}", p.display()))?,
        )),
        None => None,
    };
    let out = pipeline.candidate_near(&crawled, None, previous.as_ref(), &|stage| {
        pb.set_message(stage.to_string())
    });
    pb.finish_and_clear();
    let out = out?;
    for w in &out.warnings {
        eprintln!("warning: {w}");
    }
    let candidate = out.candidate;
    if let Some(path) = &args.candidate_out {
        candidate.write(path)?;
    }
    let indexed = out.indexed;
    if !global.json {
        println!(
            "{} at {}: {} dependencies, {} candidates at the cutoff, candidate lock with {} pins",
            indexed.manifest.platform,
            indexed.manifest.commit,
            indexed.manifest.dependencies.len(),
            indexed.universe.candidate_count(),
            candidate.pins.len()
        );
    }
    Ok((candidate, pipeline, indexed))
}

/// Reads a Contents index from a file or URL (through the download cache), decompressing `.gz`/`.xz`.
fn read_contents(p: &str, source: &SourceArgs) -> anyhow::Result<String> {
    let bytes = if p.starts_with("http://") || p.starts_with("https://") {
        let sources = source.sources()?;
        sources.http.get(&Request::new(p, "Contents index"))?.bytes
    } else {
        std::fs::read(p).with_context(|| p.to_string())?
    };
    let plain = decompress(&bytes, p, p)?;
    String::from_utf8(plain).map_err(|_| anyhow::anyhow!("{p}: the Contents index is not UTF-8"))
}

/// Prints a line above the progress bar; a hidden bar (no terminal, `--quiet`) would drop it.
fn say(pb: &indicatif::ProgressBar, line: String) {
    pb.suspend(|| eprintln!("{line}"));
}

/// Runs `sonic-lock lock`.
pub fn run(args: LockArgs, global: &Global) -> anyhow::Result<Status> {
    sonic_lock::trial::signal::install().map_err(|e| anyhow::anyhow!("signal handler: {e}"))?;
    if args.platform.is_empty()
        || !args
            .platform
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        || args.platform.starts_with('.')
    {
        bail!(
            "--platform `{}`: use letters, digits, `-`, `_` and `.`",
            args.platform
        );
    }
    let sources = match &args.candidate {
        Some(_) => None,
        None => Some(args.source.sources()?),
    };
    let (candidate, pipeline, indexed) = match (&args.candidate, &sources) {
        (Some(p), _) => (Lock::read(p)?, None, None),
        (None, Some(sources)) => {
            let (lock, pipeline, indexed) = static_candidate(&args, global, sources)?;
            (lock, Some(pipeline), Some(indexed))
        }
        (None, None) => bail!("give --candidate FILE or --sonic-repo PATH_OR_URL"),
    };
    let out_path = args.lockfiles.join(format!("{}.lock", args.platform));
    let Some(builder) = args.builder.build()? else {
        let lock = prove::unproven(candidate, &args.platform);
        lock.write(&out_path)?;
        if let Some(dir) = &args.export {
            sonic_lock::lock::split::export(&lock, &Default::default(), dir)?;
        }
        eprintln!(
            "wrote {} from the static solve only: the lock is UNPROVEN (no --builder given, nothing was built)",
            out_path.display()
        );
        if global.json {
            super::print_json(&Report {
                platform: args.platform,
                lockfile: out_path,
                proven: false,
                candidate: lock.candidate_hash(),
                builds: 0,
                from_journal: 0,
                confirm_builds: 0,
                judged_by: None,
                learned: Vec::new(),
                error: None,
                gaps: lock.gaps.clone(),
            })?;
        }
        return Ok(Status::Ok);
    };
    let confirm = match &args.confirm_builder {
        Some(spec) => Some(super::confirm_args::confirm_builder(spec)?),
        None => None,
    };
    let reference = match &args.reference {
        Some(dir) => Some(LockStage::assignment_of(
            &sonic_lock::lock::sonic_versions::import(dir)
                .with_context(|| format!("reference {}", dir.display()))?,
        )),
        None => None,
    };
    let mut triage = Triage::builtin()?;
    if let Some(p) = &args.signatures {
        triage.extend_from_file(p)?;
    }
    let owners = match &args.contents {
        Some(p) => Some(parse_contents(&read_contents(p, &args.source)?)),
        None => None,
    };
    let pb = super::progress(global, None, "trial builds");
    let on_event = |e: Event<'_, PinKey>| match e {
        Event::Progress(c) => pb.set_message(format!("trial builds: {c}")),
        Event::Isolating(n) => say(&pb, format!("isolating the failure among {n} changed pins")),
        Event::Judged {
            candidate,
            verdict,
            cached,
            builder,
        } => say(
            &pb,
            format!(
                "candidate {}: {}{}{}",
                &candidate[..12.min(candidate.len())],
                format!("{verdict:?}").to_lowercase(),
                if confirm.is_some() {
                    format!(" by {builder}")
                } else {
                    String::new()
                },
                if cached { " (from journal)" } else { "" }
            ),
        ),
        Event::Learned(l) => say(
            &pb,
            format!(
                "learned: not together {}",
                l.picks
                    .iter()
                    .map(|(k, v)| pick_text(k, v))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    };
    let universe = match &args.universe {
        None => None,
        Some(p) => Some(
            sonic_lock::universe::Universe::read(p)
                .with_context(|| format!("universe {}", p.display()))?,
        ),
    };
    // Re-solving the crawled tree when we have it; a candidate with a universe
    // file is searched around its own pins; a bare candidate is only judged.
    let space = match (&pipeline, indexed, &universe) {
        (Some(pipeline), Some(indexed), _) => SearchSpace::Tree {
            pipeline,
            indexed: Box::new(indexed),
        },
        (_, _, Some(u)) => SearchSpace::Universe(u),
        _ => SearchSpace::Candidate,
    };
    let prover = Prover {
        builder: builder.as_ref(),
        confirm: confirm.as_deref(),
        workspace: &args.workspace,
        triage: &triage,
        owners,
        config: LearnConfig {
            jobs: args.builder.jobs,
            max_builds: args.max_builds,
        },
        reference,
    };
    let result = prove::prove(&args.platform, &candidate, space, prover, &on_event);
    pb.finish_and_clear();
    match result {
        Ok(Proven { lock, locked }) => {
            lock.write(&out_path)?;
            if let Some(dir) = &args.export {
                sonic_lock::lock::split::export(&lock, &Default::default(), dir)?;
            }
            let report = Report {
                platform: args.platform,
                lockfile: out_path.clone(),
                proven: true,
                candidate: locked.candidate,
                builds: locked.builds,
                from_journal: locked.cached,
                confirm_builds: locked.confirm_builds,
                judged_by: Some(locked.judged_by.clone()),
                learned: locked
                    .learned
                    .iter()
                    .map(|l| LearnedOut {
                        picks: l.picks.iter().map(|(k, v)| pick_text(k, v)).collect(),
                        candidate: l.candidate.clone(),
                        log: l.log.clone(),
                        attribution: l.attribution.clone(),
                        builder: l.builder.clone(),
                    })
                    .collect(),
                error: None,
                gaps: lock.gaps.clone(),
            };
            if global.json {
                super::print_json(&report)?;
            } else {
                let by = match &confirm {
                    Some(_) => format!(
                        " of {} ({} confirming builds)",
                        locked.judged_by, report.confirm_builds
                    ),
                    None => String::new(),
                };
                println!(
                    "wrote {}: proven by a passing build{by} ({} builds, {} from the journal, {} nogoods learned)",
                    out_path.display(),
                    report.builds,
                    report.from_journal,
                    report.learned.len()
                );
            }
            Ok(Status::Ok)
        }
        Err(ProveError::Learn(LearnError::Trial(TrialError::Interrupted))) => {
            eprintln!("interrupted; finished trials are in the journal, run again to resume");
            Ok(Status::Code(130))
        }
        Err(ProveError::Learn(
            e @ (LearnError::Unsat { .. }
            | LearnError::Budget { .. }
            | LearnError::Unchangeable { .. }),
        )) => {
            if global.json {
                super::print_json(&Report {
                    platform: args.platform,
                    lockfile: out_path,
                    proven: false,
                    candidate: candidate.candidate_hash(),
                    builds: 0,
                    from_journal: 0,
                    confirm_builds: 0,
                    judged_by: None,
                    learned: Vec::new(),
                    error: Some(e.to_string()),
                    gaps: candidate.gaps.clone(),
                })?;
            } else {
                println!("no lock written: {e}");
            }
            Ok(Status::Found)
        }
        Err(e) => Err(e.into()),
    }
}
