//! The `platforms`, `cutoff` and `crawl` subcommands: output, `--json` and exit codes.

use crate::common::tree::*;
use crate::common::{run_cmd, sonic_lock as bin};

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let sub = git2::Repository::init(dir.path().join("subs/src/sub")).unwrap();
        let sc = commit(&sub, &sub_tree(), "sub", 1_600_000_000);
        let r = init_bare(&dir.path().join("repo.git"));
        commit(&r, &tree(sc, "1.0"), "first", 1_650_000_000);
        commit(&r, &tree(sc, "1.1"), "sdk 1.1", 1_660_000_000);
        std::fs::create_dir_all(dir.path().join("platforms")).unwrap();
        std::fs::write(dir.path().join("platforms/testbox.toml"), PLATFORM_TOML).unwrap();
        Setup { dir }
    }
    fn p(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        run_cmd(
            bin()
                .args(args)
                .args(["--platforms-dir", &self.p("platforms"), "--quiet"])
                .env("SONIC_LOCK_CACHE", self.p("cache")),
        )
    }
}

#[test]
fn builtin_platforms_are_listed() {
    let o = bin().args(["platforms", "--json"]).output().unwrap();
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["p4", "wedge100bf-32qs", "wedge100bf-32x"]);
    let p4 = &v[0];
    assert_eq!(p4["kind"], "software-switch");
    let o = bin().arg("platforms").output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("wedge100bf-32x (also: wedge100-32x)"));
    assert!(text.contains("x86_64-accton_wedge100bf_32qs-r0"));
}

#[test]
fn cutoff_prints_commit_and_date() {
    let s = Setup::new();
    let (code, out, err) = s.run(&[
        "cutoff",
        "--platform",
        "tb",
        "--sonic-repo",
        &s.p("repo.git"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2022-08-08T23:06:40Z"), "{out}");
    let (code, out, _) = s.run(&[
        "cutoff",
        "--platform",
        "testbox",
        "--sonic-repo",
        &s.p("repo.git"),
        "--date",
        "2022-05-01",
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["cutoff"]["method"], "date");
    assert_eq!(v["cutoff"]["date"], "2022-04-15T05:20:00Z");
}

#[test]
fn usage_and_input_errors_exit_2() {
    let s = Setup::new();
    let (code, _, err) = s.run(&[
        "cutoff",
        "--platform",
        "nope",
        "--sonic-repo",
        &s.p("repo.git"),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown platform `nope`"), "{err}");
    let (code, _, err) = s.run(&[
        "cutoff",
        "--platform",
        "tb",
        "--sonic-repo",
        &s.p("repo.git"),
        "--date",
        "soon",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("bad date"), "{err}");
    let (code, _, _) = s.run(&["crawl", "--sonic-repo", &s.p("repo.git")]);
    assert_eq!(code, 2, "--platform or --all is required");
    let (code, _, err) = s.run(&[
        "crawl",
        "--platform",
        "tb",
        "--sonic-repo",
        &s.p("missing.git"),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("missing.git"), "{err}");
    let o = bin().args(["crawl", "--help"]).output().unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("--submodules"));
}

#[test]
fn crawl_writes_the_manifest_and_signals_missing_submodules() {
    let s = Setup::new();
    let out_path = s.p("out/manifest.json");
    let (code, out, err) = s.run(&[
        "crawl",
        "--platform",
        "tb",
        "--sonic-repo",
        &s.p("repo.git"),
        "-o",
        &out_path,
    ]);
    assert_eq!(code, 1, "a submodule could not be read: {err}");
    assert!(out.contains("ecosystem    pinned  unpinned"), "{out}");
    assert!(out.contains("sonic-slave-bullseye"));
    assert!(out.contains("1 of 1 submodules in scope were not crawled"));
    let m = sonic_lock::manifest::Manifest::read(std::path::Path::new(&out_path)).unwrap();
    assert_eq!(m.platform, "testbox");
    assert!(!m.dependencies.is_empty());

    let (code, out, err) = s.run(&[
        "crawl",
        "--platform",
        "tb",
        "--sonic-repo",
        &s.p("repo.git"),
        "--submodules",
        &s.p("subs"),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["summary"]["errors"], 0);
    assert!(
        v["summary"]["per_ecosystem"]["deb"]["unpinned"]
            .as_u64()
            .unwrap()
            > 5
    );
    assert!(v["manifest"]["dependencies"].as_array().unwrap().len() > 20);
    assert_eq!(v["slaves"], serde_json::json!(["bullseye", "buster"]));
}

#[test]
fn crawl_explains_why_a_file_is_in_scope() {
    let s = Setup::new();
    let args = |f: &str| -> Vec<String> {
        [
            "crawl",
            "--platform",
            "tb",
            "--sonic-repo",
            &s.p("repo.git"),
            "--submodules",
            &s.p("subs"),
            "--explain",
            f,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };
    let a = args("src/foo/debian/control");
    let (code, out, err) = s.run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "src/foo/debian/control is crawled for testbox:");
    assert!(
        lines[1]
            .starts_with("src/foo/debian/control  (read by dpkg-buildpackage at src/foo/Makefile:"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("  <- src/foo/Makefile  (make -C src/foo)"),
        "{out}"
    );
    assert!(
        lines.last().unwrap().ends_with("<- sonic-testp.bin"),
        "{out}"
    );

    let a = args("src/foo/ci/install.sh");
    let (code, out, _) = s.run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 1);
    assert!(
        out.contains("src/foo/ci/install.sh is not in the scope of testbox"),
        "{out}"
    );

    let mut a = args("src/sub/setup.py");
    a.push("--json".into());
    let (code, out, err) = s.run(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["in_scope"], true);
    assert_eq!(v["provenance"]["crawled"], true);
    assert_eq!(
        v["provenance"]["chain"][1]["node"],
        "python3-sub_1.0_all.deb"
    );

    // `--json` of the crawl itself carries every file's chain.
    let (code, out, err) = s.run(&[
        "crawl",
        "--platform",
        "tb",
        "--sonic-repo",
        &s.p("repo.git"),
        "--submodules",
        &s.p("subs"),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let p = &v["provenance"];
    assert_eq!(p["build_debian.sh"]["chain"][1]["node"], "sonic-testp.bin");
    assert!(p.get("src/foo/ci/install.sh").is_none());
    assert!(p.get("src/sub/.azure-pipelines/build.sh").is_none());
}
