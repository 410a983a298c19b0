//! `sonic-lock bisect --builder docker`: the same search with each trial in a
//! container (a busybox image made with `docker import`), judging the exported
//! versions tree mounted at SONIC_LOCK_VERSIONS_DIR.

use crate::common::containers::{docker_usable, image};
use sonic_lock::lock::{Lock, Pin};
use sonic_lock::manifest::Ecosystem;
use std::process::Command;

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker; runs under CI or with --include-ignored"
)]
fn docker_builder_finds_the_culprit() {
    if !docker_usable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let commit = "586d715f172b1b72e9fc1e7b55625e2e5af590c2";
    let mut good = Lock::new("wedge100bf-32x", commit, "2022-12-06");
    let mut bad = Lock::new("wedge100bf-32x", commit, "2022-12-07");
    for i in 0..12usize {
        let name = format!("pkg{i:02}");
        good.upsert(Pin::new(Ecosystem::Py, &name, "1.0"));
        bad.upsert(Pin::new(Ecosystem::Py, &name, "1.1"));
    }
    good.write(&d.join("good.lock")).unwrap();
    bad.write(&d.join("bad.lock")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args(["--quiet", "--json", "bisect", "--good"])
        .arg(d.join("good.lock"))
        .arg("--bad")
        .arg(d.join("bad.lock"))
        .arg("--state-dir")
        .arg(d.join("state"))
        .args(["--builder", "docker", "--image", &image(), "--", "sh", "-c"])
        .arg("if grep -rqx 'pkg08==1.1' \"$SONIC_LOCK_VERSIONS_DIR\"; then exit 1; fi; exit 0")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = j["outcome"]["culprit_sets"][0]["changes"][0]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(j["changes"][c]["id"], "py pkg08");
    assert!(j["builder"].as_str().unwrap().starts_with("docker"));
}
