//! The source stage against loopback servers with the real layouts of
//! snapshot.debian.org, a Debian mirror, PyPI and a Go proxy, with faults.

use crate::common::loopback::*;
use sonic_lock::date::Cutoff;
use sonic_lock::source::cache::Cache;
use sonic_lock::source::debian::archive::{Location, SuiteSpec, fetch_suite};
use sonic_lock::source::debian::release::{Keyring, SignatureStatus};
use sonic_lock::source::http::{Http, HttpConfig, Request};
use sonic_lock::source::{SourceError, VersionSource};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn fast_cfg() -> HttpConfig {
    HttpConfig {
        retries: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(3),
        read_timeout: Duration::from_secs(5),
        ..HttpConfig::default()
    }
}

fn http_in(dir: &Path, cfg: HttpConfig) -> Http {
    Http::new(cfg, Cache::open(&dir.join("cache")).unwrap()).unwrap()
}

fn blob_count(dir: &Path) -> usize {
    walk(&dir.join("cache/blobs"))
}

fn walk(p: &Path) -> usize {
    match std::fs::read_dir(p) {
        Ok(rd) => rd
            .map(|e| {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    walk(&e.path())
                } else {
                    1
                }
            })
            .sum(),
        Err(_) => 0,
    }
}

// ---------------------------------------------------------------- HTTP faults

#[test]
fn honours_429_retry_after_then_succeeds() {
    let srv = serve(|_, n| {
        if n == 1 {
            Reply::Body {
                status: 429,
                body: b"slow down".to_vec(),
                headers: vec![("Retry-After".into(), "1".into())],
            }
        } else {
            ok("payload")
        }
    });
    let d = tempfile::tempdir().unwrap();
    let http = http_in(d.path(), fast_cfg());
    let f = http.get(&Request::new(&srv.url("/x"), "x")).unwrap();
    assert_eq!(f.bytes, b"payload");
    assert_eq!(srv.hits("/x"), 2);
    assert_eq!(http.stats().retries, 1);
    // Second time: served from the cache, no request.
    let f2 = http.get(&Request::new(&srv.url("/x"), "x")).unwrap();
    assert!(f2.from_cache);
    assert_eq!(srv.hits("/x"), 2);
}

#[test]
fn persistent_500_fails_naming_url_and_caches_nothing() {
    let srv = serve(|_, _| status(500));
    let d = tempfile::tempdir().unwrap();
    let http = http_in(d.path(), fast_cfg());
    let url = srv.url("/broken");
    let err = http
        .get(&Request::new(&url, "the broken thing"))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&url)
            && msg.contains("HTTP 500")
            && msg.contains("the broken thing")
            && msg.contains("4 attempt"),
        "{msg}"
    );
    assert_eq!(srv.hits("/broken"), 4);
    assert_eq!(blob_count(d.path()), 0);
}

#[test]
fn not_found_is_not_retried() {
    let srv = serve(|_, _| status(404));
    let d = tempfile::tempdir().unwrap();
    let http = http_in(d.path(), fast_cfg());
    let err = http
        .get(&Request::new(&srv.url("/gone"), "gone"))
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(srv.hits("/gone"), 1);
    assert!(
        http.get_opt(&Request::new(&srv.url("/gone"), "gone"))
            .unwrap()
            .is_none()
    );
}

#[test]
fn truncated_body_is_resumed_with_range() {
    let body: Vec<u8> = (0..50_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let b2 = body.clone();
    let srv = serve(move |req, n| {
        if n == 1 {
            Reply::Truncated {
                declared: b2.len(),
                body: b2[..70_000].to_vec(),
            }
        } else {
            file(req, &b2)
        }
    });
    let d = tempfile::tempdir().unwrap();
    let http = http_in(d.path(), fast_cfg());
    let f = http
        .get(&Request::new(&srv.url("/big"), "big").expect(&sha256(&body), Some(body.len() as u64)))
        .unwrap();
    assert_eq!(f.bytes, body);
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].range, Some(70_000), "second request resumes");
}

