//! The stages composed: platform, tree, crawl, sources, universe, solve, candidate.

pub mod metadata;
