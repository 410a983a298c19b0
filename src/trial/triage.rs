//! Failure triage: matches build logs against a data table of known failure
//! signatures (`signatures.toml`) and names the pins they implicate, so the
//! learn loop can turn a failed build into a learned clause.

use regex::{Regex, RegexSet};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, VecDeque};
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// The built-in signature table.
pub const BUILTIN_SIGNATURES: &str = include_str!("signatures.toml");

/// Errors loading a signature table or reading a log.
#[derive(Debug, thiserror::Error)]
pub enum TriageError {
    /// The table is not valid TOML of the expected shape.
    #[error("{origin}: {message}")]
    Table {
        /// File (or `built-in`) the table came from.
        origin: String,
        /// What is wrong.
        message: String,
    },
    /// A log could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The log file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Deserialize)]
struct RawAlso {
    ecosystem: String,
    name: String,
}

/// What a signature says about the failure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The pins it names (possibly none) made the build fail.
    #[default]
    Pin,
    /// The builder could not reach its sources (an archive index, DNS, a refused
    /// connection): no pin is to blame, and no candidate would build.
    Infrastructure,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignature {
    id: String,
    ecosystem: String,
    #[serde(default)]
    kind: Kind,
    description: String,
    pattern: String,
    #[serde(default)]
    before: Option<String>,
    #[serde(default)]
    window: Option<usize>,
    #[serde(default)]
    also: Vec<RawAlso>,
    #[serde(default)]
    fallback: bool,
    example: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    signature: Vec<RawSignature>,
}

/// One known failure signature.
#[derive(Debug, Clone)]
pub struct Signature {
    /// Stable identifier (`pip-cython-sources`).
    pub id: String,
    /// Ecosystem of the implicated pins (`deb`, `deb-src`, `py`, `git`, `web`, `mirror`, or `any`).
    pub ecosystem: String,
    /// What the failure means.
    pub description: String,
    /// Whether the failure is the pins' or the infrastructure's.
    pub kind: Kind,
    /// True for SONiC's silent version-control fallbacks (a pin not honoured).
    pub fallback: bool,
    /// A real-shaped log line the pattern must match.
    pub example: String,
    pattern: Regex,
    before: Option<Regex>,
    window: usize,
    also: Vec<Implicated>,
}

/// A pin (or a file whose owning package is) implicated by a failure.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Implicated {
    /// Ecosystem (`deb`, `py`, `web`, ...).
    pub ecosystem: String,
    /// Package name or URL, when the log names it.
    pub name: Option<String>,
    /// Version (or git revision), when the log names it.
    pub version: Option<String>,
    /// A file (header, library) whose owning package is implicated.
    pub file: Option<String>,
}

/// A signature matched on a log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Match {
    /// The signature's id.
    pub signature: String,
    /// 1-based line number in the log.
    pub line: usize,
    /// The matched line (trimmed to 400 characters).
    pub text: String,
    /// True for a silent version-control fallback.
    pub fallback: bool,
    /// True when the signature says the builder could not reach its sources.
    #[serde(default)]
    pub infrastructure: bool,
    /// The pins it implicates (possibly none: e.g. `held broken packages`).
    pub implicated: Vec<Implicated>,
}

/// All signatures found in one log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Matches in log order.
    pub matches: Vec<Match>,
}

impl Report {
    /// Every implicated pin, deduplicated and sorted.
    pub fn implicated(&self) -> Vec<Implicated> {
        let set: BTreeSet<Implicated> = self
            .matches
            .iter()
            .flat_map(|m| m.implicated.iter().cloned())
            .collect();
        set.into_iter().collect()
    }

    /// True when some signature matched but none named a pin, or nothing matched.
    pub fn is_unattributed(&self) -> bool {
        self.implicated().is_empty()
    }

    /// The first match saying the builder could not reach its sources.
    pub fn infrastructure(&self) -> Option<&Match> {
        self.matches.iter().find(|m| m.infrastructure)
    }
}

