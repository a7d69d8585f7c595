//! What several commands (and the benchmarks) share, so that no command reaches into another's
//! module.
//!
//! - [`chain`]: the chain's model flags, loading the roles a variant needs, the request.
//! - [`report`]: printing a stage's result (the emotion line or JSON, the stages as they finish,
//!   a described painting as JSON).
//! - [`signal`]: waiting for SIGINT or SIGTERM (`serve`, `worker`).
//! - [`values`]: flag values read the same way everywhere (a variant, an emotion by name).

pub mod chain;
pub mod report;
pub mod signal;
pub mod values;
