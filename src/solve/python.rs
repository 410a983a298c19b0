//! Python roots solved through `Requires-Dist`, reading metadata only for the
//! versions the search actually picks.
//!
//! The index stage reads `Requires-Dist` for the newest few releases of the
//! names the manifest declares; everything else enters the universe with
//! `requires_unknown` set and no requirements. A search over that universe is
//! a relaxation of the real problem (an unread candidate can only be less
//! constrained than it really is), so:
//! - an unsat answer is final, as long as every name some read requirement
//!   mentions has its versions in the universe (the loop fetches them first);
//! - a solution is final once none of its picks is unread; otherwise the loop
//!   reads the metadata of exactly those picks and searches again.
//!
//! Each round reads at least one new metadata file, so the loop ends; in
//! practice it takes a few rounds (the newest releases are already read).

use super::{Nogood, Solution, Solver, Unsat};
use crate::manifest::Ecosystem;
use crate::universe::history::History;
use crate::universe::python::{
    PythonEnv, add_debian_provided, base_requirements, extra_requirements, split_extras,
};
use crate::universe::suite::python_env_for;
use crate::universe::{CandidateId, CandidateMeta, PackageId, PackageKey, Requirement, Universe};
use crate::universe::{UniverseError, VersionConstraint};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Core metadata of one release: `Requires-Dist` lines, `Requires-Python`, and where they were read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseMetadata {
    /// `Requires-Dist` lines (PEP 508).
    pub requires_dist: Vec<String>,
    /// `Requires-Python`.
    pub requires_python: Option<String>,
    /// The metadata file or API URL it came from.
    pub from: String,
}

/// Why a [`MetadataSource`] could not answer.
#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    /// The release was not published by the cutoff.
    #[error("{name} {version} did not exist at the cutoff")]
    NotAtCutoff {
        /// Distribution or module name.
        name: String,
        /// The version asked.
        version: String,
    },
    /// The provider knows no such name or release.
    #[error("{0}")]
    NotFound(String),
    /// The provider failed to read it (network, cache, parse, a bad version string).
    #[error(transparent)]
    Provider(Box<dyn std::error::Error + Send + Sync>),
}

/// What the search may ask beyond the universe it was given (the index's
/// clients at the cutoff, or a table in tests).
pub trait MetadataSource: Sync {
    /// Versions of a Python distribution that existed at the cutoff.
    fn py_history(&self, name: &str) -> Result<History, MetadataError>;
    /// Core metadata of one release.
    fn py_metadata(&self, name: &str, version: &str) -> Result<ReleaseMetadata, MetadataError>;
    /// The `require` lines of a Go module's go.mod at one version.
    fn go_requires(
        &self,
        module: &str,
        version: &str,
    ) -> Result<Vec<(String, String)>, MetadataError>;
}

/// The interpreter of a Python domain (`py3` -> CPython 3.9.2, `buster-py2` -> 2.7.16).
pub fn env_for_domain(domain: &str) -> Result<PythonEnv, UniverseError> {
    for (suite, py) in [
        (None, "py3"),
        (None, "py2"),
        (Some("buster"), "py3"),
        (Some("buster"), "py2"),
    ] {
        let (d, full) = python_env_for(suite, Some(py));
        if d == domain {
            return PythonEnv::linux_cpython(domain, full);
        }
    }
    Err(UniverseError::UnknownKey(format!(
        "python domain `{domain}` (known: py3, py2, buster-py3, buster-py2)"
    )))
}

/// The lock's Python flavour of a domain (`buster-py3` -> `py3`).
pub fn flavour(domain: &str) -> &str {
    if domain.ends_with("py2") {
        "py2"
    } else {
        "py3"
    }
}

/// A Debian package of an image that stands in for a Python distribution.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DebianDist {
    /// The Python domain (`py3`, `buster-py3`, ...).
    pub domain: String,
    /// The distribution name (normalised).
    pub dist: String,
    /// The Debian package (`python3-yaml`).
    pub package: String,
    /// Its Debian version.
    pub version: String,
}

impl DebianDist {
    /// The distribution names the package may install, most likely first:
    /// Debian names a module's package after its import name (`python3-yaml`
    /// ships PyYAML, `python3-dbus` dbus-python).
    pub fn names(&self) -> [String; 4] {
        [
            self.dist.clone(),
            format!("py{}", self.dist),
            format!("python-{}", self.dist),
            format!("{}-python", self.dist),
        ]
    }
}

/// Debian packages among an image's installed picks that provide Python
/// distributions: `python3-<name>` for Python 3 domains, `python-<name>` for
/// Python 2, each into every Python domain of that flavour in `domains`.
pub fn debian_dists(
    deb_picks: &BTreeMap<PackageKey, String>,
    domains: &BTreeSet<String>,
) -> Vec<DebianDist> {
    let mut out = Vec::new();
    for (k, v) in deb_picks {
        if k.ecosystem != Ecosystem::Deb {
            continue;
        }
        let (fl, rest) = if let Some(r) = k.name.strip_prefix("python3-") {
            ("py3", r)
        } else if let Some(r) = k.name.strip_prefix("python-") {
            ("py2", r)
        } else {
            continue;
        };
        for d in domains.iter().filter(|d| flavour(d) == fl) {
            out.push(DebianDist {
                domain: d.clone(),
                dist: crate::universe::python::normalize(rest),
                package: k.name.clone(),
                version: v.clone(),
            });
        }
    }
    out.sort();
    out
}

