#!/usr/bin/env python3
"""One-off derivation of ecotrace-data's bundled tables from the public reference data.

Documentation of how `crates/ecotrace-data/data/*.csv` were made; the build and the tests never
run it and never read the reference folder. Usage (from the repository root, with the project's
`shared/reference/` checkout beside it):

    python3 crates/ecotrace-data/scripts/derive.py ../shared/reference crates/ecotrace-data/data

It also needs the ISO 3166-1 alpha-2 <-> alpha-3 correspondence, read from Debian's `iso-codes`
package (/usr/share/iso-codes/json/iso_3166-1.json); only the code pairs are used.
See docs/data.md for the choices made here.
"""
import csv
import json
import re
import sys
from pathlib import Path

REF = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference")
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "crates/ecotrace-data/data")
ISO_JSON = Path("/usr/share/iso-codes/json/iso_3166-1.json")

LB_PER_MWH_TO_G_PER_KWH = 453.59237 / 1000.0  # 1 lb = 453.59237 g; 1 MWh = 1000 kWh

EM_SRC = ("Electricity Maps 2024 yearly average, zone {z} (data version 2025-01-27, "
          "via Cambridge-Sustainable-Computing-Lab/Green-Algorithms-data@4a0c3fc736 "
          "v3.1/carbon-intensity/electricitymap/CI-electricitymap-yearly_2024.csv)")
EM_LIC = "ODbL-1.0 (Electricity Maps)"
EMBER_SRC = ("Ember yearly electricity data, emissions intensity of generation (life-cycle "
             "emission factors), {y} "
             "(country_overview_yearly via thegreenwebfoundation/co2.js@27cbe8328a "
             "data/output/average-intensities.json, updated 2025-08-03)")
EMBER_LIC = "CC-BY-4.0 (Ember)"
OWID_SRC = ("Our World in Data energy dataset, carbon intensity of electricity (Ember, "
            "life-cycle emission factors), {y} "
            "(via mlco2/codecarbon@b05965e4 data/private_infra/global_energy_mix.json)")
OWID_LIC = "CC-BY-4.0 (Our World in Data); CodeCarbon copy MIT"
EGRID_SRC = ("EPA eGRID2023 state annual CO2e total output emission rate (STC2ERTA), direct "
             "emissions of in-state generation, {lb} lb/MWh x 0.45359237 (via mlco2/codecarbon "
             "3.3.2 data/private_infra/2023/usa_emissions.json)")
EGRID_LIC = "US public domain (EPA); CodeCarbon copy MIT"
CN_SRC = ("China MEE/NBS Announcement 2025 No. 47, Table 3: 2023 provincial average electricity "
          "CO2 emission factor (CO2 only, accounts for inter-provincial transfers; via "
          "mlco2/codecarbon 3.3.2 data/private_infra/2023/china_provincial_emissions.json)")
CN_LIC = "official government data; CodeCarbon copy MIT"

# Electricity Maps zone ids renamed or shortened in common use -> accepted as aliases.
EXTRA_ALIASES = {
    "GB": ["UK"],
    "SE-SE1": ["SE1"], "SE-SE2": ["SE2"], "SE-SE3": ["SE3"], "SE-SE4": ["SE4"],
    "NO-NO1": ["NO1"], "NO-NO2": ["NO2"], "NO-NO3": ["NO3"], "NO-NO4": ["NO4"], "NO-NO5": ["NO5"],
    "DK-DK1": ["DK1"], "DK-DK2": ["DK2"],
    "WORLD": ["GLOBAL", "WLD"],
    # Kosovo has no ISO 3166 code; Ember uses XKX.
    "XK": ["XKX"],
}


