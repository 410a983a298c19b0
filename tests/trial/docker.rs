//! Real container trials: pass, fail, skip, read-only versions, network off,
//! limits, CA bundle, timeout, missing image, Ctrl-C cleanup, and a killed
//! run that resumes from the journal.

use crate::common;
use crate::common::containers::{
    containers_of, ctrl_c_removes_the_container, docker_usable, image,
    missing_image_is_a_start_error, pass_fail_skip, timeout_removes_the_container, wait_for,
};
use crate::common::{sh, sonic_lock, unique};
use sonic_lock::trial::builder::{Builder, TrialInput, Verdict};
use sonic_lock::trial::docker::{DockerBuilder, DockerConfig, Mount};
use sonic_lock::trial::journal::Journal;
use std::path::Path;
use std::process::Stdio;

fn input(root: &Path, candidate: &str) -> TrialInput {
    common::trial_input(root, candidate, "docker test")
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker; runs under CI or with --include-ignored"
)]
fn pass_fail_skip_and_mounts() {
    if docker_usable() {
        pass_fail_skip("docker");
    }
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker; runs under CI or with --include-ignored"
)]
fn network_is_off_unless_asked() {
    if !docker_usable() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let cand = unique("net");
    let i = input(d.path(), &cand);
    let script = "cat /proc/net/dev; grep -q eth0 /proc/net/dev";
    let off = DockerBuilder::new(DockerConfig::new(&image(), sh(script)));
    assert_eq!(off.run(&i).unwrap().verdict, Verdict::Fail);
    let mut c = DockerConfig::new(&image(), sh(script));
    c.network = true;
    let on = DockerBuilder::new(c);
    let r = on.run(&i).unwrap();
    assert_eq!(
        r.verdict,
        Verdict::Pass,
        "{}",
        std::fs::read_to_string(&r.log).unwrap()
    );
    assert!(containers_of(&cand).is_empty());
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker; runs under CI or with --include-ignored"
)]
fn cpu_and_memory_limits_reach_the_cgroup() {
    if !docker_usable() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let cand = unique("lim");
    let i = input(d.path(), &cand);
    let script = "m=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max); \
                  q=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max); \
                  echo mem=$m quota=$q; test \"$m\" = 67108864 && test \"$q\" = 50000";
    let mut c = DockerConfig::new(&image(), sh(script));
    c.memory = Some("64m".into());
    c.cpus = Some("0.5".into());
    let r = DockerBuilder::new(c).run(&i).unwrap();
    assert_eq!(
        r.verdict,
        Verdict::Pass,
        "{}",
        std::fs::read_to_string(&r.log).unwrap()
    );
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker; runs under CI or with --include-ignored"
)]
fn ca_bundle_is_mounted_and_trusted() {
    if !docker_usable() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let cand = unique("ca");
    let i = input(d.path(), &cand);
    let ca = d.path().join("proxy-ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let script = "grep -q TEST \"$SSL_CERT_FILE\" && test \"$PIP_CERT\" = \"$REQUESTS_CA_BUNDLE\" && grep -q TEST /etc/ssl/certs/ca-certificates.crt";
    let mut c = DockerConfig::new(&image(), sh(script));
    c.ca_bundle = Some(ca);
    let r = DockerBuilder::new(c).run(&i).unwrap();
    assert_eq!(
        r.verdict,
        Verdict::Pass,
        "{}",
        std::fs::read_to_string(&r.log).unwrap()
    );
    let mut c = DockerConfig::new(&image(), sh("true"));
    c.ca_bundle = Some(d.path().join("missing.pem"));
    let e = DockerBuilder::new(c).run(&i).unwrap_err();
    assert!(e.to_string().contains("missing.pem"), "{e}");
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker; runs under CI or with --include-ignored"
)]
fn extra_mounts_and_env() {
    if !docker_usable() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let shared = d.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let i = input(d.path(), &unique("mnt"));
    let mut c = DockerConfig::new(&image(), sh("echo \"$GREETING\" > /shared/out"));
    c.mounts = vec![
        format!("{}:/shared", shared.display())
            .parse::<Mount>()
            .unwrap(),
    ];
    c.env = vec![("GREETING".into(), "hello".into())];
    assert_eq!(
        DockerBuilder::new(c).run(&i).unwrap().verdict,
        Verdict::Pass
    );
    assert_eq!(
        std::fs::read_to_string(shared.join("out")).unwrap(),
        "hello\n"
    );
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker; runs under CI or with --include-ignored"
)]
fn timeout_kills_and_removes_the_container() {
    if docker_usable() {
        timeout_removes_the_container("docker");
    }
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker; runs under CI or with --include-ignored"
)]
fn missing_image_is_a_start_error_without_leftovers() {
    if docker_usable() {
        missing_image_is_a_start_error("docker");
    }
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker; runs under CI or with --include-ignored"
)]
fn ctrl_c_removes_the_container_and_records_nothing() {
    if docker_usable() {
        ctrl_c_removes_the_container("docker");
    }
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker; runs under CI or with --include-ignored"
)]
fn killed_run_resumes_without_rebuilding() {
    if !docker_usable() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let tag = unique("k");
    let mut dirs = Vec::new();
    for n in 1..=3 {
        let v = d.path().join(format!("v{n}"));
        std::fs::create_dir_all(v.join("default")).unwrap();
        std::fs::write(v.join("default/versions-deb"), format!("p=={n}-{tag}\n")).unwrap();
        dirs.push(v);
    }
    let shared = d.path().join("shared");
    std::fs::create_dir_all(&shared).unwrap();
    let ws = d.path().join("ws");
    // The second build of the first run hangs (it is the one we kill); later builds pass.
    let script = "echo $SONIC_LOCK_CANDIDATE >> /shared/runs; n=$(wc -l < /shared/runs); \
                  if [ \"$n\" = 2 ]; then echo $SONIC_LOCK_CANDIDATE > /shared/hanging; sleep 120; fi";
    let run = || {
        let mut c = sonic_lock();
        c.arg("--quiet").arg("trial");
        for v in &dirs {
            c.arg("--versions").arg(v);
        }
        c.arg("--workspace")
            .arg(&ws)
            .args([
                "--builder",
                "docker",
                "--image",
                &image(),
                "--jobs",
                "1",
                "--mount",
            ])
            .arg(format!("{}:/shared", shared.display()))
            .args(["--", "/bin/sh", "-c", script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    };
    let mut first = run().spawn().unwrap();
    assert!(
        wait_for(&shared.join("hanging")),
        "second trial never started"
    );
    let hanging = std::fs::read_to_string(shared.join("hanging"))
        .unwrap()
        .trim()
        .to_string();
    first.kill().unwrap(); // SIGKILL: no chance to clean up or record
    first.wait().unwrap();
    let j = Journal::open(&ws.join("journal")).unwrap();
    assert_eq!(j.entries().len(), 1, "only the finished trial is recorded");
    drop(j);

    let out = run().output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].contains("pass (from journal)"), "{stdout}");
    assert!(
        lines[1].contains("pass") && !lines[1].contains("journal"),
        "{stdout}"
    );
    let runs = std::fs::read_to_string(shared.join("runs")).unwrap();
    assert_eq!(runs.lines().count(), 4, "first candidate rebuilt:\n{runs}");
    assert_eq!(
        Journal::open(&ws.join("journal")).unwrap().entries().len(),
        3
    );
    // The orphan of the killed run was reaped by the second run.
    assert!(containers_of(&hanging).is_empty(), "orphan container left");
}
