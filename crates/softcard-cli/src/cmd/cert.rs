//! `softcard cert import|export|list`: certificates of a card's key containers.

use std::path::PathBuf;

use softcard::crypto::HashAlg;
use softcard_enroll::{Certificate, parse_certificates, select_for_key};

use super::enroll::{check_out_dir, connect, fail, write_out};
use crate::common::{CliError, HexKey, HexKeyParser, OpenArgs, PinArg, hex, parse_pin, print_json};

/// Arguments of `softcard cert`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: CertCommand,
    /// Print JSON instead of text (import, export: the container and the certificate's
    /// subject and SHA-256 fingerprint; export: its PEM too).
    #[arg(long, global = true)]
    pub json: bool,
}

/// The `cert` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum CertCommand {
    /// Install a certificate (DER, PEM or PKCS#7) into the container of its key.
    Import {
        /// The card image file.
        image: PathBuf,
        /// The container.
        #[arg(long)]
        container: String,
        /// The certificate file.
        file: PathBuf,
        /// The user PIN.
        #[arg(long, value_parser = parse_pin, default_value = "12345678")]
        pin: PinArg,
        /// PIV management key in hex (the default key when not given).
        #[arg(long, value_name = "HEX", value_parser = HexKeyParser)]
        management_key: Option<HexKey>,
        #[command(flatten)]
        open: OpenArgs,
    },
    /// Write a container's certificate as PEM (with --json, in the JSON when no --out).
    Export {
        /// The card image file.
        image: PathBuf,
        /// The container.
        #[arg(long)]
        container: String,
        /// The output file (standard output when not given).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        open: OpenArgs,
    },
    /// List the key containers and whether they hold a certificate.
    List {
        /// The card image file.
        image: PathBuf,
        #[command(flatten)]
        open: OpenArgs,
    },
}

/// Runs the subcommand.
///
/// # Errors
/// Image, container or certificate problems; a certificate for another key is refused
/// before anything is written.
pub fn run(args: Args) -> Result<(), CliError> {
    match args.command {
        CertCommand::Import {
            image,
            container,
            file,
            pin,
            management_key,
            open,
        } => {
            let input = std::fs::read(&file)
                .map_err(|e| CliError::new(format!("cannot read {}: {e}", file.display())))?;
            let mut client = connect(&image, &open)?;
            let target = client.container(&container).map_err(fail)?;
            // Checked before the PIN is presented, so a refused file leaves the card as it was.
            let certs = parse_certificates(&input).map_err(fail)?;
            select_for_key(&certs, &target.public_key).map_err(fail)?;
            if let Some(key) = &management_key {
                client.set_management_key(key.bytes());
            }
            client.verify_pin(pin.bytes()).map_err(fail)?;
            let cert = client.install_certificate(&target, &input).map_err(fail)?;
            if args.json {
                return print_json(&with_certificate(
                    serde_json::json!({
                        "container": target.name,
                        "file": file.display().to_string(),
                    }),
                    &cert,
                ));
            }
            outln!("installed in container {}", target.name);
            Ok(())
        }
        CertCommand::Export {
            image,
            container,
            out,
            open,
        } => {
            if let Some(out) = &out {
                check_out_dir(out)?;
            }
            let mut client = connect(&image, &open)?;
            let target = client.container(&container).map_err(fail)?;
            let cert = client
                .read_certificate(&target)
                .map_err(fail)?
                .ok_or_else(|| {
                    CliError::new(format!("container {container} has no certificate"))
                })?;
            if let Some(out) = &out {
                write_out(out, cert.to_pem().as_bytes())?;
            }
            if args.json {
                return print_json(&with_certificate(
                    serde_json::json!({
                        "container": target.name,
                        "out": out.map(|o| o.display().to_string()),
                        "pem": cert.to_pem(),
                    }),
                    &cert,
                ));
            }
            if out.is_none() {
                out!("{}", cert.to_pem());
            }
            Ok(())
        }
        CertCommand::List { image, open } => {
            let mut client = connect(&image, &open)?;
            let all = client.containers().map_err(fail)?;
            if args.json {
                let list: Vec<_> = all
                    .iter()
                    .map(|c| {
                        serde_json::json!({
                            "container": c.name,
                            "keyspec": format!("{:?}", c.key_spec),
                            "key": format!("{:?}", c.algorithm),
                            "certificate": c.has_certificate,
                        })
                    })
                    .collect();
                return print_json(&serde_json::json!({
                    "application": client.application().name(),
                    "containers": list,
                }));
            }
            if all.is_empty() {
                outln!("no key container");
            }
            for c in all {
                outln!(
                    "{}  {:?}  {:?}  certificate: {}",
                    c.name,
                    c.key_spec,
                    c.algorithm,
                    if c.has_certificate { "yes" } else { "no" }
                );
            }
            Ok(())
        }
    }
}

/// `fields` with the certificate's `subject` (RFC 4514 string) and `sha256` fingerprint
/// (hex of the DER) added.
fn with_certificate(mut fields: serde_json::Value, cert: &Certificate) -> serde_json::Value {
    fields["subject"] = cert.subject().into();
    fields["sha256"] = hex(&HashAlg::Sha256.digest(cert.der())).into();
    fields
}
