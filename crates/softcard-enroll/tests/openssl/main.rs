//! Requests checked by OpenSSL: signatures verify, contents are what was asked for, a CA
//! issues from them, and the issued certificate is found again for the key.

mod cmc;
mod golden;
mod install;
mod pkcs10;
mod signers;
mod support;

use softcard_enroll::{Request, RequestFormat, RequestOptions, RequestSigner, TemplateOid};

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

/// [`options`] with an empty subject and a version 2 template named by its OID (major
/// version 100, minor 3) instead of the template name and the CSP.
pub(crate) fn template_oid_options() -> RequestOptions {
    let mut o = options();
    o.subject = String::new();
    o.template = None;
    o.template_oid = Some(TemplateOid {
        oid: "1.3.6.1.4.1.311.21.8.1234567.7654321.42".parse().unwrap(),
        major_version: 100,
        minor_version: 3,
    });
    o.csp = None;
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
