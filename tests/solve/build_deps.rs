//! Build-Depends of a source package built in the slave: a rule of its own,
//! solved in the slave's apt view on top of what the slave's Dockerfile
//! installed (build-essential implied), explained with debian/control lines.

use std::path::{Path, PathBuf};
use std::process::Command;

const PACKAGES: &str = "\
Package: make
Version: 4.3-4.1
Architecture: amd64

Package: build-essential
Version: 12.9
Architecture: amd64
Depends: make

Package: debhelper
Version: 12.10
Architecture: all

Package: debhelper
Version: 13.3.4
Architecture: all

Package: libfoo-dev
Version: 1.0
Architecture: amd64
Conflicts: libold-dev

Package: libbar-dev
Version: 2.0
Architecture: amd64

Package: libold-dev
Version: 1.0
Architecture: amd64

Package: python3-pytest
Version: 6.0.2-2
Architecture: all
";

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A manifest: the slave installs libold-dev; libfoo's control file has Build-Depends.
fn manifest(dir: &Path, debhelper: &str) -> PathBuf {
    let ctx = serde_json::json!({ "image": "sonic-slave-bullseye", "suite": "bullseye" });
    let bd = |name: &str, constraint: serde_json::Value, line: u32, attrs: serde_json::Value| {
        let mut a = attrs;
        a["field"] = "build-depends".into();
        serde_json::json!({
            "ecosystem": "deb", "name": name, "constraint": constraint, "pinned": false,
            "origin": { "file": "src/libfoo/debian/control", "line": line },
            "context": ctx, "attrs": a,
        })
    };
    let alts = serde_json::json!({ "alternatives": "libfoo-dev | libbar-dev" });
    let m = serde_json::json!({
        "schema_version": 1,
        "platform": "testbox",
        "commit": "a".repeat(40),
        "commit_date": "2022-12-01T00:00:00Z",
        "dependencies": [
            {
                "ecosystem": "deb", "name": "libold-dev", "constraint": { "kind": "none" },
                "pinned": false,
                "origin": { "file": "sonic-slave-bullseye/Dockerfile.j2", "line": 5 },
                "context": { "image": "sonic-slave-bullseye", "suite": "bullseye", "transaction": 1 },
                "attrs": {}
            },
            bd("debhelper", serde_json::json!({ "kind": "range", "value": debhelper }), 5, serde_json::json!({})),
            bd("libfoo-dev", serde_json::json!({ "kind": "none" }), 6, alts.clone()),
            bd("libbar-dev", serde_json::json!({ "kind": "none" }), 6, alts),
            // A package the tree builds itself: no index has it.
            bd("libswsscommon-dev", serde_json::json!({ "kind": "none" }), 8, serde_json::json!({})),
            // A test dependency that only the `check` profile enables: left out.
            bd("python3-pytest", serde_json::json!({ "kind": "none" }), 7,
               serde_json::json!({ "profiles": "[[Enabled(\"check\")]]" })),
            // Left out by the profile the Makefile's `dpkg-buildpackage -Ppkg.x.nortrlib`
            // activates (no index has it: kept, it would stop the solve).
            bd("librtr-dev", serde_json::json!({ "kind": "range", "value": ">= 0.8.0~" }), 9,
               serde_json::json!({ "profiles": "[[Disabled(\"pkg.x.nortrlib\")]]",
                                   "build_profiles": "pkg.x.nortrlib" })),
        ],
        "diagnostics": []
    });
    let p = dir.join("manifest.json");
    std::fs::write(&p, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    p
}

#[test]
fn build_depends_are_solved_on_top_of_the_slave_and_pinned_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let packages = dir.path().join("Packages");
    std::fs::write(&packages, PACKAGES).unwrap();
    let m = manifest(dir.path(), ">= 13");
    let lock = dir.path().join("c.lock");
    let out = dir.path().join("out.json");
    let (code, stdout, stderr) = run(&[
        "solve",
        "--packages",
        packages.to_str().unwrap(),
        "--manifest",
        m.to_str().unwrap(),
        "--lock-out",
        lock.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("build dependencies of src/libfoo/debian/control"),
        "{stdout}"
    );
    assert!(
        stderr.contains(
            "src/libfoo/debian/control:8: libswsscommon-dev is in no index at the cutoff: taken as built by the tree"
        ),
        "{stderr}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let picks = &doc["build_depends"]["sonic-slave-bullseye src/libfoo/debian/control"]["picks"];
    assert_eq!(picks["debhelper"], "13.3.4", "{doc}");
    assert_eq!(picks["build-essential"], "12.9", "{doc}");
    assert_eq!(picks["make"], "4.3-4.1", "{doc}");
    // The slave keeps libold-dev, so the alternative that conflicts with it is not taken.
    assert_eq!(picks["libold-dev"], "1.0", "{doc}");
    assert_eq!(picks["libbar-dev"], "2.0", "{doc}");
    assert!(picks.get("libfoo-dev").is_none(), "{doc}");
    assert!(picks.get("python3-pytest").is_none(), "{doc}");
    assert!(picks.get("librtr-dev").is_none(), "{doc}");
    // `why` finds a build dependency through the control file that asks for it.
    let (code, stdout, stderr) = run(&[
        "why",
        "make",
        "--packages",
        packages.to_str().unwrap(),
        "--manifest",
        m.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("to build src/libfoo/debian/control")
            && stdout.contains("build-essential=12.9 needs make")
            && stdout.contains("(src/libfoo/debian/control (implied))"),
        "{stdout}"
    );
    let lock = sonic_lock::lock::Lock::read(&lock).unwrap();
    let dh = lock.pins.iter().find(|p| p.name == "debhelper").unwrap();
    assert_eq!(dh.image.as_deref(), Some("build-sonic-slave-bullseye"));
    assert_eq!(dh.why, vec!["src/libfoo/debian/control:5".to_string()]);
}

#[test]
fn unsatisfiable_build_depends_name_the_control_line() {
    let dir = tempfile::tempdir().unwrap();
    let packages = dir.path().join("Packages");
    std::fs::write(&packages, PACKAGES).unwrap();
    let m = manifest(dir.path(), ">= 14");
    let (code, stdout, stderr) = run(&[
        "solve",
        "--packages",
        packages.to_str().unwrap(),
        "--manifest",
        m.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("the build dependencies of src/libfoo/debian/control have no solution"),
        "{stdout}"
    );
    assert!(
        stdout.contains("src/libfoo/debian/control:5") && stdout.contains("debhelper (>= 14)"),
        "{stdout}"
    );
    // With --json, stdout is the JSON document alone; the explanation is inside it.
    let (code, stdout, stderr) = run(&[
        "--json",
        "solve",
        "--packages",
        packages.to_str().unwrap(),
        "--manifest",
        m.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let doc: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON alone: {e}\n{stdout}"));
    assert!(
        doc.to_string().contains("debhelper (>= 14)"),
        "the explanation is in the JSON: {stdout}"
    );
}

#[test]
fn a_bad_commit_date_blames_the_manifest_field_not_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let packages = dir.path().join("Packages");
    std::fs::write(&packages, PACKAGES).unwrap();
    let m = manifest(dir.path(), ">= 13");
    let text = std::fs::read_to_string(&m).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["commit_date"] = "06/12/2022".into();
    std::fs::write(&m, doc.to_string()).unwrap();
    let lock = dir.path().join("c.lock");
    let (code, stdout, stderr) = run(&[
        "solve",
        "--packages",
        packages.to_str().unwrap(),
        "--manifest",
        m.to_str().unwrap(),
        "--lock-out",
        lock.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("{}: field `commit_date`", m.display()))
            && stderr.contains("06/12/2022"),
        "{stderr}"
    );
    assert!(!stderr.contains("c.lock"), "{stderr}");
}
