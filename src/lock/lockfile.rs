//! The lockfile (`lockfiles/<platform>.lock`): a versioned TOML document that
//! pins every build dependency of one platform, with the provenance of each pin
//! and the trial builds that proved the set.
//!
//! The bytes are a pure function of the content: pins, archives and trials are
//! sorted, and the TOML is written by hand so that field order, quoting and
//! layout never depend on a serializer's version.

use super::Verdict;
use crate::manifest::make_vars::{self, MakeVars};
use crate::manifest::{Ecosystem, check_name};
use crate::universe::version::{VersionError, scheme_for};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// Schema version written by this tool; readers refuse anything newer.
pub const LOCK_VERSION: u32 = 1;

/// Placeholder for a commit or cutoff a lock does not know (imported from a version tree).
pub const UNKNOWN: &str = "unknown";

/// One archive (Debian mirror) the pins were resolved against.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archive {
    /// Archive name as SONiC's `versions-mirror` spells it (`debian`, `debian-security`).
    pub name: String,
    /// Snapshot timestamp (`20221206T000000Z`), the value written to `versions-mirror`.
    pub snapshot: String,
    /// Base URL of the snapshot the pins' source URLs point into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// One pinned dependency in one build context.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// Ecosystem of the pinned package.
    pub ecosystem: Ecosystem,
    /// Package name; for `git` the repository URL, for `web` the URL the build fetches, for `docker` the image reference.
    pub name: String,
    /// The pinned version: Debian or PEP 440 version, commit SHA, md5 for `web`, `sha256:` digest for `docker`.
    pub version: String,
    /// Image the pin applies in (`docker-orchagent`, `build-sonic-slave-bullseye`, `host-image`); `None` means `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Debian suite the pin applies to; `None` means every suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    /// Architecture the pin applies to; `None` means every architecture.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Python flavour (`py2` or `py3`) for `py` pins; `None` is taken as `py3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// Immutable URL the pinned artifact can be fetched from (snapshot pool, commit-pinned URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// URL as written in the build scripts, when the build must be rewritten to fetch `url` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_url: Option<String>,
    /// Lower-case hex SHA-256 of the artifact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Lower-case hex MD5 of the artifact, where SONiC checks md5 (`web`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    /// When this version first appeared at its source (RFC 3339 or `YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
    /// Manifest origins (`file:line`) that declared the dependency.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub why: Vec<String>,
    /// Packages whose dependencies pulled this one in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependents: Vec<String>,
    /// The make target that builds it when the tree builds the package itself
    /// (`lldpd_1.0.4-1_amd64.deb`): installed from the build's own output, not
    /// fetched, and recorded as SONiC's freeze records every installed package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub built: Option<String>,
    /// Installed while the image is built and removed before its end (an
    /// `apt-get purge` and `autoremove`): pinned so the build is the same,
    /// but not in what the image holds, so SONiC's freeze never lists it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub transient: bool,
}

/// The prefix of the `dependents` entry that marks a `py` pin as installed by
/// a Debian package (`deb:python3-yaml`), see [`Pin::installed_by_apt`].
pub const APT_DEPENDENT: &str = "deb:";

/// The identity of a pin: at most one pin per key may exist in a lock.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PinKey {
    /// Ecosystem.
    pub ecosystem: Ecosystem,
    /// Image (`None` for `default`).
    pub image: Option<String>,
    /// Suite.
    pub suite: Option<String>,
    /// Architecture.
    pub arch: Option<String>,
    /// Python flavour.
    pub python: Option<String>,
    /// Name.
    pub name: String,
}

/// A pin's identity, borrowed: ecosystem, name, image, suite, arch, python.
type PinIdentity<'a> = (
    Ecosystem,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

/// The identity fields of a [`Pin`] or a [`PinKey`] (same names in both).
macro_rules! identity {
    ($k:expr) => {
        (
            $k.ecosystem,
            $k.name.as_str(),
            $k.image.as_deref(),
            $k.suite.as_deref(),
            $k.arch.as_deref(),
            $k.python.as_deref(),
        )
    };
}

impl PinKey {
    /// The key's fields, borrowed, as [`Pin`] compares them.
    fn identity(&self) -> PinIdentity<'_> {
        identity!(self)
    }
}

impl std::fmt::Display for PinKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.ecosystem, self.name)?;
        let ctx: Vec<&str> = [&self.image, &self.suite, &self.arch, &self.python]
            .into_iter()
            .filter_map(|o| o.as_deref())
            .collect();
        if !ctx.is_empty() {
            write!(f, " [{}]", ctx.join(" "))?;
        }
        Ok(())
    }
}

impl Pin {
    /// A pin with only identity and version set; provenance fields empty.
    pub fn new(ecosystem: Ecosystem, name: &str, version: &str) -> Pin {
        Pin {
            ecosystem,
            name: name.to_string(),
            version: version.to_string(),
            image: None,
            suite: None,
            arch: None,
            python: None,
            url: None,
            declared_url: None,
            sha256: None,
            md5: None,
            first_seen: None,
            why: Vec::new(),
            dependents: Vec::new(),
            built: None,
            transient: false,
        }
    }

    /// Whether this pin's identity is `key` (compared in place: locks hold
    /// thousands of pins and are searched once per pin added).
    pub fn has_key(&self, key: &PinKey) -> bool {
        self.identity() == key.identity()
    }

