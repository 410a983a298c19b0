//! sonic-lock: make old sonic-buildimage builds reproducible.
//!
//! The library is a pipeline of stages that talk through versioned, serialisable
//! artifacts; stages depend downwards only, and [`pipeline`] composes them into
//! the one entry that `lock`, `solve --platform` and time-axis `bisect` share
//! (see `docs/architecture.md`, "Layering"):
//!
//! ```text
//! platform ─▶ crawl ─▶ Manifest ─▶ source (as of cutoff) ─▶ Universe ─▶ solve ─▶ candidate Lock
//!                                                               ▲                    │
//!                                                      learned nogoods ◀── trial ◀───┘
//!                                                                          lock ─▶ export
//! bisect: good + bad lock ─▶ culprit, with the same trial builders
//! ```

pub mod bisect;
pub mod crawl;
pub mod date;
pub mod fsio;
pub mod lock;
pub mod manifest;
pub mod pipeline;
pub mod platform;
pub mod solve;
pub mod source;
pub mod trial;
pub mod universe;

#[cfg(test)]
mod layering;
