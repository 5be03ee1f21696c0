//! Requests checked by OpenSSL: signatures verify, contents are what was asked for, a CA
//! issues from them, and the issued certificate is found again for the key.

mod cmc;
mod golden;
mod install;
mod pkcs10;
mod signers;
mod support;

use softcard_enroll::{Request, RequestFormat, RequestOptions, RequestSigner};

/// `openssl genpkey` arguments for an RSA-2048 key.
pub(crate) const RSA: &[&str] = &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
/// `openssl genpkey` arguments for a P-256 key.
pub(crate) const P256: &[&str] = &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
/// `openssl genpkey` arguments for a P-384 key.
pub(crate) const P384: &[&str] = &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"];

/// The seed's request for Jane Doe, with a UPN and an e-mail address.
pub(crate) fn options() -> RequestOptions {
    let mut o = RequestOptions::smartcard_user("CN=Jane Doe,O=Example,C=US");
    o.upn = Some("jane.doe@corp.example".into());
    o.email = Some("jane@example.com".into());
    o
}

/// The DER of a request built with `signer`.
pub(crate) fn build(
    format: RequestFormat,
    options: &RequestOptions,
    signer: &mut dyn RequestSigner,
) -> Vec<u8> {
    Request::build(format, options, signer)
        .expect("request builds")
        .der
}
