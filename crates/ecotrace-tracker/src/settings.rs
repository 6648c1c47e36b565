//! Settings from every source, merged in one place: flags, then `ECOTRACE_*` environment variables
//! (both handled by clap), then `ecotrace.toml` found upward from the working directory, then the
//! user's `~/.config/ecotrace/config.toml`, then defaults. Also resolves the zone, intensity and PUE
//! into the figures a run records. Reads config files; does not measure or write anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ecotrace_core::{
    parse_duration, CarbonIntensity, IntensityBasis, IntensityUsed, Phase, Power, Pue, PueUsed,
    Scope,
};
use serde::Deserialize;

use crate::TrackError;

type Result<T> = std::result::Result<T, TrackError>;

/// What the user asked for, from flags, environment variables or keyword arguments, before the
/// config files and defaults fill the gaps. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeasureOptions {
    pub project: Option<String>,
    pub phase: Option<String>,
    /// `KEY=VALUE` strings.
    pub tags: Vec<String>,
    pub interval: Option<String>,
    pub scope: Option<String>,
    pub region: Option<String>,
    pub intensity: Option<f64>,
    pub pue: Option<f64>,
    pub cpu_power: Option<f64>,
    pub ram_power: Option<f64>,
    /// Expected service life of the hardware in years (embodied carbon).
    pub lifetime_years: Option<f64>,
    /// On-site water usage effectiveness, L/kWh of IT energy.
    pub wue: Option<f64>,
    /// USD per hour of the machine (cost basis: instance rental).
    pub price_per_hour: Option<f64>,
    /// USD per kWh at the meter (cost basis: electricity).
    pub electricity_price: Option<f64>,
}

/// One config file's contents. Unknown keys are an error, so typos don't pass silently.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLayer {
    pub project: Option<String>,
    pub phase: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    pub interval: Option<String>,
    pub scope: Option<String>,
    pub region: Option<String>,
    pub intensity: Option<f64>,
    pub pue: Option<f64>,
    pub cpu_power: Option<f64>,
    pub ram_power: Option<f64>,
    pub lifetime_years: Option<f64>,
    pub wue: Option<f64>,
    pub price_per_hour: Option<f64>,
    pub electricity_price: Option<f64>,
    pub ledger: Option<String>,
    pub quiet: Option<bool>,
}

/// The config files that apply here, most specific first, with where they came from.
#[derive(Debug, Default, Clone)]
pub struct FileLayers {
    pub layers: Vec<(PathBuf, FileLayer)>,
}

impl FileLayers {
    /// `$ECOTRACE_CONFIG` if set (only that file); otherwise `ecotrace.toml` in `cwd` or the nearest
    /// parent, then `$XDG_CONFIG_HOME/ecotrace/config.toml` (or `~/.config/...`).
    pub fn discover(cwd: &Path) -> Result<Self> {
        let mut paths = Vec::new();
        if let Some(p) = std::env::var_os("ECOTRACE_CONFIG").filter(|v| !v.is_empty()) {
            let p = PathBuf::from(p);
            if !p.is_file() {
                return Err(TrackError::Config {
                    path: p,
                    detail: "ECOTRACE_CONFIG points at it, but it is not a file".into(),
                });
            }
            paths.push(p);
        } else {
            if let Some(p) = cwd
                .ancestors()
                .map(|d| d.join("ecotrace.toml"))
                .find(|p| p.is_file())
            {
                paths.push(p);
            }
            let config_home = std::env::var_os("XDG_CONFIG_HOME")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
            if let Some(dir) = config_home {
                let p = dir.join("ecotrace/config.toml");
                if p.is_file() {
                    paths.push(p);
                }
            }
        }
        let mut layers = Vec::new();
        for p in paths {
            let text = std::fs::read_to_string(&p).map_err(|e| TrackError::Config {
                path: p.clone(),
                detail: format!("cannot read it: {e}"),
            })?;
            let layer: FileLayer = toml::from_str(&text).map_err(|e| TrackError::Config {
                path: p.clone(),
                detail: format!("not valid: {}", e.to_string().trim()),
            })?;
            layers.push((p, layer));
        }
        Ok(FileLayers { layers })
    }

    /// The first value any layer sets.
    fn pick<T: Clone>(&self, f: impl Fn(&FileLayer) -> Option<T>) -> Option<T> {
        self.layers.iter().find_map(|(_, l)| f(l))
    }

    pub fn ledger(&self) -> Option<String> {
        self.pick(|l| l.ledger.clone())
    }

    pub fn quiet(&self) -> Option<bool> {
        self.pick(|l| l.quiet)
    }
}

