//! Real containers for the trial tests, with docker or podman: whether the
//! runtime is usable (a counted skip, or a failure under CI), a busybox image
//! made with `<runtime> import`, the containers a candidate left, and the
//! scenarios every runtime must pass.

use super::skip::skip_or_fail;
use super::{sh, sonic_lock, trial_input, unique};
use sonic_lock::trial::builder::{Builder, TrialError, Verdict};
use sonic_lock::trial::docker::{DockerBuilder, DockerConfig};
use sonic_lock::trial::journal::Journal;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// True when docker is usable; otherwise the test is skipped, or fails under CI
/// (see [`skip_or_fail`]).
pub fn docker_usable() -> bool {
    runtime_usable("docker")
}

/// True when the container CLI `runtime` is installed and usable; otherwise
/// the test is skipped, or fails under CI (where `.ci/run` installs and starts
/// every runtime the tests use), via [`skip_or_fail`].
pub fn runtime_usable(runtime: &str) -> bool {
    let installed = Command::new(runtime)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed {
        skip_or_fail(&format!("{runtime} is not installed"));
        return false;
    }
    match sonic_lock::trial::docker::probe(runtime) {
        Ok(()) => true,
        Err(e) => {
            skip_or_fail(&format!("{runtime} is unusable ({e})"));
            false
        }
    }
}

