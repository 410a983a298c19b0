//! `sonic-lock solve`, `why` and `why-not`: the search for a request (a
//! package list), a manifest (every image: apt transactions, pip, Go), or a
//! platform's tree crawled and indexed at the cutoff as `lock` does.

use super::index::SourceArgs;
use super::{Global, Status, print_json};
use anyhow::{Context as _, bail};
use sonic_lock::date::Cutoff;
use sonic_lock::lock::Gap;
use sonic_lock::manifest::{Ecosystem, Manifest};
use sonic_lock::pipeline::metadata::LiveMetadata;
use sonic_lock::pipeline::{self, Options, Pipeline, TreeRequest};
use sonic_lock::solve::graph::SolutionGraph;
use sonic_lock::solve::images::{ManifestOptions, ManifestSolve, solve_manifest};
use sonic_lock::solve::python::PyResolver;
use sonic_lock::solve::{Nogood, Solver, debian_base};
use sonic_lock::source::index::{IndexReport, Sources};
use sonic_lock::universe::{CandidateId, PackageKey, Requirement, Universe, debian};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Crawl and index a platform's tree instead of reading a manifest and a universe.
#[derive(Debug, Clone, clap::Args)]
pub struct PlatformArgs {
    /// Platform name (with --sonic-repo: the tree to crawl; else the name recorded in the candidate lock).
    #[arg(long)]
    pub platform: Option<String>,
    /// sonic-buildimage repository to crawl and index at the cutoff (a path or a URL), as `lock` does.
    #[arg(long, value_name = "PATH_OR_URL", requires = "platform", conflicts_with_all = ["manifest", "universe", "packages"])]
    pub sonic_repo: Option<String>,
    /// Crawl this revision instead of the platform's cutoff.
    #[arg(long, conflicts_with = "date")]
    pub rev: Option<String>,
    /// Crawl the last commit of the cutoff branch at or before this date (also the index cutoff).
    #[arg(long)]
    pub date: Option<String>,
    /// Directory of local submodule clones (by submodule path, name or repository name).
    #[arg(long, value_name = "DIR")]
    pub submodules: Option<PathBuf>,
    /// Clone submodules not found under --submodules into the cache.
    #[arg(long)]
    pub clone_submodules: bool,
    /// Read platform definitions from this directory instead of the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub platforms_dir: Option<PathBuf>,
    /// Debian suites as `[archive:]suite` (repeatable); default the standard four of each platform suite.
    #[arg(long = "suite")]
    pub suites: Vec<String>,
    /// Read Requires-Dist up front for this many newest versions of each declared Python
    /// package (the solve reads it for every release it picks in any case).
    #[arg(long, default_value_t = 1)]
    pub py_metadata: usize,
    /// Do not pin the Python distributions Debian packages install (which
    /// `pip freeze`, and so SONiC's versions-py files, list).
    #[arg(long)]
    pub no_freeze_apt_python: bool,
    /// Where sources are and how to reach them (with --sonic-repo).
    #[command(flatten)]
    pub source: SourceArgs,
    /// Make variables for the build (with --sonic-repo).
    #[command(flatten)]
    pub make: super::make_args::MakeVarArgs,
}

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
    /// With --manifest: read Python metadata and go.mod files the universe lacks from
    /// the sources (--pypi-url, --goproxy, --cache ...) as of the manifest's commit date
    /// (or --date); without it the universe is all there is and unread picks are reported.
    #[arg(long)]
    pub fetch_metadata: bool,
    /// With a manifest or a platform: the image to answer `why`/`why-not` for.
    #[arg(long)]
    pub image: Option<String>,
    /// Crawl and index a platform instead.
    #[command(flatten)]
    pub platform: PlatformArgs,
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
    /// With a manifest or a platform: also write the solution as a candidate lock
    /// (Debian, Python and Go pins; with a platform also git and web), the input of
    /// `sonic-lock lock --candidate`.
    #[arg(long)]
    pub lock_out: Option<PathBuf>,
    /// With --sonic-repo: write the crawled manifest here (for `why --manifest`).
    #[arg(long)]
    pub manifest_out: Option<PathBuf>,
    /// With --sonic-repo or --manifest: write the universe, with the metadata the solve read, here.
    #[arg(long)]
    pub universe_out: Option<PathBuf>,
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
    /// `--install`/`--install-file`: one transaction.
    request: Option<Vec<Requirement>>,
    manifest: Option<Manifest>,
    /// With --sonic-repo: the index report (git and web pins) and the live sources.
    report: Option<IndexReport>,
    /// The sources to read Python metadata and go.mod files from, at the cutoff.
    live: Option<(Sources, Cutoff)>,
    /// A platform's tree: the crawl's gaps and the index cutoff, which the
    /// written candidate records as `lock` does.
    finish: Option<(Vec<Gap>, Cutoff)>,
    domain: String,
    base: Vec<Requirement>,
    nogoods: Vec<Nogood>,
    reference: Option<sonic_lock::solve::Reference>,
    warnings: Vec<String>,
}

