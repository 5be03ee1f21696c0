//! `softcard info`: describe a card image.

use std::path::PathBuf;

use crate::common::{BackendArg, CliError, print_json, read_card};

/// Arguments of `softcard info`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The card image file.
    pub image: PathBuf,
    /// Print JSON instead of text: `image`, `profile`, `serial`, `atr` (hex), `backend`,
    /// `applets` (each `name`, `aid` and `state`: `kind` `piv` with `version`, `pin` and
    /// `puk` {`tries_left`, `limit`, `blocked`}, `management_key` {`algorithm`, `default`},
    /// `slots` [{`slot`, `key` {`algorithm`, `algorithm_id`, `origin`, `pin_policy`,
    /// `touch_policy`} or null, `certificate`}]; `kind` `gids` with `operational`, `pin`
    /// (or null), `admin_key` {`algorithm`, `bits`} (or null), `keys` [{`reference`,
    /// `algorithm` or null}], `containers` [{`index`, `name`, `signature_bits`,
    /// `key_exchange_bits`, `default`}], `certificates` (file names, or null)), and
    /// `description` (the text lines).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub backend: BackendArg,
}

/// Prints the description.
///
/// # Errors
/// The image cannot be opened.
pub fn run(args: Args) -> Result<(), CliError> {
    let backend = crate::card::backend_in_use(&args.image, args.backend)?;
    let card = read_card(&args.image, backend)?;
    let description = card.description();
    let lines = description.lines();
    if args.json {
        let mut value =
            serde_json::to_value(&description).map_err(|e| CliError::new(e.to_string()))?;
        if let Some(map) = value.as_object_mut() {
            map.insert("image".into(), args.image.display().to_string().into());
            map.insert("description".into(), lines.into());
        }
        print_json(&value)
    } else {
        println!("image: {}", args.image.display());
        for l in lines {
            println!("{l}");
        }
        Ok(())
    }
}
