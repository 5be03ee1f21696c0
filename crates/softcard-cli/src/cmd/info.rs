//! `softcard info`: describe a card image.

use std::path::{Path, PathBuf};

use crate::common::{CliError, OpenArgs, print_json, read_card};

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
    /// `key_exchange_bits`, `default`}], `certificates` (file names, or null)),
    /// `encryption` ({`kdf`, `memory_kib`, `iterations`, `parallelism`, `cipher`}, or null
    /// for an image in clear) and `description` (the text lines).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub open: OpenArgs,
}

/// Prints the description.
///
/// # Errors
/// The image cannot be opened.
pub fn run(args: Args) -> Result<(), CliError> {
    let backend = crate::card::backend_in_use(&args.image, args.open.backend)?;
    let card = read_card(&args.image, backend, &args.open.passphrase)?;
    let description = card.description();
    let mut lines = description.lines();
    let encryption = encryption(&args.image);
    lines.push(match &encryption {
        Some(p) => format!(
            "encrypted: yes (Argon2id, {} KiB, {} passes, {} lanes; XChaCha20-Poly1305)",
            p.memory_kib, p.iterations, p.parallelism
        ),
        None => "encrypted: no".to_owned(),
    });
    if args.json {
        let mut value =
            serde_json::to_value(&description).map_err(|e| CliError::new(e.to_string()))?;
        if let Some(map) = value.as_object_mut() {
            map.insert("image".into(), args.image.display().to_string().into());
            map.insert(
                "encryption".into(),
                encryption.map_or(serde_json::Value::Null, |p| {
                    serde_json::json!({
                        "kdf": "argon2id",
                        "memory_kib": p.memory_kib,
                        "iterations": p.iterations,
                        "parallelism": p.parallelism,
                        "cipher": "xchacha20-poly1305",
                    })
                }),
            );
            map.insert("description".into(), lines.into());
        }
        print_json(&value)
    } else {
        outln!("image: {}", args.image.display());
        for l in lines {
            outln!("{l}");
        }
        Ok(())
    }
}

/// The key derivation's parameters of the image at `path`, if it is encrypted (the card was
/// opened from it just before, so the header is known to be good).
fn encryption(path: &Path) -> Option<softcard_file::sealed::KdfParams> {
    let bytes = softcard_file::read_image(path).ok()?;
    softcard_file::sealed::is_sealed(&bytes)
        .then(|| softcard_file::sealed::Header::parse(&bytes).ok())
        .flatten()
        .map(|h| h.params)
}
