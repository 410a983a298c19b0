//! A `Packages` index parsed once, in a form that can be stored and loaded
//! into any universe without reading its text again.
//!
//! [`ParsedIndex`] holds the index as it would load into an empty universe
//! (its own package table and candidates naming packages by their position in
//! it). [`ParsedIndex::load_into`] interns that table into a universe and adds
//! the candidates in their original order, so the universe comes out exactly
//! as if the text had been loaded into it directly: the same package ids, the
//! same candidate ids, the same duplicates dropped (a version already given
//! by an earlier suite keeps its first copy).
//!
//! The stored form mirrors [`Candidate`] field by field without the
//! `skip_serializing_if` of the JSON artifact, because a compact binary
//! encoding has no field names to tell an omitted field from the next one.

use super::{
    Alternative, ArchQualifier, Candidate, CandidateMeta, MultiArch, PackageId, PackageKey,
    Provide, RelationKind, Requirement, Universe, UniverseError, VersionConstraint, debian,
};
use serde::{Deserialize, Serialize};

/// One `Packages` index, parsed: a package table and candidates that index it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedIndex {
    /// Every package the index names (real and virtual), in first-seen order.
    pub packages: Vec<PackageKey>,
    /// Its candidates, in stanza order, with package ids into `packages`.
    candidates: Vec<StoredCandidate>,
}

impl ParsedIndex {
    /// Parses an uncompressed `Packages` index as [`debian::load_packages`]
    /// would load it under `domain`, with pool paths made absolute under
    /// `root` (the archive root). Errors name `file_label` and the line.
    pub fn parse(
        bytes: &[u8],
        file_label: &str,
        domain: &str,
        root: &str,
    ) -> Result<ParsedIndex, UniverseError> {
        let mut u = Universe::new();
        debian::load_packages(&mut u, bytes, file_label, domain)?;
        u.absolutize_urls_since(0, root);
        Ok(ParsedIndex {
            packages: u.packages.into_iter().map(|p| p.key).collect(),
            candidates: u
                .candidates
                .into_iter()
                .map(StoredCandidate::from)
                .collect(),
        })
    }

    /// Number of candidates.
    pub fn candidate_count(&self) -> usize {
        self.candidates.len()
    }

    /// `(name, version)` of every candidate, in stanza order.
    pub fn versions(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.candidates.iter().filter_map(|c| {
            let k = self.packages.get(c.package as usize)?;
            Some((k.name.as_str(), c.version.as_str()))
        })
    }

