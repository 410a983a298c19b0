//! `index` killed mid-fetch against a slow loopback archive and PyPI: the
//! cache it leaves holds no corrupt entry (`cache verify` is clean), the
//! rerun with that cache succeeds and writes what an uninterrupted run
//! writes, and leaves no staging or partial file behind.

use super::common::loopback::{self, Reply, Server, file, serve, suite_files};
use super::common::{sonic_lock, text};
use super::{kill_at_random, seeds};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A snapshot archive with a few thousand packages and a PyPI with two
/// projects; index files and project pages trickle in, everything else
/// answers after a pause, so a kill lands inside a download.
fn services() -> Server {
    let names: Vec<(String, String)> = (0..3000)
        .map(|i| (format!("pkg{i:04}"), format!("1.{i}-1")))
        .chain([
            ("hello".to_string(), "2.10-2".to_string()),
            ("libmnl0".to_string(), "1.0.4-3".to_string()),
        ])
        .collect();
    let pkgs: Vec<(&str, &str)> = names
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let (rel, files) = suite_files("bullseye", "Thu, 01 Dec 2022 00:00:00 UTC", None, &pkgs);
    let mut site: HashMap<String, Vec<u8>> = HashMap::new();
    let base = "/archive/debian/20221201T000000Z/dists/bullseye";
    site.insert(format!("{base}/Release"), rel.into_bytes());
    for (p, b) in files {
        site.insert(format!("{base}/{p}"), b);
    }
    for project in ["demo", "other"] {
        let files: Vec<String> = [("1.0", "2020-01-01"), ("2.0", "2022-11-15")]
            .iter()
            .map(|(v, day)| {
                format!(
                    r#"{{"filename":"{project}-{v}.tar.gz","url":"/files/{project}-{v}.tar.gz","hashes":{{"sha256":"{}"}},"upload-time":"{day}T00:00:00Z"}}"#,
                    loopback::sha256(format!("{project}-{v}").as_bytes())
                )
            })
            .collect();
        site.insert(
            format!("/simple/{project}/"),
            format!(
                r#"{{"meta":{{"api-version":"1.1"}},"name":"{project}","files":[{}]}}"#,
                files.join(",")
            )
            .into_bytes(),
        );
    }
    serve(move |req, _| {
        let path = req.path.as_str();
        // Timestamps after the only snapshot redirect to it.
        if let Some(tail) = path.strip_prefix("/archive/debian/")
            && let Some((ts, rest)) = tail.split_once('/')
            && ts != "20221201T000000Z"
        {
            return if ts > "20221201T000000Z" {
                loopback::redirect(&format!("/archive/debian/20221201T000000Z/{rest}"))
            } else {
                loopback::status(404)
            };
        }
        let Some(body) = site.get(path) else {
            return loopback::status(404);
        };
        let slow =
            path.contains("/Packages") || path.contains("/Sources") || path.starts_with("/simple/");
        if slow && req.range.is_none() {
            return Reply::Trickle {
                body: body.clone(),
                pieces: 8,
                pause: Duration::from_millis(25),
            };
        }
        std::thread::sleep(Duration::from_millis(10));
        file(req, body)
    })
}

fn manifest(dir: &Path) -> std::path::PathBuf {
    let dep = |eco: &str, name: &str, line: u32, suite: bool| {
        let ctx = if suite {
            r#"{"suite":"bullseye"}"#
        } else {
            "{}"
        };
        format!(
            r#"{{"ecosystem":"{eco}","name":"{name}","constraint":{{"kind":"none"}},"pinned":false,"origin":{{"file":"rules/x.mk","line":{line}}},"context":{ctx}}}"#
        )
    };
    let deps = [
        dep("deb", "hello", 1, true),
        dep("deb", "libmnl0", 2, true),
        dep("deb-src", "hello", 3, true),
        dep("py", "demo", 4, false),
        dep("py", "other", 5, false),
    ];
    let p = dir.join("manifest.json");
    std::fs::write(
        &p,
        format!(
            r#"{{"schema_version":1,"platform":"wedge100bf-32x","commit":"586d715f172b1b72e9fc1e7b55625e2e5af590c2","commit_date":"2022-12-06T08:47:31Z","dependencies":[{}],"diagnostics":[]}}"#,
            deps.join(",")
        ),
    )
    .unwrap();
    p
}

