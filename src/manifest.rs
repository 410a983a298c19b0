//! The crawl stage's artifact: every build dependency found in a sonic-buildimage
//! tree, with where it was declared and in which build context it applies.
//!
//! Serialised as JSON (`manifest.json`); `schema_version` is bumped on any
//! incompatible change so that later stages refuse manifests they do not understand.

pub mod images;
pub mod make_vars;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

mod apt_source;
pub use apt_source::AptSource;

/// Current manifest schema version.
pub const MANIFEST_SCHEMA_VERSION: u32 = 1;

/// The package ecosystem a dependency belongs to; each has its own source and version rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ecosystem {
    /// A Debian binary package installed with apt.
    Deb,
    /// A Debian source package fetched with dget or `apt-get source`.
    DebSrc,
    /// A Python distribution installed with pip (py2 or py3 is in the context).
    Py,
    /// A Go module.
    Go,
    /// A git repository cloned (or a submodule), pinned by commit.
    Git,
    /// A file downloaded from a URL.
    Web,
    /// A container base image (`FROM`).
    Docker,
}

impl Ecosystem {
    /// All ecosystems, in their canonical order.
    pub const ALL: [Ecosystem; 7] = [
        Ecosystem::Deb,
        Ecosystem::DebSrc,
        Ecosystem::Py,
        Ecosystem::Go,
        Ecosystem::Git,
        Ecosystem::Web,
        Ecosystem::Docker,
    ];

    /// The short name used in JSON, TOML and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Ecosystem::Deb => "deb",
            Ecosystem::DebSrc => "deb-src",
            Ecosystem::Py => "py",
            Ecosystem::Go => "go",
            Ecosystem::Git => "git",
            Ecosystem::Web => "web",
            Ecosystem::Docker => "docker",
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Ecosystem {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ecosystem::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| format!("unknown ecosystem `{s}` (expected one of deb, deb-src, py, go, git, web, docker)"))
    }
}

/// Why a name is not a valid name of its ecosystem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` is not a valid {eco} name: {why}", .name.escape_debug())]
pub struct NameError {
    /// The ecosystem whose rules the name breaks.
    pub eco: Ecosystem,
    /// The name.
    pub name: String,
    /// Which rule it breaks.
    pub why: &'static str,
}

