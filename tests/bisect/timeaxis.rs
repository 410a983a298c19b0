//! `sonic-lock bisect --good-date D1 --bad-date D2 --platform P --sonic-repo R`:
//! the lock pipeline runs in-process for each probed timestamp (one crawl, then
//! index + solve as of the timestamp, through one cache) against a loopback
//! snapshot archive with four snapshots and a PyPI; the timestamps are bisected
//! first, then the package changes between the two nearest snapshots.

use crate::common::loopback::Server;
use crate::common::world::{archive, registry, setup};
use std::path::Path;
use std::process::{Command, Output};

/// The builder: the build breaks with hello 2.0-1 in the slave.
const BUILD: &str = "echo building; if grep -rqx 'hello==2.0-1' \"$SONIC_LOCK_VERSIONS_DIR\"; then echo 'foo.h: No such file' >&2; exit 1; fi; echo built";

fn bisect(dir: &Path, srv: &Server, reg: &Server, state: &str, extra: &[&str]) -> Output {
    let p = |rel: &str| dir.join(rel).display().to_string();
    Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args(["--quiet", "--json", "bisect", "--platform", "testbox"])
        .args(["--platforms-dir", &p("platforms")])
        .args(["--sonic-repo", &p("repo.git")])
        .args(["--suite", "bullseye"])
        .args(["--snapshot-url", &srv.base, "--allow-unsigned"])
        .args(["--pypi-url", &srv.base])
        .args(["--github-url", &srv.base])
        .args(["--docker-registry", &reg.base])
        .args(["--retries", "1", "--cache", &p("cache")])
        .args(["--good-date", "2022-11-01", "--bad-date", "2022-12-01"])
        .args(["--step-hours", "24"])
        .args([
            "--state-dir",
            &p(state),
            "--report",
            &p(&format!("{state}-report")),
        ])
        .args(extra)
        .args(["--builder", "command", "--", "sh", "-c", BUILD])
        .output()
        .unwrap()
}

fn ceil_log2(n: usize) -> usize {
    (usize::BITS - (n - 1).leading_zeros()) as usize
}

