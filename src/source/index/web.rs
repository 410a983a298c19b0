//! The web's index step.

use super::context::{IndexContext, IndexReport, IndexSource, Missing, SuiteHook, unexpanded};
use crate::manifest::{Dependency, Ecosystem, Manifest};
use crate::source::SourceError;
use crate::source::web::{WebPin, pin};
use crate::universe::{CandidateMeta, PackageKey, Universe};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// The web's index step: each URL's immutable copy and hashes, also for the
/// source packages that dget fetches by URL (SONiC's web version control sees
/// dget's download like any other).
pub struct WebIndex;

impl IndexSource for WebIndex {
    fn ecosystems(&self) -> &'static [Ecosystem] {
        &[Ecosystem::Web]
    }

    fn index(
        &self,
        cx: &IndexContext<'_>,
        _: &mut SuiteHook<'_>,
        out: &mut IndexReport,
    ) -> Result<(), SourceError> {
        let deps: Vec<(&Dependency, &str)> = cx
            .manifest
            .dependencies
            .iter()
            .filter_map(|d| match d.ecosystem {
                Ecosystem::Web => Some((d, d.name.as_str())),
                Ecosystem::DebSrc => d.attrs.get("url").map(|u| (d, u.as_str())),
                Ecosystem::Deb
                | Ecosystem::Py
                | Ecosystem::Go
                | Ecosystem::Git
                | Ecosystem::Docker => None,
            })
            .collect();
        let uniq: BTreeSet<&str> = deps
            .iter()
            .map(|(_, u)| *u)
            .filter(|n| !unexpanded(n))
            .collect();
        out.counts.entry(Ecosystem::Web).or_default().names = uniq.len();
        let src = cx.sources;
        let pins: BTreeMap<&str, Result<WebPin, SourceError>> = uniq
            .par_iter()
            .map(|u| (*u, pin(&src.http, &src.git, &src.web, u, cx.cutoff)))
            .collect();
        for (d, u) in &deps {
            match pins.get(u) {
                Some(Ok(_)) => {}
                Some(Err(e)) => out.missing.push(Missing::from_error(d, e)),
                None => out
                    .missing
                    .push(Missing::not_expanded(d, "URL not expanded by the crawler")),
            }
        }
        out.web = pins.into_values().filter_map(Result::ok).collect();
        out.counts.entry(Ecosystem::Web).or_default().versions = out.web.len();
        Ok(())
    }

    /// web files, in domain `web` (version = md5).
    fn add_to_universe(
        &self,
        u: &mut Universe,
        _: &Manifest,
        report: &IndexReport,
        _: &mut Vec<String>,
    ) -> Result<(), SourceError> {
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
        Ok(())
    }
}
