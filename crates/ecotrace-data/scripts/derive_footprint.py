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
import math
import re
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

# Embodied carbon of accelerators: a component method after the Hubblo / Boavizta GPU model
# (hubblo-org/gpu-calculator docs/doc-en.md; Boavizta "gpu" factors), calibrated on the published
# per-card LCAs of the same study (ADEME/Tide/Hubblo, CC BY-SA 4.0), which give each card's GPU die
# and VRAM parts:
#
#   embodied = die + memory + board
#   die      = effective die area (die area / Murphy yield, defect density 0.1 per cm2, as Hubblo)
#              x kgCO2e per effective mm2 for the process-node class
#   memory   = memory GB x kgCO2e per GB for the memory kind (HBM or GDDR)
#   board    = the rest of a card (board, casing, heatsink, transport, end of life) for its form
#
# Published totals are used where they exist (card LCA rows); a card that differs from a published
# one only in memory size is the published total plus the memory difference. TPUs take the same
# die and HBM terms with a module's board term and their own die areas (LLMCarbon, Epoch), not a
# GPU card's. Every figure carries a low-high range: the spread of the calibration cards for each
# factor (at least +-10 %), and of the die area where it is not published.
D0_PER_MM2 = 0.1 / 100.0  # 0.1 defects per cm2


def murphy_yield(area_mm2):
    ad = area_mm2 * D0_PER_MM2
    return ((1 - math.exp(-ad)) / ad) ** 2


def effective_area(area_mm2):
    return area_mm2 / murphy_yield(area_mm2)


# Calibration cards: reference embodied.csv item -> (accelerators.csv model for die area / node,
# memory GB, memory kind, board class). TITAN RTX and RTX A4500 have no die area in the reference:
# they calibrate memory and board only. GH200 (a CPU+GPU module) and the H100 PCIe row (a model
# output) are left out.
CALIBRATION = {
    "NVIDIA GeForce GTX 1080 Ti": ("NVIDIA GeForce GTX 1080 Ti", 11, "gddr", "pcie"),
    "NVIDIA RTX A4500": (None, 20, "gddr", "pcie"),
    "NVIDIA TITAN RTX": (None, 24, "gddr", "pcie"),
    "NVIDIA Tesla P100 PCIe 16GB": ("NVIDIA Tesla P100 PCIe 16GB", 16, "hbm", "pcie"),
    "NVIDIA L4": ("NVIDIA L4", 24, "gddr", "low-profile"),
    "NVIDIA A100 PCIe 40GB": ("NVIDIA A100 PCIe", 40, "hbm", "pcie"),
    "NVIDIA A100 SXM4 40GB": ("NVIDIA A100 SXM4 40 GB", 40, "hbm", "module"),
}
NODE_CLASSES = ["16 nm and larger", "8-12 nm", "7 nm and smaller"]


def node_class(nm):
    return NODE_CLASSES[0] if nm >= 14 else NODE_CLASSES[1] if nm >= 8 else NODE_CLASSES[2]


def spread(values, floor=0.10):
    m = sum(values) / len(values)
    return m, min(min(values), m * (1 - floor)), max(max(values), m * (1 + floor))


def calibrate(spec_by_model):
    comp = {}
    for r in read_csv(REF / "hardware/embodied.csv"):
        if r["item"] in CALIBRATION:
            m = re.search(r"manufacturing ([\d.]+) kg \(of which GPU die ([\d.]+), VRAM ([\d.]+)\) "
                          r"\+ end-of-life ([\d.]+) kg", r["notes"])
            total, die, vram, eol = map(float, m.groups())
            assert abs(total + eol - float(r["value"])) < 0.02, r["item"]
            comp[r["item"]] = (float(r["value"]), die, vram)
    die_k, mem_k, board = {}, {}, {}
    for item, (spec_model, gb, kind, form) in CALIBRATION.items():
        total, die, vram = comp[item]
        if spec_model:
            sr = spec_by_model[spec_model]
            area, nm = float(sr["die_area_mm2"]), float(sr["process_nm"])
            die_k.setdefault(node_class(nm), []).append(die / effective_area(area))
        mem_k.setdefault(kind, []).append(vram / gb)
        board.setdefault(form, []).append(total - die - vram)
    all_die = [k for ks in die_k.values() for k in ks]
    # 8-12 nm has no calibration card with a die area: Hubblo's own parametric factor (the mean of
    # the cards it analysed), with the spread of all calibration cards.
    die_f = {c: spread(v) for c, v in die_k.items()}
    die_f[NODE_CLASSES[1]] = (0.0426, min(all_die), max(all_die))
    mem_f = {k: spread(v) for k, v in mem_k.items()}
    all_board = [b for bs in board.values() for b in bs]
    board_f = {f: spread(v) for f, v in board.items()}
    # Single-card classes: the range reaches to the largest board of any calibration card.
    for f in ("low-profile", "module"):
        m, lo, hi = board_f[f]
        board_f[f] = (m, lo, max(all_board))
    for name, table in (("die kg/mm2 eff.", die_f), ("memory kg/GB", mem_f), ("board kg", board_f)):
        print("embodied factors,", name, {k: tuple(round(x, 4) for x in v) for k, v in table.items()})
    return die_f, mem_f, board_f