#[test]
fn dates_are_bisected_with_the_built_in_lock_pipeline_then_the_changes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let srv = archive();
    let reg = registry();
    let out = bisect(d, &srv, &reg, "state", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Timestamps: 31 days, one grid point per day at its end (a bare date is the
    // end of that day); the archive changed on the 20th.
    let t = &j["time"];
    assert_eq!(t["status"], "culprit");
    assert_eq!(t["last_good"], "20221119T235959Z");
    assert_eq!(t["first_bad"], "20221120T235959Z");
    let time_builds = t["builds"].as_u64().unwrap() as usize;
    assert!(time_builds <= 1 + ceil_log2(30), "{time_builds}");
    // The locks as of each probed timestamp are kept; the nearest two differ in
    // exactly the two Debian packages of the 20th and the snapshot they come from
    // (demo 2.0 came on the 15th).
    let good = std::fs::read_to_string(d.join("state/snapshots/20221119T235959Z.lock")).unwrap();
    assert!(good.contains("cutoff = \"2022-11-19T23:59:59Z\""), "{good}");
    assert!(
        good.contains("version = \"2.0\""),
        "demo 2.0 at the 19th: {good}"
    );
    assert!(
        good.contains("name = \"debian:bullseye\""),
        "base image pinned: {good}"
    );
    let changes = j["changes"].as_array().unwrap();
    let ids: Vec<&str> = changes.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(changes.len(), 3, "{ids:?}");
    let archive = ids.iter().position(|i| *i == "archive debian").unwrap();
    assert_eq!(
        changes[archive]["summary"],
        "archive debian 20221110T000000Z -> 20221120T000000Z"
    );
    let set = &j["outcome"]["culprit_sets"][0]["changes"];
    assert_eq!(set.as_array().unwrap().len(), 1);
    // The new hello needs the new snapshot: applied with it, not blamed for it.
    assert_eq!(
        j["outcome"]["culprit_sets"][0]["applied_with"],
        serde_json::json!([archive])
    );
    let culprit = &changes[set[0].as_u64().unwrap() as usize];
    assert!(
        culprit["summary"].as_str().unwrap().contains("hello")
            && culprit["summary"]
                .as_str()
                .unwrap()
                .contains("1.0-1 -> 2.0-1"),
        "{culprit}"
    );
    // Origin: the Dockerfile line; sources: the old and the new file, each in its snapshot.
    assert!(
        culprit["origin"]
            .as_str()
            .unwrap()
            .starts_with("sonic-slave-bullseye/Dockerfile.j2:"),
        "{culprit}"
    );
    let new = culprit["source"].as_str().unwrap();
    let old = culprit["old_source"].as_str().unwrap();
    assert!(
        new.contains("/20221120T000000Z/") && new.ends_with("hello_2.0-1_amd64.deb"),
        "{new}"
    );
    assert!(
        old.contains("/20221110T000000Z/") && old.ends_with("hello_1.0-1_amd64.deb"),
        "{old}"
    );
    let notes = j["outcome"]["notes"].to_string();
    assert!(
        notes.contains("lock pipeline") && notes.contains("snapshots"),
        "{notes}"
    );
    // The report shows both searches.
    let md = std::fs::read_to_string(d.join("state-report/report.md")).unwrap();
    assert!(md.contains("first bad snapshot `20221120T235959Z`"), "{md}");
    assert!(
        md.contains("- good: `lock as of 20221119T235959Z (the last good timestamp after --good-date 20221101T235959Z)`"),
        "{md}"
    );
    assert!(md.contains(old) && md.contains(new), "{md}");
    let svg = std::fs::read_to_string(d.join("state-report/timeline.svg")).unwrap();
    assert!(svg.contains("20221120"), "time trials are drawn");

    // The same command again: every verdict and every lock is reused, nothing is rebuilt.
    let hits_before = srv.requests().len();
    let again = bisect(d, &srv, &reg, "state", &[]);
    assert_eq!(again.status.code(), Some(0));
    let j2: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(j2["time"]["builds"], 0);
    assert_eq!(j2["outcome"]["builds"], 0);
    assert_eq!(j2["outcome"]["culprit_sets"], j["outcome"]["culprit_sets"]);
    assert_eq!(
        srv.requests().len(),
        hits_before,
        "locks came from the state dir"
    );

    // Other options for the locks (here: more Python metadata): the stored locks
    // are not reused but made again; the verdicts of identical candidates are.
    let other = bisect(d, &srv, &reg, "state", &["--py-metadata", "2"]);
    let err = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(0), "{err}");
    assert!(
        err.contains("note: removed") && err.contains("other sources"),
        "{err}"
    );
    let key = std::fs::read_to_string(d.join("state/snapshots/fingerprint")).unwrap();
    assert!(key.contains("py-metadata 2"), "{key}");
    assert!(
        d.join("state/snapshots/20221119T235959Z.lock").is_file(),
        "made again"
    );

    // Four builders: k-ary splits, fewer rounds, the same answer (locks are
    // produced one at a time while the round's builds run in parallel).
    let par = bisect(d, &srv, &reg, "state-p4", &["--jobs", "4"]);
    assert_eq!(
        par.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&par.stderr)
    );
    let j4: serde_json::Value = serde_json::from_slice(&par.stdout).unwrap();
    assert_eq!(j4["time"]["last_good"], j["time"]["last_good"]);
    assert_eq!(j4["time"]["first_bad"], j["time"]["first_bad"]);
    assert!(
        j4["time"]["rounds"].as_u64().unwrap() < j["time"]["rounds"].as_u64().unwrap(),
        "{} vs {}",
        j4["time"]["rounds"],
        j["time"]["rounds"]
    );
    assert_eq!(
        j4["outcome"]["culprit_sets"][0]["changes"],
        j["outcome"]["culprit_sets"][0]["changes"]
    );
}

