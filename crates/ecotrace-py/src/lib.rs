//! ecotrace-py: the native core of the `ecotrace` Python package (`ecotrace._ecotrace`).
//!
//! Thin on purpose: [`options`] layers keyword arguments over `ECOTRACE_*` environment variables,
//! config files and defaults exactly as `ecotrace run` does, and (with the `python` feature, which
//! maturin turns on) `py` wraps an [`ecotrace_tracker::Run`] measuring the Python process itself in a
//! `#[pyclass]`. The ergonomic API — context manager, decorator, budgets, framework callbacks —
//! lives in Python on top of it (python/ecotrace). The projection of a run from its first epochs
//! is [`ecotrace_core::predict`].

pub mod estimate;
pub mod options;

// `ecotrace.estimate()` runs the CLI's estimator itself: its command-line definitions and its
// `estimate` module are compiled into this crate from the CLI's sources (they live in a binary
// crate, which cannot be a dependency), so Python and `ecotrace estimate` share one code path and
// cannot disagree. Those files refer to `crate::cli` and `crate::UsageError`, hence the root.
#[allow(dead_code)]
#[path = "../../ecotrace/src/cli.rs"]
mod cli;
#[allow(dead_code)]
#[path = "../../ecotrace/src/cmd_estimate.rs"]
mod cmd_estimate;

/// A problem with what the user asked for (the CLI's exit code 2; `ValueError` in Python).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

#[cfg(feature = "python")]
mod py;
