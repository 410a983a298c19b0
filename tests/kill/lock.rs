//! `lock` with a command builder killed mid-build: the lockfile and the
//! export are never half-written, the build the killed run left running is
//! stopped by the rerun (no orphan), no verdict in the journal is built
//! again, and the rerun with the same workspace writes what an uninterrupted
//! run writes.

use super::common::{sonic_lock, text};
use super::{kill_at_random, running, seeds, tree};
use sonic_lock::lock::{Lock, Pin};
use sonic_lock::manifest::Ecosystem;
use sonic_lock::universe::{CandidateMeta, PackageKey, Universe};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Four Python names at 1.0/2.0/3.0, a candidate of 3.0s and a reference of
/// 1.0s; the build script fails when pyyaml 3.0 is in, takes a moment, and
/// notes `start`/`end` with its pid and candidate in `marks`.
fn inputs(d: &Path) {
    let mut u = Universe::new();
    let mut lock = Lock::new("wedge100bf-32x", &"a".repeat(40), "2022-12-06");
    let mut reference = lock.clone();
    for name in ["lxml", "pyyaml", "netaddr", "jinja2"] {
        let id = u.intern(PackageKey::new(Ecosystem::Py, "py3", name));
        for v in ["1.0", "2.0", "3.0"] {
            u.add_candidate(id, v, CandidateMeta::default(), vec![], vec![], vec![])
                .unwrap();
        }
        for (l, v) in [(&mut lock, "3.0"), (&mut reference, "1.0")] {
            let mut p = Pin::new(Ecosystem::Py, name, v);
            p.python = Some("py3".into());
            l.upsert(p);
        }
    }
    lock.normalize();
    reference.normalize();
    u.write(&d.join("universe.json")).unwrap();
    lock.write(&d.join("candidate.lock")).unwrap();
    sonic_lock::lock::sonic_versions::export(&reference, &d.join("reference")).unwrap();
    let marks = d.join("marks");
    // A build whose pid the test lists in `hold` (one the killed run left
    // running) keeps running until something stops it; a SIGTERM still notes the end.
    std::fs::write(
        d.join("build.sh"),
        format!(
            "m={marks}\nc=$SONIC_LOCK_CANDIDATE\necho \"start $$ $c\" >> \"$m\"\n\
             trap 'echo \"end $$ $c\" >> \"$m\"; exit 143' TERM\n\
             sleep 0.3 & wait $!\n\
             while grep -qx $$ {hold} 2>/dev/null; do sleep 0.05 & wait $!; done\n\
             if grep -rqx 'pyyaml==3.0' \"$SONIC_LOCK_VERSIONS_DIR\"; then r=1; else r=0; fi\n\
             echo \"end $$ $c\" >> \"$m\"\nexit $r\n",
            marks = marks.display(),
            hold = d.join("hold").display()
        ),
    )
    .unwrap();
}

