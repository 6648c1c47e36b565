//! The work book of a run: the work counted (from a server's metrics or `tracker.count()`), the
//! energy of each hour with idle intervals apart, and the named windows. The meter thread steps it
//! after every sample ([`WorkBook::step`]); a scraper thread ([`Scraper`]) or the caller adds work
//! to it; checkpoints take the hourly rows to store and the record's `serving` object from it.
//!
//! Memory is bounded for runs of months: the book holds the current hour and the rows not yet
//! stored, the totals, and at most [`crate::windows::MAX_WINDOWS`] windows.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, Utc};
use ecotrace_core::serving::{breakdown_since, HourRow, Serving, WorkCounts};
use ecotrace_core::{Energy, EnergyBreakdown, RunRecord};
use ecotrace_sensors::meter::Live;

use crate::scrape::{CounterFollower, WorkSource};
use crate::windows::{parse_line, Line, WindowFile, Windows};

/// Failed reads in a row that make an outage, rather than a server shutting down at the end.
pub const OUTAGE_READS: u32 = 3;

/// What one read of the work counter gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SourceRead {
    /// The counters were read; `reset` when they went down since the last good read (the
    /// server restarted). After a streak of failed reads, what the server did between the last
    /// good read and the restart is lost.
    Ok {
        in_flight: Option<f64>,
        reset: bool,
    },
    Failed,
}

/// The work book; shared between the meter thread, the scraper and the caller.
#[derive(Default)]
pub struct WorkBook {
    /// Whether the run counts work (serve/attach, or `count()` was called): only then are hourly
    /// rows stored and the record given a `serving` object.
    serving: Option<String>,
    totals: WorkCounts,
    /// Work added since the last step.
    pending: WorkCounts,
    in_flight: Option<f64>,
    /// Reads of the counter that failed in a row, after one had succeeded.
    fail_streak: u32,
    /// A read failed since the last step.
    missed: bool,
    /// Hours in which the current streak of failed reads fell, not yet marked incomplete.
    suspect: Vec<DateTime<Utc>>,
    /// Hours of a streak that ended without a reset: the counters are cumulative, so its work
    /// is counted at the next step, in that step's hour; the other hours undercount.
    late: Vec<DateTime<Utc>>,
    /// A work source is read (`serve`/`attach` with a metrics URL), and whether it ever answered.
    source_read: Option<bool>,
    idle_energy: Energy,
    active_energy: Energy,
    idle_s: f64,
    complete: bool,
    current: Option<HourRow>,
    /// Closed hours not yet stored.
    closed: Vec<HourRow>,
    hours: u32,
    last: Option<(EnergyBreakdown, Duration)>,
    windows: Windows,
    file: Option<WindowFile>,
    /// Problems met reading the windows file, each noted once in the record.
    notes: Vec<String>,
}

impl WorkBook {
    pub fn new() -> Self {
        WorkBook {
            complete: true,
            ..Default::default()
        }
    }

    /// Starts counting work from `source` (described in the record).
    pub fn count_from(&mut self, source: String) {
        self.serving = Some(source);
    }

    /// Adds work done (a scrape's difference, or `tracker.count()`).
    pub fn add(&mut self, w: WorkCounts) {
        if self.serving.is_none() {
            self.serving = Some("tracker.count()".into());
        }
        self.pending += w;
    }

    /// What the last read of the counters said (or that it failed). `seen_ok`: some read of
    /// this source has succeeded (failures before the first success are a server starting up).
    pub fn source_state(&mut self, read: SourceRead, seen_ok: bool) {
        let ever = self.source_read.unwrap_or(false);
        match read {
            SourceRead::Ok { in_flight, reset } => {
                self.source_read = Some(true);
                self.in_flight = in_flight;
                if std::mem::take(&mut self.fail_streak) > 0 {
                    let hours = std::mem::take(&mut self.suspect);
                    if reset {
                        // Back after a restart: the work between the last good read and the
                        // restart is lost.
                        self.complete = false;
                        self.mark_incomplete(&hours);
                    } else {
                        // Back after slow or failed reads: nothing is lost, the gap's work is
                        // counted now; only the hours it is counted after undercount.
                        self.late.extend(hours);
                    }
                }
            }
            SourceRead::Failed => {
                self.source_read = Some(ever);
                if seen_ok {
                    self.missed = true;
                    self.fail_streak += 1;
                }
            }
        }
    }

