//! Debian's index step: every suite's verified indices (handed on as they
//! arrive), and for each `deb` and `deb-src` dependency whether its name and
//! version were in them at the cutoff.

use super::context::{
    IndexContext, IndexReport, IndexSource, Missing, MissingCause, Sources, SuiteHook, unexpanded,
};
use crate::manifest::{Constraint, Ecosystem};
use crate::source::SourceError;
use crate::source::debian::archive::{IndexKind, Location, SuiteIndex, SuiteReport, plan_suite};
use crate::source::debian::contents::{self, Scanned};
use crate::source::suitecache::{self, ParsedSuite};
use crate::universe::Universe;
use crate::universe::python::apt::{AptPython, AptPythonEntry};
use crate::universe::suite::{deb_domain, dist_of};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Debian's index step (binary and source packages).
pub struct DebianIndex;

/// Loads every `Packages` index of a parsed suite into domain
/// `<dist>/<arch>` (updates, backports and security share their
/// distribution's domain, so apt's view is their union). Called from the
/// [`SuiteHook`] as each suite arrives, hence no `add_to_universe` here.
pub fn load_suite(u: &mut Universe, ps: ParsedSuite) -> Result<usize, SourceError> {
    let mut n = 0;
    for (_, p) in ps.packages {
        n += p.load_into(u)?;
    }
    Ok(n)
}

