//! Crawl of a whole sonic-buildimage tree at one commit (`--all`) against the
//! baseline of merely reading every blob of that tree through git2.
//!
//! `SONIC_LOCK_BENCH_REPO=/path/to/sonic-buildimage cargo bench --bench crawl`
//! (`SONIC_LOCK_BENCH_REV` picks the commit, default: the wedge100bf-32x
//! cutoff; `SONIC_LOCK_BENCH_RUNS` the number of runs, default 7).
//! Without `SONIC_LOCK_BENCH_REPO` it prints a message and does nothing.

use rayon::prelude::*;
use sonic_lock::crawl::{CrawlOptions, crawl};
use sonic_lock::platform::{CutoffQuery, Platforms, find_cutoff};
use std::path::Path;
use std::time::{Duration, Instant};

fn list(repo: &git2::Repository, rev: &str) -> Vec<git2::Oid> {
    let tree = repo
        .revparse_single(rev)
        .unwrap()
        .peel_to_commit()
        .unwrap()
        .tree()
        .unwrap();
    let mut out = Vec::new();
    tree.walk(git2::TreeWalkMode::PreOrder, |_, e| {
        if e.kind() == Some(git2::ObjectType::Blob) {
            out.push(e.id());
        }
        git2::TreeWalkResult::Ok
    })
    .unwrap();
    out
}

/// Baseline: list the tree and read every blob, one thread.
fn read_all_sequential(path: &Path, rev: &str) -> (usize, usize) {
    let repo = git2::Repository::open(path).unwrap();
    let oids = list(&repo, rev);
    // A partial clone may lack some (large) blobs: they count as zero bytes.
    let bytes = oids
        .iter()
        .map(|o| repo.find_blob(*o).map(|b| b.content().len()).unwrap_or(0))
        .sum();
    (oids.len(), bytes)
}

/// Baseline: list the tree and read every blob with rayon (one handle per worker).
fn read_all_parallel(path: &Path, rev: &str) -> (usize, usize) {
    let repo = git2::Repository::open(path).unwrap();
    let oids = list(&repo, rev);
    let bytes = oids
        .par_iter()
        .map_init(
            || git2::Repository::open(path).unwrap(),
            |r, o| r.find_blob(*o).map(|b| b.content().len()).unwrap_or(0),
        )
        .sum();
    (oids.len(), bytes)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let Ok(repo) = std::env::var("SONIC_LOCK_BENCH_REPO") else {
        println!(
            "crawl bench skipped: set SONIC_LOCK_BENCH_REPO to a sonic-buildimage clone (bare or not)"
        );
        return;
    };
    let runs: usize = std::env::var("SONIC_LOCK_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let platform = Platforms::builtin()
        .unwrap()
        .find("wedge100bf-32x")
        .unwrap()
        .clone();
    let path = Path::new(&repo);
    let rev = std::env::var("SONIC_LOCK_BENCH_REV").unwrap_or_else(|_| {
        find_cutoff(path, &platform.cutoff, &CutoffQuery::Rule)
            .unwrap()
            .commit
    });
    let cache = tempfile::tempdir().unwrap();
    let opts = CrawlOptions {
        repo: repo.clone(),
        rev: rev.clone(),
        platform: Some(platform),
        all: true,
        submodules: None,
        clone_submodules: false,
        cache_dir: cache.path().to_path_buf(),
        make_vars: Default::default(),
    };
    // Warm the object cache once for all three.
    let (files, bytes) = read_all_sequential(path, &rev);
    let out = crawl(&opts, &|_, _| {}).unwrap();
    let (mut seq, mut par, mut cr) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        std::hint::black_box(read_all_sequential(path, &rev));
        seq.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(read_all_parallel(path, &rev));
        par.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(crawl(&opts, &|_, _| {}).unwrap());
        cr.push(t.elapsed());
    }
    let (s, p, c) = (median(seq), median(par), median(cr));
    println!(
        "tree {rev}: {files} blobs, {bytes} bytes; crawl parsed {} files, {} dependencies, {} diagnostics",
        out.files_parsed,
        out.manifest.dependencies.len(),
        out.manifest.diagnostics.len()
    );
    println!("threads: {}; runs: {runs}", rayon::current_num_threads());
    println!(
        "read every blob, 1 thread   median {:>8.1} ms",
        s.as_secs_f64() * 1e3
    );
    println!(
        "read every blob, rayon      median {:>8.1} ms",
        p.as_secs_f64() * 1e3
    );
    println!(
        "crawl --all                 median {:>8.1} ms",
        c.as_secs_f64() * 1e3
    );
    println!(
        "ratio crawl / sequential read: {:.2}",
        c.as_secs_f64() / s.as_secs_f64()
    );
    println!(
        "ratio crawl / parallel read:   {:.2}",
        c.as_secs_f64() / p.as_secs_f64()
    );
}
