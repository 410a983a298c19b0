//! The universe: every package the search may choose from, across ecosystems,
//! with its candidate versions, their metadata and their relations.
//!
//! Packages are interned by (ecosystem, domain, name), where the domain is the
//! place a name is resolved in (`bullseye/amd64` for an apt view of one
//! suite and architecture, `py3` for the image's pip). Versions are ordered by
//! the ecosystem's [`VersionScheme`]. The universe is an artifact: it is
//! written as versioned JSON and read back by later stages.

pub mod debian;
pub mod go;
pub mod history;
pub mod parsed;
pub mod pep508;
pub mod python;
pub mod suite;
pub mod version;

use crate::manifest::Ecosystem;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

pub use version::{VersionScheme, scheme_for};

/// Current universe artifact schema version.
pub const UNIVERSE_SCHEMA_VERSION: u32 = 1;

/// Identity of a package: its ecosystem, the domain its name resolves in, and its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PackageKey {
    /// The ecosystem whose rules apply.
    pub ecosystem: Ecosystem,
    /// Where the name resolves: `bullseye/amd64`, `buster/amd64`, `py3`, `py2`, `go`, ...
    pub domain: String,
    /// The package, distribution or module name.
    pub name: String,
}

impl PackageKey {
    /// Builds a key from its three parts.
    pub fn new(ecosystem: Ecosystem, domain: &str, name: &str) -> PackageKey {
        PackageKey {
            ecosystem,
            domain: domain.to_string(),
            name: name.to_string(),
        }
    }
}

impl fmt::Display for PackageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}/{}", self.ecosystem, self.domain, self.name)
    }
}

/// Index of an interned package in its universe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PackageId(pub u32);

/// Index of a candidate version in its universe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CandidateId(pub u32);

/// A comparison operator of a version constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CmpOp {
    /// Strictly less (Debian `<<`).
    Lt,
    /// Less or equal (Debian `<=`, and the obsolete `<`).
    Le,
    /// Equal (Debian `=`, pip `==` without wildcards).
    Eq,
    /// Not equal.
    Ne,
    /// Greater or equal (Debian `>=`, and the obsolete `>`).
    Ge,
    /// Strictly greater (Debian `>>`).
    Gt,
}

impl CmpOp {
    /// Debian spelling of the operator.
    pub fn as_deb(self) -> &'static str {
        match self {
            CmpOp::Lt => "<<",
            CmpOp::Le => "<=",
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Ge => ">=",
            CmpOp::Gt => ">>",
        }
    }
    /// Whether an ordering `candidate.cmp(bound)` satisfies the operator.
    pub fn accepts(self, o: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::*;
        match self {
            CmpOp::Lt => o == Less,
            CmpOp::Le => o != Greater,
            CmpOp::Eq => o == Equal,
            CmpOp::Ne => o != Equal,
            CmpOp::Ge => o != Less,
            CmpOp::Gt => o == Greater,
        }
    }
}

/// Which versions of a package a relation accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VersionConstraint {
    /// Every version.
    Any,
    /// One comparison, ordered by the package's version scheme.
    Cmp(CmpOp, String),
    /// All of these hold.
    All(Vec<VersionConstraint>),
    /// An ecosystem specifier set evaluated by the scheme (PEP 440 `>=1,<2`, semver `^1.2`).
    Specifiers(String),
}

impl VersionConstraint {
    /// Whether version `v` (of a package with scheme `s`) satisfies the constraint.
    pub fn matches(&self, s: &dyn VersionScheme, v: &str) -> bool {
        match self {
            VersionConstraint::Any => true,
            VersionConstraint::Cmp(op, bound) => op.accepts(s.compare(v, bound)),
            VersionConstraint::All(cs) => cs.iter().all(|c| c.matches(s, v)),
            VersionConstraint::Specifiers(spec) => s.matches_specifiers(v, spec),
        }
    }
}

