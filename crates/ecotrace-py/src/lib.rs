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

// `ecotrace.estimate()` runs the CLI's estimator, `ecotrace-estimator`, with the CLI's own flag
// definitions (`ecotrace_estimator::args`), so Python and `ecotrace estimate` share one code path
// and cannot disagree.

#[cfg(feature = "python")]
mod py;
