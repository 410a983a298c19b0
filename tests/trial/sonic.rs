//! The sonic builder on a miniature checkout whose Makefile behaves like
//! sonic-buildimage's version machinery: it reads `files/build/versions`,
//! records what it "installed" under `target/versions`, and prints the same
//! warnings. Silent fallbacks must turn a passing make into a failure.

use sonic_lock::trial::builder::{Builder, TrialInput, Verdict};
use sonic_lock::trial::pool::Workspace;
use sonic_lock::trial::sonic::{PIP_CONSTRAINT_PATH, SonicBuilder, SonicConfig};
use sonic_lock::trial::triage::Triage;
use std::path::Path;

/// A Makefile that checks its inputs and records `USED` as the installed libfoo version.
const MAKEFILE: &str = r#"
V := files/build/versions
all:
	@echo "components=$(SONIC_VERSION_CONTROL_COMPONENTS) extra=$(SONIC_BUILDER_EXTRA_CMDLINE)"
	@test "$(SONIC_VERSION_CONTROL_COMPONENTS)" = all
	@grep -q '^libfoo==' $(V)/build/build-sonic-slave-bullseye/versions-deb-bullseye
	@grep -q 'https://mirror.example/x.tgz' rules/x.mk
	@test -s target/sonic-lock/pip-constraint.txt
	@mkdir -p target/versions/build/build-sonic-slave-bullseye target/versions/build/log-1
	@echo "libfoo==$${USED}" > target/versions/build/build-sonic-slave-bullseye/versions-deb-bullseye
	@if [ -n "$${GITFAIL}" ]; then echo "fatal: Could not parse object 'c7237377a5c4c7aad8bb1ebf2bea0de0d45c7e54'." > target/versions/build/log-1/versions-git.log; fi
	@if [ -n "$${WARN}" ]; then echo "Warning: the version of the package libbar is not specified."; fi
	@if [ -n "$${NODIGEST}" ]; then mkdir -p target/versions/default && echo "debian:bullseye sha256 value is unknown" >> target/versions/default/versions-docker.log; fi
	@exit $${EXIT:-0}
"#;

fn checkout(root: &Path) {
    std::fs::create_dir_all(root.join("files/build")).unwrap();
    std::fs::create_dir_all(root.join("rules")).unwrap();
    std::fs::write(root.join("Makefile.work"), "# stands in for SONiC's\n").unwrap();
    std::fs::write(root.join("Makefile"), MAKEFILE).unwrap();
    std::fs::write(
        root.join("rules/x.mk"),
        "X_URL = https://github.com/org/repo/raw/master/x.tgz\n",
    )
    .unwrap();
}

fn input(root: &Path) -> TrialInput {
    let i = Workspace::new(root).input("cand1", "sonic test").unwrap();
    let slave = i.versions_dir.join("build/build-sonic-slave-bullseye");
    std::fs::create_dir_all(&slave).unwrap();
    std::fs::write(slave.join("versions-deb-bullseye"), "libfoo==1.2-3\n").unwrap();
    std::fs::write(slave.join("versions-py3"), "lxml==4.6.5\npyyaml==5.4.1\n").unwrap();
    std::fs::write(&i.lockfile, "").unwrap();
    i
}

fn builder(co: &Path, env: &[(&str, &str)]) -> SonicBuilder {
    let mut c = SonicConfig::new(co, "all");
    c.url_rewrites = vec![(
        "https://github.com/org/repo/raw/master/x.tgz".into(),
        "https://mirror.example/x.tgz".into(),
    )];
    c.env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    SonicBuilder::new(c).unwrap()
}

#[test]
fn honoured_pins_pass_and_rewrites_are_undone() {
    let d = tempfile::tempdir().unwrap();
    let co = d.path().join("sonic-buildimage");
    checkout(&co);
    let i = input(d.path());
    let r = builder(&co, &[("USED", "1.2-3")]).run(&i).unwrap();
    let log = std::fs::read_to_string(&r.log).unwrap();
    assert_eq!(r.verdict, Verdict::Pass, "{log}");
    assert!(log.contains("components=all"));
    assert!(log.contains(&format!("PIP_CONSTRAINT=/sonic/{PIP_CONSTRAINT_PATH}")));
    assert_eq!(
        std::fs::read_to_string(co.join(PIP_CONSTRAINT_PATH)).unwrap(),
        "lxml==4.6.5\npyyaml==5.4.1\n"
    );
    assert!(
        std::fs::read_to_string(co.join("rules/x.mk"))
            .unwrap()
            .contains("raw/master"),
        "URL rewrite not undone"
    );
    assert!(
        co.join("files/build/versions/build/build-sonic-slave-bullseye/versions-deb-bullseye")
            .exists()
    );
}

#[test]
fn a_pin_not_honoured_fails_and_is_attributed() {
    let d = tempfile::tempdir().unwrap();
    let co = d.path().join("sonic-buildimage");
    checkout(&co);
    let i = input(d.path());
    let r = builder(&co, &[("USED", "1.2-4")]).run(&i).unwrap();
    assert_eq!(r.verdict, Verdict::Fail);
    let rep = Triage::builtin().unwrap().scan_file(&r.log).unwrap();
    let imp = rep.implicated();
    assert_eq!(imp.len(), 1, "{rep:?}");
    assert_eq!(imp[0].name.as_deref(), Some("libfoo"));
    assert_eq!(imp[0].version.as_deref(), Some("1.2-3"));
}

#[test]
fn version_warnings_and_failed_git_resets_fail_the_trial() {
    let d = tempfile::tempdir().unwrap();
    let co = d.path().join("sonic-buildimage");
    checkout(&co);
    let i = input(d.path());
    let r = builder(&co, &[("USED", "1.2-3"), ("WARN", "1")])
        .run(&i)
        .unwrap();
    assert_eq!(r.verdict, Verdict::Fail);
    let r = builder(&co, &[("USED", "1.2-3"), ("GITFAIL", "1")])
        .run(&i)
        .unwrap();
    assert_eq!(r.verdict, Verdict::Fail);
    let log = std::fs::read_to_string(&r.log).unwrap();
    assert!(
        log.contains("git reset to pin failed: c7237377a5c4c7aad8bb1ebf2bea0de0d45c7e54"),
        "{log}"
    );
    // The base image built from its moving tag because no digest was pinned.
    let r = builder(&co, &[("USED", "1.2-3"), ("NODIGEST", "1")])
        .run(&i)
        .unwrap();
    assert_eq!(r.verdict, Verdict::Fail);
    let rep = Triage::builtin().unwrap().scan_file(&r.log).unwrap();
    let imp = rep.implicated();
    assert_eq!(
        (imp[0].ecosystem.as_str(), imp[0].name.as_deref()),
        ("docker", Some("debian:bullseye")),
        "{rep:?}"
    );
    let r = builder(&co, &[("USED", "1.2-3"), ("EXIT", "2")])
        .run(&i)
        .unwrap();
    assert_eq!((r.verdict, r.exit_code), (Verdict::Fail, Some(2)));
}