impl fmt::Display for VersionConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionConstraint::Any => f.write_str("*"),
            VersionConstraint::Cmp(op, v) => write!(f, "{} {}", op.as_deb(), v),
            VersionConstraint::All(cs) => {
                for (i, c) in cs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{c}")?;
                }
                Ok(())
            }
            VersionConstraint::Specifiers(s) => f.write_str(s),
        }
    }
}

/// Debian architecture qualifier on a relation (`foo:any`, `foo:native`, `foo:i386`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ArchQualifier {
    /// No qualifier: the depending package's own architecture (or native for `all`).
    #[default]
    None,
    /// `:any`: any architecture (dpkg wants `Multi-Arch: allowed`; within one architecture dose accepts any).
    Any,
    /// `:native`.
    Native,
    /// An explicit architecture.
    Named(String),
}

/// One alternative of a requirement: a package and the versions of it that will do.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Alternative {
    /// The package (real or virtual) named.
    pub package: PackageId,
    /// The versions accepted.
    pub constraint: VersionConstraint,
    /// Debian architecture qualifier.
    #[serde(default, skip_serializing_if = "is_default_arch")]
    pub arch: ArchQualifier,
}

fn is_default_arch(a: &ArchQualifier) -> bool {
    *a == ArchQualifier::None
}

/// The kind of relation a requirement came from; matters for explanations and for Debian's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum RelationKind {
    /// Debian `Depends`, pip `Requires-Dist`, go.mod `require`: must hold.
    #[default]
    Depends,
    /// Debian `Pre-Depends`.
    PreDepends,
    /// Debian `Conflicts`.
    Conflicts,
    /// Debian `Breaks` (for installability the same as Conflicts).
    Breaks,
    /// Debian `Replaces` (recorded; does not constrain installability).
    Replaces,
    /// A root requirement of the build (a manifest line) or of a command line.
    Root,
}

/// A requirement: at least one of its alternatives must hold (for a conflict: none may).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Requirement {
    /// The alternatives, in preference order (`a | b`).
    pub alternatives: Vec<Alternative>,
    /// What kind of relation this is.
    #[serde(default)]
    pub kind: RelationKind,
    /// Where it was declared: `file:line` for manifest lines and index stanzas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl Requirement {
    /// A requirement of one package at the given versions.
    pub fn single(package: PackageId, constraint: VersionConstraint) -> Requirement {
        Requirement {
            alternatives: vec![Alternative {
                package,
                constraint,
                arch: ArchQualifier::None,
            }],
            kind: RelationKind::Depends,
            origin: None,
        }
    }

    /// Sets the origin (`file:line`).
    pub fn with_origin(mut self, origin: impl Into<String>) -> Requirement {
        self.origin = Some(origin.into());
        self
    }

    /// Sets the relation kind.
    pub fn with_kind(mut self, kind: RelationKind) -> Requirement {
        self.kind = kind;
        self
    }
}

/// A provided (virtual) package: `Provides: mail-transport-agent` or `Provides: foo (= 1.2)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Provide {
    /// The virtual (or real) package provided.
    pub package: PackageId,
    /// The provided version, when versioned; unversioned provides satisfy only unversioned relations.
    pub version: Option<String>,
}

/// Debian `Multi-Arch` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MultiArch {
    /// No field.
    #[default]
    No,
    /// `same`: co-installable across architectures.
    Same,
    /// `foreign`: satisfies dependencies of any architecture.
    Foreign,
    /// `allowed`: may satisfy `:any` dependencies.
    Allowed,
}

