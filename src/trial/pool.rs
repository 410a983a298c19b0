//! Running trials: fresh per-candidate directories, and a pool that runs up to
//! `jobs` trials at once, consults and feeds the journal, and reports progress.

use super::builder::{Builder, TrialError, TrialInput, TrialResult, Verdict};
use super::journal::Journal;
use super::signal;
use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The lock file in a trial directory: held (`flock`) while a build of the
/// candidate runs there, and naming the build's process group (and container).
pub const TRIAL_LOCK: &str = "trial.lock";

thread_local! {
    /// The lock this thread holds, so the builder's supervisor can note its build in it.
    static HELD: RefCell<Option<File>> = const { RefCell::new(None) };
}

/// What a lock file says about the build that ran under it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LockRecord {
    /// The sonic-lock process that held the lock.
    pub owner: Option<i32>,
    /// The build's process group.
    pub pgid: Option<i32>,
    /// Start time of the group's leader (clock ticks after boot), to tell a reused id.
    pub start: Option<u64>,
    /// The container runtime of a container build.
    pub runtime: Option<String>,
    /// The container's name.
    pub container: Option<String>,
}

impl LockRecord {
    /// Reads `key value` lines; unknown or garbled lines are ignored (a torn
    /// write is possible when the owner was killed while writing).
    pub fn parse(text: &str) -> LockRecord {
        let mut r = LockRecord::default();
        for line in text.lines() {
            let Some((k, v)) = line.split_once(' ') else {
                continue;
            };
            match k {
                "owner" => r.owner = v.parse().ok(),
                "pgid" => r.pgid = v.parse().ok(),
                "start" => r.start = v.parse().ok(),
                "runtime" => r.runtime = Some(v.to_string()),
                "container" => r.container = Some(v.to_string()),
                _ => {}
            }
        }
        r
    }

    fn text(&self) -> String {
        let mut s = String::new();
        if let Some(x) = self.owner {
            s.push_str(&format!("owner {x}\n"));
        }
        if let Some(x) = self.pgid {
            s.push_str(&format!("pgid {x}\n"));
        }
        if let Some(x) = self.start {
            s.push_str(&format!("start {x}\n"));
        }
        if let Some(x) = &self.runtime {
            s.push_str(&format!("runtime {x}\n"));
        }
        if let Some(x) = &self.container {
            s.push_str(&format!("container {x}\n"));
        }
        s
    }
}

