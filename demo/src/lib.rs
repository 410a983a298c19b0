//! `sonic-lock demo`: a generated, self-contained SONiC world (a sonic-buildimage-shaped
//! repository, a Debian snapshot archive, a PyPI index, git and web origins, all on
//! loopback) in which the real pipeline runs end to end.
//!
//! Its own package: the `sonic-lock` binary runs it, the `sonic_lock` library never
//! links it, and it does not depend on that library (its build system reads lockfiles
//! from their TOML, as a real build system would).

pub mod archive;
pub mod build;
pub mod create;
mod fsio;
pub mod lockfile;
pub mod pypi;
pub mod registry;
pub mod repo;
pub mod script;
pub mod server;
pub mod world;
