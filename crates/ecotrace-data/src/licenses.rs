//! Every table bundled in ecotrace, with the licence it is offered under and the attribution its
//! sources ask for. The same list is in `THIRD_PARTY_NOTICES.md` at the repository root (a test
//! keeps the two and the `data/` folder in step); `ecotrace data licenses` prints it.

use serde::Serialize;

/// One bundled table and the terms it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BundledTable {
    /// File name under `crates/ecotrace-data/data/`.
    pub file: &'static str,
    /// What it holds.
    pub contents: &'static str,
    /// The licence of the table as a whole (SPDX identifiers where one exists), then the licences
    /// of rows or columns that differ.
    pub license: &'static str,
    /// Who must be credited.
    pub attribution: &'static str,
}

/// The bundled tables, in the order of docs/data.md.
pub fn bundled_tables() -> &'static [BundledTable] {
    &TABLES
}

const TABLES: [BundledTable; 13] = [
    BundledTable {
        file: "zones.csv",
        contents: "grid carbon intensity per country and zone, life-cycle and direct",
        license: "ODbL-1.0 as a whole; rows CC-BY-4.0 (Ember, Our World in Data; the OWID copy via CodeCarbon, MIT)",
        attribution: "Electricity Maps (2025), Yearly Carbon Intensity Data 2024, via Green-Algorithms-data (ODbL); Ember (2025) yearly electricity data (CC BY 4.0); Our World in Data energy dataset (CC BY 4.0) via CodeCarbon (MIT)",
    },
    BundledTable {
        file: "grid_map.csv",
        contents: "US states and Chinese provinces mapped to the grid zone that serves them",
        license: "facts (assignments made by ecotrace from public domain US EIA maps)",
        attribution: "US Energy Information Administration, EIA-930 balancing authority map (public domain)",
    },
    BundledTable {
        file: "hourly/series.csv",
        contents: "hourly grid carbon intensity 2021-2023, life-cycle and direct, 28 zones (values in hourly/electricitymaps.bin)",
        license: "ODbL-1.0",
        attribution: "Electricity Maps, hourly carbon intensity data (data portal, 2021-2023 releases), ODbL; copies named per row",
    },
    BundledTable {
        file: "hourly/zone_map.csv",
        contents: "countries split into several grid zones, and the zone whose hourly series stands for them",
        license: "facts (assignments made by ecotrace)",
        attribution: "Electricity Maps zone ids; the reasons cite Svenska kraftnät and Terna bidding-zone statistics",
    },
    BundledTable {
        file: "cloud_regions.csv",
        contents: "AWS, Google Cloud and Azure regions: grid zone, PUE, WUE",
        license: "Apache-2.0 (Cloud Carbon Footprint figures) and facts published by the providers; intensities from zones.csv (ODbL-1.0)",
        attribution: "Cloud Carbon Footprint (Apache-2.0); GoogleCloudPlatform/region-carbon-info (Apache-2.0, quoted); AWS sustainability pages",
    },
    BundledTable {
        file: "cpus.csv",
        contents: "CPU TDP and core counts",
        license: "MIT",
        attribution: "CodeCarbon, Copyright (c) 2019 Mila, BCG Gamma, CometML, Haverford College; Copyright (c) 2023 Code Carbon NGO",
    },
    BundledTable {
        file: "equivalents.csv",
        contents: "everyday equivalents of CO2e",
        license: "per row: MIT (packaging of US Government figures); OGL-UK-3.0",
        attribution: "US EPA Greenhouse Gas Equivalencies Calculator via Kartstig/greenhouse-gas and WA-Department-of-Agriculture/WaCSEshiny (MIT); UK Government GHG conversion factors 2020 (Open Government Licence v3.0)",
    },
    BundledTable {
        file: "accelerators.csv",
        contents: "GPUs and TPUs: TDP, memory, peak FLOP/s, embodied carbon",
        license: "CC-BY-SA-4.0 as a whole; spec columns CC-BY-4.0 (Epoch AI, Green Algorithms) or MIT (ML CO2 Impact); die figures Apache-2.0 (LLMCarbon); facts from vendor data sheets (AMD)",
        attribution: "ADEME / Tide / Hubblo GPU LCA data, hubblo-org/gpu-calculator (CC BY-SA 4.0); Epoch AI, Data on Machine Learning Hardware (CC BY 4.0); Green Algorithms (CC BY 4.0); mlco2/impact (MIT); LLMCarbon (Apache-2.0); AMD Instinct MI210 data sheet (amd.com, 2022)",
    },
    BundledTable {
        file: "embodied.csv",
        contents: "embodied carbon of hosts and CPU packages, with uncertainty ranges",
        license: "Apache-2.0 (figures); ranges from Apache-2.0 (LLMCarbon) and UBA / ADEME factors as the Boavizta API cites them (facts)",
        attribution: "Cloud Carbon Footprint, ccf-coefficients (Apache-2.0); LLMCarbon (Apache-2.0); Boavizta API factors (UBA Green Cloud Computing 2021, ADEME Base Empreinte)",
    },
    BundledTable {
        file: "water.csv",
        contents: "off-site water consumed per kWh generated, per zone",
        license: "ODbL-1.0 as a whole (Electricity Maps shares); rates BSD-3-Clause (NREL ReEDS); cooling shares Apache-2.0 (MESSAGEix-Nexus); generation CC-BY-4.0 (Our World in Data)",
        attribution: "Electricity Maps 2024 yearly data (ODbL); NREL ReEDS 2.0 water rates, Copyright (c) 2023 Alliance for Sustainable Energy, LLC (BSD-3-Clause); MESSAGEix-Nexus cooling shares after Raptis et al. 2016 (Apache-2.0); Our World in Data energy dataset (CC BY 4.0)",
    },
    BundledTable {
        file: "prices.csv",
        contents: "on-demand prices of cloud instances",
        license: "facts (public list prices)",
        attribution: "AWS, Google Cloud and Microsoft Azure list prices, via instances.vantage.sh (tsaol/aws-gpu) and skypilot-org/skypilot-catalog",
    },
    BundledTable {
        file: "electricity_prices.csv",
        contents: "average electricity prices by country and US state",
        license: "per row: CC-BY-4.0 (Eurostat); public domain (US EIA)",
        attribution: "Eurostat nrg_pc_204, 2022-S2, (c) European Union (CC BY 4.0); US Energy Information Administration, Electric Power Annual 2023",
    },
    BundledTable {
        file: "exchange_rates.csv",
        contents: "EUR to USD exchange rate",
        license: "ECB statistics: reuse with acknowledgement of the source",
        attribution: "European Central Bank, euro foreign exchange reference rates",
    },
];
