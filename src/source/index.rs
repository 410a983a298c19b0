//! The index stage: for every dependency of a manifest, what existed at the
//! cutoff, from every source at once; Debian suites are handed to the caller
//! (which loads them into the universe) as they arrive.

use crate::date::Cutoff;
use crate::manifest::{Constraint, Dependency, Ecosystem, Manifest};
use crate::source::debian::archive::{
    IndexKind, Location, SuiteIndex, SuiteReport, SuiteSpec, fetch_suite,
};
use crate::source::debian::release::Keyring;
use crate::source::docker::{DockerPin, DockerRegistry, declared_reference};
use crate::source::git::GitSource;
use crate::source::go::GoProxy;
use crate::source::http::Http;
use crate::source::pypi::PyPi;
use crate::source::web::{WebConfig, WebPin};
use crate::source::{History, SourceError, VersionSource};
use crate::universe::python::normalize;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::str::FromStr;
use std::sync::Arc;

/// Schema version of the index report.
pub const INDEX_SCHEMA_VERSION: u32 = 1;

/// Every client the index stage uses.
pub struct Sources {
    /// HTTP layer and cache.
    pub http: Arc<Http>,
    /// Where Debian suites are read.
    pub debian: Location,
    /// snapshot.debian.org base for `/mr/` and pool URL pinning.
    pub snapshot: String,
    /// Keyring for InRelease signatures.
    pub keyring: Option<Keyring>,
    /// PyPI.
    pub pypi: PyPi,
    /// Go proxy.
    pub go: GoProxy,
    /// git clones.
    pub git: GitSource,
    /// Web pinning configuration.
    pub web: WebConfig,
    /// Container registries (base images).
    pub docker: DockerRegistry,
}

/// Per-ecosystem counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EcoCount {
    /// Dependencies in the manifest.
    pub dependencies: usize,
    /// Distinct names asked.
    pub names: usize,
    /// Candidate versions that existed at the cutoff (for Debian: index entries read).
    pub versions: usize,
    /// Dependencies with no version at the cutoff.
    pub missing: usize,
}

/// A dependency for which nothing existed at the cutoff (or that could not be checked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    /// Ecosystem.
    pub ecosystem: Ecosystem,
    /// Name as declared.
    pub name: String,
    /// Constraint as declared.
    pub constraint: Constraint,
    /// Where it was declared.
    pub origin: String,
    /// Why nothing matches, or the error met.
    pub reason: String,
}

/// A git dependency resolved at the cutoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GitPin {
    /// Repository URL.
    pub url: String,
    /// Branch, tag or commit as declared.
    pub reference: String,
    /// The commit at the cutoff.
    pub commit: String,
    /// Its committer date.
    pub date: String,
    /// How it was found.
    pub note: String,
}

/// What `index` found.
#[derive(Debug, Clone, Serialize)]
pub struct IndexReport {
    /// [`INDEX_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Platform of the manifest.
    pub platform: String,
    /// The cutoff, RFC 3339.
    pub cutoff: String,
    /// Debian suites read, with snapshot timestamps and signature status.
    pub suites: Vec<SuiteReport>,
    /// Counts per ecosystem.
    pub counts: BTreeMap<Ecosystem, EcoCount>,
    /// Dependencies with no version at the cutoff, sorted.
    pub missing: Vec<Missing>,
    /// Version histories of the PyPI and Go names.
    pub histories: Vec<History>,
    /// git pins.
    pub git: Vec<GitPin>,
    /// web pins.
    pub web: Vec<WebPin>,
    /// Base images resolved to per-architecture digests as of the cutoff.
    pub docker: Vec<DockerPin>,
    /// Docker references that could not be asked for (not expanded by the crawler), by name.
    pub not_indexed: Vec<String>,
}

/// The Debian suites a manifest needs: the standard four for every `context.suite` it mentions.
pub fn suites_for(manifest: &Manifest, arch: &str) -> Result<Vec<SuiteSpec>, SourceError> {
    let dists: BTreeSet<&str> = manifest
        .dependencies
        .iter()
        .filter(|d| matches!(d.ecosystem, Ecosystem::Deb | Ecosystem::DebSrc))
        .filter_map(|d| d.context.suite.as_deref())
        .collect();
    let mut out = Vec::new();
    for d in dists {
        out.extend(SuiteSpec::standard(d, arch)?);
    }
    Ok(out)
}

