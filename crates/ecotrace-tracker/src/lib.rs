//! ecotrace-tracker: one measured run from start to finish — settings from every source, the
//! sensors, the meter thread, and the ledger writes in the order that loses nothing. Shared by the
//! `ecotrace` CLI and the Python package.
//!
//! It must not spawn processes, print, or parse command lines: callers do.

pub mod agent_link;
pub mod footprint;
pub mod hourly;
pub mod job;
pub mod live;
pub mod retention;
/// Counting a server's work from its Prometheus endpoint (shared with the node agent).
pub use ecotrace_sensors::scrape;
pub mod session;
pub mod settings;
pub mod windows;
pub mod work;

pub use footprint::FootprintSettings;
pub use session::{Finished, Measuring, Outcome, Run};
pub use settings::{FileLayers, LiveAsk, MeasureOptions, MeasureSettings};

use std::path::PathBuf;

/// What can go wrong before or around a measured run.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// A bad option value or an unknown zone: the user can fix the input.
    #[error("{0}")]
    Usage(String),
    #[error("config file {}: {detail}", path.display())]
    Config { path: PathBuf, detail: String },
    #[error("cannot write the run to the ledger {location}: {source}; pass --ledger PATH (or set ECOTRACE_LEDGER) to use another")]
    Ledger {
        location: String,
        #[source]
        source: ecotrace_ledger::LedgerError,
    },
    #[error("cannot start the sampling thread: {0}")]
    Thread(#[source] std::io::Error),
}

impl From<ecotrace_factors::FactorError> for TrackError {
    fn from(e: ecotrace_factors::FactorError) -> Self {
        match e {
            ecotrace_factors::FactorError::Usage(m) => TrackError::Usage(m),
            ecotrace_factors::FactorError::Config { path, detail } => {
                TrackError::Config { path, detail }
            }
        }
    }
}

impl TrackError {
    /// Whether the user's input caused it (exit code 2 at the CLI).
    pub fn is_usage(&self) -> bool {
        matches!(self, TrackError::Usage(_) | TrackError::Config { .. })
    }
}
