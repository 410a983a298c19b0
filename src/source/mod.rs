//! As-of sources: what existed on the cutoff date, fetched, verified and cached.
//!
//! One client per ecosystem (Debian snapshot/mirror, PyPI, Go proxy, git, web),
//! all going through one polite HTTP layer ([`http::Http`]) and one
//! content-addressed cache ([`cache::Cache`]). Every client answers the same
//! question through [`VersionSource`]: which versions of a name existed at D.

pub mod build;
pub mod cache;
pub mod debian;
pub mod docker;
pub mod error;
pub mod git;
pub mod go;
pub mod http;
pub mod index;
pub mod pypi;
pub mod web;

pub use error::SourceError;

use crate::date::Cutoff;
use crate::manifest::Ecosystem;
use serde::{Deserialize, Serialize};

/// One version of a package as it existed at the cutoff, with what the search needs to know about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionAt {
    /// The version string in the ecosystem's own syntax.
    pub version: String,
    /// When it was first published (upload time, module time, commit time), RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// Where an immutable copy can be fetched, when one is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// SHA-256 of that copy, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Its own dependencies as the ecosystem writes them (PEP 508 `Requires-Dist`), when fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires: Option<Vec<String>>,
    /// Interpreter constraint (`Requires-Python`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_python: Option<String>,
}

/// The answer of a source for one name at one cutoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The ecosystem asked.
    pub ecosystem: Ecosystem,
    /// The name as the source knows it (normalised).
    pub name: String,
    /// Versions that existed at the cutoff, oldest first in the ecosystem's order.
    pub versions: Vec<VersionAt>,
    /// How many versions the source knows that appeared after the cutoff (excluded).
    pub later: usize,
    /// Versions or files left out for another reason (yanked, unparseable name), in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A source of version history: the one question every ecosystem answers alike.
pub trait VersionSource: Send + Sync {
    /// Which ecosystem this source serves.
    fn ecosystem(&self) -> Ecosystem;
    /// Versions of `name` that existed at `cutoff`, and how many came later.
    fn history(&self, name: &str, cutoff: &Cutoff) -> Result<History, SourceError>;
}

/// Joins a base URL and a path with exactly one slash between them.
pub fn join_url(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}