fn index(srv: &Server, m: &Path, cache: &Path, out: &Path) -> Command {
    let mut c = sonic_lock();
    c.args([
        "--quiet",
        "index",
        "--platform",
        "wedge100bf-32x",
        "--manifest",
    ])
    .arg(m)
    .args(["--suite", "bullseye", "--allow-unsigned", "--retries", "1"])
    .args([
        "--snapshot-url",
        &srv.base,
        "--pypi-url",
        &srv.base,
        "--goproxy",
        &srv.base,
    ])
    .arg("--cache")
    .arg(cache)
    .arg("--out")
    .arg(out.join("index.json"))
    .arg("--universe")
    .arg(out.join("universe.json"))
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    c
}

/// `cache verify` on `cache`: its exit code and what it said.
fn verify(cache: &Path) -> (Option<i32>, String) {
    let o = sonic_lock()
        .args(["cache", "--cache"])
        .arg(cache)
        .arg("verify")
        .output()
        .unwrap();
    (o.status.code(), text(&o))
}

/// Staging files of any run, and downloads left half-done, under `cache`.
fn leftovers(cache: &Path) -> Vec<String> {
    super::tree(cache)
        .into_keys()
        .filter(|rel| {
            let name = rel.rsplit('/').next().unwrap_or("");
            rel.starts_with("partial/") || sonic_lock::fsio::staged_owner(name).is_some()
        })
        .collect()
}

/// The outputs of a run, with the cache's path (which differs per run) taken out.
fn outputs(out: &Path, cache: &Path) -> (String, Vec<u8>) {
    let report = std::fs::read_to_string(out.join("index.json"))
        .unwrap_or_default()
        .replace(&cache.display().to_string(), "<cache>");
    (
        report,
        std::fs::read(out.join("universe.json")).unwrap_or_default(),
    )
}

#[test]
fn a_killed_index_leaves_a_sound_cache_and_the_rerun_gives_the_same_answer() {
    let root = tempfile::tempdir().unwrap();
    let srv = services();
    let m = manifest(root.path());
    // The answer, and how long a run takes here.
    let (cache, out) = (root.path().join("clean-cache"), root.path().join("clean"));
    let clean_cache = cache.clone();
    std::fs::create_dir_all(&out).unwrap();
    let start = Instant::now();
    let o = index(&srv, &m, &cache, &out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let typical = start.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let want = outputs(&out, &cache);
    assert!(want.0.contains("\"versions\": 3002"), "{}", want.0);
    let mut partial_seen = 0;
    for seed in 0..seeds() {
        let cache = root.path().join(format!("cache{seed}"));
        let out = root.path().join(format!("out{seed}"));
        std::fs::create_dir_all(&out).unwrap();
        kill_at_random(&mut index(&srv, &m, &cache, &out), typical, seed);
        partial_seen += usize::from(leftovers(&cache).iter().any(|p| p.starts_with("partial/")));
        // The outputs are whole or absent.
        let (report, universe) = outputs(&out, &cache);
        assert!(
            report.is_empty() || serde_json::from_str::<serde_json::Value>(&report).is_ok(),
            "seed {seed}: a half-written index report"
        );
        assert!(
            universe.is_empty() || universe == want.1,
            "seed {seed}: a half-written universe"
        );
        // Nothing in the cache is corrupt.
        let (code, said) = verify(&cache);
        assert_eq!(code, Some(0), "seed {seed}: {said}");
        let o = index(&srv, &m, &cache, &out)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "seed {seed}: {}", text(&o));
        assert!(
            !String::from_utf8_lossy(&o.stderr).contains("corrupt"),
            "seed {seed}: {}",
            text(&o)
        );
        assert_eq!(
            outputs(&out, &cache),
            want,
            "seed {seed}: the rerun differs"
        );
        let (code, said) = verify(&cache);
        assert_eq!(code, Some(0), "seed {seed}: {said}");
        assert_eq!(leftovers(&cache), Vec::<String>::new(), "seed {seed}");
    }
    // And `cache verify` does see a corrupt blob: named, removed, exit 1.
    let cache = clean_cache;
    let blob = super::tree(&cache)
        .into_keys()
        .find(|rel| rel.starts_with("blobs/"))
        .expect("the clean run cached blobs");
    std::fs::write(cache.join(&blob), b"not what it was").unwrap();
    let (code, said) = verify(&cache);
    assert_eq!(code, Some(1), "{said}");
    assert!(
        said.contains(blob.rsplit('/').next().unwrap_or("?")),
        "{said}"
    );
    assert_eq!(verify(&cache).0, Some(0));
    eprintln!(
        "{partial_seen} of {} killed index runs left a download half-done",
        seeds()
    );
}
