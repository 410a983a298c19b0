//! `sonic-lock bisect`: which dependency changes between a good and a bad
//! candidate break the build.
//!
//! Exit codes: 0 culprit found, 1 the bad candidate does not fail, 2 usage or
//! input error, 3 flaky or undecidable, 130 interrupted (run again to continue).

use super::builder_args::BuilderArgs;
use super::index::SourceArgs;
use super::{Global, Status};
use anyhow::{Context, bail};
use sonic_lock::bisect::asof::{CommandLocks, LockAt, LockAxis, StoredLocks};
use sonic_lock::bisect::engine::{self, Config, Strategy};
use sonic_lock::bisect::locks::{LockChanges, read_candidate};
use sonic_lock::bisect::report::{REPORT_SCHEMA_VERSION, Report};
use sonic_lock::bisect::runner::BuildOracle;
use sonic_lock::bisect::timeaxis::{self, TimeOutcome};
use sonic_lock::bisect::{BisectError, ChangeInfo};
use sonic_lock::pipeline::asof::PipelineLocks;
use sonic_lock::pipeline::{Options, Pipeline, TreeRequest};
use sonic_lock::source::index::Sources;
use sonic_lock::trial::journal::Journal;
use std::path::PathBuf;

/// Arguments of `sonic-lock bisect`.
#[derive(Debug, clap::Args)]
pub struct BisectArgs {
    /// The good candidate: a lockfile, a `files/build/versions/` tree or a sonic-buildimage checkout.
    #[arg(
        long,
        required_unless_present = "good_date",
        conflicts_with = "good_date"
    )]
    pub good: Option<PathBuf>,
    /// The bad candidate, in the same forms as --good.
    #[arg(
        long,
        required_unless_present = "bad_date",
        conflicts_with = "bad_date"
    )]
    pub bad: Option<PathBuf>,
    /// Time-axis mode: a date the build passed (YYYY-MM-DD, the end of that day UTC, or YYYYMMDDTHHMMSSZ).
    #[arg(long, requires = "bad_date")]
    pub good_date: Option<String>,
    /// Time-axis mode: a later date the build fails.
    #[arg(long, requires = "good_date")]
    pub bad_date: Option<String>,
    /// Time-axis mode: the platform definition to lock as of each timestamp
    /// (required with --sonic-repo; substituted for `{platform}` in --lock-at).
    #[arg(long)]
    pub platform: Option<String>,
    /// Time-axis mode: the sonic-buildimage repository (path or URL), crawled once at the
    /// platform's cutoff (or --rev) and then indexed and solved as of each timestamp.
    #[arg(long, value_name = "PATH_OR_URL", conflicts_with = "lock_at")]
    pub sonic_repo: Option<String>,
    /// Time-axis mode: crawl this revision instead of the platform's cutoff commit.
    #[arg(long, requires = "sonic_repo")]
    pub rev: Option<String>,
    /// Time-axis mode: directory of local submodule clones (by submodule path, name or repository name).
    #[arg(long, value_name = "DIR")]
    pub submodules: Option<PathBuf>,
    /// Time-axis mode: clone submodules not found under --submodules into the cache.
    #[arg(long)]
    pub clone_submodules: bool,
    /// Time-axis mode: bisect even when the crawl could not read part of the tree
    /// (a submodule, a file); the gaps are recorded in every lock.
    #[arg(long, visible_alias = "allow-missing-submodules")]
    pub allow_incomplete: bool,
    /// Read platform definitions from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub platforms_dir: Option<PathBuf>,
    /// Time-axis mode: Debian suites as `[archive:]suite` (repeatable); default the standard four of each platform suite.
    #[arg(long = "suite")]
    pub suites: Vec<String>,
    /// Time-axis mode: read Requires-Dist for this many newest versions of each Python package.
    #[arg(long, default_value_t = 1)]
    pub py_metadata: usize,
    /// Time-axis mode, instead of --sonic-repo: a command (split on spaces, no shell) that
    /// writes the lock as of `{timestamp}` to `{out}`, e.g. "./lock-as-of.sh {platform} {timestamp} {out}".
    #[arg(long)]
    pub lock_at: Option<String>,
    /// Time-axis mode with --sonic-repo: where sources are and how to reach them (as for `lock`).
    #[command(flatten)]
    pub source: Box<SourceArgs>,
    /// Time-axis mode with --sonic-repo: make variables for the build.
    #[command(flatten)]
    pub make: super::make_args::MakeVarArgs,
    /// Time-axis mode: hours between snapshot timestamps tried (snapshots resolve to the nearest earlier one).
    #[arg(long, default_value_t = 6)]
    pub step_hours: u32,
    /// Time-axis mode: snapshot timestamps to try, one per line (e.g. an archive's
    /// timestamp list), instead of the --step-hours grid; the dates are added as ends.
    #[arg(long, conflicts_with = "step_hours")]
    pub timestamps: Option<PathBuf>,
    /// Re-run each final verdict K times (G + culprits must fail, B - culprits must pass).
    #[arg(long, default_value_t = 0)]
    pub confirm: u32,
    /// Search strategy.
    #[arg(long, value_enum, default_value_t = Strategy::Auto)]
    pub strategy: Strategy,
    /// Also build the good candidate first instead of trusting it.
    #[arg(long)]
    pub check_good: bool,
    /// Write report.md, report.html, report.json and timeline.svg into this directory.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Where trials and the journal live; a later run with the same directory continues.
    #[arg(long, default_value = ".sonic-lock/bisect")]
    pub state_dir: PathBuf,
    /// The builder that judges candidates (`--jobs P` builds run in parallel: k-ary search).
    #[command(flatten)]
    pub builder: Box<BuilderArgs>,
}