    /// Whether this pin and `other` have the same identity.
    pub fn same_key(&self, other: &Pin) -> bool {
        self.identity() == other.identity()
    }

    /// The fields of [`Pin::key`], borrowed: comparing them allocates nothing,
    /// which matters in `Lock::upsert`, called once per pick.
    fn identity(&self) -> PinIdentity<'_> {
        identity!(self)
    }

    /// The pin's identity (everything but the version and provenance).
    pub fn key(&self) -> PinKey {
        PinKey {
            ecosystem: self.ecosystem,
            image: self.image.clone(),
            suite: self.suite.clone(),
            arch: self.arch.clone(),
            python: self.python.clone(),
            name: self.name.clone(),
        }
    }

    /// The Debian package that put this Python distribution in its image, for
    /// a `py` pin that `pip freeze` lists because apt installed it (its
    /// `dependents` holds `deb:<package>`): pip must not install it.
    pub fn installed_by_apt(&self) -> Option<&str> {
        if self.ecosystem != Ecosystem::Py {
            return None;
        }
        self.dependents
            .iter()
            .find_map(|d| d.strip_prefix(APT_DEPENDENT))
    }

    /// The image name, with `None` spelled `default` as SONiC does.
    pub fn image_name(&self) -> &str {
        self.image.as_deref().unwrap_or("default")
    }

    /// Checks every field's syntax; returns the offending field and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        check_token("name", &self.name)?;
        check_token("version", &self.version)?;
        check_name(self.ecosystem, &self.name).map_err(|e| ("name", e.to_string()))?;
        if matches!(
            self.ecosystem,
            Ecosystem::Deb | Ecosystem::DebSrc | Ecosystem::Py | Ecosystem::Docker
        ) && self.name.contains('=')
        {
            return Err((
                "name",
                format!("`{}` contains `=`", self.name.escape_debug()),
            ));
        }
        if let Some(image) = &self.image {
            check_image_name(image).map_err(|m| ("image", m.to_string()))?;
        }
        for (field, v) in [("suite", &self.suite), ("arch", &self.arch)] {
            if let Some(v) = v {
                check_context_word(v).map_err(|m| (field, m.to_string()))?;
            }
        }
        match (&self.python, self.ecosystem) {
            (Some(p), Ecosystem::Py) if p == "py2" || p == "py3" => {}
            (Some(p), Ecosystem::Py) => {
                return Err(("python", format!("`{p}` is not `py2` or `py3`")));
            }
            (Some(_), _) => {
                return Err(("python", "only `py` pins have a python flavour".into()));
            }
            (None, _) => {}
        }
        check_version(self.ecosystem, &self.version).map_err(|m| ("version", m.to_string()))?;
        for (field, v) in [
            ("url", &self.url),
            ("declared_url", &self.declared_url),
            ("first_seen", &self.first_seen),
        ] {
            if let Some(v) = v {
                check_token(field, v)?;
            }
        }
        if let Some(h) = &self.sha256 {
            check_hex(h, 64).map_err(|m| ("sha256", m.to_string()))?;
        }
        if let Some(h) = &self.md5 {
            check_hex(h, 32).map_err(|m| ("md5", m.to_string()))?;
        }
        if self.ecosystem == Ecosystem::Web
            && self.md5.as_deref().is_some_and(|m| m != self.version)
        {
            return Err(("md5", "a web pin's md5 must equal its version".into()));
        }
        if let Some(d) = &self.first_seen {
            check_date(d).map_err(|m| ("first_seen", m.to_string()))?;
        }
        if self.declared_url.is_some() && self.url.is_none() {
            return Err((
                "declared_url",
                "a rewritten pin needs `url`, the URL to fetch instead".into(),
            ));
        }
        if self.ecosystem == Ecosystem::Web && self.declared_url.is_some() {
            // SONiC looks web pins up by the URL it actually fetches, which after
            // the rewrite is `url`; a different name would never match.
            if self.url.as_deref() != Some(self.name.as_str()) {
                return Err((
                    "name",
                    "a rewritten web pin must be named by its new URL (`name` = `url`)".into(),
                ));
            }
        }
        if let Some(b) = &self.built {
            check_token("built", b)?;
            if b.contains('/') {
                return Err(("built", format!("`{b}` is a make target, not a path")));
            }
        }
        for o in &self.why {
            check_origin(o).map_err(|m| ("why", m.to_string()))?;
        }
        for d in &self.dependents {
            check_token("dependents", d)?;
        }
        Ok(())
    }
}

/// One trial build of a candidate lock and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrialRecord {
    /// [`Lock::candidate_hash`] of the candidate that was built.
    pub candidate: String,
    /// Description of the builder that judged it.
    pub builder: String,
    /// The verdict.
    pub result: Verdict,
    /// Short triage summary (the failing step or log line), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Something the crawl could not read (an unreadable submodule, a file that failed
/// to parse): the lock does not cover the dependencies declared there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gap {
    /// Where it is declared (`.gitmodules:12`).
    pub origin: String,
    /// What was not read and why, in the crawler's words.
    pub message: String,
}

