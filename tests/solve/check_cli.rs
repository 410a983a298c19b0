//! The `check`, `solve`, `why` and `why-not` commands end to end on the rules fixture.

use std::process::Command;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/solve/rules.Packages"
);

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

#[test]
fn check_reports_broken_packages_and_exits_1() {
    let (code, out, _) = run(&["check", "--quiet", "--packages", FIXTURE]);
    assert_eq!(code, 1);
    assert!(out.contains("conf-both 1.0 (all): Conflict"), "{out}");
    assert!(out.contains("43 packages checked, 13 broken"), "{out}");
    let (code, out, _) = run(&["check", "--quiet", "--json", "--packages", FIXTURE]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["broken"].as_array().unwrap().len(), 13);
}

#[test]
fn malformed_index_is_a_usage_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("Packages");
    std::fs::write(&p, "Package: a\nVersion: 1.0\nDepends: b (>= \n").unwrap();
    let (code, _, err) = run(&["check", "--quiet", "--packages", p.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("Packages:3:"), "{err}");
}

#[test]
fn an_empty_index_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("Packages.xz");
    std::fs::write(&p, crate::common::loopback::xz(b"")).unwrap();
    let (code, out, err) = run(&["check", "--quiet", "--packages", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains(&format!("{}: no package stanza", p.display())),
        "{err}"
    );
}

#[test]
fn a_repeated_field_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("Packages");
    std::fs::write(
        &p,
        "\u{feff}Package: a\nVersion: 1.0\nArchitecture: all\nVersion: 2.0\n",
    )
    .unwrap();
    let (code, out, err) = run(&["check", "--quiet", "--packages", p.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(
        err.contains("Packages:4:") && err.contains("`Version` repeated"),
        "{err}"
    );
}

#[test]
fn solve_why_and_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("assignment.json");
    let (code, _, err) = run(&[
        "solve",
        "--quiet",
        "--packages",
        FIXTURE,
        "--domain",
        "t/amd64",
        "--install",
        "backtrack-top alt-ok",
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
    let picks = &v["images"]["request"]["picks"];
    assert_eq!(
        picks["bt-b"], "1.0",
        "bt-a pulls bt-d which conflicts with bt-c: {picks}"
    );
    assert!(picks.get("bt-a").is_none());
    let (code, out, _) = run(&[
        "why",
        "bt-c",
        "--quiet",
        "--packages",
        FIXTURE,
        "--domain",
        "t/amd64",
        "--install",
        "backtrack-top",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("backtrack-top=1.0 needs bt-c"), "{out}");
    let (code, out, _) = run(&[
        "why-not",
        "bt-a=1.0",
        "--quiet",
        "--packages",
        FIXTURE,
        "--domain",
        "t/amd64",
        "--install",
        "backtrack-top",
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("bt-d=1.0 conflicts with bt-c"), "{out}");
    let (code, out, _) = run(&[
        "solve",
        "--quiet",
        "--packages",
        FIXTURE,
        "--domain",
        "t/amd64",
        "--install",
        "conf-both",
    ]);
    assert_eq!(code, 1);
    assert!(out.contains("conf-x=1.0 conflicts with conf-y"), "{out}");
}

#[test]
fn why_and_why_not_json_print_json_alone() {
    let base = [
        "--quiet",
        "--json",
        "--packages",
        FIXTURE,
        "--domain",
        "t/amd64",
        "--install",
        "backtrack-top",
    ];
    let json = |args: &[&str]| -> (i32, serde_json::Value) {
        let (code, out, err) = run(args);
        let v = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON alone ({e}):\n{out}\n{err}"));
        (code, v)
    };
    let (code, v) = json(&[&["why", "bt-c"][..], &base].concat());
    assert_eq!(
        (code, &v["in_solution"]),
        (0, &serde_json::json!(true)),
        "{v}"
    );
    assert!(
        v["chain"][1]["to"].as_str().unwrap().starts_with("bt-c"),
        "{v}"
    );
    let (code, v) = json(&[&["why", "bt-a"][..], &base].concat());
    assert_eq!(
        (code, &v["in_solution"]),
        (1, &serde_json::json!(false)),
        "{v}"
    );
    let (code, v) = json(&[&["why-not", "bt-a=1.0"][..], &base].concat());
    assert_eq!(
        (code, &v["possible"]),
        (1, &serde_json::json!(false)),
        "{v}"
    );
    assert!(
        v["unsat"].as_str().unwrap().contains("conflicts with bt-c"),
        "{v}"
    );
    let (code, v) = json(&[&["why-not", "bt-a=9.9"][..], &base].concat());
    assert_eq!((code, &v["known"]), (1, &serde_json::json!(false)), "{v}");
    let (code, v) = json(&[&["why-not", "bt-c=1.0"][..], &base].concat());
    assert_eq!((code, &v["possible"]), (0, &serde_json::json!(true)), "{v}");
}
