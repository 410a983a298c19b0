//! Go modules as of the cutoff, from a module proxy (`GOPROXY` protocol):
//! `<module>/@v/list` and `<module>/@v/<version>.info` (`Time`).

use crate::date::Cutoff;
use crate::date::{parse_rfc3339, rfc3339};
use crate::manifest::Ecosystem;
use crate::source::http::{Http, Request};
use crate::source::{History, SourceError, VersionAt, VersionSource, join_url};
use serde::Deserialize;
use std::sync::Arc;

/// The default proxy.
pub const GOPROXY_URL: &str = "https://proxy.golang.org";

/// A module proxy client.
pub struct GoProxy {
    http: Arc<Http>,
    base: String,
}

#[derive(Deserialize)]
struct Info {
    #[serde(rename = "Version")]
    version: String,
    #[serde(rename = "Time")]
    time: String,
}

/// The proxy's case encoding: each upper-case letter becomes `!` plus its lower case.
pub fn escape_path(module: &str) -> Result<String, SourceError> {
    let bad = module.is_empty()
        || module.starts_with('/')
        || module.ends_with('/')
        || module
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..")
        || !module
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~/+".contains(c));
    if bad {
        return Err(SourceError::Invalid(format!(
            "bad Go module path or version `{module}`"
        )));
    }
    let mut out = String::with_capacity(module.len() + 4);
    for c in module.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn semver_of(v: &str) -> Option<semver::Version> {
    semver::Version::parse(v.strip_prefix('v')?).ok()
}

/// Reads a proxy's `@v/list` answer fetched from `url`: one version a line.
pub fn parse_list(bytes: &[u8], url: &str) -> Result<Vec<String>, SourceError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| SourceError::parse(url, format!("not UTF-8: {e}")))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// Reads a proxy's `@v/<version>.info` answer fetched from `url`: the
/// canonical version and its commit time (RFC 3339, UTC).
pub fn parse_info(bytes: &[u8], url: &str) -> Result<(String, String), SourceError> {
    let i: Info = serde_json::from_slice(bytes)
        .map_err(|e| SourceError::parse(url, format!("bad .info JSON: {e}")))?;
    let t = parse_rfc3339(&i.time)
        .ok_or_else(|| SourceError::parse(url, format!("bad Time `{}`", i.time)))?;
    Ok((i.version, rfc3339(&t)))
}

impl GoProxy {
    /// The proxy base URL (`https://proxy.golang.org`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// A client for the proxy at `base`.
    pub fn new(http: Arc<Http>, base: &str) -> GoProxy {
        GoProxy {
            http,
            base: base.to_string(),
        }
    }

    /// The tagged versions the proxy lists for `module`.
    pub fn list(&self, module: &str) -> Result<Vec<String>, SourceError> {
        let url = join_url(&self.base, &format!("{}/@v/list", escape_path(module)?));
        let what = format!("Go module {module} versions");
        let Some(f) = self.http.get_opt(&Request::new(&url, &what))? else {
            return Ok(Vec::new());
        };
        parse_list(&f.bytes, &url)
    }

    /// The version's canonical name and commit time.
    pub fn info(&self, module: &str, version: &str) -> Result<(String, String), SourceError> {
        let url = join_url(
            &self.base,
            &format!("{}/@v/{}.info", escape_path(module)?, escape_path(version)?),
        );
        let what = format!("Go module {module} {version} info");
        let f = self.http.get(&Request::new(&url, &what))?;
        parse_info(&f.bytes, &url)
    }

    /// The `require` lines of the module's go.mod at `version` (`@v/<v>.mod`),
    /// for minimal version selection over the module graph.
    pub fn requires(
        &self,
        module: &str,
        version: &str,
    ) -> Result<Vec<(String, String)>, SourceError> {
        let url = join_url(
            &self.base,
            &format!("{}/@v/{}.mod", escape_path(module)?, escape_path(version)?),
        );
        let what = format!("go.mod of {module} {version}");
        let f = self.http.get(&Request::new(&url, &what))?;
        let text = std::str::from_utf8(&f.bytes)
            .map_err(|e| SourceError::parse(&url, format!("not UTF-8: {e}")))?;
        Ok(crate::universe::go::parse_go_mod(text).unreplaced_requires())
    }
}

impl VersionSource for GoProxy {
    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Go
    }

    fn history(&self, name: &str, cutoff: &Cutoff) -> Result<History, SourceError> {
        let listed = self.list(name)?;
        let mut versions = Vec::new();
        let mut later = 0;
        let mut notes = Vec::new();
        for v in listed {
            if semver_of(&v).is_none() {
                notes.push(format!("{v}: not a semantic version, left out"));
                continue;
            }
            let (canon, time) = self.info(name, &v)?;
            if parse_rfc3339(&time).is_some_and(|t| t <= cutoff.0) {
                versions.push(VersionAt {
                    version: canon,
                    published: Some(time),
                    url: None,
                    sha256: None,
                    requires: None,
                    requires_python: None,
                });
            } else {
                later += 1;
            }
        }
        versions.sort_by_key(|a| semver_of(&a.version));
        versions.dedup_by(|a, b| a.version == b.version);
        Ok(History {
            ecosystem: Ecosystem::Go,
            name: name.to_string(),
            versions,
            later,
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_case_and_rejects_traversal() {
        assert_eq!(
            escape_path("github.com/Azure/go-autorest").unwrap(),
            "github.com/!azure/go-autorest"
        );
        assert!(escape_path("github.com/../etc").is_err());
        assert!(escape_path("a b").is_err());
    }
}