/// One source the pins were read from, and how "as of the cutoff" was read
/// there: the header that tells a reader what the lock can be trusted for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceRecord {
    /// Ecosystem the source serves.
    pub ecosystem: Ecosystem,
    /// Base URL the source was read at.
    pub url: String,
    /// The rule that chose what existed at the cutoff (`snapshot 20221206T000000Z`,
    /// `upload time <= cutoff`, `today's index: no history`).
    pub as_of: String,
    /// Whether the source answered; an unreachable one also has a gap.
    pub reached: bool,
    /// What a reader should know (a repository without snapshots, a proxy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A lockfile: the pins of one platform at one sonic-buildimage commit and cutoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// Schema version, [`LOCK_VERSION`].
    pub version: u32,
    /// Platform definition name (`wedge100bf-32x`).
    pub platform: String,
    /// Full sonic-buildimage commit SHA.
    pub commit: String,
    /// Cutoff date the versions were chosen for (RFC 3339 or `YYYY-MM-DD`).
    pub cutoff: String,
    /// The tool that wrote the lock (`sonic-lock 0.1.0`).
    pub tool: String,
    /// Make variables the build was configured with (`make INSTALL_DEBUG_TOOLS=y`):
    /// the configuration the pins are for.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub make_vars: MakeVars,
    /// Snapshot timestamps and base URLs, one per archive, sorted by name.
    #[serde(default, rename = "archive")]
    pub archives: Vec<Archive>,
    /// The sources the pins were read from and their as-of rules, sorted.
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceRecord>,
    /// Pins, sorted by key.
    #[serde(default, rename = "pin")]
    pub pins: Vec<Pin>,
    /// Trial builds that judged candidates of this lock.
    #[serde(default, rename = "trial")]
    pub trials: Vec<TrialRecord>,
    /// Parts of the tree the crawl could not read, accepted with `--allow-incomplete`.
    #[serde(default, rename = "gap")]
    pub gaps: Vec<Gap>,
}

/// Errors reading, validating or writing a lockfile.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not UTF-8 or not TOML, or a field has the wrong type.
    #[error("{path}:{line}: malformed lockfile: {message}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line (0 when unknown).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The schema version is newer (or older) than this tool understands.
    #[error(
        "{path}:{line}: lockfile schema version {found} is not supported (this sonic-lock reads version {LOCK_VERSION}; upgrade sonic-lock)"
    )]
    Version {
        /// The file.
        path: String,
        /// 1-based line of the `version` key.
        line: usize,
        /// The version found.
        found: i64,
    },
    /// Two entries share one key.
    #[error("{path}:{line}: duplicate {what} `{key}` (first at line {first_line})")]
    Duplicate {
        /// The file.
        path: String,
        /// 1-based line of the second entry.
        line: usize,
        /// 1-based line of the first entry.
        first_line: usize,
        /// `pin` or `archive`.
        what: &'static str,
        /// The duplicated key.
        key: String,
    },
    /// A field has the right type but a bad value.
    #[error("{path}:{line}: {what} field `{field}`: {message}")]
    Invalid {
        /// The file (or `<lock>` for an in-memory lock).
        path: String,
        /// 1-based line (0 for an in-memory lock).
        line: usize,
        /// `pin`, `archive`, `trial`, `gap` or `lock`.
        what: &'static str,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
struct VersionProbe {
    version: Option<toml::Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SpannedLock {
    version: u32,
    platform: toml::Spanned<String>,
    commit: toml::Spanned<String>,
    cutoff: toml::Spanned<String>,
    tool: toml::Spanned<String>,
    #[serde(default)]
    make_vars: Option<toml::Spanned<MakeVars>>,
    #[serde(default, rename = "archive")]
    archives: Vec<toml::Spanned<Archive>>,
    #[serde(default, rename = "source")]
    sources: Vec<toml::Spanned<SourceRecord>>,
    #[serde(default, rename = "pin")]
    pins: Vec<toml::Spanned<Pin>>,
    #[serde(default, rename = "trial")]
    trials: Vec<toml::Spanned<TrialRecord>>,
    #[serde(default, rename = "gap")]
    gaps: Vec<toml::Spanned<Gap>>,
}

/// 1-based line of byte offset `pos` in `text`.
fn line_of(text: &str, pos: usize) -> usize {
    LineIndex::new(text).line(pos)
}

/// Byte offsets of line starts, so that mapping the span of every pin of a
/// large lock to its line stays linear instead of rescanning the text.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex(starts)
    }

    /// 1-based line of byte offset `pos`.
    fn line(&self, pos: usize) -> usize {
        match self.0.binary_search(&pos) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }
}

impl Lock {
    /// An empty lock for `platform` at `commit` and `cutoff`, written by this tool version.
    pub fn new(platform: &str, commit: &str, cutoff: &str) -> Lock {
        Lock {
            version: LOCK_VERSION,
            platform: platform.to_string(),
            commit: commit.to_string(),
            cutoff: cutoff.to_string(),
            tool: format!("sonic-lock {}", env!("CARGO_PKG_VERSION")),
            make_vars: MakeVars::new(),
            archives: Vec::new(),
            sources: Vec::new(),
            pins: Vec::new(),
            trials: Vec::new(),
            gaps: Vec::new(),
        }
    }

