//! Where a Python `Tracker`'s settings come from, in the same order as for `ecotrace run`: keyword
//! arguments, then `ECOTRACE_*` environment variables, then `ecotrace.toml` found upward from the
//! working directory, then the user's config file, then defaults.
//!
//! The keyword arguments are parsed by the very definitions of `ecotrace run`'s options
//! (`ecotrace_factors::MeasureArgs`, with clap reading the same environment variables), so an
//! option added to the CLI is accepted here too, and an unknown keyword is an error naming the
//! closest option. Only `tags` (pairs, whose values may hold commas), `ledger`, `quiet` and `job`
//! are handled here.

use ecotrace_factors::{parse_keywords, FileLayers, Origin};
use ecotrace_tracker::{MeasureSettings, TrackError};

/// The keyword arguments of `ecotrace.Tracker(...)`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KwOptions {
    /// Measure options by id (`region`, `pue`, `lifetime_years`, ...), values as the CLI writes
    /// them (`interval` as `500ms`; the Python layer turns numbers into `"Ns"`).
    pub options: Vec<(String, String)>,
    /// `(key, value)` pairs; when given they replace `ECOTRACE_TAGS`, as `--tag` flags do.
    pub tags: Option<Vec<(String, String)>>,
    pub ledger: Option<String>,
    pub quiet: Option<bool>,
    /// The distributed job the run is part of (the CLI's `--job`); detected from the scheduler's
    /// environment (SLURM, torchrun, Kubernetes) or `ECOTRACE_JOB` when not given.
    pub job: Option<String>,
}

/// Everything a tracker needs before it starts.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub settings: MeasureSettings,
    /// The ledger spec to open (a SQLite path, or a URL the ledger crate understands).
    pub ledger: String,
    /// Print nothing of ecotrace's own (the run summary at the end).
    pub quiet: bool,
}

fn usage(msg: String) -> TrackError {
    TrackError::Usage(msg)
}

/// Falsey values as clap reads a boolean flag's environment variable.
fn env_bool(v: &str) -> bool {
    !matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "0" | "false" | "no" | "off" | "n" | "f"
    )
}

/// All layers: keyword arguments, environment, config files, defaults.
pub fn resolve(kw: &KwOptions, files: &FileLayers) -> Result<Resolved, TrackError> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if kw.options.iter().any(|(id, _)| id == "tags") {
        return Err(usage(
            "tags are given as a mapping: tags={\"lr\": 3e-4}".into(),
        ));
    }
    let mut opts = parse_keywords(&kw.options)?;
    if let Some(pairs) = &kw.tags {
        let mut tags = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            if k.contains('=') {
                return Err(usage(format!("tag key {k:?} must not contain '='")));
            }
            tags.push(format!("{k}={v}"));
        }
        opts.tags = tags;
        opts.origins.set("tags", Origin::Keyword("tags".into()));
    }
    let mut settings = MeasureSettings::resolve(&opts, files)?;
    if let Some(job) = &kw.job {
        settings.job = ecotrace_tracker::job::detect(Some(job), &env);
    }
    let ledger = match kw
        .ledger
        .clone()
        .or_else(|| env("ECOTRACE_LEDGER"))
        .or_else(|| files.ledger())
    {
        Some(l) => l,
        None => ecotrace_ledger::default_path()
            .map_err(|e| TrackError::Ledger {
                location: "the default location".into(),
                source: e,
            })?
            .to_string_lossy()
            .into_owned(),
    };
    let quiet = kw
        .quiet
        .or_else(|| env("ECOTRACE_QUIET").map(|v| env_bool(&v)))
        .or_else(|| files.quiet())
        .unwrap_or(false);
    Ok(Resolved {
        settings,
        ledger,
        quiet,
    })
}

