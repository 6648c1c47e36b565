//! Where a Python `Tracker`'s settings come from, in the same order as for `ecotrace run`: keyword
//! arguments (the CLI's flags), then `ECOTRACE_*` environment variables, then `ecotrace.toml` found
//! upward from the working directory, then the user's config file, then defaults.
//!
//! The CLI gets its environment layer from clap; this module reproduces clap's reading of the same
//! variables (an empty value counts as unset; `ECOTRACE_TAGS` is `KEY=VALUE,KEY=VALUE`;
//! `ECOTRACE_QUIET` is false for `0`, `false`, `no`, `off`, `n`, `f`). The environment is passed in
//! as a function so that tests don't touch the process's.

use ecotrace_tracker::{FileLayers, MeasureOptions, MeasureSettings, TrackError};

/// The keyword arguments of `ecotrace.Tracker(...)` that configure the measurement. `None` means
/// "not given".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KwOptions {
    pub project: Option<String>,
    pub phase: Option<String>,
    /// `(key, value)` pairs; when given they replace `ECOTRACE_TAGS`, as `--tag` flags do.
    pub tags: Option<Vec<(String, String)>>,
    /// A duration as the CLI writes it (`500ms`, `2s`); the Python layer turns numbers into `"Ns"`.
    pub interval: Option<String>,
    pub scope: Option<String>,
    pub region: Option<String>,
    pub intensity: Option<f64>,
    pub pue: Option<f64>,
    pub cpu_power: Option<f64>,
    pub ram_power: Option<f64>,
    /// Service life of the hardware in years (embodied carbon).
    pub lifetime_years: Option<f64>,
    /// On-site water usage effectiveness, L/kWh of IT energy.
    pub wue: Option<f64>,
    /// USD per hour of the machine (cost basis: instance rental).
    pub price_per_hour: Option<f64>,
    /// USD per kWh at the meter (cost basis: electricity).
    pub electricity_price: Option<f64>,
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

fn env_number(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Result<Option<f64>, TrackError> {
    match env(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<f64>()
            .map(Some)
            .map_err(|_| usage(format!("{name}={v:?} is not a number"))),
    }
}

/// Falsey values as clap reads a boolean flag's environment variable.
fn env_bool(v: &str) -> bool {
    !matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "0" | "false" | "no" | "off" | "n" | "f"
    )
}

