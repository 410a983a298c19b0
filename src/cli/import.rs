//! `sonic-lock import`: reads an existing SONiC `files/build/versions/` tree into a lock.

use super::{Global, Status, print_json};
use sonic_lock::lock::{lockfile, sonic_versions};
use std::path::PathBuf;

/// Arguments of `import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The `files/build/versions/` directory to read.
    #[arg(long)]
    pub sonic_versions: PathBuf,
    /// Write the lock here (default: print it on stdout).
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
    /// Platform name recorded in the lock.
    #[arg(long, default_value = "imported")]
    pub platform: String,
    /// sonic-buildimage commit the tree comes from.
    #[arg(long)]
    pub commit: Option<String>,
    /// Cutoff date to record (default: the `debian` snapshot of versions-mirror, if any).
    #[arg(long)]
    pub cutoff: Option<String>,
}

/// Runs `import`.
pub fn run(args: ImportArgs, global: &Global) -> anyhow::Result<Status> {
    let pb = super::progress(global, None, "reading version tree");
    let read = sonic_versions::read_tree(&args.sonic_versions);
    pb.finish_and_clear();
    let (tree, warnings) = read?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    sonic_versions::require_versions(&tree, &args.sonic_versions)?;
    let mut lock = sonic_versions::tree_to_lock(&tree);
    lock.platform = args.platform;
    if let Some(c) = args.commit {
        lock.commit = c;
    }
    if let Some(c) = args.cutoff {
        lock.cutoff = c;
    }
    // A bad option value is the option's fault, not a line of the lock.
    if let Err((field, message)) = lockfile::check_header(&lock) {
        anyhow::bail!("--{field}: {message}");
    }
    lock.validate()?;
    match &args.output {
        Some(path) => {
            lock.write(path)?;
            if global.json {
                print_json(&serde_json::json!({
                    "lock": path.display().to_string(),
                    "pins": lock.pins.len(),
                    "archives": lock.archives.len(),
                    "warnings": warnings,
                }))?;
            } else {
                println!(
                    "imported {} pins and {} archive snapshots into {}",
                    lock.pins.len(),
                    lock.archives.len(),
                    path.display()
                );
            }
        }
        None if global.json => print_json(&lock)?,
        None => print!("{}", lock.to_toml_string()),
    }
    Ok(Status::Ok)
}
