//! Time-axis bisection end to end on the loopback world of the tests (a
//! sonic-buildimage-shaped repository, a Debian snapshot archive with four
//! snapshots, a PyPI): `sonic-lock bisect --good-date 2022-11-01 --bad-date
//! 2022-12-01 --step-hours 24` with a builder that takes no time, so the wall
//! time is the bisection's own cost (locks as of each probed timestamp, the
//! timestamp search, the change search, the report).
//!
//! - **in-process**: `--sonic-repo`: one crawl, then index + solve as of each
//!   probed timestamp through one source cache.
//! - **baseline**: `--lock-at` with a script that runs `sonic-lock lock --date T`
//!   per timestamp (what the time axis needed before: a new process, a new
//!   crawl and a new index per timestamp), same cache.
//!
//! Each variant runs RUNS times, alternating, each with a fresh state directory
//! (no stored locks, no journal) and a warm source cache. Run:
//! `cargo bench --bench bisect_timeaxis`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::world as bisect_support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: usize = 9;
const BUILD: &str = "! grep -rqx 'hello==2.0-1' \"$SONIC_LOCK_VERSIONS_DIR\"";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn run(
    dir: &Path,
    base: &str,
    reg: &str,
    state: &str,
    lock_at: Option<&Path>,
) -> (Duration, serde_json::Value) {
    let p = |rel: &str| dir.join(rel).display().to_string();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sonic-lock"));
    cmd.args(["--quiet", "--json", "bisect", "--platform", "testbox"])
        .args(["--platforms-dir", &p("platforms")]);
    match lock_at {
        None => {
            cmd.args(["--sonic-repo", &p("repo.git"), "--suite", "bullseye"])
                .args([
                    "--snapshot-url",
                    base,
                    "--pypi-url",
                    base,
                    "--github-url",
                    base,
                ])
                .args(["--docker-registry", reg])
                .args(["--retries", "1", "--cache", &p("cache")]);
        }
        Some(script) => {
            cmd.arg("--lock-at")
                .arg(format!("sh {} {{timestamp}} {{out}}", script.display()));
        }
    }
    cmd.args(["--good-date", "2022-11-01", "--bad-date", "2022-12-01"])
        .args(["--step-hours", "24", "--state-dir", &p(state)])
        .args(["--builder", "command", "--", "sh", "-c", BUILD]);
    let _ = std::fs::remove_dir_all(dir.join(state));
    let t = Instant::now();
    let out = cmd.output().expect("run sonic-lock");
    let elapsed = t.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    (elapsed, j)
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    bisect_support::setup(d);
    let srv = bisect_support::archive();
    let base = srv.base.clone();
    let reg = bisect_support::registry();
    let script = d.join("lock-at.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nset -e\n\
             date=$(echo \"$1\" | sed 's/^\\(....\\)\\(..\\)\\(..\\)T\\(..\\)\\(..\\)\\(..\\)Z$/\\1-\\2-\\3T\\4:\\5:\\6Z/')\n\
             out=$(mktemp -d)\n\
             {bin} --quiet lock --platform testbox --platforms-dir {d}/platforms --sonic-repo {d}/repo.git \
             --suite bullseye --snapshot-url {base} --pypi-url {base} --github-url {base} --docker-registry {reg} --retries 1 \
             --cache {d}/cache --date \"$date\" --lockfiles \"$out\" 2>/dev/null\n\
             cp \"$out/testbox.lock\" \"$2\"\nrm -rf \"$out\"\n",
            bin = env!("CARGO_BIN_EXE_sonic-lock"),
            d = d.display(),
            reg = reg.base
        ),
    )
    .expect("write script");
    // Warm the source cache, and check both variants agree.
    let (_, a) = run(d, &base, &reg.base, "state-a", None);
    let locks = std::fs::read_dir(d.join("state-a/snapshots"))
        .map(|r| r.count())
        .unwrap_or(0);
    let (_, b) = run(d, &base, &reg.base, "state-b", Some(&script));
    assert_eq!(a["time"]["first_bad"], b["time"]["first_bad"]);
    assert_eq!(a["outcome"]["culprit_sets"], b["outcome"]["culprit_sets"]);
    let (mut inproc, mut baseline) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        inproc.push(run(d, &base, &reg.base, "state-a", None).0);
        baseline.push(run(d, &base, &reg.base, "state-b", Some(&script)).0);
    }
    let (mi, mb) = (median(inproc), median(baseline));
    println!(
        "time axis, 31 daily timestamps, {} timestamp builds + {} change builds, {} locks produced",
        a["time"]["builds"], a["outcome"]["builds"], locks
    );
    println!("in-process pipeline (--sonic-repo): median {mi:.1?}");
    println!("baseline (--lock-at running `sonic-lock lock` per timestamp): median {mb:.1?}");
    println!(
        "baseline / in-process: {:.2}",
        mb.as_secs_f64() / mi.as_secs_f64()
    );
}
