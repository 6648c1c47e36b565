//! The footprint model: pure functions from energy, time and factors to emissions, water and cost.
//!
//! - operational CO2e = IT energy × PUE × grid intensity (location-based);
//! - embodied CO2e (the Green Software Foundation SCI "M" term) = device embodied carbon × share
//!   of the device used × duration / expected lifetime;
//! - water = on-site (IT energy × WUE) + off-site (IT energy × PUE × water per kWh generated);
//! - cost = instance price per hour × hours, or facility energy × electricity price.
//!
//! No I/O, no lookups: the caller passes every factor, so every figure can be traced to its inputs.
//! See `docs/footprint.md`.

use std::time::Duration;

use crate::units::{
    CarbonIntensity, CarbonMass, Energy, Fraction, Lifetime, Pue, Usd, Water, WaterIntensity,
};

/// Operational emissions of IT energy drawn in a facility with the given PUE on a grid of the
/// given intensity.
pub fn operational(it_energy: Energy, pue: Pue, intensity: CarbonIntensity) -> CarbonMass {
    (it_energy * pue) * intensity
}

/// Embodied carbon charged for using `share` of a device for `duration` out of its `lifetime`
/// (SCI "M" = TE × TS/EL × RS: total embodied × time share × resource share).
pub fn embodied(
    device: CarbonMass,
    share: Fraction,
    lifetime: Lifetime,
    duration: Duration,
) -> CarbonMass {
    device * (share.value() * lifetime.fraction(duration))
}

/// Share of a host's embodied carbon charged to a job that uses `used` of the host's `total`
/// devices (GPUs on a GPU server, or sockets on a CPU server). A host with no countable devices,
/// or a job using all of them (or more), is charged whole.
pub fn host_share(used: u32, total: u32) -> Fraction {
    if total == 0 || used >= total {
        Fraction::ONE
    } else {
        Fraction::new(used as f64 / total as f64).expect("used < total gives a fraction")
    }
}

/// Water consumed by a job, split where it is consumed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WaterSplit {
    /// In the data centre, for cooling: IT energy × WUE.
    pub onsite: Water,
    /// At power plants, to generate the facility's electricity: IT energy × PUE × factor.
    pub offsite: Water,
}

impl WaterSplit {
    pub fn total(self) -> Water {
        self.onsite + self.offsite
    }
}

/// On-site and off-site water of `it_energy` drawn in a facility with `pue` and on-site `wue`
/// (L per kWh of IT energy), supplied by a grid consuming `offsite` litres per kWh generated.
pub fn water(
    it_energy: Energy,
    pue: Pue,
    wue: WaterIntensity,
    offsite: WaterIntensity,
) -> WaterSplit {
    WaterSplit {
        onsite: it_energy * wue,
        offsite: (it_energy * pue) * offsite,
    }
}

/// Cost of renting `instances` instances at `usd_per_hour` each for `duration`.
pub fn cost_rental(usd_per_hour: f64, instances: f64, duration: Duration) -> Usd {
    Usd::from_usd(usd_per_hour * instances * duration.as_secs_f64() / 3600.0)
}

