//! As-of sources: what existed on the cutoff date, fetched, verified and cached.
//!
//! One client per ecosystem (Debian snapshot/mirror, PyPI, Go proxy, git, web),
//! all going through one polite HTTP layer ([`http::Http`]) and one
//! content-addressed cache ([`cache::Cache`]). Every client answers the same
//! question through [`VersionSource`]: which versions of a name existed at D.

pub mod cache;
pub mod debian;
pub mod distfile;
pub mod docker;
pub mod error;
pub mod git;
pub mod go;
pub mod http;
pub mod index;
pub mod pypi;
pub mod suitecache;
pub mod web;

pub use crate::universe::history::{History, VersionAt};

pub use error::SourceError;

use crate::date::Cutoff;
use crate::manifest::Ecosystem;

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
