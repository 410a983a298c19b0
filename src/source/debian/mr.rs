//! snapshot.debian.org's machine-readable API (`/mr/`): per-package version
//! history and the first-seen date of every file, for what one index at one
//! timestamp cannot tell (when a version appeared, a version that vanished).

use crate::date::Cutoff;
use crate::date::{parse_snapshot_ts, rfc3339};
use crate::manifest::Ecosystem;
use crate::source::http::{Http, Request};
use crate::source::{History, SourceError, VersionAt, VersionSource, join_url};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A client of the `/mr/` API.
pub struct Mr<'a> {
    http: &'a Http,
    base: String,
}

/// One row of `/mr/binary/<name>/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BinaryVersion {
    /// Binary package name.
    pub name: String,
    /// Binary version.
    pub binary_version: String,
    /// Source package name.
    pub source: String,
    /// Source version.
    pub version: String,
}

/// Where and since when snapshot holds one file (`fileinfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileInfo {
    /// `debian`, `debian-security`, ...
    pub archive_name: String,
    /// First snapshot timestamp the file was seen in (`YYYYMMDDTHHMMSSZ`).
    pub first_seen: String,
    /// File name.
    pub name: String,
    /// Directory in the archive (`/pool/main/i/isc-dhcp`).
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// A file of a source or binary package version, with its SHA-1 (snapshot's file key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageFile {
    /// SHA-1 of the file.
    pub sha1: String,
    /// Architecture, for binary files.
    pub architecture: Option<String>,
    /// Where snapshot has seen it.
    pub info: Vec<FileInfo>,
}

#[derive(Deserialize)]
struct ListResult<T> {
    result: Vec<T>,
}

#[derive(Deserialize)]
struct VersionRow {
    version: String,
}

#[derive(Deserialize)]
struct HashRow {
    hash: String,
    #[serde(default)]
    architecture: Option<String>,
}

#[derive(Deserialize)]
struct FilesResult {
    result: Vec<HashRow>,
    #[serde(default)]
    fileinfo: BTreeMap<String, Vec<FileInfo>>,
}

fn check_name(name: &str) -> Result<(), SourceError> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.:~_".contains(&b))
        && name != "."
        && name != "..";
    if ok {
        Ok(())
    } else {
        Err(SourceError::Invalid(format!(
            "bad Debian package name or version `{name}`"
        )))
    }
}

fn enc(s: &str) -> String {
    s.replace(':', "%3A")
        .replace('+', "%2B")
        .replace('~', "%7E")
}