fn interrupted() -> bool {
    sonic_lock::trial::signal::interrupted()
}

/// Runs `sonic-lock bisect`.
pub fn run(args: BisectArgs, global: &Global) -> anyhow::Result<Status> {
    let Some(builder) = args.builder.build()? else {
        bail!("bisect needs a builder: --builder command -- ARGV (or docker, sonic)");
    };
    if let Err(e) = sonic_lock::trial::signal::install() {
        eprintln!("warning: Ctrl-C handling unavailable: {e}");
    }
    std::fs::create_dir_all(&args.state_dir).with_context(|| {
        format!(
            "{}: cannot create state directory",
            args.state_dir.display()
        )
    })?;
    let journal_path = args.state_dir.join("journal.jsonl");
    let journal = Journal::open(&journal_path)?;
    let foreign = journal.foreign(&builder.identity());
    if foreign > 0 && !global.quiet {
        eprintln!(
            "note: {foreign} journal entries from another builder ignored ({}): it was changed, or the journal predates builder identities",
            journal_path.display()
        );
    }
    let cfg = Config {
        jobs: args.builder.jobs.max(1),
        confirm: args.confirm,
        strategy: args.strategy,
        check_good: args.check_good,
        ..Config::default()
    };

    let (good_label, bad_label, changes, time, locks_note) = match (&args.good, &args.bad) {
        (Some(g), Some(b)) => {
            let good = read_candidate(g)?;
            let bad = read_candidate(b)?;
            (
                g.display().to_string(),
                b.display().to_string(),
                LockChanges::new(good, &bad),
                None,
                None,
            )
        }
        _ => {
            let (good_date, bad_date) = match (&args.good_date, &args.bad_date) {
                (Some(g), Some(b)) => (timeaxis::normalize_date(g)?, timeaxis::normalize_date(b)?),
                _ => bail!("give --good and --bad, or --good-date and --bad-date"),
            };
            let platform = args.platform.clone().unwrap_or_default();
            let sources;
            let pipeline;
            let locks_dir = args.state_dir.join("snapshots");
            let producer: Box<dyn LockAt + '_> = match (&args.lock_at, &args.sonic_repo) {
                (Some(template), _) => Box::new(CommandLocks::new(template, &platform, &locks_dir)),
                (None, Some(_)) => {
                    sources = args.source.sources()?;
                    pipeline = bisect_pipeline(&args, &platform, &sources)?;
                    let p = pipeline_locks(&pipeline, global)?;
                    Box::new(p.with_source_key(&source_key(&args.source)))
                }
                (None, None) => bail!(
                    "time-axis mode needs --sonic-repo (lock with the built-in pipeline) or --lock-at CMD"
                ),
            };
            let (stored, removed) = StoredLocks::open(producer, &locks_dir)?;
            if removed > 0 {
                eprintln!(
                    "note: removed {removed} lock(s) from {} made with other sources or another tree",
                    locks_dir.display()
                );
            }
            let axis = LockAxis {
                locks: &stored,
                builder: builder.as_ref(),
                memo: Some(&journal),
                trials_dir: args.state_dir.join("trials"),
                interrupted: &interrupted,
            };
            let stamps = match &args.timestamps {
                None => timeaxis::grid(&good_date, &bad_date, args.step_hours)?,
                Some(file) => {
                    let text = std::fs::read_to_string(file)
                        .with_context(|| format!("{}: cannot read timestamps", file.display()))?;
                    let mut listed = Vec::new();
                    for (n, line) in text.lines().enumerate() {
                        let line = line.trim();
                        if line.is_empty() || line.starts_with('#') {
                            continue;
                        }
                        let ts = timeaxis::normalize_date(line)
                            .with_context(|| format!("{}:{}", file.display(), n + 1))?;
                        listed.push(ts);
                    }
                    timeaxis::between(&good_date, &bad_date, &listed)?
                }
            };
            // The good end is trusted, not built, but its lock is needed at the end:
            // produce it first, so unreachable sources or a date before the archive
            // fail now and not after hours of builds.
            if let Some(first) = stamps.first() {
                stored
                    .lock(first)
                    .with_context(|| format!("the lock as of the good date ({first})"))?;
            }
            let pb = super::progress(
                global,
                None,
                &format!("bisecting {} timestamps", stamps.len()),
            );
            let t = timeaxis::bisect_time(&axis, &stamps, cfg.jobs);
            pb.finish_and_clear();
            print_warnings(&stored);
            let t = match t {
                Ok(t) => t,
                Err(BisectError::Interrupted) => return Ok(interrupted_status(&journal_path)),
                Err(e) => return Err(e.into()),
            };
            if t.status == engine::BisectStatus::BadPasses {
                return finish(
                    &args,
                    global,
                    &good_date,
                    &bad_date,
                    builder.describe(),
                    None,
                    Some(t),
                );
            }
            let good = stored.lock(&t.last_good)?;
            let bad = stored.lock(&t.first_bad)?;
            print_warnings(&stored);
            (
                format!(
                    "lock as of {} (the last good timestamp after --good-date {})",
                    t.last_good, good_date
                ),
                format!(
                    "lock as of {} (the first bad timestamp up to --bad-date {})",
                    t.first_bad, bad_date
                ),
                LockChanges::new(good, &bad),
                Some(t),
                Some(format!(
                    "locks as of each timestamp: {} (kept in {})",
                    stored.inner().describe(),
                    locks_dir.display()
                )),
            )
        }
    };
    let req = changes.requirements()?;
    let oracle = BuildOracle::new(
        builder.as_ref(),
        &changes,
        &args.state_dir.join("trials"),
        Some(&journal),
        &interrupted,
    );
    let pb = super::progress(
        global,
        None,
        &format!("bisecting {} changes", changes.len()),
    );
    let result = engine::bisect(&oracle, &req, &cfg);
    pb.finish_and_clear();
    let mut outcome = match result {
        Ok(o) => o,
        Err(BisectError::Interrupted) => return Ok(interrupted_status(&journal_path)),
        Err(e) => return Err(e.into()),
    };
    outcome.notes.extend(locks_note);
    let report = Report {
        schema_version: REPORT_SCHEMA_VERSION,
        good: good_label,
        bad: bad_label,
        builder: builder.describe(),
        changes: changes.infos(),
        requirements: changes.requirement_pairs(),
        time,
        outcome,
    };
    emit(&args, global, &report)
}

