//! The solve's metadata provider over the live sources: the index stage's
//! clients at one cutoff answer the questions of
//! [`MetadataSource`](crate::solve::python::MetadataSource).

use crate::date::Cutoff;
use crate::solve::python::{MetadataError, MetadataSource, ReleaseMetadata};
use crate::source::index::Sources;
use crate::source::pypi::PyVersion;
use crate::source::{History, SourceError, VersionSource};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

/// The sources at one cutoff as the solve's metadata reader: PyPI histories
/// and core metadata of exactly the releases the search picks, and go.mod
/// files from the Go proxy. Everything goes through the cached HTTP layer, so
/// a second solve reads nothing twice.
pub struct LiveMetadata<'a> {
    sources: &'a Sources,
    cutoff: Cutoff,
    versions: std::sync::Mutex<HashMap<String, Arc<Vec<PyVersion>>>>,
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

    fn py_versions(&self, name: &str) -> Result<Arc<Vec<PyVersion>>, SourceError> {
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

fn provider(e: impl std::error::Error + Send + Sync + 'static) -> MetadataError {
    MetadataError::Provider(Box::new(e))
}

impl MetadataSource for LiveMetadata<'_> {
    fn py_history(&self, name: &str) -> Result<History, MetadataError> {
        self.sources
            .pypi
            .history(name, &self.cutoff)
            .map_err(provider)
    }

    fn py_metadata(&self, name: &str, version: &str) -> Result<ReleaseMetadata, MetadataError> {
        let vs = self.py_versions(name).map_err(provider)?;
        let want = pep440_rs::Version::from_str(version).map_err(provider)?;
        let pv = vs
            .iter()
            .find(|v| pep440_rs::Version::from_str(&v.version).ok().as_ref() == Some(&want))
            .ok_or_else(|| MetadataError::NotAtCutoff {
                name: name.to_string(),
                version: version.to_string(),
            })?;
        let m = self.sources.pypi.metadata(name, pv).map_err(provider)?;
        Ok(ReleaseMetadata {
            requires_dist: m.requires_dist,
            requires_python: m.requires_python,
            from: m.from,
        })
    }

    fn go_requires(
        &self,
        module: &str,
        version: &str,
    ) -> Result<Vec<(String, String)>, MetadataError> {
        self.sources.go.requires(module, version).map_err(provider)
    }
}