#[test]
fn bad_date_that_builds_means_nothing_to_bisect_and_usage_errors_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let srv = archive();
    let reg = registry();
    // Before the 20th everything builds.
    let p = |rel: &str| d.join(rel).display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args(["--quiet", "--json", "bisect", "--platform", "testbox"])
        .args(["--platforms-dir", &p("platforms")])
        .args(["--sonic-repo", &p("repo.git")])
        .args(["--suite", "bullseye", "--snapshot-url", &srv.base])
        .arg("--allow-unsigned")
        .args(["--pypi-url", &srv.base, "--retries", "1"])
        .args(["--docker-registry", &reg.base])
        .args(["--cache", &p("cache")])
        .args(["--good-date", "2022-11-01", "--bad-date", "2022-11-18"])
        .args(["--state-dir", &p("state")])
        .args(["--builder", "command", "--", "sh", "-c", BUILD])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["outcome"]["status"], "bad-passes");
    assert_eq!(j["time"]["builds"], 1);

    // The human summary says where the time axis ended (default grid: 6 hours).
    let out = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args(["--quiet", "bisect", "--platform", "testbox"])
        .args(["--platforms-dir", &p("platforms")])
        .args(["--sonic-repo", &p("repo.git")])
        .args(["--suite", "bullseye", "--snapshot-url", &srv.base])
        .arg("--allow-unsigned")
        .args(["--pypi-url", &srv.base, "--retries", "1"])
        .args(["--docker-registry", &reg.base])
        .args(["--cache", &p("cache")])
        .args(["--good-date", "2022-11-01", "--bad-date", "2022-11-25"])
        .args(["--state-dir", &p("state")])
        .args(["--builder", "command", "--", "sh", "-c", BUILD])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("time axis: last good 20221119T235959Z, first bad 20221120T055959Z"),
        "{text}"
    );
    assert!(
        text.contains("deb hello [sonic-slave-bullseye bullseye amd64] 1.0-1 -> 2.0-1"),
        "{text}"
    );

    // --sonic-repo without --platform, and dates without any lock source.
    let out = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args(["--quiet", "bisect", "--sonic-repo", &p("repo.git")])
        .args(["--good-date", "2022-11-01", "--bad-date", "2022-11-18"])
        .args(["--state-dir", &p("state2")])
        .args(["--builder", "command", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--platform"));
    let out = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args(["--quiet", "bisect", "--platform", "testbox"])
        .args(["--good-date", "2022-11-01", "--bad-date", "2022-11-18"])
        .args(["--state-dir", &p("state2")])
        .args(["--builder", "command", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sonic-repo"));
    // A dead snapshot server is an error naming the URL, not a verdict.
    let out = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args(["--quiet", "bisect", "--platform", "testbox"])
        .args(["--platforms-dir", &p("platforms")])
        .args(["--sonic-repo", &p("repo.git")])
        .args([
            "--suite",
            "bullseye",
            "--snapshot-url",
            "http://127.0.0.1:9",
            "--allow-unsigned",
        ])
        .args(["--pypi-url", "http://127.0.0.1:9", "--retries", "0"])
        .args(["--docker-registry", "http://127.0.0.1:9"])
        .args(["--cache", &p("cache3")])
        .args(["--good-date", "2022-11-01", "--bad-date", "2022-11-18"])
        .args(["--state-dir", &p("state3")])
        .args(["--builder", "command", "--", "true"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("127.0.0.1:9"), "{err}");
    // It fails before any build: the good end's lock is produced first.
    assert!(err.contains("the lock as of the good date"), "{err}");
    assert!(!d.join("state3/trials").exists());
}

/// `lock`, `solve --platform` and time-axis `bisect` run one pipeline: for the
/// same tree, sources and cutoff they produce the same candidate lock (and read
/// a bare date the same way: the end of that day).
#[test]
fn lock_solve_and_the_time_axis_make_the_same_candidate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    setup(d);
    let srv = archive();
    let reg = registry();
    let out = bisect(d, &srv, &reg, "state", &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = |rel: &str| d.join(rel).display().to_string();
    let common = |cmd: &str| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sonic-lock"));
        c.args(["--quiet", cmd, "--platform", "testbox"])
            .args(["--platforms-dir", &p("platforms")])
            .args(["--sonic-repo", &p("repo.git")])
            .args(["--suite", "bullseye"])
            .args(["--snapshot-url", &srv.base, "--allow-unsigned"])
            .args(["--pypi-url", &srv.base])
            .args(["--github-url", &srv.base])
            .args(["--docker-registry", &reg.base])
            .args(["--retries", "1", "--cache", &p("cache")])
            .args(["--date", "2022-11-19"]);
        c
    };
    let lock = common("lock")
        .args(["--lockfiles", &p("lockfiles")])
        .args(["--candidate-out", &p("lock-candidate.lock")])
        .output()
        .unwrap();
    assert!(
        lock.status.success(),
        "{}",
        String::from_utf8_lossy(&lock.stderr)
    );
    let solve = common("solve")
        .args(["--lock-out", &p("solve-candidate.lock")])
        .output()
        .unwrap();
    assert!(
        solve.status.success(),
        "{}",
        String::from_utf8_lossy(&solve.stderr)
    );
    let read = |rel: &str| sonic_lock::lock::Lock::read(&d.join(rel)).unwrap();
    let from_bisect = read("state/snapshots/20221119T235959Z.lock");
    let from_lock = read("lock-candidate.lock");
    let from_solve = read("solve-candidate.lock");
    assert!(!from_lock.pins.is_empty());
    assert_eq!(from_lock, from_solve, "lock and solve --platform differ");
    assert_eq!(from_lock, from_bisect, "lock and the time axis differ");
    // The unproven lock is the candidate itself.
    assert_eq!(read("lockfiles/testbox.lock"), from_lock);
}
