//! Core metadata of a PyPI release through its chain of sources, against a
//! loopback PyPI: an unadvertised `.metadata` file, the wheel read by byte
//! ranges or whole, an sdist's `PKG-INFO`, and archives that lie.

use crate::common::loopback::pypi::{Dist, FakePyPi, sdist, sdist_with, wheel};
use crate::common::loopback::{Server, sha256};
use sonic_lock::date::Cutoff;
use sonic_lock::source::SourceError;
use sonic_lock::source::cache::Cache;
use sonic_lock::source::http::{Http, HttpConfig};
use sonic_lock::source::pypi::{PyMetadata, PyPi};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const META: &str = "Metadata-Version: 2.1\nName: demo\nVersion: 1.0\nRequires-Dist: six (>=1.10)\nRequires-Dist: pyyaml ; extra == 'yaml'\nRequires-Python: >=3.6\n\nA long description.\n";

fn cfg(offline: bool) -> HttpConfig {
    HttpConfig {
        retries: 1,
        base_delay: Duration::from_millis(10),
        read_timeout: Duration::from_secs(5),
        offline,
        ..HttpConfig::default()
    }
}

fn client(dir: &Path, srv: &Server, offline: bool) -> (PyPi, Arc<Http>) {
    let http = Arc::new(Http::new(cfg(offline), Cache::open(&dir.join("cache")).unwrap()).unwrap());
    (PyPi::new(http.clone(), &srv.base), http)
}

fn metadata(pypi: &PyPi, name: &str) -> Result<PyMetadata, SourceError> {
    let (vs, _, _) = pypi
        .versions_at(name, &Cutoff::parse("2022-12-06").unwrap())
        .unwrap();
    pypi.metadata(name, &vs[0])
}

fn blobs(dir: &Path) -> Vec<Vec<u8>> {
    fn walk(p: &Path, out: &mut Vec<Vec<u8>>) {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                walk(&e.path(), out);
            } else {
                out.push(std::fs::read(e.path()).unwrap());
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir.join("cache/blobs"), &mut out);
    out
}

const WHEEL: &str = "demo-1.0-py3-none-any.whl";

#[test]
fn unadvertised_metadata_file_is_read_without_touching_the_wheel() {
    let srv = FakePyPi::new(true)
        .add(
            "demo",
            Dist::new(WHEEL, wheel("demo", "1.0", META, 10)).with_metadata(META.as_bytes(), false),
        )
        .serve();
    let d = tempfile::tempdir().unwrap();
    let (pypi, _) = client(d.path(), &srv, false);
    let m = metadata(&pypi, "demo").unwrap();
    assert_eq!(
        m.requires_dist,
        ["six (>=1.10)", "pyyaml ; extra == 'yaml'"]
    );
    assert_eq!(m.requires_python.as_deref(), Some(">=3.6"));
    assert!(
        m.from.contains(".whl.metadata") && m.from.contains("no hash"),
        "{}",
        m.from
    );
    assert_eq!(srv.hits(&format!("/files/{WHEEL}")), 0);
    assert_eq!(srv.hits("/pypi/demo/1.0/json"), 0);
}

#[test]
fn wheel_is_read_by_byte_ranges_then_from_the_cache() {
    let body = wheel("demo", "1.0", META, 400_000);
    let srv = FakePyPi::new(true)
        .add("demo", Dist::new(WHEEL, body.clone()))
        .serve();
    let d = tempfile::tempdir().unwrap();
    let (pypi, http) = client(d.path(), &srv, false);
    let m = metadata(&pypi, "demo").unwrap();
    assert_eq!(
        m.requires_dist,
        ["six (>=1.10)", "pyyaml ; extra == 'yaml'"]
    );
    assert!(
        m.from.contains("demo-1.0.dist-info/METADATA") && m.from.contains("byte ranges"),
        "{}",
        m.from
    );
    // Every earlier step was asked and had nothing.
    assert_eq!(srv.hits(&format!("/files/{WHEEL}.metadata")), 1);
    assert_eq!(srv.hits("/pypi/demo/1.0/json"), 1);
    let wheel_reqs: Vec<_> = srv
        .requests()
        .into_iter()
        .filter(|r| r.path == format!("/files/{WHEEL}"))
        .collect();
    assert!(
        wheel_reqs.iter().all(|r| r.range_header.is_some()),
        "{wheel_reqs:?}"
    );
    assert!(
        http.stats().bytes < body.len() as u64 / 4,
        "read {} of {} bytes",
        http.stats().bytes,
        body.len()
    );
    assert!(
        !blobs(d.path()).contains(&body),
        "the wheel is not cached, only its METADATA"
    );

    // A warm run offline asks nothing and says the same.
    let (offline, _) = client(d.path(), &srv, true);
    let asked = srv.requests().len();
    let again = metadata(&offline, "demo").unwrap();
    assert_eq!(again, m);
    assert_eq!(srv.requests().len(), asked);
}

