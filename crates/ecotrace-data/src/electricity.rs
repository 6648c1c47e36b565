//! Table 8: average electricity prices by country (Eurostat, EUR) and US state (EIA, USD), from
//! `data/electricity_prices.csv`, each with its source, period and licence. They give the cost of a
//! job on the basis "electricity" (energy at the meter × price) where no instance price applies.
//! Prices are kept in the currency the source publishes; [`ElectricityPrice::usd_per_kwh_converted`]
//! converts EUR prices to USD at the bundled ECB annual average rate of the price's year
//! (`data/exchange_rates.csv`, [`exchange_rate`]).

use std::sync::OnceLock;

use serde::Serialize;

use crate::cloud::{canonical_provider, cloud_region};
use crate::csv::Table;
use crate::zones;

const ELECTRICITY_CSV: &str = include_str!("../data/electricity_prices.csv");
const EXCHANGE_CSV: &str = include_str!("../data/exchange_rates.csv");

/// A bundled exchange rate: how many US dollars one unit of `currency` bought on average over
/// `period`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExchangeRate {
    /// ISO 4217 code (`EUR`).
    pub currency: String,
    pub usd_per_unit: f64,
    /// The year (`2022`) the average covers.
    pub period: String,
    pub source: String,
    pub license: String,
}

fn load_rates() -> Result<Vec<ExchangeRate>, String> {
    let t = Table::parse("exchange_rates.csv", EXCHANGE_CSV)?;
    let c = |n: &str| t.col(n);
    t.rows
        .iter()
        .map(|r| {
            let currency = r[c("currency")].trim().to_string();
            let rate = r[c("usd_per_unit")]
                .trim()
                .parse::<f64>()
                .map_err(|e| format!("exchange_rates.csv {currency}: usd_per_unit: {e}"))?;
            if !(rate.is_finite() && rate > 0.0) {
                return Err(format!(
                    "exchange_rates.csv {currency}: implausible rate {rate}"
                ));
            }
            let field = |col: &str| -> Result<String, String> {
                let v = r[c(col)].trim();
                if v.is_empty() {
                    Err(format!("exchange_rates.csv {currency}: empty {col}"))
                } else {
                    Ok(v.to_string())
                }
            };
            Ok(ExchangeRate {
                usd_per_unit: rate,
                period: field("period")?,
                source: field("source")?,
                license: field("license")?,
                currency,
            })
        })
        .collect()
}

/// Every bundled exchange rate.
pub fn exchange_rates() -> &'static [ExchangeRate] {
    static TABLE: OnceLock<Vec<ExchangeRate>> = OnceLock::new();
    TABLE.get_or_init(|| load_rates().unwrap_or_else(|e| panic!("bundled data: {e}")))
}

/// The bundled rate of `currency` to USD over `period` (a year, `2022`; a half-year period such
/// as `2022-S2` takes its year's rate). `None` where none is bundled.
pub fn exchange_rate(currency: &str, period: &str) -> Option<&'static ExchangeRate> {
    let year = period.split('-').next().unwrap_or(period).trim();
    exchange_rates()
        .iter()
        .find(|r| r.currency.eq_ignore_ascii_case(currency) && r.period == year)
}

/// The average price of electricity in one country or US state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ElectricityPrice {
    /// Zone id of `zones.csv`: ISO country code (`FR`) or US state (`US-CA`).
    pub zone: String,
    pub name: String,
    /// Price per kWh in [`currency`](Self::currency).
    pub price_per_kwh: f64,
    /// ISO 4217 code as published by the source: `EUR` (Eurostat) or `USD` (EIA).
    pub currency: String,
    /// Period the average covers (`2022-S2`, `2023`).
    pub period: String,
    /// Which consumers and taxes the average covers.
    pub sector: String,
    pub source: String,
    pub license: String,
}

impl ElectricityPrice {
    /// The price in USD per kWh, for rows published in USD; `None` otherwise (no exchange rate is
    /// bundled).
    pub fn usd_per_kwh(&self) -> Option<f64> {
        (self.currency == "USD").then_some(self.price_per_kwh)
    }

    /// The price in USD per kWh: as published for USD rows, else converted at the bundled
    /// annual average exchange rate of the price's year, which is returned with it. `None` when
    /// no rate is bundled for the currency and year.
    pub fn usd_per_kwh_converted(&self) -> Option<(f64, Option<&'static ExchangeRate>)> {
        if let Some(p) = self.usd_per_kwh() {
            return Some((p, None));
        }
        let rate = exchange_rate(&self.currency, &self.period)?;
        Some((self.price_per_kwh * rate.usd_per_unit, Some(rate)))
    }
}

