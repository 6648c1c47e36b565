"""ecotrace.plan(): the CLI's `ecotrace plan`, in-process, with the same arguments and result."""

import json

import pytest

import ecotrace


def test_plan_matches_the_cli(cli):
    p = ecotrace.plan(duration="6h", region=["FR", "DE", "aws:eu-north-1"],
                      start_after="2022-06-01T00:00Z", deadline="24h", energy_kwh=10)
    assert isinstance(p, ecotrace.Plan)
    assert p.region == "aws:eu-north-1"
    assert p.start.startswith("2022-06-01T") and p.basis == "lifecycle"
    assert p.baseline["region"] == "FR"
    assert 0 < p.saving_pct < 100
    assert p.saving_kgco2e is not None and p.saving_kgco2e > 0
    assert p.profile_year is None
    assert all("ODbL" in d["license"] for d in p.data)
    assert "Best: aws:eu-north-1" in str(p)
    shown = json.loads(cli("plan", "--duration", "6h", "--region", "FR,DE,aws:eu-north-1",
                           "--start-after", "2022-06-01T00:00Z", "--deadline", "24h",
                           "--energy-kwh", "10", "--json"))
    assert p.to_dict() == shown


def test_plan_errors_are_value_errors():
    with pytest.raises(ValueError, match="earliest end"):
        ecotrace.plan(duration="6h", region="FR", start_after="2022-01-01T00:00Z",
                      deadline="2022-01-01T01:00Z")
    with pytest.raises(ValueError, match="Narnia"):
        ecotrace.plan(duration="6h", region="Narnia")
    with pytest.raises(ValueError, match="profile"):
        ecotrace.plan(duration="6h", region="FR", start_after="2040-01-01T00:00Z",
                      profile_year=1990)
