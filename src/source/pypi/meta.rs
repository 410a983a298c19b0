//! Core metadata of one release, from the first source that has it:
//!
//! 1. the PEP 658/714 metadata file the index advertises, checked against its hash;
//! 2. `<wheel URL>.metadata` when not advertised (PyPI serves it for most
//!    wheels; no hash to check it against);
//! 3. the per-version JSON API (`/pypi/<name>/<version>/json`);
//! 4. the wheel itself: its `*.dist-info/METADATA`, read with byte ranges
//!    (the tail, the central directory, the member), or from the whole file,
//!    checked against the index's SHA-256, when the server ignores ranges;
//! 5. an sdist's `PKG-INFO`, when it declares its requirements statically
//!    (Metadata-Version 2.2 or later, `Requires-Dist` not `Dynamic`);
//! 6. else the sdist's `*.egg-info/requires.txt`: what its `setup.py`
//!    computed when setuptools made the sdist (no `requires.txt` beside an
//!    `egg-info/PKG-INFO` means no requirements), which is what pip's own
//!    `egg_info` run gets again unless `setup.py` looks at the machine.
//!
//! A step that finds nothing (not found, unreadable) passes to the next; a
//! hash mismatch, a network failure or a cache miss offline stops the chain.
//! What steps 4 and 5 read is cached as a document of its own, so a warm run
//! asks nothing.

use super::{PyFile, PyMetadata, PyPi, PyVersion, parse_core_metadata};
use crate::source::SourceError;
use crate::source::distfile::{ZIP_TAIL, sdist_member, zip_member};
use crate::source::http::{ByteRange, Ranged, Request};
use crate::universe::python::PyName;

/// What one step of the chain came to.
enum Step {
    Found(PyMetadata),
    /// Not there, or not usable: the next step is tried; the text says why.
    Unavailable(String),
}

fn step(r: Result<PyMetadata, SourceError>, url: &str) -> Result<Step, SourceError> {
    match r {
        Ok(m) => Ok(Step::Found(m)),
        Err(SourceError::NotFound { status, .. }) => Ok(Step::Unavailable(format!(
            "{url}: not found (HTTP {status})"
        ))),
        Err(e @ (SourceError::Parse { .. } | SourceError::Status { .. })) => {
            Ok(Step::Unavailable(e.to_string()))
        }
        Err(e) => Err(e),
    }
}

/// The wheel whose metadata to read: one for CPython 3 on x86-64 Linux if
/// any (metadata is normally the same across the wheels of a release).
fn best_wheel(files: &[PyFile]) -> Option<&PyFile> {
    let rank = |f: &PyFile| {
        let stem = f.filename.strip_suffix(".whl")?;
        let tags: Vec<&str> = stem.rsplitn(4, '-').collect();
        let [plat, _abi, py, _] = tags.as_slice() else {
            return Some(9);
        };
        let py3 = py
            .split('.')
            .any(|t| t.starts_with("py3") || t.starts_with("cp3"));
        let linux = plat.contains("linux") && plat.contains("x86_64");
        Some(match () {
            _ if *plat == "any" && py3 => 0,
            _ if py.contains("cp39") && linux => 1,
            _ if py3 && linux => 2,
            _ if *plat == "any" => 3,
            _ => 4,
        })
    };
    files
        .iter()
        .filter_map(|f| Some((rank(f)?, f)))
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.filename.cmp(&b.1.filename)))
        .map(|(_, f)| f)
}

/// The sdist to read `PKG-INFO` from: a gzipped tar first, as pip builds from.
fn best_sdist(files: &[PyFile]) -> Option<&PyFile> {
    let rank = |f: &PyFile| {
        [".tar.gz", ".tgz", ".tar.xz", ".tar", ".zip"]
            .iter()
            .position(|ext| f.filename.ends_with(ext))
    };
    files
        .iter()
        .filter_map(|f| Some((rank(f)?, f)))
        .min_by(|a, b| a.0.cmp(&b.0).then(a.1.filename.cmp(&b.1.filename)))
        .map(|(_, f)| f)
}

