//! Images solved as SONiC builds them: parents first, each image's apt
//! transactions on top of its parent's installed state with apt's rules
//! (what is installed stays unless a relation forces a change, and each
//! forced change is recorded), a root image on its Debian base
//! (`Priority: required` plus `apt`, as `debootstrap --variant=minbase`).

use super::images::ImageResults;
use super::remove::{self, Removal};
use super::{Nogood, Solution, Unsat, solve_transactions_from, solve_transactions_recommending};
use crate::manifest::images::{
    BaseKind, ImageGraph, autoremove_keeps, installs_recommends, parent_of, parents_first,
};
use crate::universe::suite::deb_domain;
use crate::universe::{
    CandidateId, PackageKey, RelationKind, Requirement, Universe, VersionConstraint,
};
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// What a chain solve decided beyond each image's states.
#[derive(Debug, Default)]
pub struct ChainSolve {
    /// Per image, its transactions' states (an image without transactions has
    /// one empty transaction: its parent's state, or its base).
    pub deb: ImageResults,
    /// Per image, the Debian picks it starts from (its parent's final state, or a
    /// registry base image's packages); empty for a debootstrapped root.
    pub inherited: BTreeMap<String, BTreeMap<PackageKey, String>>,
    /// Per image, the inherited packages it changed: `name old -> new` (or `-> removed`).
    pub upgrades: BTreeMap<String, Vec<String>>,
    /// Per image, what its build installed and its removals took out again
    /// before the end (the last state is the one after the removals).
    pub transient: BTreeMap<String, BTreeMap<PackageKey, String>>,
}

/// An image's final state: what it holds, the base requirements its root
/// started from, and which of its packages were installed manually.
type Final = (Vec<CandidateId>, Vec<Requirement>, BTreeSet<CandidateId>);

/// The packages a minbase Debian base holds, as requirements of `domain`:
/// `Essential: yes`, `Priority: required`, and `apt`.
pub fn minbase(u: &Universe, domain: &str) -> Vec<Requirement> {
    let mut out = super::debian_base(u, domain, true);
    if let Some(apt) = u.lookup(&PackageKey::new(
        crate::manifest::Ecosystem::Deb,
        domain,
        "apt",
    )) {
        out.push(
            Requirement::single(apt, VersionConstraint::Any)
                .with_kind(RelationKind::Root)
                .with_origin(format!("{domain} minbase")),
        );
    }
    out
}

/// Solves every image of `graph` (and every other image of `transactions`,
/// alone) parents first. `base` holds for every transaction as well.
/// `recommends` says per image and transaction whether its command lets apt
/// install Recommends; the image's own apt configuration (inherited along
/// its `FROM` chain) can turn them off for all of its transactions.
#[allow(clippy::too_many_arguments)]
pub fn solve_chain(
    u: &Universe,
    graph: &ImageGraph,
    transactions: &BTreeMap<String, Vec<Vec<Requirement>>>,
    recommends: &BTreeMap<String, Vec<bool>>,
    removals: &BTreeMap<String, Removal>,
    base: &[Requirement],
    nogoods: &[Nogood],
    reference: Option<&BTreeMap<PackageKey, String>>,
    arch: &str,
) -> ChainSolve {
    let mut out = ChainSolve::default();
    let mut order = parents_first(graph);
    order.extend(
        transactions
            .keys()
            .filter(|i| !graph.contains_key(*i))
            .cloned(),
    );
    let ctx = ImageSolve {
        u,
        graph,
        transactions,
        recommends,
        removals,
        base,
        nogoods,
        reference,
        arch,
    };
    // Per image, its final state, the base requirements its root started from,
    // and its manual set (what autoremove in a child keeps).
    let mut finals: BTreeMap<String, Final> = BTreeMap::new();
    // Images whose parent is decided are independent of each other: each wave
    // is solved in parallel (the images of one FROM level), parents first.
    let mut pending = order;
    while !pending.is_empty() {
        let (ready, wait): (Vec<String>, Vec<String>) = pending.into_iter().partition(|i| {
            parent_of(graph, i).is_none_or(|p| {
                finals.contains_key(p) || !graph.contains_key(p) || out.deb.contains_key(p)
            })
        });
        // A parent that is never decided (a cycle is cut by parent_of) cannot
        // hold the loop: what is left goes in the next wave regardless.
        let (ready, wait) = match ready.is_empty() {
            true => (wait, Vec::new()),
            false => (ready, wait),
        };
        let solved: Vec<(String, ImageOutcome)> = ready
            .into_par_iter()
            .map(|image| {
                let r = ctx.solve(&image, &finals);
                (image, r)
            })
            .collect();
        for (image, r) in solved {
            if let Some(inherited) = r.inherited {
                out.inherited.insert(image.clone(), inherited);
            }
            if let Some(up) = r.upgrades {
                out.upgrades.insert(image.clone(), up);
            }
            if let Some(f) = r.final_state {
                finals.insert(image.clone(), f);
            }
            if let Some(t) = r.transient.filter(|t| !t.is_empty()) {
                out.transient.insert(image.clone(), t);
            }
            out.deb.insert(image, r.result);
        }
        pending = wait;
    }
    out.upgrades.retain(|_, v| !v.is_empty());
    out
}

/// What solving one image gave.
struct ImageOutcome {
    result: Result<Vec<super::TransactionState>, (usize, Unsat)>,
    inherited: Option<BTreeMap<PackageKey, String>>,
    upgrades: Option<Vec<String>>,
    final_state: Option<Final>,
    transient: Option<BTreeMap<PackageKey, String>>,
}