fn interrupted_status(journal: &std::path::Path) -> Status {
    eprintln!(
        "interrupted: finished trials are in {}; run the same command again to continue",
        journal.display()
    );
    Status::Code(130)
}

fn print_warnings<L: LockAt>(stored: &StoredLocks<L>) {
    for w in stored.inner().take_warnings() {
        eprintln!("warning: {w}");
    }
}

/// Where the sources are, as far as it changes what a lock says (not how it is fetched).
fn source_key(s: &SourceArgs) -> String {
    format!(
        "snapshot={} mirror={:?} pypi={} goproxy={} github={} github-git={} docker={} keyring={:?}",
        s.snapshot_url,
        s.mirror,
        s.pypi_url,
        s.goproxy,
        s.github_url,
        s.github_git,
        s.docker_registry,
        s.keyring
    )
}

/// The library pipeline for the time axis (same options as `lock`).
fn bisect_pipeline<'s>(
    args: &BisectArgs,
    platform: &str,
    sources: &'s Sources,
) -> anyhow::Result<Pipeline<'s>> {
    let Some(repo_arg) = &args.sonic_repo else {
        bail!("--sonic-repo is required");
    };
    if platform.is_empty() {
        bail!("time-axis mode with --sonic-repo needs --platform");
    }
    let request = TreeRequest {
        platform: platform.to_string(),
        platforms_dir: args.platforms_dir.clone(),
        repo: repo_arg.clone(),
        rev: args.rev.clone(),
        date: None,
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
        freeze_apt_python: true,
    };
    Ok(Pipeline::new(&request, sources, options)?)
}

