//! Trial builds: builders that judge a candidate, log triage, the journal and the learn loop.

pub mod builder;
pub mod command;
pub mod journal;
pub mod pool;
pub mod signal;
