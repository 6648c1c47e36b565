//! `ecotrace run`: measure a command from start to end and keep its record.
//!
//! Order matters here, so that nothing is lost: the record is written to the ledger before the
//! command starts, checkpointed while it runs, and finalized after it ends (or marked
//! failed-to-start). The command's exit code is passed on.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use chrono::Utc;
use ecotrace_core::{
    ComponentEnergy, Host, Power, PowerSample, RunRecord, RunStatus, SamplesSummary, Scope,
    TrackerInfo, RECORD_VERSION,
};
use ecotrace_ledger::Ledger;
use ecotrace_sensors::meter::{Meter, MeterConfig, MeterThread};
use ecotrace_sensors::Roots;

use crate::child::{self, ChildEnd};
use crate::settings::MeasureSettings;

/// How often the ledger gets what has been measured so far.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(5);

pub struct RunOptions {
    pub settings: MeasureSettings,
    pub command: Vec<String>,
    pub json: bool,
    pub quiet: bool,
}

/// Builds the record of a run that is about to start.
pub fn new_record(settings: &MeasureSettings, command: &[String], host: Host) -> RunRecord {
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
        notes: settings.notes.clone(),
        metrics: Default::default(),
        samples: SamplesSummary::default(),
        tracker: TrackerInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            interval_s: settings.interval,
            pid: std::process::id(),
        },
    }
}

/// Keeps the record up to date with the meter and writes it to the ledger.
struct Recorder {
    record: RunRecord,
    ledger: Box<dyn Ledger>,
    /// Samples not yet stored (kept across a failed write, sent with the next one).
    pending: Vec<PowerSample>,
    sample_count: u64,
    peak: Power,
    warned: bool,
    quiet: bool,
}

impl Recorder {
    fn absorb(
        &mut self,
        components: Vec<ComponentEnergy>,
        elapsed: Duration,
        samples: Vec<PowerSample>,
    ) {
        for s in &samples {
            self.peak = self.peak.max(s.total());
        }
        self.sample_count += samples.len() as u64;
        self.pending.extend(samples);
        self.record.components = components;
        self.record.duration = elapsed;
        self.record.recompute();
        self.record.samples = SamplesSummary {
            count: self.sample_count,
            mean_power_w: self.record.mean_power,
            peak_power_w: self.peak,
        };
    }

    fn checkpoint(&mut self) {
        match self.ledger.checkpoint(&self.record, &self.pending) {
            Ok(()) => self.pending.clear(),
            Err(e) => {
                if !self.warned && !self.quiet {
                    eprintln!("ecotrace: warning: could not checkpoint the run ({e}); will retry");
                }
                self.warned = true;
            }
        }
    }
}

