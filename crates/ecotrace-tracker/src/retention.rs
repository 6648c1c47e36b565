//! Samples of a run measured for weeks: the last [`FULL_RATE`] at the sampling rate, one per
//! [`BUCKET`] before, in the ledger and in memory (samples waiting for a write the ledger
//! refused). Whole hours leave the full-rate window one at a time, so the ledger rewrites an
//! hour of samples once an hour, not every checkpoint.

use std::time::Duration;

use ecotrace_core::{downsample_samples, PowerSample, RunRecord};
use ecotrace_ledger::Ledger;

/// How long samples are kept at the sampling rate.
pub const FULL_RATE: Duration = Duration::from_secs(6 * 3600);
/// One sample per this much run time after that.
pub const BUCKET: Duration = Duration::from_secs(60);

/// When the samples of a run are downsampled.
#[derive(Debug, Clone)]
pub struct Retention {
    full_rate_s: f64,
    bucket: Duration,
    /// Run time before which the samples are downsampled already.
    done_s: f64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention::new(FULL_RATE, BUCKET)
    }
}

impl Retention {
    pub fn new(full_rate: Duration, bucket: Duration) -> Retention {
        Retention {
            full_rate_s: full_rate.as_secs_f64(),
            bucket,
            done_s: 0.0,
        }
    }

    /// The run time (whole hours) before which samples are kept downsampled, at `elapsed_s`.
    pub fn cutoff(&self, elapsed_s: f64) -> f64 {
        ((elapsed_s - self.full_rate_s) / 3600.0).floor().max(0.0) * 3600.0
    }

    /// Writes a checkpoint: `record` with the samples `pending` (kept when the write fails, and
    /// then downsampled in memory past the window); after a write that succeeded, the samples
    /// stored before the cutoff are downsampled once the cutoff has moved by an hour.
    pub fn checkpoint(
        &mut self,
        ledger: &mut dyn Ledger,
        record: &RunRecord,
        pending: &mut Vec<PowerSample>,
        elapsed_s: f64,
    ) -> Result<(), String> {
        let cutoff = self.cutoff(elapsed_s);
        let bucket_s = self.bucket.as_secs_f64();
        // Samples waiting since before the cutoff (a ledger that refused writes for hours) are
        // stored downsampled already.
        downsample_samples(pending, cutoff, bucket_s);
        ledger
            .checkpoint(record, pending)
            .map_err(|e| e.to_string())?;
        pending.clear();
        if cutoff > self.done_s {
            ledger
                .downsample_samples(&record.id, cutoff, self.bucket)
                .map_err(|e| e.to_string())?;
            self.done_s = cutoff;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecotrace_core::Power;
    use ecotrace_ledger::{LedgerError, RunFilter, SqliteLedger};

    /// 1 s samples of a steady 100 W CPU from `from` to `to` seconds.
    fn steady(from: u64, to: u64) -> Vec<PowerSample> {
        (from + 1..=to)
            .map(|t| PowerSample {
                t_s: t as f64,
                cpu_w: Power::from_watts(100.0),
                gpu_w: Power::ZERO,
                ram_w: Power::from_watts(5.0),
            })
            .collect()
    }

    const HOURS: u64 = 30;
    const CHECKPOINT_S: u64 = 300;

    /// Drives `HOURS` of 1 s samples through checkpoints every `CHECKPOINT_S` into `ledger`; the
    /// result of each checkpoint goes to `check`.
    fn simulate(
        ledger: &mut dyn Ledger,
        record: &RunRecord,
        retention: &mut Retention,
        pending: &mut Vec<PowerSample>,
        check: impl Fn(Result<(), String>, &[PowerSample]),
    ) {
        let mut t = 0;
        while t < HOURS * 3600 {
            pending.extend(steady(t, t + CHECKPOINT_S));
            t += CHECKPOINT_S;
            let r = retention.checkpoint(ledger, record, pending, t as f64);
            check(r, pending);
        }
    }

    /// A simulated 30-hour run at 1 s sampling: the samples at full rate for the last 6 hours
    /// (and the hour going out of the window), one a minute before, the energy they integrate to
    /// unchanged.
    #[test]
    fn a_long_run_keeps_its_last_hours_at_full_rate_in_the_ledger() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        let mut ledger = SqliteLedger::open(&path).unwrap();
        let record = crate::session::tests::record();
        ledger.begin(&record).unwrap();
        let mut retention = Retention::default();
        simulate(
            &mut ledger,
            &record,
            &mut retention,
            &mut Vec::new(),
            |r, p| {
                r.unwrap();
                assert!(p.is_empty());
            },
        );
        let stored = ledger.samples(&record.id).unwrap();
        let cutoff = retention.cutoff((HOURS * 3600) as f64);
        assert_eq!(cutoff, ((HOURS - 6) * 3600) as f64);
        let old = stored.iter().filter(|s| s.t_s < cutoff).count();
        let recent = stored.len() - old;
        assert_eq!(
            old,
            ((HOURS - 6) * 60) as usize,
            "one a minute before the cutoff"
        );
        // Every sample from the cutoff on (the one at the cutoff too).
        assert_eq!(recent, 6 * 3600 + 1, "every sample of the last 6 hours");
        // Time order, nothing lost: the samples still integrate to 105 W over the whole run.
        assert!(stored.windows(2).all(|w| w[0].t_s < w[1].t_s));
        let mut last = 0.0;
        let wh: f64 = stored
            .iter()
            .map(|s| {
                let e = s.total().watts() * (s.t_s - last) / 3600.0;
                last = s.t_s;
                e
            })
            .sum();
        assert!((wh / (105.0 * HOURS as f64) - 1.0).abs() < 1e-9, "{wh} Wh");
        assert_eq!(ledger.list(&RunFilter::default()).unwrap().len(), 1);
    }

    /// A ledger that refuses every write: what waits in memory stays bounded.
    struct Refusing;
    impl Ledger for Refusing {
        fn begin(&mut self, _: &RunRecord) -> Result<(), LedgerError> {
            Ok(())
        }
        fn checkpoint(&mut self, r: &RunRecord, _: &[PowerSample]) -> Result<(), LedgerError> {
            Err(LedgerError::InvalidRecord {
                id: r.id.clone(),
                reason: "refused".into(),
            })
        }
        fn finish(&mut self, r: &RunRecord, s: &[PowerSample]) -> Result<(), LedgerError> {
            self.checkpoint(r, s)
        }
        fn get(&self, id: &str) -> Result<RunRecord, LedgerError> {
            Err(LedgerError::NotFound {
                id: id.into(),
                location: "nowhere".into(),
            })
        }
        fn list(&self, _: &RunFilter) -> Result<Vec<RunRecord>, LedgerError> {
            Ok(Vec::new())
        }
        fn samples(&self, _: &str) -> Result<Vec<PowerSample>, LedgerError> {
            Ok(Vec::new())
        }
        fn location(&self) -> String {
            "nowhere".into()
        }
    }

    #[test]
    fn samples_waiting_for_a_refusing_ledger_are_downsampled_in_memory() {
        let mut pending = Vec::new();
        simulate(
            &mut Refusing,
            &crate::session::tests::record(),
            &mut Retention::default(),
            &mut pending,
            |r, _| assert!(r.is_err()),
        );
        assert_eq!(pending.len(), ((HOURS - 6) * 60 + 6 * 3600 + 1) as usize);
        assert_eq!(pending.last().unwrap().t_s, (HOURS * 3600) as f64);
    }
}