COMPONENT_SRC = ("derived: component method after the Hubblo/Boavizta GPU model, calibrated on the "
                 "ADEME/Tide/Hubblo per-card LCAs (hubblo-org/gpu-calculator@2308a62b73f2): {dies}die {area} mm2 "
                 "({area_src}), effective {eff:.0f} mm2 x {dk:.4f} kg/mm2 ({node}) = {die:.1f} kg; memory "
                 "{gb:g} GB {kind} x {mk:.3f} kg/GB = {mem:.1f} kg; board ({form}) {board:.1f} kg; see docs/data.md §5")
PUBLISHED_SRC = ("published: ADEME/Tide/Hubblo GPU LCA via hubblo-org/gpu-calculator@2308a62b73f2 "
                 "src/data/gpu/gpus_impact_factors.csv: card {m!r}, sum of manufacturing GWP rows + end of life")
PUBLISHED_MEM_SRC = ("derived: the published LCA of the {base} ({published} kgCO2e, ADEME/Tide/Hubblo via "
                     "hubblo-org/gpu-calculator@2308a62b73f2) + {dgb:g} GB more HBM x {mk:.3f} kg/GB")
GA = "Green Algorithms TDP_gpu.csv (GreenAlgorithms/green-algorithms-tool@30df2fe, CC BY 4.0)"

# Cards the reference data lacks, from their maker's own data sheet (facts from a vendor data sheet,
# cited as such): a spec row shaped like reference/hardware/accelerators.csv's. Only the figures the
# data sheet states; the die area is not in it (see the CATALOG row's override).
AMD_MI210 = "AMD Instinct MI210 data sheet (amd.com), 2022"
VENDOR_LIC = "facts from a vendor data sheet (AMD)"
VENDOR_ROWS = [
    {"vendor": "AMD", "model": "AMD Instinct MI210", "form_factor": "PCIe", "memory_gb": "64", "tdp_w": "300",
     "peak_tflops_fp32": "22.6", "peak_tflops_fp16_bf16_dense": "181", "peak_tflops_fp8_dense": "",
     "die_area_mm2": "", "process_nm": "6", "release_year": "2022",
     "spec_source": AMD_MI210, "silicon_source": AMD_MI210, "embodied_kgco2e": "", "embodied_basis": "",
     "embodied_source": "", "notes": ""},
]
# The MI200 dies. The MI250X is two graphics compute dies (GCDs) in one package (AMD, Hot Chips 34:
# 58 billion transistors in all, TSMC N6), the MI210 one of them. Epoch gives the MI250X 724 mm2:
# taken as one GCD's area, since 29 billion transistors on 724 mm2 is already about as dense as the
# A100 on N7 (and 58 billion on it would be far denser); the low end of the range takes 724 mm2 for
# both dies, the high end +10 %.
GCD_AREA = (724, 0.5, 1.1, EPOCH.format(m="AMD Radeon Instinct MI250X") +
            ", 724 mm2, taken as the area of one CDNA2 GCD, two per MI250X and one per MI210 (range: from 362 mm2, "
            "the 724 mm2 being both of an MI250X's dies, to +10 %)")
LLMC = "LLMCarbon data/hardware.csv (SotaroKaneda/MLCarbon@dbd96b7, Apache-2.0)"