/// The base distribution of a suite name (`bullseye-updates` -> `bullseye`, `buster/updates` -> `buster`).
pub fn dist_of(suite: &str) -> &str {
    suite.split(['-', '/']).next().unwrap_or(suite)
}

/// Names (and their versions) found in one distribution's indices.
#[derive(Default)]
struct DebNames {
    binaries: HashMap<String, BTreeSet<String>>,
    sources: HashMap<String, BTreeSet<String>>,
}

/// Reads the `Package`, `Version` and `Provides` names of an index for the
/// missing-dependency report (the universe does the full parse).
fn scan_names(bytes: &[u8], into: &mut HashMap<String, BTreeSet<String>>, provides: bool) -> usize {
    let text = String::from_utf8_lossy(bytes);
    let mut n = 0;
    for stanza in text.split("\n\n") {
        let mut pkg = None;
        let mut ver = None;
        let mut prov = Vec::new();
        for line in stanza.lines() {
            if let Some(v) = line.strip_prefix("Package:") {
                pkg = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("Version:") {
                ver = Some(v.trim().to_string());
            } else if provides && let Some(v) = line.strip_prefix("Provides:") {
                prov.extend(
                    v.split(',')
                        .filter_map(|p| p.split_whitespace().next().map(str::to_string)),
                );
            }
        }
        if let (Some(p), Some(v)) = (pkg, ver) {
            n += 1;
            into.entry(p).or_default().insert(v);
            for p in prov {
                into.entry(p).or_default();
            }
        }
    }
    n
}

fn strip_arch(name: &str) -> &str {
    name.split(':').next().unwrap_or(name)
}

fn unexpanded(name: &str) -> bool {
    name.contains('$') || name.contains("{{") || name.contains("{%")
}

/// Runs the index stage. `on_suite` sees each suite's verified indices (to load them into a universe).
pub fn run(
    src: &Sources,
    manifest: &Manifest,
    cutoff: &Cutoff,
    suites: &[SuiteSpec],
    py_metadata: usize,
    mut on_suite: impl FnMut(&SuiteIndex) -> Result<(), SourceError>,
) -> Result<IndexReport, SourceError> {
    let mut counts: BTreeMap<Ecosystem, EcoCount> = BTreeMap::new();
    for d in &manifest.dependencies {
        counts.entry(d.ecosystem).or_default().dependencies += 1;
    }
    let mut missing = Vec::new();
    let miss = |d: &Dependency, reason: String| Missing {
        ecosystem: d.ecosystem,
        name: d.name.clone(),
        constraint: d.constraint.clone(),
        origin: d.origin.to_string(),
        reason,
    };

    // Debian: all suites in parallel (the HTTP layer bounds each host).
    let fetched: Vec<Result<SuiteIndex, SourceError>> = suites
        .par_iter()
        .map(|s| fetch_suite(&src.http, &src.debian, s, cutoff, src.keyring.as_ref()))
        .collect();
    let mut suite_reports = Vec::new();
    let mut names: BTreeMap<String, DebNames> = BTreeMap::new();
    for r in fetched {
        let si = r?;
        let dn = names
            .entry(dist_of(&si.spec.suite).to_string())
            .or_default();
        for ix in &si.indices {
            let n = match ix.kind {
                IndexKind::Packages => scan_names(&ix.bytes, &mut dn.binaries, true),
                IndexKind::Sources => scan_names(&ix.bytes, &mut dn.sources, false),
            };
            let eco = match ix.kind {
                IndexKind::Packages => Ecosystem::Deb,
                IndexKind::Sources => Ecosystem::DebSrc,
            };
            counts.entry(eco).or_default().versions += n;
        }
        on_suite(&si)?;
        suite_reports.push(si.report());
    }
    let arch = suites
        .first()
        .and_then(|s| s.architectures.first())
        .map(String::as_str)
        .unwrap_or("amd64");
    for eco in [Ecosystem::Deb, Ecosystem::DebSrc] {
        let deps: Vec<&Dependency> = manifest
            .dependencies
            .iter()
            .filter(|d| d.ecosystem == eco)
            .collect();
        let uniq: BTreeSet<&str> = deps.iter().map(|d| strip_arch(&d.name)).collect();
        counts.entry(eco).or_default().names = uniq.len();
        for d in deps {
            let name = strip_arch(&d.name);
            if unexpanded(name) {
                missing.push(miss(d, "name not expanded by the crawler".into()));
                continue;
            }
            let dists: Vec<&DebNames> = match d.context.suite.as_deref() {
                Some(s) => names.get(dist_of(s)).into_iter().collect(),
                None => names.values().collect(),
            };
            if dists.is_empty() {
                missing.push(miss(
                    d,
                    format!(
                        "no suite indexed for {}",
                        d.context.suite.as_deref().unwrap_or("any distribution")
                    ),
                ));
                continue;
            }
            let versions: BTreeSet<&String> = dists
                .iter()
                .filter_map(|n| {
                    if eco == Ecosystem::Deb {
                        n.binaries.get(name)
                    } else {
                        n.sources.get(name)
                    }
                })
                .flatten()
                .collect();
            let known = dists.iter().any(|n| {
                if eco == Ecosystem::Deb {
                    n.binaries.contains_key(name)
                } else {
                    n.sources.contains_key(name)
                }
            });
            match &d.constraint {
                _ if !known => missing.push(miss(d, "not in any index at the cutoff".into())),
                Constraint::Exact(v) if !versions.iter().any(|x| *x == v) => {
                    let mut reason = format!(
                        "version {v} not in the indices at the cutoff (have: {})",
                        join_some(versions.iter().map(|s| s.as_str()))
                    );
                    if eco == Ecosystem::Deb {
                        reason.push_str(&snapshot_history(src, name, v, arch));
                    }
                    missing.push(miss(d, reason))
                }
                _ => {}
            }
        }
    }

    // PyPI and Go: one history per distinct name, in parallel.
    let mut histories = Vec::new();
    for (eco, source) in [
        (Ecosystem::Py, &src.pypi as &dyn VersionSource),
        (Ecosystem::Go, &src.go as &dyn VersionSource),
    ] {
        let deps: Vec<&Dependency> = manifest
            .dependencies
            .iter()
            .filter(|d| d.ecosystem == eco)
            .collect();
        let key = |d: &Dependency| -> String {
            if eco == Ecosystem::Py {
                normalize(&d.name)
            } else {
                d.name.clone()
            }
        };
        let uniq: BTreeSet<String> = deps
            .iter()
            .filter(|d| !unexpanded(&d.name))
            .map(|d| key(d))
            .collect();
        let results: BTreeMap<String, Result<History, String>> = uniq
            .par_iter()
            .map(|n| {
                let mut h = source.history(n, cutoff);
                if eco == Ecosystem::Py && py_metadata > 0 {
                    // Requires-Dist for the newest versions and for every exact pin of this name.
                    let pins: Vec<String> = deps
                        .iter()
                        .filter(|d| key(d) == *n)
                        .filter_map(|d| match &d.constraint {
                            Constraint::Exact(v) => Some(v.clone()),
                            _ => None,
                        })
                        .collect();
                    if let Ok(hist) = h.as_mut()
                        && let Err(e) = src.pypi.enrich(hist, cutoff, py_metadata, &pins)
                    {
                        hist.notes.push(format!("metadata not read: {e}"));
                    }
                }
                (n.clone(), h.map_err(|e| e.to_string()))
            })
            .collect();
        let c = counts.entry(eco).or_default();
        c.names = uniq.len();
        c.versions = results
            .values()
            .filter_map(|r| r.as_ref().ok())
            .map(|h| h.versions.len())
            .sum();
        for d in deps {
            if unexpanded(&d.name) {
                missing.push(miss(d, "name not expanded by the crawler".into()));
                continue;
            }
            match results.get(&key(d)) {
                Some(Ok(h)) => {
                    if let Some(reason) = check_versions(eco, h, &d.constraint) {
                        // Pseudo-versions (and retracted tags) are not in @v/list: ask for their .info.
                        let reason = match (&d.constraint, eco) {
                            (Constraint::Exact(v), Ecosystem::Go) => {
                                match src.go.info(&d.name, v) {
                                    Ok((_, t)) if t.as_str() <= cutoff.rfc3339().as_str() => None,
                                    Ok((_, t)) => {
                                        Some(format!("version {v} is dated {t}, after the cutoff"))
                                    }
                                    Err(e) if e.is_not_found() => Some(reason),
                                    Err(e) => Some(e.to_string()),
                                }
                            }
                            _ => Some(reason),
                        };
                        if let Some(reason) = reason {
                            missing.push(miss(d, reason));
                        }
                    }
                }
                Some(Err(e)) => missing.push(miss(d, e.clone())),
                None => missing.push(miss(d, "not asked".into())),
            }
        }
        histories.extend(results.into_values().filter_map(Result::ok));
    }

    // git: branch or commit at the cutoff.
    let git_deps: Vec<&Dependency> = manifest
        .dependencies
        .iter()
        .filter(|d| d.ecosystem == Ecosystem::Git)
        .collect();
    counts.entry(Ecosystem::Git).or_default().names = git_deps
        .iter()
        .map(|d| &d.name)
        .collect::<BTreeSet<_>>()
        .len();
    let git_res: Vec<(&Dependency, Result<GitPin, String>)> = git_deps
        .par_iter()
        .map(|d| (*d, git_pin(src, d, cutoff).map_err(|e| e.to_string())))
        .collect();
    let mut git = Vec::new();
    for (d, r) in git_res {
        match r {
            Ok(p) => git.push(p),
            Err(e) => missing.push(miss(d, e)),
        }
    }
    counts.entry(Ecosystem::Git).or_default().versions = git.len();

    // web: immutable URL and hashes, also for the source packages that dget fetches
    // by URL (SONiC's web version control sees dget's download like any other).
    let web_deps: Vec<(&Dependency, &str)> = manifest
        .dependencies
        .iter()
        .filter_map(|d| match d.ecosystem {
            Ecosystem::Web => Some((d, d.name.as_str())),
            Ecosystem::DebSrc => d.attrs.get("url").map(|u| (d, u.as_str())),
            _ => None,
        })
        .collect();
    let uniq: BTreeSet<&str> = web_deps
        .iter()
        .map(|(_, u)| *u)
        .filter(|n| !unexpanded(n))
        .collect();
    counts.entry(Ecosystem::Web).or_default().names = uniq.len();
    let pins: BTreeMap<&str, Result<WebPin, String>> = uniq
        .par_iter()
        .map(|u| {
            (
                *u,
                crate::source::web::pin(&src.http, &src.git, &src.web, u, cutoff)
                    .map_err(|e| e.to_string()),
            )
        })
        .collect();
    for (d, u) in &web_deps {
        match pins.get(u) {
            Some(Ok(_)) => {}
            Some(Err(e)) => missing.push(miss(d, e.clone())),
            None => missing.push(miss(d, "URL not expanded by the crawler".into())),
        }
    }
    let web: Vec<WebPin> = pins.into_values().filter_map(Result::ok).collect();
    counts.entry(Ecosystem::Web).or_default().versions = web.len();

    // docker: each declared base image, for the platform's architecture.
    let docker_deps: Vec<&Dependency> = manifest
        .dependencies
        .iter()
        .filter(|d| d.ecosystem == Ecosystem::Docker)
        .collect();
    let mut refs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut not_indexed = BTreeSet::new();
    for d in &docker_deps {
        let r = declared_reference(&d.name, &d.constraint);
        if unexpanded(&r) {
            missing.push(miss(
                d,
                "image reference not expanded by the crawler".into(),
            ));
            not_indexed.insert(r);
            continue;
        }
        refs.entry(r).or_default().insert(d.origin.to_string());
    }
    counts.entry(Ecosystem::Docker).or_default().names = refs.len();
    let resolved: BTreeMap<&String, Result<DockerPin, String>> = refs
        .par_iter()
        .map(|(r, _)| {
            (
                r,
                src.docker.pin(r, arch, cutoff).map_err(|e| e.to_string()),
            )
        })
        .collect();
    let mut docker = Vec::new();
    for d in &docker_deps {
        let r = declared_reference(&d.name, &d.constraint);
        if let Some(Err(e)) = resolved.get(&r) {
            missing.push(miss(d, e.clone()));
        }
    }
    for (r, res) in resolved {
        if let Ok(mut p) = res {
            p.origins = refs
                .get(r)
                .map(|o| o.iter().cloned().collect())
                .unwrap_or_default();
            docker.push(p);
        }
    }
    counts.entry(Ecosystem::Docker).or_default().versions = docker.len();
    let not_indexed: Vec<String> = not_indexed.into_iter().collect();

    for m in &missing {
        counts.entry(m.ecosystem).or_default().missing += 1;
    }
    missing
        .sort_by(|a, b| (a.ecosystem, &a.name, &a.origin).cmp(&(b.ecosystem, &b.name, &b.origin)));
    histories.sort_by(|a, b| (a.ecosystem, &a.name).cmp(&(b.ecosystem, &b.name)));
    git.sort_by(|a, b| (&a.url, &a.reference).cmp(&(&b.url, &b.reference)));
    git.dedup();
    suite_reports.sort_by(|a, b| a.suite.cmp(&b.suite));
    Ok(IndexReport {
        schema_version: INDEX_SCHEMA_VERSION,
        platform: manifest.platform.clone(),
        cutoff: cutoff.rfc3339(),
        suites: suite_reports,
        counts,
        missing,
        histories,
        git,
        web,
        docker,
        not_indexed,
    })
}

/// What snapshot's `/mr/` API knows about a binary version the indices lack (vanished, or not yet there).
fn snapshot_history(src: &Sources, name: &str, version: &str, arch: &str) -> String {
    if !matches!(src.debian, Location::Snapshot { .. }) {
        return String::new();
    }
    let mr = crate::source::debian::mr::Mr::new(&src.http, &src.snapshot);
    let known = match mr.binary_versions(name) {
        Ok(v) => v,
        Err(e) => return format!("; snapshot history unavailable: {e}"),
    };
    if !known.iter().any(|b| b.binary_version == version) {
        return "; snapshot.debian.org never saw this version".into();
    }
    match mr.binary_first_seen(name, version, arch) {
        Ok(Some(ts)) => format!("; snapshot.debian.org first saw it at {ts}"),
        Ok(None) => format!("; snapshot.debian.org has it, but no {arch} file"),
        Err(e) => format!("; snapshot history unavailable: {e}"),
    }
}

fn join_some<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = it.collect();
    if v.is_empty() {
        return "none".into();
    }
    let mut s = v.iter().take(8).copied().collect::<Vec<_>>().join(", ");
    if v.len() > 8 {
        s.push_str(&format!(", ... {} more", v.len() - 8));
    }
    s
}

