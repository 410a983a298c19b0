//! `sonic-lock check`: installability of every package of a Debian index.

use super::{Global, Status, print_json};
use anyhow::Context as _;
use sonic_lock::solve::check::{CheckOptions, check};
use sonic_lock::universe::{Universe, debian};
use std::path::PathBuf;

/// Arguments of `check`.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// The index: `Packages`, `Packages.xz` or `Packages.gz`.
    #[arg(long)]
    pub packages: PathBuf,
    /// Native architecture; stanzas of other architectures (except `all`) are ignored.
    #[arg(long, default_value = "amd64")]
    pub arch: String,
    /// Do not install the Essential packages with every package (dose's --deb-ignore-essential).
    #[arg(long)]
    pub ignore_essential: bool,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub threads: usize,
    /// Write one DOT explanation graph per broken package into this directory.
    #[arg(long)]
    pub explain_dot: Option<PathBuf>,
}

/// Runs `check`.
pub fn run(args: CheckArgs, global: &Global) -> anyhow::Result<Status> {
    let bytes = std::fs::read(&args.packages)
        .with_context(|| format!("reading {}", args.packages.display()))?;
    let label = args.packages.display().to_string();
    let domain = format!("index/{}", args.arch);
    let mut u = Universe::new();
    let t0 = std::time::Instant::now();
    let pb = super::progress(global, None, "loading the index");
    // An empty index would "check" nothing and pass: most likely a truncated download.
    if debian::load_packages_auto(&mut u, &bytes, &label, &domain)? == 0 {
        anyhow::bail!(
            "{label}: no package stanza for architecture {} or all: an empty index",
            args.arch
        );
    }
    let loaded = t0.elapsed();
    pb.set_message("checking every package");
    let opts = CheckOptions {
        essential: !args.ignore_essential,
        threads: args.threads,
        explain: true,
    };
    let report = check(&u, &domain, &opts);
    let total = t0.elapsed();
    pb.finish_and_clear();
    if let Some(dir) = &args.explain_dot {
        for b in &report.broken {
            let path = dir.join(format!(
                "{}_{}.dot",
                b.package,
                b.version.replace(':', "%3a")
            ));
            sonic_lock::fsio::write_atomic(&path, b.dot.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    if global.json {
        print_json(&report)?;
    } else {
        for b in &report.broken {
            println!(
                "{} {} ({}): {:?}",
                b.package, b.version, b.architecture, b.kind
            );
            for line in b.explanation.lines() {
                println!("  {line}");
            }
        }
        println!(
            "{} packages checked, {} broken ({} searches; loaded in {:.3} s, total {:.3} s)",
            report.total,
            report.broken.len(),
            report.searches,
            loaded.as_secs_f64(),
            total.as_secs_f64()
        );
    }
    // The process ends here: freeing the universe's half a million small
    // allocations one by one would add a quarter of the check's run time.
    std::mem::forget(u);
    Ok(if report.broken.is_empty() {
        Status::Ok
    } else {
        Status::Found
    })
}
