//! Debian archives: snapshot.debian.org and plain mirrors.

pub mod release;

pub mod archive;
pub mod mr;
