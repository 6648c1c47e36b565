//! Live grid-intensity providers (`--grid-provider`) against a mock server on loopback serving
//! the providers' fixtures: what a run, `doctor` and `plan` take from each, and every failure
//! (401, 429 with Retry-After, 500, no answer, malformed JSON, an unknown zone, no credentials)
//! falling back to the bundled data with the reason said.

mod common;
mod mock_http;

use chrono::{DateTime, Duration, DurationRound, Utc};
use common::Env;
use mock_http::{fixture_from, json, points, serve, Reply, Server};
use serde_json::Value;

const KEY: &str = "test-key-123";

fn this_hour() -> DateTime<Utc> {
    Utc::now().duration_trunc(Duration::hours(1)).unwrap()
}

/// The ecotrace command with the providers' credentials set.
fn cmd(e: &Env) -> std::process::Command {
    let mut c = e.cmd();
    c.env("ELECTRICITYMAPS_API_KEY", KEY)
        .env("WATTTIME_USERNAME", "ada")
        .env("WATTTIME_PASSWORD", "s3cret")
        .env_remove("XDG_CACHE_HOME");
    c
}

fn output(e: &Env, args: &[&str]) -> std::process::Output {
    cmd(e).args(args).output().unwrap()
}

#[track_caller]
fn ok_json(e: &Env, args: &[&str]) -> Value {
    let o = output(e, args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `ecotrace run --json` of a short command with `provider` at `url`.
fn run(e: &Env, provider: &str, url: &str, region: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "run",
        "-q",
        "--json",
        "--interval",
        "50ms",
        "--cpu-power",
        "50",
        "--region",
        region,
        "--grid-provider",
        provider,
        "--grid-provider-url",
        url,
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "true"]);
    ok_json(e, &args)
}

/// The bundled intensity of a region, as a run without a provider charges it.
fn bundled(e: &Env, region: &str, extra: &[&str]) -> f64 {
    let mut args = vec![
        "run",
        "-q",
        "--json",
        "--interval",
        "50ms",
        "--cpu-power",
        "50",
        "--region",
        region,
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "true"]);
    ok_json(e, &args)["intensity"]["g_per_kwh"]
        .as_f64()
        .unwrap()
}

/// Electricity Maps' latest answer: the last hour of the history fixture, moved to this hour.
fn em_latest() -> (String, f64) {
    let name = "carbon-intensity_history_FR_2022-07-01T12Z.json";
    let v = fixture_from(name, this_hour() - Duration::hours(23));
    let last = v["history"].as_array().unwrap().last().unwrap().clone();
    let g = last["carbonIntensity"].as_f64().unwrap();
    (last.to_string(), g)
}

