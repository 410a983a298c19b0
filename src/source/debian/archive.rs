//! Fetching a suite as of the cutoff: `InRelease` (or `Release` + `Release.gpg`)
//! at the snapshot timestamp at or before the cutoff, then every `Packages`
//! and `Sources` index it lists, each verified against the Release hash list
//! before it is decompressed or cached.

use super::release::{Keyring, Release, SignatureStatus, open_inrelease, verify_detached};
use crate::date::Cutoff;
use crate::date::{parse_snapshot_ts, rfc3339};
use crate::source::http::{Http, Request};
use crate::source::{SourceError, join_url};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io::Read;

/// Where a Debian archive is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// snapshot.debian.org (or a server with its layout): `<base>/archive/<archive>/<ts>/dists/...`.
    Snapshot {
        /// e.g. `https://snapshot.debian.org`.
        base: String,
    },
    /// A plain mirror: `<base>/<archive>/dists/...` (deb.debian.org, archive.debian.org, aptly).
    Mirror {
        /// e.g. `http://deb.debian.org`.
        base: String,
    },
}

/// Default snapshot service.
pub const SNAPSHOT_URL: &str = "https://snapshot.debian.org";

/// One suite to fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuiteSpec {
    /// Archive name: `debian` or `debian-security`.
    pub archive: String,
    /// Suite directory under `dists/`: `bullseye`, `bullseye-updates`, `bullseye-security`, `buster/updates`.
    pub suite: String,
    /// Components to read (`main`, `contrib`, `non-free`).
    pub components: Vec<String>,
    /// Architectures to read (`amd64`, `all` is folded in by the archive).
    pub architectures: Vec<String>,
    /// Also read `Sources`.
    pub sources: bool,
}

impl SuiteSpec {
    /// The suites a SONiC build on `dist` (`bullseye`, `buster`) reads: release, updates, backports, security.
    pub fn standard(dist: &str, arch: &str) -> Result<Vec<SuiteSpec>, SourceError> {
        if dist.is_empty()
            || !dist
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(SourceError::Invalid(format!(
                "bad Debian distribution name `{dist}`"
            )));
        }
        // Security moved from `<dist>/updates` to `<dist>-security` with bullseye.
        let security = match dist {
            "stretch" | "buster" | "jessie" => format!("{dist}/updates"),
            _ => format!("{dist}-security"),
        };
        let mk = |archive: &str, suite: String| SuiteSpec {
            archive: archive.to_string(),
            suite,
            components: vec!["main".into(), "contrib".into(), "non-free".into()],
            architectures: vec![arch.to_string()],
            sources: true,
        };
        Ok(vec![
            mk("debian", dist.to_string()),
            mk("debian", format!("{dist}-updates")),
            mk("debian", format!("{dist}-backports")),
            mk("debian-security", security),
        ])
    }

    /// Parses `archive:suite` or `suite` (archive `debian`, or `debian-security` for `*-security`/`*/updates`).
    pub fn parse(s: &str, arch: &str) -> Result<SuiteSpec, SourceError> {
        let (archive, suite) = match s.split_once(':') {
            Some((a, b)) => (a.to_string(), b.to_string()),
            None if s.ends_with("-security") || s.ends_with("/updates") => {
                ("debian-security".to_string(), s.to_string())
            }
            None => ("debian".to_string(), s.to_string()),
        };
        let ok = |x: &str| {
            !x.is_empty()
                && x.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
                && x.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b))
        };
        if !ok(&archive) || !ok(&suite) {
            return Err(SourceError::Invalid(format!(
                "bad suite `{s}` (expected [archive:]suite)"
            )));
        }
        Ok(SuiteSpec {
            archive,
            suite,
            components: vec!["main".into(), "contrib".into(), "non-free".into()],
            architectures: vec![arch.to_string()],
            sources: true,
        })
    }

    /// `archive:suite`, for reports.
    pub fn label(&self) -> String {
        format!("{}:{}", self.archive, self.suite)
    }
}

/// A verified, decompressed index file.
#[derive(Debug, Clone)]
pub struct IndexFile {
    /// `Packages` or `Sources`.
    pub kind: IndexKind,
    /// Component.
    pub component: String,
    /// Architecture (`source` for Sources).
    pub arch: String,
    /// URL it was fetched from.
    pub url: String,
    /// SHA-256 of the compressed file, as listed in the Release file.
    pub sha256: String,
    /// Decompressed content.
    pub bytes: Vec<u8>,
}

