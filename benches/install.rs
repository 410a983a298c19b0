//! Solving the install of sonic-slave-bullseye's apt packages
//! (benches/data/sonic-slave-bullseye.list) against the bullseye amd64 index,
//! side by side with `apt-get -s install` of the same set in a private apt root
//! (its binary cache built beforehand, as on a real system). The headline
//! compares like with like, a process against a process: `sonic-lock solve
//! --packages Packages.xz --install-file …` against `apt-get -s install`; the
//! in-process `Solver::solve` time is shown apart, labelled as such.
//!
//! Run: `SONIC_LOCK_BENCH_PACKAGES=/path/to/Packages.xz cargo bench --bench install`

mod common;

use common::*;
use sonic_lock::solve::Solver;
use sonic_lock::universe::{Universe, debian};
use std::process::Command;

fn main() {
    let Some(xz_path) = packages_xz() else {
        eprintln!("install bench skipped: set SONIC_LOCK_BENCH_PACKAGES to a Packages.xz");
        return;
    };
    let list_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/data/sonic-slave-bullseye.list"
    );
    let list = std::fs::read_to_string(list_path).expect("list");
    // (1-based line, name): origins name the list's own lines.
    let names: Vec<(usize, &str)> = list
        .lines()
        .map(str::trim)
        .enumerate()
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        .map(|(i, l)| (i + 1, l))
        .collect();
    let xz = std::fs::read(&xz_path).expect("read");
    let raw = debian::decompress_xz(&xz, "Packages.xz").expect("xz");
    let mut u = Universe::new();
    debian::load_packages(&mut u, &raw, "Packages", "bullseye/amd64").expect("load");
    let mut roots = Vec::new();
    for (line, n) in &names {
        roots.extend(
            debian::parse_requirements(
                &mut u,
                "bullseye/amd64",
                n,
                &format!("sonic-slave-bullseye.list:{line}"),
            )
            .expect("relation"),
        );
    }
    let mut installed = 0;
    let ours = median(time_n(20, || {
        let s = Solver::new(&u, roots.clone());
        installed = s.solve().expect("solvable").picks.len();
    }));

    let tmp = tempfile::tempdir().expect("tempdir");
    let conf = private_apt_root(tmp.path(), &raw).expect("apt root");
    let gencaches = Command::new("apt-cache")
        .env("APT_CONFIG", &conf)
        .arg("gencaches")
        .status();
    match gencaches {
        Ok(st) if st.success() => {}
        // Without the prebuilt cache apt's time would include building it.
        Ok(st) => {
            eprintln!("install bench: apt-cache gencaches failed: {st}");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("install bench: apt-cache gencaches could not run: {e}");
            std::process::exit(1);
        }
    }
    let apt = time_cmd(3, &|| {}, &mut || {
        let mut c = Command::new("apt-get");
        c.env("APT_CONFIG", &conf)
            .arg("-s")
            .arg("--no-install-recommends")
            .arg("install")
            .args(names.iter().map(|(_, n)| *n));
        c
    })
    .map(median);
    let exe = env!("CARGO_BIN_EXE_sonic-lock");
    let cli = time_cmd(3, &|| {}, &mut || {
        let mut c = Command::new(exe);
        c.args(["solve", "--quiet", "--packages"])
            .arg(&xz_path)
            .args(["--install-file", list_path]);
        c
    })
    .map(median);
    let (Some(a), Some(c)) = (apt, cli) else {
        eprintln!("install bench: apt-get -s install or sonic-lock solve failed (see above)");
        std::process::exit(1);
    };
    println!(
        "request: {} names, solution: {installed} packages",
        names.len()
    );
    println!("| what (each a whole process) | median s | apt / this |");
    println!("|---|---|---|");
    println!("| apt-get -s --no-install-recommends install (cache prebuilt) | {a:.3} | 1.0 |");
    println!(
        "| sonic-lock solve --packages Packages.xz --install-file (incl. loading the index) | {c:.3} | {:.1} |",
        a / c
    );
    println!(
        "in-process only, not comparable with a process: Solver::solve on the loaded index {ours:.4} s (median of 20)"
    );
}
