//! `sonic-lock crawl`: the manifest of every build dependency of a platform.

use super::{Global, Status};
use sonic_lock::crawl::{self, CrawlOptions, CrawlOutput};
use sonic_lock::date::Cutoff;
use sonic_lock::manifest::{Ecosystem, Manifest, Severity};
use sonic_lock::pipeline;
use sonic_lock::platform;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Crawl a sonic-buildimage tree and write the dependency manifest.
///
/// Exit code 1 when something could not be read (for example a submodule that
/// is not available): the manifest is written but is incomplete.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Platform name or alias; optional with --all (then generic make settings are used).
    #[arg(long, required_unless_present = "all")]
    pub platform: Option<String>,
    /// sonic-buildimage repository: a local path (bare or not) or a URL to clone into the cache.
    #[arg(long, value_name = "PATH_OR_URL")]
    pub sonic_repo: String,
    /// Crawl this revision instead of the platform's cutoff.
    #[arg(long, conflicts_with = "date")]
    pub rev: Option<String>,
    /// Crawl the last commit of the cutoff branch at or before this date.
    #[arg(long)]
    pub date: Option<String>,
    /// Directory of local submodule clones (by submodule path, name or repository name).
    #[arg(long, value_name = "DIR")]
    pub submodules: Option<PathBuf>,
    /// Clone submodules not found under --submodules into the cache.
    #[arg(long)]
    pub clone_submodules: bool,
    /// Crawl the whole tree instead of what the platform builds.
    #[arg(long)]
    pub all: bool,
    /// Write the manifest here (JSON).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Read platform definitions from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub platforms_dir: Option<PathBuf>,
    /// Cache directory for cloned repositories.
    #[arg(long, env = "SONIC_LOCK_CACHE", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Print why FILE (a tree path) is in the platform's scope: the chain of
    /// make targets from the file to the image; exit 1 when it is not in scope.
    #[arg(long, value_name = "FILE", conflicts_with = "all")]
    pub explain: Option<String>,
    /// Make variables for the build.
    #[command(flatten)]
    pub make: super::make_args::MakeVarArgs,
}

/// Runs the subcommand.
pub fn run(args: Args, global: &Global) -> anyhow::Result<Status> {
    let platforms = pipeline::tree::platforms(args.platforms_dir.as_deref())?;
    let p = match &args.platform {
        Some(n) => Some(platforms.find(n)?.clone()),
        None => None,
    };
    let cache = pipeline::tree::cache_dir(args.cache_dir.as_deref());
    let repo = crawl::tree::open_or_clone(&args.sonic_repo, &cache)?;
    let rev = match (&args.rev, &args.date, &p) {
        (Some(r), _, _) => r.clone(),
        (None, d, Some(p)) => {
            let q = pipeline::tree::cutoff_query(None, d.as_deref())?;
            platform::find_cutoff(&repo, &p.cutoff, &q)?.commit
        }
        (None, Some(d), None) => {
            let rule = platform::CutoffRule {
                branch: "HEAD".to_string(),
                paths: vec![],
            };
            platform::find_cutoff(
                &repo,
                &rule,
                &platform::CutoffQuery::Date(Cutoff::parse(d)?.timestamp()),
            )?
            .commit
        }
        (None, None, None) => "HEAD".to_string(),
    };
    let opts = CrawlOptions {
        repo: repo.display().to_string(),
        rev,
        platform: p,
        all: args.all,
        submodules: args.submodules.clone(),
        clone_submodules: args.clone_submodules,
        cache_dir: cache,
        make_vars: args.make.vars(),
    };
    let pb = super::progress(global, None, "crawling");
    let out = crawl::crawl(&opts, &|done, total| {
        pb.set_length(total);
        pb.set_position(done);
    })?;
    pb.finish_and_clear();
    if let Some(f) = &args.explain {
        return explain(&out, f, global);
    }
    if let Some(o) = &args.output {
        out.manifest.write(o)?;
    }
    let errors = out
        .manifest
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if global.json {
        super::print_json(&serde_json::json!({
            "manifest": if args.output.is_some() { serde_json::Value::Null } else { serde_json::to_value(&out.manifest)? },
            "output": args.output,
            "summary": summary(&out.manifest),
            "slaves": out.slaves,
            "targets": out.targets,
            "files_parsed": out.files_parsed,
            "submodules": out.submodules,
            "provenance": out.provenance,
        }))?;
    } else {
        print_human(&out, args.output.as_ref());
    }
    Ok(if errors > 0 {
        Status::Found
    } else {
        Status::Ok
    })
}

