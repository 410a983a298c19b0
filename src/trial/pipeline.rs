//! The static half of `sonic-lock lock` without `--candidate`: crawl the tree,
//! index every source as of the cutoff, solve each image's apt transactions and
//! turn the result (plus the git and web pins the index resolved) into a
//! candidate lock that the learn loop can then prove.

use crate::crawl::{self, CrawlError, CrawlOptions};
use crate::lock::{Gap, Lock, Pin};
use crate::manifest::{Constraint, Ecosystem, Manifest, ManifestError, Severity};
use crate::solve::{
    Nogood, Preference, Solver, TransactionState, Unsat, candidate, input, solve_transactions,
};
use crate::source::debian::archive::SuiteSpec;
use crate::source::index::{self, IndexReport, Sources};
use crate::source::{Cutoff, SourceError, build};
use crate::universe::{PackageKey, Requirement, Universe, UniverseError};
use pep440_rs::{Version, VersionSpecifiers};
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

/// Why the pipeline stopped before producing a candidate.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The crawl could not read the tree.
    #[error("crawl: {0}")]
    Crawl(#[from] CrawlError),
    /// The manifest's commit date is not a usable cutoff.
    #[error("manifest commit date `{date}` is not a cutoff: {source}")]
    CommitDate {
        /// The date as the manifest has it.
        date: String,
        /// Why it did not parse.
        source: Box<SourceError>,
    },
    /// Indexing a source failed.
    #[error("index: {0}")]
    Source(Box<SourceError>),
    /// A requirement could not be expressed in the universe.
    #[error("universe: {0}")]
    Universe(#[from] UniverseError),
    /// The manifest could not be written.
    #[error("manifest: {0}")]
    Manifest(#[from] ManifestError),
    /// Some image's apt transactions have no solution.
    #[error("{image}: transaction {} has no solution:\n{explanation}", transaction + 1)]
    Unsat {
        /// The image.
        image: String,
        /// Index of the failing transaction (0-based).
        transaction: usize,
        /// The solver's explanation.
        explanation: String,
    },
}

impl From<SourceError> for PipelineError {
    fn from(e: SourceError) -> PipelineError {
        PipelineError::Source(Box::new(e))
    }
}

/// What the static pipeline needs beyond the crawl options.
pub struct PipelineOptions<'a> {
    /// How to crawl (repository, revision, platform, submodules).
    pub crawl: CrawlOptions,
    /// The clients for every source.
    pub sources: &'a Sources,
    /// Debian suites to index; empty means the standard four of each platform suite.
    pub suites: Vec<SuiteSpec>,
    /// The cutoff; `None` means the crawled commit's date.
    pub cutoff: Option<Cutoff>,
    /// The apt view (`<dist>/<arch>`) the Debian transactions resolve in.
    pub domain: String,
    /// Read Requires-Dist for this many newest versions of each Python package.
    pub py_metadata: usize,
}

/// Every stage's artifact, so the caller can save or report any of them.
pub struct PipelineOutput {
    /// The crawl manifest.
    pub manifest: Manifest,
    /// What the index found.
    pub report: IndexReport,
    /// Every candidate at the cutoff.
    pub universe: Universe,
    /// The statically solved candidate lock.
    pub candidate: Lock,
    /// Things the caller should show (crawl errors, universe notes, missing dependencies).
    pub warnings: Vec<String>,
}

/// Per image, the state after each apt transaction or the failing transaction and why.
pub type ImageResults = BTreeMap<String, Result<Vec<TransactionState>, (usize, Unsat)>>;

/// Solves every image's apt transactions independently (an image starts from its
/// base), staying closest to `reference` for single-transaction images when given.
pub fn solve_images(
    u: &Universe,
    base: &[Requirement],
    transactions: &BTreeMap<String, Vec<Vec<Requirement>>>,
    nogoods: &[Nogood],
    reference: Option<&BTreeMap<PackageKey, String>>,
) -> ImageResults {
    let mut out = BTreeMap::new();
    for (image, txs) in transactions {
        let result = match reference {
            // Closeness is defined against one solution, so it applies to one transaction.
            Some(r) if txs.len() == 1 => {
                let mut s = Solver::new(u, txs[0].clone());
                s.set_base(base.to_vec());
                for n in nogoods {
                    s.add_nogood(n.clone());
                }
                s.set_preference(Preference::Closest(r.clone()));
                s.solve()
                    .map(|sol| {
                        vec![TransactionState {
                            installed: sol,
                            removed: vec![],
                        }]
                    })
                    .map_err(|e| (0, e))
            }
            _ => solve_transactions(u, base.to_vec(), txs.clone(), nogoods),
        };
        out.insert(image.clone(), result);
    }
    out
}

/// The final installed picks of every image, or the first image with no solution.
pub fn final_picks(
    results: &ImageResults,
) -> Result<BTreeMap<String, BTreeMap<PackageKey, String>>, PipelineError> {
    let mut picks = BTreeMap::new();
    for (image, r) in results {
        match r {
            Ok(states) => {
                if let Some(last) = states.last() {
                    picks.insert(image.clone(), last.installed.picks.clone());
                }
            }
            Err((i, unsat)) => {
                return Err(PipelineError::Unsat {
                    image: image.clone(),
                    transaction: *i,
                    explanation: unsat.explain(),
                });
            }
        }
    }
    Ok(picks)
}

/// Adds the pins the index resolved outside Debian: git repositories at the
/// cutoff commit, web files at their immutable URL with hashes, and base
/// images at their per-architecture digest.
pub fn add_index_pins(lock: &mut Lock, report: &IndexReport) {
    // The snapshot each archive was read at: SONiC's versions-mirror, so apt fetches
    // the pinned versions from where they existed rather than from today's mirror.
    for s in &report.suites {
        let (Some(ts), Some((name, _))) = (&s.snapshot, s.suite.split_once(':')) else {
            continue;
        };
        if lock.archives.iter().any(|a| a.name == name) {
            continue;
        }
        lock.archives.push(crate::lock::lockfile::Archive {
            name: name.to_string(),
            snapshot: ts.clone(),
            url: s
                .url
                .split_once("/dists/")
                .map(|(base, _)| base.to_string()),
        });
    }
    for g in &report.git {
        let mut pin = Pin::new(Ecosystem::Git, &g.url, &g.commit);
        pin.first_seen = Some(g.date.clone()).filter(|d| !d.is_empty());
        lock.upsert(pin);
    }
    for w in &report.web {
        // SONiC's versions-web keys a file by the URL fetched and checks its md5.
        let mut pin = Pin::new(Ecosystem::Web, &w.immutable_url, &w.md5);
        pin.url = Some(w.immutable_url.clone());
        if w.immutable_url != w.url {
            pin.declared_url = Some(w.url.clone());
        }
        pin.md5 = Some(w.md5.clone());
        pin.sha256 = Some(w.sha256.clone()).filter(|s| !s.is_empty());
        lock.upsert(pin);
    }
    for d in &report.docker {
        // SONiC's versions-docker keys a base image by `<arch>:<reference as written in FROM>`.
        let mut pin = Pin::new(Ecosystem::Docker, &d.image, &d.digest);
        pin.arch = Some(d.arch.clone());
        pin.url = Some(format!("{}@{}", d.repository, d.digest));
        pin.sha256 = d.digest.strip_prefix("sha256:").map(str::to_string);
        pin.first_seen = d.created.clone();
        pin.why = d.origins.clone();
        lock.upsert(pin);
    }
    lock.normalize();
}

/// Adds a `py` pin for every Python name the manifest installs: the newest
/// release at the cutoff that satisfies every declaration of it in that image
/// and interpreter (pre-releases only when nothing else fits, as pip does).
/// Returns a note for each name no version satisfies.
pub fn add_py_pins(lock: &mut Lock, manifest: &Manifest, report: &IndexReport) -> Vec<String> {
    let histories: BTreeMap<&str, &crate::source::History> = report
        .histories
        .iter()
        .filter(|h| h.ecosystem == Ecosystem::Py)
        .map(|h| (h.name.as_str(), h))
        .collect();
    // (image, python, name) -> (constraints, origins)
    type Wanted = BTreeMap<(String, String, String), (Vec<Constraint>, BTreeSet<String>)>;
    let mut wanted: Wanted = BTreeMap::new();
    for d in manifest
        .dependencies
        .iter()
        .filter(|d| d.ecosystem == Ecosystem::Py)
    {
        let Ok(name) = crate::source::pypi::normalize_name(&d.name) else {
            continue;
        };
        let (python, _) =
            build::python_env_for(d.context.suite.as_deref(), d.context.python.as_deref());
        let image = d.context.image.clone().unwrap_or_else(|| "default".into());
        let e = wanted.entry((image, python, name)).or_default();
        e.0.push(d.constraint.clone());
        e.1.insert(d.origin.to_string());
    }
    let mut notes = Vec::new();
    for ((image, python, name), (constraints, origins)) in wanted {
        let Some(h) = histories.get(name.as_str()) else {
            continue;
        };
        let mut specs = Vec::new();
        let mut bad = None;
        for c in &constraints {
            let text = match c {
                Constraint::Exact(v) => format!("=={}", v.trim_start_matches("==")),
                Constraint::Range(r) => r.clone(),
                Constraint::None | Constraint::Ref(_) => continue,
            };
            match VersionSpecifiers::from_str(&text) {
                Ok(s) => specs.push(s),
                Err(e) => bad = Some(format!("{name}: bad version constraint `{text}`: {e}")),
            }
        }
        if let Some(b) = bad {
            notes.push(b);
            continue;
        }
        let fits: Vec<(Version, &crate::source::VersionAt)> = h
            .versions
            .iter()
            .filter_map(|v| Version::from_str(&v.version).ok().map(|p| (p, v)))
            .filter(|(p, _)| specs.iter().all(|s| s.contains(p)))
            .collect();
        let best = fits
            .iter()
            .filter(|(p, _)| !p.any_prerelease())
            .max_by(|a, b| a.0.cmp(&b.0))
            .or_else(|| fits.iter().max_by(|a, b| a.0.cmp(&b.0)));
        let Some((_, v)) = best else {
            notes.push(format!(
                "py {name} [{image} {python}]: no version at the cutoff satisfies every declaration"
            ));
            continue;
        };
        let mut pin = Pin::new(Ecosystem::Py, &name, &v.version);
        pin.image = Some(candidate::lock_image(&image));
        pin.python = Some(python);
        pin.url = v.url.clone();
        pin.sha256 = v.sha256.clone();
        pin.first_seen = v.published.clone();
        pin.why = origins.into_iter().collect();
        lock.upsert(pin);
    }
    lock.normalize();
    notes
}

/// Each image's apt transactions, resolved in the domain of the suite the image
/// is built on (`context.suite`; `default_domain` when the crawl did not say),
/// so a buster slave's packages come from buster even on a bullseye platform.
pub fn per_suite_transactions(
    u: &mut Universe,
    manifest: &Manifest,
    default_domain: &str,
) -> Result<BTreeMap<String, Vec<Vec<Requirement>>>, UniverseError> {
    let arch = default_domain.split('/').nth(1).unwrap_or("amd64");
    let mut by_domain: BTreeMap<String, Vec<crate::manifest::Dependency>> = BTreeMap::new();
    for d in &manifest.dependencies {
        let domain = match d.context.suite.as_deref() {
            // The platform's architecture: only its indices are loaded.
            Some(suite) => build::deb_domain(suite, arch),
            None => default_domain.to_string(),
        };
        by_domain.entry(domain).or_default().push(d.clone());
    }
    let mut out: BTreeMap<String, Vec<Vec<Requirement>>> = BTreeMap::new();
    for (domain, deps) in by_domain {
        let part = Manifest {
            dependencies: deps,
            diagnostics: Vec::new(),
            ..manifest.clone()
        };
        for (image, txs) in input::debian_transactions(u, &part, &domain)? {
            out.entry(image).or_default().extend(txs);
        }
    }
    Ok(out)
}

/// What the crawl could not read (its error diagnostics: unreadable submodules,
/// files that failed to parse), as lock gaps, sorted. A lock that claims to pin
/// every dependency of the tree must have none.
pub fn crawl_gaps(manifest: &Manifest) -> Vec<Gap> {
    let mut errors: Vec<&crate::manifest::Diagnostic> = manifest
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    errors.sort_by(|a, b| (&a.origin.file, a.origin.line).cmp(&(&b.origin.file, b.origin.line)));
    let mut gaps: Vec<Gap> = errors
        .into_iter()
        .map(|d| Gap {
            origin: d.origin.to_string(),
            message: match &d.text {
                Some(t) => format!("{} [{t}]", d.message),
                None => d.message.clone(),
            }
            .replace(|c: char| c.is_control(), " "),
        })
        .collect();
    gaps.dedup();
    gaps
}

/// Runs crawl, index and solve, and returns the candidate lock for `platform`.
pub fn candidate_for(
    platform: &str,
    opts: &PipelineOptions<'_>,
    on_stage: &dyn Fn(&str),
) -> Result<PipelineOutput, PipelineError> {
    on_stage("crawling");
    let crawled = crawl::crawl(&opts.crawl, &|_, _| {})?;
    candidate_from_manifest(platform, crawled.manifest, opts, on_stage)
}

/// Index and solve an already crawled `manifest` as of `opts.cutoff` (the
/// manifest's commit date when `None`): the candidate lock the tree would have
/// resolved to at that time. Crawl once, call this per date (time-axis bisection).
pub fn candidate_from_manifest(
    platform: &str,
    manifest: Manifest,
    opts: &PipelineOptions<'_>,
    on_stage: &dyn Fn(&str),
) -> Result<PipelineOutput, PipelineError> {
    let mut warnings = Vec::new();
    for d in manifest
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
    {
        warnings.push(format!("crawl: {}: {}", d.origin, d.message));
    }
    let cutoff = match &opts.cutoff {
        Some(c) => *c,
        None => {
            Cutoff::parse(&manifest.commit_date).map_err(|source| PipelineError::CommitDate {
                date: manifest.commit_date.clone(),
                source: Box::new(source),
            })?
        }
    };
    let suites = if opts.suites.is_empty() {
        let arch = opts.domain.split('/').nth(1).unwrap_or("amd64");
        match &opts.crawl.platform {
            Some(p) => {
                let mut v = Vec::new();
                for dist in &p.suites {
                    v.extend(SuiteSpec::standard(dist, &p.arch)?);
                }
                v
            }
            None => index::suites_for(&manifest, arch)?,
        }
    } else {
        opts.suites.clone()
    };
    on_stage("indexing sources as of the cutoff");
    let mut universe = Universe::new();
    let report = index::run(
        opts.sources,
        &manifest,
        &cutoff,
        &suites,
        opts.py_metadata,
        |si| build::load_suite(&mut universe, si).map(|_| ()),
    )?;
    warnings.extend(build::add_report(&mut universe, &manifest, &report)?);
    for m in &report.missing {
        warnings.push(format!(
            "no version at the cutoff: {} {} ({}): {}",
            m.ecosystem, m.name, m.origin, m.reason
        ));
    }
    on_stage("solving");
    let transactions = per_suite_transactions(&mut universe, &manifest, &opts.domain)?;
    let results = solve_images(&universe, &[], &transactions, &[], None);
    let picks = final_picks(&results)?;
    let mut lock = candidate::candidate_lock(platform, &manifest, &universe, &picks);
    add_index_pins(&mut lock, &report);
    warnings.extend(add_py_pins(&mut lock, &manifest, &report));
    Ok(PipelineOutput {
        manifest,
        report,
        universe,
        candidate: lock,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Context, Dependency, MANIFEST_SCHEMA_VERSION, Origin};
    use crate::source::{History, VersionAt};
    use crate::universe::debian;

    fn universe() -> Universe {
        let mut u = Universe::new();
        let text = "Package: libx\nVersion: 1\nArchitecture: amd64\n\n\
                    Package: libx\nVersion: 2\nArchitecture: amd64\n\n\
                    Package: libx\nVersion: 3\nArchitecture: amd64\n\n";
        debian::load_packages(&mut u, text.as_bytes(), "Packages", "bullseye/amd64").unwrap();
        u
    }

    fn req(u: &mut Universe, rel: &str) -> Vec<Requirement> {
        debian::parse_requirements(u, "bullseye/amd64", rel, "test:1").unwrap()
    }

    fn picked(r: &ImageResults, image: &str) -> String {
        let states = r[image].as_ref().unwrap();
        let picks = &states.last().unwrap().installed.picks;
        picks.values().next().unwrap().clone()
    }

    #[test]
    fn images_solve_newest_or_closest_to_a_reference() {
        let mut u = universe();
        let mut txs = BTreeMap::new();
        txs.insert("one".to_string(), vec![req(&mut u, "libx")]);
        txs.insert(
            "two".to_string(),
            vec![req(&mut u, "libx"), req(&mut u, "libx (>= 1)")],
        );
        let r = solve_images(&u, &[], &txs, &[], None);
        assert_eq!(
            (picked(&r, "one"), picked(&r, "two")),
            ("3".into(), "3".into())
        );
        let reference: BTreeMap<PackageKey, String> = [(
            PackageKey::new(Ecosystem::Deb, "bullseye/amd64", "libx"),
            "2".to_string(),
        )]
        .into();
        let r = solve_images(&u, &[], &txs, &[], Some(&reference));
        // The reference applies to single-transaction images only.
        assert_eq!(
            (picked(&r, "one"), picked(&r, "two")),
            ("2".into(), "3".into())
        );
        assert_eq!(final_picks(&r).unwrap().len(), 2);
    }

    #[test]
    fn each_image_resolves_in_its_own_suite() {
        let mut u = universe();
        let buster = "Package: libx\nVersion: 0.9\nArchitecture: amd64\n\n";
        debian::load_packages(&mut u, buster.as_bytes(), "Packages", "buster/amd64").unwrap();
        let dep = |image: &str, suite: Option<&str>, line: u32| Dependency {
            ecosystem: Ecosystem::Deb,
            name: "libx".into(),
            constraint: Constraint::None,
            pinned: false,
            origin: Origin {
                file: format!("{image}/Dockerfile.j2"),
                line,
            },
            context: Context {
                image: Some(image.into()),
                suite: suite.map(String::from),
                transaction: Some(1),
                ..Default::default()
            },
            attrs: BTreeMap::new(),
        };
        let m = Manifest {
            schema_version: MANIFEST_SCHEMA_VERSION,
            platform: "p".into(),
            commit: "a".repeat(40),
            commit_date: "2022-12-01T00:00:00Z".into(),
            dependencies: vec![
                dep("sonic-slave-buster", Some("buster"), 1),
                dep("sonic-slave-bullseye", Some("bullseye"), 2),
                dep("host", None, 3),
            ],
            diagnostics: vec![],
        };
        let txs = per_suite_transactions(&mut u, &m, "bullseye/amd64").unwrap();
        let r = solve_images(&u, &[], &txs, &[], None);
        let picks = final_picks(&r).unwrap();
        let of = |image: &str| -> Vec<(String, String)> {
            picks[image]
                .iter()
                .map(|(k, v)| (k.domain.clone(), v.clone()))
                .collect()
        };
        assert_eq!(
            of("sonic-slave-buster"),
            vec![("buster/amd64".into(), "0.9".into())]
        );
        assert_eq!(
            of("sonic-slave-bullseye"),
            vec![("bullseye/amd64".into(), "3".into())]
        );
        assert_eq!(of("host"), vec![("bullseye/amd64".into(), "3".into())]);
    }

    #[test]
    fn an_unsolvable_image_is_named() {
        let mut u = universe();
        let mut txs = BTreeMap::new();
        txs.insert("ok".to_string(), vec![req(&mut u, "libx")]);
        txs.insert("bad".to_string(), vec![req(&mut u, "libx (>= 4)")]);
        let r = solve_images(&u, &[], &txs, &[], None);
        match final_picks(&r) {
            Err(PipelineError::Unsat {
                image, transaction, ..
            }) => assert_eq!((image.as_str(), transaction), ("bad", 0)),
            other => panic!("expected unsat, got {:?}", other.map(|p| p.len())),
        }
    }

    fn py_dep(name: &str, constraint: Constraint, line: u32) -> Dependency {
        Dependency {
            ecosystem: Ecosystem::Py,
            name: name.into(),
            pinned: constraint.is_pinned(),
            constraint,
            origin: Origin {
                file: "dockers/docker-x/Dockerfile.j2".into(),
                line,
            },
            context: Context {
                image: Some("docker-x".into()),
                suite: Some("bullseye".into()),
                python: Some("py3".into()),
                ..Default::default()
            },
            attrs: BTreeMap::new(),
        }
    }

    fn history(name: &str, versions: &[&str]) -> History {
        History {
            ecosystem: Ecosystem::Py,
            name: name.into(),
            versions: versions
                .iter()
                .map(|v| VersionAt {
                    version: v.to_string(),
                    published: Some("2021-01-01T00:00:00Z".into()),
                    url: None,
                    sha256: None,
                    requires: None,
                    requires_python: None,
                })
                .collect(),
            later: 0,
            notes: vec![],
        }
    }

    #[test]
    fn py_pins_take_the_newest_release_within_every_declaration() {
        let manifest = Manifest {
            schema_version: MANIFEST_SCHEMA_VERSION,
            platform: "p".into(),
            commit: "a".repeat(40),
            commit_date: "2022-12-01T00:00:00Z".into(),
            dependencies: vec![
                py_dep("Click", Constraint::Range(">=6".into()), 1),
                py_dep("click", Constraint::Range("<8".into()), 2),
                py_dep("pre", Constraint::Range(">=1.5".into()), 3),
                py_dep("broken", Constraint::Range(">=>1".into()), 4),
                py_dep("none", Constraint::Range(">=9".into()), 5),
            ],
            diagnostics: vec![],
        };
        let report = IndexReport {
            schema_version: 1,
            platform: "p".into(),
            cutoff: "2022-12-01T00:00:00Z".into(),
            suites: vec![],
            counts: BTreeMap::new(),
            missing: vec![],
            histories: vec![
                history("click", &["6.7", "7.0", "7.1.2", "8.0.0", "7.2rc1"]),
                history("pre", &["1.0", "2.0b1"]),
                history("broken", &["1.0"]),
                history("none", &["1.0"]),
            ],
            git: vec![],
            web: vec![],
            docker: vec![],
            not_indexed: vec![],
        };
        let mut lock = Lock::new("p", &"a".repeat(40), "2022-12-01T00:00:00Z");
        let notes = add_py_pins(&mut lock, &manifest, &report);
        let got: Vec<(&str, &str)> = lock
            .pins
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(got, vec![("click", "7.1.2"), ("pre", "2.0b1")]);
        let click = &lock.pins[0];
        assert_eq!(click.why.len(), 2);
        assert_eq!(click.python.as_deref(), Some("py3"));
        assert_eq!(click.image.as_deref(), Some("docker-x"));
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(
            notes.iter().any(|n| n.contains("broken")) && notes.iter().any(|n| n.contains("none"))
        );
    }
}
