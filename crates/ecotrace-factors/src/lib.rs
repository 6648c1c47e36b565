//! ecotrace-factors: every factor a footprint rests on, resolved in one place with typed
//! provenance, for every command (`run`, `doctor`, `agent`, `estimate`, `estimate inference`,
//! `compare`) and the Python package:
//!
//! - [`provenance`]: [`Factor`] (a value and its [`Provenance`]: given by the user, a table row,
//!   or a default) and its one renderer;
//! - [`options`]: the options that set factors and measurements, defined once ([`FactorArgs`],
//!   [`MeasureArgs`]) for the CLI, the Python keywords and the config file, with the [`Origins`]
//!   of what was given;
//! - [`config`]: the config-file layer ([`FileLayers`]), keyed by the same definitions;
//! - [`place`]: region → intensity, PUE, WUE, off-site water, electricity price ([`resolve_place`]).
//!
//! Layering, for each factor: flag > environment variable > config file > the region's (or
//! hardware's) table row > default. The tables and their lookups are `ecotrace-data`'s; the
//! formulas are `ecotrace-core`'s. Nothing here prints.

pub mod config;
pub mod footprint;
pub mod hardware;
pub mod options;
pub mod place;
pub mod provenance;

pub use config::{FileLayer, FileLayers};
pub use footprint::{price_per_hour, resolve_lifetime};
pub use options::{
    agent_option_ids, measure_option_ids, parse_keywords, AgentSocketArgs, FactorArgs, MeasureArgs,
    OptionGroup, Origins, ProviderArgs, Via,
};
pub use place::{parse_basis, resolve_place, Place};
pub use provenance::{Accounting, Factor, Origin, Provenance, TableRow};

use std::path::PathBuf;

/// Why a factor could not be resolved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FactorError {
    /// A bad value or an unknown region, option or hardware: the user can fix the input.
    #[error("{0}")]
    Usage(String),
    /// A config file that cannot be read or holds a bad key or value.
    #[error("config file {}: {detail}", path.display())]
    Config { path: PathBuf, detail: String },
}
