//! Shared helpers of the trial integration tests that predate `tests/common`:
//! the container helpers of `common::containers` under their old names, and
//! generated universes.

#![allow(dead_code)]

#[path = "../common/mod.rs"]
mod common;

#[allow(unused_imports)]
pub use common::containers::{
    containers_in, containers_of, docker_usable, image, image_for, runtime_usable, wait_for,
};

pub mod universe;