/// What one image's pip ends up with.
#[derive(Debug, Clone)]
pub struct PyOutcome {
    /// The search result (picks include the interpreter and extras packages).
    pub solution: Solution,
    /// Chosen distributions (no interpreter, no `name[extra]` helpers), by package key.
    pub picks: BTreeMap<PackageKey, String>,
    /// For each chosen distribution, the names of the chosen ones that require it.
    pub dependents: BTreeMap<PackageKey, BTreeSet<String>>,
    /// For each chosen distribution, where the image declares it (`file:line`).
    pub why: BTreeMap<PackageKey, BTreeSet<String>>,
    /// Things a reader should know (unread metadata taken as is, Debian stand-ins).
    pub notes: Vec<String>,
}

/// State shared by the Python solves of every image over one universe:
/// histories and metadata already read, candidates added for Debian packages.
pub struct PyResolver<'s> {
    source: Option<&'s dyn MetadataSource>,
    envs: BTreeMap<String, PythonEnv>,
    /// (domain, name) whose index versions are in the universe.
    loaded: HashSet<(String, String)>,
    histories: BTreeMap<String, Option<History>>,
    /// Candidates whose metadata could not be read, with the reason.
    unreadable: BTreeMap<CandidateId, String>,
    /// Debian stand-ins added so far: candidate -> (package, version), when not also a PyPI release.
    debian_only: BTreeMap<CandidateId, (String, String)>,
    debian_seen: BTreeSet<DebianDist>,
    /// Python packages by distribution name (extras included), for packages below `indexed_upto`.
    by_base: std::collections::HashMap<String, Vec<PackageId>>,
    indexed_upto: usize,
    /// Metadata rounds run so far (for reports and tests).
    pub rounds: usize,
    /// Metadata files read so far.
    pub reads: usize,
    /// A previous lock's Python versions to stay closest to (`lock --previous`).
    reference: Option<BTreeMap<PackageKey, String>>,
}

