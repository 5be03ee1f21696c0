//! The `openssl` command line as tests use it to judge what the card made: run in a
//! folder, a self-signed certificate, a certificate's public key, a signature check.

use std::path::Path;
use std::process::{Command, Output};

/// Runs `openssl args...` in `dir`.
///
/// # Panics
/// When `openssl` cannot be started.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl runs")
}

/// `openssl req -x509 -newkey rsa:2048 -nodes -keyout KEY -subj SUBJECT -out OUT EXTRA...`:
/// a new RSA key and its self-signed certificate (PEM) in `dir`.
pub fn self_signed(dir: &Path, key: &str, subject: &str, out: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-subj", subject, "-out",
        out,
    ];
    args.extend_from_slice(extra);
    run(dir, &args)
}

/// `openssl x509 -in CERT -pubkey -noout -out OUT`: the certificate's public key as PEM.
pub fn public_key_of(dir: &Path, cert: &str, out: &str) -> Output {
    run(
        dir,
        &["x509", "-in", cert, "-pubkey", "-noout", "-out", out],
    )
}

/// `openssl dgst -sha256 -verify PUBLIC -signature SIGNATURE MESSAGE` (files in `dir`);
/// OpenSSL says `Verified OK` on its standard output when the signature verifies.
pub fn dgst_verify(dir: &Path, public: &str, signature: &str, message: &str) -> Output {
    run(
        dir,
        &[
            "dgst",
            "-sha256",
            "-verify",
            public,
            "-signature",
            signature,
            message,
        ],
    )
}
