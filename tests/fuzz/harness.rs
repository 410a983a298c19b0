//! A fuzzer that runs on the stable toolchain: each target gets inputs from its
//! committed corpus (`fuzz/corpus/<target>/`), mutations of them (bit flips,
//! cuts, repeats, splices, tokens of the format) and structure-aware inputs
//! built from the same tokens, for `SONIC_LOCK_FUZZ_SECS` seconds (1 by
//! default). Every input runs on a worker thread under `catch_unwind`, watched
//! by a deadline (`SONIC_LOCK_FUZZ_HANG_SECS`, 10 by default): a panic or a hang
//! fails the test naming the target and the input, which is also saved under
//! `target/fuzz-failures/` to be added to the corpus once fixed.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What one run of a target did.
pub struct Stats {
    pub execs: u64,
    pub corpus: usize,
}

fn env_secs(name: &str, default: f64) -> Duration {
    let s = std::env::var(name)
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| *v >= 0.0)
        .unwrap_or(default);
    Duration::from_secs_f64(s)
}

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn load_corpus(target: &str) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir(target))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

fn mutate(rng: &mut StdRng, seed: &[u8], corpus: &[Vec<u8>], tokens: &[&str]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..rng.gen_range(1..=4) {
        let len = v.len();
        match rng.gen_range(0..8) {
            0 if len > 0 => {
                let i = rng.gen_range(0..len);
                v[i] ^= 1 << rng.gen_range(0..8);
            }
            1 if len > 0 => {
                let a = rng.gen_range(0..len);
                let b = rng.gen_range(a..=len.min(a + 64));
                v.drain(a..b);
            }
            2 if len > 0 => {
                let a = rng.gen_range(0..len);
                let b = rng.gen_range(a..=len.min(a + 64));
                let chunk = v[a..b].to_vec();
                let at = rng.gen_range(0..=len);
                for _ in 0..rng.gen_range(1..4) {
                    v.splice(at..at, chunk.iter().copied());
                }
            }
            3 if !tokens.is_empty() => {
                let t = tokens[rng.gen_range(0..tokens.len())];
                let at = rng.gen_range(0..=len);
                v.splice(at..at, t.bytes());
            }
            4 if !corpus.is_empty() => {
                let other = &corpus[rng.gen_range(0..corpus.len())];
                let cut = rng.gen_range(0..=len);
                let from = rng.gen_range(0..=other.len());
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            5 => {
                let at = rng.gen_range(0..=len);
                let b = *[
                    0u8, b'\n', b'\r', b' ', b'"', b'\\', 0xff, 0xef, b':', b'=', b'$', b'{', b'}',
                ]
                .get(rng.gen_range(0..13))
                .unwrap_or(&0);
                v.insert(at, b);
            }
            6 if len > 0 => {
                v.truncate(rng.gen_range(0..len));
            }
            _ => {
                let at = rng.gen_range(0..=len);
                let n = rng.gen_range(0..10u32);
                v.splice(at..at, n.to_string().repeat(rng.gen_range(1..6)).bytes());
            }
        }
    }
    v
}

/// Lines of random tokens: the shape of the format without a seed file.
fn generate(rng: &mut StdRng, tokens: &[&str]) -> Vec<u8> {
    let mut v = Vec::new();
    if tokens.is_empty() {
        return v;
    }
    for _ in 0..rng.gen_range(0..12) {
        for _ in 0..rng.gen_range(1..6) {
            v.extend_from_slice(tokens[rng.gen_range(0..tokens.len())].as_bytes());
        }
        if rng.gen_bool(0.7) {
            v.push(b'\n');
        }
    }
    v
}

fn show(input: &[u8]) -> String {
    let s = String::from_utf8_lossy(&input[..input.len().min(600)]);
    format!("{:?}{}", s, if input.len() > 600 { " ..." } else { "" })
}

fn save_failure(target: &str, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let p = dir.join(format!("{target}-{}", sonic_lock::fsio::sha256_hex(input)));
    let _ = std::fs::write(&p, input);
    p
}

/// Runs `target` over its corpus, then over mutated and generated inputs until
/// the time budget is spent; panics naming the target and the input on the
/// first panic or hang.
pub fn fuzz(target: &'static str, tokens: &'static [&'static str], f: fn(&[u8])) -> Stats {
    let budget = env_secs("SONIC_LOCK_FUZZ_SECS", 1.0);
    let hang = env_secs("SONIC_LOCK_FUZZ_HANG_SECS", 10.0);
    let seed: u64 = std::env::var("SONIC_LOCK_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed);
    let corpus = load_corpus(target);
    assert!(
        !corpus.is_empty(),
        "{target}: no corpus in {}",
        corpus_dir(target).display()
    );
    let (to_worker, inputs) = mpsc::channel::<Vec<u8>>();
    let (to_main, results) = mpsc::channel::<Result<(), String>>();
    std::thread::Builder::new()
        .name(format!("fuzz-{target}"))
        .spawn(move || {
            for input in inputs {
                let r = std::panic::catch_unwind(|| f(&input)).map_err(|p| {
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panic".into())
                });
                if to_main.send(r).is_err() {
                    return;
                }
            }
        })
        .expect("spawn fuzz worker");
    let mut rng = StdRng::seed_from_u64(seed ^ target.len() as u64);
    let start = Instant::now();
    let mut execs = 0u64;
    let mut i = 0usize;
    loop {
        let input = if i < corpus.len() {
            corpus[i].clone()
        } else if rng.gen_bool(0.8) {
            let s = &corpus[rng.gen_range(0..corpus.len())];
            mutate(&mut rng, s, &corpus, tokens)
        } else {
            generate(&mut rng, tokens)
        };
        i += 1;
        if to_worker.send(input.clone()).is_err() {
            panic!("{target}: the worker is gone");
        }
        match results.recv_timeout(hang) {
            Ok(Ok(())) => {}
            Ok(Err(msg)) => {
                let p = save_failure(target, &input);
                panic!(
                    "fuzz target {target}: panic `{msg}` on input {} (saved as {})",
                    show(&input),
                    p.display()
                );
            }
            Err(_) => {
                let p = save_failure(target, &input);
                panic!(
                    "fuzz target {target}: no answer within {:?} (a hang) on input {} (saved as {})",
                    hang,
                    show(&input),
                    p.display()
                );
            }
        }
        execs += 1;
        if i >= corpus.len() && start.elapsed() >= budget {
            break;
        }
    }
    eprintln!(
        "fuzz {target}: {execs} execs in {:.1} s, corpus {}, seed {seed}",
        start.elapsed().as_secs_f64(),
        corpus.len()
    );
    Stats {
        execs,
        corpus: corpus.len(),
    }
}
