//! The apt repositories the images' scripts add, as sources of the Debian
//! index step: each distinct `deb` line read once by its own as-of rule
//! (`source::debian::added`), loaded into the apt view of the images that add
//! it; one that cannot be read is a [`SourceGap`] naming the images that need it.

use super::context::IndexContext;
use crate::manifest::AptSource;
use crate::source::SourceError;
use crate::source::debian::added::{AsOf, fetch_added};
use crate::source::debian::archive::{IndexKind, SuiteIndex};
use crate::source::debian::release::SignatureStatus;
use crate::universe::suite::dist_of;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// An added repository that was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddedSourceReport {
    /// Repository root.
    pub url: String,
    /// Distribution.
    pub suite: String,
    /// Components.
    pub components: Vec<String>,
    /// `snapshot` (a Debian archive, at the cutoff) or `today` (no snapshots).
    pub as_of: String,
    /// Signature outcome.
    pub signature: SignatureStatus,
    /// Package stanzas read.
    pub packages: usize,
    /// Images whose apt sees it.
    pub images: Vec<String>,
    /// Where the scripts add it.
    pub origins: Vec<String>,
    /// Notes: read as of today, signature not checked and why, Release warnings.
    pub notes: Vec<String>,
}

/// An added repository that could not be read: recorded, never dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceGap {
    /// Repository root as written.
    pub url: String,
    /// Distribution as written.
    pub suite: String,
    /// `unreachable`, or what else went wrong.
    pub reason: String,
    /// The error met.
    pub detail: String,
    /// Images whose packages from it have no candidate.
    pub images: Vec<String>,
    /// Where the scripts add it.
    pub origins: Vec<String>,
}

impl SourceGap {
    /// One line for warnings and the lock: `gap: <url> unreachable (...); needed by ...`.
    pub fn message(&self) -> String {
        format!(
            "gap: {} {} ({}); needed by {} (added at {})",
            self.url,
            self.reason,
            self.detail,
            self.images.join(", "),
            self.origins.join(", ")
        )
    }
}

/// An added repository's indices and the distributions whose apt view gets them.
#[derive(Debug, Clone)]
pub struct AddedLoad {
    /// The verified indices.
    pub suite: SuiteIndex,
    /// Distributions (`bullseye`) of the images that add it.
    pub dists: BTreeSet<String>,
}

/// What reading the added repositories gave.
#[derive(Debug, Default)]
pub struct Added {
    /// Repositories read.
    pub reports: Vec<AddedSourceReport>,
    /// Repositories that could not be read.
    pub gaps: Vec<SourceGap>,
    /// Indices to load.
    pub loads: Vec<AddedLoad>,
}

/// The distribution an added source's image is built on.
fn dist_for(a: &AptSource, cx: &IndexContext<'_>) -> String {
    a.context
        .suite
        .as_deref()
        .or_else(|| cx.suites.first().map(|s| s.suite.as_str()))
        .map(|s| dist_of(s).to_string())
        .unwrap_or_else(|| "bullseye".into())
}

/// Reads every distinct added repository of the manifest.
pub fn read_all(cx: &IndexContext<'_>) -> Added {
    type Key = (String, String, Vec<String>, Option<String>);
    let mut groups: BTreeMap<Key, Vec<&AptSource>> = BTreeMap::new();
    for a in &cx.manifest.apt_sources {
        groups
            .entry((
                a.url.clone(),
                a.suite.clone(),
                a.components.clone(),
                a.arch.clone(),
            ))
            .or_default()
            .push(a);
    }
    let mut out = Added::default();
    for ((url, suite, components, _), srcs) in groups {
        let images: Vec<String> = srcs
            .iter()
            .map(|a| a.context.image.clone().unwrap_or_else(|| "default".into()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let origins: Vec<String> = srcs
            .iter()
            .map(|a| a.origin.to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let dists: BTreeSet<String> = srcs.iter().map(|a| dist_for(a, cx)).collect();
        // A Debian suite the index reads anyway (`buster-backports`) is not read twice.
        if let AsOf::Debian { archive } = crate::source::debian::added::as_of(&url)
            && cx
                .suites
                .iter()
                .any(|s| s.archive == archive && s.suite == suite)
        {
            continue;
        }
        let keys: Vec<String> = srcs
            .iter()
            .flat_map(|a| a.keys.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let src = AptSource {
            keys,
            ..srcs[0].clone()
        };
        let s = cx.sources;
        match fetch_added(&s.http, &src, cx.arch, cx.cutoff, &s.debian, &s.trust) {
            Ok(added) => {
                let packages = added
                    .suite
                    .indices
                    .iter()
                    .filter(|i| i.kind == IndexKind::Packages)
                    .map(|i| count_stanzas(&i.bytes))
                    .sum();
                let mut notes = added.notes.clone();
                notes.extend(added.suite.warnings.iter().cloned());
                out.reports.push(AddedSourceReport {
                    url: url.clone(),
                    suite: suite.clone(),
                    components: components.clone(),
                    as_of: match added.as_of {
                        AsOf::Debian { .. } => "snapshot".into(),
                        AsOf::Today => "today".into(),
                    },
                    signature: added.suite.signature.clone(),
                    packages,
                    images,
                    origins,
                    notes,
                });
                out.loads.push(AddedLoad {
                    suite: added.suite,
                    dists,
                });
            }
            Err(e) => out.gaps.push(SourceGap {
                url,
                suite,
                reason: match &e {
                    SourceError::Network { .. } | SourceError::Offline { .. } => {
                        "unreachable".into()
                    }
                    SourceError::Invalid(m) if m.contains("not expanded") => {
                        "not expanded by the crawler".into()
                    }
                    _ => "could not be read".into(),
                },
                detail: e.to_string(),
                images,
                origins,
            }),
        }
    }
    out
}

fn count_stanzas(bytes: &[u8]) -> usize {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"Package:"))
        .count()
}
