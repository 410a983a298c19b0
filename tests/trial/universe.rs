//! Generated universes with hidden incompatibilities, for the learn-loop tests
//! and benchmark: packages `p0..pN` with versions `1..=V` (newest preferred),
//! a checker run by a real `CommandBuilder` that fails when a hidden clause
//! holds, a small search honouring learned nogoods, and plain chronological
//! backtracking as the baseline.

#![allow(dead_code)]

use sonic_lock::trial::builder::{TrialError, TrialInput};
use sonic_lock::trial::command::CommandBuilder;
use sonic_lock::trial::learn::{Assignment, Forbid, Search, SearchError, Stage};
use sonic_lock::trial::triage::{Implicated, normalize_py};
use std::collections::BTreeMap;

/// A package name `p007` (zero-padded so that key order is numeric order).
pub fn pkg(i: usize) -> String {
    format!("p{i:03}")
}

/// Writes assignments as `default/versions-py3` and names them by content.
pub struct PyStage;

fn render(a: &Assignment<String>) -> String {
    a.iter().map(|(k, v)| format!("{k}=={v}\n")).collect()
}

impl Stage<String> for PyStage {
    fn candidate_hash(&self, a: &Assignment<String>) -> String {
        sonic_lock::fsio::sha256_hex(render(a).as_bytes())
    }

    fn materialize(&self, a: &Assignment<String>, input: &TrialInput) -> Result<(), TrialError> {
        let io = |path: std::path::PathBuf| move |source| TrialError::Io { path, source };
        let f = input.versions_dir.join("default/versions-py3");
        std::fs::create_dir_all(input.versions_dir.join("default"))
            .map_err(io(input.versions_dir.clone()))?;
        std::fs::write(&f, render(a)).map_err(io(f.clone()))?;
        std::fs::write(&input.lockfile, render(a)).map_err(io(input.lockfile.clone()))?;
        Ok(())
    }