/// Loads a suite's `Packages` into the apt view of distribution `dist`
/// (an added repository joins the view of the images that add it).
pub fn load_into(u: &mut Universe, si: &SuiteIndex, dist: &str) -> Result<usize, SourceError> {
    let mut n = 0;
    let root = crate::source::debian::archive::archive_root(&si.dists_url);
    for ix in si.indices.iter().filter(|i| i.kind == IndexKind::Packages) {
        let domain = deb_domain(dist, &ix.arch);
        n += crate::universe::parsed::ParsedIndex::parse(&ix.bytes, &ix.url, &domain, root)?
            .load_into(u)?;
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
        // Each suite's Release decides whether its parsed form is cached; only a miss reads the indices.
        type Loaded = (
            SuiteReport,
            ParsedSuite,
            Option<Result<Scanned, SourceError>>,
        );
        let loaded: Vec<Result<Loaded, SourceError>> = cx
            .suites
            .par_iter()
            .map(|s| {
                let plan = plan_suite(&src.http, &src.debian, s, cx.cutoff, keyring)?;
                let contents = cx
                    .apt_python
                    .then(|| contents::read_suite(&src.http, &plan));
                let (report, parsed) = suitecache::load(&src.http, plan)?;
                Ok((report, parsed, contents))
            })
            .collect();
        let mut names: BTreeMap<String, DebNames> = BTreeMap::new();
        let build_dep: BTreeSet<&str> = cx
            .dependencies(Ecosystem::DebSrc)
            .into_iter()
            .filter(|d| d.attrs.get("action").is_some_and(|a| a == "build-dep"))
            .map(|d| d.name.as_str())
            .collect();
        for r in loaded {
            let (report, parsed, contents) = r?;
            let spec = cx.suites.iter().find(|s| s.label() == report.suite);
            let dist = dist_of(spec.map_or("", |s| s.suite.as_str()));
            out.build_deps.extend(
                parsed
                    .build_deps
                    .iter()
                    .filter(|b| build_dep.contains(b.name.as_str()))
                    .map(|b| (dist.to_string(), b.clone())),
            );
            if let Some(c) = contents {
                let dist = dist_of(spec.map_or("", |s| s.suite.as_str()));
                apt_python_of(&mut out.apt_python, dist, &report.suite, &parsed, c);
            }
            let dn = names
                .entry(dist_of(spec.map_or("", |s| s.suite.as_str())).to_string())
                .or_default();
            for ix in &parsed.names {
                let (eco, into) = match ix.kind {
                    IndexKind::Packages => (Ecosystem::Deb, &mut dn.binaries),
                    IndexKind::Sources => (Ecosystem::DebSrc, &mut dn.sources),
                };
                for (name, version) in &ix.entries {
                    let vs = into.entry(name.clone()).or_default();
                    if let Some(v) = version {
                        vs.insert(v.clone());
                    }
                }
                out.counts.entry(eco).or_default().versions += ix.stanzas;
            }
            on_suite(parsed)?;
            out.suites.push(report);
        }
        let added = super::aptsources::read_all(cx);
        for l in &added.loads {
            for dist in &l.dists {
                let dn = names.entry(dist.clone()).or_default();
                for ix in l
                    .suite
                    .indices
                    .iter()
                    .filter(|i| i.kind == IndexKind::Packages)
                {
                    let scanned = suitecache::scan_names(&ix.bytes, IndexKind::Packages);
                    for (name, version) in scanned.entries {
                        let vs = dn.binaries.entry(name).or_default();
                        if let Some(v) = version {
                            vs.insert(v);
                        }
                    }
                    out.counts.entry(Ecosystem::Deb).or_default().versions += scanned.stanzas;
                }
            }
        }
        // A package only an unreadable added repository has: say which gap it falls into.
        let gap_of = |image: Option<&str>| -> String {
            let gaps: BTreeSet<String> = added
                .gaps
                .iter()
                .filter(|g| g.images.iter().any(|i| Some(i.as_str()) == image))
                .map(|g| format!("gap: {} {}", g.url, g.reason))
                .collect();
            if gaps.is_empty() {
                return String::new();
            }
            let list: Vec<String> = gaps.into_iter().collect();
            format!(
                "; apt sources this image adds could not be read: {}",
                list.join(", ")
            )
        };
        for eco in [Ecosystem::Deb, Ecosystem::DebSrc] {
            let deps = cx.dependencies(eco);
            let uniq: BTreeSet<&str> = deps.iter().map(|d| strip_arch(&d.name)).collect();
            out.counts.entry(eco).or_default().names = uniq.len();
            for d in deps {
                let name = strip_arch(&d.name);
                if d.is_archive_depends() {
                    continue;
                }
                if unexpanded(name) {
                    out.missing
                        .push(Missing::not_expanded(d, "name not expanded by the crawler"));
                    continue;
                }
                let dists: Vec<&DebNames> = match d.context.suite.as_deref() {
                    Some(s) => names.get(dist_of(s)).into_iter().collect(),
                    None => names.values().collect(),
                };
                if dists.is_empty() {
                    let suite = d.context.suite.as_deref().unwrap_or("any distribution");
                    out.missing.push(Missing::new(
                        d,
                        format!("no suite indexed for {suite}"),
                        MissingCause::NoSuiteIndexed {
                            suite: suite.to_string(),
                        },
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
                let gap = gap_of(d.context.image.as_deref());
                let cause = if gap.is_empty() {
                    MissingCause::NoVersionAtCutoff
                } else {
                    MissingCause::AddedSourceUnread
                };
                match &d.constraint {
                    _ if !known => out.missing.push(Missing::new(
                        d,
                        format!("not in any index at the cutoff{gap}"),
                        cause,
                    )),
                    Constraint::Exact(v) if !versions.iter().any(|x| *x == v) => {
                        let mut reason = format!(
                            "version {v} not in the indices at the cutoff (have: {}){gap}",
                            join_some(versions.iter().map(|s| s.as_str())),
                        );
                        if eco == Ecosystem::Deb {
                            reason.push_str(&snapshot_history(src, name, v, cx.arch));
                        }
                        out.missing.push(Missing::new(d, reason, cause))
                    }
                    _ => {}
                }
            }
        }
        out.apt_sources = added.reports;
        out.source_gaps = added.gaps;
        out.added = added.loads;
        Ok(())
    }

    fn add_to_universe(
        &self,
        u: &mut Universe,
        _manifest: &crate::manifest::Manifest,
        report: &IndexReport,
        _notes: &mut Vec<String>,
    ) -> Result<(), SourceError> {
        for l in &report.added {
            for dist in &l.dists {
                load_into(u, &l.suite, dist)?;
            }
        }
        Ok(())
    }
}

/// Adds what a suite's Contents indices say (or why they could not be
/// read) to `into`, each package with the versions the suite's Packages lists.
fn apt_python_of(
    into: &mut AptPython,
    dist: &str,
    suite: &str,
    parsed: &ParsedSuite,
    contents: Result<Scanned, SourceError>,
) {
    let scanned = match contents {
        Ok(s) => s,
        Err(e) => {
            into.notes.push(format!(
                "{suite}: Contents index not read, so the Python distributions its packages install are not known: {e}"
            ));
            return;
        }
    };
    into.notes.extend(scanned.warnings);
    let mut versions: HashMap<&str, Vec<String>> = HashMap::new();
    for ix in parsed
        .names
        .iter()
        .filter(|i| i.kind == IndexKind::Packages)
    {
        for (name, v) in &ix.entries {
            if let Some(v) = v
                && scanned.by_package.contains_key(name)
            {
                versions.entry(name).or_default().push(v.clone());
            }
        }
    }
    into.extend(scanned.by_package.into_iter().map(|(package, dists)| {
        let mut deb_versions = versions.remove(package.as_str()).unwrap_or_default();
        deb_versions.sort();
        deb_versions.dedup();
        AptPythonEntry {
            dist: dist.to_string(),
            suite: suite.to_string(),
            package,
            deb_versions,
            dists,
        }
    }));
}

/// Names (and their versions) found in one distribution's indices.
#[derive(Default)]
struct DebNames {
    binaries: HashMap<String, BTreeSet<String>>,
    sources: HashMap<String, BTreeSet<String>>,
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
