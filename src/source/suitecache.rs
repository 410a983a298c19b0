//! Parsed suites, cached in binary form: a warm run loads a suite's
//! `Packages` indices into the universe without decompressing or parsing
//! their text again (apt keeps `pkgcache.bin` for the same reason).
//!
//! An entry holds a [`ParsedSuite`] encoded with `postcard` and lives at
//! `parsed/<suite>/<key>.bin` under the cache root. Its key hashes what
//! decides its content, all known from the Release file alone (see
//! [`plan_suite`](crate::source::debian::archive::plan_suite)): the dists URL,
//! every index's file name and SHA-256, the entry format version and the text
//! of the parser's code, so a changed Release, a changed mirror or a changed
//! parser never reads an old entry. Each entry carries a SHA-256 of its body;
//! one that does not match, or does not decode, is removed, reported and
//! rebuilt from the indices, never used. Entries are written atomically (a
//! temporary file, then a rename), and writing one prunes the older entries
//! of the same suite beyond the newest [`KEEP`].

use crate::source::SourceError;
use crate::source::cache::Cache;
use crate::source::debian::archive::{
    IndexKind, SuiteIndex, SuitePlan, SuiteReport, archive_root, fetch_planned,
};
use crate::source::http::Http;
use crate::universe::parsed::ParsedIndex;
use crate::universe::suite::deb_domain;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::path::PathBuf;

/// Version of the entry layout; bumped when [`ParsedSuite`] changes shape.
pub const FORMAT_VERSION: u32 = 1;

/// How many entries of one suite are kept (the one just written included):
/// a bisection over snapshot timestamps revisits a few Release files.
pub const KEEP: usize = 3;

/// First bytes of every entry.
const MAGIC: &[u8; 16] = b"sonic-lock-suite";

/// The code whose output an entry stores: any change to it gives new keys.
const PARSER_CODE: &[&str] = &[
    include_str!("../universe/debian.rs"),
    include_str!("../universe/parsed.rs"),
    include_str!("../universe/mod.rs"),
    include_str!("../universe/version.rs"),
    include_str!("suitecache.rs"),
];

/// A suite's indices in the form the index stage uses: every `Packages`
/// index parsed for the universe, and the names and versions of every index
/// for the report of missing dependencies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedSuite {
    /// Each `Packages` index, parsed, with its universe domain.
    pub packages: Vec<(String, ParsedIndex)>,
    /// Names found in each index.
    pub names: Vec<IndexNames>,
    /// Each `Sources` stanza's build dependencies, for `apt-get build-dep`.
    pub build_deps: Vec<SourceBuildDeps>,
}

/// What `apt-get build-dep` of one source package version installs: its
/// `Build-Depends`, `Build-Depends-Arch` and `Build-Depends-Indep`, joined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceBuildDeps {
    /// The source package.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The relations of the three fields, comma-separated.
    pub relations: String,
}

/// The names of one index: what the missing-dependency report looks up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexNames {
    /// `Packages` or `Sources`.
    pub kind: IndexKind,
    /// Number of stanzas with a name and a version.
    pub stanzas: usize,
    /// `(name, version)` of every stanza, and `(name, None)` for every name a `Packages` stanza provides.
    pub entries: Vec<(String, Option<String>)>,
}

impl ParsedSuite {
    /// Parses every index of a fetched suite. Errors name the index URL and line.
    pub fn from_index(si: &SuiteIndex) -> Result<ParsedSuite, SourceError> {
        let root = archive_root(&si.dists_url);
        let mut packages = Vec::new();
        let mut names = Vec::new();
        let mut build_deps = Vec::new();
        for ix in &si.indices {
            if ix.kind == IndexKind::Packages {
                let domain = deb_domain(&si.spec.suite, &ix.arch);
                let p = ParsedIndex::parse(&ix.bytes, &ix.url, &domain, root)?;
                packages.push((domain, p));
            } else {
                build_deps.extend(scan_build_deps(&ix.bytes));
            }
            names.push(scan_names(&ix.bytes, ix.kind));
        }
        Ok(ParsedSuite {
            packages,
            names,
            build_deps,
        })
    }
}