/// Cost of the electricity a facility draws for `it_energy` at `usd_per_kwh`.
pub fn cost_electricity(it_energy: Energy, pue: Pue, usd_per_kwh: f64) -> Usd {
    Usd::from_usd((it_energy * pue).kwh() * usd_per_kwh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const YEAR: f64 = crate::units::SECONDS_PER_YEAR;

    #[test]
    fn embodied_worked_example() {
        // A 150 kg GPU used whole for one day of a 5-year life: 150 / (5 × 365.25) kg.
        let c = embodied(
            CarbonMass::from_kg(150.0),
            Fraction::ONE,
            Lifetime::from_years(5.0).unwrap(),
            Duration::from_secs(86_400),
        );
        assert!((c.kg() - 150.0 / (5.0 * 365.25)).abs() < 1e-12);
        // Half of a 2,500 kg host for a year of a 4-year life: 312.5 kg.
        let h = embodied(
            CarbonMass::from_kg(2500.0),
            host_share(4, 8),
            Lifetime::from_years(4.0).unwrap(),
            Duration::from_secs_f64(YEAR),
        );
        assert!((h.kg() - 312.5).abs() < 1e-9);
    }

    #[test]
    fn host_share_edges() {
        assert_eq!(host_share(0, 0), Fraction::ONE);
        assert_eq!(host_share(8, 8), Fraction::ONE);
        assert_eq!(host_share(9, 8), Fraction::ONE);
        assert_eq!(host_share(1, 4).value(), 0.25);
        assert_eq!(host_share(0, 4).value(), 0.0);
    }

    #[test]
    fn water_worked_example() {
        // 10 kWh IT, PUE 1.2, WUE 0.5 L/kWh, 2 L/kWh generated: 5 L on site, 24 L off site.
        let w = water(
            Energy::from_kwh(10.0),
            Pue::new(1.2).unwrap(),
            WaterIntensity::from_l_per_kwh(0.5).unwrap(),
            WaterIntensity::from_l_per_kwh(2.0).unwrap(),
        );
        assert!((w.onsite.litres() - 5.0).abs() < 1e-9);
        assert!((w.offsite.litres() - 24.0).abs() < 1e-9);
        assert!((w.total().litres() - 29.0).abs() < 1e-9);
    }

    #[test]
    fn cost_worked_examples() {
        let r = cost_rental(32.77, 2.0, Duration::from_secs(5400));
        assert!((r.usd() - 98.31).abs() < 1e-9);
        let e = cost_electricity(Energy::from_kwh(100.0), Pue::new(1.5).unwrap(), 0.2);
        assert!((e.usd() - 30.0).abs() < 1e-9);
    }

    #[test]
    fn worked_example() {
        // 10 kWh of IT energy, PUE 1.2, 50 g/kWh: 12 kWh at the meter, 600 g.
        let c = operational(
            Energy::from_kwh(10.0),
            Pue::new(1.2).unwrap(),
            CarbonIntensity::from_g_per_kwh(50.0).unwrap(),
        );
        assert!((c.grams() - 600.0).abs() < 1e-9);
    }

    proptest! {
        #[test]
        fn linear_in_energy_and_monotone_in_factors(
            kwh in 0.0f64..1e6, pue in 1.0f64..3.0, g in 0.0f64..1500.0, k in 0.0f64..10.0
        ) {
            let p = Pue::new(pue).unwrap();
            let ci = CarbonIntensity::from_g_per_kwh(g).unwrap();
            let a = operational(Energy::from_kwh(kwh), p, ci);
            let b = operational(Energy::from_kwh(kwh * k), p, ci);
            prop_assert!((b.grams() - a.grams() * k).abs() <= 1e-6 * (1.0 + b.grams().abs()));
            prop_assert!(a.grams() >= 0.0);
            let higher = operational(Energy::from_kwh(kwh), p, CarbonIntensity::from_g_per_kwh(g + 1.0).unwrap());
            prop_assert!(higher.grams() >= a.grams());
            // PUE never lowers emissions below the IT energy's own.
            prop_assert!(a.grams() + 1e-9 >= Energy::from_kwh(kwh).kwh() * g);
        }

        #[test]
        fn embodied_is_linear_in_time_and_never_negative(
            kg in 0.0f64..1e5, share in 0.0f64..=1.0, years in 0.1f64..20.0,
            secs in 0.0f64..1e9, k in 0.0f64..100.0
        ) {
            let l = Lifetime::from_years(years).unwrap();
            let f = Fraction::new(share).unwrap();
            let a = embodied(CarbonMass::from_kg(kg), f, l, Duration::from_secs_f64(secs));
            let b = embodied(CarbonMass::from_kg(kg), f, l, Duration::from_secs_f64(secs * k));
            prop_assert!(a.kg().is_finite() && a.kg() >= 0.0);
            prop_assert!((b.kg() - a.kg() * k).abs() <= 1e-6 * (1.0 + b.kg()));
            // A whole lifetime charges the whole (shared) device.
            let life = embodied(CarbonMass::from_kg(kg), f, l, Duration::from_secs_f64(years * YEAR));
            prop_assert!((life.kg() - kg * share).abs() <= 1e-6 * (1.0 + kg));
        }

        #[test]
        fn water_is_linear_and_non_negative(
            kwh in 0.0f64..1e6, pue in 1.0f64..3.0, wue in 0.0f64..10.0, off in 0.0f64..10.0,
            k in 0.0f64..100.0
        ) {
            let p = Pue::new(pue).unwrap();
            let (w1, w2) = (WaterIntensity::from_l_per_kwh(wue).unwrap(), WaterIntensity::from_l_per_kwh(off).unwrap());
            let a = water(Energy::from_kwh(kwh), p, w1, w2);
            let b = water(Energy::from_kwh(kwh * k), p, w1, w2);
            prop_assert!(a.onsite.litres() >= 0.0 && a.offsite.litres() >= 0.0);
            prop_assert!((b.total().litres() - a.total().litres() * k).abs() <= 1e-6 * (1.0 + b.total().litres()));
        }
    }
}
