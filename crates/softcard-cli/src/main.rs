//! `softcard`: create, inspect and serve virtual smart cards.
//!
//! Each subcommand is a module under `cmd/` with an `Args` struct (clap derive) and a
//! `run(Args) -> Result<(), CliError>` function; adding one is a new module, one variant
//! of [`Command`] and one arm in [`Command::run`] (and in [`Command::json`] if it takes
//! `--json`).
//!
//! Failures are reported here, in one place: `softcard: error: MESSAGE` on stderr, or with
//! `--json` one JSON line `{"error": ..., "status": ...}` on stderr ([`CliError::report`]);
//! the exit code is non-zero either way.

/// `println!` for results on standard output: a reader that went away (`softcard info |
/// head -1`) ends the process quietly, as other Unix tools do, instead of a panic
/// ([`common::out`]).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::common::out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` for results on standard output, as [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::common::out(format_args!($($arg)*))
    };
}

mod card;
mod cmd;
mod common;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::common::CliError;

/// What `softcard --help` says after the subcommands: the README's first screen.
const OVERVIEW: &str = "\
Install (each gives a softcard whose every subcommand works):
  cargo install softcard-cli        the binary carries the drop-in library exec needs
  apt-get install ./softcard_*.deb  the Debian package (scripts/build-deb)
  packaging/Containerfile           an image with softcard, pcscd and vpcd

The two commands:
  softcard demo    the enrollment flow on a new card; needs nothing installed
  scripts/test     in a checkout, as root: installs what the tests need, runs every test

Three ways a program reaches a card:
  in process       Rust code links softcard, or softcard-pcsc in place of the pcsc crate
  softcard exec    the program loads softcard's libpcsclite.so.1: no daemon
  softcard serve   the card goes into the real pcscd through vpcd: every PC/SC program";

/// A virtual smart card (PIV, Windows TPM virtual smart card) for tests, CI and benchmarks.
#[derive(Debug, Parser)]
#[command(name = "softcard", version, about, after_help = OVERVIEW)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Create a new card image.
    Init(cmd::init::Args),
    /// Describe a card image (no secrets).
    Info(cmd::info::Args),
    /// Put cards into pcscd through vpcd (vsmartcard) until interrupted.
    #[command(after_help = cmd::serve::HELP)]
    Serve(cmd::serve::Args),
    /// Run a program that sees the card through the PC/SC library, without a daemon.
    #[command(after_help = cmd::exec::HELP)]
    Exec(cmd::exec::Args),
    /// Create a key on the card and write a certificate request signed by it.
    Enroll(Box<cmd::enroll::Args>),
    /// Import, export and list the certificates of key containers.
    Cert(cmd::cert::Args),
    /// Sign a file's hash with a container's key.
    Sign(cmd::sign::Args),
    /// Verify, change or unblock the PIN.
    Pin(cmd::pin::Args),
    /// Encrypt a card image at rest with a passphrase, change it, or decrypt the image.
    Passphrase(cmd::passphrase::Args),
    /// Control a running exec or serve: list its readers, remove and insert its cards.
    Ctl(cmd::ctl::Args),
    /// Run the enrollment flow end to end on a new card, with a built-in test CA.
    #[command(after_help = cmd::demo::HELP)]
    Demo(cmd::demo::Args),
    /// A test CA serving the AD CS Web Enrollment pages; approve, deny, list requests.
    #[command(after_help = cmd::ca::HELP)]
    Ca(cmd::ca::Args),
    /// Show an APDU trace with commands and status words named, or compare two.
    Trace(cmd::trace::Args),
    /// Save a card image's whole state to a file, or restore it.
    Snapshot(cmd::snapshot::Args),
}

impl Command {
    fn run(self) -> Result<(), CliError> {
        match self {
            Command::Init(a) => cmd::init::run(a),
            Command::Info(a) => cmd::info::run(a),
            Command::Serve(a) => cmd::serve::run(a),
            Command::Exec(a) => cmd::exec::run(a),
            Command::Enroll(a) => cmd::enroll::run(*a),
            Command::Cert(a) => cmd::cert::run(a),
            Command::Sign(a) => cmd::sign::run(a),
            Command::Pin(a) => cmd::pin::run(a),
            Command::Passphrase(a) => cmd::passphrase::run(a),
            Command::Ctl(a) => cmd::ctl::run(a),
            Command::Demo(a) => cmd::demo::run(a),
            Command::Ca(a) => cmd::ca::run(a),
            Command::Trace(a) => cmd::trace::run(a),
            Command::Snapshot(a) => cmd::snapshot::run(a),
        }
    }

