//! `sonic-lock trial` with the command builder: verdicts, triage lines, JSON,
//! timeouts and argument errors.

use crate::common::sonic_lock;
use std::path::Path;
use std::process::Output;

fn trial(dir: &Path, args: &[&str]) -> Output {
    sonic_lock()
        .current_dir(dir)
        .arg("--quiet")
        .arg("trial")
        .args(args)
        .output()
        .unwrap()
}

fn tree(dir: &Path, name: &str, content: &str) {
    std::fs::create_dir_all(dir.join(name).join("default")).unwrap();
    std::fs::write(dir.join(name).join("default/versions-py3"), content).unwrap();
}

#[test]
fn verdicts_triage_and_json() {
    let d = tempfile::tempdir().unwrap();
    tree(d.path(), "good", "lxml==4.9.1\n");
    tree(d.path(), "bad", "lxml==4.6.5\n");
    let script = "if grep -q 4.6.5 \"$SONIC_LOCK_VERSIONS_DIR/default/versions-py3\"; then echo '    The user requested (constraint) lxml==4.6.5'; exit 1; fi";
    let o = trial(
        d.path(),
        &[
            "--versions",
            "good",
            "--versions",
            "bad",
            "--jobs",
            "2",
            "--builder",
            "command",
            "--",
            "/bin/sh",
            "-c",
            script,
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("good  pass") && out.contains("bad  fail"),
        "{out}"
    );
    assert!(out.contains("pip-user-requested (line 1)"), "{out}");
    let o = sonic_lock()
        .current_dir(d.path())
        .args([
            "--json",
            "trial",
            "--versions",
            "good",
            "--builder",
            "command",
            "--",
            "/bin/sh",
            "-c",
            script,
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["verdict"], "pass");
    assert_eq!(v[0]["cached"], true);
}

#[test]
fn timeout_fails_the_trial() {
    let d = tempfile::tempdir().unwrap();
    tree(d.path(), "v", "x==1\n");
    let o = trial(
        d.path(),
        &[
            "--versions",
            "v",
            "--timeout",
            "300ms",
            "--builder",
            "command",
            "--",
            "/bin/sh",
            "-c",
            "sleep 30",
        ],
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("fail (timed out)"), "{out}");
}

#[test]
fn argument_errors_are_usage_errors() {
    let d = tempfile::tempdir().unwrap();
    tree(d.path(), "v", "x==1\n");
    for args in [
        &["--versions", "v", "--builder", "command"][..],
        &[
            "--versions",
            "v",
            "--builder",
            "command",
            "--image",
            "x",
            "--",
            "true",
        ][..],
        &[
            "--versions",
            "missing",
            "--builder",
            "command",
            "--",
            "true",
        ][..],
        &[
            "--versions",
            "v",
            "--builder",
            "command",
            "--timeout",
            "soon",
            "--",
            "true",
        ][..],
        &[
            "--versions",
            "v",
            "--builder",
            "sonic",
            "--sonic-checkout",
            ".",
            "--target",
            "all",
        ][..],
    ] {
        let o = trial(d.path(), args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
