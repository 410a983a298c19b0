//! A warm, offline `sonic-lock lock --platform wedge100bf-32x` on the real
//! tree (no builder), side by side with `apt-get -s install` of the
//! sonic-slave-bullseye package list (benches/data/sonic-slave-bullseye.list)
//! in a private apt root whose binary cache is built beforehand, run in turn
//! (lock, apt, lock, apt, ...) so that a drift of the machine hits both.
//!
//! Run (the cache warmed first by the same command without `--offline`):
//!
//! ```sh
//! SONIC_LOCK_BENCH_PACKAGES=<bullseye>/main/binary-amd64/Packages.xz \
//! SONIC_LOCK_BENCH_REPO=<sonic-buildimage> SONIC_LOCK_BENCH_SUBMODULES=<submodules> \
//! SONIC_LOCK_BENCH_CACHE=<cache> cargo bench --bench warm_lock
//! ```

mod common;

use common::*;
use sonic_lock::universe::debian;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).map(PathBuf::from)
}

fn main() {
    let (Some(xz_path), Some(repo), Some(subs), Some(cache)) = (
        packages_xz(),
        env_path("SONIC_LOCK_BENCH_REPO"),
        env_path("SONIC_LOCK_BENCH_SUBMODULES"),
        env_path("SONIC_LOCK_BENCH_CACHE"),
    ) else {
        eprintln!(
            "warm_lock bench skipped: set SONIC_LOCK_BENCH_PACKAGES, SONIC_LOCK_BENCH_REPO, \
             SONIC_LOCK_BENCH_SUBMODULES and SONIC_LOCK_BENCH_CACHE (a warmed cache)"
        );
        return;
    };
    let n: usize = std::env::var("SONIC_LOCK_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let list = include_str!("data/sonic-slave-bullseye.list");
    let names: Vec<&str> = list
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let xz = std::fs::read(&xz_path).expect("read Packages.xz");
    let raw = debian::decompress_xz(&xz, "Packages.xz").expect("decompress");
    let tmp = tempfile::tempdir().expect("tempdir");
    let conf = private_apt_root(tmp.path(), &raw).expect("apt root");
    let built = Command::new("apt-cache")
        .env("APT_CONFIG", &conf)
        .arg("gencaches")
        .status();
    if !built.is_ok_and(|s| s.success()) {
        eprintln!("warm_lock bench: apt-cache gencaches failed");
        std::process::exit(1);
    }
    let apt = || {
        let mut c = Command::new("apt-get");
        c.env("APT_CONFIG", &conf)
            .args(["-s", "--no-install-recommends", "install"])
            .args(&names);
        c
    };
    let lockfiles = tmp.path().join("lockfiles");
    let lock = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sonic-lock"));
        c.args(["lock", "--platform", "wedge100bf-32x", "--sonic-repo"])
            .arg(&repo)
            .arg("--submodules")
            .arg(&subs)
            .args([
                "--suite",
                "bullseye",
                "--suite",
                "bullseye-updates",
                "--suite",
                "bullseye-security",
                "--mirror",
                "http://deb.debian.org",
                "--retries",
                "0",
                "--offline",
                "--cache",
            ])
            .arg(&cache)
            .arg("--lockfiles")
            .arg(&lockfiles);
        c
    };
    let run = |mut c: Command| -> (f64, Option<i32>) {
        c.stdout(Stdio::null()).stderr(Stdio::null());
        let t = Instant::now();
        let code = c.status().ok().and_then(|s| s.code());
        (t.elapsed().as_secs_f64(), code)
    };
    // One run of each first, not counted: the page cache holds what both read.
    let (_, lock_code) = run(lock());
    run(apt());
    let (mut l, mut a, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let (tl, _) = run(lock());
        let (ta, code) = run(apt());
        if code != Some(0) {
            eprintln!("warm_lock bench: apt-get -s install failed ({code:?})");
            std::process::exit(1);
        }
        l.push(tl);
        a.push(ta);
        ratios.push(tl / ta);
    }
    println!(
        "sonic-lock lock exit code {lock_code:?} (0 locked, 1 some image has no solution, 2 an input error)"
    );
    println!("| what (each a whole process, {n} runs in turn) | median s |");
    println!("|---|---|");
    println!(
        "| sonic-lock lock --platform wedge100bf-32x --offline (warm cache) | {:.3} |",
        median(l)
    );
    println!(
        "| apt-get -s --no-install-recommends install ({} names, cache prebuilt) | {:.3} |",
        names.len(),
        median(a)
    );
    println!("ratio lock / apt (median of pairs): {:.2}", median(ratios));
}
