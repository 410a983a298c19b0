//! Resuming `sonic-lock bisect` with the same state directory: verdicts are
//! replayed only for the same build script, and a build left running by a run
//! killed with SIGKILL is stopped before the candidate is built again.

use super::cli::write_locks;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `sonic-lock bisect --json` run in `dir` with `sh ./build.sh` as the builder.
fn bisect_cmd(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sonic-lock"));
    cmd.current_dir(dir)
        .arg("bisect")
        .arg("--good")
        .arg(dir.join("good.lock"))
        .arg("--bad")
        .arg(dir.join("bad.lock"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .arg("--json")
        .args(["--builder", "command", "--", "sh", "./build.sh"]);
    cmd
}

/// A build script failing when `pkg` is upgraded; `extra` runs first.
fn script(pkg: &str, extra: &str) -> String {
    format!(
        "has() {{ grep -rqx \"$1==1.1\" \"$SONIC_LOCK_VERSIONS_DIR\"; }}\n{extra}\nif has {pkg}; then exit 1; fi\nexit 0\n"
    )
}

fn culprit(out: &Output) -> (u64, Vec<String>) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids = j["outcome"]["culprit_sets"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            j["changes"][i.as_u64().unwrap() as usize]["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    (j["outcome"]["builds"].as_u64().unwrap(), ids)
}

#[test]
fn an_edited_build_script_is_not_answered_by_the_old_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_locks(d, 8);
    std::fs::write(d.join("build.sh"), script("pkg03", "")).unwrap();
    let (builds, ids) = culprit(&bisect_cmd(d).output().unwrap());
    assert!(builds > 0);
    assert_eq!(ids, ["py pkg03"]);
    // Unchanged script: everything is replayed.
    let out = bisect_cmd(d).output().unwrap();
    assert_eq!(culprit(&out), (0, vec!["py pkg03".to_string()]));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("another builder"));
    // Same path, other content: another builder, so it builds again.
    std::fs::write(d.join("build.sh"), script("pkg05", "")).unwrap();
    let out = bisect_cmd(d).output().unwrap();
    let (builds, ids) = culprit(&out);
    assert!(builds > 0, "replayed the old script's verdicts");
    assert_eq!(ids, ["py pkg05"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("journal entries from another builder ignored"),
        "{stderr}"
    );
}

/// True while `pid` runs (a zombie or a missing process is not running).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

/// True when a trial lock below `trials` names process group `pgid`.
fn noted(trials: &Path, pgid: &str) -> bool {
    std::fs::read_dir(trials).is_ok_and(|dirs| {
        dirs.flatten().any(|e| {
            std::fs::read_to_string(e.path().join("trial.lock"))
                .is_ok_and(|t| t.lines().any(|l| l == format!("pgid {pgid}")))
        })
    })
}

#[test]
fn a_rerun_kills_the_build_a_killed_run_left_running() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_locks(d, 6);
    let marks = d.join("marks");
    // Each build notes its start and end with its pid (its process group);
    // while `slow` exists it sleeps, and a SIGTERM still notes the end.
    let extra = format!(
        "m={marks}\necho \"start $$\" >> \"$m\"\ntrap 'echo \"end $$\" >> \"$m\"; exit 143' TERM\nif [ -f slow ]; then sleep 60 & wait $!; fi\necho \"end $$\" >> \"$m\"",
        marks = marks.display()
    );
    std::fs::write(d.join("build.sh"), script("pkg02", &extra)).unwrap();
    std::fs::write(d.join("slow"), "").unwrap();
    let mut first = bisect_cmd(d)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut started = None;
    let orphan: u32 = loop {
        let text = std::fs::read_to_string(&marks).unwrap_or_default();
        // Started, and noted in its trial's lock (sonic-lock writes it just after
        // the spawn; a sonic-lock that never notes it gets 10 s).
        if let Some(pid) = text.lines().find_map(|l| l.strip_prefix("start ")) {
            let pid = pid.trim();
            let since = *started.get_or_insert_with(Instant::now);
            if noted(&d.join("state/trials"), pid) || since.elapsed() > Duration::from_secs(10) {
                break pid.parse().unwrap();
            }
        }
        assert!(Instant::now() < deadline, "the first build never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    // SIGKILL: no handler runs, the build (its own process group) keeps going.
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(running(orphan), "the build died with sonic-lock");
    std::fs::remove_file(d.join("slow")).unwrap();
    let out = bisect_cmd(d).output().unwrap();
    let alive = running(orphan);
    // Clean up before asserting, so a failure leaves no sleeping build behind.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{orphan}")])
        .stderr(Stdio::null())
        .status();
    let (_, ids) = culprit(&out);
    assert_eq!(ids, ["py pkg02"]);
    assert!(!alive, "the orphan build {orphan} is still running");
    // One build at a time: every start is followed by its own end.
    let text = std::fs::read_to_string(&marks).unwrap();
    let mut open: Option<&str> = None;
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("start", pid)) => {
                assert!(open.is_none(), "two builds at once:\n{text}");
                open = Some(pid);
            }
            Some(("end", pid)) => {
                assert_eq!(open, Some(pid), "{text}");
                open = None;
            }
            _ => panic!("{text}"),
        }
    }
    assert!(open.is_none(), "{text}");
    assert!(
        text.starts_with(&format!("start {orphan}\nend {orphan}\n")),
        "{text}"
    );
}