/// Normalises a Python distribution name the way PyPI does (PEP 503).
pub fn normalize_py(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !dash {
                out.push('-');
            }
            dash = true;
        } else {
            out.extend(c.to_lowercase());
            dash = false;
        }
    }
    out
}

/// Decodes `%2b`-style escapes that apt prints in pool URLs.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

fn pin(ecosystem: &str, name: Option<&str>, version: Option<&str>) -> Implicated {
    let name = name.map(|n| {
        if ecosystem == "py" {
            normalize_py(n)
        } else {
            n.trim_end_matches([',', '.', ';']).to_string()
        }
    });
    let version = version.map(|v| {
        if ecosystem == "deb" || ecosystem == "deb-src" {
            percent_decode(v)
        } else {
            v.to_string()
        }
    });
    Implicated {
        ecosystem: ecosystem.to_string(),
        name,
        version,
        file: None,
    }
}

impl Signature {
    fn compile(raw: RawSignature, origin: &str) -> Result<Signature, TriageError> {
        let err = |message: String| TriageError::Table {
            origin: origin.to_string(),
            message: format!("signature `{}`: {message}", raw.id),
        };
        let pattern = Regex::new(&raw.pattern).map_err(|e| err(format!("pattern: {e}")))?;
        let before = raw
            .before
            .as_deref()
            .map(Regex::new)
            .transpose()
            .map_err(|e| err(format!("before: {e}")))?;
        let sig = Signature {
            id: raw.id.clone(),
            ecosystem: raw.ecosystem.clone(),
            description: raw.description.clone(),
            kind: raw.kind,
            fallback: raw.fallback,
            example: raw.example.clone(),
            pattern,
            before,
            window: raw.window.unwrap_or(0).min(1000),
            also: raw
                .also
                .iter()
                .map(|a| pin(&a.ecosystem, Some(&a.name), None))
                .collect(),
        };
        if !sig.pattern.is_match(&sig.example) {
            return Err(err("its example does not match its pattern".into()));
        }
        Ok(sig)
    }

    /// The pins implicated by `line`, given the `recent` lines above it (nearest last).
    fn implicate(&self, line: &str, recent: &VecDeque<String>) -> Vec<Implicated> {
        let Some(caps) = self.pattern.captures(line) else {
            return Vec::new();
        };
        let get = |n: &str| caps.name(n).map(|m| m.as_str().to_string());
        let mut name = get("name");
        let mut version = get("version")
            .or_else(|| get("version2"))
            .or_else(|| get("version3"));
        let dep = get("dep");
        let dep_version = get("dep_version");
        let mut file = get("file").or_else(|| get("lib").map(|l| format!("lib{l}.so")));
        let ecosystem = get("ecosystem").unwrap_or_else(|| self.ecosystem.clone());
        if let Some(before) = &self.before {
            for prev in recent.iter().rev().take(self.window) {
                if let Some(c) = before.captures(prev) {
                    let pick = |n: &str| c.name(n).map(|m| m.as_str().to_string());
                    name = name.or_else(|| pick("name"));
                    version = version.or_else(|| pick("version"));
                    file = file.or_else(|| pick("file"));
                    if name.is_some() {
                        break;
                    }
                }
            }
        }
        let mut out = Vec::new();
        if name.is_some() || version.is_some() {
            // The "pin not honoured" check names the used version as dep_version: the pin is what failed.
            out.push(pin(&ecosystem, name.as_deref(), version.as_deref()));
        }
        if dep.is_some() {
            out.push(pin(&ecosystem, dep.as_deref(), dep_version.as_deref()));
        }
        if let Some(f) = file {
            out.push(Implicated {
                ecosystem: ecosystem.clone(),
                name: None,
                version: None,
                file: Some(f),
            });
        }
        out.extend(self.also.iter().cloned());
        out
    }
}

/// A compiled signature table.
#[derive(Debug, Clone)]
pub struct Triage {
    signatures: Vec<Signature>,
    set: RegexSet,
    window: usize,
}