/// Everything known about a candidate that the search does not reason about,
/// plus the few Debian flags it does (essential, priority, architecture, multi-arch).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CandidateMeta {
    /// Immutable download URL (snapshot pool URL, PyPI file URL, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// SHA-256 of the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// MD5 of the artifact (SONiC's web version files record md5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    /// When the version first existed (RFC 3339 or snapshot timestamp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// Where this candidate came from: index file and line, API URL, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<String>,
    /// Debian `Architecture` (`amd64`, `all`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// Debian `Multi-Arch`.
    #[serde(default, skip_serializing_if = "is_default_ma")]
    pub multi_arch: MultiArch,
    /// Debian `Essential: yes`: present in every installation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub essential: bool,
    /// Debian `Priority` (`required` packages are in every base image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Debian source package name, when it differs from the binary's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Debian `Replaces` (kept for explanations and the apt transaction model).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaces: Vec<Requirement>,
    /// Debian `Recommends` (off by default, like `--no-install-recommends`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recommends: Vec<Requirement>,
    /// Debian `Suggests`: never installed, but apt's autoremove keeps what an
    /// installed package suggests (`APT::AutoRemove::SuggestsImportant`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suggests: Vec<Requirement>,
    /// The candidate's own requirements were not read (Python `Requires-Dist`):
    /// its `depends` is empty for want of knowledge, so a solution may take it
    /// only after its metadata has been read (see `solve::python`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requires_unknown: bool,
    /// Python `Requires-Dist` lines as published, kept so that requirements of
    /// extras (`name[extra]`) can be derived later for any interpreter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires_dist: Vec<String>,
}

fn is_default_ma(m: &MultiArch) -> bool {
    *m == MultiArch::No
}

/// One candidate version of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidate {
    /// The package it is a version of.
    pub package: PackageId,
    /// The version string, valid under the package's scheme.
    pub version: String,
    /// Metadata.
    pub meta: CandidateMeta,
    /// Requirements that must all hold when this candidate is chosen.
    pub depends: Vec<Requirement>,
    /// Relations none of whose alternatives may hold when this candidate is chosen.
    pub conflicts: Vec<Requirement>,
    /// Virtual packages it provides.
    pub provides: Vec<Provide>,
}

/// Errors building, reading or writing a universe.
#[derive(Debug, thiserror::Error)]
pub enum UniverseError {
    /// A version string is not valid for its ecosystem.
    #[error("{origin}: invalid version `{version}` for {package}: {message}")]
    BadVersion {
        /// Where it appeared (file:line or package).
        origin: String,
        /// The package.
        package: String,
        /// The offending version.
        version: String,
        /// Why it is invalid.
        message: String,
    },
    /// A malformed index or metadata file.
    #[error("{file}:{line}: {message}")]
    Parse {
        /// The file label.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A package id that does not belong to this universe.
    #[error("unknown package id {0}")]
    UnknownPackage(u32),
    /// A package key not present in the universe.
    #[error("unknown package {0}")]
    UnknownKey(String),
    /// A version of a known package not present in the universe.
    #[error("{package} has no version {version}")]
    UnknownVersion {
        /// The package.
        package: String,
        /// The version asked for.
        version: String,
    },
    /// Reading or writing the artifact failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The artifact is not valid JSON of the expected shape.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Decompressing an index failed.
    #[error("{file}: {message}")]
    Decompress {
        /// The file label.
        file: String,
        /// What went wrong.
        message: String,
    },
}

/// Per-package data: its key, its candidates (newest first) and who provides it.
#[derive(Debug, Clone, Default)]
pub struct PackageInfo {
    /// The package's identity.
    pub key: PackageKey,
    /// Its candidates, ordered newest first by its version scheme.
    pub candidates: Vec<CandidateId>,
    /// Candidates of other packages (or this one) providing it, with the provided version.
    pub providers: Vec<(CandidateId, Option<String>)>,
}

impl Default for PackageKey {
    fn default() -> Self {
        PackageKey {
            ecosystem: Ecosystem::Deb,
            domain: String::new(),
            name: String::new(),
        }
    }
}

/// The set of packages and candidate versions the search chooses from.
#[derive(Debug, Clone, Default)]
pub struct Universe {
    packages: Vec<PackageInfo>,
    candidates: Vec<Candidate>,
    scopes: HashMap<(Ecosystem, String), usize>,
    // FxHash: package names are short, trusted-length strings looked up about a
    // million times while loading an index, where std's SipHash costs more than
    // the parsing around it.
    names: Vec<FxHashMap<Box<str>, PackageId>>,
    /// Built on first use and dropped when a package or candidate is added:
    /// every problem compiled from an unchanged universe shares one.
    package_index: OnceLock<Arc<PackageIndex>>,
}

/// Each candidate's package, and each package's candidates in one flat array
/// (compressed rows): what a compiled problem needs of the universe's shape.
#[derive(Debug, Default)]
pub struct PackageIndex {
    /// Per candidate: its package.
    pub pkg_of: Vec<PackageId>,
    /// Per package: offsets into `candidates` (one more entry than packages).
    pub start: Vec<u32>,
    /// The candidates of every package, newest first, grouped by package.
    pub candidates: Vec<u32>,
}

impl PackageIndex {
    /// The candidates of package `p` (empty for one out of range).
    pub fn candidates_of(&self, p: PackageId) -> &[u32] {
        let i = p.0 as usize;
        match (self.start.get(i), self.start.get(i + 1)) {
            (Some(&a), Some(&b)) => &self.candidates[a as usize..b as usize],
            _ => &[],
        }
    }
}

/// The on-disk form of a universe.
#[derive(Serialize, Deserialize)]
struct UniverseFile {
    schema_version: u32,
    packages: Vec<PackageKey>,
    candidates: Vec<Candidate>,
}

/// A handle on one (ecosystem, domain) namespace for fast repeated interning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope(usize, Ecosystem);

impl Universe {
    /// An empty universe.
    pub fn new() -> Universe {
        Universe::default()
    }

