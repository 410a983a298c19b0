//! `sonic-lock bisect` end to end: locks and versions trees on disk, the real
//! command builder, exit codes, the report files and `--json`.

use sonic_lock::lock::sonic_versions;
use sonic_lock::lock::{Lock, Pin};
use sonic_lock::manifest::Ecosystem;
use std::path::Path;
use std::process::{Command, Output};

const COMMIT: &str = "586d715f172b1b72e9fc1e7b55625e2e5af590c2";

pub(crate) fn write_locks(dir: &Path, n: usize) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut good = Lock::new("wedge100bf-32x", COMMIT, "2022-12-06");
    let mut bad = Lock::new("wedge100bf-32x", COMMIT, "2022-12-07");
    for i in 0..n {
        let name = format!("pkg{i:02}");
        let mut g = Pin::new(Ecosystem::Py, &name, "1.0");
        g.why = vec![format!("src/sonic-config-engine/setup.py:{}", 20 + i)];
        g.url = Some(format!("https://files.example.org/{name}-1.0.tar.gz"));
        good.upsert(g);
        let mut b = Pin::new(Ecosystem::Py, &name, "1.1");
        b.why = vec![format!("src/sonic-config-engine/setup.py:{}", 20 + i)];
        b.url = Some(format!("https://files.example.org/{name}-1.1.tar.gz"));
        bad.upsert(b);
    }
    good.normalize();
    bad.normalize();
    let (g, b) = (dir.join("good.lock"), dir.join("bad.lock"));
    good.write(&g).unwrap();
    bad.write(&b).unwrap();
    (g, b)
}

fn bisect(dir: &Path, good: &Path, bad: &Path, extra: &[&str], script: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sonic-lock"));
    cmd.arg("--quiet")
        .arg("bisect")
        .arg("--good")
        .arg(good)
        .arg("--bad")
        .arg(bad)
        .arg("--state-dir")
        .arg(dir.join("state"))
        .args(extra)
        .args(["--builder", "command", "--", "sh", "-c"])
        .arg(format!(
            "has() {{ grep -rqx \"$1==1.1\" \"$SONIC_LOCK_VERSIONS_DIR\"; }}; {script}"
        ));
    cmd.output().unwrap()
}