fn busybox() -> PathBuf {
    for p in ["/bin/busybox", "/usr/bin/busybox"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("busybox-static is not installed (apt-get install busybox-static)");
}

/// A tiny image: a static busybox with its applets, imported with `docker import`.
pub fn image() -> String {
    image_for("docker")
}

/// The busybox image imported into `runtime` (`docker import` or `podman import`).
pub fn image_for(runtime: &str) -> String {
    static IMAGES: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    let mut images = IMAGES
        .get_or_init(|| Mutex::new(HashMap::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(tag) = images.get(runtime) {
        return tag.clone();
    }
    let bb = busybox();
    let bytes = std::fs::read(&bb).unwrap();
    // Podman names local images under `localhost/`; a fully qualified name
    // never sends it searching registries.
    let tag = format!(
        "{}sonic-lock-test/busybox:{}",
        if runtime == "docker" {
            ""
        } else {
            "localhost/"
        },
        &sonic_lock::fsio::sha256_hex(&bytes)[..12]
    );
    let have = Command::new(runtime)
        .args(["image", "inspect", &tag])
        .output()
        .unwrap();
    if !have.status.success() {
        let root = tempfile::tempdir().unwrap();
        let bin = root.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(root.path().join("tmp")).unwrap();
        std::fs::copy(&bb, bin.join("busybox")).unwrap();
        let list = Command::new(&bb).arg("--list").output().unwrap();
        for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
            if applet != "busybox" {
                std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
            }
        }
        let tar = root.path().join("rootfs.tar");
        let ok = Command::new("tar")
            .arg("-C")
            .arg(root.path())
            .arg("-cf")
            .arg(&tar)
            .args(["bin", "tmp"])
            .status()
            .unwrap();
        assert!(ok.success());
        let out = Command::new(runtime)
            .arg("import")
            .arg(&tar)
            .arg(&tag)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{runtime} import: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    images.insert(runtime.to_string(), tag.clone());
    tag
}

/// IDs of containers (running or not) labelled with `candidate`.
pub fn containers_of(candidate: &str) -> Vec<String> {
    containers_in("docker", candidate)
}

/// IDs of `runtime`'s containers (running or not) labelled with `candidate`.
pub fn containers_in(runtime: &str, candidate: &str) -> Vec<String> {
    let out = Command::new(runtime)
        .args(["ps", "-a", "-q", "--filter"])
        .arg(format!("label=sonic-lock.candidate={candidate}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Waits (bounded) for `path` to exist; a condition, not a timing assertion.
pub fn wait_for(path: &Path) -> bool {
    for _ in 0..1200 {
        if path.exists() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    false
}

/// A builder config running `script` in `runtime`'s busybox image.
pub fn config(runtime: &str, script: &str) -> DockerConfig {
    let mut c = DockerConfig::new(&image_for(runtime), sh(script));
    c.runtime = runtime.into();
    c
}

/// Pass, fail (1-127 but 125), skip (125); the versions tree and lockfile are
/// mounted read-only, the work directory writable, the network off; nothing is left behind.
pub fn pass_fail_skip(runtime: &str) {
    let d = tempfile::tempdir().unwrap();
    let cand = unique("pfs");
    let i = trial_input(d.path(), &cand, runtime);
    let script = "set -e; grep -q '^libfoo==1.0-1$' \"$SONIC_LOCK_VERSIONS_DIR/default/versions-deb\"; \
                  test \"$(cat \"$SONIC_LOCK_LOCKFILE\")\" = 'lock v1'; \
                  echo built > \"$SONIC_LOCK_WORK_DIR/artifact\"; \
                  if touch \"$SONIC_LOCK_VERSIONS_DIR/x\" 2>/dev/null; then exit 9; fi; \
                  if grep -q eth0 /proc/net/dev; then exit 8; fi; \
                  echo all good";
    let r = DockerBuilder::new(config(runtime, script)).run(&i).unwrap();
    let log = std::fs::read_to_string(&r.log).unwrap();
    assert_eq!(r.verdict, Verdict::Pass, "{log}");
    assert!(log.contains("all good"));
    assert_eq!(
        std::fs::read_to_string(i.work_dir.join("artifact")).unwrap(),
        "built\n"
    );
    assert!(!i.versions_dir.join("x").exists());
    assert!(containers_in(runtime, &cand).is_empty());
    for (code, verdict) in [
        (3, Verdict::Fail),
        (125, Verdict::Skip),
        (126, Verdict::Fail),
    ] {
        let r = DockerBuilder::new(config(runtime, &format!("exit {code}")))
            .run(&i)
            .unwrap();
        assert_eq!((r.verdict, r.exit_code), (verdict, Some(code)));
        assert!(containers_in(runtime, &cand).is_empty());
    }
}

/// A trial past its wall-clock limit fails, says so in its log, and its container is removed.
pub fn timeout_removes_the_container(runtime: &str) {
    let d = tempfile::tempdir().unwrap();
    let cand = unique("tmo");
    let i = trial_input(d.path(), &cand, runtime);
    let mut c = config(runtime, "echo sleeping; sleep 120");
    c.timeout = Some(Duration::from_secs(2));
    let r = DockerBuilder::new(c).run(&i).unwrap();
    assert!(r.timed_out);
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(
        std::fs::read_to_string(&r.log)
            .unwrap()
            .contains("timed out")
    );
    assert!(containers_in(runtime, &cand).is_empty());
}

/// An image that does not exist is an error starting the builder, not a failed build.
pub fn missing_image_is_a_start_error(runtime: &str) {
    let d = tempfile::tempdir().unwrap();
    let cand = unique("img");
    let i = trial_input(d.path(), &cand, runtime);
    let mut c = config(runtime, "true");
    c.image = "localhost/sonic-lock-test/does-not-exist:never".into();
    let e = DockerBuilder::new(c).run(&i).unwrap_err();
    assert!(matches!(e, TrialError::Start { .. }), "{e}");
    assert!(containers_in(runtime, &cand).is_empty());
}

/// Ctrl-C during `sonic-lock trial` removes the running container, exits 130,
/// and records nothing in the journal.
pub fn ctrl_c_removes_the_container(runtime: &str) {
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
    let child = sonic_lock()
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
            runtime,
            "--image",
            &image_for(runtime),
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
        containers_in(runtime, &cand).len(),
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
        containers_in(runtime, &cand).is_empty(),
        "container left after Ctrl-C"
    );
    let j = Journal::open(&ws.join("journal")).unwrap();
    assert!(j.entries().is_empty(), "an interrupted trial was recorded");
    assert!(
        !ws.join(&cand).join("work").exists(),
        "work dir left behind"
    );
}