    /// The namespace handle of (ecosystem, domain), created on first use.
    pub fn scope(&mut self, ecosystem: Ecosystem, domain: &str) -> Scope {
        if let Some(&s) = self.scopes.get(&(ecosystem, domain.to_string())) {
            return Scope(s, ecosystem);
        }
        let s = self.names.len();
        self.names.push(HashMap::default());
        self.scopes.insert((ecosystem, domain.to_string()), s);
        Scope(s, ecosystem)
    }

    /// Reserves room for about this many more candidates and packages (loading a big index).
    pub fn reserve(&mut self, scope: Scope, candidates: usize, packages: usize) {
        self.candidates.reserve(candidates);
        self.packages.reserve(packages);
        self.names[scope.0].reserve(packages);
    }

    /// Interns `name` in a scope, returning its id (the same id for the same name).
    pub fn intern_in(&mut self, scope: Scope, domain: &str, name: &str) -> PackageId {
        if let Some(&id) = self.names[scope.0].get(name) {
            return id;
        }
        let id = PackageId(self.packages.len() as u32);
        self.packages.push(PackageInfo {
            key: PackageKey {
                ecosystem: scope.1,
                domain: domain.to_string(),
                name: name.to_string(),
            },
            candidates: Vec::new(),
            providers: Vec::new(),
        });
        self.names[scope.0].insert(name.into(), id);
        self.package_index.take();
        id
    }

    /// Interns a package key, returning its id (the same id for the same key).
    pub fn intern(&mut self, key: PackageKey) -> PackageId {
        let scope = self.scope(key.ecosystem, &key.domain);
        self.intern_in(scope, &key.domain, &key.name)
    }

    /// Looks a package key up without interning it.
    pub fn lookup(&self, key: &PackageKey) -> Option<PackageId> {
        let s = self.scopes.get(&(key.ecosystem, key.domain.clone()))?;
        self.names[*s].get(key.name.as_str()).copied()
    }

    /// Looks a name up in (ecosystem, domain).
    pub fn lookup_name(&self, ecosystem: Ecosystem, domain: &str, name: &str) -> Option<PackageId> {
        let s = self.scopes.get(&(ecosystem, domain.to_string()))?;
        self.names[*s].get(name).copied()
    }

    /// Number of interned packages (real and virtual).
    pub fn package_count(&self) -> usize {
        self.packages.len()
    }

    /// Number of candidates.
    pub fn candidate_count(&self) -> usize {
        self.candidates.len()
    }

    /// The package with this id.
    pub fn package(&self, id: PackageId) -> &PackageInfo {
        &self.packages[id.0 as usize]
    }

