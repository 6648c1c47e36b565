//! The `ecotrace._ecotrace` extension module: `Core`, one measured run of the Python process.
//!
//! Sampling runs on the Rust meter thread and never takes the GIL; the calls that block (sensor
//! discovery and the first ledger write in `start`, stopping the thread and the final write in
//! `stop`) release it. Records cross into Python as JSON text, the same interface as
//! `ecotrace show --json`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use ecotrace_core::predict::{project, Progress};
use ecotrace_core::serving::WorkCounts;
use ecotrace_core::{RunRecord, RunStatus};
use ecotrace_sensors::Roots;
use ecotrace_tracker::session::CHECKPOINT_EVERY;
use ecotrace_tracker::{Finished, Measuring, Outcome, Run, TrackError};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::options::{resolve_here, KwOptions, Resolved};

fn py_err(e: TrackError) -> PyErr {
    if e.is_usage() {
        PyValueError::new_err(e.to_string())
    } else {
        PyRuntimeError::new_err(e.to_string())
    }
}

fn to_json(r: &RunRecord) -> PyResult<String> {
    serde_json::to_string(r).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}

/// A run being measured, with the progress the script reported.
struct Active {
    measuring: Measuring,
    epochs: u32,
    elapsed_at_last_epoch: Duration,
    planned_epochs: Option<u32>,
}

enum State {
    Ready(Box<Resolved>),
    Running(Box<Active>),
    Done(Box<Finished>),
    /// Between taking the run out for `stop` and putting the result back.
    Stopping,
}

/// One measured run of this Python process (and its children, in process scope).
#[pyclass(module = "ecotrace._ecotrace", name = "Core", frozen)]
pub struct Core {
    state: Mutex<State>,
    command: Vec<String>,
    /// The process that started the run (0 before). A forked child has a copy of the tracker but
    /// not its meter thread, and its locks may have been held at the fork: it must not touch them.
    owner: AtomicU32,
}

impl Core {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_owner(&self) -> PyResult<()> {
        let owner = self.owner.load(Ordering::SeqCst);
        if owner != 0 && owner != std::process::id() {
            return Err(PyRuntimeError::new_err(format!(
                "this tracker measures process {owner}; a forked child process cannot use it"
            )));
        }
        Ok(())
    }

    fn with_active<T>(&self, f: impl FnOnce(&mut Active) -> T) -> PyResult<T> {
        self.check_owner()?;
        match &mut *self.lock() {
            State::Running(a) => Ok(f(a)),
            State::Ready(_) => Err(PyRuntimeError::new_err(
                "the tracker has not been started: call start() or use it in a `with` block",
            )),
            State::Done(_) | State::Stopping => {
                Err(PyRuntimeError::new_err("the tracker has already stopped"))
            }
        }
    }

    fn epoch_end_inner(&self) -> PyResult<u32> {
        self.with_active(|a| {
            a.epochs += 1;
            a.elapsed_at_last_epoch = a.measuring.elapsed();
            let n = a.epochs;
            a.measuring.update(|r| {
                r.metrics.insert("epochs".into(), f64::from(n));
            });
            n
        })
    }

    fn log_metric_inner(&self, name: String, value: f64) -> PyResult<()> {
        if name.trim().is_empty() {
            return Err(PyValueError::new_err("a metric needs a name"));
        }
        if !value.is_finite() {
            return Err(PyValueError::new_err(format!(
                "metric {name:?}: {value} is not a finite number"
            )));
        }
        self.with_active(|a| {
            a.measuring.update(|r| {
                r.metrics.insert(name, value);
            })
        })
    }

    fn set_planned_epochs_inner(&self, n: u32) -> PyResult<()> {
        if n == 0 {
            return Err(PyValueError::new_err("planned epochs must be at least 1"));
        }
        self.with_active(|a| {
            a.planned_epochs = Some(n);
            a.measuring.update(|r| {
                r.metrics.insert("planned_epochs".into(), f64::from(n));
            })
        })
    }

    fn snapshot_inner(&self) -> PyResult<String> {
        self.check_owner()?;
        match &*self.lock() {
            State::Running(a) => to_json(&a.measuring.snapshot()),
            State::Done(f) => to_json(&f.record),
            _ => Err(PyRuntimeError::new_err("the tracker has not been started")),
        }
    }

    fn predict_inner(&self) -> PyResult<Option<String>> {
        let projected = self.with_active(|a| {
            let planned = a.planned_epochs?;
            project(
                &a.measuring.snapshot(),
                Progress {
                    epochs_done: a.epochs,
                    elapsed_at_last_epoch: a.elapsed_at_last_epoch,
                    planned_epochs: planned,
                },
            )
        })?;
        projected.as_ref().map(to_json).transpose()
    }
}

