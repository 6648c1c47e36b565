//! `ecotrace estimate inference` for provisioned deployments: devices × days at a mean power (or
//! idle and busy power with a busy fraction), per request and per 1,000 tokens, the idle share;
//! and the benchmark form, power ÷ tokens per second.

mod common;

use common::Env;
use serde_json::Value;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1e-12)
}

#[test]
fn idle_and_busy_power_give_the_total_the_units_and_the_idle_share() {
    let env = Env::new();
    let (n, days, rpd, idle, busy, frac, tokens) = (8.0, 30.0, 50_000.0, 90.0, 350.0, 0.3, 400.0);
    let v = env.json(&[
        "estimate",
        "inference",
        "--hardware",
        "H100-SXM",
        "--devices",
        "8",
        "--days",
        "30",
        "--requests-per-day",
        "50000",
        "--idle-power-w",
        "90",
        "--busy-power-w",
        "350",
        "--busy-fraction",
        "0.3",
        "--tokens-per-request",
        "400",
        "--pue",
        "1.2",
        "--intensity",
        "300",
        "--json",
    ]);
    let mean = idle * (1.0 - frac) + busy * frac;
    let kwh = n * days * 24.0 * mean / 1000.0;
    assert!(close(f(&v["energy_kwh"]), kwh), "{v}");
    let requests = rpd * days;
    assert!(close(
        f(&v["energy_wh_per_request"]),
        kwh * 1000.0 / requests
    ));
    assert!(close(
        f(&v["energy_wh_per_1k_tokens"]),
        kwh * 1000.0 / (requests * tokens) * 1000.0
    ));
    assert!(close(f(&v["idle_share"]), idle * (1.0 - frac) / mean));
    let d = &v["deployment"];
    assert!(close(f(&d["idle_floor_share"]), idle / mean));
    // Counting only the energy drawn while serving gives less per request.
    assert!(close(
        f(&d["busy_only_energy_wh_per_request"]),
        n * days * 24.0 * busy * frac / requests
    ));
    // Operational CO2e: energy × PUE × intensity, and per request the same divided out.
    let co2 = kwh * 1.2 * 0.3;
    assert!(close(f(&v["operational_kgco2e"]), co2));
    assert!(close(f(&v["kgco2e_per_request"]), co2 / requests));
    let text = env.ok(&[
        "estimate",
        "inference",
        "--hardware",
        "H100-SXM",
        "--devices",
        "8",
        "--days",
        "30",
        "--requests-per-day",
        "50000",
        "--idle-power-w",
        "90",
        "--busy-power-w",
        "350",
        "--busy-fraction",
        "0.3",
    ]);
    assert!(text.contains("with no request in flight"), "{text}");
    assert!(text.contains("per request"), "{text}");
}

#[test]
fn a_benchmark_figure_is_power_over_throughput() {
    let env = Env::new();
    let v = env.json(&[
        "estimate",
        "inference",
        "--hardware",
        "A100-SXM4-80GB",
        "--requests-per-day",
        "1000",
        "--days",
        "10",
        "--power-w",
        "400",
        "--tokens-per-second",
        "2000",
        "--tokens-per-request",
        "250",
        "--json",
    ]);
    // 400 W / 2,000 tokens/s = 0.2 J a token: 1,000 tokens = 200 J = 0.0556 Wh.
    let wh_per_1k = 400.0 / 2000.0 * 1000.0 / 3600.0;
    assert!(close(f(&v["energy_wh_per_1k_tokens"]), wh_per_1k), "{v}");
    assert!(close(
        f(&v["energy_kwh"]),
        wh_per_1k * 250.0 * 10_000.0 / 1000.0 / 1000.0
    ));
    assert!(v["idle_share"].is_null());
    assert_eq!(v["deployment"]["mode"], "benchmark");
}

#[test]
fn deployment_inputs_are_checked() {
    let env = Env::new();
    let base = [
        "estimate",
        "inference",
        "--requests-per-day",
        "100",
        "--days",
        "1",
    ];
    fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [base, extra].concat()
    }
    env.usage_error(&with(&base, &["--power-w", "300"]), &["--hardware"]);
    env.usage_error(
        &with(
            &base,
            &["--hardware", "A100-SXM4-40GB", "--idle-power-w", "100"],
        ),
        &["--busy-power-w", "--busy-fraction"],
    );
    env.usage_error(
        &with(
            &base,
            &[
                "--hardware",
                "A100-SXM4-40GB",
                "--idle-power-w",
                "100",
                "--busy-power-w",
                "300",
                "--busy-fraction",
                "1.5",
            ],
        ),
        &["--busy-fraction must be between 0 and 1"],
    );
    env.usage_error(
        &with(
            &base,
            &[
                "--hardware",
                "A100-SXM4-40GB",
                "--idle-power-w",
                "400",
                "--busy-power-w",
                "300",
                "--busy-fraction",
                "0.5",
            ],
        ),
        &["above --busy-power-w"],
    );
    env.usage_error(
        &with(
            &base,
            &[
                "--hardware",
                "A100-SXM4-40GB",
                "--power-w",
                "300",
                "--tokens-per-second",
                "10",
            ],
        ),
        &["--tokens-per-request"],
    );
}
