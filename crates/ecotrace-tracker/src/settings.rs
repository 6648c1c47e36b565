//! Settings from every source, merged in one place: flags, then `ECOTRACE_*` environment variables
//! (both handled by clap, with the option definitions of `ecotrace-factors`), then `ecotrace.toml`
//! found upward from the working directory, then the user's `~/.config/ecotrace/config.toml`, then
//! defaults. The factors (intensity, PUE, water, lifetime, price) come from `ecotrace-factors`'
//! resolver, as for every other command. Does not measure or write anything.

use std::collections::BTreeMap;
use std::time::Duration;

use ecotrace_core::{parse_duration, IntensityUsed, Phase, Power, PueUsed, Scope};
use ecotrace_factors::Place;
use ecotrace_sensors::gpu_select::GpuRequest;

use crate::TrackError;

type Result<T> = std::result::Result<T, TrackError>;

/// What the user asked for, from flags, environment variables or keyword arguments, before the
/// config files and defaults fill the gaps: the shared option definitions of `ecotrace-factors`.
pub use ecotrace_factors::MeasureArgs as MeasureOptions;
pub use ecotrace_factors::{FileLayer, FileLayers};

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
    /// Every factor of the place, with its provenance (`doctor` prints them).
    pub place: Place,
    pub cpu_power: Option<Power>,
    pub ram_power: Option<Power>,
    /// Defaults the user should know about, for the run's notes.
    pub notes: Vec<String>,
    /// The distributed job the run is part of, from the scheduler's environment or
    /// `ECOTRACE_JOB` (see [`crate::job`]); the CLI's `--job` replaces it.
    pub job: Option<ecotrace_core::JobInfo>,
    /// Embodied lifetime, water factors and price (see [`crate::footprint`]).
    pub footprint: crate::footprint::FootprintSettings,
    /// The GPUs given to the run (`--gpus`, `ECOTRACE_GPUS`, the config's `gpus`, the `gpus=`
    /// keyword); None: the runtimes' visible-device variables, else the GPUs the run holds a
    /// context on.
    pub gpus: Option<GpuRequest>,
    /// The hourly series the run is charged with, when one covers its start
    /// (docs/planning.md); `None`: the yearly figure.
    pub hourly: Option<crate::hourly::HourlyCharge>,
    /// The live provider configured (`--grid-provider`): what it gave, or why not.
    pub live: Option<crate::live::LiveOutcome>,
    /// The live provider configured, for the plan of `run --when-green`.
    pub provider: Option<ecotrace_providers::ProviderConfig>,
    /// What went wrong on ecotrace's side while resolving, and cost the run only a finer figure
    /// (a damaged imported hourly series): the CLI says them on stderr before the command
    /// starts; each is also in [`notes`](Self::notes) for the record.
    pub warnings: Vec<String>,
}

fn usage<T>(msg: impl Into<String>) -> Result<T> {
    Err(TrackError::Usage(msg.into()))
}

/// How a configured live provider is asked for the place's intensity: [`crate::live::ask`] (over
/// the network), or a stand-in in a binary that links no HTTP client (`ecotrace-run`).
pub type LiveAsk<'a> = &'a dyn Fn(
    ecotrace_providers::ProviderConfig,
    &Place,
    ecotrace_core::GridBasis,
) -> crate::live::LiveOutcome;

impl MeasureSettings {
    pub fn resolve(args: &MeasureOptions, files: &FileLayers) -> Result<Self> {
        Self::resolve_within(args, files, None)
    }

    /// As [`resolve`](Self::resolve), a live provider drawing on `budget` (what is left of the
    /// command's 2 s, e.g. after `--when-green` planned with it) instead of a fresh one.
    pub fn resolve_within(
        args: &MeasureOptions,
        files: &FileLayers,
        budget: Option<ecotrace_providers::Budget>,
    ) -> Result<Self> {
        Self::resolve_with(args, files, budget, &crate::live::ask)
    }