/// Which index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IndexKind {
    /// Binary packages.
    Packages,
    /// Source packages.
    Sources,
}

/// A suite as it was at the cutoff.
#[derive(Debug, Clone)]
pub struct SuiteIndex {
    /// What was asked.
    pub spec: SuiteSpec,
    /// The `dists/<suite>/` URL everything came from (with the resolved timestamp).
    pub dists_url: String,
    /// The snapshot timestamp used, when reading snapshot.debian.org.
    pub snapshot: Option<String>,
    /// The Release file.
    pub release: Release,
    /// Signature check outcome.
    pub signature: SignatureStatus,
    /// Things the user should know: expired Valid-Until, a mirror newer than the cutoff, a missing index.
    pub warnings: Vec<String>,
    /// The indices, verified and decompressed.
    pub indices: Vec<IndexFile>,
}

/// The summary of a fetched suite, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SuiteReport {
    /// `archive:suite`.
    pub suite: String,
    /// The `dists/<suite>/` URL.
    pub url: String,
    /// Snapshot timestamp used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// Release `Date`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Release `Valid-Until`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<String>,
    /// Signature outcome.
    pub signature: SignatureStatus,
    /// Indices read, as `component/arch/kind`.
    pub indices: Vec<String>,
    /// Warnings.
    pub warnings: Vec<String>,
}

impl SuiteIndex {
    /// The report form.
    pub fn report(&self) -> SuiteReport {
        report_of(
            &self.spec,
            &self.dists_url,
            &self.snapshot,
            &self.release,
            &self.signature,
            &self.warnings,
            self.indices.iter().map(|i| (&i.component, &i.arch, i.kind)),
        )
    }
}

fn dists_url(loc: &Location, archive: &str, ts: &str, suite: &str) -> String {
    match loc {
        Location::Snapshot { base } => {
            join_url(base, &format!("archive/{archive}/{ts}/dists/{suite}/"))
        }
        Location::Mirror { base } => join_url(base, &format!("{archive}/dists/{suite}/")),
    }
}

/// Extracts the snapshot timestamp from a resolved `/archive/<archive>/<ts>/` URL.
pub fn timestamp_in_url(url: &str, archive: &str) -> Option<String> {
    let needle = format!("/archive/{archive}/");
    let at = url.find(&needle)? + needle.len();
    let ts = url[at..].split('/').next()?;
    parse_snapshot_ts(ts).map(|_| ts.to_string())
}

/// What a suite's Release says is to be read, decided before any index is
/// fetched: enough to tell whether a parsed form of the same indices is
/// already at hand (the index hashes name their content).
#[derive(Debug, Clone)]
pub struct SuitePlan {
    /// What was asked.
    pub spec: SuiteSpec,
    /// The `dists/<suite>/` URL everything comes from (with the resolved timestamp).
    pub dists_url: String,
    /// The snapshot timestamp used, when reading snapshot.debian.org.
    pub snapshot: Option<String>,
    /// The Release file.
    pub release: Release,
    /// Signature check outcome.
    pub signature: SignatureStatus,
    /// Things the user should know (as [`SuiteIndex::warnings`]).
    pub warnings: Vec<String>,
    /// The indices to read, in order.
    pub indices: Vec<PlannedIndex>,
}

/// One index a [`SuitePlan`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedIndex {
    /// `Packages` or `Sources`.
    pub kind: IndexKind,
    /// Component.
    pub component: String,
    /// Architecture (`source` for Sources).
    pub arch: String,
    /// The file under `dists/<suite>/` (`main/binary-amd64/Packages.xz`).
    pub file: String,
    /// Its URL.
    pub url: String,
    /// SHA-256 of the file as listed in the Release file.
    pub sha256: String,
    /// Its size as listed.
    pub size: u64,
    /// SHA-256 of the uncompressed file, when the Release also lists it.
    pub plain_sha256: Option<String>,
}

/// The archive root that pool paths are relative to: the part of a
/// `dists/<suite>/` URL before `dists/`.
pub fn archive_root(dists_url: &str) -> &str {
    dists_url
        .rfind("/dists/")
        .map(|i| &dists_url[..i])
        .unwrap_or(dists_url)
}

impl SuitePlan {
    /// The report form (what a fetched suite would report).
    pub fn report(&self) -> SuiteReport {
        report_of(
            &self.spec,
            &self.dists_url,
            &self.snapshot,
            &self.release,
            &self.signature,
            &self.warnings,
            self.indices.iter().map(|i| (&i.component, &i.arch, i.kind)),
        )
    }
}

