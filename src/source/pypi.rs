//! PyPI as of the cutoff: the PEP 691 Simple JSON API with PEP 700
//! `upload-time`; a version exists at D if a non-yanked file of it was
//! uploaded at or before D. Core metadata (`Requires-Dist`,
//! `Requires-Python`) comes from the first of a chain of sources that has it
//! (see [`meta`]); `/pypi/<name>/json` is the fallback for indexes without
//! upload times.

pub mod meta;

use crate::date::Cutoff;
use crate::date::{parse_rfc3339, rfc3339};
use crate::manifest::Ecosystem;
use crate::source::http::{Http, Request};
use crate::source::{History, SourceError, VersionAt, VersionSource, join_url};
use crate::universe::python::PyName;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

/// The default index.
pub const PYPI_URL: &str = "https://pypi.org";

const SIMPLE_JSON: &str = "application/vnd.pypi.simple.v1+json";

/// A PyPI client.
pub struct PyPi {
    http: Arc<Http>,
    base: String,
}

/// One distribution file as the index lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PyFile {
    /// File name.
    pub filename: String,
    /// Version parsed from the file name (normalised PEP 440).
    pub version: String,
    /// Download URL (absolute).
    pub url: String,
    /// SHA-256, when the index gives it.
    pub sha256: Option<String>,
    /// Upload time.
    pub upload_time: Option<String>,
    /// `requires-python`.
    pub requires_python: Option<String>,
    /// True when yanked (PEP 592).
    pub yanked: bool,
    /// PEP 658: the metadata file exists; its SHA-256 when given.
    pub core_metadata: Option<Option<String>>,
}

/// A version as it stood at the cutoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PyVersion {
    /// Normalised version.
    pub version: String,
    /// Earliest upload time among its files.
    pub first_upload: String,
    /// `requires-python` of its files (the first non-empty one).
    pub requires_python: Option<String>,
    /// Its non-yanked files uploaded at or before the cutoff.
    pub files: Vec<PyFile>,
}

/// Core metadata of one version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PyMetadata {
    /// `Requires-Dist` lines, each a valid PEP 508 requirement.
    pub requires_dist: Vec<String>,
    /// `Requires-Python`.
    pub requires_python: Option<String>,
    /// Where it came from (metadata file URL or JSON API URL).
    pub from: String,
}

#[derive(Deserialize)]
struct SimpleProject {
    #[serde(default)]
    files: Vec<SimpleFile>,
}

#[derive(Deserialize)]
struct SimpleFile {
    filename: String,
    url: String,
    #[serde(default)]
    hashes: BTreeMap<String, String>,
    #[serde(default, rename = "requires-python")]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: serde_json::Value,
    #[serde(default, rename = "upload-time")]
    upload_time: Option<String>,
    #[serde(default, rename = "core-metadata")]
    core_metadata: serde_json::Value,
    #[serde(default, rename = "dist-info-metadata")]
    dist_info_metadata: serde_json::Value,
}

#[derive(Deserialize)]
struct LegacyProject {
    #[serde(default)]
    info: LegacyInfo,
    #[serde(default)]
    releases: BTreeMap<String, Vec<LegacyFile>>,
}

#[derive(Deserialize, Default)]
struct LegacyInfo {
    #[serde(default)]
    requires_dist: Option<Vec<String>>,
    #[serde(default)]
    requires_python: Option<String>,
}

#[derive(Deserialize)]
struct LegacyFile {
    filename: String,
    url: String,
    #[serde(default)]
    digests: BTreeMap<String, String>,
    #[serde(default)]
    requires_python: Option<String>,
    #[serde(default)]
    yanked: bool,
    #[serde(default)]
    upload_time_iso_8601: Option<String>,
    #[serde(default)]
    upload_time: Option<String>,
}

/// The version a distribution file name carries, normalised; `None` for names it cannot read.
pub fn version_from_filename(project: &str, filename: &str) -> Option<String> {
    let norm = PyName::new(project).ok()?;
    let stem = if let Some(s) = filename.strip_suffix(".whl") {
        // name-ver(-build)?-py-abi-plat.whl
        return s.split('-').nth(1).and_then(norm_version);
    } else if let Some(s) = filename.strip_suffix(".egg") {
        return s.split('-').nth(1).and_then(norm_version);
    } else {
        [".tar.gz", ".tar.bz2", ".tar.xz", ".tgz", ".zip", ".tar"]
            .iter()
            .find_map(|ext| filename.strip_suffix(ext))?
    };
    // sdist: the name may itself contain `-`; find the split whose left side is the project.
    stem.match_indices('-').find_map(|(i, _)| {
        let (n, v) = (&stem[..i], &stem[i + 1..]);
        (PyName::new(n).ok()? == norm)
            .then(|| norm_version(v))
            .flatten()
    })
}

