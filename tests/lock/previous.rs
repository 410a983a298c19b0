//! `sonic-lock lock --previous LOCK` (the pipeline's third level, a solve
//! near a previous lock): of two versions the sources offer, the candidate
//! keeps the previous lock's (or, when that one is gone, the closest to it),
//! and without a previous lock takes the newest; for Debian and Python pins.

use crate::common::loopback::{self, Server, file, serve, status, suite_files};
use crate::common::world::{registry, setup};
use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};

/// A plain mirror with hello 1.0-1 in bullseye and 2.0-1 in bullseye-updates,
/// and a PyPI with demo 1.0 and 2.0.
fn mirror() -> Server {
    let mut site: HashMap<String, Vec<u8>> = HashMap::new();
    let date = "Thu, 10 Nov 2022 00:00:00 UTC";
    for (suite, pkgs) in [
        (
            "bullseye",
            &[
                ("hello", "1.0-1"),
                ("libmnl0", "1.0.4-2"),
                ("libc6", "2.31-13"),
            ][..],
        ),
        ("bullseye-updates", &[("hello", "2.0-1")][..]),
    ] {
        let (rel, files) = suite_files(suite, date, None, pkgs);
        let base = format!("/debian/dists/{suite}");
        site.insert(format!("{base}/Release"), rel.into_bytes());
        for (p, b) in files {
            site.insert(format!("{base}/{p}"), b);
        }
    }
    let files: Vec<String> = ["1.0", "2.0"]
        .iter()
        .map(|v| {
            format!(
                r#"{{"filename":"demo-{v}.tar.gz","url":"/files/demo-{v}.tar.gz","hashes":{{"sha256":"{}"}},"upload-time":"2020-01-0{}T00:00:00Z"}}"#,
                loopback::sha256(format!("demo-{v}").as_bytes()),
                if *v == "1.0" { 1 } else { 2 }
            )
        })
        .collect();
    site.insert(
        "/simple/demo/".into(),
        format!(
            r#"{{"meta":{{"api-version":"1.1"}},"name":"demo","files":[{}]}}"#,
            files.join(",")
        )
        .into_bytes(),
    );
    serve(move |req, _| match site.get(&req.path) {
        Some(b) => file(req, b),
        None => status(404),
    })
}

fn lock(dir: &Path, srv: &Server, reg: &Server, out: &str, extra: &[&str]) -> Output {
    let p = |rel: &str| dir.join(rel).display().to_string();
    Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args(["--quiet", "lock", "--platform", "testbox"])
        .args(["--platforms-dir", &p("platforms")])
        .args(["--sonic-repo", &p("repo.git")])
        .args(["--suite", "bullseye", "--suite", "bullseye-updates"])
        .args(["--mirror", &srv.base, "--allow-unsigned"])
        .args(["--pypi-url", &srv.base])
        .args(["--github-url", &srv.base])
        .args(["--docker-registry", &reg.base])
        .args(["--retries", "1", "--cache", &p("cache")])
        .args(["--date", "2022-11-19T00:00:00Z"])
        .args(["--lockfiles", &p(out)])
        .args(extra)
        .output()
        .unwrap()
}

/// [`lock`], which must succeed.
fn lock_ok(dir: &Path, srv: &Server, reg: &Server, out: &str, extra: &[&str]) {
    let o = lock(dir, srv, reg, out, extra);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn version(dir: &Path, lockfile: &str, name: &str) -> String {
    let l = sonic_lock::lock::Lock::read(&dir.join(lockfile)).unwrap();
    let pin = l.pins.iter().find(|p| p.name == name).unwrap();
    pin.version.clone()
}

fn hello(dir: &Path, lockfile: &str) -> String {
    version(dir, lockfile, "hello")
}

/// `lock` with its lock's `name` pins set to `version`, written to `to`.
fn with_version(dir: &Path, lockfile: &str, name: &str, version: &str, to: &str) {
    let mut l = sonic_lock::lock::Lock::read(&dir.join(lockfile)).unwrap();
    for p in l.pins.iter_mut().filter(|p| p.name == name) {
        p.version = version.to_string();
    }
    l.write(&dir.join(to)).unwrap();
}

#[test]
fn a_previous_lock_keeps_its_pins_where_the_sources_allow() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let srv = mirror();
    let reg = registry();
    lock_ok(d, &srv, &reg, "newest", &[]);
    assert_eq!(hello(d, "newest/testbox.lock"), "2.0-1");

    // Last night's lock had hello 1.0-1, which bullseye still offers.
    let text = std::fs::read_to_string(d.join("newest/testbox.lock")).unwrap();
    std::fs::write(
        d.join("previous.lock"),
        text.replace("version = \"2.0-1\"", "version = \"1.0-1\""),
    )
    .unwrap();
    let previous = d.join("previous.lock").display().to_string();
    lock_ok(d, &srv, &reg, "near", &["--previous", &previous]);
    assert_eq!(hello(d, "near/testbox.lock"), "1.0-1");

    // A previous version the sources no longer offer gives way to the one
    // closest to it: 2.1-1 is gone, 2.0-1 is nearer than 1.0-1.
    std::fs::write(
        d.join("previous.lock"),
        text.replace("version = \"2.0-1\"", "version = \"2.1-1\""),
    )
    .unwrap();
    lock_ok(d, &srv, &reg, "gone", &["--previous", &previous]);
    assert_eq!(hello(d, "gone/testbox.lock"), "2.0-1");
}

#[test]
fn a_previous_lock_keeps_its_python_pins_as_sonics_version_files_do() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let srv = mirror();
    let reg = registry();
    lock_ok(d, &srv, &reg, "newest", &[]);
    assert_eq!(version(d, "newest/testbox.lock", "demo"), "2.0");

    // demo 1.0 was pinned before 2.0 appeared; the re-lock keeps it.
    with_version(d, "newest/testbox.lock", "demo", "1.0", "previous.lock");
    let previous = d.join("previous.lock").display().to_string();
    lock_ok(d, &srv, &reg, "near", &["--previous", &previous]);
    assert_eq!(version(d, "near/testbox.lock", "demo"), "1.0");
    assert_eq!(hello(d, "near/testbox.lock"), "2.0-1");
}
