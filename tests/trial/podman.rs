//! Real podman trials, the same scenarios the docker ones pass (pass, fail,
//! skip, read-only versions, network off, timeout, missing image, cleanup
//! after Ctrl-C), plus podman's resource limits. Skipped when podman is not
//! installed.

use crate::common::containers::{
    config, ctrl_c_removes_the_container, missing_image_is_a_start_error, pass_fail_skip,
    runtime_usable, timeout_removes_the_container,
};
use crate::common::{trial_input, unique};
use sonic_lock::trial::builder::{Builder, Verdict};
use sonic_lock::trial::docker::DockerBuilder;

const PODMAN: &str = "podman";

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs podman; runs under CI or with --include-ignored"
)]
fn podman_pass_fail_skip_mounts_and_network() {
    if runtime_usable(PODMAN) {
        pass_fail_skip(PODMAN);
    }
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs podman; runs under CI or with --include-ignored"
)]
fn podman_timeout_kills_and_removes_the_container() {
    if runtime_usable(PODMAN) {
        timeout_removes_the_container(PODMAN);
    }
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs podman; runs under CI or with --include-ignored"
)]
fn podman_missing_image_is_a_start_error_without_leftovers() {
    if runtime_usable(PODMAN) {
        missing_image_is_a_start_error(PODMAN);
    }
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs podman; runs under CI or with --include-ignored"
)]
fn podman_ctrl_c_removes_the_container_and_records_nothing() {
    if runtime_usable(PODMAN) {
        ctrl_c_removes_the_container(PODMAN);
    }
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs podman; runs under CI or with --include-ignored"
)]
fn podman_limits_default_to_the_hosts_and_can_be_set() {
    if !runtime_usable(PODMAN) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let i = trial_input(d.path(), &unique("ulim"), PODMAN);
    // Naming one limit keeps the host's for the other (podman would ask for more than it may).
    let mut c = config(PODMAN, "ulimit -n");
    c.ulimits = vec!["nofile=512:512".into()];
    let r = DockerBuilder::new(c).run(&i).unwrap();
    let log = std::fs::read_to_string(&r.log).unwrap();
    assert_eq!(r.verdict, Verdict::Pass, "{log}");
    assert!(log.lines().any(|l| l.trim() == "512"), "{log}");
    let r = DockerBuilder::new(config(PODMAN, "ulimit -n"))
        .run(&i)
        .unwrap();
    assert_eq!(r.verdict, Verdict::Pass);
}
