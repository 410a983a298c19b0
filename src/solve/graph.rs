//! The graph of a solution (petgraph): which chosen candidate needs which,
//! used to answer `why PKG` with the chain from the request to the package.

use super::Solution;
use crate::universe::{CandidateId, PackageId, Requirement, Universe};
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{HashMap, VecDeque};

/// A step of a `why` chain: who needs the next one, through which relation and origin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Step {
    /// The needing side (`the request` or `name=version`).
    pub from: String,
    /// The relation as written (`libc6 (>= 2.31)`).
    pub relation: String,
    /// Where the relation was declared.
    pub origin: Option<String>,
    /// The candidate satisfying it.
    pub to: String,
}

/// Dependency graph of a solution: node 0 is the request.
pub struct SolutionGraph {
    g: DiGraph<Option<CandidateId>, (String, Option<String>)>,
    node_of: HashMap<CandidateId, NodeIndex>,
    root: NodeIndex,
}

impl SolutionGraph {
    /// Builds the graph: an edge for every requirement to every chosen candidate satisfying it.
    pub fn new(u: &Universe, roots: &[Requirement], sol: &Solution) -> SolutionGraph {
        let mut g = DiGraph::new();
        let root = g.add_node(None);
        let mut node_of = HashMap::new();
        for &c in &sol.candidates {
            node_of.insert(c, g.add_node(Some(c)));
        }
        let mut buf = Vec::new();
        let mut add = |g: &mut DiGraph<_, _>, from: NodeIndex, r: &Requirement| {
            let text = super::explain::requirement_text(u, r);
            for alt in &r.alternatives {
                buf.clear();
                u.matching(alt, &mut buf);
                for d in &buf {
                    if let Some(&to) = node_of.get(d) {
                        g.add_edge(from, to, (text.clone(), r.origin.clone()));
                    }
                }
            }
        };
        for r in roots {
            add(&mut g, root, r);
        }
        for &c in &sol.candidates {
            let from = node_of[&c];
            for r in &u.candidate(c).depends {
                add(&mut g, from, r);
            }
        }
        SolutionGraph { g, node_of, root }
    }

    /// The shortest chain from the request to a chosen candidate of `package`, or `None` when it is not chosen.
    pub fn why(&self, u: &Universe, package: PackageId) -> Option<Vec<Step>> {
        let target = self
            .node_of
            .iter()
            .find(|(c, _)| u.candidate(**c).package == package)
            .map(|(_, n)| *n)?;
        let mut prev: HashMap<NodeIndex, (NodeIndex, petgraph::graph::EdgeIndex)> = HashMap::new();
        let mut q = VecDeque::from([self.root]);
        let mut seen = std::collections::HashSet::from([self.root]);
        while let Some(n) = q.pop_front() {
            if n == target {
                break;
            }
            let mut edges: Vec<_> = self
                .g
                .edges(n)
                .map(|e| {
                    (
                        petgraph::visit::EdgeRef::target(&e),
                        petgraph::visit::EdgeRef::id(&e),
                    )
                })
                .collect();
            edges.sort();
            for (t, eid) in edges {
                if seen.insert(t) {
                    prev.insert(t, (n, eid));
                    q.push_back(t);
                }
            }
        }
        let name = |n: NodeIndex| match self.g[n] {
            None => "the request".to_string(),
            Some(c) => u.display_candidate(c),
        };
        let mut steps = Vec::new();
        let mut cur = target;
        while cur != self.root {
            let (p, eid) = *prev.get(&cur)?;
            let (rel, origin) = self.g[eid].clone();
            steps.push(Step {
                from: name(p),
                relation: rel,
                origin,
                to: name(cur),
            });
            cur = p;
        }
        steps.reverse();
        Some(steps)
    }
}
