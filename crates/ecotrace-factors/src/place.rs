//! Region → grid intensity, PUE, on-site WUE, off-site water and electricity price, each with its
//! provenance, layered the same way for every command: what the user gave (flag, variable, config
//! key or keyword) > the region's table row > the default. The lookups are `ecotrace-data`'s.

use ecotrace_core::{
    CarbonIntensity, IntensityBasis, IntensityUsed, Pue, PueUsed, Water, WaterIntensity, WaterUsed,
};
use ecotrace_data::{CloudRegion, ResolvedRegion, ZoneIntensity};

use crate::options::{FactorArgs, Origins};
use crate::provenance::{Accounting, Factor, Provenance, TableRow};
use crate::FactorError;

/// The default PUE and why.
pub const DEFAULT_PUE_WHY: &str = "1.0: no data-centre overhead counted (pass --pue, or a cloud region, to include cooling and power distribution)";
/// The default on-site WUE and why.
pub const DEFAULT_WUE_WHY: &str =
    "0: no data-centre cooling water counted (pass --wue, or a cloud region that publishes one)";

/// Every factor of a place, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// The canonical id of the region given (`FR`, `aws:eu-west-3`), or `WORLD`.
    pub label: String,
    /// Its name (`France`, `AWS eu-west-3 (Europe (Paris))`, `World`).
    pub name: String,
    /// The grid zone whose electricity is used and whose figures are charged: a cloud region's
    /// zone (`aws:us-east-1` → `US-MIDA-PJM`), the zone serving a US state or another mapped id
    /// (`US-VA` → `US-MIDA-PJM`), the zone itself otherwise, or `WORLD`.
    pub grid_zone: String,
    pub intensity: Factor<CarbonIntensity>,
    pub pue: Factor<Pue>,
    /// On-site water, L per kWh of IT energy.
    pub wue: Factor<WaterIntensity>,
    /// Off-site water, L per kWh at the meter.
    pub offsite_water: Factor<WaterIntensity>,
    /// The electricity price the user gave, in USD per kWh; [`Place::electricity_price`] falls
    /// back to the bundled average for the place.
    pub electricity_price_given: Option<Factor<f64>>,
    /// `(provider, region)` of a cloud region, for instance prices.
    pub cloud: Option<(String, String)>,
    /// Defaults the user should know about.
    pub notes: Vec<String>,
}

fn user_number<T>(
    v: Option<f64>,
    id: &str,
    origins: &Origins,
    make: impl FnOnce(f64) -> Result<T, String>,
) -> Result<Option<Factor<T>>, FactorError> {
    let Some(x) = v else { return Ok(None) };
    let origin = origins.get(id);
    let value = make(x).map_err(|e| FactorError::Usage(format!("{origin}: {e}")))?;
    Ok(Some(Factor::given(value, origin)))
}

fn zone_row(z: &ZoneIntensity, basis: Accounting) -> TableRow {
    let mut r = TableRow::new("zones", z.id.clone(), z.source.clone())
        .year(z.year)
        .licence(z.license.clone());
    r.basis = Some(basis);
    r
}

fn cloud_row(c: &CloudRegion, source: &str) -> TableRow {
    TableRow::new("cloud regions", c.id(), source.to_string())
}

/// The intensity row of a resolved region: its grid zone's row (a cloud region's zone, the zone
/// serving a US state or Chinese province), on the basis it was resolved on, with what a reader
/// should know (the zone that serves it, a basis other than the one asked for) as its note.
fn intensity_row(r: &ResolvedRegion) -> TableRow {
    let mut row = match ecotrace_data::zone(&r.grid_zone) {
        Some(z) => zone_row(z, r.basis),
        None => {
            let mut t = TableRow::new("zones", r.grid_zone.clone(), r.source.clone()).year(r.year);
            t.basis = Some(r.basis);
            t
        }
    };
    let mut notes: Vec<String> = Vec::new();
    if let Some(c) = &r.cloud {
        notes.push(format!("grid zone {} of {}", r.grid_zone, c.id()));
    }
    notes.extend(r.note.clone());
    if !notes.is_empty() {
        row = row.note(notes.join("; "));
    }
    row
}

/// `--basis`: `lifecycle` (the default) or `direct`.
pub fn parse_basis(b: Option<&str>, origins: &Origins) -> Result<Accounting, FactorError> {
    match b {
        None => Ok(Accounting::Lifecycle),
        Some(b) => b.parse().map_err(|e: ecotrace_core::UnknownBasis| {
            FactorError::Usage(format!("{}: {e}", origins.get("basis")))
        }),
    }
}

