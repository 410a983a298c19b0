//! The `command` builder: runs an argv (never through a shell) with the
//! candidate exported in its environment, logs its output to a file, and kills
//! its whole process group at a wall-clock limit or on Ctrl-C.

use super::builder::{Builder, TrialError, TrialInput, TrialResult, Verdict};
use super::signal;
use std::fs::File;
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Environment variable naming the exported SONiC versions tree.
pub const ENV_VERSIONS_DIR: &str = "SONIC_LOCK_VERSIONS_DIR";
/// Environment variable naming the candidate lockfile.
pub const ENV_LOCKFILE: &str = "SONIC_LOCK_LOCKFILE";
/// Environment variable naming the trial's fresh work directory.
pub const ENV_WORK_DIR: &str = "SONIC_LOCK_WORK_DIR";
/// Environment variable carrying the candidate hash (handy in build logs).
pub const ENV_CANDIDATE: &str = "SONIC_LOCK_CANDIDATE";

/// How long a killed process group gets between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(3);

/// Runs an argv for each trial; exit codes follow `git bisect run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandBuilder {
    argv: Vec<String>,
    timeout: Option<Duration>,
    cwd: Option<PathBuf>,
    env: Vec<(String, String)>,
}

impl CommandBuilder {
    /// A builder running `argv` (program first) in the current directory, without a time limit.
    pub fn new(argv: Vec<String>) -> CommandBuilder {
        CommandBuilder {
            argv,
            timeout: None,
            cwd: None,
            env: Vec::new(),
        }
    }

    /// Kills the build (its whole process group) after `timeout` and reports a timed-out failure.
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> CommandBuilder {
        self.timeout = timeout;
        self
    }

    /// Runs the command in `dir` instead of the current directory.
    pub fn with_cwd(mut self, dir: Option<PathBuf>) -> CommandBuilder {
        self.cwd = dir;
        self
    }

    /// Adds an environment variable to every run.
    pub fn with_env(mut self, key: &str, value: &str) -> CommandBuilder {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The argv this builder runs.
    pub fn argv(&self) -> &[String] {
        &self.argv
    }

    /// Where an argument names a file: relative to the working directory of
    /// the build; the program itself is also looked up on `PATH`.
    fn file_of(&self, arg: &str, program: bool) -> Option<PathBuf> {
        let p = Path::new(arg);
        if program && !arg.contains('/') {
            let path = std::env::var_os("PATH")?;
            return std::env::split_paths(&path)
                .map(|d| d.join(arg))
                .find(|c| c.is_file());
        }
        let p = match &self.cwd {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        };
        p.is_file().then_some(p)
    }
}

/// SHA-256 of a builder's settings and the content of the files they name:
/// the same argv running an edited script is another builder.
pub(crate) fn hash_argv_and_files(parts: &[String], files: &[Option<PathBuf>]) -> String {
    let mut text = Vec::new();
    for p in parts {
        // Length-prefixed so `["a b"]` and `["a", "b"]` differ.
        text.extend_from_slice(format!("{}:", p.len()).as_bytes());
        text.extend_from_slice(p.as_bytes());
    }
    for f in files.iter().flatten() {
        // An unreadable file still counts by name, so it is not silently the same.
        let content = std::fs::read(f).map_or_else(
            |e| format!("unreadable: {e}"),
            |b| crate::fsio::sha256_hex(&b),
        );
        text.extend_from_slice(format!("\nfile {} {content}", f.display()).as_bytes());
    }
    crate::fsio::sha256_hex(&text)
}

impl Builder for CommandBuilder {
    fn describe(&self) -> String {
        let mut s = String::from("command:");
        for a in &self.argv {
            s.push(' ');
            s.push_str(a);
        }
        if let Some(t) = self.timeout {
            s.push_str(&format!(" (timeout {}s)", t.as_secs_f64()));
        }
        s
    }

    fn identity(&self) -> String {
        let mut parts = self.argv.clone();
        if let Some(t) = self.timeout {
            parts.push(format!("timeout={}", t.as_secs_f64()));
        }
        if let Some(dir) = &self.cwd {
            parts.push(format!("cwd={}", dir.display()));
        }
        for (k, v) in &self.env {
            parts.push(format!("env {k}={v}"));
        }
        let files: Vec<_> = self
            .argv
            .iter()
            .enumerate()
            .map(|(i, a)| self.file_of(a, i == 0))
            .collect();
        format!(
            "command {:?} sha256:{}",
            self.argv,
            hash_argv_and_files(&parts, &files)
        )
    }