    /// The key of a package.
    pub fn key(&self, id: PackageId) -> &PackageKey {
        &self.packages[id.0 as usize].key
    }

    /// All package ids.
    pub fn package_ids(&self) -> impl Iterator<Item = PackageId> + '_ {
        (0..self.packages.len() as u32).map(PackageId)
    }

    /// The candidate with this id.
    pub fn candidate(&self, id: CandidateId) -> &Candidate {
        &self.candidates[id.0 as usize]
    }

    /// Makes the relative download URLs (a Debian `Filename`) of the candidates added
    /// since `first` absolute under `base`, the archive root their index came from:
    /// a lock must name a URL the build can fetch, not a pool path.
    pub fn absolutize_urls_since(&mut self, first: usize, base: &str) {
        let base = base.trim_end_matches('/');
        for c in self.candidates.iter_mut().skip(first) {
            if let Some(u) = &c.meta.url
                && !u.contains("://")
            {
                c.meta.url = Some(format!("{base}/{}", u.trim_start_matches('/')));
            }
        }
    }

    /// All candidate ids, in insertion order.
    pub fn candidate_ids(&self) -> impl Iterator<Item = CandidateId> + '_ {
        (0..self.candidates.len() as u32).map(CandidateId)
    }

    /// The candidates of a package, newest first.
    pub fn candidates_of(&self, id: PackageId) -> &[CandidateId] {
        &self.packages[id.0 as usize].candidates
    }

    /// The universe's shape for compiled problems, built once per state.
    pub fn package_index(&self) -> Arc<PackageIndex> {
        self.package_index
            .get_or_init(|| {
                let mut ix = PackageIndex {
                    pkg_of: self.candidates.iter().map(|c| c.package).collect(),
                    start: Vec::with_capacity(self.packages.len() + 1),
                    candidates: Vec::with_capacity(self.candidates.len()),
                };
                for p in &self.packages {
                    ix.start.push(ix.candidates.len() as u32);
                    ix.candidates.extend(p.candidates.iter().map(|c| c.0));
                }
                ix.start.push(ix.candidates.len() as u32);
                Arc::new(ix)
            })
            .clone()
    }

    /// The version scheme of a package.
    pub fn scheme(&self, id: PackageId) -> &'static dyn VersionScheme {
        scheme_for(self.packages[id.0 as usize].key.ecosystem)
    }

    /// The candidate of `package` with exactly this version (by the scheme's equality).
    pub fn find_version(&self, package: PackageId, version: &str) -> Option<CandidateId> {
        let s = self.scheme(package);
        self.candidates_of(package).iter().copied().find(|c| {
            s.compare(&self.candidates[c.0 as usize].version, version)
                .is_eq()
        })
    }

    /// `name=version` for display.
    pub fn display_candidate(&self, c: CandidateId) -> String {
        let cand = self.candidate(c);
        format!("{}={}", self.key(cand.package).name, cand.version)
    }

    /// Adds a candidate version of `package`. Adding a version that already
    /// exists (by the scheme's equality) keeps the first and returns its id, so
    /// that loading overlapping indices (a suite and its updates) is idempotent.
    pub fn add_candidate(
        &mut self,
        package: PackageId,
        version: &str,
        meta: CandidateMeta,
        depends: Vec<Requirement>,
        conflicts: Vec<Requirement>,
        provides: Vec<Provide>,
    ) -> Result<CandidateId, UniverseError> {
        let pi = package.0 as usize;
        if pi >= self.packages.len() {
            return Err(UniverseError::UnknownPackage(package.0));
        }
        let n = self.packages.len() as u32;
        for r in depends.iter().chain(conflicts.iter()) {
            for a in &r.alternatives {
                if a.package.0 >= n {
                    return Err(UniverseError::UnknownPackage(a.package.0));
                }
            }
        }
        for p in &provides {
            if p.package.0 >= n {
                return Err(UniverseError::UnknownPackage(p.package.0));
            }
        }
        let scheme = scheme_for(self.packages[pi].key.ecosystem);
        if let Err(message) = scheme.validate(version) {
            return Err(UniverseError::BadVersion {
                origin: meta.provenance.clone().unwrap_or_else(|| "universe".into()),
                package: self.packages[pi].key.to_string(),
                version: version.to_string(),
                message: message.to_string(),
            });
        }
        // Find the insertion point (newest first); most packages have one candidate.
        let mut pos = self.packages[pi].candidates.len();
        for (i, &c) in self.packages[pi].candidates.iter().enumerate() {
            match scheme.compare(version, &self.candidates[c.0 as usize].version) {
                std::cmp::Ordering::Equal => return Ok(c),
                std::cmp::Ordering::Greater => {
                    pos = i;
                    break;
                }
                std::cmp::Ordering::Less => {}
            }
        }
        let id = CandidateId(self.candidates.len() as u32);
        for p in &provides {
            self.packages[p.package.0 as usize]
                .providers
                .push((id, p.version.clone()));
        }
        self.packages[pi].candidates.insert(pos, id);
        self.package_index.take();
        self.candidates.push(Candidate {
            package,
            version: version.to_string(),
            meta,
            depends,
            conflicts,
            provides,
        });
        Ok(id)
    }

    /// Replaces the requirements of a candidate once they are known (metadata read
    /// after the candidate was added); clears `requires_unknown`.
    pub fn set_depends(
        &mut self,
        c: CandidateId,
        depends: Vec<Requirement>,
    ) -> Result<(), UniverseError> {
        let n = self.packages.len() as u32;
        if c.0 as usize >= self.candidates.len() {
            return Err(UniverseError::UnknownPackage(c.0));
        }
        if let Some(bad) = depends
            .iter()
            .flat_map(|r| r.alternatives.iter())
            .find(|a| a.package.0 >= n)
        {
            return Err(UniverseError::UnknownPackage(bad.package.0));
        }
        let cand = &mut self.candidates[c.0 as usize];
        cand.depends = depends;
        cand.meta.requires_unknown = false;
        Ok(())
    }

    /// Mutable metadata of a candidate (provenance notes added after the fact).
    pub fn meta_mut(&mut self, c: CandidateId) -> &mut CandidateMeta {
        &mut self.candidates[c.0 as usize].meta
    }

    /// Candidates that satisfy one alternative: versions of the named package
    /// matching the constraint, and providers whose provided version matches
    /// (an unversioned provide satisfies only an unversioned relation), in
    /// preference order: real versions newest first, then providers.
    pub fn matching(&self, alt: &Alternative, out: &mut Vec<CandidateId>) {
        let info = &self.packages[alt.package.0 as usize];
        let scheme = scheme_for(info.key.ecosystem);
        for &c in &info.candidates {
            let cand = &self.candidates[c.0 as usize];
            if alt.constraint.matches(scheme, &cand.version) && arch_ok(&alt.arch, &cand.meta) {
                out.push(c);
            }
        }
        for (c, pv) in &info.providers {
            if self.candidates[c.0 as usize].package == alt.package {
                continue;
            }
            let ok = match (&alt.constraint, pv) {
                (VersionConstraint::Any, _) => true,
                (_, None) => false,
                (con, Some(v)) => con.matches(scheme, v),
            };
            if ok && provider_arch_ok(&alt.arch, &self.candidates[c.0 as usize].meta) {
                out.push(*c);
            }
        }
    }

    /// Writes the universe as a versioned JSON artifact, atomically.
    pub fn write(&self, path: &Path) -> Result<(), UniverseError> {
        let file = UniverseFile {
            schema_version: UNIVERSE_SCHEMA_VERSION,
            packages: self.packages.iter().map(|p| p.key.clone()).collect(),
            candidates: self.candidates.clone(),
        };
        let bytes = serde_json::to_vec(&file).map_err(|e| UniverseError::Format {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        crate::fsio::write_atomic(path, &bytes).map_err(|source| UniverseError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a universe artifact written by [`Universe::write`], checking its schema and references.
    pub fn read(path: &Path) -> Result<Universe, UniverseError> {
        let bytes = std::fs::read(path).map_err(|source| UniverseError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Universe::from_json_slice(&bytes, path)
    }

    /// Parses a universe artifact's JSON, checking its schema and references; `path` names it in errors.
    pub fn from_json_slice(bytes: &[u8], path: &Path) -> Result<Universe, UniverseError> {
        let fmt_err = |message: String| UniverseError::Format {
            path: path.to_path_buf(),
            message,
        };
        let file: UniverseFile =
            serde_json::from_slice(bytes).map_err(|e| fmt_err(e.to_string()))?;
        if file.schema_version != UNIVERSE_SCHEMA_VERSION {
            return Err(fmt_err(format!(
                "universe schema version {} is not supported (expected {})",
                file.schema_version, UNIVERSE_SCHEMA_VERSION
            )));
        }
        let mut u = Universe::new();
        for (i, k) in file.packages.into_iter().enumerate() {
            let id = u.intern(k.clone());
            if id.0 as usize != i {
                return Err(fmt_err(format!("duplicate package {k}")));
            }
        }
        for c in file.candidates {
            let cid = u
                .add_candidate(
                    c.package,
                    &c.version,
                    c.meta,
                    c.depends,
                    c.conflicts,
                    c.provides,
                )
                .map_err(|e| fmt_err(e.to_string()))?;
            if cid.0 as usize != u.candidates.len() - 1 {
                return Err(fmt_err(format!(
                    "duplicate candidate {}",
                    u.display_candidate(cid)
                )));
            }
        }
        Ok(u)
    }
}

fn arch_ok(q: &ArchQualifier, meta: &CandidateMeta) -> bool {
    match q {
        ArchQualifier::None | ArchQualifier::Native => true,
        // dose-distcheck accepts `:any` from any package of the native
        // architecture, whatever its Multi-Arch field; the check must agree with it.
        ArchQualifier::Any => true,
        ArchQualifier::Named(a) => match meta.architecture.as_deref() {
            Some(x) => x == a || x == "all",
            None => true,
        },
    }
}

fn provider_arch_ok(q: &ArchQualifier, meta: &CandidateMeta) -> bool {
    match q {
        ArchQualifier::None | ArchQualifier::Native | ArchQualifier::Any => true,
        ArchQualifier::Named(a) => match meta.architecture.as_deref() {
            Some(x) => x == a || x == "all",
            None => true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_urls_become_absolute_under_their_archive_root() {
        let mut u = Universe::new();
        let a = u.intern(PackageKey::new(Ecosystem::Deb, "bullseye/amd64", "a"));
        let meta = |url: &str| CandidateMeta {
            url: Some(url.to_string()),
            ..CandidateMeta::default()
        };
        let old = u
            .add_candidate(
                a,
                "1",
                meta("pool/main/a/a/a_1_amd64.deb"),
                vec![],
                vec![],
                vec![],
            )
            .unwrap();
        let first = u.candidate_count();
        let new = u
            .add_candidate(
                a,
                "2",
                meta("pool/main/a/a/a_2_amd64.deb"),
                vec![],
                vec![],
                vec![],
            )
            .unwrap();
        let abs = u
            .add_candidate(a, "3", meta("https://h/x.deb"), vec![], vec![], vec![])
            .unwrap();
        u.absolutize_urls_since(
            first,
            "https://snapshot.debian.org/archive/debian/20221206T000000Z/",
        );
        assert_eq!(
            u.candidate(old).meta.url.as_deref(),
            Some("pool/main/a/a/a_1_amd64.deb")
        );
        assert_eq!(
            u.candidate(new).meta.url.as_deref(),
            Some(
                "https://snapshot.debian.org/archive/debian/20221206T000000Z/pool/main/a/a/a_2_amd64.deb"
            )
        );
        assert_eq!(
            u.candidate(abs).meta.url.as_deref(),
            Some("https://h/x.deb")
        );
    }

    #[test]
    fn the_package_index_follows_the_universe_as_it_grows() {
        let mut u = Universe::new();
        let a = u.intern(PackageKey::new(Ecosystem::Py, "py3", "a"));
        let add = |u: &mut Universe, p, v| {
            u.add_candidate(p, v, CandidateMeta::default(), vec![], vec![], vec![])
                .unwrap()
        };
        let a1 = add(&mut u, a, "1.0");
        let first = u.package_index();
        assert!(Arc::ptr_eq(&first, &u.package_index()), "built once");
        assert_eq!(first.candidates_of(a), &[a1.0]);
        // A newer version goes first; a new package gets its own row.
        let a2 = add(&mut u, a, "2.0");
        let b = u.intern(PackageKey::new(Ecosystem::Py, "py3", "b"));
        let b1 = add(&mut u, b, "0.1");
        let ix = u.package_index();
        assert_eq!(ix.candidates_of(a), &[a2.0, a1.0]);
        assert_eq!(ix.candidates_of(b), &[b1.0]);
        assert_eq!(ix.pkg_of, vec![a, a, b]);
        assert_eq!(ix.candidates_of(PackageId(9)), &[] as &[u32]);
        // What an earlier problem holds stays as it was.
        assert_eq!(first.candidates_of(a), &[a1.0]);
    }

    #[test]
    fn intern_and_order() {
        let mut u = Universe::new();
        let a = u.intern(PackageKey::new(Ecosystem::Deb, "bullseye/amd64", "a"));
        assert_eq!(
            a,
            u.intern(PackageKey::new(Ecosystem::Deb, "bullseye/amd64", "a"))
        );
        let b = u.intern(PackageKey::new(Ecosystem::Deb, "buster/amd64", "a"));
        assert_ne!(a, b);
        let c1 = u
            .add_candidate(a, "1.0-1", CandidateMeta::default(), vec![], vec![], vec![])
            .unwrap();
        let c2 = u
            .add_candidate(a, "1:0.5", CandidateMeta::default(), vec![], vec![], vec![])
            .unwrap();
        let c3 = u
            .add_candidate(a, "1.0-2", CandidateMeta::default(), vec![], vec![], vec![])
            .unwrap();
        assert_eq!(u.candidates_of(a), &[c2, c3, c1]);
        assert_eq!(
            u.add_candidate(a, "1.0-2", CandidateMeta::default(), vec![], vec![], vec![])
                .unwrap(),
            c3
        );
        assert!(
            u.add_candidate(a, "x y", CandidateMeta::default(), vec![], vec![], vec![])
                .is_err()
        );
        assert!(
            u.add_candidate(
                PackageId(99),
                "1",
                CandidateMeta::default(),
                vec![],
                vec![],
                vec![]
            )
            .is_err()
        );
    }

    #[test]
    fn roundtrip_and_bad_file() {
        let mut u = Universe::new();
        let a = u.intern(PackageKey::new(Ecosystem::Py, "py3", "lxml"));
        let b = u.intern(PackageKey::new(Ecosystem::Py, "py3", "six"));
        u.add_candidate(
            a,
            "4.9.1",
            CandidateMeta {
                sha256: Some("ab".into()),
                ..Default::default()
            },
            vec![Requirement::single(
                b,
                VersionConstraint::Specifiers(">=1.0".into()),
            )],
            vec![],
            vec![],
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("u.json");
        u.write(&p).unwrap();
        let v = Universe::read(&p).unwrap();
        assert_eq!(v.candidate_count(), 1);
        assert_eq!(v.candidate(CandidateId(0)), u.candidate(CandidateId(0)));
        std::fs::write(
            &p,
            b"{\"schema_version\": 99, \"packages\": [], \"candidates\": []}",
        )
        .unwrap();
        assert!(
            Universe::read(&p)
                .unwrap_err()
                .to_string()
                .contains("schema version 99")
        );
        std::fs::write(&p, b"{\"schema_version\": 1, \"packages\": [], \"candidates\": [{\"package\": 3, \"version\": \"1\", \"meta\": {}, \"depends\": [], \"conflicts\": [], \"provides\": []}]}").unwrap();
        assert!(Universe::read(&p).is_err());
    }
}
