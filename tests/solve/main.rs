//! Integration tests of the solve stage: the search API, Debian installability
//! (`check`), Python rules, build dependencies, property tests, and the
//! `solve`, `check`, `why` commands end to end.

#[path = "../common/mod.rs"]
mod common;

mod api;
mod build_deps;
mod chain;
mod check_cli;
mod check_debian;
mod lock_cli;
mod platform;
mod props;
mod python;
mod python_props;
