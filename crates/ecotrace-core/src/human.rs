//! The one number formatter of every human-facing output (terminal, Markdown, HTML, LaTeX):
//! three significant digits, and units scaled to the magnitude — mg / g / kg / t CO2e,
//! mWh / Wh / kWh / MWh, mL / L / m³ — so that no figure reads `0.0000000641 kgCO2e`. Machine
//! outputs (JSON, CSV) keep base units and full precision and do not use this. Pure functions.

/// Significant digits of human-facing numbers.
pub const SIG: u32 = 3;

/// `x` with `digits` significant digits, never in scientific notation for ordinary magnitudes and
/// never dropping integer digits: `0.000123456` → `0.000123`, `12.345` → `12.3`, `1234.6` → `1235`,
/// `0` → `0`. Values below 1e-9 or from 1e12 in magnitude use scientific notation (`1.23e-12`,
/// `3.14e21`) rather than a run of zeros. Non-finite values are `n/a`.
pub fn sig(x: f64, digits: u32) -> String {
    if !x.is_finite() {
        return "n/a".to_string();
    }
    if x == 0.0 {
        return "0".to_string();
    }
    let digits = digits.max(1) as i32;
    if x.abs() < 1e-9 || x.abs() >= 1e12 {
        return format!("{:.*e}", (digits - 1) as usize, x);
    }
    let decimals = |v: f64| (digits - 1 - decimal_exponent(v)).max(0) as usize;
    let d = decimals(x);
    let s = format!("{x:.d$}");
    // Rounding can carry into the next power of ten (0.0009996 → 0.001000): recount.
    let rounded: f64 = s.parse().unwrap_or(x);
    if rounded != 0.0 && decimals(rounded) < d {
        let d2 = decimals(rounded);
        return format!("{x:.d2$}");
    }
    s
}

/// `floor(log10(|v|))` for `1e-9 <= |v| < 1e13`, by comparison with the powers of ten: no call
/// into the C maths library, which `ecotrace-run` then does not load (docs/benchmarks.md).
fn decimal_exponent(v: f64) -> i32 {
    const POWERS: [f64; 22] = [
        1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
        1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
    ];
    let v = v.abs();
    POWERS.iter().take_while(|&&p| p <= v).count() as i32 - 10
}

/// A number with [`SIG`] significant digits.
pub fn num(x: f64) -> String {
    sig(x, SIG)
}

/// A quantity scaled to a readable unit: the number (three significant digits) and the unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scaled {
    pub number: String,
    pub unit: &'static str,
}

impl std::fmt::Display for Scaled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.number, self.unit)
    }
}

/// Picks the largest unit (by its size in the base unit) that the value reaches, else the
/// smallest; non-finite values keep the `base` unit.
fn scale(x: f64, units: &[(f64, &'static str)], base: &'static str) -> Scaled {
    if !x.is_finite() {
        return Scaled {
            number: "n/a".into(),
            unit: base,
        };
    }
    let a = x.abs();
    let &(size, unit) = units
        .iter()
        .rev()
        .find(|(size, _)| a >= *size * 0.99995)
        .unwrap_or(&units[0]);
    let (size, unit) = if x == 0.0 {
        units
            .iter()
            .find(|(_, u)| *u == base)
            .copied()
            .unwrap_or((size, unit))
    } else {
        (size, unit)
    };
    Scaled {
        number: num(x / size),
        unit,
    }
}

/// A mass of CO2e given in kg: `64.1 mgCO2e`, `1.52 gCO2e`, `3.40 kgCO2e`, `1.20 tCO2e`.
pub fn co2(kg: f64) -> Scaled {
    scale(
        kg,
        &[
            (1e-6, "mgCO2e"),
            (1e-3, "gCO2e"),
            (1.0, "kgCO2e"),
            (1e3, "tCO2e"),
        ],
        "kgCO2e",
    )
}

/// Energy given in kWh: `12.0 mWh`, `3.21 Wh`, `1.50 kWh`, `2.50 MWh`, `1.20 GWh`.
pub fn energy(kwh: f64) -> Scaled {
    scale(
        kwh,
        &[
            (1e-6, "mWh"),
            (1e-3, "Wh"),
            (1.0, "kWh"),
            (1e3, "MWh"),
            (1e6, "GWh"),
        ],
        "kWh",
    )
}

/// Water given in litres: `420 mL`, `1.20 L`, `3.40 m³`.
pub fn water(litres: f64) -> Scaled {
    scale(litres, &[(1e-3, "mL"), (1.0, "L"), (1e3, "m³")], "L")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn significant_digits() {
        assert_eq!(sig(0.000123456, 3), "0.000123");
        assert_eq!(sig(12.345, 3), "12.3");
        assert_eq!(sig(1234.6, 3), "1235");
        assert_eq!(sig(0.0, 3), "0");
        assert_eq!(sig(-0.0, 3), "0");
        assert_eq!(sig(3.1, 3), "3.10");
        assert_eq!(sig(0.00099996, 3), "0.00100");
        assert_eq!(sig(9.9996, 3), "10.0");
        assert_eq!(sig(-0.5, 2), "-0.50");
        assert_eq!(sig(f64::NAN, 3), "n/a");
        assert_eq!(sig(1.234e-12, 3), "1.23e-12");
        assert_eq!(sig(3.14159e21, 3), "3.14e21");
        assert_eq!(sig(123456789.0, 3), "123456789");
    }

    #[test]
    fn units_scale_to_the_magnitude() {
        assert_eq!(co2(0.0000000641).to_string(), "0.0641 mgCO2e");
        assert_eq!(co2(0.0000641).to_string(), "64.1 mgCO2e");
        assert_eq!(co2(0.001523).to_string(), "1.52 gCO2e");
        assert_eq!(co2(3.4).to_string(), "3.40 kgCO2e");
        assert_eq!(co2(1200.0).to_string(), "1.20 tCO2e");
        assert_eq!(co2(0.0).to_string(), "0 kgCO2e");
        assert_eq!(co2(-0.002).to_string(), "-2.00 gCO2e");
        // Rounding up into the next unit shows the next unit.
        assert_eq!(co2(0.9999999).to_string(), "1.00 kgCO2e");
        assert_eq!(energy(0.000012).to_string(), "12.0 mWh");
        assert_eq!(energy(0.00321).to_string(), "3.21 Wh");
        assert_eq!(energy(1.5).to_string(), "1.50 kWh");
        assert_eq!(energy(2500.0).to_string(), "2.50 MWh");
        assert_eq!(energy(0.0).to_string(), "0 kWh");
        assert_eq!(water(0.42).to_string(), "420 mL");
        assert_eq!(water(1.2).to_string(), "1.20 L");
        assert_eq!(water(3400.0).to_string(), "3.40 m³");
        assert_eq!(water(f64::NAN).to_string(), "n/a L");
    }
}