/// Crawls the tree once; every timestamp is then indexed and solved in-process.
fn pipeline_locks<'p, 's>(
    pipeline: &'p Pipeline<'s>,
    global: &Global,
) -> anyhow::Result<PipelineLocks<'p, 's>> {
    let pb = super::progress(global, None, "crawling");
    let locks = PipelineLocks::crawl(pipeline);
    pb.finish_and_clear();
    let locks = locks?;
    super::warn_gaps(&locks.crawled().gaps, "the locks");
    Ok(locks)
}

fn finish(
    args: &BisectArgs,
    global: &Global,
    good: &str,
    bad: &str,
    builder: String,
    changes: Option<Vec<ChangeInfo>>,
    time: Option<TimeOutcome>,
) -> anyhow::Result<Status> {
    let status = time
        .as_ref()
        .map(|t| t.status)
        .unwrap_or(engine::BisectStatus::Undecidable);
    let report = Report {
        schema_version: REPORT_SCHEMA_VERSION,
        good: good.to_string(),
        bad: bad.to_string(),
        builder,
        changes: changes.unwrap_or_default(),
        requirements: Vec::new(),
        outcome: engine::Outcome {
            status,
            culprit_sets: Vec::new(),
            suspects: Vec::new(),
            order: Vec::new(),
            trials: Vec::new(),
            builds: 0,
            rounds: 0,
            notes: vec!["the build as of the bad date passes: nothing to bisect".into()],
        },
        time,
    };
    emit(args, global, &report)
}

fn emit(args: &BisectArgs, global: &Global, report: &Report) -> anyhow::Result<Status> {
    if let Some(dir) = &args.report {
        report.write(dir)?;
    }
    let o = &report.outcome;
    if global.json {
        super::print_json(report)?;
    } else {
        println!("{}", summary(report));
        if let Some(dir) = &args.report {
            println!("report: {}", dir.join("report.html").display());
        }
    }
    Ok(Status::Code(o.status.exit_code()))
}

/// The human summary printed on stdout.
fn summary(r: &Report) -> String {
    let o = &r.outcome;
    let mut lines = Vec::new();
    let head = match o.status {
        engine::BisectStatus::Culprit => "culprit found",
        engine::BisectStatus::BadPasses => "the bad candidate does not fail: nothing to bisect",
        engine::BisectStatus::Flaky => "flaky: a final verdict did not reproduce",
        engine::BisectStatus::Undecidable => "undecidable",
    };
    if let Some(t) = &r.time {
        lines.push(format!(
            "time axis: last good {}, first bad {} ({} timestamp builds{})",
            t.last_good,
            t.first_bad,
            t.builds,
            if t.status == engine::BisectStatus::Undecidable {
                "; skipped timestamps lie between them"
            } else {
                ""
            }
        ));
    }
    lines.push(format!(
        "bisect: {head} ({} changes, {} builds, {} rounds)",
        r.changes.len(),
        o.builds,
        o.rounds
    ));
    for (n, set) in o.culprit_sets.iter().enumerate() {
        lines.push(format!("culprit set {}:", n + 1));
        for &i in &set.changes {
            if let Some(c) = r.changes.get(i) {
                let mut l = format!("  {}", c.summary);
                if let Some(origin) = &c.origin {
                    l.push_str(&format!("  ({origin})"));
                }
                lines.push(l);
            }
        }
        if !set.applied_with.is_empty() {
            lines.push(format!(
                "  applied with: {}",
                r.subset_label(&set.applied_with)
            ));
        }
    }
    if !o.suspects.is_empty() {
        lines.push(format!("still suspected: {}", r.subset_label(&o.suspects)));
    }
    for n in &o.notes {
        lines.push(format!("note: {n}"));
    }
    lines.join("\n")
}
