//! Shared helpers of the trial integration tests: a usable docker (or a clear
//! skip, or a failure under CI) and a busybox image made with `docker import`.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// True when docker is usable. Under CI (env `CI` set) an unusable docker fails the test.
pub fn docker_usable() -> bool {
    runtime_usable("docker")
}

/// True when the container CLI `runtime` is usable. A runtime that is not
/// installed skips the test; one that is installed but unusable skips it too,
/// except under CI (env `CI` set, where `.ci/run` installs and starts it), where it fails.
pub fn runtime_usable(runtime: &str) -> bool {
    let installed = Command::new(runtime)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !installed && runtime != "docker" {
        eprintln!("skipping {runtime} test: {runtime} is not installed");
        return false;
    }
    match sonic_lock::trial::docker::probe(runtime) {
        Ok(()) => true,
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!("CI is set but {runtime} is unusable: {e}");
            }
            eprintln!("skipping {runtime} test: {runtime} is unusable ({e})");
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
pub mod universe;
