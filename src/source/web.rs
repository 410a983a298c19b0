//! Web downloads as of the cutoff: an immutable replacement for every URL that
//! moves, and the file's md5 (what SONiC's `versions-web` records) and sha256.
//!
//! - `github.com/<o>/<r>/raw/<branch>/<path>` and
//!   `raw.githubusercontent.com/<o>/<r>/<branch>/<path>` -> the same path at the
//!   commit the branch pointed to at D;
//! - `github.com/<o>/<r>/releases/latest/download/<file>` -> the release tag
//!   that was the latest at D;
//! - a Debian pool URL -> the snapshot.debian.org URL of that file, at the
//!   timestamp snapshot first saw it (found through `/mr/`);
//! - anything else is taken as immutable and only hashed.

use crate::date::Cutoff;
use crate::source::debian::mr::Mr;
use crate::source::git::GitSource;
use crate::source::http::{Http, Request};
use crate::source::{SourceError, join_url};
use serde::Serialize;
use sha1::Digest;

/// How a URL moves, and so how to pin it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum WebKind {
    /// A file at a moving GitHub branch.
    GithubRaw {
        /// Owner.
        owner: String,
        /// Repository.
        repo: String,
        /// Branch (or a 40-hex SHA, already immutable).
        rev: String,
        /// Path in the repository.
        path: String,
    },
    /// A `releases/latest` download.
    GithubLatest {
        /// Owner.
        owner: String,
        /// Repository.
        repo: String,
        /// Asset file name.
        file: String,
    },
    /// A file in a Debian pool.
    DebianPool {
        /// `debian`, `debian-security`, ...
        archive: String,
        /// Source or binary package name from the path.
        package: String,
        /// File name.
        file: String,
    },
    /// Taken as immutable.
    Plain,
}

/// Reads a URL's shape.
pub fn classify(url: &str) -> WebKind {
    let Ok(u) = reqwest::Url::parse(url) else {
        return WebKind::Plain;
    };
    let host = u.host_str().unwrap_or("");
    let segs: Vec<&str> = u.path_segments().map(|s| s.collect()).unwrap_or_default();
    let own = |i: usize| segs.get(i).map(|s| s.to_string()).unwrap_or_default();
    if host == "github.com" && segs.len() >= 5 && segs[2] == "raw" {
        return WebKind::GithubRaw {
            owner: own(0),
            repo: own(1),
            rev: own(3),
            path: segs[4..].join("/"),
        };
    }
    if host == "raw.githubusercontent.com" && segs.len() >= 4 {
        return WebKind::GithubRaw {
            owner: own(0),
            repo: own(1),
            rev: own(2),
            path: segs[3..].join("/"),
        };
    }
    if host == "github.com"
        && segs.len() == 6
        && segs[2] == "releases"
        && segs[3] == "latest"
        && segs[4] == "download"
    {
        return WebKind::GithubLatest {
            owner: own(0),
            repo: own(1),
            file: own(5),
        };
    }
    if let Some(p) = segs.iter().position(|s| *s == "pool") {
        // <archive>/pool/<component>/<prefix>/<package>/<file>
        if p >= 1 && segs.len() == p + 5 {
            return WebKind::DebianPool {
                archive: own(p - 1),
                package: own(p + 3),
                file: own(p + 4),
            };
        }
    }
    WebKind::Plain
}

/// `url` with a configured GitHub base (a mirror or a loopback server) spelled as
/// `https://github.com/`, so that it is read as the GitHub URL it stands for.
fn as_github(url: &str, github: &str) -> String {
    let base = github.trim_end_matches('/');
    match url.strip_prefix(base).and_then(|r| r.strip_prefix('/')) {
        Some(rest) if !base.is_empty() => format!("https://github.com/{rest}"),
        _ => url.to_string(),
    }
}

/// Where the moving services live; tests point these at loopback servers.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// GitHub web base, `https://github.com`.
    pub github: String,
    /// Clone URL template with `{owner}` and `{repo}`.
    pub github_git: String,
    /// snapshot.debian.org base.
    pub snapshot: String,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            github: "https://github.com".into(),
            github_git: "https://github.com/{owner}/{repo}.git".into(),
            snapshot: crate::source::debian::archive::SNAPSHOT_URL.into(),
        }
    }
}

