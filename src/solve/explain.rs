//! Turning the premises of a failed search into prose a person can follow
//! (PubGrub-style: the facts that clash, then what follows from them) and
//! into a DOT graph.

use super::engine::{Ante, Engine};
use super::problem::{ClauseOrigin, ExclOrigin, Problem, is_neg, var};
use crate::universe::{Requirement, Universe};
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// `name=version` of a variable, or the root set's label.
pub fn var_name(u: &Universe, p: &Problem, v: u32) -> String {
    if v < p.ncand {
        u.display_candidate(crate::universe::CandidateId(v))
    } else {
        p.root_sets[(v - p.ncand) as usize].label.clone()
    }
}

/// `a (>= 1) | b` with the names of the universe.
pub fn requirement_text(u: &Universe, r: &Requirement) -> String {
    let mut s = String::new();
    for (i, a) in r.alternatives.iter().enumerate() {
        if i > 0 {
            s.push_str(" | ");
        }
        s.push_str(&u.key(a.package).name);
        match &a.arch {
            crate::universe::ArchQualifier::None => {}
            crate::universe::ArchQualifier::Any => s.push_str(":any"),
            crate::universe::ArchQualifier::Native => s.push_str(":native"),
            crate::universe::ArchQualifier::Named(x) => {
                s.push(':');
                s.push_str(x);
            }
        }
        if a.constraint != crate::universe::VersionConstraint::Any {
            let _ = write!(s, " ({})", a.constraint);
        }
    }
    s
}

fn origin_suffix(r: &Requirement) -> String {
    match &r.origin {
        Some(o) => format!(" ({o})"),
        None => String::new(),
    }
}

/// One premise in words.
pub fn premise_text(u: &Universe, p: &Problem, e: &Engine, a: Ante) -> Option<String> {
    match a {
        Ante::Clause(ci) if ci < e.problem_clause_count() => {
            let lits = p.clause_lits(ci);
            Some(match &p.clauses[ci as usize].2 {
                ClauseOrigin::Depends { cand, req } => {
                    let c = u.candidate(*cand);
                    let r = &c.depends[*req];
                    let verb = match r.kind {
                        crate::universe::RelationKind::PreDepends => "pre-depends on",
                        _ => "depends on",
                    };
                    if lits.len() == 1 {
                        format!(
                            "{} {verb} {}{}, which no available package satisfies",
                            u.display_candidate(*cand),
                            requirement_text(u, r),
                            origin_suffix(r)
                        )
                    } else {
                        format!(
                            "{} {verb} {}{}",
                            u.display_candidate(*cand),
                            requirement_text(u, r),
                            origin_suffix(r)
                        )
                    }
                }
                ClauseOrigin::Root { index } => {
                    let (set, r) = &p.roots[*index];
                    let label = &p.root_sets[*set].label;
                    if lits.len() == 1 {
                        format!(
                            "{label} requires {}{}, which no available package satisfies",
                            requirement_text(u, r),
                            origin_suffix(r)
                        )
                    } else {
                        format!(
                            "{label} requires {}{}",
                            requirement_text(u, r),
                            origin_suffix(r)
                        )
                    }
                }
                ClauseOrigin::Nogood { index } => {
                    let (cands, reason) = &p.nogoods[*index];
                    let names: Vec<String> =
                        cands.iter().map(|c| u.display_candidate(*c)).collect();
                    format!("{} do not work together: {reason}", names.join(" and "))
                }
            })
        }
        Ante::Clause(_) => None,
        Ante::Excl(x, y) => {
            let (x, y) = (x.min(y), x.max(y));
            match p.excl_origin(x, y)? {
                ExclOrigin::SamePackage => Some(format!(
                    "{} and {} are two versions of one package, so only one can be installed",
                    var_name(u, p, x),
                    var_name(u, p, y)
                )),
                ExclOrigin::Conflict { cand, req } => {
                    let c = u.candidate(cand);
                    let r = &c.conflicts[req];
                    let other = if cand.0 == x { y } else { x };
                    let verb = match r.kind {
                        crate::universe::RelationKind::Breaks => "breaks",
                        _ => "conflicts with",
                    };
                    Some(format!(
                        "{} {verb} {}{}, which {} satisfies",
                        u.display_candidate(cand),
                        requirement_text(u, r),
                        origin_suffix(r),
                        var_name(u, p, other)
                    ))
                }
            }
        }
    }
}