#[test]
fn server_ignoring_range_gets_the_whole_wheel_checked_against_its_hash() {
    let srv = FakePyPi::new(false)
        .add("demo", Dist::new(WHEEL, wheel("demo", "1.0", META, 50_000)))
        .serve();
    let d = tempfile::tempdir().unwrap();
    let (pypi, _) = client(d.path(), &srv, false);
    let m = metadata(&pypi, "demo").unwrap();
    assert_eq!(m.requires_dist.len(), 2);
    assert!(m.from.contains("SHA-256 checked"), "{}", m.from);
}

#[test]
fn corrupted_wheel_is_an_error_naming_its_url_and_nothing_is_cached() {
    let body = wheel("demo", "1.0", META, 50_000);
    let mut served = body.clone();
    served[100] ^= 0xff;
    let mut dist = Dist::new(WHEEL, served.clone());
    dist.index_sha256 = sha256(&body);
    let srv = FakePyPi::new(false).add("demo", dist).serve();
    let d = tempfile::tempdir().unwrap();
    let (pypi, _) = client(d.path(), &srv, false);
    let err = metadata(&pypi, "demo").unwrap_err();
    assert!(matches!(err, SourceError::HashMismatch { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&srv.url(&format!("/files/{WHEEL}"))),
        "{err}"
    );
    let cached = blobs(d.path());
    assert!(!cached.contains(&served));
    assert!(!cached.iter().any(|b| b.starts_with(b"Metadata-Version")));
}

#[test]
fn member_corrupted_in_a_ranged_read_fails_its_crc_and_is_not_cached() {
    let mut body = wheel("demo", "1.0", "Metadata-Version: 2.1\nName: demo\n", 1000);
    // The stored module's bytes are not at stake; corrupt METADATA's deflated data.
    let at = body
        .windows(24)
        .position(|w| w == b"demo-1.0.dist-info/METAD")
        .unwrap()
        + "demo-1.0.dist-info/METADATA".len();
    body[at + 2] ^= 0x55;
    let srv = FakePyPi::new(true)
        .add("demo", Dist::new(WHEEL, body))
        .serve();
    let d = tempfile::tempdir().unwrap();
    let (pypi, _) = client(d.path(), &srv, false);
    let err = metadata(&pypi, "demo").unwrap_err().to_string();
    assert!(err.contains(&srv.url(&format!("/files/{WHEEL}"))), "{err}");
    assert!(err.contains("METADATA"), "{err}");
    assert!(
        !blobs(d.path())
            .iter()
            .any(|b| b.starts_with(b"Metadata-Version"))
    );
}

#[test]
fn sdist_only_release_reads_pkg_info_only_when_it_is_static() {
    let old = "Metadata-Version: 2.1\nName: old\nVersion: 1.0\n";
    let new = "Metadata-Version: 2.2\nName: new\nVersion: 1.0\nRequires-Dist: six\nDynamic: Description\n";
    let srv = FakePyPi::new(true)
        .add("old", Dist::new("old-1.0.tar.gz", sdist("old", "1.0", old)))
        .add("new", Dist::new("new-1.0.tar.gz", sdist("new", "1.0", new)))
        .serve();
    let d = tempfile::tempdir().unwrap();
    let (pypi, _) = client(d.path(), &srv, false);
    let err = metadata(&pypi, "old").unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, SourceError::NoMetadata { .. }), "{text}");
    assert!(
        text.contains("sdist only, requirements are computed by setup.py") && text.contains("2.1"),
        "{text}"
    );
    // What was tried is listed by URL.
    assert!(
        text.contains("/pypi/old/1.0/json") && text.contains("old-1.0.tar.gz"),
        "{text}"
    );
    let m = metadata(&pypi, "new").unwrap();
    assert_eq!(m.requires_dist, ["six"]);
    assert!(
        m.from.contains("new-1.0/PKG-INFO") && m.from.contains("SHA-256 checked"),
        "{}",
        m.from
    );
}

