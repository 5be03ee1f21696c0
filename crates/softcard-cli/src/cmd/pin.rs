//! `softcard pin verify|change|unblock`: the user PIN of a card image.

use std::path::PathBuf;

use softcard_enroll::Transport;

use crate::card::CliCard;
use softcard::crypto::sym::SymAlg;
use softcard_enroll::{Application, CardClient, EnrollError, Unblock};

use super::enroll::{connect, fail};
use crate::common::{CliError, HexKey, HexKeyParser, OpenArgs, PinArg, parse_pin, print_json};

/// Arguments of `softcard pin`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: PinCommand,
    /// Print JSON (result, tries left) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The `pin` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum PinCommand {
    /// Check the PIN (a wrong one costs a try; the tries left are printed).
    Verify {
        /// The card image file.
        image: PathBuf,
        /// The PIN.
        #[arg(long, value_parser = parse_pin, default_value = "12345678")]
        pin: PinArg,
        #[command(flatten)]
        open: OpenArgs,
    },
    /// Change the PIN.
    Change {
        /// The card image file.
        image: PathBuf,
        /// The current PIN.
        #[arg(long, value_parser = parse_pin, default_value = "12345678")]
        pin: PinArg,
        /// The new PIN.
        #[arg(long, value_parser = parse_pin)]
        new: PinArg,
        #[command(flatten)]
        open: OpenArgs,
    },
    /// Set a new PIN and reset its tries: with the PUK (PIV) or the administrator key
    /// (GIDS).
    Unblock {
        /// The card image file.
        image: PathBuf,
        /// The new PIN.
        #[arg(long, value_parser = parse_pin)]
        new: PinArg,
        /// The PUK (PIV).
        #[arg(long, value_parser = parse_pin, default_value = "12345678")]
        puk: PinArg,
        /// The administrator key in hex (GIDS; the default key when not given).
        #[arg(long, value_name = "HEX", value_parser = HexKeyParser)]
        admin_key: Option<HexKey>,
        /// The 24-byte administrator key is AES-192, not 3DES (GIDS cards made with
        /// `softcard init --admin-key-aes`).
        #[arg(long, requires = "admin_key")]
        admin_key_aes: bool,
        #[command(flatten)]
        open: OpenArgs,
    },
}

/// Runs the subcommand.
///
/// # Errors
/// Wrong PIN, PUK or administrator key (with the tries left), blocked PIN.
pub fn run(args: Args) -> Result<(), CliError> {
    let (client, done) = match args.command {
        PinCommand::Verify { image, pin, open } => {
            let mut client = connect(&image, &open)?;
            client.verify_pin(pin.bytes()).map_err(fail)?;
            (client, "verified")
        }
        PinCommand::Change {
            image,
            pin,
            new,
            open,
        } => {
            let mut client = connect(&image, &open)?;
            client.change_pin(pin.bytes(), new.bytes()).map_err(fail)?;
            (client, "changed")
        }
        PinCommand::Unblock {
            image,
            new,
            puk,
            admin_key,
            admin_key_aes,
            open,
        } => {
            let mut client = connect(&image, &open)?;
            let key = admin_key
                .as_ref()
                .map_or(&softcard::profile::DEFAULT_ADMIN_KEY[..], HexKey::bytes);
            let secret = match client.application() {
                Application::Piv => Unblock::Puk(puk.bytes()),
                Application::Gids if admin_key_aes => {
                    let alg = SymAlg::with_key_len(true, key.len()).ok_or_else(|| {
                        CliError::usage(format!(
                            "--admin-key-aes: an AES key has 16, 24 or 32 bytes, not {}",
                            key.len()
                        ))
                    })?;
                    Unblock::AdminKeyWith(alg, key)
                }
                Application::Gids => Unblock::AdminKey(key),
            };
            client
                .unblock_pin(secret, new.bytes())
                .map_err(|e| match e {
                    // The card's challenge was an AES block: its key is AES, not 3DES.
                    EnrollError::AdminAuthentication { what, sw }
                        if what != "administrator key" && !admin_key_aes =>
                    {
                        CliError::new(format!(
                            "administrator key authentication failed (status {sw:04X}): the card's key is AES, and a 24-byte key is taken as 3DES unless --admin-key-aes says it is AES-192"
                        ))
                        .with_status(Some(sw))
                    }
                    e => fail(e),
                })?;
            (client, "unblocked")
        }
    };
    if !args.json {
        outln!("PIN {done}");
        return Ok(());
    }
    let application = client.application().name();
    print_json(&serde_json::json!({
        "result": done,
        "application": application,
        "tries_left": tries_left(client),
    }))
}

/// The PIN's tries left, as the card tells them to an empty VERIFY (ISO 7816-4: 63Cx) once
/// a reset has logged the PIN out; `None` if the card does not say.
fn tries_left(client: CardClient<CliCard>) -> Option<u8> {
    let aid = match client.application() {
        Application::Gids => softcard::gids::AID,
        Application::Piv => softcard::piv::AID,
    };
    let mut card = client.into_transport();
    card.reset();
    let select = [
        &[0x00, 0xA4, 0x04, 0x00, u8::try_from(aid.len()).ok()?][..],
        aid,
    ]
    .concat();
    if !card.transmit(&select).ok()?.ends_with(&[0x90, 0x00]) {
        return None;
    }
    match card.transmit(&[0x00, 0x20, 0x00, 0x80]).ok()?[..] {
        [.., 0x63, x] if x & 0xF0 == 0xC0 => Some(x & 0x0F),
        [.., 0x69, 0x83] => Some(0),
        _ => None,
    }
}
