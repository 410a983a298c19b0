//! Builds used by `sonic-lock bisect` versus the number of changes N, the number
//! of interacting culprits k and the number of parallel builders P, against
//! linear search (apply one change more per build until it fails, as debbisect
//! does after its time search) and time-only bisection (snapshots first, then
//! linear inside the gap).
//!
//! The oracle is in-process (a build "fails" when all k culprits are applied),
//! so this counts builds and rounds, not build time. Culprit positions are drawn
//! with a fixed-seed generator; each cell is the median (and max) over `TRIALS`
//! placements. Run: `cargo bench --bench bisect`.

use sonic_lock::bisect::BisectError;
use sonic_lock::bisect::Requirements;
use sonic_lock::bisect::engine::{BisectStatus, Config, Observation, Oracle, Strategy, bisect};
use sonic_lock::bisect::timeaxis::{TimeAxis, bisect_time, grid};
use sonic_lock::trial::builder::Verdict;
use std::time::{Duration, Instant};

const TRIALS: usize = 41;
/// Snapshot gaps between good and bad in the time-only model: one week of
/// 6-hourly snapshots, with the N changes landing evenly over it.
const SNAPSHOT_GAPS: usize = 28;

struct AllOf(Vec<usize>);

impl Oracle for AllOf {
    fn judge(&self, s: &[usize], _attempt: u32) -> Result<Observation, BisectError> {
        let fail = self.0.iter().all(|c| s.binary_search(c).is_ok());
        Ok(Observation {
            verdict: if fail { Verdict::Fail } else { Verdict::Pass },
            exit_code: None,
            duration: Duration::ZERO,
            log: None,
            replayed: false,
        })
    }
}

/// xorshift64*: deterministic placements without a dependency.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
    }
}

fn median(v: &mut [usize]) -> usize {
    v.sort_unstable();
    v[v.len() / 2]
}

fn ceil_log(n: usize, base: usize) -> usize {
    let (mut k, mut x) = (0, 1usize);
    while x < n {
        x *= base;
        k += 1;
    }
    k
}

/// Linear search: the bad check, then prefixes 1, 2, ... until one fails; with
/// P builders, P consecutive prefixes per round. Returns (builds, rounds).
fn linear(culprits: &[usize], p: usize) -> (usize, usize) {
    let last = culprits.iter().copied().max().unwrap_or(0);
    let builds = 1 + last + 1;
    (builds, 1 + (last + 1).div_ceil(p))
}

/// Time-only bisection (debbisect): bisect the snapshots with the real time-axis
/// search ([`bisect_time`]) to find the gap where the failure appears, then upgrade
/// that gap's changes one by one. Changes land in order, evenly over SNAPSHOT_GAPS
/// gaps (change i lands in gap i * gaps / n). Returns builds.
fn time_only(n: usize, culprits: &[usize], p: usize) -> usize {
    let gaps = SNAPSHOT_GAPS.min(n);
    let stamps = grid(
        "20221201T000000Z",
        "20221208T000000Z",
        (7 * 24 / gaps) as u32,
    )
    .expect("valid dates");
    let stamps = &stamps[stamps.len() - gaps - 1..];
    let gap_of = |i: usize| i * gaps / n;
    struct Axis<'a> {
        stamps: &'a [String],
        culprit_gaps: Vec<usize>,
    }
    impl TimeAxis for Axis<'_> {
        fn judge_at(&self, ts: &str) -> Result<Observation, BisectError> {
            // Snapshot k contains the changes of gaps 0..k.
            let k = self.stamps.iter().position(|s| s == ts).unwrap_or(0);
            let fail = self.culprit_gaps.iter().all(|&g| g < k);
            Ok(Observation {
                verdict: if fail { Verdict::Fail } else { Verdict::Pass },
                exit_code: None,
                duration: Duration::ZERO,
                log: None,
                replayed: false,
            })
        }
    }
    let axis = Axis {
        stamps,
        culprit_gaps: culprits.iter().map(|&c| gap_of(c)).collect(),
    };
    let t = bisect_time(&axis, stamps, p).expect("in-process axis cannot fail");
    let gap = stamps.iter().position(|s| *s == t.first_bad).unwrap_or(1) - 1;
    // Then one change of that gap more per build until it fails.
    let last = culprits.iter().copied().max().unwrap_or(0);
    let first_in_gap = (0..n).find(|&i| gap_of(i) == gap).unwrap_or(0);
    t.builds + (last - first_in_gap + 1)
}