def read_csv(p):
    with open(p, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def fmt(x):
    return f"{float(x):.2f}".rstrip("0").rstrip(".")


def zones():
    iso = json.load(open(ISO_JSON))["3166-1"]
    a2_to_a3 = {c["alpha_2"]: c["alpha_3"] for c in iso}
    a3_to_a2 = {v: k for k, v in a2_to_a3.items()}
    a3_to_a2["XKX"] = "XK"
    rows = {}

    em = read_csv(REF / "grid/electricitymaps_yearly_2024_zones.csv")
    for r in em:
        z = r["zone_id"]
        if z == "GLOBAL":
            continue  # 2023 placeholder (direct == life-cycle == 480); WORLD comes from Ember
        rows[z] = dict(id=z, name=r["zone_name"], g=r["ci_lifecycle_gco2eq_per_kwh"],
                       direct=r["ci_direct_gco2eq_per_kwh"],
                       year=r["year"], source=EM_SRC.format(z=z), license=EM_LIC)
    em_countries = {z for z in rows if len(z) == 2}

    ember = read_csv(REF / "grid/ember_latest_year_by_country.csv")
    for r in ember:
        if r["country_or_region"] == "World":
            rows["WORLD"] = dict(id="WORLD", name="World average", g=r["ci_gco2_per_kwh"],
                                 year=r["year"], source=EMBER_SRC.format(y=r["year"]),
                                 license=EMBER_LIC)
        a2 = a3_to_a2.get(r["iso3"])
        if a2 and a2 not in rows:
            rows[a2] = dict(id=a2, name=r["country_or_region"], g=r["ci_gco2_per_kwh"],
                            year=r["year"], source=EMBER_SRC.format(y=r["year"]),
                            license=EMBER_LIC)

    owid = json.load(open(REF / "codecarbon/git-b05965e4/private_infra/global_energy_mix.json"))
    for a3, r in sorted(owid.items()):
        a2 = a3_to_a2.get(a3)
        if (a2 and a2 not in rows and r.get("carbon_intensity") is not None
                and int(r["year"]) >= 2015):
            rows[a2] = dict(id=a2, name=r["country_name"], g=r["carbon_intensity"],
                            year=r["year"], source=OWID_SRC.format(y=r["year"]),
                            license=OWID_LIC)

    # US states and Chinese provinces: their official figures (eGRID, MEE) are direct/CO2-only
    # rates of in-state generation, not on Electricity Maps' life-cycle basis. They are not
    # bundled as intensities: each id is mapped to the grid zone that serves it (grid_map.csv).
    grid_map(rows)

    out = []
    for z in sorted(rows):
        r = rows[z]
        aliases = []
        if z in a2_to_a3 and len(z) == 2:
            aliases.append(a2_to_a3[z])
        aliases += EXTRA_ALIASES.get(z, [])
        direct = fmt(r["direct"]) if r.get("direct") else ""
        out.append([z, " ".join(aliases), r["name"], fmt(r["g"]), direct, r["year"],
                    r["source"], r["license"]])
    with open(OUT / "zones.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "aliases", "name", "g_per_kwh", "direct_g_per_kwh", "year", "source",
                    "license"])
        w.writerows(out)
    print("zones:", len(out), "countries from EM:", len(em_countries))
    return rows


# US states and Chinese provinces -> the Electricity Maps zone that serves them (grid_map.csv).
# US: the balancing authority serving most of the state's load, read from the EIA-930 balancing
# authority map (U.S. Energy Information Administration, Hourly Electric Grid Monitor, "Balancing
# authorities" map, https://www.eia.gov/electricity/gridmonitor/about, US public domain); states
# that Electricity Maps models on their own (US-AK, US-HI) keep their own zone. China: Electricity
# Maps publishes one zone for mainland China (CN), so every province maps to it.
US_STATE_ZONE = {
    "AL": "US-SE-SOCO", "AZ": "US-SW-AZPS", "AR": "US-MIDW-MISO", "CA": "US-CAL-CISO",
    "CO": "US-NW-PSCO", "CT": "US-NE-ISNE", "DC": "US-MIDA-PJM", "DE": "US-MIDA-PJM",
    "FL": "US-FLA-FPL", "GA": "US-SE-SOCO", "ID": "US-NW-IPCO", "IL": "US-MIDA-PJM",
    "IN": "US-MIDW-MISO", "IA": "US-MIDW-MISO", "KS": "US-CENT-SWPP", "KY": "US-MIDW-LGEE",
    "LA": "US-MIDW-MISO", "ME": "US-NE-ISNE", "MD": "US-MIDA-PJM", "MA": "US-NE-ISNE",
    "MI": "US-MIDW-MISO", "MN": "US-MIDW-MISO", "MS": "US-MIDW-MISO", "MO": "US-MIDW-MISO",
    "MT": "US-NW-NWMT", "NE": "US-CENT-SWPP", "NV": "US-NW-NEVP", "NH": "US-NE-ISNE",
    "NJ": "US-MIDA-PJM", "NM": "US-SW-PNM", "NY": "US-NY-NYIS", "NC": "US-CAR-DUK",
    "ND": "US-MIDW-MISO", "OH": "US-MIDA-PJM", "OK": "US-CENT-SWPP", "OR": "US-NW-PGE",
    "PA": "US-MIDA-PJM", "RI": "US-NE-ISNE", "SC": "US-CAR-SCEG", "SD": "US-CENT-SWPP",
    "TN": "US-TEN-TVA", "TX": "US-TEX-ERCO", "UT": "US-NW-PACE", "VT": "US-NE-ISNE",
    "VA": "US-MIDA-PJM", "WA": "US-NW-BPAT", "WV": "US-MIDA-PJM", "WI": "US-MIDW-MISO",
    "WY": "US-NW-PACE",
}
US_MAP_SRC = ("balancing authority serving most of the state's load, per the EIA-930 balancing "
              "authority map (U.S. EIA Hourly Electric Grid Monitor, US public domain)")
