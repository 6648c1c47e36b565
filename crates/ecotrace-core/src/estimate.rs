//! A-priori estimates: the footprint of a job before it runs, from hardware and time, or from the
//! work (FLOPs) it has to do.
//!
//! - work: transformer training takes `6 × N × D` FLOPs (N parameters, D tokens), inference
//!   `2 × N` FLOPs per token (Kaplan et al. 2020);
//! - device-hours from work: `FLOPs / (peak FLOP/s × MFU) / 3600`;
//! - power: mean draw per device = rated power (TDP, or the user's) × utilization;
//! - then the same models as measured runs ([`crate::footprint`]): IT energy = power ×
//!   device-hours, operational CO2e = IT energy × PUE × intensity, embodied CO2e (SCI M) = devices'
//!   and host's embodied carbon × device-hours / lifetime, water on site and off site, cost.
//!
//! Pure: every factor is an argument; the CLI looks them up and says where each came from.
//! See `docs/footprint.md`.

use std::time::Duration;

use crate::footprint::{self, WaterSplit};
use crate::units::{
    CarbonIntensity, CarbonMass, Energy, Fraction, Lifetime, Power, Pue, Usd, WaterIntensity,
};

/// Default model FLOPs utilization: the share of the devices' peak throughput a job achieves.
/// Between the 0.20-0.39 Patterson et al. (2021, Table 4) measured for 2020-21 models and the 0.46
/// PaLM reached (Chowdhery et al. 2022); see docs/footprint.md.
pub const DEFAULT_MFU: f64 = 0.35;

/// Default utilization for estimates from hardware and time: the device draws its rated power
/// (TDP) the whole time, as in Green Algorithms and the BLOOM estimate (Luccioni et al. 2022).
pub const DEFAULT_UTILIZATION: f64 = 1.0;

/// Default expected service life of hardware, over which embodied carbon is spread.
pub const DEFAULT_LIFETIME_YEARS: f64 = 5.0;

/// FLOPs to train a dense transformer of `params` parameters on `tokens` tokens: 6·N·D.
pub fn training_flops(params: f64, tokens: f64) -> f64 {
    6.0 * params * tokens
}

/// FLOPs of a dense transformer's forward pass over `tokens` tokens: 2·N per token.
pub fn inference_flops(params: f64, tokens: f64) -> f64 {
    2.0 * params * tokens
}

/// Device-hours to do `flops` of work on devices of `peak_flops_per_s` each, achieving `mfu` of
/// that peak. An MFU of zero (or a zero peak) gives infinity: callers reject both first.
pub fn device_hours_for_flops(flops: f64, peak_flops_per_s: f64, mfu: Fraction) -> f64 {
    flops / (peak_flops_per_s * mfu.value()) / 3600.0
}

/// Mean power of one device: its rated power × utilization.
pub fn device_power(rated: Power, utilization: Fraction) -> Power {
    rated * utilization.value()
}

/// What the job pays for, per device-hour of rented hardware or per kWh of electricity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Price {
    /// USD per device-hour (an instance's hourly price ÷ its accelerators, or the user's).
    PerDeviceHour(f64),
    /// USD per kWh at the meter (facility energy).
    PerKwh(f64),
}

/// Every factor of an estimate. Build it from validated inputs: `device_hours` and `devices`
/// finite and positive.
#[derive(Debug, Clone, PartialEq)]
pub struct EstimateInputs {
    /// Total device-hours (devices × wall hours).
    pub device_hours: f64,
    /// Devices working in parallel (used for the wall time only).
    pub devices: f64,
    /// Mean power of one device.
    pub device_power: Power,
    pub pue: Pue,
    pub intensity: CarbonIntensity,
    /// Embodied carbon of one device.
    pub device_embodied: CarbonMass,
    /// Embodied carbon of one host (everything but its devices), shared by `host_slots` devices.
    pub host_embodied: CarbonMass,
    pub host_slots: u32,
    pub lifetime: Lifetime,
    /// On-site water per kWh of IT energy.
    pub wue: WaterIntensity,
    /// Off-site water per kWh generated.
    pub offsite_water: WaterIntensity,
    pub price: Option<Price>,
}

