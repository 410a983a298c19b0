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
// Parsed once per process, so the size of its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// List the platform definitions.
    Platforms(cli::platforms::Args),
    /// Print the commit at which a platform was last supported.
    Cutoff(cli::cutoff::Args),
    /// Crawl a sonic-buildimage tree into a dependency manifest.
    Crawl(cli::crawl::Args),
    /// What existed at the cutoff for every dependency of a manifest, fetched, verified and cached.
    Index(cli::index::IndexArgs),
    /// Export or import the source cache as one file (for air-gapped build hosts).
    Cache(cli::cache::CacheArgs),
    /// Installability of every package of a Debian index (like dose-distcheck).
    Check(cli::check::CheckArgs),
    /// Choose one version of every needed package (Debian indices, apt transactions).
    Solve(cli::solve::SolveArgs),
    /// Why a package is part of the solution: the chain from the request.
    Why(cli::solve::WhyArgs),
    /// Why NAME=VERSION cannot be part of the solution.
    WhyNot(cli::solve::WhyNotArgs),
    /// Judge exported SONiC versions trees with a trial builder.
    Trial(cli::trial::TrialArgs),
    /// Prove a candidate lock by trial builds, learning from failures, and write the lockfile.
    Lock(Box<cli::lock::LockArgs>),
    /// Write a lock as SONiC version files, apt preferences, pip constraints or JSON.
    Export(cli::export::ExportArgs),
    /// Read a SONiC files/build/versions/ tree into a lock.
    Import(cli::import::ImportArgs),
    /// Show the differences between two locks or version trees (exit 1 when they differ).
    Diff(cli::diff::DiffArgs),
    /// Compare two version trees per module and kind through their effective sets (exit 1 when they differ).
    CompareVersions(cli::compare::CompareArgs),

    /// Check that every build node (or the container runtime) reaches the sources a lock needs.
    Preflight(cli::preflight::PreflightArgs),
    /// Find which dependency changes between a good and a bad candidate break the build.
    Bisect(cli::bisect::BisectArgs),
    /// Watch the whole pipeline on a generated world, offline: crawl, index, solve, trial builds, export, bisect.
    Demo(cli::demo::DemoArgs),
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
        Command::Export(args) => cli::export::run(args, &cli.global),
        Command::Import(args) => cli::import::run(args, &cli.global),
        Command::Diff(args) => cli::diff::run(args, &cli.global),
        Command::CompareVersions(args) => cli::compare::run(args, &cli.global),
        Command::Trial(args) => cli::trial::run(args, &cli.global),
        Command::Lock(args) => cli::lock::run(*args, &cli.global),
        Command::Platforms(args) => cli::platforms::run(args, &cli.global),
        Command::Cutoff(args) => cli::cutoff::run(args, &cli.global),
        Command::Crawl(args) => cli::crawl::run(args, &cli.global),
        Command::Check(args) => cli::check::run(args, &cli.global),
        Command::Solve(args) => cli::solve::run_solve(args, &cli.global),
        Command::Why(args) => cli::solve::run_why(args, &cli.global),
        Command::WhyNot(args) => cli::solve::run_why_not(args, &cli.global),
        Command::Index(args) => cli::index::run(args, &cli.global),
        Command::Cache(args) => cli::cache::run(args, &cli.global),
        Command::Bisect(args) => cli::bisect::run(args, &cli.global),
        Command::Preflight(args) => cli::preflight::run(args, &cli.global),
        Command::Demo(args) => cli::demo::run(args, &cli.global),
    };
    match result {
        Ok(status) => status.into(),
        Err(e) => {
            eprintln!("error: {}", error_text(&e));
            ExitCode::from(cli::EXIT_USAGE)
        }
    }
}

/// The error and its causes, each cause shown once: library errors often embed
/// their source in their own message, which `{:#}` would print twice.
fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}
