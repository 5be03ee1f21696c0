//! `softcard pin verify|change|unblock`: the user PIN of a card image.

use std::path::PathBuf;

use softcard::crypto::BackendKind;
use softcard::crypto::sym::SymAlg;
use softcard_enroll::{Application, EnrollError, Unblock};

use super::enroll::{connect, fail};
use crate::common::{CliError, HexKey, parse_backend, parse_hex_key};

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
        #[arg(long, value_name = "HEX", value_parser = parse_hex_key)]
        admin_key: Option<HexKey>,
        /// The 24-byte administrator key is AES-192, not 3DES (GIDS cards made with
        /// `softcard init --admin-key-aes`).
        #[arg(long, requires = "admin_key")]
        admin_key_aes: bool,
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
            admin_key_aes,
            backend,
        } => {
            let mut client = connect(&image, backend)?;
            let key = admin_key
                .as_ref()
                .map_or(&softcard::profile::DEFAULT_ADMIN_KEY[..], HexKey::bytes);
            let secret = match client.application() {
                Application::Piv => Unblock::Puk(puk.as_bytes()),
                Application::Gids if admin_key_aes => {
                    let alg = match key.len() {
                        16 => SymAlg::Aes128,
                        24 => SymAlg::Aes192,
                        32 => SymAlg::Aes256,
                        n => {
                            return Err(CliError::usage(format!(
                                "--admin-key-aes: an AES key has 16, 24 or 32 bytes, not {n}"
                            )));
                        }
                    };
                    Unblock::AdminKeyWith(alg, key)
                }
                Application::Gids => Unblock::AdminKey(key),
            };
            client
                .unblock_pin(secret, new.as_bytes())
                .map_err(|e| match e {
                    // The card's challenge was an AES block: its key is AES, not 3DES.
                    EnrollError::AdminAuthentication { what, sw }
                        if what != "administrator key" && !admin_key_aes =>
                    {
                        CliError::new(format!(
                            "administrator key authentication failed (status {sw:04X}): the card's key is AES, and a 24-byte key is taken as 3DES unless --admin-key-aes says it is AES-192"
                        ))
                    }
                    e => fail(e),
                })?;
            println!("PIN unblocked");
        }
    }
    Ok(())
}
