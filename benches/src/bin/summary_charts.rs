//! `softcard-bench-summary-charts SUMMARY IMG_DIR`: the charts of the side-by-side
//! comparisons, from the summary `scripts/bench-compare` writes (`docs/perf-summary.json`):
//! `compare_pkcs11_sign.svg` (C_Sign through PKCS#11 modules), `compare_roundtrip.svg`
//! (pcscd + vpcd round trip, softcard against vicc) and `compare_keygen.svg` (RSA-2048 key
//! generation). Bars are medians, whiskers the quartiles (not a confidence interval).
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;
use softcard_benches::svg::{Bar, bar_chart};

/// Bars of `map` (label -> {median, q1, q3} in `unit_ns` nanoseconds per unit, under the
/// keys `prefix`median... as the summary names them), the label `reference` highlighted.
fn bars(
    map: &serde_json::Map<String, Value>,
    keys: [&str; 3],
    unit_ns: f64,
    reference: &str,
) -> Vec<Bar> {
    let mut bars: Vec<Bar> = map
        .iter()
        .filter_map(|(label, v)| {
            let get = |k: &str| v.get(k).and_then(Value::as_f64).map(|x| x * unit_ns);
            Some(Bar {
                label: label.clone(),
                median_ns: get(keys[0])?,
                interval_ns: get(keys[1]).zip(get(keys[2])),
                reference: label == reference,
            })
        })
        .collect();
    bars.sort_by(|a, b| a.median_ns.total_cmp(&b.median_ns));
    bars
}

fn write(dir: &Path, name: &str, svg: &str) -> Result<(), String> {
    let path = dir.join(name);
    std::fs::write(&path, svg).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("{}", path.display());
    Ok(())
}

fn run() -> Result<(), String> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (Some(summary), Some(img)) = (args.next(), args.next()) else {
        return Err("usage: softcard-bench-summary-charts SUMMARY IMG_DIR".into());
    };
    let text =
        std::fs::read_to_string(&summary).map_err(|e| format!("{}: {e}", summary.display()))?;
    let v: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", summary.display()))?;
    let us = ["median_us", "q1_us", "q3_us"];
    if let Some(map) = v.get("pkcs11").and_then(Value::as_object) {
        let svg = bar_chart(
            "C_Sign, CKM_SHA256_RSA_PKCS, RSA-2048 (PyKCS11, one run, alternating)",
            &bars(map, us, 1e3, "SoftHSM2"),
            false,
        );
        write(&img, "compare_pkcs11_sign.svg", &svg)?;
    }
    if let Some(map) = v.get("roundtrip").and_then(Value::as_object) {
        let svg = bar_chart(
            "APDU round trip through pcscd + vpcd (pyscard, one run, alternating)",
            &bars(map, us, 1e3, "vicc SELECT"),
            true,
        );
        write(&img, "compare_roundtrip.svg", &svg)?;
    }
    if let Some(map) = v
        .pointer("/keygen/keygen/results")
        .and_then(Value::as_object)
    {
        let svg = bar_chart(
            "RSA-2048 key generation (31 each, interleaved)",
            &bars(map, ["median", "q1", "q3"], 1e6, "OpenSSL"),
            false,
        );
        write(&img, "compare_keygen.svg", &svg)?;
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("softcard-bench-summary-charts: {e}");
        std::process::exit(1);
    }
}