/// `<dir>.dist-info/METADATA` at the top of a wheel.
fn is_wheel_metadata(name: &str) -> bool {
    name.split_once('/')
        .is_some_and(|(d, f)| d.ends_with(".dist-info") && f == "METADATA")
}

/// `<dir>/PKG-INFO` at the top of an sdist.
fn is_sdist_pkg_info(name: &str) -> bool {
    name.trim_start_matches("./")
        .split_once('/')
        .is_some_and(|(d, f)| !d.is_empty() && f == "PKG-INFO")
}

/// `<dir>/<project>.egg-info/<file>` at the top of an sdist (not one of a
/// vendored project deeper down).
fn egg_info_member(name: &str, file: &str) -> bool {
    let parts: Vec<&str> = name.trim_start_matches("./").split('/').collect();
    matches!(parts.as_slice(), [d, e, f] if !d.is_empty() && e.ends_with(".egg-info") && *f == file)
}

/// setuptools' `requires.txt` as `Requires-Dist` lines: a line per
/// requirement, under `[extra]`, `[:marker]` or `[extra:marker]` sections
/// whose condition each line of the section takes. Every line is checked
/// as PEP 508; the error gives the 1-based line.
pub fn requires_txt(text: &str) -> Result<Vec<String>, (usize, String)> {
    let mut out = Vec::new();
    let mut condition: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let (extra, marker) = section.split_once(':').unwrap_or((section, ""));
            let mut parts = Vec::new();
            if !marker.trim().is_empty() {
                parts.push(format!("({})", marker.trim()));
            }
            if !extra.trim().is_empty() {
                parts.push(format!("extra == \"{}\"", extra.trim()));
            }
            condition = (!parts.is_empty()).then(|| parts.join(" and "));
            continue;
        }
        let req = match &condition {
            Some(c) => format!("{line}; {c}"),
            None => line.to_string(),
        };
        crate::universe::python::parse_pep508(&req).map_err(|e| (i + 1, e.to_string()))?;
        out.push(req);
    }
    Ok(out)
}

/// `Ok` when a `PKG-INFO` lists its requirements itself (Metadata-Version at
/// least 2.2 and `Requires-Dist` not among `Dynamic`), else why not.
pub fn pkg_info_is_static(bytes: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(bytes);
    let mut version = None;
    let mut dynamic = false;
    for line in text.lines().take_while(|l| !l.is_empty()) {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "metadata-version" => version = Some(v.to_string()),
            "dynamic" if v.eq_ignore_ascii_case("requires-dist") => dynamic = true,
            _ => {}
        }
    }
    let number = |v: &str| {
        let (a, b) = v.split_once('.').unwrap_or((v, "0"));
        Some((a.parse::<u32>().ok()?, b.parse::<u32>().ok()?))
    };
    let shown = version.as_deref().unwrap_or("absent");
    match version.as_deref().and_then(number) {
        Some(v) if v >= (2, 2) && !dynamic => Ok(()),
        Some(v) if v >= (2, 2) => Err(format!(
            "sdist only, requirements are computed by setup.py (PKG-INFO Metadata-Version {shown} marks Requires-Dist dynamic)"
        )),
        _ => Err(format!(
            "sdist only, requirements are computed by setup.py (PKG-INFO Metadata-Version {shown}, before 2.2 nothing is static)"
        )),
    }
}

