//! `sonic-lock diff`: differences between two locks or version trees; exit 1 when they differ.

use super::{Global, Status, print_json};
use anyhow::Context as _;
use sonic_lock::lock::{Lock, diff, sonic_versions};
use std::path::{Path, PathBuf};

/// Arguments of `diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The old lock, or a `files/build/versions/` directory.
    pub a: PathBuf,
    /// The new lock, or a `files/build/versions/` directory.
    pub b: PathBuf,
}

fn load(path: &Path) -> anyhow::Result<Lock> {
    if path.is_dir() {
        sonic_versions::import(path)
            .with_context(|| format!("reading version tree {}", path.display()))
    } else {
        Ok(Lock::read(path)?)
    }
}

/// Runs `diff`.
pub fn run(args: DiffArgs, global: &Global) -> anyhow::Result<Status> {
    let a = load(&args.a)?;
    let b = load(&args.b)?;
    let d = diff(&a, &b);
    if global.json {
        print_json(&d)?;
    } else {
        print!("{}", d.render_human());
    }
    Ok(if d.is_empty() {
        Status::Ok
    } else {
        Status::Found
    })
}