/// Checks `name` against its ecosystem's rules, so that no name can reach a
/// generated file as something else (a pip option, an apt glob, a second field):
///
/// - deb, deb-src: Debian policy, `[a-z0-9][a-z0-9+.-]+`;
/// - py: a PEP 508 distribution name (letters and digits, inner runs of `-_.`);
/// - go: a module path: ASCII letters, digits and `-._~+/`, not starting with `-`
///   or `/`, no empty element, no element starting or ending with `.`;
/// - git: `https://`, `http://`, `git://`, `ssh://`, `file://`, `git@host:path`, or an
///   absolute path (a local repository);
/// - web: `https://`, `http://` or `ftp://`;
/// - docker: `name[:tag]` (a registry and `/` allowed): ASCII letters, digits and
///   `._-/:`, starting with a letter or digit.
///
/// Every name must be non-empty and free of whitespace and control characters.
pub fn check_name(eco: Ecosystem, name: &str) -> Result<(), NameError> {
    let bad = |why: &'static str| NameError {
        eco,
        name: name.to_string(),
        why,
    };
    if name.is_empty() {
        return Err(bad("empty"));
    }
    if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains whitespace or a control character"));
    }
    if name.starts_with('-') {
        return Err(bad("starts with `-` (a tool would read it as an option)"));
    }
    match eco {
        Ecosystem::Deb | Ecosystem::DebSrc => {
            // apt takes a binary package with an architecture qualifier
            // (`libboost1.74-dev:amd64`, `:any`, `:native`); a source package has none.
            let (pkg, arch) = match name.split_once(':') {
                Some((p, a)) if eco == Ecosystem::Deb => (p, Some(a)),
                _ => (name, None),
            };
            let ok = pkg.len() >= 2
                && pkg.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && pkg
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
                && arch.is_none_or(|a| {
                    !a.is_empty()
                        && a.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                });
            if !ok {
                return Err(bad(
                    "Debian package names are `[a-z0-9][a-z0-9+.-]+` (at least 2 characters), \
                     optionally `:<arch>` for a binary package",
                ));
            }
        }
        Ecosystem::Py => {
            if name.parse::<pep508_rs::PackageName>().is_err() {
                return Err(bad(
                    "not a PEP 508 distribution name (letters and digits, inner runs of `-_.`)",
                ));
            }
        }
        Ecosystem::Go => {
            let chars_ok = name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~+/".contains(c));
            let elems_ok = name
                .split('/')
                .all(|e| !e.is_empty() && !e.starts_with('.') && !e.ends_with('.'));
            if !chars_ok || !elems_ok {
                return Err(bad(
                    "Go module paths are `/`-separated elements of letters, digits and `-._~+`, none empty or starting or ending with `.`",
                ));
            }
        }
        Ecosystem::Git => {
            let scp = name
                .strip_prefix("git@")
                .and_then(|r| r.split_once(':'))
                .is_some_and(|(host, path)| !host.is_empty() && !path.is_empty());
            // An absolute path is a local repository, as `git clone /srv/x.git` reads it.
            let local = name.starts_with('/');
            if !scp && !local && !has_scheme(name, &["https", "http", "git", "ssh", "file"]) {
                return Err(bad(
                    "a git repository is a URL (`https://`, `http://`, `git://`, `ssh://`, `file://`, `git@host:path`) or an absolute path",
                ));
            }
        }
        Ecosystem::Web => {
            if !has_scheme(name, &["https", "http", "ftp"]) {
                return Err(bad(
                    "a web pin is a URL (`https://`, `http://` or `ftp://`)",
                ));
            }
        }
        Ecosystem::Docker => {
            let ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-/:".contains(c));
            if !ok {
                return Err(bad(
                    "docker references are `name[:tag]` of letters, digits and `._-/:`",
                ));
            }
        }
    }
    Ok(())
}

/// `scheme://` followed by something, for one of `schemes`.
fn has_scheme(url: &str, schemes: &[&str]) -> bool {
    url.split_once("://").is_some_and(|(s, rest)| {
        schemes.contains(&s.to_ascii_lowercase().as_str()) && !rest.is_empty()
    })
}

/// Why an exact version in a manifest is not a version of its ecosystem.
///
/// The manifest sits below the universe's version schemes, so this checks
/// the ecosystem's own crates directly; the lock's stricter check is
/// `lock::check_version`.
pub fn check_exact_version(eco: Ecosystem, v: &str) -> Result<(), String> {
    if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "`{}` is empty or holds whitespace or a control character",
            v.escape_debug()
        ));
    }
    let hex = |n: &[usize]| n.contains(&v.len()) && v.chars().all(|c| c.is_ascii_hexdigit());
    let ok = match eco {
        Ecosystem::Deb | Ecosystem::DebSrc => {
            // debversion alone accepts an empty upstream after the epoch (`1:`).
            let upstream = v.split_once(':').map_or(v, |(_, u)| u);
            upstream.starts_with(|c: char| c.is_ascii_digit())
                && !upstream.ends_with('-')
                && v.parse::<debversion::Version>().is_ok()
        }
        // A VCS URL pins a Python dependency to a commit.
        Ecosystem::Py => v.parse::<pep440_rs::Version>().is_ok() || hex(&[40, 64]),
        Ecosystem::Go => v
            .strip_prefix('v')
            .is_some_and(|s| s.parse::<semver::Version>().is_ok()),
        Ecosystem::Git => hex(&[40, 64]),
        Ecosystem::Docker => v
            .strip_prefix("sha256:")
            .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit())),
        // Web versions are whatever the declaration names (a file's md5, a release).
        Ecosystem::Web => !v.contains('/'),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a valid {eco} version",
            v.escape_debug()
        ))
    }
}

