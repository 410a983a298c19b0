//! Time-axis bisection through the generated demo world (`sonic_lock_demo`):
//! its sonic-buildimage repository, Debian snapshot archive, PyPI and git/web
//! origins on loopback, judged by the world's own build system (`sonic-lock demo
//! build`), with the lock pipeline run in-process for each probed timestamp.
//! The assertions are the bisection's invariants (the world's story may change):
//! the two nearest timestamps are adjacent, the lock of the last good one builds
//! and the first bad one's does not, and the culprits are changes between them.

use sonic_lock_demo::create::World;
use sonic_lock_demo::script::{paths, prepare};
use sonic_lock_demo::world;
use std::path::Path;
use std::process::Command;

fn demo_build(dir: &Path, lock: &Path) -> i32 {
    Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .current_dir(dir)
        .args(["demo", "build", "--world", paths::WORLD_JSON])
        .env("SONIC_LOCK_LOCKFILE", lock)
        .output()
        .unwrap()
        .status
        .code()
        .unwrap_or(-1)
}

#[test]
fn the_demo_world_is_bisected_by_date_with_its_own_build() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let w = World::create(&d.join(paths::WORLD)).unwrap();
    prepare(d, &w).unwrap();
    let base = w.server.base().to_string();
    let exe = env!("CARGO_BIN_EXE_sonic-lock");
    let out = Command::new(exe)
        .current_dir(d)
        .args(["--quiet", "--json", "bisect", "--platform", world::PLATFORM])
        .args(["--platforms-dir", paths::PLATFORMS])
        .args([
            "--sonic-repo",
            &format!("{}/sonic-buildimage", paths::WORLD),
        ])
        .args(["--submodules", &format!("{}/submodules", paths::WORLD)])
        .args([
            "--suite",
            "bullseye",
            "--snapshot-url",
            &base,
            "--allow-unsigned",
        ])
        .args(["--pypi-url", &base, "--github-url", &w.urls.github])
        .args(["--docker-registry", &base])
        .args([
            "--github-git",
            &format!("{}/{{owner}}/{{repo}}.git", w.urls.git),
        ])
        .args(["--cache", paths::CACHE, "--retries", "1"])
        .args([
            "--good-date",
            "2022-11-02",
            "--bad-date",
            world::NIGHTLY_DATE,
        ])
        .args(["--step-hours", "24", "--confirm", "1"])
        .args(["--state-dir", "state", "--report", "report"])
        .args(["--builder", "command", "--", exe, "demo", "build"])
        .args(["--world", paths::WORLD_JSON])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &j["time"];
    assert_eq!(t["status"], "culprit", "{t}");
    let (good, bad) = (
        t["last_good"].as_str().unwrap(),
        t["first_bad"].as_str().unwrap(),
    );
    // 138 daily timestamps: a binary search, not a walk.
    let builds = t["builds"].as_u64().unwrap();
    assert!(builds <= 1 + 8, "{builds} timestamp builds");
    // Adjacent grid points: same date minus one day (all at 23:59:59).
    let day = |ts: &str| {
        sonic_lock::date::Cutoff::parse(&ts[..8])
            .unwrap()
            .timestamp()
    };
    assert_eq!(day(bad) - day(good), 86_400, "{good} {bad}");
    // The verdicts hold outside the bisection too.
    let snap = |ts: &str| d.join(format!("state/snapshots/{ts}.lock"));
    assert_eq!(demo_build(d, &snap(good)), 0, "the last good lock builds");
    assert_eq!(demo_build(d, &snap(bad)), 1, "the first bad lock fails");
    // Culprits: confirmed changes between the two locks, with origins.
    let o = &j["outcome"];
    assert_eq!(o["status"], "culprit", "{o}");
    let set = &o["culprit_sets"][0];
    assert_eq!(set["confirmation"]["good_plus_culprits_failed"], 1, "{set}");
    assert_eq!(set["confirmation"]["bad_minus_culprits_passed"], 1, "{set}");
    for c in set["changes"].as_array().unwrap() {
        let c = &j["changes"][c.as_u64().unwrap() as usize];
        assert!(c["origin"].as_str().is_some_and(|o| o.contains(':')), "{c}");
        assert!(c["source"].as_str().is_some(), "{c}");
    }
    let md = std::fs::read_to_string(d.join("report/report.md")).unwrap();
    assert!(md.contains(&format!("first bad snapshot `{bad}`")), "{md}");

    // Without the submodule the tree cannot be read whole: as `lock`, bisect
    // refuses (naming the submodule) unless told to record the gap.
    let github_git = format!("{}/{{owner}}/{{repo}}.git", w.urls.git);
    let repo = format!("{}/sonic-buildimage", paths::WORLD);
    let no_submodules = |extra: &[&str]| {
        Command::new(exe)
            .current_dir(d)
            .args(["--quiet", "bisect", "--platform", world::PLATFORM])
            .args(["--platforms-dir", paths::PLATFORMS, "--sonic-repo", &repo])
            .args([
                "--suite",
                "bullseye",
                "--snapshot-url",
                &base,
                "--allow-unsigned",
            ])
            .args(["--pypi-url", &base, "--github-url", &w.urls.github])
            .args(["--docker-registry", &base])
            .args(["--github-git", &github_git, "--retries", "1"])
            .args(["--cache", paths::CACHE, "--state-dir", "state-gap"])
            .args([
                "--good-date",
                "2022-11-02",
                "--bad-date",
                world::NIGHTLY_DATE,
            ])
            .args(extra)
            .args(["--builder", "command", "--", "true"])
            .output()
            .unwrap()
    };
    let out = no_submodules(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("could not read")
            && err.contains("--allow-incomplete")
            && err.contains(".gitmodules"),
        "{err}"
    );
    assert!(!d.join("state-gap/trials").exists(), "nothing was built");
    // Accepted, the gap is recorded in every lock (here the bad date builds: exit 1).
    let out = no_submodules(&["--allow-incomplete"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let lock =
        std::fs::read_to_string(d.join("state-gap/snapshots/20230320T235959Z.lock")).unwrap();
    assert!(lock.contains("[[gap]]"), "{lock}");
}