# id, aliases, reference spec row, memory kind, board class, overrides
CATALOG = [
    ("P100-PCIE-16GB", "P100;Tesla P100;P100-16GB;Tesla P100-PCIE-16GB", "NVIDIA Tesla P100 PCIe 16GB", "hbm", "pcie",
     {"memory_gb": ("16", "the card's name (16GB); Epoch's row leaves memory blank"),
      "published": "NVIDIA Tesla P100 PCIe 16GB"}),
    ("V100-SXM2-16GB", "V100;Tesla V100;V100-SXM2;V100-16GB;Tesla V100-SXM2-16GB", "NVIDIA Tesla V100 SXM2", "hbm", "module",
     {"tdp_range": (250, 300, "mlco2/impact gpus.csv lists 250 W; Epoch and NVIDIA's V100 datasheet (linked in Epoch's row) 300 W for SXM2: 300 W kept")}),
    ("V100-SXM2-32GB", "V100-32GB;Tesla V100-SXM2-32GB", "NVIDIA Tesla V100 SXM2 32 GB", "hbm", "module", {}),
    ("V100-PCIE-16GB", "Tesla V100-PCIE-16GB", "NVIDIA Tesla V100 PCIe 16 GB", "hbm", "pcie", {}),
    ("V100-PCIE-32GB", "Tesla V100-PCIE-32GB", "NVIDIA Tesla V100 PCIe 32 GB", "hbm", "pcie", {}),
    ("T4", "Tesla T4;NVIDIA T4", "NVIDIA Tesla T4", "gddr", "low-profile",
     {"fp16": ("65.13", "Epoch's plain FP16 column (the T4 datasheet's tensor figure; Epoch's tensor column is empty)")}),
    ("A10", "A10-24GB;NVIDIA A10", "NVIDIA A10 PCIe", "gddr", "pcie", {}),
    ("A10G", "NVIDIA A10G", "NVIDIA A10G", "gddr", "pcie", {}),
    ("A100-PCIE-40GB", "A100-40GB-PCIE;A100 PCIe;A100-PCIE", "NVIDIA A100 PCIe", "hbm", "pcie",
     {"tdp": ("250", GA + ", row 'A100 PCIe 40GB' (NVIDIA datasheet for the 40GB PCIe card); mlco2/impact agrees"),
      "tdp_range": (250, 300, "Epoch's row 'NVIDIA A100 PCIe' gives 300 W, but it mixes the 40GB and 80GB datasheets (300 W is the 80GB card's): 250 W kept"),
      "published": "NVIDIA A100 PCIe 40GB", "extra_published": (181.0, "the same calculator's parametric result for this card, 181 kg (data.hubblo.org/gpu)")}),
    ("A100-SXM4-40GB", "A100;A100-40GB;A100-SXM-40GB;A100-SXM4;NVIDIA A100-SXM4-40GB", "NVIDIA A100 SXM4 40 GB", "hbm", "module",
     {"published": "NVIDIA A100 SXM4 40GB"}),
    ("A100-PCIE-80GB", "A100-80GB-PCIE;NVIDIA A100 80GB PCIe", "NVIDIA A100 PCIe 80GB", "hbm", "pcie",
     {"flops_from": "NVIDIA A100 SXM4 80 GB", "silicon_from": "NVIDIA A100 SXM4 80 GB",
      "base": ("A100-PCIE-40GB", "NVIDIA A100 PCIe 40GB")}),
    ("A100-SXM4-80GB", "A100-80GB;A100-SXM-80GB;NVIDIA A100-SXM4-80GB", "NVIDIA A100 SXM4 80 GB", "hbm", "module",
     {"base": ("A100-SXM4-40GB", "NVIDIA A100 SXM4 40GB")}),
    ("L4", "NVIDIA L4", "NVIDIA L4", "gddr", "low-profile", {"published": "NVIDIA L4"}),
    ("L40S", "NVIDIA L40S", "NVIDIA L40S", "gddr", "pcie",
     {"silicon_from": "NVIDIA L40", "node": (4, "not in the spec source; AD102, the L40's die, is on the same 4/5 nm-class node as the L4's")}),
    ("H100-PCIE", "H100-PCIE-80GB;NVIDIA H100 PCIe", "NVIDIA H100 PCIe", "hbm", "pcie",
     {"published_model": "NVIDIA H100 PCIe 80GB"}),
    ("H100-SXM", "H100;H100-SXM5;H100-SXM5-80GB;H100-80GB;NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM5 80GB", "hbm", "module", {}),
    ("H200", "H200-SXM;H200-141GB;NVIDIA H200", "NVIDIA H200 SXM", "hbm", "module",
     {"silicon_from": "NVIDIA H100 SXM5 80GB"}),
    ("B200", "NVIDIA B200", "NVIDIA B200", "hbm", "module",
     {"area": (814, 0.75, 1.25, "not published in the sources: two dies, each taken as the size of an H100 die (814 mm2), +-25 %"), "dies": 2,
      "node": (4, "not in the spec source; taken as the H100's 4/5 nm class")}),
    ("RTX-3090", "RTX3090;GeForce RTX 3090;NVIDIA GeForce RTX 3090", "NVIDIA GeForce RTX 3090", "gddr", "pcie", {}),
    ("RTX-4090", "RTX4090;GeForce RTX 4090;NVIDIA GeForce RTX 4090", "NVIDIA GeForce RTX 4090", "gddr", "pcie",
     {"node": (4, "not in the spec source; AD102 is on the same 4/5 nm-class node as the L4's AD104")}),
    ("RX-7900-XTX", "RX7900XTX;Radeon RX 7900 XTX;AMD Radeon RX 7900 XTX", "AMD Radeon RX 7900 XTX", "gddr", "pcie",
     {"node": (5, "not in the spec source; assumed: Navi 31 is a chiplet GPU whose graphics die is on a 5 nm-class "
                  "and whose memory-cache dies on a 6 nm-class node, both in the 7 nm-and-smaller class; Epoch's "
                  "529 mm2 is all its dies together, taken as one die (the yield of smaller chiplets is better, "
                  "so the die term leans high)")}),
    ("MI210", "Instinct MI210;AMD Instinct MI210", "AMD Instinct MI210", "hbm", "pcie",
     {"area": GCD_AREA, "row_license": VENDOR_LIC, "node": (6, AMD_MI210 + ": one CDNA2 GCD on TSMC N6"),
      "note": "data sheet figures: 300 W TBP, 64 GB HBM2e, 22.6 TFLOPS FP64/FP32 vector, 181 TFLOPS FP16/BF16 matrix (dense: CDNA2 has no sparsity)"}),
    ("MI250X", "Instinct MI250X;AMD Instinct MI250X;AMD Instinct MI250X/MI250", "AMD Radeon Instinct MI250X", "hbm", "module",
     {"area": GCD_AREA, "dies": 2, "devices_per_card": 2}),
    ("MI300X", "Instinct MI300X;AMD Instinct MI300X", "AMD Instinct MI300X", "hbm", "module", {}),
    ("TPU-v2", "TPUv2;TPU v2", "Google TPU v2", "hbm", "tpu",
     {"area": (512.5, 325 / 512.5, 700 / 512.5, "not published in the sources: the middle of the known TPU dies (v5e 325 to v3 700 mm2), that range kept")}),
    ("TPU-v3", "TPUv3;TPU v3", "Google TPU v3", "hbm", "tpu",
     {"tdp_range": (220, 450, "Green Algorithms gives 220 W and mlco2/impact a measured average of 283 W; Epoch and LLMCarbon 450 W, the chip's rating: 450 W kept (Patterson et al. measured 310 W per chip with its host share)"),
      "area": (700, 1, 1, LLMC + ", 7 cm2"), "die_only": 7.0}),
    ("TPU-v4", "TPUv4;TPU v4", "Google TPU v4", "tpu", "tpu",
     {"tdp": ("170", GA + ", row 'TPU v4'"),
      "tdp_range": (170, 340, "Epoch derives 340 W from Google's performance-per-watt ratio (not an official figure); Green Algorithms gives 170 W: 170 W kept, the range kept"),
      "area": (400, 1, 1, LLMC + ", 4 cm2"), "die_only": 6.4}),
    ("TPU-v5e", "TPUv5e;TPU v5e;TPU v5 lite;v5litepod", "Google TPU v5e", "hbm", "tpu",
     {"tdp_range": (225, 300, "no official TDP: Epoch cites a NextPlatform estimate of 225 W, SemiAnalysis estimates 300 W: 225 W kept"),
      "node": (7, "not in the spec source; taken as the TPU v4's 7 nm class")}),
    ("TPU-v5p", "TPUv5p;TPU v5p", "Google TPU v5p", "hbm", "tpu",
     {"area": (512.5, 325 / 512.5, 700 / 512.5, "not published in the sources: the middle of the known TPU dies (v5e 325 to v3 700 mm2), that range kept"),
      "node": (7, "not in the spec source; taken as the TPU v4's 7 nm class")}),
]
KIND_NAME = {"hbm": "HBM", "gddr": "GDDR"}
FORM_NAME = {"pcie": "PCIe card", "low-profile": "low-profile PCIe card", "module": "SXM/OAM module",
             "tpu": "TPU chip on its board (module class)"}