/// A (learned) clause in words.
pub fn clause_text(u: &Universe, p: &Problem, lits: &[u32]) -> String {
    let negs: Vec<String> = lits
        .iter()
        .filter(|&&l| is_neg(l))
        .map(|&l| var_name(u, p, var(l)))
        .collect();
    let poss: Vec<String> = lits
        .iter()
        .filter(|&&l| !is_neg(l))
        .map(|&l| var_name(u, p, var(l)))
        .collect();
    match (negs.len(), poss.len()) {
        (0, 0) => "nothing can be chosen".into(),
        (1, 0) => format!("{} cannot be chosen", negs[0]),
        (_, 0) => format!("{} cannot all be chosen together", negs.join(", ")),
        (0, _) => format!("one of {} must be chosen", poss.join(", ")),
        _ => format!("if {} then one of {}", negs.join(" and "), poss.join(", ")),
    }
}

/// The explanation of the engine's last failure, for goal `goal` (what could not be had).
pub fn explain(u: &Universe, p: &Problem, e: &Engine, goal: &str) -> String {
    let core = e.core();
    let mut premises = BTreeSet::new();
    let mut derived = Vec::new();
    for &a in &core {
        match a {
            Ante::Clause(ci) if ci >= e.problem_clause_count() => derived.push(ci),
            _ => {
                if let Some(t) = premise_text(u, p, e, a) {
                    premises.insert(t);
                }
            }
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "{goal} because:");
    for t in &premises {
        let _ = writeln!(out, "  - {t}");
    }
    if !derived.is_empty() {
        derived.sort_unstable();
        let shown: Vec<u32> = derived
            .iter()
            .copied()
            .filter(|&ci| e.clause_lits(ci).len() <= 4)
            .collect();
        if !shown.is_empty() {
            let _ = writeln!(out, "and so, step by step:");
            for ci in shown {
                let _ = writeln!(out, "  - {}", clause_text(u, p, &e.clause_lits(ci)));
            }
        }
    }
    out
}

/// The explanation of the last failure as a DOT graph: chosen/implied candidates,
/// dependency edges, conflict edges (dashed) and unsatisfiable requirements (red).
pub fn explain_dot(u: &Universe, p: &Problem, e: &Engine) -> String {
    use petgraph::graph::{DiGraph, NodeIndex};
    use std::collections::HashMap;
    let core = e.core();
    let mut g: DiGraph<String, (String, bool)> = DiGraph::new();
    let mut nodes: HashMap<String, NodeIndex> = HashMap::new();
    let mut node = |g: &mut DiGraph<String, (String, bool)>, name: String| -> NodeIndex {
        *nodes
            .entry(name.clone())
            .or_insert_with(|| g.add_node(name))
    };
    for &a in &core {
        match a {
            Ante::Clause(ci) if ci < e.problem_clause_count() => {
                let lits = p.clause_lits(ci);
                let head = var(lits[0]);
                let from = node(&mut g, var_name(u, p, head));
                let label = match &p.clauses[ci as usize].2 {
                    ClauseOrigin::Depends { cand, req } => {
                        requirement_text(u, &u.candidate(*cand).depends[*req])
                    }
                    ClauseOrigin::Root { index } => requirement_text(u, &p.roots[*index].1),
                    ClauseOrigin::Nogood { index } => format!("nogood: {}", p.nogoods[*index].1),
                };
                if lits.len() == 1 {
                    let to = node(&mut g, format!("missing: {label}"));
                    g.add_edge(from, to, (label.clone(), true));
                }
                for &l in &lits[1..] {
                    let to = node(&mut g, var_name(u, p, var(l)));
                    g.add_edge(from, to, (label.clone(), is_neg(l)));
                }
            }
            Ante::Excl(x, y) => {
                if let Some(ExclOrigin::Conflict { .. }) = p.excl_origin(x.min(y), x.max(y)) {
                    let a = node(&mut g, var_name(u, p, x.min(y)));
                    let b = node(&mut g, var_name(u, p, x.max(y)));
                    g.add_edge(a, b, ("conflicts".into(), true));
                }
            }
            _ => {}
        }
    }
    let mut out = String::from("digraph explanation {\n  node [shape=box];\n");
    for i in g.node_indices() {
        let n = &g[i];
        let color = if n.starts_with("missing: ") {
            ", color=red"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  n{} [label=\"{}\"{}];",
            i.index(),
            n.replace('"', "\\\""),
            color
        );
    }
    for ed in g.edge_indices() {
        if let Some((a, b)) = g.edge_endpoints(ed) {
            let (label, bad) = &g[ed];
            let style = if *bad {
                ", style=dashed, color=red"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  n{} -> n{} [label=\"{}\"{}];",
                a.index(),
                b.index(),
                label.replace('"', "\\\""),
                style
            );
        }
    }
    out.push_str("}\n");
    out
}