/// What the declaration says about the version.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "kebab-case")]
pub enum Constraint {
    /// No version given: resolves to whatever the source offers at build time.
    None,
    /// One exact version (deb `=V`, pip `==V`, a git commit SHA, a Go module version).
    Exact(String),
    /// A range in the ecosystem's own syntax (`>= 1.2, < 2`, `(>= 9.0.0)`).
    Range(String),
    /// A moving reference: a git branch or tag, a `latest` URL, a docker tag.
    Ref(String),
}

impl Constraint {
    /// True when the declaration alone fixes one version.
    pub fn is_pinned(&self) -> bool {
        matches!(self, Constraint::Exact(_))
    }
}

/// Where a declaration was found: a file inside the sonic-buildimage tree (or a submodule), and a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Origin {
    /// Path relative to the sonic-buildimage root (submodule files include the submodule path).
    pub file: String,
    /// 1-based line number of the first line of the (possibly continued) statement.
    pub line: u32,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// The build context a dependency applies in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Context {
    /// The image or build environment: `sonic-slave-bullseye`, `docker-orchagent`, `host-image`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Debian suite (`bullseye`, `buster`) the image is built on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    /// Architecture qualifier (`amd64`, or a `:$arch` left as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Index of the apt/pip transaction (one `RUN`) within its file, in order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction: Option<u32>,
    /// Python flavour for pip dependencies: `py2` or `py3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
}

/// One build dependency as declared.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Dependency {
    /// Ecosystem of the dependency.
    pub ecosystem: Ecosystem,
    /// Package name, module path, repository URL, file URL or image reference.
    pub name: String,
    /// Version constraint as declared.
    pub constraint: Constraint,
    /// True when the declaration fixes one immutable version.
    pub pinned: bool,
    /// Where it was declared.
    pub origin: Origin,
    /// In which build context it applies.
    #[serde(default)]
    pub context: Context,
    /// Extra facts the parser found (e.g. `removed` for `apt-get purge`, `extras`, `markers`, `no-install-recommends`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub attrs: std::collections::BTreeMap<String, String>,
}

impl Dependency {
    /// Whether the entry asks for the archive's `Depends` of a deb the tree
    /// builds without its `debian/control` in the tree (`field=archive-depends`),
    /// not for the package itself: the archive may well not have it.
    pub fn is_archive_depends(&self) -> bool {
        self.attrs
            .get("field")
            .is_some_and(|f| f == "archive-depends")
    }

    /// Checks the name and an exact version against the ecosystem's rules.
    ///
    /// Names and versions the crawler could not expand (marked `unexpanded`, or
    /// holding a `$` variable such as `${binary:Version}`) are kept as found,
    /// but must still be free of control characters and not start with `-`
    /// (other names of git, web, go and docker also free of whitespace); every other name gets its ecosystem's full grammar
    /// ([`check_name`]) for deb and py, whose names reach apt and pip directly.
    pub fn validate(&self) -> Result<(), String> {
        let unexpanded = self.attrs.contains_key("unexpanded");
        let name_unexpanded = unexpanded || self.name.contains('$');
        let full = matches!(
            self.ecosystem,
            Ecosystem::Deb | Ecosystem::DebSrc | Ecosystem::Py
        ) && !name_unexpanded;
        if full {
            check_name(self.ecosystem, &self.name).map_err(|e| e.to_string())?;
        } else if self.name.is_empty()
            || self.name.starts_with('-')
            || self.name.chars().any(char::is_control)
            // Unexpanded text (`$(sonic-cfggen -H ...)`) keeps its spaces: it is
            // reported as found and never handed to a tool as a name.
            || (!name_unexpanded && self.name.chars().any(char::is_whitespace))
        {
            return Err(format!(
                "`{}` is not a name (empty, starts with `-`, or holds whitespace or a control character)",
                self.name.escape_debug()
            ));
        }
        if let Constraint::Exact(v) = &self.constraint
            && !unexpanded
            && !v.contains('$')
        {
            check_exact_version(self.ecosystem, v).map_err(|m| format!("exact version {m}"))?;
        }
        Ok(())
    }
}