    /// Names every candidate provides.
    pub fn provided(&self) -> impl Iterator<Item = &str> + '_ {
        self.candidates
            .iter()
            .flat_map(|c| c.provides.iter())
            .filter_map(|(p, _)| self.packages.get(*p as usize).map(|k| k.name.as_str()))
    }

    /// Adds the index to `u` exactly as loading its text would; returns the
    /// number of candidates it holds. A package id out of range (a stored
    /// form that does not hang together) is refused. Consumes the index: its
    /// strings move into the universe instead of being copied.
    pub fn load_into(self, u: &mut Universe) -> Result<usize, UniverseError> {
        let mut ids = Vec::with_capacity(self.packages.len());
        let mut scope: Option<(&PackageKey, super::Scope)> = None;
        for k in &self.packages {
            // Keys of one index share their ecosystem and domain: look the scope up once.
            let s = match scope {
                Some((prev, s)) if prev.ecosystem == k.ecosystem && prev.domain == k.domain => s,
                _ => {
                    let s = u.scope(k.ecosystem, &k.domain);
                    scope = Some((k, s));
                    s
                }
            };
            ids.push(u.intern_in(s, &k.domain, &k.name));
        }
        let map = |i: u32| -> Result<PackageId, UniverseError> {
            ids.get(i as usize)
                .copied()
                .ok_or(UniverseError::UnknownPackage(i))
        };
        let n = self.candidates.len();
        for c in self.candidates {
            let c = c.into_candidate(&map)?;
            u.add_candidate(
                c.package,
                &c.version,
                c.meta,
                c.depends,
                c.conflicts,
                c.provides,
            )?;
        }
        Ok(n)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredCandidate {
    package: u32,
    version: String,
    meta: StoredMeta,
    depends: Vec<StoredRequirement>,
    conflicts: Vec<StoredRequirement>,
    provides: Vec<(u32, Option<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredMeta {
    url: Option<String>,
    sha256: Option<String>,
    md5: Option<String>,
    first_seen: Option<String>,
    provenance: Option<String>,
    architecture: Option<String>,
    multi_arch: MultiArch,
    essential: bool,
    priority: Option<String>,
    source: Option<String>,
    replaces: Vec<StoredRequirement>,
    recommends: Vec<StoredRequirement>,
    suggests: Vec<StoredRequirement>,
    requires_unknown: bool,
    requires_dist: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct StoredRequirement {
    alternatives: Vec<(u32, VersionConstraint, ArchQualifier)>,
    kind: RelationKind,
    origin: Option<String>,
}

fn store_reqs(rs: Vec<Requirement>) -> Vec<StoredRequirement> {
    rs.into_iter()
        .map(|r| StoredRequirement {
            alternatives: r
                .alternatives
                .into_iter()
                .map(|a| (a.package.0, a.constraint, a.arch))
                .collect(),
            kind: r.kind,
            origin: r.origin,
        })
        .collect()
}

fn load_reqs(
    rs: Vec<StoredRequirement>,
    map: &impl Fn(u32) -> Result<PackageId, UniverseError>,
) -> Result<Vec<Requirement>, UniverseError> {
    rs.into_iter()
        .map(|r| {
            Ok(Requirement {
                alternatives: r
                    .alternatives
                    .into_iter()
                    .map(|(p, constraint, arch)| {
                        Ok(Alternative {
                            package: map(p)?,
                            constraint,
                            arch,
                        })
                    })
                    .collect::<Result<_, UniverseError>>()?,
                kind: r.kind,
                origin: r.origin,
            })
        })
        .collect()
}

impl From<Candidate> for StoredCandidate {
    fn from(c: Candidate) -> StoredCandidate {
        let m = c.meta;
        StoredCandidate {
            package: c.package.0,
            version: c.version,
            meta: StoredMeta {
                url: m.url,
                sha256: m.sha256,
                md5: m.md5,
                first_seen: m.first_seen,
                provenance: m.provenance,
                architecture: m.architecture,
                multi_arch: m.multi_arch,
                essential: m.essential,
                priority: m.priority,
                source: m.source,
                replaces: store_reqs(m.replaces),
                recommends: store_reqs(m.recommends),
                suggests: store_reqs(m.suggests),
                requires_unknown: m.requires_unknown,
                requires_dist: m.requires_dist,
            },
            depends: store_reqs(c.depends),
            conflicts: store_reqs(c.conflicts),
            provides: c
                .provides
                .into_iter()
                .map(|p| (p.package.0, p.version))
                .collect(),
        }
    }
}

impl StoredCandidate {
    fn into_candidate(
        self,
        map: &impl Fn(u32) -> Result<PackageId, UniverseError>,
    ) -> Result<Candidate, UniverseError> {
        let m = self.meta;
        Ok(Candidate {
            package: map(self.package)?,
            version: self.version,
            meta: CandidateMeta {
                url: m.url,
                sha256: m.sha256,
                md5: m.md5,
                first_seen: m.first_seen,
                provenance: m.provenance,
                architecture: m.architecture,
                multi_arch: m.multi_arch,
                essential: m.essential,
                priority: m.priority,
                source: m.source,
                replaces: load_reqs(m.replaces, map)?,
                recommends: load_reqs(m.recommends, map)?,
                suggests: load_reqs(m.suggests, map)?,
                requires_unknown: m.requires_unknown,
                requires_dist: m.requires_dist,
            },
            depends: load_reqs(self.depends, map)?,
            conflicts: load_reqs(self.conflicts, map)?,
            provides: self
                .provides
                .into_iter()
                .map(|(p, v)| {
                    Ok(Provide {
                        package: map(p)?,
                        version: v,
                    })
                })
                .collect::<Result<_, UniverseError>>()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIN: &str = "\
Package: a
Version: 1.0-1
Architecture: amd64
Depends: b (>= 2) | c, libc6:any
Pre-Depends: dpkg
Conflicts: d (<< 1)
Breaks: e
Replaces: e
Recommends: f
Provides: v (= 1.0), w
Multi-Arch: foreign
Priority: required
Essential: yes
Source: a-src (1.0)
Filename: pool/main/a/a_1.0-1_amd64.deb
SHA256: 00ff
MD5sum: 11ee

Package: b
Version: 2.0
Architecture: all
Depends: c [amd64], d:native

Package: x
Version: 1
Architecture: i386
";

    const UPDATES: &str = "\
Package: a
Version: 1.0-1
Architecture: amd64
Filename: pool/main/a/a_1.0-1_amd64.deb

Package: a
Version: 1.0-2
Architecture: amd64
Depends: z
Provides: v (= 1.0)
Filename: pool/main/a/a_1.0-2_amd64.deb
";

    /// Package keys, candidates and providers: everything a universe holds.
    fn dump(u: &Universe) -> String {
        let mut s = String::new();
        for p in &u.packages {
            s.push_str(&format!("{} {:?} {:?}\n", p.key, p.candidates, p.providers));
        }
        for c in &u.candidates {
            s.push_str(&format!("{c:?}\n"));
        }
        s
    }

    #[test]
    fn loading_the_parsed_form_equals_loading_the_text() {
        let root = "http://deb.example/debian";
        let mut direct = Universe::new();
        let other = direct.intern(PackageKey::new(
            crate::manifest::Ecosystem::Py,
            "py3",
            "lxml",
        ));
        let mut via = direct.clone();
        for (text, label) in [(MAIN, "main/Packages"), (UPDATES, "updates/Packages")] {
            let first = direct.candidate_count();
            debian::load_packages(&mut direct, text.as_bytes(), label, "bullseye/amd64").unwrap();
            direct.absolutize_urls_since(first, root);
            let p = ParsedIndex::parse(text.as_bytes(), label, "bullseye/amd64", root).unwrap();
            // Through the stored bytes, as the cache keeps it.
            let bytes = postcard::to_stdvec(&p).unwrap();
            let back: ParsedIndex = postcard::from_bytes(&bytes).unwrap();
            assert_eq!(back, p);
            back.load_into(&mut via).unwrap();
        }
        assert_eq!(dump(&direct), dump(&via));
        assert_eq!(via.key(other).name, "lxml");
        // The duplicate version of `a` from the updates kept its first copy.
        let a = via
            .lookup_name(crate::manifest::Ecosystem::Deb, "bullseye/amd64", "a")
            .unwrap();
        assert_eq!(via.candidates_of(a).len(), 2);
    }

    #[test]
    fn names_and_versions_of_the_parsed_form() {
        let p = ParsedIndex::parse(MAIN.as_bytes(), "P", "bullseye/amd64", "http://h").unwrap();
        let v: Vec<_> = p.versions().collect();
        assert_eq!(v, vec![("a", "1.0-1"), ("b", "2.0")]);
        let mut prov: Vec<_> = p.provided().collect();
        prov.sort();
        assert_eq!(prov, vec!["v", "w"]);
        assert_eq!(p.candidate_count(), 2);
    }

    #[test]
    fn a_stored_form_naming_a_missing_package_is_refused() {
        let mut p = ParsedIndex::parse(MAIN.as_bytes(), "P", "bullseye/amd64", "http://h").unwrap();
        p.packages.truncate(1);
        let mut u = Universe::new();
        assert!(matches!(
            p.load_into(&mut u),
            Err(UniverseError::UnknownPackage(_))
        ));
    }
}
