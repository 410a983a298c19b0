//! apt's removals in an image: `apt-get remove/purge NAME` takes out the
//! named packages and whatever installed package then has a `Depends` or
//! `Pre-Depends` left unmet; `apt-get autoremove` then takes out what was
//! installed automatically and nothing installed manually still needs, where
//! "needs" follows `Depends`, `Pre-Depends` and, where the image's apt
//! configuration keeps apt's defaults `APT::AutoRemove::RecommendsImportant`
//! and `SuggestsImportant`, `Recommends` and `Suggests` (Debian's docker
//! images turn Suggests off, SONiC's host image both). SONiC builds
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

/// What autoremove keeps besides `Depends` and `Pre-Depends`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keeps {
    /// `APT::AutoRemove::RecommendsImportant`: what installed packages recommend.
    pub recommends: bool,
    /// `APT::AutoRemove::SuggestsImportant`: what installed packages suggest.
    pub suggests: bool,
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
    keeps: Keeps,
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
        let recommends = cand.meta.recommends.iter().filter(|_| keeps.recommends);
        let suggests = cand.meta.suggests.iter().filter(|_| keeps.suggests);
        for r in cand.depends.iter().chain(recommends).chain(suggests) {
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
        // name, Depends, Recommends, Suggests, Essential
        type Spec = (
            &'static str,
            &'static [&'static str],
            &'static [&'static str],
            &'static [&'static str],
            bool,
        );
        let specs: [Spec; 9] = [
            ("build-essential", &["gcc", "make"], &[], &[], false),
            ("gcc", &["libgcc"], &["manpages"], &[], false),
            ("make", &[], &[], &[], false),
            ("libgcc", &[], &[], &[], false),
            ("manpages", &[], &[], &[], false),
            ("vim", &["libgcc"], &[], &["ctags"], false),
            ("dpkg", &[], &[], &[], true),
            ("uses-make", &["make"], &[], &[], false),
            ("ctags", &[], &[], &[], false),
        ];
        let mut u = Universe::new();
        let pid = |u: &mut Universe, n: &str| {
            u.intern(PackageKey::new(Ecosystem::Deb, "bullseye/amd64", n))
        };
        let any = |p| Requirement::single(p, VersionConstraint::Any);
        let mut ids = Vec::new();
        for (name, deps, recs, sugs, essential) in specs {
            let p = pid(&mut u, name);
            let depends = deps.iter().map(|d| any(pid(&mut u, d))).collect();
            let recommends = recs.iter().map(|d| any(pid(&mut u, d))).collect();
            let suggests = sugs.iter().map(|d| any(pid(&mut u, d))).collect();
            let meta = crate::universe::CandidateMeta {
                essential,
                recommends,
                suggests,
                ..Default::default()
            };
            let c = u
                .add_candidate(p, "1.0", meta, depends, Vec::new(), Vec::new())
                .expect("a valid fixture");
            ids.push(c);
        }
        (u, ids)
    }

    const APT_DEFAULTS: Keeps = Keeps {
        recommends: true,
        suggests: true,
    };

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
        let after = apply(&u, &ids[..7], &manual, &removal, APT_DEFAULTS);
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
        let after = apply(&u, &ids, &manual, &removal, APT_DEFAULTS);
        // build-essential and uses-make depend on make; dpkg is Essential.
        assert_eq!(
            names(&u, &after),
            ["gcc", "libgcc", "manpages", "vim", "dpkg", "ctags"]
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
        let after = apply(&u, &ids[1..5], &manual, &removal, APT_DEFAULTS);
        assert_eq!(names(&u, &after), ["gcc", "libgcc", "manpages"]);
    }

    #[test]
    fn a_suggests_of_a_manual_package_is_kept_and_goes_with_it() {
        let (u, ids) = universe();
        let installed = [ids[3], ids[5], ids[8]];
        let autoremove = Removal {
            names: BTreeSet::new(),
            autoremove: true,
        };
        // vim, asked for, suggests ctags, which came along: autoremove keeps it.
        let manual: BTreeSet<CandidateId> = [ids[5]].into();
        let after = apply(&u, &installed, &manual, &autoremove, APT_DEFAULTS);
        assert_eq!(names(&u, &after), ["libgcc", "vim", "ctags"]);
        // Once vim is purged nothing suggests ctags any more.
        let purge = Removal {
            names: ["vim".to_string()].into(),
            autoremove: true,
        };
        let after = apply(&u, &installed, &manual, &purge, APT_DEFAULTS);
        assert!(after.is_empty(), "{:?}", names(&u, &after));
    }

    #[test]
    fn an_image_that_turns_the_keeps_off_follows_depends_only() {
        let (u, ids) = universe();
        let manual: BTreeSet<CandidateId> = [ids[1], ids[5]].into();
        let autoremove = Removal {
            names: BTreeSet::new(),
            autoremove: true,
        };
        let installed = [ids[1], ids[3], ids[4], ids[5], ids[8]];
        // As SONiC's host image sets both off: manpages and ctags go.
        let off = Keeps {
            recommends: false,
            suggests: false,
        };
        let after = apply(&u, &installed, &manual, &autoremove, off);
        assert_eq!(names(&u, &after), ["gcc", "libgcc", "vim"]);
        // As Debian's docker images: Recommends kept, Suggests not.
        let docker = Keeps {
            recommends: true,
            suggests: false,
        };
        let after = apply(&u, &installed, &manual, &autoremove, docker);
        assert_eq!(names(&u, &after), ["gcc", "libgcc", "manpages", "vim"]);
    }
}
