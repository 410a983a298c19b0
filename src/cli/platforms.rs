//! `sonic-lock platforms`: lists the platform definitions.

use super::{Global, Status};
use sonic_lock::pipeline;
use sonic_lock::platform::{Platform, PlatformKind};
use std::path::PathBuf;

/// List the platform definitions (built in, or from a directory).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read definitions from this directory of `*.toml` files instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub platforms_dir: Option<PathBuf>,
}

/// Runs the subcommand.
pub fn run(args: Args, global: &Global) -> anyhow::Result<Status> {
    let p = pipeline::tree::platforms(args.platforms_dir.as_deref())?;
    if global.json {
        super::print_json(&p.list)?;
        return Ok(Status::Ok);
    }
    for x in &p.list {
        print_one(x);
    }
    Ok(Status::Ok)
}

fn print_one(p: &Platform) {
    let kind = match p.kind {
        PlatformKind::Hardware => "hardware switch",
        PlatformKind::SoftwareSwitch => "software switch",
    };
    println!(
        "{}{}",
        p.name,
        if p.aliases.is_empty() {
            String::new()
        } else {
            format!(" (also: {})", p.aliases.join(", "))
        }
    );
    println!("  {} — {kind}", p.description);
    println!(
        "  PLATFORM={}  image {}  arch {}  suites {}",
        p.sonic_platform,
        p.image_target,
        p.arch,
        p.suites.join(", ")
    );
    if let (Some(d), Some(m)) = (&p.device_dir, &p.machine) {
        println!("  machine {m}  device {d}");
    }
    println!(
        "  cutoff: last commit on {} touching {}",
        p.cutoff.branch,
        p.cutoff.paths.join(", ")
    );
}