    /// Sorts pins, archives and trials and removes exact duplicates, so equal content gives equal bytes.
    pub fn normalize(&mut self) {
        for p in &mut self.pins {
            p.why.sort();
            p.why.dedup();
            p.dependents.sort();
            p.dependents.dedup();
        }
        self.pins
            .sort_by(|a, b| (a.key(), &a.version).cmp(&(b.key(), &b.version)));
        self.pins.dedup();
        self.archives.sort();
        self.archives.dedup();
        self.sources.sort();
        self.sources.dedup();
        self.trials.sort_by(|a, b| {
            (&a.candidate, &a.builder, verdict_str(a.result), &a.detail).cmp(&(
                &b.candidate,
                &b.builder,
                verdict_str(b.result),
                &b.detail,
            ))
        });
        self.trials.dedup();
        self.gaps.sort_by(|a, b| gap_order(a).cmp(&gap_order(b)));
        self.gaps.dedup();
    }

    /// Checks the whole lock: field syntax, no duplicate pins or archives.
    pub fn validate(&self) -> Result<(), LockError> {
        let invalid = |what, field, message| LockError::Invalid {
            path: "<lock>".into(),
            line: 0,
            what,
            field,
            message,
        };
        if self.version != LOCK_VERSION {
            return Err(invalid(
                "lock",
                "version",
                format!("must be {LOCK_VERSION}, found {}", self.version),
            ));
        }
        check_header(self).map_err(|(f, m)| invalid("lock", f, m))?;
        let mut seen = BTreeMap::new();
        for (i, p) in self.pins.iter().enumerate() {
            p.validate()
                .map_err(|(f, m)| invalid("pin", f, format!("{m} (pin {})", p.key())))?;
            let mut key = p.key();
            key.name = canonical_name(p.ecosystem, &key.name);
            if let Some(first) = seen.insert(key, i) {
                return Err(LockError::Duplicate {
                    path: "<lock>".into(),
                    line: 0,
                    first_line: first,
                    what: "pin",
                    key: p.key().to_string(),
                });
            }
        }
        for src in &self.sources {
            check_source(src).map_err(|(f, m)| invalid("source", f, m))?;
        }
        let mut names = BTreeMap::new();
        for (i, a) in self.archives.iter().enumerate() {
            check_archive(a).map_err(|(f, m)| invalid("archive", f, m))?;
            if let Some(first) = names.insert(a.name.clone(), i) {
                return Err(LockError::Duplicate {
                    path: "<lock>".into(),
                    line: 0,
                    first_line: first,
                    what: "archive",
                    key: a.name.clone(),
                });
            }
        }
        for t in &self.trials {
            check_trial(t).map_err(|(f, m)| invalid("trial", f, m))?;
        }
        for g in &self.gaps {
            check_gap(g).map_err(|(f, m)| invalid("gap", f, m))?;
        }
        Ok(())
    }

    /// Parses and validates lockfile text; `path` is only used in error messages.
    pub fn from_toml_str(text: &str, path: &str) -> Result<Lock, LockError> {
        let parse_err = |e: toml::de::Error| LockError::Parse {
            path: path.to_string(),
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(0),
            message: e.message().trim().to_string(),
        };
        // The version is checked before the schema so that a newer file is
        // reported as such rather than as a pile of unknown fields.
        let probe: VersionProbe = toml::from_str(text).map_err(parse_err)?;
        let Some(v) = probe.version else {
            return Err(LockError::Parse {
                path: path.to_string(),
                line: 1,
                message: "missing `version` (the lockfile schema version)".into(),
            });
        };
        let vline = line_of(text, v.span().start);
        match v.get_ref() {
            toml::Value::Integer(n) if *n == i64::from(LOCK_VERSION) => {}
            toml::Value::Integer(n) => {
                return Err(LockError::Version {
                    path: path.to_string(),
                    line: vline,
                    found: *n,
                });
            }
            other => {
                return Err(LockError::Parse {
                    path: path.to_string(),
                    line: vline,
                    message: format!("`version` must be an integer, found {}", other.type_str()),
                });
            }
        }
        let raw: SpannedLock = toml::from_str(text).map_err(parse_err)?;
        let index = LineIndex::new(text);
        let line_of = |_: &str, pos: usize| index.line(pos);
        let invalid = |line: usize, what, field, message| LockError::Invalid {
            path: path.to_string(),
            line,
            what,
            field,
            message,
        };
        let lock = Lock {
            version: raw.version,
            platform: raw.platform.get_ref().clone(),
            commit: raw.commit.get_ref().clone(),
            cutoff: raw.cutoff.get_ref().clone(),
            tool: raw.tool.get_ref().clone(),
            make_vars: raw
                .make_vars
                .as_ref()
                .map(|m| m.get_ref().clone())
                .unwrap_or_default(),
            archives: raw.archives.iter().map(|s| s.get_ref().clone()).collect(),
            sources: raw.sources.iter().map(|s| s.get_ref().clone()).collect(),
            pins: Vec::new(),
            trials: raw.trials.iter().map(|s| s.get_ref().clone()).collect(),
            gaps: raw.gaps.iter().map(|s| s.get_ref().clone()).collect(),
        };
        if let Err((field, message)) = check_header(&lock) {
            let span = match field {
                "platform" => raw.platform.span(),
                "commit" => raw.commit.span(),
                "cutoff" => raw.cutoff.span(),
                "make_vars" => raw.make_vars.as_ref().map_or(raw.tool.span(), |m| m.span()),
                _ => raw.tool.span(),
            };
            return Err(invalid(line_of(text, span.start), "lock", field, message));
        }
        // key -> (line, index in `pins`, name as written)
        let mut seen: BTreeMap<PinKey, (usize, usize, String)> = BTreeMap::new();
        let mut pins: Vec<Pin> = Vec::with_capacity(raw.pins.len());
        for sp in &raw.pins {
            let line = line_of(text, sp.span().start);
            let p = sp.get_ref().clone();
            p.validate().map_err(|(f, m)| invalid(line, "pin", f, m))?;
            let written = p.name.clone();
            // The identity is spelling-independent; the pin keeps its first spelling,
            // so a lock reads back as written.
            let mut key = p.key();
            key.name = canonical_name(p.ecosystem, &key.name);
            match seen.get(&key) {
                None => {
                    seen.insert(key, (line, pins.len(), written));
                    pins.push(p);
                }
                Some((first_line, _, first)) if *first == written => {
                    return Err(LockError::Duplicate {
                        path: path.to_string(),
                        line,
                        first_line: *first_line,
                        what: "pin",
                        key: p.key().to_string(),
                    });
                }
                Some((first_line, i, first)) => {
                    merge_spelling(&mut pins[*i], p, first, &written, *first_line)
                        .map_err(|m| invalid(line, "pin", "name", m))?;
                }
            }
        }
        let lock = Lock { pins, ..lock };
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for sp in &raw.archives {
            let line = line_of(text, sp.span().start);
            let a = sp.get_ref();
            check_archive(a).map_err(|(f, m)| invalid(line, "archive", f, m))?;
            if let Some(first_line) = names.insert(a.name.clone(), line) {
                return Err(LockError::Duplicate {
                    path: path.to_string(),
                    line,
                    first_line,
                    what: "archive",
                    key: a.name.clone(),
                });
            }
        }
        for sp in &raw.sources {
            let line = line_of(text, sp.span().start);
            check_source(sp.get_ref()).map_err(|(f, m)| invalid(line, "source", f, m))?;
        }
        for sp in &raw.trials {
            let line = line_of(text, sp.span().start);
            check_trial(sp.get_ref()).map_err(|(f, m)| invalid(line, "trial", f, m))?;
        }
        for sp in &raw.gaps {
            let line = line_of(text, sp.span().start);
            check_gap(sp.get_ref()).map_err(|(f, m)| invalid(line, "gap", f, m))?;
        }
        Ok(lock)
    }

