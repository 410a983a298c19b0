//! apt's removals in an image: `apt-get remove/purge NAME` takes out the
//! named packages and whatever installed package then has a `Depends` or
//! `Pre-Depends` left unmet; `apt-get autoremove` then takes out what was
//! installed automatically and nothing installed manually still needs, where
//! "needs" follows `Depends`, `Pre-Depends` and, as apt's default
//! `APT::AutoRemove::RecommendsImportant` says, `Recommends`. SONiC builds
//! with tools it purges before the image is frozen (docker-config-engine's
//! `build-essential`, the host image's `python3-dev`), so what an image holds
//! at its end, what its children start from and what SONiC's freeze records
//! are the state after the removals.

use crate::universe::{CandidateId, Requirement, Universe};
use std::collections::BTreeSet;

/// What an image removes, gathered from its `apt-get remove/purge/autoremove` lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removal {
    /// Package names removed (any architecture).
    pub names: BTreeSet<String>,
    /// Whether an `autoremove` follows the removals.
    pub autoremove: bool,
}

impl Removal {
    /// Whether it removes nothing.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && !self.autoremove
    }
}

/// The installed candidates that satisfy some alternative of `r`.
fn satisfying(
    u: &Universe,
    r: &Requirement,
    installed: &BTreeSet<CandidateId>,
    buf: &mut Vec<CandidateId>,
) -> Vec<CandidateId> {
    let mut out = Vec::new();
    for a in &r.alternatives {
        buf.clear();
        u.matching(a, buf);
        out.extend(buf.iter().filter(|c| installed.contains(c)));
    }
    out
}

/// The candidates of `installed` that a request named: those satisfying a
/// root requirement, which apt marks as manually installed.
pub fn named_by(
    u: &Universe,
    installed: &[CandidateId],
    roots: &[Requirement],
) -> BTreeSet<CandidateId> {
    let set: BTreeSet<CandidateId> = installed.iter().copied().collect();
    let mut buf = Vec::new();
    roots
        .iter()
        .flat_map(|r| satisfying(u, r, &set, &mut buf))
        .collect()
}

/// The state after `removal` of `installed` (sorted), given which of them
/// were installed manually; every Essential package stays, as apt never
/// removes one without being forced.
pub fn apply(
    u: &Universe,
    installed: &[CandidateId],
    manual: &BTreeSet<CandidateId>,
    removal: &Removal,
) -> Vec<CandidateId> {
    let mut left: BTreeSet<CandidateId> = installed
        .iter()
        .copied()
        .filter(|&c| {
            let cand = u.candidate(c);
            cand.meta.essential || !removal.names.contains(&u.key(cand.package).name)
        })
        .collect();
    let mut buf = Vec::new();
    // Packages whose dependencies the removal broke go too, until none is broken.
    loop {
        let broken: Vec<CandidateId> = left
            .iter()
            .copied()
            .filter(|&c| {
                u.candidate(c)
                    .depends
                    .iter()
                    .any(|r| satisfying(u, r, &left, &mut buf).is_empty())
            })
            .collect();
        if broken.is_empty() {
            break;
        }
        for c in broken {
            left.remove(&c);
        }
    }
    if !removal.autoremove {
        return left.into_iter().collect();
    }
    let mut keep: BTreeSet<CandidateId> = left
        .iter()
        .copied()
        .filter(|c| manual.contains(c) || u.candidate(*c).meta.essential)
        .collect();
    let mut work: Vec<CandidateId> = keep.iter().copied().collect();
    while let Some(c) = work.pop() {
        let cand = u.candidate(c);
        for r in cand.depends.iter().chain(&cand.meta.recommends) {
            for s in satisfying(u, r, &left, &mut buf) {
                if keep.insert(s) {
                    work.push(s);
                }
            }
        }
    }
    keep.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Ecosystem;
    use crate::universe::{PackageKey, VersionConstraint};

    fn universe() -> (Universe, Vec<CandidateId>) {
        let specs: [(&str, &[&str], &[&str], bool); 8] = [
            ("build-essential", &["gcc", "make"], &[], false),
            ("gcc", &["libgcc"], &["manpages"], false),
            ("make", &[], &[], false),
            ("libgcc", &[], &[], false),
            ("manpages", &[], &[], false),
            ("vim", &["libgcc"], &[], false),
            ("dpkg", &[], &[], true),
            ("uses-make", &["make"], &[], false),
        ];
        let mut u = Universe::new();
        let pid = |u: &mut Universe, n: &str| {
            u.intern(PackageKey::new(Ecosystem::Deb, "bullseye/amd64", n))
        };
        let any = |p| Requirement::single(p, VersionConstraint::Any);
        let mut ids = Vec::new();
        for (name, deps, recs, essential) in specs {
            let p = pid(&mut u, name);
            let depends = deps.iter().map(|d| any(pid(&mut u, d))).collect();
            let recommends = recs.iter().map(|d| any(pid(&mut u, d))).collect();
            let meta = crate::universe::CandidateMeta {
                essential,
                recommends,
                ..Default::default()
            };
            let c = u
                .add_candidate(p, "1.0", meta, depends, Vec::new(), Vec::new())
                .expect("a valid fixture");
            ids.push(c);
        }
        (u, ids)
    }

    fn names(u: &Universe, cs: &[CandidateId]) -> Vec<String> {
        cs.iter()
            .map(|&c| u.key(u.candidate(c).package).name.clone())
            .collect()
    }

    #[test]
    fn purge_then_autoremove_takes_what_only_the_purged_needed() {
        let (u, ids) = universe();
        // build-essential, vim and dpkg were asked for; the rest came along.
        let manual: BTreeSet<CandidateId> = [ids[0], ids[5], ids[6]].into();
        let removal = Removal {
            names: ["build-essential".to_string()].into(),
            autoremove: true,
        };
        let after = apply(&u, &ids[..7], &manual, &removal);
        // gcc, make and manpages (a Recommends of gcc) go; libgcc stays for vim.
        assert_eq!(names(&u, &after), ["libgcc", "vim", "dpkg"]);
    }

    #[test]
    fn without_autoremove_only_the_named_and_their_dependents_go() {
        let (u, ids) = universe();
        let manual: BTreeSet<CandidateId> = ids.iter().copied().collect();
        let removal = Removal {
            names: ["make".to_string(), "dpkg".to_string()].into(),
            autoremove: false,
        };
        let after = apply(&u, &ids, &manual, &removal);
        // build-essential and uses-make depend on make; dpkg is Essential.
        assert_eq!(
            names(&u, &after),
            ["gcc", "libgcc", "manpages", "vim", "dpkg"]
        );
    }

    #[test]
    fn a_recommends_of_a_manual_package_is_kept() {
        let (u, ids) = universe();
        let manual: BTreeSet<CandidateId> = [ids[1]].into();
        let removal = Removal {
            names: BTreeSet::new(),
            autoremove: true,
        };
        let after = apply(&u, &ids[1..5], &manual, &removal);
        assert_eq!(names(&u, &after), ["gcc", "libgcc", "manpages"]);
    }
}
