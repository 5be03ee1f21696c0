//! `softcard`: create, inspect and serve virtual smart cards.
//!
//! Each subcommand is a module under `cmd/` with an `Args` struct (clap derive) and a
//! `run(Args) -> Result<(), CliError>` function; adding one is a new module, one variant
//! of [`Command`] and one arm in [`Command::run`].

mod cmd;
mod common;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::common::CliError;

/// A virtual smart card (PIV, Windows TPM virtual smart card) for tests, CI and benchmarks.
#[derive(Debug, Parser)]
#[command(name = "softcard", version, about)]
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
    Serve(cmd::serve::Args),
    /// Run a program that sees the card through the PC/SC library, without a daemon.
    Exec(cmd::exec::Args),
}

impl Command {
    fn run(self) -> Result<(), CliError> {
        match self {
            Command::Init(a) => cmd::init::run(a),
            Command::Info(a) => cmd::info::run(a),
            Command::Serve(a) => cmd::serve::run(a),
            Command::Exec(a) => cmd::exec::run(a),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("softcard: error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
