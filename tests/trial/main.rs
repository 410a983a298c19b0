//! Integration tests of trials and the lock loop: command, docker, podman and
//! sonic builders, learning on generated universes, and `lock` end to end.

#[path = "../common/mod.rs"]
mod common;
// Also included by the `learn` bench, from where it has always lived.
#[path = "../trial_support/universe.rs"]
mod universe;

mod cli;
mod docker;
mod learn;
mod lock_cli;
mod pipeline;
mod podman;
mod sonic;
