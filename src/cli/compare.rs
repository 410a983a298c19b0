//! `sonic-lock compare-versions`: two `files/build/versions/` trees compared
//! per module and kind through their effective sets; exit 1 when they differ.

use super::{Global, Status, print_json};
use anyhow::Context as _;
use sonic_lock::lock::Lock;
use sonic_lock::lock::compare::{Comparison, ModuleScope, compare_trees};
use sonic_lock::lock::sonic_versions::{self, VersionTree};
use sonic_lock::lock::split::{self, SplitOptions};
use std::path::{Path, PathBuf};

/// Arguments of `compare-versions`.
#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The recorded `files/build/versions/` directory (for example a release branch's).
    pub recorded: PathBuf,
    /// Ours: a `files/build/versions/` directory, or a lock (exported as `export` does).
    pub ours: PathBuf,
    /// The architecture the effective sets are taken for.
    #[arg(long, default_value = "amd64")]
    pub arch: String,
    /// List every difference (name and versions), not only the counts.
    #[arg(long)]
    pub differences: bool,
    /// Compare only the modules ours has (what our platform builds), not every
    /// docker a release branch records for all platforms.
    #[arg(long)]
    pub only_ours: bool,
}

fn load(path: &Path, arch: &str) -> anyhow::Result<VersionTree> {
    if path.is_dir() {
        let (tree, warnings) = sonic_versions::read_tree(path)
            .with_context(|| format!("reading version tree {}", path.display()))?;
        for w in warnings {
            eprintln!("warning: {w}");
        }
        Ok(tree)
    } else {
        let lock = Lock::read(path)?;
        let opts = SplitOptions {
            archs: vec![arch.to_string()],
            ..SplitOptions::default()
        };
        let (tree, _, _) = split::split_tree(&lock, &opts)
            .with_context(|| format!("exporting {}", path.display()))?;
        Ok(tree)
    }
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * part as f64 / whole as f64)
    }
}

fn print_human(c: &Comparison, differences: bool) {
    let width = c
        .rows
        .iter()
        .map(|r| r.module.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let kwidth = c
        .rows
        .iter()
        .map(|r| r.kind.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "{:width$}  {:kwidth$}  {:>6}  {:>6}  {:>7}  {:>6}",
        "module", "kind", "exact", "other", "missing", "extra"
    );
    for r in &c.rows {
        println!(
            "{:width$}  {:kwidth$}  {:>6}  {:>6}  {:>7}  {:>6}",
            r.module,
            r.kind,
            r.exact,
            r.other_version.len(),
            r.missing.len(),
            r.extra.len()
        );
        if differences {
            for (n, rv, ov) in &r.other_version {
                println!("    other    {n}: recorded {rv}, ours {ov}");
            }
            for (n, v) in &r.missing {
                println!("    missing  {n}=={v}");
            }
            for (n, v) in &r.extra {
                println!("    extra    {n}=={v}");
            }
        }
    }
    println!();
    for (ctype, t) in c.totals() {
        println!(
            "{ctype}: {} module x kind rows ({} differ); exact {}/{} ({}), other version {}, missing {}, extra {}",
            t.rows,
            t.differing_rows,
            t.exact,
            t.recorded(),
            percent(t.exact, t.recorded()),
            t.other_version,
            t.missing,
            t.extra
        );
    }
}

/// Runs `compare-versions`.
pub fn run(args: CompareArgs, global: &Global) -> anyhow::Result<Status> {
    let recorded = load(&args.recorded, &args.arch)?;
    let ours = load(&args.ours, &args.arch)?;
    let scope = if args.only_ours {
        ModuleScope::Ours
    } else {
        ModuleScope::Both
    };
    let c = compare_trees(&recorded, &ours, &args.arch, scope);
    if global.json {
        print_json(&serde_json::json!({
            "arch": c.arch,
            "totals": c.totals(),
            "rows": c.rows,
        }))?;
    } else {
        print_human(&c, args.differences);
    }
    Ok(if c.differs() {
        Status::Found
    } else {
        Status::Ok
    })
}