/// [`resolve`] with the config files found from the working directory.
pub fn resolve_here(kw: &KwOptions) -> Result<Resolved, TrackError> {
    let cwd = std::env::current_dir()
        .map_err(|e| usage(format!("cannot read the working directory: {e}")))?;
    let files = FileLayers::discover(&cwd)?;
    resolve(kw, &files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecotrace_core::{IntensityBasis, Phase, Scope};
    use ecotrace_factors::{measure_option_ids, Provenance};
    use std::time::Duration;

    fn kw(pairs: &[(&str, &str)]) -> KwOptions {
        KwOptions {
            options: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ledger: Some("/tmp/x.db".into()),
            ..Default::default()
        }
    }

    fn files(toml_text: &str) -> FileLayers {
        FileLayers::from_text("ecotrace.toml", toml_text).unwrap()
    }

    #[test]
    fn keywords_win_over_files_and_say_so() {
        let f = files(
            "project = \"from-file\"\nscope = \"machine\"\nphase = \"data\"\npue = 1.3\nledger = \"/tmp/file.db\"\n[tags]\nc = \"3\"\n",
        );
        let mut k = kw(&[
            ("project", "from-kw"),
            ("region", "FR"),
            ("interval", "250ms"),
            ("pue", "1.2"),
        ]);
        k.ledger = None;
        let r = resolve(&k, &f).unwrap();
        assert_eq!(r.settings.project, "from-kw");
        assert_eq!(r.settings.phase, Phase::Data);
        assert_eq!(r.settings.scope, Scope::Machine);
        assert_eq!(r.settings.interval, Duration::from_millis(250));
        assert_eq!(r.settings.pue.value.value(), 1.2);
        assert_eq!(r.settings.pue.source, "given by the user (pue=)");
        assert_eq!(r.settings.intensity.zone, "FR");
        assert_eq!(r.settings.intensity.basis, IntensityBasis::Zone);
        assert_eq!(r.settings.tags["c"], "3");
        assert_eq!(r.ledger, "/tmp/file.db");
    }

    /// Every option `ecotrace run` takes is accepted as a keyword argument, reaches the settings,
    /// and is reported as given by keyword. A new CLI option without a sample here fails this
    /// test, so it cannot be forgotten.
    #[test]
    fn every_cli_measure_option_is_accepted_by_python() {
        let sample = |id: &str| -> Option<&'static str> {
            Some(match id {
                "project" => "p",
                "phase" => "training",
                "tags" => return None,
                "interval" => "2s",
                "scope" => "machine",
                "region" => "aws:eu-west-3",
                "intensity" => "123",
                "basis" => "direct",
                "pue" => "1.7",
                "wue" => "0.9",
                "cpu_power" | "ram_power" => "42",
                "lifetime_years" => "3",
                "price_per_hour" => "2.5",
                "electricity_price" => "0.2",
                "gpus" => "0,GPU-8e4c",
                "grid_provider" => "ukci",
                "grid_provider_url" => "http://127.0.0.1:9",
                "grid_provider_zone" => "13",
                other => panic!("no sample value for the new option {other:?}: add one here"),
            })
        };
        let ids = measure_option_ids();
        assert!(ids.len() >= 14, "{ids:?}");
        for id in &ids {
            let Some(v) = sample(id) else { continue };
            let r = resolve(&kw(&[(id, v)]), &FileLayers::default())
                .unwrap_or_else(|e| panic!("{id}={v}: {e}"));
            let s = &r.settings;
            let seen = match id.as_str() {
                "project" => s.project == "p",
                "phase" => s.phase == Phase::Training,
                "interval" => s.interval == Duration::from_secs(2),
                "scope" => s.scope == Scope::Machine,
                "region" => s.place.label == "aws:eu-west-3",
                "intensity" => s.intensity.value.g_per_kwh() == 123.0,
                // No region: the world average, which has no direct figure, and says so.
                "basis" => s.notes.iter().any(|n| n.contains("no direct figure")),
                "pue" => s.place.pue.provenance == Provenance::Given(Origin::Keyword("pue".into())),
                "wue" => s.place.wue.provenance == Provenance::Given(Origin::Keyword("wue".into())),
                "cpu_power" => s.cpu_power.is_some_and(|p| p.watts() == 42.0),
                "gpus" => s
                    .gpus
                    .as_ref()
                    .is_some_and(|g| g.entries == ["0", "GPU-8e4c"] && g.source == "gpus="),
                "ram_power" => s.ram_power.is_some_and(|p| p.watts() == 42.0),
                // No region: the provider is configured, and not asked.
                "grid_provider" => s.live.as_ref().is_some_and(|l| {
                    l.provider.id() == "ukci"
                        && l.result
                            .as_ref()
                            .is_err_and(|e| e.to_string().contains("--region"))
                }),
                "grid_provider_url" | "grid_provider_zone" => s
                    .notes
                    .iter()
                    .any(|n| n.starts_with(&format!("{id}= given without a grid provider"))),
                "lifetime_years" => s.footprint.lifetime.years() == 3.0,
                "price_per_hour" => s
                    .footprint
                    .cost
                    .as_ref()
                    .is_some_and(|c| c.usd_per_hour == Some(2.5)),
                "electricity_price" => s
                    .footprint
                    .cost
                    .as_ref()
                    .is_some_and(|c| c.usd_per_kwh == Some(0.2)),
                other => panic!("option {other:?} is not checked here: add it"),
            };
            assert!(seen, "{id}={v} did not reach the settings");
        }
        let k = KwOptions {
            tags: Some(vec![("lr".into(), "3e-4,5".into())]),
            ..kw(&[])
        };
        assert_eq!(
            resolve(&k, &FileLayers::default()).unwrap().settings.tags["lr"],
            "3e-4,5"
        );
    }

    #[test]
    fn unknown_keywords_and_bad_values_are_usage_errors() {
        let e = resolve(&kw(&[("regoin", "FR")]), &FileLayers::default()).unwrap_err();
        assert!(e.is_usage());
        assert!(e.to_string().contains("regoin"), "{e}");
        assert!(e.to_string().contains("did you mean region="), "{e}");
        let e = resolve(&kw(&[("pue", "high")]), &FileLayers::default()).unwrap_err();
        assert!(e.is_usage(), "{e}");
        let k = KwOptions {
            tags: Some(vec![("a=b".into(), "c".into())]),
            ..kw(&[])
        };
        assert!(resolve(&k, &FileLayers::default()).unwrap_err().is_usage());
    }

    #[test]
    fn a_job_key_names_the_run() {
        let k = KwOptions {
            job: Some("sweep-7".into()),
            ..kw(&[])
        };
        let r = resolve(&k, &FileLayers::default()).unwrap();
        assert_eq!(r.settings.job.unwrap().id, "sweep-7");
    }

    #[test]
    fn the_ledger_comes_from_the_config_file_or_the_default_path() {
        let f = files("ledger = \"/tmp/file.db\"\nquiet = true\n");
        let mut k = kw(&[]);
        k.ledger = None;
        if std::env::var_os("ECOTRACE_LEDGER").is_none() {
            let r = resolve(&k, &f).unwrap();
            assert_eq!(r.ledger, "/tmp/file.db");
            assert!(r.quiet || std::env::var_os("ECOTRACE_QUIET").is_some());
        }
    }
}
