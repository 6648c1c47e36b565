//! `ecotrace plan` and `ecotrace data import-hourly`: the planner of `ecotrace-estimator` with the
//! user's imported hourly series, which live beside the ledger
//! (`$XDG_DATA_HOME/ecotrace/hourly/ZONE.BASIS.csv`, see `ecotrace_tracker::hourly`).

use anyhow::{Context, Result};
use ecotrace_data::UserSeries;
use ecotrace_estimator::hourly_import::{merge, parse_hourly};
use ecotrace_estimator::plan;
use ecotrace_tracker::hourly::{readable_user_hourly_series, store_name, user_hourly_dir};

use crate::UsageError;

/// `ecotrace data import-hourly FILE`: parses, merges with what is stored, writes, and says what
/// it found.
pub fn import(file: &std::path::Path) -> Result<String> {
    let name = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|e| UsageError(format!("{name}: {e}")))?;
    let (series, report) = parse_hourly(&name, &text).map_err(|e| UsageError(e.to_string()))?;
    let dir = user_hourly_dir().context("no data directory: set XDG_DATA_HOME or HOME")?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut o = String::new();
    for s in &series {
        let path = dir.join(store_name(&s.zone, s.basis));
        let merged = match std::fs::read_to_string(&path) {
            Ok(old) => {
                let old =
                    UserSeries::from_text(&path.display().to_string(), &s.zone, s.basis, &old)
                        .map_err(anyhow::Error::msg)?;
                merge(&old, s)
            }
            Err(_) => s.clone(),
        };
        let tmp = path.with_extension("csv.tmp");
        std::fs::write(&tmp, merged.to_text())
            .and_then(|_| std::fs::rename(&tmp, &path))
            .with_context(|| format!("cannot write {}", path.display()))?;
        let n = s.values.iter().filter(|v| v.is_finite()).count();
        o.push_str(&format!(
            "{}: {n} hours ({}), {} to {}, stored in {}\n",
            s.zone,
            s.basis,
            s.first_hour.format("%Y-%m-%dT%H:%MZ"),
            (s.first_hour + chrono::Duration::hours(s.values.len() as i64 - 1))
                .format("%Y-%m-%dT%H:%MZ"),
            path.display()
        ));
    }
    for (zone, t) in &report.duplicates {
        o.push_str(&format!(
            "duplicate hour: {zone} {} (the last value is kept)\n",
            t.format("%Y-%m-%dT%H:%MZ")
        ));
    }
    for (zone, t, n) in &report.gaps {
        o.push_str(&format!(
            "missing: {zone} {n} hour(s) from {}\n",
            t.format("%Y-%m-%dT%H:%MZ")
        ));
    }
    Ok(o)
}

/// `ecotrace plan`: with a live provider configured (`--grid-provider`, its variable or config
/// key), the provider's history and forecast of each region come first, the bundled and imported
/// series after them; whatever the provider does not give is planned on those, and the plan says
/// so.
pub fn run(args: &crate::cli::PlanCliArgs, files: &ecotrace_factors::FileLayers) -> Result<String> {
    // A damaged imported series costs the plan its hours (a warning naming the file), not the plan.
    let (user, warnings) = readable_user_hourly_series();
    for w in &warnings {
        eprintln!("ecotrace: warning: {w}");
    }
    let now = chrono::Utc::now();
    let opts = args.plan.to_options();
    let mut provider = args.plan.provider.clone();
    let mut origins = ecotrace_factors::Origins::default();
    files.fill(&mut provider, &mut origins)?;
    let mut p = match ecotrace_tracker::live::provider_config(&provider, &origins)? {
        None => plan::plan(&opts, now, &user)?,
        Some(cfg) => plan::plan_with_live(&opts, now, &user, |from, to, basis| {
            ecotrace_tracker::live::plan_series(cfg, &opts.regions, basis, from, to, now)
        })?,
    };
    p.notes.extend(warnings);
    let format = match (args.json, args.format.as_deref()) {
        (true, _) => "json",
        (false, None) => "text",
        (false, Some(f)) => f,
    };
    Ok(match format {
        "json" => serde_json::to_string_pretty(&plan::plan_json(&p))? + "\n",
        "text" => plan::plan_text(&p),
        "slurm" => plan::plan_slurm(&p, *chrono::Local::now().offset()),
        other => {
            return Err(UsageError(format!("--format {other:?}: use text, json or slurm")).into())
        }
    })
}