fn report_of<'a>(
    spec: &SuiteSpec,
    dists_url: &str,
    snapshot: &Option<String>,
    release: &Release,
    signature: &SignatureStatus,
    warnings: &[String],
    indices: impl Iterator<Item = (&'a String, &'a String, IndexKind)>,
) -> SuiteReport {
    SuiteReport {
        suite: spec.label(),
        url: dists_url.to_string(),
        snapshot: snapshot.clone(),
        date: release.date.as_ref().map(rfc3339),
        valid_until: release.valid_until.as_ref().map(rfc3339),
        signature: signature.clone(),
        indices: indices
            .map(|(component, arch, kind)| {
                let kind = match kind {
                    IndexKind::Packages => "Packages",
                    IndexKind::Sources => "Sources",
                };
                format!("{component}/{arch}/{kind}")
            })
            .collect(),
        warnings: warnings.to_vec(),
    }
}

/// Fetches one suite as of `cutoff`, verifying the whole chain.
pub fn fetch_suite(
    http: &Http,
    loc: &Location,
    spec: &SuiteSpec,
    cutoff: &Cutoff,
    keyring: Option<&Keyring>,
) -> Result<SuiteIndex, SourceError> {
    fetch_planned(http, plan_suite(http, loc, spec, cutoff, keyring)?)
}

/// Reads and verifies a suite's Release as of `cutoff` and lists the indices
/// to read, without fetching them.
pub fn plan_suite(
    http: &Http,
    loc: &Location,
    spec: &SuiteSpec,
    cutoff: &Cutoff,
    keyring: Option<&Keyring>,
) -> Result<SuitePlan, SourceError> {
    let label = spec.label();
    let mut warnings = Vec::new();
    let base = dists_url(loc, &spec.archive, &cutoff.snapshot_ts(), &spec.suite);
    let inrelease_url = join_url(&base, "InRelease");
    let what = format!("{label} InRelease");
    // The snapshot server redirects a non-exact timestamp to the one at or before it.
    let (release, signature, final_url) =
        match http.get_opt(&Request::new(&inrelease_url, &what))? {
            Some(f) => {
                let (r, s) = open_inrelease(&f.bytes, &f.final_url, keyring)?;
                (r, s, f.final_url)
            }
            None => {
                let rel_url = join_url(&base, "Release");
                let what = format!("{label} Release");
                let f = http.get(&Request::new(&rel_url, &what))?;
                let text = std::str::from_utf8(&f.bytes)
                    .map_err(|e| SourceError::parse(&f.final_url, format!("not UTF-8: {e}")))?;
                let r = Release::parse(text, &f.final_url)?;
                let s = match keyring {
                    Some(kr) => {
                        let sig_url = join_url(&base, "Release.gpg");
                        // An archive with neither InRelease nor Release.gpg is unsigned:
                        // refuse it as apt does, saying how to go on anyway.
                        let Some(g) = http.get_opt(&Request::new(&sig_url, "Release.gpg"))? else {
                            return Err(SourceError::Signature {
                                location: f.final_url.clone(),
                                message: format!(
                                    "suite {label} is unsigned (no InRelease, no Release.gpg); \
                                     pass --allow-unsigned to read it without verification"
                                ),
                            });
                        };
                        verify_detached(&f.bytes, &g.bytes, &g.final_url, kr)?
                    }
                    None => SignatureStatus::NotChecked,
                };
                (r, s, f.final_url)
            }
        };
    let dists = match final_url.rfind('/') {
        Some(i) => final_url[..=i].to_string(),
        None => base.clone(),
    };
    let snapshot = match loc {
        Location::Snapshot { .. } => {
            let ts = timestamp_in_url(&final_url, &spec.archive).ok_or_else(|| {
                SourceError::parse(
                    &final_url,
                    "snapshot URL carries no YYYYMMDDTHHMMSSZ timestamp",
                )
            })?;
            if parse_snapshot_ts(&ts).is_some_and(|t| t > cutoff.0) {
                return Err(SourceError::Invalid(format!(
                    "{final_url}: the snapshot server resolved {} to {ts}, after the cutoff",
                    cutoff.snapshot_ts()
                )));
            }
            Some(ts)
        }
        Location::Mirror { .. } => None,
    };
    check_dates(&release, cutoff, &label, snapshot.is_some(), &mut warnings)?;
    if signature == SignatureStatus::NotChecked {
        warnings.push(format!("{label}: signature not checked (--allow-unsigned)"));
    }
    let mut indices = Vec::new();
    for comp in &spec.components {
        if !release.components.is_empty()
            && !release
                .components
                .iter()
                .any(|c| c == comp || c.ends_with(&format!("/{comp}")))
        {
            continue;
        }
        let mut wanted: Vec<(IndexKind, String, String)> = spec
            .architectures
            .iter()
            .map(|a| {
                (
                    IndexKind::Packages,
                    a.clone(),
                    format!("{comp}/binary-{a}/Packages"),
                )
            })
            .collect();
        if spec.sources {
            wanted.push((
                IndexKind::Sources,
                "source".into(),
                format!("{comp}/source/Sources"),
            ));
        }
        for (kind, arch, path) in wanted {
            let Some((file, entry)) = release.pick_index(&path) else {
                warnings.push(format!("{label}: Release lists no {path}"));
                continue;
            };
            // When the Release also lists the uncompressed file, what is decompressed is checked too.
            let plain_sha256 = (file != path)
                .then(|| release.sha256.get(&path).map(|e| e.sha256.clone()))
                .flatten();
            indices.push(PlannedIndex {
                kind,
                component: comp.clone(),
                arch,
                url: join_url(&dists, &file),
                sha256: entry.sha256.clone(),
                size: entry.size,
                plain_sha256,
                file,
            });
        }
    }
    Ok(SuitePlan {
        spec: spec.clone(),
        dists_url: dists,
        snapshot,
        release,
        signature,
        warnings,
        indices,
    })
}