#[test]
fn culprit_found_exit_0_with_markdown_html_svg_and_json_report() {
    let dir = tempfile::tempdir().unwrap();
    let (g, b) = write_locks(dir.path(), 20);
    let report = dir.path().join("report");
    let out = bisect(
        dir.path(),
        &g,
        &b,
        &["--report", report.to_str().unwrap(), "--confirm", "1"],
        "if has pkg11; then echo 'AttributeError: cython_sources'; exit 1; fi",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("culprit found"));
    assert!(
        stdout.contains("py pkg11 1.0 -> 1.1  (src/sonic-config-engine/setup.py:31)"),
        "{stdout}"
    );
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("| py pkg11 1.0 -> 1.1 | upgraded | src/sonic-config-engine/setup.py:31 | https://files.example.org/pkg11-1.0.tar.gz | https://files.example.org/pkg11-1.1.tar.gz |"), "{md}");
    let html = std::fs::read_to_string(report.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("py pkg11 1.0 -&gt; 1.1"));
    let svg = std::fs::read_to_string(report.join("timeline.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<rect"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(json["outcome"]["status"], "culprit");
    let culprit = json["outcome"]["culprit_sets"][0]["changes"][0]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(json["changes"][culprit]["id"], "py pkg11");
    assert_eq!(
        json["changes"][culprit]["old_source"],
        "https://files.example.org/pkg11-1.0.tar.gz"
    );
    assert_eq!(
        json["changes"][culprit]["origin"],
        "src/sonic-config-engine/setup.py:31"
    );
    assert!(html.contains("<a href=\"https://files.example.org/pkg11-1.0.tar.gz\">"));
    // Each trial's log link points at the build log, which holds the build's output.
    let failing = json["outcome"]["trials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["verdict"] == "fail")
        .unwrap();
    // The report directory carries the logs it links to.
    let rel = failing["log"].as_str().unwrap();
    assert!(rel.starts_with("logs/"), "{rel}");
    let log = std::fs::read_to_string(report.join(rel)).unwrap();
    assert!(md.contains(&format!("[log]({rel})")));
    assert!(log.contains("cython_sources"));

    // A second run with the same state directory replays every trial from the journal.
    let again = bisect(
        dir.path(),
        &g,
        &b,
        &["--json", "--confirm", "1"],
        "if has pkg11; then echo 'AttributeError: cython_sources'; exit 1; fi",
    );
    assert_eq!(again.status.code(), Some(0));
    let j: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(j["outcome"]["builds"], 0);
    assert_eq!(
        j["outcome"]["culprit_sets"],
        json["outcome"]["culprit_sets"]
    );
}

#[test]
fn versions_trees_are_accepted_as_good_and_bad() {
    let dir = tempfile::tempdir().unwrap();
    let (g, b) = write_locks(dir.path(), 12);
    let (gt, bt) = (dir.path().join("good-tree"), dir.path().join("bad-tree"));
    sonic_versions::export(&Lock::read(&g).unwrap(), &gt).unwrap();
    sonic_versions::export(&Lock::read(&b).unwrap(), &bt).unwrap();
    let out = bisect(
        dir.path(),
        &gt,
        &bt,
        &["--json"],
        "if has pkg04 && has pkg09; then exit 1; fi",
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<String> = j["outcome"]["culprit_sets"][0]["changes"]
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
    assert_eq!(ids.len(), 2);
    assert!(
        ids[0].contains("pkg04") && ids[1].contains("pkg09"),
        "{ids:?}"
    );
}

#[test]
fn exit_codes_for_nothing_to_bisect_flaky_and_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (g, b) = write_locks(dir.path(), 8);
    // The bad lock builds: 1.
    let out = bisect(dir.path(), &g, &b, &[], "exit 0");
    assert_eq!(out.status.code(), Some(1));
    // Fails once, never again: 3.
    let flaky_dir = tempfile::tempdir().unwrap();
    let marker = flaky_dir.path().join("failed-once");
    let out = bisect(
        flaky_dir.path(),
        &g,
        &b,
        &["--confirm", "2"],
        &format!(
            "if has pkg03 && [ ! -e {0} ]; then touch {0}; exit 1; fi; exit 0",
            marker.display()
        ),
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Usage: missing --bad, a missing file, a malformed lock, no builder.
    let bin = env!("CARGO_BIN_EXE_sonic-lock");
    let o = Command::new(bin)
        .args(["bisect", "--good"])
        .arg(&g)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let missing = dir.path().join("nope.lock");
    let o = bisect(dir.path(), &g, &missing, &[], "exit 0");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.lock"));
    let broken = dir.path().join("broken.lock");
    std::fs::write(&broken, "version = 1\n[[pin]\nname =").unwrap();
    let o = bisect(dir.path(), &g, &broken, &[], "exit 0");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("broken.lock"));
    let o = Command::new(bin)
        .args(["bisect", "--good"])
        .arg(&g)
        .arg("--bad")
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("needs a builder"));
}

#[test]
fn time_axis_bisects_snapshots_then_the_changes_between_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Three states of the world: the 3rd brings pkg03 1.1, the 5th also pkg05 and pkg06 1.1.
    let mut locks = Vec::new();
    for (name, upgraded) in [("a", vec![]), ("b", vec![3]), ("c", vec![3, 5, 6])] {
        let mut l = Lock::new("wedge100bf-32x", COMMIT, "2022-12-01");
        for i in 0..8usize {
            let v = if upgraded.contains(&i) { "1.1" } else { "1.0" };
            l.upsert(Pin::new(Ecosystem::Py, &format!("pkg{i:02}"), v));
        }
        l.normalize();
        let p = d.join(format!("{name}.lock"));
        l.write(&p).unwrap();
        locks.push(p);
    }
    let script = d.join("lock-at.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n# $1 = snapshot timestamp, $2 = where to write the lock\n\
             echo \"$1\" >> {log}\n\
             echo \"locking as of $1\"\n\
             if [ \"$1\" \\< 20221203T000000Z ]; then cp {a} \"$2\";\n\
             elif [ \"$1\" \\< 20221205T120000Z ]; then cp {b} \"$2\";\n\
             else cp {c} \"$2\"; fi\n",
            log = d.join("lock-at.log").display(),
            a = locks[0].display(),
            b = locks[1].display(),
            c = locks[2].display()
        ),
    )
    .unwrap();
    let report = d.join("report");
    let out = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args([
            "--quiet",
            "--json",
            "bisect",
            "--good-date",
            "2022-12-01",
            "--bad-date",
            "2022-12-08",
        ])
        .arg("--lock-at")
        .arg(format!("sh {} {{timestamp}} {{out}}", script.display()))
        .arg("--state-dir")
        .arg(d.join("state"))
        .arg("--report")
        .arg(&report)
        .args(["--builder", "command", "--", "sh", "-c"])
        .arg("grep -rqx 'pkg05==1.1' \"$SONIC_LOCK_VERSIONS_DIR\" && exit 1; exit 0")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Bare dates are the end of their days: the 6-hour grid runs at hh:59:59.
    assert_eq!(j["time"]["last_good"], "20221205T115959Z");
    assert_eq!(j["time"]["first_bad"], "20221205T175959Z");
    // Between those two snapshots only pkg05 and pkg06 changed; pkg05 is the culprit.
    assert_eq!(j["changes"].as_array().unwrap().len(), 2);
    let c = j["outcome"]["culprit_sets"][0]["changes"][0]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(j["changes"][c]["id"], "py pkg05");
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("first bad snapshot `20221205T175959Z`"));
    assert!(md.contains("| `20221208T235959Z` | 0 | fail |"), "{md}");

    // An explicit timestamp list (one per line) instead of the grid.
    let list = d.join("timestamps.txt");
    std::fs::write(
        &list,
        "# from the archive\n20221204T000000Z\n20221206T000000Z\n2022-11-01\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args([
            "--quiet",
            "--json",
            "bisect",
            "--good-date",
            "2022-12-01",
            "--bad-date",
            "2022-12-08",
        ])
        .arg("--lock-at")
        .arg(format!("sh {} {{timestamp}} {{out}}", script.display()))
        .arg("--timestamps")
        .arg(&list)
        .arg("--state-dir")
        .arg(d.join("state"))
        .args(["--builder", "command", "--", "sh", "-c"])
        .arg("grep -rqx 'pkg05==1.1' \"$SONIC_LOCK_VERSIONS_DIR\" && exit 1; exit 0")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["time"]["last_good"], "20221204T000000Z");
    assert_eq!(j["time"]["first_bad"], "20221206T000000Z");
    // A malformed line is a usage error naming the file and line.
    std::fs::write(&list, "20221204T000000Z\nsoon\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args([
            "--quiet",
            "bisect",
            "--good-date",
            "2022-12-01",
            "--bad-date",
            "2022-12-08",
        ])
        .arg("--lock-at")
        .arg("true")
        .arg("--timestamps")
        .arg(&list)
        .arg("--state-dir")
        .arg(d.join("state"))
        .args(["--builder", "command", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("timestamps.txt:2"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn ctrl_c_leaves_a_state_that_the_next_run_continues() {
    let dir = tempfile::tempdir().unwrap();
    let (g, b) = write_locks(dir.path(), 40);
    let count = dir.path().join("count");
    // The third build hangs until it is interrupted.
    let script = format!(
        "echo x >> {c}; if [ $(wc -l < {c}) -eq 3 ]; then sleep 300; fi; \
         if has pkg27; then exit 1; fi; exit 0",
        c = count.display()
    );
    let child = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args(["--quiet", "bisect", "--good"])
        .arg(&g)
        .arg("--bad")
        .arg(&b)
        .arg("--state-dir")
        .arg(dir.path().join("state"))
        .args(["--builder", "command", "--", "sh", "-c"])
        .arg(format!(
            "has() {{ grep -rqx \"$1==1.1\" \"$SONIC_LOCK_VERSIONS_DIR\"; }}; {script}"
        ))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let lines = || {
        std::fs::read_to_string(&count)
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    // Wait (bounded) until the hanging third build has started.
    for _ in 0..1200 {
        if lines() >= 3 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(lines(), 3, "the third build never started");
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("run the same command again"));

    // The same command continues: the two finished builds are replayed, the killed one is redone.
    let again = bisect(dir.path(), &g, &b, &["--json"], &script);
    assert_eq!(
        again.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    let trials = j["outcome"]["trials"].as_array().unwrap();
    assert_eq!(trials.iter().filter(|t| t["replayed"] == true).count(), 2);
    let c = j["outcome"]["culprit_sets"][0]["changes"][0]
        .as_u64()
        .unwrap() as usize;
    assert_eq!(j["changes"][c]["id"], "py pkg27");
    assert_eq!(
        lines(),
        3 + j["outcome"]["builds"].as_u64().unwrap() as usize
    );
}