/// What a request for a project's file list is called (in errors, and to
/// tell its "no such project" from other 404s).
pub fn project_request(norm: &str) -> String {
    format!("{PROJECT_REQUEST}{norm}")
}

/// Whether a request named `what` asked for a project's file list.
pub fn is_project_request(what: &str) -> bool {
    what.starts_with(PROJECT_REQUEST)
}

const PROJECT_REQUEST: &str = "PyPI project ";

fn norm_version(v: &str) -> Option<String> {
    pep440_rs::Version::from_str(v).ok().map(|v| v.to_string())
}

fn metadata_hash(v: &serde_json::Value) -> Option<Option<String>> {
    match v {
        serde_json::Value::Bool(true) => Some(None),
        serde_json::Value::Object(m) => {
            Some(m.get("sha256").and_then(|h| h.as_str()).map(str::to_string))
        }
        _ => None,
    }
}

impl PyPi {
    /// The index base URL (`https://pypi.org`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A client for the index at `base` (`https://pypi.org`).
    pub fn new(http: Arc<Http>, base: &str) -> PyPi {
        PyPi {
            http,
            base: base.to_string(),
        }
    }

    /// Every file the index lists for `name` (Simple JSON, falling back to the JSON API when upload times are missing).
    pub fn files(&self, name: &str) -> Result<Vec<PyFile>, SourceError> {
        let norm = PyName::new(name)?.to_string();
        let url = join_url(&self.base, &format!("simple/{norm}/"));
        let what = project_request(&norm);
        let f = self
            .http
            .get(&Request::new(&url, &what).accept(SIMPLE_JSON))?;
        let (out, missing_time) = parse_simple(&f.bytes, &url, &f.final_url, &norm)?;
        if missing_time {
            // PEP 700 not served (an old mirror): the JSON API has the times.
            return self.legacy_files(&norm);
        }
        Ok(out)
    }

    fn legacy(
        &self,
        norm: &str,
        version: Option<&str>,
    ) -> Result<(LegacyProject, String), SourceError> {
        let path = match version {
            Some(v) => format!("pypi/{norm}/{v}/json"),
            None => format!("pypi/{norm}/json"),
        };
        let url = join_url(&self.base, &path);
        let what = format!("PyPI JSON for {norm}");
        let f = self
            .http
            .get(&Request::new(&url, &what).accept("application/json"))?;
        let p = legacy_json(&f.bytes, &url)?;
        Ok((p, url))
    }

    fn legacy_files(&self, norm: &str) -> Result<Vec<PyFile>, SourceError> {
        let (p, _) = self.legacy(norm, None)?;
        Ok(legacy_project_files(p, norm))
    }

