//! What existed at a cutoff: the version history of one name, as the sources
//! find it and as the universe and the solve read it.

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
