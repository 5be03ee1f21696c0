//! The host side of the client tests, done by the `openssl` command: certificates for
//! keys generated on the card, signature verification, encryption to a card's key.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::clients::Output;

/// Runs `openssl ARGS` in `dir`.
///
/// # Panics
/// If openssl cannot be started.
pub fn run(dir: &Path, args: &[&str]) -> Output {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    Output {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A certificate `CN=<cn>` for the public key in `public_pem` (a key that lives on the
/// card), issued by a throw-away P-256 CA kept in `dir`. Returns the PEM file's path.
///
/// # Panics
/// If openssl fails.
pub fn certificate_for(dir: &Path, public_pem: &Path, cn: &str) -> PathBuf {
    let ca = dir.join("ca.key");
    if !ca.exists() {
        run(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                path_str(&ca),
            ],
        )
        .ok("openssl genpkey");
    }
    let out = dir.join(format!("{cn}.crt.pem"));
    run(
        dir,
        &[
            "x509",
            "-new",
            "-subj",
            &format!("/CN={cn}"),
            "-key",
            path_str(&ca),
            "-force_pubkey",
            path_str(public_pem),
            "-days",
            "30",
            "-out",
            path_str(&out),
        ],
    )
    .ok("openssl x509 -new");
    out
}

/// The public key (PEM) of a certificate in PEM.
///
/// # Panics
/// If openssl fails.
pub fn public_key_of(dir: &Path, cert_pem: &Path) -> String {
    run(
        dir,
        &["x509", "-in", path_str(cert_pem), "-noout", "-pubkey"],
    )
    .ok("openssl x509 -pubkey")
    .stdout
}

/// Whether `signature` over `data` verifies with `public_pem` as SHA-256 with the key's
/// scheme (PKCS#1 v1.5 for RSA, DER ECDSA for EC).
pub fn verify_sha256(dir: &Path, public_pem: &Path, data: &Path, signature: &Path) -> bool {
    run(
        dir,
        &[
            "dgst",
            "-sha256",
            "-verify",
            path_str(public_pem),
            "-signature",
            path_str(signature),
            path_str(data),
        ],
    )
    .stdout
    .contains("Verified OK")
}

/// Whether `signature` verifies over the given input as is (`pkeyutl -verify`): for RSA a
/// PKCS#1 v1.5 signature of `input` without DigestInfo, for EC a DER ECDSA signature of
/// the digest `input`.
pub fn verify_raw(dir: &Path, public_pem: &Path, input: &Path, signature: &Path) -> bool {
    run(
        dir,
        &[
            "pkeyutl",
            "-verify",
            "-pubin",
            "-inkey",
            path_str(public_pem),
            "-in",
            path_str(input),
            "-sigfile",
            path_str(signature),
        ],
    )
    .stdout
    .contains("Signature Verified Successfully")
}

/// Encrypts `plain` to the RSA key in `public_pem` (PKCS#1 v1.5) into `cipher`.
///
/// # Panics
/// If openssl fails.
pub fn encrypt_rsa(dir: &Path, public_pem: &Path, plain: &Path, cipher: &Path) {
    run(
        dir,
        &[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            path_str(public_pem),
            "-in",
            path_str(plain),
            "-out",
            path_str(cipher),
        ],
    )
    .ok("openssl pkeyutl -encrypt");
}

/// An ECDSA signature `r ‖ s` (two equal halves, as PKCS#11 returns it) in DER
/// (`SEQUENCE { INTEGER r, INTEGER s }`), as openssl verifies it. Short forms only:
/// enough for P-256 and P-384.
pub fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut body = Vec::new();
    for half in [r, s] {
        let start = half.iter().position(|&b| b != 0).unwrap_or(half.len());
        let mut int = half[start..].to_vec();
        if int.first().is_none_or(|&b| b & 0x80 != 0) {
            int.insert(0, 0);
        }
        body.push(0x02);
        body.push(u8::try_from(int.len()).expect("short INTEGER"));
        body.extend_from_slice(&int);
    }
    let mut der = vec![0x30, u8::try_from(body.len()).expect("short SEQUENCE")];
    der.extend_from_slice(&body);
    der
}

/// A path as `&str` (the tests' temporary paths are UTF-8).
///
/// # Panics
/// If it is not UTF-8.
pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}
