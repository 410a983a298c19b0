//! What `tests/demo.rs` includes as `mod trial_support;`: the docker check of
//! `tests/common/containers.rs`. The generated universes beside it
//! (`universe.rs`) belong to the trial tests and the `learn` bench, which
//! include them by path.

#[path = "../common/mod.rs"]
mod common;

pub use common::containers::docker_usable;