impl<'a> Mr<'a> {
    /// A client for `base` (e.g. `https://snapshot.debian.org`).
    pub fn new(http: &'a Http, base: &str) -> Mr<'a> {
        Mr {
            http,
            base: base.to_string(),
        }
    }

    fn json<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        what: &str,
    ) -> Result<Option<T>, SourceError> {
        let url = join_url(&self.base, path);
        let Some(f) = self
            .http
            .get_opt(&Request::new(&url, what).accept("application/json"))?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&f.bytes).map(Some).map_err(|e| {
            SourceError::parse(
                format!("{url}:{}", e.line()),
                format!("unexpected /mr/ JSON: {e}"),
            )
        })
    }

    /// All versions of a source package snapshot has ever seen (empty when unknown).
    pub fn source_versions(&self, src: &str) -> Result<Vec<String>, SourceError> {
        check_name(src)?;
        let r: Option<ListResult<VersionRow>> = self.json(
            &format!("mr/package/{}/", enc(src)),
            &format!("source package {src} history"),
        )?;
        Ok(r.map(|r| r.result.into_iter().map(|v| v.version).collect())
            .unwrap_or_default())
    }

    /// All versions of a binary package snapshot has ever seen.
    pub fn binary_versions(&self, bin: &str) -> Result<Vec<BinaryVersion>, SourceError> {
        check_name(bin)?;
        let r: Option<ListResult<BinaryVersion>> = self.json(
            &format!("mr/binary/{}/", enc(bin)),
            &format!("binary package {bin} history"),
        )?;
        Ok(r.map(|r| r.result).unwrap_or_default())
    }

    /// The files of one source package version, with first-seen info.
    pub fn source_files(&self, src: &str, version: &str) -> Result<Vec<PackageFile>, SourceError> {
        check_name(src)?;
        check_name(version)?;
        let r: Option<FilesResult> = self.json(
            &format!(
                "mr/package/{}/{}/srcfiles?fileinfo=1",
                enc(src),
                enc(version)
            ),
            &format!("files of source {src} {version}"),
        )?;
        Ok(r.map(files).unwrap_or_default())
    }

    /// The files of one binary package version, with first-seen info.
    pub fn binary_files(&self, bin: &str, version: &str) -> Result<Vec<PackageFile>, SourceError> {
        check_name(bin)?;
        check_name(version)?;
        let r: Option<FilesResult> = self.json(
            &format!(
                "mr/binary/{}/{}/binfiles?fileinfo=1",
                enc(bin),
                enc(version)
            ),
            &format!("files of binary {bin} {version}"),
        )?;
        Ok(r.map(files).unwrap_or_default())
    }

    /// Where snapshot has seen the file with this SHA-1.
    pub fn file_info(&self, sha1: &str) -> Result<Vec<FileInfo>, SourceError> {
        if sha1.len() != 40 || !sha1.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SourceError::Invalid(format!("bad SHA-1 `{sha1}`")));
        }
        let r: Option<ListResult<FileInfo>> = self.json(
            &format!("mr/file/{sha1}/info"),
            &format!("file {sha1} info"),
        )?;
        Ok(r.map(|r| r.result).unwrap_or_default())
    }

    /// The earliest first-seen timestamp of a binary version's files for `arch` (or `all`).
    pub fn binary_first_seen(
        &self,
        bin: &str,
        version: &str,
        arch: &str,
    ) -> Result<Option<String>, SourceError> {
        let files = self.binary_files(bin, version)?;
        Ok(files
            .iter()
            .filter(|f| {
                f.architecture
                    .as_deref()
                    .is_none_or(|a| a == arch || a == "all")
            })
            .flat_map(|f| f.info.iter().map(|i| i.first_seen.clone()))
            .filter(|t| parse_snapshot_ts(t).is_some())
            .min())
    }
}

fn files(r: FilesResult) -> Vec<PackageFile> {
    let mut fi = r.fileinfo;
    r.result
        .into_iter()
        .map(|h| PackageFile {
            info: fi.remove(&h.hash).unwrap_or_default(),
            sha1: h.hash,
            architecture: h.architecture,
        })
        .collect()
}

/// Binary package history as of the cutoff, for one architecture: the `/mr/` answer behind [`VersionSource`].
pub struct MrBinaries<'a> {
    /// The API client.
    pub mr: Mr<'a>,
    /// Architecture whose files count.
    pub arch: String,
}

impl VersionSource for MrBinaries<'_> {
    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Deb
    }

    fn history(&self, name: &str, cutoff: &Cutoff) -> Result<History, SourceError> {
        let mut versions = Vec::new();
        let mut later = 0;
        let mut notes = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for bv in self.mr.binary_versions(name)? {
            if !seen.insert(bv.binary_version.clone()) {
                continue;
            }
            match self
                .mr
                .binary_first_seen(name, &bv.binary_version, &self.arch)?
            {
                Some(ts) => {
                    let t = parse_snapshot_ts(&ts);
                    if t.is_some_and(|t| t <= cutoff.0) {
                        versions.push(VersionAt {
                            version: bv.binary_version,
                            published: t.as_ref().map(rfc3339),
                            url: None,
                            sha256: None,
                            requires: None,
                            requires_python: None,
                        });
                    } else {
                        later += 1;
                    }
                }
                None => notes.push(format!(
                    "{} {}: no {} file in snapshot",
                    name, bv.binary_version, self.arch
                )),
            }
        }
        versions.sort_by(|a, b| {
            match (
                a.version.parse::<debversion::Version>(),
                b.version.parse::<debversion::Version>(),
            ) {
                (Ok(x), Ok(y)) => x.cmp(&y),
                _ => a.version.cmp(&b.version),
            }
        });
        Ok(History {
            ecosystem: Ecosystem::Deb,
            name: name.to_string(),
            versions,
            later,
            notes,
        })
    }
}