/// Resolves the place `region` names (or the world average) with the user's factors over it.
/// `region` is given apart from `f.region` because `compare` resolves several.
pub fn resolve_place(
    region: Option<&str>,
    f: &FactorArgs,
    origins: &Origins,
) -> Result<Place, FactorError> {
    let basis = parse_basis(f.basis.as_deref(), origins)?;
    let resolved = region
        .map(|r| {
            ecotrace_data::resolve_region_on(r, basis)
                .map_err(|e| FactorError::Usage(e.to_string()))
        })
        .transpose()?;
    let mut notes = Vec::new();
    let world = ecotrace_data::world_average();
    let (label, name, grid_zone) = match &resolved {
        Some(r) => (r.zone.clone(), r.name.clone(), r.grid_zone.clone()),
        None => (world.id.clone(), world.name.clone(), world.id.clone()),
    };
    let intensity = match user_number(f.intensity, "intensity", origins, |g| {
        CarbonIntensity::from_g_per_kwh(g).map_err(|e| e.to_string())
    })? {
        Some(given) => given,
        None => match &resolved {
            Some(r) => {
                notes.extend(r.note.clone());
                Factor::table(r.intensity, intensity_row(r))
            }
            None => {
                let (g, got) = world.on(basis);
                notes.push(format!(
                    "no region given: the world average ({:.0} gCO2e/kWh, {got}) was used; pass \
                     --region (e.g. FR, US-CA, aws:eu-west-3) for the grid you run on",
                    g.g_per_kwh()
                ));
                if got != basis {
                    notes.push(format!(
                        "the world average has no {basis} figure bundled: its {got} figure is used"
                    ));
                }
                Factor::new(
                    g,
                    Provenance::Default {
                        why: "world average: no region given (pass --region)".into(),
                        row: Some(zone_row(world, got)),
                    },
                )
            }
        },
    };
    let cloud = resolved.as_ref().and_then(|r| r.cloud.as_ref());
    let pue = match user_number(f.pue, "pue", origins, |x| {
        Pue::new(x).map_err(|e| e.to_string())
    })? {
        Some(given) => given,
        None => match cloud.and_then(|c| c.pue.map(|p| (c, p))) {
            Some((c, p)) => Factor::table(p, cloud_row(c, &c.pue_source)),
            None => Factor::default_because(Pue::ONE, DEFAULT_PUE_WHY),
        },
    };
    let wue = match user_number(f.wue, "wue", origins, |x| {
        WaterIntensity::from_l_per_kwh(x).map_err(|e| e.to_string())
    })? {
        Some(given) => given,
        None => match cloud.and_then(|c| {
            c.wue_l_per_kwh
                .and_then(|w| WaterIntensity::from_l_per_kwh(w).ok())
                .map(|w| (c, w))
        }) {
            Some((c, w)) => Factor::table(w, cloud_row(c, &c.wue_source)),
            None => Factor::default_because(WaterIntensity::ZERO, DEFAULT_WUE_WHY),
        },
    };
    // Off-site water is the generating grid's, as the intensity is: looked up by the zone that
    // serves the place (`grid_map.csv`), so a state and a cloud region on the same grid
    // (`US-VA`, `aws:us-east-1`: PJM) get the same figure.
    let water_zone = grid_zone.as_str();
    let w = ecotrace_data::offsite_water(water_zone);
    let mut water_row = TableRow::new("water", w.zone.clone(), w.source.clone())
        .year(w.year)
        .licence(w.license.clone());
    if !w.zone.eq_ignore_ascii_case(water_zone) {
        water_row = water_row.note(format!("no figure for {water_zone}; {} used", w.zone));
    } else if !w.zone.eq_ignore_ascii_case(&label)
        && resolved.as_ref().is_some_and(|r| r.cloud.is_none())
    {
        water_row = water_row.note(format!("the grid zone that serves {label}"));
    }
    let offsite_water = Factor::table(w.offsite, water_row);
    let electricity_price_given =
        user_number(f.electricity_price, "electricity_price", origins, |p| {
            if p.is_finite() && p >= 0.0 {
                Ok(p)
            } else {
                Err(format!(
                    "must be a non-negative price in USD per kWh, got {p}"
                ))
            }
        })?;
    Ok(Place {
        label,
        name,
        grid_zone,
        intensity,
        pue,
        wue,
        offsite_water,
        electricity_price_given,
        cloud: cloud.map(|c| (c.provider.clone(), c.region.clone())),
        notes,
    })
}