    /// Reads and validates a lockfile.
    pub fn read(path: &Path) -> Result<Lock, LockError> {
        let p = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|source| LockError::Io {
            path: p.clone(),
            source,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let pos = e.utf8_error().valid_up_to();
            let line = line_of(&String::from_utf8_lossy(e.as_bytes()), pos);
            LockError::Parse {
                path: p.clone(),
                line,
                message: "not valid UTF-8".into(),
            }
        })?;
        Lock::from_toml_str(&text, &p)
    }

    /// The lock as TOML: sorted, deterministic, ending in a newline.
    pub fn to_toml_string(&self) -> String {
        let mut lock = self.clone();
        lock.normalize();
        let mut out = String::new();
        out.push_str("# sonic-lock lockfile: generated by sonic-lock; review changes with `sonic-lock diff`.\n");
        let _ = writeln!(out, "version = {}", lock.version);
        kv(&mut out, "platform", &lock.platform);
        kv(&mut out, "commit", &lock.commit);
        kv(&mut out, "cutoff", &lock.cutoff);
        kv(&mut out, "tool", &lock.tool);
        if !lock.make_vars.is_empty() {
            // Names are make identifiers, so they are bare TOML keys.
            let items: Vec<String> = lock
                .make_vars
                .iter()
                .map(|(k, v)| format!("{k} = {}", toml_quote(v)))
                .collect();
            let _ = writeln!(out, "make_vars = {{ {} }}", items.join(", "));
        }
        for a in &lock.archives {
            out.push_str("\n[[archive]]\n");
            kv(&mut out, "name", &a.name);
            kv(&mut out, "snapshot", &a.snapshot);
            opt(&mut out, "url", &a.url);
        }
        for src in &lock.sources {
            out.push_str("\n[[source]]\n");
            kv(&mut out, "ecosystem", src.ecosystem.as_str());
            kv(&mut out, "url", &src.url);
            kv(&mut out, "as_of", &src.as_of);
            let _ = writeln!(out, "reached = {}", src.reached);
            opt(&mut out, "note", &src.note);
        }
        for p in &lock.pins {
            out.push_str("\n[[pin]]\n");
            kv(&mut out, "ecosystem", p.ecosystem.as_str());
            kv(&mut out, "name", &p.name);
            kv(&mut out, "version", &p.version);
            opt(&mut out, "image", &p.image);
            opt(&mut out, "suite", &p.suite);
            opt(&mut out, "arch", &p.arch);
            opt(&mut out, "python", &p.python);
            opt(&mut out, "url", &p.url);
            opt(&mut out, "declared_url", &p.declared_url);
            opt(&mut out, "sha256", &p.sha256);
            opt(&mut out, "md5", &p.md5);
            opt(&mut out, "first_seen", &p.first_seen);
            opt(&mut out, "built", &p.built);
            if p.transient {
                out.push_str("transient = true\n");
            }
            list(&mut out, "why", &p.why);
            list(&mut out, "dependents", &p.dependents);
        }
        for t in &lock.trials {
            out.push_str("\n[[trial]]\n");
            kv(&mut out, "candidate", &t.candidate);
            kv(&mut out, "builder", &t.builder);
            kv(&mut out, "result", verdict_str(t.result));
            opt(&mut out, "detail", &t.detail);
        }
        for g in &lock.gaps {
            out.push_str("\n[[gap]]\n");
            kv(&mut out, "origin", &g.origin);
            kv(&mut out, "message", &g.message);
        }
        out
    }

    /// Validates the lock and writes it atomically.
    pub fn write(&self, path: &Path) -> Result<(), LockError> {
        self.validate().map_err(|e| match e {
            LockError::Invalid {
                line,
                what,
                field,
                message,
                ..
            } => LockError::Invalid {
                path: path.display().to_string(),
                line,
                what,
                field,
                message: format!("{message} (refusing to write)"),
            },
            other => other,
        })?;
        crate::fsio::write_atomic(path, self.to_toml_string().as_bytes()).map_err(|source| {
            LockError::Io {
                path: path.display().to_string(),
                source,
            }
        })
    }

    /// Stable SHA-256 (hex) of what decides a build: the archives' snapshots and
    /// every pin's identity and version; provenance and trials do not count.
    pub fn candidate_hash(&self) -> String {
        let mut lines: Vec<String> = self
            .archives
            .iter()
            .map(|a| format!("archive\t{}\t{}\n", a.name, a.snapshot))
            .collect();
        lines.extend(self.pins.iter().map(|p| {
            format!(
                "pin\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                p.ecosystem,
                p.image.as_deref().unwrap_or(""),
                p.suite.as_deref().unwrap_or(""),
                p.arch.as_deref().unwrap_or(""),
                p.python.as_deref().unwrap_or(""),
                p.name,
                p.version
            )
        }));
        lines.sort();
        lines.dedup();
        crate::fsio::sha256_hex(lines.concat().as_bytes())
    }

    /// The pin with `key`, if any.
    pub fn get(&self, key: &PinKey) -> Option<&Pin> {
        self.pins.iter().find(|p| p.has_key(key))
    }

    /// Inserts `pin`, replacing any pin with the same key.
    pub fn upsert(&mut self, pin: Pin) {
        match self.pins.iter_mut().find(|p| p.same_key(&pin)) {
            Some(slot) => *slot = pin,
            None => self.pins.push(pin),
        }
    }

    /// [`Lock::upsert`] of each of `pins` in turn, through one index of the
    /// lock's pin identities: a batch costs the lock's size once, not once
    /// per pin (an image's picks number in the thousands).
    pub fn upsert_all(&mut self, pins: impl IntoIterator<Item = Pin>) {
        let mut index: std::collections::HashMap<u64, Vec<usize>> = Default::default();
        for (i, p) in self.pins.iter().enumerate() {
            index.entry(identity_hash(p)).or_default().push(i);
        }
        for pin in pins {
            let h = identity_hash(&pin);
            let at = index
                .get(&h)
                .and_then(|is| is.iter().copied().find(|&i| self.pins[i].same_key(&pin)));
            match at {
                Some(i) => self.pins[i] = pin,
                None => {
                    index.entry(h).or_default().push(self.pins.len());
                    self.pins.push(pin);
                }
            }
        }
    }
}

