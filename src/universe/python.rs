//! Python distributions into the universe: `Requires-Dist` (PEP 508) with
//! markers evaluated for the image's Python, `Requires-Python`, extras, and
//! Debian `python3-<name>` packages standing in for a distribution.
//!
//! An extra `foo[bar]` is a package of its own whose candidate `v` requires
//! `foo == v` plus the requirements the extra enables, so the search needs no
//! special case for extras. `Requires-Python` is a requirement on the package
//! `python`, which has one candidate: the image's interpreter.

pub mod apt;

use super::{
    CandidateId, CandidateMeta, PackageKey, Requirement, Universe, UniverseError, VersionConstraint,
};
use crate::manifest::Ecosystem;
use pep508_rs::{ExtraName, MarkerEnvironment, MarkerEnvironmentBuilder, VersionOrUrl};
use std::str::FromStr;

/// The interpreter markers are evaluated for (bullseye: 3.9; buster: 3.7 and 2.7).
#[derive(Debug, Clone)]
pub struct PythonEnv {
    /// The domain the image's pip resolves in (`py3`, `py2`, `buster-py3`).
    pub domain: String,
    /// Marker environment (python_version, sys_platform, ...).
    pub markers: MarkerEnvironment,
    /// Full interpreter version (`3.9.2`).
    pub full_version: String,
}

impl PythonEnv {
    /// A CPython on Linux x86_64 of the given full version (`3.9.2`, `2.7.16`).
    pub fn linux_cpython(domain: &str, full_version: &str) -> Result<PythonEnv, UniverseError> {
        let short: String = full_version
            .split('.')
            .take(2)
            .collect::<Vec<_>>()
            .join(".");
        let markers = MarkerEnvironment::try_from(MarkerEnvironmentBuilder {
            implementation_name: "cpython",
            implementation_version: full_version,
            os_name: "posix",
            platform_machine: "x86_64",
            platform_python_implementation: "CPython",
            platform_release: "",
            platform_system: "Linux",
            platform_version: "",
            python_full_version: full_version,
            python_version: &short,
            sys_platform: "linux",
        })
        .map_err(|e| UniverseError::BadVersion {
            origin: "python environment".into(),
            package: "python".into(),
            version: full_version.into(),
            message: e.to_string(),
        })?;
        Ok(PythonEnv {
            domain: domain.to_string(),
            markers,
            full_version: full_version.to_string(),
        })
    }
}

/// Parses a PEP 508 requirement; odd text is an error, never a panic (see
/// [`super::pep508`]).
pub fn parse_pep508(text: &str) -> Result<pep508_rs::Requirement<pep508_rs::VerbatimUrl>, String> {
    super::pep508::requirement(text)
}

/// A Python distribution name: valid per PEP 508 (ASCII letters and digits, inner
/// runs of `-_.`) and normalised per PEP 503 (lower case, each run one `-`), so that
/// `zope.interface` and `Zope_Interface` are one key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PyName(pep508_rs::PackageName);

/// A string that is not a PEP 508 distribution name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad Python project name `{0}`")]
pub struct BadPyName(pub String);

impl PyName {
    /// Validates and normalises `name` (surrounding whitespace is not part of it).
    pub fn new(name: &str) -> Result<PyName, BadPyName> {
        let name = name.trim();
        // pep508_rs accepts the empty string; no distribution is called that.
        if name.is_empty() {
            return Err(BadPyName(name.to_string()));
        }
        pep508_rs::PackageName::from_str(name)
            .map(PyName)
            .map_err(|_| BadPyName(name.to_string()))
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }
}

impl From<PyName> for String {
    fn from(n: PyName) -> String {
        n.as_str().to_string()
    }
}

impl FromStr for PyName {
    type Err = BadPyName;
    fn from_str(s: &str) -> Result<PyName, BadPyName> {
        PyName::new(s)
    }
}

