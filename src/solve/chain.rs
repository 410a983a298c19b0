//! Images solved as SONiC builds them: parents first, each image's apt
//! transactions on top of its parent's installed state with apt's rules
//! (what is installed stays unless a relation forces a change, and each
//! forced change is recorded), a root image on its Debian base
//! (`Priority: required` plus `apt`, as `debootstrap --variant=minbase`).

use super::images::ImageResults;
use super::{Nogood, Solution, Unsat, solve_transactions_from, solve_transactions_recommending};
use crate::manifest::images::{
    BaseKind, ImageGraph, installs_recommends, parent_of, parents_first,
};
use crate::universe::suite::deb_domain;
use crate::universe::{
    CandidateId, PackageKey, RelationKind, Requirement, Universe, VersionConstraint,
};
use std::collections::BTreeMap;

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
}

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
    // Per image, its final state and the base requirements its root started from.
    let mut finals: BTreeMap<String, (Vec<CandidateId>, Vec<Requirement>)> = BTreeMap::new();
    for image in order {
        let node = graph.get(&image);
        let parent = parent_of(graph, &image);
        let txs = transactions.get(&image).cloned().unwrap_or_default();
        let (start, image_base) = match parent {
            Some(p) => match finals.get(p) {
                Some(state) => state.clone(),
                None => {
                    let text = format!("{image} is built FROM {p}, which has no solution");
                    out.deb.insert(
                        image,
                        Err((
                            0,
                            Unsat {
                                text,
                                dot: String::new(),
                                stats: Default::default(),
                            },
                        )),
                    );
                    continue;
                }
            },
            None => {
                let domain = deb_domain(
                    node.and_then(|n| n.suite.as_deref()).unwrap_or("bullseye"),
                    arch,
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
                (start, reqs)
            }
        };
        let inherited = picks_of(u, &start);
        let mut all_base = base.to_vec();
        all_base.extend(image_base.iter().cloned());
        let image_recommends = installs_recommends(graph, &image);
        let flags = recommends.get(&image);
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
        let result = solve_transactions_recommending(u, &all_base, start, txs, nogoods, reference);
        if let Ok(states) = &result
            && let Some(last) = states.last()
        {
            out.upgrades
                .insert(image.clone(), changes(&inherited, &last.installed));
            finals.insert(
                image.clone(),
                (last.installed.candidates.clone(), image_base.clone()),
            );
        }
        out.inherited.insert(image.clone(), inherited);
        out.deb.insert(image, result);
    }
    out.upgrades.retain(|_, v| !v.is_empty());
    out
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
