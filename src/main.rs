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
    /// Installability of every package of a Debian index (like dose-distcheck).
    Check(cli::check::CheckArgs),
    /// Choose one version of every needed package (Debian indices, apt transactions).
    Solve(cli::solve::SolveArgs),
    /// Why a package is part of the solution: the chain from the request.
    Why(cli::solve::WhyArgs),
    /// Why NAME=VERSION cannot be part of the solution.
    WhyNot(cli::solve::WhyNotArgs),
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
        Command::Check(args) => cli::check::run(args, &cli.global),
        Command::Solve(args) => cli::solve::run_solve(args, &cli.global),
        Command::Why(args) => cli::solve::run_why(args, &cli.global),
        Command::WhyNot(args) => cli::solve::run_why_not(args, &cli.global),
    };
    match result {
        Ok(status) => status.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}
