//! `sonic-lock solve`, `why` and `why-not`: the search over Debian indices for
//! a request (a package list or a manifest's apt transactions).

use super::{Global, Status, print_json};
use anyhow::{Context as _, bail};
use sonic_lock::manifest::{Ecosystem, Manifest};
use sonic_lock::solve::graph::SolutionGraph;
use sonic_lock::solve::{Nogood, Solver, debian_base, input};
use sonic_lock::universe::{PackageKey, Requirement, Universe, debian};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where the universe and the request come from (shared by solve, why, why-not).
#[derive(Debug, Clone, clap::Args)]
pub struct Input {
    /// A universe artifact written by the index stage.
    #[arg(long, conflicts_with = "packages")]
    pub universe: Option<PathBuf>,
    /// Debian indices (`Packages[.xz|.gz]`) to load instead, all into one apt view.
    #[arg(long)]
    pub packages: Vec<PathBuf>,
    /// The apt view's domain (`<suite>/<arch>`) the request resolves in.
    #[arg(long, default_value = "bullseye/amd64")]
    pub domain: String,
    /// Packages to install as one transaction (`name`, `name=version`, relations like `a (>= 1) | b`).
    #[arg(long, num_args = 1.., value_delimiter = ' ')]
    pub install: Vec<String>,
    /// A file with one package (or relation) per line to install as one transaction.
    #[arg(long)]
    pub install_file: Option<PathBuf>,
    /// A manifest: its deb dependencies, per image, as sequential apt transactions.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Learned nogoods (JSON list of {picks, reason}) that must hold.
    #[arg(long)]
    pub nogoods: Option<PathBuf>,
    /// A reference assignment (JSON {"name": "version"}) to stay closest to.
    #[arg(long)]
    pub reference: Option<PathBuf>,
    /// Base image content to require as well: none, essential, required.
    #[arg(long, default_value = "none")]
    pub base: String,
}

/// Arguments of `solve`.
#[derive(Debug, Clone, clap::Args)]
pub struct SolveArgs {
    #[command(flatten)]
    pub input: Input,
    /// Write the assignment (JSON) here, atomically.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the explanation graph (DOT) here when there is no solution.
    #[arg(long)]
    pub explain_dot: Option<PathBuf>,
    /// With --manifest: also write the solution as a candidate lock (input of `sonic-lock lock --candidate`).
    #[arg(long, requires = "manifest")]
    pub lock_out: Option<PathBuf>,
    /// Platform name recorded in the candidate lock (default: the manifest's).
    #[arg(long)]
    pub platform: Option<String>,
}

/// Arguments of `why`.
#[derive(Debug, Clone, clap::Args)]
pub struct WhyArgs {
    /// The package whose presence to explain.
    pub package: String,
    #[command(flatten)]
    pub input: Input,
}

/// Arguments of `why-not`.
#[derive(Debug, Clone, clap::Args)]
pub struct WhyNotArgs {
    /// `name=version` to explain the absence of.
    pub pick: String,
    #[command(flatten)]
    pub input: Input,
    /// Write the explanation graph (DOT) here.
    #[arg(long)]
    pub explain_dot: Option<PathBuf>,
}

struct Loaded {
    u: Universe,
    transactions: BTreeMap<String, Vec<Vec<Requirement>>>,
    base: Vec<Requirement>,
    nogoods: Vec<Nogood>,
    reference: Option<BTreeMap<PackageKey, String>>,
}

