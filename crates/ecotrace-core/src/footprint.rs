//! The footprint model: pure functions from energy and factors to emissions.
//!
//! operational CO2e = IT energy × PUE × grid intensity (location-based). No I/O, no lookups: the
//! caller passes every factor, so every figure can be traced to its inputs.

use crate::units::{CarbonIntensity, CarbonMass, Energy, Pue};

/// Operational emissions of IT energy drawn in a facility with the given PUE on a grid of the
/// given intensity.
pub fn operational(it_energy: Energy, pue: Pue, intensity: CarbonIntensity) -> CarbonMass {
    (it_energy * pue) * intensity
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
    }
}