/// The build dependencies of every stanza of a `Sources` index (fields may
/// continue on indented lines).
pub fn scan_build_deps(bytes: &[u8]) -> Vec<SourceBuildDeps> {
    const FIELDS: [&str; 3] = ["build-depends", "build-depends-arch", "build-depends-indep"];
    let text = String::from_utf8_lossy(bytes);
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let (mut name, mut version) = (None, None);
        let mut relations: Vec<String> = Vec::new();
        let mut taking = false;
        for line in stanza.lines() {
            if line.starts_with([' ', '\t']) {
                if taking && let Some(last) = relations.last_mut() {
                    last.push(' ');
                    last.push_str(line.trim());
                }
                continue;
            }
            taking = false;
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let k = k.trim().to_ascii_lowercase();
            match k.as_str() {
                "package" => name = Some(v.trim().to_string()),
                "version" => version = Some(v.trim().to_string()),
                _ if FIELDS.contains(&k.as_str()) => {
                    taking = true;
                    relations.push(v.trim().to_string());
                }
                _ => {}
            }
        }
        if let (Some(name), Some(version)) = (name, version) {
            let relations: Vec<String> = relations
                .into_iter()
                .map(|r| r.trim().trim_end_matches(',').to_string())
                .filter(|r| !r.is_empty())
                .collect();
            out.push(SourceBuildDeps {
                name,
                version,
                relations: relations.join(", "),
            });
        }
    }
    out
}

/// Reads the `Package`, `Version` and (binary indices) `Provides` names of an index.
pub fn scan_names(bytes: &[u8], kind: IndexKind) -> IndexNames {
    let provides = kind == IndexKind::Packages;
    let text = String::from_utf8_lossy(bytes);
    let mut entries = Vec::new();
    let mut stanzas = 0;
    for stanza in text.split("\n\n") {
        let mut pkg = None;
        let mut ver = None;
        let mut prov = Vec::new();
        for line in stanza.lines() {
            if let Some(v) = line.strip_prefix("Package:") {
                pkg = Some(v.trim().to_string());
            } else if let Some(v) = line.strip_prefix("Version:") {
                ver = Some(v.trim().to_string());
            } else if provides && let Some(v) = line.strip_prefix("Provides:") {
                prov.extend(
                    v.split(',')
                        .filter_map(|p| p.split_whitespace().next().map(str::to_string)),
                );
            }
        }
        if let (Some(p), Some(v)) = (pkg, ver) {
            stanzas += 1;
            entries.push((p, Some(v)));
            entries.extend(prov.into_iter().map(|p| (p, None)));
        }
    }
    IndexNames {
        kind,
        stanzas,
        entries,
    }
}

/// Where a suite's parsed form is found, and what became of the lookup.
pub struct SuiteCache<'a> {
    cache: &'a Cache,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Cached {
    /// A verified entry.
    Hit(ParsedSuite),
    /// No entry for this key.
    Missing,
    /// An entry that failed its check: removed; the message says which and why.
    Corrupt(String),
}

impl<'a> SuiteCache<'a> {
    /// The parsed-suite cache inside `cache`.
    pub fn new(cache: &'a Cache) -> SuiteCache<'a> {
        SuiteCache { cache }
    }

    /// The key of a plan's parsed form: everything its content depends on.
    pub fn key(plan: &SuitePlan) -> String {
        let mut h = sha2::Sha256::new();
        h.update(format!("format {FORMAT_VERSION}\n"));
        h.update(code_hash());
        h.update(format!("\n{}\n{}\n", plan.spec.label(), plan.dists_url));
        for ix in &plan.indices {
            h.update(format!(
                "{:?} {} {} {} {}\n",
                ix.kind, ix.component, ix.arch, ix.file, ix.sha256
            ));
        }
        hex::encode(h.finalize())
    }

    fn dir(&self, plan: &SuitePlan) -> PathBuf {
        let label: String = plan
            .spec
            .label()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        self.cache.root().join("parsed").join(label)
    }

    /// The entry file of a plan.
    pub fn path(&self, plan: &SuitePlan) -> PathBuf {
        self.dir(plan).join(format!("{}.bin", Self::key(plan)))
    }

    /// Reads the entry of `plan`; a corrupt one is removed and reported.
    pub fn get(&self, plan: &SuitePlan) -> Result<Cached, SourceError> {
        let path = self.path(plan);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Cached::Missing),
            Err(e) => return Err(SourceError::io(&path, e)),
        };
        match decode(&bytes) {
            Ok(p) => Ok(Cached::Hit(p)),
            Err(why) => {
                let _ = std::fs::remove_file(&path);
                let msg = format!(
                    "corrupt parsed-suite cache entry {} (for {}): {why}; removed, rebuilt from the indices",
                    path.display(),
                    plan.spec.label()
                );
                self.cache.note_corrupt(msg.clone());
                Ok(Cached::Corrupt(msg))
            }
        }
    }

    /// Stores the parsed form of `plan` (atomically), then prunes the suite's
    /// older entries beyond the newest [`KEEP`].
    pub fn put(&self, plan: &SuitePlan, parsed: &ParsedSuite) -> Result<(), SourceError> {
        let path = self.path(plan);
        let bytes = encode(parsed).map_err(|e| SourceError::Invalid(e.to_string()))?;
        crate::fsio::write_atomic(&path, &bytes).map_err(|e| SourceError::io(&path, e))?;
        self.prune(&path);
        Ok(())
    }

    fn prune(&self, keep: &std::path::Path) {
        let Some(dir) = keep.parent() else { return };
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<(std::time::SystemTime, PathBuf)> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p != keep && p.extension().is_some_and(|x| x == "bin"))
            .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
            .collect();
        entries.sort_by_key(|e| std::cmp::Reverse(e.0));
        for (_, p) in entries.into_iter().skip(KEEP.saturating_sub(1)) {
            // Another run may have removed it first; either way it is gone.
            let _ = std::fs::remove_file(p);
        }
    }
}

