//! Physical quantities as types: energy, power, mass of CO2e, carbon intensity, water, PUE.
//!
//! Each type stores one SI-ish base unit privately (joules, watts, grams, g/kWh, litres) and only
//! converts at the edges, so a kWh can never be passed where a gram is expected. This module does no
//! I/O and never formats for display beyond `Display` impls that name the unit.

use std::fmt;
use std::ops::{Add, AddAssign, Div, Mul, Sub};
use std::time::Duration;

use serde::{Deserialize, Serialize};

const J_PER_KWH: f64 = 3_600_000.0;
const J_PER_WH: f64 = 3_600.0;

macro_rules! quantity {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(f64);

        impl $name {
            pub const ZERO: $name = $name(0.0);
            /// True for finite values (NaN and infinities are never valid measurements).
            pub fn is_finite(self) -> bool {
                self.0.is_finite()
            }
            /// The larger of two quantities.
            pub fn max(self, other: $name) -> $name {
                $name(self.0.max(other.0))
            }
        }
        impl Add for $name {
            type Output = $name;
            fn add(self, o: $name) -> $name {
                $name(self.0 + o.0)
            }
        }
        impl AddAssign for $name {
            fn add_assign(&mut self, o: $name) {
                self.0 += o.0;
            }
        }
        impl Sub for $name {
            type Output = $name;
            fn sub(self, o: $name) -> $name {
                $name(self.0 - o.0)
            }
        }
        impl Mul<f64> for $name {
            type Output = $name;
            fn mul(self, k: f64) -> $name {
                $name(self.0 * k)
            }
        }
        impl Div<$name> for $name {
            type Output = f64;
            fn div(self, o: $name) -> f64 {
                self.0 / o.0
            }
        }
        impl std::iter::Sum for $name {
            fn sum<I: Iterator<Item = $name>>(iter: I) -> $name {
                $name(iter.map(|q| q.0).sum())
            }
        }
    };
}

quantity!(
    /// Energy. Stored in joules.
    Energy
);
quantity!(
    /// Power. Stored in watts.
    Power
);
quantity!(
    /// Mass of CO2-equivalent. Stored in grams.
    CarbonMass
);
quantity!(
    /// Volume of water. Stored in litres.
    Water
);
quantity!(
    /// An amount of money in US dollars.
    Usd
);

impl Energy {
    pub fn from_joules(j: f64) -> Self {
        Energy(j)
    }
    pub fn from_microjoules(uj: u64) -> Self {
        Energy(uj as f64 / 1e6)
    }
    pub fn from_millijoules(mj: u64) -> Self {
        Energy(mj as f64 / 1e3)
    }
    pub fn from_kwh(kwh: f64) -> Self {
        Energy(kwh * J_PER_KWH)
    }
    pub fn from_wh(wh: f64) -> Self {
        Energy(wh * J_PER_WH)
    }
    pub fn joules(self) -> f64 {
        self.0
    }
    pub fn wh(self) -> f64 {
        self.0 / J_PER_WH
    }
    pub fn kwh(self) -> f64 {
        self.0 / J_PER_KWH
    }
}

impl Power {
    pub fn from_watts(w: f64) -> Self {
        Power(w)
    }
    pub fn from_milliwatts(mw: u64) -> Self {
        Power(mw as f64 / 1e3)
    }
    pub fn watts(self) -> f64 {
        self.0
    }
}

impl CarbonMass {
    pub fn from_grams(g: f64) -> Self {
        CarbonMass(g)
    }
    pub fn from_kg(kg: f64) -> Self {
        CarbonMass(kg * 1e3)
    }
    pub fn grams(self) -> f64 {
        self.0
    }
    pub fn kg(self) -> f64 {
        self.0 / 1e3
    }
}

impl Water {
    pub fn from_litres(l: f64) -> Self {
        Water(l)
    }
    pub fn litres(self) -> f64 {
        self.0
    }
}

impl Usd {
    pub fn from_usd(usd: f64) -> Self {
        Usd(usd)
    }
    pub fn usd(self) -> f64 {
        self.0
    }
}

