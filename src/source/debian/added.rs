//! An apt repository that a build script adds (download.docker.com,
//! packages.cloud.google.com, ...), read like a Debian suite: `InRelease`
//! (or `Release` + `Release.gpg`), then the `Packages` of each component,
//! each checked against the Release's hashes.
//!
//! Its as-of rule: a repository on Debian's own archive hosts is read
//! through the Debian location (the snapshot at the cutoff); any other has
//! no snapshot service, so its `dists/` is read as it is served today, and
//! the result says so. The signature is checked with the keys the script
//! itself fetches; when none can be read it is not checked, with a note.

use super::archive::{Location, SuiteIndex, SuiteSpec, fetch_suite};
use super::release::{Keyring, SignatureStatus, Trust};
use crate::date::Cutoff;
use crate::manifest::AptSource;
use crate::source::SourceError;
use crate::source::http::{Http, Request};

/// How a repository is read as of the cutoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsOf {
    /// One of Debian's archives (`debian`, `debian-security`): read through
    /// the Debian location, at the snapshot of the cutoff.
    Debian {
        /// The archive name under the snapshot service.
        archive: String,
    },
    /// No snapshots: `dists/` as served today.
    Today,
}

/// Hosts that serve Debian's own archives under `/debian` and `/debian-security`.
const DEBIAN_HOSTS: &[&str] = &[
    "deb.debian.org",
    "ftp.debian.org",
    "httpredir.debian.org",
    "http.debian.net",
    "security.debian.org",
    "archive.debian.org",
    "debian-archive.trafficmanager.net",
];

/// The as-of rule of a repository root URL.
pub fn as_of(url: &str) -> AsOf {
    let (host, path) = split_url(url);
    let debian_host =
        DEBIAN_HOSTS.contains(&host) || (host.starts_with("ftp.") && host.ends_with(".debian.org"));
    let path = path.trim_matches('/');
    if debian_host && (path == "debian" || path == "debian-security") {
        AsOf::Debian {
            archive: path.to_string(),
        }
    } else {
        AsOf::Today
    }
}

/// `https://host/a/b` -> (`host`, `/a/b`).
fn split_url(url: &str) -> (&str, &str) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    }
}

/// One added repository, fetched.
#[derive(Debug, Clone)]
pub struct AddedIndex {
    /// The verified suite (its `dists_url` names the repository).
    pub suite: SuiteIndex,
    /// The rule it was read by.
    pub as_of: AsOf,
    /// What the reader should know: read as of today, signature not checked and why.
    pub notes: Vec<String>,
}

/// Reads the keys at `urls` (what `curl URL | apt-key add -` would trust).
/// A key that cannot be fetched or parsed is skipped with a note.
pub fn fetch_keys(http: &Http, urls: &[String], notes: &mut Vec<String>) -> Option<Keyring> {
    let mut rings = Vec::new();
    for u in urls {
        let got = http
            .get(&Request::new(u, "apt repository key"))
            .and_then(|f| Keyring::from_bytes(&f.bytes, u));
        match got {
            Ok(k) => rings.push(k),
            Err(e) => notes.push(format!("key {u} could not be read: {e}")),
        }
    }
    Keyring::merge(rings)
}

/// Fetches `src` for architecture `arch` as of `cutoff`. `debian` and
/// `trust` are where and how Debian's own archives are read (for a source
/// on Debian's hosts).
pub fn fetch_added(
    http: &Http,
    src: &AptSource,
    arch: &str,
    cutoff: &Cutoff,
    debian: &Location,
    trust: &Trust,
) -> Result<AddedIndex, SourceError> {
    if let Some(part) = src.unexpanded() {
        return Err(SourceError::Invalid(format!(
            "`{}` was not expanded by the crawler",
            part.escape_debug()
        )));
    }
    if src.components.is_empty() {
        return Err(SourceError::Invalid(format!(
            "{}: a flat repository (no components) is not read",
            src.label()
        )));
    }
    let arch = src
        .arch
        .as_deref()
        .and_then(|a| a.split(',').find(|x| *x == arch))
        .unwrap_or(arch);
    let rule = as_of(&src.url);
    let mut notes = Vec::new();
    let (loc, archive, keyring) = match &rule {
        AsOf::Debian { archive } => (debian.clone(), archive.clone(), trust.keyring()?.cloned()),
        AsOf::Today => {
            let (host, path) = split_url(&src.url);
            let scheme = src.url.split_once("://").map_or("https", |(s, _)| s);
            let keyring = fetch_keys(http, &src.keys, &mut notes);
            if keyring.is_none() {
                notes.push(if src.keys.is_empty() {
                    "signature not checked: the script fetches no key for this repository".into()
                } else {
                    "signature not checked: none of the keys the script fetches could be read"
                        .into()
                });
            }
            (
                Location::Mirror {
                    base: format!("{scheme}://{host}"),
                },
                path.trim_matches('/').to_string(),
                keyring,
            )
        }
    };
    let spec = SuiteSpec {
        archive,
        suite: src.suite.clone(),
        components: src.components.clone(),
        architectures: vec![arch.to_string()],
        sources: false,
    };
    let mut suite = fetch_suite(http, &loc, &spec, cutoff, keyring.as_ref())?;
    // fetch_suite's unsigned warning names a flag that does not apply here; the note above says why.
    suite.warnings.retain(|w| !w.contains("--allow-unsigned"));
    if rule == AsOf::Today {
        notes.push(format!(
            "{} has no snapshots: read from its dists/ as served today{}",
            src.url,
            match &suite.release.date {
                Some(d) => format!(" (Release dated {})", crate::date::rfc3339(d)),
                None => String::new(),
            }
        ));
    }
    if let SignatureStatus::Verified { fingerprint } = &suite.signature {
        notes.push(format!("signature verified with key {fingerprint}"));
    }
    Ok(AddedIndex {
        suite,
        as_of: rule,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_hosts_are_read_at_their_snapshot_others_today() {
        assert_eq!(
            as_of("http://ftp.debian.org/debian"),
            AsOf::Debian {
                archive: "debian".into()
            }
        );
        assert_eq!(
            as_of("https://download.docker.com/linux/debian"),
            AsOf::Today
        );
        assert_eq!(as_of("https://deb.debian.org/debian-ports"), AsOf::Today);
    }
}
