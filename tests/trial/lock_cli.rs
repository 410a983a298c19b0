//! `sonic-lock lock` end to end with a command builder: a proven lock, an
//! unproven one without a builder, a refuted candidate blamed by triage, and
//! one isolated by delta debugging against a reference versions tree.

use crate::common::{sonic_lock, text};
use sonic_lock::lock::{Lock, Pin};
use sonic_lock::manifest::Ecosystem;
use std::path::Path;
use std::process::Output;

fn candidate(dir: &Path, libfoo_version: &str) -> std::path::PathBuf {
    let mut l = Lock::new("wedge100bf-32x", &"a".repeat(40), "2022-12-06");
    for (name, v) in [
        ("libfoo", libfoo_version),
        ("libbar", "2.0-1"),
        ("libbaz", "3.0-1"),
        ("libqux", "4.0-1"),
    ] {
        let mut p = Pin::new(Ecosystem::Deb, name, v);
        p.suite = Some("bullseye".into());
        l.upsert(p);
    }
    l.normalize();
    let p = dir.join(format!("candidate-{libfoo_version}.lock"));
    l.write(&p).unwrap();
    p
}

pub fn lock_cmd(dir: &Path, extra: &[&str]) -> Output {
    sonic_lock()
        .current_dir(dir)
        .args(["--quiet", "lock", "--platform", "test-platform"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn without_a_builder_the_lock_is_written_unproven() {
    let d = tempfile::tempdir().unwrap();
    let c = candidate(d.path(), "1.0-1");
    let o = lock_cmd(
        d.path(),
        &["--candidate", c.to_str().unwrap(), "--export", "out"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("UNPROVEN"));
    let l = Lock::read(&d.path().join("lockfiles/test-platform.lock")).unwrap();
    assert!(l.trials.is_empty());
    assert!(d.path().join("out").is_dir());
}

#[test]
fn a_passing_build_proves_and_records_the_trial() {
    let d = tempfile::tempdir().unwrap();
    let c = candidate(d.path(), "1.0-1");
    let script = "grep -rqx 'libfoo==1.0-1' \"$SONIC_LOCK_VERSIONS_DIR\" && grep -q libfoo \"$SONIC_LOCK_LOCKFILE\"";
    let o = lock_cmd(
        d.path(),
        &[
            "--candidate",
            c.to_str().unwrap(),
            "--builder",
            "command",
            "--",
            "/bin/sh",
            "-c",
            script,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let l = Lock::read(&d.path().join("lockfiles/test-platform.lock")).unwrap();
    assert_eq!(l.platform, "test-platform");
    assert_eq!(l.trials.len(), 1);
    assert_eq!(l.trials[0].candidate, l.candidate_hash());
    // Again: answered by the journal.
    let o = lock_cmd(
        d.path(),
        &[
            "--candidate",
            c.to_str().unwrap(),
            "--builder",
            "command",
            "--",
            "/bin/sh",
            "-c",
            script,
        ],
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("0 builds, 1 from the journal"),
        "{}",
        text(&o)
    );
}

#[test]
fn triage_blames_the_pin_of_a_refuted_candidate() {
    let d = tempfile::tempdir().unwrap();
    let c = candidate(d.path(), "1.0-1");
    let script = "echo \"E: Version '1.0-1' for 'libfoo' was not found\"; exit 100";
    let o = lock_cmd(
        d.path(),
        &[
            "--candidate",
            c.to_str().unwrap(),
            "--builder",
            "command",
            "--",
            "/bin/sh",
            "-c",
            script,
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("libfoo") && !out.contains("libbar"),
        "{}",
        text(&o)
    );
    assert!(!d.path().join("lockfiles/test-platform.lock").exists());
}

#[test]
fn unexplained_failures_are_isolated_against_the_reference() {
    let d = tempfile::tempdir().unwrap();
    // The reference builds: every pin one Debian revision older.
    let mut r = Lock::new("wedge100bf-32x", &"a".repeat(40), "2022-01-01");
    for (name, v) in [
        ("libfoo", "1.0-0"),
        ("libbar", "2.0-0"),
        ("libbaz", "3.0-0"),
        ("libqux", "4.0-0"),
    ] {
        let mut p = Pin::new(Ecosystem::Deb, name, v);
        p.suite = Some("bullseye".into());
        r.upsert(p);
    }
    r.normalize();
    sonic_lock::lock::sonic_versions::export(&r, &d.path().join("reference")).unwrap();
    let c = candidate(d.path(), "1.0-1");
    // Fails silently whenever libbaz is at 3.0-1.
    let script = "if grep -rqx 'libbaz==3.0-1' \"$SONIC_LOCK_VERSIONS_DIR\"; then exit 1; fi";
    let o = lock_cmd(
        d.path(),
        &[
            "--candidate",
            c.to_str().unwrap(),
            "--reference",
            "reference",
            "--builder",
            "command",
            "--",
            "/bin/sh",
            "-c",
            script,
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("libbaz") && !out.contains("libfoo"),
        "{}",
        text(&o)
    );
}

#[test]
fn bad_arguments_are_usage_errors() {
    let d = tempfile::tempdir().unwrap();
    let c = candidate(d.path(), "1.0-1");
    let o = lock_cmd(
        d.path(),
        &[
            "--candidate",
            c.to_str().unwrap(),
            "--builder",
            "docker",
            "--",
            "true",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--image"));
    let o = sonic_lock()
        .current_dir(d.path())
        .args([
            "lock",
            "--platform",
            "../x",
            "--candidate",
            c.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let o = lock_cmd(d.path(), &["--candidate", "missing.lock"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.lock"));
}

/// Writes `universe.json` (py3 `lxml`, `pyyaml`, `netaddr`, `jinja2`, each
/// 1.0, 2.0 and 3.0), `candidate.lock` (every one at 3.0) and a `reference`
/// versions tree (every one at 1.0) into `dir`.
pub fn py_universe(dir: &Path) {
    use sonic_lock::universe::{CandidateMeta, PackageKey, Universe};
    let mut u = Universe::new();
    let mut lock = Lock::new("wedge100bf-32x", &"a".repeat(40), "2022-12-06");
    let mut reference = lock.clone();
    for name in ["lxml", "pyyaml", "netaddr", "jinja2"] {
        let id = u.intern(PackageKey::new(Ecosystem::Py, "py3", name));
        for v in ["1.0", "2.0", "3.0"] {
            u.add_candidate(id, v, CandidateMeta::default(), vec![], vec![], vec![])
                .unwrap();
        }
        for (l, v) in [(&mut lock, "3.0"), (&mut reference, "1.0")] {
            let mut p = Pin::new(Ecosystem::Py, name, v);
            p.python = Some("py3".into());
            l.upsert(p);
        }
    }
    lock.normalize();
    reference.normalize();
    u.write(&dir.join("universe.json")).unwrap();
    lock.write(&dir.join("candidate.lock")).unwrap();
    sonic_lock::lock::sonic_versions::export(&reference, &dir.join("reference")).unwrap();
}

#[test]
fn with_a_universe_the_loop_finds_a_passing_alternative() {
    let d = tempfile::tempdir().unwrap();
    py_universe(d.path());
    // pyyaml 3.0 breaks the build without saying so.
    let script = "if grep -rqx 'pyyaml==3.0' \"$SONIC_LOCK_VERSIONS_DIR\"; then exit 1; fi";
    let o = lock_cmd(
        d.path(),
        &[
            "--candidate",
            "candidate.lock",
            "--universe",
            "universe.json",
            "--reference",
            "reference",
            "--builder",
            "command",
            "--",
            "/bin/sh",
            "-c",
            script,
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let l = Lock::read(&d.path().join("lockfiles/test-platform.lock")).unwrap();
    let v = |n: &str| l.pins.iter().find(|p| p.name == n).unwrap().version.clone();
    assert_eq!(v("pyyaml"), "2.0");
    assert_eq!(
        (v("lxml"), v("netaddr"), v("jinja2")),
        ("3.0".into(), "3.0".into(), "3.0".into())
    );
    assert_eq!(l.trials.len(), 2);
    assert!(
        l.trials[0]
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("pyyaml")
            || l.trials[1]
                .detail
                .as_deref()
                .unwrap_or("")
                .contains("pyyaml")
    );
}
