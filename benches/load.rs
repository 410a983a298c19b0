//! Loading the real bullseye amd64 index into the universe, side by side with
//! apt's cache builder (`apt-cache gencaches` in a private apt root), python3-debian's
//! `Packages.iter_paragraphs`, and the `debian-control` crate's parser.
//!
//! Run: `SONIC_LOCK_BENCH_PACKAGES=/path/to/bullseye/main/binary-amd64/Packages.xz cargo bench --bench load`

mod common;

use common::*;
use sonic_lock::universe::{Universe, debian};
use std::process::Command;

fn main() {
    let Some(path) = packages_xz() else {
        eprintln!("load bench skipped: set SONIC_LOCK_BENCH_PACKAGES to a Packages.xz");
        return;
    };
    let quick = std::env::var_os("SONIC_LOCK_BENCH_QUICK").is_some();
    let n = if quick { 3 } else { 7 };
    let xz = std::fs::read(&path).expect("read Packages.xz");
    let raw = debian::decompress_xz(&xz, "Packages.xz").expect("decompress");
    let stanzas = raw.windows(2).filter(|w| w == b"\n\n").count() + 1;
    println!(
        "index: {} ({} bytes xz, {} bytes, ~{stanzas} stanzas)",
        path.display(),
        xz.len(),
        raw.len()
    );

    let mut count = 0;
    // Each universe is dropped outside the timed part (the CLI never frees it either).
    let mut samples = Vec::new();
    for _ in 0..n {
        let t = std::time::Instant::now();
        let mut u = Universe::new();
        count = debian::load_packages(&mut u, &raw, "Packages", "bullseye/amd64").expect("load");
        samples.push(t.elapsed().as_secs_f64());
        drop(u);
    }
    let ours = median(samples);
    let peak = peak_rss_mb();
    let mut samples = Vec::new();
    for _ in 0..n {
        let t = std::time::Instant::now();
        let mut u = Universe::new();
        debian::load_packages_xz(&mut u, &xz, "Packages.xz", "bullseye/amd64").expect("load");
        samples.push(t.elapsed().as_secs_f64());
        drop(u);
    }
    let ours_xz = median(samples);
    let xz_only = median(time_n(n, || {
        let v = debian::decompress_xz(&xz, "Packages.xz").expect("xz");
        std::hint::black_box(v);
    }));
    let crate_parse = if quick {
        f64::NAN
    } else {
        let text = std::str::from_utf8(&raw).expect("utf8");
        median(time_n(3, || {
            let mut ok = 0usize;
            for para in text.split("\n\n") {
                if para.trim().is_empty() {
                    continue;
                }
                if let Ok(p) = para.parse::<debian_control::lossy::apt::Package>() {
                    ok += p.depends.as_ref().map(|d| d.len()).unwrap_or(0) + 1;
                }
            }
            std::hint::black_box(ok);
        }))
    };

    let tmp = tempfile::tempdir().expect("tempdir");
    let apt_conf = private_apt_root(tmp.path(), &raw).expect("apt root");
    let root = tmp.path().to_path_buf();
    let apt = time_cmd(n, &|| remove_apt_caches(&root), &mut || {
        let mut c = Command::new("apt-cache");
        c.env("APT_CONFIG", &apt_conf).arg("gencaches");
        c
    })
    .map(median);
    let plain = tmp.path().join("Packages");
    std::fs::write(&plain, &raw).expect("write Packages");
    let py = if quick {
        None
    } else {
        time_cmd(1, &|| {}, &mut || {
            let mut c = Command::new(system_python());
            c.arg("-c")
                .arg("import sys\nfrom debian.deb822 import Packages\nn=0\nwith open(sys.argv[1]) as f:\n    for p in Packages.iter_paragraphs(f, use_apt_pkg=False):\n        p.relations\n        n+=1\n")
                .arg(&plain);
            c
        })
        .map(median)
    };

    println!("candidates loaded: {count}");
    println!("| what | median s | ratio vs ours (uncompressed) |");
    println!("|---|---|---|");
    println!("| sonic-lock load_packages (uncompressed) | {ours:.3} | 1.00 |");
    println!(
        "| sonic-lock load_packages_xz (from .xz) | {ours_xz:.3} | {:.2} |",
        ours_xz / ours
    );
    println!(
        "| xz decompression alone | {xz_only:.3} | {:.2} |",
        xz_only / ours
    );
    println!(
        "| debian-control lossy parse (no universe) | {crate_parse:.3} | {:.2} |",
        crate_parse / ours
    );
    match apt {
        Some(a) => println!(
            "| apt-cache gencaches (private root) | {a:.3} | {:.2} |",
            a / ours
        ),
        None => println!("| apt-cache gencaches | n/a | |"),
    }
    match py {
        Some(p) => println!(
            "| python3-debian iter_paragraphs + relations | {p:.3} | {:.2} |",
            p / ours
        ),
        None => println!("| python3-debian iter_paragraphs | skipped | |"),
    }
    println!(
        "loading from .xz / xz decompression alone: {:.2}",
        ours_xz / xz_only
    );
    println!("peak RSS after the uncompressed loads (index bytes + one universe): {peak:.0} MB");
}
