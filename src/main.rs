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
    /// Find which dependency changes between a good and a bad candidate break the build.
    Bisect(cli::bisect::BisectArgs),
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
        Command::Bisect(args) => cli::bisect::run(args, &cli.global),
    };
    match result {
        Ok(status) => status.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}
