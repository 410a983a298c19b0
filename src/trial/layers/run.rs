//! Running one layer: a container of the parent layer runs the step's script
//! (with the step's files bind-mounted, so they never enter the layer), and a
//! step that passes is committed as the layer's image. The base layer is a
//! root filesystem made by `mmdebstrap` and imported.

use super::super::builder::TrialError;
use super::super::command::supervise;
use super::super::docker::{CANDIDATE_LABEL, OWNER_LABEL, output, parse_state};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Where a step's files (script, apt sources and preferences, constraints, outputs) appear in its container.
pub const STEP_DIR: &str = "/sonic-lock/step";
/// Where `--ca-bundle` appears in a step container: beside, not over, the
/// image's own bundle, which installing `ca-certificates` must be able to replace.
pub const STEP_CA_BUNDLE: &str = "/sonic-lock/ca-bundle.crt";
/// Label marking a container as a layer step (value: the layer key).
pub const STEP_LABEL: &str = "sonic-lock.layer-step";

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// How step containers run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    /// `docker` or `podman`.
    pub runtime: String,
    /// The container network (`host` to reach loopback mirrors); the runtime's default when unset.
    pub network_mode: Option<String>,
    /// Host CA bundle mounted where apt, pip and curl look for one.
    pub ca_bundle: Option<PathBuf>,
}

/// How a step's container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The script exited with this code.
    Exited(i32),
    /// Killed at the wall-clock limit.
    TimedOut,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrialError + '_ {
    move |source| TrialError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn start_error(what: &str, message: String) -> TrialError {
    TrialError::Start {
        builder: format!("layers: {what}"),
        message,
    }
}

impl Runner {
    /// Runs `step_dir/script.sh` in a new container of `parent`, logging to `log`.
    /// On a zero exit the container is kept (named in the result) for [`Runner::commit`];
    /// otherwise it is removed.
    pub fn run_step(
        &self,
        parent: &str,
        key: &str,
        candidate: &str,
        step_dir: &Path,
        log: &Path,
        timeout: Option<Duration>,
    ) -> Result<(Ended, String), TrialError> {
        let rt = self.runtime.as_str();
        let dir = std::fs::canonicalize(step_dir).map_err(io(step_dir))?;
        let name = format!(
            "sonic-lock-layer-{}-{}-{}",
            &key[..12.min(key.len())],
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::SeqCst)
        );
        let mut args: Vec<String> = vec![
            "create".into(),
            "--name".into(),
            name.clone(),
            "--label".into(),
            format!("{OWNER_LABEL}={}", std::process::id()),
            "--label".into(),
            format!("{CANDIDATE_LABEL}={candidate}"),
            "--label".into(),
            format!("{STEP_LABEL}={key}"),
            "--mount".into(),
            format!("type=bind,source={},target={STEP_DIR}", dir.display()),
        ];
        if let Some(mode) = &self.network_mode {
            args.extend(["--network".into(), mode.clone()]);
        }
        if let Some(ca) = &self.ca_bundle {
            let ca = std::fs::canonicalize(ca).map_err(io(ca))?;
            args.extend([
                "--mount".into(),
                format!(
                    "type=bind,source={},target={STEP_CA_BUNDLE},readonly",
                    ca.display()
                ),
            ]);
        }
        args.extend([
            parent.to_string(),
            "/bin/sh".into(),
            format!("{STEP_DIR}/script.sh"),
        ]);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        output(rt, &argv).map_err(|e| start_error(parent, e.to_string()))?;
        let mut cmd = Command::new(rt);
        cmd.args(["start", "-a", &name]);
        let describe = format!("layers: {rt} start {name}");
        let run = supervise(cmd, log, timeout, &describe, Some((rt, &name)), &|| {
            super::super::docker::remove_container(rt, &name)
        });
        let run = match run {
            Ok(r) => r,
            Err(e) => {
                super::super::docker::remove_container(rt, &name);
                return Err(e);
            }
        };
        if run.timed_out() {
            super::super::docker::remove_container(rt, &name);
            return Ok((Ended::TimedOut, name));
        }
        let state = output(
            rt,
            &[
                "inspect",
                "--format",
                "{{.State.StartedAt}} {{.State.ExitCode}} {{.State.OOMKilled}}",
                &name,
            ],
        );
        let Some((code, _)) = state.as_ref().ok().and_then(|s| parse_state(s)) else {
            super::super::docker::remove_container(rt, &name);
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(5).collect();
            return Err(start_error(
                parent,
                format!("the step container did not start: {}", tail.join(" | ")),
            ));
        };
        if code != 0 {
            super::super::docker::remove_container(rt, &name);
        }
        Ok((Ended::Exited(code), name))
    }

    /// Commits the kept container `name` as `image` (labelled with its key) and removes it.
    pub fn commit(
        &self,
        name: &str,
        image: &str,
        key: &str,
        labels: &[(&str, String)],
    ) -> Result<(), TrialError> {
        let rt = self.runtime.as_str();
        let mut args: Vec<String> = vec!["commit".into(), "--change".into()];
        args.push(format!("LABEL {}={key}", super::cache::KEY_LABEL));
        for (k, v) in labels {
            args.push("--change".into());
            args.push(format!("LABEL {k}=\"{v}\""));
        }
        args.extend(["--change".into(), "CMD [\"/bin/sh\"]".into()]);
        args.extend([name.to_string(), image.to_string()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = output(rt, &args);
        super::super::docker::remove_container(rt, name);
        r.map(|_| ())
            .map_err(|e| start_error(image, format!("commit: {e}")))
    }

    /// Removes a kept container that will not be committed.
    pub fn discard(&self, name: &str) {
        super::super::docker::remove_container(&self.runtime, name);
    }
}

/// `mmdebstrap` of `suite` (variant `variant`) from `sources` (one-line
/// `deb URL SUITE COMPONENT` entries), imported as `image`; the output goes to `log`.
#[allow(clippy::too_many_arguments)]
pub fn mmdebstrap_base(
    runtime: &str,
    variant: &str,
    suite: &str,
    sources: &[String],
    keyring: Option<&Path>,
    ca_bundle: Option<&Path>,
    image: &str,
    work: &Path,
    log: &Path,
    timeout: Option<Duration>,
) -> Result<bool, TrialError> {
    std::fs::create_dir_all(work).map_err(io(work))?;
    let tar = work.join("rootfs.tar");
    let mut cmd = Command::new("mmdebstrap");
    cmd.arg(format!("--variant={variant}")).arg("--mode=root");
    if let Some(k) = keyring {
        cmd.arg(format!("--keyring={}", k.display()));
    }
    if let Some(ca) = ca_bundle {
        cmd.arg(format!(
            "--aptopt=Acquire::https::CAInfo \"{}\"",
            ca.display()
        ));
    }
    cmd.arg(suite).arg(&tar).args(sources);
    let run = supervise(cmd, log, timeout, "layers: mmdebstrap", None, &|| {})?;
    let ok = !run.timed_out()
        && matches!(run.ended, super::super::command::Ended::Exited(s) if s.success());
    if !ok {
        let _ = std::fs::remove_file(&tar);
        return Ok(false);
    }
    let tar_s = tar.to_string_lossy().into_owned();
    let r = output(
        runtime,
        &["import", "--change", "CMD [\"/bin/sh\"]", &tar_s, image],
    );
    let _ = std::fs::remove_file(&tar);
    r.map(|_| true)
        .map_err(|e| start_error("mmdebstrap", format!("import: {e}")))
}
