//! Trial builds: builders that judge a candidate, log triage, the journal and the learn loop.

pub mod builder;
pub mod command;
pub mod docker;
pub mod journal;
pub mod layers;

pub mod k8s;
pub mod learn;
pub mod pool;
pub mod search;
pub mod signal;
pub mod sonic;
pub mod stage;
pub mod triage;
