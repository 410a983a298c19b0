//! PyPI's index step.

use super::context::{IndexContext, IndexReport, IndexSource, Sources, SuiteHook};
use super::histories::{HistoryRules, index_histories};
use crate::manifest::{Constraint, Ecosystem};
use crate::source::{History, SourceError, VersionSource};
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
}
