#!/usr/bin/env python3
"""One-off derivation of the whole-footprint tables of ecotrace-data from the public reference data:

    accelerators.csv  GPUs and TPUs: TDP, memory, peak FLOP/s, embodied carbon (published or estimated)
    embodied.csv      hosts (GPU server without its GPUs, CPU server) and CPU packages: embodied carbon
    water.csv         off-site water consumed per kWh generated, per grid zone (estimated)
    prices.csv        on-demand hourly prices of cloud GPU and CPU instances (AWS, Google Cloud, Azure)
    electricity_prices.csv  average electricity prices by country (Eurostat) and US state (EIA)
    exchange_rates.csv      the ECB annual average EUR->USD rate that converts the Eurostat prices

Documentation of how `crates/ecotrace-data/data/*.csv` were made; the build and the tests never run it
and never read the reference folder. Usage (from the repository root, with the project's
`shared/reference/` checkout beside it):

    python3 crates/ecotrace-data/scripts/derive_footprint.py ../shared/reference crates/ecotrace-data/data

Companion of `derive.py` (zones, cloud regions, CPUs). See docs/data.md and docs/footprint.md for the
choices made here.
"""
import csv
import sys
from pathlib import Path

REF = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference")
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "crates/ecotrace-data/data")


def read_csv(p):
    with open(p, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def fmt(x):
    return ("%.6f" % x).rstrip("0").rstrip(".")


def write(name, header, rows):
    with open(OUT / name, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    print(name, len(rows), "rows")


# ---------------------------------------------------------------------------------------------------
# Accelerators

EPOCH = "Epoch AI, Data on Machine Learning Hardware (CC BY 4.0), row {m!r}"
EPOCH_LIC = "CC-BY-4.0 (Epoch AI)"
HUBBLO = ("ADEME/Tide/Hubblo GPU LCA via hubblo-org/gpu-calculator@2308a62b73f2 "
          "src/data/gpu/gpus_impact_factors.csv: card {m!r}, sum of manufacturing GWP rows + end of life")
HUBBLO_LIC = "CC-BY-SA-4.0 (Hubblo GPU calculator)"

# Linear fit of the published per-card LCA totals (Hubblo, cradle-to-gate + end of life) on memory size.
# Fitted here on the seven measured cards (L4, A100 PCIe 40GB, A100 SXM4 40GB, GTX 1080 Ti,
# P100 PCIe 16GB, RTX A4500, TITAN RTX); the H100 PCIe row is itself a model output and is left out
# of the fit. Memory (not die area) is used because every catalog row has it.
# Memory of each fitted card in GB (the model names say it where the reference row leaves it blank;
# the TITAN RTX retail card has 24 GB although Hubblo and Boavizta list 20).
FIT_CARDS = {"NVIDIA L4": 24, "NVIDIA A100 PCIe": 40, "NVIDIA A100 SXM4 40 GB": 40,
             "NVIDIA GeForce GTX 1080 Ti": 11, "NVIDIA Tesla P100 PCIe 16GB": 16, "NVIDIA RTX A4500": 20,
             "NVIDIA TITAN RTX": 24}

# id, aliases, epoch/reference model row, overrides
CATALOG = [
    ("P100-PCIE-16GB", "P100;Tesla P100;P100-16GB;Tesla P100-PCIE-16GB", "NVIDIA Tesla P100 PCIe 16GB",
     {"memory_gb": "16"}),
    ("V100-SXM2-16GB", "V100;Tesla V100;V100-SXM2;V100-16GB;Tesla V100-SXM2-16GB", "NVIDIA Tesla V100 SXM2", {}),
    ("V100-SXM2-32GB", "V100-32GB;Tesla V100-SXM2-32GB", "NVIDIA Tesla V100 SXM2 32 GB", {}),
    ("V100-PCIE-16GB", "Tesla V100-PCIE-16GB", "NVIDIA Tesla V100 PCIe 16 GB", {}),
    ("V100-PCIE-32GB", "Tesla V100-PCIE-32GB", "NVIDIA Tesla V100 PCIe 32 GB", {}),
    ("T4", "Tesla T4;NVIDIA T4", "NVIDIA Tesla T4",
     {"fp16": "65.13", "fp16_note": "FP16 from Epoch's plain FP16 column (the T4 datasheet's tensor figure)"}),
    ("A10", "A10-24GB;NVIDIA A10", "NVIDIA A10 PCIe", {}),
    ("A10G", "NVIDIA A10G", "NVIDIA A10G", {}),
    ("A100-PCIE-40GB", "A100-40GB-PCIE;A100 PCIe;A100-PCIE", "NVIDIA A100 PCIe",
     {"tdp_w": "250", "tdp_note": "TDP 250 W as in mlco2/impact and Green Algorithms (NVIDIA datasheet for the 40GB PCIe card); Epoch gives 300 W"}),
    ("A100-SXM4-40GB", "A100;A100-40GB;A100-SXM-40GB;A100-SXM4;NVIDIA A100-SXM4-40GB", "NVIDIA A100 SXM4 40 GB", {}),
    ("A100-PCIE-80GB", "A100-80GB-PCIE;NVIDIA A100 80GB PCIe", "NVIDIA A100 PCIe 80GB",
     {"flops_from": "NVIDIA A100 SXM4 80 GB"}),
    ("A100-SXM4-80GB", "A100-80GB;A100-SXM-80GB;NVIDIA A100-SXM4-80GB", "NVIDIA A100 SXM4 80 GB", {}),
    ("L4", "NVIDIA L4", "NVIDIA L4", {}),
    ("L40S", "NVIDIA L40S", "NVIDIA L40S", {}),
    ("H100-PCIE", "H100-PCIE-80GB;NVIDIA H100 PCIe", "NVIDIA H100 PCIe", {}),
    ("H100-SXM", "H100;H100-SXM5;H100-SXM5-80GB;H100-80GB;NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM5 80GB", {}),
    ("H200", "H200-SXM;H200-141GB;NVIDIA H200", "NVIDIA H200 SXM", {}),
    ("B200", "NVIDIA B200", "NVIDIA B200", {}),
    ("RTX-3090", "RTX3090;GeForce RTX 3090;NVIDIA GeForce RTX 3090", "NVIDIA GeForce RTX 3090", {}),
    ("RTX-4090", "RTX4090;GeForce RTX 4090;NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090", {}),
    ("MI250X", "Instinct MI250X;AMD Instinct MI250X", "AMD Radeon Instinct MI250X", {}),
    ("MI300X", "Instinct MI300X;AMD Instinct MI300X", "AMD Instinct MI300X", {}),
    ("TPU-v2", "TPUv2;TPU v2", "Google TPU v2", {}),
    ("TPU-v3", "TPUv3;TPU v3", "Google TPU v3", {}),
    ("TPU-v4", "TPUv4;TPU v4", "Google TPU v4",
     {"tdp_w": "170", "tdp_note": "170 W as in Green Algorithms TDP_gpu.csv (CC BY 4.0); Epoch derives 340 W from an efficiency ratio"}),
    ("TPU-v5e", "TPUv5e;TPU v5e;TPU v5 lite;v5litepod", "Google TPU v5e", {}),
    ("TPU-v5p", "TPUv5p;TPU v5p", "Google TPU v5p", {}),
]


def fit_memory(rows_by_model):
    xs, ys = [], []
    for m, mem in FIT_CARDS.items():
        r = rows_by_model[m]
        xs.append(float(mem))
        ys.append(float(r["embodied_kgco2e"]))
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    a = my - b * mx
    rms = (sum((a + b * x - y) ** 2 for x, y in zip(xs, ys)) / n) ** 0.5
    return round(a, 1), round(b, 2), rms


def accelerators():
    rows = read_csv(REF / "hardware/accelerators.csv")
    by_model = {r["model"]: r for r in rows}
    a, b, rms = fit_memory(by_model)
    print(f"embodied fit: {a} kg + {b} kg/GB x memory (RMS {rms:.1f} kg on the fitted cards)")
    out = []
    for cid, aliases, model, ov in CATALOG:
        r = by_model[model]
        notes = []
        mem = ov.get("memory_gb", r["memory_gb"])
        tdp = ov.get("tdp_w", r["tdp_w"])
        if "tdp_note" in ov:
            notes.append(ov["tdp_note"])
        fp32, fp16, fp8 = r["peak_tflops_fp32"], r["peak_tflops_fp16_bf16_dense"], r["peak_tflops_fp8_dense"]
        if "flops_from" in ov:
            f = by_model[ov["flops_from"]]
            fp32, fp16, fp8 = f["peak_tflops_fp32"], f["peak_tflops_fp16_bf16_dense"], f["peak_tflops_fp8_dense"]
            notes.append(f"peak FLOP/s as Epoch's {ov['flops_from']!r} row (same chip)")
        if "fp16" in ov:
            fp16 = ov["fp16"]
            notes.append(ov["fp16_note"])
        spec_src = r["spec_source"].split(";")[0]
        if spec_src.startswith("Epoch AI"):
            spec_src = EPOCH.format(m=model)
            spec_lic = EPOCH_LIC
        else:
            spec_lic = "MIT (mlco2/impact)" if "mlco2" in spec_src else "CC-BY-4.0 (Green Algorithms)"
        basis = r["embodied_basis"]
        if basis.startswith("LCA study") or basis.startswith("parametric LCA"):
            emb = r["embodied_kgco2e"]
            estimated = "false" if basis.startswith("LCA study") else "true"
            emb_src = HUBBLO.format(m=model) + ("" if estimated == "false" else " (parametric model output, not a measured card)")
            if model == "NVIDIA A100 PCIe":
                notes.append("embodied figure is the 40GB PCIe card's")
            emb_basis = "lca" if estimated == "false" else "lca-model"
        else:
            emb = fmt(a + b * float(mem))
            estimated = "true"
            emb_basis = "estimate-memory"
            emb_src = (f"estimate: {a} kgCO2e + {b} kgCO2e/GB x {fmt(float(mem))} GB memory, a linear fit of "
                       "the published per-card LCA totals (ADEME/Tide/Hubblo) on memory size; see docs/footprint.md")
            if r["embodied_kgco2e"]:
                notes.append(f"LLMCarbon gives {r['embodied_kgco2e']} kgCO2e for the die alone (no memory, board or package); not used")
        lic = "; ".join(dict.fromkeys([spec_lic, HUBBLO_LIC]))
        vendor = r["vendor"]
        kind = "tpu" if "TPU" in model else "gpu"
        name = model if model != "NVIDIA A100 PCIe" else "NVIDIA A100 PCIe 40GB"
        out.append([cid, aliases, vendor, name, kind, r["form_factor"], mem, tdp, fp32, fp16, fp8,
                    r["release_year"], spec_src, emb, estimated, emb_basis, emb_src, lic, " | ".join(notes)])
    write("accelerators.csv",
          ["id", "aliases", "vendor", "name", "kind", "form_factor", "memory_gb", "tdp_w",
           "tflops_fp32", "tflops_fp16", "tflops_fp8", "release_year", "spec_source",
           "embodied_kgco2e", "embodied_estimated", "embodied_basis", "embodied_source", "license", "notes"],
          out)


# ---------------------------------------------------------------------------------------------------
# Hosts and CPU packages (Cloud Carbon Footprint coefficients, Apache-2.0)

CCF = ("Cloud Carbon Footprint coefficients (cloud-carbon-footprint/ccf-coefficients@b0032d928c78 "
       "output/coefficients-aws-embodied.csv), {what}")
CCF_LIC = "Apache-2.0 (Cloud Carbon Footprint)"
CCF_GPU_KG = 150.0  # CCF's addition per GPU (1200 kg for 8 GPUs)
CCF_CPU_KG = 100.0  # CCF's addition per CPU beyond the base server


def embodied():
    rows = {r["type"]: r for r in read_csv(REF / "cloud/ccf-coefficients/coefficients-aws-embodied.csv")}
    p4d = rows["p4d.24xlarge"]
    m5 = rows["m5.24xlarge"]
    assert float(p4d["additional_gpus"]) == 8 * CCF_GPU_KG
    gpu_host = float(p4d["total"]) - 8 * CCF_GPU_KG - 2 * CCF_CPU_KG
    cpu_host = float(m5["total"]) - 2 * CCF_CPU_KG
    out = [
        ["gpu-server", "GPU server without its accelerators and CPUs (8 accelerator slots)", "host", "8",
         fmt(gpu_host), "true", "model",
         CCF.format(what=f"AWS p4d.24xlarge platform total {p4d['total']} kgCO2e less 8 GPUs x {CCF_GPU_KG:g} and 2 CPUs x {CCF_CPU_KG:g} kgCO2e as CCF counts them"),
         "2026", CCF_LIC,
         "board, 1152 GB memory, 8 TB SSD, chassis, power supplies; CCF base server 1000 kgCO2e after a Dell R740 LCA"],
        ["cpu-server", "CPU server without its CPUs (2 sockets)", "host", "2", fmt(cpu_host), "true", "model",
         CCF.format(what=f"AWS m5.24xlarge platform total {m5['total']} kgCO2e less 2 CPUs x {CCF_CPU_KG:g} kgCO2e"),
         "2026", CCF_LIC, "board, 384 GB memory, chassis, power supplies"],
        ["cpu", "CPU package (one socket)", "cpu", "1", fmt(CCF_CPU_KG), "true", "model",
         CCF.format(what="additional CPU: 100 kgCO2e per CPU"), "2026", CCF_LIC,
         "the same figure for every CPU model; the bundled CPU table has no per-model embodied data"],
    ]
    write("embodied.csv",
          ["id", "name", "kind", "slots", "embodied_kgco2e", "estimated", "basis", "source", "year",
           "license", "notes"], out)


# ---------------------------------------------------------------------------------------------------
# Off-site water: consumption of thermal generation, weighted by the zone's fossil and nuclear shares

REEDS = "NREL ReEDS 2.0 water consumption rates (BSD-3-Clause; after Macknick et al. 2012)"


def water():
    rates = {}
    for r in read_csv(REF / "water/reeds_generation_water_rates.csv"):
        if r["quantity"] == "consumption":
            rates[(r["reeds_technology"], r["cooling"])] = float(r["l_per_kwh"])
    tower = "recirculating (cooling tower)"
    coal, gas, nuc = rates[("CoalOldScr", tower)], rates[("Gas-CC", tower)], rates[("nuclear", tower)]
    fossil = round((coal + gas) / 2, 4)
    print(f"water: fossil {fossil} L/kWh (coal {coal}, gas CC {gas}), nuclear {nuc} L/kWh")
    # Shares per zone: the 2024 Green-Algorithms copy first; zones it lacks (e.g. US, CN, IN as a
    # whole) from the co2.js copy of the same Electricity Maps 2024 data.
    shares = {}
    for r in read_csv(REF / "grid/electricitymaps_yearly_2024_zones.csv"):
        if r["carbon_free_pct"] != "" and r["renewable_pct"] != "":
            shares[r["zone_id"]] = (r["zone_name"], float(r["carbon_free_pct"]), float(r["renewable_pct"]),
                                    r["year"], "Electricity Maps 2024 yearly data (Green-Algorithms-data copy)")
    for r in read_csv(REF / "grid/electricitymaps_yearly_2021_2025_zones.csv"):
        if r["year"] == "2024" and r["zone_id"] and r["zone_id"] not in shares and r["carbon_free_pct"] != "":
            shares[r["zone_id"]] = (r["zone_name"], float(r["carbon_free_pct"]), float(r["renewable_pct"]),
                                    r["year"], "Electricity Maps 2024 yearly data (co2.js copy)")
    out = []
    countries = []
    for zone, (name, cfe, re_, year, src) in shares.items():
        f_share = max(0.0, 1 - cfe / 100)
        n_share = max(0.0, (cfe - re_) / 100)
        l_kwh = f_share * fossil + n_share * nuc
        if len(zone) == 2:
            countries.append((f_share, n_share))
        out.append([zone, name, fmt(round(l_kwh, 4)), fmt(round(f_share, 4)), fmt(round(n_share, 4)), year,
                    f"estimate: fossil share x {fossil} + nuclear share x {nuc} L/kWh ({REEDS}, tower cooling); "
                    f"shares from {src}, zone {zone} (1 - carbon-free %, carbon-free % - renewable %)",
                    "ODbL-1.0 (Electricity Maps shares); BSD-3-Clause (ReEDS rates)"])
    # World default: the mean of the country zones' shares (not weighted by generation: no
    # generation data is bundled). A placeholder, said so wherever it is used.
    f_w = sum(c[0] for c in countries) / len(countries)
    n_w = sum(c[1] for c in countries) / len(countries)
    print(f"water: world default from {len(countries)} countries: fossil {f_w:.3f}, nuclear {n_w:.3f}")
    out.append(["WORLD", "World (default)", fmt(round(f_w * fossil + n_w * nuc, 4)), fmt(round(f_w, 4)),
                fmt(round(n_w, 4)), "2024",
                f"estimate: mean fossil and nuclear shares of the {len(countries)} country zones (not weighted "
                f"by generation) x the same ReEDS rates ({fossil} and {nuc} L/kWh); a placeholder for grids "
                "without their own row",
                "ODbL-1.0 (Electricity Maps shares); BSD-3-Clause (ReEDS rates)"])
    out.sort(key=lambda o: (o[0] != "WORLD", o[0]))
    write("water.csv", ["zone", "name", "offsite_l_per_kwh", "fossil_share", "nuclear_share", "year",
                        "source", "license"], out)


# ---------------------------------------------------------------------------------------------------
# Prices

AWS_MAP = {"g4dn": "T4", "g5": "A10G", "g6": "L4", "gr6": "L4", "g6e": "L40S", "p3": "V100-SXM2-16GB",
           "p3dn": "V100-SXM2-32GB", "p4d": "A100-SXM4-40GB", "p4de": "A100-SXM4-80GB", "p5": "H100-SXM",
           "p5en": "H200", "p6-b200": "B200"}
AWS_SRC = ("AWS public on-demand list price (Linux), {date}, as aggregated by instances.vantage.sh in "
           "github.com/tsaol/aws-gpu@77fcd9fe1d data/all_gpu_instances.js")
AWS_LIC = "facts (public list prices); the snapshot repository has no licence file"

# Azure pay-as-you-go Linux list prices, read from skypilot-org/skypilot-catalog@098741e70562
# catalogs/v6/azure/vms.csv (snapshot date not recorded in the file). ND96isr_H100_v5 has 8 GPUs
# (the catalog row says 12).
AZURE_SRC = ("Azure pay-as-you-go list price (Linux), as snapshotted in "
             "skypilot-org/skypilot-catalog@098741e70562 catalogs/v6/azure/vms.csv (snapshot date not recorded)")
AZURE_LIC = "facts (public list prices); the snapshot repository has no licence file"
AZURE = [
    ("Standard_NC4as_T4_v3", "T4", 1, {"eastus": 0.526, "westus2": 0.526, "westus3": 0.526}),
    ("Standard_NC64as_T4_v3", "T4", 4, {"eastus": 4.352, "westus2": 4.352}),
    ("Standard_NC6s_v3", "V100-PCIE-16GB", 1, {"eastus": 3.06, "westus2": 3.06}),
    ("Standard_NC24s_v3", "V100-PCIE-16GB", 4, {"eastus": 12.24, "westus2": 12.24}),
    ("Standard_ND40rs_v2", "V100-SXM2-32GB", 8, {"eastus": 22.032, "westus2": 22.032}),
    ("Standard_NV36ads_A10_v5", "A10", 1, {"eastus": 3.2, "westus2": 3.2}),
    ("Standard_NC24ads_A100_v4", "A100-PCIE-80GB", 1, {"eastus": 3.673, "westus2": 3.673, "westus3": 3.673}),
    ("Standard_NC96ads_A100_v4", "A100-PCIE-80GB", 4, {"eastus": 14.692, "westus2": 14.692}),
    ("Standard_ND96asr_v4", "A100-SXM4-40GB", 8, {"eastus": 27.197, "westus2": 27.197}),
    ("Standard_ND96amsr_A100_v4", "A100-SXM4-80GB", 8, {"eastus": 32.77, "eastus2": 32.77}),
    ("Standard_NC40ads_H100_v5", "H100-PCIE", 1, {"eastus": 6.98, "eastus2": 6.98}),
    ("Standard_ND96isr_H100_v5", "H100-SXM", 8, {"eastus": 98.32, "eastus2": 98.32}),
]

# Google Cloud on-demand list prices (Linux), read from skypilot-org/skypilot-catalog@0489582999fe
# catalogs/v6/gcp/vms.csv (snapshot date not recorded in the file). Google bills an A2 machine as
# its VM part (vCPUs and memory) plus its GPUs; the catalog lists the two parts on separate rows,
# so each price here is the sum of the two published rows (e.g. a2-highgpu-1g in us-central1:
# VM 0.73948 + 1 x A100 2.93391 = 3.67339). Only A100 40GB (a2-highgpu) in the three US regions
# where both parts agree across zones; other GPU rows of that snapshot were left out because their
# GPU part differs between regions whose VM parts are equal (H100 4.57009 per GPU in us-central1
# but 9.79655 in us-east4), which looks like a catalog artefact.
GCP_SRC = ("Google Cloud on-demand list price (Linux), VM part + GPU part as snapshotted in "
           "skypilot-org/skypilot-catalog@0489582999fe catalogs/v6/gcp/vms.csv (snapshot date not recorded)")
GCP_LIC = "facts (public list prices); the snapshot repository has no licence file"
# (instance, vCPUs, GPUs, VM part, GPU part for all GPUs), identical in the regions below
GCP_A2 = [
    ("a2-highgpu-1g", 12, 1, 0.73948, 2.93391),
    ("a2-highgpu-2g", 24, 2, 1.47895, 5.86782),
    ("a2-highgpu-4g", 48, 4, 2.95791, 11.73563),
    ("a2-highgpu-8g", 96, 8, 5.91582, 23.47126),
]
GCP_A2_REGIONS = ["us-central1", "us-east1", "us-west1"]

# CPU instances (no accelerator: accelerator empty, accelerator_count 0), on-demand Linux list
# prices read by hand from the skypilot-org/skypilot-catalog files named in each source (Price
# column; the same in every availability zone of a region). No snapshot date is recorded in those
# files. A few common types in two regions per provider that the grid table resolves: AWS
# us-east-1 and eu-west-3 (Paris), Google Cloud us-central1 and europe-west9 (Paris); the Azure
# file of that snapshot lists US regions only, so Azure eastus and westus2.
CPU_SRC = {
    "aws": ("AWS on-demand list price (Linux), as snapshotted in "
            "skypilot-org/skypilot-catalog@001367d22a00 catalogs/v6/aws/vms.csv (snapshot date not recorded)"),
    "gcp": ("Google Cloud on-demand list price (Linux), as snapshotted in "
            "skypilot-org/skypilot-catalog@cd845b822d8d catalogs/v6/gcp/vms.csv (snapshot date not recorded)"),
    "azure": AZURE_SRC,
}
CPU_LIC = "facts (public list prices); the snapshot repository has no licence file"
# (provider, instance, vCPUs, {region: USD per hour})
CPU_INSTANCES = [
    ("aws", "m5.xlarge", 4, {"us-east-1": 0.192, "eu-west-3": 0.224}),
    ("aws", "m5.12xlarge", 48, {"us-east-1": 2.304, "eu-west-3": 2.688}),
    ("aws", "m5.16xlarge", 64, {"us-east-1": 3.072, "eu-west-3": 3.584}),
    ("aws", "m5d.large", 2, {"us-east-1": 0.113, "eu-west-3": 0.132}),
    ("aws", "m5d.2xlarge", 8, {"us-east-1": 0.452, "eu-west-3": 0.528}),
    ("aws", "m5d.4xlarge", 16, {"us-east-1": 0.904, "eu-west-3": 1.056}),
    ("aws", "m5a.2xlarge", 8, {"us-east-1": 0.344, "eu-west-3": 0.404}),
    ("aws", "m5a.4xlarge", 16, {"us-east-1": 0.688, "eu-west-3": 0.808}),
    ("aws", "m6i.xlarge", 4, {"us-east-1": 0.192, "eu-west-3": 0.224}),
    ("aws", "m6i.metal", 128, {"us-east-1": 6.144, "eu-west-3": 7.168}),
    ("aws", "c5.2xlarge", 8, {"us-east-1": 0.34, "eu-west-3": 0.404}),
    ("aws", "c5.12xlarge", 48, {"us-east-1": 2.04, "eu-west-3": 2.424}),
    ("aws", "c5.18xlarge", 72, {"us-east-1": 3.06, "eu-west-3": 3.636}),
    ("aws", "c5.24xlarge", 96, {"us-east-1": 4.08, "eu-west-3": 4.848}),
    ("gcp", "n2-standard-8", 8, {"us-central1": 0.38847, "europe-west9": 0.45063}),
    ("gcp", "n2-standard-64", 64, {"us-central1": 3.10778, "europe-west9": 3.60502}),
    ("gcp", "n2-standard-80", 80, {"us-central1": 3.88472, "europe-west9": 4.50628}),
    ("gcp", "n2d-highcpu-80", 80, {"us-central1": 2.49504, "europe-west9": 2.89425}),
    ("gcp", "n2d-highcpu-96", 96, {"us-central1": 2.99405, "europe-west9": 3.4731}),
    ("azure", "Standard_D8s_v5", 8, {"eastus": 0.384, "westus2": 0.384}),
    ("azure", "Standard_D96s_v5", 96, {"eastus": 4.608, "westus2": 4.608}),
    ("azure", "Standard_E16s_v5", 16, {"eastus": 1.008, "westus2": 1.008}),
    ("azure", "Standard_E16as_v5", 16, {"eastus": 0.904, "westus2": 0.904}),
    ("azure", "Standard_E16ds_v5", 16, {"eastus": 1.152, "westus2": 1.152}),
    ("azure", "Standard_E16bs_v5", 16, {"eastus": 1.192, "westus2": 1.192}),
]


def prices():
    out = []
    for r in read_csv(REF / "prices/aws_gpu_instances_ondemand_usd_per_hour.csv"):
        fam = r["instance_type"].split(".")[0]
        if fam not in AWS_MAP or r["price_type"] != "linux on-demand":
            continue
        count = float(r["gpu_count"])
        if count < 1 or not r["usd_per_hour"]:
            continue
        out.append(["aws", r["instance_type"], r["region"], AWS_MAP[fam], fmt(count), r["vcpu"],
                    r["usd_per_hour"], r["price_date"], AWS_SRC.format(date=r["price_date"]), AWS_LIC])
    for inst, acc, n, regions in AZURE:
        for region, p in regions.items():
            out.append(["azure", inst, region, acc, str(n), "", fmt(p), "", AZURE_SRC, AZURE_LIC])
    for inst, vcpus, n, vm, gpu in GCP_A2:
        for region in GCP_A2_REGIONS:
            out.append(["gcp", inst, region, "A100-SXM4-40GB", str(n), str(vcpus), fmt(round(vm + gpu, 5)), "",
                        GCP_SRC, GCP_LIC])
    for provider, inst, vcpus, regions in CPU_INSTANCES:
        for region, p in regions.items():
            out.append([provider, inst, region, "", "0", str(vcpus), fmt(p), "", CPU_SRC[provider], CPU_LIC])
    out.sort(key=lambda o: (o[0], o[1], o[2]))
    write("prices.csv", ["provider", "instance", "region", "accelerator", "accelerator_count", "vcpus",
                         "usd_per_hour", "date", "source", "license"], out)


# ---------------------------------------------------------------------------------------------------
# Average electricity prices by country / US state

# Eurostat nrg_pc_204, household consumers, band DC (2,500-5,000 kWh a year), all taxes and levies
# included, EUR per kWh, second half of 2022 (the query `lastTimePeriod=1&consom=4161903&tax=I_TAX&
# currency=EUR` as made by Qery-Data/Energy Energy_prices_EU.py), read from
# Qery-Data/Energy@027eedd80105 data/Electricity_Prices_Consumers_Latest_Europe.csv. Countries with
# no figure for that period (Georgia, Iceland, Turkey, Ukraine, United Kingdom) and the EU27 / euro
# area aggregates are left out. Eurostat's `EL` is written `GR` (ISO 3166, as in zones.csv).
EUROSTAT_SRC = ("Eurostat nrg_pc_204 (electricity prices for household consumers, band DC 2500-5000 kWh, "
                "all taxes included), 2022-S2, via Qery-Data/Energy@027eedd80105 "
                "data/Electricity_Prices_Consumers_Latest_Europe.csv")
EUROSTAT_LIC = "CC-BY-4.0 (Eurostat, reuse with acknowledgement)"
EUROSTAT_2022S2 = [
    ("AL", "Albania", 0.0976), ("AT", "Austria", 0.237), ("BA", "Bosnia and Herzegovina", 0.0893),
    ("BE", "Belgium", 0.4489), ("BG", "Bulgaria", 0.1147), ("CY", "Cyprus", 0.3261),
    ("CZ", "Czechia", 0.3844), ("DE", "Germany", 0.3357), ("DK", "Denmark", 0.5871),
    ("EE", "Estonia", 0.265), ("ES", "Spain", 0.335), ("FI", "Finland", 0.2278),
    ("FR", "France", 0.2204), ("GR", "Greece", 0.2438), ("HR", "Croatia", 0.1479),
    ("HU", "Hungary", 0.1084), ("IE", "Ireland", 0.4199), ("IT", "Italy", 0.3641),
    ("LI", "Liechtenstein", 0.2318), ("LT", "Lithuania", 0.2429), ("LU", "Luxembourg", 0.2042),
    ("LV", "Latvia", 0.2992), ("MD", "Moldova", 0.2245), ("ME", "Montenegro", 0.0982),
    ("MK", "North Macedonia", 0.103), ("MT", "Malta", 0.1277), ("NL", "Netherlands", 0.135),
    ("NO", "Norway", 0.2302), ("PL", "Poland", 0.1604), ("PT", "Portugal", 0.2222),
    ("RO", "Romania", 0.3411), ("RS", "Serbia", 0.0869), ("SE", "Sweden", 0.274),
    ("SI", "Slovenia", 0.1956), ("SK", "Slovakia", 0.1884), ("XK", "Kosovo", 0.0637),
]

# US EIA, Electric Power Annual (data for 2023, released 2024-10-17), average revenue per kWh to
# ultimate customers, all sectors ("Total"), cents per kWh, by state; EIA's proxy for the average
# retail price. Read from https://www.eia.gov/electricity/annual/secrev-map.php. Public domain (US
# Government work). Wisconsin and Wyoming were cut off in the copy read and are left out.
EIA_SRC = ("US EIA Electric Power Annual 2023 (released 2024-10-17), average revenue per kWh, all sectors, "
           "https://www.eia.gov/electricity/annual/secrev-map.php")
EIA_LIC = "public domain (US Government work, EIA)"
EIA_2023_CENTS = [
    ("AL", "Alabama", 11.47), ("AK", "Alaska", 21.41), ("AZ", "Arizona", 12.19),
    ("AR", "Arkansas", 9.73), ("CA", "California", 24.87), ("CO", "Colorado", 11.76),
    ("CT", "Connecticut", 24.24), ("DE", "Delaware", 12.85), ("DC", "District of Columbia", 16.50),
    ("FL", "Florida", 13.53), ("GA", "Georgia", 11.06), ("HI", "Hawaii", 38.60),
    ("ID", "Idaho", 9.08), ("IL", "Illinois", 11.75), ("IN", "Indiana", 11.49),
    ("IA", "Iowa", 9.42), ("KS", "Kansas", 10.80), ("KY", "Kentucky", 9.96),
    ("LA", "Louisiana", 8.91), ("ME", "Maine", 20.84), ("MD", "Maryland", 14.34),
    ("MA", "Massachusetts", 23.21), ("MI", "Michigan", 13.68), ("MN", "Minnesota", 12.21),
    ("MS", "Mississippi", 10.95), ("MO", "Missouri", 10.87), ("MT", "Montana", 10.97),
    ("NE", "Nebraska", 9.14), ("NV", "Nevada", 13.09), ("NH", "New Hampshire", 22.96),
    ("NJ", "New Jersey", 15.27), ("NM", "New Mexico", 9.47), ("NY", "New York", 18.28),
    ("NC", "North Carolina", 10.61), ("ND", "North Dakota", 8.03), ("OH", "Ohio", 11.04),
    ("OK", "Oklahoma", 9.30), ("OR", "Oregon", 10.32), ("PA", "Pennsylvania", 12.57),
    ("RI", "Rhode Island", 21.62), ("SC", "South Carolina", 10.50), ("SD", "South Dakota", 10.49),
    ("TN", "Tennessee", 10.69), ("TX", "Texas", 10.04), ("UT", "Utah", 9.03),
    ("VT", "Vermont", 17.53), ("VA", "Virginia", 10.68), ("WA", "Washington", 9.58),
    ("WV", "West Virginia", 10.26),
]


def electricity():
    out = []
    for zone, name, eur in EUROSTAT_2022S2:
        out.append([zone, name, fmt(eur), "EUR", "2022-S2", "households (band DC), all taxes",
                    EUROSTAT_SRC, EUROSTAT_LIC])
    for st, name, cents in EIA_2023_CENTS:
        out.append(["US-" + st, name, fmt(round(cents / 100, 6)), "USD", "2023",
                    "all sectors (average revenue per kWh)", EIA_SRC, EIA_LIC])
    out.sort(key=lambda o: o[0])
    write("electricity_prices.csv", ["zone", "name", "price_per_kwh", "currency", "period", "sector",
                                     "source", "license"], out)


# ECB euro foreign exchange reference rate, US dollars per euro, annual average 2022 (series
# EXR.A.USD.EUR.SP00.A): 1.0530. The Eurostat prices are for 2022-S2; the half-year average is not
# bundled, so the year's is used (docs/data.md §8).
ECB_SRC = ("European Central Bank euro foreign exchange reference rate, US dollars per euro, annual average "
           "2022 (ECB Data Portal series EXR.A.USD.EUR.SP00.A)")
ECB_LIC = "ECB statistics: reuse permitted with acknowledgement of the source"


def exchange_rates():
    write("exchange_rates.csv", ["currency", "usd_per_unit", "period", "source", "license"],
          [["EUR", "1.0530", "2022", ECB_SRC, ECB_LIC]])


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    accelerators()
    embodied()
    water()
    prices()
    electricity()
    exchange_rates()