#[test]
fn stalled_body_times_out_and_resumes() {
    let body = vec![7u8; 10_000];
    let b2 = body.clone();
    let srv = serve(move |req, n| {
        if n == 1 {
            Reply::Stall {
                declared: b2.len(),
                body: b2[..4_000].to_vec(),
                sleep: Duration::from_secs(20),
            }
        } else {
            file(req, &b2)
        }
    });
    let d = tempfile::tempdir().unwrap();
    let cfg = HttpConfig {
        read_timeout: Duration::from_secs(2),
        ..fast_cfg()
    };
    let http = http_in(d.path(), cfg);
    let f = http.get(&Request::new(&srv.url("/slow"), "slow")).unwrap();
    assert_eq!(f.bytes, body);
    assert_eq!(srv.requests()[1].range, Some(4_000));
}

#[test]
fn always_truncated_body_fails_and_never_enters_cache() {
    let srv = serve(|_, _| Reply::Truncated {
        declared: 1000,
        body: vec![1u8; 10],
    });
    let d = tempfile::tempdir().unwrap();
    let cfg = HttpConfig {
        retries: 1,
        ..fast_cfg()
    };
    let http = http_in(d.path(), cfg);
    let url = srv.url("/t");
    let err = http.get(&Request::new(&url, "t")).unwrap_err().to_string();
    assert!(err.contains(&url), "{err}");
    assert_eq!(blob_count(d.path()), 0);
}