impl AsRef<str> for PyName {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for PyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The key of a distribution name that was validated where it entered (the crawl,
/// a source, a metadata file): its PEP 503 form. A string that is not a name is
/// returned as it is, so it never collides with a real name and is refused where
/// names are validated ([`PyName::new`]) instead of being silently made valid.
pub fn normalize(name: &str) -> String {
    PyName::new(name)
        .map(String::from)
        .unwrap_or_else(|_| name.to_string())
}

fn key(env: &PythonEnv, name: &str) -> PackageKey {
    PackageKey::new(Ecosystem::Py, &env.domain, name)
}

/// Whether a package is the interpreter itself (a fixed fact of the image, not a pin).
pub fn is_interpreter(k: &PackageKey) -> bool {
    k.ecosystem == Ecosystem::Py && k.name == "python"
}

/// Adds (once) the interpreter as the single candidate of package `python`.
pub fn add_interpreter(u: &mut Universe, env: &PythonEnv) -> Result<CandidateId, UniverseError> {
    let p = u.intern(key(env, "python"));
    let meta = CandidateMeta {
        provenance: Some(format!("interpreter of {}", env.domain)),
        ..Default::default()
    };
    u.add_candidate(p, &env.full_version, meta, vec![], vec![], vec![])
}

fn parse_err(origin: &str, msg: String) -> UniverseError {
    UniverseError::Parse {
        file: origin.to_string(),
        line: 0,
        message: msg,
    }
}

/// Turns one `Requires-Dist` line into a requirement when its markers hold for `env` and `extras`.
fn requirement(
    u: &mut Universe,
    env: &PythonEnv,
    line: &str,
    extras: &[ExtraName],
    origin: &str,
) -> Result<Option<Requirement>, UniverseError> {
    let r = parse_pep508(line)
        .map_err(|e| parse_err(origin, format!("bad requirement `{line}`: {e}")))?;
    let holds = super::pep508::evaluate(&r.marker, &env.markers, extras)
        .map_err(|e| parse_err(origin, format!("marker of `{line}`: {e}")))?;
    if !holds {
        return Ok(None);
    }
    let name = normalize(r.name.as_ref());
    let constraint = match &r.version_or_url {
        Some(VersionOrUrl::VersionSpecifier(s)) if !s.is_empty() => {
            VersionConstraint::Specifiers(s.to_string())
        }
        _ => VersionConstraint::Any,
    };
    let target = if r.extras.is_empty() {
        name
    } else {
        let mut ex: Vec<String> = r.extras.iter().map(|e| e.to_string()).collect();
        ex.sort();
        format!("{name}[{}]", ex.join(","))
    };
    let pid = u.intern(key(env, &target));
    Ok(Some(
        Requirement::single(pid, constraint).with_origin(origin),
    ))
}

/// Adds distribution `name` at `version` with its `Requires-Dist` lines,
/// `Requires-Python` and the extras it declares (`Provides-Extra`); returns the
/// candidate of the distribution itself (extras get candidates of `name[extra]`).
#[allow(clippy::too_many_arguments)]
pub fn add_distribution(
    u: &mut Universe,
    env: &PythonEnv,
    name: &str,
    version: &str,
    requires_dist: &[&str],
    requires_python: Option<&str>,
    provides_extra: &[&str],
    meta: CandidateMeta,
) -> Result<CandidateId, UniverseError> {
    let name = normalize(name);
    let origin = meta
        .provenance
        .clone()
        .unwrap_or_else(|| format!("{name}=={version} metadata"));
    let depends = base_requirements(u, env, requires_dist, requires_python, &origin)?;
    let mut meta = meta;
    if !meta.requires_unknown {
        meta.requires_dist = requires_dist.iter().map(|s| s.to_string()).collect();
    }
    let pid = u.intern(key(env, &name));
    let base = u.add_candidate(pid, version, meta.clone(), depends, vec![], vec![])?;
    for extra in provides_extra {
        let ex = ExtraName::from_str(extra)
            .map_err(|e| parse_err(&origin, format!("bad extra `{extra}`: {e}")))?;
        let mut deps = vec![
            Requirement::single(pid, VersionConstraint::Specifiers(format!("=={version}")))
                .with_origin(origin.clone()),
        ];
        for line in requires_dist {
            let with = requirement(u, env, line, std::slice::from_ref(&ex), &origin)?;
            let without = requirement(u, env, line, &[], &origin)?;
            if let (Some(r), None) = (with, without) {
                deps.push(r);
            }
        }
        let xid = u.intern(key(env, &format!("{name}[{ex}]")));
        u.add_candidate(xid, version, meta.clone(), deps, vec![], vec![])?;
    }
    Ok(base)
}

/// The requirements of a distribution itself (no extras) for `env`:
/// `Requires-Python` as a requirement on the interpreter, then every
/// `Requires-Dist` line whose markers hold.
pub fn base_requirements(
    u: &mut Universe,
    env: &PythonEnv,
    requires_dist: &[&str],
    requires_python: Option<&str>,
    origin: &str,
) -> Result<Vec<Requirement>, UniverseError> {
    let mut depends = Vec::new();
    if let Some(rp) = requires_python.filter(|s| !s.trim().is_empty()) {
        rp.parse::<pep440_rs::VersionSpecifiers>()
            .map_err(|e| parse_err(origin, format!("bad Requires-Python `{rp}`: {e}")))?;
        add_interpreter(u, env)?;
        let py = u.intern(key(env, "python"));
        depends.push(
            Requirement::single(py, VersionConstraint::Specifiers(rp.to_string()))
                .with_origin(origin.to_string()),
        );
    }
    for line in requires_dist {
        if let Some(r) = requirement(u, env, line, &[], origin)? {
            depends.push(r);
        }
    }
    Ok(depends)
}

/// Splits `name[a,b]` into the distribution and its extras (sorted); plain names have none.
pub fn split_extras(target: &str) -> (&str, Vec<&str>) {
    match target.split_once('[') {
        Some((n, rest)) => {
            let mut ex: Vec<&str> = rest
                .trim_end_matches(']')
                .split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .collect();
            ex.sort_unstable();
            ex.dedup();
            (n, ex)
        }
        None => (target, Vec::new()),
    }
}

/// The requirements of candidate `version` of `name[extras]`: the distribution
/// itself at that exact version, plus every `Requires-Dist` line that the
/// extras switch on (its marker holds with them and not without).
pub fn extra_requirements(
    u: &mut Universe,
    env: &PythonEnv,
    name: &str,
    version: &str,
    extras: &[&str],
    requires_dist: &[&str],
    origin: &str,
) -> Result<Vec<Requirement>, UniverseError> {
    let base = u.intern(key(env, name));
    let mut deps = vec![
        Requirement::single(base, VersionConstraint::Specifiers(format!("=={version}")))
            .with_origin(origin.to_string()),
    ];
    let names: Vec<ExtraName> = extras
        .iter()
        .map(|e| {
            ExtraName::from_str(e)
                .map_err(|err| parse_err(origin, format!("bad extra `{e}`: {err}")))
        })
        .collect::<Result<_, _>>()?;
    for line in requires_dist {
        let with = requirement(u, env, line, &names, origin)?;
        let without = requirement(u, env, line, &[], origin)?;
        if let (Some(r), None) = (with, without) {
            deps.push(r);
        }
    }
    Ok(deps)
}

/// The PEP 440 version pip sees for a Debian package version: no epoch, no
/// Debian revision, and Debian's `+dfsg`/`+ds`/`~` suffixes dropped
/// (`3.0.2-1+deb11u1` -> `3.0.2`, `1:5.3.1+dfsg-2` -> `5.3.1`).
pub fn debian_to_pep440(deb_version: &str) -> Option<String> {
    let no_epoch = deb_version
        .split_once(':')
        .map(|(_, r)| r)
        .unwrap_or(deb_version);
    let upstream = no_epoch
        .rsplit_once('-')
        .map(|(u, _)| u)
        .unwrap_or(no_epoch);
    let cut = upstream.find(['+', '~']).unwrap_or(upstream.len());
    let v = &upstream[..cut];
    v.parse::<pep440_rs::Version>().ok().map(|_| v.to_string())
}

/// A Debian `python3-<name>` package installed in the image provides
/// distribution `dist` at its Debian version mapped to PEP 440; pip keeps it
/// unless a constraint forces another version. Returns `None` when the Debian
/// version has no PEP 440 reading.
pub fn add_debian_provided(
    u: &mut Universe,
    env: &PythonEnv,
    dist: &str,
    deb_package: &str,
    deb_version: &str,
) -> Result<Option<CandidateId>, UniverseError> {
    let Some(v) = debian_to_pep440(deb_version) else {
        return Ok(None);
    };
    let pid = u.intern(key(env, &normalize(dist)));
    let meta = CandidateMeta {
        provenance: Some(format!("debian:{deb_package}={deb_version}")),
        ..Default::default()
    };
    u.add_candidate(pid, &v, meta, vec![], vec![], vec![])
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_name_are_one_key() {
        let k = |s: &str| PyName::new(s).unwrap().to_string();
        assert_eq!(k("zope.interface"), "zope-interface");
        assert_eq!(k("zope-interface"), "zope-interface");
        assert_eq!(k("Zope__Interface"), "zope-interface");
        assert_eq!(k(" PyYAML "), "pyyaml");
        assert_eq!(normalize("zope.interface"), normalize("zope-interface"));
    }

    #[test]
    fn what_is_not_a_name_is_refused_not_made_valid() {
        for bad in [
            "-ihttps://evil/",
            "../x",
            "",
            "a-",
            "_a",
            "naïve",
            "caf\u{e9}",
            "a b",
            "x;rm",
        ] {
            assert_eq!(
                PyName::new(bad),
                Err(BadPyName(bad.trim().to_string())),
                "{bad:?}"
            );
            // The key of a non-name is the string itself: it matches no real name.
            assert_eq!(normalize(bad), bad);
        }
        assert_eq!(
            PyName::new("-ihttps://evil/").unwrap_err().to_string(),
            "bad Python project name `-ihttps://evil/`"
        );
    }
}
