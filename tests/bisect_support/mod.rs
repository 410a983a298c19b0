//! The loopback world of `tests/common/world.rs` at the path the
//! `bisect_timeaxis` bench includes it from; the world reaches the git trees
//! and loopback origins it is built from through its parent module.

#[path = "../common/loopback/mod.rs"]
mod loopback;
#[path = "../common/tree.rs"]
mod tree;
#[path = "../common/world.rs"]
mod world;

pub use world::{archive, registry, setup};
