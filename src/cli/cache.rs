//! `sonic-lock cache`: move a source cache to an air-gapped build host as one file.

use super::index::SourceArgs;
use super::{Global, Status};
use std::path::PathBuf;

/// Arguments of `sonic-lock cache`.
#[derive(Debug, clap::Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub action: CacheAction,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// What to do with the cache.
#[derive(Debug, clap::Subcommand)]
pub enum CacheAction {
    /// Write every verified blob, request key and git clone into one file.
    Export {
        /// Output file.
        file: PathBuf,
    },
    /// Read an export file (this version's or an older one), verifying every blob before storing it.
    Import {
        /// Input file.
        file: PathBuf,
    },
    /// Check every entry as a read would (blobs re-hashed, keys, parsed
    /// suites, git clones); remove and name the corrupt ones (exit 1).
    Verify,
    /// Print the cache directory.
    Path,
}

/// Runs `cache`.
pub fn run(args: CacheArgs, global: &Global) -> anyhow::Result<Status> {
    let cache = args.source.open_cache()?;
    match args.action {
        CacheAction::Export { file } => {
            let s = cache.export(&file)?;
            if global.json {
                super::print_json(&s)?;
            } else {
                println!(
                    "exported {} blob(s), {} key(s) and {} git clone(s) to {}",
                    s.blobs,
                    s.keys,
                    s.clones,
                    file.display()
                );
            }
        }
        CacheAction::Import { file } => {
            let s = cache.import(&file)?;
            if global.json {
                super::print_json(&s)?;
            } else {
                println!(
                    "imported {} blob(s), {} key(s) and {} git clone(s) into {}",
                    s.blobs,
                    s.keys,
                    s.clones,
                    cache.root().display()
                );
            }
        }
        CacheAction::Verify => {
            let r = cache.verify()?;
            if global.json {
                super::print_json(&r)?;
            } else {
                println!(
                    "{}: {} blob(s), {} key(s), {} parsed suite(s) and {} git clone(s) sound; {} problem(s)",
                    cache.root().display(),
                    r.blobs,
                    r.keys,
                    r.parsed,
                    r.clones,
                    r.problems.len()
                );
            }
            if !r.problems.is_empty() {
                return Ok(Status::Code(1));
            }
        }
        CacheAction::Path => println!("{}", cache.root().display()),
    }
    Ok(Status::Ok)
}