    /// Marks the rows of `hours` as having incomplete counts.
    fn mark_incomplete(&mut self, hours: &[DateTime<Utc>]) {
        for row in self.closed.iter_mut().chain(self.current.as_mut()) {
            if hours.contains(&row.hour) {
                row.counts_complete = false;
            }
        }
    }

    /// Whether the counter is down now for long enough to be an outage rather than a server
    /// shutting down at the end of the run.
    fn in_outage(&self) -> bool {
        self.fail_streak >= OUTAGE_READS
    }

    pub fn attach_file(&mut self, f: WindowFile) {
        self.file = Some(f);
    }

    pub fn window_file(&self) -> Option<&std::path::Path> {
        self.file.as_ref().map(|f| f.path())
    }

    pub fn start_window(&mut self, name: &str, at: DateTime<Utc>) -> Result<(), String> {
        self.windows.start(name, at)
    }

    pub fn end_window(&mut self, name: &str, at: DateTime<Utc>) -> Result<(), String> {
        self.windows.end(name, at)
    }

    /// Accounts the interval that ended at `now` with the meter's cumulative figures.
    pub fn step(&mut self, now: DateTime<Utc>, live: &Live) {
        self.read_file(now);
        let (prev, prev_t) = self.last.unwrap_or_default();
        self.last = Some((live.by_kind, live.elapsed));
        let d = breakdown_since(live.by_kind, prev);
        let dt = live.elapsed.saturating_sub(prev_t).as_secs_f64();
        self.windows.add(d);
        let hour = now
            .duration_trunc(chrono::Duration::hours(1))
            .unwrap_or(now);
        if self.current.as_ref().is_some_and(|h| h.hour != hour) {
            self.closed.extend(self.current.take());
        }
        if !self.late.is_empty() {
            // The late work lands in this hour; earlier hours of the gap miss it.
            let earlier: Vec<_> = std::mem::take(&mut self.late)
                .into_iter()
                .filter(|h| *h != hour)
                .collect();
            self.mark_incomplete(&earlier);
        }
        let row = self.current.get_or_insert_with(|| {
            self.hours += 1;
            HourRow::new(hour)
        });
        let work = std::mem::take(&mut self.pending);
        let active = !work.is_zero() || self.in_flight.is_some_and(|n| n > 0.0);
        row.energy_kwh.cpu += d.cpu;
        row.energy_kwh.gpu += d.gpu;
        row.energy_kwh.ram += d.ram;
        row.energy_kwh.total += d.total;
        row.measured_s += dt;
        row.work += work;
        self.totals += work;
        if active {
            self.active_energy += d.total;
        } else {
            row.idle_energy_kwh += d.total;
            row.idle_s += dt;
            self.idle_energy += d.total;
            self.idle_s += dt;
        }
        if std::mem::take(&mut self.missed) {
            if !self.suspect.contains(&hour) {
                self.suspect.push(hour);
            }
            // A few failed reads at the very end are the server shutting down (its endpoint
            // goes with it); more are an outage, whose hours are short until it ends.
            if self.in_outage() {
                let hours = self.suspect.clone();
                self.mark_incomplete(&hours);
            }
        }
    }

    fn read_file(&mut self, now: DateTime<Utc>) {
        let Some(f) = self.file.as_mut() else {
            return;
        };
        for line in f.poll() {
            let r = match parse_line(&line) {
                Ok(Line::Start(n, at)) => self.windows.start(&n, at.unwrap_or(now)),
                Ok(Line::End(n, at)) => self.windows.end(&n, at.unwrap_or(now)),
                Ok(Line::Count(c)) => {
                    if self.serving.is_none() {
                        self.serving =
                            Some(format!("count lines in ${}", crate::windows::WINDOWS_ENV));
                    }
                    self.add(c);
                    Ok(())
                }
                Err(e) => Err(e),
            };
            if let Err(e) = r {
                if self.notes.len() < 10 {
                    self.notes.push(format!("windows file: {e}"));
                }
            }
        }
    }

    /// Hourly rows to store now: the hours closed since the last call and the current one.
    /// Empty when the run counts no work.
    pub fn rows_to_store(&mut self) -> Vec<HourRow> {
        if self.serving.is_none() {
            self.closed.clear();
            return Vec::new();
        }
        let mut rows = std::mem::take(&mut self.closed);
        rows.extend(self.current.clone());
        rows
    }

