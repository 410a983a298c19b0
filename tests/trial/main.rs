//! Integration tests of trials and the lock loop: command, docker, podman and
//! sonic builders, learning on generated universes, and `lock` end to end.

#[path = "../common/mod.rs"]
mod common;
#[path = "../common/k8s_emulator/mod.rs"]
mod k8s_emulator;
// Also included by the `learn` bench.
mod universe;

mod cli;
mod docker;
mod layers;
// Also included by the `layers` bench.
mod layers_world;

mod k8s;
mod learn;
mod lock_cli;
mod lock_confirm;
mod pipeline;
mod podman;
mod sonic;