/// `--explain FILE`: the file's chain, or a clear statement that it is out of scope.
fn explain(out: &CrawlOutput, file: &str, global: &Global) -> anyhow::Result<Status> {
    let path = file.trim_start_matches("./").trim_end_matches('/');
    let found = out.provenance.get(path);
    if global.json {
        super::print_json(&serde_json::json!({
            "file": path,
            "in_scope": found.is_some(),
            "provenance": found,
        }))?;
    } else {
        match found {
            Some(p) => {
                let how = if p.crawled {
                    "crawled"
                } else {
                    "in scope, read only for what it runs"
                };
                println!("{path} is {how} for {}:", out.manifest.platform);
                print!("{}", p.render());
            }
            None => println!(
                "{path} is not in the scope of {}: no make target that the image builds reads or runs it",
                out.manifest.platform
            ),
        }
    }
    Ok(if found.is_some() {
        Status::Ok
    } else {
        Status::Found
    })
}

/// Counts per ecosystem and per image: total, pinned, unpinned.
pub fn summary(m: &Manifest) -> serde_json::Value {
    let mut eco: BTreeMap<String, [usize; 2]> = BTreeMap::new();
    let mut img: BTreeMap<String, BTreeMap<String, [usize; 2]>> = BTreeMap::new();
    for d in &m.dependencies {
        let i = usize::from(!d.pinned);
        eco.entry(d.ecosystem.to_string()).or_default()[i] += 1;
        let image = d.context.image.clone().unwrap_or_else(|| "-".to_string());
        img.entry(image)
            .or_default()
            .entry(d.ecosystem.to_string())
            .or_default()[i] += 1;
    }
    let fmt = |m: &BTreeMap<String, [usize; 2]>| -> serde_json::Value {
        m.iter()
            .map(|(k, [p, u])| (k.clone(), serde_json::json!({ "pinned": p, "unpinned": u })))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let warnings = m
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Warning)
        .count();
    serde_json::json!({
        "dependencies": m.dependencies.len(),
        "per_ecosystem": fmt(&eco),
        "per_image": img.iter().map(|(k, v)| (k.clone(), fmt(v))).collect::<serde_json::Map<_, _>>(),
        "warnings": warnings,
        "errors": m.diagnostics.len() - warnings,
    })
}

fn print_human(out: &CrawlOutput, output: Option<&PathBuf>) {
    let m = &out.manifest;
    println!("{} at {} ({})", m.platform, m.commit, m.commit_date);
    if !out.slaves.is_empty() {
        println!(
            "slave containers: {}; {} make targets in scope",
            out.slaves.join(", "),
            out.targets.len()
        );
    }
    println!(
        "{} files parsed, {} dependencies",
        out.files_parsed,
        m.dependencies.len()
    );
    println!();
    println!(
        "{:<10} {:>8} {:>9} {:>7}",
        "ecosystem", "pinned", "unpinned", "total"
    );
    for e in Ecosystem::ALL {
        let (p, u) =
            m.dependencies
                .iter()
                .filter(|d| d.ecosystem == e)
                .fold(
                    (0, 0),
                    |(p, u), d| if d.pinned { (p + 1, u) } else { (p, u + 1) },
                );
        if p + u > 0 {
            println!("{:<10} {p:>8} {u:>9} {:>7}", e.as_str(), p + u);
        }
    }
    let mut img: BTreeMap<String, BTreeMap<Ecosystem, (usize, usize)>> = BTreeMap::new();
    for d in &m.dependencies {
        let e = img
            .entry(d.context.image.clone().unwrap_or_else(|| "-".to_string()))
            .or_default()
            .entry(d.ecosystem)
            .or_default();
        if d.pinned { e.0 += 1 } else { e.1 += 1 }
    }
    println!();
    println!("per image (pinned/unpinned):");
    for (i, m) in &img {
        let parts: Vec<String> = m.iter().map(|(e, (p, u))| format!("{e} {p}/{u}")).collect();
        println!("  {i:<36} {}", parts.join("  "));
    }
    let errors: Vec<_> = m
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    let warnings = m.diagnostics.len() - errors.len();
    println!();
    println!("diagnostics: {} errors, {warnings} warnings", errors.len());
    for d in errors.iter().take(20) {
        println!("  error {}: {}", d.origin, d.message);
    }
    if errors.len() > 20 {
        println!("  ... {} more errors (see the manifest)", errors.len() - 20);
    }
    let missing = out.submodules.iter().filter(|s| !s.crawled).count();
    if missing > 0 {
        println!(
            "{missing} of {} submodules in scope were not crawled: pass --submodules DIR with clones of them",
            out.submodules.len()
        );
    }
    if let Some(o) = output {
        println!("manifest written to {}", o.display());
    }
}
