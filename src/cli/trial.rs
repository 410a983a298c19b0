//! `sonic-lock trial`: judge exported SONiC versions trees with a builder,
//! through the journal (a re-run does not rebuild what was already judged).

use super::builder_args::BuilderArgs;
use super::{Global, Status};
use anyhow::{Context, bail};
use serde::Serialize;
use sonic_lock::trial::builder::{TrialError, Verdict};
use sonic_lock::trial::journal::Journal;
use sonic_lock::trial::pool::{Workspace, run_all};
use sonic_lock::trial::triage::Triage;
use std::path::{Path, PathBuf};

/// Arguments of `sonic-lock trial`.
#[derive(Debug, clap::Args)]
pub struct TrialArgs {
    /// An exported `files/build/versions/` tree to judge (repeatable).
    #[arg(long = "versions", required = true)]
    pub versions: Vec<PathBuf>,
    /// The lockfile of the candidate(s), exported as SONIC_LOCK_LOCKFILE.
    #[arg(long)]
    pub lockfile: Option<PathBuf>,
    /// Directory for trial inputs and logs.
    #[arg(long, default_value = ".sonic-lock/trials")]
    pub workspace: PathBuf,
    /// Journal of finished trials (default: WORKSPACE/journal).
    #[arg(long)]
    pub journal: Option<PathBuf>,
    /// Builder options.
    #[command(flatten)]
    pub builder: BuilderArgs,
}

#[derive(Serialize)]
struct Row {
    versions: PathBuf,
    candidate: String,
    verdict: Option<Verdict>,
    exit_code: Option<i32>,
    timed_out: bool,
    cached: bool,
    log: Option<PathBuf>,
    error: Option<String>,
    signatures: Vec<String>,
}

/// Stable hash of a versions tree (file names and contents) plus the lockfile.
pub fn hash_tree(dir: &Path, lockfile: Option<&[u8]>) -> anyhow::Result<String> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let mut files = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let rd = std::fs::read_dir(dir.join(&rel))
            .with_context(|| format!("{}", dir.join(&rel).display()))?;
        for e in rd {
            let e = e.with_context(|| format!("{}", dir.join(&rel).display()))?;
            let r = rel.join(e.file_name());
            if e.file_type()?.is_dir() {
                stack.push(r);
            } else {
                files.push(r);
            }
        }
    }
    files.sort();
    for f in &files {
        let bytes =
            std::fs::read(dir.join(f)).with_context(|| format!("{}", dir.join(f).display()))?;
        h.update(f.to_string_lossy().as_bytes());
        h.update([0]);
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    if let Some(l) = lockfile {
        h.update(b"\0lock\0");
        h.update(l);
    }
    Ok(hex::encode(h.finalize()))
}

/// Copies a directory tree (regular files only).
pub fn copy_tree(src: &Path, dst: &Path) -> anyhow::Result<()> {
    for e in std::fs::read_dir(src).with_context(|| format!("{}", src.display()))? {
        let e = e?;
        let to = dst.join(e.file_name());
        if e.file_type()?.is_dir() {
            std::fs::create_dir_all(&to)?;
            copy_tree(&e.path(), &to)?;
        } else {
            std::fs::copy(e.path(), &to)
                .with_context(|| format!("copy {} to {}", e.path().display(), to.display()))?;
        }
    }
    Ok(())
}

/// Runs `sonic-lock trial`.
pub fn run(args: TrialArgs, global: &Global) -> anyhow::Result<Status> {
    sonic_lock::trial::signal::install().map_err(|e| anyhow::anyhow!("signal handler: {e}"))?;
    let Some(builder) = args.builder.build()? else {
        bail!("sonic-lock trial needs --builder");
    };
    let desc = builder.describe();
    let lock_bytes = match &args.lockfile {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("{}", p.display()))?),
        None => None,
    };
    let ws = Workspace::new(&args.workspace);
    let journal_path = args
        .journal
        .clone()
        .unwrap_or_else(|| args.workspace.join("journal"));
    let journal = Journal::open(&journal_path)?;
    if journal.torn_bytes() > 0 && !global.quiet {
        eprintln!(
            "{}: dropped a half-written last entry ({} bytes) left by an interrupted run",
            journal_path.display(),
            journal.torn_bytes()
        );
    }
    let mut inputs = Vec::new();
    for dir in &args.versions {
        if !dir.is_dir() {
            bail!("{}: not a directory", dir.display());
        }
        let hash = hash_tree(dir, lock_bytes.as_deref())?;
        let input = ws.input(&hash, &desc)?;
        if journal.lookup(&hash, &builder.identity()).is_none() {
            copy_tree(dir, &input.versions_dir)?;
        }
        std::fs::write(&input.lockfile, lock_bytes.as_deref().unwrap_or_default())
            .with_context(|| format!("{}", input.lockfile.display()))?;
        inputs.push(input);
    }
    let pb = super::progress(global, Some(inputs.len() as u64), "trials");
    let outcomes = run_all(
        builder.as_ref(),
        Some(&journal),
        &inputs,
        args.builder.jobs,
        &|c| {
            pb.set_position((c.passed + c.failed + c.skipped) as u64);
            pb.set_message(c.to_string());
        },
    );
    pb.finish_and_clear();
    let triage = Triage::builtin()?;
    let mut rows = Vec::new();
    let mut interrupted = false;
    for ((dir, input), o) in args.versions.iter().zip(&inputs).zip(outcomes) {
        ws.tidy(input);
        let mut row = Row {
            versions: dir.clone(),
            candidate: input.candidate_hash.clone(),
            verdict: None,
            exit_code: None,
            timed_out: false,
            cached: o.cached,
            log: None,
            error: None,
            signatures: Vec::new(),
        };
        match o.result {
            Ok(r) => {
                if r.verdict == Verdict::Fail
                    && let Ok(rep) = triage.scan_file(&r.log)
                {
                    row.signatures = rep
                        .matches
                        .iter()
                        .map(|m| format!("{} (line {})", m.signature, m.line))
                        .collect();
                }
                row.verdict = Some(r.verdict);
                row.exit_code = r.exit_code;
                row.timed_out = r.timed_out;
                row.log = Some(r.log);
            }
            Err(TrialError::Interrupted) => {
                interrupted = true;
                row.error = Some("interrupted".into());
            }
            Err(e) => row.error = Some(e.to_string()),
        }
        rows.push(row);
    }
    if global.json {
        super::print_json(&rows)?;
    } else {
        for r in &rows {
            let what = match (r.verdict, &r.error) {
                (Some(v), _) => format!("{v:?}").to_lowercase(),
                (None, Some(e)) => format!("error: {e}"),
                (None, None) => "not run".into(),
            };
            println!(
                "{}  {}{}{}{}",
                r.versions.display(),
                what,
                if r.timed_out { " (timed out)" } else { "" },
                if r.cached { " (from journal)" } else { "" },
                r.log
                    .as_ref()
                    .map(|l| format!("  log: {}", l.display()))
                    .unwrap_or_default()
            );
            for s in &r.signatures {
                println!("    {s}");
            }
        }
    }
    if interrupted || sonic_lock::trial::signal::interrupted() {
        return Ok(Status::Code(130));
    }
    if let Some(e) = rows.iter().find_map(|r| r.error.clone()) {
        bail!("{e}");
    }
    if rows
        .iter()
        .any(|r| matches!(r.verdict, Some(Verdict::Abort)))
    {
        return Ok(Status::Code(3));
    }
    if rows.iter().all(|r| r.verdict == Some(Verdict::Pass)) {
        Ok(Status::Ok)
    } else {
        Ok(Status::Found)
    }
}
