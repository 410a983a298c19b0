//! The `docker` builder: the command contract inside a container (docker CLI
//! or podman), with the versions tree mounted read-only, a writable work
//! directory, optional host CA bundle, network switch, CPU/memory limits and a
//! wall-clock timeout. The container is removed on success, failure, timeout,
//! error and Ctrl-C; containers left behind by a sonic-lock that was killed
//! outright are removed by the next run.

use super::builder::{Builder, TrialError, TrialInput, TrialResult, Verdict};
use super::command::{
    ENV_CANDIDATE, ENV_LOCKFILE, ENV_VERSIONS_DIR, ENV_WORK_DIR, log_note, supervise,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Where the candidate's versions tree appears inside the container (read-only).
pub const CONTAINER_VERSIONS_DIR: &str = "/sonic-lock/versions";
/// Where the candidate lockfile appears inside the container (read-only).
pub const CONTAINER_LOCKFILE: &str = "/sonic-lock/candidate.lock";
/// The container's writable work directory (also its working directory).
pub const CONTAINER_WORK_DIR: &str = "/sonic-lock/work";
/// Where `--ca-bundle` is mounted; the usual TLS variables point at it.
pub const CONTAINER_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Label put on every trial container, with the owning sonic-lock's pid as value.
pub const OWNER_LABEL: &str = "sonic-lock.owner-pid";
/// Label carrying the candidate hash, so a person (or a test) can find a trial's container.
pub const CANDIDATE_LABEL: &str = "sonic-lock.candidate";

/// Environment variables that make pip, requests, curl, git and node trust a CA bundle.
const CA_VARIABLES: [&str; 6] = [
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "PIP_CERT",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "NODE_EXTRA_CA_CERTS",
];

/// An extra bind mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    /// Path on the host.
    pub host: PathBuf,
    /// Path in the container.
    pub container: String,
    /// Mounted read-only.
    pub read_only: bool,
}

/// A `--mount` value that is not `HOST:CONTAINER[:ro|:rw]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountError {
    /// Not two or three `:`-separated parts.
    #[error("mount `{0}`: expected HOST:CONTAINER[:ro|:rw]")]
    Syntax(String),
    /// An empty host path or a relative container path.
    #[error("mount `{0}`: host path must be non-empty and container path absolute")]
    Paths(String),
}

/// The container runtime could not be run, or refused a command.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The runtime's CLI could not be started.
    #[error("{runtime}: {source}")]
    Spawn {
        /// `docker` or `podman`.
        runtime: String,
        /// Why.
        source: std::io::Error,
    },
    /// The command failed; its standard error says why.
    #[error("{runtime} {command}: {stderr}")]
    Failed {
        /// `docker` or `podman`.
        runtime: String,
        /// The subcommand.
        command: String,
        /// Its standard error, trimmed.
        stderr: String,
    },
}

impl std::str::FromStr for Mount {
    type Err = MountError;

    /// Parses `HOST:CONTAINER[:ro|:rw]`.
    fn from_str(s: &str) -> Result<Mount, MountError> {
        let parts: Vec<&str> = s.split(':').collect();
        let (host, container, read_only) = match parts.as_slice() {
            [h, c] => (*h, *c, false),
            [h, c, "ro"] => (*h, *c, true),
            [h, c, "rw"] => (*h, *c, false),
            _ => return Err(MountError::Syntax(s.to_string())),
        };
        if host.is_empty() || !container.starts_with('/') {
            return Err(MountError::Paths(s.to_string()));
        }
        Ok(Mount {
            host: PathBuf::from(host),
            container: container.to_string(),
            read_only,
        })
    }
}

