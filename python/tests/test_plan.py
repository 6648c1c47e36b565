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


# -- ecotrace.plan(grid_provider=...) against a mock provider on loopback -------------------------
# The same fixtures the Rust provider tests serve (crates/ecotrace/tests/fixtures/providers), with
# their timestamps moved to the test's clock. Nothing leaves the machine.

import datetime as _dt
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parents[2] / "crates/ecotrace/tests/fixtures/providers"
KEY = "test-key-123"


def _utc(s):
    return _dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def _rfc(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _forecast_from(first):
    """The Electricity Maps forecast fixture, its first hour moved to ``first``."""
    v = json.loads((FIXTURES / "carbon-intensity_forecast_FR_2022-07-01T12Z.json").read_text())
    t0 = _utc(v["forecast"][0]["datetime"])
    for p in v["forecast"]:
        p["datetime"] = _rfc(_utc(p["datetime"]) - t0 + first)
    return v


class _Mock:
    """Answers each request with ``reply(path, query) -> (status, body)`` and records it."""

    def __init__(self, reply):
        self.requests = []
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                u = urlsplit(self.path)
                q = {k: v[0] for k, v in parse_qs(u.query).items()}
                mock.requests.append((u.path, q, self.headers.get("auth-token")))
                status, body = reply(u.path, q)
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider_env(tmp_path, monkeypatch):
    monkeypatch.setenv("ELECTRICITYMAPS_API_KEY", KEY)
    monkeypatch.setenv("ECOTRACE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ECOTRACE_HOURLY_DIR", str(tmp_path / "hourly"))


def test_plan_with_a_live_provider_takes_its_forecast(provider_env):
    now = _dt.datetime.now(_dt.timezone.utc).replace(minute=0, second=0, microsecond=0)
    first = now + _dt.timedelta(hours=2)
    forecast = _forecast_from(first)

    def reply(path, q):
        if path == "/v3/carbon-intensity/forecast" and q.get("zone") == "FR":
            return 200, json.dumps(forecast)
        return 404, '{"error": "unknown"}'

    mock = _Mock(reply)
    try:
        p = ecotrace.plan(duration="3h", region="FR", start_after=_rfc(first),
                          grid_provider="electricitymaps", grid_provider_url=mock.url)
    finally:
        mock.close()
    values = [x["carbonIntensity"] for x in forecast["forecast"]]
    means = [sum(values[i:i + 3]) / 3 for i in range(len(values) - 2)]
    best = min(range(len(means)), key=lambda i: (means[i], i))
    assert p.start == _rfc(first + _dt.timedelta(hours=best)), p.to_dict()
    assert p.mean_g_per_kwh == pytest.approx(means[best], abs=1e-9)
    # Without a deadline, the end of the forecast is the deadline.
    assert p.to_dict()["deadline"] == _rfc(first + _dt.timedelta(hours=len(values)))
    assert p.signal == "average" and p.basis == "lifecycle"
    assert "live: Electricity Maps API v3 carbon-intensity/forecast" in p.data[0]["source"]
    asked = [(path, q.get("zone"), q.get("emissionFactorType"), key)
             for path, q, key in mock.requests]
    assert ("/v3/carbon-intensity/forecast", "FR", "lifecycle", KEY) in asked, asked


def test_plan_with_a_failing_live_provider_falls_back_and_says_why(provider_env):
    mock = _Mock(lambda path, q: (500, "Internal Server Error"))
    try:
        p = ecotrace.plan(duration="3h", region="FR", start_after="2022-06-01T00:00Z",
                          deadline="24h", grid_provider="electricitymaps",
                          grid_provider_url=mock.url)
    finally:
        mock.close()
    bundled = ecotrace.plan(duration="3h", region="FR", start_after="2022-06-01T00:00Z",
                            deadline="24h")
    assert mock.requests, "the provider was asked"
    assert (p.start, p.mean_g_per_kwh) == (bundled.start, bundled.mean_g_per_kwh)
    notes = " ".join(p.to_dict()["notes"])
    assert "live data from Electricity Maps API v3 unavailable" in notes, notes
    assert "HTTP 500" in notes, notes


def test_a_damaged_imported_series_does_not_stop_plan_or_estimate(provider_env, tmp_path):
    clean = ecotrace.plan(duration="3h", region=["FR", "DE"], start_after="2022-06-01T00:00Z",
                          deadline="24h")
    est = ecotrace.estimate(hardware="A100-80GB", hours=2, region="FR")
    damaged = tmp_path / "hourly" / "FR.lifecycle.csv"
    damaged.parent.mkdir(parents=True, exist_ok=True)
    damaged.write_text("datetime_utc,g_per_kwh\nnot a time,1\n")
    p = ecotrace.plan(duration="3h", region=["FR", "DE"], start_after="2022-06-01T00:00Z",
                      deadline="24h")
    assert (p.region, p.start, p.mean_g_per_kwh) == (clean.region, clean.start,
                                                     clean.mean_g_per_kwh)
    notes = " ".join(p.to_dict()["notes"])
    assert str(damaged) in notes and "import it again" in notes, notes
    again = ecotrace.estimate(hardware="A100-80GB", hours=2, region="FR")
    assert again.to_dict() == est.to_dict()
