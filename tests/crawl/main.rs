//! Integration tests of the crawl stage: repositories built in code, the CLI
//! and parser fuzzing.

#[path = "../common/mod.rs"]
mod common;

mod cli;
mod dbg;
mod fuzz;
mod images;
mod repos;
