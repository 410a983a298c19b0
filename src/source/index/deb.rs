//! Debian's index step: every suite's verified indices (handed on as they
//! arrive), and for each `deb` and `deb-src` dependency whether its name and
//! version were in them at the cutoff.

use super::context::{
    IndexContext, IndexReport, IndexSource, Missing, Sources, SuiteHook, unexpanded,
};
use crate::manifest::{Constraint, Ecosystem};
use crate::source::SourceError;
use crate::source::debian::archive::{IndexKind, Location, SuiteIndex, fetch_suite};
use crate::universe::Universe;
use crate::universe::suite::{deb_domain, dist_of};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Debian's index step (binary and source packages).
pub struct DebianIndex;

/// Loads every verified `Packages` index of a suite into domain
/// `<dist>/<arch>` (updates, backports and security share their
/// distribution's domain, so apt's view is their union). Called from the
/// [`SuiteHook`] as each suite arrives, hence no `add_to_universe` here.
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

impl IndexSource for DebianIndex {
    fn ecosystems(&self) -> &'static [Ecosystem] {
        &[Ecosystem::Deb, Ecosystem::DebSrc]
    }

    fn index(
        &self,
        cx: &IndexContext<'_>,
        on_suite: &mut SuiteHook<'_>,
        out: &mut IndexReport,
    ) -> Result<(), SourceError> {
        let src = cx.sources;
        // Debian: all suites in parallel (the HTTP layer bounds each host).
        let keyring = if cx.suites.is_empty() {
            None
        } else {
            src.trust.keyring()?
        };
        let fetched: Vec<Result<SuiteIndex, SourceError>> = cx
            .suites
            .par_iter()
            .map(|s| fetch_suite(&src.http, &src.debian, s, cx.cutoff, keyring))
            .collect();
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
                out.counts.entry(eco).or_default().versions += n;
            }
            on_suite(&si)?;
            out.suites.push(si.report());
        }
        for eco in [Ecosystem::Deb, Ecosystem::DebSrc] {
            let deps = cx.dependencies(eco);
            let uniq: BTreeSet<&str> = deps.iter().map(|d| strip_arch(&d.name)).collect();
            out.counts.entry(eco).or_default().names = uniq.len();
            for d in deps {
                let name = strip_arch(&d.name);
                if unexpanded(name) {
                    out.missing
                        .push(Missing::of(d, "name not expanded by the crawler"));
                    continue;
                }
                let dists: Vec<&DebNames> = match d.context.suite.as_deref() {
                    Some(s) => names.get(dist_of(s)).into_iter().collect(),
                    None => names.values().collect(),
                };
                if dists.is_empty() {
                    out.missing.push(Missing::of(
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
                    _ if !known => out
                        .missing
                        .push(Missing::of(d, "not in any index at the cutoff")),
                    Constraint::Exact(v) if !versions.iter().any(|x| *x == v) => {
                        let mut reason = format!(
                            "version {v} not in the indices at the cutoff (have: {})",
                            join_some(versions.iter().map(|s| s.as_str()))
                        );
                        if eco == Ecosystem::Deb {
                            reason.push_str(&snapshot_history(src, name, v, cx.arch));
                        }
                        out.missing.push(Missing::of(d, reason))
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }
}

/// Names (and their versions) found in one distribution's indices.
#[derive(Default)]
struct DebNames {
    binaries: HashMap<String, BTreeSet<String>>,
    sources: HashMap<String, BTreeSet<String>>,
}

/// Reads the `Package`, `Version` and `Provides` names of an index for the
/// missing-dependency report (the universe does the full parse).
pub fn scan_names(
    bytes: &[u8],
    into: &mut HashMap<String, BTreeSet<String>>,
    provides: bool,
) -> usize {
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