/// A hash of a pin's identity, for [`Lock::upsert_all`]'s index.
fn identity_hash(p: &Pin) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    p.identity().hash(&mut h);
    h.finish()
}

/// The name a pin's identity uses: Python names in their PEP 503 form, so that
/// `zope.interface` and `Zope_Interface` are one pin (as they are to pip);
/// every other ecosystem's names are taken as written.
pub fn canonical_name(eco: Ecosystem, name: &str) -> String {
    match eco {
        Ecosystem::Py => crate::universe::python::normalize(name),
        _ => name.to_string(),
    }
}

/// Folds `other`, another spelling of `into`'s name, into `into`: the same version
/// makes one pin (provenance merged); different versions are refused, since which
/// one pip would honour is undefined.
pub(crate) fn merge_spelling(
    into: &mut Pin,
    other: Pin,
    first: &str,
    second: &str,
    first_line: usize,
) -> Result<(), String> {
    if into.version != other.version {
        return Err(format!(
            "`{}` == {} and `{}` (line {first_line}) == {} are one Python distribution (`{}`) with two versions",
            second.escape_debug(),
            other.version,
            first.escape_debug(),
            into.version,
            into.name
        ));
    }
    if into.url.is_none() {
        into.url = other.url;
    }
    if into.sha256.is_none() {
        into.sha256 = other.sha256;
    }
    into.why.extend(other.why);
    into.dependents.extend(other.dependents);
    into.why.sort();
    into.why.dedup();
    into.dependents.sort();
    into.dependents.dedup();
    Ok(())
}

/// The lower-case word a verdict is serialised as.
pub(crate) fn verdict_str(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Fail => "fail",
        Verdict::Skip => "skip",
        Verdict::Abort => "abort",
    }
}

fn toml_quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            '\r' => q.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(q, "\\u{:04X}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

fn kv(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "{key} = {}", toml_quote(value));
}

fn opt(out: &mut String, key: &str, value: &Option<String>) {
    if let Some(v) = value {
        kv(out, key, v);
    }
}

