//! Integration tests of bisection: the engine with the real command builder,
//! the CLI, docker trials and the time axis over a loopback world.

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod command;
mod docker;
mod resume;
mod timeaxis;
