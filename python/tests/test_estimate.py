"""ecotrace.estimate / estimate_inference / compare: the CLI's estimator, in-process."""

import json
import re
import subprocess

import pytest

import ecotrace


def test_estimate_matches_the_cli(cli):
    e = ecotrace.estimate(hardware="A100-80GB", devices=8, hours=24, region="US-CA")
    assert isinstance(e, ecotrace.Estimate)
    assert e.device_hours == 192
    assert e.energy_kwh > 0 and e.operational_kgco2e > 0
    assert e.embodied_kgco2e is not None and e.embodied_kgco2e > 0
    assert e.water_l is not None
    assert {a["name"] for a in e.assumptions} >= {"device_power_w", "pue", "intensity_g_per_kwh"}
    assert "A100" in str(e)
    shown = json.loads(cli("estimate", "--hardware", "A100-80GB", "--devices", "8", "--hours",
                           "24", "--region", "US-CA", "--json"))
    assert e.to_dict() == shown


def test_every_flag_is_a_keyword(cli):
    e = ecotrace.estimate(hardware="H100-SXM", devices=64, params=7e9, tokens=2e12, mfu=0.4,
                          intensity=50, pue=1.1, lifetime_years=4)
    shown = json.loads(cli("estimate", "--hardware", "H100-SXM", "--devices", "64", "--params",
                           "7e9", "--tokens", "2e12", "--mfu", "0.4", "--intensity", "50",
                           "--pue", "1.1", "--lifetime-years", "4", "--json"))
    # The same figures and sources, but a keyword argument is named as one (`pue=`), not as the
    # CLI's flag (`--pue`).
    assert e.to_dict() == _as_keywords(shown)
    assert _source(e, "pue") == "given by the user (pue=)"
    assert e.operational_kgco2e == pytest.approx(e.energy_kwh * 1.1 * 0.05)


def _as_keywords(cli_json):
    """The CLI's JSON with each `given by the user (--flag)` written as the keyword (`flag=`)."""
    text = re.sub(r"given by the user \(--([a-z-]+)\)",
                  lambda m: f"given by the user ({m.group(1).replace('-', '_')}=)",
                  json.dumps(cli_json))
    return json.loads(text)


def _source(e, name):
    return next(a for a in e.assumptions if a["name"] == name)["source"]


def _value(e, name):
    return next(a for a in e.assumptions if a["name"] == name)["value"]


def test_factors_layer_as_in_the_cli(cli, monkeypatch, tmp_path):
    """keyword > ECOTRACE_* > ecotrace.toml (found upward from the working directory) > the
    region's table row > default, exactly as `ecotrace estimate` layers them."""
    args = dict(hardware="A100-80GB", hours=1)
    assert _source(ecotrace.estimate(**args), "lifetime_years").startswith("default ")
    toml = tmp_path / "ecotrace.toml"  # the parent of the working directory
    toml.write_text('region = "FR"\npue = 1.4\nlifetime_years = 3\nprice_per_hour = 2\n')
    e = ecotrace.estimate(**args)
    assert e.region == "FR"
    assert "[zones table, row FR" in _source(e, "intensity_g_per_kwh")
    assert (_value(e, "pue"), _source(e, "pue")) == (1.4, f"given by the user (pue in {toml})")
    assert _value(e, "lifetime_years") == 3
    assert e.cost_usd == pytest.approx(2.0)  # price_per_hour: USD per device-hour, 1 device-hour
    shown = json.loads(cli("estimate", "--hardware", "A100-80GB", "--hours", "1", "--json"))
    assert e.to_dict() == shown
    monkeypatch.setenv("ECOTRACE_PUE", "1.3")
    e = ecotrace.estimate(**args)
    assert (_value(e, "pue"), _source(e, "pue")) == (1.3, "given by the user (ECOTRACE_PUE)")
    e = ecotrace.estimate(**args, pue=1.2, region="DE")
    assert (_value(e, "pue"), _source(e, "pue")) == (1.2, "given by the user (pue=)")
    assert e.region == "DE"
    monkeypatch.delenv("ECOTRACE_PUE")
    toml.write_text("pue = 'high'\n")
    with pytest.raises(ValueError, match="ecotrace.toml"):
        ecotrace.estimate(**args)


def test_an_instance_is_a_keyword():
    # m5.xlarge in us-east-1: 0.192 USD/h (bundled SkyPilot catalog price), 10 h.
    e = ecotrace.estimate(hardware="Intel Xeon Platinum 8175M", instance="m5.xlarge",
                          region="aws:us-east-1", hours=10)
    assert e.cost_usd == pytest.approx(1.92)
    assert e.to_dict()["cost"]["basis"] == "instance"
    with pytest.raises(ValueError, match="cloud region"):
        ecotrace.estimate(hardware="Intel Xeon Platinum 8175M", instance="m5.xlarge",
                          region="FR", hours=10)


def test_inference_and_compare():
    i = ecotrace.estimate_inference(energy_per_request_wh=0.3, requests_per_day=1e6, days=365,
                                    region="FR")
    assert i.energy_kwh == pytest.approx(0.3 * 1e6 * 365 / 1000)
    rows = ecotrace.compare(hardware=["A100-80GB", "H100-SXM"], region=["FR", "US-CA"], hours=10)
    assert len(rows) == 4
    carbon = [r.operational_kgco2e + (r.embodied_kgco2e or 0) for r in rows]
    assert carbon == sorted(carbon) or [r.operational_kgco2e for r in rows] == sorted(
        r.operational_kgco2e for r in rows)


def test_bad_input_raises_value_error_with_the_clis_message():
    with pytest.raises(ValueError, match="NoSuchGPU"):
        ecotrace.estimate(hardware="NoSuchGPU", hours=1)
    with pytest.raises(ValueError, match="bogus"):
        ecotrace.estimate(hardware="A100-80GB", hours=1, bogus=3)
    with pytest.raises(ValueError, match="add_to_project"):
        ecotrace.estimate(hardware="A100-80GB", hours=1, add_to_project="p")