    /// Writes the serving object, the windows and the notes into the record (before its
    /// `recompute`, which derives the per-unit figures).
    pub fn fill(&self, r: &mut RunRecord) {
        if let Some(source) = &self.serving {
            let s = r
                .serving
                .get_or_insert_with(|| Serving::new(source.clone()));
            s.source = source.clone();
            s.work = self.totals;
            // A counter that never answered counted nothing, and one down at the end left
            // its last work uncounted: not complete.
            s.counts_complete =
                self.complete && !self.in_outage() && self.source_read != Some(false);
            s.idle_energy_kwh = self.idle_energy;
            s.active_energy_kwh = self.active_energy;
            s.idle_s = self.idle_s;
            s.hours = self.hours;
        }
        r.windows.clone_from(&self.windows.list);
        for n in &self.notes {
            if !r.notes.contains(n) {
                r.notes.push(n.clone());
            }
        }
        if self.windows.dropped > 0 {
            r.notes.retain(|n| !n.starts_with("windows: "));
            r.notes.push(format!(
                "windows: {} more windows were not listed (at most {} are)",
                self.windows.dropped,
                crate::windows::MAX_WINDOWS
            ));
        }
    }
}

/// A shared handle on a run's work book.
pub type Book = Arc<Mutex<WorkBook>>;

pub fn lock(b: &Book) -> MutexGuard<'_, WorkBook> {
    b.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads a [`WorkSource`] every interval on its own thread and adds the work to the book.
