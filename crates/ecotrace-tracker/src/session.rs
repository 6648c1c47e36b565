//! One measured run from start to finish, in the order that loses nothing: the record is written to
//! the ledger before the work starts ([`Run::begin`]), checkpointed while the meter runs
//! ([`Measuring`]), and finalized at the end ([`Measuring::finish`] or [`Run::fail_to_start`]).
//!
//! Shared by `ecotrace run` (which measures a child process tree) and the Python `Tracker` (which
//! measures its own process). It does not spawn processes or print anything.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::Utc;
use ecotrace_core::{
    ComponentEnergy, ComponentKind, Host, Method, Power, PowerSample, RunRecord, RunStatus,
    SamplesSummary, TrackerInfo, RECORD_VERSION,
};
use ecotrace_ledger::Ledger;
use ecotrace_sensors::discover::{discover, Discovery, SensorConfig};
use ecotrace_sensors::meter::{Checkpoint, Live, Meter, MeterConfig, MeterThread};
use ecotrace_sensors::{Diagnostic, Roots, Sensor};

use crate::agent_link::{self, AgentLink};
use crate::scrape::{ServerCounter, WorkSource};
use crate::settings::MeasureSettings;
use crate::work::{self, Book, CounterStep, WorkBook};
use crate::TrackError;
use ecotrace_core::serving::HourRow;

/// How often the ledger gets what has been measured so far (the promise is at least every 10 s).
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

/// Builds the record of a run that is about to start.
pub fn new_record(settings: &MeasureSettings, command: &[String], host: Host) -> RunRecord {
    // The job's node is the host unless the scheduler named it.
    let job = settings.job.clone().map(|mut j| {
        if j.node.is_empty() {
            j.node = host.hostname.clone();
        }
        j
    });
    RunRecord {
        record_version: RECORD_VERSION,
        id: uuid::Uuid::new_v4().to_string(),
        project: settings.project.clone(),
        phase: settings.phase,
        tags: settings.tags.clone(),
        command: command.to_vec(),
        status: RunStatus::Running,
        exit_code: None,
        signal: None,
        error: None,
        started_at: Utc::now(),
        ended_at: None,
        duration: Duration::ZERO,
        scope: settings.scope,
        host,
        energy_kwh: Default::default(),
        components: Vec::new(),
        mean_power: Power::ZERO,
        pue: settings.pue.clone(),
        intensity: settings.intensity.clone(),
        operational: Default::default(),
        embodied: None,
        embodied_items: Vec::new(),
        water: None,
        water_used: Some(settings.footprint.water_used()),
        cost: None,
        cost_used: settings.footprint.cost.clone(),
        kind: Default::default(),
        job,
        notes: settings.notes.clone(),
        metrics: Default::default(),
        samples: SamplesSummary::default(),
        tracker: TrackerInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            interval_s: settings.interval,
            pid: std::process::id(),
        },
        serving: None,
        windows: Vec::new(),
    }
}