def accelerators():
    rows = read_csv(REF / "hardware/accelerators.csv") + VENDOR_ROWS
    by_model = {r["model"]: r for r in rows}
    published = {r["item"]: float(r["value"]) for r in read_csv(REF / "hardware/embodied.csv")
                 if r["hardware_class"] == "gpu_card"}
    die_f, mem_f, board_f = calibrate(by_model)
    out = []
    ids = {}
    for cid, aliases, model, kind, form, ov in CATALOG:
        if kind == "tpu":
            kind = "hbm"
        r = by_model[model]
        notes = []
        epoch = EPOCH.format(m=model)
        row_src = epoch if r["spec_source"].startswith("Epoch AI") else r["spec_source"].split(";")[0]
        row_lic = EPOCH_LIC if row_src is epoch else ("MIT (mlco2/impact)" if "mlco2" in row_src else "CC-BY-4.0 (Green Algorithms)")
        if "row_license" in ov:
            row_lic = ov["row_license"]
        mem, mem_src = r["memory_gb"], row_src
        if "memory_gb" in ov:
            mem, why = ov["memory_gb"]
            mem_src = why
        tdp, tdp_src = r["tdp_w"], row_src
        if "tdp" in ov:
            tdp, tdp_src = ov["tdp"]
        tdp_lo = tdp_hi = ""
        if "tdp_range" in ov:
            lo, hi, why = ov["tdp_range"]
            tdp_lo, tdp_hi = str(lo), str(hi)
            notes.append(f"TDP {lo}-{hi} W in the sources: {why}")
        frow = by_model[ov["flops_from"]] if "flops_from" in ov else r
        fp32, fp16, fp8 = frow["peak_tflops_fp32"], frow["peak_tflops_fp16_bf16_dense"], frow["peak_tflops_fp8_dense"]
        flops_src = EPOCH.format(m=frow["model"]) if frow["spec_source"].startswith("Epoch AI") else (
            row_src if frow is r and "row_license" in ov else "")
        if "flops_from" in ov:
            flops_src += " (same chip)"
        if "fp16" in ov:
            fp16, why = ov["fp16"]
            flops_src += f"; FP16 from {why}"
        if not (fp32 or fp16):
            flops_src = "none: no peak FLOP/s in the sources"
        srow = by_model[ov["silicon_from"]] if "silicon_from" in ov else r
        area, nm = srow["die_area_mm2"], srow["process_nm"]
        sil_src = (EPOCH.format(m=srow["model"]) if area else "") + (" (same die)" if "silicon_from" in ov and area else "")
        a_lo = a_hi = 1.0
        if "area" in ov:
            a, a_lo, a_hi, why = ov["area"]
            area, sil_src = fmt(a), why
        if "node" in ov:
            nm, why = ov["node"]
            nm = str(nm)
            sil_src += f"; process: {why}"
        area_f, nm_f, gb = float(area), float(nm), float(mem)
        cls = node_class(nm_f)
        dk, dk_lo, dk_hi = die_f[cls]
        mk, mk_lo, mk_hi = mem_f[kind]
        bk, bk_lo, bk_hi = board_f["module" if form == "tpu" else form]
        n = ov.get("dies", 1)
        eff = n * effective_area(area_f)
        die = eff * dk
        comp = die + gb * mk + bk
        comp_lo = n * effective_area(area_f * a_lo) * dk_lo + gb * mk_lo + (0.0 if form == "tpu" else bk_lo)
        comp_hi = n * effective_area(area_f * a_hi) * dk_hi + gb * mk_hi + bk_hi
        comp_src = COMPONENT_SRC.format(dies=f"{n} x " if n > 1 else "", area=fmt(area_f), area_src=sil_src.split(";")[0] or "spec source",
                                        eff=eff, dk=dk, node=cls, die=die, gb=gb, kind=KIND_NAME[kind], mk=mk,
                                        mem=gb * mk, form=FORM_NAME[form], board=bk)
        if "published" in ov:
            emb = published[ov["published"]]
            lo, hi = min(emb, comp), max(emb, comp)
            if "extra_published" in ov:
                x, why = ov["extra_published"]
                lo, hi = min(lo, x), max(hi, x)
                notes.append(f"embodied range includes {why}")
            estimated, basis = "false", "published"
            emb_src = PUBLISHED_SRC.format(m=ov["published"]) + f"; range: the component method gives {comp:.1f} kg"
        elif "published_model" in ov:
            emb = published[ov["published_model"]]
            lo, hi = min(emb, comp_lo), max(emb, comp_hi)
            estimated, basis = "true", "published-model"
            emb_src = (PUBLISHED_SRC.format(m=ov["published_model"]) +
                       f" (the study's parametric model output, not a measured card); range: the component method gives {comp:.1f} kg ({comp_lo:.1f}-{comp_hi:.1f})")
        elif "base" in ov:
            base_id, base_item = ov["base"]
            base = published[base_item]
            dgb = gb - float(by_model[[c for c in CATALOG if c[0] == base_id][0][2]]["memory_gb"] or 0)
            emb = base + dgb * mk
            lo, hi = base + dgb * mk_lo, base + dgb * mk_hi
            lo, hi = min(lo, comp), max(hi, comp)
            estimated, basis = "true", "published+memory"
            emb_src = PUBLISHED_MEM_SRC.format(base=base_item, published=fmt(base), dgb=dgb, mk=mk) + \
                f"; range also spans the component method's {comp:.1f} kg"
        else:
            emb, lo, hi = comp, comp_lo, comp_hi
            estimated = "true"
            basis = "tpu-component" if form == "tpu" else "component"
            emb_src = comp_src
            if form == "tpu":
                emb_src = emb_src.replace("derived: component method", "derived: TPU basis, the component method's die and HBM terms")
        if "die_only" in ov:
            lo = min(lo, ov["die_only"] + gb * mk_lo)
            notes.append(f"LLMCarbon gives {ov['die_only']} kgCO2e for the die alone (fab emissions per area, no memory or board); "
                         "the low end of the range uses it with the memory term")
        elif r["embodied_basis"].startswith("estimate per die area"):
            notes.append(f"LLMCarbon gives {r['embodied_kgco2e']} kgCO2e for the die alone (fab emissions per area, no memory, board or package); not used")
        lic = "; ".join(dict.fromkeys([row_lic, HUBBLO_LIC] + (["Apache-2.0 (LLMCarbon)"] if "LLMCarbon" in sil_src else [])
                                      + ([EPOCH_LIC] if "Epoch AI" in sil_src else [])))
        if "note" in ov:
            notes.append(ov["note"])
        per_card = ov.get("devices_per_card", 1)
        if per_card > 1:
            notes.append(f"the driver (AMD SMI, ROCm) lists each of its {per_card} dies as a device of its own: a "
                         f"device is charged 1/{per_card} of the card's embodied carbon (and of its TDP where one "
                         "is used per device)")
        vendor = r["vendor"]
        akind = "tpu" if "TPU" in model else "gpu"
        name = model if model != "NVIDIA A100 PCIe" else "NVIDIA A100 PCIe 40GB"
        out.append([cid, aliases, vendor, name, akind, r["form_factor"], mem, KIND_NAME[kind], mem_src, tdp, tdp_lo, tdp_hi,
                    tdp_src, fp32, fp16, fp8, flops_src, fmt(area_f), nm, sil_src, r["release_year"], row_src,
                    fmt(round(emb, 2)), fmt(round(lo, 2)), fmt(round(hi, 2)), estimated, basis, emb_src, lic,
                    " | ".join(notes), str(per_card)])
        ids[cid] = emb
    write("accelerators.csv",
          ["id", "aliases", "vendor", "name", "kind", "form_factor", "memory_gb", "memory_type", "memory_source",
           "tdp_w", "tdp_low_w", "tdp_high_w", "tdp_source", "tflops_fp32", "tflops_fp16", "tflops_fp8",
           "flops_source", "die_area_mm2", "process_nm", "silicon_source", "release_year", "spec_source",
           "embodied_kgco2e", "embodied_low_kgco2e", "embodied_high_kgco2e", "embodied_estimated",
           "embodied_basis", "embodied_source", "license", "notes", "devices_per_card"],
          out)
    for k, v in ids.items():
        print(f"  {k}: {v:.1f} kg")


