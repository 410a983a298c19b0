//! The manifest's image graph: which image each image is built `FROM`, what
//! Debian base a root image starts from, and which of the tree's own debs and
//! wheels it installs. The solve reads it to solve images parents first.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a root image's Debian base is made; both hold the `Priority: required`
/// packages plus `apt`, as `debootstrap --variant=minbase` installs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaseKind {
    /// A Debian base image from a registry (`FROM debian:bullseye`): its
    /// packages come with the image, pinned by its digest, not by the lock.
    Minbase,
    /// `debootstrap --variant=minbase` from the mirror (the host image): its
    /// packages are installed from the archive, so the lock pins them.
    Debootstrap,
}

impl BaseKind {
    /// The name used in JSON and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            BaseKind::Minbase => "minbase",
            BaseKind::Debootstrap => "debootstrap",
        }
    }
}

/// A package the tree builds and an image installs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BuiltPackage {
    /// The make target (`libswsscommon_1.0.0_amd64.deb`, `sonic_py_common-1.0-py3-none-any.whl`).
    pub target: String,
    /// The file its requirements are read from (`src/x/debian/control`, `src/x/setup.py`), when found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// One image of the build and where it sits in its `FROM` chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageNode {
    /// The image it is built `FROM` when the tree builds that one too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// For a root image: how its Debian base is made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<BaseKind>,
    /// The external image a root image starts `FROM` (`debian:bullseye`), as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The Debian suite it is built on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite: Option<String>,
    /// The tree's debs it installs (`install_debian_packages`, the installer's debs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub debs: Vec<BuiltPackage>,
    /// The tree's wheels it installs (`install_python_wheels`, the host image's wheel list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wheels: Vec<BuiltPackage>,
    /// Whether its `apt-get install`s bring in Recommends, when its own apt
    /// configuration says (`APT::Install-Recommends "false"`); unset, it is
    /// its parent's, and apt's default (on) for a root image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_recommends: Option<bool>,
    /// Whether its `apt-get autoremove` keeps what installed packages
    /// recommend (`APT::AutoRemove::RecommendsImportant`), when its own apt
    /// configuration says; unset, its parent's, else apt's default (on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoremove_recommends: Option<bool>,
    /// Whether its `apt-get autoremove` keeps what installed packages suggest
    /// (`APT::AutoRemove::SuggestsImportant`), when its own apt configuration
    /// says; unset, its parent's, else the root's: on for debootstrap (apt's
    /// default), off for Debian's docker images, which ship
    /// `/etc/apt/apt.conf.d/docker-autoremove-suggests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoremove_suggests: Option<bool>,
}

/// Whether `image`'s apt installs bring in Recommends: its own setting, else
/// the nearest parent's, else apt's default (on).
pub fn installs_recommends(graph: &ImageGraph, image: &str) -> bool {
    inherited(graph, image, |n| n.install_recommends)
        .0
        .unwrap_or(true)
}

/// What `image`'s `apt-get autoremove` keeps besides `Depends`: (Recommends,
/// Suggests) of installed packages, from its apt configuration or its
/// parents', else apt's defaults for its root (see [`ImageNode`]).
pub fn autoremove_keeps(graph: &ImageGraph, image: &str) -> (bool, bool) {
    let recommends = inherited(graph, image, |n| n.autoremove_recommends).0;
    let (suggests, root) = inherited(graph, image, |n| n.autoremove_suggests);
    let debootstrap = graph.get(&root).and_then(|n| n.base) == Some(BaseKind::Debootstrap);
    (recommends.unwrap_or(true), suggests.unwrap_or(debootstrap))
}

/// The first setting `get` finds on `image` or up its `FROM` chain, and the
/// last image looked at (the root when nothing is set).
fn inherited(
    graph: &ImageGraph,
    image: &str,
    get: impl Fn(&ImageNode) -> Option<bool>,
) -> (Option<bool>, String) {
    let mut cur = image;
    let mut seen = std::collections::BTreeSet::new();
    while seen.insert(cur) {
        let Some(node) = graph.get(cur) else { break };
        if let Some(v) = get(node) {
            return (Some(v), cur.to_string());
        }
        match node.parent.as_deref() {
            Some(p) => cur = p,
            None => break,
        }
    }
    (None, cur.to_string())
}

/// Every image of the build by name.
pub type ImageGraph = BTreeMap<String, ImageNode>;

/// The images of `graph` parents first (a parent outside the graph, or a
/// cycle, leaves an image a root); ties in name order, so the order is stable.
pub fn parents_first(graph: &ImageGraph) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut placed = std::collections::BTreeSet::new();
    for name in graph.keys() {
        let mut chain = vec![name.clone()];
        let mut cur = name;
        while let Some(p) = graph.get(cur).and_then(|n| n.parent.as_ref()) {
            if !graph.contains_key(p) || chain.contains(p) {
                break;
            }
            chain.push(p.clone());
            cur = p;
        }
        for n in chain.into_iter().rev() {
            if placed.insert(n.clone()) {
                out.push(n);
            }
        }
    }
    out
}

/// The parent of `image` when the graph holds it (not itself, no cycle back to it).
pub fn parent_of<'g>(graph: &'g ImageGraph, image: &str) -> Option<&'g str> {
    let p = graph.get(image)?.parent.as_deref()?;
    let mut cur = p;
    // A cycle makes no image a parent.
    for _ in 0..graph.len() {
        if cur == image {
            return None;
        }
        match graph.get(cur).and_then(|n| n.parent.as_deref()) {
            Some(next) => cur = next,
            None => break,
        }
    }
    graph.contains_key(p).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(parent: Option<&str>) -> ImageNode {
        ImageNode {
            parent: parent.map(String::from),
            ..ImageNode::default()
        }
    }

    #[test]
    fn parents_come_first_and_cycles_do_not_hang() {
        let g: ImageGraph = [
            ("a-docker".to_string(), node(Some("engine"))),
            ("base".to_string(), node(None)),
            ("engine".to_string(), node(Some("base"))),
            ("x".to_string(), node(Some("y"))),
            ("y".to_string(), node(Some("x"))),
            ("z".to_string(), node(Some("outside"))),
        ]
        .into();
        let order = parents_first(&g);
        let at = |n: &str| order.iter().position(|o| o == n).unwrap();
        assert!(at("base") < at("engine") && at("engine") < at("a-docker"));
        assert_eq!(order.len(), 6);
        assert_eq!(parent_of(&g, "engine"), Some("base"));
        assert_eq!(parent_of(&g, "x"), None);
        assert_eq!(parent_of(&g, "z"), None);
    }
}