#[test]
fn an_old_sdist_is_read_through_the_requires_txt_setuptools_wrote_into_it() {
    let old = |n: &str| {
        format!("Metadata-Version: 1.1\nName: {n}\nVersion: 1.0\nRequires-Python: >=3.6\n")
    };
    let reqs = "pyang\nlxml\n\n[:python_version < \"3.4\"]\nenum34\n";
    let srv = FakePyPi::new(true)
        .add(
            "bind",
            Dist::new(
                "bind-1.0.tar.gz",
                sdist_with(
                    "bind",
                    "1.0",
                    &old("bind"),
                    &[
                        ("bind.egg-info/PKG-INFO", &old("bind")),
                        ("bind.egg-info/requires.txt", reqs),
                    ],
                ),
            ),
        )
        .add(
            "bare",
            Dist::new(
                "bare-1.0.tar.gz",
                sdist_with(
                    "bare",
                    "1.0",
                    &old("bare"),
                    &[("bare.egg-info/PKG-INFO", &old("bare"))],
                ),
            ),
        )
        .add(
            "bad",
            Dist::new(
                "bad-1.0.tar.gz",
                sdist_with(
                    "bad",
                    "1.0",
                    &old("bad"),
                    &[("bad.egg-info/requires.txt", "ok\n!!\n")],
                ),
            ),
        )
        .serve();
    let d = tempfile::tempdir().unwrap();
    let (pypi, _) = client(d.path(), &srv, false);
    let m = metadata(&pypi, "bind").unwrap();
    assert_eq!(
        m.requires_dist,
        ["pyang", "lxml", "enum34; (python_version < \"3.4\")"]
    );
    assert_eq!(m.requires_python.as_deref(), Some(">=3.6"));
    assert!(
        m.from.contains("bind-1.0/bind.egg-info/requires.txt"),
        "{}",
        m.from
    );
    // An egg-info without requires.txt: setuptools wrote none, there are none.
    let m = metadata(&pypi, "bare").unwrap();
    assert!(m.requires_dist.is_empty());
    assert!(m.from.contains("without requires.txt"), "{}", m.from);
    // A line that is not PEP 508 is an error naming the member and the line.
    let err = metadata(&pypi, "bad").unwrap_err().to_string();
    assert!(err.contains("requires.txt:2"), "{err}");
    // A warm offline run reads it all from the cache.
    let (pypi, _) = client(d.path(), &srv, true);
    assert_eq!(metadata(&pypi, "bind").unwrap().requires_dist.len(), 3);
}

/// A wheel whose end-of-central-directory record says `cd_size`/`cd_offset`,
/// or whose METADATA entry declares `size`.
fn lying_wheel(cd_size: Option<u32>, cd_offset: Option<u32>, size: Option<u32>) -> Vec<u8> {
    let mut b = wheel("demo", "1.0", META, 2000);
    let eocd = b.len() - 22;
    assert_eq!(&b[eocd..eocd + 4], b"PK\x05\x06");
    if let Some(s) = cd_size {
        b[eocd + 12..eocd + 16].copy_from_slice(&s.to_le_bytes());
    }
    if let Some(o) = cd_offset {
        b[eocd + 16..eocd + 20].copy_from_slice(&o.to_le_bytes());
    }
    if let Some(s) = size {
        let name = b"demo-1.0.dist-info/METADATA";
        let cd = u32::from_le_bytes(b[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
        let entry = cd + b[cd..].windows(name.len()).position(|w| w == name).unwrap() - 46;
        b[entry + 24..entry + 28].copy_from_slice(&s.to_le_bytes());
    }
    b
}

#[test]
fn lying_or_truncated_zips_are_errors_without_large_reads() {
    let full = wheel("demo", "1.0", META, 2000);
    let end_record = "no end-of-central-directory record";
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "huge central directory",
            lying_wheel(Some(0xfff0_0000), None, None),
            "runs past its end record",
        ),
        (
            "offset past the end",
            lying_wheel(None, Some(0x7fff_ffff), None),
            "runs past its end record",
        ),
        (
            "huge member",
            lying_wheel(None, None, Some(0xffff_0000)),
            "more than the 16777216 read",
        ),
        ("truncated", full[..full.len() / 2].to_vec(), end_record),
        ("not a zip", b"<html>not found</html>".to_vec(), end_record),
    ];
    for (what, body, why) in cases {
        for ranges in [true, false] {
            let srv = FakePyPi::new(ranges)
                .add("demo", Dist::new(WHEEL, body.clone()))
                .serve();
            let d = tempfile::tempdir().unwrap();
            let (pypi, http) = client(d.path(), &srv, false);
            let err = metadata(&pypi, "demo").unwrap_err().to_string();
            assert!(err.contains(&format!("/files/{WHEEL}")), "{what}: {err}");
            assert!(err.contains(why), "{what}: {err}");
            assert!(
                http.stats().bytes < 100_000,
                "{what}: read {}",
                http.stats().bytes
            );
        }
    }
}

#[test]
fn a_missing_wheel_is_remembered_so_offline_runs_fail_alike() {
    let srv = FakePyPi::new(true)
        .add(
            "demo",
            Dist::new(WHEEL, wheel("demo", "1.0", META, 10)).missing(),
        )
        .serve();
    let d = tempfile::tempdir().unwrap();
    let (pypi, _) = client(d.path(), &srv, false);
    let online = metadata(&pypi, "demo").unwrap_err();
    assert!(matches!(online, SourceError::NoMetadata { .. }), "{online}");
    assert!(
        online
            .to_string()
            .contains(&format!("/files/{WHEEL}: not found")),
        "{online}"
    );
    let (offline, _) = client(d.path(), &srv, true);
    let asked = srv.requests().len();
    let again = metadata(&offline, "demo").unwrap_err();
    assert_eq!(again.to_string(), online.to_string());
    assert_eq!(srv.requests().len(), asked);
}