#[pymethods]
impl Core {
    /// Resolves the settings (keyword arguments > ECOTRACE_* > ecotrace.toml > user config >
    /// defaults). Raises ValueError for a bad option or config file.
    #[new]
    #[pyo3(signature = (command, options, tags=None, ledger=None, quiet=None, job=None))]
    fn new(
        command: Vec<String>,
        options: Vec<(String, String)>,
        tags: Option<Vec<(String, String)>>,
        ledger: Option<String>,
        quiet: Option<bool>,
        job: Option<String>,
    ) -> PyResult<Self> {
        let kw = KwOptions {
            options,
            tags,
            ledger,
            quiet,
            job,
        };
        let resolved = resolve_here(&kw).map_err(py_err)?;
        Ok(Core {
            state: Mutex::new(State::Ready(Box::new(resolved))),
            command,
            owner: AtomicU32::new(0),
        })
    }

    /// Whether the run summary should not be printed.
    #[getter]
    fn quiet(&self) -> bool {
        match &*self.lock() {
            State::Ready(r) => r.quiet,
            _ => false,
        }
    }

    /// Writes the run to the ledger as `running` and starts sampling. Returns the run id.
    fn start(&self, py: Python<'_>) -> PyResult<String> {
        self.check_owner()?;
        let resolved = {
            let mut st = self.lock();
            match &*st {
                State::Ready(_) => {}
                _ => {
                    return Err(PyRuntimeError::new_err(
                        "a tracker can only be started once",
                    ))
                }
            }
            match std::mem::replace(&mut *st, State::Stopping) {
                State::Ready(r) => r,
                _ => unreachable!(),
            }
        };
        let command = self.command.clone();
        let res = py.allow_threads(|| -> Result<Measuring, TrackError> {
            let ledger = ecotrace_ledger::open_for_run(Some(&resolved.ledger)).map_err(|e| {
                TrackError::Ledger {
                    location: resolved.ledger.clone(),
                    source: e,
                }
            })?;
            let run = Run::begin(&resolved.settings, command, ledger, Roots::from_env())?;
            // Checkpoint every interval (at most every 5 s) so that live figures and projections
            // are at most one interval old.
            let every = resolved.settings.interval.min(CHECKPOINT_EVERY);
            run.start_with_checkpoints(std::process::id(), true, every)
        });
        let mut st = self.lock();
        match res {
            Ok(measuring) => {
                let id = measuring.snapshot().id;
                self.owner.store(std::process::id(), Ordering::SeqCst);
                *st = State::Running(Box::new(Active {
                    measuring,
                    epochs: 0,
                    elapsed_at_last_epoch: Duration::ZERO,
                    planned_epochs: None,
                }));
                Ok(id)
            }
            Err(e) => {
                *st = State::Ready(resolved);
                Err(py_err(e))
            }
        }
    }

    /// Marks the end of an epoch; returns the number of epochs done.
    fn epoch_end(&self, py: Python<'_>) -> PyResult<u32> {
        // Without the GIL: the record's lock may be held by a checkpoint writing to the ledger.
        py.allow_threads(|| self.epoch_end_inner())
    }

    /// Stores a metric with the run (the last value logged under a name wins).
    fn log_metric(&self, py: Python<'_>, name: String, value: f64) -> PyResult<()> {
        py.allow_threads(|| self.log_metric_inner(name, value))
    }

    /// Sets a tag of the run (e.g. the parameters a tuning trial drew, once drawn); stored with
    /// the next checkpoint and the final record.
    fn set_tag(&self, py: Python<'_>, key: String, value: String) -> PyResult<()> {
        let key = key.trim().to_string();
        if key.is_empty() {
            return Err(PyValueError::new_err("a tag needs a name"));
        }
        py.allow_threads(|| {
            self.with_active(|a| {
                a.measuring.update(|r| {
                    r.tags.insert(key, value);
                })
            })
        })
    }

    /// The number of epochs the run is planned to have.
    fn set_planned_epochs(&self, py: Python<'_>, n: u32) -> PyResult<()> {
        py.allow_threads(|| self.set_planned_epochs_inner(n))
    }

    /// The record as of the last checkpoint (JSON), or the final record once stopped.
    fn snapshot(&self, py: Python<'_>) -> PyResult<String> {
        py.allow_threads(|| self.snapshot_inner())
    }

    /// The projected record of the whole run (JSON), or None until an epoch has ended, planned
    /// epochs are known and a first measurement has been taken.
    fn predict(&self, py: Python<'_>) -> PyResult<Option<String>> {
        py.allow_threads(|| self.predict_inner())
    }