impl<'s> PyResolver<'s> {
    /// A resolver over `u` as the index built it; `source` reads what is missing (none: the universe is all there is).
    pub fn new(u: &Universe, source: Option<&'s dyn MetadataSource>) -> PyResolver<'s> {
        let mut loaded = HashSet::new();
        for pid in u.package_ids() {
            let k = u.key(pid);
            if k.ecosystem == Ecosystem::Py && !u.candidates_of(pid).is_empty() {
                loaded.insert((k.domain.clone(), k.name.clone()));
            }
        }
        PyResolver {
            source,
            envs: BTreeMap::new(),
            loaded,
            histories: BTreeMap::new(),
            unreadable: BTreeMap::new(),
            debian_only: BTreeMap::new(),
            debian_seen: BTreeSet::new(),
            by_base: Default::default(),
            indexed_upto: 0,
            rounds: 0,
            reads: 0,
            reference: None,
        }
    }

    /// Prefers the Python versions of `reference` (a previous lock) where the
    /// requirements allow them, as SONiC's version files keep a pin until an
    /// upgrade; other packages keep pip's newest-first order.
    pub fn set_reference(&mut self, reference: Option<&BTreeMap<PackageKey, String>>) {
        self.reference = reference.map(|r| {
            r.iter()
                .filter(|(k, _)| k.ecosystem == Ecosystem::Py)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        });
    }

    fn env(&mut self, domain: &str) -> Result<PythonEnv, UniverseError> {
        if let Some(e) = self.envs.get(domain) {
            return Ok(e.clone());
        }
        let e = env_for_domain(domain)?;
        self.envs.insert(domain.to_string(), e.clone());
        Ok(e)
    }

    /// Adds the index versions of `name` to `domain`, fetching its history once.
    fn load(&mut self, u: &mut Universe, domain: &str, name: &str) -> Result<(), UniverseError> {
        if !self.loaded.insert((domain.to_string(), name.to_string())) {
            return Ok(());
        }
        let Some(src) = self.source else {
            return Ok(());
        };
        if !self.histories.contains_key(name) {
            let h = src.py_history(name).ok();
            self.histories.insert(name.to_string(), h);
        }
        let Some(Some(h)) = self.histories.get(name).cloned() else {
            return Ok(());
        };
        let env = self.env(domain)?;
        for v in &h.versions {
            let reqs: Vec<&str> = v.requires.iter().flatten().map(String::as_str).collect();
            let meta = CandidateMeta {
                url: v.url.clone(),
                sha256: v.sha256.clone(),
                first_seen: v.published.clone(),
                provenance: Some(format!(
                    "pypi {name}=={} (uploaded {})",
                    v.version,
                    v.published.as_deref().unwrap_or("?")
                )),
                requires_unknown: v.requires.is_none(),
                ..Default::default()
            };
            // A malformed release is left out, as pip would fail on it too.
            let _ = crate::universe::python::add_distribution(
                u,
                &env,
                name,
                &v.version,
                &reqs,
                v.requires_python.as_deref(),
                &[],
                meta,
            );
        }
        Ok(())
    }

    /// Makes `name[extras]` mirror every candidate of `name` in its domain.
    fn mirror_extras(
        &mut self,
        u: &mut Universe,
        pid: PackageId,
        base: &str,
        extras: &[&str],
    ) -> Result<(), UniverseError> {
        let domain = u.key(pid).domain.clone();
        let env = self.env(&domain)?;
        let Some(bid) = u.lookup_name(Ecosystem::Py, &domain, base) else {
            return Ok(());
        };
        let base_cands: Vec<CandidateId> = u.candidates_of(bid).to_vec();
        for bc in base_cands {
            let cand = u.candidate(bc);
            if u.find_version(pid, &cand.version).is_some() {
                continue;
            }
            let version = cand.version.clone();
            let mut meta = cand.meta.clone();
            let lines: Vec<String> = meta.requires_dist.clone();
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let origin = meta
                .provenance
                .clone()
                .unwrap_or_else(|| format!("{base}=={version}"));
            let deps = extra_requirements(u, &env, base, &version, extras, &lines, &origin)?;
            meta.requires_dist.clear();
            u.add_candidate(pid, &version, meta, deps, vec![], vec![])?;
        }
        Ok(())
    }

    /// Loads every name reachable from `roots` through requirements already read;
    /// the histories of each wave of new names are fetched in parallel.
    fn expand(&mut self, u: &mut Universe, roots: &[Requirement]) -> Result<(), UniverseError> {
        loop {
            let missing = self.expand_once(u, roots)?;
            let Some(src) = self.source else {
                return Ok(());
            };
            if missing.is_empty() {
                return Ok(());
            }
            let fetched: Vec<(String, Option<History>)> = missing
                .into_par_iter()
                .map(|n| {
                    let h = src.py_history(&n).ok();
                    (n, h)
                })
                .collect();
            self.histories.extend(fetched);
        }
    }

    /// One pass of [`PyResolver::expand`]: loads what needs no fetch, returns the names whose history is missing.
    fn expand_once(
        &mut self,
        u: &mut Universe,
        roots: &[Requirement],
    ) -> Result<BTreeSet<String>, UniverseError> {
        let mut missing = BTreeSet::new();
        let mut stack: Vec<PackageId> = roots
            .iter()
            .flat_map(|r| r.alternatives.iter().map(|a| a.package))
            .collect();
        let mut seen: HashSet<PackageId> = HashSet::new();
        while let Some(pid) = stack.pop() {
            if !seen.insert(pid) {
                continue;
            }
            let key = u.key(pid).clone();
            if key.ecosystem != Ecosystem::Py || key.name == "python" {
                continue;
            }
            let (base, extras) = split_extras(&key.name);
            let base = base.to_string();
            if self.source.is_some()
                && !self.histories.contains_key(&base)
                && !self.loaded.contains(&(key.domain.clone(), base.clone()))
            {
                missing.insert(base);
                continue;
            }
            self.load(u, &key.domain, &base)?;
            if !extras.is_empty() {
                let extras: Vec<String> = extras.iter().map(|s| s.to_string()).collect();
                let extras: Vec<&str> = extras.iter().map(String::as_str).collect();
                self.mirror_extras(u, pid, &base, &extras)?;
                if let Some(b) = u.lookup_name(Ecosystem::Py, &key.domain, &base) {
                    stack.push(b);
                }
            }
            for &c in u.candidates_of(pid) {
                for r in &u.candidate(c).depends {
                    stack.extend(r.alternatives.iter().map(|a| a.package));
                }
            }
        }
        Ok(missing)
    }

    /// Reads the metadata of the unread picks; returns how many were read.
    fn read_metadata(
        &mut self,
        u: &mut Universe,
        picks: &[CandidateId],
    ) -> Result<usize, UniverseError> {
        // One read per (name, version), whatever the domain or extras.
        let mut wanted: BTreeMap<(String, String), Vec<CandidateId>> = BTreeMap::new();
        for &c in picks {
            let cand = u.candidate(c);
            if !cand.meta.requires_unknown || self.unreadable.contains_key(&c) {
                continue;
            }
            let (base, _) = split_extras(&u.key(cand.package).name);
            wanted
                .entry((base.to_string(), cand.version.clone()))
                .or_default()
                .push(c);
        }
        let Some(src) = self.source else {
            for cs in wanted.values() {
                for &c in cs {
                    self.unreadable
                        .insert(c, "no metadata source (universe only)".into());
                }
            }
            return Ok(0);
        };
        let results: Vec<((String, String), Result<ReleaseMetadata, MetadataError>)> = wanted
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|(n, v)| {
                let r = src.py_metadata(&n, &v);
                ((n, v), r)
            })
            .collect();
        let mut read = 0;
        for ((name, version), r) in results {
            let cands = wanted
                .remove(&(name.clone(), version.clone()))
                .unwrap_or_default();
            match r {
                Ok(m) => {
                    read += 1;
                    self.apply_metadata(u, &name, &version, &m)?;
                }
                Err(e) => {
                    for c in cands {
                        self.unreadable.insert(c, e.to_string());
                    }
                }
            }
        }
        self.reads += read;
        Ok(read)
    }