/// A pinned download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebPin {
    /// The URL as declared.
    pub url: String,
    /// The immutable URL to use instead (same as `url` when it does not move).
    pub immutable_url: String,
    /// How it was pinned.
    pub kind: WebKind,
    /// md5 of the file (SONiC's `versions-web` value).
    pub md5: String,
    /// sha256 of the file.
    pub sha256: String,
    /// What was learned on the way (`branch dev at D = <sha>`, `first seen <ts>`).
    pub note: String,
}

fn is_sha(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn release_tag_ok(name: &str) -> bool {
    // GitHub's "latest" skips pre-releases; tags are the only record we have, so skip pre-release names.
    let l = name.to_ascii_lowercase();
    !["rc", "alpha", "beta", "pre", "dev"]
        .iter()
        .any(|m| l.contains(m))
}

/// Pins one URL as of the cutoff and hashes the file it names.
pub fn pin(
    http: &Http,
    git: &GitSource,
    cfg: &WebConfig,
    url: &str,
    cutoff: &Cutoff,
) -> Result<WebPin, SourceError> {
    let kind = classify(&as_github(url, &cfg.github));
    let (immutable_url, note, sha1) = match &kind {
        WebKind::GithubRaw {
            owner,
            repo,
            rev,
            path,
        } => {
            if is_sha(rev) {
                (url.to_string(), "already at a commit".to_string(), None)
            } else {
                let clone = cfg
                    .github_git
                    .replace("{owner}", owner)
                    .replace("{repo}", repo);
                let b = git.branch_at(&clone, rev, cutoff)?;
                let mut note = format!(
                    "branch {rev} at {cutoff} = {} ({})",
                    b.commit, b.committer_date
                );
                if !b.skew.is_empty() {
                    note.push_str(&format!(
                        "; {} ancestor(s) dated after the cutoff",
                        b.skew.len()
                    ));
                }
                (
                    join_url(
                        &cfg.github,
                        &format!("{owner}/{repo}/raw/{}/{path}", b.commit),
                    ),
                    note,
                    None,
                )
            }
        }
        WebKind::GithubLatest { owner, repo, file } => {
            let clone = cfg
                .github_git
                .replace("{owner}", owner)
                .replace("{repo}", repo);
            let tags = git.tags_at(&clone, cutoff)?;
            let Some(tag) = tags.iter().rev().find(|t| release_tag_ok(&t.name)) else {
                return Err(SourceError::Invalid(format!(
                    "{url}: {owner}/{repo} had no release tag at {cutoff}"
                )));
            };
            (
                join_url(
                    &cfg.github,
                    &format!("{owner}/{repo}/releases/download/{}/{file}", tag.name),
                ),
                format!("latest release at {cutoff} = {} ({})", tag.name, tag.date),
                None,
            )
        }
        WebKind::DebianPool { package, file, .. } => {
            let (u, n, s) = snapshot_pool_url(http, &cfg.snapshot, package, file, cutoff)?;
            (u, n, Some(s))
        }
        WebKind::Plain => (url.to_string(), "taken as immutable".to_string(), None),
    };
    let f = http.get(&Request::new(&immutable_url, "web download"))?;
    if let Some(want) = sha1 {
        let got = hex::encode(sha1::Sha1::digest(&f.bytes));
        if got != want {
            return Err(SourceError::HashMismatch {
                url: immutable_url,
                what: "SHA-1 recorded by snapshot".into(),
                expected: want,
                got,
            });
        }
    }
    Ok(WebPin {
        url: url.to_string(),
        immutable_url,
        kind,
        md5: crate::fsio::md5_hex(&f.bytes),
        sha256: f.sha256,
        note,
    })
}

/// The snapshot URL of a pool file, from the `/mr/` file lists: `(url, note, sha1)`.
fn snapshot_pool_url(
    http: &Http,
    snapshot: &str,
    package: &str,
    file: &str,
    cutoff: &Cutoff,
) -> Result<(String, String, String), SourceError> {
    let mr = Mr::new(http, snapshot);
    let fields: Vec<&str> = file.split('_').collect();
    let bad = || {
        SourceError::Invalid(format!(
            "cannot read package and version from pool file name `{file}`"
        ))
    };
    let files = if file.ends_with(".deb") || file.ends_with(".udeb") {
        // <bin>_<version>_<arch>.deb; the file name drops the epoch, the API wants it.
        let (bin, ver) = match fields.as_slice() {
            [b, v, _] => (*b, *v),
            _ => return Err(bad()),
        };
        let full = mr
            .binary_versions(bin)?
            .into_iter()
            .map(|b| b.binary_version)
            .find(|v| strip_epoch(v) == ver)
            .ok_or_else(|| {
                SourceError::Invalid(format!("snapshot knows no version {ver} of binary {bin}"))
            })?;
        mr.binary_files(bin, &full)?
    } else {
        // <src>_<upstream>.orig.tar.*, <src>_<version>.dsc / .debian.tar.* / .diff.gz
        let ver_part = fields.get(1).ok_or_else(bad)?;
        let full = mr
            .source_versions(package)?
            .into_iter()
            .find(|v| {
                let v = strip_epoch(v);
                ver_part.starts_with(&format!("{v}."))
                    || upstream(v).is_some_and(|u| ver_part.starts_with(&format!("{u}.orig")))
            })
            .ok_or_else(|| {
                SourceError::Invalid(format!(
                    "snapshot knows no version of source {package} matching `{file}`"
                ))
            })?;
        mr.source_files(package, &full)?
    };
    for pf in files {
        // Among the places snapshot saw this file, the earliest one at or before the cutoff.
        let mut seen: Vec<_> = pf
            .info
            .iter()
            .filter(|i| i.name == file)
            .filter(|i| crate::date::parse_snapshot_ts(&i.first_seen).is_some())
            .collect();
        seen.sort_by(|a, b| a.first_seen.cmp(&b.first_seen));
        if let Some(i) = seen.first() {
            if crate::date::parse_snapshot_ts(&i.first_seen).is_some_and(|t| t > cutoff.0) {
                return Err(SourceError::Invalid(format!(
                    "{file} first appeared in snapshot at {}, after the cutoff {cutoff}",
                    i.first_seen
                )));
            }
            let url = join_url(
                snapshot,
                &format!(
                    "archive/{}/{}/{}/{}",
                    i.archive_name,
                    i.first_seen,
                    i.path.trim_matches('/'),
                    i.name
                ),
            );
            return Ok((
                url,
                format!("first seen {} in {}", i.first_seen, i.archive_name),
                pf.sha1,
            ));
        }
    }
    Err(SourceError::Invalid(format!(
        "snapshot lists no file named {file} for {package}"
    )))
}

fn strip_epoch(v: &str) -> &str {
    v.split_once(':').map(|(_, r)| r).unwrap_or(v)
}

fn upstream(v: &str) -> Option<&str> {
    v.rsplit_once('-').map(|(u, _)| u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_under_a_configured_github_base_read_as_github() {
        let kind = classify(&as_github(
            "http://127.0.0.1:8080/gh/o/r/raw/dev/x.deb",
            "http://127.0.0.1:8080/gh/",
        ));
        assert_eq!(
            kind,
            WebKind::GithubRaw {
                owner: "o".into(),
                repo: "r".into(),
                rev: "dev".into(),
                path: "x.deb".into()
            }
        );
        assert_eq!(
            as_github("https://example.org/a", "https://github.com"),
            "https://example.org/a"
        );
    }

    #[test]
    fn classifies_moving_urls() {
        assert!(matches!(
            classify("https://github.com/Azure/sonic-release-pkgs/raw/dev/bfnsdk_1.0_amd64.deb"),
            WebKind::GithubRaw { ref rev, ref path, .. } if rev == "dev" && path == "bfnsdk_1.0_amd64.deb"
        ));
        assert!(matches!(
            classify("https://github.com/bazelbuild/bazelisk/releases/latest/download/bazelisk-linux-amd64"),
            WebKind::GithubLatest { ref file, .. } if file == "bazelisk-linux-amd64"
        ));
        assert!(matches!(
            classify("http://deb.debian.org/debian/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc"),
            WebKind::DebianPool { ref archive, ref package, .. } if archive == "debian" && package == "isc-dhcp"
        ));
        assert_eq!(classify("https://example.org/x.tar.gz"), WebKind::Plain);
    }
}
