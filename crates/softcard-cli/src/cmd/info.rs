//! `softcard info`: describe a card image.

use std::path::PathBuf;

use softcard::crypto::BackendKind;

use crate::common::{CliError, hex, parse_backend, print_json, read_card};

/// Arguments of `softcard info`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The card image file.
    pub image: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Crypto backend to load the keys into.
    #[arg(long, value_parser = parse_backend, default_value = "rustcrypto")]
    pub backend: BackendKind,
}

/// Prints the description.
///
/// # Errors
/// The image cannot be opened.
pub fn run(args: Args) -> Result<(), CliError> {
    let card = read_card(&args.image, args.backend)?;
    let lines = card.describe();
    if args.json {
        print_json(&serde_json::json!({
            "image": args.image.display().to_string(),
            "profile": card.profile().name(),
            "serial": card.serial(),
            "atr": hex(card.atr()),
            "backend": card.backend().name(),
            "description": lines,
        }))
    } else {
        println!("image: {}", args.image.display());
        for l in lines {
            println!("{l}");
        }
        Ok(())
    }
}
