//! `sonic-lock check` over the whole bullseye amd64 index, side by side with
//! `dose-distcheck` on the same file, plus peak memory.
//!
//! Run: `SONIC_LOCK_BENCH_PACKAGES=/path/to/Packages.xz cargo bench --bench check`
//! (`SONIC_LOCK_BENCH_DOSE_RUNS=N` runs dose N times, default 1: it takes tens of seconds).

mod common;

use common::*;
use std::process::Command;

fn main() {
    let Some(xz_path) = packages_xz() else {
        eprintln!("check bench skipped: set SONIC_LOCK_BENCH_PACKAGES to a Packages.xz");
        return;
    };
    let exe = env!("CARGO_BIN_EXE_sonic-lock");
    let tmp = tempfile::tempdir().expect("tempdir");
    let xz = std::fs::read(&xz_path).expect("read");
    let raw = sonic_lock::universe::debian::decompress_xz(&xz, "Packages.xz").expect("xz");
    let plain = tmp.path().join("Packages");
    std::fs::write(&plain, &raw).expect("write");
    let n = 5;
    // `check` exits 1 when it finds broken packages (the real index has one).
    let ours_xz = time_cmd_codes(
        n,
        &|| {},
        &mut || {
            let mut c = Command::new(exe);
            c.args(["check", "--quiet", "--packages"]).arg(&xz_path);
            c
        },
        &[0, 1],
    );
    // `check` exits 1 when it finds broken packages (the real index has one).
    let ours_plain = time_cmd_codes(
        n,
        &|| {},
        &mut || {
            let mut c = Command::new(exe);
            c.args(["check", "--quiet", "--packages"]).arg(&plain);
            c
        },
        &[0, 1],
    );
    let dose_runs: usize = std::env::var("SONIC_LOCK_BENCH_DOSE_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let url = format!("deb://{}", plain.display());
    // dose-distcheck, like `check`, exits 1 when some package is broken (the
    // real index has one): a completed run. Any other failure is an error of
    // the bench, not a missing baseline.
    let dose_installed = Command::new("dose-distcheck")
        .arg("--version")
        .output()
        .is_ok();
    let dose = if dose_installed {
        let t = time_cmd_codes(
            dose_runs,
            &|| {},
            &mut || {
                let mut c = Command::new("dose-distcheck");
                c.args(["--deb-native-arch=amd64", "-f", "-e", &url]);
                c
            },
            &[0, 1],
        );
        if t.is_none() {
            eprintln!("check bench: dose-distcheck failed (exit code other than 0 or 1)");
            std::process::exit(1);
        }
        t
    } else {
        eprintln!("dose-distcheck not installed: no baseline (apt-get install dose-distcheck)");
        None
    };
    let peak = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .arg(exe)
        .args(["check", "--quiet", "--packages"])
        .arg(&xz_path)
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .last()
                .and_then(|l| l.trim().parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0);
    let med = |v: Option<Vec<f64>>| v.map(median).unwrap_or(f64::NAN);
    let (ox, op, d) = (med(ours_xz), med(ours_plain), med(dose));
    println!("| what | median s | dose / this |");
    println!("|---|---|---|");
    println!(
        "| dose-distcheck --deb-native-arch=amd64 -f -e (uncompressed, {dose_runs} runs) | {d:.2} | 1.0 |"
    );
    println!(
        "| sonic-lock check --packages Packages.xz ({n} runs) | {ox:.3} | {:.1} |",
        d / ox
    );
    println!(
        "| sonic-lock check --packages Packages ({n} runs) | {op:.3} | {:.1} |",
        d / op
    );
    match peak {
        Some(mb) => println!("peak RSS of sonic-lock check (Packages.xz): {mb:.0} MB"),
        None => println!("peak RSS: /usr/bin/time not available"),
    }
}
