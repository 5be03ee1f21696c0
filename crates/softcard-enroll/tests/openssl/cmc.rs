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

/// An enrollment agent's CMC request for another user: OpenSSL verifies the CMS signature
/// with the agent's certificate carried inside (chained to the CA that issued it), the
/// PKIData names the user in a `RequesterName` pair, and the PKCS#10 inside is signed by
/// the user's key. A flipped signature bit, or an agent certificate of another key, fail.
#[test]
fn cmc_on_behalf_of_is_signed_by_the_agent_with_its_certificate_inside() {
    let dir = Scratch::new();
    let mut user = SoftRsa::from_pkcs8(&dir.genkey("user.der", RSA));
    let mut agent = SoftRsa::from_pkcs8(&dir.genkey("agent.der", RSA));
    dir.make_ca();
    let mut agent_options = options();
    agent_options.template = Some("EnrollmentAgent".into());
    let agent_csr = build(RequestFormat::Pkcs10, &agent_options, &mut agent);
    dir.issue(&dir.write("agent-csr.der", &agent_csr), "agent.pem");
    dir.openssl_ok(&[
        "x509",
        "-in",
        "agent.pem",
        "-outform",
        "DER",
        "-out",
        "agent-cert.der",
    ]);
    let agent_cert = dir.read("agent-cert.der");

    let o = options();
    let cmc = Request::build_on_behalf_of(&o, "EXAMPLE\\jane", &mut user, &agent_cert, &mut agent)
        .expect("builds")
        .der;
    let cmc_path = dir.write("obo.der", &cmc);
    let printed = dir.openssl_ok(&[
        "cms", "-cmsout", "-print", "-inform", "DER", "-in", "obo.der",
    ]);
    assert!(printed.contains("d.issuerAndSerialNumber:"), "{printed}");
    assert!(printed.contains("CN=Test CA"), "{printed}");
    let verify = |input: &str| {
        dir.openssl(&[
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            input,
            "-CAfile",
            "ca.pem",
            "-purpose",
            "any",
            "-out",
            "obo-pkidata.der",
        ])
    };
    let out = verify(path_str(&cmc_path));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pki_data = dir.read("obo-pkidata.der");
    let bmp = |s: &str| {
        s.encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect::<Vec<u8>>()
    };
    for pair in [
        bmp("RequesterName"),
        bmp("EXAMPLE\\jane"),
        bmp("SmartcardUser"),
    ] {
        assert!(
            pki_data.windows(pair.len()).any(|w| w == pair),
            "the add-attributes control holds each pair"
        );
    }
    let tagged = nth_child(nth_child(&pki_data, 1), 0);
    let inner_path = dir.write("obo-inner.der", nth_child(tagged, 1));
    let user_pub = dir.openssl_ok(&["pkey", "-in", "user.der.pem", "-pubout"]);
    let req_pub = dir.openssl_ok(&[
        "req",
        "-in",
        path_str(&inner_path),
        "-inform",
        "DER",
        "-pubkey",
        "-noout",
    ]);
    assert_eq!(req_pub, user_pub, "the PKCS#10 asks for the user's key");
    dir.verified_request(&inner_path, &[]);

    let mut tampered = cmc.clone();
    *tampered.last_mut().unwrap() ^= 1;
    let tampered_path = dir.write("obo-bad.der", &tampered);
    assert!(!verify(path_str(&tampered_path)).status.success());

    let mut other = SoftRsa::from_pkcs8(&dir.genkey("other.der", RSA));
    let err = Request::build_on_behalf_of(&o, "EXAMPLE\\jane", &mut user, &agent_cert, &mut other)
        .unwrap_err();
    assert!(err.to_string().contains("does not certify"), "{err}");
}
