//! Integration tests of the lockfile and what is made from it: SONiC versions
//! trees, `export`, `import` and `diff`; and `lock --previous` over the
//! loopback world.

#[path = "../common/mod.rs"]
mod common;

mod apt_python;
mod build_slave;
mod cli;
mod file;
mod input;
mod previous;
mod split;
mod versions;
