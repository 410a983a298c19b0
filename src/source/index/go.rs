//! The Go proxy's index step.

use super::context::{IndexContext, IndexReport, IndexSource, MissingCause, Sources, SuiteHook};
use super::histories::{HistoryRules, index_histories};
use crate::manifest::{Constraint, Dependency, Ecosystem, Manifest};
use crate::source::{History, SourceError, VersionSource};
use crate::universe::{CandidateMeta, PackageKey, Universe};

/// The Go proxy's index step: one history per module; an exact version the
/// list lacks (a pseudo-version, a retracted tag) is looked up by its `.info`.
pub struct GoIndex;

impl HistoryRules for GoIndex {
    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Go
    }

    fn source<'s>(&self, src: &'s Sources) -> &'s dyn VersionSource {
        &src.go
    }

    fn unmet(&self, h: &History, c: &Constraint) -> Option<String> {
        match c {
            Constraint::Exact(v) => {
                let ok = h.versions.iter().any(|x| &x.version == v);
                (!ok).then(|| format!("version {v} was not listed at the cutoff"))
            }
            Constraint::None | Constraint::Range(_) | Constraint::Ref(_) => None,
        }
    }

    fn recheck(
        &self,
        cx: &IndexContext<'_>,
        d: &Dependency,
        reason: String,
    ) -> Option<(String, MissingCause)> {
        let none = MissingCause::NoVersionAtCutoff;
        let Constraint::Exact(v) = &d.constraint else {
            return Some((reason, none));
        };
        match cx.sources.go.info(&d.name, v) {
            Ok((_, t)) if t.as_str() <= cx.cutoff.rfc3339().as_str() => None,
            Ok((_, t)) => Some((format!("version {v} is dated {t}, after the cutoff"), none)),
            Err(e) if e.is_not_found() => Some((reason, none)),
            Err(e) => Some((e.to_string(), MissingCause::Error)),
        }
    }
}

impl IndexSource for GoIndex {
    fn ecosystems(&self) -> &'static [Ecosystem] {
        &[Ecosystem::Go]
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

    /// Go modules, in domain `go`.
    fn add_to_universe(
        &self,
        u: &mut Universe,
        _: &Manifest,
        report: &IndexReport,
        notes: &mut Vec<String>,
    ) -> Result<(), SourceError> {
        for h in report
            .histories
            .iter()
            .filter(|h| h.ecosystem == Ecosystem::Go)
        {
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
        Ok(())
    }
}