/// The inputs every image of one chain solve shares.
struct ImageSolve<'a> {
    u: &'a Universe,
    graph: &'a ImageGraph,
    transactions: &'a BTreeMap<String, Vec<Vec<Requirement>>>,
    recommends: &'a BTreeMap<String, Vec<bool>>,
    removals: &'a BTreeMap<String, Removal>,
    base: &'a [Requirement],
    nogoods: &'a [Nogood],
    reference: Option<&'a BTreeMap<PackageKey, String>>,
    arch: &'a str,
}

impl ImageSolve<'_> {
    /// Solves `image` on top of its parent's final state in `finals`.
    fn solve(&self, image: &str, finals: &BTreeMap<String, Final>) -> ImageOutcome {
        let (u, graph, base, nogoods) = (self.u, self.graph, self.base, self.nogoods);
        let node = graph.get(image);
        let parent = parent_of(graph, image);
        let txs = self.transactions.get(image).cloned().unwrap_or_default();
        let (start, image_base, mut manual) = match parent {
            Some(p) => match finals.get(p) {
                Some(state) => state.clone(),
                None => {
                    let text = format!("{image} is built FROM {p}, which has no solution");
                    return ImageOutcome {
                        result: Err((
                            0,
                            Unsat {
                                text,
                                dot: String::new(),
                                stats: Default::default(),
                            },
                        )),
                        inherited: None,
                        upgrades: None,
                        final_state: None,
                        transient: None,
                    };
                }
            },
            None => {
                let domain = deb_domain(
                    node.and_then(|n| n.suite.as_deref()).unwrap_or("bullseye"),
                    self.arch,
                );
                let reqs = match node.and_then(|n| n.base) {
                    Some(_) => minbase(u, &domain),
                    None => Vec::new(),
                };
                // A registry base image comes with its packages installed.
                let start = match node.and_then(|n| n.base) {
                    Some(BaseKind::Minbase) => solve_transactions_from(
                        u,
                        base,
                        Vec::new(),
                        vec![reqs.clone()],
                        nogoods,
                        None,
                    )
                    .ok()
                    .and_then(|s| s.last().map(|s| s.installed.candidates.clone()))
                    .unwrap_or_default(),
                    _ => Vec::new(),
                };
                // A base system's packages are all manually installed to apt.
                let manual = start.iter().copied().collect();
                (start, reqs, manual)
            }
        };
        let inherited = picks_of(u, &start);
        let mut all_base = base.to_vec();
        all_base.extend(image_base.iter().cloned());
        let image_recommends = installs_recommends(graph, image);
        let flags = self.recommends.get(image);
        let roots: Vec<Requirement> = txs.iter().flatten().cloned().collect();
        let txs: Vec<(Vec<Requirement>, bool)> = match txs.is_empty() {
            true => vec![(Vec::new(), false)],
            false => txs
                .into_iter()
                .enumerate()
                .map(|(i, t)| {
                    let on =
                        image_recommends && flags.and_then(|f| f.get(i)).copied().unwrap_or(false);
                    (t, on)
                })
                .collect(),
        };
        let mut result =
            solve_transactions_recommending(u, &all_base, start, txs, nogoods, self.reference);
        let mut transient = None;
        if let Ok(states) = &mut result
            && let Some(last) = states.last()
        {
            let held = &last.installed.candidates;
            manual.retain(|c| held.binary_search(c).is_ok());
            manual.extend(remove::named_by(u, held, &roots));
            manual.extend(remove::named_by(u, held, &image_base));
            if let Some(removal) = self.removals.get(image).filter(|r| !r.is_empty()) {
                let (recommends, suggests) = autoremove_keeps(graph, image);
                let keeps = remove::Keeps {
                    recommends,
                    suggests,
                };
                let after = remove::apply(u, held, &manual, removal, keeps);
                let gone: Vec<CandidateId> = held
                    .iter()
                    .copied()
                    .filter(|c| after.binary_search(c).is_err())
                    .collect();
                transient = Some(picks_of(u, &gone));
                manual.retain(|c| after.binary_search(c).is_ok());
                let state = super::TransactionState {
                    installed: Solution {
                        picks: picks_of(u, &after),
                        candidates: after,
                        stats: Default::default(),
                    },
                    removed: gone.iter().map(|&c| u.display_candidate(c)).collect(),
                };
                states.push(state);
            }
        }
        let (upgrades, final_state) = match &result {
            Ok(states) => match states.last() {
                Some(last) => (
                    Some(changes(&inherited, &last.installed)),
                    Some((last.installed.candidates.clone(), image_base, manual)),
                ),
                None => (None, None),
            },
            Err(_) => (None, None),
        };
        ImageOutcome {
            result,
            inherited: Some(inherited),
            upgrades,
            final_state,
            transient,
        }
    }
}

fn picks_of(u: &Universe, cands: &[CandidateId]) -> BTreeMap<PackageKey, String> {
    cands
        .iter()
        .map(|&c| {
            let cand = u.candidate(c);
            (u.key(cand.package).clone(), cand.version.clone())
        })
        .collect()
}

/// What of `inherited` the final state changed.
fn changes(inherited: &BTreeMap<PackageKey, String>, last: &Solution) -> Vec<String> {
    inherited
        .iter()
        .filter_map(|(k, v)| match last.picks.get(k) {
            Some(now) if now == v => None,
            Some(now) => Some(format!("{} {v} -> {now}", k.name)),
            None => Some(format!("{} {v} -> removed", k.name)),
        })
        .collect()
}
