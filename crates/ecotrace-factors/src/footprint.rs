//! Factors of the footprint that do not depend on the place: the hardware's service life (over
//! which embodied carbon is spread) and a price per hour the user gives.

use ecotrace_core::estimate::DEFAULT_LIFETIME_YEARS;
use ecotrace_core::Lifetime;

use crate::options::{FactorArgs, Origins};
use crate::provenance::Factor;
use crate::FactorError;

/// The service life: the user's, else the default.
pub fn resolve_lifetime(
    f: &FactorArgs,
    origins: &Origins,
) -> Result<Factor<Lifetime>, FactorError> {
    match f.lifetime_years {
        Some(y) => {
            let origin = origins.get("lifetime_years");
            let l = Lifetime::from_years(y)
                .map_err(|e| FactorError::Usage(format!("{origin}: {e}")))?;
            Ok(Factor::given(l, origin))
        }
        None => Ok(Factor::default_because(
            Lifetime::from_years(DEFAULT_LIFETIME_YEARS).expect("the default lifetime is valid"),
            format!("{DEFAULT_LIFETIME_YEARS} years (docs/footprint.md); pass --lifetime-years"),
        )),
    }
}

/// The price per device-hour the user gave (the same meaning for a run and for
/// an estimate), checked.
pub fn price_per_hour(
    f: &FactorArgs,
    origins: &Origins,
) -> Result<Option<Factor<f64>>, FactorError> {
    let Some(p) = f.price_per_hour else {
        return Ok(None);
    };
    let origin = origins.get("price_per_hour");
    if !(p.is_finite() && p >= 0.0) {
        return Err(FactorError::Usage(format!(
            "{origin} must be a non-negative price in USD, got {p}"
        )));
    }
    Ok(Some(Factor::given(p, origin)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provenance::{Origin, Provenance};

    #[test]
    fn lifetime_layers_and_checks() {
        let d = resolve_lifetime(&FactorArgs::default(), &Origins::default()).unwrap();
        assert_eq!(d.value.years(), DEFAULT_LIFETIME_YEARS);
        assert!(d.provenance.is_default());
        let mut o = Origins::default();
        o.set(
            "lifetime_years",
            Origin::Env("ECOTRACE_LIFETIME_YEARS".into()),
        );
        let f = FactorArgs {
            lifetime_years: Some(DEFAULT_LIFETIME_YEARS),
            price_per_hour: Some(2.0),
            ..Default::default()
        };
        let g = resolve_lifetime(&f, &o).unwrap();
        assert_eq!(
            g.provenance,
            Provenance::Given(Origin::Env("ECOTRACE_LIFETIME_YEARS".into()))
        );
        assert!(price_per_hour(&f, &o)
            .unwrap()
            .unwrap()
            .provenance
            .is_given());
        let bad = FactorArgs {
            lifetime_years: Some(0.0),
            price_per_hour: Some(-1.0),
            ..Default::default()
        };
        assert!(resolve_lifetime(&bad, &o).is_err());
        assert!(price_per_hour(&bad, &o).is_err());
    }
}