/// The bundled average electricity price of a place, in USD per kWh (converted from EUR at the
/// bundled ECB annual rate where published in EUR); `None` when none is bundled or convertible.
fn table_electricity_price(label: &str) -> Option<Factor<f64>> {
    let ep = ecotrace_data::electricity_price(label)?;
    let (usd, rate) = ep.usd_per_kwh_converted()?;
    let mut row = TableRow::new(
        "electricity prices",
        ep.zone.clone(),
        format!(
            "average electricity price {} ({}), {}: {}",
            ep.name, ep.zone, ep.sector, ep.source
        ),
    )
    .year(ep.period.clone())
    .licence(ep.license.clone());
    if let Some(r) = rate {
        row = row.note(format!(
            "{usd:.4} USD/kWh converted from {} {}/kWh at {} USD per {} ({}: {}, {})",
            ep.price_per_kwh,
            ep.currency,
            r.usd_per_unit,
            r.currency,
            r.period,
            r.source,
            r.license
        ));
    }
    Some(Factor::table(usd, row))
}

impl Place {
    /// The electricity price in USD per kWh: the user's, else the bundled average for the place.
    /// Looked up when asked, so that a command that charges no table price (`run`) does not load
    /// the price tables.
    pub fn electricity_price(&self) -> Option<Factor<f64>> {
        self.electricity_price_given
            .clone()
            .or_else(|| table_electricity_price(&self.label))
    }

    /// How the intensity was chosen, as the run record stores it.
    pub fn intensity_basis(&self) -> IntensityBasis {
        match self.intensity.provenance {
            Provenance::Given(_) => IntensityBasis::User,
            Provenance::Table(_) | Provenance::Live(_) => IntensityBasis::Zone,
            Provenance::Default { .. } => IntensityBasis::WorldDefault,
        }
    }

    /// The basis of the intensity (life-cycle or direct); `None` for a number the user gave.
    pub fn grid_basis(&self) -> Option<Accounting> {
        self.intensity.provenance.row().and_then(|r| r.basis)
    }

    /// The intensity as a run record stores it: the rendered provenance as its source.
    pub fn intensity_used(&self) -> IntensityUsed {
        let given_without_region =
            self.intensity.provenance.is_given() && self.label == ecotrace_data::WORLD_ID;
        IntensityUsed {
            value: self.intensity.value,
            zone: if given_without_region {
                "user".to_string()
            } else {
                self.label.clone()
            },
            source: self.intensity.provenance.to_string(),
            year: self
                .intensity
                .provenance
                .row()
                .and_then(|r| r.year.as_deref())
                .and_then(|y| y.parse().ok()),
            basis: self.intensity_basis(),
            grid_basis: self.grid_basis(),
            resolution: Default::default(),
            series: None,
            signal: Default::default(),
            live: None,
        }
    }

    pub fn pue_used(&self) -> PueUsed {
        PueUsed {
            value: self.pue.value,
            source: self.pue.provenance.to_string(),
        }
    }

