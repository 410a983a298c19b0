//! Python distributions that Debian packages install: what `pip freeze`
//! lists for `python3-yaml` (`PyYAML==5.3.1`), read from the
//! `*.egg-info`/`*.dist-info` entries of a suite's Contents index. pip sees
//! them as installed, so SONiC's `versions-py3` files record them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One distribution as pip sees it: flavour, name and metadata version.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PyDist {
    /// `py3` (`usr/lib/python3/dist-packages`) or `py2` (`usr/lib/python2.7/dist-packages`).
    pub python: String,
    /// The name as pip freeze shows it, lower-cased as SONiC writes it (`pyyaml`, `python-apt`).
    pub name: String,
    /// The metadata version, as written (`5.3.1`, `1.14.0-unknown`, `0.0.0`).
    pub version: String,
}

/// What one suite's Contents index says one Debian package installs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AptPythonEntry {
    /// The distribution (`bullseye`; updates and security share it).
    pub dist: String,
    /// The suite the Contents index came from (`debian:bullseye`).
    pub suite: String,
    /// The Debian package (`python3-yaml`).
    pub package: String,
    /// The versions of the package the same suite's Packages index lists: the
    /// ones whose files the Contents index describes.
    pub deb_versions: Vec<String>,
    /// The distributions it installs.
    pub dists: Vec<PyDist>,
}

/// The mapping of Debian packages to the Python distributions they install,
/// over every suite read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AptPython {
    /// One entry per suite and package, sorted.
    pub entries: Vec<AptPythonEntry>,
    /// What could not be read (a Contents index unreachable, lines skipped).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// What pip freeze shows for one installed Debian package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frozen {
    /// The distributions, with the version pip sees.
    pub dists: Vec<PyDist>,
    /// Set when the versions were not read for this exact Debian version but
    /// derived from another one's entry: says how.
    pub derived: Option<String>,
}

impl AptPython {
    /// True when no package installs a Python distribution (or nothing was read).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.notes.is_empty()
    }

    /// Adds entries and keeps them sorted.
    pub fn extend(&mut self, entries: impl IntoIterator<Item = AptPythonEntry>) {
        self.entries.extend(entries);
        self.entries.sort();
        self.entries.dedup();
    }

    /// The distributions Debian package `package` at `version` of distribution
    /// `dist` installs. The Contents index describes only the version its
    /// suite's Packages lists: for another version (a security update whose
    /// suite has no Contents, an older pin), a distribution whose version
    /// follows the Debian one (`5.3.1-5` -> `5.3.1`) is given the pinned
    /// version's PEP 440 reading, and one that does not (`iniconfig` ships
    /// `0.0.0`) keeps the listed version; [`Frozen::derived`] says so.
    pub fn lookup(&self, dist: &str, package: &str, version: &str) -> Option<Frozen> {
        let mine: Vec<&AptPythonEntry> = self
            .entries
            .iter()
            .filter(|e| e.dist == dist && e.package == package)
            .collect();
        if let Some(e) = mine
            .iter()
            .find(|e| e.deb_versions.iter().any(|v| v == version))
        {
            return Some(Frozen {
                dists: e.dists.clone(),
                derived: None,
            });
        }
        let e = mine.first()?;
        let listed = e.deb_versions.first().map(String::as_str).unwrap_or("");
        let listed_pep = super::debian_to_pep440(listed);
        let pinned_pep = super::debian_to_pep440(version);
        let dists = e
            .dists
            .iter()
            .map(|d| match (&listed_pep, &pinned_pep) {
                (Some(l), Some(p)) if *l == d.version => PyDist {
                    version: p.clone(),
                    ..d.clone()
                },
                _ => d.clone(),
            })
            .collect();
        Some(Frozen {
            dists,
            derived: Some(format!(
                "{} lists {package} {listed}, not {version}: versions that follow the Debian version are derived from {version}",
                e.suite
            )),
        })
    }
}

