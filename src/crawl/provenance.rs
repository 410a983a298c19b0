//! Why a file is crawled: the chain from the file to the platform's image,
//! through the make targets that need it (`file <- target <- ... <- image`).
//!
//! The make side records, for every target in scope, the target that first
//! pulled it in and by which attribute; a file read by a target (or by a
//! script that target runs) then hangs its own links in front of that chain.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One link of a chain: a node (file or make target) and why the next one needs it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Link {
    /// A tree path or a make target.
    pub node: String,
    /// How the next link uses this one (`_DEPENDS of`, `runs (Makefile:12)`, ...); empty for the root.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub why: String,
}

/// A file's chain, from the file itself to the image being built.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Provenance {
    /// Whether a parser read the file for dependencies (files read only for
    /// what they run, such as `debian/rules`, are in scope but not parsed).
    pub crawled: bool,
    /// The links, file first, image last.
    pub chain: Vec<Link>,
}

impl Provenance {
    /// The chain as indented lines, `file` first, each next one prefixed with `<-`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (i, l) in self.chain.iter().enumerate() {
            if i > 0 {
                out.push_str("  <- ");
            }
            out.push_str(&l.node);
            if !l.why.is_empty() {
                out.push_str(&format!("  ({})", l.why));
            }
            out.push('\n');
        }
        out
    }
}

/// The make targets in scope and, for each, the target that pulled it in.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    /// The image target everything hangs from.
    pub root: String,
    /// Target -> (parent target, how the parent names it).
    parents: BTreeMap<String, (String, String)>,
}

impl Graph {
    /// A graph rooted at `root` (the image target, e.g. `sonic-barefoot.bin`).
    pub fn new(root: &str) -> Graph {
        Graph {
            root: root.to_string(),
            parents: BTreeMap::new(),
        }
    }

    /// Records that `parent` names `target` through `how`; the first record wins
    /// (breadth of the walk decides which chain is shown).
    pub fn add(&mut self, target: &str, parent: &str, how: &str) {
        if target != self.root && target != parent {
            self.parents
                .entry(target.to_string())
                .or_insert_with(|| (parent.to_string(), how.to_string()));
        }
    }

    /// The chain from `target` up to the root: `[target (why), parent (why), ..., root]`.
    pub fn chain(&self, target: &str) -> Vec<Link> {
        let mut out = Vec::new();
        let mut cur = target.to_string();
        // A parent map has no cycles by construction (first record wins), but
        // the bound keeps a bad map from looping.
        for _ in 0..=self.parents.len() {
            match self.parents.get(&cur) {
                Some((p, how)) => {
                    out.push(Link {
                        node: cur.clone(),
                        why: format!("{how} {p}"),
                    });
                    cur = p.clone();
                }
                None => break,
            }
        }
        out.push(Link {
            node: cur,
            why: String::new(),
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_run_to_the_root_and_first_parent_wins() {
        let mut g = Graph::new("img.bin");
        g.add("docker-x.gz", "img.bin", "_DOCKERS of");
        g.add("foo.deb", "docker-x.gz", "_DEPENDS of");
        g.add("foo.deb", "img.bin", "_INSTALLS of");
        g.add("img.bin", "foo.deb", "loop");
        let c = g.chain("foo.deb");
        let nodes: Vec<&str> = c.iter().map(|l| l.node.as_str()).collect();
        assert_eq!(nodes, ["foo.deb", "docker-x.gz", "img.bin"]);
        assert_eq!(c[0].why, "_DEPENDS of docker-x.gz");
        let p = Provenance {
            crawled: true,
            chain: c,
        };
        assert!(
            p.render()
                .contains("  <- docker-x.gz  (_DOCKERS of img.bin)")
        );
    }
}
