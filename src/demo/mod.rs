//! `sonic-lock demo`: a generated, self-contained SONiC world (a sonic-buildimage-shaped
//! repository, a Debian snapshot archive, a PyPI index, git and web origins, all on
//! loopback) in which the real pipeline runs end to end.

pub mod archive;
pub mod build;
pub mod create;
pub mod pypi;
pub mod registry;
pub mod repo;
pub mod script;
pub mod server;
pub mod world;