impl PyPi {
    /// Core metadata of one version, from the first source of the chain (see
    /// the module) that has it; when none has, the error lists each tried.
    pub fn metadata(&self, name: &str, version: &PyVersion) -> Result<PyMetadata, SourceError> {
        let norm = PyName::new(name)?.to_string();
        let mut tried = Vec::new();
        let mut attempt =
            |r: Result<Step, SourceError>| -> Result<Option<PyMetadata>, SourceError> {
                match r? {
                    Step::Found(m) => Ok(Some(m)),
                    Step::Unavailable(why) => {
                        tried.push(why);
                        Ok(None)
                    }
                }
            };
        // Prefer a wheel's metadata: static, unlike an sdist's.
        let mut advertised: Vec<&PyFile> = version
            .files
            .iter()
            .filter(|f| f.core_metadata.is_some())
            .collect();
        advertised.sort_by_key(|f| !f.filename.ends_with(".whl"));
        if let Some(f) = advertised.first()
            && let Some(m) = attempt(self.advertised(f))?
        {
            return Ok(m);
        }
        let wheel = best_wheel(&version.files);
        if let Some(w) = wheel.filter(|w| w.core_metadata.is_none())
            && let Some(m) = attempt(self.unadvertised(w))?
        {
            return Ok(m);
        }
        if let Some(m) = attempt(self.version_json(&norm, &version.version))? {
            return Ok(m);
        }
        if let Some(w) = wheel
            && let Some(m) = attempt(self.wheel_member(w))?
        {
            return Ok(m);
        }
        let mut reason = "no source has its core metadata".to_string();
        if let Some(s) = best_sdist(&version.files) {
            match self.sdist_pkg_info(s)? {
                Ok(m) => return Ok(m),
                Err(why) => {
                    reason = why;
                    tried.push(format!("{} (its PKG-INFO)", s.url));
                }
            }
        }
        Err(SourceError::NoMetadata {
            what: format!("{norm}=={}", version.version),
            reason,
            tried,
        })
    }

    fn advertised(&self, f: &PyFile) -> Result<Step, SourceError> {
        let url = format!("{}.metadata", f.url);
        let what = format!("metadata of {}", f.filename);
        let mut req = Request::new(&url, &what);
        if let Some(Some(h)) = &f.core_metadata {
            req = req.expect(&h.to_ascii_lowercase(), None);
        }
        let r = self
            .http
            .get(&req)
            .and_then(|fetched| parse_core_metadata(&fetched.bytes, &url));
        step(r, &url)
    }

    fn unadvertised(&self, w: &PyFile) -> Result<Step, SourceError> {
        let url = format!("{}.metadata", w.url);
        let what = format!("metadata of {} (not advertised)", w.filename);
        let r = self.http.get(&Request::new(&url, &what)).and_then(|f| {
            let mut m = parse_core_metadata(&f.bytes, &url)?;
            m.from = format!("{url} (not advertised by the index: no hash to check it against)");
            Ok(m)
        });
        step(r, &url)
    }

    fn version_json(&self, norm: &str, version: &str) -> Result<Step, SourceError> {
        let url = crate::source::join_url(&self.base, &format!("pypi/{norm}/{version}/json"));
        let r = self.legacy(norm, Some(version)).and_then(|(p, url)| {
            let mut reqs = Vec::new();
            for r in p.info.requires_dist.unwrap_or_default() {
                crate::universe::python::parse_pep508(&r).map_err(|e| {
                    SourceError::parse(&url, format!("bad Requires-Dist `{r}`: {e}"))
                })?;
                reqs.push(r);
            }
            Ok(PyMetadata {
                requires_dist: reqs,
                requires_python: p.info.requires_python.filter(|s| !s.trim().is_empty()),
                from: url,
            })
        });
        step(r, &url)
    }

    /// The whole file, checked against the index's SHA-256 when it gives one; and how it was checked.
    fn whole(&self, f: &PyFile) -> Result<(Vec<u8>, &'static str), SourceError> {
        let what = format!("{} (whole file)", f.filename);
        let mut req = Request::new(&f.url, &what);
        let check = match &f.sha256 {
            Some(h) => {
                req = req.expect(h, None);
                "whole file, SHA-256 checked"
            }
            None => "whole file; the index gives no SHA-256 to check",
        };
        Ok((self.http.get(&req)?.bytes, check))
    }