/// An Electricity Maps mock: the latest figure for FR, 404 for any other zone.
fn em_server() -> (Server, f64) {
    let (latest, g) = em_latest();
    let s = serve(move |r| {
        if r.header("auth-token") != Some(KEY) {
            return Reply::Status(401, r#"{"message":"Invalid auth-token"}"#.into(), vec![]);
        }
        match (r.path.as_str(), r.param("zone").as_deref()) {
            ("/v3/carbon-intensity/latest", Some("FR")) => json(latest.clone()),
            (_, Some(z)) => Reply::Status(
                404,
                format!(r#"{{"error":"Zone '{z}' does not exist"}}"#),
                vec![],
            ),
            _ => Reply::Status(400, "{}".into(), vec![]),
        }
    });
    (s, g)
}

#[test]
fn electricity_maps_latest_is_charged_and_cached() {
    let e = Env::new();
    let (s, g) = em_server();
    let r = run(&e, "electricitymaps", &s.url, "FR", &[]);
    let i = &r["intensity"];
    assert_eq!(i["g_per_kwh"].as_f64(), Some(g), "{i}");
    assert!(
        i["source"]
            .as_str()
            .unwrap()
            .starts_with("live: Electricity Maps API v3 carbon-intensity/latest, zone FR"),
        "{i}"
    );
    assert_eq!(i["live"]["status"], "used", "{i}");
    assert_eq!(i["live"]["cached"], false);
    assert_eq!(i["signal"], "average");
    assert_eq!(i["grid_basis"], "lifecycle");
    let kwh = r["energy_kwh"]["total"].as_f64().unwrap();
    let op = r["operational_kgco2e"].as_f64().unwrap();
    assert!(
        (op - kwh * r["pue"]["value"].as_f64().unwrap() * g / 1000.0).abs() <= 1e-9 * op.max(1e-12),
        "{op}"
    );
    let reqs = s.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(
        reqs[0].param("emissionFactorType").as_deref(),
        Some("lifecycle")
    );
    // The second run takes the cached answer: no new request.
    let r = run(&e, "electricitymaps", &s.url, "FR", &[]);
    assert_eq!(r["intensity"]["live"]["cached"], true, "{}", r["intensity"]);
    assert_eq!(r["intensity"]["g_per_kwh"].as_f64(), Some(g));
    assert_eq!(s.requests().len(), 1);
    // The direct basis is another question.
    let _ = run(&e, "electricitymaps", &s.url, "FR", &["--basis", "direct"]);
    let reqs = s.requests();
    assert_eq!(reqs.len(), 2);
    assert_eq!(
        reqs[1].param("emissionFactorType").as_deref(),
        Some("direct")
    );
    // A cache dir of its own (ECOTRACE_CACHE_DIR) asks again.
    let dir = e.path("cache");
    let o = cmd(&e)
        .env("ECOTRACE_CACHE_DIR", &dir)
        .args([
            "run",
            "-q",
            "--json",
            "--interval",
            "50ms",
            "--cpu-power",
            "50",
            "--region",
            "FR",
            "--grid-provider",
            "electricitymaps",
            "--grid-provider-url",
            &s.url,
            "--",
            "true",
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(s.requests().len(), 3);
    assert!(std::fs::read_dir(dir.join("providers")).unwrap().count() >= 1);
}

/// The UK Carbon Intensity mock: `/intensity` answers the current half-hour of the pt24h fixture.
fn ukci_server() -> (Server, f64) {
    let name = "intensity_pt24h_national_2023-03-15T1201Z.json";
    let v = fixture_from(name, this_hour() - Duration::hours(20));
    let now = Utc::now();
    let current = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|p| points(p)[0].0 <= now)
        .unwrap()
        .clone();
    let g = points(&current)[0].1;
    let body = serde_json::json!({ "data": [current] }).to_string();
    let s = serve(move |r| match r.path.as_str() {
        "/intensity" => json(body.clone()),
        _ => Reply::Status(
            400,
            r#"{"error":{"code":"400 Bad Request"}}"#.into(),
            vec![],
        ),
    });
    (s, g)
}

#[test]
fn uk_carbon_intensity_on_the_direct_basis_only() {
    let e = Env::new();
    let (s, g) = ukci_server();
    let r = run(&e, "ukci", &s.url, "GB", &["--basis", "direct"]);
    let i = &r["intensity"];
    assert_eq!(i["g_per_kwh"].as_f64(), Some(g), "{i}");
    assert_eq!(i["live"]["zone"], "national");
    assert_eq!(i["grid_basis"], "direct");
    assert!(
        i["source"]
            .as_str()
            .unwrap()
            .contains("UK Carbon Intensity API"),
        "{i}"
    );
    assert!(s.requests()[0].header("auth-token").is_none());
    // On the default life-cycle basis it is not asked, and the run says why.
    let n = s.requests().len();
    let r = run(&e, "ukci", &s.url, "GB", &[]);
    let i = &r["intensity"];
    assert_eq!(i["live"]["status"], "fallback");
    assert!(
        i["live"]["reason"]
            .as_str()
            .unwrap()
            .contains("--basis direct"),
        "{i}"
    );
    assert!(
        i["source"]
            .as_str()
            .unwrap()
            .contains("the bundled figure is used"),
        "{i}"
    );
    assert_eq!(i["g_per_kwh"].as_f64(), Some(bundled(&e, "GB", &[])));
    // Outside Great Britain it is not asked either.
    let r = run(&e, "ukci", &s.url, "FR", &["--basis", "direct"]);
    assert!(r["intensity"]["live"]["reason"]
        .as_str()
        .unwrap()
        .contains("Great Britain"));
    assert_eq!(s.requests().len(), n);
}

/// The WattTime mock: login with basic auth, then the forecast with the bearer token.
fn watttime_server(from: DateTime<Utc>) -> Server {
    let v = fixture_from("forecast_CAISO_NORTH_2021-07-01T03Z_6h.json", from);
    let hist = fixture_from(
        "historical_CAISO_NORTH_2021-07-01T00Z_03Z.json",
        from - Duration::hours(3),
    );
    let login = mock_http::fixture("login.json");
    let token = login["token"].as_str().unwrap().to_string();
    let basic = "Basic YWRhOnMzY3JldA=="; // ada:s3cret
    serve(move |r| match r.path.as_str() {
        "/login" if r.header("authorization") == Some(basic) => json(login.to_string()),
        "/login" => Reply::Status(401, r#"{"error":"bad credentials"}"#.into(), vec![]),
        _ if r.header("authorization") != Some(&format!("Bearer {token}")) => {
            Reply::Status(401, "{}".into(), vec![])
        }
        "/v3/forecast" if r.param("region").as_deref() == Some("CAISO_NORTH") => {
            json(v.to_string())
        }
        "/v3/historical" if r.param("region").as_deref() == Some("CAISO_NORTH") => {
            json(hist.to_string())
        }
        _ => Reply::Status(400, r#"{"error":"Invalid region"}"#.into(), vec![]),
    })
}

#[test]
fn watttime_marginal_figures_are_labelled_marginal() {
    let e = Env::new();
    let s = watttime_server(this_hour());
    let moer = mock_http::fixture("forecast_CAISO_NORTH_2021-07-01T03Z_6h.json");
    // The point of this five-minute period, in lb/MWh, converted.
    let pts = points(&fixture_from(
        "forecast_CAISO_NORTH_2021-07-01T03Z_6h.json",
        this_hour(),
    ));
    let now = Utc::now();
    let lb = pts.iter().rfind(|p| p.0 <= now).unwrap().1;
    assert_eq!(moer["meta"]["units"], "lbs_co2_per_mwh");
    let r = run(
        &e,
        "watttime",
        &s.url,
        "US-CA",
        &["--grid-provider-zone", "CAISO_NORTH"],
    );
    let i = &r["intensity"];
    assert!(
        (i["g_per_kwh"].as_f64().unwrap() - lb * 0.45359237).abs() < 1e-9,
        "{i}"
    );
    assert_eq!(i["signal"], "marginal");
    assert!(i["grid_basis"].is_null(), "{i}");
    assert!(i["source"].as_str().unwrap().contains("marginal"), "{i}");
    assert!(
        r["notes"].to_string().contains("not comparable"),
        "{}",
        r["notes"]
    );
    let reqs = s.requests();
    assert_eq!(reqs[0].path, "/login");
    assert_eq!(reqs[1].path, "/v3/forecast");
    assert_eq!(reqs[1].param("signal_type").as_deref(), Some("co2_moer"));
    // Without its region WattTime is not asked, and the run says what to set.
    let r = run(&e, "watttime", &s.url, "US-CA", &[]);
    assert!(r["intensity"]["live"]["reason"]
        .as_str()
        .unwrap()
        .contains("--grid-provider-zone"));
    assert_eq!(r["intensity"]["signal"], "average");
    // Wrong credentials: refused at login.
    let o = cmd(&e)
        .env("WATTTIME_PASSWORD", "wrong")
        .env("ECOTRACE_CACHE_DIR", e.path("other-cache"))
        .args([
            "run",
            "-q",
            "--json",
            "--interval",
            "50ms",
            "--cpu-power",
            "50",
            "--region",
            "US-CA",
            "--grid-provider",
            "watttime",
            "--grid-provider-url",
            &s.url,
            "--grid-provider-zone",
            "CAISO_NORTH",
            "--",
            "true",
        ])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    let reason = r["intensity"]["live"]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("HTTP 401") && reason.contains("WATTTIME_PASSWORD"),
        "{reason}"
    );
}

/// Each failure: the command runs and its exit code passes through, the bundled figure is
/// charged, and the record says why.
#[test]
fn every_failure_falls_back_to_the_bundled_figure_and_says_why() {
    let e = Env::new();
    let fr = bundled(&e, "FR", &[]);
    let malformed = "{\"zone\":\"FR\",\"carbonIntensity\":";
    let cases: Vec<(&str, Reply, &str)> = vec![
        (
            "401",
            Reply::Status(401, r#"{"message":"Invalid auth-token"}"#.into(), vec![]),
            "HTTP 401",
        ),
        (
            "429",
            Reply::Status(
                429,
                r#"{"message":"Too many requests"}"#.into(),
                vec![("Retry-After", "120".into())],
            ),
            "retry after 120 s",
        ),
        (
            "500",
            Reply::Status(500, "Internal Server Error".into(), vec![]),
            "HTTP 500",
        ),
        ("timeout", Reply::Hang, "no answer within 2000 ms"),
        (
            "malformed",
            Reply::Status(200, malformed.into(), vec![]),
            "not JSON",
        ),
    ];
    for (name, reply, needle) in cases {
        let reply = std::sync::Mutex::new(Some(reply));
        let s = serve(move |_| reply.lock().unwrap().take().unwrap_or(Reply::Hang));
        let o = output(
            &e,
            &[
                "run",
                "-q",
                "--json",
                "--interval",
                "50ms",
                "--cpu-power",
                "50",
                "--region",
                "FR",
                "--grid-provider",
                "electricitymaps",
                "--grid-provider-url",
                &s.url,
                "--",
                "sh",
                "-c",
                "exit 3",
            ],
        );
        assert_eq!(
            o.status.code(),
            Some(3),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let r: Value = serde_json::from_slice(&o.stdout).unwrap();
        let i = &r["intensity"];
        assert_eq!(i["g_per_kwh"].as_f64(), Some(fr), "{name}: {i}");
        assert_eq!(i["live"]["status"], "fallback", "{name}: {i}");
        let reason = i["live"]["reason"].as_str().unwrap();
        assert!(reason.contains(needle), "{name}: {reason}");
        assert!(
            i["source"].as_str().unwrap().contains(needle),
            "{name}: {i}"
        );
        assert!(
            r["notes"]
                .to_string()
                .contains("the bundled figure is used"),
            "{name}"
        );
        assert_eq!(s.requests().len(), 1, "{name}");
        if name == "429" {
            // Retry-After is honoured: the next run does not ask before it passes.
            let r = run(&e, "electricitymaps", &s.url, "FR", &[]);
            let reason = r["intensity"]["live"]["reason"].as_str().unwrap();
            assert!(reason.contains("rate limited until"), "{reason}");
            assert_eq!(s.requests().len(), 1);
            std::fs::remove_dir_all(e.dir.path().join(".cache/ecotrace/providers")).unwrap();
        }
    }
    // A zone the provider does not know: its 404 says so.
    let (s, _) = em_server();
    let r = run(&e, "electricitymaps", &s.url, "DE", &[]);
    let reason = r["intensity"]["live"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("does not know zone \"DE\"") && reason.contains("does not exist"),
        "{reason}"
    );
    assert_eq!(
        r["intensity"]["g_per_kwh"].as_f64(),
        Some(bundled(&e, "DE", &[]))
    );
    // No key: not asked.
    let n = s.requests().len();
    let o = cmd(&e)
        .env_remove("ELECTRICITYMAPS_API_KEY")
        .args([
            "run",
            "-q",
            "--json",
            "--interval",
            "50ms",
            "--cpu-power",
            "50",
            "--region",
            "FR",
            "--grid-provider",
            "electricitymaps",
            "--grid-provider-url",
            &s.url,
            "--",
            "true",
        ])
        .output()
        .unwrap();
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(r["intensity"]["live"]["reason"]
        .as_str()
        .unwrap()
        .contains("ELECTRICITYMAPS_API_KEY is not set"));
    assert_eq!(s.requests().len(), n);
    // A bad provider name is a usage error naming the option.
    e.usage_error(
        &["run", "--grid-provider", "electricmaps", "--", "true"],
        &["--grid-provider", "electricitymaps, ukci or watttime"],
    );
}

#[test]
fn doctor_shows_the_provider_and_whether_it_answers() {
    let e = Env::new();
    let (s, g) = em_server();
    // Configured in ecotrace.toml, like any other option.
    std::fs::write(
        e.path("ecotrace.toml"),
        format!(
            "region = \"FR\"\ngrid_provider = \"electricitymaps\"\ngrid_provider_url = \"{}\"\n",
            s.url
        ),
    )
    .unwrap();
    let o = output(&e, &["doctor"]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(
        text.contains("Live grid intensity (--grid-provider):"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "[ ok ] Electricity Maps API v3, zone FR: answers: {}",
            ecotrace_core::human::num(g)
        )),
        "{text}"
    );
    assert!(text.contains("live: Electricity Maps API v3"), "{text}");
    // A provider that does not answer is a failed check, and doctor still works.
    let s = serve(|_| Reply::Status(500, "down".into(), vec![]));
    std::fs::write(
        e.path("ecotrace.toml"),
        format!(
            "region = \"FR\"\ngrid_provider = \"electricitymaps\"\ngrid_provider_url = \"{}\"\n",
            s.url
        ),
    )
    .unwrap();
    let o = cmd(&e)
        .env("ECOTRACE_CACHE_DIR", e.path("c2"))
        .arg("doctor")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(text.contains("[FAIL] Electricity Maps API v3, zone FR: no usable answer: the provider failed (HTTP 500: down)"), "{text}");
    assert!(
        text.contains("runs and plans use the bundled data"),
        "{text}"
    );
}

/// A US state and a cloud region are known by the grid zone that serves them everywhere: the
/// estimate's `grid_zone`, the zone `doctor` names and asks the provider for, the plan's series,
/// and the zone a run asks Electricity Maps for.
#[test]
fn a_state_and_a_cloud_region_are_their_serving_grid_zone_everywhere() {
    let e = Env::new();
    let s = serve(|r| Reply::Status(404, format!("{{\"error\":\"{}\"}}", r.path), vec![]));
    for region in ["US-VA", "aws:us-east-1"] {
        let est = ok_json(
            &e,
            &[
                "estimate",
                "--hardware",
                "A100-80GB",
                "--hours",
                "1",
                "--region",
                region,
                "--json",
            ],
        );
        assert_eq!(est["grid_zone"], "US-MIDA-PJM", "{region}: {est}");
        let plan = ok_json(
            &e,
            &[
                "plan",
                "--duration",
                "1h",
                "--region",
                region,
                "--start-after",
                "2022-06-01T00:00Z",
                "--deadline",
                "24h",
                "--json",
            ],
        );
        assert_eq!(plan["data"][0]["zone"], "US-MIDA-PJM", "{region}: {plan}");
        let o = output(
            &e,
            &[
                "doctor",
                "--region",
                region,
                "--grid-provider",
                "electricitymaps",
                "--grid-provider-url",
                &s.url,
            ],
        );
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{text}");
        assert!(
            text.contains("Electricity Maps API v3, zone US-MIDA-PJM"),
            "{region}: {text}"
        );
        assert!(text.contains("grid zone US-MIDA-PJM"), "{region}: {text}");
        let r = run(&e, "electricitymaps", &s.url, region, &[]);
        assert_eq!(
            r["intensity"]["live"]["zone"], "US-MIDA-PJM",
            "{region}: {r}"
        );
    }
    let zones: Vec<Option<String>> = s.requests().iter().map(|r| r.param("zone")).collect();
    assert!(
        !zones.is_empty() && zones.iter().all(|z| z.as_deref() == Some("US-MIDA-PJM")),
        "{zones:?}"
    );
}

/// The start of the lowest-mean window of `len` hours in `v` (the earliest of equals).
fn brute_best(v: &[f64], len: usize) -> (usize, f64) {
    let mut best = (0, f64::INFINITY);
    for s in 0..=v.len() - len {
        let m = v[s..s + len].iter().sum::<f64>() / len as f64;
        if m < best.1 - 1e-12 {
            best = (s, m);
        }
    }
    best
}

fn rfc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[test]
fn plan_takes_the_electricity_maps_forecast_and_history() {
    let e = Env::new();
    let first = this_hour() + Duration::hours(2);
    let forecast = fixture_from("carbon-intensity_forecast_FR_2022-07-01T12Z.json", first);
    let history = fixture_from(
        "carbon-intensity_history_FR_2022-07-01T12Z.json",
        this_hour() - Duration::hours(23),
    );
    let (f2, h2) = (forecast.to_string(), history.to_string());
    let s = serve(
        move |r| match (r.path.as_str(), r.param("zone").as_deref()) {
            ("/v3/carbon-intensity/forecast", Some("FR")) => json(f2.clone()),
            ("/v3/carbon-intensity/history", Some("FR")) => json(h2.clone()),
            _ => Reply::Status(404, r#"{"error":"unknown"}"#.into(), vec![]),
        },
    );
    let plan = |extra: &[&str]| {
        let mut a = vec![
            "plan",
            "--json",
            "--duration",
            "3h",
            "--region",
            "FR",
            "--grid-provider",
            "electricitymaps",
            "--grid-provider-url",
            &s.url,
        ];
        a.extend_from_slice(extra);
        ok_json(&e, &a)
    };
    // The future: the forecast, up to its end as the deadline.
    let p = plan(&["--start-after", &rfc(first)]);
    let values: Vec<f64> = points(&forecast).iter().map(|p| p.1).collect();
    let (best, mean) = brute_best(&values, 3);
    assert_eq!(p["start"], rfc(first + Duration::hours(best as i64)), "{p}");
    assert!(
        (p["mean_g_per_kwh"].as_f64().unwrap() - mean).abs() < 1e-9,
        "{p}"
    );
    assert_eq!(
        p["deadline"],
        rfc(first + Duration::hours(values.len() as i64)),
        "{p}"
    );
    assert!(p["profile_year"].is_null(), "{p}");
    assert_eq!(p["signal"], "average");
    let src = p["data"][0]["source"].as_str().unwrap();
    assert!(
        src.starts_with("live: Electricity Maps API v3 carbon-intensity/forecast, zone FR"),
        "{src}"
    );
    assert!(
        p["notes"].to_string().contains("the end of the live data"),
        "{}",
        p["notes"]
    );
    // The past day: the history.
    let from = this_hour() - Duration::hours(23);
    let p = plan(&["--start-after", &rfc(from), "--deadline", &rfc(this_hour())]);
    let values: Vec<f64> = points(&history).iter().map(|p| p.1).collect();
    let (best, mean) = brute_best(&values[..23], 3);
    assert_eq!(p["start"], rfc(from + Duration::hours(best as i64)), "{p}");
    assert!(
        (p["mean_g_per_kwh"].as_f64().unwrap() - mean).abs() < 1e-9,
        "{p}"
    );
    assert!(
        p["data"][0]["source"]
            .as_str()
            .unwrap()
            .contains("carbon-intensity/history"),
        "{p}"
    );
    let paths: Vec<String> = s.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/v3/carbon-intensity/forecast",
            "/v3/carbon-intensity/history"
        ]
    );
}

#[test]
fn plan_on_watttime_is_marginal_for_every_region_or_for_none() {
    let e = Env::new();
    let first = this_hour() + Duration::hours(2);
    let s = watttime_server(first);
    let moer = fixture_from("forecast_CAISO_NORTH_2021-07-01T03Z_6h.json", first);
    let base = [
        "plan",
        "--json",
        "--duration",
        "2h",
        "--start-after",
        &rfc(first),
        "--grid-provider",
        "watttime",
        "--grid-provider-url",
        &s.url,
    ];
    let mut a = base.to_vec();
    a.extend_from_slice(&["--region", "US-CA", "--grid-provider-zone", "CAISO_NORTH"]);
    let p = ok_json(&e, &a);
    assert_eq!(p["signal"], "marginal", "{p}");
    // Hourly means of the five-minute points, in g/kWh.
    let pts = points(&moer);
    let hourly: Vec<f64> = pts
        .chunks(12)
        .map(|c| c.iter().map(|p| p.1).sum::<f64>() / c.len() as f64 * 0.45359237)
        .collect();
    let (best, mean) = brute_best(&hourly, 2);
    assert_eq!(p["start"], rfc(first + Duration::hours(best as i64)), "{p}");
    assert!(
        (p["mean_g_per_kwh"].as_f64().unwrap() - mean).abs() < 1e-6,
        "{p}"
    );
    assert!(
        p["notes"].to_string().contains("marginal emission rates"),
        "{}",
        p["notes"]
    );
    // A second region WattTime gives nothing for: every region on bundled averages.
    let mut a = base.to_vec();
    a.extend_from_slice(&[
        "--region",
        "US-CA,FR",
        "--grid-provider-zone",
        "US-CA=CAISO_NORTH",
    ]);
    let p = ok_json(&e, &a);
    assert_eq!(p["signal"], "average", "{p}");
    assert!(
        p["notes"].to_string().contains("never a mix"),
        "{}",
        p["notes"]
    );
    assert!(
        p["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| !d["source"].as_str().unwrap().starts_with("live:")),
        "{p}"
    );
}

#[test]
fn plan_falls_back_to_the_bundled_profile_and_says_why() {
    let e = Env::new();
    let s = serve(|_| Reply::Status(500, "upstream down".into(), vec![]));
    let args = [
        "plan",
        "--json",
        "--duration",
        "3h",
        "--region",
        "FR",
        "--start-after",
        "2030-07-01T00:00Z",
        "--deadline",
        "24h",
    ];
    let without = ok_json(&e, &args);
    let mut a = args.to_vec();
    a.extend_from_slice(&[
        "--grid-provider",
        "electricitymaps",
        "--grid-provider-url",
        &s.url,
    ]);
    let p = ok_json(&e, &a);
    assert_eq!(p["start"], without["start"]);
    assert_eq!(p["profile_year"], without["profile_year"]);
    let notes = p["notes"].to_string();
    assert!(notes.contains("FR: live data from Electricity Maps API v3 unavailable (the provider failed (HTTP 500: upstream down)"), "{notes}");
    let o = output(
        &e,
        &a[..a.len()]
            .iter()
            .filter(|x| **x != "--json")
            .cloned()
            .collect::<Vec<_>>(),
    );
    assert!(String::from_utf8_lossy(&o.stdout)
        .contains("note: FR: live data from Electricity Maps API v3 unavailable"));
}

#[test]
fn run_when_green_plans_on_the_live_forecast() {
    let e = Env::new();
    let forecast = fixture_from(
        "carbon-intensity_forecast_FR_2022-07-01T12Z.json",
        this_hour(),
    );
    let (latest, g) = em_latest();
    let f2 = forecast.to_string();
    let s = serve(move |r| match r.path.as_str() {
        "/v3/carbon-intensity/forecast" => json(f2.clone()),
        "/v3/carbon-intensity/latest" => json(latest.clone()),
        _ => Reply::Status(404, "{}".into(), vec![]),
    });
    // A one-hour window by a deadline one hour away: the current hour, so no wait.
    let r = run(
        &e,
        "electricitymaps",
        &s.url,
        "FR",
        &["--when-green", "--duration", "1h", "--deadline", "1h"],
    );
    let notes = r["notes"].to_string();
    assert!(
        notes.contains("started by --when-green")
            && notes
                .contains("on live: Electricity Maps API v3 carbon-intensity/forecast, zone FR"),
        "{notes}"
    );
    let first = points(&forecast)[0].1;
    assert!(
        notes.contains(&format!(
            "{} gCO2e/kWh lifecycle",
            ecotrace_core::human::num(first)
        )),
        "{notes}"
    );
    // The run itself is charged the latest figure, asked at its start.
    assert_eq!(r["intensity"]["g_per_kwh"].as_f64(), Some(g));
    let paths: Vec<String> = s.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        paths.contains(&"/v3/carbon-intensity/forecast".to_string()),
        "{paths:?}"
    );
}

/// A provider that never answers costs `run --when-green` one 2 s budget for the whole command
/// (the run's start, the plan, the start again after the wait), not 2 s for each request: once
/// the first request has used it up, nothing more is asked.
#[test]
fn run_when_green_waits_at_most_one_budget_for_a_provider_that_never_answers() {
    let e = Env::new();
    let s = serve(|_| Reply::Hang);
    let started = std::time::Instant::now();
    let r = run(
        &e,
        "electricitymaps",
        &s.url,
        "FR",
        &["--when-green", "--duration", "1h", "--deadline", "1h"],
    );
    let took = started.elapsed();
    let asked: Vec<String> = s.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(asked.len(), 1, "one request used the budget up: {asked:?}");
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    assert_eq!(r["intensity"]["live"]["status"], "fallback", "{r}");
    assert!(
        r["notes"].to_string().contains("started by --when-green"),
        "{r}"
    );
}

#[test]
fn plan_takes_the_uk_forecast_and_older_electricity_maps_hours() {
    let e = Env::new();
    // UK Carbon Intensity: the 48 h forecast in half-hours, averaged per hour.
    let first = this_hour() + Duration::hours(1);
    let fw = fixture_from("intensity_fw48h_national_2023-03-14T1201Z.json", first);
    let body = fw.to_string();
    let s = serve(move |r| {
        if r.path.starts_with("/intensity/") && r.path.ends_with("/fw48h") {
            json(body.clone())
        } else {
            Reply::Status(
                400,
                r#"{"error":{"code":"400 Bad Request"}}"#.into(),
                vec![],
            )
        }
    });
    let p = ok_json(
        &e,
        &[
            "plan",
            "--json",
            "--duration",
            "4h",
            "--region",
            "GB",
            "--basis",
            "direct",
            "--start-after",
            &rfc(first),
            "--grid-provider",
            "ukci",
            "--grid-provider-url",
            &s.url,
        ],
    );
    let half: Vec<f64> = points(&fw).iter().map(|p| p.1).collect();
    let hourly: Vec<f64> = half
        .chunks(2)
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect();
    // The default deadline: start-after + duration + 24 h, within the forecast's 48 h.
    assert_eq!(p["deadline"], rfc(first + Duration::hours(28)), "{p}");
    let (best, mean) = brute_best(&hourly[..28], 4);
    assert_eq!(p["start"], rfc(first + Duration::hours(best as i64)), "{p}");
    assert!(
        (p["mean_g_per_kwh"].as_f64().unwrap() - mean).abs() < 1e-9,
        "{p}"
    );
    assert_eq!(p["basis"], "direct");
    assert!(
        p["data"][0]["source"]
            .as_str()
            .unwrap()
            .contains("UK Carbon Intensity API"),
        "{p}"
    );
    // Electricity Maps, hours older than a day: the past range.
    let from = this_hour() - Duration::hours(72);
    let past = fixture_from(
        "carbon-intensity_past-range_FR_2022-07-01T00Z_06Z.json",
        from,
    );
    let body = past.to_string();
    let s = serve(move |r| match r.path.as_str() {
        "/v3/carbon-intensity/past-range" => json(body.clone()),
        _ => Reply::Status(404, "{}".into(), vec![]),
    });
    let p = ok_json(
        &e,
        &[
            "plan",
            "--json",
            "--duration",
            "2h",
            "--region",
            "FR",
            "--start-after",
            &rfc(from),
            "--deadline",
            "6h",
            "--grid-provider",
            "electricitymaps",
            "--grid-provider-url",
            &s.url,
        ],
    );
    let values: Vec<f64> = points(&past).iter().map(|p| p.1).collect();
    let (best, mean) = brute_best(&values, 2);
    assert_eq!(p["start"], rfc(from + Duration::hours(best as i64)), "{p}");
    assert!(
        (p["mean_g_per_kwh"].as_f64().unwrap() - mean).abs() < 1e-9,
        "{p}"
    );
    let q = &s.requests()[0];
    assert_eq!(
        q.param("start").as_deref(),
        Some(from.format("%Y-%m-%dT%H:%MZ").to_string().as_str())
    );
}