# ---------------------------------------------------------------------------------------------------
# Hosts and CPU packages (Cloud Carbon Footprint coefficients, Apache-2.0)

CCF = ("Cloud Carbon Footprint coefficients (cloud-carbon-footprint/ccf-coefficients@b0032d928c78 "
       "output/coefficients-aws-embodied.csv), {what}")
CCF_LIC = "Apache-2.0 (Cloud Carbon Footprint)"
CCF_GPU_KG = 150.0  # CCF's addition per GPU (1200 kg for 8 GPUs)
CCF_CPU_KG = 100.0  # CCF's addition per CPU beyond the base server


# The uncertainty range of the host and CPU figures (docs/data.md §5), from the reference
# snapshot's hardware/embodied.csv:
# - low: a component method that counts the chips only, LLMCarbon (Apache-2.0): the server's
#   other parts 148.2 kg + DRAM 0.4 kg/GB + SSD 0.018 kg/GB for the host's memory and drives; for a
#   CPU package, Boavizta's CPU model (9.14 kg per package + 0.0197 kg per mm² of die, after UBA
#   Green Cloud Computing 2021) on LLMCarbon's 147 mm² server CPU die;
# - high: for hosts, the larger of CCF's figure and ADEME's generic rack server (Base Empreinte,
#   3,660 kg, as Boavizta cites it) less two CPU packages at this table's figure; for the CPU, CCF's
#   own figure (no source gives more).
LLMC = "LLMCarbon (SotaroKaneda/MLCarbon@dbd96b792d22 data/hardware.csv, Apache-2.0)"
BOAVIZTA = "Boavizta API factors (Boavizta/boaviztapi@15878f045bf0 boaviztapi/data/factors.yml)"