    fn wheel_member(&self, w: &PyFile) -> Result<Step, SourceError> {
        let fetched = self.http.derived(&w.url, "*.dist-info/METADATA", || {
            let what = format!("end of {}", w.filename);
            let (member, how) =
                match self
                    .http
                    .get_range(&w.url, &what, ByteRange::Suffix(ZIP_TAIL))?
                {
                    Ranged::Part { total, bytes, .. } => {
                        let what = format!("part of {}", w.filename);
                        let mut read_at = |start, len| match self.http.get_range(
                            &w.url,
                            &what,
                            ByteRange::Span { start, len },
                        )? {
                            Ranged::Part { bytes, .. } => Ok(bytes),
                            Ranged::Ignored => Err(SourceError::parse(
                                &w.url,
                                "the server stopped honouring Range",
                            )),
                        };
                        let m =
                            zip_member(total, &bytes, &mut read_at, &is_wheel_metadata, &w.url)?;
                        (
                            m,
                            "byte ranges, CRC-32 checked; the file's SHA-256 needs the whole file",
                        )
                    }
                    Ranged::Ignored => {
                        let (bytes, how) = self.whole(w)?;
                        let m = crate::source::distfile::zip_member_in(
                            &bytes,
                            &is_wheel_metadata,
                            &w.url,
                        )?;
                        (m, how)
                    }
                };
            let from = format!("{} {} ({how})", w.url, member.name);
            Ok((member.bytes, from))
        });
        let r = fetched.and_then(|f| {
            let mut m = parse_core_metadata(&f.bytes, &f.final_url)?;
            m.from = f.final_url;
            Ok(m)
        });
        step(r, &w.url)
    }

    /// Metadata from an sdist's `PKG-INFO`; the inner error says why the sdist cannot tell.
    fn sdist_pkg_info(&self, s: &PyFile) -> Result<Result<PyMetadata, String>, SourceError> {
        let fetched = self.http.derived(&s.url, "PKG-INFO", || {
            let (bytes, how) = self.whole(s)?;
            let member = sdist_member(&s.filename, &bytes, &is_sdist_pkg_info, &s.url)?;
            Ok((member.bytes, format!("{} {} ({how})", s.url, member.name)))
        });
        let f = match fetched {
            Ok(f) => f,
            Err(e @ SourceError::Parse { .. }) => return Ok(Err(e.to_string())),
            Err(e) if e.is_not_found() => return Ok(Err("not found".into())),
            Err(e) => return Err(e),
        };
        let mut m = parse_core_metadata(&f.bytes, &f.final_url)?;
        m.from = f.final_url;
        if let Err(why) = pkg_info_is_static(&f.bytes) {
            return match self.sdist_requires_txt(s)? {
                Some((requires_dist, from)) => Ok(Ok(PyMetadata {
                    requires_dist,
                    from,
                    ..m
                })),
                None => Ok(Err(format!("{why}; no egg-info in the sdist"))),
            };
        }
        Ok(Ok(m))
    }

