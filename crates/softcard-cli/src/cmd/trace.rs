//! `softcard trace`: read APDU traces recorded by `softcard exec --trace` and `softcard
//! serve --trace` (format: docs/traces.md). `show` prints each exchange with the
//! command and status word named; `diff` finds the first difference between two runs.
//!
//! Also the options that record or replay a trace, shared by `exec` and `serve`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use softcard_pcsc::Registry;
use softcard_pcsc::trace::{Exchange, Recorder, Replay, Secrets, Tap, Trace, names};

use crate::common::CliError;

/// Arguments of `softcard trace`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Print each exchange on one line: the command and the status word by name.
    Show {
        /// The trace file.
        file: PathBuf,
    },
    /// The first difference between two traces, timestamps ignored. Exit code 0 when
    /// they are the same, 1 when they differ.
    Diff {
        /// The first trace.
        a: PathBuf,
        /// The second trace.
        b: PathBuf,
    },
}

/// The options of `exec` and `serve` that record a trace.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    /// Record every APDU exchanged with the cards to FILE (replaced if it exists). PINs,
    /// PUKs, key material and management-key authentication are redacted.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Record secrets in the trace in clear (the file is then readable by its owner only).
    #[arg(long, requires = "trace")]
    pub trace_secrets: bool,
}

impl RecordArgs {
    /// Starts recording the registry's exchanges, if `--trace` asks to.
    ///
    /// # Errors
    /// The trace file cannot be created.
    pub fn start(&self, registry: &Registry) -> Result<Option<Arc<Recorder>>, CliError> {
        let Some(path) = &self.trace else {
            return Ok(None);
        };
        let secrets = if self.trace_secrets {
            Secrets::Clear
        } else {
            Secrets::Redacted
        };
        let recorder = Recorder::create(path, secrets).map_err(|e| {
            CliError::new(format!("{}: cannot write the trace: {e}", path.display()))
        })?;
        let recorder = Arc::new(recorder);
        registry.set_tap(Some(Tap::Record(Arc::clone(&recorder))));
        Ok(Some(recorder))
    }
}

/// Reports a recorder's write failure, if there was one: the trace is incomplete.
pub fn check_recorder(recorder: Option<&Recorder>, path: Option<&Path>) -> Result<(), CliError> {
    match (recorder.and_then(Recorder::error), path) {
        (Some(e), Some(path)) => Err(CliError::new(format!(
            "{}: the trace is incomplete: {e}",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// Reads a trace file.
///
/// # Errors
/// The file cannot be read, or is not a trace (the line is named).
pub fn read(path: &Path) -> Result<Trace, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::new(format!("{}: cannot read: {e}", path.display())))?;
    Trace::parse(&text).map_err(|e| CliError::new(format!("{}: {e}", path.display())))
}

/// Starts replaying a trace on `registry`: its readers get stand-in cards and the script
/// answers their commands.
///
/// # Errors
/// The trace cannot be read, or its readers cannot be made.
pub fn start_replay(path: &Path, registry: &Registry) -> Result<Arc<Replay>, CliError> {
    let replay = Arc::new(Replay::new(read(path)?));
    replay
        .insert_cards(registry)
        .map_err(|e| CliError::new(format!("{}: cannot make its readers: {e}", path.display())))?;
    registry.set_tap(Some(Tap::Replay(Arc::clone(&replay))));
    Ok(replay)
}

/// Runs the action.
///
/// # Errors
/// A trace cannot be read.
pub fn run(args: Args) -> Result<(), CliError> {
    match args.action {
        Action::Show { file } => {
            let trace = read(&file)?;
            let start = [
                trace.exchanges.first().map(|x| x.time),
                trace.events.first().map(|e| e.time),
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or_default();
            let reader = |i| trace.reader(i).map_or("?", |r| r.name.as_str());
            // Exchanges and events, in the order of their numbers.
            let mut lines: Vec<(u64, String)> = trace
                .exchanges
                .iter()
                .map(|x| (x.number, names::exchange(x, start, reader(x.reader))))
                .chain(
                    trace
                        .events
                        .iter()
                        .map(|e| (e.number, names::event(e, start, reader(e.reader)))),
                )
                .collect();
            lines.sort_by_key(|(n, _)| *n);
            for (_, line) in lines {
                outln!("{line}");
            }
            Ok(())
        }
        Action::Diff { a, b } => {
            let (ta, tb) = (read(&a)?, read(&b)?);
            match first_difference(&ta, &tb) {
                None => {
                    outln!("same {} exchanges", ta.exchanges.len());
                    Ok(())
                }
                Some(text) => {
                    outln!("{text}");
                    std::process::exit(1);
                }
            }
        }
    }
}

fn reader_name<'a>(trace: &'a Trace, x: &Exchange) -> &'a str {
    trace.reader(x.reader).map_or("?", |r| r.name.as_str())
}

/// The same exchange in two runs: reader, command and response (not the time, not the
/// number).
fn same(ta: &Trace, a: &Exchange, tb: &Trace, b: &Exchange) -> bool {
    reader_name(ta, a) == reader_name(tb, b) && a.command == b.command && a.response == b.response
}

fn describe(label: &str, trace: &Trace, x: Option<&Exchange>) -> String {
    match x {
        Some(x) => format!(
            "  {label}: [{}] {} -> {}\n     {} -> {}",
            reader_name(trace, x),
            x.command,
            x.response,
            names::command(&x.command),
            names::response(&x.response)
        ),
        None => format!(
            "  {label}: (no more exchanges: {} in all)",
            trace.exchanges.len()
        ),
    }
}

/// The first exchange that differs, described with both sides; `None` when the runs are
/// the same.
fn first_difference(ta: &Trace, tb: &Trace) -> Option<String> {
    let n = ta.exchanges.len().max(tb.exchanges.len());
    (0..n).find_map(|i| {
        let (a, b) = (ta.exchanges.get(i), tb.exchanges.get(i));
        match (a, b) {
            (Some(a), Some(b)) if same(ta, a, tb, b) => None,
            _ => Some(format!(
                "exchange {} differs:\n{}\n{}",
                i + 1,
                describe("A", ta, a),
                describe("B", tb, b)
            )),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace(lines: &str) -> Trace {
        Trace::parse(&format!("softcard-trace 1\nreader 0 piv R\n{lines}")).unwrap()
    }

    #[test]
    fn the_first_difference_is_named_and_times_do_not_count() {
        let a = trace("1 1.000000 0 00a40400 -> 9000\n2 1.000000 0 00200080 -> 63c3\n");
        let same_at_other_times =
            trace("1 9.000000 0 00a40400 -> 9000\n2 9.500000 0 00200080 -> 63c3\n");
        assert_eq!(first_difference(&a, &same_at_other_times), None);
        let b = trace("1 1.000000 0 00a40400 -> 9000\n2 1.000000 0 00200080 -> 63c2\n");
        let d = first_difference(&a, &b).unwrap();
        assert!(d.starts_with("exchange 2 differs"), "{d}");
        assert!(d.contains("63C3 verification failed, 3 tries left"), "{d}");
        assert!(d.contains("63C2 verification failed, 2 tries left"), "{d}");
        let shorter = trace("1 1.000000 0 00a40400 -> 9000\n");
        let d = first_difference(&a, &shorter).unwrap();
        assert!(d.contains("B: (no more exchanges: 1 in all)"), "{d}");
    }
}