/// Why no version of `h` satisfies `c`, or `None` when one does.
fn check_versions(eco: Ecosystem, h: &History, c: &Constraint) -> Option<String> {
    if h.versions.is_empty() {
        return Some(format!(
            "no version existed at the cutoff ({} later)",
            h.later
        ));
    }
    match (eco, c) {
        (Ecosystem::Py, Constraint::Exact(v)) => {
            let want = pep440_rs::Version::from_str(v.trim_start_matches("==")).ok();
            let ok = h
                .versions
                .iter()
                .any(|x| pep440_rs::Version::from_str(&x.version).ok() == want && want.is_some());
            (!ok).then(|| format!("version {v} did not exist at the cutoff"))
        }
        (Ecosystem::Py, Constraint::Range(r)) => {
            let Ok(spec) = pep440_rs::VersionSpecifiers::from_str(r) else {
                return Some(format!("bad version range `{r}`"));
            };
            let ok = h
                .versions
                .iter()
                .any(|x| pep440_rs::Version::from_str(&x.version).is_ok_and(|v| spec.contains(&v)));
            (!ok).then(|| format!("no version in `{r}` existed at the cutoff"))
        }
        (Ecosystem::Go, Constraint::Exact(v)) => {
            let ok = h.versions.iter().any(|x| &x.version == v);
            (!ok).then(|| format!("version {v} was not listed at the cutoff"))
        }
        _ => None,
    }
}

