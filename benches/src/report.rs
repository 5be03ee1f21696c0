//! Reading criterion's results (`<criterion dir>/**/new/{benchmark,estimates}.json`) and
//! writing the markdown tables of the performance report.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::svg::human;

/// One benchmark's result.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// Criterion group (one comparison).
    pub group: String,
    /// Benchmark id inside the group (`OpenSSL`, `PIV/aws-lc`...).
    pub id: String,
    /// Median, nanoseconds.
    pub median_ns: f64,
    /// 95 % confidence interval of the median, nanoseconds.
    pub interval_ns: (f64, f64),
    /// Mean, nanoseconds.
    pub mean_ns: f64,
}

#[derive(Deserialize)]
struct BenchmarkJson {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
}

#[derive(Deserialize)]
struct Interval {
    lower_bound: f64,
    upper_bound: f64,
}

#[derive(Deserialize)]
struct Estimate {
    confidence_interval: Interval,
    point_estimate: f64,
}

#[derive(Deserialize)]
struct EstimatesJson {
    mean: Estimate,
    median: Estimate,
}

/// Every measurement under `dir` (criterion's output folder), sorted by group then id.
///
/// # Errors
/// An unreadable folder or a malformed JSON file.
pub fn collect(dir: &Path) -> Result<Vec<Measurement>, String> {
    let mut found = Vec::new();
    walk(dir, &mut found)?;
    let mut out = Vec::new();
    for new in found {
        let read = |name: &str| {
            std::fs::read_to_string(new.join(name))
                .map_err(|e| format!("{}: {e}", new.join(name).display()))
        };
        let bench: BenchmarkJson = serde_json::from_str(&read("benchmark.json")?)
            .map_err(|e| format!("{}: {e}", new.display()))?;
        let est: EstimatesJson = serde_json::from_str(&read("estimates.json")?)
            .map_err(|e| format!("{}: {e}", new.display()))?;
        let id = [bench.function_id, bench.value_str]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("/");
        out.push(Measurement {
            group: bench.group_id,
            id,
            median_ns: est.median.point_estimate,
            interval_ns: (
                est.median.confidence_interval.lower_bound,
                est.median.confidence_interval.upper_bound,
            ),
            mean_ns: est.mean.point_estimate,
        });
    }
    out.sort_by(|a, b| (&a.group, &a.id).cmp(&(&b.group, &b.id)));
    Ok(out)
}

/// Folders named `new` holding both JSON files, below `dir`.
fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new")
            && path.join("estimates.json").is_file()
            && path.join("benchmark.json").is_file()
        {
            found.push(path);
        } else if path.file_name().is_none_or(|n| n != "report") {
            walk(&path, found)?;
        }
    }
    Ok(())
}

/// The measurement `group`/`id`, if present.
pub fn find<'a>(all: &'a [Measurement], group: &str, id: &str) -> Option<&'a Measurement> {
    all.iter().find(|m| m.group == group && m.id == id)
}

/// Measurements grouped by criterion group, fastest first.
pub fn by_group(all: &[Measurement]) -> BTreeMap<&str, Vec<&Measurement>> {
    let mut groups: BTreeMap<&str, Vec<&Measurement>> = BTreeMap::new();
    for m in all {
        groups.entry(m.group.as_str()).or_default().push(m);
    }
    for rows in groups.values_mut() {
        rows.sort_by(|a, b| a.median_ns.total_cmp(&b.median_ns));
    }
    groups
}

/// A markdown table of one group: median with its confidence interval, operations per
/// second, and the ratio to `reference` (a median in ns) when given.
pub fn table(rows: &[&Measurement], reference: Option<(&str, f64)>) -> String {
    let mut s = String::new();
    match reference {
        Some((name, _)) => {
            let _ = writeln!(
                s,
                "| benchmark | median | 95 % CI of the median | per second | vs {name} |"
            );
            s.push_str("|---|---:|---:|---:|---:|\n");
        }
        None => {
            s.push_str("| benchmark | median | 95 % CI of the median | per second |\n");
            s.push_str("|---|---:|---:|---:|\n");
        }
    }
    for m in rows {
        let _ = write!(
            s,
            "| {} | {} | {} – {} | {:.0} |",
            m.id,
            human(m.median_ns),
            human(m.interval_ns.0),
            human(m.interval_ns.1),
            1e9 / m.median_ns
        );
        if let Some((_, r)) = reference {
            let _ = write!(s, " {:.2}x |", m.median_ns / r);
        }
        s.push('\n');
    }
    s
}
