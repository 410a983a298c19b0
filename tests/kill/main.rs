//! Kill tests: a command killed with SIGKILL at a random moment, then run
//! again, must give the answer an uninterrupted run gives, with no file ever
//! half-written and no staging file left behind. Seeds: 6 by default, more
//! with `SONIC_LOCK_KILL_SEEDS`.

#[path = "../common/mod.rs"]
mod common;

mod export;
mod index;
mod lock;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// How many random kill points each test tries.
pub fn seeds() -> u64 {
    std::env::var("SONIC_LOCK_KILL_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

/// Starts `cmd`, kills it with SIGKILL after a random part of `typical`
/// (drawn from `seed`), and waits for it. Returns whether it was killed
/// (false when it finished first).
pub fn kill_at_random(cmd: &mut Command, typical: Duration, seed: u64) -> bool {
    let mut rng = StdRng::seed_from_u64(seed);
    let at = typical.mul_f64(rng.gen_range(0.0..1.0));
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    loop {
        if let Some(_status) = child.try_wait().unwrap() {
            return false;
        }
        if start.elapsed() >= at {
            let _ = child.kill();
            let _ = child.wait();
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Every file under `root` (relative path -> bytes).
pub fn tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// True while `pid` runs (a zombie or a missing process is not running).
pub fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}
