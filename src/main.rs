//! The `sonic-lock` command: parses arguments, calls the library, prints.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Pin every unpinned build dependency of an old sonic-buildimage tree.
#[derive(Debug, Parser)]
#[command(name = "sonic-lock", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: cli::Global,
    #[command(subcommand)]
    command: Command,
}

/// Subcommands, one per pipeline stage or tool; each lives in `src/cli/<name>.rs`.
#[derive(Debug, Subcommand)]
enum Command {
    /// What existed at the cutoff for every dependency of a manifest, fetched, verified and cached.
    Index(cli::index::IndexArgs),
    /// Export or import the source cache as one file (for air-gapped build hosts).
    Cache(cli::cache::CacheArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(cli::EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result: anyhow::Result<cli::Status> = match cli.command {
        Command::Index(args) => cli::index::run(args, &cli.global),
        Command::Cache(args) => cli::cache::run(args, &cli.global),
    };
    match result {
        Ok(status) => status.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}