fn git_pin(src: &Sources, d: &Dependency, cutoff: &Cutoff) -> Result<GitPin, SourceError> {
    let repo = src.git.repo(&d.name)?;
    match &d.constraint {
        Constraint::Exact(sha) => {
            let oid = git2::Oid::from_str(sha).map_err(|e| SourceError::Git {
                url: d.name.clone(),
                message: format!("bad commit `{sha}`: {}", e.message()),
            })?;
            let c = repo.find_commit(oid).map_err(|_| SourceError::Git {
                url: d.name.clone(),
                message: format!("commit {sha} is not in the repository (force-pushed away?)"),
            })?;
            let t = c.committer().when().seconds();
            let date = chrono::DateTime::from_timestamp(t, 0)
                .map(|x| crate::date::rfc3339(&x))
                .unwrap_or_default();
            if t > cutoff.0.timestamp() {
                return Err(SourceError::Git {
                    url: d.name.clone(),
                    message: format!("commit {sha} is dated {date}, after the cutoff"),
                });
            }
            Ok(GitPin {
                url: d.name.clone(),
                reference: sha.clone(),
                commit: c.id().to_string(),
                date,
                note: "pinned commit".into(),
            })
        }
        // `HEAD` is what a plain `git clone` checks out: the default branch.
        Constraint::Ref(r) if r != "HEAD" => {
            if let Ok(b) = crate::source::git::branch_at(&repo, &d.name, r, cutoff) {
                return Ok(GitPin {
                    url: d.name.clone(),
                    reference: r.clone(),
                    commit: b.commit,
                    date: b.committer_date,
                    note: format!("branch at cutoff; {} skewed ancestor(s)", b.skew.len()),
                });
            }
            let tags = crate::source::git::tags_at(&repo, &d.name, cutoff)?;
            let t = tags
                .into_iter()
                .find(|t| &t.name == r)
                .ok_or_else(|| SourceError::Git {
                    url: d.name.clone(),
                    message: format!("no branch or tag `{r}` existed at {cutoff}"),
                })?;
            Ok(GitPin {
                url: d.name.clone(),
                reference: r.clone(),
                commit: t.commit,
                date: t.date,
                note: "tag".into(),
            })
        }
        Constraint::None | Constraint::Range(_) | Constraint::Ref(_) => {
            let head = repo
                .find_reference("HEAD")
                .ok()
                .and_then(|h| h.symbolic_target().ok().flatten().map(str::to_string));
            let branch = head
                .as_deref()
                .and_then(|h| h.strip_prefix("refs/heads/"))
                .unwrap_or("master")
                .to_string();
            let b = crate::source::git::branch_at(&repo, &d.name, &branch, cutoff)?;
            Ok(GitPin {
                url: d.name.clone(),
                reference: branch,
                commit: b.commit,
                date: b.committer_date,
                note: "default branch at cutoff".into(),
            })
        }
    }
}