/// Settings of the container builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerConfig {
    /// The container CLI: `docker`, `podman`, or a path to either.
    pub runtime: String,
    /// The image to run.
    pub image: String,
    /// The command run in the container (no shell unless the argv names one).
    pub argv: Vec<String>,
    /// Host CA bundle to mount and trust (for an intercepting proxy).
    pub ca_bundle: Option<PathBuf>,
    /// Give the container a network (default off: builds should not drift).
    pub network: bool,
    /// Which network (`host`, a user-defined network); the runtime's default when unset.
    pub network_mode: Option<String>,
    /// CPU limit (`--cpus`), e.g. `2` or `1.5`.
    pub cpus: Option<String>,
    /// Memory limit (`--memory`), e.g. `4g`.
    pub memory: Option<String>,
    /// Wall-clock limit for one trial.
    pub timeout: Option<Duration>,
    /// Extra bind mounts.
    pub mounts: Vec<Mount>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Resource limits `NAME=SOFT:HARD` (`--ulimit`); others are the runtime's
    /// defaults, except for podman, which gets the host's (see [`host_ulimits`]).
    pub ulimits: Vec<String>,
}

impl DockerConfig {
    /// A configuration running `argv` in `image` with the docker CLI, no network, no limits.
    pub fn new(image: &str, argv: Vec<String>) -> DockerConfig {
        DockerConfig {
            runtime: "docker".into(),
            image: image.into(),
            argv,
            ca_bundle: None,
            network: false,
            network_mode: None,
            cpus: None,
            memory: None,
            timeout: None,
            mounts: Vec::new(),
            env: Vec::new(),
            ulimits: Vec::new(),
        }
    }
}

/// True when `runtime` (a name or a path) is podman.
pub fn is_podman(runtime: &str) -> bool {
    Path::new(runtime)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("podman"))
}

/// `(soft, hard)` of the limit named `label` in `/proc/self/limits` text; `None` for unlimited.
fn limit_of(limits: &str, label: &str) -> Option<(u64, u64)> {
    let line = limits.lines().find(|l| l.starts_with(label))?;
    let mut f = line[label.len()..].split_whitespace();
    let soft = f.next()?.parse().ok()?;
    let hard = f.next()?.parse().ok()?;
    Some((soft, hard))
}

/// Limits for podman containers that the host can grant: open files up to this
/// process's hard limit, processes up to the lower of its hard limit and
/// `kernel.pid_max`.
///
/// Podman (4.x, as root) asks the runtime for `nofile=1048576` and, once any
/// `--ulimit` is given, `nproc=1048576`; where the caller lacks
/// `CAP_SYS_RESOURCE` (root inside a container, some CI sandboxes) runc cannot
/// raise a limit above its own and every container fails with `error setting
/// rlimit type 7: operation not permitted`. Podman itself lowers its process
/// limit to `pid_max`, so that is the most it can pass on.
pub fn host_ulimits() -> Vec<String> {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let pid_max: Option<u64> = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok());
    let mut out = Vec::new();
    if let Some((_, hard)) = limit_of(&limits, "Max open files") {
        out.push(format!("nofile={hard}:{hard}"));
    }
    let nproc = match (limit_of(&limits, "Max processes"), pid_max) {
        (Some((_, h)), Some(p)) => Some(h.min(p)),
        (Some((_, h)), None) => Some(h),
        (None, p) => p,
    };
    if let Some(n) = nproc {
        out.push(format!("nproc={n}:{n}"));
    }
    out
}

/// Runs each trial in a fresh container.
#[derive(Debug, Clone)]
pub struct DockerBuilder {
    config: DockerConfig,
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// Removes the named container when dropped, whatever path the trial took.
struct ContainerGuard<'a> {
    runtime: &'a str,
    name: String,
}

impl Drop for ContainerGuard<'_> {
    fn drop(&mut self) {
        remove_container(self.runtime, &self.name);
    }
}

/// `rm -f` a container, then make sure it is gone: a create racing with the
/// kill of the CLI can make it appear after the first removal.
pub(crate) fn remove_container(runtime: &str, name: &str) {
    for attempt in 0..5 {
        let _ = quiet(runtime, &["rm", "-f", "-v", name]);
        let listed = output(
            runtime,
            &["ps", "-a", "-q", "--filter", &format!("name=^/?{name}$")],
        );
        match listed {
            Ok(ids) if ids.trim().is_empty() => return,
            Err(_) => return,
            Ok(_) => std::thread::sleep(Duration::from_millis(200 * (attempt + 1))),
        }
    }
}