    fn run(&self, input: &TrialInput) -> Result<TrialResult, TrialError> {
        let Some((program, args)) = self.argv.split_first() else {
            return Err(TrialError::Start {
                builder: self.describe(),
                message: "empty command".into(),
            });
        };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env(ENV_VERSIONS_DIR, &input.versions_dir)
            .env(ENV_LOCKFILE, &input.lockfile)
            .env(ENV_WORK_DIR, &input.work_dir)
            .env(ENV_CANDIDATE, &input.candidate_hash);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if let Some(dir) = &self.cwd {
            cmd.current_dir(dir);
        }
        let run = supervise(
            cmd,
            &input.log,
            self.timeout,
            &self.describe(),
            None,
            &|| {},
        )?;
        Ok(run.into_result(input.log.clone()))
    }
}

/// How a supervised process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// It exited (or was killed by a signal nobody here sent).
    Exited(ExitStatus),
    /// It was killed at the wall-clock limit.
    TimedOut,
}

/// A finished supervised run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    pub(crate) ended: Ended,
    pub(crate) duration: Duration,
}

impl Run {
    /// True when the run was killed at its wall-clock limit.
    pub(crate) fn timed_out(&self) -> bool {
        self.ended == Ended::TimedOut
    }

    /// The contract's result for this run, judging by the process's exit code.
    pub(crate) fn into_result(self, log: PathBuf) -> TrialResult {
        match self.ended {
            Ended::TimedOut => TrialResult {
                verdict: Verdict::Fail,
                exit_code: None,
                duration: self.duration,
                log,
                timed_out: true,
                requeues: Vec::new(),
            },
            Ended::Exited(status) => {
                let code = status.code();
                TrialResult {
                    verdict: code.map_or(Verdict::Abort, Verdict::from_exit_code),
                    exit_code: code,
                    duration: self.duration,
                    log,
                    timed_out: false,
                    requeues: Vec::new(),
                }
            }
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TrialError + '_ {
    move |source| TrialError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Appends a note from sonic-lock itself to a trial log (timeouts, cleanup).
pub(crate) fn log_note(log: &Path, note: &str) {
    // Best effort: the note helps a human reading the log, the verdict does not depend on it.
    if let Ok(mut f) = std::fs::OpenOptions::new().append(true).open(log) {
        let _ = writeln!(f, "sonic-lock: {note}");
    }
}

/// Spawns `cmd` in its own process group with stdout and stderr going to `log`,
/// and waits for it, killing the group at `timeout` or when Ctrl-C arrives.
/// `on_kill` runs after a kill so container builders can remove their container.
/// The build's process group and `container` (`(runtime, name)`) are noted in
/// the trial lock held by this thread, so a run after a `kill -9` of this one
/// can stop the build.
pub(crate) fn supervise(
    mut cmd: Command,
    log: &Path,
    timeout: Option<Duration>,
    describe: &str,
    container: Option<(&str, &str)>,
    on_kill: &dyn Fn(),
) -> Result<Run, TrialError> {
    if let Some(dir) = log.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    }
    let out = File::create(log).map_err(io_err(log))?;
    let err = out.try_clone().map_err(io_err(log))?;
    // Its own process group: the terminal's Ctrl-C reaches only sonic-lock, which
    // then decides to kill the whole build (make spawns many children).
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| TrialError::Start {
        builder: describe.to_string(),
        message: format!("{}: {e}", cmd.get_program().to_string_lossy()),
    })?;
    if let Ok(pgid) = i32::try_from(child.id()) {
        super::pool::note_build(pgid, container);
    }
    let mut pause = Duration::from_millis(5);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                return Ok(Run {
                    ended: Ended::Exited(status),
                    duration: start.elapsed(),
                });
            }
            Ok(None) => {}
            Err(e) => {
                kill_group(&mut child);
                on_kill();
                return Err(TrialError::Io {
                    path: log.to_path_buf(),
                    source: e,
                });
            }
        }
        if signal::interrupted() {
            kill_group(&mut child);
            on_kill();
            log_note(log, "interrupted; build killed");
            return Err(TrialError::Interrupted);
        }
        if let Some(limit) = timeout
            && start.elapsed() >= limit
        {
            kill_group(&mut child);
            on_kill();
            log_note(
                log,
                &format!("timed out after {}s; build killed", limit.as_secs_f64()),
            );
            return Ok(Run {
                ended: Ended::TimedOut,
                duration: start.elapsed(),
            });
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// SIGTERM to the child's process group, then SIGKILL after a grace period; reaps the child.
fn kill_group(child: &mut Child) {
    let Ok(pgid) = i32::try_from(child.id()) else {
        let _ = child.kill();
        let _ = child.wait();
        return;
    };
    // SAFETY: kill(2) with a negative pid signals the group we created at spawn;
    // the leader is not reaped yet, so the group id cannot have been reused.
    unsafe {
        libc::kill(-pgid, libc::SIGTERM);
    }
    let deadline = Instant::now() + KILL_GRACE;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: as above; stragglers of the group get SIGKILL even if the leader is gone.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    let _ = child.wait();
}

/// Describes an exit status the way a person reads it (`exit 2`, `signal 9`).
pub fn describe_status(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => "unknown status".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(dir: &Path) -> TrialInput {
        let versions = dir.join("versions");
        std::fs::create_dir_all(&versions).unwrap();
        std::fs::write(dir.join("x.lock"), "lock").unwrap();
        TrialInput {
            candidate_hash: "abc123".into(),
            lockfile: dir.join("x.lock"),
            versions_dir: versions,
            work_dir: dir.join("work"),
            log: dir.join("logs/build.log"),
        }
    }

    fn sh(script: &str) -> CommandBuilder {
        CommandBuilder::new(vec!["/bin/sh".into(), "-c".into(), script.into()])
    }

    #[test]
    fn exit_codes_map_to_verdicts_and_output_is_logged() {
        let d = tempfile::tempdir().unwrap();
        let i = input(d.path());
        let r = sh("echo out; echo err >&2; exit 0").run(&i).unwrap();
        assert_eq!(r.verdict, Verdict::Pass);
        let log = std::fs::read_to_string(&r.log).unwrap();
        assert!(log.contains("out") && log.contains("err"), "{log}");
        for (code, v) in [
            (1, Verdict::Fail),
            (125, Verdict::Skip),
            (130, Verdict::Abort),
        ] {
            let r = sh(&format!("exit {code}")).run(&i).unwrap();
            assert_eq!((r.verdict, r.exit_code), (v, Some(code)));
        }
    }

    #[test]
    fn environment_names_the_candidate() {
        let d = tempfile::tempdir().unwrap();
        let i = input(d.path());
        let script = format!(
            "test \"$SONIC_LOCK_VERSIONS_DIR\" = '{}' && test \"$(cat \"$SONIC_LOCK_LOCKFILE\")\" = lock && test \"$SONIC_LOCK_CANDIDATE\" = abc123",
            i.versions_dir.display()
        );
        assert_eq!(sh(&script).run(&i).unwrap().verdict, Verdict::Pass);
        assert_eq!(
            sh("test \"$SONIC_LOCK_CANDIDATE\" = other")
                .run(&i)
                .unwrap()
                .verdict,
            Verdict::Fail
        );
    }

    #[test]
    fn argv_is_not_interpreted_by_a_shell() {
        let d = tempfile::tempdir().unwrap();
        let i = input(d.path());
        let marker = d.path().join("marker");
        let b = CommandBuilder::new(vec![
            "/bin/echo".into(),
            format!("; touch {}", marker.display()),
        ]);
        assert_eq!(b.run(&i).unwrap().verdict, Verdict::Pass);
        assert!(!marker.exists());
    }

    #[test]
    fn timeout_kills_the_whole_process_group() {
        let d = tempfile::tempdir().unwrap();
        let i = input(d.path());
        let pidfile = d.path().join("grandchild.pid");
        let script = format!("sleep 30 & echo $! > {}; wait", pidfile.display());
        let r = sh(&script)
            .with_timeout(Some(Duration::from_millis(300)))
            .run(&i)
            .unwrap();
        assert!(r.timed_out);
        assert_eq!(r.verdict, Verdict::Fail);
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The grandchild got the group's signal: it is gone or a zombie. A killed
        // process may need a moment to finish exiting, so look a few times.
        let mut state = String::new();
        let mut alive = true;
        for _ in 0..200 {
            state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            alive = state
                .rsplit(')')
                .next()
                .is_some_and(|rest| !rest.trim_start().starts_with('Z'));
            if !alive {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!alive, "grandchild survived: {state}");
        assert!(
            std::fs::read_to_string(&r.log)
                .unwrap()
                .contains("timed out")
        );
    }

    #[test]
    fn identity_follows_the_script_content() {
        let d = tempfile::tempdir().unwrap();
        let script = d.path().join("build.sh");
        std::fs::write(&script, "exit 0\n").unwrap();
        let b = CommandBuilder::new(vec!["/bin/sh".into(), script.display().to_string()]);
        let before = b.identity();
        assert_eq!(before, b.identity());
        std::fs::write(&script, "exit 1\n").unwrap();
        assert_ne!(before, b.identity());
        assert_eq!(b.describe(), b.clone().describe());
        // Relative to the build's working directory.
        let rel = CommandBuilder::new(vec!["sh".into(), "build.sh".into()])
            .with_cwd(Some(d.path().to_path_buf()));
        let id = rel.identity();
        std::fs::write(&script, "exit 2\n").unwrap();
        assert_ne!(id, rel.identity());
        // An inline script is in argv.
        assert_ne!(sh("exit 0").identity(), sh("exit 1").identity());
    }

    #[test]
    fn missing_program_is_a_start_error() {
        let d = tempfile::tempdir().unwrap();
        let i = input(d.path());
        let e = CommandBuilder::new(vec!["/nonexistent/prog".into()])
            .run(&i)
            .unwrap_err();
        assert!(matches!(e, TrialError::Start { .. }), "{e}");
        let e = CommandBuilder::new(vec![]).run(&i).unwrap_err();
        assert!(matches!(e, TrialError::Start { .. }), "{e}");
    }
}