fn host_info(roots: &Roots, cpu_model: String, cpu_count: u32, gpus: Vec<String>) -> Host {
    let memory_gb = ecotrace_sensors::procfs::read_meminfo(roots)
        .map(|m| m.total_bytes as f64 / 1e9)
        .unwrap_or(0.0);
    let release = std::fs::read_to_string(roots.procfs.join("sys/kernel/osrelease"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    Host {
        hostname: ecotrace_sensors::procfs::hostname(roots),
        cpu_model,
        cpu_count,
        memory_gb,
        gpus,
        os: format!("{} {}", std::env::consts::OS, release)
            .trim()
            .to_string(),
    }
}

/// Runs the command and returns the exit code ecotrace should exit with.
pub fn run(opts: RunOptions, ledger: Box<dyn Ledger>) -> Result<i32> {
    let roots = Roots::from_env();
    let s = &opts.settings;
    let discovery = ecotrace_sensors::discover::discover(
        &ecotrace_sensors::discover::SensorConfig::new(s.scope, s.cpu_power, s.ram_power),
        &roots,
    );
    let host = host_info(
        &roots,
        discovery.cpu.model_name.clone(),
        discovery.cpu.logical_cpus,
        discovery.gpus.clone(),
    );
    let mut record = new_record(s, &opts.command, host);
    // Say in the record when a counter exists but could not be read (the estimate is then a
    // model where a measurement was possible). Absent hardware is not news.
    for d in &discovery.diagnostics {
        if !d.ok && d.sensor == "rapl" && d.detail.contains("cannot be read") {
            if let Some(fix) = &d.fix {
                record
                    .notes
                    .push(format!("{}: {} — {}", d.sensor, d.detail, fix));
            }
        }
    }
    let mut ledger = ledger;
    ledger.begin(&record).with_context(|| {
        format!(
            "cannot write the run to the ledger {}; pass --ledger PATH to use another",
            ledger.location()
        )
    })?;

    let subreaper = child::become_subreaper();
    let spawned = std::process::Command::new(&opts.command[0])
        .args(&opts.command[1..])
        .spawn();
    let child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => {
                    format!(
                        "command not found: {} (check the name and your PATH)",
                        opts.command[0]
                    )
                }
                std::io::ErrorKind::PermissionDenied => format!(
                    "permission denied running {} (is it executable?)",
                    opts.command[0]
                ),
                _ => format!("cannot start {}: {e}", opts.command[0]),
            };
            record.status = RunStatus::FailedToStart;
            record.exit_code = Some(127);
            record.error = Some(why.clone());
            record.ended_at = Some(Utc::now());
            record.recompute();
            let stored = ledger.finish(&record, &[]);
            if opts.json {
                println!("{}", serde_json::to_string_pretty(&record)?);
            }
            eprintln!("ecotrace: {why}");
            if let Err(e) = stored {
                eprintln!("ecotrace: warning: the failed run could not be recorded: {e}");
            } else if !opts.quiet {
                eprintln!(
                    "ecotrace: recorded as failed-to-start (run {})",
                    short(&record.id)
                );
            }
            return Ok(127);
        }
    };
    let pid = child.id();
    let forwarder = child::Forwarder::start(pid).context("cannot install signal handlers")?;

    let meter = Meter::new(
        &MeterConfig {
            scope: s.scope,
            root_pid: std::process::id(),
            include_root: false,
        },
        roots.clone(),
        discovery.sensors,
    );
    let reaped = meter.reaped_ticks();
    if !subreaper && s.scope == Scope::Process {
        record.notes.push(
            "could not become a child subreaper: CPU time of orphaned processes may be missed"
                .into(),
        );
    }
    let started = Instant::now();
    let recorder = Arc::new(Mutex::new(Recorder {
        record,
        ledger,
        pending: Vec::new(),
        sample_count: 0,
        peak: Power::ZERO,
        warned: false,
        quiet: opts.quiet,
    }));
    let rec2 = Arc::clone(&recorder);
    let thread = MeterThread::spawn(
        meter,
        s.interval,
        CHECKPOINT_EVERY,
        move |m: &Meter, samples| {
            let mut r = rec2.lock().unwrap_or_else(|e| e.into_inner());
            r.absorb(m.components(), m.elapsed(), samples);
            r.checkpoint();
        },
    )
    .context("cannot start the sampling thread")?;
    let thread = Arc::new(Mutex::new(Some(thread)));

    // Live status line on a terminal.
    let show_live = !opts.quiet && std::io::stderr().is_terminal();
    let live_done = Arc::new(AtomicBool::new(false));
    let live_thread = if show_live {
        let done = Arc::clone(&live_done);
        let th = Arc::clone(&thread);
        let intensity = s.intensity.value;
        let pue = s.pue.value;
        Some(std::thread::spawn(move || {
            let mut err = std::io::stderr();
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(250));
                if done.load(Ordering::SeqCst) {
                    break;
                }
                let live = match th.lock().ok().and_then(|g| g.as_ref().map(|t| t.live())) {
                    Some(l) => l,
                    None => break,
                };
                let co2 = (live.energy * pue) * intensity;
                let line =
                    ecotrace_report::live_line(started.elapsed(), live.power, live.energy, co2);
                let _ = write!(err, "\r\x1b[2K{line}");
                let _ = err.flush();
            }
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }))
    } else {
        None
    };

    let ticks = ecotrace_sensors::procfs::clock_ticks_per_sec();
    let end = child::wait(pid, reaped.as_deref(), ticks);
    child::reap_finished(reaped.as_deref(), ticks);
    drop(child);
    let thread = thread
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .expect("meter thread present");
    let (mut meter, _sink) = thread.stop();
    live_done.store(true, Ordering::SeqCst);
    if let Some(t) = live_thread {
        let _ = t.join();
    }
    let interrupted_by_signal = forwarder.forwarded.load(Ordering::SeqCst);
    forwarder.stop();

    let mut guard = recorder.lock().unwrap_or_else(|e| e.into_inner());
    let r = &mut *guard;
    let samples = meter.drain_samples();
    r.absorb(
        meter.components(),
        started.elapsed().max(meter.elapsed()),
        samples,
    );
    let rec = &mut r.record;
    rec.ended_at = Some(Utc::now());
    for e in meter.errors() {
        rec.notes.push(format!("sensor error: {e}"));
    }
    let code = match end {
        Ok(end) => {
            rec.exit_code = Some(end.exit_code());
            rec.status = match end {
                ChildEnd::Exited(0) => RunStatus::Finished,
                ChildEnd::Signaled(sig)
                    if [libc::SIGINT, libc::SIGTERM, libc::SIGHUP].contains(&sig) =>
                {
                    RunStatus::Interrupted
                }
                ChildEnd::Exited(_) if interrupted_by_signal => RunStatus::Interrupted,
                _ => RunStatus::Failed,
            };
            if let ChildEnd::Signaled(sig) = end {
                rec.signal = Some(sig);
            }
            end.exit_code()
        }
        Err(e) => {
            rec.status = RunStatus::Failed;
            rec.error = Some(format!("lost track of the command: {e}"));
            1
        }
    };
    let pending = std::mem::take(&mut r.pending);
    let finished = r.ledger.finish(&r.record, &pending);
    let record = r.record.clone();
    let location = r.ledger.location();
    drop(guard);
    if let Err(e) = finished {
        eprintln!(
            "ecotrace: error: the run could not be stored in {location}: {e}\necotrace: its record follows, so nothing is lost:\n{}",
            serde_json::to_string_pretty(&record)?
        );
    }
    if !opts.quiet {
        eprint!("{}", ecotrace_report::run_summary(&record));
    }
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&record)?);
    }
    Ok(code)
}

pub fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}