    fn implicated_keys(&self, a: &Assignment<String>, imp: &Implicated) -> Vec<String> {
        match (&imp.ecosystem[..], &imp.name) {
            ("py", Some(n)) => a
                .keys()
                .filter(|k| normalize_py(k) == *n)
                .cloned()
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Independent packages, newest version first, avoiding every learned nogood
/// (depth-first with backtracking over packages in key order).
pub struct GenSearch {
    /// Versions per package, newest first.
    pub domains: BTreeMap<String, Vec<String>>,
    /// Learned nogoods.
    pub nogoods: Vec<Vec<(String, String)>>,
}

impl GenSearch {
    /// `n` packages with versions `1..=v`.
    pub fn new(n: usize, v: usize) -> GenSearch {
        GenSearch {
            domains: (0..n)
                .map(|i| (pkg(i), (1..=v).rev().map(|x| x.to_string()).collect()))
                .collect(),
            nogoods: Vec::new(),
        }
    }

    fn violated(&self, partial: &BTreeMap<String, String>) -> bool {
        self.nogoods.iter().any(|ng| {
            ng.iter()
                .all(|(k, v)| partial.get(k).is_some_and(|x| x == v))
        })
    }
}

impl Search for GenSearch {
    type Key = String;

    fn propose(&mut self) -> Result<Assignment<String>, SearchError> {
        let keys: Vec<String> = self.domains.keys().cloned().collect();
        let mut idx = vec![0usize; keys.len()];
        let mut partial = BTreeMap::new();
        let mut i = 0usize;
        loop {
            if i == keys.len() {
                return Ok(partial);
            }
            let dom = &self.domains[&keys[i]];
            if idx[i] >= dom.len() {
                idx[i] = 0;
                partial.remove(&keys[i]);
                if i == 0 {
                    return Err(SearchError::Unsat(format!(
                        "{} nogoods exclude every assignment",
                        self.nogoods.len()
                    )));
                }
                i -= 1;
                idx[i] += 1;
                continue;
            }
            partial.insert(keys[i].clone(), dom[idx[i]].clone());
            if self.violated(&partial) {
                idx[i] += 1;
            } else {
                i += 1;
            }
        }
    }

    fn forbid(&mut self, picks: Vec<(String, String)>, _reason: &str) -> Forbid {
        self.nogoods.push(picks);
        Forbid::Learned
    }
}

/// A checker build: exits 1 (silently, or naming the pins pip-style when
/// `explain`) if any hidden clause holds in the candidate's versions file.
pub fn checker(hidden: &[Vec<(String, String)>], explain: bool) -> CommandBuilder {
    let mut script = String::from(
        "f=\"$SONIC_LOCK_VERSIONS_DIR/default/versions-py3\"; test -f \"$f\" || exit 125\n",
    );
    for clause in hidden {
        let cond: Vec<String> = clause
            .iter()
            .map(|(k, v)| format!("grep -qx '{k}=={v}' \"$f\""))
            .collect();
        let msg = if explain {
            let (k, v) = &clause[0];
            format!("echo 'ERROR: No matching distribution found for {k}=={v}'; ")
        } else {
            String::new()
        };
        script.push_str(&format!("if {}; then {msg}exit 1; fi\n", cond.join(" && ")));
    }
    script.push_str("exit 0\n");
    CommandBuilder::new(vec!["/bin/sh".into(), "-c".into(), script])
}

/// Hidden clauses for `n` packages: `k` single broken newest versions and `k`
/// incompatible pairs of newest versions, spread deterministically.
pub fn hidden_clauses(n: usize, v: usize, k: usize) -> Vec<Vec<(String, String)>> {
    hidden_clauses_seeded(n, v, k, 0)
}

/// [`hidden_clauses`] with another deterministic spread per `seed`.
pub fn hidden_clauses_seeded(
    n: usize,
    v: usize,
    k: usize,
    seed: u64,
) -> Vec<Vec<(String, String)>> {
    let newest = v.to_string();
    let mut out = Vec::new();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ (n as u64) ^ seed.wrapping_mul(0x2545_f491_4f6c_dd1d);
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    for _ in 0..k {
        out.push(vec![(pkg(next()), newest.clone())]);
    }
    for _ in 0..k {
        let a = next();
        let mut b = next();
        if b == a {
            b = (a + 1) % n;
        }
        out.push(vec![(pkg(a), newest.clone()), (pkg(b), newest.clone())]);
    }
    out
}

/// Whether `a` violates a hidden clause (what the checker computes).
pub fn violates(a: &Assignment<String>, hidden: &[Vec<(String, String)>]) -> bool {
    hidden
        .iter()
        .any(|c| c.iter().all(|(k, v)| a.get(k).is_some_and(|x| x == v)))
}

/// The reference: every package at its oldest version (a lock that once built).
pub fn oldest(n: usize) -> Assignment<String> {
    (0..n).map(|i| (pkg(i), "1".to_string())).collect()
}

/// Plain chronological backtracking: candidates in the search's preference
/// order (newest first, last package varying fastest); on each failure the
/// next candidate. Calls `build` until it passes or `cap` builds were spent;
/// returns the number of builds, or `None` past the cap.
pub fn chronological(
    n: usize,
    v: usize,
    cap: usize,
    mut build: impl FnMut(&Assignment<String>) -> bool,
) -> Option<usize> {
    let mut digits = vec![0usize; n]; // 0 = newest
    for builds in 1..=cap {
        let a: Assignment<String> = (0..n)
            .map(|i| (pkg(i), (v - digits[i]).to_string()))
            .collect();
        if build(&a) {
            return Some(builds);
        }
        let mut i = n;
        loop {
            if i == 0 {
                return None;
            }
            i -= 1;
            digits[i] += 1;
            if digits[i] < v {
                break;
            }
            digits[i] = 0;
        }
    }
    None
}