/// Keyword arguments over the environment: the CLI's flag layer and env layer, merged.
// The struct update fills options the CLI gained after this was written; once every one is mapped
// it has no effect.
#[allow(clippy::needless_update)]
pub fn merge_env(
    kw: &KwOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(MeasureOptions, Option<String>, Option<bool>), TrackError> {
    // clap treats a variable that is set but empty as unset.
    let env = |k: &str| env(k).filter(|v| !v.is_empty());
    let s = |kw: &Option<String>, name: &str| kw.clone().or_else(|| env(name));
    let n = |kw: Option<f64>, name: &str| -> Result<Option<f64>, TrackError> {
        match kw {
            Some(x) => Ok(Some(x)),
            None => env_number(&env, name),
        }
    };
    let tags = match &kw.tags {
        Some(pairs) => {
            let mut out = Vec::with_capacity(pairs.len());
            for (k, v) in pairs {
                if k.contains('=') {
                    return Err(usage(format!("tag key {k:?} must not contain '='")));
                }
                out.push(format!("{k}={v}"));
            }
            out
        }
        None => env("ECOTRACE_TAGS")
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_default(),
    };
    let opts = MeasureOptions {
        project: s(&kw.project, "ECOTRACE_PROJECT"),
        phase: s(&kw.phase, "ECOTRACE_PHASE"),
        tags,
        interval: s(&kw.interval, "ECOTRACE_INTERVAL"),
        scope: s(&kw.scope, "ECOTRACE_SCOPE"),
        region: s(&kw.region, "ECOTRACE_REGION"),
        intensity: n(kw.intensity, "ECOTRACE_INTENSITY")?,
        pue: n(kw.pue, "ECOTRACE_PUE")?,
        cpu_power: n(kw.cpu_power, "ECOTRACE_CPU_POWER")?,
        ram_power: n(kw.ram_power, "ECOTRACE_RAM_POWER")?,
        lifetime_years: n(kw.lifetime_years, "ECOTRACE_LIFETIME_YEARS")?,
        wue: n(kw.wue, "ECOTRACE_WUE")?,
        price_per_hour: n(kw.price_per_hour, "ECOTRACE_PRICE_PER_HOUR")?,
        electricity_price: n(kw.electricity_price, "ECOTRACE_ELECTRICITY_PRICE")?,
        // Options added to the CLI later take their defaults until they are mapped here.
        ..Default::default()
    };
    let ledger = s(&kw.ledger, "ECOTRACE_LEDGER");
    let quiet = kw
        .quiet
        .or_else(|| env("ECOTRACE_QUIET").map(|v| env_bool(&v)));
    Ok((opts, ledger, quiet))
}

/// All layers: keyword arguments, environment, config files, defaults.
pub fn resolve(
    kw: &KwOptions,
    env: &dyn Fn(&str) -> Option<String>,
    files: &FileLayers,
) -> Result<Resolved, TrackError> {
    let (opts, ledger, quiet) = merge_env(kw, env)?;
    let mut settings = MeasureSettings::resolve(&opts, files)?;
    if let Some(job) = &kw.job {
        settings.job = ecotrace_tracker::job::detect(Some(job), env);
    }
    let ledger = match ledger.or_else(|| files.ledger()) {
        Some(l) => l,
        None => ecotrace_ledger::default_path()
            .map_err(|e| TrackError::Ledger {
                location: "the default location".into(),
                source: e,
            })?
            .to_string_lossy()
            .into_owned(),
    };
    Ok(Resolved {
        settings,
        ledger,
        quiet: quiet.or_else(|| files.quiet()).unwrap_or(false),
    })
}

/// [`resolve`] with the process's environment and the config files found from `cwd`.
pub fn resolve_here(kw: &KwOptions) -> Result<Resolved, TrackError> {
    let cwd = std::env::current_dir()
        .map_err(|e| usage(format!("cannot read the working directory: {e}")))?;
    let files = FileLayers::discover(&cwd)?;
    resolve(kw, &|k| std::env::var(k).ok(), &files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ecotrace_core::{IntensityBasis, Phase, Scope};
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::time::Duration;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    fn files(toml_text: &str) -> FileLayers {
        FileLayers {
            layers: vec![(
                PathBuf::from("ecotrace.toml"),
                toml::from_str(toml_text).unwrap(),
            )],
        }
    }

    #[test]
    fn keywords_win_over_env_and_env_over_files() {
        let env = env_of(&[
            ("ECOTRACE_PROJECT", "from-env"),
            ("ECOTRACE_PHASE", "tuning"),
            ("ECOTRACE_INTERVAL", "250ms"),
            ("ECOTRACE_PUE", "1.2"),
            ("ECOTRACE_TAGS", "a=1,b=2"),
            ("ECOTRACE_LEDGER", "/tmp/env.db"),
            ("ECOTRACE_QUIET", "1"),
        ]);
        let kw = KwOptions {
            project: Some("from-kw".into()),
            region: Some("FR".into()),
            ..Default::default()
        };
        let f = files(
            "project = \"from-file\"\nscope = \"machine\"\nphase = \"data\"\nledger = \"/tmp/file.db\"\n[tags]\nc = \"3\"\n",
        );
        let r = resolve(&kw, &env, &f).unwrap();
        assert_eq!(r.settings.project, "from-kw");
        assert_eq!(r.settings.phase, Phase::Tuning);
        assert_eq!(r.settings.scope, Scope::Machine);
        assert_eq!(r.settings.interval, Duration::from_millis(250));
        assert_eq!(r.settings.pue.value.value(), 1.2);
        assert_eq!(r.settings.intensity.zone, "FR");
        assert_eq!(r.settings.intensity.basis, IntensityBasis::Zone);
        assert_eq!(r.settings.tags["a"], "1");
        assert_eq!(r.settings.tags["c"], "3");
        assert_eq!(r.ledger, "/tmp/env.db");
        assert!(r.quiet);
    }

    #[test]
    fn keyword_tags_replace_env_tags_like_flags_do() {
        let env = env_of(&[("ECOTRACE_TAGS", "a=1")]);
        let kw = KwOptions {
            tags: Some(vec![("lr".into(), "3e-4".into())]),
            ledger: Some("/tmp/x.db".into()),
            ..Default::default()
        };
        let r = resolve(&kw, &env, &FileLayers::default()).unwrap();
        assert_eq!(r.settings.tags.len(), 1);
        assert_eq!(r.settings.tags["lr"], "3e-4");
    }

    #[test]
    fn empty_env_values_are_unset_and_bad_numbers_are_usage_errors() {
        let env = env_of(&[("ECOTRACE_PROJECT", ""), ("ECOTRACE_QUIET", "no")]);
        let kw = KwOptions {
            ledger: Some("/tmp/x.db".into()),
            ..Default::default()
        };
        let r = resolve(&kw, &env, &FileLayers::default()).unwrap();
        assert_eq!(r.settings.project, "default");
        assert!(!r.quiet);

        let env = env_of(&[("ECOTRACE_PUE", "high")]);
        let e = resolve(&kw, &env, &FileLayers::default()).unwrap_err();
        assert!(e.is_usage());
        assert!(e.to_string().contains("ECOTRACE_PUE"), "{e}");

        let kw = KwOptions {
            tags: Some(vec![("a=b".into(), "c".into())]),
            ..kw
        };
        assert!(resolve(&kw, &env_of(&[]), &FileLayers::default())
            .unwrap_err()
            .is_usage());
    }

    #[test]
    fn a_job_key_names_the_run_across_nodes() {
        let env = env_of(&[("RANK", "3"), ("WORLD_SIZE", "8")]);
        let kw = KwOptions {
            job: Some("sweep-7".into()),
            ledger: Some("/tmp/x.db".into()),
            ..Default::default()
        };
        let r = resolve(&kw, &env, &FileLayers::default()).unwrap();
        let job = r.settings.job.unwrap();
        assert_eq!(job.id, "sweep-7");
        assert_eq!(job.rank, Some(3));
        assert_eq!(job.world_size, Some(8));
    }

    #[test]
    fn the_ledger_comes_from_the_config_file_or_the_default_path() {
        let f = files("ledger = \"/tmp/file.db\"\nquiet = true\n");
        let r = resolve(&KwOptions::default(), &env_of(&[]), &f).unwrap();
        assert_eq!(r.ledger, "/tmp/file.db");
        assert!(r.quiet);
        let r = resolve(&KwOptions::default(), &env_of(&[]), &FileLayers::default());
        // The default path needs $HOME or $XDG_DATA_HOME, which tests normally have.
        if let Ok(r) = r {
            assert!(r.ledger.ends_with("ledger.db"));
        }
    }
}