def ref_figure(item):
    for r in read_csv(REF / "hardware/embodied.csv"):
        if r["item"] == item:
            return float(r["value"])
    raise SystemExit(f"hardware/embodied.csv has no row {item!r}")


def platform(instance):
    """Memory and local drive GB of a CCF AWS instance type's platform."""
    r = next(r for r in read_csv(REF / "cloud/ccf-coefficients/aws-instances.csv")
             if r["Instance type"] == instance)
    memory = float(r["Platform Memory (in GB)"])
    m = re.match(r"(\d+(?:\.\d+)?)\s*TB", r["Storage Info (Type and Size in GB)"])
    drives = float(m.group(1)) * 1000 if m else 0.0
    return memory, drives


def embodied():
    rows = {r["type"]: r for r in read_csv(REF / "cloud/ccf-coefficients/coefficients-aws-embodied.csv")}
    p4d = rows["p4d.24xlarge"]
    m5 = rows["m5.24xlarge"]
    assert float(p4d["additional_gpus"]) == 8 * CCF_GPU_KG
    gpu_host = float(p4d["total"]) - 8 * CCF_GPU_KG - 2 * CCF_CPU_KG
    cpu_host = float(m5["total"]) - 2 * CCF_CPU_KG
    other = ref_figure("Other server parts (TSMC 12nm, 111.6 cm2)")
    dram = ref_figure("DRAM (Micron 18nm)")
    ssd = ref_figure("SSD (Samsung 20nm)")
    generic = ref_figure("Generic server (device-level factor)")
    cpu_die_mm2 = ref_figure("CPU die (TSMC 16nm, 1.47 cm2)") * 100  # LLMCarbon: 1 kg/cm² at 16 nm
    cpu_low = ref_figure("CPU base (package etc.)") + ref_figure("CPU die") * cpu_die_mm2
    generic_host = generic - 2 * CCF_CPU_KG

    def host_range(instance, figure):
        memory, drives = platform(instance)
        low = other + dram * memory + ssd * drives
        high = max(figure, generic_host)
        why = (f"low: chips only after {LLMC}: other server parts {other:g} kg + DRAM {dram:g} kg/GB x "
               f"{memory:g} GB" + (f" + SSD {ssd:g} kg/GB x {drives:g} GB" if drives else "") +
               f"; high: ADEME Base Empreinte generic rack server {generic:g} kg (as {BOAVIZTA}) less 2 CPUs"
               f" x {CCF_CPU_KG:g} kg" + (" (above CCF's figure)" if high > figure else ""))
        return fmt(low), fmt(high), why

    gl, gh, gwhy = host_range("p4d.24xlarge", gpu_host)
    cl, ch, cwhy = host_range("m5.24xlarge", cpu_host)
    out = [
        ["gpu-server", "GPU server without its accelerators and CPUs (8 accelerator slots)", "host", "8",
         fmt(gpu_host), gl, gh, "true", "model",
         CCF.format(what=f"AWS p4d.24xlarge platform total {p4d['total']} kgCO2e less 8 GPUs x {CCF_GPU_KG:g} and 2 CPUs x {CCF_CPU_KG:g} kgCO2e as CCF counts them"),
         gwhy, "2026", CCF_LIC,
         "board, 1152 GB memory, 8 TB SSD, chassis, power supplies; CCF base server 1000 kgCO2e after a Dell R740 LCA"],
        ["cpu-server", "CPU server without its CPUs (2 sockets)", "host", "2", fmt(cpu_host), cl, ch, "true",
         "model",
         CCF.format(what=f"AWS m5.24xlarge platform total {m5['total']} kgCO2e less 2 CPUs x {CCF_CPU_KG:g} kgCO2e"),
         cwhy, "2026", CCF_LIC, "board, 384 GB memory, chassis, power supplies"],
        ["cpu", "CPU package (one socket)", "cpu", "1", fmt(CCF_CPU_KG), fmt(cpu_low), fmt(CCF_CPU_KG), "true",
         "model", CCF.format(what="additional CPU: 100 kgCO2e per CPU"),
         f"low: {BOAVIZTA}, CPU package {ref_figure('CPU base (package etc.)'):g} kg + "
         f"{ref_figure('CPU die'):g} kg/mm2 x {cpu_die_mm2:g} mm2 die ({LLMC} server CPU die); "
         "high: CCF's figure (no source gives more)",
         "2026", CCF_LIC,
         "the same figure for every CPU model; the bundled CPU table has no per-model embodied data"],
    ]
    lic = (f"{CCF_LIC}; range: LLMCarbon (Apache-2.0), UBA/ADEME factors as cited by Boavizta "
           "(figures; the repository is AGPL-3.0)")
    for r in out:
        r[12] = lic
    write("embodied.csv",
          ["id", "name", "kind", "slots", "embodied_kgco2e", "embodied_low_kgco2e", "embodied_high_kgco2e",
           "estimated", "basis", "source", "range_source", "year", "license", "notes"], out)


