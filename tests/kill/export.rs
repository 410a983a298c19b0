//! `export` killed mid-way: every version file is old or new, never cut, and
//! the next export writes the same tree as an uninterrupted one and removes
//! the staging files of the killed run.

use super::common::sonic_lock;
use super::{kill_at_random, seeds, tree};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// A lock with many images, so that an export writes hundreds of files.
fn big_lock(version: &str) -> String {
    let mut s = String::from(
        "version = 1\nplatform = \"p\"\ncommit = \"586d715f172b1b72e9fc1e7b55625e2e5af590c2\"\ncutoff = \"2022-12-06\"\ntool = \"sonic-lock 0.1.0\"\n",
    );
    for image in 0..60 {
        for pkg in 0..20 {
            let _ = write!(
                s,
                "\n[[pin]]\necosystem = \"deb\"\nname = \"lib{pkg}x\"\nversion = \"{version}\"\nimage = \"docker-i{image}\"\nsuite = \"bullseye\"\narch = \"amd64\"\n"
            );
            let _ = write!(
                s,
                "\n[[pin]]\necosystem = \"py\"\nname = \"py{pkg}x\"\nversion = \"{version}\"\nimage = \"docker-i{image}\"\npython = \"py3\"\n"
            );
        }
    }
    s
}

fn export(lock: &std::path::Path, out: &std::path::Path) -> std::process::Command {
    let mut c = sonic_lock();
    c.args(["--quiet", "export", "--format", "sonic-versions", "--lock"])
        .arg(lock)
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    c
}

#[test]
fn a_killed_export_leaves_old_or_new_files_and_the_rerun_finishes_it() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.lock");
    let new = dir.path().join("new.lock");
    std::fs::write(&old, big_lock("1.0")).unwrap();
    std::fs::write(&new, big_lock("2.0")).unwrap();
    // The answer, and how long an export takes here.
    let clean = dir.path().join("clean");
    let start = Instant::now();
    assert!(export(&new, &clean).status().unwrap().success());
    let typical = start.elapsed().max(Duration::from_millis(20));
    let want = tree(&clean);
    let old_tree = {
        let p = dir.path().join("clean-old");
        assert!(export(&old, &p).status().unwrap().success());
        tree(&p)
    };
    let mut killed = 0;
    for seed in 0..seeds() {
        let out = dir.path().join(format!("out{seed}"));
        assert!(export(&old, &out).status().unwrap().success());
        killed += usize::from(kill_at_random(&mut export(&new, &out), typical, seed));
        // Between the runs: each version file is wholly old or wholly new.
        for (rel, bytes) in tree(&out) {
            let name = rel.rsplit('/').next().unwrap_or("");
            if sonic_lock::fsio::staged_owner(name).is_some() {
                continue;
            }
            assert!(
                want.get(&rel) == Some(&bytes) || old_tree.get(&rel) == Some(&bytes),
                "seed {seed}: {rel} is neither the old nor the new file"
            );
        }
        assert!(export(&new, &out).status().unwrap().success());
        assert_eq!(
            tree(&out),
            want,
            "seed {seed}: the rerun differs from a clean export"
        );
    }
    eprintln!(
        "{killed} of {} exports were killed before they finished",
        seeds()
    );
}