/// Power sustained for a duration is energy.
impl Mul<Duration> for Power {
    type Output = Energy;
    fn mul(self, d: Duration) -> Energy {
        Energy(self.0 * d.as_secs_f64())
    }
}

/// Energy over a duration is mean power. A zero duration gives zero power, not infinity.
impl Div<Duration> for Energy {
    type Output = Power;
    fn div(self, d: Duration) -> Power {
        let s = d.as_secs_f64();
        if s > 0.0 {
            Power(self.0 / s)
        } else {
            Power(0.0)
        }
    }
}

/// Grid carbon intensity in grams of CO2e per kWh of electricity.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CarbonIntensity(f64);

impl CarbonIntensity {
    /// A grid intensity; rejects negative or non-finite values.
    pub fn from_g_per_kwh(g: f64) -> Result<Self, UnitError> {
        if g.is_finite() && g >= 0.0 {
            Ok(CarbonIntensity(g))
        } else {
            Err(UnitError::Intensity(g))
        }
    }
    pub fn g_per_kwh(self) -> f64 {
        self.0
    }
}

impl Mul<CarbonIntensity> for Energy {
    type Output = CarbonMass;
    fn mul(self, ci: CarbonIntensity) -> CarbonMass {
        CarbonMass(self.kwh() * ci.0)
    }
}

/// Power usage effectiveness of a data centre: facility energy / IT energy, at least 1.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pue(f64);

impl Pue {
    /// PUE of 1.0: no overhead counted (a laptop, or unknown facility).
    pub const ONE: Pue = Pue(1.0);

    pub fn new(x: f64) -> Result<Self, UnitError> {
        if x.is_finite() && (1.0..=5.0).contains(&x) {
            Ok(Pue(x))
        } else {
            Err(UnitError::Pue(x))
        }
    }
    pub fn value(self) -> f64 {
        self.0
    }
}

/// IT energy times PUE is facility energy.
impl Mul<Pue> for Energy {
    type Output = Energy;
    fn mul(self, p: Pue) -> Energy {
        Energy(self.0 * p.0)
    }
}

/// Water consumed per kWh: a data centre's WUE (litres per kWh of IT energy) or the water
/// consumed to generate a kWh of electricity (litres per kWh at the meter).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WaterIntensity(f64);

impl WaterIntensity {
    pub const ZERO: WaterIntensity = WaterIntensity(0.0);

    /// Rejects negative or non-finite values.
    pub fn from_l_per_kwh(l: f64) -> Result<Self, UnitError> {
        if l.is_finite() && l >= 0.0 {
            Ok(WaterIntensity(l))
        } else {
            Err(UnitError::WaterIntensity(l))
        }
    }
    pub fn l_per_kwh(self) -> f64 {
        self.0
    }
}

impl Mul<WaterIntensity> for Energy {
    type Output = Water;
    fn mul(self, w: WaterIntensity) -> Water {
        Water(self.kwh() * w.0)
    }
}

/// The expected service life of a device, over which its embodied carbon is spread. Stored in
/// years of 365.25 days; always positive and finite.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Lifetime(f64);

/// Seconds in a year of 365.25 days.
pub const SECONDS_PER_YEAR: f64 = 365.25 * 24.0 * 3600.0;

impl Lifetime {
    pub fn from_years(y: f64) -> Result<Self, UnitError> {
        if y.is_finite() && y > 0.0 && y <= 100.0 {
            Ok(Lifetime(y))
        } else {
            Err(UnitError::Lifetime(y))
        }
    }
    pub fn years(self) -> f64 {
        self.0
    }
    pub fn hours(self) -> f64 {
        self.0 * SECONDS_PER_YEAR / 3600.0
    }
    /// The share of this lifetime that `d` takes (may exceed 1 for a run longer than the life).
    pub fn fraction(self, d: Duration) -> f64 {
        d.as_secs_f64() / (self.0 * SECONDS_PER_YEAR)
    }
}

/// A fraction between 0 and 1 inclusive: a utilization, a share of a device, an MFU.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fraction(f64);

impl Fraction {
    pub const ZERO: Fraction = Fraction(0.0);
    pub const ONE: Fraction = Fraction(1.0);