# ---------------------------------------------------------------------------------------------------
# Off-site water: consumption of thermal generation, weighted by the zone's fossil and nuclear shares
# and, where published, by the country's cooling mix per technology

REEDS = "NREL ReEDS 2.0 water consumption rates (BSD-3-Clause; after Macknick et al. 2012)"
# Cooling-technology shares by country of MESSAGEix-Nexus (rows coal_ppl and nuc_lc of
# iiasa/message-ix-models@745aace57e3a message_ix_models/data/water/ppl_cooling_tech/
# cool_techs_country_share.csv, Apache-2.0, derived from the Raptis et al. 2016 global power-plant
# cooling database), copied unchanged into scripts/message_ix_cool_techs_country_share.csv.
# Cooling codes: cl_fresh = closed loop (cooling tower), ot_fresh / ot_saline = once-through,
# air = dry. Gas plants keep the tower rate (their rows were not copied; gas CC rates are small).
MESSAGE = ("MESSAGEix-Nexus cooling shares by country (iiasa/message-ix-models@745aace57e3a "
           "cool_techs_country_share.csv, Apache-2.0; after Raptis et al. 2016)")
COOL_CSV = Path(__file__).with_name("message_ix_cool_techs_country_share.csv")
# OWID generation by fuel (via CodeCarbon's global_energy_mix.json, CC BY 4.0): the coal part of
# fossil generation, and each country's total generation for the world row's weights.
OWID = "Our World in Data energy dataset via CodeCarbon global_energy_mix.json (CC BY 4.0)"
ISO_JSON = Path("/usr/share/iso-codes/json/iso_3166-1.json")
WATER_LIC = ("ODbL-1.0 (Electricity Maps shares); BSD-3-Clause (ReEDS rates); Apache-2.0 (MESSAGEix "
             "cooling shares); CC-BY-4.0 (OWID generation)")