/// Severity of a crawl diagnostic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something could not be expanded or parsed; the text is kept.
    Warning,
    /// Something could not be read at all (a missing submodule, an unreadable file).
    Error,
}

/// Something the crawler could not fully understand, kept so that nothing is dropped silently.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Diagnostic {
    /// How serious it is.
    pub severity: Severity,
    /// Where.
    pub origin: Origin,
    /// What went wrong, in words.
    pub message: String,
    /// The raw text concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// The crawl result: all dependencies of one platform at one sonic-buildimage commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Schema version, [`MANIFEST_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Platform definition name (`wedge100bf-32x`), or `all` for `--all`.
    pub platform: String,
    /// Full sonic-buildimage commit SHA that was crawled.
    pub commit: String,
    /// Commit date (RFC 3339, UTC) of that commit.
    pub commit_date: String,
    /// Dependencies, sorted by (ecosystem, name, origin).
    pub dependencies: Vec<Dependency>,
    /// Everything the crawler could not fully understand.
    pub diagnostics: Vec<Diagnostic>,
    /// The images of the build: `FROM` parent, Debian base, the tree's debs and wheels each installs.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub images: images::ImageGraph,
    /// apt repositories the images' Dockerfiles and scripts add, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub apt_sources: Vec<AptSource>,
    /// Make variables the crawl was given on the command line (`INSTALL_DEBUG_TOOLS=y`):
    /// the build configuration the manifest is for.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub make_vars: make_vars::MakeVars,
}

/// Errors reading or writing a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The JSON is malformed.
    #[error("{path}:{line}:{column}: malformed manifest: {message}")]
    Json {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde said.
        message: String,
    },
    /// A dependency's name or exact version is not valid for its ecosystem.
    #[error("{path}: dependency {name} declared at {origin}: {message}")]
    Invalid {
        /// The manifest file.
        path: String,
        /// The dependency's origin in the crawled tree.
        origin: String,
        /// The dependency's ecosystem and name, as found.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// A top-level field holds a bad value.
    #[error("{path}: field `{field}`: {message}")]
    Field {
        /// The manifest file.
        path: String,
        /// The field's name.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The schema version is newer than this tool understands.
    #[error(
        "{path}: manifest schema version {found} is not supported (this sonic-lock reads version {MANIFEST_SCHEMA_VERSION})"
    )]
    Version {
        /// The file.
        path: String,
        /// The version found.
        found: u32,
    },
}

/// `YYYY-MM-DD` or `YYYY-MM-DDT...Z`: the shapes a lock's cutoff may take.
fn is_utc_date(v: &str) -> bool {
    let b = v.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && (b.len() == 10 || (b.get(10) == Some(&b'T') && v.ends_with('Z')))
}

impl Manifest {
    /// A manifest of the current schema; fields added later start empty, so
    /// every constructor stays one call.
    pub fn new(
        platform: String,
        commit: String,
        commit_date: String,
        dependencies: Vec<Dependency>,
        diagnostics: Vec<Diagnostic>,
    ) -> Manifest {
        Manifest {
            schema_version: MANIFEST_SCHEMA_VERSION,
            platform,
            commit,
            commit_date,
            dependencies,
            diagnostics,
            images: images::ImageGraph::new(),
            apt_sources: Vec::new(),
            make_vars: make_vars::MakeVars::new(),
        }
    }

    /// Records the command-line make variables the crawl was given.
    pub fn set_make_vars(&mut self, vars: make_vars::MakeVars) {
        self.make_vars = vars;
    }

    /// Sorts dependencies and diagnostics so that output is deterministic.
    pub fn normalize(&mut self) {
        self.dependencies.sort_by(|a, b| {
            (a.ecosystem, &a.name, &a.origin, &a.context).cmp(&(
                b.ecosystem,
                &b.name,
                &b.origin,
                &b.context,
            ))
        });
        self.dependencies.dedup();
        self.diagnostics
            .sort_by(|a, b| (&a.origin, &a.message).cmp(&(&b.origin, &b.message)));
        self.diagnostics.dedup();
        self.apt_sources.sort();
        self.apt_sources.dedup();
    }