fn list(out: &mut String, key: &str, values: &[String]) {
    if values.is_empty() {
        return;
    }
    let items: Vec<String> = values.iter().map(|v| toml_quote(v)).collect();
    let _ = writeln!(out, "{key} = [{}]", items.join(", "));
}

/// The lock's own fields (platform, commit, cutoff, tool): the field and what is wrong.
pub fn check_header(lock: &Lock) -> Result<(), (&'static str, String)> {
    check_token("platform", &lock.platform)?;
    check_token("commit", &lock.commit)?;
    // `unknown` marks locks imported from a version tree, which name no commit or date.
    let hex = lock.commit.chars().all(|c| c.is_ascii_hexdigit()) && lock.commit.len() >= 7;
    if !hex && lock.commit != UNKNOWN {
        return Err((
            "commit",
            format!("`{}` is not a git commit SHA", lock.commit),
        ));
    }
    if lock.cutoff != UNKNOWN {
        check_date(&lock.cutoff).map_err(|m| ("cutoff", m.to_string()))?;
    }
    if lock.tool.trim().is_empty() || lock.tool.contains('\n') {
        return Err(("tool", "must be one non-empty line".into()));
    }
    make_vars::check_all(&lock.make_vars).map_err(|e| ("make_vars", e.to_string()))?;
    Ok(())
}

/// An archive's name and snapshot become parts of snapshot URLs
/// (`/archive/<name>/<snapshot>/`) and of `versions-mirror` lines: a name is
/// `[a-z0-9][a-z0-9.+-]*`, a snapshot a timestamp `YYYYMMDDTHHMMSSZ`.
pub fn check_archive(a: &Archive) -> Result<(), (&'static str, String)> {
    check_token("name", &a.name)?;
    let name_ok = a
        .name
        .starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && a.name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '+' | '-'));
    if !name_ok {
        return Err((
            "name",
            format!(
                "`{}` is not an archive name (`[a-z0-9][a-z0-9.+-]*`, as `debian-security`)",
                a.name.escape_debug()
            ),
        ));
    }
    check_token("snapshot", &a.snapshot)?;
    let b = a.snapshot.as_bytes();
    let ts_ok = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    if !ts_ok {
        return Err((
            "snapshot",
            format!(
                "`{}` is not a snapshot timestamp (`YYYYMMDDTHHMMSSZ`)",
                a.snapshot.escape_debug()
            ),
        ));
    }
    if let Some(u) = &a.url {
        check_token("url", u)?;
    }
    Ok(())
}

fn check_source(s: &SourceRecord) -> Result<(), (&'static str, String)> {
    check_token("url", &s.url)?;
    for (field, text) in [("as_of", Some(&s.as_of)), ("note", s.note.as_ref())] {
        if let Some(t) = text
            && (t.trim().is_empty() || t.chars().any(char::is_control))
        {
            return Err((field, "must be one non-empty line".into()));
        }
    }
    Ok(())
}

fn check_trial(t: &TrialRecord) -> Result<(), (&'static str, String)> {
    check_hex(&t.candidate, 64).map_err(|m| ("candidate", m.to_string()))?;
    if t.builder.trim().is_empty() {
        return Err(("builder", "must not be empty".into()));
    }
    Ok(())
}

/// Gaps sort by file, then line as a number (`.gitmodules:4` before `.gitmodules:10`).
fn gap_order(g: &Gap) -> (&str, u64, &str, &str) {
    match g.origin.rsplit_once(':') {
        Some((file, line)) => (file, line.parse().unwrap_or(u64::MAX), line, &g.message),
        None => (g.origin.as_str(), u64::MAX, "", &g.message),
    }
}

fn check_gap(g: &Gap) -> Result<(), (&'static str, String)> {
    check_origin(&g.origin).map_err(|m| ("origin", m.to_string()))?;
    if g.message.trim().is_empty() {
        return Err(("message", "must not be empty".into()));
    }
    if let Some(c) = g.message.chars().find(|c| c.is_control()) {
        return Err((
            "message",
            format!("`{}` contains {:?}", g.message.escape_debug(), c),
        ));
    }
    Ok(())
}

/// A non-empty value without whitespace or control characters.
fn check_token(field: &'static str, v: &str) -> Result<(), (&'static str, String)> {
    if v.is_empty() {
        return Err((field, "must not be empty".into()));
    }
    if let Some(c) = v.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err((field, format!("`{}` contains {:?}", v.escape_debug(), c)));
    }
    Ok(())
}

