//! Shared helpers of the trial integration tests: a usable docker (or a clear
//! skip, or a failure under CI) and a busybox image made with `docker import`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// True when docker is usable. Under CI (env `CI` set) an unusable docker fails the test.
pub fn docker_usable() -> bool {
    match sonic_lock::trial::docker::probe("docker") {
        Ok(()) => true,
        Err(e) => {
            if std::env::var_os("CI").is_some() {
                panic!("CI is set but docker is unusable: {e}");
            }
            eprintln!("skipping docker test: docker is unusable ({e})");
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
    static IMAGE: OnceLock<String> = OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let bb = busybox();
            let bytes = std::fs::read(&bb).unwrap();
            let tag = format!(
                "sonic-lock-test/busybox:{}",
                &sonic_lock::fsio::sha256_hex(&bytes)[..12]
            );
            let have = Command::new("docker")
                .args(["image", "inspect", &tag])
                .output()
                .unwrap();
            if have.status.success() {
                return tag;
            }
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
            let out = Command::new("docker")
                .arg("import")
                .arg(&tar)
                .arg(&tag)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "docker import: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            tag
        })
        .clone()
}

/// IDs of containers (running or not) labelled with `candidate`.
pub fn containers_of(candidate: &str) -> Vec<String> {
    let out = Command::new("docker")
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