def water():
    import json
    rates = {}
    for r in read_csv(REF / "water/reeds_generation_water_rates.csv"):
        if r["quantity"] == "consumption":
            rates[(r["reeds_technology"], r["cooling"])] = float(r["l_per_kwh"])
    tower, once = "recirculating (cooling tower)", "once-through"
    coal = {"cl_fresh": rates[("CoalOldScr", tower)], "ot_fresh": rates[("CoalOldScr", once)],
            "ot_saline": rates[("CoalOldScr", once)], "air": rates[("CoalOldScr", "dry")]}
    nucl = {"cl_fresh": rates[("nuclear", tower)], "ot_fresh": rates[("nuclear", once)],
            "ot_saline": rates[("nuclear", once)], "air": rates[("nuclear", "dry")]}
    gas = rates[("Gas-CC", tower)]
    print(f"water: coal {coal}, nuclear {nucl}, gas CC (tower) {gas} L/kWh")
    with open(COOL_CSV, newline="") as f:
        rows = list(csv.reader(f))
    iso3s = rows[0][2:]
    mix = {}
    for r in rows[1:]:
        mix.setdefault(r[0], {}).setdefault(r[1], dict(zip(iso3s, map(float, r[2:]))))
    iso = {c["alpha_2"]: c["alpha_3"] for c in json.load(open(ISO_JSON))["3166-1"]}
    owid = json.load(open(REF / "codecarbon/git-b05965e4/private_infra/global_energy_mix.json"))

    def rate(tech, table, i3):
        shares = mix[tech]
        if i3 in iso3s and abs(sum(shares[c][i3] for c in shares) - 1) < 1e-6:
            return sum(shares[c][i3] * table[c] for c in shares), True
        return table["cl_fresh"], False

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
    weights = []
    for zone, (name, cfe, re_, year, src) in shares.items():
        f_share = max(0.0, 1 - cfe / 100)
        n_share = max(0.0, (cfe - re_) / 100)
        country = zone.split("-")[0]
        i3 = iso.get(country, "")
        g = owid.get(i3)
        if g and g["fossil_TWh"] > 0:
            coal_frac = g["coal_TWh"] / g["fossil_TWh"]
            split = f"coal {coal_frac:.3f} of fossil generation ({OWID}, {g['year']})"
        else:
            coal_frac = 0.5
            split = "coal and gas counted half each (no OWID figure)"
        coal_rate, coal_mix = rate("coal_ppl", coal, i3)
        nuc_rate, nuc_mix = rate("nuc_lc", nucl, i3)
        fossil = coal_frac * coal_rate + (1 - coal_frac) * gas
        l_kwh = f_share * fossil + n_share * nuc_rate
        if coal_mix or nuc_mix:
            basis = "cooling mix"
            cool = f"cooling mix of {i3} ({MESSAGE}) for {' and '.join(t for t, m in [('coal', coal_mix), ('nuclear', nuc_mix)] if m)}"
            if not (coal_mix and nuc_mix):
                cool += "; tower cooling otherwise"
        else:
            basis = "tower"
            cool = "tower cooling assumed (no published cooling mix for this country)"
        if len(zone) == 2 and g:
            weights.append((g["total_TWh"], l_kwh, f_share, n_share))
        out.append([zone, name, fmt(round(l_kwh, 4)), fmt(round(f_share, 4)), fmt(round(n_share, 4)),
                    fmt(round(fossil, 4)), fmt(round(nuc_rate, 4)), basis, year,
                    f"estimate: fossil share x {fmt(round(fossil, 4))} + nuclear share x {fmt(round(nuc_rate, 4))} L/kWh; "
                    f"{REEDS} by cooling type, {cool}; gas at the tower rate {gas}; {split}; "
                    f"shares from {src}, zone {zone} (1 - carbon-free %, carbon-free % - renewable %)",
                    WATER_LIC])
    # World default: the country rows weighted by their generation (OWID total_TWh).
    tw = sum(w[0] for w in weights)
    l_w = sum(w[0] * w[1] for w in weights) / tw
    f_w = sum(w[0] * w[2] for w in weights) / tw
    n_w = sum(w[0] * w[3] for w in weights) / tw
    print(f"water: world from {len(weights)} countries, {tw:.0f} TWh: {l_w:.4f} L/kWh")
    out.append(["WORLD", "World (default)", fmt(round(l_w, 4)), fmt(round(f_w, 4)), fmt(round(n_w, 4)), "", "",
                "generation-weighted", "2024",
                f"estimate: mean of the {len(weights)} country rows weighted by their electricity generation "
                f"({tw:.0f} TWh in all; {OWID}); a default for grids without their own row",
                WATER_LIC])
    out.sort(key=lambda o: (o[0] != "WORLD", o[0]))
    write("water.csv", ["zone", "name", "offsite_l_per_kwh", "fossil_share", "nuclear_share",
                        "fossil_l_per_kwh", "nuclear_l_per_kwh", "cooling_basis", "year", "source",
                        "license"], out)


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


# Every price row is dated: the snapshot date where the source records one, else the word
# "undated", which outputs print as it is.
UNDATED = "undated"


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
            out.append(["azure", inst, region, acc, str(n), "", fmt(p), UNDATED, AZURE_SRC, AZURE_LIC])
    for inst, vcpus, n, vm, gpu in GCP_A2:
        for region in GCP_A2_REGIONS:
            out.append(["gcp", inst, region, "A100-SXM4-40GB", str(n), str(vcpus), fmt(round(vm + gpu, 5)), UNDATED,
                        GCP_SRC, GCP_LIC])
    for provider, inst, vcpus, regions in CPU_INSTANCES:
        for region, p in regions.items():
            out.append([provider, inst, region, "", "0", str(vcpus), fmt(p), UNDATED, CPU_SRC[provider], CPU_LIC])
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
