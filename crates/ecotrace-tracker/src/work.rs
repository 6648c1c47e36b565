//! The work book of a run: the work counted (from a server's metrics or `tracker.count()`), the
//! energy of each hour with idle intervals apart, and the named windows. The meter thread reads
//! the server's counter (a [`ServerCounter`], see [`CounterStep`]) and steps the book after every
//! sample ([`WorkBook::step`]); the caller may add work to it too; checkpoints take the hourly rows
//! to store and the record's `serving` object from it.
//!
//! Memory is bounded for runs of months: the book holds the current hour and the rows not yet
//! stored, the totals, and at most [`crate::windows::MAX_WINDOWS`] windows.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};
use ecotrace_core::serving::{
    breakdown_since, CountHealth, HourRow, Recovery, Serving, WorkCounts,
};
pub use ecotrace_core::serving::{SourceRead, OUTAGE_READS};
use ecotrace_core::{Energy, EnergyBreakdown, RunRecord};
use ecotrace_sensors::meter::Live;

use crate::scrape::ServerCounter;
use crate::windows::{parse_line, Line, WindowFile, Windows};

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
    /// Whether the counts read from a server are complete (the rule shared with the agent).
    health: CountHealth,
    /// A read failed since the last step.
    missed: bool,
    /// Hours in which the current streak of failed reads fell, not yet marked incomplete.
    suspect: Vec<DateTime<Utc>>,
    /// Hours of a streak that ended without a reset: the counters are cumulative, so its work
    /// is counted at the next step, in that step's hour; the other hours undercount.
    late: Vec<DateTime<Utc>>,
    /// A work source is read (`serve`/`attach` with a metrics URL).
    source_read: bool,
    idle_energy: Energy,
    active_energy: Energy,
    idle_s: f64,
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
        WorkBook::default()
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

    /// What the last read of the counters said (or that it failed), by the rule of
    /// [`CountHealth`]: failures before the first good read are a server starting up.
    pub fn source_state(&mut self, read: SourceRead) {
        self.source_read = true;
        if let SourceRead::Ok { in_flight, .. } = read {
            self.in_flight = in_flight;
        }
        match self.health.observe(read) {
            // Back after a restart: the work between the last good read and the restart is
            // lost, in the hours of the gap.
            Recovery::Lost => {
                let hours = std::mem::take(&mut self.suspect);
                self.mark_incomplete(&hours);
            }
            // Back after slow or failed reads: nothing is lost, the gap's work is counted now;
            // only the hours it is counted after undercount.
            Recovery::Late => {
                let hours = std::mem::take(&mut self.suspect);
                self.late.extend(hours);
            }
            Recovery::None => {
                if read == SourceRead::Failed && self.health.seen_ok() {
                    self.missed = true;
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
            if self.health.in_outage() {
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
            // A counter that never answered counted nothing, one down at the end left its last
            // work uncounted, one that restarted during a gap lost it: not complete.
            s.counts_complete = !self.source_read || self.health.complete();
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

/// A server's counter read on the meter thread at every sample, just before the book is
/// stepped: one thread and one timer for sampling and counting.
pub struct CounterStep {
    counter: ServerCounter,
    /// The book has the source's description as it was once recognised.
    described: bool,
}

impl CounterStep {
    pub fn new(counter: ServerCounter) -> Self {
        CounterStep {
            counter,
            described: false,
        }
    }

    /// Reads the counter and adds what it says to the book (locked by the caller, who steps it
    /// next).
    pub fn read_into(&mut self, book: &mut WorkBook) {
        let (work, read) = self.counter.read();
        if !self.described && matches!(read, SourceRead::Ok { .. }) {
            // The server's kind is known from its first answer.
            book.count_from(self.counter.describe());
            self.described = true;
        }
        book.add(work);
        book.source_state(read);
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
        b.source_state(OK);
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
            b.source_state(SourceRead::Failed);
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
        b.source_state(OK);
        b.step(Utc::now(), &live(1, 1.0));
        b.source_state(SourceRead::Failed);
        b.step(Utc::now(), &live(2, 2.0));
        assert!(complete(&b));
        for _ in 1..OUTAGE_READS {
            b.source_state(SourceRead::Failed);
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
        b.source_state(OK);
        b.step(t(10, 58), &live(60, 600.0));
        // A missed read in the same hour as the recovery: nothing is short.
        b.source_state(SourceRead::Failed);
        b.step(t(10, 58), &live(61, 610.0));
        b.source_state(OK);
        b.step(t(10, 59), &live(62, 620.0));
        assert!(complete(&b));
        assert!(b.rows_to_store()[0].counts_complete);
        // An outage across the hour: its work is counted at 11:00, so 10:00 is short.
        for _ in 0..OUTAGE_READS {
            b.source_state(SourceRead::Failed);
        }
        b.step(t(10, 59), &live(63, 630.0));
        b.source_state(OK);
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
        b.source_state(OK);
        b.step(Utc::now(), &live(1, 1.0));
        b.source_state(SourceRead::Failed);
        b.step(Utc::now(), &live(2, 2.0));
        b.source_state(SourceRead::Ok {
            in_flight: None,
            reset: true,
        });
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
