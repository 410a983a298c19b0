//! From what the sources found to the universe the search chooses from:
//! Debian `Packages` indices per (distribution, architecture), Python
//! distributions per interpreter, Go modules, and the git and web pins, each
//! candidate carrying its provenance (index URL, upload time, immutable URL).

use crate::manifest::{Ecosystem, Manifest};
use crate::source::SourceError;
use crate::source::debian::archive::{IndexKind, SuiteIndex};
use crate::source::index::IndexReport;
use crate::universe::python::{PythonEnv, add_distribution};
use crate::universe::suite::{deb_domain, python_env_for};
use crate::universe::{CandidateMeta, PackageKey, Universe};
use std::collections::{BTreeMap, BTreeSet};

/// Loads every verified `Packages` index of a suite (updates, backports and
/// security share their distribution's domain, so apt's view is their union).
pub fn load_suite(u: &mut Universe, si: &SuiteIndex) -> Result<usize, SourceError> {
    let mut n = 0;
    // Pool paths are relative to the archive root, the part of `dists_url` before `dists/`.
    let root = si
        .dists_url
        .rfind("/dists/")
        .map(|i| &si.dists_url[..i])
        .unwrap_or(&si.dists_url);
    for ix in si.indices.iter().filter(|i| i.kind == IndexKind::Packages) {
        let domain = deb_domain(&si.spec.suite, &ix.arch);
        let first = u.candidate_count();
        n += crate::universe::debian::load_packages(u, &ix.bytes, &ix.url, &domain)?;
        u.absolutize_urls_since(first, root);
    }
    Ok(n)
}

/// Adds the Python, Go, git and web findings of `report` to `u`; returns notes
/// on candidates that could not be added (a malformed `Requires-Python`, ...).
pub fn add_report(
    u: &mut Universe,
    manifest: &Manifest,
    report: &IndexReport,
) -> Result<Vec<String>, SourceError> {
    let mut notes = Vec::new();
    // Which interpreters each Python name is installed for.
    let mut envs: BTreeMap<String, BTreeSet<(String, &'static str)>> = BTreeMap::new();
    for d in manifest
        .dependencies
        .iter()
        .filter(|d| d.ecosystem == Ecosystem::Py)
    {
        let Ok(n) = crate::universe::python::PyName::new(&d.name).map(String::from) else {
            continue;
        };
        envs.entry(n).or_default().insert(python_env_for(
            d.context.suite.as_deref(),
            d.context.python.as_deref(),
        ));
    }
    let mut env_cache: BTreeMap<String, PythonEnv> = BTreeMap::new();
    for h in &report.histories {
        match h.ecosystem {
            Ecosystem::Py => {
                let wanted = envs
                    .get(&h.name)
                    .cloned()
                    .unwrap_or_else(|| [python_env_for(None, None)].into());
                for (domain, full) in wanted {
                    if !env_cache.contains_key(&domain) {
                        env_cache.insert(domain.clone(), PythonEnv::linux_cpython(&domain, full)?);
                    }
                    let Some(env) = env_cache.get(&domain) else {
                        continue;
                    };
                    for v in &h.versions {
                        let reqs: Vec<&str> =
                            v.requires.iter().flatten().map(String::as_str).collect();
                        let provenance = match &v.requires {
                            Some(_) => format!(
                                "pypi {}=={} (uploaded {})",
                                h.name,
                                v.version,
                                v.published.as_deref().unwrap_or("?")
                            ),
                            None => format!(
                                "pypi {}=={} (uploaded {}; Requires-Dist not read)",
                                h.name,
                                v.version,
                                v.published.as_deref().unwrap_or("?")
                            ),
                        };
                        let meta = CandidateMeta {
                            url: v.url.clone(),
                            sha256: v.sha256.clone(),
                            first_seen: v.published.clone(),
                            provenance: Some(provenance),
                            // The solve reads it when it picks this release.
                            requires_unknown: v.requires.is_none(),
                            ..Default::default()
                        };
                        if let Err(e) = add_distribution(
                            u,
                            env,
                            &h.name,
                            &v.version,
                            &reqs,
                            v.requires_python.as_deref(),
                            &[],
                            meta,
                        ) {
                            notes.push(format!(
                                "{} {} not added for {domain}: {e}",
                                h.name, v.version
                            ));
                        }
                    }
                }
            }
            Ecosystem::Go => {
                let pid = u.intern(PackageKey::new(Ecosystem::Go, "go", &h.name));
                for v in &h.versions {
                    let meta = CandidateMeta {
                        first_seen: v.published.clone(),
                        provenance: Some(format!("go proxy {}@{}", h.name, v.version)),
                        ..Default::default()
                    };
                    if let Err(e) = u.add_candidate(pid, &v.version, meta, vec![], vec![], vec![]) {
                        notes.push(format!("{} {} not added: {e}", h.name, v.version));
                    }
                }
            }
            // The index keeps histories of Python and Go names only.
            Ecosystem::Deb
            | Ecosystem::DebSrc
            | Ecosystem::Git
            | Ecosystem::Web
            | Ecosystem::Docker => {}
        }
    }
    for g in &report.git {
        let pid = u.intern(PackageKey::new(Ecosystem::Git, "git", &g.url));
        let meta = CandidateMeta {
            first_seen: Some(g.date.clone()),
            provenance: Some(format!("{} {} at cutoff: {}", g.url, g.reference, g.note)),
            ..Default::default()
        };
        u.add_candidate(pid, &g.commit, meta, vec![], vec![], vec![])?;
    }
    for w in &report.web {
        let pid = u.intern(PackageKey::new(Ecosystem::Web, "web", &w.url));
        let meta = CandidateMeta {
            url: Some(w.immutable_url.clone()),
            sha256: Some(w.sha256.clone()),
            md5: Some(w.md5.clone()),
            provenance: Some(w.note.clone()),
            ..Default::default()
        };
        u.add_candidate(pid, &w.md5, meta, vec![], vec![], vec![])?;
    }
    Ok(notes)
}