/// The sources at one cutoff as the solve's metadata reader: PyPI histories
/// and core metadata of exactly the releases the search picks, and go.mod
/// files from the Go proxy. Everything goes through the cached HTTP layer, so
/// a second solve reads nothing twice.
pub struct LiveMetadata<'a> {
    sources: &'a Sources,
    cutoff: Cutoff,
    versions: std::sync::Mutex<HashMap<String, Arc<Vec<crate::source::pypi::PyVersion>>>>,
}

impl<'a> LiveMetadata<'a> {
    /// A reader over `sources` as of `cutoff`.
    pub fn new(sources: &'a Sources, cutoff: Cutoff) -> LiveMetadata<'a> {
        LiveMetadata {
            sources,
            cutoff,
            versions: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn py_versions(
        &self,
        name: &str,
    ) -> Result<Arc<Vec<crate::source::pypi::PyVersion>>, SourceError> {
        if let Ok(m) = self.versions.lock()
            && let Some(v) = m.get(name)
        {
            return Ok(v.clone());
        }
        let (vs, _, _) = self.sources.pypi.versions_at(name, &self.cutoff)?;
        let vs = Arc::new(vs);
        if let Ok(mut m) = self.versions.lock() {
            m.insert(name.to_string(), vs.clone());
        }
        Ok(vs)
    }
}

impl crate::solve::python::MetadataSource for LiveMetadata<'_> {
    fn py_history(&self, name: &str) -> Result<History, String> {
        self.sources
            .pypi
            .history(name, &self.cutoff)
            .map_err(|e| e.to_string())
    }

    fn py_metadata(
        &self,
        name: &str,
        version: &str,
    ) -> Result<crate::solve::python::ReleaseMetadata, String> {
        let vs = self.py_versions(name).map_err(|e| e.to_string())?;
        let want = pep440_rs::Version::from_str(version).map_err(|e| e.to_string())?;
        let pv = vs
            .iter()
            .find(|v| pep440_rs::Version::from_str(&v.version).ok().as_ref() == Some(&want))
            .ok_or_else(|| format!("{name} {version} did not exist at the cutoff"))?;
        let m = self
            .sources
            .pypi
            .metadata(name, pv)
            .map_err(|e| e.to_string())?;
        Ok(crate::solve::python::ReleaseMetadata {
            requires_dist: m.requires_dist,
            requires_python: m.requires_python,
            from: m.from,
        })
    }

    fn go_requires(&self, module: &str, version: &str) -> Result<Vec<(String, String)>, String> {
        self.sources
            .go
            .requires(module, version)
            .map_err(|e| e.to_string())
    }
}