/// The machine, as far as the sensors and /proc tell.
pub fn host_info(roots: &Roots, discovery: &Discovery) -> Host {
    let memory_gb = ecotrace_sensors::procfs::read_meminfo(roots)
        .map(|m| m.total_bytes as f64 / 1e9)
        .unwrap_or(0.0);
    let release = std::fs::read_to_string(roots.procfs.join("sys/kernel/osrelease"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    Host {
        hostname: ecotrace_sensors::procfs::hostname(roots),
        cpu_model: discovery.cpu.model_name.clone(),
        cpu_count: discovery.cpu.logical_cpus,
        memory_gb,
        gpus: discovery.gpus.clone(),
        os: format!("{} {}", std::env::consts::OS, release)
            .trim()
            .to_string(),
    }
}

/// How the note saying the agent measured a run begins.
const AGENT_NOTE: &str = "cpu and ram energy measured by the ecotrace agent";

/// When this user cannot read the RAPL counters and an `ecotrace agent` answers on its socket with
/// counters of its own, its CPU and RAM sensors replace the local ones (GPUs stay local: NVML needs
/// no root): in process scope they read the run's process tree, in machine scope the whole node.
/// Notes say which path measured the run.
fn use_agent(
    settings: &MeasureSettings,
    discovery: &mut Discovery,
    notes: &mut Vec<String>,
) -> Option<Arc<AgentLink>> {
    let machine = settings.scope == ecotrace_core::Scope::Machine;
    let local_rapl = discovery
        .sensors
        .iter()
        .any(|s| s.component() == ComponentKind::Cpu && s.method(0) == Method::Rapl);
    if local_rapl {
        return None;
    }
    let path = agent_link::socket_path()?;
    let connected = if machine {
        AgentLink::connect_node(&path)
    } else {
        AgentLink::connect(&path)
    };
    let link = match connected {
        Ok(l) => l,
        Err(e) => {
            notes.push(format!(
                "the ecotrace agent could not be used ({e}); measured locally"
            ));
            return None;
        }
    };
    if !link.measures(ComponentKind::Cpu) {
        return None;
    }
    let mut sensors: Vec<Box<dyn Sensor>> = Vec::new();
    for c in [ComponentKind::Cpu, ComponentKind::Ram] {
        match link.sensor(c) {
            Some(s) => sensors.push(Box::new(s)),
            None => sensors.extend(
                discovery
                    .sensors
                    .iter()
                    .position(|s| s.component() == c)
                    .map(|i| discovery.sensors.remove(i)),
            ),
        }
    }
    sensors.extend(
        discovery
            .sensors
            .drain(..)
            .filter(|s| s.component() == ComponentKind::Gpu),
    );
    discovery.sensors = sensors;
    // The local RAPL complaint does not apply any more: the agent reads the counters.
    notes.retain(|n| !n.starts_with("rapl:"));
    notes.push(format!(
        "{AGENT_NOTE} on {} through {} (its RAPL counters, which this user cannot read)",
        link.node(),
        link.path().display()
    ));
    Some(link)
}

/// Keeps the record up to date with the meter. The ledger is not in here: writing it happens
/// outside this lock (see [`LedgerSink`]), so callers updating the record never wait on I/O.
struct Recorder {
    record: RunRecord,
    sample_count: u64,
    peak: Power,
    /// The first checkpoint error, for the caller to report once.
    checkpoint_error: Option<String>,
    /// Charging by the hour (see [`Recorder::charge_hourly`]).
    hourly: Option<HourlyBook>,
}

/// Energy per clock hour of a run charged hour by hour, and the yearly figure to fall back on.
struct HourlyBook {
    charge: crate::hourly::HourlyCharge,
    yearly: ecotrace_core::IntensityUsed,
    /// Wh per hour (Unix hours).
    energy: std::collections::BTreeMap<i64, f64>,
    /// End of the last sample taken in, seconds since the start.
    last_t: f64,
}

impl Recorder {
    fn absorb(
        &mut self,
        components: Vec<ComponentEnergy>,
        elapsed: Duration,
        samples: &[PowerSample],
    ) {
        for s in samples {
            self.peak = self.peak.max(s.total());
        }
        self.sample_count += samples.len() as u64;
        self.record.components = components;
        self.record.duration = elapsed;
        self.charge_hourly(samples);
        crate::footprint::update_shares(&mut self.record);
        self.record.recompute();
        self.record.samples = SamplesSummary {
            count: self.sample_count,
            mean_power_w: self.record.mean_power,
            peak_power_w: self.peak,
        };
    }
}

impl Recorder {
    /// Charges each sample interval at the intensity of its hour: the record's intensity becomes
    /// the energy-weighted mean of the hours (so operational CO2e = Σ energy × PUE × hour's
    /// intensity), `resolution: hourly`. A run that leaves the covered hours goes back to the
    /// yearly figure, with a note.
    fn charge_hourly(&mut self, samples: &[PowerSample]) {
        let Some(book) = &mut self.hourly else {
            return;
        };
        let start = self.record.started_at;
        for s in samples {
            let dt = s.t_s - book.last_t;
            if dt > 0.0 {
                let mid = start
                    + chrono::Duration::milliseconds(((book.last_t + dt / 2.0) * 1000.0) as i64);
                *book
                    .energy
                    .entry(mid.timestamp().div_euclid(3600))
                    .or_default() += s.total().watts() * dt;
                book.last_t = s.t_s;
            }
        }
        let (mut num, mut den, mut covered) = (0.0, 0.0, true);
        let mut sources: Vec<&str> = Vec::new();
        for (&hour, &wh) in &book.energy {
            let t = chrono::DateTime::from_timestamp(hour * 3600, 0).unwrap_or(start);
            match book.charge.at(t) {
                Some((g, src)) => {
                    num += wh * g;
                    den += wh;
                    if !sources.contains(&src) {
                        sources.push(src);
                    }
                }
                None => {
                    covered = false;
                    break;
                }
            }
        }
        let i = &mut self.record.intensity;
        if !covered {
            *i = book.yearly.clone();
            let note = format!(
                "the run left the hours covered by the hourly data of {}: the yearly average is charged",
                book.charge.zone
            );
            self.record.notes.push(note);
            self.hourly = None;
            return;
        }
        let g = if den > 0.0 {
            num / den
        } else {
            book.charge
                .at(start)
                .map_or(i.value.g_per_kwh(), |(g, _)| g)
        };
        if let Ok(v) = ecotrace_core::CarbonIntensity::from_g_per_kwh(g) {
            i.value = v;
        }
        i.resolution = ecotrace_core::IntensityResolution::Hourly;
        i.series = Some(format!("{}: {}", book.charge.zone, sources.join("; ")));
        if sources.is_empty() {
            i.series = book
                .charge
                .at(start)
                .map(|(_, s)| format!("{}: {s}", book.charge.zone));
        }
    }
}

/// Writes what the meter measured to the ledger, from the meter thread: the record is updated
/// under its lock, then written from a copy with the lock released.
struct LedgerSink {
    recorder: Arc<Mutex<Recorder>>,
    ledger: Box<dyn Ledger>,
    /// Samples not yet stored (kept across a failed write, sent with the next one).
    pending: Vec<PowerSample>,
    /// The work book, stepped after every sample; its hourly rows are stored with checkpoints.
    book: Book,
    /// Hourly rows not yet stored (kept across a failed write).
    pending_hours: Vec<HourRow>,
    /// The last hours of samples at full rate, older ones downsampled.
    retention: crate::retention::Retention,
    /// The server's work counter, read before the book is stepped (`serve`/`attach`).
    counter: Option<CounterStep>,
}

/// The book's serving figures and windows into the record; its hourly rows to `pending_hours`.
fn take_work(book: &Book, pending_hours: &mut Vec<HourRow>, record: &mut RunRecord) {
    let mut b = work::lock(book);
    b.fill(record);
    record.recompute();
    for row in b.rows_to_store() {
        // A row of an hour already waiting replaces it (the current hour grows).
        pending_hours.retain(|h| h.hour != row.hour);
        pending_hours.push(row);
    }
}

impl LedgerSink {
    fn store_hours(&mut self, id: &str) -> Result<(), String> {
        if self.pending_hours.is_empty() {
            return Ok(());
        }
        match self.ledger.store_hours(id, &self.pending_hours) {
            Ok(()) => {
                self.pending_hours.clear();
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }
}

impl Checkpoint for LedgerSink {
    fn checkpoint(&mut self, meter: &Meter, samples: Vec<PowerSample>) {
        let record = {
            let mut r = lock(&self.recorder);
            r.absorb(meter.components(), meter.elapsed(), &samples);
            take_work(&self.book, &mut self.pending_hours, &mut r.record);
            r.record.clone()
        };
        self.pending.extend(samples);
        let stored = self
            .retention
            .checkpoint(
                self.ledger.as_mut(),
                &record,
                &mut self.pending,
                meter.elapsed().as_secs_f64(),
            )
            .and_then(|()| self.store_hours(&record.id));
        if let Err(e) = stored {
            lock(&self.recorder).checkpoint_error.get_or_insert(e);
        }
    }

    /// The run ends: the server's counter is not read in the last step (a server that ends
    /// takes its endpoint with it; its last good read was at the last full interval).
    fn stopping(&mut self) {
        self.counter = None;
    }

    fn stepped(&mut self, live: &Live) {
        let mut b = work::lock(&self.book);
        if let Some(c) = self.counter.as_mut() {
            c.read_into(&mut b);
        }
        b.step(Utc::now(), live);
    }
}

fn lock(r: &Mutex<Recorder>) -> MutexGuard<'_, Recorder> {
    r.lock().unwrap_or_else(|e| e.into_inner())
}

/// A run whose record is in the ledger, before measurement starts.
pub struct Run {
    recorder: Arc<Mutex<Recorder>>,
    ledger: Box<dyn Ledger>,
    discovery: Discovery,
    roots: Roots,
    interval: Duration,
    /// The node agent measuring CPU and RAM for this run, when it does (see [`crate::agent_link`]).
    agent: Option<Arc<AgentLink>>,
    /// What a local measurement would use, kept to fall back on if the agent refuses the tree.
    sensor_config: SensorConfig,
    book: Book,
    /// The server's work counter, read every interval once measuring starts.
    source: Option<(Box<dyn WorkSource>, bool)>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub error: Option<String>,
}

/// A run that has ended: its final record, and whether it could be stored.
#[derive(Debug, Clone)]
pub struct Finished {
    pub record: RunRecord,
    /// Why the final write failed, if it did (the record is then only here).
    pub store_error: Option<String>,
    /// Where the ledger lives.
    pub location: String,
    /// What the ledger wants the user told (e.g. the run was kept in the local spool).
    pub notices: Vec<String>,
}

impl Run {
    /// Finds the sensors, builds the record and writes it to the ledger as `running`.
    pub fn begin(
        settings: &MeasureSettings,
        command: Vec<String>,
        mut ledger: Box<dyn Ledger>,
        roots: Roots,
    ) -> Result<Run, TrackError> {
        let mut sensor_config =
            SensorConfig::new(settings.scope, settings.cpu_power, settings.ram_power);
        sensor_config.gpus = settings.gpus.clone();
        let mut discovery = discover(&sensor_config, &roots);
        let host = host_info(&roots, &discovery);
        let mut record = new_record(settings, &command, host);
        let (items, notes) = crate::footprint::embodied_items(
            &record.host,
            discovery.cpu.sockets,
            settings.footprint.lifetime,
        );
        record.embodied_items = items;
        record.notes.extend(notes);
        crate::footprint::update_shares(&mut record);
        record.recompute();
        // Say in the record when a counter exists but could not be read (the figure is then a
        // model where a measurement was possible). Absent hardware is not news.
        for d in &discovery.diagnostics {
            if !d.ok && d.sensor == "rapl" && d.detail.contains("cannot be read") {
                if let Some(fix) = &d.fix {
                    record
                        .notes
                        .push(format!("{}: {} — {}", d.sensor, d.detail, fix));
                }
            }
            // Which GPUs are charged and why; and, in a container, whether they can be found.
            if d.sensor == "gpus" || (d.sensor == "pid-namespace" && !d.ok) {
                record.notes.push(match &d.fix {
                    Some(fix) => format!("{}: {} — {}", d.sensor, d.detail, fix),
                    None => format!("{}: {}", d.sensor, d.detail),
                });
            }
        }
        // After the RAPL note: an agent that reads the counters for us makes it moot.
        let agent = use_agent(settings, &mut discovery, &mut record.notes);
        ledger.begin(&record).map_err(|e| TrackError::Ledger {
            location: ledger.location(),
            source: e,
        })?;
        Ok(Run {
            recorder: Arc::new(Mutex::new(Recorder {
                hourly: settings.hourly.clone().map(|charge| HourlyBook {
                    charge,
                    yearly: record.intensity.clone(),
                    energy: Default::default(),
                    last_t: 0.0,
                }),
                record,
                sample_count: 0,
                peak: Power::ZERO,
                checkpoint_error: None,
            })),
            ledger,
            discovery,
            roots,
            interval: settings.interval,
            agent,
            sensor_config,
            book: Arc::new(Mutex::new(WorkBook::new())),
            source: None,
        })
    }

    /// Counts the work of a server from `source`, read every sampling interval while the run is
    /// measured. `from_zero`: the server was started with the run, so its counters' first values
    /// are work of the run (else they are a baseline).
    pub fn count_work(&mut self, source: Box<dyn WorkSource>, from_zero: bool) {
        work::lock(&self.book).count_from(source.describe());
        self.source = Some((source, from_zero));
    }

    /// Creates the run's windows file in `dir`, for the command to open and close windows and
    /// count work in (see [`crate::windows`]); returns its path, to pass in
    /// [`crate::windows::WINDOWS_ENV`].
    pub fn windows_file(&self, dir: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
        let f = crate::windows::WindowFile::create(dir, &self.id())?;
        let path = f.path().to_path_buf();
        work::lock(&self.book).attach_file(f);
        Ok(path)
    }

    /// The run's id.
    pub fn id(&self) -> String {
        lock(&self.recorder).record.id.clone()
    }

    /// What the sensors found, for `doctor`-like messages.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.discovery.diagnostics
    }

    /// What the ledger wants the user told right away (e.g. the ledger cannot be written and the
    /// run is kept in a fallback spool, or not recorded at all); each returned once.
    pub fn take_notices(&mut self) -> Vec<String> {
        self.ledger.take_notices()
    }

    /// Adds a note to the record.
    pub fn note(&self, note: String) {
        lock(&self.recorder).record.notes.push(note);
    }

    /// The work could not be started: records it as `failed-to-start` with exit code 127.
    pub fn fail_to_start(mut self, error: String) -> Finished {
        let mut r = lock(&self.recorder);
        let rec = &mut r.record;
        rec.status = RunStatus::FailedToStart;
        rec.exit_code = Some(127);
        rec.error = Some(error);
        rec.ended_at = Some(Utc::now());
        rec.recompute();
        let store_error = self
            .ledger
            .finish(&r.record, &[])
            .err()
            .map(|e| e.to_string());
        Finished {
            record: r.record.clone(),
            store_error,
            location: self.ledger.location(),
            notices: self.ledger.take_notices(),
        }
    }

    /// Starts sampling on its own thread. `root_pid`/`include_root` name the process tree charged
    /// in process scope (ignored in machine scope).
    pub fn start(self, root_pid: u32, include_root: bool) -> Result<Measuring, TrackError> {
        self.start_with_checkpoints(root_pid, include_root, CHECKPOINT_EVERY)
    }

    /// [`Run::start`] with another checkpoint cadence: the Python tracker checkpoints every
    /// interval so that its live figures and projections are never more than one interval old.
    pub fn start_with_checkpoints(
        self,
        root_pid: u32,
        include_root: bool,
        checkpoint_every: Duration,
    ) -> Result<Measuring, TrackError> {
        let (scope, id, project) = {
            let r = lock(&self.recorder);
            (
                r.record.scope,
                r.record.id.clone(),
                r.record.project.clone(),
            )
        };
        let mut discovery = self.discovery;
        if let Some(link) = self.agent.as_ref().filter(|l| !l.is_node_scope()) {
            if let Err(e) = link.register(&id, root_pid, include_root, &project) {
                // Refused (or gone): measure locally after all, and say so.
                let local = discover(&self.sensor_config, &self.roots);
                discovery.sensors = local.sensors;
                let mut r = lock(&self.recorder);
                r.record.notes.retain(|n| !n.starts_with(AGENT_NOTE));
                r.record.notes.push(format!(
                    "the ecotrace agent at {} did not take this run ({e}); measured locally",
                    link.path().display()
                ));
            }
        }
        let meter = Meter::new(
            &MeterConfig {
                scope,
                root_pid,
                include_root,
            },
            self.roots.clone(),
            discovery.sensors,
        );
        let reaped = meter.reaped_ticks();
        let sink = LedgerSink {
            recorder: Arc::clone(&self.recorder),
            ledger: self.ledger,
            pending: Vec::new(),
            book: Arc::clone(&self.book),
            pending_hours: Vec::new(),
            retention: Default::default(),
            counter: self
                .source
                .map(|(source, from_zero)| CounterStep::new(ServerCounter::new(source, from_zero))),
        };
        let thread = MeterThread::spawn(meter, self.interval, checkpoint_every, sink)
            .map_err(TrackError::Thread)?;
        Ok(Measuring {
            recorder: self.recorder,
            thread: Mutex::new(Some(thread)),
            started: Instant::now(),
            reaped,
            book: self.book,
        })
    }
}

/// A run being measured.
pub struct Measuring {
    recorder: Arc<Mutex<Recorder>>,
    thread: Mutex<Option<MeterThread<LedgerSink>>>,
    started: Instant,
    reaped: Option<Arc<AtomicU64>>,
    book: Book,
}

impl Measuring {
    /// Counts work done (`tracker.count()`, or a `count` line of the windows file).
    pub fn count(&self, w: ecotrace_core::serving::WorkCounts) {
        work::lock(&self.book).add(w);
    }

    /// Opens a named window now (windows nest; names may repeat).
    pub fn start_window(&self, name: &str) -> Result<(), String> {
        work::lock(&self.book).start_window(name, Utc::now())
    }

    /// Closes the innermost open window of that name now.
    pub fn end_window(&self, name: &str) -> Result<(), String> {
        work::lock(&self.book).end_window(name, Utc::now())
    }

    /// Latest figures for a live status line (zero once finished).
    pub fn live(&self) -> Live {
        self.thread
            .lock()
            .ok()
            .and_then(|t| t.as_ref().map(|t| t.live()))
            .unwrap_or_default()
    }

    /// Wall time since measurement started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Counter the caller adds the CPU time (clock ticks) of processes it reaps itself to.
    pub fn reaped_ticks(&self) -> Option<Arc<AtomicU64>> {
        self.reaped.clone()
    }

    /// The record as of the last checkpoint.
    pub fn snapshot(&self) -> RunRecord {
        lock(&self.recorder).record.clone()
    }

    /// Changes the record (metrics, tags, notes); stored with the next checkpoint.
    pub fn update(&self, f: impl FnOnce(&mut RunRecord)) {
        f(&mut lock(&self.recorder).record)
    }

    /// The first checkpoint error met, if any, for a one-time warning.
    pub fn checkpoint_error(&self) -> Option<String> {
        lock(&self.recorder).checkpoint_error.clone()
    }

    /// Stops sampling (with a last reading for the partial interval) and writes the final record.
    pub fn finish(self, outcome: Outcome) -> Finished {
        // The thread's last step reads the server's counters once more and accounts them.
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .expect("the meter thread runs until finish, which consumes the run");
        // Stop the thread first: its last checkpoint may need the record.
        let (mut meter, mut sink) = thread.stop();
        let mut r = lock(&self.recorder);
        let samples = meter.drain_samples();
        let elapsed = self.started.elapsed().max(meter.elapsed());
        r.absorb(meter.components(), elapsed, &samples);
        sink.pending.extend(samples);
        for e in meter.errors() {
            r.record.notes.push(format!("sensor error: {e}"));
        }
        let rec = &mut r.record;
        rec.ended_at = Some(Utc::now());
        rec.status = outcome.status;
        rec.exit_code = outcome.exit_code;
        rec.signal = outcome.signal;
        if outcome.error.is_some() {
            rec.error = outcome.error;
        }
        take_work(&sink.book, &mut sink.pending_hours, &mut r.record);
        let id = r.record.id.clone();
        let store_error = sink
            .ledger
            .finish(&r.record, &sink.pending)
            .err()
            .map(|e| e.to_string())
            .or_else(|| sink.store_hours(&id).err());
        Finished {
            record: r.record.clone(),
            store_error,
            location: sink.ledger.location(),
            notices: sink.ledger.take_notices(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::settings::{FileLayers, MeasureOptions};
    use ecotrace_ledger::{RunFilter, SqliteLedger};

    /// A record of a run about to start, for unit tests.
    pub(crate) fn record() -> RunRecord {
        new_record(&settings(), &["serve".into()], Host::default())
    }

    fn settings() -> MeasureSettings {
        let opts = MeasureOptions {
            interval: Some("20ms".into()),
            cpu_power: Some(50.0),
            scope: Some("machine".into()),
            factors: ecotrace_factors::FactorArgs {
                intensity: Some(100.0),
                ..Default::default()
            },
            ..Default::default()
        };
        MeasureSettings::resolve(&opts, &FileLayers::default()).unwrap()
    }

    fn fake_roots(dir: &std::path::Path) -> Roots {
        std::fs::create_dir_all(dir.join("sys")).unwrap();
        Roots {
            sysfs: dir.join("sys"),
            procfs: "/proc".into(),
        }
    }

    #[test]
    fn a_run_is_stored_at_begin_and_final_at_finish() {
        std::env::set_var("ECOTRACE_NVML_LIBRARY", "none");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let ledger = Box::new(SqliteLedger::open(&path).unwrap());
        let run = Run::begin(
            &settings(),
            vec!["train".into()],
            ledger,
            fake_roots(dir.path()),
        )
        .unwrap();
        let id = run.id();
        let reader = SqliteLedger::open(&path).unwrap();
        assert_eq!(reader.get(&id).unwrap().status, RunStatus::Running);
        let m = run.start(std::process::id(), true).unwrap();
        m.update(|r| {
            r.metrics.insert("acc".into(), 0.9);
        });
        std::thread::sleep(Duration::from_millis(120));
        let done = m.finish(Outcome {
            status: RunStatus::Finished,
            exit_code: Some(0),
            signal: None,
            error: None,
        });
        assert!(done.store_error.is_none());
        let stored = reader.get(&id).unwrap();
        assert_eq!(stored.status, RunStatus::Finished);
        assert_eq!(stored.metrics["acc"], 0.9);
        // Machine scope, user-given 50 W CPU: energy grows with time and is stored.
        assert!(stored.energy_kwh.cpu.joules() > 0.0);
        // Equal to the returned record, up to the JSON round trip (energies are stored in kWh).
        let round_trip: RunRecord =
            serde_json::from_str(&serde_json::to_string(&done.record).unwrap()).unwrap();
        assert_eq!(stored, round_trip);
        assert!(!reader.samples(&id).unwrap().is_empty());
        assert_eq!(reader.list(&RunFilter::default()).unwrap().len(), 1);
    }

    #[test]
    fn a_run_that_cannot_start_is_recorded() {
        std::env::set_var("ECOTRACE_NVML_LIBRARY", "none");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let ledger = Box::new(SqliteLedger::open(&path).unwrap());
        let run = Run::begin(
            &settings(),
            vec!["nope".into()],
            ledger,
            fake_roots(dir.path()),
        )
        .unwrap();
        let done = run.fail_to_start("command not found: nope".into());
        let stored = SqliteLedger::open(&path)
            .unwrap()
            .get(&done.record.id)
            .unwrap();
        assert_eq!(stored.status, RunStatus::FailedToStart);
        assert_eq!(stored.exit_code, Some(127));
    }
}
