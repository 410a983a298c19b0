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

/// Why nothing satisfies `r`: no package at all, or (for `Requires-Python`) the image's interpreter.
fn unsatisfied(u: &Universe, r: &Requirement) -> String {
    let python = r.alternatives.iter().find_map(|a| {
        let k = u.key(a.package);
        (k.ecosystem == crate::manifest::Ecosystem::Py && k.name == "python")
            .then(|| u.candidates_of(a.package).first().copied())
            .flatten()
    });
    match python {
        Some(c) => format!(
            "the image's Python {} does not satisfy",
            u.candidate(c).version
        ),
        None => "no available package satisfies".to_string(),
    }
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
                            "{} {verb} {}{}, which {}",
                            u.display_candidate(*cand),
                            requirement_text(u, r),
                            origin_suffix(r),
                            unsatisfied(u, r)
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

/// A clause as a conclusion in words, PubGrub-style: what is chosen (its
/// negative literals) is incompatible, or requires one of the versions named
/// by its positive literals (grouped by package: `lib 1.0 or 1.2`).
pub fn conclusion_text(u: &Universe, p: &Problem, lits: &[u32]) -> String {
    let chosen: Vec<String> = lits
        .iter()
        .filter(|&&l| is_neg(l))
        .map(|&l| var_name(u, p, var(l)))
        .collect();
    let mut wanted: Vec<(String, Vec<String>)> = Vec::new();
    for &l in lits.iter().filter(|&&l| !is_neg(l)) {
        let v = var(l);
        let (name, version) = if v < p.ncand {
            let c = u.candidate(crate::universe::CandidateId(v));
            (u.key(c.package).name.clone(), c.version.clone())
        } else {
            (var_name(u, p, v), String::new())
        };
        match wanted.iter_mut().find(|(n, _)| *n == name) {
            Some((_, vs)) => vs.push(version),
            None => wanted.push((name, vec![version])),
        }
    }
    let wanted: Vec<String> = wanted
        .into_iter()
        .map(|(n, vs)| {
            let vs: Vec<String> = vs.into_iter().filter(|v| !v.is_empty()).collect();
            if vs.is_empty() {
                n
            } else {
                format!("{n} {}", vs.join(" or "))
            }
        })
        .collect();
    let root_only = lits.len() == 1 && var(lits[0]) >= p.ncand;
    match (chosen.len(), wanted.len()) {
        (0, 0) => "nothing can be chosen".into(),
        (1, 0) if root_only => format!("{} cannot be satisfied", chosen[0]),
        (1, 0) => format!("{} cannot be chosen", chosen[0]),
        (_, 0) => format!("{} are incompatible", and_list(&chosen)),
        (0, _) => format!("one of {} must be chosen", wanted.join(", ")),
        (1, _) => format!("{} requires {}", chosen[0], wanted.join(" or ")),
        _ => format!(
            "{} together require {}",
            and_list(&chosen),
            wanted.join(" or ")
        ),
    }
}

fn and_list(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items[0].clone(),
        n => format!("{} and {}", items[..n - 1].join(", "), items[n - 1]),
    }
}

/// Resolves `r` with `c` on the one variable they disagree on.
fn resolve(r: &mut Vec<u32>, c: &[u32]) {
    let pivot = c.iter().find(|&&l| r.contains(&(l ^ 1))).copied();
    if let Some(pv) = pivot {
        r.retain(|&l| l != (pv ^ 1));
        for &l in c {
            if l != pv && !r.contains(&l) {
                r.push(l);
            }
        }
    }
}

/// The premises of the final failure in resolution order: the conflict, then
/// the reason of each falsified literal, latest first, until only assumptions
/// (the request, the asked version) remain.
fn final_chain(e: &Engine) -> Vec<Ante> {
    let mut pos = std::collections::HashMap::new();
    for (i, &l) in e.trail().iter().enumerate() {
        pos.insert(var(l), i);
    }
    let mut chain = e.final_premises();
    let mut r: Vec<u32> = chain.iter().flat_map(|&a| e.ante_lits(a)).collect();
    r.sort_unstable();
    r.dedup();
    let mut done = std::collections::HashSet::new();
    loop {
        let next = r
            .iter()
            .copied()
            .filter(|&l| e.lit_value(l) == -1 && !done.contains(&var(l)))
            .filter_map(|l| {
                e.reason_of(var(l))
                    .map(|a| (pos.get(&var(l)).copied(), l, a))
            })
            .max_by_key(|(p, _, _)| *p);
        let Some((_, l, a)) = next else { break };
        done.insert(var(l));
        resolve(&mut r, &e.ante_lits(a));
        chain.push(a);
    }
    chain
}