    /// Reads and validates a manifest file.
    pub fn read(path: &Path) -> Result<Manifest, ManifestError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Io {
            path: p.clone(),
            source,
        })?;
        Manifest::from_json_str(&text, &p)
    }

    /// Parses and validates manifest JSON; `p` names the file in errors.
    pub fn from_json_str(text: &str, p: &str) -> Result<Manifest, ManifestError> {
        let p = p.to_string();
        let m: Manifest = serde_json::from_str(text).map_err(|e| ManifestError::Json {
            path: p.clone(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        if m.schema_version != MANIFEST_SCHEMA_VERSION {
            return Err(ManifestError::Version {
                path: p,
                found: m.schema_version,
            });
        }
        // The commit date becomes the cutoff and the lock's header: a bad one is
        // the manifest's fault, so it is refused here, where the file is known.
        if !is_utc_date(&m.commit_date) || crate::date::Cutoff::parse(&m.commit_date).is_err() {
            return Err(ManifestError::Field {
                path: p,
                field: "commit_date",
                message: format!(
                    "`{}` is not a UTC date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)",
                    m.commit_date.escape_debug()
                ),
            });
        }
        make_vars::check_all(&m.make_vars).map_err(|e| ManifestError::Field {
            path: p.clone(),
            field: "make_vars",
            message: e.to_string(),
        })?;
        for a in &m.apt_sources {
            a.validate().map_err(|message| ManifestError::Invalid {
                path: p.clone(),
                origin: a.origin.to_string(),
                name: format!("apt source `{}`", a.url.escape_debug()),
                message,
            })?;
        }
        for d in &m.dependencies {
            d.validate().map_err(|message| ManifestError::Invalid {
                path: p.clone(),
                origin: d.origin.to_string(),
                name: format!("{} `{}`", d.ecosystem, d.name.escape_debug()),
                message,
            })?;
        }
        Ok(m)
    }

    /// Writes the manifest as pretty JSON, atomically.
    pub fn write(&self, path: &Path) -> Result<(), ManifestError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| ManifestError::Json {
            path: path.display().to_string(),
            line: 0,
            column: 0,
            message: e.to_string(),
        })?;
        text.push('\n');
        crate::fsio::write_atomic(path, text.as_bytes()).map_err(|source| ManifestError::Io {
            path: path.display().to_string(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debian_names_take_an_architecture_qualifier_on_binary_packages_only() {
        for ok in ["libmnl0", "libmnl0:amd64", "libboost1.74-dev:any", "g++"] {
            assert!(check_name(Ecosystem::Deb, ok).is_ok(), "{ok}");
        }
        for bad in ["libmnl0:", "libmnl0:AMD64", "*", "/lib.*/", ":amd64", "a"] {
            assert!(check_name(Ecosystem::Deb, bad).is_err(), "{bad}");
        }
        assert!(check_name(Ecosystem::DebSrc, "isc-dhcp").is_ok());
        assert!(check_name(Ecosystem::DebSrc, "isc-dhcp:amd64").is_err());
    }

    fn dep(eco: Ecosystem, name: &str) -> Dependency {
        Dependency {
            ecosystem: eco,
            name: name.into(),
            constraint: Constraint::None,
            pinned: false,
            origin: Origin {
                file: "x.sh".into(),
                line: 8,
            },
            context: Context::default(),
            attrs: Default::default(),
        }
    }

    #[test]
    fn unexpanded_text_is_kept_as_found_but_names_are_checked() {
        // What the real tree's platform scripts pip-install: a shell expansion.
        let d = dep(
            Ecosystem::Py,
            "/usr/share/sonic/device/$(sonic-cfggen -H -v DEVICE_METADATA.localhost.platform)/x.whl",
        );
        assert!(d.validate().is_ok());
        assert!(dep(Ecosystem::Git, "https://x/a b.git").validate().is_err());
        assert!(
            dep(Ecosystem::Py, "-ihttps://evil.example/simple/")
                .validate()
                .is_err()
        );
        assert!(dep(Ecosystem::Py, "$(x)\u{7}").validate().is_err());
    }
}
