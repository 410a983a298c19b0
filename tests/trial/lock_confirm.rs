//! `sonic-lock lock --confirm-builder`: a cheap builder runs the learn loop
//! to a passing candidate, an expensive one confirms it; the confirming
//! builder's failure is learned and the loop goes on. Two command builders
//! stand in for `layers` and `sonic`.

use crate::common::text;
use crate::lock_cli::{lock_cmd, py_universe};
use sonic_lock::lock::{Lock, Verdict};
use sonic_lock::trial::journal::Journal;
use std::path::Path;

/// The cheap check: refuses lxml 3.0 as pip would.
const CHEAP: &str = "if grep -rqx 'lxml==3.0' \"$SONIC_LOCK_VERSIONS_DIR\"; then \
    echo 'ERROR: Could not find a version that satisfies the requirement lxml==3.0'; exit 1; fi";
/// The full build: also refuses pyyaml 3.0, which the cheap check does not catch.
const FULL: &str = "if grep -rqx 'pyyaml==3.0' \"$SONIC_LOCK_VERSIONS_DIR\"; then \
    echo \"ERROR: Package 'pyyaml' requires a different Python: 3.9.2 not in '>=3.10'\"; exit 1; fi";

fn write_scripts(dir: &Path) {
    std::fs::write(dir.join("cheap.sh"), CHEAP).unwrap();
    std::fs::write(dir.join("full.sh"), FULL).unwrap();
}

fn confirmed(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "--candidate",
        "candidate.lock",
        "--universe",
        "universe.json",
        "--confirm-builder",
        "command --timeout 5m -- /bin/sh full.sh",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--builder", "command", "--", "/bin/sh", "cheap.sh"]);
    lock_cmd(dir, &args)
}

#[test]
fn the_confirming_builder_fails_once_and_the_lock_avoids_its_pin() {
    let d = tempfile::tempdir().unwrap();
    py_universe(d.path());
    write_scripts(d.path());
    let o = confirmed(d.path(), &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let l = Lock::read(&d.path().join("lockfiles/test-platform.lock")).unwrap();
    let v = |n: &str| l.pins.iter().find(|p| p.name == n).unwrap().version.clone();
    // lxml learned from the cheap builder, pyyaml from the confirming one.
    assert_eq!((v("lxml"), v("pyyaml")), ("2.0".into(), "2.0".into()));
    assert_eq!((v("netaddr"), v("jinja2")), ("3.0".into(), "3.0".into()));
    // Cheap fail, cheap pass, full fail, cheap pass, full pass.
    assert_eq!(report["builds"], 5, "{report}");
    assert_eq!(report["confirm_builds"], 2, "{report}");
    let full = "command: /bin/sh full.sh (timeout 300s)";
    assert_eq!(report["judged_by"], full, "{report}");
    let learned = report["learned"].as_array().unwrap();
    let by: Vec<&str> = learned
        .iter()
        .map(|x| x["builder"].as_str().unwrap())
        .collect();
    assert_eq!(by, ["command: /bin/sh cheap.sh", full], "{report}");
    assert!(
        learned[1]["picks"].to_string().contains("pyyaml"),
        "{report}"
    );
    // The lock records each verdict with the builder that judged it.
    let trial = |builder: &str, result: Verdict| {
        l.trials
            .iter()
            .any(|t| t.builder == builder && t.result == result)
    };
    assert!(trial(full, Verdict::Fail) && trial(full, Verdict::Pass));
    assert!(trial("command: /bin/sh cheap.sh", Verdict::Pass));
    // So does the journal, by identity: a rerun builds nothing.
    let j = Journal::open(&d.path().join(".sonic-lock/trials/journal")).unwrap();
    let entries = j.entries();
    assert_eq!(entries.iter().filter(|e| e.builder == full).count(), 2);
    let o = confirmed(d.path(), &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains(&format!(
            "proven by a passing build of {full} (0 confirming builds)"
        )) && out.contains("0 builds, 5 from the journal"),
        "{}",
        text(&o)
    );
}

#[test]
fn max_builds_counts_the_confirming_builds() {
    let d = tempfile::tempdir().unwrap();
    py_universe(d.path());
    write_scripts(d.path());
    let o = confirmed(d.path(), &["--max-builds", "4"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("no passing build within 4 builds"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_bad_confirming_builder_is_a_usage_error() {
    let d = tempfile::tempdir().unwrap();
    py_universe(d.path());
    let o = lock_cmd(
        d.path(),
        &[
            "--candidate",
            "candidate.lock",
            "--confirm-builder",
            "sonic --target t",
            "--builder",
            "command",
            "--",
            "true",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--sonic-checkout"),
        "{}",
        text(&o)
    );
    // Nothing to confirm without a builder.
    let o = lock_cmd(
        d.path(),
        &[
            "--candidate",
            "candidate.lock",
            "--confirm-builder",
            "command -- true",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
