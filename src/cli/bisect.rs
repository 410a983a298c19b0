//! `sonic-lock bisect`: which dependency changes between a good and a bad
//! candidate break the build.
//!
//! Exit codes: 0 culprit found, 1 the bad candidate does not fail, 2 usage or
//! input error, 3 flaky or undecidable, 130 interrupted (run again to continue).

use super::builder_args::BuilderArgs;
use super::{Global, Status};
use anyhow::{Context, bail};
use sonic_lock::bisect::engine::{self, Config, Strategy};
use sonic_lock::bisect::locks::{LockChanges, read_candidate};
use sonic_lock::bisect::report::{REPORT_SCHEMA_VERSION, Report};
use sonic_lock::bisect::runner::BuildOracle;
use sonic_lock::bisect::timeaxis::{self, TimeOutcome};
use sonic_lock::bisect::{BisectError, ChangeInfo};
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
    /// Time-axis mode: a date the build passed (YYYY-MM-DD or YYYYMMDDTHHMMSSZ).
    #[arg(long, requires_all = ["bad_date", "lock_at"])]
    pub good_date: Option<String>,
    /// Time-axis mode: a later date the build fails.
    #[arg(long, requires = "good_date")]
    pub bad_date: Option<String>,
    /// Platform definition to lock in time-axis mode (substituted for `{platform}` in --lock-at).
    #[arg(long)]
    pub platform: Option<String>,
    /// Time-axis mode: the command (split on spaces, no shell) that writes the lock as of
    /// `{timestamp}` to `{out}`, e.g. "./lock-as-of.sh {platform} {timestamp} {out}".
    #[arg(long)]
    pub lock_at: Option<String>,
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
    pub builder: BuilderArgs,
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
    let cfg = Config {
        jobs: args.builder.jobs.max(1),
        confirm: args.confirm,
        strategy: args.strategy,
        check_good: args.check_good,
        ..Config::default()
    };

    let (good_label, bad_label, changes, time) = match (&args.good, &args.bad) {
        (Some(g), Some(b)) => {
            let good = read_candidate(g)?;
            let bad = read_candidate(b)?;
            (
                g.display().to_string(),
                b.display().to_string(),
                LockChanges::new(good, &bad),
                None,
            )
        }
        _ => {
            let (good_date, bad_date) = match (&args.good_date, &args.bad_date) {
                (Some(g), Some(b)) => (timeaxis::normalize_date(g)?, timeaxis::normalize_date(b)?),
                _ => bail!("give --good and --bad, or --good-date and --bad-date"),
            };
            let Some(template) = &args.lock_at else {
                bail!("time-axis mode needs --lock-at");
            };
            let axis = LockAxis {
                template: template.split_whitespace().map(str::to_string).collect(),
                platform: args.platform.clone().unwrap_or_default(),
                dir: args.state_dir.join("snapshots"),
                builder: builder.as_ref(),
                journal: &journal,
                trials: args.state_dir.join("trials"),
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
            let t = timeaxis::bisect_time(&axis, &stamps, cfg.jobs).map_err(interrupt_aware)?;
            if t.status == engine::Status::BadPasses {
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
            let good = axis.lock(&t.last_good)?;
            let bad = axis.lock(&t.first_bad)?;
            (
                format!("{} (snapshot {})", good_date, t.last_good),
                format!("{} (snapshot {})", bad_date, t.first_bad),
                LockChanges::new(good, &bad),
                Some(t),
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
    let outcome = match result {
        Ok(o) => o,
        Err(BisectError::Interrupted) => {
            eprintln!(
                "interrupted: finished trials are in {}; run the same command again to continue",
                journal_path.display()
            );
            return Ok(Status::Code(130));
        }
        Err(e) => return Err(e.into()),
    };
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

fn interrupt_aware(e: BisectError) -> anyhow::Error {
    if matches!(e, BisectError::Interrupted) {
        anyhow::anyhow!(
            "interrupted: finished trials are kept; run the same command again to continue"
        )
    } else {
        e.into()
    }
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
        .unwrap_or(engine::Status::Undecidable);
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
        engine::Status::Culprit => "culprit found",
        engine::Status::BadPasses => "the bad candidate does not fail: nothing to bisect",
        engine::Status::Flaky => "flaky: a final verdict did not reproduce",
        engine::Status::Undecidable => "undecidable",
    };
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

/// The time axis over locks produced by an external command per timestamp.
struct LockAxis<'a> {
    template: Vec<String>,
    platform: String,
    dir: PathBuf,
    builder: &'a dyn sonic_lock::trial::builder::Builder,
    journal: &'a Journal,
    trials: PathBuf,
}

impl LockAxis<'_> {
    /// The lock as of `ts`, produced once and kept in the state directory.
    fn lock(&self, ts: &str) -> Result<sonic_lock::lock::Lock, BisectError> {
        let out = self.dir.join(format!("{ts}.lock"));
        if !out.exists() {
            std::fs::create_dir_all(&self.dir).map_err(|e| BisectError::Prepare {
                path: self.dir.display().to_string(),
                message: e.to_string(),
            })?;
            let tmp = self.dir.join(format!("{ts}.lock.partial"));
            let subst = |a: &String| {
                a.replace("{timestamp}", ts)
                    .replace("{platform}", &self.platform)
                    .replace("{out}", &tmp.display().to_string())
            };
            let argv: Vec<String> = self.template.iter().map(subst).collect();
            let Some((prog, rest)) = argv.split_first() else {
                return Err(BisectError::TimeAxis("--lock-at is empty".into()));
            };
            let status = std::process::Command::new(prog)
                .args(rest)
                .status()
                .map_err(|e| BisectError::TimeAxis(format!("cannot run `{prog}`: {e}")))?;
            if !status.success() {
                return Err(BisectError::TimeAxis(format!(
                    "`{}` failed ({status}) for {ts}",
                    argv.join(" ")
                )));
            }
            std::fs::rename(&tmp, &out).map_err(|e| BisectError::Prepare {
                path: out.display().to_string(),
                message: e.to_string(),
            })?;
        }
        read_candidate(&out)
    }
}

impl timeaxis::TimeAxis for LockAxis<'_> {
    fn judge_at(&self, ts: &str) -> Result<engine::Observation, BisectError> {
        let lock = self.lock(ts)?;
        // The whole lock as of `ts` is "G with every change applied" against itself.
        let changes = LockChanges::new(lock.clone(), &lock);
        let oracle = BuildOracle::new(
            self.builder,
            &changes,
            &self.trials,
            Some(self.journal),
            &interrupted,
        );
        engine::Oracle::judge(&oracle, &[], 0)
    }
}
