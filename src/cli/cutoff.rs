//! `sonic-lock cutoff`: the commit at which a platform was last supported.

use super::{Global, Status};
use sonic_lock::crawl::tree::open_or_clone;
use sonic_lock::pipeline::tree;
use sonic_lock::platform;
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

/// Runs the subcommand.
pub fn run(args: Args, global: &Global) -> anyhow::Result<Status> {
    let platforms = tree::platforms(args.platforms_dir.as_deref())?;
    let p = platforms.find(&args.platform)?;
    let mut rule = p.cutoff.clone();
    if let Some(b) = &args.branch {
        rule.branch = b.clone();
    }
    let q = tree::cutoff_query(args.rev.as_deref(), args.date.as_deref())?;
    let repo = open_or_clone(
        &args.sonic_repo,
        &tree::cache_dir(args.cache_dir.as_deref()),
    )?;
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
