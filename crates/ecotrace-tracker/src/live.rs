//! A run's intensity from a live provider (`--grid-provider`, docs/planning.md): asked once at
//! the start, within the providers' 2 s budget; on any failure the bundled figure is charged and
//! the record's intensity (its source, `live`) and notes say why.

use chrono::Datelike;
use ecotrace_core::{CarbonIntensity, EmissionSignal, GridBasis, IntensityUsed, LiveIntensity};
use ecotrace_factors::{Factor, Origins, Place, Provenance, ProviderArgs};
use ecotrace_providers::{Client, ProviderConfig, ProviderError, ProviderKind, Reading};

use crate::TrackError;

/// What the provider gave (or why it gave nothing), for the record and `doctor`.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveOutcome {
    pub provider: ProviderKind,
    /// The provider's zone asked, when one could be named.
    pub zone: Option<String>,
    pub result: Result<Reading, ProviderError>,
}

impl LiveOutcome {
    /// The provider was not asked, for the reason `why`: the bundled figure is charged.
    pub fn not_asked(provider: ProviderKind, why: &str) -> Self {
        LiveOutcome {
            provider,
            zone: None,
            result: Err(ProviderError::Unsupported(why.to_string())),
        }
    }

    /// The record's `live` object.
    pub fn record(&self) -> LiveIntensity {
        LiveIntensity {
            provider: self.provider.id().to_string(),
            zone: self.zone.clone().unwrap_or_default(),
            status: if self.result.is_ok() {
                "used"
            } else {
                "fallback"
            }
            .to_string(),
            reason: self.result.as_ref().err().map(|e| e.to_string()),
            at: self
                .result
                .as_ref()
                .ok()
                .map(|r| r.at.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            cached: self.result.as_ref().is_ok_and(|r| r.cached),
        }
    }
}

/// The provider configured by `p`, if any (a bad name or URL is a usage error naming where it
/// was given).
pub fn provider_config(
    p: &ProviderArgs,
    origins: &Origins,
) -> Result<Option<ProviderConfig>, TrackError> {
    ProviderConfig::from_options(
        p.grid_provider.as_deref(),
        p.grid_provider_url.as_deref(),
        p.grid_provider_zone.as_deref(),
    )
    .map_err(|e| {
        let id = if e.contains("URL") {
            "grid_provider_url"
        } else {
            "grid_provider"
        };
        TrackError::Usage(format!("{}: {e}", origins.get(id)))
    })
}

/// Asks the provider for the place's latest intensity. Not asked when the user gave an
/// intensity.
pub fn ask(cfg: ProviderConfig, place: &Place, basis: GridBasis) -> LiveOutcome {
    let kind = cfg.kind;
    let grid_zone = place.grid_zone.clone();
    let zone = if place.label == ecotrace_data::WORLD_ID && cfg.zones.is_none() {
        Err(ProviderError::Unsupported(
            "no region given: pass --region (or --grid-provider-zone) for the provider to be asked"
                .into(),
        ))
    } else {
        cfg.zone_for(&place.label, &grid_zone)
    };
    let zone = match zone {
        Ok(z) => z,
        Err(e) => {
            return LiveOutcome {
                provider: kind,
                zone: None,
                result: Err(e),
            }
        }
    };
    let result = Client::new(cfg).latest(&zone, basis);
    LiveOutcome {
        provider: kind,
        zone: Some(zone),
        result,
    }
}

/// Charges the provider's figure (the place's intensity becomes it), or leaves the bundled
/// figure with the reason it was kept in its provenance. Returns notes for the run, and whether
/// the figure replaced the bundled one.
pub fn apply(outcome: &LiveOutcome, place: &mut Place) -> (Vec<String>, bool) {
    let name = outcome.provider.name();
    match &outcome.result {
        Ok(r) => match CarbonIntensity::from_g_per_kwh(r.g_per_kwh) {
            Ok(g) => {
                place.intensity = Factor::new(g, Provenance::Live(r.describe()));
                let mut notes = vec![format!(
                    "intensity: {} gCO2e/kWh from {name} (zone {}, {}{})",
                    ecotrace_core::human::num(r.g_per_kwh),
                    r.zone,
                    r.at.format("%Y-%m-%d %H:%M UTC"),
                    if r.cached { ", cached answer" } else { "" }
                )];
                if r.signal == EmissionSignal::Marginal {
                    notes.push(format!(
                        "the intensity is a marginal emission rate ({name}): this run's carbon \
                         counts marginal emissions and is not comparable with runs charged average \
                         intensities"
                    ));
                }
                (notes, true)
            }
            Err(e) => (
                fallback(
                    place,
                    name,
                    &format!("unusable figure {}: {e}", r.g_per_kwh),
                ),
                false,
            ),
        },
        Err(e) => (fallback(place, name, &e.to_string()), false),
    }
}

fn fallback(place: &mut Place, name: &str, why: &str) -> Vec<String> {
    let said =
        format!("live intensity from {name} unavailable ({why}): the bundled figure is used");
    match &mut place.intensity.provenance {
        Provenance::Table(row) => {
            row.note = Some(match row.note.take() {
                Some(n) => format!("{said}; {n}"),
                None => said.clone(),
            })
        }
        Provenance::Default { why: w, .. } => *w = format!("{said}; {w}"),
        Provenance::Given(_) | Provenance::Live(_) => {}
    }
    vec![said]
}

/// The record's intensity with what the provider gave: its basis and signal, and `live`.
pub fn record_intensity(used: &mut IntensityUsed, outcome: &LiveOutcome) {
    if let Ok(r) = &outcome.result {
        if used.source.starts_with("live:") {
            used.grid_basis = r.basis;
            used.signal = r.signal;
            used.year = Some(r.at.year());
        }
    }
    used.live = Some(outcome.record());
}

/// Live hourly series for `plan`: one per region the provider answered, as the planner's
/// [`ecotrace_data::UserSeries`] of the region's grid zone on `basis`, with what a reader should
/// know. Asks for each region's hours in `[from, to)` (history for the past, the forecast for the
/// future), sharing one 2 s budget. Marginal figures are kept only when every region has them:
/// the planner never compares marginal with average intensities.
pub fn plan_series(
    cfg: ProviderConfig,
    regions: &[String],
    basis: GridBasis,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> ecotrace_data::LiveSeries {
    let kind = cfg.kind;
    let name = kind.name();
    let mut client = Client::new(cfg.clone());
    let mut out = ecotrace_data::LiveSeries::default();
    let mut failed = Vec::new();
    for r in regions {
        let Ok(res) = ecotrace_data::resolve_region_on(r, basis) else {
            continue;
        };
        let got = cfg
            .zone_for(&res.zone, &res.grid_zone)
            .and_then(|z| client.hourly(&z, basis, from, to, now));
        match got {
            Ok(h) => {
                let end = h.end();
                out.end = Some(out.end.map_or(end, |e| e.min(end)));
                out.series.push(ecotrace_data::UserSeries {
                    zone: res.grid_zone.clone(),
                    basis,
                    first_hour: h.first_hour,
                    values: h.values.clone(),
                    source: h.describe(),
                });
            }
            Err(e) => {
                failed.push(res.zone.clone());
                out.notes.push(format!(
                    "{}: live data from {name} unavailable ({e}): the bundled data is used",
                    res.zone
                ));
            }
        }
    }
    if kind.signal() == EmissionSignal::Marginal && !out.series.is_empty() {
        if failed.is_empty() {
            out.signal = EmissionSignal::Marginal;
            out.notes.push(format!(
                "planned on marginal emission rates ({name}), not average intensities: the figures \
                 are not comparable with average ones"
            ));
        } else {
            out.series.clear();
            out.end = None;
            out.notes.push(format!(
                "{name} gave no marginal figures for {}: every region is planned on the bundled \
                 average intensities instead, never a mix of marginal and average",
                failed.join(", ")
            ));
        }
    }
    out
}