    /// The requirements an sdist's `*.egg-info/requires.txt` lists, as
    /// `Requires-Dist` lines, and where they were read; `None` when the
    /// sdist has no egg-info at all.
    fn sdist_requires_txt(&self, s: &PyFile) -> Result<Option<(Vec<String>, String)>, SourceError> {
        let fetched = self.http.derived(&s.url, "*.egg-info/requires.txt", || {
            let (bytes, how) = self.whole(s)?;
            let found = sdist_member(
                &s.filename,
                &bytes,
                &|n| egg_info_member(n, "requires.txt"),
                &s.url,
            );
            match found {
                Ok(m) => Ok((m.bytes, format!("{} {} ({how})", s.url, m.name))),
                Err(SourceError::Parse { .. }) => {
                    // setuptools writes no requires.txt for a project without requirements.
                    let m = sdist_member(
                        &s.filename,
                        &bytes,
                        &|n| egg_info_member(n, "PKG-INFO"),
                        &s.url,
                    )?;
                    Ok((
                        Vec::new(),
                        format!("{} {} without requires.txt ({how})", s.url, m.name),
                    ))
                }
                Err(e) => Err(e),
            }
        });
        let f = match fetched {
            Ok(f) => f,
            Err(SourceError::Parse { .. }) => return Ok(None),
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let text = String::from_utf8_lossy(&f.bytes);
        // `<sdist URL> <member> (how it was read)`: the error names the member's line.
        let member = f.final_url.split(" (").next().unwrap_or(&f.final_url);
        let reqs = requires_txt(&text)
            .map_err(|(line, e)| SourceError::parse(format!("{member}:{line}"), e))?;
        Ok(Some((reqs, f.final_url)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str) -> PyFile {
        PyFile {
            filename: name.into(),
            version: "1".into(),
            url: format!("https://x/{name}"),
            sha256: None,
            upload_time: None,
            requires_python: None,
            yanked: false,
            core_metadata: None,
        }
    }

    #[test]
    fn requires_txt_sections_become_markers() {
        let t = "pyang\nlxml>=1.0\n\n[:python_version < \"3.4\"]\nenum34\n\n[docs]\nsphinx\n\n[tls:sys_platform == \"linux\"]\npyopenssl\n";
        assert_eq!(
            requires_txt(t),
            Ok(vec![
                "pyang".to_string(),
                "lxml>=1.0".to_string(),
                "enum34; (python_version < \"3.4\")".to_string(),
                "sphinx; extra == \"docs\"".to_string(),
                "pyopenssl; (sys_platform == \"linux\") and extra == \"tls\"".to_string(),
            ])
        );
        assert_eq!(requires_txt("ok\n!!bad\n").map_err(|(l, _)| l), Err(2));
        assert!(egg_info_member(
            "p-1/p.egg-info/requires.txt",
            "requires.txt"
        ));
        assert!(!egg_info_member(
            "p-1/vendor/q.egg-info/requires.txt",
            "requires.txt"
        ));
        assert!(!egg_info_member("p-1/requires.txt", "requires.txt"));
    }

    #[test]
    fn picks_a_linux_or_pure_wheel_and_a_gzipped_sdist() {
        let fs = [
            file("a-1-cp39-cp39-win_amd64.whl"),
            file("a-1-cp39-cp39-manylinux2014_x86_64.whl"),
            file("a-1.zip"),
            file("a-1.tar.gz"),
        ];
        assert_eq!(
            best_wheel(&fs).map(|f| f.filename.as_str()),
            Some("a-1-cp39-cp39-manylinux2014_x86_64.whl")
        );
        let pure = [file("a-1-py2.py3-none-any.whl"), fs[1].clone()];
        assert_eq!(
            best_wheel(&pure).map(|f| f.filename.as_str()),
            Some("a-1-py2.py3-none-any.whl")
        );
        assert_eq!(
            best_sdist(&fs).map(|f| f.filename.as_str()),
            Some("a-1.tar.gz")
        );
        assert!(best_wheel(&fs[2..]).is_none());
    }

    #[test]
    fn pkg_info_is_static_from_2_2_unless_dynamic() {
        assert!(pkg_info_is_static(b"Metadata-Version: 2.2\nName: a\n").is_ok());
        assert!(pkg_info_is_static(b"Metadata-Version: 2.10\nName: a\n").is_ok());
        let old = pkg_info_is_static(b"Metadata-Version: 2.1\nName: a\n").unwrap_err();
        assert!(
            old.contains("computed by setup.py") && old.contains("2.1"),
            "{old}"
        );
        let dynamic =
            pkg_info_is_static(b"Metadata-Version: 2.3\nDynamic: Requires-Dist\n").unwrap_err();
        assert!(dynamic.contains("dynamic"), "{dynamic}");
        assert!(pkg_info_is_static(b"Name: a\n").is_err());
        assert!(
            is_sdist_pkg_info("./a-1/PKG-INFO") && !is_sdist_pkg_info("a-1/a.egg-info/PKG-INFO")
        );
    }
}
