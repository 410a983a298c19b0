//! Integration tests of the `ci/` pipeline templates, run locally.

#[path = "../common/mod.rs"]
mod common;

mod support;
mod templates;
