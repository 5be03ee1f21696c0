//! `softcard-bench-report`: turns criterion's results into the performance report.
//!
//! ```text
//! softcard-bench-report --criterion DIR --doc docs/performance.md --img docs/img [--command TEXT]
//! ```
//!
//! Writes one SVG bar chart per criterion group plus two overviews (`layers.svg`,
//! `roundtrip.svg`) into the image folder, and replaces the text between the markers
//! `<!-- results:begin -->` and `<!-- results:end -->` of the document with the machine's
//! description, the command, and a table of medians and ratios per group.
#![forbid(unsafe_code)]

use std::fmt::Write;
use std::path::{Path, PathBuf};

use softcard_benches::report::{Measurement, by_group, collect, find, table};
use softcard_benches::svg::{Bar, bar_chart, human};

const BEGIN: &str = "<!-- results:begin -->";
const END: &str = "<!-- results:end -->";

/// The groups in report order, with their titles.
const GROUPS: &[(&str, &str)] = &[
    (
        "rsa2048_sign_pkcs1v15",
        "RSA-2048 PKCS#1 v1.5 signature (SHA-256 DigestInfo)",
    ),
    ("rsa2048_private_raw", "RSA-2048 raw private operation"),
    ("p256_ecdsa_sign", "ECDSA P-256 signature"),
    ("rsa2048_keygen", "RSA-2048 key generation"),
    (
        "card_sign",
        "Card::transmit of the sign command (in process)",
    ),
    (
        "card_roundtrip",
        "Card::transmit of GET VERSION (in process)",
    ),
    (
        "softcard_pcsc_sign",
        "softcard-pcsc: SCardTransmit of the sign command",
    ),
    (
        "softcard_pcsc_roundtrip",
        "softcard-pcsc: SCardTransmit of GET VERSION",
    ),
    ("pcsc_sign", "pcsc crate client: sign command"),
    (
        "pcsc_roundtrip",
        "pcsc crate client: GET VERSION round trip",
    ),
];

/// The published figure for the TPM-backed Windows virtual smart card (p50 200 ms).
const TPM_VSC_P50_NS: f64 = 200e6;

struct Args {
    criterion: PathBuf,
    doc: PathBuf,
    img: PathBuf,
    command: String,
}

fn parse_args() -> Result<Args, String> {
    let mut criterion = None;
    let mut doc = PathBuf::from("docs/performance.md");
    let mut img = PathBuf::from("docs/img");
    let mut command = "scripts/bench".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--criterion" => criterion = Some(PathBuf::from(value()?)),
            "--doc" => doc = PathBuf::from(value()?),
            "--img" => img = PathBuf::from(value()?),
            "--command" => command = value()?,
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    let criterion = criterion.ok_or("--criterion DIR is required")?;
    Ok(Args {
        criterion,
        doc,
        img,
        command,
    })
}

/// `model name` of the first processor and the number of processors the program may use.
fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown processor".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {model}")
}

/// The median a group's ratios are taken against: its own OpenSSL entry, else for sign
/// groups OpenSSL's RSA-2048 signature.
fn reference(all: &[Measurement], group: &str) -> Option<(&'static str, f64)> {
    if let Some(m) = find(all, group, "OpenSSL") {
        return Some(("OpenSSL", m.median_ns));
    }
    if group.ends_with("_sign") && !group.starts_with("p256") {
        return find(all, "rsa2048_sign_pkcs1v15", "OpenSSL")
            .map(|m| ("OpenSSL RSA sign", m.median_ns));
    }
    None
}

fn bar(m: &Measurement, label: String) -> Bar {
    Bar {
        label,
        median_ns: m.median_ns,
        interval_ns: Some(m.interval_ns),
        reference: false,
    }
}

fn pick(all: &[Measurement], list: &[(&str, &str, &str)]) -> Vec<Bar> {
    list.iter()
        .filter_map(|(group, id, label)| find(all, group, id).map(|m| bar(m, (*label).to_owned())))
        .collect()
}