fn quiet(runtime: &str, args: &[&str]) -> std::io::Result<std::process::ExitStatus> {
    Command::new(runtime)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
}

pub(crate) fn output(runtime: &str, args: &[&str]) -> Result<String, RuntimeError> {
    let out = Command::new(runtime)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| RuntimeError::Spawn {
            runtime: runtime.to_string(),
            source,
        })?;
    if !out.status.success() {
        return Err(RuntimeError::Failed {
            runtime: runtime.to_string(),
            command: args.first().unwrap_or(&"").to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Checks that `runtime` can talk to its daemon (or, for podman, run at all).
pub fn probe(runtime: &str) -> Result<(), RuntimeError> {
    output(runtime, &["info"]).map(|_| ())
}

/// Removes trial containers whose owning sonic-lock process no longer exists
/// (it was killed before it could clean up); returns how many were removed.
pub fn reap_orphans(runtime: &str) -> usize {
    // `ps` lists ids only and `inspect` reads the label: both spell these the same in docker and podman.
    let Ok(ids) = output(
        runtime,
        &[
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!("label={OWNER_LABEL}"),
        ],
    ) else {
        return 0;
    };
    let mut removed = 0;
    for id in ids.split_whitespace() {
        let Ok(pid) = output(
            runtime,
            &[
                "inspect",
                "--format",
                &format!("{{{{index .Config.Labels \"{OWNER_LABEL}\"}}}}"),
                id,
            ],
        ) else {
            continue;
        };
        let Ok(pid) = pid.trim().parse::<u32>() else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            remove_container(runtime, id);
            removed += 1;
        }
    }
    removed
}

/// Reads `{{.State.StartedAt}} {{.State.ExitCode}} {{.State.OOMKilled}}`:
/// `(exit code, OOM-killed)`, or `None` when the container never started. Docker
/// prints the time as one RFC 3339 word, podman as several
/// (`2026-11-26 11:20:00.1 +0000 UTC`); a never-started container has year 1 in both.
pub(crate) fn parse_state(s: &str) -> Option<(i32, bool)> {
    let f: Vec<&str> = s.split_whitespace().collect();
    match f.as_slice() {
        [at, .., code, oom] if !at.starts_with("0001-") => {
            Some((code.parse::<i32>().ok()?, *oom == "true"))
        }
        _ => None,
    }
}

fn last_lines(log: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

impl DockerBuilder {
    /// A builder with `config`; installs the Ctrl-C handler so containers are removed on interrupt.
    pub fn new(config: DockerConfig) -> DockerBuilder {
        // Without the handler a Ctrl-C would kill sonic-lock and orphan the container;
        // if it cannot be installed the next run still reaps the orphan.
        let _ = super::signal::install();
        reap_orphans(&config.runtime);
        DockerBuilder { config }
    }

    /// The configuration.
    pub fn config(&self) -> &DockerConfig {
        &self.config
    }

    /// The arguments of `<runtime> run ...` for one trial.
    fn run_args(&self, input: &TrialInput, name: &str) -> Result<Vec<String>, TrialError> {
        let c = &self.config;
        let abs = |p: &Path| -> Result<PathBuf, TrialError> {
            std::fs::canonicalize(p).map_err(|source| TrialError::Io {
                path: p.to_path_buf(),
                source,
            })
        };
        let mut a: Vec<String> = vec![
            "run".into(),
            "--name".into(),
            name.into(),
            "--label".into(),
            format!("{OWNER_LABEL}={}", std::process::id()),
            "--label".into(),
            format!("{CANDIDATE_LABEL}={}", input.candidate_hash),
            "--workdir".into(),
            CONTAINER_WORK_DIR.into(),
        ];
        match (&c.network_mode, c.network) {
            (Some(mode), _) => a.extend(["--network".into(), mode.clone()]),
            (None, false) => a.extend(["--network".into(), "none".into()]),
            (None, true) => {}
        }
        if let Some(cpus) = &c.cpus {
            a.extend(["--cpus".into(), cpus.clone()]);
        }
        if let Some(mem) = &c.memory {
            a.extend(["--memory".into(), mem.clone()]);
        }
        let mut ulimits = c.ulimits.clone();
        if is_podman(&c.runtime) {
            // Naming one limit makes podman ask for the maximum of the others: fill them in.
            let named = |u: &str| u.split('=').next().unwrap_or("").to_string();
            let given: Vec<String> = ulimits.iter().map(|u| named(u)).collect();
            ulimits.extend(
                host_ulimits()
                    .into_iter()
                    .filter(|u| !given.contains(&named(u))),
            );
        }
        for u in ulimits {
            a.extend(["--ulimit".into(), u]);
        }
        let mut mount = |host: &Path, container: &str, ro: bool| -> Result<(), TrialError> {
            let host = abs(host)?;
            let spec = format!(
                "type=bind,source={},target={container}{}",
                host.display(),
                if ro { ",readonly" } else { "" }
            );
            if host.to_string_lossy().contains(',') || container.contains(',') {
                return Err(TrialError::Start {
                    builder: self.describe(),
                    message: format!(
                        "{}: a comma in a mounted path is not supported",
                        host.display()
                    ),
                });
            }
            a.extend(["--mount".into(), spec]);
            Ok(())
        };
        mount(&input.versions_dir, CONTAINER_VERSIONS_DIR, true)?;
        if input.lockfile.exists() {
            mount(&input.lockfile, CONTAINER_LOCKFILE, true)?;
        }
        mount(&input.work_dir, CONTAINER_WORK_DIR, false)?;
        if let Some(ca) = &c.ca_bundle {
            if !ca.is_file() {
                return Err(TrialError::Start {
                    builder: self.describe(),
                    message: format!("CA bundle {} is not a readable file", ca.display()),
                });
            }
            mount(ca, CONTAINER_CA_BUNDLE, true)?;
        }
        for m in &c.mounts {
            mount(&m.host, &m.container, m.read_only)?;
        }
        let mut env: Vec<(String, String)> = vec![
            (ENV_VERSIONS_DIR.into(), CONTAINER_VERSIONS_DIR.into()),
            (ENV_LOCKFILE.into(), CONTAINER_LOCKFILE.into()),
            (ENV_WORK_DIR.into(), CONTAINER_WORK_DIR.into()),
            (ENV_CANDIDATE.into(), input.candidate_hash.clone()),
        ];
        if c.ca_bundle.is_some() {
            env.extend(
                CA_VARIABLES
                    .iter()
                    .map(|v| (v.to_string(), CONTAINER_CA_BUNDLE.into())),
            );
        }
        env.extend(c.env.iter().cloned());
        for (k, v) in env {
            a.extend(["--env".into(), format!("{k}={v}")]);
        }
        a.push(c.image.clone());
        a.extend(c.argv.iter().cloned());
        Ok(a)
    }
}

impl Builder for DockerBuilder {
    fn describe(&self) -> String {
        let c = &self.config;
        let mut s = format!("{}: {}", c.runtime, c.image);
        for a in &c.argv {
            s.push(' ');
            s.push_str(a);
        }
        let mut opts = Vec::new();
        match &c.network_mode {
            Some(mode) => opts.push(format!("network {mode}")),
            None if c.network => opts.push("network".to_string()),
            None => {}
        }
        if c.ca_bundle.is_some() {
            opts.push("ca-bundle".into());
        }
        if let Some(x) = &c.cpus {
            opts.push(format!("cpus {x}"));
        }
        if let Some(x) = &c.memory {
            opts.push(format!("memory {x}"));
        }
        if let Some(t) = c.timeout {
            opts.push(format!("timeout {}s", t.as_secs_f64()));
        }
        for m in &c.mounts {
            opts.push(format!("mount {}:{}", m.host.display(), m.container));
        }
        for (k, v) in &c.env {
            opts.push(format!("env {k}={v}"));
        }
        for u in &c.ulimits {
            opts.push(format!("ulimit {u}"));
        }
        if !opts.is_empty() {
            s.push_str(&format!(" ({})", opts.join(", ")));
        }
        s
    }

    fn identity(&self) -> String {
        let c = &self.config;
        let kind = Path::new(&c.runtime)
            .file_name()
            .map_or_else(|| c.runtime.clone(), |n| n.to_string_lossy().into_owned());
        // The description carries the options (mounts, limits, env) that can change a verdict.
        format!(
            "{kind} image {} argv {:?} sha256:{}",
            c.image,
            c.argv,
            crate::fsio::sha256_hex(self.describe().as_bytes())
        )
    }

    fn run(&self, input: &TrialInput) -> Result<TrialResult, TrialError> {
        if super::signal::interrupted() {
            return Err(TrialError::Interrupted);
        }
        let runtime = self.config.runtime.as_str();
        let short: String = input.candidate_hash.chars().take(12).collect();
        let name = format!(
            "sonic-lock-{short}-{}-{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::SeqCst)
        );
        let args = self.run_args(input, &name)?;
        // From here on, every way out of this function removes the container.
        let guard = ContainerGuard {
            runtime,
            name: name.clone(),
        };
        let mut cmd = Command::new(runtime);
        cmd.args(&args);
        let run = supervise(
            cmd,
            &input.log,
            self.config.timeout,
            &self.describe(),
            Some((runtime, &name)),
            &|| remove_container(runtime, &name),
        )?;
        if run.timed_out() {
            return Ok(run.into_result(input.log.clone()));
        }
        // The CLI's own exit code mixes the container's with its own errors (125-127),
        // so ask the runtime what the container did.
        let state = output(
            runtime,
            &[
                "inspect",
                "--format",
                "{{.State.StartedAt}} {{.State.ExitCode}} {{.State.OOMKilled}}",
                &name,
            ],
        );
        drop(guard);
        let started = state.as_ref().ok().and_then(|s| parse_state(s));
        let Some((code, oom)) = started else {
            return Err(TrialError::Start {
                builder: self.describe(),
                message: format!(
                    "the container did not start: {}",
                    match &state {
                        Err(e) => format!("{e}; log: {}", last_lines(&input.log, 5)),
                        Ok(_) => last_lines(&input.log, 5),
                    }
                ),
            });
        };
        let mut result = run.into_result(input.log.clone());
        result.exit_code = Some(code);
        result.verdict = Verdict::from_exit_code(code);
        if oom {
            // Running out of the configured memory is a failed build, not a reason to stop.
            log_note(
                &input.log,
                "the container was killed for exceeding its memory limit",
            );
            result.verdict = Verdict::Fail;
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_read_from_proc_self_limits_text() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max processes             96365                96365                processes \n\
                    Max open files            1024                 20000                files     \n\
                    Max locked memory         unlimited            unlimited            bytes     \n";
        assert_eq!(limit_of(text, "Max open files"), Some((1024, 20000)));
        assert_eq!(limit_of(text, "Max processes"), Some((96365, 96365)));
        assert_eq!(limit_of(text, "Max locked memory"), None);
        assert!(is_podman("/usr/bin/podman") && is_podman("podman") && !is_podman("docker"));
        assert_eq!(
            parse_state("2026-11-26T11:20:00.1Z 3 false\n"),
            Some((3, false))
        );
        assert_eq!(
            parse_state("2026-11-26 11:20:00.1 +0000 UTC 137 true\n"),
            Some((137, true))
        );
        assert_eq!(parse_state("0001-01-01 00:00:00 +0000 UTC 0 false"), None);
        assert_eq!(parse_state("0001-01-01T00:00:00Z 0 false"), None);
        // This process's own limits give both entries on Linux.
        let own = host_ulimits();
        assert!(own.iter().any(|u| u.starts_with("nofile=")), "{own:?}");
    }
}
