//! Real podman trials, mirroring the docker ones: pass, fail, skip, read-only
//! versions, network off, timeout, missing image, and cleanup after Ctrl-C.
//! Skipped when podman is not installed.

mod trial_support;

use sonic_lock::trial::builder::{Builder, TrialError, TrialInput, Verdict};
use sonic_lock::trial::docker::{DockerBuilder, DockerConfig};
use sonic_lock::trial::journal::Journal;
use sonic_lock::trial::pool::Workspace;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use trial_support::{containers_in, image_for, runtime_usable, wait_for};

const PODMAN: &str = "podman";

fn sh(script: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script.into()]
}

fn config(script: &str) -> DockerConfig {
    let mut c = DockerConfig::new(&image_for(PODMAN), sh(script));
    c.runtime = PODMAN.into();
    c
}

fn input(root: &Path, candidate: &str) -> TrialInput {
    let i = Workspace::new(root)
        .input(candidate, "podman test")
        .unwrap();
    std::fs::create_dir_all(i.versions_dir.join("default")).unwrap();
    std::fs::write(
        i.versions_dir.join("default/versions-deb"),
        "libfoo==1.0-1\n",
    )
    .unwrap();
    std::fs::write(&i.lockfile, "lock v1\n").unwrap();
    i
}

fn unique(tag: &str) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{tag}{}x{nanos}", std::process::id())
}

#[test]
fn podman_pass_fail_skip_mounts_and_network() {
    if !runtime_usable(PODMAN) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let cand = unique("ppfs");
    let i = input(d.path(), &cand);
    let script = "set -e; grep -q '^libfoo==1.0-1$' \"$SONIC_LOCK_VERSIONS_DIR/default/versions-deb\"; \
                  test \"$(cat \"$SONIC_LOCK_LOCKFILE\")\" = 'lock v1'; \
                  echo built > \"$SONIC_LOCK_WORK_DIR/artifact\"; \
                  if touch \"$SONIC_LOCK_VERSIONS_DIR/x\" 2>/dev/null; then exit 9; fi; \
                  if grep -q eth0 /proc/net/dev; then exit 8; fi; \
                  echo all good";
    let r = DockerBuilder::new(config(script)).run(&i).unwrap();
    let log = std::fs::read_to_string(&r.log).unwrap();
    assert_eq!(r.verdict, Verdict::Pass, "{log}");
    assert!(log.contains("all good"));
    assert_eq!(
        std::fs::read_to_string(i.work_dir.join("artifact")).unwrap(),
        "built\n"
    );
    assert!(!i.versions_dir.join("x").exists());
    assert!(containers_in(PODMAN, &cand).is_empty());

    for (code, verdict) in [
        (3, Verdict::Fail),
        (125, Verdict::Skip),
        (126, Verdict::Fail),
    ] {
        let r = DockerBuilder::new(config(&format!("exit {code}")))
            .run(&i)
            .unwrap();
        assert_eq!((r.verdict, r.exit_code), (verdict, Some(code)));
        assert!(containers_in(PODMAN, &cand).is_empty());
    }

    // The host's limits are what the container gets unless --ulimit says otherwise.
    let mut c = config("ulimit -n");
    c.ulimits = vec!["nofile=512:512".into()];
    let r = DockerBuilder::new(c).run(&i).unwrap();
    let log = std::fs::read_to_string(&r.log).unwrap();
    assert_eq!(r.verdict, Verdict::Pass, "{log}");
    assert!(log.lines().any(|l| l.trim() == "512"), "{log}");
}

#[test]
fn podman_timeout_kills_and_removes_the_container() {
    if !runtime_usable(PODMAN) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let cand = unique("ptmo");
    let i = input(d.path(), &cand);
    let mut c = config("echo sleeping; sleep 120");
    c.timeout = Some(Duration::from_secs(2));
    let r = DockerBuilder::new(c).run(&i).unwrap();
    assert!(r.timed_out);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(
        std::fs::read_to_string(&r.log)
            .unwrap()
            .contains("timed out")
    );
    assert!(containers_in(PODMAN, &cand).is_empty());
}

#[test]
fn podman_missing_image_is_a_start_error_without_leftovers() {
    if !runtime_usable(PODMAN) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let cand = unique("pimg");
    let i = input(d.path(), &cand);
    let mut c = config("true");
    c.image = "localhost/sonic-lock-test/does-not-exist:never".into();
    let e = DockerBuilder::new(c).run(&i).unwrap_err();
    assert!(matches!(e, TrialError::Start { .. }), "{e}");
    assert!(containers_in(PODMAN, &cand).is_empty());
}

#[test]
fn podman_ctrl_c_removes_the_container_and_records_nothing() {
    if !runtime_usable(PODMAN) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let versions = d.path().join("v");
    std::fs::create_dir_all(versions.join("default")).unwrap();
    std::fs::write(
        versions.join("default/versions-py3"),
        format!("x=={}\n", unique("c")),
    )
    .unwrap();
    let shared = d.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let ws = d.path().join("ws");
    let child = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .arg("--quiet")
        .arg("trial")
        .arg("--versions")
        .arg(&versions)
        .arg("--workspace")
        .arg(&ws)
        .args([
            "--builder",
            "docker",
            "--container-runtime",
            PODMAN,
            "--image",
            &image_for(PODMAN),
            "--mount",
        ])
        .arg(format!("{}:/shared", shared.display()))
        .args([
            "--",
            "/bin/sh",
            "-c",
            "echo $SONIC_LOCK_CANDIDATE > /shared/started; sleep 120",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert!(wait_for(&shared.join("started")), "the trial never started");
    let cand = std::fs::read_to_string(shared.join("started"))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(
        containers_in(PODMAN, &cand).len(),
        1,
        "the trial container should be running"
    );
    // SAFETY: signalling the child we spawned.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        containers_in(PODMAN, &cand).is_empty(),
        "container left after Ctrl-C"
    );
    let j = Journal::open(&ws.join("journal")).unwrap();
    assert!(j.entries().is_empty(), "an interrupted trial was recorded");
    assert!(
        !ws.join(&cand).join("work").exists(),
        "work dir left behind"
    );
}
