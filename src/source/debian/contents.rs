//! A suite's Contents indices (`<component>/Contents-<arch>` and, where the
//! archive lists arch-independent packages apart, `Contents-all`), read for
//! one thing: the Python distributions each package installs, from its
//! `usr/lib/python3/dist-packages/<Name>-<version>.egg-info` (or
//! `.dist-info`, or `python2.7` for Python 2) entries. Each file is verified
//! against the Release hash like a Packages index, then decompressed and read
//! line by line (bullseye's `Contents-all` is 480 MB of text; only the few
//! thousand `dist-packages` metadata lines are kept). What a file yields is
//! cached under a key made of its hash and this reader's code, so a warm or
//! offline run reads none of it again.

use super::archive::SuitePlan;
use crate::source::SourceError;
use crate::source::cache::KeyEntry;
use crate::source::http::{Http, Request};
use crate::source::join_url;
use crate::universe::python::apt::{PyDist, by_package, dist_of_entry};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};

/// Where each interpreter flavour keeps what Debian packages install.
const PREFIXES: [(&[u8], &str); 2] = [
    (b"usr/lib/python3/dist-packages/", "py3"),
    (b"usr/lib/python2.7/dist-packages/", "py2"),
];

/// How many skipped lines a file's warning names one by one.
const NAMED_SKIPS: usize = 5;

/// The code whose output a cache entry stores: a change gives new keys.
const READER_CODE: &[&str] = &[
    include_str!("contents.rs"),
    include_str!("../../universe/python/apt.rs"),
];

/// What the Contents indices of a suite say about Python distributions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scanned {
    /// Debian package -> the distributions it installs.
    pub by_package: BTreeMap<String, Vec<PyDist>>,
    /// Lines that were skipped, with the URL and line number of the first few.
    pub warnings: Vec<String>,
}

impl Scanned {
    fn merge(&mut self, other: Scanned) {
        for (p, d) in other.by_package {
            let e = self.by_package.entry(p).or_default();
            e.extend(d);
            e.sort();
            e.dedup();
        }
        self.warnings.extend(other.warnings);
    }
}

/// Reads the Python metadata entries of one Contents text (`path   section/pkg[,section/pkg2]`
/// a line). A metadata line that is not UTF-8 or has no package column is
/// skipped with a warning naming `url` and the line; other lines are not
/// looked at beyond their first bytes. A stream that cannot be read (a
/// corrupt compressed file) is an error naming `url`.
pub fn scan(reader: impl BufRead, url: &str) -> Result<Scanned, SourceError> {
    let mut reader = reader;
    let mut line = Vec::with_capacity(256);
    let mut pairs = Vec::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut skips = 0usize;
    let mut n = 0usize;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| SourceError::parse(url, format!("line {}: {e}", n + 1)))?;
        if read == 0 {
            break;
        }
        n += 1;
        let Some((prefix, python)) = PREFIXES.iter().find(|(p, _)| line.starts_with(p)) else {
            continue;
        };
        let rest = &line[prefix.len()..];
        let end = rest
            .iter()
            .position(|b| *b == b'/' || b.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let entry = &rest[..end];
        if !(entry.ends_with(b".egg-info") || entry.ends_with(b".dist-info")) {
            continue;
        }
        let mut skip = |why: &str| {
            skips += 1;
            if skipped.len() < NAMED_SKIPS {
                skipped.push(format!("{url}:{n}: {why}"));
            }
        };
        let Ok(text) = std::str::from_utf8(&line) else {
            skip("not UTF-8");
            continue;
        };
        let Some((path, packages)) = text.trim_end().rsplit_once(char::is_whitespace) else {
            skip("no package column");
            continue;
        };
        if path.trim().is_empty() || packages.is_empty() {
            skip("no package column");
            continue;
        }
        let Some(dist) = std::str::from_utf8(entry)
            .ok()
            .and_then(|e| dist_of_entry(python, e))
        else {
            continue;
        };
        for q in packages.split(',') {
            let pkg = q.rsplit('/').next().unwrap_or(q).trim();
            if !pkg.is_empty() {
                pairs.push((pkg.to_string(), dist.clone()));
            }
        }
    }
    let mut warnings = Vec::new();
    if skips > 0 {
        let more = skips.saturating_sub(skipped.len());
        warnings.push(format!(
            "{skips} Python metadata line(s) of the Contents index skipped: {}{}",
            skipped.join("; "),
            if more > 0 {
                format!("; and {more} more")
            } else {
                String::new()
            }
        ));
    }
    Ok(Scanned {
        by_package: by_package(pairs),
        warnings,
    })
}

/// One Contents file a suite's Release lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentsFile {
    /// The file under `dists/<suite>/` (`main/Contents-amd64.gz`).
    pub file: String,
    /// Its URL.
    pub url: String,
    /// SHA-256 as listed in the Release file.
    pub sha256: String,
    /// Size as listed.
    pub size: u64,
}

/// The Contents files of a plan's components, for its architectures and `all`,
/// that its Release lists (best compression first, as for Packages).
pub fn contents_files(plan: &SuitePlan) -> Vec<ContentsFile> {
    let mut out = Vec::new();
    for comp in &plan.spec.components {
        let arches = plan
            .spec
            .architectures
            .iter()
            .map(String::as_str)
            .chain(["all"]);
        for arch in arches {
            if let Some((file, e)) = plan.release.pick_index(&format!("{comp}/Contents-{arch}")) {
                out.push(ContentsFile {
                    url: join_url(&plan.dists_url, &file),
                    file,
                    sha256: e.sha256.clone(),
                    size: e.size,
                });
            }
        }
    }
    out.dedup();
    out
}

