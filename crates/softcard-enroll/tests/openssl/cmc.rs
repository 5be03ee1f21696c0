//! CMC requests: OpenSSL parses them, verifies the CMS signature and the PKCS#10 inside.

use softcard_enroll::{HashAlg, Request, RequestFormat};

use crate::support::{Scratch, SoftP256, SoftRsa, nth_child, path_str};
use crate::{P256, RSA, build, options};

/// Checks a CMC request with OpenSSL: it parses, its CMS signature verifies against a
/// certificate for the same key (found by subjectKeyIdentifier), and the PKCS#10 inside
/// verifies too.
pub(crate) fn check_cmc(dir: &Scratch, cmc: &[u8], csr: &[u8]) {
    let cmc_path = dir.write("cmc.der", cmc);
    let parsed = dir.openssl_ok(&["asn1parse", "-inform", "DER", "-in", path_str(&cmc_path)]);
    assert!(
        parsed.contains("pkcs7-signedData") && parsed.contains("id-cct-PKIData"),
        "{parsed}"
    );

    let printed = dir.openssl_ok(&[
        "cms",
        "-cmsout",
        "-print",
        "-inform",
        "DER",
        "-in",
        path_str(&cmc_path),
    ]);
    assert!(printed.contains("subjectKeyIdentifier"), "{printed}");

    dir.make_ca();
    dir.issue(&dir.write("outer-csr.der", csr), "signer.pem");
    dir.openssl_ok(&[
        "cms",
        "-verify",
        "-noverify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        "cmc.der",
        "-certfile",
        "signer.pem",
        "-out",
        "pkidata.der",
    ]);
    let pki_data = dir.read("pkidata.der");
    // PKIData { controlSequence, reqSequence { [0] { bodyPartID, request } }, ... }
    let tagged = nth_child(nth_child(&pki_data, 1), 0);
    assert_eq!(tagged[0], 0xa0, "TaggedRequest tcr");
    let inner = nth_child(tagged, 1);
    assert_eq!(
        nth_child(inner, 0),
        nth_child(csr, 0),
        "the PKCS#10 inside asks for what the one built alone asks for"
    );
    let inner_path = dir.write("inner.der", inner);
    dir.verified_request(&inner_path, &[]);
}

#[test]
fn rsa_cmc_verifies_with_openssl_cms() {
    let dir = Scratch::new();
    let mut key = SoftRsa::from_pkcs8(&dir.genkey("k.der", RSA));
    let o = options();
    let cmc = build(RequestFormat::Cmc, &o, &mut key);
    let csr = build(RequestFormat::Pkcs10, &o, &mut key);
    check_cmc(&dir, &cmc, &csr);
}

#[test]
fn p256_cmc_verifies_with_openssl_cms() {
    let dir = Scratch::new();
    let mut key = SoftP256::from_pkcs8(&dir.genkey("k.der", P256));
    let mut o = options();
    o.hash = HashAlg::Sha256;
    let cmc = build(RequestFormat::Cmc, &o, &mut key);
    let csr = build(RequestFormat::Pkcs10, &o, &mut key);
    check_cmc(&dir, &cmc, &csr);
}

#[test]
fn a_corrupted_cmc_signature_fails_verification() {
    let dir = Scratch::new();
    let mut key = SoftRsa::from_pkcs8(&dir.genkey("k.der", RSA));
    let o = options();
    let mut cmc = build(RequestFormat::Cmc, &o, &mut key);
    let csr = dir.write("csr.der", &build(RequestFormat::Pkcs10, &o, &mut key));
    dir.make_ca();
    dir.issue(&csr, "signer.pem");
    let verify = |dir: &Scratch| {
        dir.openssl(&[
            "cms",
            "-verify",
            "-noverify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "cmc.der",
            "-certfile",
            "signer.pem",
            "-out",
            "pkidata.der",
        ])
    };
    dir.write("cmc.der", &cmc);
    assert!(verify(&dir).status.success(), "the intact request verifies");
    let last = cmc.len() - 1; // the SignerInfo signature ends the message
    cmc[last] ^= 0x01;
    dir.write("cmc.der", &cmc);
    assert!(
        !verify(&dir).status.success(),
        "a flipped signature bit must fail"
    );
}

#[test]
fn cmc_pem_is_read_by_openssl_cms() {
    let dir = Scratch::new();
    let mut key = SoftRsa::from_pkcs8(&dir.genkey("k.der", RSA));
    let request = Request::build(RequestFormat::Cmc, &options(), &mut key).unwrap();
    let pem = request.to_pem();
    assert!(pem.starts_with("-----BEGIN CMS-----\n"), "{pem}");
    let path = dir.write("cmc.pem", pem.as_bytes());
    dir.openssl_ok(&[
        "cms",
        "-cmsout",
        "-inform",
        "PEM",
        "-in",
        path_str(&path),
        "-outform",
        "DER",
        "-out",
        "back.der",
    ]);
    assert_eq!(dir.read("back.der"), request.der);
    let csr = Request::build(RequestFormat::Pkcs10, &options(), &mut key).unwrap();
    let path = dir.write("csr.pem", csr.to_pem().as_bytes());
    dir.openssl_ok(&["req", "-in", path_str(&path), "-verify", "-noout"]);
    assert_eq!(
        request.friendly_name.as_deref(),
        Some("Smartcard Certificate")
    );
}