    /// The water factors as a run record stores them (litres at zero until recomputed).
    pub fn water_used(&self) -> WaterUsed {
        WaterUsed {
            wue: self.wue.value,
            wue_source: self.wue.provenance.to_string(),
            offsite_factor: self.offsite_water.value,
            offsite_source: self.offsite_water.provenance.to_string(),
            onsite: Water::ZERO,
            offsite: Water::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provenance::Origin;
    use std::path::PathBuf;

    fn place(f: &FactorArgs, o: &Origins) -> Place {
        resolve_place(f.region.as_deref(), f, o).unwrap()
    }

    #[test]
    fn defaults_say_why() {
        let p = place(&FactorArgs::default(), &Origins::default());
        assert_eq!(p.label, "WORLD");
        assert!(p.intensity.provenance.is_default());
        assert_eq!(p.pue.value, Pue::ONE);
        assert_eq!(
            p.pue.provenance.to_string(),
            format!("default {DEFAULT_PUE_WHY}")
        );
        assert_eq!(p.wue.value, WaterIntensity::ZERO);
        assert_eq!(p.intensity_basis(), IntensityBasis::WorldDefault);
        assert!(p.notes[0].contains("world average"));
    }

    /// Off-site water follows the grid that serves the place, as the intensity does: a state and
    /// a cloud region on the same grid zone get the zone's figure, not the country's.
    #[test]
    fn offsite_water_is_the_serving_grid_zones() {
        let at = |r: &str| {
            place(
                &FactorArgs {
                    region: Some(r.into()),
                    ..Default::default()
                },
                &Origins::default(),
            )
        };
        let pjm = ecotrace_data::offsite_water("US-MIDA-PJM");
        assert_eq!(pjm.zone, "US-MIDA-PJM");
        // The country's figure differs, so a lookup by state (falling back to US) would fail.
        assert_ne!(ecotrace_data::offsite_water("US").offsite, pjm.offsite);
        for r in ["US-VA", "aws:us-east-1", "US-MIDA-PJM"] {
            let p = at(r);
            assert_eq!(p.grid_zone, "US-MIDA-PJM", "{r}");
            assert_eq!(p.offsite_water.value, pjm.offsite, "{r}");
            assert_eq!(p.offsite_water.provenance.row().unwrap().row, "US-MIDA-PJM");
            // ... and the intensity comes from the same zone.
            assert_eq!(
                p.intensity.provenance.row().unwrap().row,
                "US-MIDA-PJM",
                "{r}"
            );
        }
        assert!(at("US-VA")
            .offsite_water
            .provenance
            .to_string()
            .contains("the grid zone that serves US-VA"));
        let ca = at("US-CA");
        assert_eq!(
            ca.offsite_water.provenance.row().unwrap().row,
            "US-CAL-CISO"
        );
    }

    /// flag > env > config > region table > default, for every factor of a place.
    #[test]
    fn layering_for_each_factor() {
        let cfg = Origin::Config {
            key: "x".into(),
            file: PathBuf::from("/p/ecotrace.toml"),
        };
        for id in ["intensity", "pue", "wue", "electricity_price"] {
            for origin in [
                Origin::Flag(id.replace('_', "-")),
                Origin::Env(format!("ECOTRACE_{}", id.to_uppercase())),
                cfg.clone(),
                Origin::Keyword(id.into()),
            ] {
                let mut f = FactorArgs {
                    region: Some("aws:eu-west-3".into()),
                    ..Default::default()
                };
                let v = 1.25;
                match id {
                    "intensity" => f.intensity = Some(v),
                    "pue" => f.pue = Some(v),
                    "wue" => f.wue = Some(v),
                    _ => f.electricity_price = Some(v),
                }
                let mut o = Origins::default();
                o.set(id, origin.clone());
                let p = place(&f, &o);
                let (value, prov) = match id {
                    "intensity" => (p.intensity.value.g_per_kwh(), p.intensity.provenance),
                    "pue" => (p.pue.value.value(), p.pue.provenance),
                    "wue" => (p.wue.value.l_per_kwh(), p.wue.provenance),
                    _ => {
                        let e = p.electricity_price().unwrap();
                        (e.value, e.provenance)
                    }
                };
                assert_eq!(value, v, "{id}");
                assert_eq!(prov, Provenance::Given(origin), "{id}");
            }
        }
        // Nothing given: the cloud region's rows, then defaults where it has none.
        let f = FactorArgs {
            region: Some("aws:eu-west-3".into()),
            ..Default::default()
        };
        let p = place(&f, &Origins::default());
        for prov in [
            &p.intensity.provenance,
            &p.pue.provenance,
            &p.wue.provenance,
            &p.offsite_water.provenance,
        ] {
            assert!(matches!(prov, Provenance::Table(_)), "{prov}");
        }
        assert!(p.electricity_price_given.is_none());
        assert!(p.electricity_price().is_some());
        let fr = place(
            &FactorArgs {
                region: Some("FR".into()),
                ..Default::default()
            },
            &Origins::default(),
        );
        assert!(fr.pue.provenance.is_default());
        assert!(fr.wue.provenance.is_default());
        let row = fr.intensity.provenance.row().unwrap();
        assert_eq!((row.table, row.row.as_str()), ("zones", "FR"));
        assert_eq!(row.basis, Some(Accounting::Lifecycle));
        assert!(!row.licence.is_empty());
    }

    #[test]
    fn an_explicit_value_equal_to_the_default_is_given() {
        let f = FactorArgs {
            pue: Some(1.0),
            wue: Some(0.0),
            ..Default::default()
        };
        let p = place(&f, &Origins::default());
        assert_eq!(p.pue.provenance.to_string(), "given by the user (--pue)");
        assert_eq!(p.wue.provenance.to_string(), "given by the user (--wue)");
    }

    #[test]
    fn bad_values_and_regions_are_usage_errors_naming_their_origin() {
        let mut o = Origins::default();
        o.set("pue", Origin::Env("ECOTRACE_PUE".into()));
        let e = resolve_place(
            None,
            &FactorArgs {
                pue: Some(0.5),
                ..Default::default()
            },
            &o,
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("ECOTRACE_PUE: "), "{e}");
        assert!(resolve_place(Some("Atlantis"), &FactorArgs::default(), &o).is_err());
    }
}
