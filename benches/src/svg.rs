//! Horizontal bar charts as plain SVG: no fonts, no system libraries, readable as text.

use std::fmt::Write;

/// One bar: its label, the median in nanoseconds and the 95 % confidence interval of the
/// median (lower, upper), drawn as a whisker.
#[derive(Clone, Debug)]
pub struct Bar {
    /// Label left of the bar.
    pub label: String,
    /// Median, nanoseconds.
    pub median_ns: f64,
    /// Confidence interval of the median, nanoseconds.
    pub interval_ns: Option<(f64, f64)>,
    /// Drawn in the highlight colour (a reference figure rather than a measurement).
    pub reference: bool,
}

const WIDTH: f64 = 900.0;
const LABEL_W: f64 = 300.0;
const VALUE_W: f64 = 110.0;
const ROW_H: f64 = 26.0;
const TOP: f64 = 46.0;
const BOTTOM: f64 = 34.0;

/// A duration in the unit that suits it (`2.41 ms`, `87.3 µs`).
pub fn human(ns: f64) -> String {
    if ns == 0.0 {
        return "0".to_owned();
    }
    let (value, unit) = if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$} {unit}")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Renders `bars` under `title`; `log` chooses a logarithmic time axis (for values that
/// span several orders of magnitude).
pub fn bar_chart(title: &str, bars: &[Bar], log: bool) -> String {
    let plot_w = WIDTH - LABEL_W - VALUE_W;
    let height = TOP + BOTTOM + ROW_H * bars.len() as f64;
    let max = bars
        .iter()
        .map(|b| {
            b.interval_ns
                .map_or(b.median_ns, |(_, hi)| hi.max(b.median_ns))
        })
        .fold(1.0_f64, f64::max);
    let min = bars
        .iter()
        .map(|b| b.median_ns)
        .fold(f64::INFINITY, f64::min)
        .max(1.0);
    // Axis: linear from 0, or log from a power of ten below the smallest value.
    let (lo_exp, hi_exp) = (
        min.log10().floor(),
        max.log10().ceil().max(min.log10().floor() + 1.0),
    );
    let x = |v: f64| -> f64 {
        let frac = if log {
            (v.max(1.0).log10() - lo_exp) / (hi_exp - lo_exp)
        } else {
            v / (max * 1.05)
        };
        LABEL_W + plot_w * frac.clamp(0.0, 1.0)
    };

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" font-size="16" font-weight="bold" text-anchor="middle">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    // Grid lines and tick labels.
    let axis_y = TOP + ROW_H * bars.len() as f64;
    let ticks: Vec<f64> = if log {
        (lo_exp as i32..=hi_exp as i32)
            .map(|e| 10f64.powi(e))
            .collect()
    } else {
        let step = nice_step(max * 1.05 / 5.0);
        (0..=5)
            .map(|i| i as f64 * step)
            .filter(|v| *v <= max * 1.05)
            .collect()
    };
    for t in ticks {
        let tx = x(t);
        let _ = writeln!(
            s,
            r##"<line x1="{tx:.1}" y1="{TOP}" x2="{tx:.1}" y2="{axis_y}" stroke="#ddd"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle" fill="#555">{}</text>"##,
            axis_y + 18.0,
            escape(&human(t))
        );
    }
    for (i, bar) in bars.iter().enumerate() {
        let y = TOP + ROW_H * i as f64;
        let x0 = x(if log { 10f64.powf(lo_exp) } else { 0.0 });
        let x1 = x(bar.median_ns);
        let colour = if bar.reference { "#d62728" } else { "#1f77b4" };
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            LABEL_W - 8.0,
            y + ROW_H * 0.65,
            escape(&bar.label)
        );
        let _ = writeln!(
            s,
            r#"<rect x="{x0:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{colour}"/>"#,
            y + 4.0,
            (x1 - x0).max(1.0),
            ROW_H - 8.0
        );
        if let Some((lo, hi)) = bar.interval_ns {
            let yc = y + ROW_H / 2.0;
            let _ = writeln!(
                s,
                r##"<line x1="{:.1}" y1="{yc:.1}" x2="{:.1}" y2="{yc:.1}" stroke="#222"/>"##,
                x(lo),
                x(hi)
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{:.1}">{}</text>"#,
            LABEL_W + plot_w + 6.0,
            y + ROW_H * 0.65,
            escape(&human(bar.median_ns))
        );
    }
    let _ = writeln!(
        s,
        r##"<line x1="{LABEL_W}" y1="{axis_y}" x2="{}" y2="{axis_y}" stroke="#333"/>"##,
        LABEL_W + plot_w
    );
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{:.1}" text-anchor="middle" fill="#555">median time per operation{}</text>"##,
        LABEL_W + plot_w / 2.0,
        height - 2.0,
        if log { " (log scale)" } else { "" }
    );
    s.push_str("</svg>\n");
    s
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    let magnitude = 10f64.powf(raw.max(1e-9).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
}