CN_MAP_SRC = ("Electricity Maps publishes one zone for mainland China; the province's MEE/NBS 2023 "
              "CO2-only factor is not on the same basis and is not bundled")


def grid_map(zone_rows):
    usa = json.load(open(REF / "codecarbon/pypi-3.3.2/private_infra/2023/usa_emissions.json"))
    cn = json.load(open(REF / "codecarbon/pypi-3.3.2/private_infra/2023/china_provincial_emissions.json"))
    out = []
    for name, r in usa.items():
        if name.startswith("_") or r["regionCode"] == "usa":
            continue
        st = r["regionCode"]
        if "US-" + st in zone_rows:
            continue  # Electricity Maps has the state as a zone of its own (US-AK, US-HI)
        out.append(["US-" + st, name.title().replace(" Of ", " of "), US_STATE_ZONE[st],
                    US_MAP_SRC])
    for z, r in cn["data"].items():
        out.append([z, r["description"], "CN", CN_MAP_SRC])
    out.sort()
    for r in out:
        assert r[2] in zone_rows, r
    with open(OUT / "grid_map.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "name", "grid_zone", "source"])
        w.writerows(out)
    print("grid_map:", len(out))


# Grid zone of each cloud region, as a zone id of zones.csv. Assigned by hand from the published
# location (see docs/data.md): US regions of AWS and Azure go to the Electricity Maps balancing
# authority their campus is in where that is clear, otherwise to the state (eGRID).
ZONE_FROM_ISO = {"JP-13": "JP-TK", "JP-27": "JP-KN", "JP": "JP-TK", "IN-MH": "IN-WE",
                 "IN-GJ": "IN-WE", "IN-TN": "IN-SO", "IN-DL": "IN-NO", "BR-SP": "BR-CS",
                 "BR-RJ": "BR-CS", "AU-ACT": "AU-NSW"}
ZONE_OVERRIDE = {
    ("aws", "ap-south-2"): "IN-SO",  # Hyderabad, Telangana
    ("aws", "eu-south-1"): "IT-NO",  # Milan
    ("aws", "us-east-1"): "US-MIDA-PJM", ("aws", "us-east-2"): "US-MIDA-PJM",
    ("aws", "us-west-1"): "US-CAL-CISO", ("aws", "us-west-2"): "US-NW-BPAT",
    ("aws", "us-gov-east-1"): "US-MIDA-PJM", ("aws", "us-gov-west-1"): "US-NW-BPAT",
    ("azure", "indiasouthcentral"): "IN-SO",  # Hyderabad
    ("azure", "italynorth"): "IT-NO",
    ("azure", "denmarkeast"): "DK-DK2",
    ("azure", "northeurope"): "IE",  # Dublin
    ("azure", "centralus"): "US-MIDW-MISO",  # Iowa
    ("azure", "eastus"): "US-MIDA-PJM", ("azure", "eastus2"): "US-MIDA-PJM",
    ("azure", "eastusstg"): "US-MIDA-PJM",
    ("azure", "northcentralus"): "US-MIDA-PJM",  # Chicago area (ComEd, PJM)
    ("azure", "southcentralus"): "US-TEX-ERCO", ("azure", "southcentralusstg"): "US-TEX-ERCO",
    ("azure", "westcentralus"): "US-NW-WACM",  # Cheyenne, Wyoming
    ("azure", "westus"): "US-CAL-CISO",
    ("azure", "westus2"): "US-NW-GCPD",  # Quincy, Washington (Grant County PUD)
    ("azure", "eastus3"): "US-SE-SOCO",  # Atlanta, Georgia
    ("gcp", "europe-west8"): "IT-NO", ("gcp", "europe-west12"): "IT-NO",
    ("gcp", "us-central1"): "US-MIDW-MISO", ("gcp", "us-central2"): "US-CENT-SWPP",
    ("gcp", "us-east1"): "US-CAR-SC", ("gcp", "us-east4"): "US-MIDA-PJM",
    ("gcp", "us-east5"): "US-MIDA-PJM", ("gcp", "us-south1"): "US-TEX-ERCO",
    ("gcp", "us-west1"): "US-NW-BPAT", ("gcp", "us-west3"): "US-NW-PACE",
    ("gcp", "us-west4"): "US-NW-NEVP",
}
# Regions with no published location: left out.
DROP = {("aws", "eu-isoe-west-1"), ("azure", "brazilus")}

GRC_NOTE = ("Google's own {y} figure for this region, {g} g/kWh (GoogleCloudPlatform/"
            "region-carbon-info@49f3f26bfd data/yearly/{y}.csv), is on the direct basis; the "
            "zone's life-cycle figure is used")
CCF = "cloud-carbon-footprint/cloud-carbon-footprint@b7a049c7d2"
PUE_AWS = ("AWS fleet-wide PUE 2024 (provider-global, not region-specific), as published at "
           "https://aws.amazon.com/sustainability/data-centers")
PUE_GCP_TTM = ("Google trailing-twelve-month PUE for this region, as used by " + CCF +
               " packages/gcp/src/domain/GcpFootprintEstimationConstants.ts (Apache-2.0)")
PUE_GCP_AVG = ("Google fleet-wide PUE 1.1 (provider-global, not region-specific), CCF PUE_AVG, "
               + CCF + " packages/gcp/src/domain/GcpFootprintEstimationConstants.ts (Apache-2.0)")
PUE_AZ = ("Microsoft fleet-wide PUE 1.185 (provider-global, not region-specific), CCF PUE_AVG "
          "quoting a Microsoft statement, " + CCF +
          " packages/azure/src/domain/AzureFootprintEstimationConstants.ts (Apache-2.0)")
WUE_AWS = ("AWS fleet-wide WUE 2024, 0.15 L/kWh (provider-global, not region-specific), as "
           "published by AWS (https://sustainability.aboutamazon.com/products-services/aws-cloud)")
WUE_AZ = "none: no openly licensed per-region or fleet-wide Microsoft WUE figure was available"
# Year and licence of each row's own figures (PUE, WUE). CCF's constants do not state their data
# year: they are dated by the CCF snapshot that carries them (commit of 2024-03-25), said so.
CCF_YEAR_NOTE = " (the figure's own year is not stated; dated by the CCF snapshot of 2024-03-25)"
ROW_TERMS = {
    "aws": ("2024", "facts published by AWS"),
    "gcp": ("2024", "Apache-2.0 (Cloud Carbon Footprint)"),
    "azure": ("2024", "Apache-2.0 (Cloud Carbon Footprint)"),
}
# Sources marked "all rights reserved" or unclear in the reference's cloud/SOURCES.md (GSF
# real-time-cloud data, the unchecked EK transcription) are never bundled: the per-region AWS and
# Azure intensities, PUE and WUE of regions.csv that come from them are left out.
WUE_GCP = "none: Google publishes no WUE"


def cloud(zone_rows):
    regions = read_csv(REF / "cloud/regions.csv")
    grc = read_csv(REF / "cloud/gcp_region_carbon_yearly.csv")
    latest = {}
    for r in grc:
        if r["grid_carbon_intensity_g_per_kwh"]:
            if r["region"] not in latest or int(r["year"]) > int(latest[r["region"]]["year"]):
                latest[r["region"]] = r
    ttm = {r["key"]: r["value"] for r in read_csv(REF / "cloud/ccf_coefficients.csv")
           if r["provider"] == "gcp" and r["parameter"] == "pue_trailing_twelve_month"}
    out = []
    for r in regions:
        p, reg = r["provider"], r["region"]
        if (p, reg) in DROP:
            continue
        zone = ZONE_OVERRIDE.get((p, reg)) or ZONE_FROM_ISO.get(r["grid_zone"]) or r["grid_zone"]
        assert zone in zone_rows, (p, reg, zone)
        # No region-specific figure is bundled: every region takes its zone's life-cycle figure,
        # so that regions of all providers are on one basis. Google's own figure (the only
        # openly licensed per-region one) equals Electricity Maps' *direct* value for the zone
        # (median ratio 1.00 over the GCP regions), i.e. a different basis; it is quoted in the
        # source for cross-checking. AWS/Azure figures in regions.csv come from GSF's
        # Cloud_Region_Metadata.csv, whose data licence is unclear: not bundled.
        g = year = ""
        isrc = "no region-specific figure bundled"
        if p == "gcp" and reg in latest:
            gy = latest[reg]["year"]
            isrc = GRC_NOTE.format(g=fmt(latest[reg]["grid_carbon_intensity_g_per_kwh"]), y=gy)
        if p == "aws":
            pue, psrc, wue, wsrc = "1.15", PUE_AWS, "0.15", WUE_AWS
        elif p == "gcp":
            if reg in ttm:
                pue, psrc = ttm[reg], PUE_GCP_TTM + CCF_YEAR_NOTE
            else:
                pue, psrc = "1.1", PUE_GCP_AVG + CCF_YEAR_NOTE
            wue, wsrc = "", WUE_GCP
        else:
            pue, psrc, wue, wsrc = "1.185", PUE_AZ + CCF_YEAR_NOTE, "", WUE_AZ
        year, lic = ROW_TERMS[p]
        for banned in ("Green-Software-Foundation", "real-time-cloud", "emielkwakkel"):
            assert banned not in psrc + wsrc + isrc, (p, reg, banned)
        # EUAP (early-access) regions publish no location; only the country is known.
        location = r["location"] or "United States (location not published)"
        out.append([p, reg, location, zone, fmt(g) if g else "", "", isrc, pue, psrc,
                    wue, wsrc, year, lic])
    with open(OUT / "cloud_regions.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["provider", "region", "location", "zone", "g_per_kwh", "intensity_year",
                    "intensity_source", "pue", "pue_source", "wue_l_per_kwh", "wue_source",
                    "year", "license"])
        w.writerows(out)
    print("cloud regions:", len(out))


