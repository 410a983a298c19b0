//! apt's `APT::Install-Recommends` (on unless an image or a command turns it
//! off): a transaction also installs the Recommends of the packages it newly
//! installs, and theirs in turn, where they can be installed; a Recommends
//! that cannot be satisfied is left out, as apt leaves it out, without failing
//! the transaction.

use super::{Nogood, Preference, Solution, Solver, Unsat};
use crate::universe::{CandidateId, PackageKey, RelationKind, Requirement, Universe};
use std::collections::{BTreeMap, BTreeSet};

/// How many rounds of "Recommends of what the last round added" are followed.
const MAX_ROUNDS: usize = 16;

/// The settings every solve of one transaction shares.
pub struct TxSolve<'a> {
    /// The universe.
    pub u: &'a Universe,
    /// Base requirements (the image's Debian base, the platform's base).
    pub base: &'a [Requirement],
    /// Learned nogoods.
    pub nogoods: &'a [Nogood],
    /// A reference assignment to stay closest to.
    pub reference: Option<&'a BTreeMap<PackageKey, String>>,
}

impl TxSolve<'_> {
    /// Solves `reqs` on top of `keep` (what is installed stays unless forced).
    pub fn solve(&self, reqs: Vec<Requirement>, keep: &[CandidateId]) -> Result<Solution, Unsat> {
        let mut s = Solver::new(self.u, reqs);
        s.set_base(self.base.to_vec());
        for n in self.nogoods {
            s.add_nogood(n.clone());
        }
        if let Some(r) = self.reference {
            s.set_preference(Preference::Closest(r.clone()));
        }
        s.set_keep(keep.to_vec());
        s.solve()
    }

    /// Extends `sol` (the transaction `reqs` solved on top of `before`) with
    /// the Recommends of what it newly installed, round by round; each
    /// round's Recommends are added together when they fit, else split in
    /// halves until the ones that cannot be installed are left out.
    pub fn with_recommends(
        &self,
        reqs: &[Requirement],
        before: &[CandidateId],
        mut sol: Solution,
    ) -> Solution {
        let mut accepted: Vec<Requirement> = Vec::new();
        let mut seen: BTreeSet<CandidateId> = before.iter().copied().collect();
        for _ in 0..MAX_ROUNDS {
            let pending = self.unmet_recommends(&sol, &mut seen);
            if pending.is_empty() {
                break;
            }
            let mut work = vec![pending];
            while let Some(group) = work.pop() {
                let mut all = reqs.to_vec();
                all.extend(accepted.iter().cloned());
                all.extend(group.iter().cloned());
                match self.solve(all, &sol.candidates) {
                    Ok(s) => {
                        sol = s;
                        accepted.extend(group);
                    }
                    Err(_) if group.len() > 1 => {
                        let mut a = group;
                        let b = a.split_off(a.len() / 2);
                        work.push(b);
                        work.push(a);
                    }
                    Err(_) => {}
                }
            }
        }
        sol
    }

    /// The Recommends of the candidates of `sol` not in `seen` (which then
    /// are), that `sol` does not already satisfy, as root requirements.
    fn unmet_recommends(
        &self,
        sol: &Solution,
        seen: &mut BTreeSet<CandidateId>,
    ) -> Vec<Requirement> {
        let mut out: Vec<Requirement> = Vec::new();
        let mut taken: Vec<&Requirement> = Vec::new();
        let mut buf = Vec::new();
        for &c in &sol.candidates {
            if !seen.insert(c) {
                continue;
            }
            let cand = self.u.candidate(c);
            for r in &cand.meta.recommends {
                // A Recommends nothing in the archive satisfies is dropped here, as
                // apt drops it, rather than by a failed solve and a split.
                let mut installable = false;
                let met = r.alternatives.iter().any(|a| {
                    buf.clear();
                    self.u.matching(a, &mut buf);
                    installable |= !buf.is_empty();
                    buf.iter().any(|m| sol.candidates.binary_search(m).is_ok())
                });
                if met || !installable || taken.contains(&r) {
                    continue;
                }
                taken.push(r);
                out.push(
                    r.clone()
                        .with_kind(RelationKind::Root)
                        .with_origin(format!("Recommends of {}", self.u.display_candidate(c))),
                );
            }
        }
        out
    }
}