fn code_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let mut h = sha2::Sha256::new();
        for c in PARSER_CODE {
            h.update(c.as_bytes());
            h.update([0u8]);
        }
        hex::encode(h.finalize())
    })
}

/// `MAGIC`, the format version (u32 LE), the SHA-256 of the body, the body.
fn encode(p: &ParsedSuite) -> Result<Vec<u8>, postcard::Error> {
    let body = postcard::to_stdvec(p)?;
    let mut out = Vec::with_capacity(body.len() + 52);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&sha2::Sha256::digest(&body));
    out.extend_from_slice(&body);
    Ok(out)
}

/// Whether a parsed-suite entry is sound (what a read would accept), else why not.
pub fn check_entry(bytes: &[u8]) -> Result<(), String> {
    decode(bytes).map(|_| ())
}

fn decode(bytes: &[u8]) -> Result<ParsedSuite, String> {
    let head = MAGIC.len() + 4 + 32;
    if bytes.len() < head || &bytes[..MAGIC.len()] != MAGIC {
        return Err("not a parsed-suite entry".into());
    }
    let mut v = [0u8; 4];
    v.copy_from_slice(&bytes[MAGIC.len()..MAGIC.len() + 4]);
    let version = u32::from_le_bytes(v);
    if version != FORMAT_VERSION {
        return Err(format!(
            "format version {version}, expected {FORMAT_VERSION}"
        ));
    }
    let (sum, body) = bytes[MAGIC.len() + 4..].split_at(32);
    if sha2::Sha256::digest(body).as_slice() != sum {
        return Err("its checksum does not match its content".into());
    }
    postcard::from_bytes(body).map_err(|e| format!("cannot decode it: {e}"))
}

/// A suite's parsed form for `plan`: the cached one when its entry is there
/// and sound, else its indices fetched, verified and parsed, and the entry
/// written. The report carries a warning when a corrupt entry was replaced.
pub fn load(http: &Http, plan: SuitePlan) -> Result<(SuiteReport, ParsedSuite), SourceError> {
    let sc = SuiteCache::new(http.cache());
    let mut report = plan.report();
    match sc.get(&plan)? {
        Cached::Hit(p) => return Ok((report, p)),
        Cached::Missing => {}
        Cached::Corrupt(msg) => report.warnings.push(msg),
    }
    let si = fetch_planned(http, plan.clone())?;
    let parsed = ParsedSuite::from_index(&si)?;
    // An entry that cannot be written costs the next run time, not this one its result.
    if let Err(e) = sc.put(&plan, &parsed) {
        report.warnings.push(format!(
            "{}: parsed form not cached: {e}",
            plan.spec.label()
        ));
    }
    Ok((report, parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_stanzas_give_their_three_build_dependency_fields() {
        let text = "Package: linux\nBinary: a, b\nVersion: 5.10.158-2\nBuild-Depends: debhelper-compat (= 12),\n gcc-10 [amd64],\nBuild-Depends-Arch: libelf-dev\nBuild-Depends-Indep: python3-sphinx <!nodoc>\nFiles:\n abc 1 linux.dsc\n\n\
                    Package: empty\nVersion: 1\n\nVersion: 2\n";
        let got = scan_build_deps(text.as_bytes());
        assert_eq!(
            got,
            vec![
                SourceBuildDeps {
                    name: "linux".into(),
                    version: "5.10.158-2".into(),
                    relations: "debhelper-compat (= 12), gcc-10 [amd64], libelf-dev, python3-sphinx <!nodoc>".into(),
                },
                SourceBuildDeps {
                    name: "empty".into(),
                    version: "1".into(),
                    relations: String::new(),
                },
            ]
        );
    }
}
