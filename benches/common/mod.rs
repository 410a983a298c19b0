//! Shared helpers of the benchmarks: timing, medians, peak memory, the index path
//! and a private apt root for the apt baselines.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The bullseye `Packages.xz` to measure: `$SONIC_LOCK_BENCH_PACKAGES` or the first argument.
pub fn packages_xz() -> Option<PathBuf> {
    let from_env = std::env::var_os("SONIC_LOCK_BENCH_PACKAGES").map(PathBuf::from);
    let from_arg = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from);
    let p = from_env.or(from_arg)?;
    p.exists().then_some(p)
}

/// Runs `f` `n` times and returns the wall-clock seconds of each run.
pub fn time_n(n: usize, mut f: impl FnMut()) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect()
}

/// Median of samples.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

/// Times an external command `n` times (after `prepare` each time); None when it cannot run or fails.
pub fn time_cmd(
    n: usize,
    prepare: &dyn Fn(),
    cmd: &mut dyn FnMut() -> Command,
) -> Option<Vec<f64>> {
    time_cmd_codes(n, prepare, cmd, &[0])
}

/// Like [`time_cmd`], accepting the given exit codes as success.
pub fn time_cmd_codes(
    n: usize,
    prepare: &dyn Fn(),
    cmd: &mut dyn FnMut() -> Command,
    ok_codes: &[i32],
) -> Option<Vec<f64>> {
    let mut out = Vec::new();
    for _ in 0..n {
        prepare();
        let mut c = cmd();
        c.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let t = Instant::now();
        let st = c.status().ok()?;
        let dt = t.elapsed().as_secs_f64();
        if !st.code().is_some_and(|c| ok_codes.contains(&c)) {
            eprintln!("baseline failed: {c:?} -> {st}");
            return None;
        }
        out.push(dt);
    }
    Some(out)
}

/// The system Python (python3-debian is a Debian package; a pyenv shim first in PATH would not see it).
pub fn system_python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// Peak resident set size of this process so far, in MB (Linux `VmHWM`).
pub fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|k| k.parse::<f64>().ok())
        .map(|k| k / 1024.0)
        .unwrap_or(f64::NAN)
}

/// A private apt root holding `packages` (uncompressed) as the only list, with
/// an empty dpkg status; returns the path of its `apt.conf` (for `APT_CONFIG`).
pub fn private_apt_root(dir: &Path, packages: &[u8]) -> std::io::Result<PathBuf> {
    for d in [
        "etc/apt/apt.conf.d",
        "etc/apt/preferences.d",
        "etc/apt/sources.list.d",
        "var/lib/apt/lists/partial",
        "var/cache/apt/archives/partial",
        "var/lib/dpkg",
    ] {
        std::fs::create_dir_all(dir.join(d))?;
    }
    std::fs::write(dir.join("var/lib/dpkg/status"), b"")?;
    std::fs::write(
        dir.join("etc/apt/sources.list"),
        b"deb [trusted=yes arch=amd64] http://deb.debian.org/debian bullseye main\n",
    )?;
    std::fs::write(
        dir.join(
            "var/lib/apt/lists/deb.debian.org_debian_dists_bullseye_main_binary-amd64_Packages",
        ),
        packages,
    )?;
    std::fs::write(
        dir.join("var/lib/apt/lists/deb.debian.org_debian_dists_bullseye_Release"),
        b"Origin: Debian\nLabel: Debian\nSuite: bullseye\nCodename: bullseye\nArchitectures: amd64\nComponents: main\n",
    )?;
    let r = dir.display();
    let conf = format!(
        "Dir \"{r}/\";\nDir::State::status \"{r}/var/lib/dpkg/status\";\nDir::Etc::Parts \"{r}/etc/apt/apt.conf.d\";\n\
Dir::Cache::pkgcache \"pkgcache.bin\";\nDir::Cache::srcpkgcache \"srcpkgcache.bin\";\nAPT::Architecture \"amd64\";\n\
APT::Architectures {{ \"amd64\"; }};\nAcquire::Check-Valid-Until \"false\";\n"
    );
    let p = dir.join("apt.conf");
    std::fs::write(&p, conf)?;
    Ok(p)
}

/// Removes apt's binary caches so that the next apt run rebuilds them.
pub fn remove_apt_caches(dir: &Path) {
    let _ = std::fs::remove_file(dir.join("var/cache/apt/pkgcache.bin"));
    let _ = std::fs::remove_file(dir.join("var/cache/apt/srcpkgcache.bin"));
}