    /// Counts work done by the process (a server's requests, prompt and generated tokens), for the
    /// record's per-request and per-1,000-token figures.
    #[pyo3(signature = (requests=0, prompt_tokens=0, generated_tokens=0))]
    fn count(
        &self,
        py: Python<'_>,
        requests: i64,
        prompt_tokens: i64,
        generated_tokens: i64,
    ) -> PyResult<()> {
        let n = |what: &str, v: i64| {
            u64::try_from(v).map_err(|_| {
                PyValueError::new_err(format!("{what} must be a whole number ≥ 0, got {v}"))
            })
        };
        let w = WorkCounts {
            requests: n("requests", requests)?,
            prompt_tokens: n("prompt_tokens", prompt_tokens)?,
            generated_tokens: n("generated_tokens", generated_tokens)?,
        };
        py.allow_threads(|| self.with_active(|a| a.measuring.count(w)))
    }

    /// Opens a named window now (windows nest; a name may repeat).
    fn start_window(&self, py: Python<'_>, name: String) -> PyResult<()> {
        py.allow_threads(|| self.with_active(|a| a.measuring.start_window(&name)))?
            .map_err(PyValueError::new_err)
    }

    /// Closes the innermost open window of that name now.
    fn end_window(&self, py: Python<'_>, name: String) -> PyResult<()> {
        py.allow_threads(|| self.with_active(|a| a.measuring.end_window(&name)))?
            .map_err(PyValueError::new_err)
    }

    /// Epochs done so far.
    #[getter]
    fn epochs(&self) -> u32 {
        if self.check_owner().is_err() {
            return 0;
        }
        match &*self.lock() {
            State::Running(a) => a.epochs,
            _ => 0,
        }
    }

    /// The first checkpoint error met, if any.
    fn checkpoint_error(&self) -> Option<String> {
        self.check_owner().ok()?;
        match &*self.lock() {
            State::Running(a) => a.measuring.checkpoint_error(),
            _ => None,
        }
    }

    /// Stops sampling and writes the final record. `status` is `finished`, `failed` or
    /// `interrupted`. Returns `(record_json, store_error, ledger_location, summary_text)`.
    #[pyo3(signature = (status, error=None, signal=None))]
    fn stop(
        &self,
        py: Python<'_>,
        status: &str,
        error: Option<String>,
        signal: Option<i32>,
    ) -> PyResult<(String, Option<String>, String, String)> {
        let status: RunStatus = status
            .parse()
            .map_err(|e: ecotrace_core::ParseEnumError| PyValueError::new_err(e.to_string()))?;
        if !matches!(
            status,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Interrupted
        ) {
            return Err(PyValueError::new_err(
                "a run stops as finished, failed or interrupted",
            ));
        }
        self.check_owner()?;
        let active = {
            let mut st = self.lock();
            if !matches!(&*st, State::Running(_)) {
                return Err(match &*st {
                    State::Ready(_) => PyRuntimeError::new_err("the tracker has not been started"),
                    _ => PyRuntimeError::new_err("the tracker has already stopped"),
                });
            }
            match std::mem::replace(&mut *st, State::Stopping) {
                State::Running(a) => a,
                _ => unreachable!(),
            }
        };
        let done = py.allow_threads(move || {
            active.measuring.finish(Outcome {
                status,
                exit_code: None,
                signal,
                error,
            })
        });
        let out = (
            to_json(&done.record)?,
            done.store_error.clone(),
            done.location.clone(),
            ecotrace_report::run_summary(&done.record),
        );
        *self.lock() = State::Done(Box::new(done));
        Ok(out)
    }
}

/// Runs `ecotrace estimate ...` / `ecotrace compare ...` (the arguments after `ecotrace`) with the
/// CLI's own code. Returns the CLI's `--json` output and its text for each estimate.
/// The ids of `ecotrace run`'s measure options: the keyword arguments a `Tracker` accepts besides
/// `ledger`, `quiet` and `job`.
#[pyfunction]
fn measure_options() -> Vec<String> {
    ecotrace_factors::measure_option_ids()
}

#[pyfunction]
fn estimate(py: Python<'_>, args: Vec<String>) -> PyResult<(String, Vec<String>)> {
    let out = py
        .allow_threads(|| crate::estimate::run(&args))
        .map_err(|e| match e {
            crate::estimate::EstimateError::Usage(m) => PyValueError::new_err(m),
            crate::estimate::EstimateError::Other(m) => PyRuntimeError::new_err(m),
        })?;
    let json =
        serde_json::to_string(&out.json).map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok((json, out.texts))
}

#[pymodule]
fn _ecotrace(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Core>()?;
    m.add_function(wrap_pyfunction!(estimate, m)?)?;
    m.add_function(wrap_pyfunction!(measure_options, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