impl Loaded {
    /// Solves the manifest: every image's apt transactions, pip and Go.
    fn solve_manifest(&mut self) -> anyhow::Result<Option<ManifestSolve>> {
        let Some(m) = &self.manifest else {
            return Ok(None);
        };
        let live = self
            .live
            .as_ref()
            .map(|(src, cutoff)| LiveMetadata::new(src, *cutoff));
        let opts = ManifestOptions {
            default_domain: self.domain.clone(),
            base: self.base.clone(),
            nogoods: &self.nogoods,
            reference: self.reference.as_ref(),
            source: live
                .as_ref()
                .map(|l| l as &dyn sonic_lock::solve::python::MetadataSource),
        };
        Ok(Some(solve_manifest(&mut self.u, m, &opts)?))
    }
}

/// Crawl + index through the library pipeline, as `lock` does (crawl errors
/// are warnings here, and gaps of the written candidate).
fn crawl_and_index(pa: &PlatformArgs, global: &Global) -> anyhow::Result<Loaded> {
    let (Some(name), Some(repo_arg)) = (&pa.platform, &pa.sonic_repo) else {
        bail!("--sonic-repo needs --platform");
    };
    let request = TreeRequest {
        platform: name.clone(),
        platforms_dir: pa.platforms_dir.clone(),
        repo: repo_arg.clone(),
        rev: pa.rev.clone(),
        date: pa.date.clone(),
        suites: pa.suites.clone(),
        submodules: pa.submodules.clone(),
        clone_submodules: pa.clone_submodules,
        cache: pa.source.cache.clone(),
        make_vars: pa.make.vars(),
    };
    let options = Options {
        py_metadata: pa.py_metadata,
        allow_incomplete: true,
        nogoods: Vec::new(),
        freeze_apt_python: !pa.no_freeze_apt_python,
    };
    let sources = pa.source.sources()?;
    let (indexed, gaps, domain) = {
        let pipeline = Pipeline::new(&request, &sources, options)?;
        let pb = super::progress(global, None, "crawling");
        let indexed = pipeline.crawl().and_then(|crawled| {
            let indexed = pipeline.index(crawled.manifest, None, &|stage| {
                pb.set_message(stage.to_string())
            })?;
            Ok((indexed, crawled.gaps))
        });
        pb.finish_and_clear();
        let (indexed, gaps) = indexed?;
        (indexed, gaps, pipeline.tree.domain.clone())
    };
    Ok(Loaded {
        u: indexed.universe,
        request: None,
        manifest: Some(indexed.manifest),
        report: Some(indexed.report),
        live: Some((sources, indexed.cutoff)),
        finish: Some((gaps, indexed.cutoff)),
        domain,
        base: Vec::new(),
        nogoods: Vec::new(),
        reference: None,
        warnings: indexed.warnings,
    })
}