struct Render<'a> {
    u: &'a Universe,
    p: &'a Problem,
    e: &'a Engine<'a>,
    uses: std::collections::HashMap<u32, usize>,
    number: std::collections::HashMap<u32, usize>,
    done: BTreeSet<u32>,
    lines: Vec<String>,
}

impl Render<'_> {
    fn learned(&self, a: Ante) -> Option<u32> {
        match a {
            Ante::Clause(ci) if ci >= self.e.problem_clause_count() => Some(ci),
            _ => None,
        }
    }

    fn count(&mut self, chain: &[Ante]) {
        for &a in chain {
            if let Some(ci) = self.learned(a) {
                let n = self.uses.entry(ci).or_insert(0);
                *n += 1;
                if *n == 1 {
                    let premises = self.complete(self.e.learned_premises(ci), ci);
                    self.count(&premises);
                }
            }
        }
    }

    /// A learned clause's premises plus the reasons of the literals the engine
    /// dropped from it because they were false for good (level 0), so that the
    /// chain really derives the clause.
    fn complete(&self, premises: &[Ante], ci: u32) -> Vec<Ante> {
        let mut chain = premises.to_vec();
        let target = self.e.clause_lits(ci);
        let mut r: Vec<u32> = Vec::new();
        for (i, &a) in chain.iter().enumerate() {
            let lits = self.e.ante_lits(a);
            if i == 0 {
                r = lits;
            } else {
                resolve(&mut r, &lits);
            }
        }
        let mut done = std::collections::HashSet::new();
        while let Some((l, a)) = r
            .iter()
            .copied()
            .filter(|l| !target.contains(l) && !done.contains(&var(*l)))
            .filter(|&l| self.e.lit_value(l) == -1)
            .find_map(|l| self.e.reason_of(var(l)).map(|a| (l, a)))
        {
            done.insert(var(l));
            resolve(&mut r, &self.e.ante_lits(a));
            chain.push(a);
        }
        chain
    }

    /// Whether a premise goes without saying (one version per package).
    fn implicit(&self, a: Ante) -> bool {
        matches!(a, Ante::Excl(x, y) if self.p.excl_origin(x.min(y), x.max(y)) == Some(ExclOrigin::SamePackage))
    }

    fn premise(&self, a: Ante) -> String {
        match self.learned(a) {
            Some(ci) => {
                let text = conclusion_text(self.u, self.p, &self.e.clause_lits(ci));
                match self.number.get(&ci) {
                    Some(n) => format!("{text} ({n})"),
                    None => text,
                }
            }
            None => premise_text(self.u, self.p, self.e, a).unwrap_or_default(),
        }
    }

    /// Emits the sentences deriving `conclusion` from `chain` (premises first).
    fn derive(
        &mut self,
        chain: &[Ante],
        conclusion: Option<String>,
        clause: Option<u32>,
        numbered: bool,
    ) {
        for &a in chain {
            if let Some(ci) = self.learned(a)
                && !self.done.contains(&ci)
            {
                self.done.insert(ci);
                let premises = self.complete(self.e.learned_premises(ci), ci);
                let shared = self.uses.get(&ci).copied().unwrap_or(0) > 1;
                self.derive(&premises, None, Some(ci), shared);
            }
        }
        let mut r: Vec<u32> = Vec::new();
        let mut pending: Vec<String> = Vec::new();
        let mut first = true;
        let last_real = chain.iter().rposition(|&a| !self.implicit(a));
        for (i, &a) in chain.iter().enumerate() {
            let lits = self.e.ante_lits(a);
            if i == 0 {
                r = lits;
            } else {
                resolve(&mut r, &lits);
            }
            if self.implicit(a) {
                continue;
            }
            pending.push(self.premise(a));
            let is_last = Some(i) == last_real;
            if pending.len() < 2 && first && !is_last {
                continue;
            }
            let text = if is_last {
                match &conclusion {
                    Some(c) => c.clone(),
                    None => conclusion_text(
                        self.u,
                        self.p,
                        &clause
                            .map(|ci| self.e.clause_lits(ci))
                            .unwrap_or_else(|| r.clone()),
                    ),
                }
            } else {
                conclusion_text(self.u, self.p, &r)
            };
            let because = and_list(&pending);
            let mut line = if first {
                format!("Because {because}, {text}.")
            } else {
                format!("And because {because}, {text}.")
            };
            if is_last
                && numbered
                && let Some(ci) = clause
            {
                let n = self.number.len() + 1;
                self.number.insert(ci, n);
                line = format!("({n}) {line}");
            }
            self.lines.push(line);
            pending.clear();
            first = false;
        }
    }
}

