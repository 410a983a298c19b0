//! Trial builds: builders that judge a candidate, log triage, the journal and the learn loop.

pub mod builder;
