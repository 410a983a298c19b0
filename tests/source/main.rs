//! Integration tests of the source stage against loopback origins: Debian
//! archives, PyPI, Go proxy, git, web pins and a container registry.

#[path = "../common/mod.rs"]
mod common;

mod added;
mod cache;
mod docker;
mod git;
mod index;
mod net;
mod pymeta;
mod suitecache;