impl Triage {
    /// The built-in table.
    pub fn builtin() -> Result<Triage, TriageError> {
        Triage::from_toml(BUILTIN_SIGNATURES, "built-in signatures")
    }

    /// A table parsed from TOML text; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Triage, TriageError> {
        let raw: RawTable = toml::from_str(text).map_err(|e| TriageError::Table {
            origin: origin.to_string(),
            message: e.to_string(),
        })?;
        let mut t = Triage {
            signatures: Vec::new(),
            set: RegexSet::empty(),
            window: 0,
        };
        t.extend(raw.signature, origin)?;
        Ok(t)
    }

    /// Adds the signatures of another table file (a user's extensions).
    pub fn extend_from_file(&mut self, path: &Path) -> Result<(), TriageError> {
        let text = std::fs::read_to_string(path).map_err(|source| TriageError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let origin = path.display().to_string();
        let raw: RawTable = toml::from_str(&text).map_err(|e| TriageError::Table {
            origin: origin.clone(),
            message: e.to_string(),
        })?;
        self.extend(raw.signature, &origin)
    }

    fn extend(&mut self, raw: Vec<RawSignature>, origin: &str) -> Result<(), TriageError> {
        for r in raw {
            if self.signatures.iter().any(|s| s.id == r.id) {
                return Err(TriageError::Table {
                    origin: origin.to_string(),
                    message: format!("duplicate signature id `{}`", r.id),
                });
            }
            self.signatures.push(Signature::compile(r, origin)?);
        }
        self.set =
            RegexSet::new(self.signatures.iter().map(|s| s.pattern.as_str())).map_err(|e| {
                TriageError::Table {
                    origin: origin.to_string(),
                    message: e.to_string(),
                }
            })?;
        self.window = self.signatures.iter().map(|s| s.window).max().unwrap_or(0);
        Ok(())
    }

    /// The signatures, in table order.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// Scans log text.
    pub fn scan(&self, log: &str) -> Report {
        let mut r = Scanner::new(self);
        for line in log.lines() {
            r.push(line);
        }
        r.report
    }

    /// Scans a log file line by line (logs of whole images run to gigabytes); non-UTF-8 bytes are replaced.
    pub fn scan_file(&self, path: &Path) -> Result<Report, TriageError> {
        let f = std::fs::File::open(path).map_err(|source| TriageError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut reader = std::io::BufReader::new(f);
        let mut s = Scanner::new(self);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(|source| TriageError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
            if n == 0 {
                break;
            }
            let line = String::from_utf8_lossy(&buf);
            s.push(line.trim_end_matches(['\n', '\r']));
        }
        Ok(s.report)
    }
}

struct Scanner<'a> {
    triage: &'a Triage,
    recent: VecDeque<String>,
    line_no: usize,
    report: Report,
}