fn main() {
    let ns = [16usize, 64, 256, 1024, 4096];
    println!(
        "| N | k | P | sonic-lock builds (median / max) | sonic-lock rounds (median) | linear builds | time-only builds | ddmin-only builds | linear / sonic-lock | time-only / sonic-lock | bound ceil(log2 N)+2 |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let mut bound_ok = true;
    let mut engine_time = Vec::new();
    for &n in &ns {
        for k in 1..=3usize {
            for p in [1usize, 4] {
                let (mut b, mut r, mut lin, mut tim, mut dd) =
                    (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
                // The same placements for P = 1 and P = 4.
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (n as u64 * 31 + k as u64 * 7));
                for _ in 0..TRIALS {
                    let mut c: Vec<usize> = Vec::new();
                    while c.len() < k.min(n) {
                        let x = rng.below(n);
                        if !c.contains(&x) {
                            c.push(x);
                        }
                    }
                    c.sort_unstable();
                    let cfg = Config {
                        jobs: p,
                        ..Config::default()
                    };
                    let t0 = Instant::now();
                    let out = bisect(&AllOf(c.clone()), &Requirements::none(n), &cfg)
                        .expect("in-process oracle cannot fail");
                    engine_time.push((n, t0.elapsed()));
                    assert_eq!(out.status, BisectStatus::Culprit);
                    assert_eq!(
                        out.culprit_sets[0].changes, c,
                        "wrong culprits for N={n} k={k} P={p}"
                    );
                    if k == 1 && p == 1 && out.builds > ceil_log(n, 2) + 2 {
                        bound_ok = false;
                    }
                    let dcfg = Config {
                        jobs: p,
                        strategy: Strategy::Ddmin,
                        ..Config::default()
                    };
                    let d = bisect(&AllOf(c.clone()), &Requirements::none(n), &dcfg)
                        .expect("in-process oracle cannot fail");
                    assert_eq!(
                        d.culprit_sets[0].changes, c,
                        "ddmin: wrong culprits for N={n} k={k} P={p}"
                    );
                    dd.push(d.builds);
                    b.push(out.builds);
                    r.push(out.rounds);
                    lin.push(linear(&c, p).0);
                    tim.push(time_only(n, &c, p));
                }
                let max_b = *b.iter().max().unwrap_or(&0);
                let (mb, mr, ml, mt, md) = (
                    median(&mut b),
                    median(&mut r),
                    median(&mut lin),
                    median(&mut tim),
                    median(&mut dd),
                );
                println!(
                    "| {n} | {k} | {p} | {mb} / {max_b} | {mr} | {ml} | {mt} | {md} | {:.1} | {:.1} | {} |",
                    ml as f64 / mb.max(1) as f64,
                    mt as f64 / mb.max(1) as f64,
                    if k == 1 && p == 1 {
                        (ceil_log(n, 2) + 2).to_string()
                    } else {
                        "-".into()
                    }
                );
            }
        }
    }
    let mut t4096: Vec<Duration> = engine_time
        .iter()
        .filter(|(n, _)| *n == 4096)
        .map(|(_, d)| *d)
        .collect();
    t4096.sort_unstable();
    println!();
    println!("single culprit, P=1: builds <= ceil(log2 N)+2 for every placement: {bound_ok}");
    println!(
        "engine overhead per bisection at N=4096 (median): {:?}",
        t4096[t4096.len() / 2]
    );
    if !bound_ok {
        std::process::exit(1);
    }
}
