//! `softcard cert import|export|list`: certificates of a card's key containers.

use std::path::PathBuf;

use softcard::crypto::{BackendKind, HashAlg};
use softcard_enroll::{Certificate, parse_certificates, select_for_key};

use super::enroll::{check_out_dir, connect, fail, write_out};
use crate::common::{CliError, HexKey, hex, parse_backend, parse_hex_key, print_json};

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
        #[arg(long, default_value = "12345678")]
        pin: String,
        /// PIV management key in hex (the default key when not given).
        #[arg(long, value_name = "HEX", value_parser = parse_hex_key)]
        management_key: Option<HexKey>,
        /// Crypto backend to load the card's keys into.
        #[arg(long, value_parser = parse_backend, default_value = "rustcrypto")]
        backend: BackendKind,
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
        /// Crypto backend to load the card's keys into.
        #[arg(long, value_parser = parse_backend, default_value = "rustcrypto")]
        backend: BackendKind,
    },
    /// List the key containers and whether they hold a certificate.
    List {
        /// The card image file.
        image: PathBuf,
        /// Crypto backend to load the card's keys into.
        #[arg(long, value_parser = parse_backend, default_value = "rustcrypto")]
        backend: BackendKind,
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
            backend,
        } => {
            let input = std::fs::read(&file)
                .map_err(|e| CliError::new(format!("cannot read {}: {e}", file.display())))?;
            let mut client = connect(&image, backend)?;
            let target = client.container(&container).map_err(fail)?;
            // Checked before the PIN is presented, so a refused file leaves the card as it was.
            let certs = parse_certificates(&input).map_err(fail)?;
            select_for_key(&certs, &target.public_key).map_err(fail)?;
            if let Some(key) = &management_key {
                client.set_management_key(key.bytes());
            }
            client.verify_pin(pin.as_bytes()).map_err(fail)?;
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
            println!("installed in container {}", target.name);
            Ok(())
        }
        CertCommand::Export {
            image,
            container,
            out,
            backend,
        } => {
            if let Some(out) = &out {
                check_out_dir(out)?;
            }
            let mut client = connect(&image, backend)?;
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
                print!("{}", cert.to_pem());
            }
            Ok(())
        }
        CertCommand::List { image, backend } => {
            let mut client = connect(&image, backend)?;
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
                println!("no key container");
            }
            for c in all {
                println!(
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
    fields["subject"] = subject_string(cert.subject_der()).into();
    fields["sha256"] = hex(&HashAlg::Sha256.digest(cert.der())).into();
    fields
}

/// A DER `Name` as an RFC 4514 string, most specific RDN first (`CN=Jane Doe,O=Example`),
/// as `softcard enroll --subject` takes it; `None` if it does not decode.
fn subject_string(name: &[u8]) -> Option<String> {
    use softcard::tlv;
    let (seq, _) = tlv::parse_one(name).ok()?;
    let mut rdns = Vec::new();
    for rdn in tlv::iter(seq.value) {
        let mut atvs = Vec::new();
        for atv in tlv::iter(rdn.ok()?.value) {
            let (oid, value_tlv) = tlv::parse_one(atv.ok()?.value).ok()?;
            let (value, _) = tlv::parse_one(value_tlv).ok()?;
            let text = match value.tag {
                // UTF8String, PrintableString, TeletexString, IA5String.
                0x0C | 0x13 | 0x14 | 0x16 => escape(std::str::from_utf8(value.value).ok()?),
                // BMPString.
                0x1E => escape(&utf16_be(value.value)?),
                // Other string types: the DER in hex (RFC 4514 section 2.4).
                _ => format!("#{}", hex(value_tlv)),
            };
            atvs.push(format!("{}={text}", attribute_name(oid.value)));
        }
        rdns.push(atvs.join("+"));
    }
    rdns.reverse();
    Some(rdns.join(","))
}

/// Big-endian UTF-16 (a BMPString's content).
fn utf16_be(bytes: &[u8]) -> Option<String> {
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16(&units).ok()
}

/// The short name of an attribute type given by its OID's content octets (the ones
/// `softcard enroll --subject` takes), or its dotted form.
fn attribute_name(oid: &[u8]) -> String {
    const NAMES: &[(&[u8], &str)] = &[
        (&[0x55, 0x04, 0x03], "CN"),
        (&[0x55, 0x04, 0x04], "SN"),
        (&[0x55, 0x04, 0x05], "SERIALNUMBER"),
        (&[0x55, 0x04, 0x06], "C"),
        (&[0x55, 0x04, 0x07], "L"),
        (&[0x55, 0x04, 0x08], "ST"),
        (&[0x55, 0x04, 0x09], "STREET"),
        (&[0x55, 0x04, 0x0A], "O"),
        (&[0x55, 0x04, 0x0B], "OU"),
        (&[0x55, 0x04, 0x0C], "T"),
        (&[0x55, 0x04, 0x2A], "G"),
        (&[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01], "E"),
        (
            &[0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x19],
            "DC",
        ),
        (
            &[0x09, 0x92, 0x26, 0x89, 0x93, 0xF2, 0x2C, 0x64, 0x01, 0x01],
            "UID",
        ),
    ];
    if let Some((_, name)) = NAMES.iter().find(|(der, _)| *der == oid) {
        return (*name).to_owned();
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut arc: u64 = 0;
    for b in oid {
        arc = (arc << 7) | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (arc / 40).min(2);
                arcs.extend([first, arc - first * 40]);
            } else {
                arcs.push(arc);
            }
            arc = 0;
        }
    }
    let dotted: Vec<String> = arcs.iter().map(u64::to_string).collect();
    dotted.join(".")
}

/// An attribute value escaped as RFC 4514 section 2.4 asks.
fn escape(value: &str) -> String {
    let last = value.chars().count().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => out.push('\\'),
            '#' if i == 0 => out.push('\\'),
            ' ' if i == 0 || i == last => out.push('\\'),
            '\0' => {
                out.push_str("\\00");
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_read_as_rfc_4514() {
        // C=US (PrintableString), O="Example, Inc" (UTF8String), then one RDN of
        // CN=" J+Doe#" and an attribute 1.2.3 whose value is an INTEGER, not a string.
        let c = [
            0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'U', b'S',
        ];
        let o = [
            &[0x30, 0x13, 0x06, 0x03, 0x55, 0x04, 0x0A, 0x0C, 0x0C][..],
            b"Example, Inc",
        ]
        .concat();
        let cn = [
            &[0x30, 0x0E, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0C, 0x07][..],
            b" J+Doe#",
        ]
        .concat();
        let odd = [0x30, 0x07, 0x06, 0x02, 0x2A, 0x03, 0x02, 0x01, 0x05];
        let set = |parts: &[&[u8]]| {
            let body = parts.concat();
            [&[0x31, u8::try_from(body.len()).unwrap()][..], &body].concat()
        };
        let rdns = [set(&[&c]), set(&[&o]), set(&[&cn, &odd])].concat();
        let name = [&[0x30, u8::try_from(rdns.len()).unwrap()][..], &rdns].concat();
        assert_eq!(
            subject_string(&name).unwrap(),
            "CN=\\ J\\+Doe#+1.2.3=#020105,O=Example\\, Inc,C=US"
        );
        assert_eq!(subject_string(&[0x30, 0x00]).unwrap(), "");
        assert_eq!(subject_string(&[0x30, 0x05, 0x31]), None);
    }
}
