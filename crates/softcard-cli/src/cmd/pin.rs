//! `softcard pin verify|change|unblock`: the user PIN of a card image.

use std::path::PathBuf;

use softcard::crypto::BackendKind;
use softcard_enroll::{Application, Unblock};

use super::enroll::{connect, fail};
use crate::common::{CliError, parse_backend, parse_hex};

/// Arguments of `softcard pin`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: PinCommand,
}

/// The `pin` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PinCommand {
    /// Check the PIN (a wrong one costs a try; the tries left are printed).
    Verify {
        /// The card image file.
        image: PathBuf,
        /// The PIN.
        #[arg(long, default_value = "12345678")]
        pin: String,
        /// Crypto backend to load the card's keys into.
        #[arg(long, value_parser = parse_backend, default_value = "rustcrypto")]
        backend: BackendKind,
    },
    /// Change the PIN.
    Change {
        /// The card image file.
        image: PathBuf,
        /// The current PIN.
        #[arg(long, default_value = "12345678")]
        pin: String,
        /// The new PIN.
        #[arg(long)]
        new: String,
        /// Crypto backend to load the card's keys into.
        #[arg(long, value_parser = parse_backend, default_value = "rustcrypto")]
        backend: BackendKind,
    },
    /// Set a new PIN and reset its tries: with the PUK (PIV) or the administrator key
    /// (GIDS).
    Unblock {
        /// The card image file.
        image: PathBuf,
        /// The new PIN.
        #[arg(long)]
        new: String,
        /// The PUK (PIV).
        #[arg(long, default_value = "12345678")]
        puk: String,
        /// The administrator key in hex (GIDS; the default key when not given).
        #[arg(long)]
        admin_key: Option<String>,
        /// Crypto backend to load the card's keys into.
        #[arg(long, value_parser = parse_backend, default_value = "rustcrypto")]
        backend: BackendKind,
    },
}

/// Runs the subcommand.
///
/// # Errors
/// Wrong PIN, PUK or administrator key (with the tries left), blocked PIN.
pub fn run(args: Args) -> Result<(), CliError> {
    match args.command {
        PinCommand::Verify {
            image,
            pin,
            backend,
        } => {
            connect(&image, backend)?
                .verify_pin(pin.as_bytes())
                .map_err(fail)?;
            println!("PIN verified");
        }
        PinCommand::Change {
            image,
            pin,
            new,
            backend,
        } => {
            connect(&image, backend)?
                .change_pin(pin.as_bytes(), new.as_bytes())
                .map_err(fail)?;
            println!("PIN changed");
        }
        PinCommand::Unblock {
            image,
            new,
            puk,
            admin_key,
            backend,
        } => {
            let mut client = connect(&image, backend)?;
            let key = match admin_key {
                Some(hex) => parse_hex(&hex).map_err(CliError::usage)?,
                None => softcard::profile::DEFAULT_ADMIN_KEY.to_vec(),
            };
            let secret = match client.application() {
                Application::Piv => Unblock::Puk(puk.as_bytes()),
                Application::Gids => Unblock::AdminKey(&key),
            };
            client.unblock_pin(secret, new.as_bytes()).map_err(fail)?;
            println!("PIN unblocked");
        }
    }
    Ok(())
}