fn load(input: &Input, global: &Global) -> anyhow::Result<Loaded> {
    let mut l = if input.platform.sonic_repo.is_some() {
        crawl_and_index(&input.platform, global)?
    } else {
        let mut u = match &input.universe {
            Some(p) => Universe::read(p)?,
            None => Universe::new(),
        };
        for p in &input.packages {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            let label = p.display().to_string();
            if debian::load_packages_auto(&mut u, &bytes, &label, &input.domain)? == 0 {
                bail!(
                    "{label}: no package stanza for {}: an empty index",
                    input.domain
                );
            }
        }
        if u.candidate_count() == 0 {
            bail!("no candidates: give --universe, --packages or --platform with --sonic-repo");
        }
        let manifest = match &input.manifest {
            Some(m) => Some(Manifest::read(m)?),
            None => None,
        };
        let live = match (&manifest, input.fetch_metadata) {
            (Some(m), true) => {
                let cutoff = match &input.platform.date {
                    Some(d) => Cutoff::parse(d)?,
                    None => Cutoff::parse(&m.commit_date)
                        .with_context(|| format!("manifest commit date `{}`", m.commit_date))?,
                };
                Some((input.platform.source.sources()?, cutoff))
            }
            (None, true) => bail!("--fetch-metadata needs --manifest"),
            _ => None,
        };
        Loaded {
            u,
            request: None,
            manifest,
            report: None,
            live,
            finish: None,
            domain: input.domain.clone(),
            base: Vec::new(),
            nogoods: Vec::new(),
            reference: None,
            warnings: Vec::new(),
        }
    };
    let mut cmdline = Vec::new();
    for (i, item) in input.install.iter().filter(|s| !s.is_empty()).enumerate() {
        cmdline.extend(debian::parse_requirements(
            &mut l.u,
            &l.domain,
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
                &mut l.u,
                &l.domain,
                &relation(line),
                &origin,
            )?);
        }
    }
    if !cmdline.is_empty() {
        l.request = Some(cmdline);
    }
    if l.request.is_none() && l.manifest.is_none() {
        bail!(
            "nothing to solve: give --install, --install-file, --manifest or --platform with --sonic-repo"
        );
    }
    l.base = match input.base.as_str() {
        "none" => Vec::new(),
        "essential" => debian_base(&l.u, &l.domain, false),
        "required" => debian_base(&l.u, &l.domain, true),
        other => bail!("unknown --base `{other}` (none, essential, required)"),
    };
    if let Some(p) = &input.nogoods {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        l.nogoods = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a JSON list of nogoods", p.display()))?;
    }
    if let Some(p) = &input.reference {
        let text =
            std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        let m: BTreeMap<String, String> = serde_json::from_str(&text)
            .with_context(|| format!("{}: expected {{\"name\": \"version\"}}", p.display()))?;
        l.reference = Some(sonic_lock::solve::Reference::of_packages(
            m.into_iter()
                .map(|(k, v)| (PackageKey::new(Ecosystem::Deb, &l.domain, &k), v))
                .collect(),
        ));
    }
    for w in &l.warnings {
        eprintln!("warning: {w}");
    }
    Ok(l)
}

/// `name=version` on the command line means `name (= version)`.
fn relation(item: &str) -> String {
    match item.split_once('=') {
        Some((n, v)) if !n.contains(['(', ' ']) => format!("{n} (= {v})"),
        _ => item.to_string(),
    }
}