    /// Sets the requirements of `name==version` (and of its extras) in every loaded domain.
    fn apply_metadata(
        &mut self,
        u: &mut Universe,
        name: &str,
        version: &str,
        m: &ReleaseMetadata,
    ) -> Result<(), UniverseError> {
        let lines: Vec<&str> = m.requires_dist.iter().map(String::as_str).collect();
        let origin = m.from.clone();
        for p in (self.indexed_upto..u.package_count()).map(|i| PackageId(i as u32)) {
            let k = u.key(p);
            if k.ecosystem == Ecosystem::Py {
                self.by_base
                    .entry(split_extras(&k.name).0.to_string())
                    .or_default()
                    .push(p);
            }
        }
        self.indexed_upto = u.package_count();
        let pids: Vec<PackageId> = self.by_base.get(name).cloned().unwrap_or_default();
        for pid in pids {
            let Some(c) = u.find_version(pid, version) else {
                continue;
            };
            if !u.candidate(c).meta.requires_unknown {
                continue;
            }
            let key = u.key(pid).clone();
            let env = self.env(&key.domain)?;
            let (_, extras) = split_extras(&key.name);
            let extras: Vec<String> = extras.iter().map(|s| s.to_string()).collect();
            let extras: Vec<&str> = extras.iter().map(String::as_str).collect();
            let deps = if extras.is_empty() {
                base_requirements(u, &env, &lines, m.requires_python.as_deref(), &origin)?
            } else {
                extra_requirements(u, &env, name, version, &extras, &lines, &origin)?
            };
            u.set_depends(c, deps)?;
            let meta = u.meta_mut(c);
            if extras.is_empty() {
                meta.requires_dist = m.requires_dist.clone();
            }
            if let Some(p) = &mut meta.provenance {
                p.push_str(&format!("; metadata {origin}"));
            }
        }
        Ok(())
    }

    /// Adds the image's Debian stand-ins reachable from `roots`; returns them (to keep).
    fn add_debian(
        &mut self,
        u: &mut Universe,
        dists: &[DebianDist],
    ) -> Result<Vec<CandidateId>, UniverseError> {
        let mut keep = Vec::new();
        for d in dists {
            // Debian names a module's package after its import name (`python3-yaml`
            // ships PyYAML): the distribution is the first of `yaml`, `pyyaml`,
            // `python-yaml` the search reaches. Only reached names count, so their
            // PyPI versions are loaded first and a Debian version equal to a release
            // is that release.
            let Some(dist) = d
                .names()
                .into_iter()
                .find(|n| self.loaded.contains(&(d.domain.clone(), n.clone())))
            else {
                continue;
            };
            let d = &DebianDist { dist, ..d.clone() };
            let env = self.env(&d.domain)?;
            let before = u.candidate_count();
            let Some(c) = add_debian_provided(u, &env, &d.dist, &d.package, &d.version)? else {
                continue;
            };
            if c.0 as usize >= before {
                self.debian_only
                    .insert(c, (d.package.clone(), d.version.clone()));
            }
            self.debian_seen.insert(d.clone());
            keep.push(c);
        }
        Ok(keep)
    }

    /// Solves one image's Python roots (all its interpreters in one problem).
    /// `debian` are the image's Debian stand-ins (pip keeps them unless forced).
    pub fn solve_image(
        &mut self,
        u: &mut Universe,
        roots: &[Requirement],
        debian: &[DebianDist],
        nogoods: &[Nogood],
    ) -> Result<Result<PyOutcome, Unsat>, UniverseError> {
        self.solve_image_assuming(u, roots, debian, nogoods, &[])
    }

    /// Like [`PyResolver::solve_image`], with `assume` chosen as well (`why-not`).
    pub fn solve_image_assuming(
        &mut self,
        u: &mut Universe,
        roots: &[Requirement],
        debian: &[DebianDist],
        nogoods: &[Nogood],
        assume: &[CandidateId],
    ) -> Result<Result<PyOutcome, Unsat>, UniverseError> {
        self.solve_on(u, roots, debian, nogoods, assume, &[])
    }

    /// Like [`PyResolver::solve_image`] on top of what pip already installed
    /// (`installed`, a previous outcome's candidates): as `pip install` does,
    /// each stays unless a requirement forces another version.
    pub fn solve_image_over(
        &mut self,
        u: &mut Universe,
        roots: &[Requirement],
        debian: &[DebianDist],
        nogoods: &[Nogood],
        installed: &[CandidateId],
    ) -> Result<Result<PyOutcome, Unsat>, UniverseError> {
        self.solve_on(u, roots, debian, nogoods, &[], installed)
    }