    pub fn new(x: f64) -> Result<Self, UnitError> {
        if x.is_finite() && (0.0..=1.0).contains(&x) {
            Ok(Fraction(x))
        } else {
            Err(UnitError::Fraction(x))
        }
    }
    pub fn value(self) -> f64 {
        self.0
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum UnitError {
    #[error("water intensity must be a non-negative number of L/kWh, got {0}")]
    WaterIntensity(f64),
    #[error("lifetime must be a positive number of years (at most 100), got {0}")]
    Lifetime(f64),
    #[error("a fraction must be between 0 and 1, got {0}")]
    Fraction(f64),
    #[error("carbon intensity must be a non-negative number of gCO2e/kWh, got {0}")]
    Intensity(f64),
    #[error("PUE must be between 1.0 and 5.0 (facility energy / IT energy), got {0}")]
    Pue(f64),
    #[error("invalid duration {0:?}: use a number with a unit, e.g. 500ms, 2s, 1m, 1h")]
    Duration(String),
}

/// Parses a human duration: `500ms`, `2s`, `1.5s`, `1m`, `1h`, or a bare number of seconds.
/// Zero and negative durations are rejected.
pub fn parse_duration(s: &str) -> Result<Duration, UnitError> {
    let t = s.trim();
    let err = || UnitError::Duration(s.to_string());
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num.parse().map_err(|_| err())?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" | "sec" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(err()),
    };
    if !(secs.is_finite() && secs > 0.0) {
        return Err(err());
    }
    Ok(Duration::from_secs_f64(secs))
}

impl fmt::Display for Energy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wh = self.wh();
        if wh.abs() >= 1000.0 {
            write!(f, "{:.3} kWh", self.kwh())
        } else {
            write!(f, "{:.3} Wh", wh)
        }
    }
}

impl fmt::Display for Power {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} W", self.0)
    }
}

impl fmt::Display for CarbonMass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.abs() >= 1000.0 {
            write!(f, "{:.3} kgCO2e", self.kg())
        } else {
            write!(f, "{:.3} gCO2e", self.0)
        }
    }
}

impl fmt::Display for Water {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3} L", self.0)
    }
}

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2} USD", self.0)
    }
}

impl fmt::Display for CarbonIntensity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.1} gCO2e/kWh", self.0)
    }
}

