//! `softcard sign`: a signature by a container's key over a file's hash, as
//! `openssl dgst -verify` checks it.

use std::path::PathBuf;

use softcard_enroll::SignatureAlgorithm;

use super::enroll::{HashChoice, check_out_dir, connect, fail, write_out};
use crate::common::{CliError, OpenArgs, PinArg, hex, parse_pin, print_json};

/// Arguments of `softcard sign`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The card image file.
    pub image: PathBuf,
    /// The container.
    #[arg(long)]
    pub container: String,
    /// The user PIN.
    #[arg(long, value_parser = parse_pin, default_value = "12345678")]
    pub pin: PinArg,
    /// The hash.
    #[arg(long, value_enum, default_value = "sha256")]
    pub hash: HashChoice,
    /// The file to sign.
    #[arg(long = "in")]
    pub input: PathBuf,
    /// Where to write the signature (PKCS#1 v1.5 for RSA, DER ECDSA for P-256).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub open: OpenArgs,
    /// Print JSON (container, algorithm, hash, signature file and hex) instead of nothing.
    #[arg(long)]
    pub json: bool,
}

/// Signs.
///
/// # Errors
/// Unreadable input, bad output folder, wrong PIN, unknown container.
pub fn run(args: Args) -> Result<(), CliError> {
    check_out_dir(&args.out)?;
    let message = std::fs::read(&args.input)
        .map_err(|e| CliError::new(format!("cannot read {}: {e}", args.input.display())))?;
    let mut client = connect(&args.image, &args.open)?;
    let container = client.container(&args.container).map_err(fail)?;
    // Refused before the PIN is verified (which writes the image): a refused command
    // changes nothing.
    let algorithm = match SignatureAlgorithm::for_key(&container.public_key, args.hash.hash()) {
        Ok(SignatureAlgorithm::RsaPkcs1(_)) => "RsaPkcs1",
        Ok(SignatureAlgorithm::Ecdsa(_)) => "Ecdsa",
        Err(e) => return Err(fail(e)),
    };
    client.verify_pin(args.pin.bytes()).map_err(fail)?;
    let signature = client
        .sign(&container, &message, args.hash.hash())
        .map_err(fail)?;
    write_out(&args.out, &signature)?;
    if !args.json {
        return Ok(());
    }
    print_json(&serde_json::json!({
        "container": container.name,
        "application": client.application().name(),
        "key": format!("{:?}", container.algorithm),
        "algorithm": algorithm,
        "hash": format!("{:?}", args.hash.hash()),
        "in": args.input.display().to_string(),
        "out": args.out.display().to_string(),
        "signature": hex(&signature),
    }))
}