fn write_dot(path: Option<&PathBuf>, dot: &str) -> anyhow::Result<()> {
    if let Some(p) = path {
        sonic_lock::fsio::write_atomic(p, dot.as_bytes())
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

/// Runs `solve`.
pub fn run_solve(args: SolveArgs, global: &Global) -> anyhow::Result<Status> {
    let mut l = load(&args.input, global)?;
    let mut images: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut status = Status::Ok;
    let say = |line: String| {
        if !global.json {
            println!("{line}");
        }
    };
    if let Some(req) = &l.request {
        let txs = BTreeMap::from([("request".to_string(), vec![req.clone()])]);
        let results = sonic_lock::solve::images::solve_images(
            &l.u,
            &l.base,
            &txs,
            &l.nogoods,
            l.reference.as_ref().map(|r| &r.packages),
        );
        for (image, result) in results {
            match result {
                Ok(states) => {
                    let picks: BTreeMap<&str, &str> = states
                        .last()
                        .map(|s| {
                            s.installed
                                .picks
                                .iter()
                                .map(|(k, v)| (k.name.as_str(), v.as_str()))
                                .collect()
                        })
                        .unwrap_or_default();
                    say(format!("{image}: {} packages", picks.len()));
                    images.insert(image, serde_json::json!({ "picks": picks, "removed": [] }));
                }
                Err((_, unsat)) => {
                    status = Status::Found;
                    say(format!("{image}: no solution:\n{}", unsat.explain()));
                    write_dot(args.explain_dot.as_ref(), &unsat.to_dot())?;
                    images.insert(image, serde_json::json!({ "unsat": unsat.explain() }));
                }
            }
        }
    }
    let solved = l.solve_manifest()?;
    let mut build: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    if let Some(solved) = &solved {
        for image in solved.images() {
            let mut entry = serde_json::Map::new();
            match solved.deb.get(&image) {
                Some(Ok(states)) => {
                    let last = states.last().map(|s| &s.installed);
                    let picks: BTreeMap<&str, &str> = last
                        .map(|s| {
                            s.picks
                                .iter()
                                .map(|(k, v)| (k.name.as_str(), v.as_str()))
                                .collect()
                        })
                        .unwrap_or_default();
                    let removed: Vec<&String> =
                        states.iter().flat_map(|s| s.removed.iter()).collect();
                    say(format!(
                        "{image}: {} packages ({} transactions, {} removed on the way)",
                        picks.len(),
                        states.len(),
                        removed.len()
                    ));
                    entry.insert("picks".into(), serde_json::json!(picks));
                    entry.insert("removed".into(), serde_json::json!(removed));
                    if let Some(p) = solved.parents.get(&image) {
                        let inherited = solved.inherited.get(&image).map_or(0, |i| i.len());
                        say(format!(
                            "{image}: FROM {p}: {inherited} packages inherited, {} added or changed",
                            picks.len().saturating_sub(inherited)
                                + solved.upgrades.get(&image).map_or(0, |u| u.len())
                        ));
                        entry.insert("parent".into(), serde_json::json!(p));
                    }
                    if let Some(up) = solved.upgrades.get(&image) {
                        say(format!(
                            "{image}: upgraded over its parent: {}",
                            up.join(", ")
                        ));
                        entry.insert("upgraded".into(), serde_json::json!(up));
                    }
                }
                Some(Err((i, unsat))) => {
                    status = Status::Found;
                    say(format!(
                        "{image}: transaction {} has no solution:\n{}",
                        i + 1,
                        unsat.explain()
                    ));
                    write_dot(args.explain_dot.as_ref(), &unsat.to_dot())?;
                    entry.insert("unsat".into(), serde_json::json!(unsat.explain()));
                }
                None => {}
            }
            match solved.py.get(&image) {
                Some(Ok(o)) => {
                    let picks: BTreeMap<String, &str> = o
                        .picks
                        .iter()
                        .map(|(k, v)| (format!("{} [{}]", k.name, k.domain), v.as_str()))
                        .collect();
                    say(format!("{image}: pip: {} distributions", picks.len()));
                    entry.insert("py".into(), serde_json::json!(picks));
                }
                Some(Err(unsat)) => {
                    status = Status::Found;
                    say(format!(
                        "{image}: pip has no solution:\n{}",
                        unsat.explain()
                    ));
                    write_dot(args.explain_dot.as_ref(), &unsat.to_dot())?;
                    entry.insert("py_unsat".into(), serde_json::json!(unsat.explain()));
                }
                None => {}
            }
            if let Some(o) = solved.built.get(&image) {
                let picks: BTreeMap<String, &str> = o
                    .picks
                    .iter()
                    .map(|(k, v)| (format!("{} [{}]", k.name, k.domain), v.as_str()))
                    .collect();
                say(format!(
                    "{image}: pip while building its packages: {} distributions added or changed (build-{image})",
                    picks.len()
                ));
                entry.insert("py_build".into(), serde_json::json!(picks));
            }
            if let Some(mods) = solved.go.get(&image) {
                let go: BTreeMap<&str, BTreeMap<&str, &str>> = mods
                    .iter()
                    .map(|m| {
                        (
                            m.file.as_str(),
                            m.build_list
                                .selected
                                .iter()
                                .map(|(k, v)| (k.as_str(), v.as_str()))
                                .collect(),
                        )
                    })
                    .collect();
                say(format!(
                    "{image}: go: {} modules from {} go.mod",
                    go.values().map(|m| m.len()).sum::<usize>(),
                    go.len()
                ));
                entry.insert("go".into(), serde_json::json!(go));
            }
            images.insert(image, serde_json::Value::Object(entry));
        }
        for (rule, r) in &solved.build {
            let key = format!("{} {}", rule.image, rule.control);
            match r {
                Ok(sol) => {
                    say(format!(
                        "{}: build dependencies of {}: {} packages",
                        rule.image,
                        rule.control,
                        sol.picks.len()
                    ));
                    let picks: BTreeMap<&str, &str> = sol
                        .picks
                        .iter()
                        .map(|(k, v)| (k.name.as_str(), v.as_str()))
                        .collect();
                    build.insert(key, serde_json::json!({ "picks": picks }));
                }
                Err(unsat) => {
                    status = Status::Found;
                    say(format!(
                        "{}: the build dependencies of {} have no solution:\n{}",
                        rule.image,
                        rule.control,
                        unsat.explain()
                    ));
                    write_dot(args.explain_dot.as_ref(), &unsat.to_dot())?;
                    build.insert(key, serde_json::json!({ "unsat": unsat.explain() }));
                }
            }
        }
        for n in &solved.notes {
            eprintln!("note: {n}");
        }
    }
    let doc = serde_json::json!({
        "schema_version": 1,
        "domain": l.domain,
        "images": images,
        "build_depends": build,
    });
    if let Some(p) = &args.out {
        let mut bytes = serde_json::to_vec_pretty(&doc)?;
        bytes.push(b'\n');
        sonic_lock::fsio::write_atomic(p, &bytes)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if global.json {
        print_json(&doc)?;
    }
    if let (Some(p), Some(m)) = (&args.manifest_out, &l.manifest) {
        m.write(p)?;
    }
    if let Some(p) = &args.universe_out {
        l.u.write(p)?;
    }
    if let Some(p) = &args.lock_out {
        let (Some(m), Some(solved)) = (&l.manifest, &solved) else {
            bail!("--lock-out needs --manifest or --platform with --sonic-repo");
        };
        if status != Status::Ok {
            eprintln!("not writing {}: some image has no solution", p.display());
            return Ok(status);
        }
        let platform = args
            .input
            .platform
            .platform
            .clone()
            .unwrap_or_else(|| m.platform.clone());
        let (mut lock, _) =
            pipeline::candidate::candidate_of(&platform, m, &l.u, l.report.as_ref(), solved)?;
        if let Some((gaps, cutoff)) = &l.finish {
            pipeline::finish(&mut lock, gaps, cutoff);
        }
        if let (Some((sources, _)), Some(report)) = (&l.live, &l.report) {
            pipeline::sources::record(&mut lock, sources, report);
        }
        lock.write(p)?;
        if !global.json {
            println!(
                "candidate lock with {} pins written to {}",
                lock.pins.len(),
                p.display()
            );
        }
    }
    // Freeing a big universe piece by piece takes longer than the solve; the process ends here.
    std::mem::forget(l);
    Ok(status)
}

/// What `why`/`why-not` reason about: one set of roots and its solution space.
enum Question {
    /// Debian: the roots (every transaction of the image, or the request).
    Deb(Vec<Requirement>),
    /// Python: the image's pip roots.
    Py(Vec<Requirement>),
}

/// Finds the image and ecosystem `name` belongs to, and the roots to reason from.
fn question(
    l: &Loaded,
    solved: Option<&ManifestSolve>,
    image: Option<&str>,
    name: &str,
) -> anyhow::Result<(Question, Option<String>)> {
    if let Some(req) = &l.request {
        return Ok((Question::Deb(req.clone()), None));
    }
    let Some(solved) = solved else {
        bail!("nothing to answer from: give --install, --manifest or --platform");
    };
    let images = solved.images();
    let image = match image {
        Some(i) if images.contains(i) => i.to_string(),
        Some(i) => bail!(
            "no image `{i}` in the manifest (images: {})",
            images.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
        None if images.len() == 1 => images.iter().next().cloned().unwrap_or_default(),
        None => bail!(
            "the manifest has several images; choose one with --image ({})",
            images.iter().cloned().collect::<Vec<_>>().join(", ")
        ),
    };
    let deb_roots: Vec<Requirement> = solved
        .transactions
        .get(&image)
        .into_iter()
        .flatten()
        .flatten()
        .cloned()
        .collect();
    let deb_known = deb_roots.iter().any(|r| {
        r.alternatives.iter().any(|a| {
            l.u.lookup_name(Ecosystem::Deb, &l.u.key(a.package).domain, name)
                .is_some()
        })
    });
    let py_roots = solved.py_roots.get(&image).cloned().unwrap_or_default();
    let py_name = sonic_lock::universe::python::normalize(name);
    let py_known = py_roots.iter().any(|r| {
        r.alternatives.iter().any(|a| {
            l.u.lookup_name(Ecosystem::Py, &l.u.key(a.package).domain, &py_name)
                .is_some()
        })
    });
    let q = if deb_known || !py_known {
        Question::Deb(deb_roots)
    } else {
        Question::Py(py_roots)
    };
    Ok((q, Some(image)))
}

/// The package `name` in the domains the roots use.
fn find_package(
    u: &Universe,
    roots: &[Requirement],
    eco: Ecosystem,
    name: &str,
) -> Option<sonic_lock::universe::PackageId> {
    let name = match eco {
        Ecosystem::Py => sonic_lock::universe::python::normalize(name),
        Ecosystem::Deb
        | Ecosystem::DebSrc
        | Ecosystem::Go
        | Ecosystem::Git
        | Ecosystem::Web
        | Ecosystem::Docker => name.to_string(),
    };
    let mut domains: Vec<String> = roots
        .iter()
        .flat_map(|r| r.alternatives.iter())
        .map(|a| u.key(a.package).domain.clone())
        .collect();
    domains.sort();
    domains.dedup();
    domains.iter().find_map(|d| u.lookup_name(eco, d, &name))
}

/// What `why` found, printed as text or (with `--json`) as one JSON object alone on stdout.
struct WhyAnswer {
    json: bool,
    package: String,
    image: Option<String>,
    /// The control file whose build dependencies bring the package in.
    built_for: Option<String>,
}

impl WhyAnswer {
    fn print(&self, extra: serde_json::Value, text: &str) -> anyhow::Result<()> {
        if self.json {
            let mut v = serde_json::json!({
                "package": self.package,
                "image": self.image,
                "built_for": self.built_for,
            });
            if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
                o.extend(e);
            }
            print_json(&v)?;
        } else {
            println!("{text}");
        }
        Ok(())
    }

    fn unsat(&self, explanation: String) -> anyhow::Result<Status> {
        self.print(
            serde_json::json!({ "in_solution": false, "unsat": explanation }),
            &explanation,
        )?;
        Ok(Status::Found)
    }

    fn absent(&self) -> anyhow::Result<Status> {
        self.print(
            serde_json::json!({ "in_solution": false }),
            &format!("{} is not part of the solution", self.package),
        )?;
        Ok(Status::Found)
    }

    fn chain(&self, chain: Vec<sonic_lock::solve::graph::Step>) -> anyhow::Result<Status> {
        let mut text = String::new();
        if let Some(control) = &self.built_for {
            text.push_str(&format!("to build {control}:\n"));
        }
        for st in &chain {
            let o = st
                .origin
                .as_deref()
                .map(|o| format!(" ({o})"))
                .unwrap_or_default();
            text.push_str(&format!(
                "{} needs {}{} -> {}\n",
                st.from, st.relation, o, st.to
            ));
        }
        self.print(
            serde_json::json!({ "in_solution": true, "chain": chain }),
            text.trim_end(),
        )?;
        Ok(Status::Ok)
    }
}

/// Runs `why`.
pub fn run_why(args: WhyArgs, global: &Global) -> anyhow::Result<Status> {
    let mut l = load(&args.input, global)?;
    let solved = l.solve_manifest()?;
    let (q, image) = question(
        &l,
        solved.as_ref(),
        args.input.image.as_deref(),
        &args.package,
    )?;
    let mut answer = WhyAnswer {
        json: global.json,
        package: args.package.clone(),
        image: image.clone(),
        built_for: None,
    };
    let (roots, eco, sol) = match &q {
        Question::Deb(roots) => {
            let sol = match (&image, &solved) {
                (Some(i), Some(s)) => match s.deb.get(i) {
                    Some(Ok(states)) => states.last().map(|s| s.installed.clone()),
                    Some(Err((_, e))) => return answer.unsat(e.explain()),
                    None => None,
                },
                _ => {
                    let mut s = Solver::new(&l.u, roots.clone());
                    s.set_base(l.base.clone());
                    for n in &l.nogoods {
                        s.add_nogood(n.clone());
                    }
                    match s.solve() {
                        Ok(sol) => Some(sol),
                        Err(e) => return answer.unsat(e.explain()),
                    }
                }
            };
            (roots.clone(), Ecosystem::Deb, sol)
        }
        Question::Py(roots) => {
            let sol = match (&image, &solved) {
                (Some(i), Some(s)) => match s.py.get(i) {
                    Some(Ok(o)) => Some(o.solution.clone()),
                    Some(Err(e)) => return answer.unsat(e.explain()),
                    None => None,
                },
                _ => None,
            };
            (roots.clone(), Ecosystem::Py, sol)
        }
    };
    let Some(pid) = find_package(&l.u, &roots, eco, &args.package) else {
        bail!("unknown package `{}`", args.package);
    };
    let Some(sol) = sol else {
        return answer.absent();
    };
    let mut chain = SolutionGraph::new(&l.u, &roots, &sol).why(&l.u, pid);
    // Not installed by the image itself: maybe by building one of its source packages.
    if chain.is_none()
        && eco == Ecosystem::Deb
        && let (Some(image), Some(solved)) = (&image, &solved)
    {
        for (rule, r) in solved.build.iter().filter(|(r, _)| &r.image == image) {
            if let Ok(bsol) = r
                && let Some(c) = SolutionGraph::new(&l.u, &rule.requirements, bsol).why(&l.u, pid)
            {
                answer.built_for = Some(rule.control.clone());
                chain = Some(c);
                break;
            }
        }
    }
    match chain {
        Some(chain) => answer.chain(chain),
        None => answer.absent(),
    }
}

/// Runs `why-not`.
pub fn run_why_not(args: WhyNotArgs, global: &Global) -> anyhow::Result<Status> {
    let mut l = load(&args.input, global)?;
    let Some((name, version)) = args.pick.split_once('=') else {
        bail!("expected NAME=VERSION, got `{}`", args.pick);
    };
    let version = version.trim_start_matches('=');
    let solved = l.solve_manifest()?;
    let (q, image) = question(&l, solved.as_ref(), args.input.image.as_deref(), name)?;
    let (roots, eco) = match &q {
        Question::Deb(r) => (r.clone(), Ecosystem::Deb),
        Question::Py(r) => (r.clone(), Ecosystem::Py),
    };
    let Some(pid) = find_package(&l.u, &roots, eco, name) else {
        bail!("unknown package `{name}`");
    };
    let Some(cand) = l.u.find_version(pid, version) else {
        let have: Vec<&str> =
            l.u.candidates_of(pid)
                .iter()
                .map(|&c| l.u.candidate(c).version.as_str())
                .collect();
        let text = format!(
            "{name} has no version {version} at the cutoff (it has: {})",
            have.join(", ")
        );
        say_why_not(
            global,
            serde_json::json!({ "pick": args.pick, "possible": false, "known": false, "versions": have }),
            &text,
        )?;
        return Ok(Status::Found);
    };
    let result = match q {
        Question::Deb(roots) => {
            let mut s = Solver::new(&l.u, roots);
            s.set_base(l.base.clone());
            for n in &l.nogoods {
                s.add_nogood(n.clone());
            }
            s.solve_assuming(&[cand]).map(|sol| sol.picks.len())
        }
        Question::Py(roots) => {
            let debian = match (&image, &solved) {
                (Some(i), Some(s)) => s.debian_dists(&l.u, i),
                _ => Vec::new(),
            };
            let live = l
                .live
                .as_ref()
                .map(|(src, cutoff)| LiveMetadata::new(src, *cutoff));
            let mut r = PyResolver::new(
                &l.u,
                live.as_ref()
                    .map(|x| x as &dyn sonic_lock::solve::python::MetadataSource),
            );
            let assume: [CandidateId; 1] = [cand];
            r.solve_image_assuming(&mut l.u, &roots, &debian, &l.nogoods, &assume)?
                .map(|o| o.picks.len())
        }
    };
    match result {
        Ok(n) => {
            say_why_not(
                global,
                serde_json::json!({ "pick": args.pick, "possible": true, "known": true, "packages": n }),
                &format!("{name}={version} is possible: a solution with it has {n} packages"),
            )?;
            Ok(Status::Ok)
        }
        Err(e) => {
            let explanation = e.explain();
            say_why_not(
                global,
                serde_json::json!({ "pick": args.pick, "possible": false, "known": true, "unsat": explanation }),
                &explanation,
            )?;
            write_dot(args.explain_dot.as_ref(), &e.to_dot())?;
            Ok(Status::Found)
        }
    }
}

/// `why-not`'s answer: the JSON object alone with `--json`, else the text.
fn say_why_not(global: &Global, json: serde_json::Value, text: &str) -> anyhow::Result<()> {
    if global.json {
        print_json(&json)
    } else {
        println!("{text}");
        Ok(())
    }
}