impl<'a> Scanner<'a> {
    fn new(triage: &'a Triage) -> Scanner<'a> {
        Scanner {
            triage,
            recent: VecDeque::new(),
            line_no: 0,
            report: Report::default(),
        }
    }

    fn push(&mut self, raw: &str) {
        self.line_no += 1;
        // Docker and make prefix lines with `#12 3.45 ` or timestamps; keep them, patterns are unanchored
        // except where a leading anchor is part of the signature.
        let line = raw.trim_end();
        for i in self.triage.set.matches(line).iter() {
            let sig = &self.triage.signatures[i];
            self.report.matches.push(Match {
                signature: sig.id.clone(),
                line: self.line_no,
                text: line.chars().take(400).collect(),
                fallback: sig.fallback,
                infrastructure: sig.kind == Kind::Infrastructure,
                implicated: sig.implicate(line, &self.recent),
            });
        }
        if self.triage.window > 0 {
            if self.recent.len() == self.triage.window {
                self.recent.pop_front();
            }
            self.recent.push_back(line.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> &'static Triage {
        static T: std::sync::OnceLock<Triage> = std::sync::OnceLock::new();
        T.get_or_init(|| Triage::builtin().unwrap())
    }

    fn one(log: &str, id: &str) -> Match {
        let r = t().scan(log);
        r.matches
            .into_iter()
            .find(|m| m.signature == id)
            .unwrap_or_else(|| panic!("{id} did not match:\n{log}"))
    }

    fn p(eco: &str, name: &str, version: Option<&str>) -> Implicated {
        Implicated {
            ecosystem: eco.into(),
            name: Some(name.into()),
            version: version.map(Into::into),
            file: None,
        }
    }

    fn f(eco: &str, file: &str) -> Implicated {
        Implicated {
            ecosystem: eco.into(),
            name: None,
            version: None,
            file: Some(file.into()),
        }
    }

    #[test]
    fn every_example_matches_its_own_signature() {
        for s in t().signatures() {
            let r = t().scan(&s.example);
            assert!(
                r.matches.iter().any(|m| m.signature == s.id),
                "{}: {:?}",
                s.id,
                r
            );
        }
    }

    #[test]
    fn apt_unmet_dependencies_name_both_packages() {
        let log = "The following packages have unmet dependencies:\n libsnmp-dev : Depends: libsnmp40 (= 5.9+dfsg-4+deb11u1) but 5.9+dfsg-3+b1 is to be installed\n                Depends: libnetsnmptrapd40 (= 5.9+dfsg-4+deb11u1) but it is not going to be installed\nE: Unable to correct problems, you have held broken packages.";
        let r = t().scan(log);
        assert_eq!(
            r.implicated(),
            vec![
                p("deb", "libnetsnmptrapd40", Some("5.9+dfsg-4+deb11u1")),
                p("deb", "libsnmp-dev", None),
                p("deb", "libsnmp40", Some("5.9+dfsg-4+deb11u1")),
            ]
        );
        assert!(r.matches.iter().any(|m| m.signature == "apt-held-broken"));
    }

    #[test]
    fn a_release_for_another_python_names_the_downloaded_version() {
        let log = "Collecting pyfoo\n  Downloading pyfoo-1.2.tar.gz (10 kB)\n  Preparing metadata (setup.py) ... done\n\
                   ERROR: Package 'pyfoo' requires a different Python: 3.9.2 not in '>=3.10'";
        let r = t().scan(log);
        assert_eq!(r.implicated(), vec![p("py", "pyfoo", Some("1.2"))]);
        let wheel = "  Using cached lxml-5.0.0-cp310-cp310-manylinux_2_28_x86_64.whl\n\
                     ERROR: Package 'lxml' requires a different Python: 3.9.2 not in '>=3.10'";
        assert_eq!(
            t().scan(wheel).implicated(),
            vec![p("py", "lxml", Some("5.0.0"))]
        );
    }

    #[test]
    fn held_broken_alone_is_unattributed() {
        let r = t().scan("E: Unable to correct problems, you have held broken packages.");
        assert_eq!(r.matches.len(), 1);
        assert!(r.is_unattributed());
    }

    #[test]
    fn apt_version_not_found() {
        let m = one(
            "E: Version '1.0.4-2' for 'libmnl0' was not found",
            "apt-version-not-found",
        );
        assert_eq!(m.implicated, vec![p("deb", "libmnl0", Some("1.0.4-2"))]);
    }

    #[test]
    fn apt_fetch_404_decodes_the_version() {
        let m = one(
            "E: Failed to fetch http://deb.debian.org/debian/pool/main/o/openssl/libssl1.1_1.1.1n-0%2bdeb11u3_amd64.deb  404  Not Found [IP: 151.101.2.132 80]",
            "apt-fetch-404",
        );
        assert_eq!(
            m.implicated,
            vec![p("deb", "libssl1.1", Some("1.1.1n-0+deb11u3"))]
        );
    }

    #[test]
    fn apt_hash_mismatch_and_mirror_problems() {
        let m = one(
            "E: Failed to fetch http://deb.debian.org/debian/pool/main/l/lxml/python3-lxml_4.6.3%2bdfsg-0.1%2bdeb11u1_amd64.deb  Hash Sum mismatch",
            "apt-hash-mismatch",
        );
        assert_eq!(
            m.implicated,
            vec![p("deb", "python3-lxml", Some("4.6.3+dfsg-0.1+deb11u1"))]
        );
        let m = one(
            "E: The repository 'http://deb.debian.org/debian buster-backports Release' does not have a Release file.",
            "apt-no-release-file",
        );
        assert_eq!(m.implicated[0].ecosystem, "mirror");
        let m = one(
            "E: Release file for http://snapshot.debian.org/archive/debian/20221206T000000Z/dists/bullseye-updates/InRelease is expired (invalid since 1y). Updates for this repository will not be applied.",
            "apt-release-expired",
        );
        assert_eq!(m.implicated[0].ecosystem, "mirror");
    }

    #[test]
    fn dget_failure_names_source_and_version() {
        let m = one(
            "dget: curl isc-dhcp_4.4.1-2.3.dsc http://deb.debian.org/debian/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc failed",
            "dget-failed",
        );
        assert_eq!(
            m.implicated,
            vec![p("deb-src", "isc-dhcp", Some("4.4.1-2.3"))]
        );
    }

    #[test]
    fn wget_404_takes_the_url_from_above() {
        let log = "--2022-12-06 08:00:00--  https://github.com/bazelbuild/bazelisk/releases/download/v1.15.0/bazelisk-linux-amd64\nResolving github.com (github.com)... 140.82.121.4\nHTTP request sent, awaiting response... 404 Not Found\n2022-12-06 08:00:01 ERROR 404: Not Found.";
        let m = one(log, "wget-404");
        assert_eq!(
            m.implicated,
            vec![p(
                "web",
                "https://github.com/bazelbuild/bazelisk/releases/download/v1.15.0/bazelisk-linux-amd64",
                None
            )]
        );
    }

    #[test]
    fn curl_error_takes_the_url_from_the_command() {
        let log = "+ curl -fsSL -o sai.deb https://github.com/barefootnetworks/sonic-release-pkgs/raw/dev/bfnsdk_1.0.0_amd64.deb\ncurl: (22) The requested URL returned error: 404 Not Found";
        let m = one(log, "curl-http-error");
        assert_eq!(
            m.implicated,
            vec![p(
                "web",
                "https://github.com/barefootnetworks/sonic-release-pkgs/raw/dev/bfnsdk_1.0.0_amd64.deb",
                None
            )]
        );
    }

    #[test]
    fn web_hash_mismatch_and_md5() {
        let m = one(
            "Failed to verify url: https://github.com/bazelbuild/bazelisk/releases/latest/download/bazelisk-linux-amd64, real hash value: 0b5a06a4, expected value: bazelisk-linux-amd64-e3a5a8b2",
            "sonic-web-hash-mismatch",
        );
        assert_eq!(
            m.implicated[0].name.as_deref(),
            Some(
                "https://github.com/bazelbuild/bazelisk/releases/latest/download/bazelisk-linux-amd64"
            )
        );
        let m = one("bfnsdk_1.0.0_amd64.deb: FAILED", "md5-mismatch");
        assert_eq!(m.implicated, vec![f("web", "bfnsdk_1.0.0_amd64.deb")]);
    }

    #[test]
    fn pip_conflict_report_names_both_sides() {
        let log = "ERROR: Cannot install sonic-config-engine==1.0 and lxml==4.6.5 because these package versions have conflicting dependencies.\n\nThe conflict is caused by:\n    The user requested (constraint) lxml==4.6.5\n    sonic-config-engine 1.0 depends on lxml==4.9.1\n\nTo fix this you could try to:\nERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts";
        let r = t().scan(log);
        assert_eq!(
            r.implicated(),
            vec![
                p("py", "lxml", Some("4.6.5")),
                p("py", "lxml", Some("4.9.1")),
                p("py", "sonic-config-engine", Some("1.0")),
            ]
        );
        assert!(
            r.matches
                .iter()
                .any(|m| m.signature == "pip-resolution-impossible")
        );
    }

    #[test]
    fn pip_missing_distributions() {
        let m = one(
            "ERROR: No matching distribution found for nnpy==1.4.2",
            "pip-no-matching-distribution",
        );
        assert_eq!(m.implicated, vec![p("py", "nnpy", Some("1.4.2"))]);
        let m = one(
            "ERROR: Could not find a version that satisfies the requirement PyYAML==5.4.2 (from versions: 5.4, 5.4.1, 6.0)",
            "pip-no-version-satisfies",
        );
        assert_eq!(m.implicated, vec![p("py", "pyyaml", Some("5.4.2"))]);
    }

    #[test]
    fn pip_requirement_conflict() {
        let m = one(
            "sonic-py-common 1.0 requires netaddr<0.8, but you have netaddr 0.8.0 which is incompatible.",
            "pip-requirement-conflict",
        );
        assert_eq!(
            m.implicated,
            vec![
                p("py", "sonic-py-common", Some("1.0")),
                p("py", "netaddr", Some("0.8.0"))
            ]
        );
    }

    #[test]
    fn cython_sources_blames_the_sdist_and_cython() {
        let log = "Collecting PyYAML==5.4.1\n  Downloading PyYAML-5.4.1.tar.gz (175 kB)\n  Installing build dependencies: started\n  Getting requirements to build wheel: finished with status 'error'\n  error: subprocess-exited-with-error\n      File \"/tmp/pip-build-env-x/overlay/lib/python3.9/site-packages/setuptools/_distutils/cmd.py\", line 107, in __getattr__\n        raise AttributeError(attr)\n      AttributeError: cython_sources";
        let m = one(log, "pip-cython-sources");
        assert_eq!(
            m.implicated,
            vec![p("py", "pyyaml", Some("5.4.1")), p("py", "cython", None)]
        );
    }

    #[test]
    fn git_unknown_revision_with_clone_url() {
        let log = "+ git clone https://github.com/jpirko/libteam.git\nCloning into 'libteam'...\n+ git checkout -f c7237377a5c4c7aad8bb1ebf2bea0de0d45c7e54\nfatal: ambiguous argument 'c7237377a5c4c7aad8bb1ebf2bea0de0d45c7e54': unknown revision or path not in the working tree.";
        let m = one(log, "git-unknown-revision");
        assert_eq!(
            m.implicated,
            vec![p(
                "git",
                "https://github.com/jpirko/libteam.git",
                Some("c7237377a5c4c7aad8bb1ebf2bea0de0d45c7e54")
            )]
        );
        let m = one(
            "fatal: reference is not a tree: c7237377a5c4c7aad8bb1ebf2bea0de0d45c7e54",
            "git-unknown-revision",
        );
        assert_eq!(
            m.implicated[0].version.as_deref(),
            Some("c7237377a5c4c7aad8bb1ebf2bea0de0d45c7e54")
        );
        let m = one(
            "error: pathspec '5e9a8c7b0f1d2e3c4b5a69788796a5b4c3d2e1f0' did not match any file(s) known to git",
            "git-pathspec",
        );
        assert_eq!(
            m.implicated[0].version.as_deref(),
            Some("5e9a8c7b0f1d2e3c4b5a69788796a5b4c3d2e1f0")
        );
    }

    #[test]
    fn compiler_and_linker_failures_name_files() {
        let m = one(
            "src/sai_redis_interfacequery.cpp:12:10: fatal error: sai.h: No such file or directory",
            "cc-missing-header",
        );
        assert_eq!(m.implicated, vec![f("deb", "sai.h")]);
        let m = one(
            "In file included from netlink.c:3:\n/usr/include/libnl3/netlink/netlink.h:27:10: fatal error: netlink/netlink-compat.h: No such file or directory",
            "cc-missing-header",
        );
        assert_eq!(m.implicated, vec![f("deb", "netlink/netlink-compat.h")]);
        let m = one(
            "/usr/bin/ld: cannot find -lnl-genl-3",
            "ld-cannot-find-library",
        );
        assert_eq!(m.implicated, vec![f("deb", "libnl-genl-3.so")]);
        let m = one(
            "/usr/bin/ld: /usr/lib/x86_64-linux-gnu/libsai.so: undefined reference to `bf_switchd_lib_init'",
            "ld-undefined-reference",
        );
        assert_eq!(
            m.implicated,
            vec![f("deb", "/usr/lib/x86_64-linux-gnu/libsai.so")]
        );
    }

    #[test]
    fn sonic_silent_fallbacks_are_flagged() {
        let m = one(
            "Warning: the version of the package libyang is not specified.",
            "sonic-deb-version-not-specified",
        );
        assert!(m.fallback);
        assert_eq!(m.implicated, vec![p("deb", "libyang", None)]);
        let m = one(
            "sonic-lock: pin not honoured: deb libc6-dev pinned 2.31-13+deb11u5 but the build used 2.31-13+deb11u6 (x)",
            "sonic-lock-pin-not-honoured",
        );
        assert_eq!(
            m.implicated,
            vec![p("deb", "libc6-dev", Some("2.31-13+deb11u5")),]
        );
        let m = one(
            "Warning: Failed to verify the package: https://example.org/x.tgz, the version is not specified",
            "sonic-web-version-not-specified",
        );
        assert_eq!(
            m.implicated,
            vec![p("web", "https://example.org/x.tgz", None)]
        );
    }

    #[test]
    fn unreachable_sources_are_infrastructure_and_blame_no_pin() {
        for line in [
            "E: Failed to fetch http://127.0.0.1:1/debian/dists/bullseye/main/binary-amd64/Packages  Connection refused",
            "E: Failed to fetch http://127.0.0.1:8080/debian/dists/bullseye/main/binary-amd64/Packages  0  Not Found",
            "#7 2.31 curl: (6) Could not resolve host: github.com",
            "fatal: unable to access 'https://github.com/x/y.git/': Failed to connect to github.com port 443: Connection refused",
        ] {
            let r = t().scan(line);
            let m = r
                .infrastructure()
                .unwrap_or_else(|| panic!("{line}: {r:?}"));
            assert_eq!(m.line, 1);
            assert!(r.is_unattributed(), "{line}: {r:?}");
        }
        // A pool file that is gone is the pin's: not infrastructure.
        let r = t().scan("E: Failed to fetch http://deb.debian.org/debian/pool/main/o/openssl/libssl1.1_1.1.1n-0%2bdeb11u3_amd64.deb  404  Not Found");
        assert!(
            r.infrastructure().is_none() && !r.is_unattributed(),
            "{r:?}"
        );
        let e = Triage::from_toml(
            "[[signature]]\nid='x'\necosystem='deb'\nkind='weather'\ndescription='d'\npattern='abc'\nexample='abc'\n",
            "my.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("my.toml:"), "{e}");
    }

    #[test]
    fn clean_log_matches_nothing() {
        let r = t().scan("make: Nothing to be done for 'all'.\nBuild succeeded\n");
        assert!(r.matches.is_empty() && r.is_unattributed());
    }

    #[test]
    fn bad_tables_are_rejected_with_origin() {
        let e = Triage::from_toml("[[signature]]\nid='x'\n", "my.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("my.toml:"), "{e}");
        let e = Triage::from_toml(
            "[[signature]]\nid='x'\necosystem='deb'\ndescription='d'\npattern='abc'\nexample='xyz'\n",
            "my.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("example does not match"), "{e}");
    }

    #[test]
    fn scan_file_handles_non_utf8() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("log");
        std::fs::write(&p, b"\xff\xfe junk\nE: Unable to locate package libfoo\n").unwrap();
        let r = t().scan_file(&p).unwrap();
        assert_eq!(r.matches[0].line, 2);
        assert!(t().scan_file(&d.path().join("missing")).is_err());
    }
}