/// Everything a measurement needs, resolved and validated.
#[derive(Debug, Clone)]
pub struct MeasureSettings {
    pub project: String,
    pub phase: Phase,
    pub tags: BTreeMap<String, String>,
    pub interval: Duration,
    pub scope: Scope,
    pub intensity: IntensityUsed,
    pub pue: PueUsed,
    pub cpu_power: Option<Power>,
    pub ram_power: Option<Power>,
    /// Defaults the user should know about, for the run's notes.
    pub notes: Vec<String>,
    /// The distributed job the run is part of, from the scheduler's environment or
    /// `ECOTRACE_JOB` (see [`crate::job`]); the CLI's `--job` replaces it.
    pub job: Option<ecotrace_core::JobInfo>,
    /// Embodied lifetime, water factors and price (see [`crate::footprint`]).
    pub footprint: crate::footprint::FootprintSettings,
}

fn usage<T>(msg: impl Into<String>) -> Result<T> {
    Err(TrackError::Usage(msg.into()))
}

impl MeasureSettings {
    pub fn resolve(args: &MeasureOptions, files: &FileLayers) -> Result<Self> {
        let project = args
            .project
            .clone()
            .or_else(|| files.pick(|l| l.project.clone()))
            .unwrap_or_else(|| "default".to_string());
        if project.trim().is_empty() {
            return usage("--project must not be empty");
        }
        let phase = match args
            .phase
            .clone()
            .or_else(|| files.pick(|l| l.phase.clone()))
        {
            Some(p) => p
                .parse::<Phase>()
                .map_err(|e| TrackError::Usage(e.to_string()))?,
            None => Phase::Other,
        };
        // Tags: the user file, then the project file, then env/flags, later ones winning.
        let mut tags = BTreeMap::new();
        for (_, l) in files.layers.iter().rev() {
            tags.extend(l.tags.clone());
        }
        for t in &args.tags {
            let (k, v) = t.split_once('=').ok_or_else(|| {
                TrackError::Usage(format!("--tag {t:?} is not KEY=VALUE (e.g. --tag lr=3e-4)"))
            })?;
            if k.trim().is_empty() {
                return usage(format!("--tag {t:?} has an empty key"));
            }
            tags.insert(k.trim().to_string(), v.to_string());
        }
        let interval = match args
            .interval
            .clone()
            .or_else(|| files.pick(|l| l.interval.clone()))
        {
            Some(s) => {
                let d = parse_duration(&s)
                    .map_err(|e| TrackError::Usage(format!("--interval: {e}")))?;
                if d < Duration::from_millis(10) {
                    return usage(format!(
                        "--interval {s} is too short: use at least 10ms (1s is the default)"
                    ));
                }
                d
            }
            None => Duration::from_secs(1),
        };
        let scope = match args
            .scope
            .clone()
            .or_else(|| files.pick(|l| l.scope.clone()))
        {
            Some(s) => s
                .parse::<Scope>()
                .map_err(|e| TrackError::Usage(e.to_string()))?,
            None => Scope::Process,
        };
        let watts = |v: Option<f64>, name: &str| -> Result<Option<Power>> {
            match v {
                Some(w) if !(w.is_finite() && w > 0.0 && w < 100_000.0) => usage(format!(
                    "--{name} must be a positive number of watts, got {w}"
                )),
                Some(w) => Ok(Some(Power::from_watts(w))),
                None => Ok(None),
            }
        };
        let cpu_power = watts(
            args.cpu_power.or_else(|| files.pick(|l| l.cpu_power)),
            "cpu-power",
        )?;
        let ram_power = watts(
            args.ram_power.or_else(|| files.pick(|l| l.ram_power)),
            "ram-power",
        )?;

        let mut notes = Vec::new();
        let region = args
            .region
            .clone()
            .or_else(|| files.pick(|l| l.region.clone()));
        let user_intensity = args.intensity.or_else(|| files.pick(|l| l.intensity));
        let user_pue = args.pue.or_else(|| files.pick(|l| l.pue));
        let resolved = match &region {
            Some(r) => Some(
                ecotrace_data::resolve_region(r).map_err(|e| TrackError::Usage(e.to_string()))?,
            ),
            None => None,
        };
        let intensity = match (user_intensity, &resolved) {
            (Some(g), _) => IntensityUsed {
                value: CarbonIntensity::from_g_per_kwh(g)
                    .map_err(|e| TrackError::Usage(format!("--intensity: {e}")))?,
                zone: resolved
                    .as_ref()
                    .map_or_else(|| "user".to_string(), |r| r.zone.clone()),
                source: "given by the user (--intensity)".to_string(),
                year: None,
                basis: IntensityBasis::User,
            },
            (None, Some(r)) => IntensityUsed {
                value: r.intensity,
                zone: r.zone.clone(),
                source: r.source.clone(),
                year: Some(r.year),
                basis: IntensityBasis::Zone,
            },
            (None, None) => {
                let w = ecotrace_data::world_average();
                notes.push(format!(
                    "no region given: the world average ({:.0} gCO2e/kWh) was used; pass --region \
                     (e.g. FR, US-CA, aws:eu-west-3) for the grid you run on",
                    w.intensity.g_per_kwh()
                ));
                IntensityUsed {
                    value: w.intensity,
                    zone: w.id.clone(),
                    source: w.source.clone(),
                    year: Some(w.year),
                    basis: IntensityBasis::WorldDefault,
                }
            }
        };
        let pue = match (user_pue, resolved.as_ref().and_then(|r| r.pue.clone())) {
            (Some(x), _) => PueUsed {
                value: Pue::new(x).map_err(|e| TrackError::Usage(format!("--pue: {e}")))?,
                source: "given by the user (--pue)".to_string(),
            },
            (None, Some((p, source))) => PueUsed { value: p, source },
            (None, None) => PueUsed {
                value: Pue::ONE,
                source: "default 1.0: no data-centre overhead counted (pass --pue, or a cloud \
                         region, to include cooling and power distribution)"
                    .to_string(),
            },
        };
        let grid_zone = match &resolved {
            Some(r) => r.cloud.as_ref().map_or(r.zone.clone(), |c| c.zone.clone()),
            None => ecotrace_data::WORLD_ID.to_string(),
        };
        let footprint = crate::footprint::resolve(
            args.lifetime_years
                .or_else(|| files.pick(|l| l.lifetime_years)),
            args.wue.or_else(|| files.pick(|l| l.wue)),
            args.price_per_hour
                .or_else(|| files.pick(|l| l.price_per_hour)),
            args.electricity_price
                .or_else(|| files.pick(|l| l.electricity_price)),
            &grid_zone,
            resolved.as_ref().and_then(|r| r.wue_l_per_kwh.clone()),
        )
        .map_err(TrackError::Usage)?;
        Ok(MeasureSettings {
            footprint,
            job: crate::job::detect_from_env(None),
            project,
            phase,
            tags,
            interval,
            scope,
            intensity,
            pue,
            cpu_power,
            ram_power,
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(toml_text: &str) -> FileLayers {
        FileLayers {
            layers: vec![(PathBuf::from("x.toml"), toml::from_str(toml_text).unwrap())],
        }
    }

    #[test]
    fn defaults_say_what_they_chose() {
        let s =
            MeasureSettings::resolve(&MeasureOptions::default(), &FileLayers::default()).unwrap();
        assert_eq!(s.project, "default");
        assert_eq!(s.phase, Phase::Other);
        assert_eq!(s.scope, Scope::Process);
        assert_eq!(s.interval, Duration::from_secs(1));
        assert_eq!(s.intensity.basis, IntensityBasis::WorldDefault);
        assert!(s.notes[0].contains("world average"));
        assert_eq!(s.pue.value, Pue::ONE);
    }

    #[test]
    fn flags_win_over_files_and_files_over_defaults() {
        let files = layer(
            "project = \"from-file\"\nphase = \"training\"\ninterval = \"2s\"\n[tags]\na = \"1\"\nb = \"2\"\n",
        );
        let args = MeasureOptions {
            project: Some("from-flag".into()),
            tags: vec!["b=3".into()],
            ..Default::default()
        };
        let s = MeasureSettings::resolve(&args, &files).unwrap();
        assert_eq!(s.project, "from-flag");
        assert_eq!(s.phase, Phase::Training);
        assert_eq!(s.interval, Duration::from_secs(2));
        assert_eq!(s.tags["a"], "1");
        assert_eq!(s.tags["b"], "3");
    }

    #[test]
    fn user_intensity_and_pue() {
        let args = MeasureOptions {
            intensity: Some(123.0),
            pue: Some(1.3),
            ..Default::default()
        };
        let s = MeasureSettings::resolve(&args, &FileLayers::default()).unwrap();
        assert_eq!(s.intensity.value.g_per_kwh(), 123.0);
        assert_eq!(s.intensity.basis, IntensityBasis::User);
        assert_eq!(s.pue.value.value(), 1.3);
        assert!(s.notes.is_empty());
    }

    #[test]
    fn bad_values_are_usage_errors() {
        let cases = [
            MeasureOptions {
                phase: Some("trainnig".into()),
                ..Default::default()
            },
            MeasureOptions {
                scope: Some("cluster".into()),
                ..Default::default()
            },
            MeasureOptions {
                interval: Some("fast".into()),
                ..Default::default()
            },
            MeasureOptions {
                tags: vec!["novalue".into()],
                ..Default::default()
            },
            MeasureOptions {
                pue: Some(0.5),
                ..Default::default()
            },
            MeasureOptions {
                intensity: Some(-3.0),
                ..Default::default()
            },
            MeasureOptions {
                cpu_power: Some(0.0),
                ..Default::default()
            },
            MeasureOptions {
                region: Some("Atlantis".into()),
                ..Default::default()
            },
        ];
        for args in cases {
            let err = MeasureSettings::resolve(&args, &FileLayers::default()).unwrap_err();
            assert!(matches!(err, TrackError::Usage(_)), "{args:?}: {err}");
        }
    }

    #[test]
    fn unknown_config_keys_are_rejected() {
        assert!(toml::from_str::<FileLayer>("projet = \"x\"").is_err());
    }
}