/// The explanation of the engine's last failure, for goal `goal` (what could
/// not be had): a short numbered derivation PubGrub-style. Each sentence
/// derives one conclusion from the previous one and new facts, each fact
/// naming its origin (file:line); a lemma used once is folded into the
/// sentence that uses it, one used again is numbered and cited; "only one
/// version of a package" goes without saying.
pub fn explain(u: &Universe, p: &Problem, e: &Engine, goal: &str) -> String {
    let mut chain = final_chain(e);
    let mut r = Render {
        u,
        p,
        e,
        uses: Default::default(),
        number: Default::default(),
        done: BTreeSet::new(),
        lines: Vec::new(),
    };
    // A failure that is one learned clause is told as that clause's derivation.
    if let [a] = chain[..]
        && let Some(ci) = r.learned(a)
    {
        chain = r.complete(e.learned_premises(ci), ci);
    }
    r.count(&chain);
    r.derive(&chain, Some(goal.to_string()), None, false);
    if r.lines.is_empty() {
        // Only implicit facts (two versions of one package asked for together).
        let facts: Vec<String> = chain
            .iter()
            .filter_map(|&a| premise_text(u, p, e, a))
            .collect();
        r.lines
            .push(format!("Because {}, {goal}.", and_list(&facts)));
    }
    const MAX: usize = 40;
    let mut out = String::new();
    let _ = writeln!(out, "{goal} because:");
    let n = r.lines.len();
    for line in r.lines.iter().take(MAX) {
        let _ = writeln!(out, "  {line}");
    }
    if n > MAX {
        let _ = writeln!(
            out,
            "  ... {} more steps (--explain-dot draws the whole derivation)",
            n - MAX
        );
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

#[cfg(test)]
mod tests {
    use crate::solve::Solver;
    use crate::universe::{Universe, debian};

    const PACKAGES: &str = "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: b (>= 2)\n\n\
        Package: b\nVersion: 1\nArchitecture: amd64\n\n\
        Package: b\nVersion: 2\nArchitecture: amd64\nConflicts: c\n\n\
        Package: b\nVersion: 3\nArchitecture: amd64\nDepends: d\n\n\
        Package: c\nVersion: 1\nArchitecture: amd64\n\n\
        Package: d\nVersion: 1\nArchitecture: amd64\nDepends: e (>= 5)\n\n\
        Package: e\nVersion: 4\nArchitecture: amd64\n";

    #[test]
    fn the_derivation_is_a_chain_naming_every_origin() {
        let mut u = Universe::new();
        debian::load_packages(&mut u, PACKAGES.as_bytes(), "Packages", "bullseye/amd64").unwrap();
        let mut roots =
            debian::parse_requirements(&mut u, "bullseye/amd64", "a", "Dockerfile:12").unwrap();
        roots.extend(
            debian::parse_requirements(&mut u, "bullseye/amd64", "c", "Dockerfile:14").unwrap(),
        );
        let text = Solver::new(&u, roots).solve().unwrap_err().explain();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0], "the request cannot be satisfied because:",
            "{text}"
        );
        assert!(lines[1].trim_start().starts_with("Because "), "{text}");
        assert!(
            lines[2..]
                .iter()
                .all(|l| l.trim_start().starts_with("And because ")),
            "{text}"
        );
        assert!(
            lines
                .last()
                .unwrap()
                .ends_with("the request cannot be satisfied."),
            "{text}"
        );
        for fact in [
            "a=1 depends on b (>= 2) (Packages:4)",
            "b=2 conflicts with c (Packages:13)",
            "b=3 depends on d (Packages:18)",
            "d=1 depends on e (>= 5) (Packages:27), which no available package satisfies",
            "the request requires a (Dockerfile:12)",
            "the request requires c (Dockerfile:14)",
        ] {
            assert!(text.contains(fact), "missing `{fact}` in\n{text}");
        }
        // Uniqueness of versions goes without saying.
        assert!(!text.contains("two versions"), "{text}");
        assert!(lines.len() <= 7, "{text}");
    }
}