    /// Whether `--json` was given: the result, and a failure, are then printed as JSON.
    fn json(&self) -> bool {
        match self {
            Command::Init(a) => a.json,
            Command::Info(a) => a.json,
            Command::Enroll(a) => a.json,
            Command::Cert(a) => a.json,
            Command::Sign(a) => a.json,
            Command::Pin(a) => a.json,
            Command::Passphrase(a) => a.json,
            Command::Ctl(a) => a.json,
            Command::Serve(_)
            | Command::Exec(_)
            | Command::Demo(_)
            | Command::Ca(_)
            | Command::Trace(_)
            | Command::Snapshot(_) => false,
        }
    }
}

/// Whether `--json` stands among the arguments (before a `--`): how a command line that
/// does not parse is known to want its error as JSON.
fn json_asked(args: impl IntoIterator<Item = std::ffi::OsString>) -> bool {
    args.into_iter()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json")
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version are not failures; a command line that does not parse is a
        // usage error, reported as clap words it unless `--json` asks for JSON.
        Err(e) if e.use_stderr() && json_asked(std::env::args_os()) => {
            let text = e.to_string();
            let first = text.split("\n\n").next().unwrap_or_default();
            let message = first.trim().trim_start_matches("error: ");
            CliError::usage(message).report(true);
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
        Err(e) => e.exit(),
    };
    let json = cli.command.json();
    match cli.command.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.report(json);
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::{Cli, json_asked};

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    /// Every option that takes a key in hex parses into a value (clap reads a field of type
    /// `Option<Vec<u8>>` as many `u8` values and panics on the first use).
    #[test]
    fn hex_key_options_parse() {
        let key = "010203040506070801020304050607080102030405060708";
        let lines: [&[&str]; 5] = [
            &["init", "c.img", "--profile", "piv", "--admin-key", key],
            &[
                "init",
                "c.img",
                "--profile",
                "piv",
                "--admin-key",
                key,
                "--admin-key-aes",
            ],
            &[
                "pin",
                "unblock",
                "c.img",
                "--new",
                "87654321",
                "--admin-key",
                key,
            ],
            &[
                "cert",
                "import",
                "c.img",
                "--container",
                "9D",
                "f",
                "--management-key",
                key,
            ],
            &["enroll", "c.img", "--out", "r.pem", "--management-key", key],
        ];
        for line in lines {
            let args = std::iter::once("softcard").chain(line.iter().copied());
            let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            let shown = format!("{cli:?}");
            assert!(!shown.contains("0102030405"), "keys are redacted: {shown}");
        }
        let err = Cli::try_parse_from([
            "softcard",
            "init",
            "c.img",
            "--profile",
            "piv",
            "--admin-key-aes",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("--admin-key"), "{err}");
    }

    /// `--json` is taken where each command takes it, before or after the operands, and
    /// only before `--`.
    #[test]
    fn json_flags() {
        let lines: [(&[&str], bool); 8] = [
            (&["init", "c.img", "--profile", "piv", "--json"], true),
            (
                &[
                    "sign",
                    "--json",
                    "c.img",
                    "--container",
                    "9D",
                    "--in",
                    "m",
                    "--out",
                    "s",
                ],
                true,
            ),
            (&["pin", "verify", "c.img", "--json"], true),
            (
                &["pin", "--json", "change", "c.img", "--new", "87654321"],
                true,
            ),
            (&["pin", "unblock", "c.img", "--new", "87654321"], false),
            (&["cert", "list", "c.img", "--json"], true),
            (
                &["cert", "export", "c.img", "--container", "9D", "--json"],
                true,
            ),
            (
                &["cert", "import", "c.img", "--container", "9D", "f"],
                false,
            ),
        ];
        for (line, json) in lines {
            let args = std::iter::once("softcard").chain(line.iter().copied());
            let cli = Cli::try_parse_from(args).unwrap_or_else(|e| panic!("{line:?}: {e}"));
            assert_eq!(cli.command.json(), json, "{line:?}");
        }
        let os = |args: &[&str]| args.iter().map(Into::into).collect::<Vec<_>>();
        assert!(json_asked(os(&["softcard", "pin", "verify", "--json"])));
        assert!(!json_asked(os(&[
            "softcard", "exec", "--image", "c", "--", "p", "--json"
        ])));
        assert!(
            !json_asked(os(&["--json", "pin"])),
            "argv[0] is the program"
        );
    }
}