fn load() -> Result<Vec<ElectricityPrice>, String> {
    let t = Table::parse("electricity_prices.csv", ELECTRICITY_CSV)?;
    let c = |n: &str| t.col(n);
    t.rows
        .iter()
        .map(|r| {
            let zone = r[c("zone")].trim().to_string();
            let price = r[c("price_per_kwh")]
                .trim()
                .parse::<f64>()
                .map_err(|e| format!("electricity_prices.csv {zone}: price_per_kwh: {e}"))?;
            // Retail averages lie between a few cents and about a euro or dollar per kWh.
            if !(price.is_finite() && price > 0.0 && price < 2.0) {
                return Err(format!(
                    "electricity_prices.csv {zone}: implausible price {price}"
                ));
            }
            let field = |col: &str| -> Result<String, String> {
                let v = r[c(col)].trim();
                if v.is_empty() {
                    Err(format!("electricity_prices.csv {zone}: empty {col}"))
                } else {
                    Ok(v.to_string())
                }
            };
            Ok(ElectricityPrice {
                name: field("name")?,
                price_per_kwh: price,
                currency: field("currency")?,
                period: field("period")?,
                sector: field("sector")?,
                source: field("source")?,
                license: field("license")?,
                zone,
            })
        })
        .collect()
}

/// Every bundled electricity price.
pub fn electricity_prices() -> &'static [ElectricityPrice] {
    static TABLE: OnceLock<Vec<ElectricityPrice>> = OnceLock::new();
    TABLE.get_or_init(|| load().unwrap_or_else(|e| panic!("bundled data: {e}")))
}

fn by_zone(id: &str) -> Option<&'static ElectricityPrice> {
    electricity_prices()
        .iter()
        .find(|p| p.zone.eq_ignore_ascii_case(id))
}

/// The zone itself, else its country (the part before the first `-`: `DK-DK1` → `DK`).
fn zone_or_country(id: &str) -> Option<&'static ElectricityPrice> {
    by_zone(id).or_else(|| id.split_once('-').and_then(|(country, _)| by_zone(country)))
}

/// A US state named by a cloud region's published location: the whole location (`Iowa`) or its
/// part in parentheses (`US East (Ohio)`).
fn us_state_by_location(location: &str) -> Option<&'static ElectricityPrice> {
    let inner = location
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(s, _)| s.trim());
    [Some(location.trim()), inner]
        .into_iter()
        .flatten()
        .find_map(|name| {
            electricity_prices()
                .iter()
                .find(|p| p.zone.starts_with("US-") && p.name.eq_ignore_ascii_case(name))
        })
}

/// The average electricity price for a place, as the user names it: a zone id or alias of
/// `zones.csv` (`FR`, `FRA`, `US-CA`, `DK-DK1`) or a cloud region (`gcp:europe-west9`,
/// `aws:us-east-2`). Lookup order: the zone's own row; for a cloud region in a US grid zone, the
/// US state its published location names (`gcp:us-central1`, "Iowa" → `US-IA`); then the zone's
/// country (`DK-DK1` → `DK`). `None` when nothing is bundled for it: the cost is then left out.
pub fn electricity_price(region: &str) -> Option<&'static ElectricityPrice> {
    let region = region.trim();
    if let Some((provider, name)) = region.split_once(':') {
        let cr = cloud_region(canonical_provider(provider)?, name)?;
        return cr
            .state
            .as_deref()
            .and_then(by_zone)
            .or_else(|| by_zone(&cr.zone))
            .or_else(|| {
                cr.zone
                    .starts_with("US")
                    .then(|| us_state_by_location(&cr.location))
                    .flatten()
            })
            .or_else(|| zone_or_country(&cr.zone));
    }
    let id = zones::zone(region)
        .map(|z| z.id.as_str())
        .or_else(|| zones::grid_mapping(region).map(|m| m.id.as_str()))
        .unwrap_or(region);
    zone_or_country(id)
}

/// [`electricity_price`], but only where the bundled price is published in USD: today the US
/// states. European prices are in EUR and give `None` here; use
/// [`ElectricityPrice::usd_per_kwh_converted`] for them.
pub fn electricity_price_usd(region: &str) -> Option<&'static ElectricityPrice> {
    electricity_price(region).filter(|p| p.usd_per_kwh().is_some())
}