/// Why one field of a lock is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// An image name that could leave the tree as a directory name.
    #[error(
        "`{}` is not a valid image name (letters, digits, `-_.+`, not starting with `.` or `-`)",
        .0.escape_debug()
    )]
    ImageName(String),
    /// A suite or architecture SONiC would misread in a version file name.
    #[error(
        "`{}` is not usable in a SONiC version file name (lower-case letters, digits, `_` or `.`, not `all`)",
        .0.escape_debug()
    )]
    ContextWord(String),
    /// Not the expected number of lower-case hex digits.
    #[error("`{}` is not {len} lower-case hex digits", .value.escape_debug())]
    Hex {
        /// The value.
        value: String,
        /// How many digits were expected.
        len: usize,
    },
    /// Not `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ`.
    #[error(
        "`{}` is not a date (`YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ`)",
        .0.escape_debug()
    )]
    Date(String),
    /// Not `file:line`.
    #[error("`{}` is not `file:line`", .0.escape_debug())]
    Origin(String),
    /// Not a Debian version.
    #[error("`{}` is not a Debian version: {source}", .version.escape_debug())]
    Debian {
        /// The version.
        version: String,
        /// Why not.
        source: VersionError,
    },
    /// Not a PEP 440 version (nor one pip matches literally).
    #[error("`{}` is not a PEP 440 version: {source}", .version.escape_debug())]
    Pep440 {
        /// The version.
        version: String,
        /// Why not.
        source: VersionError,
    },
    /// Not a full git commit SHA.
    #[error("`{}` is not a full git commit SHA", .0.escape_debug())]
    GitSha(String),
    /// A web pin's version that is not an md5.
    #[error(
        "`{}` is not 32 lower-case hex digits (a web pin's version is the file's md5, as SONiC checks it)",
        .0.escape_debug()
    )]
    WebMd5(String),
    /// A docker pin's version that is not `sha256:<digest>`.
    #[error("`{}` is not a `sha256:<digest>` image digest", .0.escape_debug())]
    DockerDigest(String),
    /// A docker digest whose hex part is malformed.
    #[error("docker digest: `{}` is not 64 lower-case hex digits", .0.escape_debug())]
    DockerHex(String),
    /// Not `v<semver>`.
    #[error("`{}` is not a Go module version (`v<semver>`)", .0.escape_debug())]
    GoVersion(String),
}

/// Image names become directory names: refuse anything that could leave the tree.
pub fn check_image_name(name: &str) -> Result<(), FieldError> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'));
    if name.is_empty() || !ok_chars || name.starts_with('.') || name.starts_with('-') {
        return Err(FieldError::ImageName(name.to_string()));
    }
    Ok(())
}

/// Suites and architectures become parts of `versions-<type>-<dist>-<arch>`,
/// which SONiC splits on `-`: a `-` inside one would be misread.
pub fn check_context_word(word: &str) -> Result<(), FieldError> {
    if word.is_empty()
        || word == "all"
        || !word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
    {
        return Err(FieldError::ContextWord(word.to_string()));
    }
    Ok(())
}

fn is_hex(v: &str, len: usize) -> bool {
    v.len() == len
        && v.chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

fn check_hex(v: &str, len: usize) -> Result<(), FieldError> {
    if !is_hex(v, len) {
        return Err(FieldError::Hex {
            value: v.to_string(),
            len,
        });
    }
    Ok(())
}

fn check_date(v: &str) -> Result<(), FieldError> {
    let b = v.as_bytes();
    let date_ok = b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit);
    let rest_ok = date_ok && (b.len() == 10 || (b.get(10) == Some(&b'T') && v.ends_with('Z')));
    if !date_ok || !rest_ok {
        return Err(FieldError::Date(v.to_string()));
    }
    Ok(())
}

fn check_origin(v: &str) -> Result<(), FieldError> {
    match v.rsplit_once(':') {
        Some((file, line))
            if !file.is_empty()
                && !line.is_empty()
                && line.chars().all(|c| c.is_ascii_digit())
                && !file.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(FieldError::Origin(v.to_string())),
    }
}

/// A version pip can only match literally (`===`): no spaces and none of the
/// characters that would make it a different specifier.
pub fn is_arbitrary_py_version(v: &str) -> bool {
    !v.is_empty()
        && v.chars().any(|c| c.is_ascii_alphanumeric())
        && !v.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '=' | ',' | ';' | '<' | '>' | '!' | '~' | '*')
        })
}

/// Checks `version` in the ecosystem's own syntax: the ecosystem's version scheme
/// where it has one, the form of the identifier a pin holds otherwise.
pub fn check_version(eco: Ecosystem, version: &str) -> Result<(), FieldError> {
    match eco {
        Ecosystem::Deb | Ecosystem::DebSrc => {
            scheme_for(eco)
                .validate(version)
                .map_err(|source| FieldError::Debian {
                    version: version.to_string(),
                    source,
                })
        }
        Ecosystem::Py => match scheme_for(eco).validate(version) {
            Ok(()) => Ok(()),
            // pip freeze writes `name===version` for versions PEP 440 cannot
            // parse (`gpg===1.14.0-unknown`); such pins export as `===`.
            Err(_) if is_arbitrary_py_version(version) => Ok(()),
            Err(source) => Err(FieldError::Pep440 {
                version: version.to_string(),
                source,
            }),
        },
        Ecosystem::Git => {
            if (version.len() == 40 || version.len() == 64)
                && version.chars().all(|c| c.is_ascii_hexdigit())
            {
                Ok(())
            } else {
                Err(FieldError::GitSha(version.to_string()))
            }
        }
        Ecosystem::Web if is_hex(version, 32) => Ok(()),
        Ecosystem::Web => Err(FieldError::WebMd5(version.to_string())),
        Ecosystem::Docker => match version.strip_prefix("sha256:") {
            Some(h) if is_hex(h, 64) => Ok(()),
            Some(h) => Err(FieldError::DockerHex(h.to_string())),
            None => Err(FieldError::DockerDigest(version.to_string())),
        },
        // Go module versions always carry the `v`.
        Ecosystem::Go if version.starts_with('v') && scheme_for(eco).validate(version).is_ok() => {
            Ok(())
        }
        Ecosystem::Go => Err(FieldError::GoVersion(version.to_string())),
    }
}
