//! `softcard passphrase`: encrypt a card image at rest, change its passphrase, or decrypt it.

use std::path::PathBuf;

use softcard_file::FileStorage;
use softcard_file::sealed::{KdfParams, Passphrase};

use crate::common::{CliError, PassphraseArg, load_error, print_json};

/// Arguments of `softcard passphrase`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["new_passphrase_file", "remove"])))]
pub struct Args {
    /// The card image file (not in use by another process).
    pub image: PathBuf,
    /// The file holding the new passphrase (one final line end is dropped): encrypts an
    /// image in clear, or re-encrypts an encrypted one under it (new salt and nonce).
    #[arg(long, value_name = "FILE")]
    pub new_passphrase_file: Option<PathBuf>,
    /// Decrypt the image: store it in clear.
    #[arg(long)]
    pub remove: bool,
    /// The current passphrase, for an encrypted image.
    #[command(flatten)]
    pub passphrase: PassphraseArg,
    /// Print JSON (image, encrypted) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Re-writes the image encrypted, re-keyed or in clear.
///
/// # Errors
/// The image cannot be opened (wrong or missing current passphrase, in use, not an image),
/// the new passphrase file cannot be read, the image cannot be written; the image is then
/// left as it was.
pub fn run(args: Args) -> Result<(), CliError> {
    let new = args
        .new_passphrase_file
        .as_deref()
        .map(Passphrase::from_file)
        .transpose()
        .map_err(CliError::usage)?;
    let current = args.passphrase.resolve()?;
    FileStorage::reseal(
        &args.image,
        current.as_ref(),
        new.as_ref().map(|p| (p, KdfParams::DEFAULT)),
    )
    .map_err(|e| load_error(&args.image, &e))?;
    let encrypted = new.is_some();
    if args.json {
        return print_json(&serde_json::json!({
            "image": args.image.display().to_string(),
            "encrypted": encrypted,
        }));
    }
    outln!(
        "{}: {}",
        args.image.display(),
        if encrypted {
            "encrypted with the new passphrase"
        } else {
            "stored in clear"
        }
    );
    Ok(())
}
