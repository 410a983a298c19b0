//! PyPI's index step.

use super::context::{IndexContext, IndexReport, IndexSource, Sources, SuiteHook};
use super::histories::{HistoryRules, index_histories};
use crate::manifest::{Constraint, Ecosystem, Manifest};
use crate::source::{History, SourceError, VersionSource};
use crate::universe::python::{PythonEnv, add_distribution};
use crate::universe::suite::python_env_for;
use crate::universe::{CandidateMeta, Universe};
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;

/// PyPI's index step: one history per distinct (normalised) name, with the
/// `Requires-Dist` of the newest releases and of every exact pin.
pub struct PyPiIndex;

impl HistoryRules for PyPiIndex {
    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Py
    }

    fn source<'s>(&self, src: &'s Sources) -> &'s dyn VersionSource {
        &src.pypi
    }

    fn key(&self, name: &str) -> String {
        crate::universe::python::normalize(name)
    }

    fn enrich(&self, cx: &IndexContext<'_>, h: &mut History, pins: &[String]) {
        if cx.py_metadata == 0 {
            return;
        }
        if let Err(e) = cx.sources.pypi.enrich(h, cx.cutoff, cx.py_metadata, pins) {
            h.notes.push(format!("metadata not read: {e}"));
        }
    }

    fn unmet(&self, h: &History, c: &Constraint) -> Option<String> {
        match c {
            Constraint::Exact(v) => {
                let want = pep440_rs::Version::from_str(v.trim_start_matches("==")).ok();
                let ok = h.versions.iter().any(|x| {
                    pep440_rs::Version::from_str(&x.version).ok() == want && want.is_some()
                });
                (!ok).then(|| format!("version {v} did not exist at the cutoff"))
            }
            Constraint::Range(r) => {
                let Ok(spec) = pep440_rs::VersionSpecifiers::from_str(r) else {
                    return Some(format!("bad version range `{r}`"));
                };
                let ok = h.versions.iter().any(|x| {
                    pep440_rs::Version::from_str(&x.version).is_ok_and(|v| spec.contains(&v))
                });
                (!ok).then(|| format!("no version in `{r}` existed at the cutoff"))
            }
            Constraint::None | Constraint::Ref(_) => None,
        }
    }
}

impl IndexSource for PyPiIndex {
    fn ecosystems(&self) -> &'static [Ecosystem] {
        &[Ecosystem::Py]
    }

    fn index(
        &self,
        cx: &IndexContext<'_>,
        _: &mut SuiteHook<'_>,
        out: &mut IndexReport,
    ) -> Result<(), SourceError> {
        index_histories(self, cx, out);
        Ok(())
    }

    /// Python versions per interpreter domain (`py3`, `py2`, `buster-py3`,
    /// ...), with `Requires-Dist` where read.
    fn add_to_universe(
        &self,
        u: &mut Universe,
        manifest: &Manifest,
        report: &IndexReport,
        notes: &mut Vec<String>,
    ) -> Result<(), SourceError> {
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
        for h in report
            .histories
            .iter()
            .filter(|h| h.ecosystem == Ecosystem::Py)
        {
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
                    let reqs: Vec<&str> = v.requires.iter().flatten().map(String::as_str).collect();
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
        Ok(())
    }
}