fn load(input: &Input) -> anyhow::Result<Loaded> {
    let mut u = match &input.universe {
        Some(p) => Universe::read(p)?,
        None => Universe::new(),
    };
    for p in &input.packages {
        let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
        debian::load_packages_auto(&mut u, &bytes, &p.display().to_string(), &input.domain)?;
    }
    if u.candidate_count() == 0 {
        bail!("no candidates: give --universe or --packages");
    }
    let mut transactions: BTreeMap<String, Vec<Vec<Requirement>>> = BTreeMap::new();
    let mut cmdline = Vec::new();
    for (i, item) in input.install.iter().filter(|s| !s.is_empty()).enumerate() {
        cmdline.extend(debian::parse_requirements(
            &mut u,
            &input.domain,
            &relation(item),
            &format!("command line:{}", i + 1),
        )?);
    }
    if let Some(f) = &input.install_file {
        let text =
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        for (i, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let origin = format!("{}:{}", f.display(), i + 1);
            cmdline.extend(debian::parse_requirements(
                &mut u,
                &input.domain,
                &relation(line),
                &origin,
            )?);
        }
    }
    if !cmdline.is_empty() {
        transactions.insert("request".into(), vec![cmdline]);
    }
    if let Some(m) = &input.manifest {
        let m = Manifest::read(m)?;
        transactions.extend(input::debian_transactions(&mut u, &m, &input.domain)?);
    }
    if transactions.is_empty() {
        bail!("nothing to solve: give --install, --install-file or --manifest");
    }
    let base = match input.base.as_str() {
        "none" => Vec::new(),
        "essential" => debian_base(&u, &input.domain, false),
        "required" => debian_base(&u, &input.domain, true),
        other => bail!("unknown --base `{other}` (none, essential, required)"),
    };
    let nogoods = match &input.nogoods {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{}: not a JSON list of nogoods", p.display()))?
        }
        None => Vec::new(),
    };
    let reference = match &input.reference {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let m: BTreeMap<String, String> = serde_json::from_str(&text)
                .with_context(|| format!("{}: expected {{\"name\": \"version\"}}", p.display()))?;
            Some(
                m.into_iter()
                    .map(|(k, v)| (PackageKey::new(Ecosystem::Deb, &input.domain, &k), v))
                    .collect(),
            )
        }
        None => None,
    };
    Ok(Loaded {
        u,
        transactions,
        base,
        nogoods,
        reference,
    })
}

/// `name=version` on the command line means `name (= version)`.
fn relation(item: &str) -> String {
    match item.split_once('=') {
        Some((n, v)) if !n.contains(['(', ' ']) => format!("{n} (= {v})"),
        _ => item.to_string(),
    }
}

