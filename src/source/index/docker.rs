//! Docker's index step.

use super::context::{IndexContext, IndexReport, IndexSource, Missing, SuiteHook, unexpanded};
use crate::manifest::Ecosystem;
use crate::source::SourceError;
use crate::source::docker::{DockerPin, declared_reference};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// Docker's index step: each declared base image, for the platform's
/// architecture, resolved to its digest as of the cutoff.
pub struct DockerIndex;

impl IndexSource for DockerIndex {
    fn ecosystems(&self) -> &'static [Ecosystem] {
        &[Ecosystem::Docker]
    }

    fn index(
        &self,
        cx: &IndexContext<'_>,
        _: &mut SuiteHook<'_>,
        out: &mut IndexReport,
    ) -> Result<(), SourceError> {
        let deps = cx.dependencies(Ecosystem::Docker);
        let mut refs: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut not_indexed = BTreeSet::new();
        for d in &deps {
            let r = declared_reference(&d.name, &d.constraint);
            if unexpanded(&r) {
                out.missing.push(Missing::not_expanded(
                    d,
                    "image reference not expanded by the crawler",
                ));
                not_indexed.insert(r);
                continue;
            }
            refs.entry(r).or_default().insert(d.origin.to_string());
        }
        out.counts.entry(Ecosystem::Docker).or_default().names = refs.len();
        let resolved: BTreeMap<&String, Result<DockerPin, SourceError>> = refs
            .par_iter()
            .map(|(r, _)| (r, cx.sources.docker.pin(r, cx.arch, cx.cutoff)))
            .collect();
        for d in &deps {
            let r = declared_reference(&d.name, &d.constraint);
            if let Some(Err(e)) = resolved.get(&r) {
                out.missing.push(Missing::from_error(d, e));
            }
        }
        for (r, res) in resolved {
            if let Ok(mut p) = res {
                p.origins = refs
                    .get(r)
                    .map(|o| o.iter().cloned().collect())
                    .unwrap_or_default();
                out.docker.push(p);
            }
        }
        out.counts.entry(Ecosystem::Docker).or_default().versions = out.docker.len();
        out.not_indexed = not_indexed.into_iter().collect();
        Ok(())
    }
}