/// The figures of an estimate. Operational and embodied carbon are kept apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EstimateFigures {
    pub device_hours: f64,
    /// Wall time of the job: device-hours ÷ devices.
    pub wall_hours: f64,
    /// IT energy (what the devices draw).
    pub energy: Energy,
    /// Energy at the meter: IT energy × PUE.
    pub facility_energy: Energy,
    pub operational: CarbonMass,
    /// Embodied carbon of the devices' share of their lifetime.
    pub embodied_devices: CarbonMass,
    /// Embodied carbon of the hosts' share: host embodied × device-hours / slots / lifetime.
    pub embodied_host: CarbonMass,
    pub water: WaterSplit,
    pub cost: Option<Usd>,
}

impl EstimateFigures {
    /// Embodied carbon in all (devices + host share): the SCI M term.
    pub fn embodied(&self) -> CarbonMass {
        self.embodied_devices + self.embodied_host
    }
}

fn hours(h: f64) -> Duration {
    Duration::from_secs_f64((h * 3600.0).clamp(0.0, 1e15))
}

/// The footprint of a job described by `i`.
pub fn estimate(i: &EstimateInputs) -> EstimateFigures {
    let dh = if i.device_hours.is_finite() {
        i.device_hours.max(0.0)
    } else {
        0.0
    };
    let energy = i.device_power * hours(dh);
    let slots = i.host_slots.max(1);
    let embodied_devices =
        footprint::embodied(i.device_embodied, Fraction::ONE, i.lifetime, hours(dh));
    let host_share = Fraction::new(1.0 / f64::from(slots)).expect("1/slots is a fraction");
    let embodied_host = footprint::embodied(i.host_embodied, host_share, i.lifetime, hours(dh));
    let water = footprint::water(energy, i.pue, i.wue, i.offsite_water);
    let cost = i.price.map(|p| match p {
        Price::PerDeviceHour(usd) => footprint::cost_rental(usd, 1.0, hours(dh)),
        Price::PerKwh(usd) => footprint::cost_electricity(energy, i.pue, usd),
    });
    EstimateFigures {
        device_hours: dh,
        wall_hours: if i.devices > 0.0 { dh / i.devices } else { 0.0 },
        energy,
        facility_energy: energy * i.pue,
        operational: footprint::operational(energy, i.pue, i.intensity),
        embodied_devices,
        embodied_host,
        water,
        cost,
    }
}

