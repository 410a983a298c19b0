//! Debian archives: snapshot.debian.org and plain mirrors.

pub mod release;

pub mod added;
pub mod archive;
pub mod contents;
pub mod mr;