#[test]
fn wrong_hash_is_rejected_and_not_cached() {
    let srv = serve(|_, _| ok("evil"));
    let d = tempfile::tempdir().unwrap();
    let http = http_in(d.path(), fast_cfg());
    let url = srv.url("/f");
    let err = http
        .get(&Request::new(&url, "f").expect(&sha256(b"good"), Some(4)))
        .unwrap_err();
    assert!(matches!(err, SourceError::HashMismatch { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&url) && msg.contains(&sha256(b"good")) && msg.contains(&sha256(b"evil")),
        "{msg}"
    );
    assert!(!http.cache().has(&sha256(b"evil")));
    assert_eq!(blob_count(d.path()), 0);
}

#[test]
fn offline_names_what_is_missing_and_serves_what_is_cached() {
    let srv = serve(|_, _| ok("cached body"));
    let d = tempfile::tempdir().unwrap();
    let url = srv.url("/c");
    http_in(d.path(), fast_cfg())
        .get(&Request::new(&url, "c"))
        .unwrap();
    let off = http_in(
        d.path(),
        HttpConfig {
            offline: true,
            ..fast_cfg()
        },
    );
    assert_eq!(
        off.get(&Request::new(&url, "c")).unwrap().bytes,
        b"cached body"
    );
    let other = srv.url("/not-cached");
    let err = off
        .get(&Request::new(&other, "the other file"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("offline") && err.contains(&other) && err.contains("the other file"),
        "{err}"
    );
    assert_eq!(srv.hits("/not-cached"), 0);
}

#[test]
fn corrupt_cache_entry_is_refetched_not_served() {
    let srv = serve(|_, _| ok("fresh"));
    let d = tempfile::tempdir().unwrap();
    let url = srv.url("/c");
    let http = http_in(d.path(), fast_cfg());
    let f = http.get(&Request::new(&url, "c")).unwrap();
    let blob = d
        .path()
        .join("cache/blobs/sha256")
        .join(&f.sha256[..2])
        .join(&f.sha256);
    std::fs::write(&blob, "tampered").unwrap();
    let http2 = http_in(d.path(), fast_cfg());
    let g = http2.get(&Request::new(&url, "c")).unwrap();
    assert_eq!(g.bytes, b"fresh");
    assert!(!g.from_cache);
    assert_eq!(http2.cache().corrupt_removed(), 1);
    assert_eq!(srv.hits("/c"), 2);
}

#[test]
fn parallelism_per_host_is_bounded() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let now = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (n2, p2) = (now.clone(), peak.clone());
    let srv = serve(move |_, _| {
        let c = n2.fetch_add(1, Ordering::SeqCst) + 1;
        p2.fetch_max(c, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(100));
        n2.fetch_sub(1, Ordering::SeqCst);
        ok("x")
    });
    let d = tempfile::tempdir().unwrap();
    let http = Arc::new(http_in(
        d.path(),
        HttpConfig {
            max_per_host: 2,
            ..fast_cfg()
        },
    ));
    let hs: Vec<_> = (0..8)
        .map(|i| {
            let h = http.clone();
            let u = srv.url(&format!("/p{i}"));
            std::thread::spawn(move || h.get(&Request::new(&u, "p")).unwrap())
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert!(
        peak.load(Ordering::SeqCst) <= 2,
        "peak {}",
        peak.load(Ordering::SeqCst)
    );
    assert_eq!(srv.requests().len(), 8);
}

// ---------------------------------------------------------------- Debian

/// snapshot.debian.org: `/archive/<archive>/<ts>/...` with redirects from non-exact timestamps
/// to the one at or before, and `/mr/` JSON.
fn snapshot_server(
    trees: Vec<(&'static str, HashMap<String, Vec<u8>>)>,
    mr: HashMap<String, String>,
) -> Server {
    // trees: timestamp -> files under dists/ and pool/, keyed "debian/dists/bullseye/InRelease".
    let mut stamps: Vec<&'static str> = trees.iter().map(|t| t.0).collect();
    stamps.sort();
    let trees: HashMap<&'static str, HashMap<String, Vec<u8>>> = trees.into_iter().collect();
    serve(move |req, _| {
        let path = req.path.clone();
        if let Some(p) = path.strip_prefix("/mr/") {
            return match mr.get(p) {
                Some(j) => ok(j.clone()),
                None => status(404),
            };
        }
        let Some(rest) = path.strip_prefix("/archive/") else {
            return status(404);
        };
        let mut parts = rest.splitn(3, '/');
        let (Some(archive), Some(ts), Some(tail)) = (parts.next(), parts.next(), parts.next())
        else {
            return status(404);
        };
        if let Some(t) = trees.get(ts) {
            return match t.get(&format!("{archive}/{tail}")) {
                Some(b) => file(req, b),
                None => status(404),
            };
        }
        match stamps.iter().rev().find(|s| **s <= ts) {
            Some(s) => redirect(&format!("/archive/{archive}/{s}/{tail}")),
            None => status(404),
        }
    })
}

fn tree(
    archive: &str,
    suite: &str,
    release: &str,
    files: &[(String, Vec<u8>)],
    inrelease: Option<Vec<u8>>,
) -> HashMap<String, Vec<u8>> {
    let mut m = HashMap::new();
    let base = format!("{archive}/dists/{suite}");
    m.insert(format!("{base}/Release"), release.as_bytes().to_vec());
    if let Some(ir) = inrelease {
        m.insert(format!("{base}/InRelease"), ir);
    }
    for (p, b) in files {
        m.insert(format!("{base}/{p}"), b.clone());
    }
    m
}

fn spec(suite: &str) -> SuiteSpec {
    SuiteSpec {
        archive: "debian".into(),
        suite: suite.into(),
        components: vec!["main".into()],
        architectures: vec!["amd64".into()],
        sources: true,
    }
}

#[test]
fn snapshot_resolves_timestamp_at_or_before_cutoff_and_verifies_chain() {
    let d = tempfile::tempdir().unwrap();
    let (key, keyring) = signing_key(d.path(), "archive");
    let (rel1, files1) = suite_files(
        "bullseye",
        "Thu, 01 Dec 2022 00:00:00 UTC",
        Some("Thu, 08 Dec 2022 00:00:00 UTC"),
        &[("hello", "2.10-2"), ("libmnl0", "1.0.4-3")],
    );
    let (rel2, files2) = suite_files(
        "bullseye",
        "Wed, 07 Dec 2022 00:00:00 UTC",
        Some("Wed, 14 Dec 2022 00:00:00 UTC"),
        &[("hello", "2.10-3"), ("libmnl0", "1.0.4-3")],
    );
    let srv = snapshot_server(
        vec![
            (
                "20221201T000000Z",
                tree(
                    "debian",
                    "bullseye",
                    &rel1,
                    &files1,
                    Some(clearsign(&key, &rel1)),
                ),
            ),
            (
                "20221207T000000Z",
                tree(
                    "debian",
                    "bullseye",
                    &rel2,
                    &files2,
                    Some(clearsign(&key, &rel2)),
                ),
            ),
        ],
        HashMap::new(),
    );
    let http = http_in(d.path(), fast_cfg());
    let kr = Keyring::load(&keyring).unwrap();
    let cutoff = Cutoff::parse("2022-12-06T08:47:31Z").unwrap();
    let loc = Location::Snapshot {
        base: srv.base.clone(),
    };
    let si = fetch_suite(&http, &loc, &spec("bullseye"), &cutoff, Some(&kr)).unwrap();
    assert_eq!(si.snapshot.as_deref(), Some("20221201T000000Z"));
    assert!(matches!(si.signature, SignatureStatus::Verified { .. }));
    assert!(
        si.warnings.iter().any(|w| w.contains("Valid-Until")),
        "{:?}",
        si.warnings
    );
    assert_eq!(si.indices.len(), 2);
    let p = String::from_utf8(si.indices[0].bytes.clone()).unwrap();
    assert!(p.contains("Version: 2.10-2") && !p.contains("2.10-3"));
    assert!(
        si.indices[0].url.ends_with(
            "/archive/debian/20221201T000000Z/dists/bullseye/main/binary-amd64/Packages.xz"
        ),
        "{}",
        si.indices[0].url
    );
    assert!(si.indices[1].url.ends_with("main/source/Sources.gz"));

    // A keyring without the archive key refuses the InRelease.
    let (_, other) = signing_key(d.path(), "stranger");
    let err = fetch_suite(
        &http_in(&d.path().join("b"), fast_cfg()),
        &loc,
        &spec("bullseye"),
        &cutoff,
        Some(&Keyring::load(&other).unwrap()),
    )
    .unwrap_err();
    assert!(err.to_string().contains("signature check failed"), "{err}");

    // Without a keyring it is read but reported.
    let si = fetch_suite(&http, &loc, &spec("bullseye"), &cutoff, None).unwrap();
    assert_eq!(si.signature, SignatureStatus::NotChecked);
    assert!(
        si.warnings
            .iter()
            .any(|w| w.contains("signature not checked"))
    );

    // A cutoff before every snapshot finds nothing.
    let early = Cutoff::parse("2022-11-01").unwrap();
    let err = fetch_suite(&http, &loc, &spec("bullseye"), &early, None).unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn packages_whose_hash_does_not_match_release_is_rejected() {
    let d = tempfile::tempdir().unwrap();
    let (rel, mut files) = suite_files(
        "bullseye",
        "Thu, 01 Dec 2022 00:00:00 UTC",
        None,
        &[("hello", "2.10-2")],
    );
    // Serve a different Packages.xz than the one the Release lists.
    let evil = xz(&packages(&[("hello", "6.66-6")]));
    for f in files.iter_mut() {
        if f.0 == "main/binary-amd64/Packages.xz" {
            f.1 = evil.clone();
        }
    }
    let srv = snapshot_server(
        vec![(
            "20221201T000000Z",
            tree("debian", "bullseye", &rel, &files, None),
        )],
        HashMap::new(),
    );
    let http = http_in(d.path(), fast_cfg());
    let cutoff = Cutoff::parse("2022-12-06").unwrap();
    let err = fetch_suite(
        &http,
        &Location::Snapshot {
            base: srv.base.clone(),
        },
        &spec("bullseye"),
        &cutoff,
        None,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, SourceError::HashMismatch { .. }), "{msg}");
    assert!(
        msg.contains("Packages.xz") && msg.contains("nothing was cached"),
        "{msg}"
    );
    assert!(!http.cache().has(&sha256(&evil)));
}

#[test]
fn decompressed_index_is_checked_against_release_too() {
    let d = tempfile::tempdir().unwrap();
    let (_, files) = suite_files(
        "bullseye",
        "Thu, 01 Dec 2022 00:00:00 UTC",
        None,
        &[("hello", "2.10-2")],
    );
    // The Release lists a plain Packages hash that does not match what the .xz holds.
    let mut listed = files.clone();
    listed[0].1 = packages(&[("other", "1")]);
    let rel = release_text("bullseye", "Thu, 01 Dec 2022 00:00:00 UTC", None, &listed);
    let srv = snapshot_server(
        vec![(
            "20221201T000000Z",
            tree("debian", "bullseye", &rel, &files, None),
        )],
        HashMap::new(),
    );
    let http = http_in(d.path(), fast_cfg());
    let err = fetch_suite(
        &http,
        &Location::Snapshot {
            base: srv.base.clone(),
        },
        &spec("bullseye"),
        &Cutoff::parse("2022-12-06").unwrap(),
        None,
    )
    .unwrap_err();
    assert!(err.to_string().contains("decompressed"), "{err}");
}

#[test]
fn plain_mirror_layout_and_date_warning() {
    let d = tempfile::tempdir().unwrap();
    let (rel, files) = suite_files(
        "bullseye",
        "Sat, 09 Aug 2025 09:16:30 UTC",
        None,
        &[("hello", "2.10-2")],
    );
    let mut m = HashMap::new();
    for (k, v) in tree("debian", "bullseye", &rel, &files, None) {
        m.insert(format!("/{k}"), v);
    }
    let srv = site(m);
    let http = http_in(d.path(), fast_cfg());
    let si = fetch_suite(
        &http,
        &Location::Mirror {
            base: srv.base.clone(),
        },
        &spec("bullseye"),
        &Cutoff::parse("2022-12-06").unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(si.snapshot, None);
    assert!(
        si.warnings.iter().any(|w| w.contains("after the cutoff")),
        "{:?}",
        si.warnings
    );
    // InRelease was absent: the Release fallback was used.
    assert_eq!(srv.hits("/debian/dists/bullseye/InRelease"), 1);
    assert_eq!(srv.hits("/debian/dists/bullseye/Release"), 1);
    // Offline, the same suite comes from the cache alone.
    let off = http_in(
        d.path(),
        HttpConfig {
            offline: true,
            ..fast_cfg()
        },
    );
    let si2 = fetch_suite(
        &off,
        &Location::Mirror {
            base: srv.base.clone(),
        },
        &spec("bullseye"),
        &Cutoff::parse("2022-12-06").unwrap(),
        None,
    )
    .unwrap();
    assert_eq!(si2.indices[0].bytes, si.indices[0].bytes);
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs the real bullseye data (SONIC_LOCK_BULLSEYE_DIR); runs under CI or with --include-ignored"
)]
fn real_bullseye_release_chain_from_a_mirror() {
    let dir = std::env::var_os("SONIC_LOCK_BULLSEYE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/data/debian/bullseye"
            )
            .into()
        });
    let dir = dir.as_path();
    if !dir.join("InRelease").exists() || !dir.join("main/binary-amd64/Packages.xz").exists() {
        crate::common::skip::skip_or_fail(&format!(
            "real bullseye data absent at {} (set SONIC_LOCK_BULLSEYE_DIR)",
            dir.display()
        ));
        return;
    }
    let mut m = HashMap::new();
    m.insert(
        "/debian/dists/bullseye/InRelease".to_string(),
        std::fs::read(dir.join("InRelease")).unwrap(),
    );
    m.insert(
        "/debian/dists/bullseye/main/binary-amd64/Packages.xz".to_string(),
        std::fs::read(dir.join("main/binary-amd64/Packages.xz")).unwrap(),
    );
    let srv = site(m);
    let d = tempfile::tempdir().unwrap();
    let http = http_in(d.path(), fast_cfg());
    let keyring = Path::new("/usr/share/keyrings/debian-archive-keyring.gpg");
    let kr = keyring.exists().then(|| Keyring::load(keyring).unwrap());
    let mut s = spec("bullseye");
    s.sources = false;
    let si = fetch_suite(
        &http,
        &Location::Mirror {
            base: srv.base.clone(),
        },
        &s,
        &Cutoff::parse("2025-09-01").unwrap(),
        kr.as_ref(),
    )
    .unwrap();
    assert_eq!(si.indices.len(), 1);
    let text = &si.indices[0].bytes;
    let stanzas = text.windows(10).filter(|w| w == b"\nPackage: ").count() + 1;
    assert_eq!(stanzas, 58_657);
    if kr.is_some() {
        assert!(matches!(si.signature, SignatureStatus::Verified { .. }));
    }
}

// ---------------------------------------------------------------- /mr/ and web

fn mr_fixture() -> HashMap<String, String> {
    let mut mr = HashMap::new();
    mr.insert(
        "binary/hello/".into(),
        r#"{"_comment":"foo","binary":"hello","result":[{"binary_version":"2.10-3","name":"hello","source":"hello","version":"2.10-3"},{"binary_version":"2.10-2","name":"hello","source":"hello","version":"2.10-2"}]}"#.into(),
    );
    mr.insert(
        "binary/hello/2.10-2/binfiles?fileinfo=1".into(),
        r#"{"binary":"hello","binary_version":"2.10-2","fileinfo":{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa":[{"archive_name":"debian","first_seen":"20190101T000000Z","name":"hello_2.10-2_amd64.deb","path":"/pool/main/h/hello","size":5}]},"result":[{"architecture":"amd64","hash":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}]}"#.into(),
    );
    mr.insert(
        "binary/hello/2.10-3/binfiles?fileinfo=1".into(),
        r#"{"binary":"hello","binary_version":"2.10-3","fileinfo":{"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb":[{"archive_name":"debian","first_seen":"20230101T000000Z","name":"hello_2.10-3_amd64.deb","path":"/pool/main/h/hello","size":5}]},"result":[{"architecture":"amd64","hash":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}]}"#.into(),
    );
    mr
}

#[test]
fn mr_binary_history_as_of_cutoff() {
    let srv = snapshot_server(vec![], mr_fixture());
    let d = tempfile::tempdir().unwrap();
    let http = http_in(d.path(), fast_cfg());
    let src = sonic_lock::source::debian::mr::MrBinaries {
        mr: sonic_lock::source::debian::mr::Mr::new(&http, &srv.base),
        arch: "amd64".into(),
    };
    let h = src
        .history("hello", &Cutoff::parse("2022-12-06").unwrap())
        .unwrap();
    assert_eq!(h.versions.len(), 1);
    assert_eq!(h.versions[0].version, "2.10-2");
    assert_eq!(
        h.versions[0].published.as_deref(),
        Some("2019-01-01T00:00:00Z")
    );
    assert_eq!(h.later, 1);
    assert!(
        src.history("../etc", &Cutoff::parse("2022-12-06").unwrap())
            .is_err()
    );
}

#[test]
fn debian_pool_url_is_pinned_to_snapshot_with_hashes() {
    use sha1::Digest;
    let dsc = b"Format: 3.0 (quilt)\nSource: isc-dhcp\n".to_vec();
    let sha1 = hex::encode(sha1::Sha1::digest(&dsc));
    let mut mr = HashMap::new();
    mr.insert(
        "package/isc-dhcp/".into(),
        r#"{"package":"isc-dhcp","result":[{"version":"4.4.1-2.3"},{"version":"4.4.1-2.1"}]}"#
            .into(),
    );
    mr.insert(
        "package/isc-dhcp/4.4.1-2.3/srcfiles?fileinfo=1".into(),
        format!(r#"{{"fileinfo":{{"{sha1}":[{{"archive_name":"debian","first_seen":"20210101T000000Z","name":"isc-dhcp_4.4.1-2.3.dsc","path":"/pool/main/i/isc-dhcp","size":{}}}]}},"package":"isc-dhcp","version":"4.4.1-2.3","result":[{{"hash":"{sha1}"}}]}}"#, dsc.len()),
    );
    let mut t = HashMap::new();
    t.insert(
        "debian/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc".to_string(),
        dsc.clone(),
    );
    let srv = snapshot_server(vec![("20210101T000000Z", t)], mr);
    let d = tempfile::tempdir().unwrap();
    let http = http_in(d.path(), fast_cfg());
    let cache = Cache::open(&d.path().join("cache")).unwrap();
    let git = sonic_lock::source::git::GitSource::new(&cache, false);
    let cfg = sonic_lock::source::web::WebConfig {
        snapshot: srv.base.clone(),
        ..Default::default()
    };
    let pin = sonic_lock::source::web::pin(
        &http,
        &git,
        &cfg,
        "http://deb.debian.org/debian/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc",
        &Cutoff::parse("2022-12-06").unwrap(),
    )
    .unwrap();
    assert_eq!(
        pin.immutable_url,
        srv.url("/archive/debian/20210101T000000Z/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc")
    );
    assert_eq!(pin.md5, sonic_lock::fsio::md5_hex(&dsc));
    assert_eq!(pin.sha256, sha256(&dsc));
    // Before the file first appeared, there is nothing to pin.
    let err = sonic_lock::source::web::pin(
        &http,
        &git,
        &cfg,
        "http://deb.debian.org/debian/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc",
        &Cutoff::parse("2020-06-01").unwrap(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("after the cutoff"), "{err}");
}

// ---------------------------------------------------------------- PyPI

fn pypi_server() -> Server {
    let meta = b"Metadata-Version: 2.1\nName: demo\nVersion: 2.0\nRequires-Dist: lxml (>=4.6)\nRequires-Dist: pyyaml ; extra == 'yaml'\nRequires-Python: >=3.7\n\nLong description.\n".to_vec();
    let meta_sha = sha256(&meta);
    let simple = format!(
        r#"{{"meta":{{"api-version":"1.1"}},"name":"demo","versions":["1.0","2.0","2.5","3.0"],"files":[
 {{"filename":"demo-1.0.tar.gz","url":"../../files/demo-1.0.tar.gz","hashes":{{"sha256":"{h1}"}},"upload-time":"2020-01-01T00:00:00.000000Z","yanked":false}},
 {{"filename":"demo-2.0-py3-none-any.whl","url":"/files/demo-2.0-py3-none-any.whl","hashes":{{"sha256":"{h2}"}},"requires-python":">=3.7","upload-time":"2021-06-01T10:00:00.123456Z","yanked":false,"core-metadata":{{"sha256":"{meta_sha}"}}}},
 {{"filename":"demo-2.0.tar.gz","url":"/files/demo-2.0.tar.gz","hashes":{{"sha256":"{h3}"}},"upload-time":"2021-06-01T10:00:01Z","yanked":"broken sdist"}},
 {{"filename":"demo-2.5.tar.gz","url":"/files/demo-2.5.tar.gz","hashes":{{}},"upload-time":"2021-07-01T00:00:00Z","yanked":true}},
 {{"filename":"demo-3.0.tar.gz","url":"/files/demo-3.0.tar.gz","hashes":{{}},"upload-time":"2023-01-01T00:00:00Z"}}
]}}"#,
        h1 = sha256(b"1"),
        h2 = sha256(b"2"),
        h3 = sha256(b"3"),
    );
    let legacy = r#"{"info":{"requires_dist":null},"releases":{"0.9":[{"filename":"old-0.9.tar.gz","url":"https://files.example/old-0.9.tar.gz","digests":{"sha256":"00"},"upload_time_iso_8601":"2015-01-01T00:00:00.000000Z","yanked":false}],"1.1":[{"filename":"old-1.1.tar.gz","url":"https://files.example/old-1.1.tar.gz","digests":{},"upload_time":"2024-01-01T00:00:00","yanked":false}]}}"#.to_string();
    let old_simple = r#"{"meta":{"api-version":"1.0"},"name":"old","files":[{"filename":"old-0.9.tar.gz","url":"https://files.example/old-0.9.tar.gz","hashes":{}}]}"#.to_string();
    let bad_meta = b"Name: bad\nRequires-Dist: lxml >=>= 1\n".to_vec();
    serve(move |req, _| {
        let json_ok = req
            .accept
            .as_deref()
            .is_some_and(|a| a.contains("application/vnd.pypi.simple.v1+json"));
        match req.path.as_str() {
            "/simple/demo/" if json_ok => ok(simple.clone()),
            "/simple/old/" if json_ok => ok(old_simple.clone()),
            "/simple/demo/" | "/simple/old/" => ok("<html>simple HTML</html>"),
            "/pypi/old/json" => ok(legacy.clone()),
            "/files/demo-2.0-py3-none-any.whl.metadata" => ok(meta.clone()),
            "/files/tampered.whl.metadata" => ok(bad_meta.clone()),
            _ => status(404),
        }
    })
}

#[test]
fn pypi_versions_as_of_cutoff_skip_yanked_and_later() {
    let srv = pypi_server();
    let d = tempfile::tempdir().unwrap();
    let pypi =
        sonic_lock::source::pypi::PyPi::new(Arc::new(http_in(d.path(), fast_cfg())), &srv.base);
    let cutoff = Cutoff::parse("2022-12-06").unwrap();
    let (vs, later, notes) = pypi.versions_at("Demo", &cutoff).unwrap();
    let names: Vec<&str> = vs.iter().map(|v| v.version.as_str()).collect();
    assert_eq!(names, ["1.0", "2.0"]);
    assert_eq!(later, 1);
    assert!(notes.iter().any(|n| n.contains("2.5")), "{notes:?}");
    // The yanked sdist of 2.0 is not offered; the wheel is.
    assert_eq!(vs[1].files.len(), 1);
    assert_eq!(vs[1].requires_python.as_deref(), Some(">=3.7"));
    // Relative file URLs resolve against the page.
    assert_eq!(vs[0].files[0].url, srv.url("/files/demo-1.0.tar.gz"));
    let m = pypi.metadata("demo", &vs[1]).unwrap();
    assert_eq!(
        m.requires_dist,
        ["lxml (>=4.6)", "pyyaml ; extra == 'yaml'"]
    );
    // A cutoff before anything: no versions.
    let (none, later, _) = pypi
        .versions_at("demo", &Cutoff::parse("2019-01-01").unwrap())
        .unwrap();
    assert!(none.is_empty());
    assert_eq!(later, 2);
    let mut h = pypi.history("demo", &cutoff).unwrap();
    assert_eq!(h.versions.len(), 2);
    pypi.enrich(&mut h, &cutoff, 1, &[]).unwrap();
    assert_eq!(h.versions[0].requires, None, "only the newest is read");
    assert_eq!(
        h.versions[1].requires.as_deref().unwrap(),
        ["lxml (>=4.6)", "pyyaml ; extra == 'yaml'"]
    );
    assert_eq!(h.versions[1].requires_python.as_deref(), Some(">=3.7"));
}

#[test]
fn pypi_metadata_hash_mismatch_is_an_error() {
    let srv = pypi_server();
    let d = tempfile::tempdir().unwrap();
    let pypi =
        sonic_lock::source::pypi::PyPi::new(Arc::new(http_in(d.path(), fast_cfg())), &srv.base);
    let v = sonic_lock::source::pypi::PyVersion {
        version: "9".into(),
        first_upload: String::new(),
        requires_python: None,
        files: vec![sonic_lock::source::pypi::PyFile {
            filename: "tampered.whl".into(),
            version: "9".into(),
            url: srv.url("/files/tampered.whl"),
            sha256: None,
            upload_time: None,
            requires_python: None,
            yanked: false,
            core_metadata: Some(Some(sha256(b"something else"))),
        }],
    };
    let err = pypi.metadata("demo", &v).unwrap_err();
    assert!(matches!(err, SourceError::HashMismatch { .. }), "{err}");
    // Without a hash to check, a malformed Requires-Dist is reported with its line.
    let mut v2 = v.clone();
    v2.files[0].core_metadata = Some(None);
    let err = pypi.metadata("demo", &v2).unwrap_err().to_string();
    assert!(
        err.contains("tampered.whl.metadata:2") && err.contains("Requires-Dist"),
        "{err}"
    );
}

#[test]
fn pypi_falls_back_to_json_api_without_upload_times() {
    let srv = pypi_server();
    let d = tempfile::tempdir().unwrap();
    let pypi =
        sonic_lock::source::pypi::PyPi::new(Arc::new(http_in(d.path(), fast_cfg())), &srv.base);
    let (vs, later, _) = pypi
        .versions_at("old", &Cutoff::parse("2022-12-06").unwrap())
        .unwrap();
    assert_eq!(
        vs.iter().map(|v| v.version.as_str()).collect::<Vec<_>>(),
        ["0.9"]
    );
    assert_eq!(later, 1);
    assert_eq!(srv.hits("/pypi/old/json"), 1);
    assert!(
        pypi.versions_at("../etc", &Cutoff::parse("2022-12-06").unwrap())
            .is_err()
    );
}

// ---------------------------------------------------------------- Go proxy

#[test]
fn go_proxy_versions_as_of_cutoff() {
    let srv = serve(|req, _| match req.path.as_str() {
        "/github.com/!azure/go-autorest/@v/list" => ok("v0.1.0\nv0.2.0\nv1.0.0\n"),
        "/github.com/!azure/go-autorest/@v/v0.1.0.info" => {
            ok(r#"{"Version":"v0.1.0","Time":"2019-03-01T10:00:00Z"}"#)
        }
        "/github.com/!azure/go-autorest/@v/v0.2.0.info" => {
            ok(r#"{"Version":"v0.2.0","Time":"2021-03-01T10:00:00Z"}"#)
        }
        "/github.com/!azure/go-autorest/@v/v1.0.0.info" => {
            ok(r#"{"Version":"v1.0.0","Time":"2023-03-01T10:00:00Z"}"#)
        }
        _ => Reply::Body {
            status: 410,
            body: b"not found: unknown module".to_vec(),
            headers: vec![],
        },
    });
    let d = tempfile::tempdir().unwrap();
    let go =
        sonic_lock::source::go::GoProxy::new(Arc::new(http_in(d.path(), fast_cfg())), &srv.base);
    let h = go
        .history(
            "github.com/Azure/go-autorest",
            &Cutoff::parse("2022-12-06").unwrap(),
        )
        .unwrap();
    assert_eq!(
        h.versions
            .iter()
            .map(|v| v.version.as_str())
            .collect::<Vec<_>>(),
        ["v0.1.0", "v0.2.0"]
    );
    assert_eq!(h.later, 1);
    assert_eq!(
        h.versions[1].published.as_deref(),
        Some("2021-03-01T10:00:00Z")
    );
    let none = go
        .history("example.com/nothing", &Cutoff::parse("2022-12-06").unwrap())
        .unwrap();
    assert!(none.versions.is_empty());
}
