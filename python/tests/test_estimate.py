"""ecotrace.estimate / estimate_inference / compare: the CLI's estimator, in-process."""

import json
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
    assert e.to_dict() == shown
    assert e.operational_kgco2e == pytest.approx(e.energy_kwh * 1.1 * 0.05)


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
