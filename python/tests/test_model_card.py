"""The model-card block reads back right with huggingface_hub's own readers (the real package,
installed by scripts/test-python): `ModelCard` (the YAML front matter) and the function that the
emissions filter of `HfApi.list_models(emissions_thresholds=...)` applies to each model's card
data. The Hub itself is not reachable in tests, so its JSON answer is stood in for by a JSON round
trip of the card data, which is what the Hub serves back."""

import json
import os
import subprocess

import pytest

# Installed by scripts/test-python (python/requirements-test.txt), so the suite always runs this
# against the real package; only the bare-wheel stage, which installs no framework, skips it.
huggingface_hub = pytest.importorskip("huggingface_hub")
from huggingface_hub import ModelCard  # noqa: E402
from huggingface_hub.hf_api import ModelInfo  # noqa: E402
from huggingface_hub.utils.endpoint_helpers import _is_emission_within_threshold  # noqa: E402

HEADER = (
    "timestamp,project_name,run_id,experiment_id,duration,emissions,emissions_rate,cpu_power,"
    "gpu_power,ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,water_consumed,"
    "country_name,country_iso_code,region,cloud_provider,cloud_region,os,python_version,"
    "codecarbon_version,cpu_count,cpu_model,gpu_count,gpu_model,longitude,latitude,ram_total_size,"
    "tracking_mode,cpu_utilization_percent,gpu_utilization_percent,ram_utilization_percent,"
    "ram_used_gb,on_cloud,pue,wue"
)


def row(run_id, kg, kwh):
    return (
        f"2026-08-12T19:37:35,card,{run_id},5b0fa12a-3dd7-45bb-9766-cc326314d9f1,60,{kg!r},0,"
        f"9.2,0.0,6.0,{kwh!r},0.0,0.0,{kwh!r},0.0,France,FRA,,,,Linux,3.13.13,3.3.0,10,"
        "Intel Xeon,0,,2.3,48.8,24.0,machine,8.3,0,64.6,9.25,N,1.0,0.0"
    )


def card_for(tmp_path, n, grams):
    """Imports one CodeCarbon run of `grams` gCO2e and returns `ecotrace show --format model-card`."""
    ecotrace = os.environ["ECOTRACE_BIN"]
    run_id = "3b540626-49b2-49c4-bd31-%012d" % n
    f = tmp_path / f"emissions-{run_id}.csv"
    f.write_text(HEADER + "\n" + row(run_id, grams / 1000.0, 1.0) + "\n")
    subprocess.run([ecotrace, "import", "codecarbon", str(f)], check=True, capture_output=True)
    return subprocess.run(
        [ecotrace, "show", run_id, "--format", "model-card"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def within(card_data, lo, hi):
    info = ModelInfo(id="user/model", cardData=card_data)
    return _is_emission_within_threshold(info, lo, hi)


def test_tiny_and_huge_emissions_read_back_in_grams(ledger, tmp_path):
    for n, grams in enumerate((1e-5, 1.234e-7, 0.5, 1e9, 2.5e16)):
        text = card_for(tmp_path, n, grams)
        card = ModelCard(text + "\n# model\n")
        emissions = card.data.co2_eq_emissions["emissions"]
        assert abs(float(emissions) - grams) <= 1e-5 * grams, (grams, emissions, text)
        for data in (card.data.to_dict(), json.loads(json.dumps(card.data.to_dict()))):
            # The filter keeps the model for a window around the true figure, drops it otherwise.
            assert within(data, grams * 0.99, grams * 1.01), (grams, data["co2_eq_emissions"])
            assert not within(data, grams * 1.5, grams * 10), (grams, data["co2_eq_emissions"])
            assert not within(data, grams / 10, grams / 1.5), (grams, data["co2_eq_emissions"])