/// Runs `solve`.
pub fn run_solve(args: SolveArgs, global: &Global) -> anyhow::Result<Status> {
    let l = load(&args.input)?;
    let mut out: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut solved: BTreeMap<String, BTreeMap<PackageKey, String>> = BTreeMap::new();
    let mut status = Status::Ok;
    let results = sonic_lock::trial::pipeline::solve_images(
        &l.u,
        &l.base,
        &l.transactions,
        &l.nogoods,
        l.reference.as_ref(),
    );
    for (image, result) in results {
        match result {
            Ok(states) => {
                let last = states.last().map(|s| &s.installed);
                let picks: BTreeMap<&str, &str> = last
                    .map(|s| {
                        s.picks
                            .iter()
                            .map(|(k, v)| (k.name.as_str(), v.as_str()))
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(last) = last {
                    solved.insert(image.clone(), last.picks.clone());
                }
                let removed: Vec<&String> = states.iter().flat_map(|s| s.removed.iter()).collect();
                if !global.json {
                    println!(
                        "{image}: {} packages ({} transactions, {} removed on the way)",
                        picks.len(),
                        states.len(),
                        removed.len()
                    );
                }
                out.insert(
                    image.clone(),
                    serde_json::json!({ "picks": picks, "removed": removed }),
                );
            }
            Err((i, unsat)) => {
                status = Status::Found;
                println!(
                    "{image}: transaction {} has no solution:\n{}",
                    i + 1,
                    unsat.explain()
                );
                if let Some(p) = &args.explain_dot {
                    sonic_lock::fsio::write_atomic(p, unsat.to_dot().as_bytes())
                        .with_context(|| format!("writing {}", p.display()))?;
                }
                out.insert(
                    image.clone(),
                    serde_json::json!({ "unsat": unsat.explain() }),
                );
            }
        }
    }
    let doc =
        serde_json::json!({ "schema_version": 1, "domain": args.input.domain, "images": out });
    if let Some(p) = &args.out {
        let mut bytes = serde_json::to_vec_pretty(&doc)?;
        bytes.push(b'\n');
        sonic_lock::fsio::write_atomic(p, &bytes)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if global.json {
        print_json(&doc)?;
    }
    if let (Some(p), Some(mpath)) = (&args.lock_out, &args.input.manifest) {
        if status != Status::Ok {
            bail!("not writing {}: some image has no solution", p.display());
        }
        let m = Manifest::read(mpath)?;
        let platform = args.platform.clone().unwrap_or_else(|| m.platform.clone());
        let lock = sonic_lock::solve::candidate::candidate_lock(&platform, &m, &l.u, &solved);
        lock.write(p)?;
        if !global.json {
            println!(
                "candidate lock with {} pins written to {}",
                lock.pins.len(),
                p.display()
            );
        }
    }
    std::mem::forget(l);
    Ok(status)
}

fn single_request(l: &Loaded) -> anyhow::Result<&Vec<Requirement>> {
    match l.transactions.values().next() {
        Some(txs) if l.transactions.len() == 1 && txs.len() == 1 => Ok(&txs[0]),
        _ => bail!("why and why-not answer for one transaction: use --install or --install-file"),
    }
}

/// Runs `why`.
pub fn run_why(args: WhyArgs, global: &Global) -> anyhow::Result<Status> {
    let l = load(&args.input)?;
    let roots = single_request(&l)?.clone();
    let mut s = Solver::new(&l.u, roots.clone());
    s.set_base(l.base.clone());
    for n in &l.nogoods {
        s.add_nogood(n.clone());
    }
    let sol = match s.solve() {
        Ok(sol) => sol,
        Err(e) => {
            println!("{}", e.explain());
            return Ok(Status::Found);
        }
    };
    let Some(pid) =
        l.u.lookup_name(Ecosystem::Deb, &args.input.domain, &args.package)
    else {
        bail!(
            "unknown package `{}` in {}",
            args.package,
            args.input.domain
        );
    };
    let g = SolutionGraph::new(&l.u, &roots, &sol);
    match g.why(&l.u, pid) {
        Some(chain) => {
            if global.json {
                print_json(&chain)?;
            } else {
                for st in &chain {
                    let o = st
                        .origin
                        .as_deref()
                        .map(|o| format!(" ({o})"))
                        .unwrap_or_default();
                    println!("{} needs {}{} -> {}", st.from, st.relation, o, st.to);
                }
            }
            Ok(Status::Ok)
        }
        None => {
            println!("{} is not part of the solution", args.package);
            Ok(Status::Found)
        }
    }
}

/// Runs `why-not`.
pub fn run_why_not(args: WhyNotArgs, _global: &Global) -> anyhow::Result<Status> {
    let l = load(&args.input)?;
    let roots = single_request(&l)?.clone();
    let Some((name, version)) = args.pick.split_once('=') else {
        bail!("expected NAME=VERSION, got `{}`", args.pick);
    };
    let Some(pid) = l.u.lookup_name(Ecosystem::Deb, &args.input.domain, name) else {
        bail!("unknown package `{name}` in {}", args.input.domain);
    };
    let Some(cand) = l.u.find_version(pid, version) else {
        let have: Vec<&str> =
            l.u.candidates_of(pid)
                .iter()
                .map(|&c| l.u.candidate(c).version.as_str())
                .collect();
        println!(
            "{name} has no version {version} in the index (it has: {})",
            have.join(", ")
        );
        return Ok(Status::Found);
    };
    let mut s = Solver::new(&l.u, roots);
    s.set_base(l.base.clone());
    for n in &l.nogoods {
        s.add_nogood(n.clone());
    }
    match s.solve_assuming(&[cand]) {
        Ok(sol) => {
            println!(
                "{name}={version} is possible: a solution with it has {} packages",
                sol.picks.len()
            );
            Ok(Status::Ok)
        }
        Err(e) => {
            println!("{}", e.explain());
            if let Some(p) = &args.explain_dot {
                sonic_lock::fsio::write_atomic(p, e.to_dot().as_bytes())
                    .with_context(|| format!("writing {}", p.display()))?;
            }
            Ok(Status::Found)
        }
    }
}