fn code_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        let mut h = sha2::Sha256::new();
        for c in READER_CODE {
            h.update(c.as_bytes());
            h.update([0u8]);
        }
        hex::encode(h.finalize())
    })
}

fn cache_key(f: &ContentsFile) -> String {
    format!("sonic-lock:contents-python:{}:{}", code_hash(), f.sha256)
}

/// Reads one Contents file: the cached reading when there is one, else the
/// file fetched (verified against its Release hash), read and the reading cached.
pub fn read_file(http: &Http, label: &str, f: &ContentsFile) -> Result<Scanned, SourceError> {
    let cache = http.cache();
    let key = cache_key(f);
    if let Some(e) = cache.get_key(&key)
        && let Some(bytes) = cache.get(&e.sha256)?
        && let Ok(s) = serde_json::from_slice::<Scanned>(&bytes)
    {
        return Ok(s);
    }
    let what = format!("{label} {}", f.file);
    let fetched = http.get(&Request::new(&f.url, &what).expect(&f.sha256, Some(f.size)))?;
    let raw: &[u8] = &fetched.bytes;
    let reader: Box<dyn Read + '_> = if f.file.ends_with(".gz") {
        Box::new(flate2::read::GzDecoder::new(raw))
    } else if f.file.ends_with(".xz") {
        Box::new(xz2::read::XzDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    let scanned = scan(BufReader::with_capacity(1 << 16, reader), &f.url)?;
    // A reading that cannot be cached costs the next run time, not this one its result.
    if let Ok(json) = serde_json::to_vec(&scanned)
        && let Ok(sha256) = cache.put(&json)
    {
        let _ = cache.put_key(&KeyEntry {
            key,
            final_url: f.url.clone(),
            sha256,
            size: json.len() as u64,
            status: 200,
        });
    }
    Ok(scanned)
}

/// Every Contents file of a suite, read and merged.
pub fn read_suite(http: &Http, plan: &SuitePlan) -> Result<Scanned, SourceError> {
    let label = plan.spec.label();
    let mut out = Scanned::default();
    for f in contents_files(plan) {
        out.merge(read_file(http, &label, &f)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(python: &str, name: &str, version: &str) -> PyDist {
        PyDist {
            python: python.into(),
            name: name.into(),
            version: version.into(),
        }
    }

    #[test]
    fn metadata_lines_give_each_package_its_distributions() {
        let text = "bin/bash                                   shells/bash\n\
            usr/lib/python3/dist-packages/PyYAML-5.3.1.egg-info/PKG-INFO   python/python3-yaml\n\
            usr/lib/python3/dist-packages/PyYAML-5.3.1.egg-info/top_level.txt python/python3-yaml\n\
            usr/lib/python3/dist-packages/yaml/__init__.py              python/python3-yaml\n\
            usr/lib/python3/dist-packages/gpg-1.14.0_unknown.egg-info   python/python3-gpg\n\
            usr/lib/python2.7/dist-packages/six-1.16.0.egg-info/PKG-INFO python/python-six,python/python-six-dbg\n\
            usr/lib/python3/dist-packages/flit_core-3.0.0.dist-info/METADATA python/flit\n";
        let s = scan(text.as_bytes(), "http://m/Contents-amd64.gz").unwrap();
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        assert_eq!(
            s.by_package["python3-yaml"],
            vec![d("py3", "pyyaml", "5.3.1")]
        );
        assert_eq!(
            s.by_package["python3-gpg"],
            vec![d("py3", "gpg", "1.14.0-unknown")]
        );
        assert_eq!(s.by_package["python-six"], vec![d("py2", "six", "1.16.0")]);
        assert_eq!(
            s.by_package["python-six-dbg"],
            vec![d("py2", "six", "1.16.0")]
        );
        assert_eq!(s.by_package["flit"], vec![d("py3", "flit-core", "3.0.0")]);
        assert!(!s.by_package.contains_key("bash"));
    }

    #[test]
    fn a_bad_metadata_line_is_skipped_with_its_url_and_line() {
        let mut text = b"usr/lib/python3/dist-packages/PyYAML-5.3.1.egg-info\n".to_vec();
        text.extend_from_slice(
            b"usr/lib/python3/dist-packages/caf\xe9-1.0.egg-info  python/python3-cafe\n",
        );
        text.extend_from_slice(b"usr/share/doc/caf\xe9/README   doc/cafe\n");
        text.extend_from_slice(
            b"usr/lib/python3/dist-packages/six-1.16.0.egg-info  python/python3-six\n",
        );
        let s = scan(&text[..], "http://m/dists/bullseye/main/Contents-all.gz").unwrap();
        assert_eq!(s.by_package.len(), 1, "{:?}", s.by_package);
        assert_eq!(s.by_package["python3-six"], vec![d("py3", "six", "1.16.0")]);
        assert_eq!(s.warnings.len(), 1);
        let w = &s.warnings[0];
        assert!(w.starts_with("2 Python metadata line(s)"), "{w}");
        assert!(
            w.contains("http://m/dists/bullseye/main/Contents-all.gz:1: no package column"),
            "{w}"
        );
        assert!(w.contains("Contents-all.gz:2: not UTF-8"), "{w}");
    }

    #[test]
    fn a_corrupt_stream_is_an_error_naming_the_url() {
        let bad = flate2::read::GzDecoder::new(&b"not gzip at all"[..]);
        let e = scan(BufReader::new(bad), "http://m/Contents-amd64.gz").unwrap_err();
        assert!(e.to_string().contains("http://m/Contents-amd64.gz"), "{e}");
    }
}