    /// The candidates standing for the image's Debian stand-ins `debian`
    /// among the names solves have reached so far.
    pub fn debian_installed(
        &mut self,
        u: &mut Universe,
        debian: &[DebianDist],
    ) -> Result<Vec<CandidateId>, UniverseError> {
        self.add_debian(u, debian)
    }

    fn solve_on(
        &mut self,
        u: &mut Universe,
        roots: &[Requirement],
        debian: &[DebianDist],
        nogoods: &[Nogood],
        assume: &[CandidateId],
        installed: &[CandidateId],
    ) -> Result<Result<PyOutcome, Unsat>, UniverseError> {
        // What is assumed must be judged by its real requirements.
        self.read_metadata(u, assume)?;
        let mut roots = roots.to_vec();
        for &c in assume {
            let p = u.candidate(c).package;
            roots.push(
                Requirement::single(
                    p,
                    VersionConstraint::Specifiers(format!("=={}", u.candidate(c).version)),
                )
                .with_kind(crate::universe::RelationKind::Root)
                .with_origin("the question"),
            );
        }
        let roots = &roots[..];
        loop {
            self.rounds += 1;
            self.expand(u, roots)?;
            let mut keep = self.add_debian(u, debian)?;
            let mine: HashSet<CandidateId> = keep.iter().copied().collect();
            keep.extend_from_slice(installed);
            let result = {
                let mut s = Solver::new(u, roots.to_vec());
                for n in nogoods {
                    s.add_nogood(n.clone());
                }
                // Debian stand-ins of other images are not installed here.
                for (&c, (pkg, ver)) in &self.debian_only {
                    if !mine.contains(&c) {
                        let k = u.key(u.candidate(c).package).clone();
                        s.add_nogood(Nogood::new(
                            vec![(k, u.candidate(c).version.clone())],
                            format!("only the Debian package {pkg}={ver} provides it, and this image does not install it"),
                        ));
                    }
                }
                // pip resolves what it is asked for first, newest first, and
                // upgrades an installed distribution only when that needs it.
                let mut soft = newest_requested(u, roots, &keep, self.reference.as_ref());
                soft.extend_from_slice(&keep);
                s.set_keep(soft);
                if let Some(r) = &self.reference {
                    s.set_preference(super::Preference::Closest(r.clone()));
                }
                s.solve()
            };
            let sol = match result {
                Ok(sol) => sol,
                Err(unsat) => return Ok(Err(unsat)),
            };
            let unread: Vec<CandidateId> = sol
                .candidates
                .iter()
                .copied()
                .filter(|&c| {
                    u.candidate(c).meta.requires_unknown && !self.unreadable.contains_key(&c)
                })
                .collect();
            if unread.is_empty() {
                return Ok(Ok(self.outcome(u, roots, sol)));
            }
            self.read_metadata(u, &unread)?;
        }
    }

    fn outcome(&self, u: &Universe, roots: &[Requirement], sol: Solution) -> PyOutcome {
        let mut picks = BTreeMap::new();
        let mut dependents: BTreeMap<PackageKey, BTreeSet<String>> = BTreeMap::new();
        let mut why: BTreeMap<PackageKey, BTreeSet<String>> = BTreeMap::new();
        let mut notes = Vec::new();
        let chosen: HashSet<CandidateId> = sol.candidates.iter().copied().collect();
        let is_dist = |k: &PackageKey| {
            k.ecosystem == Ecosystem::Py && k.name != "python" && !k.name.contains('[')
        };
        let mut buf = Vec::new();
        // The distribution a (possibly extras) package stands for.
        let dist_key =
            |k: &PackageKey| PackageKey::new(k.ecosystem, &k.domain, split_extras(&k.name).0);
        for r in roots {
            for a in &r.alternatives {
                let k = dist_key(u.key(a.package));
                if let Some(o) = &r.origin {
                    why.entry(k).or_default().insert(o.clone());
                }
            }
        }
        for &c in &sol.candidates {
            let cand = u.candidate(c);
            let k = u.key(cand.package);
            if is_dist(k) {
                picks.insert(k.clone(), cand.version.clone());
                if let Some(e) = self.unreadable.get(&c) {
                    notes.push(format!(
                        "py {}=={} [{}]: Requires-Dist not read ({e}); taken without its requirements",
                        k.name, cand.version, k.domain
                    ));
                }
                if let Some((pkg, ver)) = self.debian_only.get(&c) {
                    notes.push(format!(
                        "py {}=={} [{}] is the Debian package {pkg}={ver}",
                        k.name, cand.version, k.domain
                    ));
                }
            }
            let from = split_extras(&k.name).0.to_string();
            for r in &cand.depends {
                for a in &r.alternatives {
                    buf.clear();
                    u.matching(a, &mut buf);
                    for d in buf.iter().filter(|d| chosen.contains(d)) {
                        let dk = dist_key(u.key(u.candidate(*d).package));
                        if is_dist(&dk) && dk.name != from {
                            dependents.entry(dk).or_default().insert(from.clone());
                        }
                    }
                }
            }
        }
        notes.sort();
        notes.dedup();
        PyOutcome {
            solution: sol,
            picks,
            dependents,
            why,
            notes,
        }
    }
}

