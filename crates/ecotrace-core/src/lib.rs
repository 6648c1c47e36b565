//! ecotrace-core: the pure model of ecotrace — unit types, the run record, the footprint model.
//!
//! This crate must not do I/O (no files, clock, network or environment): every input comes in as
//! an argument, so the whole model is deterministic and testable.

pub mod estimate;
pub mod footprint;
pub mod human;
pub mod plan;
pub mod predict;
pub mod record;
pub mod serving;
pub mod units;

pub use record::*;
pub use units::*;
