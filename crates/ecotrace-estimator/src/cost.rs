//! What an estimate costs: the price chosen (the user's, an instance's bundled price, the
//! place's electricity price) and how.

use ecotrace_core::estimate::Price;
use ecotrace_factors::{Factor, Provenance, TableRow};

use crate::device::Device;
use crate::job::JobSpec;
use crate::{usage, Assumption, Place, Result};

/// Resolves `--instance NAME` in the place's cloud region and checks it against the hardware: a
/// GPU instance must carry the named accelerator, a CPU instance must go with a CPU. Usage errors:
/// no cloud region, an instance not bundled there (listing the closest that are), a mismatch.
pub fn resolve_instance(
    name: &str,
    device: &Device,
    place: &Place,
) -> Result<&'static ecotrace_data::InstancePrice> {
    let Some((provider, region)) = &place.cloud else {
        return usage(format!(
            "--instance {name} needs --region to be a cloud region (e.g. aws:us-east-1, gcp:us-central1, azure:eastus); {} is not one",
            place.label
        ));
    };
    let Some(ip) = ecotrace_data::instance_by_type(provider, region, name) else {
        let near = ecotrace_data::closest_instances(provider, region, name, 5);
        return usage(if near.is_empty() {
            format!("--instance {name}: no instance prices are bundled for {provider}:{region}; pass --price-per-hour instead")
        } else {
            format!(
                "--instance {name}: no price bundled for it in {provider}:{region}; closest known there: {} (or pass --price-per-hour)",
                near.join(", ")
            )
        });
    };
    match (ip.has_accelerator(), device.accelerator) {
        (true, Some(acc)) if acc.id == ip.accelerator => Ok(ip),
        (true, _) => usage(format!(
            "--instance {} carries {} × {}, but --hardware is {}; name that accelerator (or drop --instance)",
            ip.instance, ip.accelerator_count, ip.accelerator, device.id
        )),
        (false, None) => Ok(ip),
        (false, Some(acc)) => usage(format!(
            "--instance {} is a CPU instance, but --hardware is the accelerator {}; name the instance's CPU (or drop --instance)",
            ip.instance, acc.id
        )),
    }
}

/// The cost basis chosen, for output.
#[derive(Debug, Clone)]
pub struct CostBasis {
    pub basis: &'static str,
    pub usd_per_hour: Option<f64>,
    pub usd_per_kwh: Option<f64>,
    pub source: String,
}

impl CostBasis {
    /// The price as an assumption: per device-hour for a rental, per kWh for electricity.
    pub(crate) fn assumption(&self) -> Assumption {
        match self.basis {
            "instance" => Assumption::new(
                "price_usd_per_device_hour",
                self.usd_per_hour.unwrap_or(0.0),
                "USD/device-hour",
                self.source.clone(),
            ),
            _ => Assumption::new(
                "electricity_usd_per_kwh",
                self.usd_per_kwh.unwrap_or(0.0),
                "USD/kWh",
                self.source.clone(),
            ),
        }
    }
}
/// The price to charge, how it was chosen, and a note when no cost can be shown.
pub(crate) type PriceChoice = (Option<Price>, Option<CostBasis>, Option<String>);

/// The bundled instance price as a table row: the price per device-hour, how it was derived, and
/// its date (or `undated`).
fn instance_row(ip: &ecotrace_data::InstancePrice, what: String) -> Provenance {
    Provenance::Table(
        TableRow::new(
            "prices",
            format!("{}:{} {}", ip.provider, ip.region, ip.instance),
            ip.source.clone(),
        )
        .year(ip.date_text())
        .licence(ip.license.clone())
        .note(what),
    )
}

fn per_device_hour(ip: &ecotrace_data::InstancePrice) -> (f64, String) {
    let per = ip.usd_per_device_hour();
    let what = if ip.has_accelerator() {
        format!(
            "{} USD/h for {} × {}, i.e. {per:.4} USD per device-hour",
            ip.usd_per_hour, ip.accelerator_count, ip.accelerator
        )
    } else {
        format!(
            "{} USD/h for the instance{}, charged per device-hour (each device counts as one instance)",
            ip.usd_per_hour,
            ip.vcpus.map(|v| format!(" ({v} vCPUs)")).unwrap_or_default()
        )
    };
    (per, what)
}

fn instance_choice(per: f64, source: String) -> PriceChoice {
    (
        Some(Price::PerDeviceHour(per)),
        Some(CostBasis {
            basis: "instance",
            usd_per_hour: Some(per),
            usd_per_kwh: None,
            source,
        }),
        None,
    )
}

pub(crate) fn choose_price(job: &JobSpec, device: Option<&Device>, place: &Place) -> PriceChoice {
    if let Some(p) = &job.price_per_hour {
        return instance_choice(p.value, format!("{}, USD per device-hour", p.provenance));
    }
    if let Some(p) = &place.electricity_price_given {
        return electricity_choice(p);
    }
    if let (Some(ip), Some(_)) = (job.instance, &place.cloud) {
        let (per, what) = per_device_hour(ip);
        return instance_choice(
            per,
            instance_row(ip, format!("--instance {}: {what}", ip.instance)).to_string(),
        );
    }
    if let (Some((provider, region)), Some(acc)) =
        (&place.cloud, device.and_then(|d| d.accelerator))
    {
        if let Some(ip) = ecotrace_data::instance_price(provider, region, &acc.id, job.devices) {
            let (per, what) = per_device_hour(ip);
            return instance_choice(per, instance_row(ip, what).to_string());
        }
        return electricity_cost(place).unwrap_or_else(|why| {
            (
                None,
                None,
                Some(format!(
                    "cost not shown: no bundled {provider} price for {} in {region}{why}; pass --price-per-hour or --electricity-price",
                    acc.id
                )),
            )
        });
    }
    electricity_cost(place).unwrap_or_else(|why| {
        (
            None,
            None,
            Some(format!("cost not shown: no price known{why} (name a cloud region with bundled prices, or pass --price-per-hour or --electricity-price)")),
        )
    })
}

fn electricity_choice(p: &Factor<f64>) -> PriceChoice {
    (
        Some(Price::PerKwh(p.value)),
        Some(CostBasis {
            basis: "electricity",
            usd_per_hour: None,
            usd_per_kwh: Some(p.value),
            source: format!("{}; electricity only, no hardware rental", p.provenance),
        }),
        None,
    )
}

/// The electricity-only cost basis from the place's electricity price (the user's, or the bundled
/// average of its zone or of the US state a cloud region is in, in USD). `Err` carries a phrase
/// saying why not, to append to the "cost not shown" note.
pub(crate) fn electricity_cost(place: &Place) -> std::result::Result<PriceChoice, String> {
    match place.electricity_price() {
        Some(p) => Ok(electricity_choice(&p)),
        None => Err(String::new()),
    }
}
