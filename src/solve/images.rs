//! A whole manifest solved image by image: each image's apt transactions in
//! the domain of its suite, then its pip declarations (every interpreter of
//! the image in one problem, through `Requires-Dist`, with the image's Debian
//! `python3-<name>` packages as installed stand-ins), then Go's minimal
//! version selection per go.mod. `sonic-lock solve` and the `lock` pipeline
//! both call [`solve_manifest`].

use super::python::{DebianDist, MetadataSource, PyOutcome, PyResolver, debian_dists};
use super::{Nogood, Preference, Solver, TransactionState, Unsat, input, solve_transactions};
use crate::manifest::images::parent_of;
use crate::manifest::{Constraint, Ecosystem, Manifest};
use crate::universe::suite::{deb_domain, python_env_for};
use crate::universe::{PackageKey, Requirement, Universe, UniverseError, VersionConstraint};
use std::collections::{BTreeMap, BTreeSet};

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
    solve_images_hiding(u, base, transactions, nogoods, &BTreeMap::new(), reference)
}

/// As [`solve_images`], with per-image nogoods added (the added apt
/// repositories an image does not see, from [`super::aptsources::hidden`]).
pub fn solve_images_hiding(
    u: &Universe,
    base: &[Requirement],
    transactions: &BTreeMap<String, Vec<Vec<Requirement>>>,
    shared: &[Nogood],
    per_image: &BTreeMap<String, Vec<Nogood>>,
    reference: Option<&BTreeMap<PackageKey, String>>,
) -> ImageResults {
    let mut out = BTreeMap::new();
    for (image, txs) in transactions {
        let own;
        let nogoods = match per_image.get(image) {
            Some(extra) => {
                own = [shared, extra.as_slice()].concat();
                own.as_slice()
            }
            None => shared,
        };
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

/// Each image's apt transactions, resolved in the domain of the suite the image
/// is built on (`context.suite`; `default_domain` when the crawl did not say),
/// so a buster slave's packages come from buster even on a bullseye platform.
pub fn per_suite_transactions(
    u: &mut Universe,
    manifest: &Manifest,
    default_domain: &str,
) -> Result<BTreeMap<String, Vec<Vec<Requirement>>>, UniverseError> {
    Ok(per_suite_transactions_flagged(u, manifest, default_domain)?
        .into_iter()
        .map(|(img, txs)| (img, txs.into_iter().map(|(t, _)| t).collect()))
        .collect())
}

/// [`per_suite_transactions`], each with whether its command lets apt install
/// Recommends.
pub fn per_suite_transactions_flagged(
    u: &mut Universe,
    manifest: &Manifest,
    default_domain: &str,
) -> Result<BTreeMap<String, input::FlaggedTransactions>, UniverseError> {
    let arch = default_domain.split('/').nth(1).unwrap_or("amd64");
    let mut by_domain: BTreeMap<String, Vec<crate::manifest::Dependency>> = BTreeMap::new();
    for d in &manifest.dependencies {
        let domain = match d.context.suite.as_deref() {
            // The platform's architecture: only its indices are loaded.
            Some(suite) => deb_domain(suite, arch),
            None => default_domain.to_string(),
        };
        by_domain.entry(domain).or_default().push(d.clone());
    }
    let mut out: BTreeMap<String, input::FlaggedTransactions> = BTreeMap::new();
    for (domain, deps) in by_domain {
        let part = Manifest {
            dependencies: deps,
            diagnostics: Vec::new(),
            ..manifest.clone()
        };
        for (image, txs) in input::debian_transactions_flagged(u, &part, &domain)? {
            out.entry(image).or_default().extend(txs);
        }
    }
    Ok(out)
}

/// Root requirements per image.
pub type RootsByImage = BTreeMap<String, Vec<Requirement>>;

/// Each image's pip declarations as root requirements in the Python domain of
/// its suite and interpreter (`py3`, `py2`, `buster-py3`, `buster-py2`), with
/// notes on declarations that are not PyPI requirements (VCS URLs, test-only,
/// unexpanded names, markers that exclude the interpreter).
pub fn python_roots(
    u: &mut Universe,
    manifest: &Manifest,
) -> Result<(RootsByImage, Vec<String>), UniverseError> {
    let mut out: BTreeMap<String, Vec<Requirement>> = BTreeMap::new();
    let mut notes = Vec::new();
    let mut envs: BTreeMap<String, crate::universe::python::PythonEnv> = BTreeMap::new();
    // The tree's own Python packages (a directory with a setup.py whose
    // requirements the crawl read) are built from the tree, not taken from PyPI.
    let local: BTreeMap<String, String> = manifest
        .dependencies
        .iter()
        .filter(|d| d.ecosystem == Ecosystem::Py && d.origin.file.ends_with("setup.py"))
        .filter_map(|d| {
            let dir = d.origin.file.rsplit('/').nth(1)?;
            Some((
                crate::universe::python::normalize(dir),
                d.origin.file.clone(),
            ))
        })
        .collect();
    for d in manifest
        .dependencies
        .iter()
        .filter(|d| d.ecosystem == Ecosystem::Py)
    {
        let attr = |k: &str| d.attrs.get(k).map(String::as_str);
        // Test requirements count where the build runs the tests; a runtime
        // requirement of something no image installs counts nowhere.
        let test_skipped = attr("scope") == Some("test") && attr("tests-run").is_none();
        if attr("action") == Some("remove") || test_skipped || attr("scope") == Some("runtime") {
            continue;
        }
        if attr("url").is_some() {
            notes.push(format!(
                "{}: py {} comes from a URL, not PyPI; not solved",
                d.origin, d.name
            ));
            continue;
        }
        let Ok(name) = crate::universe::python::PyName::new(&d.name).map(String::from) else {
            notes.push(format!(
                "{}: py `{}` is not a distribution name; not solved",
                d.origin, d.name
            ));
            continue;
        };
        if let Some(setup) = local.get(&name) {
            notes.push(format!(
                "{}: py {name} is built from the tree ({setup}); not taken from PyPI",
                d.origin
            ));
            continue;
        }
        let (domain, _) = python_env_for(d.context.suite.as_deref(), d.context.python.as_deref());
        if !envs.contains_key(&domain) {
            envs.insert(domain.clone(), super::python::env_for_domain(&domain)?);
        }
        let env = &envs[&domain];
        if let Some(m) = attr("markers") {
            let holds = crate::universe::pep508::marker(m)
                .and_then(|tree| crate::universe::pep508::evaluate(&tree, &env.markers, &[]));
            match holds {
                Ok(false) => continue,
                Ok(true) => {}
                Err(e) => {
                    notes.push(format!(
                        "{}: py {name}: bad marker `{m}`: {e}; not solved",
                        d.origin
                    ));
                    continue;
                }
            }
        }
        let constraint = match &d.constraint {
            Constraint::Exact(v) => {
                VersionConstraint::Specifiers(format!("=={}", v.trim_start_matches("==")))
            }
            Constraint::Range(r) => VersionConstraint::Specifiers(r.clone()),
            Constraint::None | Constraint::Ref(_) => VersionConstraint::Any,
        };
        if let VersionConstraint::Specifiers(s) = &constraint
            && !super::python::valid_specifiers(s)
        {
            notes.push(format!(
                "{}: py {name}: bad version constraint `{s}`; not solved",
                d.origin
            ));
            continue;
        }
        let extras: Vec<String> = attr("extras")
            .map(|e| {
                e.split(',')
                    .map(|x| crate::universe::python::normalize(x.trim()))
                    .filter(|x| !x.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let mut image = d.context.image.clone().unwrap_or_else(|| "default".into());
        if let (Some("test"), Some(target)) = (attr("scope"), attr("tests-run")) {
            image = target_key(&image, TargetRun::Tests, target);
        } else if let Some(target) = attr("build-run") {
            image = target_key(&image, TargetRun::Build, target);
        }
        let r = super::python::root(
            u,
            &domain,
            &name,
            &extras,
            constraint,
            &d.origin.to_string(),
        );
        out.entry(image).or_default().push(r);
    }
    Ok((out, notes))
}

/// What a target runs in its slave that pip-installs requirements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetRun {
    /// `setup.py test`: `tests_require`, fetched into the package's own `.eggs`.
    Tests,
    /// `pip install .` and its `_DEPENDS` wheels' installs: `install_requires`, into the slave.
    Build,
}

impl TargetRun {
    fn label(self) -> &'static str {
        match self {
            TargetRun::Tests => "tests",
            TargetRun::Build => "build",
        }
    }
}

/// The key of what a target pip-installs among the Python roots: solved per
/// target on top of the slave, not in it (`setup.py test` fetches
/// `tests_require` one target at a time; a target's build changes the slave
/// only where its requirements force a change).
fn target_key(image: &str, run: TargetRun, target: &str) -> String {
    format!("{image}\t{} of {target}", run.label())
}

/// The slave, kind and target of a [`target_key`].
fn split_target_key(key: &str) -> Option<(&str, TargetRun, &str)> {
    let (image, rest) = key.split_once('\t')?;
    [TargetRun::Tests, TargetRun::Build]
        .into_iter()
        .find_map(|r| {
            let target = rest.strip_prefix(r.label())?.strip_prefix(" of ")?;
            Some((image, r, target))
        })
}

/// One target's test or build requirements, solved on top of the slave that builds it.
#[derive(Debug)]
pub struct TestsSolve {
    /// The slave image.
    pub image: String,
    /// The wheel target whose `setup.py test` (or build) runs.
    pub target: String,
    /// How many requirements it names.
    pub requirements: usize,
    /// The set pip would see, or why there is none.
    pub outcome: Result<PyOutcome, Unsat>,
}

/// One main module's Go build list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoModule {
    /// The go.mod file (manifest origin file).
    pub file: String,
    /// The selected versions and who required them.
    pub build_list: super::mvs::BuildList,
    /// Module -> the go.mod lines (`file:line`) that require it directly.
    pub origins: BTreeMap<String, BTreeSet<String>>,
    /// Module -> the `h1:` hash go.sum records for the selected version, when it does.
    pub sums: BTreeMap<String, String>,
}

/// Everything one manifest solve decided.
#[derive(Debug)]
pub struct ManifestSolve {
    /// Per image, the apt transactions' states (or the failing one).
    pub deb: ImageResults,
    /// Per image with pip declarations, the Python outcome or why there is none.
    pub py: BTreeMap<String, Result<PyOutcome, Unsat>>,
    /// Per tested wheel target, its `tests_require` on top of its slave.
    pub tests: Vec<TestsSolve>,
    /// Per wheel target, in build order, its slave's pip state after its build
    /// (each on top of the state the previous one left).
    pub builds: Vec<TestsSolve>,
    /// Per slave, what its package builds pip-installed over its own pip
    /// state (SONiC's `build/build-<slave>` module).
    pub built: BTreeMap<String, PyOutcome>,
    /// Per image, the Go main modules built in it.
    pub go: BTreeMap<String, Vec<GoModule>>,
    /// Notes for the reader (declarations not solved, metadata not read, ...).
    pub notes: Vec<String>,
    /// Python metadata files read during the solve.
    pub py_metadata_reads: usize,
    /// Per image, the apt transactions solved (root requirements with origins).
    pub transactions: BTreeMap<String, Vec<Vec<Requirement>>>,
    /// Per image, the pip declarations solved.
    pub py_roots: RootsByImage,
    /// Each source package's Build-Depends, solved on top of its image's final
    /// apt state (which it keeps unless a relation forces a change).
    pub build: Vec<(input::BuildRule, Result<super::Solution, Unsat>)>,
    /// Per image of the manifest's image graph, its `FROM` parent.
    pub parents: BTreeMap<String, String>,
    /// Per image, the Debian picks it starts from (its parent's, or its base image's).
    pub inherited: BTreeMap<String, BTreeMap<PackageKey, String>>,
    /// Per image, the inherited packages it had to change (`name old -> new`).
    pub upgrades: BTreeMap<String, Vec<String>>,
    /// Per image, what its build installed and removed again before its end.
    pub transient: BTreeMap<String, BTreeMap<PackageKey, String>>,
    /// Per image, the Python (domain, name) that it or a parent pip-installs
    /// with `--upgrade`: no Debian stand-in is kept for them.
    pub upgraded: BTreeMap<String, BTreeSet<(String, String)>>,
}

impl ManifestSolve {
    /// The image's Debian packages standing in for Python distributions.
    pub fn debian_dists(&self, u: &Universe, image: &str) -> Vec<DebianDist> {
        let deb_picks = match self.deb.get(image) {
            Some(Ok(states)) => states
                .last()
                .map(|s| s.installed.picks.clone())
                .unwrap_or_default(),
            _ => BTreeMap::new(),
        };
        let domains: BTreeSet<String> = self
            .py_roots
            .get(image)
            .into_iter()
            .flatten()
            .flat_map(|r| r.alternatives.iter())
            .map(|a| u.key(a.package).domain.clone())
            .collect();
        let upgraded = self.upgraded.get(image);
        debian_dists(&deb_picks, &domains)
            .into_iter()
            .filter(|d| {
                !upgraded.is_some_and(|up| {
                    d.names()
                        .into_iter()
                        .any(|n| up.contains(&(d.domain.clone(), n)))
                })
            })
            .collect()
    }

    /// Every image the solve covered, sorted.
    pub fn images(&self) -> BTreeSet<String> {
        self.transactions
            .keys()
            .chain(self.py_roots.keys())
            .chain(self.go.keys())
            .cloned()
            .collect()
    }
}

/// What [`solve_manifest`] needs beyond the universe and manifest.
pub struct ManifestOptions<'a> {
    /// The apt view for dependencies whose suite the crawl did not record.
    pub default_domain: String,
    /// Base image requirements every apt transaction includes.
    pub base: Vec<Requirement>,
    /// Learned nogoods.
    pub nogoods: &'a [Nogood],
    /// A previous lock to stay closest to (Debian: single-transaction images
    /// and chains; Python: per image).
    pub reference: Option<&'a super::Reference>,
    /// Where to read Python metadata and go.mod files not in the universe (none: the universe is all).
    pub source: Option<&'a dyn MetadataSource>,
}

/// Solves every image of `m`: Debian, then Python with the image's Debian
/// stand-ins, then Go. The universe grows with the Python metadata read.
pub fn solve_manifest(
    u: &mut Universe,
    m: &Manifest,
    opts: &ManifestOptions<'_>,
) -> Result<ManifestSolve, UniverseError> {
    let flagged = per_suite_transactions_flagged(u, m, &opts.default_domain)?;
    let recommends: BTreeMap<String, Vec<bool>> = flagged
        .iter()
        .map(|(img, txs)| (img.clone(), txs.iter().map(|(_, r)| *r).collect()))
        .collect();
    let transactions: BTreeMap<String, Vec<Vec<Requirement>>> = flagged
        .into_iter()
        .map(|(img, txs)| (img, txs.into_iter().map(|(t, _)| t).collect()))
        .collect();
    let arch = opts
        .default_domain
        .split('/')
        .nth(1)
        .unwrap_or("amd64")
        .to_string();
    let domain_of = |suite: Option<&str>| match suite {
        Some(s) => deb_domain(s, &arch),
        None => opts.default_domain.clone(),
    };
    let mut rules = input::build_rules(u, m, &domain_of, &[])?;
    let mut tree_built = Vec::new();
    for rule in &mut rules {
        // A build dependency the archive never had is one the tree builds itself
        // (libswsscommon-dev for sonic-eventd): SONiC builds it first, so it is
        // not the archive's to provide. Each is reported.
        let known = |a: &crate::universe::Alternative| {
            !u.candidates_of(a.package).is_empty() || !u.package(a.package).providers.is_empty()
        };
        let mut kept = Vec::new();
        for mut r in std::mem::take(&mut rule.requirements) {
            if !r.alternatives.is_empty() && !r.alternatives.iter().any(known) {
                tree_built.push(format!(
                    "{}: {} is in no index at the cutoff: taken as built by the tree",
                    r.origin.as_deref().unwrap_or(&rule.control),
                    super::explain::requirement_text(u, &r)
                ));
                continue;
            }
            r.alternatives.retain(known);
            kept.push(r);
        }
        rule.requirements = kept;
    }
    let (mut py_roots, mut notes) = python_roots(u, m)?;
    let target_roots: Vec<(String, Vec<Requirement>)> = {
        let keys: Vec<String> = py_roots
            .keys()
            .filter(|k| split_target_key(k).is_some())
            .cloned()
            .collect();
        keys.into_iter()
            .filter_map(|k| py_roots.remove(&k).map(|r| (k, r)))
            .collect()
    };
    let parents: BTreeMap<String, String> = m
        .images
        .keys()
        .filter_map(|i| Some((i.clone(), parent_of(&m.images, i)?.to_string())))
        .collect();
    // What pip installed in a parent stays installed in its children, unless
    // a nearer image asks for that package itself: its later `pip install`
    // replaces the parent's version (docker-sonic-mgmt-framework pins
    // setuptools 21.0.0 over docker-base-buster's 49.6.0).
    let own = py_roots.clone();
    let names = |reqs: &[Requirement]| -> BTreeSet<crate::universe::PackageId> {
        reqs.iter()
            .flat_map(|r| r.alternatives.iter().map(|a| a.package))
            .collect()
    };
    for image in m.images.keys() {
        let mut named = own.get(image).map(|r| names(r)).unwrap_or_default();
        let mut cur = image.as_str();
        while let Some(p) = parents.get(cur) {
            if let Some(r) = own.get(p) {
                let inherited: Vec<Requirement> = r
                    .iter()
                    .filter(|q| !q.alternatives.iter().any(|a| named.contains(&a.package)))
                    .cloned()
                    .collect();
                named.extend(names(r));
                py_roots.entry(image.clone()).or_default().extend(inherited);
            }
            cur = p;
        }
    }
    let upgraded = pip_upgraded(m, &parents);
    let (deb, inherited, upgrades, transient) = match m.images.is_empty() {
        true => (
            solve_images_hiding(
                u,
                &opts.base,
                &transactions,
                opts.nogoods,
                &super::aptsources::hidden(u, m, transactions.keys()),
                opts.reference.map(|r| &r.packages),
            ),
            BTreeMap::new(),
            BTreeMap::new(),
            BTreeMap::new(),
        ),
        false => {
            let c = super::chain::solve_chain(
                u,
                &m.images,
                &transactions,
                &recommends,
                &input::removals(m),
                &opts.base,
                opts.nogoods,
                opts.reference.map(|r| &r.packages),
                &arch,
            );
            (c.deb, c.inherited, c.upgrades, c.transient)
        }
    };
    let mut build = Vec::new();
    for rule in rules {
        let installed = match deb.get(&rule.image) {
            Some(Ok(states)) => states
                .last()
                .map(|s| s.installed.candidates.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut s = Solver::new(u, rule.requirements.clone());
        s.set_base(opts.base.clone());
        for n in opts.nogoods {
            s.add_nogood(n.clone());
        }
        s.set_keep(installed);
        let r = s.solve();
        build.push((rule, r));
    }
    notes.extend(tree_built);
    let go = solve_go(m, opts.source);
    for mods in go.values() {
        for gm in mods {
            notes.extend(
                gm.build_list
                    .notes
                    .iter()
                    .map(|n| format!("{}: {n}", gm.file)),
            );
        }
    }
    let mut out = ManifestSolve {
        deb,
        py: BTreeMap::new(),
        tests: Vec::new(),
        builds: Vec::new(),
        built: BTreeMap::new(),
        go,
        notes,
        py_metadata_reads: 0,
        transactions,
        py_roots,
        build,
        parents,
        inherited,
        upgrades,
        transient,
        upgraded,
    };
    let mut resolver = PyResolver::new(u, opts.source);
    let images: Vec<String> = out.py_roots.keys().cloned().collect();
    for image in images {
        let debian: Vec<DebianDist> = out.debian_dists(u, &image);
        let roots = out.py_roots.get(&image).cloned().unwrap_or_default();
        resolver.set_reference(
            opts.reference
                .and_then(|r| r.python_for(&image, &out.parents))
                .as_ref(),
        );
        let outcome = resolver.solve_image(u, &roots, &debian, opts.nogoods)?;
        if let Ok(o) = &outcome {
            out.notes
                .extend(o.notes.iter().map(|n| format!("{image}: {n}")));
        }
        out.py.insert(image, outcome);
    }
    // Targets in name order: each build starts from what the previous left.
    let mut builds: BTreeMap<String, Vec<(String, Vec<Requirement>)>> = BTreeMap::new();
    for (key, reqs) in &target_roots {
        if let Some((image, TargetRun::Build, target)) = split_target_key(key) {
            builds
                .entry(image.to_string())
                .or_default()
                .push((target.to_string(), reqs.clone()));
        }
    }
    for (image, targets) in builds {
        resolver.set_reference(
            opts.reference
                .and_then(|r| r.python_for_builds(&image, &out.parents))
                .as_ref(),
        );
        solve_builds(u, &mut out, &mut resolver, &image, targets, opts.nogoods)?;
    }
    for (key, reqs) in target_roots {
        let Some((image, TargetRun::Tests, target)) = split_target_key(&key) else {
            continue;
        };
        resolver.set_reference(
            opts.reference
                .and_then(|r| r.python_for_builds(image, &out.parents))
                .as_ref(),
        );
        let debian: Vec<DebianDist> = out.debian_dists(u, image);
        let mut roots = out.py_roots.get(image).cloned().unwrap_or_default();
        let requirements = reqs.len();
        roots.extend(reqs);
        let outcome = resolver.solve_image(u, &roots, &debian, opts.nogoods)?;
        out.tests.push(TestsSolve {
            image: image.to_string(),
            target: target.to_string(),
            requirements,
            outcome,
        });
    }
    out.py_metadata_reads = resolver.reads;
    Ok(out)
}

/// Per image, the Python (domain, name) that `pip install --upgrade` names
/// in it or in a parent it is built `FROM`.
fn pip_upgraded(
    m: &Manifest,
    parents: &BTreeMap<String, String>,
) -> BTreeMap<String, BTreeSet<(String, String)>> {
    let mut own: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for d in m.dependencies.iter().filter(|d| {
        d.ecosystem == Ecosystem::Py
            && d.attrs.get("upgrade").is_some_and(|v| v == "y")
            && !d.attrs.contains_key("action")
    }) {
        let image = d.context.image.clone().unwrap_or_else(|| "default".into());
        let (domain, _) = python_env_for(d.context.suite.as_deref(), d.context.python.as_deref());
        let name = crate::universe::python::normalize(&d.name);
        own.entry(image).or_default().insert((domain, name));
    }
    let images: BTreeSet<&String> = own.keys().chain(parents.keys()).collect();
    let mut out = BTreeMap::new();
    for image in images {
        let mut set = BTreeSet::new();
        let mut cur = Some(image.as_str());
        // At most one step per image: a malformed graph's circle ends too.
        for _ in 0..=parents.len() {
            let Some(i) = cur else { break };
            set.extend(own.get(i).into_iter().flatten().cloned());
            cur = parents.get(i).map(String::as_str);
        }
        if !set.is_empty() {
            out.insert(image.clone(), set);
        }
    }
    out
}

/// The package builds of one slave, target after target, each `pip install`
/// on top of the pip state the previous one left (the slave's own first);
/// records each step in `out.builds` and what they change in `out.built`.
fn solve_builds(
    u: &mut Universe,
    out: &mut ManifestSolve,
    resolver: &mut PyResolver<'_>,
    image: &str,
    targets: Vec<(String, Vec<Requirement>)>,
    nogoods: &[Nogood],
) -> Result<(), UniverseError> {
    let debian: Vec<DebianDist> = out.debian_dists(u, image);
    let start: Vec<crate::universe::CandidateId> = match out.py.get(image) {
        Some(Ok(o)) => o.solution.candidates.clone(),
        _ => Vec::new(),
    };
    let mut state = start.clone();
    let mut last: Option<PyOutcome> = None;
    let mut why: BTreeMap<PackageKey, BTreeSet<String>> = BTreeMap::new();
    let mut notes = BTreeSet::new();
    for (target, reqs) in targets {
        let outcome = resolver.solve_image_over(u, &reqs, &debian, nogoods, &state)?;
        if let Ok(o) = &outcome {
            state = o.solution.candidates.clone();
            for (k, w) in &o.why {
                why.entry(k.clone()).or_default().extend(w.iter().cloned());
            }
            notes.extend(o.notes.iter().map(|n| format!("{image}: {n}")));
            last = Some(o.clone());
        }
        out.builds.push(TestsSolve {
            image: image.to_string(),
            target,
            requirements: reqs.len(),
            outcome,
        });
    }
    out.notes.extend(notes);
    let Some(mut o) = last else {
        return Ok(());
    };
    // What the slave had before any build (its pip state and the Python
    // distributions its Debian packages installed) is not the builds' doing.
    let mut before: BTreeMap<PackageKey, String> = BTreeMap::new();
    for c in start.iter().chain(&resolver.debian_installed(u, &debian)?) {
        let cand = u.candidate(*c);
        before.insert(u.key(cand.package).clone(), cand.version.clone());
    }
    o.picks.retain(|k, v| before.get(k) != Some(v));
    o.why = why
        .into_iter()
        .filter(|(k, _)| o.picks.contains_key(k))
        .collect();
    o.dependents.retain(|k, _| o.picks.contains_key(k));
    o.notes.clear();
    out.built.insert(image.to_string(), o);
    Ok(())
}

/// Minimal version selection for every go.mod of the manifest (one main module per file).
pub fn solve_go(
    m: &Manifest,
    source: Option<&dyn MetadataSource>,
) -> BTreeMap<String, Vec<GoModule>> {
    // (image, go.mod file) -> requirements.
    type Mains = BTreeMap<(String, String), Vec<(String, String, String, Option<String>)>>;
    let mut mains: Mains = BTreeMap::new();
    for d in m
        .dependencies
        .iter()
        .filter(|d| d.ecosystem == Ecosystem::Go)
    {
        // A local replacement builds from the tree itself: nothing to select.
        let Constraint::Exact(v) = &d.constraint else {
            continue;
        };
        let image = d.context.image.clone().unwrap_or_else(|| "default".into());
        let name = d
            .attrs
            .get("replaced-by")
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or(&d.name)
            .to_string();
        mains
            .entry((image, d.origin.file.clone()))
            .or_default()
            .push((
                name,
                v.clone(),
                d.origin.to_string(),
                d.attrs.get("go-sum").cloned(),
            ));
    }
    let reader =
        source.map(|s| move |m: &str, v: &str| s.go_requires(m, v).map_err(|e| e.to_string()));
    let mut out: BTreeMap<String, Vec<GoModule>> = BTreeMap::new();
    for ((image, file), reqs) in mains {
        let roots: Vec<(String, String)> = reqs
            .iter()
            .map(|(n, v, _, _)| (n.clone(), v.clone()))
            .collect();
        let build_list = match &reader {
            Some(r) => super::mvs::select(&roots, Some(r)),
            None => super::mvs::select::<String>(&roots, None),
        };
        let mut origins: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut sums = BTreeMap::new();
        for (n, v, o, sum) in reqs {
            origins.entry(n.clone()).or_default().insert(o);
            if let Some(s) = sum
                && build_list.selected.get(&n) == Some(&v)
            {
                sums.insert(n, s);
            }
        }
        out.entry(image).or_default().push(GoModule {
            file,
            build_list,
            origins,
            sums,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Context, Dependency, Origin};

    fn dep(eco: Ecosystem, name: &str, c: Constraint, file: &str, line: u32) -> Dependency {
        Dependency {
            ecosystem: eco,
            name: name.into(),
            pinned: c.is_pinned(),
            constraint: c,
            origin: Origin {
                file: file.into(),
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

    fn manifest(deps: Vec<Dependency>) -> Manifest {
        Manifest::new(
            "p".into(),
            "a".repeat(40),
            "2022-12-01T00:00:00Z".into(),
            deps,
            vec![],
        )
    }

    #[test]
    fn python_roots_follow_markers_extras_and_skip_urls() {
        let mut py2 = dep(Ecosystem::Py, "Enum34", Constraint::None, "d/Dockerfile", 2);
        py2.attrs
            .insert("markers".into(), "python_version < '3'".into());
        let mut ex = dep(
            Ecosystem::Py,
            "requests",
            Constraint::Range(">=2".into()),
            "d/Dockerfile",
            3,
        );
        ex.attrs.insert("extras".into(), "socks,Security".into());
        let mut url = dep(Ecosystem::Py, "tool", Constraint::None, "d/Dockerfile", 4);
        url.attrs.insert("url".into(), "git+https://x/tool".into());
        let own = dep(
            Ecosystem::Py,
            "click",
            Constraint::None,
            "src/sonic-utilities/setup.py",
            7,
        );
        let uses_own = dep(
            Ecosystem::Py,
            "sonic_utilities",
            Constraint::None,
            "d/Dockerfile",
            8,
        );
        let mut buster = dep(Ecosystem::Py, "six", Constraint::None, "d/Dockerfile", 5);
        buster.context.suite = Some("buster".into());
        buster.context.python = Some("py2".into());
        let m = manifest(vec![py2, ex, url, buster, own, uses_own]);
        let mut u = Universe::new();
        let (roots, notes) = python_roots(&mut u, &m).unwrap();
        let keys: Vec<String> = roots["docker-x"]
            .iter()
            .map(|r| u.key(r.alternatives[0].package).to_string())
            .collect();
        assert_eq!(
            keys,
            vec![
                "py:py3/requests[security,socks]",
                "py:buster-py2/six",
                "py:py3/click"
            ]
        );
        // The URL install, and the tree's own sonic-utilities.
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[1].contains("built from the tree"), "{notes:?}");
        let bad = manifest(vec![dep(
            Ecosystem::Py,
            "x",
            Constraint::Range(">=>1".into()),
            "d/Dockerfile",
            9,
        )]);
        let (roots, notes) = python_roots(&mut u, &bad).unwrap();
        assert!(roots.is_empty());
        assert!(notes[0].starts_with("d/Dockerfile:9:"), "{notes:?}");
    }

    #[test]
    fn test_requirements_are_solved_per_target_not_in_the_slave() {
        let env = super::super::python::env_for_domain("py3").unwrap();
        let mut u = Universe::new();
        for v in ["5.2.3", "6.2.2"] {
            crate::universe::python::add_distribution(
                &mut u,
                &env,
                "deepdiff",
                v,
                &[],
                None,
                &[],
                Default::default(),
            )
            .unwrap();
        }
        crate::universe::python::add_distribution(
            &mut u,
            &env,
            "wheel",
            "0.38.1",
            &[],
            None,
            &[],
            Default::default(),
        )
        .unwrap();
        let slave = |name: &str, c: Constraint, file: &str, target: Option<&str>| {
            let mut d = dep(Ecosystem::Py, name, c, file, 9);
            d.context.image = Some("sonic-slave-bullseye".into());
            if let Some(t) = target {
                d.attrs.insert("scope".into(), "test".into());
                d.attrs.insert("tests-run".into(), t.into());
            }
            d
        };
        let m = manifest(vec![
            slave(
                "wheel",
                Constraint::None,
                "sonic-slave-bullseye/Dockerfile.j2",
                None,
            ),
            slave(
                "deepdiff",
                Constraint::Exact("5.2.3".into()),
                "src/a/setup.py",
                Some("a-1.0-py3-none-any.whl"),
            ),
            slave(
                "deepdiff",
                Constraint::Exact("6.2.2".into()),
                "src/b/setup.py",
                Some("b-1.0-py3-none-any.whl"),
            ),
        ]);
        let opts = ManifestOptions {
            default_domain: "bullseye/amd64".into(),
            base: vec![],
            nogoods: &[],
            reference: None,
            source: None,
        };
        let out = solve_manifest(&mut u, &m, &opts).unwrap();
        let picks = |o: &Result<PyOutcome, Unsat>| -> Vec<(String, String)> {
            let o = o.as_ref().unwrap();
            o.picks
                .iter()
                .map(|(k, v)| (k.name.clone(), v.clone()))
                .collect()
        };
        assert_eq!(
            picks(&out.py["sonic-slave-bullseye"]),
            [("wheel".to_string(), "0.38.1".to_string())]
        );
        let tests: Vec<(&str, Vec<(String, String)>)> = out
            .tests
            .iter()
            .map(|t| (t.target.as_str(), picks(&t.outcome)))
            .collect();
        assert_eq!(tests.len(), 2);
        assert_eq!(tests[0].0, "a-1.0-py3-none-any.whl");
        assert!(tests[0].1.contains(&("deepdiff".into(), "5.2.3".into())));
        assert!(tests[0].1.contains(&("wheel".into(), "0.38.1".into())));
        assert!(tests[1].1.contains(&("deepdiff".into(), "6.2.2".into())));
    }

    #[test]
    fn go_modules_are_selected_per_go_mod_with_sums() {
        let mut a = dep(
            Ecosystem::Go,
            "github.com/a/b",
            Constraint::Exact("v1.2.0".into()),
            "src/x/go.mod",
            5,
        );
        a.attrs.insert("go-sum".into(), "h1:abc=".into());
        let local = dep(
            Ecosystem::Go,
            "github.com/c/d",
            Constraint::None,
            "src/x/go.mod",
            6,
        );
        let other = dep(
            Ecosystem::Go,
            "github.com/a/b",
            Constraint::Exact("v1.3.0".into()),
            "src/y/go.mod",
            4,
        );
        let go = solve_go(&manifest(vec![a, local, other]), None);
        let mods = &go["docker-x"];
        assert_eq!(mods.len(), 2);
        assert_eq!(mods[0].file, "src/x/go.mod");
        assert_eq!(mods[0].build_list.selected["github.com/a/b"], "v1.2.0");
        assert_eq!(mods[0].sums["github.com/a/b"], "h1:abc=");
        assert!(!mods[0].build_list.selected.contains_key("github.com/c/d"));
        assert_eq!(mods[1].build_list.selected["github.com/a/b"], "v1.3.0");
    }
}