fn write_charts(all: &[Measurement], img: &Path) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(img).map_err(|e| format!("{}: {e}", img.display()))?;
    let mut written = Vec::new();
    let mut save = |name: &str, svg: String| -> Result<(), String> {
        let path = img.join(name);
        std::fs::write(&path, svg).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(name.to_owned());
        Ok(())
    };
    let groups = by_group(all);
    for (group, title) in GROUPS {
        if let Some(rows) = groups.get(group) {
            let bars: Vec<Bar> = rows.iter().map(|m| bar(m, m.id.clone())).collect();
            let spread = bars.iter().map(|b| b.median_ns).fold(0.0, f64::max)
                / bars
                    .iter()
                    .map(|b| b.median_ns)
                    .fold(f64::INFINITY, f64::min);
            save(
                &format!("{group}.svg"),
                bar_chart(title, &bars, spread > 30.0),
            )?;
        }
    }
    let mut layers = pick(
        all,
        &[
            ("rsa2048_sign_pkcs1v15", "OpenSSL", "OpenSSL (crypto only)"),
            (
                "rsa2048_sign_pkcs1v15",
                "aws-lc",
                "aws-lc backend (crypto only)",
            ),
            ("rsa2048_sign_pkcs1v15", "SoftHSM2", "SoftHSM2 C_Sign"),
            (
                "rsa2048_sign_pkcs1v15",
                "RustCrypto",
                "RustCrypto backend (crypto only)",
            ),
            ("card_sign", "PIV/aws-lc", "PIV card, aws-lc, in process"),
            (
                "card_sign",
                "PIV/RustCrypto",
                "PIV card, RustCrypto, in process",
            ),
            (
                "card_sign",
                "GIDS/RustCrypto",
                "GIDS card, RustCrypto, in process",
            ),
            (
                "softcard_pcsc_sign",
                "PIV/RustCrypto",
                "PIV via softcard-pcsc",
            ),
            (
                "pcsc_sign",
                "drop-in, in process/PIV",
                "PIV via drop-in, in process",
            ),
            (
                "pcsc_sign",
                "softcard exec (host)/PIV",
                "PIV via drop-in, softcard exec (host)",
            ),
            ("pcsc_sign", "pcscd+vpcd/PIV", "PIV via pcscd + vpcd"),
            ("pcsc_sign", "pcscd+vpcd/GIDS", "GIDS via pcscd + vpcd"),
        ],
    );
    if !layers.is_empty() {
        layers.push(Bar {
            label: "TPM virtual smart card (p50, published)".to_owned(),
            median_ns: TPM_VSC_P50_NS,
            interval_ns: None,
            reference: true,
        });
        save(
            "layers.svg",
            bar_chart("RSA-2048 signature at every layer", &layers, true),
        )?;
    }
    let trips = pick(
        all,
        &[
            ("card_roundtrip", "PIV GET VERSION", "Card::transmit"),
            (
                "softcard_pcsc_roundtrip",
                "PIV GET VERSION",
                "softcard-pcsc",
            ),
            (
                "pcsc_roundtrip",
                "drop-in, in process/PIV GET VERSION",
                "drop-in, in process",
            ),
            (
                "pcsc_roundtrip",
                "softcard exec (host)/PIV GET VERSION",
                "drop-in, softcard exec (host)",
            ),
            (
                "pcsc_roundtrip",
                "pcscd+vpcd/PIV GET VERSION",
                "pcscd + vpcd",
            ),
        ],
    );
    if !trips.is_empty() {
        save(
            "roundtrip.svg",
            bar_chart("Bare APDU round trip (PIV GET VERSION)", &trips, true),
        )?;
    }
    Ok(written)
}

fn results_text(all: &[Measurement], args: &Args, charts: &[String]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Machine: {}. Command: `{}`.\n", machine(), args.command);
    let groups = by_group(all);
    for (group, title) in GROUPS {
        let Some(rows) = groups.get(group) else {
            continue;
        };
        let _ = writeln!(s, "#### {title} (`{group}`)\n");
        s.push_str(&table(rows, reference(all, group)));
        s.push('\n');
        if charts.iter().any(|c| c == &format!("{group}.svg")) {
            let _ = writeln!(s, "![{title}](img/{group}.svg)\n");
        }
    }
    // What each layer adds over the bare crypto it runs: PIV signs by the raw private
    // operation on a host-padded block, GIDS by a PKCS#1 v1.5 signature of a DigestInfo.
    let overhead: Vec<(String, f64, f64)> = all
        .iter()
        .filter(|m| {
            matches!(
                m.group.as_str(),
                "card_sign" | "softcard_pcsc_sign" | "pcsc_sign"
            )
        })
        .filter_map(|m| {
            let backend = if m.id.ends_with("aws-lc") {
                "aws-lc"
            } else {
                "RustCrypto"
            };
            let crypto = if m.id.contains("PIV") {
                "rsa2048_private_raw"
            } else {
                "rsa2048_sign_pkcs1v15"
            };
            find(all, crypto, backend).map(|c| {
                (
                    format!("`{}` {} (vs `{crypto}` {backend})", m.group, m.id),
                    m.median_ns,
                    m.median_ns - c.median_ns,
                )
            })
        })
        .collect();
    if !overhead.is_empty() {
        s.push_str("#### What each layer adds to the crypto it runs (medians)\n\n");
        s.push_str("| layer | median | minus the bare operation |\n|---|---:|---:|\n");
        for (name, median, extra) in overhead {
            let sign = if extra < 0.0 { "-" } else { "+" };
            let _ = writeln!(
                s,
                "| {name} | {} | {sign}{} |",
                human(median),
                human(extra.abs())
            );
        }
        s.push('\n');
    }
    for (chart, title) in [
        ("layers.svg", "Signature at every layer"),
        ("roundtrip.svg", "APDU round trip"),
    ] {
        if charts.iter().any(|c| c == chart) {
            let _ = writeln!(s, "![{title}](img/{chart})\n");
        }
    }
    s
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    let all = collect(&args.criterion)?;
    if all.is_empty() {
        return Err(format!(
            "no criterion results under {}",
            args.criterion.display()
        ));
    }
    let charts = write_charts(&all, &args.img)?;
    let text = results_text(&all, &args, &charts);
    let doc =
        std::fs::read_to_string(&args.doc).map_err(|e| format!("{}: {e}", args.doc.display()))?;
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        return Err(format!(
            "{}: markers {BEGIN} / {END} not found",
            args.doc.display()
        ));
    };
    if e < b {
        return Err(format!("{}: {END} before {BEGIN}", args.doc.display()));
    }
    let updated = format!("{}{BEGIN}\n{}\n{}", &doc[..b], text.trim_end(), &doc[e..]);
    std::fs::write(&args.doc, updated).map_err(|e| format!("{}: {e}", args.doc.display()))?;
    println!(
        "softcard-bench-report: {} results, {} charts, {} updated",
        all.len(),
        charts.len(),
        args.doc.display()
    );
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("softcard-bench-report: {e}");
        std::process::exit(1);
    }
}
