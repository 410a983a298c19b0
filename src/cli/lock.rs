//! `sonic-lock lock`: prove a candidate lock by trial builds, learning from
//! failures, and write `lockfiles/<platform>.lock` (plus, with `--export`, the
//! SONiC versions tree). Without a builder the candidate is written as an
//! unproven lock.

use super::builder_args::BuilderArgs;
use super::{Global, Status};
use anyhow::{Context, bail};
use serde::Serialize;
use sonic_lock::lock::{Lock, PinKey, TrialRecord};
use sonic_lock::trial::builder::Verdict;
use sonic_lock::trial::journal::Journal;
use sonic_lock::trial::learn::{
    Attribution, Event, LearnConfig, LearnError, Learner, SingleCandidate,
};
use sonic_lock::trial::pool::Workspace;
use sonic_lock::trial::solver::SolverSearch;
use sonic_lock::trial::stage::{LockStage, parse_contents};
use sonic_lock::trial::triage::Triage;
use std::path::PathBuf;

/// Arguments of `sonic-lock lock`.
#[derive(Debug, clap::Args)]
pub struct LockArgs {
    /// Platform name; the lock is written to LOCKFILES/<platform>.lock.
    #[arg(long)]
    pub platform: String,
    /// The statically solved candidate lock to prove.
    #[arg(long)]
    pub candidate: PathBuf,
    /// The universe (index stage artifact) to search for alternatives when a
    /// candidate fails; without it the candidate is proven or refuted as it is.
    #[arg(long)]
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
    /// Debian Contents index, to blame the package owning a missing header or library.
    #[arg(long)]
    pub contents: Option<PathBuf>,
    /// Builder options.
    #[command(flatten)]
    pub builder: BuilderArgs,
}

#[derive(Serialize)]
struct LearnedOut {
    picks: Vec<String>,
    candidate: String,
    log: PathBuf,
    attribution: Attribution,
}

#[derive(Serialize)]
struct Report {
    platform: String,
    lockfile: PathBuf,
    proven: bool,
    candidate: String,
    builds: usize,
    from_journal: usize,
    learned: Vec<LearnedOut>,
    error: Option<String>,
}

fn pick_text(k: &PinKey, v: &str) -> String {
    format!("{k} = {v}")
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
    let candidate = Lock::read(&args.candidate)?;
    let out_path = args.lockfiles.join(format!("{}.lock", args.platform));
    let Some(builder) = args.builder.build()? else {
        let mut lock = candidate;
        lock.platform = args.platform.clone();
        lock.trials.clear();
        lock.write(&out_path)?;
        if let Some(dir) = &args.export {
            sonic_lock::lock::sonic_versions::export(&lock, dir)?;
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
                learned: Vec::new(),
                error: None,
            })?;
        }
        return Ok(Status::Ok);
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
    let mut stage = LockStage::new(candidate.clone());
    if let Some(p) = &args.contents {
        let text = std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?;
        stage = stage.with_owners(parse_contents(&text));
    }
    let ws = Workspace::new(&args.workspace);
    let journal = Journal::open(&args.workspace.join("journal"))?;
    let pb = super::progress(global, None, "trial builds");
    let on_event = |e: Event<'_, PinKey>| match e {
        Event::Progress(c) => pb.set_message(format!("trial builds: {c}")),
        Event::Isolating(n) => pb.println(format!("isolating the failure among {n} changed pins")),
        Event::Judged {
            candidate,
            verdict,
            cached,
        } => pb.println(format!(
            "candidate {}: {}{}",
            &candidate[..12.min(candidate.len())],
            format!("{verdict:?}").to_lowercase(),
            if cached { " (from journal)" } else { "" }
        )),
        Event::Learned(l) => pb.println(format!(
            "learned: not together {}",
            l.picks
                .iter()
                .map(|(k, v)| pick_text(k, v))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    };
    let learner = Learner {
        builder: builder.as_ref(),
        journal: Some(&journal),
        workspace: &ws,
        triage: &triage,
        stage: &stage,
        config: LearnConfig {
            jobs: args.builder.jobs,
            max_builds: args.max_builds,
        },
        on_event: &on_event,
    };
    let universe = match &args.universe {
        Some(p) => Some(
            sonic_lock::universe::Universe::read(p)
                .with_context(|| format!("universe {}", p.display()))?,
        ),
        None => None,
    };
    let result = match &universe {
        Some(u) => learner.run(&mut SolverSearch::for_candidate(u, &candidate), reference),
        None => learner.run(
            &mut SingleCandidate::new(LockStage::assignment_of(&candidate)),
            reference,
        ),
    };
    pb.finish_and_clear();
    let desc = builder.describe();
    match result {
        Ok(locked) => {
            let mut lock = stage.lock_for(&locked.assignment);
            lock.platform = args.platform.clone();
            for l in &locked.learned {
                lock.trials.push(TrialRecord {
                    candidate: l.candidate.clone(),
                    builder: desc.clone(),
                    result: Verdict::Fail,
                    detail: Some(
                        l.picks
                            .iter()
                            .map(|(k, v)| pick_text(k, v))
                            .collect::<Vec<_>>()
                            .join(", "),
                    ),
                });
            }
            lock.trials.push(TrialRecord {
                candidate: locked.candidate.clone(),
                builder: desc.clone(),
                result: Verdict::Pass,
                detail: None,
            });
            lock.normalize();
            lock.write(&out_path)?;
            if let Some(dir) = &args.export {
                sonic_lock::lock::sonic_versions::export(&lock, dir)?;
            }
            let report = Report {
                platform: args.platform,
                lockfile: out_path.clone(),
                proven: true,
                candidate: locked.candidate,
                builds: locked.builds,
                from_journal: locked.cached,
                learned: locked
                    .learned
                    .iter()
                    .map(|l| LearnedOut {
                        picks: l.picks.iter().map(|(k, v)| pick_text(k, v)).collect(),
                        candidate: l.candidate.clone(),
                        log: l.log.clone(),
                        attribution: l.attribution.clone(),
                    })
                    .collect(),
                error: None,
            };
            if global.json {
                super::print_json(&report)?;
            } else {
                println!(
                    "wrote {}: proven by a passing build ({} builds, {} from the journal, {} nogoods learned)",
                    out_path.display(),
                    report.builds,
                    report.from_journal,
                    report.learned.len()
                );
            }
            Ok(Status::Ok)
        }
        Err(LearnError::Trial(sonic_lock::trial::builder::TrialError::Interrupted)) => {
            eprintln!("interrupted; finished trials are in the journal, run again to resume");
            Ok(Status::Code(130))
        }
        Err(e @ (LearnError::Unsat { .. } | LearnError::Budget { .. })) => {
            if global.json {
                super::print_json(&Report {
                    platform: args.platform,
                    lockfile: out_path,
                    proven: false,
                    candidate: candidate.candidate_hash(),
                    builds: 0,
                    from_journal: 0,
                    learned: Vec::new(),
                    error: Some(e.to_string()),
                })?;
            } else {
                println!("no lock written: {e}");
            }
            Ok(Status::Found)
        }
        Err(e) => Err(e.into()),
    }
}
