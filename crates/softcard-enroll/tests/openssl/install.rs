//! Installation: the issued certificate is found in what the CA returns.

use softcard_enroll::{
    EnrollError, RequestFormat, RequestSigner, parse_certificates, select_for_key,
};

use crate::support::{Scratch, SoftRsa};
use crate::{RSA, build, options};

#[test]
fn the_issued_certificate_is_found_in_der_pem_and_pkcs7() {
    let dir = Scratch::new();
    let mut key = SoftRsa::from_pkcs8(&dir.genkey("k.der", RSA));
    let csr = dir.write(
        "csr.der",
        &build(RequestFormat::Pkcs10, &options(), &mut key),
    );
    dir.make_ca();
    dir.issue(&csr, "issued.pem");
    dir.openssl_ok(&[
        "x509",
        "-in",
        "issued.pem",
        "-outform",
        "DER",
        "-out",
        "issued.der",
    ]);
    dir.openssl_ok(&[
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        "ca.pem",
        "-certfile",
        "issued.pem",
        "-outform",
        "DER",
        "-out",
        "chain.p7b",
    ]);
    dir.openssl_ok(&[
        "crl2pkcs7",
        "-nocrl",
        "-certfile",
        "ca.pem",
        "-certfile",
        "issued.pem",
        "-out",
        "chain.p7b.pem",
    ]);
    let issued_der = dir.read("issued.der");
    let bundle = [dir.read("ca.pem"), dir.read("issued.pem")].concat();

    for (what, input, count) in [
        ("DER", issued_der.clone(), 1),
        ("PEM", dir.read("issued.pem"), 1),
        ("PEM bundle", bundle, 2),
        ("PKCS#7 DER", dir.read("chain.p7b"), 2),
        ("PKCS#7 PEM", dir.read("chain.p7b.pem"), 2),
    ] {
        let certs = parse_certificates(&input).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(certs.len(), count, "{what}");
        let chosen =
            select_for_key(&certs, key.public_key()).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(chosen.der(), issued_der, "{what}");
    }

    let other = SoftRsa::from_pkcs8(&dir.genkey("other.der", RSA));
    let certs = parse_certificates(&dir.read("chain.p7b")).unwrap();
    match select_for_key(&certs, other.public_key()) {
        Err(EnrollError::NoMatchingCertificate { candidates: 2 }) => {}
        other => panic!("expected NoMatchingCertificate, got {other:?}"),
    }
}

#[test]
fn garbage_is_not_a_certificate() {
    assert!(matches!(
        parse_certificates(b"\x30\x03\x02\x01"),
        Err(EnrollError::Malformed(_))
    ));
    assert!(matches!(
        parse_certificates(b"-----BEGIN X-----\nAAAA\n-----END X-----\n"),
        Err(EnrollError::NoCertificate)
    ));
}
