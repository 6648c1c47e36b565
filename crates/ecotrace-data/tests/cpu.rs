//! cpu_lookup on real /proc/cpuinfo `model name` strings.

use ecotrace_data::cpu_lookup;

fn tdp(model: &str) -> Option<(String, f64, Option<u32>)> {
    cpu_lookup(model).map(|c| (c.name, c.tdp.watts(), c.cores))
}

#[test]
fn intel_xeon() {
    let (name, w, cores) = tdp("Intel(R) Xeon(R) CPU E5-2620 v3 @ 2.40GHz").unwrap();
    assert_eq!(
        (name.as_str(), w, cores),
        ("Intel Xeon E5-2620 v3", 85.0, Some(6))
    );
    // First-generation parts show a "0" where later ones show "v2".
    assert_eq!(
        tdp("Intel(R) Xeon(R) CPU E5-2620 0 @ 2.00GHz").unwrap().1,
        95.0
    );
    assert_eq!(
        tdp("Intel(R) Xeon(R) CPU E3-1240 V2 @ 3.40GHz").unwrap().1,
        69.0
    );
    assert_eq!(
        tdp("Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz").unwrap().1,
        150.0
    );
    assert_eq!(
        tdp("Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz")
            .unwrap()
            .1,
        300.0
    );
}

#[test]
fn intel_core() {
    let c = cpu_lookup("Intel(R) Core(TM) i7-8550U CPU @ 1.80GHz").unwrap();
    assert_eq!(c.name, "Intel Core i7-8550U");
    assert_eq!(c.tdp.watts(), 15.0);
    assert!(c.source.contains("CodeCarbon"));
    assert_eq!(
        tdp("13th Gen Intel(R) Core(TM) i9-13900K").unwrap().1,
        125.0
    );
    assert_eq!(tdp("Intel(R) Core(TM) Ultra 7 155H").unwrap().1, 28.0);
    assert_eq!(
        tdp("Intel(R) Core(TM)2 Duo CPU     E8400  @ 3.00GHz")
            .unwrap()
            .1,
        65.0
    );
}

#[test]
fn amd_epyc_and_ryzen() {
    let (name, w, cores) = tdp("AMD EPYC 7763 64-Core Processor").unwrap();
    assert_eq!(
        (name.as_str(), w, cores),
        ("AMD EPYC 7763", 280.0, Some(64))
    );
    assert_eq!(tdp("AMD EPYC 9654 96-Core Processor").unwrap().1, 360.0);
    assert_eq!(tdp("AMD EPYC 8024P 8-Core Processor").unwrap().1, 90.0);
    let (name, w, cores) = tdp("AMD Ryzen 9 5950X 16-Core Processor").unwrap();
    assert_eq!(
        (name.as_str(), w, cores),
        ("AMD Ryzen 9 5950X", 105.0, Some(16))
    );
    assert_eq!(
        tdp("AMD Ryzen 7 PRO 4750U with Radeon Graphics").unwrap().1,
        15.0
    );
    assert_eq!(
        tdp("AMD Ryzen Threadripper 1950X 16-Core Processor")
            .unwrap()
            .1,
        180.0
    );
}

#[test]
fn apple() {
    assert_eq!(tdp("Apple M2 Pro").unwrap().1, 35.0);
}

#[test]
fn no_guess_across_model_numbers() {
    // Not in the table: Google's custom EPYC, and the i7-1365U (only -UE/-URE are listed).
    assert_eq!(tdp("AMD EPYC 7B13 64-Core Processor"), None);
    assert_eq!(tdp("13th Gen Intel(R) Core(TM) i7-1365U"), None);
    // A suffix is a different model.
    assert_ne!(
        tdp("Intel(R) Xeon(R) Gold 6248R CPU @ 3.00GHz").unwrap().1,
        150.0
    );
    // No model number at all (some cloud VMs).
    assert_eq!(tdp("Intel(R) Xeon(R) CPU @ 2.20GHz"), None);
    for nonsense in [
        "",
        "   ",
        "banana",
        "QEMU Virtual CPU version 2.5+",
        "Intel(R) Core(TM) i7-99999X",
    ] {
        assert_eq!(tdp(nonsense), None, "{nonsense}");
    }
}