pub struct Scraper {
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

impl Scraper {
    pub fn spawn(
        mut source: Box<dyn WorkSource>,
        from_zero: bool,
        interval: Duration,
        book: Book,
    ) -> std::io::Result<Scraper> {
        lock(&book).count_from(source.describe());
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let st = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("ecotrace-scrape".into())
            .spawn(move || {
                let mut follower = CounterFollower::new(from_zero);
                let mut seen_ok = false;
                let mut next = Instant::now();
                loop {
                    let reading = source.read();
                    {
                        let mut b = lock(&book);
                        match &reading {
                            Ok(r) => {
                                let resets = follower.resets;
                                let w = follower.follow(r);
                                seen_ok = true;
                                b.count_from(source.describe());
                                b.add(w);
                                let read = SourceRead::Ok {
                                    in_flight: r.in_flight,
                                    reset: follower.resets > resets,
                                };
                                b.source_state(read, seen_ok);
                            }
                            Err(_) => b.source_state(SourceRead::Failed, seen_ok),
                        }
                    }
                    next += interval;
                    let (m, cv) = &*st;
                    let mut stopped = m.lock().unwrap_or_else(|e| e.into_inner());
                    while !*stopped && Instant::now() < next {
                        let wait = next.saturating_duration_since(Instant::now());
                        stopped = cv
                            .wait_timeout(stopped, wait)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                    if *stopped {
                        break;
                    }
                    if Instant::now() > next + interval {
                        next = Instant::now();
                    }
                }
            })?;
        Ok(Scraper {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops the thread (a read in progress finishes first).
    pub fn stop(mut self) {
        let (m, cv) = &*self.stop;
        *m.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn live(secs: u64, cpu_j: f64) -> Live {
        Live {
            elapsed: Duration::from_secs(secs),
            power: Default::default(),
            energy: Energy::from_joules(cpu_j),
            by_kind: EnergyBreakdown {
                cpu: Energy::from_joules(cpu_j),
                total: Energy::from_joules(cpu_j),
                ..Default::default()
            },
        }
    }

    #[test]
    fn hours_split_idle_and_active_energy() {
        let t = |h: u32, m: u32| Utc.with_ymd_and_hms(2026, 1, 1, h, m, 0).unwrap();
        let mut b = WorkBook::new();
        b.count_from("test".into());
        // 10:58 idle 60 s (600 J), 10:59 active 60 s (1200 J), 11:00 idle, then a missed read.
        b.step(t(10, 58), &live(60, 600.0));
        b.add(WorkCounts {
            requests: 3,
            prompt_tokens: 30,
            generated_tokens: 300,
        });
        b.step(t(10, 59), &live(120, 1800.0));
        b.step(t(11, 0), &live(180, 2400.0));
        for _ in 0..OUTAGE_READS {
            b.source_state(SourceRead::Failed, true);
        }
        b.step(t(11, 1), &live(240, 3000.0));
        let rows = b.rows_to_store();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].work.generated_tokens, 300);
        assert_eq!(rows[0].energy_kwh.total.joules(), 1800.0);
        assert_eq!(rows[0].idle_energy_kwh.joules(), 600.0);
        assert!(rows[0].counts_complete);
        assert_eq!(rows[1].idle_energy_kwh.joules(), 1200.0);
        assert!(!rows[1].counts_complete);
        // Stored closed hours are not given again; the current one is.
        assert_eq!(b.rows_to_store().len(), 1);
        let mut r = crate::session::tests::record();
        b.fill(&mut r);
        r.recompute();
        let s = r.serving.unwrap();
        assert_eq!(s.work.requests, 3);
        assert!(!s.counts_complete);
        assert_eq!(s.hours, 2);
        assert!((s.idle_share.unwrap() - 1800.0 / 3000.0).abs() < 1e-12);
    }

    const OK: SourceRead = SourceRead::Ok {
        in_flight: None,
        reset: false,
    };

    fn complete(b: &WorkBook) -> bool {
        let mut r = crate::session::tests::record();
        b.fill(&mut r);
        r.serving.unwrap().counts_complete
    }

    #[test]
    fn a_short_trailing_outage_is_a_shutdown_a_long_one_is_not() {
        let mut b = WorkBook::new();
        b.count_from("test".into());
        b.source_state(OK, true);
        b.step(Utc::now(), &live(1, 1.0));
        b.source_state(SourceRead::Failed, true);
        b.step(Utc::now(), &live(2, 2.0));
        assert!(complete(&b));
        for _ in 1..OUTAGE_READS {
            b.source_state(SourceRead::Failed, true);
        }
        b.step(Utc::now(), &live(3, 3.0));
        assert!(!complete(&b));
        assert!(!b.rows_to_store()[0].counts_complete);
    }

    /// Slow or failed reads that end without a restart lose nothing (the counters are
    /// cumulative): the run's counts stay complete, and only an hour the late work was not
    /// counted in says so.
    #[test]
    fn reads_that_recover_without_a_reset_lose_nothing() {
        let t = |h: u32, m: u32| Utc.with_ymd_and_hms(2026, 1, 1, h, m, 0).unwrap();
        let mut b = WorkBook::new();
        b.count_from("test".into());
        b.source_state(OK, true);
        b.step(t(10, 58), &live(60, 600.0));
        // A missed read in the same hour as the recovery: nothing is short.
        b.source_state(SourceRead::Failed, true);
        b.step(t(10, 58), &live(61, 610.0));
        b.source_state(OK, true);
        b.step(t(10, 59), &live(62, 620.0));
        assert!(complete(&b));
        assert!(b.rows_to_store()[0].counts_complete);
        // An outage across the hour: its work is counted at 11:00, so 10:00 is short.
        for _ in 0..OUTAGE_READS {
            b.source_state(SourceRead::Failed, true);
        }
        b.step(t(10, 59), &live(63, 630.0));
        b.source_state(OK, true);
        b.add(WorkCounts {
            requests: 2,
            prompt_tokens: 20,
            generated_tokens: 200,
        });
        b.step(t(11, 0), &live(64, 640.0));
        b.step(t(11, 1), &live(65, 650.0));
        assert!(complete(&b));
        let rows = b.rows_to_store();
        assert_eq!(rows.len(), 2);
        assert!(!rows[0].counts_complete);
        assert!(rows[1].counts_complete);
        assert_eq!(rows[1].work.requests, 2);
    }

    /// A restart during an outage loses the work done between the last good read and the
    /// restart: the run and the outage's hours are incomplete.
    #[test]
    fn a_restart_during_an_outage_makes_the_counts_incomplete() {
        let mut b = WorkBook::new();
        b.count_from("test".into());
        b.source_state(OK, true);
        b.step(Utc::now(), &live(1, 1.0));
        b.source_state(SourceRead::Failed, true);
        b.step(Utc::now(), &live(2, 2.0));
        b.source_state(
            SourceRead::Ok {
                in_flight: None,
                reset: true,
            },
            true,
        );
        b.step(Utc::now(), &live(3, 3.0));
        assert!(!complete(&b));
        assert!(!b.rows_to_store()[0].counts_complete);
    }

    #[test]
    fn a_run_without_work_stores_no_hours() {
        let mut b = WorkBook::new();
        b.step(Utc::now(), &live(1, 1.0));
        assert!(b.rows_to_store().is_empty());
        let mut r = crate::session::tests::record();
        b.fill(&mut r);
        assert!(r.serving.is_none());
    }
}