/// Start time of process `pid` (field 22 of `/proc/<pid>/stat`), if it exists.
fn process_start(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: count fields after the last `)`.
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// True while process group `pgid` has a member (a zombie counts).
fn group_alive(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks that the group exists and may be signalled.
    let rc = unsafe { libc::kill(-pgid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Waits up to `limit` for process group `pgid` to be gone.
fn wait_group_gone(pgid: i32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !group_alive(pgid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    !group_alive(pgid)
}

/// Kills the build a dead run left behind (its process group, SIGTERM then
/// SIGKILL, and its container); returns true when there was one.
fn reap_orphan(left: &LockRecord) -> bool {
    let mut reaped = false;
    if let Some(pgid) = left.pgid.filter(|&g| g > 1) {
        // SAFETY: getpgrp has no preconditions.
        let own = unsafe { libc::getpgrp() };
        // A leader alive with another start time means the id was reused: not ours to kill.
        let reused = matches!((left.start, process_start(pgid)), (Some(a), Some(b)) if a != b);
        if pgid != own && !reused && group_alive(pgid) {
            // SAFETY: kill(2) on a process group recorded by the run that started it.
            unsafe {
                libc::kill(-pgid, libc::SIGTERM);
            }
            if !wait_group_gone(pgid, Duration::from_secs(3)) {
                // SAFETY: as above.
                unsafe {
                    libc::kill(-pgid, libc::SIGKILL);
                }
                // An unreaped zombie leader keeps the group "alive": do not wait forever.
                wait_group_gone(pgid, Duration::from_secs(2));
            }
            reaped = true;
        }
    }
    if let (Some(runtime), Some(name)) = (&left.runtime, &left.container) {
        super::docker::remove_container(runtime, name);
        reaped = true;
    }
    reaped
}

/// Exclusive right to build in one trial directory. A second holder (another
/// thread or run) waits; a build left running by a run that was killed (the
/// kernel released its lock) is killed before a new one starts.
#[derive(Debug)]
pub struct TrialLock {
    file: File,
    reaped: bool,
}

impl TrialLock {
    /// Takes the lock of trial directory `dir` (created if absent), waiting
    /// while a live run holds it; stops waiting when `interrupted` says so.
    pub fn acquire(dir: &Path, interrupted: &dyn Fn() -> bool) -> Result<TrialLock, TrialError> {
        let path = dir.join(TRIAL_LOCK);
        let io = |source| TrialError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(|source| TrialError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        // flock, not a pid in an O_EXCL file: the kernel drops it when its holder
        // dies, so a stale lock needs no liveness guess and no racy removal.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        loop {
            // SAFETY: flock on a descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(io(e));
            }
            if interrupted() {
                return Err(TrialError::Interrupted);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut text = String::new();
        // Unreadable (not UTF-8) content is a torn record: nothing to reap.
        let _ = file.read_to_string(&mut text);
        let reaped = reap_orphan(&LockRecord::parse(&text));
        let own = LockRecord {
            owner: i32::try_from(std::process::id()).ok(),
            ..LockRecord::default()
        };
        write_record(&file, &own).map_err(io)?;
        let clone = file.try_clone().map_err(io)?;
        HELD.with(|h| *h.borrow_mut() = Some(clone));
        Ok(TrialLock { file, reaped })
    }

    /// True when acquiring killed a build left running by a dead run.
    pub fn reaped(&self) -> bool {
        self.reaped
    }
}

impl Drop for TrialLock {
    fn drop(&mut self) {
        HELD.with(|h| *h.borrow_mut() = None);
        // The build is over: an empty lock names no group a later run could
        // mistake for an orphan. Closing the file releases the flock.
        let _ = self.file.set_len(0);
    }
}

fn write_record(file: &File, r: &LockRecord) -> std::io::Result<()> {
    file.set_len(0)?;
    file.write_all_at(r.text().as_bytes(), 0)?;
    file.sync_data()
}

/// Notes in this thread's trial lock (if any) the build just started as
/// process group `pgid`, and its container `(runtime, name)`, so a later run
/// can kill it if this one dies first.
pub(crate) fn note_build(pgid: i32, container: Option<(&str, &str)>) {
    HELD.with(|h| {
        if let Some(file) = h.borrow().as_ref() {
            let r = LockRecord {
                owner: i32::try_from(std::process::id()).ok(),
                pgid: Some(pgid),
                start: process_start(pgid),
                runtime: container.map(|c| c.0.to_string()),
                container: container.map(|c| c.1.to_string()),
            };
            // Best effort: without the note a killed run's build is not reaped
            // by the next run, which is what happened before locks existed.
            let _ = write_record(file, &r);
        }
    });
}

/// Empties trial directory `dir` except its lock file (held by the caller).
pub fn clear_trial_dir(dir: &Path) -> Result<(), TrialError> {
    let io = |path: &Path, source| TrialError::Io {
        path: path.to_path_buf(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| io(dir, e))?;
        if entry.file_name() == TRIAL_LOCK {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| io(&path, e))?;
        let r = if kind.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        r.map_err(|e| io(&path, e))?;
    }
    Ok(())
}

/// The directory tree holding every trial's inputs and logs (`<root>/<candidate>/...`).
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

fn safe_component(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Workspace {
    /// A workspace rooted at `root` (created on demand).
    pub fn new(root: &Path) -> Workspace {
        Workspace {
            root: root.to_path_buf(),
        }
    }

    /// The workspace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Paths for one trial of `candidate_hash` by `builder`, with a fresh (empty)
    /// versions directory and work directory; the log name carries the builder
    /// so two builders never overwrite each other's log.
    pub fn input(&self, candidate_hash: &str, builder: &str) -> Result<TrialInput, TrialError> {
        if !safe_component(candidate_hash) {
            return Err(TrialError::Io {
                path: self.root.join(candidate_hash),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "candidate hash must be 1-128 characters of [A-Za-z0-9_-]",
                ),
            });
        }
        let dir = self.root.join(candidate_hash);
        let versions_dir = dir.join("versions");
        let work_dir = dir.join("work");
        for d in [&versions_dir, &work_dir] {
            fresh_dir(d)?;
        }
        let tag = &crate::fsio::sha256_hex(builder.as_bytes())[..12];
        Ok(TrialInput {
            candidate_hash: candidate_hash.to_string(),
            lockfile: dir.join("candidate.lock"),
            versions_dir,
            work_dir,
            log: dir.join(format!("build-{tag}.log")),
        })
    }

    /// Removes a finished trial's bulky directories, keeping its lockfile and log.
    pub fn tidy(&self, input: &TrialInput) {
        // Best effort: leftovers cost disk space, not correctness.
        let _ = std::fs::remove_dir_all(&input.work_dir);
        let _ = std::fs::remove_dir_all(&input.versions_dir);
    }
}

/// Removes `dir` if present and creates it empty.
pub(crate) fn fresh_dir(dir: &Path) -> Result<(), TrialError> {
    let io = |source| TrialError::Io {
        path: dir.to_path_buf(),
        source,
    };
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    std::fs::create_dir_all(dir).map_err(io)
}

/// Live counters for a progress display.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Trials not started yet.
    pub queued: usize,
    /// Trials building now.
    pub running: usize,
    /// Trials that passed.
    pub passed: usize,
    /// Trials that failed (including timeouts).
    pub failed: usize,
    /// Trials that could not judge (skip) or aborted.
    pub skipped: usize,
    /// Trials answered from the journal without building.
    pub cached: usize,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "running {}, passed {}, failed {}, skipped {}, queued {}",
            self.running, self.passed, self.failed, self.skipped, self.queued
        )?;
        if self.cached > 0 {
            write!(f, " ({} from journal)", self.cached)?;
        }
        Ok(())
    }
}

/// One trial's outcome from [`run_all`].
#[derive(Debug)]
pub struct Outcome {
    /// The result, or why there is none (not started after an abort or Ctrl-C, builder error).
    pub result: Result<TrialResult, TrialError>,
    /// True when the journal already had the answer.
    pub cached: bool,
}

/// Runs one trial through the journal: a recorded answer is reused, a fresh
/// one is recorded before it is returned.
pub fn run_one(builder: &dyn Builder, journal: Option<&Journal>, input: &TrialInput) -> Outcome {
    let desc = builder.describe();
    let identity = builder.identity();
    if let Some(r) = journal.and_then(|j| j.lookup(&input.candidate_hash, &identity)) {
        return Outcome {
            result: Ok(r),
            cached: true,
        };
    }
    // The trial directory is the work directory's parent (see `Workspace::input`).
    let lock = match input.work_dir.parent() {
        Some(dir) => match TrialLock::acquire(dir, &signal::interrupted) {
            Ok(l) => Some(l),
            Err(e) => {
                return Outcome {
                    result: Err(e),
                    cached: false,
                };
            }
        },
        None => None,
    };
    if lock.as_ref().is_some_and(TrialLock::reaped)
        && let Err(e) = fresh_dir(&input.work_dir)
    {
        // The killed build may have written there after the directory was made fresh.
        return Outcome {
            result: Err(e),
            cached: false,
        };
    }
    let result = builder.run(input).and_then(|r| {
        if let Some(j) = journal {
            j.record(&input.candidate_hash, &desc, &identity, &r)
                .map_err(|e| TrialError::Io {
                    path: j.path().to_path_buf(),
                    source: std::io::Error::other(e.to_string()),
                })?;
        }
        Ok(r)
    });
    Outcome {
        result,
        cached: false,
    }
}

/// Runs `inputs` with up to `jobs` trials at once, in input order of start;
/// stops starting new trials after Ctrl-C or an aborting verdict. `progress`
/// is called whenever a counter changes.
pub fn run_all(
    builder: &dyn Builder,
    journal: Option<&Journal>,
    inputs: &[TrialInput],
    jobs: usize,
    progress: &(dyn Fn(&Counts) + Sync),
) -> Vec<Outcome> {
    let jobs = jobs.clamp(1, inputs.len().max(1));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let counts = Mutex::new(Counts {
        queued: inputs.len(),
        ..Counts::default()
    });
    let slots: Vec<Mutex<Option<Outcome>>> = inputs.iter().map(|_| Mutex::new(None)).collect();
    let update = |f: &dyn Fn(&mut Counts)| {
        let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c);
        progress(&c);
    };
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    if stop.load(Ordering::SeqCst) || signal::interrupted() {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(input) = inputs.get(i) else { return };
                    update(&|c| {
                        c.queued -= 1;
                        c.running += 1;
                    });
                    let outcome = run_one(builder, journal, input);
                    let verdict = outcome.result.as_ref().ok().map(|r| r.verdict);
                    if matches!(verdict, Some(Verdict::Abort) | None) {
                        stop.store(true, Ordering::SeqCst);
                    }
                    let cached = outcome.cached;
                    update(&|c| {
                        c.running -= 1;
                        match verdict {
                            Some(Verdict::Pass) => c.passed += 1,
                            Some(Verdict::Fail) => c.failed += 1,
                            _ => c.skipped += 1,
                        }
                        if cached {
                            c.cached += 1;
                        }
                    });
                    *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or(Outcome {
                    result: Err(TrialError::Interrupted),
                    cached: false,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trial::command::CommandBuilder;

    #[test]
    fn workspace_rejects_hostile_hashes_and_gives_fresh_dirs() {
        let d = tempfile::tempdir().unwrap();
        let ws = Workspace::new(d.path());
        assert!(ws.input("../x", "b").is_err());
        assert!(ws.input("", "b").is_err());
        let i = ws.input("abc", "b").unwrap();
        std::fs::write(i.work_dir.join("junk"), "x").unwrap();
        let i = ws.input("abc", "b").unwrap();
        assert_eq!(std::fs::read_dir(&i.work_dir).unwrap().count(), 0);
        assert_ne!(i.log, ws.input("abc", "other").unwrap().log);
    }

    #[test]
    fn pool_runs_in_parallel_and_journal_answers_reruns() {
        let d = tempfile::tempdir().unwrap();
        let ws = Workspace::new(&d.path().join("ws"));
        let j = Journal::open(&d.path().join("journal")).unwrap();
        let counter = d.path().join("count");
        // Fails for candidates whose hash ends in an odd digit; counts builds.
        let script = format!(
            "echo x >> {}; case $SONIC_LOCK_CANDIDATE in *[13579]) exit 1;; esac",
            counter.display()
        );
        let b = CommandBuilder::new(vec!["/bin/sh".into(), "-c".into(), script]);
        let desc = b.describe();
        let inputs: Vec<_> = (0..6)
            .map(|i| ws.input(&format!("c{i}"), &desc).unwrap())
            .collect();
        let seen = Mutex::new(Vec::new());
        let out = run_all(&b, Some(&j), &inputs, 3, &|c| seen.lock().unwrap().push(*c));
        let verdicts: Vec<_> = out
            .iter()
            .map(|o| o.result.as_ref().unwrap().verdict)
            .collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Pass,
                Verdict::Fail,
                Verdict::Pass,
                Verdict::Fail,
                Verdict::Pass,
                Verdict::Fail
            ]
        );
        let last = *seen.lock().unwrap().last().unwrap();
        assert_eq!(
            (last.passed, last.failed, last.running, last.queued),
            (3, 3, 0, 0)
        );
        let out = run_all(&b, Some(&j), &inputs, 2, &|_| {});
        assert!(out.iter().all(|o| o.cached));
        assert_eq!(
            std::fs::read_to_string(&counter).unwrap().lines().count(),
            6
        );
    }

    #[test]
    fn trial_lock_kills_a_dead_runs_build_and_serialises_live_holders() {
        use std::os::unix::process::CommandExt;
        let d = tempfile::tempdir().unwrap();
        let orphan = std::process::Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = orphan.id() as i32;
        let start = process_start(pgid).unwrap();
        // Reaped as soon as it dies, as init does for a real orphan.
        let orphan = std::thread::spawn(move || {
            let mut orphan = orphan;
            orphan.wait().unwrap()
        });
        // Left by a run that was killed: the flock is gone, the record stays.
        std::fs::write(
            d.path().join(TRIAL_LOCK),
            format!("owner 999999\npgid {pgid}\nstart {start}\n"),
        )
        .unwrap();
        let lock = TrialLock::acquire(d.path(), &|| false).unwrap();
        assert!(lock.reaped());
        let status = orphan.join().unwrap();
        assert!(!status.success(), "{status:?}");
        let text = std::fs::read_to_string(d.path().join(TRIAL_LOCK)).unwrap();
        assert_eq!(text, format!("owner {}\n", std::process::id()));
        // A second holder waits for the first; a released lock names no group.
        let order = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            s.spawn(|| {
                let l = TrialLock::acquire(d.path(), &|| false).unwrap();
                assert!(!l.reaped());
                order.lock().unwrap().push("second");
            });
            std::thread::sleep(Duration::from_millis(300));
            order.lock().unwrap().push("first");
            drop(lock);
        });
        assert_eq!(*order.lock().unwrap(), ["first", "second"]);
        assert_eq!(
            std::fs::read_to_string(d.path().join(TRIAL_LOCK)).unwrap(),
            ""
        );
        // Interrupted while waiting.
        let held = TrialLock::acquire(d.path(), &|| false).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| {
                let e = TrialLock::acquire(d.path(), &|| true).unwrap_err();
                assert!(matches!(e, TrialError::Interrupted), "{e}");
            });
        });
        drop(held);
    }

    #[test]
    fn an_abort_stops_starting_new_trials() {
        let d = tempfile::tempdir().unwrap();
        let ws = Workspace::new(d.path());
        let b = CommandBuilder::new(vec!["/bin/sh".into(), "-c".into(), "exit 200".into()]);
        let inputs: Vec<_> = (0..4)
            .map(|i| ws.input(&format!("a{i}"), "x").unwrap())
            .collect();
        let out = run_all(&b, None, &inputs, 1, &|_| {});
        assert_eq!(out[0].result.as_ref().unwrap().verdict, Verdict::Abort);
        assert!(
            out[1..]
                .iter()
                .all(|o| matches!(o.result, Err(TrialError::Interrupted)))
        );
    }
}