/// The distribution a `dist-packages` entry (`PyYAML-5.3.1.egg-info`,
/// `gpg-1.14.0_unknown.egg-info`, `jeepney-0.6.0.dist-info`) names, as pip
/// freeze shows it: setuptools and wheel write `-` in names and versions as
/// `_`, so `_` reads back as `-` (`python_apt` -> `python-apt`). `None` for an
/// entry without a version.
pub fn dist_of_entry(python: &str, entry: &str) -> Option<PyDist> {
    let stem = entry
        .strip_suffix(".egg-info")
        .or_else(|| entry.strip_suffix(".dist-info"))?;
    let (name, rest) = stem.split_once('-')?;
    // `name-1.0-py3.9.egg-info`: the interpreter tag is not part of the version.
    let version = match rest.rsplit_once("-py") {
        Some((v, tag)) if tag.chars().all(|c| c.is_ascii_digit() || c == '.') => v,
        _ => rest,
    };
    if name.is_empty() || version.is_empty() {
        return None;
    }
    Some(PyDist {
        python: python.to_string(),
        name: name.replace('_', "-").to_lowercase(),
        version: version.replace('_', "-"),
    })
}

/// Groups entries by package: `(package, dists)` pairs sorted by package.
pub fn by_package(
    pairs: impl IntoIterator<Item = (String, PyDist)>,
) -> BTreeMap<String, Vec<PyDist>> {
    let mut out: BTreeMap<String, Vec<PyDist>> = BTreeMap::new();
    for (p, d) in pairs {
        out.entry(p).or_default().push(d);
    }
    for v in out.values_mut() {
        v.sort();
        v.dedup();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(name: &str, version: &str) -> PyDist {
        PyDist {
            python: "py3".into(),
            name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn entries_read_as_pip_freeze_shows_them() {
        let e = |s: &str| dist_of_entry("py3", s);
        assert_eq!(e("PyYAML-5.3.1.egg-info"), Some(d("pyyaml", "5.3.1")));
        assert_eq!(
            e("python_apt-2.2.1.egg-info"),
            Some(d("python-apt", "2.2.1"))
        );
        assert_eq!(
            e("gpg-1.14.0_unknown.egg-info"),
            Some(d("gpg", "1.14.0-unknown"))
        );
        assert_eq!(e("jeepney-0.6.0.dist-info"), Some(d("jeepney", "0.6.0")));
        assert_eq!(
            e("zope.interface-5.2.0.egg-info"),
            Some(d("zope.interface", "5.2.0"))
        );
        assert_eq!(e("foo-1.0-py3.9.egg-info"), Some(d("foo", "1.0")));
        assert_eq!(e("entrypoints.egg-info"), None);
        assert_eq!(e("yaml"), None);
    }

    fn mapping() -> AptPython {
        let mut m = AptPython::default();
        m.extend([
            AptPythonEntry {
                dist: "bullseye".into(),
                suite: "debian:bullseye".into(),
                package: "python3-yaml".into(),
                deb_versions: vec!["5.3.1-5".into()],
                dists: vec![d("pyyaml", "5.3.1")],
            },
            AptPythonEntry {
                dist: "bullseye".into(),
                suite: "debian:bullseye".into(),
                package: "python3-iniconfig".into(),
                deb_versions: vec!["1.1.1-1".into()],
                dists: vec![d("iniconfig", "0.0.0")],
            },
        ]);
        m
    }

    #[test]
    fn the_listed_version_is_read_and_another_is_derived() {
        let m = mapping();
        let f = m.lookup("bullseye", "python3-yaml", "5.3.1-5").unwrap();
        assert_eq!((f.dists, f.derived), (vec![d("pyyaml", "5.3.1")], None));
        let f = m
            .lookup("bullseye", "python3-yaml", "5.3.2-1+deb11u1")
            .unwrap();
        assert_eq!(f.dists, vec![d("pyyaml", "5.3.2")]);
        assert!(f.derived.unwrap().contains("not 5.3.2-1+deb11u1"));
        // A version that does not follow the Debian one stays as listed.
        let f = m
            .lookup("bullseye", "python3-iniconfig", "1.1.2-1")
            .unwrap();
        assert_eq!(f.dists, vec![d("iniconfig", "0.0.0")]);
        assert!(m.lookup("buster", "python3-yaml", "5.3.1-5").is_none());
        assert!(m.lookup("bullseye", "libc6", "2.31-13").is_none());
    }
}