/// IT energy of serving `requests_per_day` requests of `per_request` energy for `days` days.
pub fn inference_energy(per_request: Energy, requests_per_day: f64, days: f64) -> Energy {
    per_request * (requests_per_day * days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn inputs(device_hours: f64, devices: f64) -> EstimateInputs {
        EstimateInputs {
            device_hours,
            devices,
            device_power: Power::from_watts(400.0),
            pue: Pue::new(1.2).unwrap(),
            intensity: CarbonIntensity::from_g_per_kwh(100.0).unwrap(),
            device_embodied: CarbonMass::from_kg(150.0),
            host_embodied: CarbonMass::from_kg(2500.0),
            host_slots: 8,
            lifetime: Lifetime::from_years(5.0).unwrap(),
            wue: WaterIntensity::from_l_per_kwh(0.5).unwrap(),
            offsite_water: WaterIntensity::from_l_per_kwh(2.0).unwrap(),
            price: Some(Price::PerDeviceHour(4.0)),
        }
    }

    #[test]
    fn work_formulas() {
        // GPT-3: 175e9 parameters, 300e9 tokens: 3.15e23 FLOPs.
        assert_eq!(training_flops(175e9, 300e9), 3.15e23);
        assert_eq!(inference_flops(7e9, 1000.0), 1.4e13);
        // 3.15e23 FLOPs at 312 TFLOP/s and MFU 0.5: 561,000 device-hours (rounded).
        let h = device_hours_for_flops(3.15e23, 312e12, Fraction::new(0.5).unwrap());
        assert!((h - 3.15e23 / 156e12 / 3600.0).abs() < 1e-6);
        assert_eq!(
            device_power(Power::from_watts(400.0), Fraction::new(0.5).unwrap()).watts(),
            200.0
        );
    }

    #[test]
    fn worked_example() {
        // 8 devices × 10 h = 80 device-hours at 400 W: 32 kWh IT, 38.4 kWh at the meter.
        let f = estimate(&inputs(80.0, 8.0));
        assert!((f.energy.kwh() - 32.0).abs() < 1e-9);
        assert!((f.facility_energy.kwh() - 38.4).abs() < 1e-9);
        assert!((f.operational.kg() - 3.84).abs() < 1e-9);
        assert_eq!(f.wall_hours, 10.0);
        // Devices: 150 kg × 80 h / 5 years; host: 2500 kg × 80/8 h / 5 years.
        let life_h = 5.0 * 365.25 * 24.0;
        assert!((f.embodied_devices.kg() - 150.0 * 80.0 / life_h).abs() < 1e-9);
        assert!((f.embodied_host.kg() - 2500.0 * 10.0 / life_h).abs() < 1e-9);
        assert!((f.water.onsite.litres() - 16.0).abs() < 1e-9);
        assert!((f.water.offsite.litres() - 76.8).abs() < 1e-9);
        assert!((f.cost.unwrap().usd() - 320.0).abs() < 1e-9);
        let mut kwh = inputs(80.0, 8.0);
        kwh.price = Some(Price::PerKwh(0.1));
        assert!((estimate(&kwh).cost.unwrap().usd() - 3.84).abs() < 1e-9);
        kwh.price = None;
        assert_eq!(estimate(&kwh).cost, None);
    }

    #[test]
    fn inference_over_a_deployment() {
        let e = inference_energy(Energy::from_wh(0.3), 1e6, 365.0);
        assert!((e.kwh() - 109_500.0).abs() < 1e-6);
    }

    proptest! {
        #[test]
        fn linear_in_time_and_devices(
            hours in 0.001f64..1e5, devices in 1u32..4096, k in 0.01f64..100.0,
            w in 1.0f64..2000.0, g in 0.0f64..1500.0, pue in 1.0f64..3.0
        ) {
            let mut base = inputs(hours * f64::from(devices), f64::from(devices));
            base.device_power = Power::from_watts(w);
            base.intensity = CarbonIntensity::from_g_per_kwh(g).unwrap();
            base.pue = Pue::new(pue).unwrap();
            let a = estimate(&base);
            let mut scaled = base.clone();
            scaled.device_hours *= k; // k times longer, or k times more devices
            let b = estimate(&scaled);
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-6 * (1.0 + x.abs().max(y.abs()));
            prop_assert!(close(b.energy.kwh(), a.energy.kwh() * k));
            prop_assert!(close(b.operational.kg(), a.operational.kg() * k));
            prop_assert!(close(b.embodied().kg(), a.embodied().kg() * k));
            prop_assert!(close(b.water.total().litres(), a.water.total().litres() * k));
            prop_assert!(close(b.cost.unwrap().usd(), a.cost.unwrap().usd() * k));
        }

        #[test]
        fn never_negative_or_nan(
            device_hours in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-1.0), 0.0f64..1e9],
            devices in prop_oneof![Just(0.0), 0.0f64..1e5],
            w in 0.0f64..5000.0, g in 0.0f64..2000.0, pue in 1.0f64..5.0,
            dev_kg in 0.0f64..1e4, host_kg in 0.0f64..1e5, slots in 0u32..64, years in 0.01f64..100.0,
            wue in 0.0f64..10.0, off in 0.0f64..10.0, price in 0.0f64..1e3, per_kwh in any::<bool>()
        ) {
            let i = EstimateInputs {
                device_hours, devices,
                device_power: Power::from_watts(w),
                pue: Pue::new(pue).unwrap(),
                intensity: CarbonIntensity::from_g_per_kwh(g).unwrap(),
                device_embodied: CarbonMass::from_kg(dev_kg),
                host_embodied: CarbonMass::from_kg(host_kg),
                host_slots: slots,
                lifetime: Lifetime::from_years(years).unwrap(),
                wue: WaterIntensity::from_l_per_kwh(wue).unwrap(),
                offsite_water: WaterIntensity::from_l_per_kwh(off).unwrap(),
                price: Some(if per_kwh { Price::PerKwh(price) } else { Price::PerDeviceHour(price) }),
            };
            let f = estimate(&i);
            for x in [
                f.device_hours, f.wall_hours, f.energy.kwh(), f.facility_energy.kwh(),
                f.operational.kg(), f.embodied().kg(), f.water.onsite.litres(),
                f.water.offsite.litres(), f.cost.unwrap().usd(),
            ] {
                prop_assert!(x.is_finite() && x >= 0.0, "{x} from {i:?}");
            }
        }
    }
}
