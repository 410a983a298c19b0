//! `sonic-lock cutoff`: the commit at which a platform was last supported.

use super::{Global, Status};
use sonic_lock::crawl::tree;
use sonic_lock::date::Cutoff;
use sonic_lock::platform::{self, CutoffQuery};
use std::path::PathBuf;

/// Print the cutoff commit and date of a platform.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Platform name or alias (see `sonic-lock platforms`).
    #[arg(long)]
    pub platform: String,
    /// sonic-buildimage repository: a local path (bare or not) or a URL to clone into the cache.
    #[arg(long, value_name = "PATH_OR_URL")]
    pub sonic_repo: String,
    /// Use this revision instead of searching.
    #[arg(long, conflicts_with = "date")]
    pub rev: Option<String>,
    /// Use the last commit of the branch at or before this date (YYYY-MM-DD or RFC 3339).
    #[arg(long)]
    pub date: Option<String>,
    /// Search this branch instead of the definition's.
    #[arg(long)]
    pub branch: Option<String>,
    /// Read definitions from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub platforms_dir: Option<PathBuf>,
    /// Cache directory for cloned repositories.
    #[arg(long, env = "SONIC_LOCK_CACHE", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// The cache directory: `--cache-dir`, else the user's cache.
pub fn cache_dir(arg: Option<&PathBuf>) -> PathBuf {
    arg.cloned()
        .or_else(|| dirs::cache_dir().map(|d| d.join("sonic-lock")))
        .unwrap_or_else(|| PathBuf::from(".sonic-lock-cache"))
}

/// Resolves the query from `--rev` / `--date`.
pub fn query(rev: Option<&String>, date: Option<&String>) -> anyhow::Result<CutoffQuery> {
    Ok(match (rev, date) {
        (Some(r), _) => CutoffQuery::Rev(r.clone()),
        (None, Some(d)) => CutoffQuery::Date(Cutoff::parse(d)?.timestamp()),
        (None, None) => CutoffQuery::Rule,
    })
}

/// Runs the subcommand.
pub fn run(args: Args, global: &Global) -> anyhow::Result<Status> {
    let platforms = super::platforms::load(args.platforms_dir.as_ref())?;
    let p = platforms.find(&args.platform)?;
    let mut rule = p.cutoff.clone();
    if let Some(b) = &args.branch {
        rule.branch = b.clone();
    }
    let q = query(args.rev.as_ref(), args.date.as_ref())?;
    let repo = tree::open_or_clone(&args.sonic_repo, &cache_dir(args.cache_dir.as_ref()))?;
    let c = platform::find_cutoff(&repo, &rule, &q)?;
    if global.json {
        super::print_json(
            &serde_json::json!({ "platform": p.name, "branch": rule.branch, "cutoff": c }),
        )?;
    } else {
        println!("{} {}", c.commit, c.date);
        println!("  {}", c.summary);
        match c.method.as_str() {
            "paths" => println!(
                "  last commit on {} touching {}",
                rule.branch,
                rule.paths.join(", ")
            ),
            "date" => println!(
                "  last commit on {} at or before the given date",
                rule.branch
            ),
            _ => println!("  as given by --rev"),
        }
    }
    Ok(Status::Ok)
}