fn lock_cmd(d: &Path) -> Command {
    let mut c = sonic_lock();
    c.current_dir(d)
        .args(["--quiet", "lock", "--platform", "p"])
        .args([
            "--candidate",
            "candidate.lock",
            "--universe",
            "universe.json",
        ])
        .args(["--reference", "reference", "--export", "exported"])
        .args(["--builder", "command", "--", "/bin/sh", "./build.sh"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// Builds noted in `marks`: (pid, candidate, ended).
fn builds(d: &Path) -> Vec<(u32, String, bool)> {
    let text = std::fs::read_to_string(d.join("marks")).unwrap_or_default();
    let mut out: Vec<(u32, String, bool)> = Vec::new();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        let (Some(what), Some(pid), Some(cand)) = (w.next(), w.next(), w.next()) else {
            continue;
        };
        let pid: u32 = pid.parse().unwrap();
        match what {
            "start" => out.push((pid, cand.to_string(), false)),
            _ => {
                if let Some(b) = out.iter_mut().find(|b| b.0 == pid) {
                    b.2 = true;
                }
            }
        }
    }
    out
}

/// Candidates the journal under the workspace holds a verdict for.
/// (Read as text: opening it as a journal would already repair a torn line.)
fn journaled(d: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(d.join(".sonic-lock/trials/journal")).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(_, json)| serde_json::from_str::<serde_json::Value>(json).ok())
        .filter_map(|v| v["candidate_hash"].as_str().map(str::to_string))
        .collect()
}

/// Every file a lock run writes outside its workspace, staging files aside.
fn outputs(d: &Path) -> (Option<Vec<u8>>, std::collections::BTreeMap<String, Vec<u8>>) {
    let lock = std::fs::read(d.join("lockfiles/p.lock")).ok();
    let exported = tree(&d.join("exported"))
        .into_iter()
        .filter(|(rel, _)| {
            let name = rel.rsplit('/').next().unwrap_or("");
            sonic_lock::fsio::staged_owner(name).is_none()
        })
        .collect();
    (lock, exported)
}

#[test]
fn a_killed_lock_leaves_no_half_file_no_orphan_build_and_the_rerun_gives_the_same_lock() {
    let root = tempfile::tempdir().unwrap();
    // The answer, and how long a run takes here.
    let clean = root.path().join("clean");
    std::fs::create_dir_all(&clean).unwrap();
    inputs(&clean);
    let start = Instant::now();
    let o = lock_cmd(&clean)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let typical = start.elapsed();
    let (want_lock, want_export) = outputs(&clean);
    let want_lock = want_lock.expect("the clean run wrote its lockfile");
    assert!(!want_export.is_empty(), "the clean run exported nothing");
    let clean_builds = builds(&clean).len();
    assert!(
        clean_builds >= 2,
        "too few builds to kill inside: {clean_builds}"
    );
    let mut killed_mid_build = 0;
    for seed in 0..seeds() {
        let d = root.path().join(format!("run{seed}"));
        std::fs::create_dir_all(&d).unwrap();
        inputs(&d);
        let was_killed = kill_at_random(&mut lock_cmd(&d), typical, seed);
        // Between the runs: whatever exists is whole.
        let (lock, exported) = outputs(&d);
        if let Some(l) = &lock {
            assert_eq!(
                l, &want_lock,
                "seed {seed}: a lockfile other than the answer"
            );
        }
        assert!(
            exported.is_empty() || exported == want_export,
            "seed {seed}: a half-written export"
        );
        let before = builds(&d);
        let judged = journaled(&d);
        // The build the kill left behind keeps running until the rerun stops it.
        let left: Vec<String> = before
            .iter()
            .filter(|b| !b.2)
            .map(|b| b.0.to_string())
            .collect();
        std::fs::write(d.join("hold"), left.join("\n") + "\n").unwrap();
        killed_mid_build += usize::from(was_killed && before.last().is_some_and(|b| !b.2));
        let o = lock_cmd(&d)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let after = builds(&d);
        let orphans: Vec<u32> = after.iter().map(|b| b.0).filter(|p| running(*p)).collect();
        for pid in &orphans {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
        assert_eq!(o.status.code(), Some(0), "seed {seed}: {}", text(&o));
        assert!(
            orphans.is_empty(),
            "seed {seed}: builds {orphans:?} still run"
        );
        // No candidate the journal had judged was built again.
        for (pid, cand, _) in &after[before.len()..] {
            assert!(
                !judged.contains(cand),
                "seed {seed}: build {pid} repeats the judged candidate {cand}"
            );
        }
        // One build at a time: the rerun's first build starts after the
        // killed run's build ended or was stopped.
        let marks = std::fs::read_to_string(d.join("marks")).unwrap_or_default();
        let mut open: Option<&str> = None;
        for line in marks.lines() {
            let mut w = line.split_whitespace();
            match (w.next(), w.next()) {
                (Some("start"), Some(pid)) => {
                    assert!(open.is_none(), "seed {seed}: two builds at once:\n{marks}");
                    open = Some(pid);
                }
                (Some("end"), Some(pid)) => {
                    assert_eq!(open, Some(pid), "seed {seed}:\n{marks}");
                    open = None;
                }
                _ => panic!("seed {seed}: {marks}"),
            }
        }
        let (lock, exported) = outputs(&d);
        assert_eq!(
            lock.as_ref(),
            Some(&want_lock),
            "seed {seed}: the rerun's lock differs"
        );
        assert_eq!(
            exported, want_export,
            "seed {seed}: the rerun's export differs"
        );
        assert!(
            tree(&d.join("exported"))
                .keys()
                .all(
                    |rel| sonic_lock::fsio::staged_owner(rel.rsplit('/').next().unwrap_or(""))
                        .is_none()
                ),
            "seed {seed}: staging files left in the export"
        );
        assert!(
            !d.join("lockfiles")
                .read_dir()
                .unwrap()
                .flatten()
                .any(|e| e.file_name() != "p.lock"),
            "seed {seed}: a staging file left next to the lockfile"
        );
    }
    eprintln!(
        "{killed_mid_build} of {} lock runs were killed during a build",
        seeds()
    );
}