/// Fetches, verifies and decompresses every index of a plan.
pub fn fetch_planned(http: &Http, plan: SuitePlan) -> Result<SuiteIndex, SourceError> {
    let label = plan.spec.label();
    let mut indices = Vec::new();
    for p in plan.indices {
        let what = format!("{label} {}", p.file);
        let f = http.get(&Request::new(&p.url, &what).expect(&p.sha256, Some(p.size)))?;
        let bytes = decompress(&f.bytes, &p.file, &p.url)?;
        if let Some(plain) = &p.plain_sha256 {
            let got = crate::fsio::sha256_hex(&bytes);
            if &got != plain {
                return Err(SourceError::HashMismatch {
                    url: p.url,
                    what: format!("{what} decompressed"),
                    expected: plain.clone(),
                    got,
                });
            }
        }
        indices.push(IndexFile {
            kind: p.kind,
            component: p.component,
            arch: p.arch,
            url: p.url,
            sha256: p.sha256,
            bytes,
        });
    }
    Ok(SuiteIndex {
        spec: plan.spec,
        dists_url: plan.dists_url,
        snapshot: plan.snapshot,
        release: plan.release,
        signature: plan.signature,
        warnings: plan.warnings,
        indices,
    })
}

fn check_dates(
    release: &Release,
    cutoff: &Cutoff,
    label: &str,
    snapshot: bool,
    warnings: &mut Vec<String>,
) -> Result<(), SourceError> {
    let now: DateTime<Utc> = crate::date::now();
    if let Some(d) = release.date
        && d > cutoff.0
    {
        if snapshot {
            return Err(SourceError::Invalid(format!(
                "{label}: Release is dated {} but the cutoff is {}: the snapshot is newer than the cutoff",
                rfc3339(&d),
                cutoff
            )));
        }
        warnings.push(format!(
                "{label}: the mirror's Release is dated {}, after the cutoff {}: a plain mirror shows today's archive, not the cutoff's",
                rfc3339(&d),
                cutoff
            ));
    }
    if let Some(v) = release.valid_until
        && v < now
    {
        // A past snapshot is expected to be expired; apt needs Check-Valid-Until=no for it.
        warnings.push(format!(
                "{label}: Valid-Until {} has passed (accepted for a past snapshot; apt needs Check-Valid-Until=no)",
                rfc3339(&v)
            ));
    }
    Ok(())
}

/// Decompresses an index by its file name (`.xz`, `.gz`, or plain).
pub fn decompress(bytes: &[u8], file: &str, url: &str) -> Result<Vec<u8>, SourceError> {
    let mut out = Vec::new();
    let res = if file.ends_with(".xz") {
        xz2::read::XzDecoder::new(bytes).read_to_end(&mut out)
    } else if file.ends_with(".gz") {
        flate2::read::GzDecoder::new(bytes).read_to_end(&mut out)
    } else {
        out.extend_from_slice(bytes);
        Ok(out.len())
    };
    res.map_err(|e| SourceError::parse(url, format!("cannot decompress: {e}")))?;
    Ok(out)
}
