//! PKCS#10 requests: OpenSSL verifies them and finds what was asked for.

use softcard_enroll::{EnrollError, HashAlg, KeySigner, KeySpec, Request, RequestFormat};

use crate::support::{Scratch, SoftP256, SoftRsa, path_str};
use crate::{P256, P384, RSA, build, options, template_oid_options};

#[test]
fn rsa_pkcs10_verifies_and_carries_the_smartcard_user_contents() {
    let dir = Scratch::new();
    let mut key = SoftRsa::from_pkcs8(&dir.genkey("k.der", RSA));
    let csr = dir.write(
        "req.der",
        &build(RequestFormat::Pkcs10, &options(), &mut key),
    );

    let text = dir.verified_request(&csr, &["-text"]);
    for expected in [
        "C = US, O = Example, CN = Jane Doe",
        "sha1WithRSAEncryption",
        "Public-Key: (2048 bit)",
        "Digital Signature, Key Encipherment",
        "TLS Web Client Authentication",
        "E-mail Protection",
        "Microsoft Smartcard Login",
        "jane.doe@corp.example",
        "email:jane@example.com",
        "1.3.6.1.4.1.311.20.2:",
        "1.3.6.1.4.1.311.13.2.1 ",
        "1.3.6.1.4.1.311.13.2.2 ",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    let der = dir.read("req.der");
    let bmp = |s: &str| {
        s.encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect::<Vec<u8>>()
    };
    for s in [
        "SmartcardUser",
        "Microsoft Base Smart Card Crypto Provider",
        "CertificateTemplate",
    ] {
        assert!(
            der.windows(2 * s.len()).any(|w| w == bmp(s)),
            "{s} not in the request"
        );
    }
}

#[test]
fn rsa_pkcs10_verifies_with_each_hash() {
    let dir = Scratch::new();
    let mut key = SoftRsa::from_pkcs8(&dir.genkey("k.der", RSA));
    for (hash, name) in [
        (HashAlg::Sha256, "sha256WithRSAEncryption"),
        (HashAlg::Sha384, "sha384WithRSAEncryption"),
    ] {
        let mut o = options();
        o.hash = hash;
        let csr = dir.write("req.der", &build(RequestFormat::Pkcs10, &o, &mut key));
        let text = dir.verified_request(&csr, &["-text"]);
        assert!(text.contains(name), "{name} not in\n{text}");
    }
}

#[test]
fn p256_pkcs10_verifies() {
    let dir = Scratch::new();
    let mut key = SoftP256::from_pkcs8(&dir.genkey("k.der", P256));
    let mut o = options();
    o.hash = HashAlg::Sha256;
    o.key_spec = KeySpec::Signature;
    let csr = dir.write("req.der", &build(RequestFormat::Pkcs10, &o, &mut key));
    let text = dir.verified_request(&csr, &["-text"]);
    for expected in [
        "ecdsa-with-SHA256",
        "NIST CURVE: P-256",
        "Digital Signature\n",
        "Microsoft Smartcard Login",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

/// A P-384 key made by OpenSSL, loaded as a softcard key (the 48-byte scalar): requests
/// carry its secp384r1 SPKI and the ECDSA algorithm of each hash.
#[test]
fn p384_pkcs10_verifies_with_each_hash() {
    use p384::pkcs8::DecodePrivateKey as _;
    use rand_core::SeedableRng as _;
    use softcard::crypto::{BackendKind, KeyMaterial, PrivateKey};
    let dir = Scratch::new();
    let secret = p384::SecretKey::from_pkcs8_der(&dir.genkey("k.der", P384)).unwrap();
    let d = secret.to_bytes().to_vec();
    let key = PrivateKey::from_material(BackendKind::RustCrypto, KeyMaterial::P384 { d }).unwrap();
    let mut signer = KeySigner::new(&key, rand_chacha::ChaCha20Rng::seed_from_u64(3));
    for (hash, name) in [
        (HashAlg::Sha1, "ecdsa-with-SHA1"),
        (HashAlg::Sha256, "ecdsa-with-SHA256"),
        (HashAlg::Sha384, "ecdsa-with-SHA384"),
    ] {
        let mut o = options();
        o.hash = hash;
        o.key_spec = KeySpec::Exchange;
        let csr = dir.write("req.der", &build(RequestFormat::Pkcs10, &o, &mut signer));
        let text = dir.verified_request(&csr, &["-text"]);
        for expected in [
            name,
            "ASN1 OID: secp384r1",
            "NIST CURVE: P-384",
            "Key Agreement",
            "Microsoft Smartcard Login",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
        // The same key OpenSSL made.
        let spki = dir.openssl_ok(&["pkey", "-in", "k.der.pem", "-pubout"]);
        let req_key = dir.openssl_ok(&[
            "req",
            "-in",
            path_str(&csr),
            "-inform",
            "DER",
            "-pubkey",
            "-noout",
        ]);
        assert_eq!(spki, req_key);
    }
}

#[test]
fn a_corrupted_pkcs10_signature_fails_verification() {
    let dir = Scratch::new();
    let mut key = SoftRsa::from_pkcs8(&dir.genkey("k.der", RSA));
    let mut der = build(RequestFormat::Pkcs10, &options(), &mut key);
    let good = dir.write("good.der", &der);
    dir.openssl_ok(&[
        "req",
        "-in",
        path_str(&good),
        "-inform",
        "DER",
        "-verify",
        "-noout",
    ]);
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let bad = dir.write("bad.der", &der);
    let out = dir.openssl(&[
        "req",
        "-in",
        path_str(&bad),
        "-inform",
        "DER",
        "-verify",
        "-noout",
    ]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !out.status.success() || all.contains("verify failure"),
        "{all}"
    );
}

#[test]
fn template_oid_signature_key_and_empty_subject() {
    let dir = Scratch::new();
    let mut key = SoftRsa::from_pkcs8(&dir.genkey("k.der", RSA));
    let mut o = template_oid_options();
    o.key_spec = KeySpec::Signature;
    let csr = dir.write("req.der", &build(RequestFormat::Pkcs10, &o, &mut key));
    let text = dir.verified_request(&csr, &["-text"]);
    for expected in [
        "Subject: \n",
        "X509v3 Subject Alternative Name: critical",
        "X509v3 Key Usage: critical\n                    Digital Signature\n",
        "1.3.6.1.4.1.311.21.7:",
        "1.3.6.1.4.1.311.13.2.1 ",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    for absent in ["1.3.6.1.4.1.311.20.2:", "1.3.6.1.4.1.311.13.2.2 "] {
        assert!(
            !text.contains(absent),
            "{absent:?} should be absent in\n{text}"
        );
    }
    // The V2 template value: SEQUENCE { templateID, major 100, minor 3 }.
    let der = dir.read("req.der");
    let template_oid = [0x2b, 6, 1, 4, 1, 0x82, 0x37, 0x15, 8];
    let at = der
        .windows(9)
        .position(|w| w == template_oid)
        .expect("template OID");
    let after = &der[at..];
    let tail = [0x02, 0x01, 0x64, 0x02, 0x01, 0x03];
    assert!(after.windows(6).any(|w| w == tail), "major/minor versions");
}

#[test]
fn a_bad_subject_is_refused_before_signing() {
    let dir = Scratch::new();
    let mut key = SoftRsa::from_pkcs8(&dir.genkey("k.der", RSA));
    let mut o = options();
    o.subject = "CN=Jane,C=USA".into();
    match Request::build(RequestFormat::Pkcs10, &o, &mut key) {
        Err(EnrollError::InvalidName(why)) => assert!(why.contains("USA"), "{why}"),
        other => panic!("expected InvalidName, got {other:?}"),
    }
}