NOISE = re.compile(r"\((r|tm)\)|®|™|\bcpu\b|\bprocessors?\b|@.*$")


def cpu_key(name):
    s = NOISE.sub(" ", name.lower())
    return " ".join(s.split())


# Kept short: it is repeated on ~4,900 rows. docs/data.md gives the full provenance.
CC_SRC = "CodeCarbon 3.3.2 cpu_power.csv"
CC_LIC = "MIT"


def cpus():
    cores = {}
    ark = read_csv(REF / "codecarbon/git-b05965e4/hardware/cpu_dataset_builder/intel_cpu_ark_dataset.csv")
    for r in ark:
        if r["total_cores"].strip().isdigit():
            cores[cpu_key(r["cpu_name"])] = int(r["total_cores"])
    for fn in ["amd_cpu_server_dataset.csv", "amd_cpu_desktop_dataset.csv"]:
        for r in read_csv(REF / "codecarbon/git-b05965e4/hardware/cpu_dataset_builder" / fn):
            name = r["Name"]
            c = r["# of CPU Cores"].strip()
            if name and c.isdigit():
                cores[cpu_key(name)] = int(c)
    rows = read_csv(REF / "codecarbon/pypi-3.3.2/hardware/cpu_power.csv")
    seen = {}
    out = []
    conflicts = 0
    for r in rows:
        name = " ".join(r["Name"].split())
        try:
            tdp = float(r["TDP"])
        except ValueError:
            print("  malformed TDP, row left out:", name, r["TDP"])
            continue
        if tdp <= 0:
            print("  zero TDP, row left out:", name, r["TDP"])
            continue
        k = cpu_key(name)
        if k in seen:
            if seen[k] != tdp:
                conflicts += 1
                print("  conflicting TDP for", name, seen[k], tdp)
            continue
        seen[k] = tdp
        out.append([name, fmt(tdp), cores.get(k, ""), CC_SRC, "2026", CC_LIC])
    with open(OUT / "cpus.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["name", "tdp_w", "cores", "source", "year", "license"])
        w.writerows(out)
    print("cpus:", len(out), "of", len(rows), "with cores:", sum(1 for o in out if o[2] != ""),
          "conflicts:", conflicts)


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    zr = zones()
    cloud(zr)
    cpus()
