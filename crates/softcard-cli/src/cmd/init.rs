//! `softcard init`: create a card image.

use std::path::PathBuf;

use softcard::{Card, CardOptions, Profile};
use softcard_file::FileStorage;
use softcard_file::sealed::{KdfParams, SealKey};

use crate::common::{
    BackendArg, CliError, HexKey, HexKeyParser, PassphraseArg, PinArg, hex, parse_pin, print_json,
};

/// Arguments of `softcard init`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The card image file to create.
    pub image: PathBuf,
    /// The kind of card: piv, windows-vsc, yubikey (a YubiKey 5 with firmware 5.7) or
    /// yubikey-5.4 (firmware 5.4.3).
    #[arg(long, value_parser = parse_profile)]
    pub profile: Profile,
    /// User PIN (default 12345678; 123456 on the yubikey cards).
    #[arg(long, value_parser = parse_pin)]
    pub pin: Option<PinArg>,
    /// PUK (piv and yubikey cards; default 12345678). A windows-vsc card has none.
    #[arg(long, value_parser = parse_pin)]
    pub puk: Option<PinArg>,
    /// Management key (PIV) or administrator key (GIDS), hex: 24 bytes 3DES, or AES (default
    /// 010203040506070801020304050607080102030405060708, as 3DES; as AES-192 on a yubikey
    /// card).
    #[arg(long, value_name = "HEX", value_parser = HexKeyParser)]
    pub admin_key: Option<HexKey>,
    /// The 24-byte administrator key is AES-192, not 3DES.
    #[arg(long, requires = "admin_key")]
    pub admin_key_aes: bool,
    /// Serial number (random by default).
    #[arg(long)]
    pub serial: Option<u32>,
    /// Derive all randomness from this seed: reproducible, predictable keys. Tests only.
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub backend: BackendArg,
    /// Overwrite an existing image.
    #[arg(long)]
    pub force: bool,
    /// windows-vsc only: a blank GIDS card (no file system, PIN or administrator key), to
    /// be initialized by a client such as `gids-tool -X`.
    #[arg(long)]
    pub blank: bool,
    /// Print JSON (image, profile, serial, ATR, encrypted) instead of text.
    #[arg(long)]
    pub json: bool,
    /// A passphrase given here (or by the environment) encrypts the image at rest:
    /// Argon2id, then XChaCha20-Poly1305. Every command that opens the image needs it.
    #[command(flatten)]
    pub passphrase: PassphraseArg,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse()
}

/// Creates the card.
///
/// # Errors
/// The image exists (without `--force`), an option is rejected, the file cannot be
/// written.
pub fn run(args: Args) -> Result<(), CliError> {
    let path = &args.image;
    if path.is_dir() {
        return Err(CliError::new(format!("{}: is a directory", path.display())));
    }
    if let Some(parent) = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty() && !p.is_dir())
    {
        return Err(CliError::new(format!(
            "{}: no such folder",
            parent.display()
        )));
    }
    if path.exists() && !args.force {
        return Err(CliError::new(format!(
            "{}: already exists; pass --force to overwrite it (its keys would be lost)",
            path.display()
        )));
    }
    // Replacing an image another process serves would pull its card from under it.
    let _lock = if path.exists() {
        Some(
            softcard_file::image_lock::ImageLock::acquire(path)
                .map_err(|e| crate::common::lock_error(path, &e))?,
        )
    } else {
        None
    };
    if args.blank && args.profile != Profile::WindowsVsc {
        return Err(CliError::usage(format!(
            "--blank: only a windows-vsc card can be blank, not a {} card",
            args.profile
        )));
    }
    if args.blank && (args.pin.is_some() || args.puk.is_some() || args.admin_key.is_some()) {
        return Err(CliError::usage(
            "--blank: a blank card has no PIN, PUK or administrator key; the client that initializes it sets them",
        ));
    }
    if args.puk.is_some() && args.profile == Profile::WindowsVsc {
        return Err(CliError::usage(
            "--puk: a windows-vsc card has no PUK; its PIN is unblocked with the \
             administrator key (--admin-key)",
        ));
    }
    let mut opts = CardOptions::new(args.profile);
    opts.blank = args.blank;
    opts.pin = args.pin.map(PinArg::into_secret);
    opts.puk = args.puk.map(PinArg::into_secret);
    opts.admin_key = args.admin_key.map(HexKey::into_secret);
    opts.admin_key_aes = args.admin_key_aes;
    opts.serial = args.serial;
    opts.backend = args.backend.kind();
    let storage = Box::new(match args.passphrase.resolve()? {
        Some(passphrase) => FileStorage::sealed(
            path,
            SealKey::new(&passphrase, KdfParams::DEFAULT)
                .map_err(|e| CliError::new(format!("cannot encrypt the card image: {e}")))?,
        ),
        None => FileStorage::new(path),
    });
    let encrypted = storage.is_sealed();
    let card = match args.seed {
        Some(seed) => {
            eprintln!(
                "softcard: warning: --seed {seed}: this card's keys are predictable from the seed; use it for tests only"
            );
            Card::create_seeded(&opts, seed, storage)
        }
        None => {
            let rng = softcard_file::os_rng().map_err(CliError::new)?;
            Card::create(&opts, Box::new(rng), storage)
        }
    }
    .map_err(|e| match e {
        // The storage's I/O error names the path and the cause.
        softcard::Error::Storage(_) => CliError::new(e.to_string()),
        softcard::Error::InvalidOption(sw) => {
            CliError::new(format!("cannot create the card: {e}")).with_status(Some(sw.sw()))
        }
        other => CliError::new(format!("cannot create the card: {other}")),
    })?;
    if args.json {
        return print_json(&serde_json::json!({
            "image": path.display().to_string(),
            "profile": card.profile().name(),
            "serial": card.serial(),
            "atr": hex(card.atr()),
            "backend": card.backend().name(),
            "blank": args.blank,
            "encrypted": encrypted,
        }));
    }
    outln!(
        "created {} card, serial {}, in {}{}",
        card.profile(),
        card.serial(),
        path.display(),
        if encrypted { " (encrypted)" } else { "" }
    );
    Ok(())
}