/// Serde adapters that write a typed quantity as a plain number in a named unit, so that the JSON
/// field name carries the unit (`energy_kwh`, `mean_power_w`) while Rust code keeps the type.
pub mod serde_as {
    macro_rules! adapter {
        ($modname:ident, $ty:ty, $to:expr, $from:expr) => {
            pub mod $modname {
                #[allow(unused_imports)]
                use super::super::*;
                use serde::{Deserialize, Deserializer, Serializer};
                pub fn serialize<S: Serializer>(v: &$ty, s: S) -> Result<S::Ok, S::Error> {
                    #[allow(clippy::redundant_closure_call)]
                    s.serialize_f64(($to)(*v))
                }
                pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                    let x = f64::deserialize(d)?;
                    #[allow(clippy::redundant_closure_call)]
                    Ok(($from)(x))
                }
            }
        };
    }
    adapter!(kwh, Energy, |e: Energy| e.kwh(), Energy::from_kwh);
    adapter!(watts, Power, |p: Power| p.watts(), Power::from_watts);
    adapter!(kg, CarbonMass, |c: CarbonMass| c.kg(), CarbonMass::from_kg);
    adapter!(litres, Water, |w: Water| w.litres(), Water::from_litres);
    adapter!(usd, Usd, |u: Usd| u.usd(), Usd::from_usd);

    /// Optional quantities: `null` when absent.
    macro_rules! opt_adapter {
        ($modname:ident, $ty:ty, $to:expr, $from:expr) => {
            pub mod $modname {
                #[allow(unused_imports)]
                use super::super::*;
                use serde::{Deserialize, Deserializer, Serializer};
                pub fn serialize<S: Serializer>(v: &Option<$ty>, s: S) -> Result<S::Ok, S::Error> {
                    match v {
                        #[allow(clippy::redundant_closure_call)]
                        Some(v) => s.serialize_some(&($to)(*v)),
                        None => s.serialize_none(),
                    }
                }
                pub fn deserialize<'de, D: Deserializer<'de>>(
                    d: D,
                ) -> Result<Option<$ty>, D::Error> {
                    let x = Option::<f64>::deserialize(d)?;
                    #[allow(clippy::redundant_closure_call)]
                    Ok(x.map($from))
                }
            }
        };
    }
    opt_adapter!(
        opt_kg,
        CarbonMass,
        |c: CarbonMass| c.kg(),
        CarbonMass::from_kg
    );
    opt_adapter!(opt_litres, Water, |w: Water| w.litres(), Water::from_litres);
    opt_adapter!(opt_usd, Usd, |u: Usd| u.usd(), Usd::from_usd);
    adapter!(
        seconds,
        std::time::Duration,
        |d: std::time::Duration| d.as_secs_f64(),
        |s: f64| std::time::Duration::from_secs_f64(s.max(0.0))
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_conversions_round_trip() {
        let e = Energy::from_kwh(1.5);
        assert_eq!(e.joules(), 5_400_000.0);
        assert!((e.wh() - 1500.0).abs() < 1e-9);
        assert_eq!(Energy::from_microjoules(2_500_000).joules(), 2.5);
        assert_eq!(Energy::from_millijoules(1500).joules(), 1.5);
    }

    #[test]
    fn power_times_time_is_energy_and_back() {
        let e = Power::from_watts(100.0) * Duration::from_secs(36);
        assert!((e.wh() - 1.0).abs() < 1e-12);
        assert_eq!((e / Duration::from_secs(36)).watts(), 100.0);
        assert_eq!((e / Duration::ZERO).watts(), 0.0);
    }

    #[test]
    fn energy_times_intensity_is_carbon() {
        let ci = CarbonIntensity::from_g_per_kwh(400.0).unwrap();
        let c = Energy::from_kwh(2.0) * ci;
        assert_eq!(c.grams(), 800.0);
        assert_eq!(c.kg(), 0.8);
        assert!(CarbonIntensity::from_g_per_kwh(-1.0).is_err());
        assert!(CarbonIntensity::from_g_per_kwh(f64::NAN).is_err());
    }

    #[test]
    fn pue_is_validated() {
        assert!(Pue::new(0.9).is_err());
        assert!(Pue::new(f64::INFINITY).is_err());
        assert_eq!((Energy::from_kwh(1.0) * Pue::new(1.5).unwrap()).kwh(), 1.5);
    }

    #[test]
    fn new_units_are_validated() {
        assert!(WaterIntensity::from_l_per_kwh(-0.1).is_err());
        let w = Energy::from_kwh(2.0) * WaterIntensity::from_l_per_kwh(1.5).unwrap();
        assert_eq!(w.litres(), 3.0);
        assert!(Lifetime::from_years(0.0).is_err());
        assert!(Lifetime::from_years(f64::NAN).is_err());
        let l = Lifetime::from_years(4.0).unwrap();
        assert!((l.hours() - 35_064.0).abs() < 1e-9);
        let one_year = Duration::from_secs_f64(SECONDS_PER_YEAR);
        assert!((l.fraction(one_year) - 0.25).abs() < 1e-12);
        assert!(Fraction::new(1.01).is_err());
        assert!(Fraction::new(-0.0).is_ok());
        assert_eq!(Usd::from_usd(1.5).to_string(), "1.50 USD");
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2s").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration(" 1h ").unwrap(), Duration::from_secs(3600));
        for bad in ["", "0s", "-1s", "ms", "2 parsecs", "1e3s"] {
            assert!(parse_duration(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn display_names_units() {
        assert_eq!(Energy::from_wh(12.0).to_string(), "12.000 Wh");
        assert_eq!(Energy::from_kwh(2.0).to_string(), "2.000 kWh");
        assert_eq!(CarbonMass::from_kg(1.5).to_string(), "1.500 kgCO2e");
        assert_eq!(Power::from_watts(2.71).to_string(), "2.7 W");
    }
}
