//! From a manifest and a Debian index to a candidate lock, an (unproven) lock and
//! a SONiC versions tree: `solve --lock-out`, `lock --candidate`, `export`.

use std::path::Path;
use std::process::Command;

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

const PACKAGES: &str = "\
Package: libfoo-dev
Version: 1.2-1
Architecture: amd64
Depends: libfoo1 (= 1.2-1)
Filename: pool/main/libf/libfoo/libfoo-dev_1.2-1_amd64.deb
SHA256: 1111111111111111111111111111111111111111111111111111111111111111

Package: libfoo-dev
Version: 2.0-1
Architecture: amd64
Depends: libfoo1 (= 2.0-1)
Filename: pool/main/libf/libfoo/libfoo-dev_2.0-1_amd64.deb
SHA256: 2222222222222222222222222222222222222222222222222222222222222222

Package: libfoo1
Version: 1.2-1
Architecture: amd64
Filename: pool/main/libf/libfoo/libfoo1_1.2-1_amd64.deb

Package: libfoo1
Version: 2.0-1
Architecture: amd64
Filename: pool/main/libf/libfoo/libfoo1_2.0-1_amd64.deb

Package: make
Version: 4.3-4.1
Architecture: amd64
Filename: pool/main/m/make-dfsg/make_4.3-4.1_amd64.deb
";

fn manifest(dir: &Path) -> std::path::PathBuf {
    let dep = |name: &str, constraint: serde_json::Value, line: u32, tx: u32| {
        serde_json::json!({
            "ecosystem": "deb",
            "name": name,
            "constraint": constraint,
            "pinned": constraint["kind"] == "exact",
            "origin": { "file": "sonic-slave-bullseye/Dockerfile.j2", "line": line },
            "context": { "image": "sonic-slave-bullseye", "suite": "bullseye", "transaction": tx },
        })
    };
    let m = serde_json::json!({
        "schema_version": 1,
        "platform": "wedge100bf-32x",
        "commit": "586d715f172b1b72e9fc1e7b55625e2e5af590c2",
        "commit_date": "2022-12-06T08:47:31Z",
        "dependencies": [
            dep("make", serde_json::json!({ "kind": "none" }), 40, 1),
            dep("libfoo-dev", serde_json::json!({ "kind": "exact", "value": "1.2-1" }), 41, 2),
        ],
        "diagnostics": [],
    });
    let p = dir.join("manifest.json");
    std::fs::write(&p, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    p
}

#[test]
fn manifest_solution_becomes_a_lock_and_a_sonic_versions_tree() {
    let dir = tempfile::tempdir().unwrap();
    let packages = dir.path().join("Packages");
    std::fs::write(&packages, PACKAGES).unwrap();
    let m = manifest(dir.path());
    let candidate = dir.path().join("candidate.lock");
    let (code, out, err) = run(&[
        "solve",
        "--quiet",
        "--packages",
        packages.to_str().unwrap(),
        "--manifest",
        m.to_str().unwrap(),
        "--lock-out",
        candidate.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let text = std::fs::read_to_string(&candidate).unwrap();
    // The exact pin from the Dockerfile wins over the newer 2.0-1, and drags libfoo1 along.
    assert!(text.contains("name = \"libfoo-dev\""), "{text}");
    assert!(text.contains("version = \"1.2-1\""), "{text}");
    assert!(!text.contains("2.0-1"), "{text}");
    assert!(
        text.contains("sonic-slave-bullseye/Dockerfile.j2:41"),
        "{text}"
    );

    let lockfiles = dir.path().join("lockfiles");
    let (code, _, err) = run(&[
        "lock",
        "--quiet",
        "--platform",
        "wedge100bf-32x",
        "--candidate",
        candidate.to_str().unwrap(),
        "--lockfiles",
        lockfiles.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("UNPROVEN"), "{err}");
    let lock = lockfiles.join("wedge100bf-32x.lock");
    let versions = dir.path().join("versions");
    let (code, out, err) = run(&[
        "export",
        "--lock",
        lock.to_str().unwrap(),
        "--format",
        "sonic-versions",
        "--out",
        versions.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    // Installed by the slave's Dockerfile: SONiC records it with the slave image.
    let slave = versions.join("dockers/sonic-slave-bullseye");
    let debs: String = std::fs::read_dir(&slave)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(debs.contains("libfoo-dev==1.2-1"), "{debs}");
    assert!(debs.contains("libfoo1==1.2-1"), "{debs}");
    assert!(debs.contains("make==4.3-4.1"), "{debs}");
}

#[test]
fn lock_out_needs_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let packages = dir.path().join("Packages");
    std::fs::write(&packages, PACKAGES).unwrap();
    let (code, _, err) = run(&[
        "solve",
        "--packages",
        packages.to_str().unwrap(),
        "--install",
        "make",
        "--lock-out",
        dir.path().join("c.lock").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(!dir.path().join("c.lock").exists());
}
