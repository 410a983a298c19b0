//! Scaffolding shared by the integration tests: the binary under test and what
//! a run of it said, names no other run uses, shell argv, and a trial input;
//! container runtimes, git trees built in code, loopback origins and the
//! loopback world built from them; skipping a test that cannot run here. Every test binary includes it with
//! `#[path = "../common/mod.rs"] mod common;`, and none uses all of it.
#![allow(dead_code)]

pub mod containers;
pub mod loopback;
pub mod skip;
pub mod tree;
pub mod world;

use sonic_lock::trial::builder::TrialInput;
use sonic_lock::trial::pool::Workspace;
use std::path::Path;
use std::process::{Command, Output};

/// The sonic-lock binary under test.
pub fn sonic_lock() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
}

/// What a finished run said: exit code (-1 when a signal ended it), stdout, stderr.
pub fn said(o: &Output) -> (i32, String, String) {
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs `cmd` to completion: exit code, stdout, stderr.
pub fn run_cmd(cmd: &mut Command) -> (i32, String, String) {
    said(&cmd.output().unwrap())
}

/// Runs sonic-lock with `args`: exit code, stdout, stderr.
pub fn run(args: &[&str]) -> (i32, String, String) {
    run_cmd(sonic_lock().args(args))
}

/// The whole of a run, for assertion messages.
pub fn text(o: &Output) -> String {
    let (code, stdout, stderr) = said(o);
    format!("status {code}\nstdout:\n{stdout}\nstderr:\n{stderr}")
}

/// A name no other test run uses (pid and clock nanoseconds): candidate labels
/// and versions must not collide in a container daemon shared by parallel tests.
pub fn unique(tag: &str) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{tag}{}x{nanos}", std::process::id())
}

/// `/bin/sh -c script` as an argv (builders never go through a shell themselves).
pub fn sh(script: &str) -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), script.into()]
}

/// A trial input under `root` for `candidate`: a versions tree pinning
/// `libfoo==1.0-1` and a lockfile reading `lock v1`.
pub fn trial_input(root: &Path, candidate: &str, builder: &str) -> TrialInput {
    let i = Workspace::new(root).input(candidate, builder).unwrap();
    std::fs::create_dir_all(i.versions_dir.join("default")).unwrap();
    std::fs::write(
        i.versions_dir.join("default/versions-deb"),
        "libfoo==1.0-1\n",
    )
    .unwrap();
    std::fs::write(&i.lockfile, "lock v1\n").unwrap();
    i
}
