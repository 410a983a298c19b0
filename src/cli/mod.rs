//! Command-line front end: one file per subcommand, each parsing its own
//! arguments, calling the library and printing the result.

pub mod bisect;
pub mod cache;
pub mod compare;
pub mod confirm_args;
pub mod crawl;
pub mod cutoff;
pub mod demo;
pub mod diff;
pub mod export;
pub mod import;
pub mod index;
pub mod layers_args;
pub mod make_args;
pub mod platforms;
pub mod preflight;

use std::process::ExitCode;

pub mod builder_args;
pub mod k8s_args;
pub mod lock;
pub mod trial;

/// Options every subcommand understands.
#[derive(Debug, Clone, clap::Args)]
pub struct Global {
    /// Print machine-readable JSON on stdout instead of the human summary.
    #[arg(long, global = true)]
    pub json: bool,
    /// Hide progress bars on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

/// How a subcommand ended, mapped to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Success: exit 0.
    Ok,
    /// The command worked and found a failure (a conflict, a difference, a broken build): exit 1.
    Found,
    /// A specific exit code documented by the subcommand (e.g. bisect's 3 for flaky).
    Code(u8),
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> ExitCode {
        match s {
            Status::Ok => ExitCode::SUCCESS,
            Status::Found => ExitCode::from(1),
            Status::Code(c) => ExitCode::from(c),
        }
    }
}

/// Exit code for usage and input errors.
pub const EXIT_USAGE: u8 = 2;

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A spinner or bar on stderr, hidden with `--quiet` or when stderr is not a terminal.
pub fn progress(global: &Global, len: Option<u64>, msg: &str) -> indicatif::ProgressBar {
    if global.quiet {
        return indicatif::ProgressBar::hidden();
    }
    let pb = match len {
        Some(n) => indicatif::ProgressBar::new(n).with_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {pos}/{len} ({elapsed})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        ),
        None => indicatif::ProgressBar::new_spinner(),
    };
    pb.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}
pub mod check;
pub mod solve;

/// Warns that the crawl could not read part of the tree (the gaps were
/// accepted with `--allow-incomplete` and are recorded in `what`).
pub fn warn_gaps(gaps: &[sonic_lock::lock::Gap], what: &str) {
    if gaps.is_empty() {
        return;
    }
    eprintln!(
        "warning: going on without {} unreadable part(s) of the tree (recorded as gaps in {what}):\n{}",
        gaps.len(),
        sonic_lock::pipeline::gap_lines(gaps)
    );
}