    /// The versions of `name` that existed at the cutoff, oldest first, and how many came later.
    pub fn versions_at(
        &self,
        name: &str,
        cutoff: &Cutoff,
    ) -> Result<(Vec<PyVersion>, usize, Vec<String>), SourceError> {
        let files = self.files(name)?;
        let mut by_version: BTreeMap<String, Vec<PyFile>> = BTreeMap::new();
        let mut all_versions = std::collections::BTreeSet::new();
        let mut notes = Vec::new();
        let mut yanked = std::collections::BTreeSet::new();
        for f in files {
            all_versions.insert(f.version.clone());
            let t: Option<DateTime<Utc>> = f.upload_time.as_deref().and_then(parse_rfc3339);
            if f.yanked {
                // Yanks carry no date: a file yanked today may have been fine at D, but pip skips it now.
                yanked.insert(f.version.clone());
                continue;
            }
            match t {
                Some(t) if t <= cutoff.0 => {
                    by_version.entry(f.version.clone()).or_default().push(f)
                }
                Some(_) => {}
                None => notes.push(format!("{}: no upload time, left out", f.filename)),
            }
        }
        for v in &yanked {
            if !by_version.contains_key(v) {
                notes.push(format!("{v}: every file yanked"));
            }
        }
        let mut out: Vec<PyVersion> = by_version
            .into_iter()
            .map(|(version, mut files)| {
                files.sort_by(|a, b| a.filename.cmp(&b.filename));
                let first = files
                    .iter()
                    .filter_map(|f| f.upload_time.as_deref().and_then(parse_rfc3339))
                    .min()
                    .map(|t| rfc3339(&t))
                    .unwrap_or_default();
                let rp = files.iter().find_map(|f| f.requires_python.clone());
                PyVersion {
                    version,
                    first_upload: first,
                    requires_python: rp,
                    files,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            match (
                pep440_rs::Version::from_str(&a.version),
                pep440_rs::Version::from_str(&b.version),
            ) {
                (Ok(x), Ok(y)) => x.cmp(&y),
                _ => a.version.cmp(&b.version),
            }
        });
        let later = all_versions.len().saturating_sub(
            out.len()
                + yanked
                    .iter()
                    .filter(|v| !out.iter().any(|o| &o.version == *v))
                    .count(),
        );
        Ok((out, later, notes))
    }
}

/// Reads a PEP 691 project page (`Accept: application/vnd.pypi.simple.v1+json`)
/// fetched from `url` (redirected to `final_url`) for the normalised project
/// `norm`: its files, and whether any lacks a PEP 700 upload time.
pub fn parse_simple(
    bytes: &[u8],
    url: &str,
    final_url: &str,
    norm: &str,
) -> Result<(Vec<PyFile>, bool), SourceError> {
    let p: SimpleProject = serde_json::from_slice(bytes).map_err(|e| {
        SourceError::parse(
            format!("{url}:{}", e.line()),
            format!("not a PEP 691 JSON project page: {e}"),
        )
    })?;
    let base_url =
        reqwest::Url::parse(final_url).map_err(|e| SourceError::parse(final_url, e.to_string()))?;
    let mut out = Vec::new();
    let mut missing_time = false;
    for sf in p.files {
        let Some(version) = version_from_filename(norm, &sf.filename) else {
            continue;
        };
        missing_time |= sf.upload_time.is_none();
        let abs = base_url
            .join(&sf.url)
            .map(|u| u.to_string())
            .map_err(|e| SourceError::parse(url, format!("bad file URL `{}`: {e}", sf.url)))?;
        let yanked = match &sf.yanked {
            serde_json::Value::Bool(b) => *b,
            serde_json::Value::String(_) => true,
            _ => false,
        };
        out.push(PyFile {
            filename: sf.filename,
            version,
            url: abs,
            sha256: sf.hashes.get("sha256").map(|h| h.to_ascii_lowercase()),
            upload_time: sf.upload_time,
            requires_python: sf.requires_python.filter(|s| !s.trim().is_empty()),
            yanked,
            core_metadata: metadata_hash(&sf.core_metadata)
                .or_else(|| metadata_hash(&sf.dist_info_metadata)),
        });
    }
    Ok((out, missing_time))
}

/// Reads a PyPI JSON API document (`/pypi/<name>/json`) fetched from `url`:
/// the files of every release of the normalised project `norm`.
pub fn parse_legacy(bytes: &[u8], url: &str, norm: &str) -> Result<Vec<PyFile>, SourceError> {
    let p: LegacyProject = legacy_json(bytes, url)?;
    Ok(legacy_project_files(p, norm))
}

fn legacy_json(bytes: &[u8], url: &str) -> Result<LegacyProject, SourceError> {
    serde_json::from_slice(bytes).map_err(|e| {
        SourceError::parse(
            format!("{url}:{}", e.line()),
            format!("not a PyPI JSON document: {e}"),
        )
    })
}

fn legacy_project_files(p: LegacyProject, norm: &str) -> Vec<PyFile> {
    let mut out = Vec::new();
    for (_, files) in p.releases {
        for lf in files {
            let Some(version) = version_from_filename(norm, &lf.filename) else {
                continue;
            };
            out.push(PyFile {
                filename: lf.filename,
                version,
                url: lf.url,
                sha256: lf.digests.get("sha256").map(|h| h.to_ascii_lowercase()),
                upload_time: lf.upload_time_iso_8601.or(lf.upload_time),
                requires_python: lf.requires_python.filter(|s| !s.trim().is_empty()),
                yanked: lf.yanked,
                core_metadata: None,
            });
        }
    }
    out
}

/// Parses a core metadata file (RFC 822 style headers); every `Requires-Dist` must be valid PEP 508.
pub fn parse_core_metadata(bytes: &[u8], location: &str) -> Result<PyMetadata, SourceError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| SourceError::parse(location, format!("metadata is not UTF-8: {e}")))?;
    let mut headers: Vec<(usize, String, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() {
            break; // the body (long description) follows
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.2.push(' ');
                last.2.push_str(line.trim());
            }
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            return Err(SourceError::parse(
                format!("{location}:{}", i + 1),
                format!("not a header line: `{line}`"),
            ));
        };
        headers.push((i + 1, k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut reqs = Vec::new();
    let mut rp = None;
    for (line, k, v) in headers {
        match k.as_str() {
            "requires-dist" => {
                crate::universe::python::parse_pep508(&v).map_err(|e| {
                    SourceError::parse(
                        format!("{location}:{line}"),
                        format!("bad Requires-Dist `{v}`: {e}"),
                    )
                })?;
                reqs.push(v);
            }
            "requires-python" if !v.is_empty() => rp = Some(v),
            _ => {}
        }
    }
    Ok(PyMetadata {
        requires_dist: reqs,
        requires_python: rp,
        from: location.to_string(),
    })
}

impl PyPi {
    /// Fills in `Requires-Dist` for the newest `newest` versions of `h` and for `also` (a pinned version).
    pub fn enrich(
        &self,
        h: &mut History,
        cutoff: &Cutoff,
        newest: usize,
        also: &[String],
    ) -> Result<(), SourceError> {
        let (vs, _, _) = self.versions_at(&h.name, cutoff)?;
        let n = h.versions.len();
        for (i, va) in h.versions.iter_mut().enumerate() {
            let wanted = i + newest >= n || also.iter().any(|a| same_version(a, &va.version));
            if !wanted {
                continue;
            }
            if let Some(pv) = vs.iter().find(|p| p.version == va.version) {
                let m = self.metadata(&h.name, pv)?;
                va.requires = Some(m.requires_dist);
                if m.requires_python.is_some() {
                    va.requires_python = m.requires_python;
                }
            }
        }
        Ok(())
    }
}

fn same_version(a: &str, b: &str) -> bool {
    match (
        pep440_rs::Version::from_str(a.trim_start_matches("==")),
        pep440_rs::Version::from_str(b),
    ) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

impl VersionSource for PyPi {
    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Py
    }

    fn history(&self, name: &str, cutoff: &Cutoff) -> Result<History, SourceError> {
        let (vs, later, notes) = self.versions_at(name, cutoff)?;
        Ok(History {
            ecosystem: Ecosystem::Py,
            name: PyName::new(name)?.to_string(),
            versions: vs
                .into_iter()
                .map(|v| {
                    let pick = v
                        .files
                        .iter()
                        .find(|f| !f.filename.ends_with(".whl"))
                        .or(v.files.first());
                    VersionAt {
                        version: v.version.clone(),
                        published: Some(v.first_upload),
                        url: pick.map(|f| f.url.clone()),
                        sha256: pick.and_then(|f| f.sha256.clone()),
                        requires: None,
                        requires_python: v.requires_python.clone(),
                    }
                })
                .collect(),
            later,
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions_from_file_names() {
        assert_eq!(
            PyName::new("zope.interface__x").unwrap().as_str(),
            "zope-interface-x"
        );
        assert!(PyName::new("../x").is_err());
        assert_eq!(
            version_from_filename("python-dateutil", "python-dateutil-2.8.2.tar.gz").as_deref(),
            Some("2.8.2")
        );
        assert_eq!(
            version_from_filename("PyYAML", "PyYAML-5.4.1-cp39-cp39-manylinux1_x86_64.whl")
                .as_deref(),
            Some("5.4.1")
        );
        assert_eq!(
            version_from_filename("lxml", "lxml-4.9.1.zip").as_deref(),
            Some("4.9.1")
        );
        assert_eq!(version_from_filename("lxml", "lxml-4.9.1.win32.exe"), None);
    }

    #[test]
    fn core_metadata_is_checked() {
        let m = parse_core_metadata(
            b"Metadata-Version: 2.1\nName: x\nRequires-Dist: lxml (>=4.6)\nRequires-Dist: pyyaml; extra == 'y'\nRequires-Python: >=3.7\n\nRequires-Dist: body is ignored\n",
            "m",
        )
        .unwrap();
        assert_eq!(m.requires_dist.len(), 2);
        assert_eq!(m.requires_python.as_deref(), Some(">=3.7"));
        let e = parse_core_metadata(b"Name: x\nRequires-Dist: lxml >=>= 1\n", "m").unwrap_err();
        assert!(e.to_string().starts_with("m:2:"), "{e}");
    }
}