    /// As [`resolve_within`](Self::resolve_within), with a configured live provider asked by
    /// `ask` (not called when none is configured or the intensity was given).
    pub fn resolve_with(
        args: &MeasureOptions,
        files: &FileLayers,
        budget: Option<ecotrace_providers::Budget>,
        ask: LiveAsk,
    ) -> Result<Self> {
        let mut args = args.clone();
        let mut origins = std::mem::take(&mut args.origins);
        files.fill(&mut args, &mut origins)?;
        let project = args
            .project
            .clone()
            .unwrap_or_else(|| "default".to_string());
        if project.trim().is_empty() {
            return usage(format!("{} must not be empty", origins.get("project")));
        }
        let phase = match &args.phase {
            Some(p) => p
                .parse::<Phase>()
                .map_err(|e| TrackError::Usage(format!("{}: {e}", origins.get("phase"))))?,
            None => Phase::Other,
        };
        // Tags: the user file, then the project file, then env/flags, later ones winning.
        let mut tags = files.tags();
        let tag_origin = origins.get("tags");
        for t in &args.tags {
            let (k, v) = t.split_once('=').ok_or_else(|| {
                TrackError::Usage(format!(
                    "{tag_origin}: {t:?} is not KEY=VALUE (e.g. --tag lr=3e-4)"
                ))
            })?;
            if k.trim().is_empty() {
                return usage(format!("{tag_origin}: {t:?} has an empty key"));
            }
            tags.insert(k.trim().to_string(), v.to_string());
        }
        let interval = match &args.interval {
            Some(s) => {
                let from = origins.get("interval");
                let d = parse_duration(s).map_err(|e| TrackError::Usage(format!("{from}: {e}")))?;
                if d < Duration::from_millis(10) {
                    return usage(format!(
                        "{from}: {s} is too short: use at least 10ms (1s is the default)"
                    ));
                }
                d
            }
            None => Duration::from_secs(1),
        };
        let scope = match &args.scope {
            Some(s) => s
                .parse::<Scope>()
                .map_err(|e| TrackError::Usage(format!("{}: {e}", origins.get("scope"))))?,
            None => Scope::Process,
        };
        let watts = |v: Option<f64>, id: &str| -> Result<Option<Power>> {
            match v {
                Some(w) if !(w.is_finite() && w > 0.0 && w < 100_000.0) => usage(format!(
                    "{} must be a positive number of watts, got {w}",
                    origins.get(id)
                )),
                Some(w) => Ok(Some(Power::from_watts(w))),
                None => Ok(None),
            }
        };
        let cpu_power = watts(args.cpu_power, "cpu_power")?;
        let ram_power = watts(args.ram_power, "ram_power")?;
        let gpus = match &args.gpus {
            Some(g) => Some(
                GpuRequest::parse(g, &origins.get("gpus").to_string())
                    .map_err(TrackError::Usage)?,
            ),
            None => None,
        };
        let f = &args.factors;
        let mut place = ecotrace_factors::resolve_place(f.region.as_deref(), f, &origins)?;
        let footprint = crate::footprint::resolve(&place, f, &origins)?;
        // A live provider, when one is configured, replaces the tables' figure (not the user's).
        let mut hour_notes = Vec::new();
        let mut provider = crate::live::provider_config(&args.provider, &origins)?;
        if let (Some(p), Some(b)) = (provider.as_mut(), budget) {
            p.budget = b;
        }
        let mut live_used = false;
        let live = match provider.clone() {
            Some(_) if place.intensity.provenance.is_given() => {
                hour_notes.push(format!(
                    "the intensity was given ({}): the live provider was not asked",
                    origins.get("intensity")
                ));
                None
            }
            Some(cfg) => {
                let basis = place.grid_basis().unwrap_or_default();
                let outcome = ask(cfg, &place, basis);
                let (notes, used) = crate::live::apply(&outcome, &mut place);
                hour_notes.extend(notes);
                live_used = used;
                Some(outcome)
            }
            None => {
                let p = &args.provider;
                for (id, given) in [
                    ("grid_provider_url", p.grid_provider_url.is_some()),
                    ("grid_provider_zone", p.grid_provider_zone.is_some()),
                ] {
                    if given {
                        hour_notes.push(format!(
                            "{} given without a grid provider: no live provider is asked (set \
                             --grid-provider)",
                            origins.get(id)
                        ));
                    }
                }
                None
            }
        };
        // A region's intensity from the tables may be charged hour by hour instead.
        let mut warnings = Vec::new();
        let hourly = match (place.intensity.provenance.row(), f.region.is_some()) {
            _ if live_used => None,
            (Some(row), true) if !place.intensity.provenance.is_given() => {
                match crate::hourly::HourlyCharge::find(
                    &[row.row.as_str(), place.label.as_str()],
                    place.grid_basis().unwrap_or_default(),
                    chrono::Utc::now(),
                ) {
                    Ok((charge, note)) => {
                        hour_notes.extend(note);
                        charge
                    }
                    // A damaged imported series costs the hourly charge, never the job.
                    Err(e) => {
                        let why = match e {
                            TrackError::Config { path, detail } => {
                                format!("{}: {detail}", path.display())
                            }
                            e => e.to_string(),
                        };
                        let w = format!(
                            "the imported hourly intensities could not be used, the yearly \
                             average is charged: {why} (`ecotrace data import-hourly FILE`)"
                        );
                        hour_notes.push(w.clone());
                        warnings.push(w);
                        None
                    }
                }
            }
            _ => None,
        };
        let mut intensity = place.intensity_used();
        if let Some(o) = &live {
            crate::live::record_intensity(&mut intensity, o);
        }
        Ok(MeasureSettings {
            gpus,
            footprint,
            hourly,
            live,
            provider,
            job: crate::job::detect_from_env(None),
            project,
            phase,
            tags,
            interval,
            scope,
            intensity,
            pue: place.pue_used(),
            cpu_power,
            ram_power,
            notes: place.notes.iter().cloned().chain(hour_notes).collect(),
            place,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use ecotrace_core::{IntensityBasis, Pue};
    use ecotrace_factors::{FactorArgs, Origin, Provenance};

    fn layer(toml_text: &str) -> FileLayers {
        FileLayers::from_text("x.toml", toml_text).unwrap()
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
            factors: FactorArgs {
                intensity: Some(123.0),
                pue: Some(1.3),
                ..Default::default()
            },
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
                factors: FactorArgs {
                    pue: Some(0.5),
                    ..Default::default()
                },
                ..Default::default()
            },
            MeasureOptions {
                factors: FactorArgs {
                    intensity: Some(-3.0),
                    ..Default::default()
                },
                ..Default::default()
            },
            MeasureOptions {
                cpu_power: Some(0.0),
                ..Default::default()
            },
            MeasureOptions {
                factors: FactorArgs {
                    region: Some("Atlantis".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        ];
        for args in cases {
            let err = MeasureSettings::resolve(&args, &FileLayers::default()).unwrap_err();
            assert!(matches!(err, TrackError::Usage(_)), "{args:?}: {err}");
        }
    }

    #[test]
    fn basis_from_flag_or_config_switches_the_figure() {
        let region = |basis: Option<&str>, files: &FileLayers| {
            let args = MeasureOptions {
                factors: FactorArgs {
                    region: Some("US-VA".into()),
                    basis: basis.map(str::to_string),
                    ..Default::default()
                },
                ..Default::default()
            };
            MeasureSettings::resolve(&args, files).unwrap()
        };
        let l = region(None, &FileLayers::default());
        use ecotrace_core::GridBasis;
        assert_eq!(l.intensity.grid_basis, Some(GridBasis::Lifecycle));
        let pjm = ecotrace_data::zone("US-MIDA-PJM").unwrap();
        assert_eq!(l.intensity.value, pjm.intensity);
        // The state is served by PJM, and the note says so.
        assert!(
            l.notes.iter().any(|n| n.contains("US-MIDA-PJM")),
            "{:?}",
            l.notes
        );
        let d = region(None, &layer("basis = \"direct\""));
        assert_eq!(d.intensity.grid_basis, Some(GridBasis::Direct));
        assert_eq!(Some(d.intensity.value), pjm.direct);
        // The flag beats the config file.
        let f = region(Some("lifecycle"), &layer("basis = \"direct\""));
        assert_eq!(f.intensity.grid_basis, Some(GridBasis::Lifecycle));
        let bad = MeasureOptions {
            factors: FactorArgs {
                basis: Some("scope3".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let err = MeasureSettings::resolve(&bad, &FileLayers::default()).unwrap_err();
        assert!(err.to_string().contains("--basis"), "{err}");
        // With no region, the world average has no direct figure: the note says it.
        let w = MeasureSettings::resolve(
            &MeasureOptions {
                factors: FactorArgs {
                    basis: Some("direct".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            &FileLayers::default(),
        )
        .unwrap();
        assert_eq!(w.intensity.grid_basis, Some(GridBasis::Lifecycle));
        assert!(
            w.notes.iter().any(|n| n.contains("no direct figure")),
            "{:?}",
            w.notes
        );
    }

    #[test]
    fn unknown_config_keys_are_rejected() {
        assert!(FileLayer::parse("projet = \"x\"").is_err());
    }

    /// flag > env > config > region table > default, through the whole settings resolution.
    #[test]
    fn factor_layering_through_the_settings() {
        let files = layer("region = \"aws:eu-west-3\"\npue = 1.5\nwue = 0.7\n");
        let from_file = MeasureSettings::resolve(&MeasureOptions::default(), &files).unwrap();
        assert_eq!(from_file.pue.value.value(), 1.5);
        assert!(
            from_file.pue.source.contains("pue in x.toml"),
            "{}",
            from_file.pue.source
        );
        assert_eq!(from_file.intensity.zone, "aws:eu-west-3");
        assert_eq!(from_file.intensity.basis, IntensityBasis::Zone);
        let mut args = MeasureOptions {
            factors: FactorArgs {
                pue: Some(1.0),
                ..Default::default()
            },
            ..Default::default()
        };
        args.origins.set("pue", Origin::Env("ECOTRACE_PUE".into()));
        let from_env = MeasureSettings::resolve(&args, &files).unwrap();
        assert_eq!(from_env.pue.value, Pue::ONE);
        assert_eq!(from_env.pue.source, "given by the user (ECOTRACE_PUE)");
        assert_eq!(
            from_env.place.wue.provenance,
            Provenance::Given(Origin::Config {
                key: "wue".into(),
                file: "x.toml".into()
            })
        );
        let table = MeasureSettings::resolve(
            &MeasureOptions {
                factors: FactorArgs {
                    region: Some("aws:eu-west-3".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
            &FileLayers::default(),
        )
        .unwrap();
        assert!(matches!(table.place.pue.provenance, Provenance::Table(_)));
    }

    #[test]
    fn gpus_from_the_flag_the_env_or_the_config_file() {
        let args = MeasureOptions {
            gpus: Some("0,2".into()),
            ..Default::default()
        };
        let s = MeasureSettings::resolve(&args, &layer("gpus = [1]")).unwrap();
        let g = s.gpus.unwrap();
        assert_eq!(g.entries, ["0", "2"]);
        assert_eq!(g.source, "--gpus");
        let mut env = MeasureOptions {
            gpus: Some("GPU-8e4c".into()),
            ..Default::default()
        };
        env.origins.set("gpus", Origin::Env("ECOTRACE_GPUS".into()));
        let g = MeasureSettings::resolve(&env, &FileLayers::default())
            .unwrap()
            .gpus
            .unwrap();
        assert_eq!(g.source, "ECOTRACE_GPUS");
        let s = MeasureSettings::resolve(
            &MeasureOptions::default(),
            &layer("gpus = [1, \"GPU-8e4c\"]"),
        )
        .unwrap();
        let g = s.gpus.unwrap();
        assert_eq!(g.entries, ["1", "GPU-8e4c"]);
        assert_eq!(g.source, "gpus in x.toml");
        let s =
            MeasureSettings::resolve(&MeasureOptions::default(), &layer("gpus = \"all\"")).unwrap();
        assert_eq!(s.gpus.unwrap().entries, ["all"]);
        let bad = MeasureOptions {
            gpus: Some("0,,1".into()),
            ..Default::default()
        };
        assert!(matches!(
            MeasureSettings::resolve(&bad, &FileLayers::default()),
            Err(TrackError::Usage(_))
        ));
        assert!(
            MeasureSettings::resolve(&MeasureOptions::default(), &layer("gpus = [true]")).is_err()
        );
    }
}
