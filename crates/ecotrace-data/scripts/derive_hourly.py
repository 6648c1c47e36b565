#!/usr/bin/env python3
"""One-off derivation of ecotrace-data's bundled hourly grid intensities.

Reads the Electricity Maps hourly tables of the reference folder and writes
`data/hourly/series.csv` (one row per zone-year: hours, means, byte range, source, licence) and
`data/hourly/electricitymaps.bin` (for each zone-year, the life-cycle then the direct values,
whole gCO2eq/kWh, as zigzag varints of the hour-to-hour difference, each run starting from 0 and
found by its own byte range, so one zone, year and basis is decoded without touching the rest; about one byte per hour, no compression to undo). The build and the
tests never run it. Usage (from the repository root):

    python3 crates/ecotrace-data/scripts/derive_hourly.py ../shared/reference crates/ecotrace-data/data/hourly

2024 is left out: the reference notes that the terms of the release it comes from were not seen.
"""
import csv
import gzip
import io
import sys
from pathlib import Path

REF = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference")
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "crates/ecotrace-data/data/hourly")
YEARS = [2021, 2022, 2023]


def varints(values):
    out = bytearray()
    prev = 0
    for v in values:
        d = v - prev
        prev = v
        u = (d << 1) if d >= 0 else ((-d) << 1) - 1
        while u >= 0x80:
            out.append((u & 0x7F) | 0x80)
            u >>= 7
        out.append(u)
    return bytes(out)


def main():
    manifest = {(r["year"], r["zone_id"]): r
                for r in csv.DictReader(open(REF / "grid/hourly/electricitymaps_hourly_zones.csv",
                                             encoding="utf-8"))}
    blob = bytearray()
    rows = []
    for y in YEARS:
        f = io.TextIOWrapper(gzip.open(REF / f"grid/hourly/electricitymaps_hourly_{y}.csv.gz"),
                             encoding="utf-8")
        by = {}
        for r in csv.DictReader(f):
            by.setdefault(r["zone_id"], []).append(r)
        for z in sorted(by):
            rs = by[z]
            assert rs[0]["datetime_utc"] == f"{y}-01-01T00:00Z", (z, y)
            lca = [round(float(r["ci_lca_gco2eq_per_kwh"])) for r in rs]
            direct = [round(float(r["ci_direct_gco2eq_per_kwh"])) for r in rs]
            lca_bytes, direct_bytes = varints(lca), varints(direct)
            m = manifest[(str(y), z)]
            est = sum(1 for r in rs if r["is_estimated"] == "true")
            rows.append([z, y, rs[0]["datetime_utc"], len(rs), len(blob), len(lca_bytes),
                         len(blob) + len(lca_bytes), len(direct_bytes),
                         f"{sum(lca) / len(lca):.2f}", f"{sum(direct) / len(direct):.2f}", est,
                         f"Electricity Maps hourly carbon intensity {y}, zone {z} ({m['zone_name']}), "
                         f"data portal CSV via {m['upstream_repo']}@{m['upstream_commit'][:10]} "
                         f"{m['upstream_path']}; {m['portal_vintage']}",
                         "ODbL-1.0 (Electricity Maps)"])
            blob += lca_bytes + direct_bytes
    (OUT / "electricitymaps.bin").write_bytes(bytes(blob))
    with open(OUT / "series.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["zone", "year", "first_hour_utc", "hours", "offset_lifecycle",
                    "length_lifecycle", "offset_direct", "length_direct",
                    "mean_lifecycle", "mean_direct", "estimated_hours", "source", "license"])
        w.writerows(rows)
    print(len(rows), "series,", len(blob), "bytes")


main()