/// Whether a constraint text is a valid PEP 440 specifier set.
pub fn valid_specifiers(spec: &str) -> bool {
    spec.parse::<pep440_rs::VersionSpecifiers>().is_ok()
}

/// A root requirement on a distribution (possibly with extras) in a domain.
pub fn root(
    u: &mut Universe,
    domain: &str,
    name: &str,
    extras: &[String],
    constraint: VersionConstraint,
    origin: &str,
) -> Requirement {
    let mut ex: Vec<&str> = extras.iter().map(String::as_str).collect();
    ex.sort_unstable();
    ex.dedup();
    let target = if ex.is_empty() {
        name.to_string()
    } else {
        format!("{name}[{}]", ex.join(","))
    };
    let pid = u.intern(PackageKey::new(Ecosystem::Py, domain, &target));
    Requirement::single(pid, constraint)
        .with_kind(crate::universe::RelationKind::Root)
        .with_origin(origin)
}

/// On top of installed distributions (`installed`), the version pip takes
/// for each requested name it does not have yet: the `reference` version when
/// the request allows it, else the newest release (not a pre-release when a
/// final one will do) that the request allows. Empty when nothing is
/// installed: the solver's own order is then pip's.
fn newest_requested(
    u: &Universe,
    roots: &[Requirement],
    installed: &[CandidateId],
    reference: Option<&BTreeMap<PackageKey, String>>,
) -> Vec<CandidateId> {
    if installed.is_empty() {
        return Vec::new();
    }
    let have: HashSet<PackageId> = installed.iter().map(|&c| u.candidate(c).package).collect();
    let mut out = Vec::new();
    let mut matching = Vec::new();
    for r in roots {
        let Some(alt) = r.alternatives.first() else {
            continue;
        };
        if have.contains(&alt.package) {
            continue;
        }
        matching.clear();
        u.matching(alt, &mut matching);
        let is_pre = |c: &CandidateId| super::is_prerelease(&u.candidate(*c).version);
        let wanted = reference.and_then(|r| r.get(u.key(alt.package)));
        let own = |c: &&CandidateId| u.candidate(**c).package == alt.package;
        let pick = wanted
            .and_then(|w| {
                matching.iter().filter(own).find(|c| {
                    u.scheme(alt.package)
                        .compare(&u.candidate(**c).version, w)
                        .is_eq()
                })
            })
            .or_else(|| matching.iter().filter(own).find(|c| !is_pre(c)))
            .or_else(|| matching.first());
        if let Some(&c) = pick
            && !out.contains(&c)
        {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::universe::history::VersionAt;
    use std::sync::Mutex;

    type Release = (&'static str, Vec<&'static str>, Option<&'static str>);

    /// An index in memory: name -> [(version, requires-dist, requires-python)].
    struct Table {
        rel: BTreeMap<&'static str, Vec<Release>>,
        asked: Mutex<Vec<String>>,
    }

    impl MetadataSource for Table {
        fn py_history(&self, name: &str) -> Result<History, MetadataError> {
            let v = self
                .rel
                .get(name)
                .ok_or_else(|| MetadataError::NotFound("404".into()))?;
            Ok(History {
                ecosystem: Ecosystem::Py,
                name: name.into(),
                versions: v
                    .iter()
                    .map(|(ver, _, rp)| VersionAt {
                        version: ver.to_string(),
                        published: None,
                        url: None,
                        sha256: None,
                        requires: None,
                        requires_python: rp.map(String::from),
                    })
                    .collect(),
                later: 0,
                notes: vec![],
            })
        }
        fn py_metadata(&self, name: &str, version: &str) -> Result<ReleaseMetadata, MetadataError> {
            self.asked
                .lock()
                .unwrap()
                .push(format!("{name}=={version}"));
            let (_, rd, rp) = self
                .rel
                .get(name)
                .and_then(|v| v.iter().find(|x| x.0 == version))
                .ok_or_else(|| MetadataError::NotFound("404".into()))?;
            Ok(ReleaseMetadata {
                requires_dist: rd.iter().map(|s| s.to_string()).collect(),
                requires_python: rp.map(String::from),
                from: format!("{name}-{version}.whl.metadata"),
            })
        }
        fn go_requires(&self, _: &str, _: &str) -> Result<Vec<(String, String)>, MetadataError> {
            Err(MetadataError::NotFound("no go".into()))
        }
    }

    fn table() -> Table {
        let mut rel = BTreeMap::new();
        rel.insert(
            "foo",
            vec![
                ("1.0", vec!["bar"], None),
                (
                    "2.0",
                    vec!["bar<2", "baz[fast]>=1; python_version >= '3'"],
                    None,
                ),
            ],
        );
        rel.insert(
            "bar",
            vec![
                ("1.0", vec![], None),
                ("1.5", vec!["qux"], Some(">=3.10")),
                ("2.0", vec![], None),
            ],
        );
        rel.insert("baz", vec![("1.0", vec!["speed; extra == 'fast'"], None)]);
        rel.insert("speed", vec![("0.1", vec![], None)]);
        rel.insert("qux", vec![("1", vec![], None)]);
        rel.insert(
            "dock",
            vec![("5.0", vec!["req>=1"], None), ("6.0", vec!["req>=2"], None)],
        );
        rel.insert(
            "req",
            vec![
                ("1.0", vec![], None),
                ("2.0", vec![], None),
                ("3.0rc1", vec![], None),
            ],
        );
        Table {
            rel,
            asked: Mutex::new(vec![]),
        }
    }

    fn roots(u: &mut Universe, domain: &str, name: &str, spec: &str) -> Vec<Requirement> {
        let c = if spec.is_empty() {
            VersionConstraint::Any
        } else {
            VersionConstraint::Specifiers(spec.into())
        };
        vec![root(u, domain, name, &[], c, "Dockerfile:3")]
    }

    fn names(o: &PyOutcome) -> Vec<(String, String)> {
        o.picks
            .iter()
            .map(|(k, v)| (k.name.clone(), v.clone()))
            .collect()
    }

    #[test]
    fn transitive_requirements_are_read_for_the_picks_only() {
        let t = table();
        let mut u = Universe::new();
        let mut r = PyResolver::new(&u, Some(&t));
        let rs = roots(&mut u, "py3", "foo", "");
        let o = r.solve_image(&mut u, &rs, &[], &[]).unwrap().unwrap();
        // foo 2.0 wants bar<2; bar 1.5 needs Python >= 3.10, so bar 1.0; baz[fast] brings speed.
        assert_eq!(
            names(&o),
            vec![
                ("bar".into(), "1.0".into()),
                ("baz".into(), "1.0".into()),
                ("foo".into(), "2.0".into()),
                ("speed".into(), "0.1".into()),
            ]
        );
        let asked = t.asked.lock().unwrap().clone();
        assert!(!asked.contains(&"foo==1.0".to_string()), "{asked:?}");
        assert!(!asked.contains(&"bar==2.0".to_string()), "{asked:?}");
        let bar = PackageKey::new(Ecosystem::Py, "py3", "bar");
        assert_eq!(o.dependents[&bar].iter().collect::<Vec<_>>(), vec!["foo"]);
        assert!(o.why[&PackageKey::new(Ecosystem::Py, "py3", "foo")].contains("Dockerfile:3"));
    }

    #[test]
    fn python_2_markers_drop_requirements() {
        let t = table();
        let mut u = Universe::new();
        let mut r = PyResolver::new(&u, Some(&t));
        let rs = roots(&mut u, "py2", "foo", "");
        let o = r.solve_image(&mut u, &rs, &[], &[]).unwrap().unwrap();
        // On 2.7 baz is not required, and bar 1.5's Requires-Python excludes it.
        assert_eq!(
            names(&o),
            vec![("bar".into(), "1.0".into()), ("foo".into(), "2.0".into())]
        );
    }

    #[test]
    fn an_exact_pin_against_a_requirement_is_an_explained_conflict() {
        let t = table();
        let mut u = Universe::new();
        let mut r = PyResolver::new(&u, Some(&t));
        let mut rs = roots(&mut u, "py3", "foo", "==2.0");
        let bar = root(
            &mut u,
            "py3",
            "bar",
            &[],
            VersionConstraint::Specifiers("==2.0".into()),
            "files/constraints.txt:7",
        );
        rs.push(bar);
        let e = r.solve_image(&mut u, &rs, &[], &[]).unwrap().unwrap_err();
        let text = e.explain();
        assert!(text.contains("files/constraints.txt:7"), "{text}");
        assert!(text.contains("Dockerfile:3"), "{text}");
        assert!(text.contains("bar"), "{text}");
    }

    #[test]
    fn a_debian_package_is_kept_and_is_only_in_its_image() {
        let t = table();
        let mut u = Universe::new();
        let mut r = PyResolver::new(&u, Some(&t));
        let rs = roots(&mut u, "py3", "qux", "");
        let deb = vec![DebianDist {
            domain: "py3".into(),
            dist: "qux".into(),
            package: "python3-qux".into(),
            version: "0.9-2".into(),
        }];
        let o = r.solve_image(&mut u, &rs, &deb, &[]).unwrap().unwrap();
        assert_eq!(names(&o), vec![("qux".into(), "0.9".into())]);
        assert!(
            o.notes.iter().any(|n| n.contains("python3-qux")),
            "{:?}",
            o.notes
        );
        // Another image without the Debian package gets the PyPI release.
        let o = r.solve_image(&mut u, &rs, &[], &[]).unwrap().unwrap();
        assert_eq!(names(&o), vec![("qux".into(), "1".into())]);
        // A constraint forces pip past the Debian version.
        let forced = roots(&mut u, "py3", "qux", ">=1");
        let o = r.solve_image(&mut u, &forced, &deb, &[]).unwrap().unwrap();
        assert_eq!(names(&o), vec![("qux".into(), "1".into())]);
        // On top of an earlier install, what is installed stays unless forced.
        let installed = o.solution.candidates.clone();
        let o = r
            .solve_image_over(&mut u, &rs, &[], &[], &installed)
            .unwrap()
            .unwrap();
        assert_eq!(names(&o), vec![("qux".into(), "1".into())]);
        // `python3-dbus` installs dbus-python.
        let dbus = DebianDist {
            dist: "dbus".into(),
            ..deb[0].clone()
        };
        assert!(dbus.names().contains(&"dbus-python".to_string()));
    }

    #[test]
    fn over_an_install_pip_takes_the_newest_requested_and_upgrades_what_it_needs() {
        let t = table();
        let mut u = Universe::new();
        let mut r = PyResolver::new(&u, Some(&t));
        let old = roots(&mut u, "py3", "req", "<2");
        let installed = r.solve_image(&mut u, &old, &[], &[]).unwrap().unwrap();
        assert_eq!(names(&installed), vec![("req".into(), "1.0".into())]);
        let installed = installed.solution.candidates.clone();
        // `pip install dock`: dock 6.0 needs req>=2, so pip upgrades req
        // (to its newest final release) rather than take an older dock.
        let rs = roots(&mut u, "py3", "dock", "");
        let o = r
            .solve_image_over(&mut u, &rs, &[], &[], &installed)
            .unwrap()
            .unwrap();
        assert_eq!(
            names(&o),
            vec![("dock".into(), "6.0".into()), ("req".into(), "2.0".into())]
        );
        // Asked for what is installed, pip keeps it.
        let again = roots(&mut u, "py3", "req", "");
        let o = r
            .solve_image_over(&mut u, &again, &[], &[], &installed)
            .unwrap()
            .unwrap();
        assert_eq!(names(&o), vec![("req".into(), "1.0".into())]);
    }

    #[test]
    fn a_previous_locks_versions_are_kept_where_the_requirements_allow() {
        let t = table();
        let key = |n: &str| PackageKey::new(Ecosystem::Py, "py3", n);
        let solve = |reference: &[(&str, &str)]| {
            let mut u = Universe::new();
            let mut r = PyResolver::new(&u, Some(&t));
            let refs: BTreeMap<PackageKey, String> = reference
                .iter()
                .map(|(n, v)| (key(n), v.to_string()))
                .collect();
            r.set_reference(Some(&refs));
            let rs = roots(&mut u, "py3", "dock", "");
            names(&r.solve_image(&mut u, &rs, &[], &[]).unwrap().unwrap())
        };
        // Both kept, though dock 6.0 and req 2.0 are newer.
        assert_eq!(
            solve(&[("dock", "5.0"), ("req", "1.0")]),
            vec![("dock".into(), "5.0".into()), ("req".into(), "1.0".into())]
        );
        // dock is not in the reference, so pip's newest; it needs req>=2, so the
        // smallest upgrade of req, and a final release before a pre-release.
        assert_eq!(
            solve(&[("req", "1.0")]),
            vec![("dock".into(), "6.0".into()), ("req".into(), "2.0".into())]
        );
        assert_eq!(
            solve(&[("req", "2.5")]),
            vec![("dock".into(), "6.0".into()), ("req".into(), "2.0".into())]
        );
        // Over an install, a requested name takes the reference version.
        let mut u = Universe::new();
        let mut r = PyResolver::new(&u, Some(&t));
        let old = roots(&mut u, "py3", "bar", "==1.0");
        let installed = r.solve_image(&mut u, &old, &[], &[]).unwrap().unwrap();
        let refs: BTreeMap<PackageKey, String> = [(key("req"), "1.0".to_string())].into();
        r.set_reference(Some(&refs));
        let rs = roots(&mut u, "py3", "req", "");
        let o = r
            .solve_image_over(&mut u, &rs, &[], &[], &installed.solution.candidates)
            .unwrap()
            .unwrap();
        assert_eq!(
            names(&o),
            vec![("bar".into(), "1.0".into()), ("req".into(), "1.0".into())]
        );
    }

    #[test]
    fn without_a_source_unread_picks_are_reported() {
        let t = table();
        let mut u = Universe::new();
        {
            let mut r = PyResolver::new(&u, Some(&t));
            let rs = roots(&mut u, "py3", "bar", "");
            // Loads bar's history (unread) then reads bar 2.0.
            r.solve_image(&mut u, &rs, &[], &[]).unwrap().unwrap();
        }
        let mut r = PyResolver::new(&u, None);
        let rs = roots(&mut u, "py3", "bar", "<2");
        let o = r.solve_image(&mut u, &rs, &[], &[]).unwrap().unwrap();
        // 1.5's Requires-Python (from the index listing) rules it out even unread.
        assert_eq!(names(&o), vec![("bar".into(), "1.0".into())]);
        assert!(
            o.notes.iter().any(|n| n.contains("not read")),
            "{:?}",
            o.notes
        );
    }
}
